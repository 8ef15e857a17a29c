//! Fuzz target: bytes → text (lossy UTF-8) → `Analyzer::message` (normalisation, typology
//! detectors, link extraction and inspection, text and URL models). Crashes on any panic, on a
//! risk outside 0..=100, and on an answer that changes when asked twice.
#![no_main]

use detect::Analyzer;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn analyzer() -> &'static Analyzer {
    static A: OnceLock<Analyzer> = OnceLock::new();
    A.get_or_init(Analyzer::builtin)
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let a = analyzer().message(&text, None, &[]);
    assert!(a.risk <= 100 && a.model_score <= 100);
    assert!(a.links.iter().all(|l| l.risk <= 100));
    assert_eq!(a, analyzer().message(&text, None, &[]));
});
