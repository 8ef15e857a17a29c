//! The HTTP API: authentication, the handlers, the router with its layers, and the OpenAPI
//! document, which is built from the same handler annotations that register the routes (a
//! route cannot be served without being documented).
//!
//! Every handler resolves the caller from `Authorization: Bearer <key>` (`Caller`) before it
//! reads the body, checks the scope it needs, and passes the caller's affiliate to every app
//! call: no handler can name another tenant's data. Store calls run on blocking threads.

use crate::error::{ApiError, parse_json, problem_layer, utf8};
pub use crate::extract::Caller;
use crate::extract::{S, blocking};
use crate::metrics;
use crate::wire::{
    AffiliateTotals, AnalysisBody, AnalyzeRequest, BatchItem, BatchRequest, BatchResponse, CancelBody, DecisionBody,
    DiagnosticBody, EventRequest, HealthBody, ImportResponse, KeyBody, KeyList, Problem, ProtectionBody,
    ProtectionSettings, RegistryTotals, ReportRequest, RollbackRequest, RulesetBody, RulesetHistory, ShieldEntry,
    ShieldRequest, ShieldResponse, ValidationBody,
};
use app::access::{Action, authorize};
use app::{App, AppError};
use axum::Json;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use domain::{Decision, Event};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::sync::Arc;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use crate::contract::{BATCH_BODY_LIMIT, EVENT_BODY_LIMIT, REPORT_BODY_LIMIT};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ansim",
        description = "Real-time fraud decisions for a group of financial services: send an event, get \
                       allow / warn / hold / block with reasons in Korean and English. Errors are RFC 9457 \
                       problems (application/problem+json)."
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "decisions", description = "Events in, decisions out (scope `decide`)."),
        (name = "rulesets", description = "Versioned rulesets: read with `decide`, change with `rules:write`."),
        (name = "reports", description = "The 24-hour report channel: no key for victims, a key for affiliates."),
        (name = "cases", description = "The safety table's cases (group keys with `cases`), webhooks and dead letters."),
        (name = "protection", description = "Self-protection a user turns on: delayed transfer, designated accounts, loan lock (scope `decide`)."),
        (name = "keys", description = "An affiliate's API keys: list and revoke (scope `admin`)."),
        (name = "campaigns", description = "Prevention campaigns with a hold-out control and their measured effect (read with `decide`, run with `rules:write`; an affiliate's keys for its own users, the group's for any)."),
        (name = "trends", description = "Decisions over time from the daily rollup (scope `decide` or `rules:write`; every affiliate for the group's admin)."),
        (name = "operations", description = "Health and readiness (no key) and metrics (the group's admin key)."),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("ak_...").build()),
        );
    }
}

