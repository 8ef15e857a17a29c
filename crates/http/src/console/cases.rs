//! Console pages for the work of the safety table: the dashboard, the case queue (filters,
//! bulk assignment and triage, overdue first), a case (timeline of reports and notes, its
//! indicators with their shields, relief deadlines, follow-up actions and their deliveries, and
//! the change form), the report inbox, indicator lookup (shield, contributions, confirm or
//! clear), self-protection lookup, trends and prevention campaigns.

use super::page::{Lang, bars, esc, num, sparkline, t, table, url_encode, when, won};
use super::{ConsoleError, Failure, Result, authed, invalid, posted, run};
use crate::extract::S;
use app::cases::{CaseBody, Change, ReportForm};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use domain::CaseState;
use std::collections::HashMap;
use std::fmt::Write;

type Params = Query<HashMap<String, String>>;

/// Cases the queue reads (highest priority first) and filters.
const QUEUE_READ: usize = 1_000;
/// Rows the queue shows.
const QUEUE_SHOWN: usize = 200;

/// A state's label.
fn state_label(lang: Lang, s: CaseState) -> &'static str {
    match s {
        CaseState::New => t(lang, "새 사건", "New"),
        CaseState::Triaged => t(lang, "분류됨", "Triaged"),
        CaseState::Investigating => t(lang, "조사 중", "Investigating"),
        CaseState::ActionTaken => t(lang, "조치됨", "Action taken"),
        CaseState::Relief => t(lang, "피해구제", "Relief"),
        CaseState::Closed => t(lang, "종결", "Closed"),
    }
}

fn level_badge(lang: Lang, level: app::registry::Level) -> String {
    let (class, text) = match level {
        app::registry::Level::Safe => ("safe", t(lang, "안전", "safe")),
        app::registry::Level::Caution => ("caution", t(lang, "주의", "caution")),
        app::registry::Level::Danger => ("danger", t(lang, "위험", "danger")),
    };
    format!("<span class=\"badge {class}\" data-level=\"{}\">{text}</span>", level.as_str())
}

/// `GET /console`: the dashboard.
pub async fn dashboard(State(s): State<S>, headers: HeaderMap) -> Result<Response> {
    let me = authed(&s, &headers, "/console").await?;
    let p = me.principal();
    let d = run(&s, me.lang, move |app| app.dashboard(&p, app::now_ms())).await?;
    let lang = me.lang;
    let mut page = me.page(("대시보드", "Dashboard"), "dashboard");
    let who = &me.session.person;
    let (role_ko, role_en) = who.role.labels();
    let _ = write!(
        page.body(),
        "<h1>{}</h1><p class=\"lead\">{} · {} · {}</p>",
        t(lang, "대시보드", "Dashboard"),
        esc(&who.username),
        t(lang, role_ko, role_en),
        esc(who.affiliate.as_str())
    );
    let per_minute = s.live.rate() * 60.0;
    let cases_late = d.alerts.iter().map(|a| a.case_id).collect::<std::collections::HashSet<_>>().len();
    let overdue_text = if cases_late >= app::desk::DASHBOARD_ATTENTION {
        format!("{}+", num(d.alerts.len() as i64))
    } else {
        num(d.alerts.len() as i64)
    };
    let today = d.today;
    let cards = [
        (t(lang, "분당 결정 (최근 10초)", "Decisions per minute (last 10 s)"), num(per_minute.round() as i64)),
        (t(lang, "오늘 결정", "Decisions today"), num(today.decisions)),
        (t(lang, "오늘 경고", "Warned today"), num(today.warned)),
        (t(lang, "오늘 보류", "Held today"), num(today.held)),
        (t(lang, "오늘 차단", "Blocked today"), num(today.blocked)),
        (t(lang, "보류·차단 금액", "Held and blocked amount"), won(lang, today.stopped_amount)),
        (t(lang, "열린 사건", "Open cases"), num(d.open_cases as i64)),
        (t(lang, "기한 초과", "Overdue (SLA)"), overdue_text),
        (t(lang, "전달 실패", "Dead letters"), num(d.dead_letters as i64)),
    ];
    page.push("<section aria-labelledby=\"figures\"><h2 id=\"figures\">");
    page.push(t(lang, "오늘의 수치", "Today"));
    page.push("</h2><dl class=\"cards\">");
    for (k, v) in cards {
        let _ = write!(page.body(), "<div><dt>{k}</dt><dd>{v}</dd></div>");
    }
    page.push("</dl></section>");
    let points: Vec<(String, i64)> = d.days.iter().map(|(day, t)| (app::trends::day_text(*day), t.decisions)).collect();
    page.push(&sparkline(t(lang, "최근 14일 일별 결정", "Decisions per day, last 14 days"), &points));
    let mix = [
        (t(lang, "허용", "Allowed").to_string(), today.decisions - today.warned - today.held - today.blocked),
        (t(lang, "경고", "Warned").to_string(), today.warned),
        (t(lang, "보류", "Held").to_string(), today.held),
        (t(lang, "차단", "Blocked").to_string(), today.blocked),
    ];
    page.push(&bars(t(lang, "오늘의 판정 분포", "Today's verdict mix"), &mix));
    if !d.top_rules.is_empty() {
        page.push(&bars(t(lang, "최근 14일 가장 많이 맞은 규칙", "Most matched rules, last 14 days"), &d.top_rules));
    }
    if !d.alerts.is_empty() {
        let rows: Vec<Vec<String>> = d
            .alerts
            .iter()
            .take(50)
            .map(|a| {
                vec![format!("<a href=\"/console/cases/{0}\">#{0}</a>", a.case_id), esc(&a.what), esc(&when(a.due_ms))]
            })
            .collect();
        page.push(&table(
            t(lang, "기한을 넘긴 사건 작업", "Overdue case work"),
            &[t(lang, "사건", "Case"), t(lang, "할 일", "Step"), t(lang, "기한", "Due")],
            &rows,
        ));
    }
    if !d.waves.is_empty() {
        let rows: Vec<Vec<String>> = d
            .waves
            .iter()
            .map(|w| {
                vec![
                    esc(&w.kind),
                    esc(&w.typology),
                    esc(&app::trends::day_text(w.first_day)),
                    num(w.count),
                    format!("{:.1}", w.peak_z),
                ]
            })
            .collect();
        page.push(&table(
            t(lang, "최근 7일 급증 경보", "Waves in the last 7 days"),
            &[
                t(lang, "종류", "Kind"),
                t(lang, "유형", "Typology"),
                t(lang, "시작", "From"),
                t(lang, "건수", "Count"),
                "z",
            ],
            &rows,
        ));
    }
    Ok(page.finish())
}

