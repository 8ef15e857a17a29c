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
