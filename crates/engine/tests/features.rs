//! Data-driven tests of streaming features: every `test_data/features/*.toml` scenario is a
//! ruleset with features, an event template and steps; each step's event is observed and the
//! named feature values must match. Plus eviction, bounded memory and state carry-over.

use domain::Event;
use engine::Snapshot;
use serde_json::Value;

mod common;

fn check(path: &std::path::Path) {
    let sc = common::Scenario::load(path);
    let name = &sc.name;
    let snap = Snapshot::compile(&sc.ruleset).unwrap_or_else(|d| panic!("{name}: {d:?}"));
    let mut state = signals::FeatureState::new(&snap.features);
    for (i, step) in sc.steps.iter().enumerate() {
        let event = sc.event(i);
        let mut out = vec![None; snap.features.len()];
        state.observe(&snap.features, &event, &mut out);
        for (feature, want) in step["expect"].as_object().expect("expect") {
            let idx = snap
                .features
                .iter()
                .position(|f| &f.name == feature)
                .unwrap_or_else(|| panic!("{name}: no feature {feature}"));
            let got = match (out[idx], snap.features[idx].kind) {
                (None, _) => Value::from("absent"),
                (Some(v), signals::FeatureKind::FirstSeen) => Value::Bool(v != 0),
                (Some(v), _) => Value::from(v),
            };
            assert_eq!(&got, want, "{name}, step {i} at {}: feature {feature}", step["at"]);
        }
    }
}

#[test]
fn feature_scenarios() {
    let files = common::fixtures("features", "toml");
    assert!(files.len() >= 5, "expected the feature scenarios in test_data/features");
    for path in files {
        check(&path);
    }
}

const TWO_FEATURES: &str = r#"
[ruleset]
name = "t"
version = 1

[[feature]]
name = "tx_1h"
kind = "count"
key = "subject.id"
window = "1h"

[[feature]]
name = "payees_30d"
kind = "distinct"
key = "subject.id"
value = "counterparty.account_key"
window = "30d"
"#;

fn transfer(id: usize, subject: &str, at_ms: i64, account: usize) -> Event {
    let at = domain::Timestamp(at_ms).to_kst_rfc3339();
    Event::from_json(
        &format!(
            r#"{{"id":"e{id}","affiliate":"bank","kind":"transfer","at":"{at}","subject":{{"id":"{subject}"}},
               "transfer":{{"amount":1000,"counterparty":{{"bank":"004","account":"{account:010}"}}}}}}"#
        ),
        None,
    )
    .unwrap()
}

const T0: i64 = 1_795_600_000_000;

#[test]
fn idle_keys_are_evicted_and_memory_is_bounded() {
    let snap = Snapshot::compile(TWO_FEATURES).unwrap();
    let mut state = signals::FeatureState::new(&snap.features);
    let mut out = [None, None];
    // 5,000 subjects, 3 transfers each to 2 payees within a few minutes.
    for i in 0..15_000 {
        let e = transfer(i, &format!("u{}", i % 5_000), T0 + (i as i64) * 20, i % 2);
        state.observe(&snap.features, &e, &mut out);
    }
    let mem = state.memory(&snap.features);
    assert_eq!(mem[0].keys, 5_000);
    for m in &mem {
        let per_key = m.bytes / m.keys;
        assert!(per_key <= 200, "{}: {per_key} bytes per key", m.name);
    }
    // One heavy key cannot grow without bound: 10,000 distinct payees in a day.
    for i in 0..10_000 {
        let e = transfer(100_000 + i, "heavy", T0 + 600_000 + i as i64 * 8_000, i);
        state.observe(&snap.features, &e, &mut out);
    }
    assert_eq!(out[1], Some(signals::features::MAX_SET as i64), "distinct saturates");
    // 32 days later (past 30 d window + one 12 h bucket of tolerance) idle keys go.
    let later = T0 + 32 * 86_400_000;
    for i in 0..3_000 {
        let e = transfer(200_000 + i, &format!("fresh{i}"), later + i as i64, 1);
        state.observe(&snap.features, &e, &mut out);
    }
    state.evict_idle(&snap.features);
    let mem = state.memory(&snap.features);
    assert_eq!(mem[0].keys, 3_000, "only the fresh subjects remain");
    assert_eq!(mem[1].keys, 3_000);
}

