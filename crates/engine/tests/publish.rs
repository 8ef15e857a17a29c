//! Publishing: a ruleset that compiles replaces the active snapshot atomically; one that does
//! not returns diagnostics and leaves the active snapshot (and decisions) untouched; feature
//! state carries across a publish for unchanged features.

use engine::{DecideState, Snapshot, SnapshotCell, decide};
use std::sync::Arc;

/// Counts each subject's transfers in an hour and holds the third.
const V1: &str = include_str!("../../../test_data/rulesets/velocity.toml");

fn transfer(i: u32) -> domain::Event {
    domain::Event::from_json(
        &format!(
            r#"{{"id":"t{i}","affiliate":"pay","kind":"transfer","at":"2026-11-26T10:0{i}:00+09:00","subject":{{"id":"u1"}},
               "transfer":{{"amount":10000,"counterparty":{{"bank":"088","account":"110123456789"}}}}}}"#
        ),
        None,
    )
    .unwrap()
}

#[test]
fn broken_publish_keeps_the_active_snapshot() {
    let cell = SnapshotCell::new(Snapshot::compile(V1).unwrap());
    let mut state = DecideState::new();
    let d = decide(&cell.load(), &mut state, &transfer(1));
    assert_eq!(&*d.ruleset, "pay@v1");

    let broken =
        V1.replace("version = 1", "version = 2").replace("features.transfers_1h >= 3", "features.transfers_1hh >= 3");
    let diags = cell.publish(&broken, Vec::new()).unwrap_err();
    assert_eq!(diags.len(), 1);
    assert_eq!(diags[0].code, "unknown-feature");
    assert_eq!(diags[0].suggestion.as_deref(), Some("did you mean `features.transfers_1h`?"));
    assert_eq!(diags[0].line_col, Some((16, 9)), "the `when` line, at the start of the feature name");
    assert_eq!(&*cell.load().label, "pay@v1", "the broken version never became active");

    // The working v2 lowers the threshold; state for the unchanged feature carries over.
    let v2 = V1.replace("version = 1", "version = 2").replace(">= 3", ">= 2");
    let snap2 = cell.publish(&v2, Vec::new()).unwrap();
    assert_eq!(&*cell.load().label, "pay@v2");
    let d = decide(&cell.load(), &mut state, &transfer(2));
    assert_eq!(d.verdict, domain::Verdict::Hold, "second transfer counted with the first: {d:?}");
    assert_eq!(d.evidence[0].value, serde_json::json!(2));

    // Rollback is a swap to a kept snapshot.
    let v1 = Arc::new(Snapshot::compile(V1).unwrap());
    cell.swap(Arc::clone(&v1));
    assert_eq!(&*cell.load().label, "pay@v1");
    assert!(Arc::ptr_eq(&cell.load(), &v1));
    drop(snap2);
}

#[test]
fn readers_see_whole_snapshots_while_publishing() {
    let cell = Arc::new(SnapshotCell::new(Snapshot::compile(V1).unwrap()));
    let writer = {
        let cell = Arc::clone(&cell);
        std::thread::spawn(move || {
            for v in 2..40 {
                let src = V1.replace("version = 1", &format!("version = {v}"));
                cell.publish(&src, Vec::new()).unwrap();
            }
        })
    };
    let mut last = 1;
    for _ in 0..2_000 {
        let snap = cell.load();
        assert_eq!(snap.rules.len(), 1);
        assert!(snap.version >= last, "versions never go backwards");
        last = snap.version;
    }
    writer.join().unwrap();
    assert_eq!(cell.load().version, 39);
}
