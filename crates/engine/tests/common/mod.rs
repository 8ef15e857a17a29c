//! Helpers shared by the engine's data-driven tests: the repository root and events built
//! from a TOML template plus per-step patches.

#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};

/// The repository root (test data lives in `test_data/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every file with extension `ext` in `test_data/<dir>`, sorted.
pub fn fixtures(dir: &str, ext: &str) -> Vec<PathBuf> {
    let dir = root().join("test_data").join(dir);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    v
}

/// Deep-merges `patch` into `base`; the string "delete" removes a member.
pub fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                if v.as_str() == Some("delete") {
                    b.remove(k);
                } else {
                    merge(b.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (b, p) => *b = p.clone(),
    }
}

/// A scenario file: a ruleset (inline `ruleset` or `ruleset_file` relative to `test_data/`),
/// an event template `base`, and `step`s.
pub struct Scenario {
    pub name: String,
    pub ruleset: String,
    pub base: Value,
    pub steps: Vec<Value>,
}

impl Scenario {
    pub fn load(path: &Path) -> Scenario {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(path).unwrap();
        let doc: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let ruleset = match (doc.get("ruleset"), doc.get("ruleset_file")) {
            (Some(r), _) => r.as_str().expect("ruleset text").to_string(),
            (None, Some(f)) => std::fs::read_to_string(root().join("test_data").join(f.as_str().unwrap())).unwrap(),
            _ => panic!("{name}: needs ruleset or ruleset_file"),
        };
        let base = serde_json::to_value(&doc["base"]).unwrap();
        let steps = doc["step"].as_array().expect("steps").iter().map(|s| serde_json::to_value(s).unwrap()).collect();
        Scenario { name, ruleset, base, steps }
    }

    /// The event of step `i`: the template, then the step's `at`, then its `event` patch.
    pub fn event(&self, i: usize) -> domain::Event {
        let step = &self.steps[i];
        let mut ev = self.base.clone();
        merge(&mut ev, &serde_json::json!({ "id": format!("s{i}") }));
        if let Some(at) = step.get("at") {
            merge(&mut ev, &serde_json::json!({ "at": at }));
        }
        if let Some(p) = step.get("event") {
            merge(&mut ev, p);
        }
        domain::Event::from_json(&ev.to_string(), None).unwrap_or_else(|e| panic!("{} step {i}: {e}", self.name))
    }
}