#[test]
fn state_carries_over_unchanged_features_and_round_trips_as_data() {
    let snap = Snapshot::compile(TWO_FEATURES).unwrap();
    let mut state = signals::FeatureState::new(&snap.features);
    let mut out = [None, None];
    for i in 0..3 {
        state.observe(&snap.features, &transfer(i, "u1", T0 + i as i64 * 1000, i), &mut out);
    }
    assert_eq!(out, [Some(3), Some(3)]);
    // Plain data: serialise and restore.
    let json = serde_json::to_string(&state).unwrap();
    let mut restored: signals::FeatureState = serde_json::from_str(&json).unwrap();
    assert_eq!(restored, state);
    // A new version changes tx_1h's window and keeps payees_30d.
    let changed = TWO_FEATURES.replace("window = \"1h\"", "window = \"2h\"").replace("version = 1", "version = 2");
    let snap2 = Snapshot::compile(&changed).unwrap();
    restored.observe(&snap2.features, &transfer(9, "u1", T0 + 5_000, 0), &mut out);
    assert_eq!(out, [Some(1), Some(3)], "tx_2h starts empty, payees_30d carried over");
}

/// A snapshot part is one shard of the state: serialised in place it is the bytes (postcard)
/// and the document (JSON) of its copy, and the shards' copies merged are the whole state.
#[test]
fn shards_serialised_in_place_are_their_copies_and_merge_into_the_state() {
    let snap = Snapshot::compile(TWO_FEATURES).unwrap();
    let mut state = signals::FeatureState::new(&snap.features);
    let mut out = [None, None];
    for i in 0..2_000 {
        state.observe(&snap.features, &transfer(i, &format!("u{}", i % 300), T0 + i as i64 * 1000, i % 7), &mut out);
    }
    let mut merged = signals::FeatureState::default();
    for i in 0..signals::digest_map::SHARDS {
        let copy = state.shard(i);
        assert!(copy.tables.iter().all(|t| t.len() < 300), "shard {i} is a part, not the whole");
        assert_eq!(
            postcard::to_allocvec(&state.shard_ref(i)).unwrap(),
            postcard::to_allocvec(&copy).unwrap(),
            "shard {i}"
        );
        assert_eq!(
            serde_json::to_string(&state.shard_ref(i)).unwrap(),
            serde_json::to_string(&copy).unwrap(),
            "shard {i}"
        );
        merged.merge(copy);
    }
    for t in &mut state.tables {
        t.since_sweep = 0;
    }
    assert_eq!(merged, state);
}

/// A node that counts features elsewhere (shared by several nodes) decides exactly as one that
/// counts them itself, given the same feature values: every sample event, both rulesets with
/// features.
#[test]
fn decisions_on_given_features_equal_decisions_on_counted_ones() {
    let events = std::fs::read_to_string(common::root().join("test_data/events/sample.jsonl")).unwrap();
    for ruleset in ["sample.toml", "velocity.toml"] {
        let src = std::fs::read_to_string(common::root().join("test_data/rulesets").join(ruleset)).unwrap();
        let snap = Snapshot::compile(&src).unwrap();
        assert!(!snap.features.is_empty(), "{ruleset} declares features");
        let mut counting = engine::DecideState::new();
        let mut elsewhere = signals::FeatureState::new(&snap.features);
        let mut given = engine::DecideState::new();
        let mut differed = 0;
        for line in events.lines().filter(|l| !l.trim().is_empty()) {
            let event = Event::from_json(line, None).unwrap();
            let want = engine::decide(&snap, &mut counting, &event);
            let mut values = vec![None; snap.features.len()];
            elsewhere.observe(&snap.features, &event, &mut values);
            let got = engine::decide_with(&snap, &mut given, &event, &values);
            assert_eq!(
                serde_json::to_string(&got).unwrap(),
                serde_json::to_string(&want).unwrap(),
                "{ruleset}, event {}",
                event.id
            );
            differed += usize::from(want.verdict != domain::Verdict::Allow);
        }
        assert!(differed > 0, "{ruleset}: some sample event must be more than allowed, or this proves little");
    }
}