/// `GET /console/cases`: the queue, overdue first, then by priority.
pub async fn queue(State(s): State<S>, headers: HeaderMap, Query(q): Params) -> Result<Response> {
    let me = authed(&s, &headers, "/console/cases").await?;
    let lang = me.lang;
    let p = me.principal();
    let now = app::now_ms();
    let (cases, alerts, open) = run(&s, lang, move |app| {
        let (alerts, late) = app.attention(&p, now, QUEUE_SHOWN)?;
        let mut cases = app.case_queue(&p, QUEUE_READ)?;
        // The most overdue come first even when their priority is low.
        let loaded: std::collections::HashSet<i64> = cases.iter().map(|c| c.id).collect();
        cases.extend(late.into_iter().filter(|c| !loaded.contains(&c.id)));
        Ok((cases, alerts, app.open_case_count(&p)?))
    })
    .await?;
    let overdue: std::collections::HashSet<i64> = alerts.iter().map(|a| a.case_id).collect();
    let state = q.get("state").filter(|v| !v.is_empty()).cloned();
    let only_overdue = q.get("overdue").is_some_and(|v| v == "1");
    let mine = q.get("mine").is_some_and(|v| v == "1");
    let me_name = me.principal().actor();
    let mut shown: Vec<&store::CaseRow> = cases
        .iter()
        .filter(|c| state.as_deref().is_none_or(|st| c.state.as_str() == st))
        .filter(|c| !only_overdue || overdue.contains(&c.id))
        .filter(|c| !mine || c.assignee.as_deref() == Some(me_name.as_str()))
        .collect();
    // Overdue first, then the store's order (priority, then oldest).
    shown.sort_by_key(|c| !overdue.contains(&c.id));
    let matching = shown.len();
    shown.truncate(QUEUE_SHOWN);
    let mut page = me.page(("사건 대기열", "Case queue"), "cases");
    let csrf = page.csrf_field();
    let _ = write!(page.body(), "<h1>{}</h1>", t(lang, "사건 대기열", "Case queue"));
    // Filters (GET: bookmarkable, no token needed).
    let _ = write!(
        page.body(),
        "<form method=\"get\" action=\"/console/cases\" class=\"filters\"><label for=\"f-state\">{}</label><select id=\"f-state\" name=\"state\"><option value=\"\">{}</option>",
        t(lang, "상태", "State"),
        t(lang, "모두", "All")
    );
    for st in CaseState::ALL.into_iter().filter(|s| s.is_open()) {
        let sel = if state.as_deref() == Some(st.as_str()) { " selected" } else { "" };
        let _ = write!(page.body(), "<option value=\"{}\"{sel}>{}</option>", st.as_str(), state_label(lang, st));
    }
    let _ = write!(
        page.body(),
        "</select><input type=\"checkbox\" id=\"f-overdue\" name=\"overdue\" value=\"1\"{}><label for=\"f-overdue\">{}</label>\
         <input type=\"checkbox\" id=\"f-mine\" name=\"mine\" value=\"1\"{}><label for=\"f-mine\">{}</label><button type=\"submit\">{}</button></form>",
        if only_overdue { " checked" } else { "" },
        t(lang, "기한 초과만", "Overdue only"),
        if mine { " checked" } else { "" },
        t(lang, "내 사건만", "Mine only"),
        t(lang, "거르기", "Filter"),
    );
    let _ = write!(page.body(), "<form method=\"post\" action=\"/console/cases/bulk\">{}", csrf);
    let rows: Vec<Vec<String>> = shown
        .iter()
        .map(|c| {
            let late = if overdue.contains(&c.id) {
                format!("<span class=\"badge danger\">{}</span>", t(lang, "기한 초과", "overdue"))
            } else {
                String::new()
            };
            vec![
                format!(
                    "<input type=\"checkbox\" name=\"case\" value=\"{0}\" id=\"sel-{0}\" aria-label=\"{1} #{0}\">",
                    c.id,
                    t(lang, "선택", "Select")
                ),
                format!("<a href=\"/console/cases/{0}\" class=\"case-link\">#{0}</a> {late}", c.id),
                num(c.priority),
                state_label(lang, c.state).to_string(),
                esc(c.typology.as_deref().unwrap_or("")),
                won(lang, c.money_at_risk),
                esc(&c.reporting.join(", ")),
                esc(c.assignee.as_deref().unwrap_or("")),
                esc(&when(c.sla_due_ms)),
                esc(&when(c.opened_ms)),
            ]
        })
        .collect();
    let caption = match lang {
        Lang::Ko => format!(
            "열린 사건 {}건 중 우선순위 상위 {}건에서 {}건 표시",
            num(open),
            num(cases.len() as i64),
            num(rows.len() as i64)
        ),
        Lang::En => format!(
            "{} shown of {} matching among the top {} of {} open cases",
            num(rows.len() as i64),
            num(matching as i64),
            num(cases.len() as i64),
            num(open)
        ),
    };
    page.push(&table(
        &caption,
        &[
            t(lang, "선택", "Select"),
            t(lang, "사건", "Case"),
            t(lang, "우선순위", "Priority"),
            t(lang, "상태", "State"),
            t(lang, "유형", "Typology"),
            t(lang, "위험 금액", "At risk"),
            t(lang, "신고자", "Reported by"),
            t(lang, "담당", "Assignee"),
            t(lang, "첫 조치 기한", "First action due"),
            t(lang, "접수", "Opened"),
        ],
        &rows,
    ));
    let _ = write!(
        page.body(),
        "<fieldset><legend>{}</legend><button type=\"submit\" name=\"do\" value=\"assign\">{}</button> \
         <button type=\"submit\" name=\"do\" value=\"triage\">{}</button></fieldset></form>",
        t(lang, "선택한 사건에", "For the selected cases"),
        t(lang, "나에게 배정", "Assign to me"),
        t(lang, "분류됨으로 표시", "Mark triaged"),
    );
    Ok(page.finish())
}

