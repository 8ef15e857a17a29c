//! Stage 3 over HTTP: the 24-hour report channel (`POST /v1/reports` with or without a key,
//! the server-rendered form at `/report` in Korean and English that needs no JavaScript, and
//! the reporter-only status at `/report/status` and `GET /v1/reports/{receipt}`), the group's
//! case queue and case changes, affiliates' webhook registration, and dead letters. The public
//! endpoints are rate-limited per client address and per reporter contact.

use crate::error::{ApiError, parse_json};
use crate::extract::{ApiPath, ApiQuery, Caller, S, bearer, blocking, principal};
use crate::wire::Problem;
use app::cases::{Change, ReportForm, ReportKind, ReportedIndicator, Reporter};
use app::{AppError, Principal};
use axum::Json;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Mutex;
use utoipa::ToSchema;

/// Sliding-window limits on the public channel.
#[derive(Debug, Default)]
pub struct RateLimits {
    windows: Mutex<HashMap<String, VecDeque<i64>>>,
}

/// Reports per client address per 10 minutes.
pub const PER_IP: usize = 10;
/// Reports per reporter contact (phone or e-mail) per hour.
pub const PER_CONTACT: usize = 5;

impl RateLimits {
    /// Takes one unit of `key`'s budget of `max` per `window_ms`. When it is spent, the error
    /// holds the whole seconds until the oldest unit leaves the window (at least 1).
    pub fn take(&self, key: &str, max: usize, window_ms: i64, now: i64) -> Result<(), u64> {
        let mut w = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if w.len() > 100_000 {
            // Forget idle keys rather than grow without bound under a flood of addresses.
            w.retain(|_, q| q.back().is_some_and(|&t| now - t < window_ms));
        }
        let q = w.entry(key.to_string()).or_default();
        while q.front().is_some_and(|&t| now - t >= window_ms) {
            q.pop_front();
        }
        if q.len() >= max {
            let oldest = q.front().copied().unwrap_or(now);
            let wait_ms = (oldest + window_ms - now).max(1);
            return Err(u64::try_from((wait_ms + 999) / 1_000).unwrap_or(1).max(1));
        }
        q.push_back(now);
        Ok(())
    }
}

/// The key a reporter's contact is counted under: one phone number in every spelling
/// (`+82 10-4444-0000`, `010 4444 0000`, `+82 (0)10…` are one), an e-mail address in lower case.
pub fn contact_key(contact: &str) -> String {
    let c = contact.trim();
    if !c.contains('@')
        && let Ok(phone) = indicators::normalise(indicators::IndicatorKind::Phone, c)
    {
        return format!("phone:{}", phone.value());
    }
    let id: String = c.chars().filter(|c| c.is_alphanumeric() || *c == '@' || *c == '.').collect();
    format!("text:{}", id.to_lowercase())
}

/// A filed report's receipt.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReceiptBody {
    /// Receipt number.
    pub receipt: String,
    /// With the receipt, shows the report's progress; shown only now.
    pub secret: String,
    /// Triage priority 0..=100.
    pub priority: i64,
    /// What happens next, in Korean.
    pub ko: String,
    /// What happens next, in English.
    pub en: String,
}

/// A report's progress as its reporter sees it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReportStatusBody {
    /// Receipt number.
    pub receipt: String,
    /// Report kind.
    pub kind: String,
    /// Filed at, RFC 3339 KST.
    pub filed_at: String,
    /// `received`, `in_progress`, `action_taken`, `relief`, `closed`.
    pub status: String,
    /// Once decided: `confirmed_fraud`, `not_fraud`, `duplicate`.
    pub outcome: Option<String>,
    /// Last change, RFC 3339 KST.
    pub updated_at: String,
}

/// A case in the queue.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CaseBody {
    /// Case number.
    pub id: i64,
    /// State.
    pub state: String,
    /// Outcome.
    pub outcome: Option<String>,
    /// Priority.
    pub priority: i64,
    /// Analyst.
    pub assignee: Option<String>,
    /// Typology (the first report's).
    pub typology: Option<String>,
    /// Won at risk.
    pub money_at_risk: i64,
    /// Reporters (`public`, affiliates).
    pub reporting: Vec<String>,
    /// Holders sent actions.
    pub holding: Vec<String>,
    /// Earlier, closed case on the same indicators.
    pub linked_case: Option<i64>,
    /// Opened, RFC 3339 KST.
    pub opened_at: String,
    /// Closed, RFC 3339 KST.
    pub closed_at: Option<String>,
    /// First action due, RFC 3339 KST.
    pub first_action_due: String,
    /// No first action yet and the due time passed.
    pub overdue: bool,
    /// Indicators, notes, kinds, amount.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    /// Receipts of its reports (detail view only).
    pub reports: Vec<String>,
    /// The relief workflow: `state`, the open `deadlines` (KST, Korean business days),
    /// `overdue` steps, the refund decision.
    #[schema(value_type = Option<Object>)]
    pub relief: Option<serde_json::Value>,
}

