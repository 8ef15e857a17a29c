//! The API's one error type, [`ApiError`], and the one place it becomes an HTTP response: an
//! RFC 9457 problem (`application/problem+json`) with `type`, `title`, `status`, `detail`, the
//! bad `field` for a 400 and the `diagnostics` for a 422. Handlers return `ApiError` with `?`;
//! errors produced outside the handlers (unknown route, wrong method, timeout) are rewritten
//! into the same shape by [`problem_layer`], so a client sees one format for every error
//! (pages rendered for people, such as the report form's 429, stay pages).

use crate::wire::{DiagnosticBody, LineError, Problem};
use app::AppError;
use axum::extract::Request;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use domain::EventError;

/// Content type of every error response.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Why a request failed.
#[derive(Debug)]
pub enum ApiError {
    /// A use case failed.
    App(AppError),
    /// An event JSON was rejected: the field and why.
    Event(EventError),
    /// A request body or parameter is malformed: the JSON path of the bad field and why.
    BadRequest {
        /// JSON path such as `version`, or `.` for the whole body.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The body is larger than the route accepts.
    TooLarge(String),
    /// The body's content type is not the one the route reads (for example, not JSON).
    UnsupportedMediaType(String),
    /// A rate limit of the public channel is spent: why, and the seconds until a unit returns.
    TooManyRequests {
        /// Why.
        detail: String,
        /// Seconds until the budget has room again (the `Retry-After` header).
        retry_after_secs: u64,
    },
    /// A ruleset that does not compile, with its source (to locate and render diagnostics).
    Rules {
        /// The diagnostics.
        diagnostics: Vec<rules::Diagnostic>,
        /// The text they were raised on.
        source: String,
    },
    /// An error status produced outside the handlers (unknown route, wrong method, timeout).
    Status(StatusCode),
    /// Bad lines of an uploaded file: `(1-based line, message)`; nothing was applied.
    Lines(Vec<(usize, String)>),
    /// A bug or a failed task.
    Internal(String),
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError::App(e)
    }
}

impl From<EventError> for ApiError {
    fn from(e: EventError) -> Self {
        ApiError::Event(e)
    }
}

impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(r.body_text())
        } else {
            ApiError::BadRequest { field: ".".into(), message: r.body_text() }
        }
    }
}

fn problem(status: StatusCode, slug: &str, title: &str, detail: impl Into<String>) -> Problem {
    Problem {
        kind: format!("urn:ansim:problem:{slug}"),
        title: title.into(),
        status: status.as_u16(),
        detail: detail.into(),
        field: None,
        diagnostics: None,
        errors: None,
    }
}

impl ApiError {
    /// The problem this error is shown as: the one mapping from errors to HTTP statuses. Its
    /// detail and field are scrubbed ([`tidy`]) here, so every problem a client sees is (a batch's
    /// per-event results too, not only whole responses).
    pub fn problem(&self) -> Problem {
        let mut p = self.unscrubbed();
        p.detail = tidy(&p.detail);
        p.field = p.field.as_deref().map(|f| shorten(f, 100));
        p
    }

