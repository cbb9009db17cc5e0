//! Extractors that turn every rejection into a problem document, and the bearer-token
//! authentication of API requests.

use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::header;
use axum::http::request::Parts;
use axum::Json;
use serde::de::DeserializeOwned;
use tollgate_service::Principal;

use crate::error::ApiError;
use crate::AppState;

/// A JSON body; rejections become `malformed_json`, `invalid_body`, `payload_too_large` or
/// `unsupported_media_type` problems naming the field.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<JsonBody<T>, ApiError> {
        let Json(value) = Json::<T>::from_request(request, state).await?;
        Ok(JsonBody(value))
    }
}

/// Query parameters; rejections become `invalid_query` problems.
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<QueryParams<T>, ApiError> {
        let Query(value) = Query::<T>::from_request_parts(parts, state).await?;
        Ok(QueryParams(value))
    }
}

/// Path parameters; rejections (a segment that does not decode) become `validation_failed`
/// problems.
pub struct PathParam<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for PathParam<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<PathParam<T>, ApiError> {
        let Path(value) = Path::<T>::from_request_parts(parts, state).await?;
        Ok(PathParam(value))
    }
}

/// The authenticated caller of an API request: `Authorization: Bearer <token>`, or HTTP Basic
/// with the token as the password (any user name), which calendar applications subscribing to
/// the `.ics` export send.
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Auth, ApiError> {
        let header_value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::new("unauthenticated", "missing Authorization: Bearer token"))?;
        let token = header_value
            .to_str()
            .ok()
            .and_then(|value| match value.strip_prefix("Basic ") {
                Some(credentials) => basic_password(credentials),
                None => value.strip_prefix("Bearer ").map(str::to_owned),
            })
            .ok_or_else(|| {
                ApiError::new(
                    "unauthenticated",
                    "the Authorization header is neither a Bearer token nor Basic credentials with a token as the password",
                )
            })?;
        let request_id = parts.headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let principal = state.tollgate.authenticate(token.trim(), request_id).await?;
        Ok(Auth(principal))
    }
}

/// The password of HTTP Basic credentials (`base64(user:password)`), if they decode.
fn basic_password(credentials: &str) -> Option<String> {
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD.decode(credentials.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (_, password) = text.split_once(':')?;
    Some(password.to_owned())
}
