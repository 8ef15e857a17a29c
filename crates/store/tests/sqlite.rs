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
        let w = store::conformance::write(&a, "e1");
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

/// A store written before cases had typed columns upgrades in place: money at risk comes from
/// the old body, reporters from the case's reports, a closed case gets its closing time.
#[test]
fn cases_of_schema_4_gain_their_typed_columns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ansim.db");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        for sql in [
            include_str!("../migrations/sqlite/0001_init.sql"),
            include_str!("../migrations/sqlite/0002_indicators.sql"),
            include_str!("../migrations/sqlite/0003_protection.sql"),
            include_str!("../migrations/sqlite/0004_cases.sql"),
        ] {
            c.execute_batch(sql).unwrap();
        }
        c.pragma_update(None, "user_version", 4).unwrap();
        c.execute_batch(
            "INSERT INTO fraud_case (id, state, priority, opened_ms, updated_ms, sla_due_ms, body)
               VALUES (1, 'closed', 50, 10, 90, 20, '{\"indicators\":[],\"kinds\":[],\"notes\":[],\"amount\":3000000}');
             INSERT INTO report (receipt, secret_hash, source, kind, case_id, priority, body, created_ms)
               VALUES ('R1', x'00', 'public', 'voice_phishing', 1, 50, '{}', 10),
                      ('R2', x'00', 'bank', 'voice_phishing', 1, 50, '{}', 20),
                      ('R3', x'00', 'public', 'voice_phishing', 1, 50, '{}', 30);",
        )
        .unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    let case = s.case(1).unwrap().unwrap();
    assert_eq!(case.state, domain::CaseState::Closed);
    assert_eq!((case.money_at_risk, case.closed_ms, case.linked_case), (3_000_000, Some(90), None));
    let mut reporting = case.reporting.clone();
    reporting.sort();
    assert_eq!(reporting, ["bank", "public"]);
}

/// A group commit that fails part-way leaves nothing of the batch, and the next commit runs
/// (the failed one's transaction was rolled back, not left open).
#[test]
fn a_failed_commit_leaves_nothing_and_the_next_one_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ansim.db");
    let s = SqliteStore::open(&path).unwrap();
    let a = domain::AffiliateId("pay".into());
    // Another connection makes one event id fail to insert.
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER fail_boom BEFORE INSERT ON event WHEN NEW.event_id = 'boom'
             BEGIN SELECT RAISE(ABORT, 'boom refused'); END;",
        )
        .unwrap();
    let batch = [store::conformance::write(&a, "ok-1"), store::conformance::write(&a, "boom")];
    assert!(s.commit(&batch).is_err());
    assert_eq!(s.event_by_id(&a, "ok-1").unwrap(), None, "nothing of the failed batch remains");
    assert_eq!(s.event_count(&a).unwrap(), 0);
    let out = s.commit(&[store::conformance::write(&a, "ok-2")]).unwrap();
    assert_eq!(out, vec![store::conformance::stored(1, "ok-2")], "numbering starts again at 1");
}
