//! Table-driven normalisation cases from `test_data/indicators/normalise.toml`, the golden
//! digest, digest identity across spellings and kinds, and property tests (no panic on any
//! input; normalising is idempotent).

use std::path::PathBuf;

use indicators::{
    Digest, GroupKey, Indicator, IndicatorKind, digest, normalise, normalise_account, registrable_domain,
};
use proptest::prelude::*;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../test_data/indicators/normalise.toml")
}

fn key() -> GroupKey {
    // 00 01 02 ... 1f: a fixed test key, never a real one.
    GroupKey::from_hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f").unwrap()
}

fn norm(kind: IndicatorKind, raw: &str) -> Indicator {
    normalise(kind, raw).unwrap_or_else(|e| panic!("{kind} {raw:?}: {e}"))
}

/// Runs every `[[case]]` of the fixture and reports all failures at once.
#[test]
fn check() {
    let path = fixture();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let cases = doc.get("case").and_then(|c| c.as_array()).expect("the fixture has [[case]] rows");
    let mut failures = Vec::new();
    let mut kinds_seen = std::collections::BTreeSet::new();
    for (n, case) in cases.iter().enumerate() {
        let field = |name: &str| case.get(name).and_then(|v| v.as_str());
        let (Some(kind_tag), Some(raw)) = (field("kind"), field("raw")) else {
            failures.push(format!("case {n}: needs `kind` and `raw`"));
            continue;
        };
        let Some(kind) = IndicatorKind::parse(kind_tag) else {
            failures.push(format!("case {n}: unknown kind {kind_tag:?}"));
            continue;
        };
        kinds_seen.insert(kind);
        let got = normalise(kind, raw);
        match (field("want"), field("error"), got) {
            (Some(want), None, Ok(ind)) => {
                if ind.value() != want {
                    failures.push(format!("case {n} {kind} {raw:?}: got {:?}, want {want:?}", ind.value()));
                }
                match normalise(kind, ind.value()) {
                    Ok(again) if again == ind => {}
                    other => failures.push(format!("case {n} {kind} {raw:?}: {want:?} renormalises to {other:?}")),
                }
            }
            (Some(want), None, Err(e)) => failures.push(format!("case {n} {kind} {raw:?}: want {want:?}, got {e}")),
            (None, Some(error), Err(e)) => {
                if !e.message.contains(error) {
                    failures.push(format!("case {n} {kind} {raw:?}: error {:?} lacks {error:?}", e.message));
                }
            }
            (None, Some(error), Ok(ind)) => {
                failures.push(format!("case {n} {kind} {raw:?}: want an error with {error:?}, got {:?}", ind.value()));
            }
            _ => failures.push(format!("case {n}: needs exactly one of `want` and `error`")),
        }
    }
    for kind in IndicatorKind::ALL {
        if !kinds_seen.contains(&kind) {
            failures.push(format!("the fixture has no case of kind {kind}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn golden_digest() {
    // Cross-checked with Python: hmac.new(bytes(range(32)), b"phone\0+821012345678", sha256).
    let d = digest(&key(), &norm(IndicatorKind::Phone, "010-1234-5678"));
    assert_eq!(d.to_string(), "0dae25ed947df45d774645851a957ba4fcb0fccdc432bb82388fb3923456ac95");
    assert_eq!(d.to_string().parse::<Digest>(), Ok(d));
}

#[test]
fn every_spelling_of_a_phone_has_one_digest() {
    let spellings = [
        "010-1234-5678",
        "01012345678",
        "010 1234 5678",
        "+82 10 1234 5678",
        "+82-10-1234-5678",
        "82-10-1234-5678",
        "(010) 1234-5678",
        "+82 (0)10 1234 5678",
        "0082 10 1234 5678",
        "＋８２ １０ １２３４ ５６７８",
    ];
    let want = digest(&key(), &norm(IndicatorKind::Phone, spellings[0]));
    for s in spellings {
        assert_eq!(digest(&key(), &norm(IndicatorKind::Phone, s)), want, "{s}");
    }
    let other = GroupKey::from_bytes([7; 32]);
    assert_ne!(digest(&other, &norm(IndicatorKind::Phone, spellings[0])), want, "the key matters");
}

#[test]
fn same_text_of_different_kinds_has_different_digests() {
    let text = "A1B2C3D4E5F6G7H8J9K0";
    let kinds = [IndicatorKind::Profile, IndicatorKind::Device, IndicatorKind::Wallet];
    let digests: Vec<Digest> = kinds.iter().map(|k| digest(&key(), &norm(*k, text))).collect();
    for (i, a) in digests.iter().enumerate() {
        for b in &digests[i + 1..] {
            assert_ne!(a, b);
        }
    }
    // The Python check of the kind tag: profile\0+821012345678.
    let profile = norm(IndicatorKind::Profile, "+821012345678");
    let phone = norm(IndicatorKind::Phone, "+821012345678");
    assert_eq!(profile.value(), phone.value());
    assert_eq!(
        digest(&key(), &profile).to_string(),
        "ad6e87113e9f2e974631dcdd77f0c1e0b539c23e02821509e7d0d19d02a1abd7"
    );
    assert_ne!(digest(&key(), &profile), digest(&key(), &phone));
}

#[test]
fn account_helper_matches_the_text_form_and_the_domain_key() {
    let from_text = norm(IndicatorKind::Account, "088:110-123-456789");
    let from_parts = normalise_account("088", "110-123-456789").unwrap();
    assert_eq!(from_parts, from_text);
    assert_eq!(from_parts.value(), "088:110123456789");
    assert!(normalise_account("88", "110-123-456789").is_err());
    assert!(normalise_account("088", "12-34").is_err());
}

#[test]
fn registrable_domains() {
    let cases = [
        ("kakao-secure.co.kr/x", Some("kakao-secure.co.kr")),
        ("a.b.example.com", Some("example.com")),
        ("https://login.kakao-secure.xyz:8080/a", Some("kakao-secure.xyz")),
        ("evil.github.io/login", Some("evil.github.io")),
        ("http://192.168.0.1/x", None),
        ("http://[2001:db8::1]/x", None),
        ("localhost:3000", None),
    ];
    for (raw, want) in cases {
        let ind = norm(IndicatorKind::Url, raw);
        assert_eq!(registrable_domain(&ind).as_deref(), want, "{raw}");
    }
    let d = norm(IndicatorKind::Domain, "shop.example.co.kr");
    assert_eq!(registrable_domain(&d).as_deref(), Some("example.co.kr"));
    assert_eq!(registrable_domain(&norm(IndicatorKind::Phone, "010-1234-5678")), None);
}

#[test]
fn long_input_is_rejected() {
    let long = "1".repeat(indicators::MAX_INPUT_BYTES + 1);
    for kind in IndicatorKind::ALL {
        let err = normalise(kind, &long).unwrap_err();
        assert!(err.message.contains("at most"), "{kind}: {err}");
        assert_eq!(err.kind, kind);
    }
}

/// Strings close to real indicators, so the properties reach deep into each parser.
fn messy() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9+()\\- .０-９＋]{0,24}",
        "(https?://|hxxp://|//)?[a-zA-Z0-9.\\-\\[\\]@:가-힣ü]{0,30}(/[a-zA-Z0-9%._~/\\\\?#]{0,20})?",
        "[0-9]{3}[: ][0-9\\- ]{0,24}",
        "(0x|bc1|BC1)?[0-9a-zA-Z]{0,45}",
        "[0-9a-fA-F:.\\[\\]]{0,40}",
        "[ \\ta-zA-Z\u{200B}가-힣\u{3000}]{0,20}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics_and_is_idempotent(raw in messy()) {
        for kind in IndicatorKind::ALL {
            if let Ok(ind) = normalise(kind, &raw) {
                let again = normalise(kind, ind.value());
                prop_assert_eq!(again.as_ref().ok(), Some(&ind), "{} {:?} -> {:?} -> {:?}", kind, raw, ind.value(), again);
                let _ = registrable_domain(&ind);
            }
        }
    }
}