/// `POST /console/cases/bulk`: assign the selected cases to me, or mark them triaged.
pub async fn bulk(State(s): State<S>, headers: HeaderMap, body: axum::body::Bytes) -> Result<Response> {
    let (me, form) = posted(&s, &headers, "/console/cases", &body).await?;
    let ids: Vec<i64> = form.all("case").iter().filter_map(|v| v.parse().ok()).collect();
    let change = match form.get("do") {
        Some("assign") => Change { assignee: Some(me.principal().actor()), ..Change::default() },
        Some("triage") => Change { state: Some("triaged".into()), ..Change::default() },
        _ => return Err(invalid(me.lang, "do", "assign or triage")),
    };
    let p = me.principal();
    run(&s, me.lang, move |app| {
        for id in ids {
            match app.change_case(&p, id, change.clone()) {
                // A case already past triage stays where it is; the others still change.
                Ok(_) | Err(app::AppError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    })
    .await?;
    Ok(Redirect::to("/console/cases").into_response())
}

/// `GET /console/cases/{id}`: one case.
pub async fn detail(State(s): State<S>, headers: HeaderMap, Path(id): Path<String>) -> Result<Response> {
    let here = format!("/console/cases/{}", url_encode(&id));
    let me = authed(&s, &headers, &here).await?;
    let lang = me.lang;
    let id: i64 = id.parse().map_err(|_| {
        Failure(
            ConsoleError::App(app::AppError::NotFound(format!("case {}", id.chars().take(20).collect::<String>()))),
            lang,
        )
    })?;
    let p = me.principal();
    let (case, body, reports, actions, shields) = run(&s, lang, move |app| {
        let (case, reports) = app.case_detail(&p, id)?;
        let actions = app.case_actions(&p, id)?;
        let body = CaseBody::parse(id, &case.body)?;
        let shields: Vec<_> = body
            .indicators
            .iter()
            .map(|i| {
                let agg = indicators::IndicatorKind::parse(&i.kind).and_then(|k| app.shield(k, &i.value).ok());
                (i.clone(), agg)
            })
            .collect();
        Ok((case, body, reports, actions, shields))
    })
    .await?;
    let mut page = me.page(("사건", "Case"), "cases");
    let csrf = page.csrf_field();
    let _ = write!(
        page.body(),
        "<h1>{} #{id}</h1><dl class=\"facts\"><div><dt>{}</dt><dd id=\"case-state\">{}</dd></div><div><dt>{}</dt><dd id=\"case-outcome\">{}</dd></div>\
         <div><dt>{}</dt><dd>{}</dd></div><div><dt>{}</dt><dd>{}</dd></div><div><dt>{}</dt><dd>{}</dd></div><div><dt>{}</dt><dd>{}</dd></div>\
         <div><dt>{}</dt><dd>{}</dd></div></dl>",
        t(lang, "사건", "Case"),
        t(lang, "상태", "State"),
        state_label(lang, case.state),
        t(lang, "결과", "Outcome"),
        case.outcome.map(|o| o.as_str()).unwrap_or("—"),
        t(lang, "우선순위", "Priority"),
        num(case.priority),
        t(lang, "위험 금액", "At risk"),
        won(lang, case.money_at_risk),
        t(lang, "담당", "Assignee"),
        esc(case.assignee.as_deref().unwrap_or("—")),
        t(lang, "첫 조치 기한", "First action due"),
        esc(&when(case.sla_due_ms)),
        t(lang, "조치 받은 계열사", "Affiliates holding"),
        esc(&case.holding.join(", ")),
    );
    // The change form first: it is what the analyst came for.
    if case.state.is_open() {
        let _ = write!(
            page.body(),
            "<section aria-labelledby=\"work\"><h2 id=\"work\">{}</h2>{confirm}\
             <form method=\"post\" action=\"/console/cases/{id}\">{csrf}<label for=\"c-state\">{}</label><select id=\"c-state\" name=\"state\"><option value=\"\">—</option>",
            t(lang, "사건 처리", "Work the case"),
            t(lang, "다음 상태", "Next state"),
            csrf = csrf,
            // Confirming is once: a confirmed case offers the rest of the work only.
            confirm = if case.outcome == Some(domain::CaseOutcome::ConfirmedFraud) {
                String::new()
            } else {
                format!(
                    "<form method=\"post\" action=\"/console/cases/{id}\" class=\"inline-form\">{csrf}<input type=\"hidden\" name=\"outcome\" value=\"confirmed_fraud\">\
                     <button type=\"submit\" id=\"confirm-fraud\" data-confirm=\"{}\">{}</button></form>",
                    t(
                        lang,
                        "사기로 확정하고 모든 계열사에 후속 조치를 보낼까요?",
                        "Confirm fraud and send follow-up actions to every affiliate?"
                    ),
                    t(lang, "사기 확정", "Confirm fraud"),
                )
            },
        );
        for st in CaseState::ALL.into_iter().filter(|st| case.state.can_move_to(*st)) {
            let _ = write!(page.body(), "<option value=\"{}\">{}</option>", st.as_str(), state_label(lang, st));
        }
        let _ = write!(
            page.body(),
            "</select><label for=\"c-outcome\">{}</label><select id=\"c-outcome\" name=\"outcome\"><option value=\"\">—</option>\
             <option value=\"confirmed_fraud\">{}</option><option value=\"not_fraud\">{}</option><option value=\"duplicate\">{}</option></select>\
             <label for=\"c-assignee\">{}</label><input id=\"c-assignee\" name=\"assignee\" maxlength=\"64\">\
             <label for=\"c-note\">{}</label><textarea id=\"c-note\" name=\"note\" rows=\"3\" maxlength=\"4000\"></textarea>\
             <button type=\"submit\">{}</button></form></section>",
            t(lang, "결과", "Outcome"),
            t(lang, "사기 확정", "Confirmed fraud"),
            t(lang, "사기 아님", "Not fraud"),
            t(lang, "중복", "Duplicate"),
            t(lang, "담당자", "Assignee"),
            t(lang, "메모", "Note"),
            t(lang, "저장", "Save"),
        );
    }
    // Indicators with their shields.
    let rows: Vec<Vec<String>> = shields
        .iter()
        .map(|(i, agg)| {
            let link = format!(
                "<a href=\"/console/indicators?kind={}&amp;value={}\">{}</a>",
                url_encode(&i.kind),
                url_encode(&i.value),
                esc(&i.value)
            );
            let shield = agg.as_ref().map(|a| level_badge(lang, a.level)).unwrap_or_default();
            let reports = agg.as_ref().map(|a| num(a.reports)).unwrap_or_default();
            vec![esc(&i.kind), link, shield, reports]
        })
        .collect();
    page.push(&table(
        t(lang, "지표와 방패", "Indicators and shields"),
        &[t(lang, "종류", "Kind"), t(lang, "값", "Value"), t(lang, "방패", "Shield"), t(lang, "신고", "Reports")],
        &rows,
    ));
    // Timeline: reports and notes, oldest first.
    let mut timeline: Vec<(i64, String)> = Vec::new();
    for r in &reports {
        let form: Option<ReportForm> = serde_json::from_str(&r.body).ok();
        let text = form.as_ref().map(|f| f.description.clone()).unwrap_or_default();
        let amount = form.as_ref().and_then(|f| f.amount).map(|a| won(lang, a.won())).unwrap_or_default();
        timeline.push((
            r.created_ms,
            format!(
                "<strong>{} {}</strong> · {} · {} {amount}<br>{}",
                t(lang, "신고", "Report"),
                esc(&r.receipt),
                esc(&r.source),
                esc(&r.kind),
                esc(&text)
            ),
        ));
    }
    for n in &body.notes {
        timeline.push((
            n.at_ms,
            format!("<strong>{}</strong> · {}<br>{}", t(lang, "메모", "Note"), esc(&n.author), esc(&n.text)),
        ));
    }
    timeline.sort_by_key(|(at, _)| *at);
    let _ = write!(
        page.body(),
        "<section aria-labelledby=\"timeline\"><h2 id=\"timeline\">{}</h2><ol class=\"timeline\">",
        t(lang, "경과", "Timeline")
    );
    for (at, html) in &timeline {
        let _ = write!(page.body(), "<li><time>{}</time> {html}</li>", esc(&when(*at)));
    }
    page.push("</ol></section>");
    // Relief deadlines.
    if let Some(r) = &body.relief {
        let rows: Vec<Vec<String>> = match r.deadlines(app::relief::Calendar::korea()) {
            Ok(list) => list.iter().map(|d| vec![esc(d.step.as_str()), esc(&when(d.due_ms))]).collect(),
            Err(e) => vec![vec![esc(&e.to_string()), String::new()]],
        };
        page.push(&table(
            t(lang, "피해구제 남은 단계와 기한", "Relief steps still open, with deadlines"),
            &[t(lang, "단계", "Step"), t(lang, "기한", "Due")],
            &rows,
        ));
    }
    // Follow-up actions and their deliveries.
    let rows: Vec<Vec<String>> = actions
        .iter()
        .map(|a| {
            let state = if a.delivered_ms.is_some() {
                t(lang, "전달됨", "delivered").to_string()
            } else if a.dead_ms.is_some() {
                t(lang, "실패", "dead letter").to_string()
            } else {
                format!("{} ({})", t(lang, "대기", "pending"), a.attempts)
            };
            vec![
                esc(a.affiliate.as_str()),
                esc(&a.kind),
                state,
                esc(&when(a.created_ms)),
                esc(a.last_error.as_deref().unwrap_or("")),
            ]
        })
        .collect();
    let _ = write!(page.body(), "<div id=\"actions\">");
    page.push(&table(
        t(lang, "후속 조치와 전달", "Follow-up actions and deliveries"),
        &[
            t(lang, "계열사", "Affiliate"),
            t(lang, "조치", "Action"),
            t(lang, "전달", "Delivery"),
            t(lang, "생성", "Created"),
            t(lang, "오류", "Error"),
        ],
        &rows,
    ));
    page.push("</div>");
    Ok(page.finish())
}

/// `POST /console/cases/{id}`: change a case.
pub async fn change(
    State(s): State<S>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Result<Response> {
    let (me, form) = posted(&s, &headers, &format!("/console/cases/{id}"), &body).await?;
    let change = Change {
        state: form.text("state").map(str::to_string),
        outcome: form.text("outcome").map(str::to_string),
        assignee: form.text("assignee").map(str::to_string),
        note: form.text("note").map(str::to_string),
        relief: None,
    };
    if change == Change::default() {
        return Ok(Redirect::to(&format!("/console/cases/{id}")).into_response());
    }
    let p = me.principal();
    run(&s, me.lang, move |app| app.change_case(&p, id, change)).await?;
    Ok(Redirect::to(&format!("/console/cases/{id}")).into_response())
}

/// `GET /console/inbox`: the newest reports.
pub async fn inbox(State(s): State<S>, headers: HeaderMap) -> Result<Response> {
    let me = authed(&s, &headers, "/console/inbox").await?;
    let lang = me.lang;
    let p = me.principal();
    let reports = run(&s, lang, move |app| app.report_inbox(&p, 200)).await?;
    let mut page = me.page(("신고함", "Report inbox"), "inbox");
    let _ = write!(page.body(), "<h1>{}</h1>", t(lang, "신고함", "Report inbox"));
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|r| {
            let form: Option<ReportForm> = serde_json::from_str(&r.body).ok();
            let text: String = form.map(|f| f.description).unwrap_or_default().chars().take(140).collect();
            vec![
                esc(&when(r.created_ms)),
                esc(&r.receipt),
                esc(&r.source),
                esc(&r.kind),
                num(r.priority),
                won(lang, r.amount),
                format!("<a href=\"/console/cases/{0}\">#{0}</a>", r.case_id),
                esc(&text),
            ]
        })
        .collect();
    page.push(&table(
        t(lang, "최근 신고 (최신순)", "Latest reports, newest first"),
        &[
            t(lang, "접수", "Filed"),
            t(lang, "접수번호", "Receipt"),
            t(lang, "출처", "Source"),
            t(lang, "종류", "Kind"),
            t(lang, "우선순위", "Priority"),
            t(lang, "금액", "Amount"),
            t(lang, "사건", "Case"),
            t(lang, "내용", "Description"),
        ],
        &rows,
    ));
    Ok(page.finish())
}

const KINDS: [&str; 8] = ["account", "phone", "url", "domain", "profile", "device", "ip", "wallet"];

/// `GET /console/indicators?kind=&value=`: the lookup.
pub async fn indicators(State(s): State<S>, headers: HeaderMap, Query(q): Params) -> Result<Response> {
    let me = authed(&s, &headers, "/console/indicators").await?;
    let lang = me.lang;
    let kind = q.get("kind").cloned().unwrap_or_else(|| "account".into());
    let value = q.get("value").map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let view = match &value {
        Some(v) => {
            let k = indicators::IndicatorKind::parse(&kind).ok_or_else(|| invalid(lang, "kind", &KINDS.join(", ")))?;
            let (p, v) = (me.principal(), v.clone());
            Some(run(&s, lang, move |app| app.indicator_view(&p, k, &v)).await?)
        }
        None => None,
    };
    let mut page = me.page(("지표 조회", "Indicator lookup"), "indicators");
    let csrf = page.csrf_field();
    let _ = write!(
        page.body(),
        "<h1>{}</h1><form method=\"get\" action=\"/console/indicators\" class=\"filters\"><label for=\"i-kind\">{}</label><select id=\"i-kind\" name=\"kind\">",
        t(lang, "지표 조회", "Indicator lookup"),
        t(lang, "종류", "Kind")
    );
    for k in KINDS {
        let sel = if k == kind { " selected" } else { "" };
        let _ = write!(page.body(), "<option{sel}>{k}</option>");
    }
    let _ = write!(
        page.body(),
        "</select><label for=\"i-value\">{}</label><input id=\"i-value\" name=\"value\" value=\"{}\" required><button type=\"submit\">{}</button></form>",
        t(lang, "값", "Value"),
        esc(value.as_deref().unwrap_or("")),
        t(lang, "조회", "Look up")
    );
    if let (Some(v), Some(view)) = (&value, view) {
        let a = &view.aggregate;
        let _ = write!(
            page.body(),
            "<section aria-labelledby=\"shield\"><h2 id=\"shield\">{}</h2><p id=\"shield-level\">{}</p><dl class=\"facts\">\
             <div><dt>{}</dt><dd>{}</dd></div><div><dt>{}</dt><dd>{}</dd></div><div><dt>{}</dt><dd>{}</dd></div><div><dt>{}</dt><dd>{}</dd></div></dl></section>",
            t(lang, "방패", "Shield"),
            level_badge(lang, a.level),
            t(lang, "신고", "Reports"),
            num(a.reports),
            t(lang, "신고한 계열사", "Affiliates reporting"),
            num(a.affiliates),
            t(lang, "확정", "Confirmed"),
            if a.confirmed { t(lang, "예", "yes") } else { t(lang, "아니오", "no") },
            t(lang, "최근 신고", "Latest report"),
            esc(&when(a.last_ms)),
        );
        let rows: Vec<Vec<String>> = view
            .contributions
            .iter()
            .map(|c| {
                vec![
                    esc(c.affiliate.as_str()),
                    esc(&c.typology),
                    esc(c.status.as_str()),
                    num(c.reports),
                    esc(&when(c.first_ms)),
                    esc(&when(c.last_ms)),
                ]
            })
            .collect();
        page.push(&table(
            t(lang, "계열사별 기여 (이력)", "Contributions by affiliate (history)"),
            &[
                t(lang, "계열사", "Affiliate"),
                t(lang, "유형", "Typology"),
                t(lang, "상태", "Status"),
                t(lang, "신고", "Reports"),
                t(lang, "처음", "First"),
                t(lang, "최근", "Latest"),
            ],
            &rows,
        ));
        let _ = write!(
            page.body(),
            "<section aria-labelledby=\"mine\"><h2 id=\"mine\">{}</h2><form method=\"post\" action=\"/console/indicators\">{}\
             <input type=\"hidden\" name=\"kind\" value=\"{}\"><input type=\"hidden\" name=\"value\" value=\"{}\">\
             <label for=\"i-typology\">{}</label><select id=\"i-typology\" name=\"typology\">",
            t(lang, "우리 계열사의 신고", "Our affiliate's report"),
            csrf,
            esc(&kind),
            esc(v),
            t(lang, "유형", "Typology"),
        );
        for ty in app::registry::TYPOLOGIES {
            let _ = write!(page.body(), "<option>{ty}</option>");
        }
        let _ = write!(
            page.body(),
            "</select><button type=\"submit\" name=\"status\" value=\"reported\">{}</button> <button type=\"submit\" name=\"status\" value=\"confirmed\">{}</button> \
             <button type=\"submit\" name=\"status\" value=\"cleared\">{}</button></form></section>",
            t(lang, "신고", "Report"),
            t(lang, "확정", "Confirm"),
            t(lang, "해제", "Clear"),
        );
    }
    Ok(page.finish())
}

/// `POST /console/indicators`: report, confirm or clear the affiliate's own report.
pub async fn indicator_change(State(s): State<S>, headers: HeaderMap, body: axum::body::Bytes) -> Result<Response> {
    let (me, form) = posted(&s, &headers, "/console/indicators", &body).await?;
    let lang = me.lang;
    let bad = |field: &str, message: &str| invalid(lang, field, message);
    let kind_text = form.get("kind").unwrap_or_default().to_string();
    let kind = indicators::IndicatorKind::parse(&kind_text).ok_or_else(|| bad("kind", &KINDS.join(", ")))?;
    let value = form.text("value").ok_or_else(|| bad("value", "required"))?.to_string();
    let typology = form.text("typology").unwrap_or("fraud").to_string();
    let status = app::registry::Status::parse(form.get("status").unwrap_or_default())
        .ok_or_else(|| bad("status", "reported, confirmed or cleared"))?;
    let p = me.principal();
    let (v, k) = (value.clone(), kind_text.clone());
    run(&s, lang, move |app| {
        let action = if status == app::registry::Status::Reported {
            app::access::Action::Report
        } else {
            app::access::Action::ConfirmIndicator
        };
        app::access::authorize(&p, action)?;
        app.report_indicator(&p.affiliate, kind, &v, &typology, status)?;
        app.audit(&p, "indicator.status", serde_json::json!({"kind": k, "status": status.as_str()}).to_string())
    })
    .await?;
    Ok(Redirect::to(&format!("/console/indicators?kind={}&value={}", url_encode(&kind_text), url_encode(&value)))
        .into_response())
}

/// `GET /console/protection?affiliate=&subject=`: a subject's self-protection settings.
pub async fn protection(State(s): State<S>, headers: HeaderMap, Query(q): Params) -> Result<Response> {
    let me = authed(&s, &headers, "/console/protection").await?;
    let lang = me.lang;
    let group = me.session.person.affiliate.as_str() == app::GROUP;
    let affiliate = if group {
        q.get("affiliate").cloned().unwrap_or_else(|| "bank".into())
    } else {
        me.session.person.affiliate.to_string()
    };
    let subject = q.get("subject").map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let found = match &subject {
        Some(subj) => {
            let (p, a, subj) = (me.principal(), domain::AffiliateId(affiliate.clone()), subj.clone());
            Some(
                run(&s, lang, move |app| {
                    app::access::authorize(&p, app::access::Action::Protection)
                        .or_else(|_| app::access::authorize(&p, app::access::Action::WorkCases))?;
                    app.protection(&a, &subj)
                })
                .await?,
            )
        }
        None => None,
    };
    let mut page = me.page(("자기보호 조회", "Self-protection lookup"), "protection");
    let _ = write!(
        page.body(),
        "<h1>{}</h1><form method=\"get\" action=\"/console/protection\" class=\"filters\">",
        t(lang, "자기보호 조회", "Self-protection lookup")
    );
    if group {
        let _ = write!(
            page.body(),
            "<label for=\"p-aff\">{}</label><input id=\"p-aff\" name=\"affiliate\" value=\"{}\">",
            t(lang, "계열사", "Affiliate"),
            esc(&affiliate)
        );
    }
    let _ = write!(
        page.body(),
        "<label for=\"p-subject\">{}</label><input id=\"p-subject\" name=\"subject\" value=\"{}\" required><button type=\"submit\">{}</button></form>",
        t(lang, "이용자 ID", "Subject id"),
        esc(subject.as_deref().unwrap_or("")),
        t(lang, "조회", "Look up"),
    );
    if let Some(p) = found {
        let a = &p.active;
        let delayed = a
            .delayed_transfer
            .as_ref()
            .map(|d| {
                format!("{} ≥ {}, {}h", t(lang, "지연 이체", "Delayed transfer"), won(lang, d.threshold.won()), d.hours)
            })
            .unwrap_or_else(|| t(lang, "지연 이체 없음", "No delayed transfer").into());
        let designated = a
            .designated_accounts
            .as_ref()
            .map(|_| t(lang, "지정 계좌로만 이체", "Designated accounts only").to_string())
            .unwrap_or_else(|| t(lang, "지정 계좌 없음", "No designated accounts").into());
        let loan = if a.loan_lock {
            t(lang, "대출 잠금", "Loan lock on")
        } else {
            t(lang, "대출 잠금 없음", "No loan lock")
        };
        let _ = write!(
            page.body(),
            "<ul id=\"protection\"><li>{}</li><li>{}</li><li>{}</li><li>{}: {}</li>{}</ul>",
            esc(&delayed),
            esc(&designated),
            loan,
            t(lang, "마지막 변경", "Last change"),
            esc(&when(p.updated_ms)),
            if p.pending.is_some() {
                format!(
                    "<li>{}</li>",
                    t(lang, "완화 대기 중 (숙려 기간)", "A loosening is waiting out its cooling-off")
                )
            } else {
                String::new()
            }
        );
    }
    Ok(page.finish())
}

/// `GET /console/trends`: the last 30 days by verdict, waves and emerging campaigns.
pub async fn trends(State(s): State<S>, headers: HeaderMap) -> Result<Response> {
    let me = authed(&s, &headers, "/console/trends").await?;
    let lang = me.lang;
    let p = me.principal();
    let now = app::now_ms();
    let (days, clusters) = run(&s, lang, move |app| Ok((app.daily(&p, now)?, app.recent_clusters(&p, now)?))).await?;
    let mut page = me.page(("추이", "Trends"), "trends");
    let _ = write!(
        page.body(),
        "<h1>{}</h1><p><a href=\"/yearly\">{}</a></p>",
        t(lang, "추이", "Trends"),
        t(lang, "연간 금융안전 보고서 보기", "Open the yearly financial-safety report")
    );
    let rows: Vec<Vec<String>> = days
        .iter()
        .rev()
        .map(|(day, x)| {
            vec![
                esc(&app::trends::day_text(*day)),
                num(x.decisions),
                num(x.warned),
                num(x.held),
                num(x.blocked),
                won(lang, x.stopped_amount),
            ]
        })
        .collect();
    page.push(&table(
        t(lang, "일별 결정", "Decisions per day"),
        &[
            t(lang, "날짜", "Day"),
            t(lang, "결정", "Decisions"),
            t(lang, "경고", "Warned"),
            t(lang, "보류", "Held"),
            t(lang, "차단", "Blocked"),
            t(lang, "보류·차단 금액", "Stopped amount"),
        ],
        &rows,
    ));
    let rows: Vec<Vec<String>> = clusters
        .iter()
        .map(|c| {
            let value: String = c.value.chars().take(24).collect();
            vec![esc(&c.kind), esc(&value), num(c.decisions), num(c.reports), esc(&app::trends::day_text(c.first_day))]
        })
        .collect();
    page.push(&table(
        t(lang, "떠오르는 지표 (최근 7일)", "Emerging indicators, last 7 days"),
        &[
            t(lang, "종류", "Kind"),
            t(lang, "값", "Value"),
            t(lang, "결정", "Decisions"),
            t(lang, "신고", "Reports"),
            t(lang, "처음", "First"),
        ],
        &rows,
    ));
    Ok(page.finish())
}

/// `GET /console/campaigns`: prevention campaigns and their measured effect.
pub async fn campaigns(State(s): State<S>, headers: HeaderMap) -> Result<Response> {
    let me = authed(&s, &headers, "/console/campaigns").await?;
    let lang = me.lang;
    let p = me.principal();
    let list = run(&s, lang, move |app| app.campaigns(&p)).await?;
    let mut page = me.page(("예방 캠페인", "Prevention campaigns"), "campaigns");
    let _ = write!(page.body(), "<h1>{}</h1>", t(lang, "예방 캠페인", "Prevention campaigns"));
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|v| {
            let c = &v.campaign;
            let effect = v
                .effect
                .reports
                .as_ref()
                .map(|e| format!("{:+.0} ({:+.0} – {:+.0})", e.difference, e.low, e.high))
                .unwrap_or_else(|| "—".into());
            vec![
                esc(&c.id),
                esc(&c.name),
                esc(v.status),
                format!("<code>{}</code>", esc(&c.segment)),
                num(v.effect.treated.users as i64),
                num(v.effect.control.users as i64),
                effect,
            ]
        })
        .collect();
    page.push(&table(
        t(
            lang,
            "캠페인 (신고 이용자 차이: 1만 명당, 95% 구간)",
            "Campaigns (difference in reported users per 10,000, 95% interval)",
        ),
        &[
            "id",
            t(lang, "이름", "Name"),
            t(lang, "상태", "Status"),
            t(lang, "대상", "Segment"),
            t(lang, "처치군", "Treated"),
            t(lang, "대조군", "Control"),
            t(lang, "효과", "Effect"),
        ],
        &rows,
    ));
    Ok(page.finish())
}
