//! `ansim train` and `ansim eval`: train the message and URL models from labelled files, with
//! cross-validation, write the model artefact, and measure the analysis (or a URL model) on a
//! labelled or benign-only file — also by source-grouped cross-validation, which trains the
//! message model anew for every fold. Every report ends with one JSON line: `n`, `precision`,
//! `recall`, `f1`, `accuracy`, `roc_auc`, `pr_auc`, `false_positive_rate`.
//!
//! Message files are TSVs whose header starts `Label<TAB>SMS` (more columns may follow:
//! `typology`, `source`, `licence` are read when present) or CSVs of ordinary messages with a
//! `Q` column. Rows whose `licence` is non-commercial are evaluation only: training never reads
//! them ([`evaluation_only`]).

use detect::linear::{Features, LinearModel, ModelKind, TrainConfig};
use detect::metrics::{Metrics, evaluate, grouped_folds, recall_at_fpr, stratified_folds};
use detect::{Analyzer, RISK_THRESHOLD, links, text};
use domain::Analysis;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// What is trained or evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// Messages: a TSV with columns `Label` (`spam`/`ham`) and `SMS` (more may follow), or a
    /// CSV of ordinary messages with a `Q` column. `eval messages` is `eval analyzer`.
    Messages,
    /// The whole message analysis as served (`eval` only): risk at or above 50 is a scam.
    Analyzer,
    /// URLs: a CSV with columns `url` ... `status` (`phishing`/`legitimate`).
    Urls,
    /// A benign-only CSV (`eval` only): every row of `--column` is an ordinary message.
    Benign,
    /// Transactions: a PaySim CSV (step, type, amount, nameOrig, oldbalanceOrg, ... isFraud).
    Transactions,
}

/// Splits CSV text into rows of fields: quoted fields may hold commas, quotes (doubled) and
/// line breaks; CRLF and LF both end a row.
pub fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

use crate::read_text as read;

/// One message of a file: its text and label and, when the file has them, its typology,
/// source and licence.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageRow {
    /// The message.
    pub text: String,
    /// `spam` (true) or `ham`.
    pub scam: bool,
    /// The `typology` column.
    pub typology: Option<String>,
    /// The `source` column (a URL): the unit of grouped cross-validation.
    pub source: Option<String>,
    /// The `licence` column.
    pub licence: Option<String>,
    /// Read from a CSV of ordinary messages (no label column).
    pub plain: bool,
}

/// Whether a row under `licence` may only be evaluated on, never trained on: a
/// non-commercial licence (`cc-by-nc-4.0`, `cc-by-nc-sa-2.0-kr`, any `…-nc…` code).
pub fn evaluation_only(licence: Option<&str>) -> bool {
    licence.is_some_and(|l| {
        let l = l.trim().to_ascii_lowercase();
        l.split(['-', '_', ' ']).any(|part| part == "nc") || l.contains("noncommercial") || l.contains("non-commercial")
    })
}

/// The messages of a file: a TSV whose header starts `Label<TAB>SMS` (further columns are
/// allowed; `typology`, `source` and `licence` are read), or a CSV with a `Q` column, every row
/// of which is an ordinary message.
pub fn read_messages(path: &Path) -> Result<Vec<MessageRow>, String> {
    let text = read(path)?;
    let name = path.display();
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default().trim_end_matches('\r');
    let cols: Vec<&str> = header.split('\t').map(str::trim).collect();
    if cols.len() < 2 || cols[0] != "Label" || cols[1] != "SMS" {
        if !header.contains('\t') {
            let rows = csv_rows(&text);
            if let Some(k) = rows.first().and_then(|h| h.iter().position(|c| c.trim() == "Q")) {
                return Ok(rows
                    .iter()
                    .skip(1)
                    .filter_map(|r| r.get(k))
                    .filter(|t| !t.trim().is_empty())
                    .map(|t| MessageRow { text: t.clone(), plain: true, ..MessageRow::default() })
                    .collect());
            }
        }
        return Err(format!(
            "{name}: the first line must be the header `Label<TAB>SMS` (more columns may follow), or the file a CSV \
             of ordinary messages with a `Q` column; got {header:?}"
        ));
    }
    let col = |n: &str| cols.iter().position(|c| *c == n);
    let (typology, source, licence) = (col("typology"), col("source"), col("licence"));
    let mut out = Vec::new();
    for (i, line) in lines.enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        // With only the two columns the text is the rest of the line (it may hold a TAB).
        let fields: Vec<&str> =
            if cols.len() == 2 { line.splitn(2, '\t').collect() } else { line.split('\t').collect() };
        if fields.len() < 2 {
            return Err(format!("{name}:{}: no TAB between label and text", i + 2));
        }
        let scam = match fields[0].trim() {
            "spam" => true,
            "ham" => false,
            other => return Err(format!("{name}:{}: label must be spam or ham, got {other:?}", i + 2)),
        };
        let get =
            |k: Option<usize>| k.and_then(|k| fields.get(k)).map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        out.push(MessageRow {
            text: fields[1].to_string(),
            scam,
            typology: get(typology),
            source: get(source),
            licence: get(licence),
            plain: false,
        });
    }
    Ok(out)
}

