//! The live page at `/`: decisions per second over the last 10 seconds, the verdict mix, and
//! the latest held and blocked events with their reasons in Korean and English. Server-rendered
//! HTML that refreshes itself every 2 seconds; no script. Every value from an event or a
//! ruleset is HTML-escaped.
//!
//! [`Live`] is fed by every decision this process makes (HTTP requests and the demo's traffic
//! generator), so the page shows what this process did since it started.

use app::{Decided, Metrics};
use domain::{Event, Krw, Timestamp, Verdict};
use std::collections::VecDeque;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

/// Held or blocked events kept for the page.
const RECENT: usize = 20;
/// Seconds the rate is averaged over.
const RATE_WINDOW: u64 = 10;

/// What the page shows of one event; taken before the event is handed to the app.
#[derive(Debug, Clone)]
pub struct Seen {
    affiliate: String,
    kind: &'static str,
    amount: Option<Krw>,
    at: Timestamp,
}

impl Seen {
    /// The parts of `e` the page shows.
    pub fn of(e: &Event) -> Seen {
        Seen { affiliate: e.affiliate.to_string(), kind: e.kind().as_str(), amount: e.amount(), at: e.at }
    }
}

struct Recent {
    seen: Seen,
    decision_id: String,
    verdict: Verdict,
    score: u8,
    /// (rule, ko, en) of the rules that raised the verdict.
    reasons: Vec<(String, String, String)>,
}

struct Inner {
    /// Decisions per second, as (second since start, count), one slot per second of a ring.
    seconds: [(u64, u64); RATE_WINDOW as usize + 2],
    recent: VecDeque<Recent>,
}

/// Recent activity of this process.
pub struct Live {
    started: Instant,
    inner: Mutex<Inner>,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            started: Instant::now(),
            inner: Mutex::new(Inner { seconds: [(u64::MAX, 0); RATE_WINDOW as usize + 2], recent: VecDeque::new() }),
        }
    }
}

