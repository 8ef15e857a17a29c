//! Project chores as tests: `cargo test -p xtask` runs the tidy checks — every Rust file opens
//! with a `//!` doc, no debugging macros are left, each crate depends only on what its layer
//! allows, and no file holds a path of the machine it was written on. A library, not a binary,
//! so the workspace has one binary (`ansim`) for `cargo run`.

pub mod tidy;