/// The relief workflow as analysts see it.
fn relief_view(r: &app::relief::Relief, now: i64) -> serde_json::Value {
    let cal = app::relief::Calendar::korea();
    let list = |v: Result<Vec<app::relief::Deadline>, app::relief::ReliefError>| {
        match v {
        Ok(d) => serde_json::Value::Array(
            d.iter()
                .map(|d| serde_json::json!({ "step": d.step.as_str(), "due": domain::Timestamp(d.due_ms).to_kst_rfc3339() }))
                .collect(),
        ),
        Err(e) => serde_json::json!({ "error": e.to_string() }),
    }
    };
    serde_json::json!({
        "state": r.state().as_str(),
        "deadlines": list(r.deadlines(cal)),
        "overdue": list(r.overdue(now, cal)),
        "refund": r.refund(),
    })
}

fn case_body(c: &store::CaseRow, reports: Vec<String>) -> Result<CaseBody, ApiError> {
    let now = app::now_ms();
    let parsed = app::cases::CaseBody::parse(c.id, &c.body)?;
    let relief = parsed.relief.as_ref().map(|r| relief_view(r, now));
    let kst = |ms: i64| domain::Timestamp(ms).to_kst_rfc3339();
    Ok(CaseBody {
        id: c.id,
        state: c.state.as_str().into(),
        outcome: c.outcome.map(|o| o.as_str().into()),
        priority: c.priority,
        assignee: c.assignee.clone(),
        typology: c.typology.clone(),
        money_at_risk: c.money_at_risk,
        reporting: c.reporting.clone(),
        holding: c.holding.clone(),
        linked_case: c.linked_case,
        opened_at: kst(c.opened_ms),
        closed_at: c.closed_ms.map(kst),
        first_action_due: kst(c.sla_due_ms),
        overdue: c.first_action_ms.is_none() && now > c.sla_due_ms,
        detail: serde_json::json!({
            "indicators": parsed.indicators,
            "kinds": parsed.kinds,
            "notes": parsed.notes,
            "amount": c.money_at_risk,
        }),
        reports,
        relief,
    })
}

/// Cases in the queue.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CaseList {
    /// Highest priority first.
    pub cases: Vec<CaseBody>,
}

/// An affiliate's webhook and what it holds.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookRequest {
    /// Where actions are POSTed: a public `http://` or `https://` address.
    #[schema(pattern = "^https?://", max_length = 500)]
    pub url: String,
    /// The HMAC signing secret (16 to 200 characters).
    #[schema(min_length = 16, max_length = 200)]
    pub secret: String,
}

/// What an affiliate holds: `bank:088` (a bank code), `profile`, `phone`. Granted by the
/// group's administrators.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Holdings {
    /// Sorted.
    #[schema(inline, value_type = Vec<HoldingKey>)]
    pub holds: Vec<String>,
}

/// One holding: `bank:` and a three-digit bank code, `profile` or `phone`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(pattern = "^(bank:[0-9]{3}|profile|phone)$")]
pub struct HoldingKey(pub String);

/// Dead-lettered actions.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeadActions {
    /// Newest first.
    pub actions: Vec<DeadAction>,
}

/// One dead-lettered action.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeadAction {
    /// Action id.
    pub id: String,
    /// Target affiliate.
    pub affiliate: String,
    /// Kind.
    pub kind: String,
    /// Attempts made.
    pub attempts: i64,
    /// The last error.
    pub last_error: Option<String>,
}

fn status_of(state: domain::CaseState) -> &'static str {
    use domain::CaseState as C;
    match state {
        C::New => "received",
        C::Triaged | C::Investigating => "in_progress",
        C::ActionTaken => "action_taken",
        C::Relief => "relief",
        C::Closed => "closed",
    }
}

/// A status or outcome as its reader sees it: (Korean, English).
fn status_label(code: &str) -> (&'static str, &'static str) {
    match code {
        "received" => ("접수됨", "Received"),
        "in_progress" => ("조사 중", "Being looked into"),
        "action_taken" => ("조치 완료 (계좌·번호 차단 등)", "Action taken (accounts or numbers stopped)"),
        "relief" => ("피해 구제 진행 중", "Relief under way"),
        "closed" => ("종결", "Closed"),
        "confirmed_fraud" => ("사기로 확인됨", "Confirmed as fraud"),
        "not_fraud" => ("사기가 아닌 것으로 확인됨", "Found not to be fraud"),
        "duplicate" => ("같은 건으로 이미 접수됨", "Already reported as another case"),
        _ => ("확인 중", "Being checked"),
    }
}

fn too_many(what: &str, retry_after_secs: u64) -> ApiError {
    ApiError::TooManyRequests {
        detail: format!("too many reports from this {what}; try again in {retry_after_secs} s or call 112 / 1332"),
        retry_after_secs,
    }
}

