//! Console pages for the affiliate's rules: the editor (the draft, checked on save and, with
//! script, as you type; each problem shown at its line and column under the offending line),
//! the backtest of the draft against stored events (verdict changes and the rules behind them),
//! publish, roll back, and the history with each version's diff against the one before.

use super::page::{Lang, esc, num, t, table, when};
use super::{Authed, ConsoleError, Failure, Form, Result, authed, invalid, posted, run};
use crate::extract::S;
use app::access::{Action, authorize};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use rules::Diagnostic;
use std::collections::HashMap;
use std::fmt::Write;

/// Line and column (from 1) of a diagnostic.
fn line_col(source: &str, d: &Diagnostic) -> (usize, usize) {
    d.line_col.unwrap_or_else(|| rules::diag::line_col(source, d.span.start))
}

/// The diagnostics as HTML: each with its place, the offending line and a caret under the
/// column.
fn diagnostics_html(lang: Lang, source: &str, diags: &[Diagnostic]) -> String {
    let mut s = String::from("<div id=\"diagnostics\" role=\"status\" aria-live=\"polite\">");
    if diags.is_empty() {
        let _ = write!(s, "<p class=\"ok\">{}</p>", t(lang, "문제가 없습니다.", "No problems."));
    } else {
        s.push_str("<ul class=\"diagnostics\">");
        for d in diags {
            let (line, col) = line_col(source, d);
            let text = source.lines().nth(line.saturating_sub(1)).unwrap_or("");
            let caret = format!("{}^", " ".repeat(col.saturating_sub(1)));
            let _ = write!(
                s,
                "<li class=\"diagnostic\" data-line=\"{line}\" data-column=\"{col}\"><strong>{} {line}, {} {col}</strong> <code>{}</code> {}{}<pre>{}\n{}</pre></li>",
                t(lang, "줄", "line"),
                t(lang, "열", "column"),
                esc(d.code),
                esc(&d.message),
                d.suggestion.as_ref().map(|x| format!(" — {}", esc(x))).unwrap_or_default(),
                esc(text),
                esc(&caret),
            );
        }
        s.push_str("</ul>");
    }
    s.push_str("</div>");
    s
}

/// A line diff of `old` → `new` (longest common subsequence), as `(sign, line)`.
pub fn diff(old: &str, new: &str) -> Vec<(char, String)> {
    let (a, b): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    let (n, m) = (a.len(), b.len());
    // Rulesets are a few hundred lines; the table is small.
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            out.push((' ', a[i].to_string()));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            // Removed lines before added ones, as diffs are read.
            out.push(('-', a[i].to_string()));
            i += 1;
        } else {
            out.push(('+', b[j].to_string()));
            j += 1;
        }
    }
    out
}

fn diff_html(old: &str, new: &str) -> String {
    let mut s = String::from("<pre class=\"diff\">");
    for (sign, line) in diff(old, new) {
        let class = match sign {
            '+' => "add",
            '-' => "del",
            _ => "same",
        };
        let _ = writeln!(s, "<span class=\"{class}\">{sign} {}</span>", esc(&line));
    }
    s.push_str("</pre>");
    s
}

fn may(me: &Authed, action: Action) -> Result<()> {
    authorize(&me.principal(), action).map_err(|e| Failure(ConsoleError::App(e), me.lang))
}