/// The messages of several files, in order.
fn read_all(paths: &[PathBuf]) -> Result<Vec<MessageRow>, String> {
    let mut out = Vec::new();
    for p in paths {
        out.extend(read_messages(p)?);
    }
    Ok(out)
}

/// `(url, is_phishing)` rows of a URL CSV, with the line number of any bad row.
pub fn labelled_urls(path: &Path) -> Result<Vec<(String, bool)>, String> {
    let text = read(path)?;
    let name = path.display();
    let rows = csv_rows(&text);
    let header = rows.first().ok_or_else(|| format!("{name}: empty file"))?;
    let url = column(header, "url", &name.to_string())?;
    let status = column(header, "status", &name.to_string())?;
    let mut out = Vec::new();
    for (i, r) in rows.iter().enumerate().skip(1) {
        if r.len() == 1 && r[0].trim().is_empty() {
            continue;
        }
        let (Some(u), Some(s)) = (r.get(url), r.get(status)) else {
            return Err(format!("{name}:{}: {} fields, the header has {}", i + 1, r.len(), header.len()));
        };
        let y = match s.trim() {
            "phishing" => true,
            "legitimate" => false,
            other => {
                return Err(format!("{name}:{}: status must be phishing or legitimate, got {other:?}", i + 1));
            }
        };
        out.push((u.clone(), y));
    }
    Ok(out)
}

fn column(header: &[String], name: &str, file: &str) -> Result<usize, String> {
    header
        .iter()
        .position(|h| h.trim() == name)
        .ok_or_else(|| format!("{file}: no column {name:?} in the header ({})", header.join(",")))
}

/// The texts of one column of a benign-only CSV.
pub fn benign(path: &Path, col: &str) -> Result<Vec<String>, String> {
    let text = read(path)?;
    let rows = csv_rows(&text);
    let header = rows.first().ok_or_else(|| format!("{}: empty file", path.display()))?;
    let k = column(header, col, &path.display().to_string())?;
    Ok(rows.iter().skip(1).filter_map(|r| r.get(k)).filter(|t| !t.trim().is_empty()).cloned().collect())
}

/// The rows of `rows` a shipped model may learn from, and how many were left out.
pub fn trainable(rows: &[MessageRow]) -> (Vec<(String, bool)>, usize) {
    let kept: Vec<(String, bool)> =
        rows.iter().filter(|r| !evaluation_only(r.licence.as_deref())).map(|r| (r.text.clone(), r.scam)).collect();
    let left = rows.len() - kept.len();
    (kept, left)
}

fn pct(x: Option<f64>) -> String {
    x.map_or("-".to_string(), |v| format!("{:.2}%", v * 100.0))
}