impl Live {
    fn now_sec(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// Records a decision (a repeated event id is not a new decision and is not counted).
    pub fn record(&self, seen: Seen, d: &Decided) {
        if d.duplicate {
            return;
        }
        let sec = self.now_sec();
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let n = g.seconds.len();
        let slot = &mut g.seconds[(sec % n as u64) as usize];
        if slot.0 != sec {
            *slot = (sec, 0);
        }
        slot.1 += 1;
        if d.decision.verdict >= Verdict::Hold {
            if g.recent.len() == RECENT {
                g.recent.pop_back();
            }
            let reasons = d
                .decision
                .reasons
                .iter()
                .filter(|r| r.verdict != Verdict::Allow || r.score > 0)
                .map(|r| (r.rule.to_string(), r.ko.to_string(), r.en.to_string()))
                .collect();
            g.recent.push_front(Recent {
                seen,
                decision_id: d.decision_id.clone(),
                verdict: d.decision.verdict,
                score: d.decision.score,
                reasons,
            });
        }
    }

    /// Decisions per second over the last [`RATE_WINDOW`] seconds (the current second
    /// included, so a fresh burst shows at once).
    pub fn rate(&self) -> f64 {
        let now = self.now_sec();
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let total: u64 = g
            .seconds
            .iter()
            .filter(|(s, _)| *s != u64::MAX && *s <= now && now - *s < RATE_WINDOW)
            .map(|(_, n)| n)
            .sum();
        let span = (now + 1).min(RATE_WINDOW);
        total as f64 / span as f64
    }

    /// The page.
    pub fn render(&self, metrics: &Metrics) -> String {
        let rate = self.rate();
        let counts = metrics.verdict_counts();
        let total: u64 = counts.iter().map(|(_, n)| n).sum();
        let mut h = String::with_capacity(16 * 1024);
        h.push_str(concat!(
            "<!doctype html>\n<html lang=\"ko\"><head><meta charset=\"utf-8\">",
            "<meta http-equiv=\"refresh\" content=\"2\"><title>ansim 안심 — live</title><style>",
            "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}",
            "table{border-collapse:collapse;margin:1rem 0}td,th{padding:.3rem .6rem;border-bottom:1px solid #ddd;",
            "text-align:left;vertical-align:top}.n{text-align:right;font-variant-numeric:tabular-nums}",
            ".allow{color:#2a7}.warn{color:#b80}.hold{color:#d60}.block{color:#c22;font-weight:bold}",
            ".big{font-size:2rem;font-weight:bold}.en{color:#666}.bar{display:inline-block;height:.8rem;background:#9ab}",
            "</style></head><body>\n<h1>ansim 안심 — live decisions</h1>\n"
        ));
        let _ = writeln!(
            h,
            "<p><span class=\"big\" id=\"rate\">{rate:.1}</span> decisions/s (last {RATE_WINDOW} s) · \
             <span id=\"total\">{total}</span> decisions · {} repeated ids</p>",
            metrics.duplicates.load(Relaxed)
        );
        let _ = writeln!(
            h,
            "<p id=\"cases\">Reports filed <b>{}</b> · cases opened <b>{}</b> · confirmed <b>{}</b> · \
             follow-up actions delivered <b>{}</b> (dead letters {}) · <a href=\"/report\">report channel</a></p>",
            metrics.reports_filed.load(Relaxed),
            metrics.cases_opened.load(Relaxed),
            metrics.cases_confirmed.load(Relaxed),
            metrics.actions_delivered.load(Relaxed),
            metrics.actions_dead.load(Relaxed)
        );
        h.push_str("<h2>Verdict mix</h2>\n<table id=\"verdicts\"><tr><th>verdict</th><th class=\"n\">decisions</th><th class=\"n\">share</th><th></th></tr>\n");
        for (v, n) in counts {
            let pct = if total == 0 { 0.0 } else { n as f64 * 100.0 / total as f64 };
            let _ = writeln!(
                h,
                "<tr><td class=\"{v}\">{v}</td><td class=\"n\">{n}</td><td class=\"n\">{pct:.1}%</td>\
                 <td><span class=\"bar\" style=\"width:{:.0}px\"></span></td></tr>",
                pct * 3.0
            );
        }
        h.push_str("</table>\n<h2>Latest held and blocked</h2>\n");
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if g.recent.is_empty() {
            h.push_str("<p>None yet.</p>\n");
        } else {
            h.push_str(
                "<table id=\"recent\"><tr><th>time (KST)</th><th>affiliate</th><th>kind</th><th class=\"n\">amount</th>\
                 <th>verdict</th><th class=\"n\">score</th><th>reasons</th></tr>\n",
            );
            for r in &g.recent {
                let time = r.seen.at.to_kst_rfc3339();
                let time = time.get(11..19).unwrap_or(&time);
                let amount = r.seen.amount.map_or(String::new(), |a| a.to_string());
                let _ = write!(
                    h,
                    "<tr title=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"{v}\">{v}</td>\
                     <td class=\"n\">{}</td><td>",
                    escape(&r.decision_id),
                    escape(time),
                    escape(&r.seen.affiliate),
                    escape(r.seen.kind),
                    escape(&amount),
                    r.score,
                    v = r.verdict,
                );
                for (rule, ko, en) in &r.reasons {
                    let _ = write!(
                        h,
                        "<div title=\"{}\">{}<br><span class=\"en\">{}</span></div>",
                        escape(rule),
                        escape(ko),
                        escape(en)
                    );
                }
                h.push_str("</td></tr>\n");
            }
            h.push_str("</table>\n");
        }
        h.push_str(
            "<p><a href=\"/yearly\">yearly report</a> · <a href=\"/metrics\">metrics</a> · <a href=\"/openapi.json\">OpenAPI</a></p>\n</body></html>\n",
        );
        h
    }
}

pub use crate::html::escape;
