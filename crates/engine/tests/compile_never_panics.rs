//! Ruleset robustness: arbitrary text, and ruleset-shaped text assembled from valid and broken
//! fragments, goes through `Snapshot::compile` without a panic; every diagnostic has a span
//! inside the file on character boundaries, is located at the right line and column, renders,
//! and the list comes back sorted by position.

use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::ValueTree;
use rules::diag::line_col;

fn assert_diagnostics_ok(src: &str) {
    let Err(diags) = engine::Snapshot::compile(src) else { return };
    assert!(!diags.is_empty(), "a failed compile must say why: {src:?}");
    for d in &diags {
        assert!(
            d.span.start <= d.span.end && d.span.end <= src.len(),
            "span {:?} of [{}] outside 0..{} in {src:?}",
            d.span,
            d.code,
            src.len()
        );
        assert!(
            src.is_char_boundary(d.span.start) && src.is_char_boundary(d.span.end),
            "span {:?} of [{}] splits a character in {src:?}",
            d.span,
            d.code
        );
        assert_eq!(d.line_col, Some(line_col(src, d.span.start)), "[{}] located wrongly in {src:?}", d.code);
        let rendered = d.render("fuzz.toml", src);
        assert!(rendered.starts_with(&format!("error[{}]: ", d.code)), "{rendered}");
    }
    assert!(diags.windows(2).all(|w| w[0].span.start <= w[1].span.start), "diagnostics not sorted: {diags:?}");
}

const HEADERS: &[&str] = &[
    "[ruleset]\nname = \"t\"\nversion = 1\n",
    "[ruleset]\nname = \"t\"\nversion = 1\n",
    "[ruleset]\nname = \"T t\"\nversion = 0\nlateness = \"1x\"\n",
    "[ruleset]\nname = \"t\"\nversion = 1\ndefault_hold_minutes = 0\nthresholds = { warn = 50, hold = 40 }\n",
    "[ruleset]\nname = \"t\"\n",
];

/// Alternatives for each line of a `[[feature]]` table, the valid one first; `""` leaves the
/// line out.
const FEATURE_LINES: &[&[&str]] = &[
    &[r#"name = "n""#, r#"name = "m""#, r#"name = "bad-name""#, ""],
    &[r#"kind = "count""#, r#"kind = "sum""#, r#"kind = "first_seen""#, r#"kind = "cnt""#],
    &[r#"key = "subject.id""#, r#"key = ["subject.id", "device.id"]"#, "key = 3", r#"key = ["subject.idd"]"#],
    &["", r#"value = "transfer.amount""#, r#"value = "transfer.memo""#, r#"value = "features.n""#],
    &[r#"window = "1h""#, r#"window = "90d""#, r#"window = "h""#, r#"window = "1x""#],
    &["", r#"where = "event.kind == 'transfer'""#, r#"where = "features.n > 1""#, r#"where = "transfer.amout > 1""#],
    &["", "", "", "bogus = 1"],
];

/// Alternatives for each line of a `[[rule]]` table, the valid one first; `""` leaves the
/// line out.
const RULE_LINES: &[&[&str]] = &[
    &[r#"id = "r""#, r#"id = "s""#, r#"id = "R R""#],
    &[
        r#"when = "transfer.amount >= 1_000_000""#,
        r#"when = "features.n > 3 && features.m""#,
        r#"when = "event.kind == \"trasnfer\"""#,
        r#"when = 'transfer.memo.matches("\d+(")'"#,
        "when = \"\"\"\nevent.kind == 'transfer' \\\n  && transfer.amout > 1\n\"\"\"",
        "when = '''\n  device.rooted &&\n'''",
        r#"when = "\u00e9 == 'x'""#,
        r#"when = "한글 && 1""#,
        r#"when = """#,
        r#"when = "(((""#,
        r#"when = "a = b""#,
        r#"when = "transfer.memo.startsWith('x')""#,
        r#"when = "signals.reported""#,
        r#"when = "transfer.amount / 0 > 1""#,
        "when = 1",
        "",
    ],
    &[r#"verdict = "hold""#, r#"verdict = "block""#, r#"verdict = "blok""#],
    &[r#"reason = { ko = "이유", en = "reason" }"#, r#"reason = { ko = "", en = "" }"#],
    &["", "score = 20", "score = 150"],
    &["", "hold_minutes = 60", "hold_minutes = 0"],
    &["", "tags = [\"a\"]\nenabled = false", r#"confirm = { ko = "확인", en = "confirm" }"#],
];

/// One table: a line drawn from each slot's alternatives, the valid one more likely.
fn table(header: &'static str, lines: &'static [&'static [&'static str]]) -> impl Strategy<Value = String> {
    let picks: Vec<_> = lines.iter().map(|alts| prop_oneof![2 => Just(alts[0]), 1 => select(*alts)]).collect();
    picks.prop_map(move |chosen| {
        let body: String = chosen.iter().filter(|l| !l.is_empty()).map(|l| format!("{l}\n")).collect();
        format!("\n{header}\n{body}")
    })
}

/// A ruleset-shaped file: a header, then feature and rule tables whose lines are drawn from
/// valid and broken fragments, so most inputs get past TOML into the ruleset checks.
fn ruleset_text() -> impl Strategy<Value = String> {
    (
        select(HEADERS),
        prop::collection::vec(table("[[feature]]", FEATURE_LINES), 0..3),
        prop::collection::vec(table("[[rule]]", RULE_LINES), 0..4),
    )
        .prop_map(|(h, fs, rs)| format!("{h}{}{}", fs.concat(), rs.concat()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(src in any::<String>()) {
        assert_diagnostics_ok(&src);
    }

    #[test]
    fn ruleset_shaped_text_never_panics(src in ruleset_text()) {
        assert_diagnostics_ok(&src);
    }

    #[test]
    fn truncated_rulesets_never_panic(src in ruleset_text(), cut in any::<prop::sample::Index>()) {
        let mut at = cut.index(src.len() + 1);
        while !src.is_char_boundary(at) {
            at -= 1;
        }
        assert_diagnostics_ok(&src[..at]);
    }
}

#[test]
fn ruleset_shaped_inputs_reach_the_ruleset_checks() {
    // The generator is only useful if it gets past TOML parsing into the ruleset and rule
    // checks; sample it and require a spread of codes and some files that compile.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = ruleset_text();
    let mut codes = std::collections::BTreeSet::new();
    let mut compiled = 0;
    for _ in 0..400 {
        let src = strategy.new_tree(&mut runner).expect("a value").current();
        match engine::Snapshot::compile(&src) {
            Ok(_) => compiled += 1,
            Err(ds) => codes.extend(ds.iter().map(|d| d.code)),
        }
    }
    eprintln!("{compiled} compiled; codes {codes:?}");
    assert!(codes.len() >= 15, "only {} codes reached: {codes:?}", codes.len());
    assert!(compiled > 0, "nothing compiled");
}
