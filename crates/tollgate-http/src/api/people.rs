//! Users and API tokens.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use tollgate_core::token::{ApiToken, TokenId};
use tollgate_core::user::{User, UserInput};
use utoipa::ToSchema;

use crate::api::parse_time;
use crate::error::{ApiError, Problem};
use crate::extract::{Auth, JsonBody};
use crate::AppState;

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserRequest {
    /// Login name: lower-case letters, digits and dashes.
    pub name: String,
    pub display_name: Option<String>,
    /// `viewer`, `member` (default) or `admin`.
    pub role: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserResponse {
    pub name: String,
    pub display_name: String,
    pub role: String,
}

impl From<User> for UserResponse {
    fn from(user: User) -> UserResponse {
        UserResponse { name: user.name.to_string(), display_name: user.display_name, role: user.role.to_string() }
    }
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Whose token; yourself when absent. Only an admin issues tokens for others.
    pub user: Option<String>,
    pub description: Option<String>,
    /// When the token stops working (RFC 3339); never when absent.
    pub expires_at: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    pub id: i64,
    pub user: String,
    pub description: String,
    /// The first characters of the secret, to recognise it.
    pub prefix: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<jiff::Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<jiff::Timestamp>,
}

impl From<ApiToken> for TokenResponse {
    fn from(token: ApiToken) -> TokenResponse {
        TokenResponse {
            id: token.id.0,
            user: token.user.to_string(),
            description: token.description,
            prefix: token.prefix,
            created_at: token.created_at,
            expires_at: token.expires_at,
            revoked_at: token.revoked_at,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IssuedTokenResponse {
    pub token: TokenResponse,
    /// The secret. Shown only in this response; store it now.
    pub secret: String,
}

#[utoipa::path(get, path = "/users", tag = "users", responses((status = 200, body = [UserResponse])))]
pub async fn list_users(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> Result<Json<Vec<UserResponse>>, ApiError> {
    let users = state.tollgate.list_users(&principal).await?;
    Ok(Json(users.into_iter().map(UserResponse::from).collect()))
}

#[utoipa::path(post, path = "/users", tag = "users", request_body = UserRequest,
    responses((status = 201, body = UserResponse), (status = 403, body = Problem, description = "Only admins create users"), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_user(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(request): JsonBody<UserRequest>,
) -> Result<(StatusCode, Json<UserResponse>), ApiError> {
    let input = UserInput { name: request.name, display_name: request.display_name, role: request.role };
    let user = state.tollgate.create_user(&principal, input).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

#[utoipa::path(get, path = "/users/me", tag = "users", responses((status = 200, body = UserResponse)))]
pub async fn me(Auth(principal): Auth) -> Json<UserResponse> {
    Json(principal.user.into())
}

#[utoipa::path(get, path = "/tokens", tag = "tokens", responses((status = 200, body = [TokenResponse], description = "All tokens for an admin, your own otherwise")))]
pub async fn list_tokens(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> Result<Json<Vec<TokenResponse>>, ApiError> {
    let tokens = state.tollgate.list_tokens(&principal).await?;
    Ok(Json(tokens.into_iter().map(TokenResponse::from).collect()))
}

#[utoipa::path(post, path = "/tokens", tag = "tokens", request_body = TokenRequest,
    responses((status = 201, body = IssuedTokenResponse), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create_token(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(request): JsonBody<TokenRequest>,
) -> Result<(StatusCode, Json<IssuedTokenResponse>), ApiError> {
    let expires_at = parse_time("expires_at", request.expires_at.as_deref())?;
    let user = request.user.unwrap_or_else(|| principal.user.name.to_string());
    let issued = state
        .tollgate
        .create_token(&principal, &user, request.description.as_deref().unwrap_or(""), expires_at)
        .await?;
    let response = IssuedTokenResponse { token: issued.token.into(), secret: issued.secret.expose().to_owned() };
    Ok((StatusCode::CREATED, Json(response)))
}

#[utoipa::path(delete, path = "/tokens/{id}", tag = "tokens", params(("id" = i64, Path, description = "Token id")),
    responses((status = 200, body = TokenResponse, description = "The revoked token"), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<Json<TokenResponse>, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::validation("id", format!("{id:?} is not a token id")))?;
    let token = state.tollgate.revoke_token(&principal, TokenId(id)).await?;
    Ok(Json(token.into()))
}