/// Trains on `inputs`: `folds`-fold stratified cross-validation of the model alone first
/// (printed per fold and on average), then one model on every row, written to `out`. Message
/// rows with an evaluation-only licence are left out (and counted).
pub fn train(kind: Kind, inputs: &[PathBuf], out: &Path, folds: usize) -> Result<(), String> {
    let first = inputs.first().ok_or("give at least one --input")?;
    match kind {
        Kind::Transactions => return crate::transactions::train(first, out, None, 42).map(|_| ()),
        Kind::Benign | Kind::Analyzer => {
            return Err("only `messages`, `urls` and `transactions` models are trained".into());
        }
        _ => {}
    }
    let mut names = Vec::new();
    let mut kept_rows: Vec<MessageRow> = Vec::new();
    let rows: Vec<(String, bool)> = if kind == Kind::Urls {
        let mut rows = Vec::new();
        for p in inputs {
            let r = labelled_urls(p)?;
            names.push(format!("{} ({} rows)", file_name(p), r.len()));
            rows.extend(r);
        }
        rows
    } else {
        let mut rows = Vec::new();
        let mut left_out = 0;
        for p in inputs {
            let all = read_messages(p)?;
            let kept: Vec<MessageRow> =
                all.iter().filter(|r| !evaluation_only(r.licence.as_deref())).cloned().collect();
            left_out += all.len() - kept.len();
            names.push(format!("{} ({} rows)", file_name(p), kept.len()));
            kept_rows.extend(kept.iter().cloned());
            rows.extend(kept.into_iter().map(|r| (r.text, r.scam)));
        }
        if left_out > 0 {
            println!("left out {left_out} rows with an evaluation-only (non-commercial) licence");
            names.push(format!("{left_out} evaluation-only rows left out"));
        }
        rows
    };
    let pos = rows.iter().filter(|r| r.1).count();
    if pos == 0 || pos == rows.len() {
        return Err(format!("both classes are needed, got {pos} positive of {}", rows.len()));
    }
    println!("{} rows from {} ({pos} positive)", rows.len(), names.join(", "));
    let (brands, urls) = (links::builtin_brands_ref(), links::builtin_ref());
    let (cfg, opts) = (text::train_config(), text::DEFAULT_OPTIONS);
    let data: Vec<(Features, bool)> =
        if kind == Kind::Urls { Vec::new() } else { text::featurize(&rows, cfg.bits, opts, brands, urls) };
    // The threshold's inner cross-validation keeps a source's rows (and repeated texts) together.
    let all_groups = groups(&kept_rows, Some("source"))?;
    let train_rows = |idx: &[usize]| -> LinearModel {
        if kind == Kind::Urls {
            let part: Vec<(String, bool)> = idx.iter().map(|&i| rows[i].clone()).collect();
            links::train(&part, &TrainConfig::default())
        } else {
            let part: Vec<(Features, bool)> = idx.iter().map(|&i| data[i].clone()).collect();
            let g: Vec<usize> = idx.iter().map(|&i| all_groups[i]).collect();
            let plain: Vec<bool> = idx.iter().map(|&i| kept_rows[i].plain).collect();
            let w = text::balanced_weights(&part, &plain);
            text::fit(&part, text::FitOptions { weights: Some(&w), groups: Some(&g), plain: Some(&plain) }, &cfg, opts)
        }
    };
    let score = |m: &LinearModel, i: usize| -> f64 {
        if kind == Kind::Urls {
            links::url_probability(m, &rows[i].0).map_or(0.0, f64::from)
        } else {
            f64::from(m.probability(&data[i].0))
        }
    };
    if folds >= 2 {
        let labels: Vec<bool> = rows.iter().map(|r| r.1).collect();
        let fold = stratified_folds(&labels, folds, 42);
        let mut all = Vec::new();
        println!("{:>5} {:>9} {:>9} {:>9} {:>9} {:>9}", "fold", "precision", "recall", "f1", "accuracy", "roc_auc");
        for k in 0..folds {
            let train: Vec<usize> = (0..rows.len()).filter(|&i| fold[i] != k).collect();
            let m = train_rows(&train);
            let scored: Vec<(f64, bool)> =
                (0..rows.len()).filter(|&i| fold[i] == k).map(|i| (score(&m, i), rows[i].1)).collect();
            let x = evaluate(&scored, f64::from(m.threshold));
            println!(
                "{k:>5} {:>9} {:>9} {:>9} {:>9} {:>9}",
                pct(x.precision),
                pct(x.recall),
                pct(x.f1),
                pct(x.accuracy),
                pct(x.roc_auc)
            );
            all.push(x);
        }
        let mean = |f: fn(&Metrics) -> Option<f64>| {
            let v: Vec<f64> = all.iter().filter_map(f).collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        };
        println!(
            "{:>5} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "mean",
            pct(mean(|m| m.precision)),
            pct(mean(|m| m.recall)),
            pct(mean(|m| m.f1)),
            pct(mean(|m| m.accuracy)),
            pct(mean(|m| m.roc_auc))
        );
    }
    let mut m = train_rows(&(0..rows.len()).collect::<Vec<_>>());
    m.meta = format!("{}; trained on {}", m.meta, names.join(", "));
    std::fs::write(out, m.to_bytes()).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    println!("wrote {} ({} model, 2^{} weights, threshold {:.3})", out.display(), m.kind.as_str(), m.bits, m.threshold);
    Ok(())
}

