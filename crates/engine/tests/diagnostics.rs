//! Data-driven diagnostics tests: every `test_data/diagnostics/NN-name.toml` is a ruleset with
//! one mistake; compiling it must fail, and the rendered diagnostics must equal the
//! `NN-name.expected` file next to it. Run with `UPDATE_EXPECT=1` to rewrite (bless) the
//! expected files after an intended change, then read the diff.

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

fn diagnostics_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../test_data/diagnostics")
}

/// Renders all diagnostics of a failed compile, each as `render` does, one after the other.
fn render_all(file: &str, text: &str, diags: &[rules::Diagnostic]) -> String {
    diags.iter().map(|d| d.render(file, text)).collect::<Vec<_>>().join("\n")
}

#[test]
fn broken_rulesets_give_the_expected_diagnostics() {
    let dir = diagnostics_dir();
    let bless = std::env::var_os("UPDATE_EXPECT").is_some_and(|v| v == "1");
    let mut inputs: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 22, "expected at least 22 broken rulesets, found {}", inputs.len());

    let mut codes = BTreeSet::new();
    let mut failures = Vec::new();
    for input in &inputs {
        let file = input.file_name().and_then(|n| n.to_str()).expect("UTF-8 file name").to_string();
        let text = fs::read_to_string(input).expect("readable ruleset");
        let diags = match engine::Snapshot::compile(&text) {
            Ok(_) => {
                failures.push(format!("{file}: compiled, but it is meant to be broken"));
                continue;
            }
            Err(d) => d,
        };
        assert!(!diags.is_empty(), "{file}: compile failed without a diagnostic");
        for d in &diags {
            assert!(d.span.start <= d.span.end && d.span.end <= text.len(), "{file}: span {:?} out of bounds", d.span);
            assert!(d.line_col.is_some(), "{file}: diagnostic {} was not located", d.code);
            codes.insert(d.code);
        }
        let actual = render_all(&file, &text, &diags);
        let expected_path = input.with_extension("expected");
        if bless {
            fs::write(&expected_path, &actual).expect("write expected file");
            continue;
        }
        match fs::read_to_string(&expected_path) {
            Ok(expected) if expected == actual => {}
            Ok(expected) => failures.push(format!(
                "{file}: rendered diagnostics differ (rerun with UPDATE_EXPECT=1 to bless)\n--- expected\n{expected}\n--- actual\n{actual}"
            )),
            Err(_) => failures.push(format!(
                "{file}: missing {} (rerun with UPDATE_EXPECT=1 to create it)\n--- actual\n{actual}",
                expected_path.display()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(codes.len() >= 20, "only {} distinct codes covered: {codes:?}", codes.len());
}
