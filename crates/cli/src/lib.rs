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

/// A file's text, without the byte-order mark a spreadsheet or a Windows editor puts first;
/// the error names the file. Every command that reads a text file reads it with this.
pub fn read_text(path: &std::path::Path) -> Result<String, String> {
    let mut text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if text.starts_with(BOM) {
        text.drain(..BOM.len_utf8());
    }
    Ok(text)
}

/// The byte-order mark, as the first character of a UTF-8 text.
pub const BOM: char = '\u{feff}';
