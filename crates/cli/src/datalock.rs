//! The data directory's lock: a server (`serve`, `demo`) holds an exclusive advisory lock on
//! `ansim.lock` for its whole life, so a second server cannot open the same store (two writers
//! would hand out the same sequence numbers), and a command that changes what a server keeps
//! in memory (the indicator registry) can tell that one is running and send the user to its
//! API. The operating system releases the lock when the process ends, also on `kill -9`.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

/// Held while a server runs on a data directory.
#[derive(Debug)]
pub struct DataLock(#[allow(dead_code)] File);

const NAME: &str = "ansim.lock";

impl DataLock {
    /// Takes the lock of `dir` (creating the directory), or says which server holds it.
    pub fn acquire(dir: &Path) -> Result<DataLock, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create data directory {}: {e}", dir.display()))?;
        let path = dir.join(NAME);
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        match f.try_lock() {
            Ok(()) => Ok(DataLock(f)),
            Err(TryLockError::WouldBlock) => {
                Err(format!("another ansim server is running on {}; stop it or use another --data", dir.display()))
            }
            Err(TryLockError::Error(e)) => Err(format!("cannot lock {}: {e}", path.display())),
        }
    }

    /// Whether a server holds the lock of `dir` now.
    pub fn held_elsewhere(dir: &Path) -> bool {
        let Ok(f) = File::open(dir.join(NAME)) else { return false };
        matches!(f.try_lock_shared(), Err(TryLockError::WouldBlock))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!DataLock::held_elsewhere(dir.path()));
        let held = DataLock::acquire(dir.path()).unwrap();
        assert!(DataLock::held_elsewhere(dir.path()));
        let e = DataLock::acquire(dir.path()).unwrap_err();
        assert!(e.contains("another ansim server"), "{e}");
        drop(held);
        assert!(!DataLock::held_elsewhere(dir.path()));
        DataLock::acquire(dir.path()).unwrap();
    }
}
