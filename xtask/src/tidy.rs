//! The tidy checks. Each rule states its reason next to it; `cargo test` runs them all.

use std::path::{Path, PathBuf};

/// The repository root (the parent of `xtask/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// The internal crates each crate may depend on, and the external ones. Direction runs from
/// the protocol down to pure computation: `domain` knows nothing, `rules` knows `domain`,
/// `signals` knows both, `engine` puts them together. The pure crates take no async runtime,
/// no IO library and no clock: replays and backtests are exact because of it.
const ALLOWED: &[(&str, &[&str])] = &[
    // (utoipa: optional, behind `openapi`, so the HTTP document describes the event JSON from
    // the very types that parse it; derives only, no runtime.)
    ("domain", &["serde", "serde_json", "serde_path_to_error", "utoipa"]),
    ("rules", &["domain", "regex"]),
    ("signals", &["domain", "rules", "serde", "xxhash-rust"]),
    ("engine", &["domain", "rules", "signals", "model", "serde", "serde_json", "toml"]),
    // The traffic simulator: plain events out of a seed; pure, and nothing depends on it but
    // the demo, the load generator, benchmarks and tests.
    ("sim", &["domain", "serde_json"]),
    // Storage knows the domain's ids and its database, nothing about rules or HTTP.
    // (serde_json: the JSON lists of the case columns `reporting` and `holding`.)
    ("store", &["domain", "rusqlite", "thiserror", "sha2", "serde_json"]),
    // The PostgreSQL backend: the store's trait and conformance suite, the synchronous client
    // (the trait is synchronous and runs on blocking threads), JSON for the case lists.
    ("store-postgres", &["domain", "store", "serde_json", "postgres"]),
    // Streaming features shared by nodes: state in Redis, the pure features' ops run in the
    // node and written back by compare-and-set (the client with its tokio connection manager;
    // tokio's channels and a task batch the calls of concurrent decisions).
    ("signals-redis", &["signals", "redis", "tokio"]),
    // Shared indicators: normalisation plus keyed digests (HMAC-SHA-256) and the public suffix list; pure.
    ("indicators", &["hmac", "sha2", "psl"]),
    // Stage-1 detectors: text and link analysis and their models; pure.
    // `model` is the one home of the learning helpers (metrics, folds, seeded generator).
    // (memchr: vectorised byte search on the hot path; already in the tree under aho-corasick.)
    ("detect", &["domain", "indicators", "model", "aho-corasick", "memchr", "unicode-normalization", "xxhash-rust"]),
    // Gradient-boosted trees: training, scoring, explanations, artefact; pure.
    ("model", &["xxhash-rust"]),
    // Use cases: the pure core plus storage, a channel type and hashing; no HTTP, no executor
    // (tokio only for its `sync` oneshot channel).
    (
        "app",
        &[
            "domain",
            "rules",
            "signals",
            "engine",
            "store",
            "indicators",
            "detect",
            "model",
            "serde",
            "serde_json",
            "xxhash-rust",
            "tokio",
            "sha2",
            "getrandom",
            "postcard",
            "thiserror",
            // Several nodes: streaming features and event-id claims in Redis.
            "signals-redis",
            // The relief calendar's holiday list is TOML.
            "toml",
            // Console passwords: argon2id hashes (pure Rust, no default features); the optional
            // second factor: TOTP is HMAC-SHA1 (RFC 6238).
            "argon2",
            "hmac",
            "sha1",
            // Optional (`openapi`): the request types derive their OpenAPI schemas, so the HTTP
            // document describes the types that parse; derives only.
            "utoipa",
        ],
    ),
    // HTTP: the only crate that knows the wire format; no terminal, no argument parsing.
    (
        "http",
        &[
            "app",
            "domain",
            "engine",
            "indicators",
            "detect",
            "rules",
            "store",
            "serde",
            "serde_json",
            "serde_path_to_error",
            "axum",
            "tokio",
            "tower-http",
            "utoipa",
            "utoipa-axum",
            "tracing",
            // Webhook delivery: HMAC-SHA-256 signing and an HTTP client.
            "hmac",
            "sha2",
            "hyper-util",
            // The listener's own accept loop: connection cap, idle and header timeouts.
            "hyper",
            "tower",
            // The console's form bodies (already in the tree under axum).
            "form_urlencoded",
        ],
    ),
    // The command line: the binary, configuration, the terminal, and what the commands run.
    (
        "cli",
        &[
            "ansim-http",
            "app",
            // `store = "postgres://…"` opens the PostgreSQL backend.
            "store-postgres",
            // `redis = "redis://…"` connects the shared features (several nodes).
            "signals-redis",
            // `nats = "nats://…"`: changes between nodes over JetStream (the official client,
            // TLS providers and extras left out), and its message stream.
            "async-nats",
            "futures-util",
            "sim",
            "domain",
            "engine",
            "indicators",
            "detect",
            "model",
            "rules",
            "serde",
            "serde_json",
            "serde_path_to_error",
            "toml",
            "axum",
            "tokio",
            "tower-http",
            "utoipa",
            "utoipa-axum",
            "clap",
            "tracing",
            "tracing-subscriber",
            "indicatif",
            // The allocator: the request path allocates many small objects (BENCHMARKS.md).
            "mimalloc",
            // getrlimit/setrlimit: the open-file limit raised at start.
            "libc",
            "store",
            "hmac",
            "sha2",
            "hyper-util",
        ],
    ),
];

