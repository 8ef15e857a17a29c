//! The API's contract in one place, documented and enforced from the same facts.
//!
//! The statuses every operation can answer for reasons outside its own handler — a missing or
//! revoked key (401), a key without the scope (403), a malformed, empty, oversized or
//! wrongly-typed body (400, 413, 415), a path or query value that does not parse (400), the
//! request timeout (408) and a busy server (503) — are added to the OpenAPI document here,
//! from what each operation declares (security, request body, parameters), rather than by
//! hand on thirty operations where one would be forgotten. The same table of request bodies
//! drives [`enforce`], the middleware that refuses a non-JSON content type on a JSON route, an
//! empty body where one is required, and states the route's limit on a 413.

use crate::error::ApiError;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::Arc;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Required, ResponseBuilder};

/// Largest body of a single event or ruleset request, and of every route not named below.
pub const EVENT_BODY_LIMIT: usize = 1 << 20;
/// Largest body of a report (the JSON API and the form).
pub const REPORT_BODY_LIMIT: usize = 64 << 10;
/// Largest body of a batch request.
pub const BATCH_BODY_LIMIT: usize = 16 << 20;

/// The body limit of a route of the API.
pub fn body_limit(path: &str) -> usize {
    match path {
        "/v1/events:batch" => BATCH_BODY_LIMIT,
        "/v1/reports" => REPORT_BODY_LIMIT,
        _ => EVENT_BODY_LIMIT,
    }
}

/// `1 MiB`, `64 KiB`.
fn human(bytes: usize) -> String {
    if bytes.is_multiple_of(1 << 20) { format!("{} MiB", bytes >> 20) } else { format!("{} KiB", bytes >> 10) }
}

/// Routes whose request body may be left empty (publishing the saved draft).
const OPTIONAL_BODIES: &[(&str, &str)] = &[("POST", "/v1/rulesets/publish")];

fn operations(doc: &mut OpenApi) -> impl Iterator<Item = (Method, &String, &mut Operation)> {
    doc.paths.paths.iter_mut().flat_map(|(path, item)| {
        [
            (Method::GET, item.get.as_mut()),
            (Method::PUT, item.put.as_mut()),
            (Method::POST, item.post.as_mut()),
            (Method::DELETE, item.delete.as_mut()),
            (Method::PATCH, item.patch.as_mut()),
        ]
        .into_iter()
        .filter_map(move |(m, op)| op.map(|op| (m, path, op)))
    })
}

fn body_of(op: &Operation) -> Option<&RequestBody> {
    match op.request_body.as_ref()? {
        RefOr::T(b) => Some(b),
        RefOr::Ref(_) => None,
    }
}

/// Adds to every operation of `doc` the statuses the shared layers can answer.
pub fn document(doc: &mut OpenApi) {
    for (method, path, op) in operations(doc) {
        let optional = OPTIONAL_BODIES.iter().any(|(m, p)| *m == method.as_str() && p == path);
        let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
        let params: Vec<ParameterIn> = op
            .parameters
            .iter()
            .flatten()
            .filter_map(|p| match p {
                RefOr::T(p) => Some(p.parameter_in.clone()),
                RefOr::Ref(_) => None,
            })
            .collect();
        let body = body_of(op).map(|b| b.content.contains_key("application/json"));
        let mut add = |status: u16, text: String| {
            op.responses.responses.entry(status.to_string()).or_insert_with(|| {
                RefOr::T(
                    ResponseBuilder::new()
                        .description(text)
                        .content(
                            crate::error::PROBLEM_JSON,
                            ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
                        )
                        .build(),
                )
            });
        };
        if secured {
            add(401, "Missing, unknown or revoked API key.".into());
            add(403, "The key lacks the scope this operation needs, or names another tenant.".into());
        }
        if let Some(json) = body {
            add(400, "A bad or empty body; `field` names the member.".into());
            add(413, format!("The body is over this route's limit of {}.", human(body_limit(path))));
            if json {
                add(415, "The body is not sent as `application/json`.".into());
            }
        }
        if params.iter().any(|p| matches!(p, ParameterIn::Path)) {
            add(400, "A path parameter does not parse; `field` names it.".into());
            add(404, "No such resource for this caller.".into());
        }
        if params.iter().any(|p| matches!(p, ParameterIn::Query)) {
            add(400, "A query parameter does not parse; `field` names it.".into());
        }
        add(408, "The request took too long; repeat it (decisions are idempotent by event id).".into());
        add(503, "Busy or unavailable; retry after the `Retry-After` seconds.".into());
        if optional && let Some(RefOr::T(b)) = op.request_body.as_mut() {
            b.required = Some(Required::False);
        }
    }
}

/// What a route's request body must be.
#[derive(Debug, Clone, Copy)]
struct BodyRule {
    json: bool,
    secured: bool,
    required: bool,
    limit: usize,
}

/// The request-body rules of every documented operation, keyed by method and path template.
#[derive(Debug, Default)]
pub struct Bodies(HashMap<(Method, String), BodyRule>);

impl Bodies {
    /// The rules the (already [`document`]ed) `doc` declares.
    pub fn of(doc: &OpenApi) -> Bodies {
        let mut doc = doc.clone();
        let mut map = HashMap::new();
        for (method, path, op) in operations(&mut doc) {
            if let Some(b) = body_of(op) {
                let rule = BodyRule {
                    json: b.content.contains_key("application/json"),
                    secured: op.security.as_ref().is_some_and(|s| !s.is_empty()),
                    required: !matches!(b.required, Some(Required::False)),
                    limit: body_limit(path),
                };
                map.insert((method, path.clone()), rule);
            }
        }
        Bodies(map)
    }
}

/// Middleware (a route layer of the API, so the matched path is known): refuses a body of the
/// wrong content type (415) or an empty one where one is required (400), and turns a 413 into
/// a problem that states the route's limit.
pub async fn enforce(State(bodies): State<Arc<Bodies>>, req: Request, next: Next) -> Response {
    let rule = req
        .extensions()
        .get::<MatchedPath>()
        .and_then(|p| bodies.0.get(&(req.method().clone(), p.as_str().to_string())))
        .copied();
    let Some(rule) = rule else { return next.run(req).await };
    let headers = req.headers();
    // Who is asking comes first: without a key the handler answers 401 whatever the body.
    if rule.secured && !headers.contains_key(header::AUTHORIZATION) {
        return next.run(req).await;
    }
    if rule.json
        && let Some(ct) = headers.get(header::CONTENT_TYPE)
    {
        let media = ct.to_str().unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if media != "application/json" && !media.ends_with("+json") {
            return ApiError::UnsupportedMediaType(
                "this route reads JSON: send the body with `Content-Type: application/json`".into(),
            )
            .into_response();
        }
    }
    let length = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let chunked = headers.contains_key(header::TRANSFER_ENCODING);
    if rule.required && (length == Some(0) || (length.is_none() && !chunked)) {
        let what = if rule.json { "a JSON object" } else { "the document" };
        return ApiError::BadRequest { field: ".".into(), message: format!("the request body is empty; send {what}") }
            .into_response();
    }
    let res = next.run(req).await;
    if res.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::TooLarge(format!("the body is over this route's limit of {}", human(rule.limit)))
            .into_response();
    }
    res
}
