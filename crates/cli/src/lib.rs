//! The `ansim` command line's library: configuration ([`config`]), the data directory's lock
//! ([`DataLock`]), the demo ([`demo`]), the in-process replay ([`replay`]) and backtest
//! ([`backtest`]), training and evaluation of the models ([`learn`], [`transactions`]) and the
//! HTTP load generator ([`load`]). `main.rs` is only the argument parsing on top of this; the
//! server itself is the `ansim_http` crate.

pub mod backtest;
pub mod bus;
pub mod config;
mod datalock;
pub mod demo;
pub mod fdlimit;
pub mod learn;
pub mod load;
pub mod replay;
pub mod transactions;

pub use datalock::DataLock;