/// Directories whose Rust files are checked.
const RUST_DIRS: &[&str] = &["crates", "xtask", "fuzz"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name();
        if p.is_dir() {
            if name != "target" && name != "corpus" && name != "artifacts" {
                rust_files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Runs every check and returns the problems found.
pub fn run(root: &Path) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    let mut files = Vec::new();
    for d in RUST_DIRS {
        rust_files(&root.join(d), &mut files);
    }
    if files.is_empty() {
        problems.push(format!("no Rust files found under {}", root.display()));
    }
    // Built from pieces so this file does not trip its own check.
    let forbidden = [["dbg", "!("].concat(), ["todo", "!("].concat(), ["unimplemented", "!("].concat()];
    for f in &files {
        let rel = f.strip_prefix(root).unwrap_or(f).display().to_string();
        let text = std::fs::read_to_string(f).unwrap_or_default();
        // A reader opening any file learns first what it is for.
        let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        if !first.starts_with("//!") {
            problems.push(format!("{rel}: must open with a `//!` doc comment saying what the file is for"));
        }
        // Debugging leftovers and unfinished code do not land.
        for (n, line) in text.lines().enumerate() {
            for bad in &forbidden {
                if line.contains(bad.as_str()) {
                    problems.push(format!("{rel}:{}: remove `{bad}`", n + 1));
                }
            }
        }
    }
    for (krate, allowed) in ALLOWED {
        let manifest = root.join("crates").join(krate).join("Cargo.toml");
        let text = match std::fs::read_to_string(&manifest) {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!("{}: {e}", manifest.display()));
                continue;
            }
        };
        let doc: toml::Table = match toml::from_str(&text) {
            Ok(d) => d,
            Err(e) => {
                problems.push(format!("crates/{krate}/Cargo.toml: {e}"));
                continue;
            }
        };
        if let Some(deps) = doc.get("dependencies").and_then(|d| d.as_table()) {
            for dep in deps.keys() {
                if !allowed.contains(&dep.as_str()) {
                    problems.push(format!(
                        "crates/{krate} depends on `{dep}`, which its layer does not allow (allowed: {}); \
                         change ALLOWED in xtask/src/tidy.rs with a reason if this is deliberate",
                        allowed.join(", ")
                    ));
                }
            }
        }
    }
    // No module imports another that imports it back, directly or through others: a cycle
    // means neither can be understood, tested or moved without the other.
    if let Ok(entries) = std::fs::read_dir(root.join("crates")) {
        let mut crates: Vec<PathBuf> = entries.flatten().map(|e| e.path().join("src")).filter(|p| p.is_dir()).collect();
        crates.sort();
        for src in crates {
            for cycle in module_cycles(&src) {
                let rel = src.strip_prefix(root).unwrap_or(&src).display().to_string();
                problems.push(format!("{rel}: modules import each other in a circle: {}", cycle.join(" → ")));
            }
        }
    }
    // Nothing committed names a path of the machine it was written on.
    let machine_paths = [["/wo", "rk/"].concat(), ["/ro", "ot/"].concat(), ["/ho", "me/"].concat()];
    let mut all = Vec::new();
    for d in ["crates", "xtask", "test_data", "fuzz", ".ci"] {
        text_files(&root.join(d), &mut all);
    }
    for f in ["README.md", "ARCHITECTURE.md", "BENCHMARKS.md", "Cargo.toml"] {
        all.push(root.join(f));
    }
    // Third-party data copied byte for byte may hold such strings in its own content (a URL
    // path under a home directory); it is not written here.
    let copied = root.join("test_data").join("datasets");
    for f in all {
        if f.starts_with(&copied) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&f) else { continue };
        for p in &machine_paths {
            if text.contains(p.as_str()) {
                let rel = f.strip_prefix(root).unwrap_or(&f).display().to_string();
                problems.push(format!("{rel}: contains the machine path `{p}`; use a path relative to the repository"));
            }
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

/// The top-level modules of a crate's `src` named by `crate::` paths in each module's files
/// (`x.rs` and everything under `x/`), and the circles among them, each listed once.
fn module_cycles(src: &Path) -> Vec<Vec<String>> {
    use std::collections::BTreeMap;
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let module_of = |f: &Path| -> Option<String> {
        let rel = f.strip_prefix(src).ok()?;
        let first = rel.components().next()?.as_os_str().to_str()?.to_string();
        let name = first.strip_suffix(".rs").unwrap_or(&first).to_string();
        (name != "lib" && name != "main").then_some(name)
    };
    let modules: Vec<String> = files.iter().filter_map(|f| module_of(f)).collect();
    let mut edges: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let Some(from) = module_of(f) else { continue };
        let text = std::fs::read_to_string(f).unwrap_or_default();
        // Comments name other modules in doc links without depending on them.
        let code: String = text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
        for to in crate_paths(&code) {
            if to != from && modules.contains(&to) {
                edges.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    let mut cycles: Vec<Vec<String>> = Vec::new();
    // Depth-first from each module; a path that returns to its start is a circle.
    fn walk(
        start: &str,
        at: &str,
        path: &mut Vec<String>,
        edges: &BTreeMap<String, std::collections::BTreeSet<String>>,
        out: &mut Vec<Vec<String>>,
    ) {
        for next in edges.get(at).into_iter().flatten() {
            if next == start {
                let mut c = path.clone();
                c.push(start.to_string());
                // One rotation per circle: the one that starts at its smallest module.
                if path.iter().all(|m| m.as_str() >= start) && !out.contains(&c) {
                    out.push(c);
                }
            } else if !path.contains(next) && path.len() < 8 {
                path.push(next.clone());
                walk(start, next, path, edges, out);
                path.pop();
            }
        }
    }
    for m in edges.keys() {
        walk(m, m, &mut vec![m.clone()], &edges, &mut cycles);
    }
    cycles
}

/// The first segment of every `crate::` path in `text`, including each of a `crate::{a, b::c}`
/// group.
fn crate_paths(text: &str) -> Vec<String> {
    let ident = |s: &str| -> String { s.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect() };
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + 7..];
        if let Some(group) = after.strip_prefix('{') {
            let mut depth = 0usize;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push(ident(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 || c != '{' {
                    item.push(c);
                }
            }
            out.push(ident(&item));
        } else {
            out.push(ident(after));
        }
        rest = after;
    }
    out.retain(|m| !m.is_empty());
    out
}

fn text_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if e.file_name() != "target" && e.file_name() != "corpus" && e.file_name() != "artifacts" {
                text_files(&p, out);
            }
        } else {
            out.push(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidy() {
        if let Err(problems) = run(&repo_root()) {
            panic!("tidy found {} problem(s):\n{}", problems.len(), problems.join("\n"));
        }
    }

    #[test]
    fn tidy_catches_what_it_claims() {
        let dir = std::env::temp_dir().join(format!("ansim-tidy-{}", std::process::id()));
        let src = dir.join("crates/domain/src");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("lib.rs"), format!("fn main() {{ {}\"x\"); }}\n", ["dbg", "!("].concat())).unwrap();
        std::fs::write(
            dir.join("crates/domain/Cargo.toml"),
            "[package]\nname = \"x\"\n[dependencies]\ntokio = \"1\"\n",
        )
        .unwrap();
        std::fs::write(src.join("a.rs"), "//! a\nuse crate::{b::X, c};\n").unwrap();
        std::fs::write(src.join("b.rs"), "//! b\npub struct X;\nfn f() { crate::a::g(); }\n").unwrap();
        std::fs::write(src.join("c.rs"), "//! c\n").unwrap();
        let problems = run(&dir).unwrap_err().join("\n");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(problems.contains("must open with a `//!`"), "{problems}");
        assert!(problems.contains(&format!("remove `{}`", ["dbg", "!("].concat())), "{problems}");
        assert!(problems.contains("depends on `tokio`"), "{problems}");
        assert!(problems.contains("modules import each other in a circle: a → b → a"), "{problems}");
        assert!(!problems.contains("→ c"), "{problems}");
    }
}