    fn unscrubbed(&self) -> Problem {
        use StatusCode as S;
        match self {
            ApiError::App(e) => match e {
                AppError::Unauthorized => problem(S::UNAUTHORIZED, "unauthorized", "Unauthorized", e.to_string()),
                AppError::Forbidden(_) => problem(S::FORBIDDEN, "forbidden", "Forbidden", e.to_string()),
                AppError::NotFound(_) => problem(S::NOT_FOUND, "not-found", "Not found", e.to_string()),
                AppError::Invalid { field, message } => Problem {
                    field: Some(field.clone()),
                    ..problem(S::BAD_REQUEST, "invalid-request", "Invalid request", format!("{field}: {message}"))
                },
                AppError::Rules(d) => Problem {
                    diagnostics: Some(DiagnosticBody::all(d, "")),
                    ..problem(S::UNPROCESSABLE_ENTITY, "invalid-ruleset", "Invalid ruleset", e.to_string())
                },
                AppError::Conflict(_) => problem(S::CONFLICT, "conflict", "Conflict", e.to_string()),
                AppError::Unavailable(_) => {
                    problem(S::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable", e.to_string())
                }
                AppError::Overloaded(_) => problem(S::SERVICE_UNAVAILABLE, "overloaded", "Busy", e.to_string()),
            },
            ApiError::Event(e) => {
                let field = member(&e.field, &e.message);
                Problem {
                    detail: format!("{field}: {}", e.message),
                    field: Some(field),
                    ..problem(S::BAD_REQUEST, "invalid-event", "Invalid event", "")
                }
            }
            ApiError::BadRequest { field, message } => Problem {
                field: Some(field.clone()),
                ..problem(S::BAD_REQUEST, "invalid-request", "Invalid request", format!("{field}: {message}"))
            },
            ApiError::Lines(lines) => Problem {
                errors: Some(
                    lines.iter().map(|(line, message)| LineError { line: *line, message: message.clone() }).collect(),
                ),
                ..problem(
                    S::BAD_REQUEST,
                    "invalid-rows",
                    "Invalid rows",
                    format!(
                        "{} bad row(s), first at line {}; nothing was imported",
                        lines.len(),
                        lines.first().map_or(0, |l| l.0)
                    ),
                )
            },
            ApiError::TooLarge(detail) => problem(S::PAYLOAD_TOO_LARGE, "too-large", "Payload too large", detail),
            ApiError::UnsupportedMediaType(detail) => {
                problem(S::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "Unsupported media type", detail)
            }
            ApiError::TooManyRequests { detail, .. } => {
                problem(S::TOO_MANY_REQUESTS, "too-many-requests", "Too many requests", detail)
            }
            ApiError::Rules { diagnostics, source } => Problem {
                diagnostics: Some(DiagnosticBody::all(diagnostics, source)),
                ..problem(
                    S::UNPROCESSABLE_ENTITY,
                    "invalid-ruleset",
                    "Invalid ruleset",
                    format!("the ruleset has {} error(s); nothing was published", diagnostics.len()),
                )
            },
            ApiError::Status(s) => {
                let (slug, detail) = match *s {
                    S::NOT_FOUND => ("not-found", "no such route"),
                    S::METHOD_NOT_ALLOWED => ("method-not-allowed", "this route does not accept that method"),
                    S::REQUEST_TIMEOUT => ("timeout", "the request took too long; retry with the same event id"),
                    S::PAYLOAD_TOO_LARGE => ("too-large", "the request body is too large"),
                    S::SERVICE_UNAVAILABLE => ("unavailable", "the service is unavailable; retry later"),
                    s if s.is_client_error() => ("invalid-request", "the request was rejected"),
                    _ => ("internal", "the server failed"),
                };
                problem(*s, slug, s.canonical_reason().unwrap_or("Error"), detail)
            }
            ApiError::Internal(m) => problem(S::INTERNAL_SERVER_ERROR, "internal", "Internal server error", m),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let p = self.problem();
        let retry_after = match &self {
            ApiError::TooManyRequests { retry_after_secs, .. } => Some(*retry_after_secs),
            _ => None,
        };
        let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::warn!(status = p.status, detail = %p.detail, "request failed");
        }
        let body = serde_json::to_vec(&p).unwrap_or_default();
        let mut res = (status, [(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON))], body).into_response();
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        // A busy server says when to come back; the request may be repeated with the same id.
        if status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if let Some(secs) = retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

/// Shortens `s` to at most `max` characters, marking the cut.
fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

/// A problem's detail in a client's terms: never a long input echoed back (a quoted or
/// back-ticked run over 60 characters is cut), never a Rust type name, at most 300 characters.
pub(crate) fn tidy(detail: &str) -> String {
    let mut out = String::with_capacity(detail.len().min(400));
    let mut quote: Option<char> = None;
    let mut run = 0usize;
    for c in detail.chars() {
        match quote {
            Some(q) if c == q => {
                quote = None;
                out.push(c);
            }
            Some(_) => {
                run += 1;
                if run <= 60 {
                    out.push(c);
                } else if run == 61 {
                    out.push('…');
                }
            }
            None => {
                if c == '`' || c == '"' {
                    quote = Some(c);
                    run = 0;
                }
                out.push(c);
            }
        }
    }
    shorten(&plain_names(&out), 300)
}

/// serde names a struct by its Rust name (`struct Transfer`, `struct EventWire with 16
/// elements`); a client reads "an object".
fn plain_names(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("struct ") {
        out.push_str(&rest[..i]);
        out.push_str("an object");
        let after = &rest[i + "struct ".len()..];
        let name = after.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(after.len());
        rest = &after[name..];
        if let Some(n) = rest.strip_prefix(" with ").and_then(|r| r.split_once(" elements"))
            && !n.0.is_empty()
            && n.0.bytes().all(|b| b.is_ascii_digit())
        {
            rest = n.1;
        }
    }
    out.push_str(rest);
    out
}

/// Middleware: rewrites an error response that is not already a problem (axum's 405, the
/// timeout layer's 408, ...) into one, keeping its status and headers such as `Allow`.
pub async fn problem_layer(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    // A problem is already in shape; an HTML page is one a handler rendered for a person.
    let keep = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == PROBLEM_JSON.as_bytes() || v.as_bytes().starts_with(b"text/html"));
    if !(status.is_client_error() || status.is_server_error()) || keep {
        return res;
    }
    let (mut parts, _) = res.into_parts();
    let fresh = ApiError::Status(status).into_response();
    let (fresh_parts, body) = fresh.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    for (k, v) in &fresh_parts.headers {
        parts.headers.insert(k.clone(), v.clone());
    }
    Response::from_parts(parts, body)
}

/// The path of the bad field. serde reports a missing member at the object that lacks it
/// (`transfer`); the client needs the member itself (`transfer.amount`).
fn member(path: &str, message: &str) -> String {
    let missing = message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next());
    match missing {
        Some(name) if path == "." || path.is_empty() => name.to_string(),
        Some(name) => format!("{path}.{name}"),
        None => path.to_string(),
    }
}

