//! The command line as a user meets it: the built `ansim` binary run on fixtures. Checks exit
//! codes, that errors are one clear line, and what `rules check`, `replay`, `affiliates add`
//! and `keys create` print.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(rel)
}

fn ansim(args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ansim"));
    c.args(args);
    for v in ansim::config::ENV_VARS {
        c.env_remove(v);
    }
    c.output().expect("cannot run ansim")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `ansim replay EVENTS --rules RULES`, which must succeed: the decisions it wrote.
fn replay(events: &Path, rules: &Path) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("decisions.jsonl");
    let o = ansim(&[
        "replay",
        events.to_str().unwrap(),
        "--rules",
        rules.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::read_to_string(&out).unwrap()
}

/// A failure: exit code 1 and one line on stderr, which is returned.
fn one_line_error(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(1), "stdout: {}\nstderr: {}", stdout(o), stderr(o));
    let e = stderr(o);
    assert_eq!(e.trim_end().lines().count(), 1, "one line: {e}");
    assert!(e.starts_with("ansim: "), "{e}");
    e
}

#[test]
fn rules_check_renders_diagnostics_and_fails_on_errors() {
    let sample = repo("test_data/rulesets/sample.toml");
    let o = ansim(&["rules", "check", sample.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("group@v1 with 68 rules"), "{}", stdout(&o));

    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.toml");
    let text = std::fs::read_to_string(&sample).unwrap().replacen("features.new_payee", "features.new_payeee", 1);
    std::fs::write(&broken, text).unwrap();
    let o = ansim(&["rules", "check", broken.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("error[unknown-feature]") && e.contains("broken.toml:") && e.contains('^'), "{e}");
    assert!(e.contains("1 error(s)"), "{e}");
}

#[test]
fn replay_writes_one_decision_per_event_and_a_summary() {
    let events = repo("test_data/events/sample.jsonl");
    let n = std::fs::read_to_string(&events).unwrap().lines().filter(|l| !l.trim().is_empty()).count();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("decisions.jsonl");
    let o = ansim(&["replay", events.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(&out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), n);
    assert!(lines.iter().all(|d| d["verdict"].is_string() && d["ruleset"] == "group@v1"));
    assert!(lines.iter().any(|d| d["verdict"] == "block"), "the scam stories are caught");
    let summary = stdout(&o);
    assert!(summary.contains(&format!("{n} events decided by group@v1")), "{summary}");
    assert!(summary.contains("top rules") && summary.contains("events/s"), "{summary}");

    let e = one_line_error(&ansim(&["replay", "no-such-file.jsonl"]));
    assert!(e.contains("no-such-file.jsonl"), "{e}");
}

#[test]
fn keys_and_affiliates_and_config_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let e = one_line_error(&ansim(&["keys", "create", "--data", data, "--affiliate", "pay"]));
    assert!(e.contains("holds no ansim store"), "{e}");

    let o = ansim(&["affiliates", "add", "pay", "--data", data]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("pay@v1"), "{}", stdout(&o));
    let o =
        ansim(&["keys", "create", "--data", data, "--affiliate", "pay", "--scope", "decide", "--scope", "rules:write"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let key = stdout(&o);
    assert!(key.trim().starts_with("ak_") && key.trim().len() == 67, "{key}");
    assert!(stderr(&o).contains("decide, rules:write"), "{}", stderr(&o));
    let o = ansim(&["keys", "create", "--data", data, "--affiliate", "pay", "--scope", "root"]);
    assert_eq!(o.status.code(), Some(2), "clap rejects an unknown scope: {}", stderr(&o));

    let config = dir.path().join("ansim.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:0\"\ndata_dir = \"x\"\n").unwrap();
    let e = one_line_error(&ansim(&["serve", "--config", config.to_str().unwrap()]));
    assert!(e.contains("data_dir") && e.contains("ansim.toml:2:1"), "{e}");
}

#[test]
fn indicator_import_is_all_or_nothing_with_line_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    assert!(ansim(&["affiliates", "add", "bank", "--data", data_s]).status.success());
    let csv = dir.path().join("list.csv");
    std::fs::write(
        &csv,
        "kind,value,typology\nphone,010-1111-2222,impersonation\nphone,not-a-phone,impersonation\naccount,\"088 110-123-456789\",Mule!\n",
    )
    .unwrap();
    let o = ansim(&["indicators", "import", csv.to_str().unwrap(), "--affiliate", "bank", "--data", data_s]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("list.csv:3:") && err.contains("list.csv:4:"), "{err}");
    assert!(!err.contains("list.csv:2:"), "{err}");
    assert!(err.contains("nothing was imported"), "{err}");
    {
        let app = app::App::open(app::AppConfig::new(&data)).unwrap();
        let s = app.shield(indicators::IndicatorKind::Phone, "01011112222").unwrap();
        assert_eq!(s.reports, 0, "the good row was not imported either");
    }

    std::fs::write(&csv, "phone,010-1111-2222,impersonation\naccount,088 110-123-456789,mule,confirmed\n").unwrap();
    let o = ansim(&["indicators", "import", csv.to_str().unwrap(), "--affiliate", "bank", "--data", data_s]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("imported 2 row(s)"), "{}", stdout(&o));
    let app = app::App::open(app::AppConfig::new(&data)).unwrap();
    assert_eq!(app.shield(indicators::IndicatorKind::Phone, "+82 10 1111 2222").unwrap().reports, 1);
    assert!(app.shield(indicators::IndicatorKind::Account, "088:110123456789").unwrap().confirmed);
}

/// The last line of a report, as JSON.
fn last_json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "stdout: {}\nstderr: {}", stdout(o), stderr(o));
    let out = stdout(o);
    let last = out.trim_end().lines().last().unwrap_or_default().to_string();
    serde_json::from_str(&last).unwrap_or_else(|e| panic!("last line is not JSON ({e}): {out}"))
}

#[test]
fn train_and_eval_read_the_real_formats_and_end_with_a_json_line() {
    let sms = repo("test_data/datasets/sms-spam.sample.tsv");
    let urls = repo("test_data/datasets/web-phishing-urls.sample.csv");
    let benign = repo("test_data/datasets/korean-chatbot-benign.sample.csv");

    // The built-in models on the samples.
    let m = last_json(&ansim(&["eval", "messages", "--input", sms.to_str().unwrap()]));
    assert_eq!(m["n"], 301, "{m}");
    for k in ["precision", "recall", "f1", "accuracy", "roc_auc", "pr_auc", "false_positive_rate"] {
        assert!(m[k].is_number(), "{k} in {m}");
    }
    assert!(m["f1"].as_f64().unwrap() >= 0.85, "{m}");
    let u = last_json(&ansim(&["eval", "urls", "--input", urls.to_str().unwrap()]));
    assert_eq!(u["n"], 297, "{u}");
    assert!(u["accuracy"].as_f64().unwrap() >= 0.85, "{u}");
    let b = last_json(&ansim(&["eval", "benign", "--input", benign.to_str().unwrap(), "--column", "Q"]));
    assert_eq!((b["n"].as_u64(), b["recall"].is_null()), (Some(307), true), "{b}");
    assert!(b["false_positive_rate"].as_f64().unwrap() <= 0.01, "{b}");

    // Train on the sample with cross-validation, then evaluate the written model.
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("sms.model");
    let o = ansim(&[
        "train",
        "messages",
        "--input",
        sms.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
        "--folds",
        "3",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("mean"), "{}", stdout(&o));
    let t =
        last_json(&ansim(&["eval", "messages", "--model", model.to_str().unwrap(), "--input", sms.to_str().unwrap()]));
    assert!(t["f1"].as_f64().unwrap() >= 0.9, "a model scores its own training data well: {t}");

    // Wrong kinds and bad files are one clear line.
    let e = one_line_error(&ansim(&[
        "eval",
        "urls",
        "--model",
        model.to_str().unwrap(),
        "--input",
        urls.to_str().unwrap(),
    ]));
    assert!(e.contains("messages model"), "{e}");
    let e = one_line_error(&ansim(&["eval", "messages", "--input", urls.to_str().unwrap()]));
    assert!(e.contains("Label<TAB>SMS"), "{e}");
    let garbage = dir.path().join("garbage.model");
    std::fs::write(&garbage, b"not a model").unwrap();
    let e = one_line_error(&ansim(&[
        "eval",
        "messages",
        "--model",
        garbage.to_str().unwrap(),
        "--input",
        sms.to_str().unwrap(),
    ]));
    assert!(e.contains("not an ansim model"), "{e}");
}

#[test]
fn eval_analyzer_reads_the_corpus_prints_recall_per_typology_and_cross_validates_by_source() {
    let smishing = repo("test_data/messages/korean-real/scam-smishing.tsv");
    let o = ansim(&["eval", "analyzer", "--input", smishing.to_str().unwrap()]);
    let j = last_json(&o);
    assert_eq!(j["n"], 140, "{j}");
    assert_eq!(j["threshold"], 50, "{j}");
    for k in ["precision", "recall", "f1", "accuracy", "false_positive_rate", "tp", "fn"] {
        assert!(j.get(k).is_some(), "{k} in {j}");
    }
    let out = stdout(&o);
    assert!(out.contains("payment_approval") && out.contains("obituary_smishing"), "{out}");
    // `eval messages` is the same measurement and accepts the extra columns too.
    let m = last_json(&ansim(&["eval", "messages", "--input", smishing.to_str().unwrap()]));
    assert_eq!((m["n"].clone(), m["recall"].clone()), (j["n"].clone(), j["recall"].clone()));

    // Grouped cross-validation: a model per fold, rows of one source in one fold.
    let extra = repo("test_data/messages/korean-real/scam-extra.tsv");
    let ham = repo("test_data/messages/korean-real/ham.tsv");
    let o = ansim(&[
        "eval",
        "analyzer",
        "--cv",
        "3",
        "--group-by",
        "source",
        "--input",
        extra.to_str().unwrap(),
        "--input",
        ham.to_str().unwrap(),
    ]);
    let cv = last_json(&o);
    assert_eq!((cv["n"].as_u64(), cv["folds"].as_u64()), (Some(358), Some(3)), "{cv}");
    let out = stdout(&o);
    assert!(out.contains("3-fold cross-validation") && out.contains("evaluation-only rows never trained on"), "{out}");
    assert!(out.contains("card_approval (ordinary)"), "{out}");
    let e = one_line_error(&ansim(&[
        "eval",
        "analyzer",
        "--cv",
        "3",
        "--group-by",
        "colour",
        "--input",
        extra.to_str().unwrap(),
    ]));
    assert!(e.contains("--group-by colour"), "{e}");
}

#[test]
fn eval_measures_at_another_risk_threshold_when_asked() {
    // `--threshold` moves the line at which a risk counts as a flag, for every measure (the
    // trade-off between recall on scams and false alarms on chat is read off one command).
    let extra = repo("test_data/messages/korean-real/scam-extra.tsv");
    let at = |t: &str| {
        let o = ansim(&["eval", "analyzer", "--threshold", t, "--input", extra.to_str().unwrap()]);
        (last_json(&o), stdout(&o))
    };
    let (served, _) = at("50");
    assert_eq!(served["threshold"], 50, "{served}");
    let (everything, out) = at("0");
    assert_eq!((everything["threshold"].as_u64(), everything["recall"].as_f64()), (Some(0), Some(1.0)), "{everything}");
    let per_typology: Vec<&str> = out.lines().filter(|l| l.contains("% recall")).collect();
    assert!(!per_typology.is_empty() && per_typology.iter().all(|l| l.contains("100.0% recall")), "{out}");
    let (lower, _) = at("30");
    assert!(lower["recall"].as_f64().unwrap() >= served["recall"].as_f64().unwrap(), "{lower} vs {served}");
    // A benign file: every flag at the given threshold is a false alarm.
    let benign = repo("test_data/datasets/korean-chatbot-benign.sample.csv");
    let all = last_json(&ansim(&["eval", "benign", "--threshold", "0", "--input", benign.to_str().unwrap()]));
    assert_eq!((all["threshold"].as_u64(), all["false_positive_rate"].as_f64()), (Some(0), Some(1.0)), "{all}");
    // A risk is 0..=100: anything else is refused before any work.
    let o = ansim(&["eval", "analyzer", "--threshold", "101", "--input", extra.to_str().unwrap()]);
    assert!(!o.status.success() && stderr(&o).contains("101"), "{}", stderr(&o));
}

#[test]
fn train_messages_leaves_out_evaluation_only_rows() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mixed.tsv");
    let mut rows = String::from("Label\tSMS\ttypology\tsource\tlicence\n");
    for i in 0..12 {
        rows.push_str(&format!("spam\t택배 주소 불명 확인 {i} http://parcel-check.top/{i}\tparcel_smishing\thttps://a.example/{i}\tnews-quote\n"));
        rows.push_str(&format!("ham\t오늘 저녁 {i}시에 만나\tfamily_chat\thttps://b.example/{i}\tblog-quote\n"));
        rows.push_str(&format!("ham\t비상업 대화 {i}\tfamily_chat\thttps://c.example/{i}\tcc-by-nc-4.0\n"));
    }
    std::fs::write(&input, rows).unwrap();
    let model = dir.path().join("m.model");
    let o = ansim(&[
        "train",
        "messages",
        "--input",
        input.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
        "--folds",
        "0",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("left out 12 rows"), "{out}");
    assert!(out.contains("24 rows from mixed.tsv (24 rows)"), "{out}");
    let m = detect::linear::LinearModel::from_bytes(&std::fs::read(&model).unwrap()).unwrap();
    assert!(
        m.meta.contains("24 samples (12 scam)") && m.meta.contains("12 evaluation-only rows left out"),
        "{}",
        m.meta
    );
}

#[test]
fn audit_verify_names_the_row_edited_behind_the_applications_back() {
    let dir = tempfile::tempdir().unwrap();
    {
        let app = app::App::open(app::AppConfig::new(dir.path())).unwrap();
        for i in 0..3 {
            let form = app::cases::ReportForm {
                kind: app::cases::ReportKind::Smishing,
                description: format!("택배 문자 링크를 눌렀어요 {i}"),
                amount: None,
                transferred_at: None,
                contact_ongoing: false,
                age: None,
                indicators: vec![app::cases::ReportedIndicator {
                    kind: "url".into(),
                    value: format!("cj-parcel{i}.top/a"),
                }],
                contact: None,
                subject: None,
            };
            app.file_report(&app::cases::Reporter::Public { ip: "192.0.2.1".into() }, form).unwrap();
        }
    }
    let data = dir.path().to_str().unwrap();
    let o = ansim(&["audit", "verify", "--data", data]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("3 rows"), "{}", stdout(&o));

    let c = rusqlite::Connection::open(dir.path().join("ansim.db")).unwrap();
    c.execute("UPDATE audit SET actor = 'someone else' WHERE seq = 2", []).unwrap();
    drop(c);
    let e = one_line_error(&ansim(&["audit", "verify", "--data", data]));
    assert!(e.contains("audit row 2") && e.contains("edited"), "{e}");
}

#[test]
fn transactions_train_and_eval_on_paysim_and_meet_the_bar_on_the_full_set() {
    let dir = tempfile::tempdir().unwrap();
    let sample = repo("test_data/datasets/paysim.sample.csv");
    let model = dir.path().join("tx.gbdt");
    let m = last_json(&ansim(&[
        "train",
        "transactions",
        "--input",
        sample.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
    ]));
    for k in ["n", "roc_auc", "pr_auc", "recall_at_fpr_0_001", "recall_at_fpr_0_01", "precision", "recall", "f1"] {
        assert!(m[k].is_number(), "{k} in {m}");
    }
    let e = last_json(&ansim(&[
        "eval",
        "transactions",
        "--model",
        model.to_str().unwrap(),
        "--input",
        sample.to_str().unwrap(),
    ]));
    assert_eq!(e["n"], 900, "{e}");
    assert!(e["roc_auc"].as_f64().unwrap() > 0.9, "{e}");
    // Training twice with the same seed writes the same bytes.
    let again = dir.path().join("tx2.gbdt");
    let o = ansim(&["train", "transactions", "--input", sample.to_str().unwrap(), "--out", again.to_str().unwrap()]);
    assert!(o.status.success());
    assert_eq!(std::fs::read(&model).unwrap(), std::fs::read(&again).unwrap(), "training is deterministic");
    let err = one_line_error(&ansim(&["eval", "transactions", "--input", sample.to_str().unwrap()]));
    assert!(err.contains("--model"), "{err}");

    let full = repo("../shared/data/paysim/paysim.train.csv");
    if !full.exists() {
        eprintln!("skipping the full PaySim check: {} is absent", full.display());
        return;
    }
    let m = last_json(&ansim(&[
        "train",
        "transactions",
        "--input",
        full.to_str().unwrap(),
        "--out",
        model.to_str().unwrap(),
    ]));
    assert!(m["pr_auc"].as_f64().unwrap() >= 0.99, "validation PR-AUC: {m}");
    assert!(m["recall_at_fpr_0_001"].as_f64().unwrap() >= 0.95, "validation recall at 0.1% FPR: {m}");
}

#[test]
fn backtest_reports_what_a_draft_changes() {
    let dir = tempfile::tempdir().unwrap();
    let sample = std::fs::read_to_string(repo("test_data/rulesets/sample.toml")).unwrap();
    // The draft softens every holding rule of the sample ruleset to a warning.
    let draft = dir.path().join("draft.toml");
    let softened: String = sample
        .lines()
        .filter(|l| !l.starts_with("hold_minutes"))
        .map(|l| if l == "verdict = \"hold\"" { "verdict = \"warn\"" } else { l })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&draft, softened).unwrap();
    let events = repo("test_data/events/sample.jsonl");
    let labels = repo("test_data/events/sample.labels.jsonl");
    let b = last_json(&ansim(&[
        "backtest",
        "--rules",
        draft.to_str().unwrap(),
        "--events",
        events.to_str().unwrap(),
        "--labels",
        labels.to_str().unwrap(),
    ]));
    let n = std::fs::read_to_string(&events).unwrap().lines().filter(|l| !l.trim().is_empty()).count();
    assert_eq!(b["events"], n, "{b}");
    assert!(b["newly_allowed"].as_u64().unwrap() > 0 && b["newly_stopped"] == 0, "{b}");
    assert!(b["by_rule"].as_array().unwrap().iter().all(|r| r["side"] == "changed"), "only softened rules: {b}");
    let (a, d) = (b["active"]["recall"].as_f64().unwrap(), b["draft"]["recall"].as_f64().unwrap());
    assert!(d < a, "allowing holds lowers recall: {a} → {d}");
    // The same draft against itself changes nothing.
    let same = last_json(&ansim(&[
        "backtest",
        "--rules",
        draft.to_str().unwrap(),
        "--events",
        events.to_str().unwrap(),
        "--active",
        draft.to_str().unwrap(),
    ]));
    assert_eq!((same["newly_allowed"].as_u64(), same["newly_stopped"].as_u64()), (Some(0), Some(0)), "{same}");
}

/// Regression: `audit verify` (and every command that reads a data directory) on a missing or
/// mistyped `--data` created an empty store and reported success.
#[test]
fn commands_refuse_a_data_directory_that_holds_no_store() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("dtaa");
    let typo_s = typo.to_str().unwrap();
    let e = one_line_error(&ansim(&["audit", "verify", "--data", typo_s]));
    assert!(e.contains("holds no ansim store") && e.contains("dtaa"), "{e}");
    assert!(!typo.exists(), "nothing was created");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let csv = dir.path().join("list.csv");
    std::fs::write(&csv, "phone,010-1111-2222,impersonation\n").unwrap();
    let e = one_line_error(&ansim(&[
        "indicators",
        "import",
        csv.to_str().unwrap(),
        "--affiliate",
        "bank",
        "--data",
        empty.to_str().unwrap(),
    ]));
    assert!(e.contains("holds no ansim store"), "{e}");
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0, "nothing was created in {}", empty.display());
}

