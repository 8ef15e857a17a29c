//! Project chores. `cargo run -p xtask -- tidy` runs the same checks as `cargo test -p xtask`:
//! every Rust file opens with a `//!` doc, no debugging macros are left, each crate depends
//! only on what its layer allows, and no file holds a path of the machine it was written on.

mod tidy;

fn main() {
    let cmd = std::env::args().nth(1).unwrap_or_default();
    match cmd.as_str() {
        "tidy" => match tidy::run(&tidy::repo_root()) {
            Ok(()) => println!("tidy: ok"),
            Err(problems) => {
                for p in &problems {
                    eprintln!("{p}");
                }
                eprintln!("tidy: {} problem(s)", problems.len());
                std::process::exit(1);
            }
        },
        _ => {
            eprintln!("usage: cargo run -p xtask -- tidy");
            std::process::exit(2);
        }
    }
}