fn file_name(p: &Path) -> String {
    p.file_name().unwrap_or_default().to_string_lossy().into_owned()
}

fn load(path: Option<&Path>, kind: ModelKind) -> Result<LinearModel, String> {
    let m = match path {
        None => match kind {
            ModelKind::Messages => text::builtin(),
            ModelKind::Urls => links::builtin(),
        },
        Some(p) => {
            let bytes = std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            LinearModel::from_bytes(&bytes).map_err(|e| format!("{}: {e}", p.display()))?
        }
    };
    if m.kind != kind {
        return Err(format!("a {} model was given where a {} model is needed", m.kind.as_str(), kind.as_str()));
    }
    Ok(m)
}

/// What `ansim eval` measures besides the kind and the input files.
#[derive(Debug, Clone, Default)]
pub struct EvalOptions {
    /// A model written by `ansim train` (the built-in one when absent).
    pub model: Option<PathBuf>,
    /// For `benign`: the column holding the messages.
    pub column: Option<String>,
    /// Cross-validate instead of using a trained model: `k` folds.
    pub cv: Option<usize>,
    /// The column grouping rows into folds (`source`); rows with the same text are always
    /// grouped too.
    pub group_by: Option<String>,
    /// Files every fold also trains on (never evaluated).
    pub train: Vec<PathBuf>,
    /// Fold assignment seed.
    pub seed: u64,
    /// Print every wrong call (missed scam, false alarm) with what the analysis saw.
    pub errors: bool,
    /// The risk from which a message counts as flagged (the served [`RISK_THRESHOLD`] when
    /// absent).
    pub threshold: Option<u8>,
}

/// Evaluates on `inputs` and prints a table, then the metrics as one JSON line. Messages are
/// scored by the whole analysis (detectors, evidence, text model and links: what a decision
/// sees), flagged at risk 50; URLs by the URL model at its threshold; a benign file by the
/// message analysis, where every flag is a false alarm.
pub fn eval(kind: Kind, inputs: &[PathBuf], o: &EvalOptions) -> Result<Option<Metrics>, String> {
    let first = inputs.first().ok_or("give at least one --input")?;
    match kind {
        Kind::Transactions => {
            let m = o.model.as_deref().ok_or("transactions need --model MODEL (from `ansim train transactions`)")?;
            crate::transactions::eval(m, first, None).map(|_| None)
        }
        Kind::Urls => {
            let m = load(o.model.as_deref(), ModelKind::Urls)?;
            let mut rows = Vec::new();
            for p in inputs {
                rows.extend(labelled_urls(p)?);
            }
            let scored: Vec<(f64, bool)> =
                rows.iter().map(|(u, y)| (links::url_probability(&m, u).map_or(0.0, f64::from), *y)).collect();
            let x = evaluate(&scored, f64::from(m.threshold));
            println!("URL model: {}", m.meta);
            report(inputs, &x, &[]);
            Ok(Some(x))
        }
        Kind::Benign => {
            let col = o.column.as_deref().unwrap_or("Q");
            let mut rows = Vec::new();
            for p in inputs {
                rows.extend(benign(p, col)?.into_iter().map(|t| MessageRow { text: t, ..MessageRow::default() }));
            }
            eval_messages(inputs, rows, o).map(Some)
        }
        Kind::Messages | Kind::Analyzer => eval_messages(inputs, read_all(inputs)?, o).map(Some),
    }
}