/// Regression: unknown typologies were accepted by the import; they are refused by line.
#[test]
fn indicator_import_refuses_unknown_typologies_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    assert!(ansim(&["affiliates", "add", "bank", "--data", data_s]).status.success());
    let csv = dir.path().join("list.csv");
    std::fs::write(&csv, "phone,010-1111-2222,impersonation\naccount,088 110-123-456789,pyramid-ring\n").unwrap();
    let o = ansim(&["indicators", "import", csv.to_str().unwrap(), "--affiliate", "bank", "--data", data_s]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("list.csv:2:") && err.contains("pyramid-ring"), "{err}");
    assert!(!err.contains("list.csv:1:"), "{err}");
}

/// Regression: `indicators import` into the data of a running server changed nothing the
/// server saw until it restarted, and said nothing. Now the CLI sees the server and sends the
/// user to the API.
#[test]
fn indicator_import_next_to_a_running_server_points_to_the_api() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    assert!(ansim(&["affiliates", "add", "bank", "--data", data_s]).status.success());
    let mut server = Command::new(env!("CARGO_BIN_EXE_ansim"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data", data_s])
        .env("ANSIM_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.starts_with("listening on"), "{line}");
    let csv = dir.path().join("list.csv");
    std::fs::write(&csv, "phone,010-1111-2222,impersonation\n").unwrap();
    let o = ansim(&["indicators", "import", csv.to_str().unwrap(), "--affiliate", "bank", "--data", data_s]);
    server.kill().unwrap();
    server.wait().unwrap();
    let e = one_line_error(&o);
    assert!(e.contains("server is running") && e.contains("POST /v1/indicators:import"), "{e}");
}

/// Regression: `replay` and `backtest` disagreed on the same ruleset and events (backtest
/// shared feature state across affiliates). They share one replay path now.
#[test]
fn replay_and_backtest_agree_on_the_same_ruleset_and_events() {
    let events = repo("test_data/events/sample.jsonl");
    let rules = repo("test_data/rulesets/sample.toml");
    let mut replayed: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    for l in replay(&events, &rules).lines() {
        let d: serde_json::Value = serde_json::from_str(l).unwrap();
        *replayed.entry(d["verdict"].as_str().unwrap().to_string()).or_default() += 1;
    }
    let b = last_json(&ansim(&[
        "backtest",
        "--rules",
        rules.to_str().unwrap(),
        "--active",
        rules.to_str().unwrap(),
        "--events",
        events.to_str().unwrap(),
    ]));
    let mut backtested: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    for (k, v) in b["transitions"].as_object().unwrap() {
        let (active, draft) = k.split_once('→').unwrap();
        assert_eq!(active, draft, "the same ruleset on both sides changes nothing: {b}");
        *backtested.entry(active.to_string()).or_default() += v.as_u64().unwrap();
    }
    assert!(replayed.get("hold").copied().unwrap_or(0) > 0, "{replayed:?}");
    assert_eq!(replayed, backtested);
}

/// Regression: the demo's banner said "6 affiliates" and listed five (it counted the group's
/// key as an affiliate).
#[test]
fn the_demo_banner_counts_the_affiliates_it_lists() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut demo = Command::new(env!("CARGO_BIN_EXE_ansim"))
        .args(["demo", "--rate", "0", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("data"))
        .env("ANSIM_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(demo.stdout.take().unwrap()).read_line(&mut line).unwrap();
    demo.kill().unwrap();
    demo.wait().unwrap();
    let (count, rest) = line
        .trim()
        .strip_prefix("ansim demo: ")
        .and_then(|r| r.split_once(" affiliates ("))
        .unwrap_or_else(|| panic!("unexpected banner {line:?}"));
    let listed = rest.split(')').next().unwrap().split(", ").count();
    assert_eq!(count.parse::<usize>().unwrap(), listed, "{line}");
}

/// Keys are listed and revoked from the command line; a key revoked next to a running server
/// stops working there within a second. `keys create --help` names every scope.
#[test]
fn keys_are_listed_and_revoked_from_the_command_line() {
    use std::io::{BufRead, Read, Write};
    let help = stdout(&ansim(&["keys", "create", "--help"]));
    for scope in ["decide", "rules:write", "admin", "cases"] {
        assert!(help.contains(scope), "{scope} missing from\n{help}");
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    assert!(ansim(&["affiliates", "add", "pay", "--data", data_s]).status.success());
    let key = stdout(&ansim(&["keys", "create", "--data", data_s, "--affiliate", "pay"])).trim().to_string();
    let mut server = Command::new(env!("CARGO_BIN_EXE_ansim"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data", data_s])
        .env("ANSIM_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.trim().strip_prefix("listening on http://").unwrap().to_string();
    let status = |key: &str| -> u16 {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        write!(
            s,
            "GET /v1/rulesets/active HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    assert_eq!(status(&key), 200);
    let list = stdout(&ansim(&["keys", "list", "--data", data_s, "--affiliate", "pay"]));
    let prefix: String = key.chars().take(8).collect();
    assert!(list.contains(&prefix) && list.contains("decide") && !list.contains(&key), "{list}");
    let o = ansim(&["keys", "revoke", &prefix, "--data", data_s, "--affiliate", "pay"]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::thread::sleep(std::time::Duration::from_millis(1_200));
    let after = status(&key);
    server.kill().unwrap();
    server.wait().unwrap();
    assert_eq!(after, 401, "revoked next to the server, refused by it within a second");
    assert!(stdout(&ansim(&["keys", "list", "--data", data_s, "--affiliate", "pay"])).contains("revoked"));
}

/// `ansim users`: a person added with a password from standard input or a generated one, the
/// password never echoed when given, a bad role refused by clap and a bad name by field, the
/// list showing role and state, and disable/enable and passwd changing what the store holds.
#[test]
fn users_are_added_listed_disabled_and_given_passwords_from_the_command_line() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    assert!(ansim(&["affiliates", "add", "bank", "--data", data_s]).status.success());
    let with_stdin = |args: &[&str], input: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ansim"))
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let o = with_stdin(
        &["users", "add", "kim", "--affiliate", "bank", "--role", "analyst", "--password-stdin", "--data", data_s],
        "a secret of mine\n",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stdout(&o).contains("secret") && !stderr(&o).contains("secret"), "a given password is not echoed");
    let o = ansim(&["users", "add", "lee", "--affiliate", "bank", "--role", "affiliate_admin", "--data", data_s]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim().len(), 20, "a generated password is printed once: {}", stdout(&o));
    let o = ansim(&["users", "add", "park", "--affiliate", "bank", "--role", "root", "--data", data_s]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e =
        one_line_error(&ansim(&["users", "add", "P", "--affiliate", "bank", "--role", "analyst", "--data", data_s]));
    assert!(e.contains("username"), "{e}");
    let e =
        one_line_error(&ansim(&["users", "add", "kim", "--affiliate", "bank", "--role", "analyst", "--data", data_s]));
    assert!(e.contains("taken"), "{e}");

    assert!(ansim(&["users", "disable", "kim", "--data", data_s]).status.success());
    let list = stdout(&ansim(&["users", "list", "--data", data_s]));
    let line = |name: &str| list.lines().find(|l| l.starts_with(name)).unwrap_or_default().to_string();
    assert!(line("kim ").contains("analyst") && line("kim ").ends_with("disabled"), "{list}");
    assert!(line("lee ").contains("affiliate_admin") && line("lee ").ends_with("active"), "{list}");
    assert!(ansim(&["users", "disable", "kim", "--enable", "--data", data_s]).status.success());
    assert!(
        stdout(&ansim(&["users", "list", "--data", data_s]))
            .lines()
            .any(|l| l.starts_with("kim ") && l.ends_with("active"))
    );
    let o = with_stdin(&["users", "passwd", "kim", "--password-stdin", "--data", data_s], "short\n");
    assert!(!o.status.success() && stderr(&o).contains("password"), "{}", stderr(&o));
    let e = one_line_error(&ansim(&["users", "passwd", "nobody", "--data", data_s]));
    assert!(e.contains("nobody"), "{e}");
}

/// Files saved by a spreadsheet or a Windows editor start with a byte-order mark; every command
/// that reads a file reads them like any other (the message readers always did).
#[test]
fn files_with_a_byte_order_mark_are_read_like_any_other() {
    let dir = tempfile::tempdir().unwrap();
    let bom = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, format!("\u{feff}{text}")).unwrap();
        p
    };
    // An indicator list with a header, as a spreadsheet exports it.
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    assert!(ansim(&["affiliates", "add", "bank", "--data", data_s]).status.success());
    let csv = bom("list.csv", "kind,value,typology\r\nphone,010-1111-2222,impersonation\r\n");
    let o = ansim(&["indicators", "import", csv.to_str().unwrap(), "--affiliate", "bank", "--data", data_s]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("imported 1 row(s)"), "{}", stdout(&o));

    // Events to replay, and the ruleset they are replayed with.
    let sample = std::fs::read_to_string(repo("test_data/events/sample.jsonl")).unwrap();
    let events = bom("events.jsonl", &sample.lines().take(3).collect::<Vec<_>>().join("\n"));
    let rules = bom("rules.toml", &std::fs::read_to_string(repo("test_data/rulesets/sample.toml")).unwrap());
    assert_eq!(replay(&events, &rules).lines().count(), 3);
    let o = ansim(&["rules", "check", rules.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));

    // A PaySim extract.
    let paysim = bom("paysim.csv", &std::fs::read_to_string(repo("test_data/datasets/paysim.sample.csv")).unwrap());
    let model = dir.path().join("tx.gbdt");
    let o = ansim(&["train", "transactions", "--input", paysim.to_str().unwrap(), "--out", model.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));

    // The keys `ansim load` posts with: read, so the one affiliate it lacks is named.
    let keys = bom("keys.json", r#"{"pay":"k"}"#);
    let e =
        one_line_error(&ansim(&["load", "--addr", "127.0.0.1:1", "--keys", keys.to_str().unwrap(), "--events", "3"]));
    assert!(e.contains("no key for affiliate"), "{e}");
}
