//! Authorization: just-in-time grants, the user Cedar policies, and `check` (why a request
//! would be allowed or denied).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use tollgate_core::authz::{GrantId, GrantInput, JitGrant, PolicyFileRecord};
use tollgate_service::authz::CheckInput;
use utoipa::ToSchema;

use crate::api::problem::{problems, JSON_BODY, PATH};
use crate::api::schema;
use crate::error::ApiError;
use crate::extract::{Auth, JsonBody, PathParam};
use crate::AppState;

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantRequest {
    /// Who is elevated (never yourself).
    #[schema(value_type = schema::Name)]
    pub user: String,
    /// The role granted (not admin).
    #[schema(value_type = schema::HeldRole)]
    pub role: String,
    /// Where the role counts.
    #[schema(value_type = schema::Name)]
    pub environment: String,
    /// How long the grant lasts, in seconds: one minute to one day.
    #[schema(minimum = 60, maximum = 86400)]
    pub duration_seconds: i64,
    /// Why: on record with the grant.
    #[schema(value_type = schema::GrantReason)]
    pub reason: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GrantResponse {
    #[schema(value_type = schema::Id)]
    pub id: i64,
    #[schema(value_type = schema::Name)]
    pub user: String,
    #[schema(value_type = schema::HeldRole)]
    pub role: String,
    #[schema(value_type = schema::Name)]
    pub environment: String,
    pub reason: String,
    #[schema(value_type = schema::Name)]
    pub granted_by: String,
    #[schema(value_type = schema::Timestamp)]
    pub not_before: jiff::Timestamp,
    /// The grant stops counting at this instant, by itself.
    #[schema(value_type = schema::Timestamp)]
    pub expires_at: jiff::Timestamp,
    #[schema(value_type = Option<schema::Timestamp>)]
    pub revoked_at: Option<jiff::Timestamp>,
    #[schema(value_type = Option<schema::Name>)]
    pub revoked_by: Option<String>,
}

impl From<JitGrant> for GrantResponse {
    fn from(grant: JitGrant) -> GrantResponse {
        GrantResponse {
            id: grant.id.0,
            user: grant.user.to_string(),
            role: grant.role.to_string(),
            environment: grant.environment.to_string(),
            reason: grant.reason,
            granted_by: grant.granted_by.to_string(),
            not_before: grant.not_before,
            expires_at: grant.expires_at,
            revoked_at: grant.revoked_at,
            revoked_by: grant.revoked_by.map(|user| user.to_string()),
        }
    }
}

#[utoipa::path(get, path = "/authz/grants", tag = "authorization",
    responses((status = 200, body = [GrantResponse], description = "Grants not yet expired: everyone's for auditors and admins, your own otherwise")))]
pub async fn list_grants(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> Result<Json<Vec<GrantResponse>>, ApiError> {
    let grants = state.tollgate.list_grants(&principal).await?;
    Ok(Json(grants.into_iter().map(GrantResponse::from).collect()))
}

problems!(CreateGrantProblems, [JSON_BODY, &["forbidden", "validation_failed"]]);

/// Grants a user a role in an environment for a while (`jit.grant`; admins by default, never
/// to oneself). Audited; it expires by itself.
#[utoipa::path(post, path = "/authz/grants", tag = "authorization", request_body = GrantRequest,
    responses((status = 201, body = GrantResponse), CreateGrantProblems))]
pub async fn create_grant(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(request): JsonBody<GrantRequest>,
) -> Result<(StatusCode, Json<GrantResponse>), ApiError> {
    let input = GrantInput {
        user: request.user,
        role: request.role,
        environment: request.environment,
        seconds: request.duration_seconds,
        reason: request.reason,
    };
    let grant = state.tollgate.grant(&principal, input).await?;
    Ok((StatusCode::CREATED, Json(grant.into())))
}

problems!(RevokeGrantProblems, [PATH, &["forbidden", "grant_not_found", "conflict"]]);

/// Revokes a grant before it expires (`jit.revoke`); 409 when it is revoked already.
#[utoipa::path(delete, path = "/authz/grants/{id}", tag = "authorization",
    params(("id" = schema::Id, Path, description = "Grant id")),
    responses((status = 200, body = GrantResponse, description = "The revoked grant"), RevokeGrantProblems))]