/// Prints the confusion counts and metrics, extra `(key, value)` pairs, then the JSON line
/// (the metrics, then the extras).
fn report(inputs: &[PathBuf], m: &Metrics, extra: &[(&str, String)]) {
    let names: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
    println!("input: {} ({} rows)", names.join(", "), m.n);
    println!("  true positives {:>6}   false positives {:>6}", m.tp, m.fp);
    println!("  false negatives {:>5}   true negatives  {:>6}", m.fn_, m.tn);
    for (name, v) in [
        ("precision", m.precision),
        ("recall", m.recall),
        ("f1", m.f1),
        ("accuracy", m.accuracy),
        ("roc_auc", m.roc_auc),
        ("pr_auc", m.pr_auc),
        ("false_positive_rate", m.false_positive_rate),
    ] {
        println!("  {name:<20} {}", pct(v));
    }
    for (k, v) in extra {
        println!("  {k:<20} {v}");
    }
    let mut json = m.to_json();
    json.pop();
    for (k, v) in extra {
        json.push_str(&format!(",\"{k}\":{v}"));
    }
    json.push('}');
    println!("{json}");
}

/// Groups of rows for grouped cross-validation: rows sharing a value of `by` (when given and
/// present) or the same compact text (a message quoted by two sources) share a group.
pub fn groups(rows: &[MessageRow], by: Option<&str>) -> Result<Vec<usize>, String> {
    let key = |r: &MessageRow| -> Option<String> {
        match by {
            None => None,
            Some("source") => r.source.clone(),
            Some("typology") => r.typology.clone(),
            Some("licence") => r.licence.clone(),
            Some(other) => Some(format!("\u{0}{other}")),
        }
    };
    if let Some(b) = by
        && !matches!(b, "source" | "typology" | "licence")
    {
        return Err(format!("--group-by {b}: rows can be grouped by source, typology or licence"));
    }
    // Union-find over rows: one node per row, joined to the first row of its key and text.
    let mut parent: Vec<usize> = (0..rows.len()).collect();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    let mut first: HashMap<String, usize> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        let text = format!("\u{1}{}", detect::normalize::normalize(&r.text).compact);
        for k in [key(r), Some(text)].into_iter().flatten() {
            match first.get(&k) {
                Some(&j) => {
                    let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                    parent[a] = b;
                }
                None => {
                    first.insert(k, i);
                }
            }
        }
    }
    let mut ids: HashMap<usize, usize> = HashMap::new();
    Ok((0..rows.len())
        .map(|i| {
            let root = find(&mut parent, i);
            let n = ids.len();
            *ids.entry(root).or_insert(n)
        })
        .collect())
}

