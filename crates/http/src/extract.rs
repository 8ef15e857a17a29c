//! What every handler starts from: the shared server state, the authenticated caller, and the
//! way to run a use case that touches the store. Its own module so that the API's handlers
//! and the report channel's both use it without importing each other.
//!
//! Nothing here blocks the executor: a key found in the app's cache resolves at once; a key
//! seen for the first time is looked up in the store on a blocking thread.

use crate::Server;
use crate::error::ApiError;
use app::{App, AppError, Principal};
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use std::sync::Arc;

/// The state every handler receives.
pub(crate) type S = Arc<Server>;

/// The authenticated caller.
pub struct Caller(pub Principal);

/// The key of an `Authorization: Bearer <key>` header, if there is one.
pub(crate) fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
}

/// Resolves a bearer key: from the cache on the executor, else from the store on a blocking
/// thread.
pub(crate) async fn principal(s: &S, key: &str) -> Result<Principal, ApiError> {
    if let Some(p) = s.app.cached_principal(key) {
        return Ok(p);
    }
    let key = key.to_string();
    blocking(s, move |app| app.authenticate(&key)).await
}

impl FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &S) -> Result<Self, ApiError> {
        let key = bearer(&parts.headers).ok_or(AppError::Unauthorized)?;
        Ok(Caller(principal(s, key).await?))
    }
}

/// Runs a store-touching use case on a blocking thread.
pub(crate) async fn blocking<T: Send + 'static>(
    s: &S,
    f: impl FnOnce(&App) -> Result<T, AppError> + Send + 'static,
) -> Result<T, ApiError> {
    let app = Arc::clone(&s.app);
    tokio::task::spawn_blocking(move || f(&app))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(Into::into)
}

/// A path parameter, refused by name when it does not parse (`id: must be a whole number…`).
pub(crate) struct ApiPath<T>(pub T);

impl<T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &S) -> Result<Self, ApiError> {
        use axum::extract::path::ErrorKind;
        use axum::extract::rejection::PathRejection;
        match axum::extract::Path::<T>::from_request_parts(parts, s).await {
            Ok(p) => Ok(ApiPath(p.0)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                // A lone parameter's error carries no name: it is the route's only one.
                let only = match axum::extract::RawPathParams::from_request_parts(parts, s).await {
                    Ok(raw) => raw.iter().next().map(|(k, _)| k.to_string()),
                    Err(_) => None,
                };
                let (field, expected) = match e.kind() {
                    ErrorKind::ParseErrorAtKey { key, expected_type, .. } => (key.clone(), *expected_type),
                    ErrorKind::ParseError { expected_type, .. } => {
                        (only.unwrap_or_else(|| "path".into()), *expected_type)
                    }
                    _ => (only.unwrap_or_else(|| "path".into()), ""),
                };
                let message = match expected {
                    "i64" | "u64" | "i32" | "u32" | "usize" => {
                        format!("must be a whole number from 0 to {}", i64::MAX)
                    }
                    _ => "is not valid here".to_string(),
                };
                Err(ApiError::BadRequest { field, message })
            }
            Err(other) => Err(ApiError::BadRequest { field: "path".into(), message: other.body_text() }),
        }
    }
}

/// Query parameters, refused by name when one does not parse (`limit: invalid digit…`).
pub(crate) struct ApiQuery<T>(pub T);

impl<T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, s).await {
            Ok(q) => Ok(ApiQuery(q.0)),
            Err(e) => {
                // "Failed to deserialize query string: limit: invalid digit found in string"
                let text = e.body_text();
                let rest = text.split_once(": ").map_or(text.as_str(), |(_, r)| r);
                let (field, message) = match rest.split_once(": ") {
                    Some((f, m)) if !f.contains(' ') => (f.to_string(), m.to_string()),
                    _ => ("query".to_string(), rest.to_string()),
                };
                let message = match message.as_str() {
                    "invalid digit found in string"
                    | "cannot parse integer from empty string"
                    | "number too large to fit in target type" => "must be a whole number in range".to_string(),
                    _ => message,
                };
                Err(ApiError::BadRequest { field, message })
            }
        }
    }
}

/// A numeric query parameter within `min..=max`, refused by name otherwise.
pub(crate) fn in_range(field: &str, v: Option<usize>, min: usize, max: usize) -> Result<Option<usize>, ApiError> {
    match v {
        Some(n) if !(min..=max).contains(&n) => {
            Err(ApiError::BadRequest { field: field.into(), message: format!("must be {min} to {max}, got {n}") })
        }
        v => Ok(v),
    }
}

/// A request body as the route's contract says it must come: for `JSON`, sent as
/// `application/json` (or `+json`; a missing content type is taken as JSON) or refused with 415;
/// when `REQUIRED`, not empty (400); over the route's limit, a 413 that states the limit. An
/// extractor rather than a middleware: it runs after the key is checked (so a request without
/// one is a 401 whatever its body), and costs the request path nothing beyond the checks.
pub(crate) struct Body<const JSON: bool, const REQUIRED: bool>(pub axum::body::Bytes);

/// A JSON body that must be present.
pub(crate) type JsonBody = Body<true, true>;
/// A text document (TOML, CSV) that must be present.
pub(crate) type TextBody = Body<false, true>;
/// A text document that may be empty (publishing the saved draft).
pub(crate) type OptionalTextBody = Body<false, false>;

impl<const JSON: bool, const REQUIRED: bool> axum::extract::FromRequest<S> for Body<JSON, REQUIRED> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, s: &S) -> Result<Self, ApiError> {
        if JSON && let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
            let media = ct.to_str().unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            if media != "application/json" && !media.ends_with("+json") {
                return Err(ApiError::UnsupportedMediaType(
                    "this route reads JSON: send the body with `Content-Type: application/json`".into(),
                ));
            }
        }
        let path = req.extensions().get::<axum::extract::MatchedPath>().map(|p| p.as_str().to_string());
        let bytes = axum::body::Bytes::from_request(req, s).await.map_err(|r| {
            if r.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                let limit = crate::contract::body_limit(path.as_deref().unwrap_or(""));
                ApiError::TooLarge(format!("the body is over this route's limit of {}", crate::contract::human(limit)))
            } else {
                ApiError::from(r)
            }
        })?;
        if REQUIRED && bytes.iter().all(u8::is_ascii_whitespace) {
            let what = if JSON { "a JSON object" } else { "the document" };
            return Err(ApiError::BadRequest {
                field: ".".into(),
                message: format!("the request body is empty; send {what}"),
            });
        }
        Ok(Body(bytes))
    }
}