/// `GET /console/rules[?diff=N]`.
pub async fn page(
    State(s): State<S>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response> {
    let me = authed(&s, &headers, "/console/rules").await?;
    may(&me, Action::ReadRules)?;
    render(&s, &me, q.get("diff").and_then(|v| v.parse().ok()), None, None).await
}

/// The rules page, with the draft text and its diagnostics, or a backtest, when given.
async fn render(
    s: &S,
    me: &Authed,
    diff_of: Option<i64>,
    checked: Option<(String, Vec<Diagnostic>)>,
    backtest: Option<String>,
) -> Result<Response> {
    let lang = me.lang;
    let a = me.session.person.affiliate.clone();
    let (active, history, draft) =
        run(s, lang, move |app| Ok((app.active_ruleset(&a).ok(), app.ruleset_history(&a)?, app.draft(&a)?))).await?;
    let may_edit = authorize(&me.principal(), Action::EditRules).is_ok();
    let mut page = me.page(("규칙", "Rules"), "rules");
    let csrf = page.csrf_field();
    let _ = write!(
        page.body(),
        "<h1>{} · {}</h1><p>{}: <strong id=\"active-label\">{}</strong></p>",
        t(lang, "규칙", "Rules"),
        esc(me.session.person.affiliate.as_str()),
        t(lang, "사용 중인 버전", "Active version"),
        esc(active.as_ref().map(|r| r.label.as_str()).unwrap_or("—")),
    );
    let (source, diags) = match checked {
        Some((src, d)) => (src, Some(d)),
        None => (draft.or_else(|| active.as_ref().map(|r| r.source.clone())).unwrap_or_default(), None),
    };
    if may_edit {
        let _ = write!(
            page.body(),
            "<section aria-labelledby=\"editor\"><h2 id=\"editor\">{}</h2><form method=\"post\" action=\"/console/rules/draft\" id=\"rules-form\">{}\
             <label for=\"source\">{}</label><textarea id=\"source\" name=\"source\" rows=\"24\" spellcheck=\"false\" data-check=\"/console/rules/check\">{}</textarea>\
             <div class=\"buttons\"><button type=\"submit\">{}</button> <button type=\"submit\" formaction=\"/console/rules/backtest\">{}</button> \
             <button type=\"submit\" formaction=\"/console/rules/publish\" data-confirm=\"{}\">{}</button></div></form>",
            t(lang, "초안 편집", "Edit the draft"),
            csrf,
            t(lang, "규칙 파일 (TOML)", "Ruleset (TOML)"),
            esc(&source),
            t(lang, "초안 저장·검사", "Save and check the draft"),
            t(lang, "백테스트", "Backtest"),
            t(lang, "이 초안을 게시할까요?", "Publish this draft?"),
            t(lang, "게시", "Publish"),
        );
        page.push(&diagnostics_html(lang, &source, diags.as_deref().unwrap_or(&[])));
        page.push("</section>");
    }
    if let Some(b) = backtest {
        page.push(&b);
    }
    // Shadow rules are evaluated on every decision and never act: what they would have done.
    let mine = me.session.person.affiliate.as_str();
    let shadow: Vec<Vec<String>> = s
        .app
        .metrics()
        .shadow_hits()
        .into_iter()
        .filter(|((a, _), _)| a == mine)
        .map(|((_, rule), n)| vec![format!("<code>{}</code>", esc(&rule)), num(n as i64)])
        .collect();
    page.push(&table(
        t(
            lang,
            "섀도 규칙 결과 (이 서버 시작 이후, 실제 판정에는 반영 안 됨)",
            "Shadow rules: would-be hits since this server started (never acted on)",
        ),
        &[t(lang, "규칙", "Rule"), t(lang, "맞았을 결정", "Would have matched")],
        &shadow,
    ));
    let rows: Vec<Vec<String>> = history
        .iter()
        .map(|r| {
            let mut actions = format!("<a href=\"/console/rules?diff={0}#diff\">{1}</a>", r.version, t(lang, "변경 보기", "diff"));
            if may_edit && !r.active {
                let _ = write!(
                    actions,
                    " <form method=\"post\" action=\"/console/rules/rollback\" class=\"inline\">{}<input type=\"hidden\" name=\"version\" value=\"{}\">\
                     <button type=\"submit\" data-confirm=\"{}\">{}</button></form>",
                    csrf,
                    r.version,
                    t(lang, "이 버전으로 되돌릴까요?", "Roll back to this version?"),
                    t(lang, "되돌리기", "Roll back")
                );
            }
            vec![
                esc(&r.label),
                if r.active { t(lang, "사용 중", "active").into() } else { String::new() },
                num(r.rules as i64),
                esc(&when(r.published_ms)),
                actions,
            ]
        })
        .collect();
    page.push(&table(
        t(lang, "게시 이력", "History"),
        &[
            t(lang, "버전", "Version"),
            t(lang, "상태", "State"),
            t(lang, "규칙 수", "Rules"),
            t(lang, "게시", "Published"),
            "",
        ],
        &rows,
    ));
    if let Some(v) = diff_of
        && let Some(cur) = history.iter().find(|r| r.version == v)
    {
        let prev = history.iter().filter(|r| r.version < v).max_by_key(|r| r.version);
        let _ = write!(
            page.body(),
            "<section id=\"diff\" aria-labelledby=\"diff-h\"><h2 id=\"diff-h\">{} → {}</h2>{}</section>",
            esc(prev.map(|p| p.label.as_str()).unwrap_or("—")),
            esc(&cur.label),
            diff_html(prev.map(|p| p.source.as_str()).unwrap_or(""), &cur.source)
        );
    }
    Ok(page.finish())
}

fn source_of(form: &Form, lang: Lang) -> Result<String> {
    let src = form.get("source").unwrap_or_default().replace("\r\n", "\n");
    if src.len() > 512 * 1024 {
        return Err(invalid(lang, "source", "at most 512 KiB"));
    }
    Ok(src)
}

/// `POST /console/rules/check`: the draft's diagnostics as JSON (the editor's script).
pub async fn check(State(s): State<S>, headers: HeaderMap, body: axum::body::Bytes) -> Result<Response> {
    let (me, form) = posted(&s, &headers, "/console/rules", &body).await?;
    may(&me, Action::ReadRules)?;
    let src = source_of(&form, me.lang)?;
    let s2 = src.clone();
    let diags = run(&s, me.lang, move |app| Ok(app.validate(&s2))).await?;
    let list: Vec<serde_json::Value> = diags
        .iter()
        .map(|d| {
            let (line, column) = line_col(&src, d);
            serde_json::json!({"code": d.code, "message": d.message, "line": line, "column": column,
                "suggestion": d.suggestion, "text": src.lines().nth(line.saturating_sub(1)).unwrap_or("")})
        })
        .collect();
    Ok((
        [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")],
        serde_json::Value::from(list).to_string(),
    )
        .into_response())
}

/// `POST /console/rules/draft`: save the draft and show its diagnostics.
pub async fn save(State(s): State<S>, headers: HeaderMap, body: axum::body::Bytes) -> Result<Response> {
    let (me, form) = posted(&s, &headers, "/console/rules", &body).await?;
    may(&me, Action::EditRules)?;
    let src = source_of(&form, me.lang)?;
    let (p, s2) = (me.principal(), src.clone());
    let diags = run(&s, me.lang, move |app| {
        app.put_draft(&p.affiliate, &s2)?;
        app.audit(&p, "ruleset.draft", serde_json::json!({"bytes": s2.len()}).to_string())?;
        Ok(app.validate(&s2))
    })
    .await?;
    render(&s, &me, None, Some((src, diags)), None).await
}

/// `POST /console/rules/backtest`: save the draft and replay stored events through it.
pub async fn backtest(State(s): State<S>, headers: HeaderMap, body: axum::body::Bytes) -> Result<Response> {
    let (me, form) = posted(&s, &headers, "/console/rules", &body).await?;
    let lang = me.lang;
    may(&me, Action::EditRules)?;
    let src = source_of(&form, lang)?;
    let (p, s2) = (me.principal(), src.clone());
    let (diags, report) = run(&s, lang, move |app| {
        app.put_draft(&p.affiliate, &s2)?;
        let diags = app.validate(&s2);
        if !diags.is_empty() {
            return Ok((diags, None));
        }
        Ok((diags, Some(app.backtest_draft(&p.affiliate, 50_000)?)))
    })
    .await?;
    let html = report.map(|r| {
        let mut h = format!(
            "<section id=\"backtest\" aria-labelledby=\"bt\"><h2 id=\"bt\">{}</h2><p>{} {} · {} <strong id=\"newly-stopped\">{}</strong> · {} <strong id=\"newly-allowed\">{}</strong></p>",
            t(lang, "백테스트 결과 (저장된 최근 이벤트)", "Backtest (the latest stored events)"),
            num(r.events as i64),
            t(lang, "건 재생", "events replayed"),
            t(lang, "새로 멈춤", "newly stopped"),
            num(r.newly_stopped as i64),
            t(lang, "새로 허용", "newly allowed"),
            num(r.newly_allowed as i64),
        );
        let rows: Vec<Vec<String>> = r
            .transitions
            .iter()
            .filter(|((a, b), _)| a != b)
            .map(|((a, b), n)| vec![esc(a.as_str()), esc(b.as_str()), num(*n as i64)])
            .collect();
        h.push_str(&table(
            t(lang, "판정 변화 (사용 중 → 초안)", "Verdict changes (active → draft)"),
            &[t(lang, "사용 중", "Active"), t(lang, "초안", "Draft"), t(lang, "건수", "Events")],
            &rows,
        ));
        let rows: Vec<Vec<String>> =
            r.by_rule.iter().map(|((rule, change), n)| vec![esc(rule), esc(change), num(*n as i64)]).collect();
        h.push_str(&table(
            t(lang, "규칙별 변화", "Changes by rule"),
            &[t(lang, "규칙", "Rule"), t(lang, "변화", "Change"), t(lang, "건수", "Events")],
            &rows,
        ));
        h.push_str("</section>");
        h
    });
    render(&s, &me, None, Some((src, diags)), html).await
}

/// `POST /console/rules/publish`: publish the submitted draft as the next version.
pub async fn publish(State(s): State<S>, headers: HeaderMap, body: axum::body::Bytes) -> Result<Response> {
    let (me, form) = posted(&s, &headers, "/console/rules", &body).await?;
    may(&me, Action::EditRules)?;
    let src = source_of(&form, me.lang)?;
    let (p, s2) = (me.principal(), src.clone());
    let published = run(&s, me.lang, move |app| {
        app.put_draft(&p.affiliate, &s2)?;
        match app.publish(&p.affiliate, Some(&s2)) {
            Ok(info) => {
                app.audit(&p, "ruleset.published", serde_json::json!({"version": info.version}).to_string())?;
                Ok(Ok(()))
            }
            Err(app::AppError::Rules(d)) => Ok(Err(d)),
            Err(e) => Err(e),
        }
    })
    .await?;
    match published {
        Ok(()) => Ok(Redirect::to("/console/rules").into_response()),
        Err(diags) => {
            let mut res = render(&s, &me, None, Some((src, diags)), None).await?;
            *res.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
            Ok(res)
        }
    }
}

/// `POST /console/rules/rollback`: make an earlier version active again.
pub async fn rollback(State(s): State<S>, headers: HeaderMap, body: axum::body::Bytes) -> Result<Response> {
    let (me, form) = posted(&s, &headers, "/console/rules", &body).await?;
    may(&me, Action::EditRules)?;
    let version: i64 = form
        .get("version")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| invalid(me.lang, "version", "a version number"))?;
    let p = me.principal();
    run(&s, me.lang, move |app| {
        app.rollback(&p.affiliate, version)?;
        app.audit(&p, "ruleset.rolled_back", serde_json::json!({"version": version}).to_string())
    })
    .await?;
    Ok(Redirect::to("/console/rules").into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn diff_keeps_common_lines_and_marks_changes() {
        let d = super::diff("a\nb\nc\n", "a\nx\nc\nd\n");
        let signs: String = d.iter().map(|(s, _)| *s).collect();
        assert_eq!(signs, " -+ +");
        assert_eq!(d[2].1, "x");
    }
}