/// Parses a JSON body into `T`, naming the bad field on failure. Structs are read from JSON
/// objects only (a positional array such as `[null,null]` is refused at every depth). An empty
/// body never gets here: the `Body` extractor every handler reads through refuses it.
pub fn parse_json<'de, T: serde::Deserialize<'de>>(body: &'de [u8]) -> Result<T, ApiError> {
    domain::strict::from_json(body)
        .map_err(|(path, message)| ApiError::BadRequest { field: member(&path, &message), message })
}

/// The body as UTF-8 text.
pub fn utf8(body: &[u8]) -> Result<&str, ApiError> {
    std::str::from_utf8(body)
        .map_err(|e| ApiError::BadRequest { field: ".".into(), message: format!("the body is not UTF-8: {e}") })
}

#[cfg(test)]
mod tests {
    use super::{plain_names, tidy};

    #[test]
    fn rust_names_and_long_inputs_are_not_shown() {
        assert_eq!(
            plain_names("invalid length 2, expected struct EventWire with 16 elements at line 1"),
            "invalid length 2, expected an object at line 1"
        );
        assert_eq!(plain_names("expected struct Transfer"), "expected an object");
        assert_eq!(plain_names("no names here"), "no names here");
        let long = tidy(&format!("unknown variant `{}`, expected one of `a`", "k".repeat(500)));
        assert!(long.len() < 120 && long.contains('…') && long.ends_with("expected one of `a`"), "{long}");
    }
}
