//! `ansim train` and `ansim eval`: train the message and URL models from labelled files, with
//! stratified cross-validation, write the model artefact, and measure a model (or the built-in
//! one) on a labelled or benign-only file. Every report ends with one JSON line: `n`,
//! `precision`, `recall`, `f1`, `accuracy`, `roc_auc`, `pr_auc`, `false_positive_rate`.

use detect::linear::{LinearModel, ModelKind, TrainConfig};
use detect::metrics::{Metrics, evaluate, stratified_folds};
use detect::{Analyzer, RISK_THRESHOLD, links, text};
use std::path::Path;

/// What is trained or evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// Messages: a TSV with columns `Label` (`spam`/`ham`) and `SMS`.
    Messages,
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

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// `(text, is_positive)` rows of a labelled file, with the line number of any bad row.
pub fn labelled(kind: Kind, path: &Path) -> Result<Vec<(String, bool)>, String> {
    let text = read(path)?;
    let name = path.display();
    match kind {
        Kind::Messages => {
            let mut lines = text.lines();
            let header = lines.next().unwrap_or_default();
            if header.trim_end() != "Label\tSMS" {
                return Err(format!("{name}: the first line must be the header `Label<TAB>SMS`, got {header:?}"));
            }
            let mut out = Vec::new();
            for (i, line) in lines.enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let (label, sms) =
                    line.split_once('\t').ok_or_else(|| format!("{name}:{}: no TAB between label and text", i + 2))?;
                let y = match label {
                    "spam" => true,
                    "ham" => false,
                    other => return Err(format!("{name}:{}: label must be spam or ham, got {other:?}", i + 2)),
                };
                out.push((sms.to_string(), y));
            }
            Ok(out)
        }
        Kind::Urls => {
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
        Kind::Benign => Err("benign files have no labels; use `ansim eval benign --column NAME`".into()),
        Kind::Transactions => Err("transactions are read by `ansim train transactions`".into()),
    }
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

fn train_one(kind: Kind, rows: &[(String, bool)]) -> LinearModel {
    match kind {
        Kind::Urls => links::train(rows, &TrainConfig::default()),
        _ => text::train(rows, &text::train_config()),
    }
}

/// What a model says about one row, on the scale its threshold is on.
fn scorer(kind: Kind, model: &LinearModel) -> impl Fn(&str) -> f64 + '_ {
    move |s: &str| match kind {
        Kind::Urls => links::url_probability(model, s).map_or(0.0, f64::from),
        _ => f64::from(text::probability(model, s)),
    }
}

/// Trains on `input`: `folds`-fold stratified cross-validation first (printed per fold and on
/// average), then one model on every row, written to `out`.
pub fn train(kind: Kind, input: &Path, out: &Path, folds: usize) -> Result<(), String> {
    if kind == Kind::Transactions {
        return crate::transactions::train(input, out, None, 42).map(|_| ());
    }
    if kind == Kind::Benign {
        return Err("only `messages` and `urls` models are trained".into());
    }
    let rows = labelled(kind, input)?;
    let pos = rows.iter().filter(|r| r.1).count();
    if pos == 0 || pos == rows.len() {
        return Err(format!("{}: both classes are needed, got {pos} positive of {}", input.display(), rows.len()));
    }
    println!("{} rows from {} ({pos} positive)", rows.len(), input.display());
    if folds >= 2 {
        let labels: Vec<bool> = rows.iter().map(|r| r.1).collect();
        let fold = stratified_folds(&labels, folds, 42);
        let mut all = Vec::new();
        println!("{:>5} {:>9} {:>9} {:>9} {:>9} {:>9}", "fold", "precision", "recall", "f1", "accuracy", "roc_auc");
        for k in 0..folds {
            let train: Vec<(String, bool)> =
                rows.iter().zip(&fold).filter(|(_, f)| **f != k).map(|(r, _)| r.clone()).collect();
            let m = train_one(kind, &train);
            let score = scorer(kind, &m);
            let scored: Vec<(f64, bool)> =
                rows.iter().zip(&fold).filter(|(_, f)| **f == k).map(|(r, _)| (score(&r.0), r.1)).collect();
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
    let mut m = train_one(kind, &rows);
    m.meta = format!(
        "{}; trained on {} ({} rows)",
        m.meta,
        input.file_name().unwrap_or_default().to_string_lossy(),
        rows.len()
    );
    std::fs::write(out, m.to_bytes()).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    println!("wrote {} ({} model, 2^{} weights, threshold {:.3})", out.display(), m.kind.as_str(), m.bits, m.threshold);
    Ok(())
}

fn pct(x: Option<f64>) -> String {
    x.map_or("-".to_string(), |v| format!("{:.2}%", v * 100.0))
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

/// Evaluates a model (the built-in one without `model`) on `input` and prints a table, then
/// the metrics as one JSON line. Messages are scored by the whole analysis (detectors, text
/// model and links: what a decision sees), flagged at risk 50; URLs by the URL model at its
/// threshold; a benign file by the message analysis, where every flag is a false alarm.
pub fn eval(kind: Kind, model: Option<&Path>, input: &Path, col: Option<&str>) -> Result<Option<Metrics>, String> {
    if kind == Kind::Transactions {
        let m = model.ok_or("transactions need --model MODEL (from `ansim train transactions`)")?;
        return crate::transactions::eval(m, input, None).map(|_| None);
    }
    eval_text(kind, model, input, col).map(Some)
}

fn eval_text(kind: Kind, model: Option<&Path>, input: &Path, col: Option<&str>) -> Result<Metrics, String> {
    let (scored, threshold, what): (Vec<(f64, bool)>, f64, String) = match kind {
        Kind::Urls => {
            let m = load(model, ModelKind::Urls)?;
            let rows = labelled(kind, input)?;
            let score = scorer(kind, &m);
            let scored = rows.iter().map(|(u, y)| (score(u), *y)).collect();
            (scored, f64::from(m.threshold), format!("URL model: {}", m.meta))
        }
        Kind::Messages | Kind::Benign | Kind::Transactions => {
            let m = load(model, ModelKind::Messages)?;
            let meta = m.meta.clone();
            let a = Analyzer::new(m, links::builtin(), links::Brands::builtin()).map_err(|e| e.0)?;
            let rows: Vec<(String, bool)> = if kind == Kind::Benign {
                benign(input, col.unwrap_or("Q"))?.into_iter().map(|t| (t, false)).collect()
            } else {
                labelled(kind, input)?
            };
            let scored = rows.iter().map(|(t, y)| (f64::from(a.message(t, None, &[]).risk) / 100.0, *y)).collect();
            (scored, f64::from(RISK_THRESHOLD) / 100.0, format!("message analysis with model: {meta}"))
        }
    };
    let m = evaluate(&scored, threshold);
    println!("{what}");
    println!("input: {} ({} rows)", input.display(), m.n);
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
    println!("{}", m.to_json());
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_handles_quotes_commas_and_crlf() {
        let rows = csv_rows("Q,A,label\r\n\"a, b\",\"say \"\"hi\"\"\",0\r\nplain,x,1\n");
        assert_eq!(rows, vec![vec!["Q", "A", "label"], vec!["a, b", "say \"hi\"", "0"], vec!["plain", "x", "1"]]);
    }
}
