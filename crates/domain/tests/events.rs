//! Event JSON: every case in `test_data/events/invalid.toml` is rejected with an error naming
//! the right field, and valid events survive a JSON round trip with accounts normalised.

use domain::{AffiliateId, Event, EventBody, EventKind};
use std::path::Path;

#[test]
fn invalid_events_name_the_bad_field() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test_data/events/invalid.toml");
    let doc: toml::Table = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = doc["case"].as_array().unwrap();
    assert!(cases.len() >= 20);
    for case in cases {
        let json = case["json"].as_str().unwrap();
        let err = Event::from_json(json, None).expect_err(json);
        assert_eq!(err.field, case["field"].as_str().unwrap(), "{json}: {err}");
        let want = case["message"].as_str().unwrap();
        assert!(err.message.contains(want), "{json}: `{}` lacks `{want}`", err.message);
    }
}

const TRANSFER: &str = r#"{ "id": "evt_1", "kind": "transfer", "at": "2026-11-26T02:14:05+09:00",
  "subject": { "id": "u_8812", "age_band": "60s", "account_age_days": 2210 },
  "device": { "id": "d_77", "new_for_subject": true, "remote_control_app": true },
  "ip": { "addr": "2001:DB8::1", "country": "kr" },
  "channel": "open_chat",
  "transfer": { "amount": 4800000, "currency": "KRW",
                "counterparty": { "bank": "088", "account": "110-123-456789", "name": "김**" },
                "balance_before": 5100000 } }"#;

#[test]
fn valid_event_parses_normalises_and_round_trips() {
    let pay = AffiliateId("pay".into());
    let e = Event::from_json(TRANSFER, Some(&pay)).unwrap();
    assert_eq!(e.kind(), EventKind::Transfer);
    assert_eq!(e.affiliate, pay, "the authenticated affiliate fills in a missing one");
    assert_eq!(e.at.kst_hour(), 2);
    assert_eq!(e.amount().map(|a| a.won()), Some(4_800_000));
    let EventBody::Transfer(t) = &e.body else { panic!("not a transfer") };
    assert_eq!(t.counterparty.account.as_deref(), Some("110123456789"));
    assert_eq!(t.counterparty.account_key.as_deref(), Some("088:110123456789"));
    let ip = e.ip.as_ref().unwrap();
    assert_eq!((ip.addr.as_str(), ip.country.as_deref()), ("2001:db8::1", Some("KR")));
    let again = Event::from_json(&e.to_json(), None).unwrap();
    assert_eq!(again, e);
}

#[test]
fn affiliate_in_json_must_match_the_authenticated_one() {
    let json = TRANSFER.replacen("{ \"id\"", "{ \"affiliate\": \"bank\", \"id\"", 1);
    let err = Event::from_json(&json, Some(&AffiliateId("pay".into()))).unwrap_err();
    assert_eq!(err.field, "affiliate");
    assert!(Event::from_json(&json, Some(&AffiliateId("bank".into()))).is_ok());
}

#[test]
fn every_kind_parses_with_its_minimal_body() {
    let bodies = [
        ("login", "{}"),
        ("transfer", r#"{"amount":1,"counterparty":{"phone":"010-1234-5678"}}"#),
        ("payment", r#"{"amount":1,"merchant":{"id":"m"}}"#),
        ("loan_application", r#"{"amount":1}"#),
        ("account_change", r#"{"change":"password"}"#),
        ("message", r#"{"sender":{"phone":"01012345678"},"text":"hi"}"#),
        ("contact", r#"{"counterparty":{"profile":"p"}}"#),
        ("device_scan", "{}"),
    ];
    for (kind, body) in bodies {
        let json = format!(
            r#"{{"id":"e","affiliate":"a","kind":"{kind}","at":"2026-01-01T00:00:00Z","subject":{{"id":"u"}},"{kind}":{body}}}"#
        );
        let e = Event::from_json(&json, None).unwrap_or_else(|err| panic!("{kind}: {err}"));
        assert_eq!(e.kind().as_str(), kind);
        assert_eq!(Event::from_json(&e.to_json(), None).unwrap(), e);
    }
    assert_eq!(EventKind::ALL.len(), bodies.len());
}

/// Ids are counted in characters, as the published JSON Schema's `maxLength` counts them: a
/// 128-character Korean id (384 bytes) is accepted, 129 characters are not.
#[test]
fn id_length_is_counted_in_characters() {
    let event = |id: &str| {
        format!(
            r#"{{"id":"e1","affiliate":"bank","kind":"login","at":"2026-11-26T02:14:05+09:00","subject":{{"id":"{id}"}}}}"#
        )
    };
    assert!(domain::Event::from_json(&event(&"가".repeat(128)), None).is_ok());
    let e = domain::Event::from_json(&event(&"가".repeat(129)), None).unwrap_err();
    assert_eq!(e.field, "subject.id");
}