fn eval_messages(inputs: &[PathBuf], rows: Vec<MessageRow>, o: &EvalOptions) -> Result<Metrics, String> {
    if rows.is_empty() {
        return Err("no messages in the input".into());
    }
    let flag_at = o.threshold.unwrap_or(RISK_THRESHOLD);
    let (analyses, what): (Vec<Analysis>, String) = match o.cv {
        None => {
            let m = load(o.model.as_deref(), ModelKind::Messages)?;
            let meta = m.meta.clone();
            let a = Analyzer::new(m, links::builtin(), links::Brands::builtin()).map_err(|e| e.0)?;
            (
                rows.iter().map(|r| a.message(&r.text, None, &[])).collect(),
                format!("message analysis with model: {meta}"),
            )
        }
        Some(k) => cross_validate(&rows, k, o)?,
    };
    let risks: Vec<u8> = analyses.iter().map(|a| a.risk).collect();
    println!("{what}");
    if o.errors {
        // Every wrong call, with what the analysis saw.
        for (r, a) in rows.iter().zip(&analyses) {
            if (a.risk >= flag_at) != r.scam {
                println!(
                    "{} {:<26} risk {:>3} model {:>3} as {:<24} evidence {:?} phrases {:?}: {}",
                    if r.scam { "MISSED     " } else { "FALSE ALARM" },
                    r.typology.as_deref().unwrap_or("-"),
                    a.risk,
                    a.model_score,
                    a.typology.map_or("-", |t| t.as_str()),
                    a.evidence,
                    a.phrases,
                    r.text
                );
            }
        }
    }
    let threshold = f64::from(flag_at) / 100.0;
    let scored: Vec<(f64, bool)> = risks.iter().zip(&rows).map(|(r, row)| (f64::from(*r) / 100.0, row.scam)).collect();
    let m = evaluate(&scored, threshold);
    // Per typology: recall of the scams, false alarms of the ordinary kinds.
    if rows.iter().any(|r| r.typology.is_some()) {
        let mut by: BTreeMap<(bool, String), (usize, usize)> = BTreeMap::new();
        for (r, s) in rows.iter().zip(&scored) {
            let e = by.entry((!r.scam, r.typology.clone().unwrap_or_else(|| "-".into()))).or_default();
            e.0 += 1;
            e.1 += usize::from(s.0 >= threshold);
        }
        println!("{:<28} {:>5} {:>8} {:>9}", "typology", "n", "flagged", "recall");
        for ((ham, t), (n, hit)) in &by {
            let rate = *hit as f64 / *n as f64;
            let label = if *ham { format!("{t} (ordinary)") } else { t.clone() };
            let what = if *ham { "fp rate" } else { "recall" };
            let thin = if *n < 10 { "  (fewer than 10 rows)" } else { "" };
            println!("{label:<28} {n:>5} {hit:>8} {:>8.1}% {what}{thin}", rate * 100.0);
        }
    }
    let mut extra = vec![("threshold", format!("{flag_at}"))];
    if let Some((r, t)) = recall_at_fpr(&scored, 0.05) {
        extra.push(("best_recall_at_fpr_0_05", format!("{r:.4}")));
        extra.push(("risk_for_fpr_0_05", format!("{:.0}", t * 100.0)));
    }
    if let Some(k) = o.cv {
        extra.push(("folds", k.to_string()));
    }
    report(inputs, &m, &extra);
    Ok(m)
}