/// Decides on one event and returns the committed decision. A repeated event id returns the
/// stored decision with `duplicate: true` and is not counted again.
#[utoipa::path(
    post, path = "/v1/events", tag = "decisions",
    request_body(content = EventRequest, description = "One event; at most 1 MiB."),
    responses(
        (status = 200, description = "The committed decision.", body = DecisionBody),
        (status = 400, description = "Malformed JSON or an invalid field, named in `field`.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the `decide` scope.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The event id was already used for other content; send a new id for a new event.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 1 MiB.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Storage unavailable; retry with the same event id.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn post_event(
    State(s): State<S>,
    Caller(p): Caller,
    crate::extract::Body(body): crate::extract::JsonBody,
) -> Result<Json<DecisionBody>, ApiError> {
    authorize(&p, Action::Decide)?;
    let event = Event::from_json(utf8(&body)?, Some(&p.affiliate))?;
    let d = s.decide(&p.affiliate, event).await?;
    Ok(Json(DecisionBody::from(&d)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<'a> {
    #[serde(borrow)]
    events: Vec<&'a RawValue>,
}

/// Decides on several events in order, each durably; one result per event, a decision or the
/// problem with that event (a rejected event stores nothing and does not stop the others).
#[utoipa::path(
    post, path = "/v1/events:batch", tag = "decisions",
    request_body(content = BatchRequest, description = "At most 1,000 events (configurable) and 16 MiB."),
    responses(
        (status = 200, description = "One result per event, in order.", body = BatchResponse),
        (status = 400, description = "The envelope is malformed or has too many events.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the `decide` scope.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 16 MiB.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn post_batch(
    State(s): State<S>,
    Caller(p): Caller,
    crate::extract::Body(body): crate::extract::JsonBody,
) -> Result<Json<BatchResponse>, ApiError> {
    authorize(&p, Action::Decide)?;
    let env: Envelope<'_> = parse_json(&body)?;
    let max = s.options.max_batch_events;
    if env.events.len() > max {
        return Err(ApiError::BadRequest {
            field: "events".into(),
            message: format!("at most {max} events per batch, got {}", env.events.len()),
        });
    }
    let mut results: Vec<Option<BatchItem>> = Vec::with_capacity(env.events.len());
    let mut valid = Vec::with_capacity(env.events.len());
    for raw in &env.events {
        match Event::from_json(raw.get(), Some(&p.affiliate)) {
            Ok(e) => {
                valid.push(e);
                results.push(None);
            }
            Err(e) => results.push(Some(BatchItem::Problem(ApiError::from(e).problem()))),
        }
    }
    let mut decided = s.decide_batch(&p.affiliate, valid).await.into_iter();
    let results = results
        .into_iter()
        .map(|r| match r {
            Some(problem) => problem,
            None => match decided.next() {
                Some(Ok(d)) => BatchItem::Decision(Box::new(DecisionBody::from(&d))),
                Some(Err(e)) => BatchItem::Problem(ApiError::from(e).problem()),
                None => BatchItem::Problem(ApiError::Internal("a result is missing".into()).problem()),
            },
        })
        .collect();
    Ok(Json(BatchResponse { results }))
}

/// A stored decision of the caller's affiliate.
#[utoipa::path(
    get, path = "/v1/decisions/{id}", tag = "decisions",
    params(("id" = String, Path, description = "The decision id (`dec_...`).")),
    responses(
        (status = 200, description = "The decision.", body = DecisionBody),
        (status = 401, description = "Missing or invalid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the `decide` scope.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such decision for this affiliate.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn get_decision(
    State(s): State<S>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Json<DecisionBody>, ApiError> {
    authorize(&p, Action::Decide)?;
    let rec = blocking(&s, move |app| app.decision(&p.affiliate, &id)).await?;
    let d: Decision = serde_json::from_str(&rec.decision_json)
        .map_err(|e| ApiError::Internal(format!("stored decision {} is unreadable: {e}", rec.decision_id)))?;
    Ok(Json(DecisionBody::new(&rec.decision_id, &d, false)))
}

/// The active ruleset, with its source.
#[utoipa::path(
    get, path = "/v1/rulesets/active", tag = "rulesets",
    responses(
        (status = 200, description = "The active version.", body = RulesetBody),
        (status = 401, description = "Missing or invalid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No ruleset published yet.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn get_active(State(s): State<S>, Caller(p): Caller) -> Result<Json<RulesetBody>, ApiError> {
    authorize(&p, Action::ReadRules)?;
    let r = blocking(&s, move |app| app.active_ruleset(&p.affiliate)).await?;
    Ok(Json(RulesetBody::new(&r, true)))
}

/// Every published version, newest first (without sources).
#[utoipa::path(
    get, path = "/v1/rulesets", tag = "rulesets",
    responses(
        (status = 200, description = "The history.", body = RulesetHistory),
        (status = 401, description = "Missing or invalid API key.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn list_rulesets(State(s): State<S>, Caller(p): Caller) -> Result<Json<RulesetHistory>, ApiError> {
    authorize(&p, Action::ReadRules)?;
    let h = blocking(&s, move |app| app.ruleset_history(&p.affiliate)).await?;
    Ok(Json(RulesetHistory { versions: h.iter().map(|r| RulesetBody::new(r, false)).collect() }))
}

/// The saved draft, as TOML text.
#[utoipa::path(
    get, path = "/v1/rulesets/draft", tag = "rulesets",
    responses(
        (status = 200, description = "The draft.", body = String, content_type = "application/toml"),
        (status = 404, description = "No draft saved.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn get_draft(State(s): State<S>, Caller(p): Caller) -> Result<Response, ApiError> {
    authorize(&p, Action::ReadRules)?;
    let d = blocking(&s, move |app| app.draft(&p.affiliate)).await?;
    let text = d.ok_or_else(|| AppError::NotFound("a saved draft".into()))?;
    Ok(([(header::CONTENT_TYPE, "application/toml; charset=utf-8")], text).into_response())
}

/// Saves the draft (any text) and says whether it would compile.
#[utoipa::path(
    put, path = "/v1/rulesets/draft", tag = "rulesets",
    request_body(content = String, content_type = "application/toml", description = "The ruleset TOML."),
    responses(
        (status = 200, description = "Saved; the validation result.", body = ValidationBody),
        (status = 403, description = "The key lacks the `rules:write` scope.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn put_draft(
    State(s): State<S>,
    Caller(p): Caller,
    crate::extract::Body(body): crate::extract::TextBody,
) -> Result<Json<ValidationBody>, ApiError> {
    authorize(&p, Action::EditRules)?;
    let text = utf8(&body)?.to_string();
    let v = blocking(&s, move |app| {
        app.put_draft(&p.affiliate, &text)?;
        Ok(validation(app, &text))
    })
    .await?;
    Ok(Json(v))
}

fn validation(app: &App, text: &str) -> ValidationBody {
    let diags = app.validate(text);
    ValidationBody { valid: diags.is_empty(), diagnostics: DiagnosticBody::all(&diags, text) }
}

/// Checks a ruleset without saving or publishing it: every problem at once, located.
#[utoipa::path(
    post, path = "/v1/rulesets/validate", tag = "rulesets",
    request_body(content = String, content_type = "application/toml", description = "The ruleset TOML."),
    responses(
        (status = 200, description = "Whether it compiles, and why not.", body = ValidationBody),
        (status = 401, description = "Missing or invalid API key.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn validate(
    State(s): State<S>,
    Caller(p): Caller,
    crate::extract::Body(body): crate::extract::TextBody,
) -> Result<Json<ValidationBody>, ApiError> {
    authorize(&p, Action::ReadRules)?;
    let text = utf8(&body)?.to_string();
    Ok(Json(blocking(&s, move |app| Ok(validation(app, &text))).await?))
}

/// Publishes the body as the next version (or the saved draft when the body is empty) and makes
/// it active at once. A ruleset that does not compile changes nothing.
#[utoipa::path(
    post, path = "/v1/rulesets/publish", tag = "rulesets",
    request_body(content = String, content_type = "application/toml", description = "The ruleset TOML, or empty to publish the draft."),
    responses(
        (status = 200, description = "The new active version.", body = RulesetBody),
        (status = 403, description = "The key lacks the `rules:write` scope.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Empty body and no draft saved.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The ruleset does not compile; `diagnostics` says why.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn publish(
    State(s): State<S>,
    Caller(p): Caller,
    crate::extract::Body(body): crate::extract::OptionalTextBody,
) -> Result<Json<RulesetBody>, ApiError> {
    authorize(&p, Action::EditRules)?;
    let text = utf8(&body)?.to_string();
    let app = Arc::clone(&s.app);
    let r = tokio::task::spawn_blocking(move || {
        let source = if text.trim().is_empty() {
            app.draft(&p.affiliate)?.ok_or_else(|| AppError::NotFound("a saved draft to publish".into()))?
        } else {
            text
        };
        app.publish(&p.affiliate, Some(&source)).map_err(|e| match e {
            AppError::Rules(diagnostics) => ApiError::Rules { diagnostics, source },
            e => ApiError::App(e),
        })
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(Json(RulesetBody::new(&r, false)))
}

/// Makes an earlier version active again.
#[utoipa::path(
    post, path = "/v1/rulesets/rollback", tag = "rulesets",
    request_body(content = RollbackRequest),
    responses(
        (status = 200, description = "The active version now.", body = RulesetBody),
        (status = 400, description = "Malformed body.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the `rules:write` scope.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such version.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn rollback(
    State(s): State<S>,
    Caller(p): Caller,
    crate::extract::Body(body): crate::extract::JsonBody,
) -> Result<Json<RulesetBody>, ApiError> {
    authorize(&p, Action::EditRules)?;
    let req: RollbackRequest = parse_json(&body)?;
    let r = blocking(&s, move |app| app.rollback(&p.affiliate, req.version)).await?;
    Ok(Json(RulesetBody::new(&r, false)))
}

fn indicator_kind(kind: &str) -> Result<indicators::IndicatorKind, ApiError> {
    indicators::IndicatorKind::parse(kind).ok_or_else(|| {
        ApiError::App(AppError::Invalid {
            field: "kind".into(),
            message: format!(
                "unknown indicator kind {kind:?}; the kinds are phone, account, url, domain, profile, device, ip, wallet"
            ),
        })
    })
}

/// Reports an indicator to the group's registry for the caller's affiliate, or confirms or
/// clears the affiliate's own report. Every affiliate's next decision sees it.
#[utoipa::path(
    post, path = "/v1/indicators:report", tag = "registry",
    request_body(content = ReportRequest),
    responses(
        (status = 200, description = "The registry's aggregate for the indicator now.", body = ShieldEntry),
        (status = 400, description = "Bad kind, value, typology or status, named in `field`.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Reporting needs `decide`; confirming or clearing needs `rules:write`.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn report_indicator(
    State(s): State<S>,
    Caller(p): Caller,
    crate::extract::Body(body): crate::extract::JsonBody,
) -> Result<Json<ShieldEntry>, ApiError> {
    let req: ReportRequest = parse_json(&body)?;
    let status = match req.status.as_deref().unwrap_or("reported") {
        "reported" => app::registry::Status::Reported,
        "confirmed" => app::registry::Status::Confirmed,
        "cleared" => app::registry::Status::Cleared,
        other => {
            return Err(ApiError::App(AppError::Invalid {
                field: "status".into(),
                message: format!("unknown status {other:?}; use reported, confirmed or cleared"),
            }));
        }
    };
    authorize(&p, if status == app::registry::Status::Reported { Action::Report } else { Action::ConfirmIndicator })?;
    let kind = indicator_kind(&req.kind)?;
    let agg =
        blocking(&s, move |app| app.report_indicator(&p.affiliate, kind, &req.value, &req.typology, status)).await?;
    Ok(Json(ShieldEntry::new(kind.as_str(), &agg)))
}

/// Imports many reports of the caller's affiliate at once: a CSV with `kind,value,typology[,status]`
/// per line (optional header). Every row is checked first; a file with any bad row imports
/// nothing and the problem lists each bad line. Confirming or clearing rows need `rules:write`.
#[utoipa::path(
    post, path = "/v1/indicators:import", tag = "registry",
    request_body(content = String, content_type = "text/csv", description = "kind,value,typology[,status] per line."),
    responses(
        (status = 200, description = "Every row was imported.", body = ImportResponse),
        (status = 400, description = "Bad rows, each named by line in `errors`; nothing was imported.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Reporting needs `decide`; confirming or clearing needs `rules:write`.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn import_indicators(
    State(s): State<S>,
    Caller(p): Caller,
    crate::extract::Body(body): crate::extract::TextBody,
) -> Result<Json<ImportResponse>, ApiError> {
    let text = utf8(&body)?.to_string();
    let (rows, _, _) = crate::import::parse_csv(&text);
    let changes_status = rows.iter().any(|r| r.3 != app::registry::Status::Reported);
    authorize(&p, if changes_status { Action::ConfirmIndicator } else { Action::Report })?;
    let done = tokio::task::spawn_blocking(move || crate::import::import(&s.app, &p.affiliate, &text))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| match e {
            crate::import::ImportError::Lines(lines) => ApiError::Lines(lines),
            crate::import::ImportError::App(e) => ApiError::App(e),
        })?;
    Ok(Json(ImportResponse { rows: done.rows, indicators: done.indicators }))
}

/// The fraud-history shield for one or more indicators (a recipient's account and phone, a
/// sender's profile): `safe`, `caution` or `danger` with counts and the text to show.
#[utoipa::path(
    post, path = "/v1/shield", tag = "registry",
    request_body(content = ShieldRequest),
    responses(
        (status = 200, description = "One shield per indicator, in order.", body = ShieldResponse),
        (status = 400, description = "Bad kind or value, named in `field`; more than 100 indicators.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the `decide` scope.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn shield(
    State(s): State<S>,
    Caller(p): Caller,
    crate::extract::Body(body): crate::extract::JsonBody,
) -> Result<Json<ShieldResponse>, ApiError> {
    authorize(&p, Action::Decide)?;
    let req: ShieldRequest = parse_json(&body)?;
    if req.indicators.is_empty() || req.indicators.len() > 100 {
        return Err(ApiError::App(AppError::Invalid {
            field: "indicators".into(),
            message: format!("give 1 to 100 indicators, got {}", req.indicators.len()),
        }));
    }
    let mut results = Vec::with_capacity(req.indicators.len());
    for (i, ind) in req.indicators.iter().enumerate() {
        let at = |e: ApiError| match e {
            ApiError::App(AppError::Invalid { field, message }) => {
                ApiError::App(AppError::Invalid { field: format!("indicators[{i}].{field}"), message })
            }
            e => e,
        };
        let kind = indicator_kind(&ind.kind).map_err(at)?;
        let agg = s.app.shield(kind, &ind.value).map_err(|e| at(ApiError::App(e)))?;
        results.push(ShieldEntry::new(kind.as_str(), &agg));
    }
    Ok(Json(ShieldResponse { results }))
}

/// Query of a draft backtest.
#[derive(Debug, Deserialize)]
pub(crate) struct BacktestQuery {
    limit: Option<usize>,
}

/// Backtests the saved draft: the last `limit` stored events (default 100,000) replayed
/// through the active ruleset and the draft; what would change, by verdict and by rule.
#[utoipa::path(
    post, path = "/v1/rulesets/draft/backtest", tag = "rulesets",
    params(("limit" = Option<u32>, Query, minimum = 1, maximum = 1000000, description = "Most recent events to replay (default 100000).")),
    responses(
        (status = 200, description = "The diff.", body = crate::backtest::BacktestBody),
        (status = 403, description = "The key lacks the `rules:write` scope.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No draft saved.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The draft does not compile; `diagnostics` say where.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn backtest_draft(
    State(s): State<S>,
    Caller(p): Caller,
    crate::extract::ApiQuery(q): crate::extract::ApiQuery<BacktestQuery>,
) -> Result<Json<crate::backtest::BacktestBody>, ApiError> {
    authorize(&p, Action::EditRules)?;
    let limit = crate::extract::in_range("limit", q.limit, 1, 1_000_000)?.unwrap_or(100_000);
    let r = blocking(&s, move |app| app.backtest_draft(&p.affiliate, limit)).await?;
    Ok(Json(crate::backtest::BacktestBody::from(&r)))
}

/// Longest message text `/v1/messages:analyze` accepts, in characters.
const MAX_ANALYZE_CHARS: usize = 10_000;

/// Analyses a message without deciding on an event: risk, typology, the phrases and links that
/// fired, warnings about the sender, and the text to show. Nothing is stored.
#[utoipa::path(
    post, path = "/v1/messages:analyze", tag = "decisions",
    request_body(content = AnalyzeRequest),
    responses(
        (status = 200, description = "The analysis.", body = AnalysisBody),
        (status = 400, description = "A bad field, named in `field`.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the `decide` scope.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn analyze_message(
    State(s): State<S>,
    Caller(p): Caller,
    crate::extract::Body(body): crate::extract::JsonBody,
) -> Result<Json<AnalysisBody>, ApiError> {
    authorize(&p, Action::Decide)?;
    let req: AnalyzeRequest = parse_json(&body)?;
    if req.text.chars().count() > MAX_ANALYZE_CHARS {
        return Err(ApiError::App(AppError::Invalid {
            field: "text".into(),
            message: format!("longer than {MAX_ANALYZE_CHARS} characters"),
        }));
    }
    if req.friend_names.len() > 50 {
        return Err(ApiError::App(AppError::Invalid {
            field: "friend_names".into(),
            message: format!("at most 50 names, got {}", req.friend_names.len()),
        }));
    }
    let sender = req.sender;
    let a = s.app.analyzer().message(&req.text, sender.as_ref(), &req.friend_names);
    Ok(Json(AnalysisBody::from(&a)))
}

/// A subject's self-protection at the caller's affiliate (all off if never set).
#[utoipa::path(
    get, path = "/v1/subjects/{id}/protection", tag = "protection",
    params(("id" = String, Path, min_length = 1, max_length = 128, pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]+$", description = "The subject (the affiliate's user id).")),
    responses(
        (status = 200, description = "The settings in force and any pending loosening.", body = ProtectionBody),
        (status = 401, description = "Missing or invalid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the `decide` scope.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn get_protection(
    State(s): State<S>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Json<ProtectionBody>, ApiError> {
    authorize(&p, Action::Decide)?;
    let subject = id.clone();
    let prot = blocking(&s, move |app| app.protection(&p.affiliate, &subject)).await?;
    Ok(Json(ProtectionBody::new(&id, &prot)))
}

/// Sets a subject's self-protection: delayed transfer, designated accounts only, loan lock.
/// Stricter settings apply to the very next decision; looser ones (switching something off,
/// a higher threshold, another account) apply after the cooling-off period, shown as
/// `pending`. Sending what is in force again drops a pending loosening.
#[utoipa::path(
    put, path = "/v1/subjects/{id}/protection", tag = "protection",
    params(("id" = String, Path, min_length = 1, max_length = 128, pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]+$", description = "The subject (the affiliate's user id).")),
    request_body(content = ProtectionSettings),
    responses(
        (status = 200, description = "The settings in force and any pending loosening.", body = ProtectionBody),
        (status = 400, description = "A bad value, named in `field`; nothing changed.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or invalid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the `decide` scope.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn put_protection(
    State(s): State<S>,
    Caller(p): Caller,
    Path(id): Path<String>,
    crate::extract::Body(body): crate::extract::JsonBody,
) -> Result<Json<ProtectionBody>, ApiError> {
    authorize(&p, Action::Decide)?;
    let req: ProtectionSettings = parse_json(&body)?;
    let subject = id.clone();
    let prot = blocking(&s, move |app| app.set_protection(&p.affiliate, &subject, req.into())).await?;
    Ok(Json(ProtectionBody::new(&id, &prot)))
}

/// The user cancels a held transfer before its hold runs out (a delayed transfer, or any
/// transfer the rules held). Recorded once; the affiliate then does not send the money.
#[utoipa::path(
    post, path = "/v1/decisions/{id}/cancel", tag = "protection",
    params(("id" = String, Path, description = "The held decision (`dec_...`).")),
    responses(
        (status = 200, description = "The cancel was recorded.", body = CancelBody),
        (status = 401, description = "Missing or invalid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the `decide` scope.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such decision for this affiliate.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a held transfer, already cancelled, or the hold has ended.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn cancel_hold(
    State(s): State<S>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> Result<Json<CancelBody>, ApiError> {
    authorize(&p, Action::Decide)?;
    let c = blocking(&s, move |app| app.cancel_hold(&p.affiliate, &id)).await?;
    Ok(Json(CancelBody {
        decision_id: c.decision_id,
        cancelled_at: domain::Timestamp(c.cancelled_ms).to_kst_rfc3339(),
    }))
}

/// The caller's affiliate's API keys: prefixes, scopes and whether revoked; a key itself is
/// never shown again. Needs the `admin` scope.
#[utoipa::path(
    get, path = "/v1/keys", tag = "keys",
    responses(
        (status = 200, description = "The affiliate's keys, oldest first.", body = KeyList),
        (status = 401, description = "Missing or invalid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the `admin` scope.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn list_keys(State(s): State<S>, Caller(p): Caller) -> Result<Json<KeyList>, ApiError> {
    let keys = blocking(&s, move |app| app.list_keys(&p)).await?;
    Ok(Json(KeyList { keys: keys.iter().map(KeyBody::from).collect() }))
}

/// Revokes one of the caller's affiliate's keys by its prefix: refused from the next request
/// on by this server, within a second by any other. Needs the `admin` scope.
#[utoipa::path(
    delete, path = "/v1/keys/{prefix}", tag = "keys",
    params(("prefix" = String, Path, description = "The key's prefix, as the key list shows it.")),
    responses(
        (status = 200, description = "Revoked.", body = KeyBody),
        (status = 401, description = "Missing or invalid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the `admin` scope.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No key of this affiliate has that prefix.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Several keys share the prefix.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn revoke_key(
    State(s): State<S>,
    Caller(p): Caller,
    Path(prefix): Path<String>,
) -> Result<Json<KeyBody>, ApiError> {
    let key = blocking(&s, move |app| {
        app.revoke_key(&p, &prefix)?;
        app.list_keys(&p)?
            .into_iter()
            .find(|k| k.prefix == prefix)
            .ok_or_else(|| AppError::NotFound(format!("key {prefix}")))
    })
    .await?;
    Ok(Json(KeyBody::from(&key)))
}

/// Registry totals per affiliate, for the safety table: keys of the `group` affiliate with the
/// `admin` scope only. Counts, never indicators or events.
#[utoipa::path(
    get, path = "/v1/registry/totals", tag = "registry",
    responses(
        (status = 200, description = "Totals per reporting affiliate.", body = RegistryTotals),
        (status = 401, description = "Missing or invalid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key of the group.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn registry_totals(State(s): State<S>, Caller(p): Caller) -> Result<Json<RegistryTotals>, ApiError> {
    let rows = s.app.registry_totals(&p)?;
    let affiliates = rows
        .into_iter()
        .map(|t| AffiliateTotals {
            affiliate: t.affiliate.0,
            indicators: t.indicators,
            confirmed: t.confirmed,
            cleared: t.cleared,
            reports: t.reports,
        })
        .collect();
    Ok(Json(RegistryTotals { affiliates }))
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = HealthBody)))]
async fn healthz(State(s): State<S>) -> Json<HealthBody> {
    let dependencies: Vec<crate::wire::DependencyBody> = s
        .app
        .dependencies()
        .into_iter()
        .map(|d| crate::wire::DependencyBody {
            status: if d.ok { "ok" } else { "down" }.into(),
            name: d.name,
            latency_ms: d.latency_ms.map(|l| (l * 1000.0).round() / 1000.0),
            error: d.error,
            checked_at: domain::Timestamp(d.checked_ms).to_kst_rfc3339(),
        })
        .collect();
    let status = if dependencies.iter().all(|d| d.status == "ok") { "ok" } else { "degraded" };
    Json(HealthBody { status: status.into(), affiliates: None, dependencies })
}

/// The store answers: ready to decide.
#[utoipa::path(
    get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, body = HealthBody),
        (status = 503, description = "Storage unavailable.", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn readyz(State(s): State<S>) -> Result<Json<HealthBody>, ApiError> {
    let n = blocking(&s, |app| app.affiliates()).await?.len();
    Ok(Json(HealthBody { status: "ready".into(), affiliates: Some(n), dependencies: Vec::new() }))
}

/// Counters and latency histograms in the Prometheus text format. They include every
/// affiliate's rule hits, so they are for the group's administrators (a bearer key of the group
/// with the `admin` scope, which Prometheus sends as `authorization`), unless the operator
/// opened them (`open_metrics`) on a network only the scraper reaches.
#[utoipa::path(
    get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, body = String, content_type = "text/plain; version=0.0.4"),
        (status = 401, description = "Missing or invalid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key of the group.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn metrics_text(State(s): State<S>, headers: axum::http::HeaderMap) -> Result<Response, ApiError> {
    if !s.options.open_metrics {
        let key = crate::extract::bearer(&headers).ok_or(AppError::Unauthorized)?;
        authorize(&crate::extract::principal(&s, key).await?, Action::GroupAdmin)?;
    }
    let text = metrics::render(&s.http, &s.conns, s.app.metrics());
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response())
}

async fn live_page(State(s): State<S>) -> Result<Html<String>, ApiError> {
    if !s.options.live_page {
        return Err(ApiError::Status(StatusCode::NOT_FOUND));
    }
    Ok(Html(s.live.render(s.app.metrics())))
}

/// Query of the yearly report page.
#[derive(Debug, serde::Deserialize)]
struct YearlyQuery {
    year: Option<i32>,
    lang: Option<String>,
}

/// The yearly report, shown where the live page is (the demo), for this year unless asked.
async fn yearly_page(
    State(s): State<S>,
    crate::extract::ApiQuery(q): crate::extract::ApiQuery<YearlyQuery>,
) -> Result<Html<String>, ApiError> {
    if !s.options.live_page {
        return Err(ApiError::Status(StatusCode::NOT_FOUND));
    }
    let this_year = app::trends::civil(app::trends::kst_day(app::now_ms())).0 as i32;
    let year = q.year.unwrap_or(this_year);
    if !(1970..=9999).contains(&year) {
        return Err(ApiError::App(AppError::Invalid { field: "year".into(), message: "between 1970 and 9999".into() }));
    }
    let english = match q.lang.as_deref() {
        None | Some("ko") => false,
        Some("en") => true,
        Some(other) => {
            return Err(ApiError::App(AppError::Invalid {
                field: "lang".into(),
                message: format!("{other:?} is not ko or en"),
            }));
        }
    };
    let f = crate::extract::blocking(&s, move |app| app.year_figures(year)).await?;
    let other = format!("/yearly?year={year}&lang={}", if english { "ko" } else { "en" });
    Ok(Html(crate::yearly::page_in(&f, english, &other)))
}

async fn not_found() -> ApiError {
    ApiError::Status(StatusCode::NOT_FOUND)
}

/// The documented routes, each with its body limit.
fn api_router() -> OpenApiRouter<S> {
    let events = OpenApiRouter::new().routes(routes!(post_event)).layer(DefaultBodyLimit::max(EVENT_BODY_LIMIT));
    let batch = OpenApiRouter::new().routes(routes!(post_batch)).layer(DefaultBodyLimit::max(BATCH_BODY_LIMIT));
    let reports = OpenApiRouter::new()
        .routes(routes!(crate::reports::post_report))
        .layer(DefaultBodyLimit::max(REPORT_BODY_LIMIT));
    let rest = OpenApiRouter::new()
        .routes(routes!(get_decision))
        .routes(routes!(list_rulesets))
        .routes(routes!(get_active))
        .routes(routes!(get_draft, put_draft))
        .routes(routes!(validate))
        .routes(routes!(publish))
        .routes(routes!(rollback))
        .routes(routes!(report_indicator))
        .routes(routes!(import_indicators))
        .routes(routes!(shield))
        .routes(routes!(registry_totals))
        .routes(routes!(crate::trends::get_trends))
        .routes(routes!(crate::trends::get_trend_alerts))
        .routes(routes!(crate::trends::get_clusters))
        .routes(routes!(crate::campaigns::post_campaign, crate::campaigns::list_campaigns))
        .routes(routes!(crate::campaigns::get_campaign))
        .routes(routes!(crate::campaigns::stop_campaign))
        .routes(routes!(list_keys))
        .routes(routes!(revoke_key))
        .routes(routes!(get_protection, put_protection))
        .routes(routes!(analyze_message))
        .routes(routes!(backtest_draft))
        .routes(routes!(crate::reports::get_report))
        .routes(routes!(crate::reports::list_cases))
        .routes(routes!(crate::reports::get_case, crate::reports::change_case))
        .routes(routes!(crate::reports::put_webhook))
        .routes(routes!(crate::reports::grant_holdings))
        .routes(routes!(crate::reports::holdings))
        .routes(routes!(crate::reports::dead_actions))
        .routes(routes!(crate::reports::alerts))
        .routes(routes!(cancel_hold))
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics_text))
        .layer(DefaultBodyLimit::max(EVENT_BODY_LIMIT));
    OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(events).merge(batch).merge(reports).merge(rest)
}

/// The OpenAPI document of the API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = api_router().into_openapi();
    crate::contract::document(&mut doc);
    doc
}

/// The whole HTTP service.
pub fn router(server: &S) -> axum::Router {
    let (api, mut doc) = api_router().split_for_parts();
    crate::contract::document(&mut doc);
    let doc: Arc<str> = doc.to_pretty_json().unwrap_or_default().into();
    api.route(
        "/openapi.json",
        get(move || {
            let doc = Arc::clone(&doc);
            async move { ([(header::CONTENT_TYPE, "application/json")], doc.to_string()) }
        }),
    )
    .merge(crate::console::router())
    .route("/", get(live_page))
    .route("/yearly", get(yearly_page))
    .route(
        "/report",
        get(crate::reports::report_form)
            .post(crate::reports::report_submit)
            .layer(DefaultBodyLimit::max(REPORT_BODY_LIMIT)),
    )
    .route(
        "/report/status",
        get(crate::reports::report_status_page)
            .post(crate::reports::report_status_submit)
            .layer(DefaultBodyLimit::max(REPORT_BODY_LIMIT)),
    )
    .fallback(not_found)
    // Outermost last: metrics see every response, the problem layer rewrites the timeout's.
    .layer(TraceLayer::new_for_http())
    .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, server.options.request_timeout))
    .layer(axum::middleware::from_fn(problem_layer))
    .layer(axum::middleware::from_fn_with_state(Arc::clone(&server.http), metrics::track))
    .with_state(Arc::clone(server))
}
