//! Users and API tokens.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use tollgate_core::token::{ApiToken, TokenId};
use tollgate_core::user::{User, UserInput};
use utoipa::ToSchema;

use crate::api::problem::{problems, JSON_BODY, PATH};
use crate::api::{parse_time, schema};
use crate::error::ApiError;
use crate::extract::{Auth, JsonBody, PathParam};
use crate::AppState;

/// The most entries of `roles` in a request, as the document states.
const MAX_ROLES: usize = 8;

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserRequest {
    /// Login name.
    #[schema(value_type = schema::Name)]
    pub name: String,
    #[schema(value_type = Option<schema::DisplayName>)]
    pub display_name: Option<String>,
    /// One role; `member` stands for developer and deployer. With neither `role` nor `roles`,
    /// the user is a member.
    #[schema(value_type = Option<schema::Role>)]
    pub role: Option<String>,
    /// Several roles (`member` stands for developer and deployer); joined with `role`.
    #[schema(value_type = Option<Vec<schema::Role>>, max_items = 8)]
    pub roles: Option<Vec<String>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserResponse {
    #[schema(value_type = schema::Name)]
    pub name: String,
    #[schema(value_type = schema::DisplayName)]
    pub display_name: String,
    /// The roles the user holds.
    #[schema(value_type = Vec<schema::HeldRole>)]
    pub roles: Vec<String>,
    /// The one role name that stands for `roles` (`member` for developer and deployer), for
    /// clients of earlier versions; absent when no single name does.
    #[schema(value_type = Option<schema::Role>)]
    pub role: Option<String>,
}

impl From<User> for UserResponse {
    fn from(user: User) -> UserResponse {
        let role = if user.roles == tollgate_core::user::member_roles() {
            Some(tollgate_core::user::MEMBER.to_owned())
        } else if user.roles.len() == 1 {
            user.roles.iter().next().map(ToString::to_string)
        } else {
            None
        };
        UserResponse {
            name: user.name.to_string(),
            display_name: user.display_name,
            roles: user.roles.iter().map(ToString::to_string).collect(),
            role,
        }
    }
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Whose token; yourself when absent. Only an admin issues tokens for others.
    #[schema(value_type = Option<schema::Name>)]
    pub user: Option<String>,
    #[schema(value_type = Option<schema::TokenDescription>)]
    pub description: Option<String>,
    /// When the token stops working, in the future; never when absent.
    #[schema(value_type = Option<schema::Timestamp>)]
    pub expires_at: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    #[schema(value_type = schema::Id)]
    pub id: i64,
    #[schema(value_type = schema::Name)]
    pub user: String,
    #[schema(value_type = schema::TokenDescription)]
    pub description: String,
    /// The first characters of the secret, to recognise it.
    pub prefix: String,
    #[schema(value_type = schema::Timestamp)]
    pub created_at: jiff::Timestamp,
    #[schema(value_type = Option<schema::Timestamp>)]
    pub expires_at: Option<jiff::Timestamp>,
    #[schema(value_type = Option<schema::Timestamp>)]
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

problems!(CreateUserProblems, [JSON_BODY, &["forbidden", "conflict", "validation_failed"]]);

/// Only an admin creates users.
#[utoipa::path(post, path = "/users", tag = "users", request_body = UserRequest,
    responses((status = 201, body = UserResponse), CreateUserProblems))]
pub async fn create_user(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(request): JsonBody<UserRequest>,
) -> Result<(StatusCode, Json<UserResponse>), ApiError> {
    if request.roles.as_ref().is_some_and(|roles| roles.len() > MAX_ROLES) {
        return Err(ApiError::validation("roles", format!("at most {MAX_ROLES} role names")));
    }
    let roles = request.role.into_iter().chain(request.roles.unwrap_or_default()).collect();
    let input = UserInput { name: request.name, display_name: request.display_name, roles };
    let user = state.tollgate.create_user(&principal, input).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordRequest {
    /// The new password for the web UI: 12 to 256 characters.
    #[schema(min_length = 12, max_length = 256)]
    pub password: String,
}

impl std::fmt::Debug for PasswordRequest {
    // Written by hand: never print the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordRequest { .. }")
    }
}

problems!(SetPasswordProblems, [JSON_BODY, PATH, &["forbidden", "user_not_found", "validation_failed", "busy"]]);

/// Sets the password a user signs in to the web UI with: your own, or anyone's as an admin.
/// The password is stored as an argon2id hash; the audit log records that it was set.
#[utoipa::path(put, path = "/users/{name}/password", tag = "users", request_body = PasswordRequest,
    params(("name" = schema::Name, Path, description = "User name")),
    responses((status = 204, description = "The password is set"), SetPasswordProblems))]
pub async fn set_password(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(name): PathParam<String>,
    JsonBody(request): JsonBody<PasswordRequest>,
) -> Result<StatusCode, ApiError> {
    let password = tollgate_service::session::Password(request.password);
    state.tollgate.set_password(&principal, &name, &password).await?;
    Ok(StatusCode::NO_CONTENT)
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

problems!(
    CreateTokenProblems,
    [JSON_BODY, &["forbidden", "user_not_found", "validation_failed", "token_outlives_parent"],]
);

#[utoipa::path(post, path = "/tokens", tag = "tokens", request_body = TokenRequest,
    responses((status = 201, body = IssuedTokenResponse), CreateTokenProblems))]
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

problems!(RevokeTokenProblems, [PATH, &["forbidden", "token_not_found", "conflict"]]);

/// Your own token, or anyone's for an admin; 409 when it is revoked already.
#[utoipa::path(delete, path = "/tokens/{id}", tag = "tokens", params(("id" = schema::Id, Path, description = "Token id")),
    responses((status = 200, body = TokenResponse, description = "The revoked token"), RevokeTokenProblems))]
pub async fn revoke_token(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(id): PathParam<String>,
) -> Result<Json<TokenResponse>, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::validation("id", format!("{id:?} is not a token id")))?;
    let token = state.tollgate.revoke_token(&principal, TokenId(id)).await?;
    Ok(Json(token.into()))
}