pub async fn revoke_grant(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(id): PathParam<String>,
) -> Result<Json<GrantResponse>, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::validation("id", format!("{id:?} is not a grant id")))?;
    let grant = state.tollgate.revoke_grant(&principal, GrantId(id), None).await?;
    Ok(Json(grant.into()))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthzPolicyFile {
    /// The file's name, for errors and the policies' origin.
    #[schema(value_type = schema::PolicyFileName)]
    pub name: String,
    /// Cedar policies, each with an `@id("...")` annotation and optionally `@reason("...")`.
    #[schema(value_type = schema::PolicyText)]
    pub text: String,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthzPoliciesRequest {
    /// The whole set of user policy files; it replaces the set in force (empty removes them).
    #[schema(max_items = 64)]
    pub files: Vec<AuthzPolicyFile>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuthzPolicyResponse {
    pub id: String,
    /// `permit` or `forbid`.
    pub effect: String,
    pub reason: String,
    /// `built_in` or `user`.
    pub source: String,
    /// The file of a user policy.
    pub file: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuthzPolicyVersionResponse {
    pub sequence: i64,
    /// SHA-256 (hex) of the canonical JSON of the files.
    pub sha256: String,
    #[schema(value_type = schema::Name)]
    pub applied_by: String,
    #[schema(value_type = schema::Timestamp)]
    pub applied_at: jiff::Timestamp,
    pub files: Vec<AuthzPolicyFile>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuthzPoliciesResponse {
    /// The version of the user policies in force; absent when none was ever applied.
    pub version: Option<AuthzPolicyVersionResponse>,
    /// Every policy in force, built-in first.
    pub policies: Vec<AuthzPolicyResponse>,
    /// False when the files applied were in force already.
    pub changed: Option<bool>,
}

fn policy_response(policy: tollgate_service::authz::PolicyInfo) -> AuthzPolicyResponse {
    AuthzPolicyResponse {
        id: policy.id,
        effect: if policy.permit { "permit" } else { "forbid" }.to_owned(),
        reason: policy.reason,
        source: match policy.source {
            tollgate_service::authz::PolicySource::BuiltIn => "built_in",
            tollgate_service::authz::PolicySource::User => "user",
        }
        .to_owned(),
        file: policy.file,
    }
}

fn version_response(version: tollgate_core::authz::PolicyVersion) -> AuthzPolicyVersionResponse {
    AuthzPolicyVersionResponse {
        sequence: version.sequence,
        sha256: version.sha256,
        applied_by: version.applied_by.to_string(),
        applied_at: version.applied_at,
        files: version.files.into_iter().map(|file| AuthzPolicyFile { name: file.name, text: file.text }).collect(),
    }
}

#[utoipa::path(get, path = "/authz/policies", tag = "authorization",
    responses((status = 200, body = AuthzPoliciesResponse)))]
pub async fn list_authz_policies(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> Result<Json<AuthzPoliciesResponse>, ApiError> {
    let (version, policies) = state.tollgate.list_authz_policies(&principal).await?;
    Ok(Json(AuthzPoliciesResponse {
        version: version.map(version_response),
        policies: policies.into_iter().map(policy_response).collect(),
        changed: None,
    }))
}

problems!(ApplyPoliciesProblems, [JSON_BODY, &["forbidden", "validation_failed"]]);

/// Replaces the user policies (`authz.policy.apply`, admins by default), after validating them
/// against the schema: every problem is listed with its file, line and column. Audited and
/// versioned; the same files again change nothing.
#[utoipa::path(post, path = "/authz/policies", tag = "authorization", request_body = AuthzPoliciesRequest,
    responses((status = 200, body = AuthzPoliciesResponse), ApplyPoliciesProblems))]
pub async fn apply_authz_policies(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(request): JsonBody<AuthzPoliciesRequest>,
) -> Result<Json<AuthzPoliciesResponse>, ApiError> {
    let files = request.files.into_iter().map(|file| PolicyFileRecord { name: file.name, text: file.text }).collect();
    let applied = state.tollgate.apply_authz_policies(&principal, files).await?;
    Ok(Json(AuthzPoliciesResponse {
        version: Some(version_response(applied.version)),
        policies: applied.policies.into_iter().map(policy_response).collect(),
        changed: Some(applied.changed),
    }))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// Whose request; yourself when absent (asking about others needs `authz.policy.read`).
    #[schema(value_type = Option<schema::Name>)]
    pub principal: Option<String>,
    /// An action of `docs/authorization.md`.
    #[schema(value_type = schema::ActionName)]
    pub action: String,
    /// The resource's name (a release's id or version); its type follows from the action.
    /// Not needed for actions about the system.
    #[schema(value_type = Option<schema::Name>)]
    pub resource: Option<String>,
    /// For `deploy`: the release to deploy.
    #[schema(value_type = Option<schema::ReleaseRef>)]
    pub release: Option<String>,
    /// For overrides: the reason that would be given.
    #[schema(value_type = Option<schema::GrantReason>)]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeterminingPolicyResponse {
    pub id: String,
    /// `permit` or `forbid`.
    pub effect: String,
    pub reason: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CheckResponse {
    pub allowed: bool,
    /// Why, in one sentence naming the policies.
    pub reason: String,
    /// The policies that decided: the permits that allow it, or the forbids that deny it (none
    /// when nothing permits it).
    pub policies: Vec<DeterminingPolicyResponse>,
    /// The just-in-time grants that counted.
    pub grants: Vec<i64>,
    /// Policies that could not be evaluated.
    pub errors: Vec<String>,
}

problems!(
    CheckProblems,
    [
        JSON_BODY,
        &[
            "forbidden",
            "validation_failed",
            "not_found",
            "user_not_found",
            "team_not_found",
            "service_not_found",
            "environment_not_found",
            "lifecycle_not_found",
            "release_not_found"
        ]
    ]
);

/// Whether a request would be allowed, and which policies decide.
#[utoipa::path(post, path = "/authz/check", tag = "authorization", request_body = CheckRequest,
    responses((status = 200, body = CheckResponse), CheckProblems))]
pub async fn check_authorization(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(request): JsonBody<CheckRequest>,
) -> Result<Json<CheckResponse>, ApiError> {
    // A reason, when one is given, is what an override would record: checked as one.
    if let Some(reason) = request.reason.as_deref() {
        tollgate_core::name::check_text(reason, tollgate_core::authz::MAX_REASON_LEN, true)
            .map_err(|problem| ApiError::validation("reason", problem.to_string()))?;
    }
    let input = CheckInput {
        principal: request.principal,
        action: request.action,
        resource: request.resource,
        release: request.release,
        reason: request.reason,
    };
    let decision = state.tollgate.check_authz(&principal, input).await?;
    Ok(Json(CheckResponse {
        allowed: decision.allowed,
        reason: decision.reason(),
        policies: decision
            .policies
            .iter()
            .map(|policy| DeterminingPolicyResponse {
                id: policy.id.clone(),
                effect: if policy.permit { "permit" } else { "forbid" }.to_owned(),
                reason: policy.reason.clone(),
            })
            .collect(),
        grants: decision.grants.clone(),
        errors: decision.errors.clone(),
    }))
}
