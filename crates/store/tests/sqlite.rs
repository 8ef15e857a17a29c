//! The embedded SQLite backend passes the conformance suite, keeps data across reopen, and
//! refuses a store written by a newer schema.

use store::Store;
use store::sqlite::SqliteStore;

#[test]
fn sqlite_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("ansim.db")).unwrap();
    store::conformance::run_all(&s);
}

#[test]
fn data_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ansim.db");
    let a = domain::AffiliateId("pay".into());
    {
        let s = SqliteStore::open(&path).unwrap();
        let w = store::Write { affiliate: a.clone(), record: store::conformance::record(1, "e1"), outbox: vec![] };
        s.commit(&[w]).unwrap();
        store::in_transaction(&s, |tx| tx.publish(&a, 1, "src", 1)).unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.event_count(&a).unwrap(), 1);
    assert_eq!(s.active_ruleset(&a).unwrap().unwrap().source, "src");
}

#[test]
fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ansim.db");
    drop(SqliteStore::open(&path).unwrap());
    set_schema_version(&path, 99);
    let err = SqliteStore::open(&path).err().expect("must refuse");
    assert!(err.to_string().contains("newer than this program"), "{err}");
}

/// Bumps the schema version the way a newer ansim would, through SQLite's own file format:
/// `user_version` is the big-endian u32 at byte offset 60 of the database header.
fn set_schema_version(path: &std::path::Path, v: u32) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[60..64].copy_from_slice(&v.to_be_bytes());
    std::fs::write(path, bytes).unwrap();
}