/// Files a report on the public channel or as an affiliate; returns the receipt.
async fn file(s: &S, headers: &HeaderMap, ip: SocketAddr, form: ReportForm) -> Result<app::cases::Filed, ApiError> {
    let reporter = match bearer(headers) {
        Some(k) => Reporter::Affiliate(s.app.authenticate(k)?.affiliate),
        None => {
            let now = app::now_ms();
            s.reports.take(&format!("ip:{}", ip.ip()), PER_IP, 600_000, now).map_err(|w| too_many("address", w))?;
            if let Some(c) = form.contact.as_deref().filter(|c| !c.trim().is_empty()) {
                s.reports.take(&contact_key(c), PER_CONTACT, 3_600_000, now).map_err(|w| too_many("contact", w))?;
            }
            Reporter::Public { ip: ip.ip().to_string() }
        }
    };
    blocking(s, move |app| app.file_report(&reporter, form)).await
}

const NEXT_KO: &str = "신고가 접수되었습니다. 돈을 보냈다면 지금 바로 보낸 은행(또는 112)에 지급정지를 요청하세요. 접수번호와 비밀번호로 진행 상황을 확인할 수 있습니다.";
const NEXT_EN: &str = "Your report is in. If you sent money, ask your bank (or call 112) to suspend the payment now. Use the receipt number and secret to follow its progress.";