/// Risks of every row from `k`-fold cross-validation: rows are grouped (by `--group-by` and by
/// identical text) into folds; each fold's risks come from an analyzer whose message model was
/// trained on the other folds' trainable rows plus every trainable row of `--train` files (rows
/// whose text is in the fold are dropped from those).
fn cross_validate(rows: &[MessageRow], k: usize, o: &EvalOptions) -> Result<(Vec<Analysis>, String), String> {
    if k < 2 {
        return Err("--cv needs at least 2 folds".into());
    }
    if o.model.is_some() {
        return Err("--cv trains its own models; leave out --model".into());
    }
    let g = groups(rows, o.group_by.as_deref())?;
    let labels: Vec<bool> = rows.iter().map(|r| r.scam).collect();
    let fold = grouped_folds(&labels, &g, k, o.seed);
    let extra: Vec<MessageRow> = read_all(&o.train)?;
    let (brands, urls) = (links::builtin_brands_ref(), links::builtin_ref());
    let (cfg, opts) = (text::train_config(), text::DEFAULT_OPTIONS);
    let featurize = |rs: &[MessageRow]| -> Vec<(Features, bool, bool, String)> {
        rs.iter()
            .map(|r| {
                let p = text::prepare(&r.text, brands, urls);
                let f = text::features(&p, &r.text, cfg.bits, text::FEATURE_SET | opts);
                (f, r.scam, !evaluation_only(r.licence.as_deref()), p.norm.compact)
            })
            .collect()
    };
    let own = featurize(rows);
    let more = featurize(&extra);
    // Groups of every row (own rows first, then the --train rows), for the threshold's inner
    // cross-validation.
    let mut everything: Vec<MessageRow> = rows.to_vec();
    everything.extend(extra.iter().cloned());
    let all_groups = groups(&everything, Some("source"))?;
    let mut risks = vec![Analysis::default(); rows.len()];
    let left_out = own.iter().filter(|x| !x.2).count() + more.iter().filter(|x| !x.2).count();
    println!(
        "{k}-fold cross-validation, {} groups{}; {} rows of --train files in every fold; {left_out} evaluation-only rows never trained on",
        g.iter().copied().max().map_or(0, |m| m + 1),
        o.group_by
            .as_deref()
            .map(|b| format!(" by {b} and identical text"))
            .unwrap_or_else(|| " by identical text".into()),
        extra.len()
    );
    println!("{:>5} {:>6} {:>6} {:>9} {:>9}", "fold", "rows", "scams", "recall", "fp rate");
    for f in 0..k {
        let held: std::collections::HashSet<&str> =
            (0..rows.len()).filter(|&i| fold[i] == f).map(|i| own[i].3.as_str()).collect();
        let mut train: Vec<(Features, bool)> = Vec::new();
        let mut tg: Vec<usize> = Vec::new();
        let mut plain: Vec<bool> = Vec::new();
        for (i, x) in own.iter().enumerate() {
            if fold[i] != f && x.2 {
                train.push((x.0.clone(), x.1));
                tg.push(all_groups[i]);
                plain.push(rows[i].plain);
            }
        }
        for (j, x) in more.iter().enumerate() {
            if x.2 && !held.contains(x.3.as_str()) {
                train.push((x.0.clone(), x.1));
                tg.push(all_groups[rows.len() + j]);
                plain.push(extra[j].plain);
            }
        }
        let w = text::balanced_weights(&train, &plain);
        let m = text::fit(
            &train,
            text::FitOptions { weights: Some(&w), groups: Some(&tg), plain: Some(&plain) },
            &cfg,
            opts,
        );
        let a = Analyzer::new(m, links::builtin(), links::Brands::builtin()).map_err(|e| e.0)?;
        let (mut n, mut pos, mut tp, mut fp) = (0, 0, 0, 0);
        for i in (0..rows.len()).filter(|&i| fold[i] == f) {
            let x = a.message(&rows[i].text, None, &[]);
            let r = x.risk;
            risks[i] = x;
            n += 1;
            let hit = r >= o.threshold.unwrap_or(RISK_THRESHOLD);
            if rows[i].scam {
                pos += 1;
                tp += usize::from(hit);
            } else {
                fp += usize::from(hit);
            }
        }
        let rate = |a: usize, b: usize| if b > 0 { format!("{:.1}%", 100.0 * a as f64 / b as f64) } else { "-".into() };
        println!("{f:>5} {n:>6} {pos:>6} {:>9} {:>9}", rate(tp, pos), rate(fp, n - pos));
    }
    Ok((risks, format!("message analysis, {k}-fold cross-validation (a message model trained per fold)")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_commercial_rows_are_evaluation_only() {
        for l in ["cc-by-nc-4.0", "cc-by-nc-sa-2.0-kr", "CC-BY-NC-ND-4.0", "non-commercial"] {
            assert!(evaluation_only(Some(l)), "{l}");
        }
        for l in ["news-quote", "bsd-3-clause", "cc-by-4.0", "mit", "not-stated", "public-notice"] {
            assert!(!evaluation_only(Some(l)), "{l}");
        }
        assert!(!evaluation_only(None));
        let rows = vec![
            MessageRow { text: "a".into(), scam: true, licence: Some("news-quote".into()), ..MessageRow::default() },
            MessageRow { text: "b".into(), licence: Some("cc-by-nc-4.0".into()), ..MessageRow::default() },
            MessageRow { text: "c".into(), ..MessageRow::default() },
        ];
        assert_eq!(trainable(&rows), (vec![("a".to_string(), true), ("c".to_string(), false)], 1));
    }

    #[test]
    fn message_files_take_extra_columns_and_benign_csvs() {
        let dir = tempfile::tempdir().unwrap();
        let tsv = dir.path().join("m.tsv");
        std::fs::write(&tsv, "Label\tSMS\ttypology\tsource\tlicence\nspam\t택배 주소 확인\tparcel_smishing\thttps://a.example/1\tnews-quote\nham\t안녕\tfamily_chat\t\tcc-by-nc-4.0\n").unwrap();
        let r = read_messages(&tsv).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].typology.as_deref(), Some("parcel_smishing"));
        assert_eq!(r[0].source.as_deref(), Some("https://a.example/1"));
        assert_eq!((r[1].scam, r[1].source.as_deref(), r[1].licence.as_deref()), (false, None, Some("cc-by-nc-4.0")));
        let two = dir.path().join("two.tsv");
        std::fs::write(&two, "Label\tSMS\nspam\ta\tb\n").unwrap();
        assert_eq!(read_messages(&two).unwrap()[0].text, "a\tb");
        let csv = dir.path().join("b.csv");
        std::fs::write(&csv, "Q,A,label\n\"안녕, 잘 지내\",응,0\n").unwrap();
        let b = read_messages(&csv).unwrap();
        assert_eq!((b[0].text.as_str(), b[0].scam), ("안녕, 잘 지내", false));
        let bad = dir.path().join("bad.tsv");
        std::fs::write(&bad, "Text\tLabel\nx\tspam\n").unwrap();
        assert!(read_messages(&bad).unwrap_err().contains("Label<TAB>SMS"));
    }

    /// A file saved by a spreadsheet or a Windows editor starts with a byte-order mark and ends
    /// its lines with CR LF; it reads like the same file without them.
    #[test]
    fn a_byte_order_mark_and_crlf_lines_read_like_a_plain_file() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain.tsv");
        let marked = dir.path().join("marked.tsv");
        std::fs::write(&plain, "Label\tSMS\ttypology\nspam\t택배 주소 확인\tparcel_smishing\nham\t안녕\tfamily_chat\n")
            .unwrap();
        std::fs::write(
            &marked,
            "\u{feff}Label\tSMS\ttypology\r\nspam\t택배 주소 확인\tparcel_smishing\r\nham\t안녕\tfamily_chat\r\n",
        )
        .unwrap();
        assert_eq!(read_messages(&marked).unwrap(), read_messages(&plain).unwrap());
        let csv = dir.path().join("b.csv");
        std::fs::write(&csv, "\u{feff}Q,A,label\r\n안녕,응,0\r\n").unwrap();
        assert_eq!(read_messages(&csv).unwrap()[0].text, "안녕");
        let urls = dir.path().join("u.csv");
        std::fs::write(&urls, "\u{feff}url,status\r\nhttps://a.example/x,phishing\r\n").unwrap();
        assert_eq!(labelled_urls(&urls).unwrap(), vec![("https://a.example/x".to_string(), true)]);
    }

    #[test]
    fn rows_of_one_source_or_one_text_share_a_group() {
        let row = |t: &str, s: Option<&str>| MessageRow {
            text: t.into(),
            source: s.map(str::to_string),
            ..MessageRow::default()
        };
        let rows = vec![
            row("가", Some("u1")),
            row("나", Some("u1")),
            row("다", Some("u2")),
            row("가 ", Some("u3")),
            row("라", None),
        ];
        let g = groups(&rows, Some("source")).unwrap();
        assert_eq!(g[0], g[1]);
        assert_eq!(g[0], g[3], "the same text from another source");
        assert_ne!(g[0], g[2]);
        assert_ne!(g[2], g[4]);
        let g = groups(&rows, None).unwrap();
        assert_ne!(g[0], g[1]);
        assert!(groups(&rows, Some("nope")).is_err());
    }

    #[test]
    fn csv_handles_quotes_commas_and_crlf() {
        let rows = csv_rows("Q,A,label\r\n\"a, b\",\"say \"\"hi\"\"\",0\r\nplain,x,1\n");
        assert_eq!(rows, vec![vec!["Q", "A", "label"], vec!["a, b", "say \"hi\"", "0"], vec!["plain", "x", "1"]]);
    }
}
