//! The API's contract in one place, documented and enforced from the same facts.
//!
//! The statuses every operation can answer for reasons outside its own handler — a missing or
//! revoked key (401), a key without the scope (403), a malformed, empty, oversized or
//! wrongly-typed body (400, 413, 415), a path or query value that does not parse (400), the
//! request timeout (408) and a busy server (503) — are added to the OpenAPI document here,
//! from what each operation declares (security, request body, parameters), rather than by
//! hand on thirty operations where one would be forgotten. The body rules themselves are enforced
//! by the `Body` extractor every handler with a body reads it through (`extract.rs`): a non-JSON
//! content type on a JSON route is a 415, an empty required body a 400, and a 413 states the
//! route's limit from [`body_limit`], the same function this document's 413s quote.

use axum::http::Method;
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
pub(crate) fn human(bytes: usize) -> String {
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