/// Files a report. Without a key it is the public 24-hour channel (rate-limited per address
/// and per contact); with an affiliate's key it is that affiliate's report. Indicators in it
/// are reported to the group's registry; reports about the same indicator join one case.
#[utoipa::path(
    post, path = "/v1/reports", tag = "reports",
    request_body(content = app::cases::ReportForm),
    responses(
        (status = 200, description = "The receipt (the secret is shown only now).", body = ReceiptBody),
        (status = 400, description = "A bad field, named in `field`.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "A key was given and it is invalid.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 64 KiB.", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many reports from this address or contact.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn post_report(
    State(s): State<S>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    crate::extract::Body(body): crate::extract::JsonBody,
) -> Result<Json<ReceiptBody>, ApiError> {
    let form: ReportForm = parse_json(&body)?;
    let f = file(&s, &headers, ip, form).await?;
    Ok(Json(ReceiptBody {
        receipt: f.receipt,
        secret: f.secret,
        priority: f.priority,
        ko: NEXT_KO.into(),
        en: NEXT_EN.into(),
    }))
}

/// A report's progress, for its reporter only: the secret in `X-Report-Secret`, or the key of
/// the affiliate that filed it. An unknown receipt and a wrong secret both answer 404.
#[utoipa::path(
    get, path = "/v1/reports/{receipt}", tag = "reports",
    params(("receipt" = String, Path, description = "The receipt number.")),
    responses(
        (status = 200, description = "The progress.", body = ReportStatusBody),
        (status = 401, description = "A key was given and it is invalid.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such report for this reporter.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn get_report(
    State(s): State<S>,
    headers: HeaderMap,
    Path(receipt): Path<String>,
) -> Result<Json<ReportStatusBody>, ApiError> {
    let secret = headers.get("x-report-secret").and_then(|v| v.to_str().ok()).map(str::to_string);
    let affiliate = match bearer(&headers) {
        Some(k) => Some(principal(&s, k).await?.affiliate),
        None => None,
    };
    let (r, c) = blocking(&s, move |app| app.report_status(&receipt, secret.as_deref(), affiliate.as_ref())).await?;
    Ok(Json(status_body(&r, &c)))
}

fn status_body(r: &store::ReportRow, c: &store::CaseRow) -> ReportStatusBody {
    ReportStatusBody {
        receipt: r.receipt.clone(),
        kind: r.kind.clone(),
        filed_at: domain::Timestamp(r.created_ms).to_kst_rfc3339(),
        status: status_of(c.state).into(),
        outcome: c.outcome.map(|o| o.as_str().into()),
        updated_at: domain::Timestamp(c.updated_ms).to_kst_rfc3339(),
    }
}

/// Query of the case queue.
#[derive(Debug, Deserialize)]
pub(crate) struct QueueQuery {
    limit: Option<usize>,
}

/// The case queue: open cases, highest priority first (group keys with the `cases` scope).
#[utoipa::path(
    get, path = "/v1/cases", tag = "cases",
    params(("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "At most this many (default 100).")),
    responses(
        (status = 200, description = "Open cases.", body = CaseList),
        (status = 403, description = "Not a cases key of the group.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list_cases(
    State(s): State<S>,
    Caller(p): Caller,
    ApiQuery(q): ApiQuery<QueueQuery>,
) -> Result<Json<CaseList>, ApiError> {
    let limit = crate::extract::in_range("limit", q.limit, 1, 1_000)?.unwrap_or(100);
    let rows = blocking(&s, move |app| app.case_queue(&p, limit)).await?;
    Ok(Json(CaseList { cases: rows.iter().map(|c| case_body(c, Vec::new())).collect::<Result<_, _>>()? }))
}

/// One case with its reports' receipts.
#[utoipa::path(
    get, path = "/v1/cases/{id}", tag = "cases",
    params(("id" = i64, Path, description = "Case number.")),
    responses(
        (status = 200, description = "The case.", body = CaseBody),
        (status = 403, description = "Not a cases key of the group.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such case.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn get_case(
    State(s): State<S>,
    Caller(p): Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<CaseBody>, ApiError> {
    let (c, reports) = blocking(&s, move |app| app.case_detail(&p, id)).await?;
    Ok(Json(case_body(&c, reports.into_iter().map(|r| r.receipt).collect())?))
}

/// Changes a case: the next state, the outcome, the assignee, a note. Confirming fraud flags
/// its indicators as confirmed for every affiliate and sends follow-up actions to the holders.
#[utoipa::path(
    post, path = "/v1/cases/{id}", tag = "cases",
    params(("id" = i64, Path, description = "Case number.")),
    request_body(content = app::cases::Change),
    responses(
        (status = 200, description = "The changed case.", body = CaseBody),
        (status = 400, description = "A bad field.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a cases key of the group.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A backward move, a closed case, or a concurrent change.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn change_case(
    State(s): State<S>,
    Caller(p): Caller,
    ApiPath(id): ApiPath<i64>,
    crate::extract::Body(body): crate::extract::JsonBody,
) -> Result<Json<CaseBody>, ApiError> {
    let change: Change = parse_json(&body)?;
    let c = blocking(&s, move |app| app.change_case(&p, id, change)).await?;
    Ok(Json(case_body(&c, Vec::new())?))
}

/// Overdue work across open cases.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertList {
    /// Oldest due first.
    pub alerts: Vec<AlertBody>,
}

/// One overdue item.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AlertBody {
    /// The case.
    pub case_id: i64,
    /// `first_action` (the SLA) or a relief step (`written_request`, `refund_decision`, ...).
    pub what: String,
    /// When it was due, RFC 3339 KST.
    pub due: String,
}

/// Overdue work: first actions past their SLA and relief deadlines that passed, on the Korean
/// business-day calendar (group keys with `cases`).
#[utoipa::path(
    get, path = "/v1/alerts", tag = "cases",
    responses(
        (status = 200, description = "Overdue items, oldest first.", body = AlertList),
        (status = 403, description = "Not a cases key of the group.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn alerts(State(s): State<S>, Caller(p): Caller) -> Result<Json<AlertList>, ApiError> {
    let list = blocking(&s, move |app| app.alerts(&p, app::now_ms())).await?;
    Ok(Json(AlertList {
        alerts: list
            .into_iter()
            .map(|a| AlertBody { case_id: a.case_id, what: a.what, due: domain::Timestamp(a.due_ms).to_kst_rfc3339() })
            .collect(),
    }))
}

/// Sets the caller's webhook and its signing secret, so follow-up actions reach it (`admin`
/// scope). What it holds is granted by the group (`PUT /v1/holdings/{affiliate}`).
#[utoipa::path(
    put, path = "/v1/webhook", tag = "cases",
    request_body(content = WebhookRequest),
    responses(
        (status = 204, description = "Saved."),
        (status = 400, description = "A bad field (a private or loopback address in `url`, an unknown member such as `holds`).", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the `admin` scope.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn put_webhook(
    State(s): State<S>,
    Caller(p): Caller,
    crate::extract::Body(body): crate::extract::JsonBody,
) -> Result<axum::http::StatusCode, ApiError> {
    app::access::authorize(&p, app::access::Action::ManageWebhook)?;
    let w: WebhookRequest = parse_json(&body)?;
    blocking(&s, move |app| app.set_webhook(&p, &w.url, &w.secret)).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// Grants an affiliate what it holds, replacing what it held: the group's administrators only.
#[utoipa::path(
    put, path = "/v1/holdings/{affiliate}", tag = "cases",
    params(("affiliate" = String, Path, description = "The affiliate granted.")),
    request_body(content = Holdings),
    responses(
        (status = 200, description = "What the affiliate holds now.", body = Holdings),
        (status = 400, description = "A bad holding, named in `field`.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key of the group.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such affiliate.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another affiliate holds one of them; nothing changed.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn grant_holdings(
    State(s): State<S>,
    Caller(p): Caller,
    Path(affiliate): Path<String>,
    crate::extract::Body(body): crate::extract::JsonBody,
) -> Result<Json<Holdings>, ApiError> {
    app::access::authorize(&p, app::access::Action::GroupAdmin)?;
    let h: Holdings = parse_json(&body)?;
    let a = domain::AffiliateId(affiliate);
    let holds = blocking(&s, move |app| app.grant_holdings(&p, &a, &h.holds)).await?;
    Ok(Json(Holdings { holds }))
}

/// What the caller's affiliate holds (`admin` scope).
#[utoipa::path(
    get, path = "/v1/holdings", tag = "cases",
    responses(
        (status = 200, description = "Sorted.", body = Holdings),
        (status = 401, description = "Missing or invalid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the `admin` scope.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn holdings(State(s): State<S>, Caller(p): Caller) -> Result<Json<Holdings>, ApiError> {
    let holds = blocking(&s, move |app| app.holdings(&p)).await?;
    Ok(Json(Holdings { holds }))
}

/// Follow-up actions given up on after every retry (admins of the group).
#[utoipa::path(
    get, path = "/v1/actions/dead", tag = "cases",
    responses(
        (status = 200, description = "Dead letters, newest first.", body = DeadActions),
        (status = 403, description = "Not an admin key of the group.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn dead_actions(State(s): State<S>, Caller(p): Caller) -> Result<Json<DeadActions>, ApiError> {
    let rows = blocking(&s, move |app: &app::App| app.dead_actions(&p as &Principal)).await?;
    Ok(Json(DeadActions {
        actions: rows
            .into_iter()
            .map(|a| DeadAction {
                id: a.id,
                affiliate: a.affiliate.0,
                kind: a.kind,
                attempts: a.attempts,
                last_error: a.last_error,
            })
            .collect(),
    }))
}

// ---------------------------------------------------------------- the HTML form

pub use crate::html::escape;

/// The form page's language.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Lang {
    lang: Option<String>,
}

fn english(l: &Lang) -> bool {
    l.lang.as_deref() == Some("en")
}

fn page(en: bool, title: &str, body: &str) -> Html<String> {
    let lang = if en { "en" } else { "ko" };
    Html(format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>body{{font-family:sans-serif;max-width:40rem;margin:1rem auto;padding:0 1rem;line-height:1.5}}\
         label{{display:block;margin-top:.8rem;font-weight:600}}input,select,textarea{{width:100%;padding:.4rem;box-sizing:border-box}}\
         .err{{color:#b00020}} .box{{border:1px solid #ccc;padding:1rem;border-radius:.5rem}} button{{margin-top:1rem;padding:.6rem 1.2rem}}</style></head>\
         <body>{body}</body></html>",
        escape(title)
    ))
}

/// A form field's label: (Korean, English).
fn field_label(field: &str) -> (&'static str, &'static str) {
    match field {
        "kind" => ("무슨 일이 있었나요?", "What happened?"),
        "description" => ("설명", "Description"),
        "amount" => ("보낸 금액 (원)", "Amount sent (won)"),
        "transferred_at" => ("보낸 시각", "When you sent it"),
        "account" => ("사기범 계좌 (은행코드 계좌번호)", "Fraudster's account (bank code and number)"),
        "phone" => ("사기범 전화번호", "Fraudster's phone number"),
        "url" => ("받은 링크", "Link you received"),
        "age" => ("나이", "Your age"),
        "contact" => ("연락받을 번호나 이메일", "Your phone or e-mail for a call back"),
        _ => ("입력 내용", "Your report"),
    }
}

/// What to do about a bad field, said to the person filling the form: (Korean, English).
fn field_hint(field: &str) -> (&'static str, &'static str) {
    match field {
        "kind" => ("무슨 일이 있었는지 하나를 골라 주세요.", "Choose what happened."),
        "description" => (
            "무슨 일이 있었는지 2,000자 이내로 간단히 적어 주세요. 꺾쇠(<, >)는 쓸 수 없습니다.",
            "Tell us briefly what happened, in up to 2,000 characters, without angle brackets (<, >).",
        ),
        "amount" => (
            "보낸 금액을 숫자로 적어 주세요 (예: 1,500,000). 1조 원까지 받습니다.",
            "Write the amount as a number, e.g. 1,500,000 (up to 1,000,000,000,000 won).",
        ),
        "transferred_at" => (
            "보낸 시각을 2026-12-06 13:30 처럼 한국 시각으로 적어 주세요. 앞으로의 시각은 받지 않습니다.",
            "Write the time in Korea time like 2026-12-06 13:30; a time still to come is not accepted.",
        ),
        "account" => (
            "은행코드와 계좌번호를 함께 적어 주세요 (예: 088 110-123-456789).",
            "Write the bank code and the account number, e.g. 088 110-123-456789.",
        ),
        "phone" => (
            "전화번호를 숫자로 적어 주세요 (예: 010-1234-5678, +82 10-1234-5678).",
            "Write the phone number in digits, e.g. 010-1234-5678 or +82 10-1234-5678.",
        ),
        "url" => (
            "받은 링크를 그대로 붙여 넣어 주세요 (예: http://example.kr/a).",
            "Paste the link as you received it, e.g. http://example.kr/a.",
        ),
        "age" => ("나이는 0에서 120 사이의 숫자로 적어 주세요.", "Write your age as a number from 0 to 120."),
        "contact" => (
            "연락받을 번호나 이메일을 100자 이내로 적어 주세요.",
            "Write a phone number or e-mail address of up to 100 characters.",
        ),
        _ => ("입력한 내용을 확인하고 다시 보내 주세요.", "Check what you entered and send it again."),
    }
}

fn form_page(en: bool, error: Option<&str>, filled: &HashMap<String, String>) -> Html<String> {
    let t = |ko: &'static str, e: &'static str| if en { e } else { ko };
    let label = |f: &str| {
        let (ko, e) = field_label(f);
        t(ko, e)
    };
    let v = |k: &str| escape(filled.get(k).map(String::as_str).unwrap_or(""));
    let mut kinds = String::new();
    for k in ReportKind::ALL {
        let (ko, e) = k.labels();
        let sel = if filled.get("kind").map(String::as_str) == Some(k.as_str()) { " selected" } else { "" };
        kinds.push_str(&format!("<option value=\"{}\"{sel}>{}</option>", k.as_str(), escape(if en { e } else { ko })));
    }
    let err = error.map_or(String::new(), |f| {
        let (ko, e) = field_hint(f);
        format!(
            "<p class=\"err\" role=\"alert\"><a href=\"#{}\">{}</a>: {}</p>",
            escape(f),
            escape(label(f)),
            escape(t(ko, e))
        )
    });
    let invalid = |f: &str| if error == Some(f) { " aria-invalid=\"true\"" } else { "" };
    let other = if en { "<a href=\"/report\">한국어</a>" } else { "<a href=\"/report?lang=en\">English</a>" };
    let body = format!(
        "<p>{other}</p><h1>{}</h1><p>{}</p>{err}\
         <form method=\"post\" action=\"/report{}\" class=\"box\">\
         <label for=\"kind\">{}</label><select id=\"kind\" name=\"kind\"{}>{kinds}</select>\
         <label for=\"description\">{}</label><textarea id=\"description\" name=\"description\" rows=\"5\" maxlength=\"2000\" required{}>{}</textarea>\
         <label for=\"amount\">{}</label><input id=\"amount\" name=\"amount\" inputmode=\"numeric\" value=\"{}\"{}>\
         <label for=\"transferred_at\">{}</label><input id=\"transferred_at\" name=\"transferred_at\" placeholder=\"2026-12-06 13:30\" aria-describedby=\"kst\" value=\"{}\"{}><small id=\"kst\">{}</small>\
         <label for=\"account\">{}</label><input id=\"account\" name=\"account\" placeholder=\"088 110-123-456789\" value=\"{}\"{}>\
         <label for=\"phone\">{}</label><input id=\"phone\" name=\"phone\" inputmode=\"tel\" value=\"{}\"{}>\
         <label for=\"url\">{}</label><input id=\"url\" name=\"url\" value=\"{}\"{}>\
         <label for=\"age\">{}</label><input id=\"age\" name=\"age\" inputmode=\"numeric\" value=\"{}\"{}>\
         <label><input type=\"checkbox\" name=\"contact_ongoing\" value=\"on\" style=\"width:auto\"> {}</label>\
         <label for=\"contact\">{}</label><input id=\"contact\" name=\"contact\" value=\"{}\"{}>\
         <button type=\"submit\">{}</button></form>\
         <p><a href=\"/report/status{}\">{}</a></p>",
        t("사기 피해 신고 (24시간)", "Report fraud (24 hours)"),
        t(
            "돈을 보냈다면 먼저 은행이나 112에 지급정지를 요청하세요. 이 신고는 모든 계열사가 함께 봅니다.",
            "If you sent money, first ask your bank or 112 to suspend the payment. Every affiliate of the group acts on this report."
        ),
        if en { "?lang=en" } else { "" },
        label("kind"),
        invalid("kind"),
        label("description"),
        invalid("description"),
        v("description"),
        label("amount"),
        v("amount"),
        invalid("amount"),
        label("transferred_at"),
        v("transferred_at"),
        invalid("transferred_at"),
        t("한국 시각, 예: 2026-12-06 13:30", "Korea time, e.g. 2026-12-06 13:30"),
        label("account"),
        v("account"),
        invalid("account"),
        label("phone"),
        v("phone"),
        invalid("phone"),
        label("url"),
        v("url"),
        invalid("url"),
        label("age"),
        v("age"),
        invalid("age"),
        t("지금도 연락이 이어지고 있어요", "They are still in contact with me"),
        label("contact"),
        v("contact"),
        invalid("contact"),
        t("신고하기", "Send report"),
        if en { "?lang=en" } else { "" },
        t("신고 진행 상황 확인", "Check a report's progress"),
    );
    page(en, t("사기 피해 신고", "Report fraud"), &body)
}

/// `GET /report`: the form.
pub(crate) async fn report_form(Query(l): Query<Lang>) -> Html<String> {
    form_page(english(&l), None, &HashMap::new())
}

/// The form's fields as a report, and the form field each reported indicator came from (the
/// use case names a bad one `indicators[i]…`; the page names the box it was typed in). A bad
/// field is returned by its form name.
fn form_of(fields: &HashMap<String, String>) -> Result<(ReportForm, Vec<&'static str>), String> {
    let get = |k: &str| fields.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let kind = get("kind").and_then(ReportKind::parse).ok_or("kind".to_string())?;
    let num = |k: &str| -> Result<Option<i64>, String> {
        get(k).map(|v| v.replace([',', ' ', '원'], "").parse::<i64>().map_err(|_| k.to_string())).transpose()
    };
    let mut indicators = Vec::new();
    let mut from = Vec::new();
    for (field, kind) in [("account", "account"), ("phone", "phone"), ("url", "url")] {
        if let Some(v) = get(field) {
            indicators.push(ReportedIndicator { kind: kind.into(), value: v.to_string() });
            from.push(field);
        }
    }
    let form = ReportForm {
        kind,
        description: fields.get("description").cloned().unwrap_or_default(),
        amount: num("amount")?.map(domain::Krw),
        transferred_at: get("transferred_at").map(str::to_string),
        contact_ongoing: get("contact_ongoing").is_some(),
        age: num("age")?.map(|a| u8::try_from(a).unwrap_or(u8::MAX)),
        indicators,
        contact: get("contact").map(str::to_string),
        subject: None,
    };
    Ok((form, from))
}

/// The form field a use case's error names: `indicators[1].value` is the second indicator box
/// that was filled in.
fn form_field(field: &str, from: &[&'static str]) -> String {
    match field.strip_prefix("indicators[").and_then(|r| r.split(']').next()).and_then(|i| i.parse::<usize>().ok()) {
        Some(i) => from.get(i).map_or("indicators", |f| f).to_string(),
        None => field.to_string(),
    }
}

/// The public channel's 429 as a page a person can act on, in its language.
fn busy_page(en: bool, retry_after_secs: u64) -> axum::response::Response {
    let minutes = retry_after_secs.div_ceil(60).max(1);
    let body = if en {
        format!(
            "<h1>Too many reports at once</h1><p class=\"err\" role=\"alert\">Please try again in about {minutes} minute(s). \
             If you are losing money now, call 112 (police) or 1332 (Financial Supervisory Service) right away.</p>"
        )
    } else {
        format!(
            "<h1>신고가 너무 많이 들어왔습니다</h1><p class=\"err\" role=\"alert\">약 {minutes}분 뒤에 다시 시도해 주세요. \
             지금 돈이 빠져나가고 있다면 바로 112(경찰) 또는 1332(금융감독원)로 전화하세요.</p>"
        )
    };
    let mut res = page(en, if en { "Try again later" } else { "잠시 후 다시 시도" }, &body).into_response();
    *res.status_mut() = axum::http::StatusCode::TOO_MANY_REQUESTS;
    res.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(retry_after_secs));
    res
}

/// `POST /report`: files the form; on an error the form comes back filled in, the field named
/// by its label with what to do, in the page's language.
pub(crate) async fn report_submit(
    State(s): State<S>,
    ConnectInfo(ip): ConnectInfo<SocketAddr>,
    Query(l): Query<Lang>,
    headers: HeaderMap,
    axum::Form(fields): axum::Form<HashMap<String, String>>,
) -> Result<axum::response::Response, ApiError> {
    let en = english(&l);
    let (form, from) = match form_of(&fields) {
        Ok(f) => f,
        Err(f) => return Ok(form_page(en, Some(&f), &fields).into_response()),
    };
    // The form never carries a key: it is the public channel.
    let mut public = headers.clone();
    public.remove(header::AUTHORIZATION);
    match file(&s, &public, ip, form).await {
        Ok(f) => {
            let body = format!(
                "<h1>{}</h1><div class=\"box\"><p>{}: <strong id=\"receipt\">{}</strong></p><p>{}: <strong id=\"secret\">{}</strong></p></div><p>{}</p>\
                 <p><a href=\"/report/status{}\">{}</a></p>",
                if en { "Report received" } else { "신고가 접수되었습니다" },
                if en { "Receipt number" } else { "접수번호" },
                escape(&f.receipt),
                if en {
                    "Secret (keep it: it is shown only now)"
                } else {
                    "비밀번호 (지금만 보여 드립니다. 꼭 적어 두세요)"
                },
                escape(&f.secret),
                escape(if en { NEXT_EN } else { NEXT_KO }),
                if en { "?lang=en" } else { "" },
                if en { "Check progress" } else { "진행 상황 확인" },
            );
            Ok(page(en, if en { "Report received" } else { "신고 접수" }, &body).into_response())
        }
        Err(ApiError::App(AppError::Invalid { field, .. })) => {
            Ok(form_page(en, Some(&form_field(&field, &from)), &fields).into_response())
        }
        Err(ApiError::TooManyRequests { retry_after_secs, .. }) => Ok(busy_page(en, retry_after_secs)),
        Err(e) => Err(e),
    }
}

/// The status page's language, and a receipt to fill in (never the secret: it travels in the
/// body of a POST so that it stays out of addresses, histories and logs).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct StatusQuery {
    lang: Option<String>,
    receipt: Option<String>,
}

/// The status form's fields.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct StatusForm {
    receipt: Option<String>,
    secret: Option<String>,
}

fn status_page(en: bool, receipt: &str, result: &str) -> Html<String> {
    let t = |ko: &'static str, e: &'static str| if en { e } else { ko };
    let body = format!(
        "<p>{}</p><h1>{}</h1>{result}<form method=\"post\" action=\"/report/status{}\" class=\"box\">\
         <label for=\"receipt\">{}</label><input id=\"receipt\" name=\"receipt\" autocomplete=\"off\" value=\"{}\">\
         <label for=\"secret\">{}</label><input id=\"secret\" name=\"secret\" type=\"password\" autocomplete=\"off\">\
         <button type=\"submit\">{}</button></form><p><a href=\"/report{}\">{}</a></p>",
        if en { "<a href=\"/report/status\">한국어</a>" } else { "<a href=\"/report/status?lang=en\">English</a>" },
        t("신고 진행 상황", "Report progress"),
        if en { "?lang=en" } else { "" },
        t("접수번호", "Receipt number"),
        escape(receipt),
        t("비밀번호", "Secret"),
        t("확인", "Check"),
        if en { "?lang=en" } else { "" },
        t("새로 신고하기", "File a new report"),
    );
    page(en, t("신고 진행 상황", "Report progress"), &body)
}

/// `GET /report/status`: the receipt-and-secret form.
pub(crate) async fn report_status_page(Query(q): Query<StatusQuery>) -> Html<String> {
    status_page(q.lang.as_deref() == Some("en"), q.receipt.as_deref().unwrap_or(""), "")
}

/// `POST /report/status`: the progress when the receipt and secret match, in the page's
/// language and in Korea time.
pub(crate) async fn report_status_submit(
    State(s): State<S>,
    Query(q): Query<StatusQuery>,
    axum::Form(f): axum::Form<StatusForm>,
) -> Result<Html<String>, ApiError> {
    let en = q.lang.as_deref() == Some("en");
    let t = |ko: &'static str, e: &'static str| if en { e } else { ko };
    let receipt = f.receipt.unwrap_or_default().trim().to_string();
    let secret = f.secret.unwrap_or_default().trim().to_string();
    let mismatch = format!(
        "<p class=\"err\" role=\"alert\">{}</p>",
        t("접수번호나 비밀번호가 맞지 않습니다.", "No report matches that receipt and secret.")
    );
    if receipt.is_empty() || secret.is_empty() {
        return Ok(status_page(en, &receipt, &mismatch));
    }
    let r = receipt.clone();
    let result = match blocking(&s, move |app| app.report_status(&r, Some(&secret), None)).await {
        Ok((r, c)) => {
            let label = |code: &str| {
                let (ko, e) = status_label(code);
                t(ko, e)
            };
            let outcome = c.outcome.map_or(String::new(), |o| {
                format!("<p>{}: <strong>{}</strong></p>", t("결과", "Outcome"), escape(label(o.as_str())))
            });
            let kst =
                |ms: i64| format!("{} {}", domain::Timestamp(ms).to_kst_minutes(), t("(한국 시각)", "(Korea time)"));
            format!(
                "<div class=\"box\" id=\"status\"><p>{}: {}</p><p>{}: <strong>{}</strong></p>{outcome}<p>{}: {}</p><p>{}: {}</p></div>",
                t("접수번호", "Receipt"),
                escape(&r.receipt),
                t("상태", "Status"),
                escape(label(status_of(c.state))),
                t("접수 시각", "Filed"),
                escape(&kst(r.created_ms)),
                t("최근 변경", "Last change"),
                escape(&kst(c.updated_ms)),
            )
        }
        Err(ApiError::App(AppError::NotFound(_))) => mismatch,
        Err(e) => return Err(e),
    };
    Ok(status_page(en, &receipt, &result))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_slide() {
        let r = RateLimits::default();
        assert!(r.take("a", 2, 100, 0).is_ok() && r.take("a", 2, 100, 10).is_ok());
        assert_eq!(r.take("a", 2, 100, 50), Err(1), "the third within the window is refused, 50 ms is 1 s");
        assert!(r.take("b", 2, 100, 50).is_ok(), "keys are separate");
        assert!(r.take("a", 2, 100, 101).is_ok(), "the first one left the window");
        let r = RateLimits::default();
        assert!(r.take("c", 1, 600_000, 0).is_ok());
        assert_eq!(r.take("c", 1, 600_000, 1_000), Err(599), "whole seconds until the oldest unit leaves");
    }

    #[test]
    fn one_phone_in_every_spelling_is_one_contact() {
        let k = contact_key("010-4444-0000");
        for same in ["01044440000", " 010 4444 0000", "+82 10-4444-0000", "+82 (0)10 4444 0000", "+821044440000"] {
            assert_eq!(contact_key(same), k, "{same}");
        }
        assert_ne!(contact_key("010-4444-0001"), k);
        assert_eq!(contact_key("Kim@Example.com "), contact_key("kim@example.com"));
    }
}
