//! Releases: create, edit while the scope is open, move through the state machine.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use tollgate_core::release::{ArtifactRefInput, Release, ReleaseAction, ReleaseInput, ScopeDecision, ScopeItemInput};
use tollgate_service::release::ReleaseRef;
use utoipa::ToSchema;

use crate::api::{PageQuery, Paginated};
use crate::error::{ApiError, Problem};
use crate::extract::{Auth, JsonBody, QueryParams};
use crate::AppState;

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArtifactRefBody {
    pub service: String,
    pub name: String,
    pub version: String,
    /// `sha256:` followed by 64 lower-case hex characters.
    pub digest: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopeItemBody {
    pub ticket: String,
    pub title: String,
    /// Whether the item ships (default true). An excluded item needs a `reason`.
    #[serde(default = "included_by_default")]
    pub included: bool,
    pub reason: Option<String>,
}

fn included_by_default() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {
    /// A semantic version, unique among releases.
    pub version: String,
    /// The promotion path its deployments follow.
    pub lifecycle: String,
    /// `major`, `minor`, `patch` or `emergency`.
    pub release_type: String,
    /// `big_bang` (default), `phased`, `pilot` or `parallel`.
    pub strategy: Option<String>,
    /// One artifact per service.
    #[serde(default)]
    pub artifacts: Vec<ArtifactRefBody>,
    #[serde(default)]
    pub scope: Vec<ScopeItemBody>,
    pub planned_start: Option<String>,
    pub planned_end: Option<String>,
    pub scope_freeze_at: Option<String>,
    pub rollback_criteria: Option<String>,
    /// On `PUT`: the revision the change is based on; a newer stored revision is a conflict.
    pub revision: Option<i64>,
}

impl From<ReleaseRequest> for ReleaseInput {
    fn from(request: ReleaseRequest) -> ReleaseInput {
        ReleaseInput {
            version: request.version,
            lifecycle: request.lifecycle,
            release_type: request.release_type,
            strategy: request.strategy,
            artifacts: request
                .artifacts
                .into_iter()
                .map(|a| ArtifactRefInput { service: a.service, name: a.name, version: a.version, digest: a.digest })
                .collect(),
            scope: request
                .scope
                .into_iter()
                .map(|s| ScopeItemInput { ticket: s.ticket, title: s.title, included: s.included, reason: s.reason })
                .collect(),
            planned_start: request.planned_start,
            planned_end: request.planned_end,
            scope_freeze_at: request.scope_freeze_at,
            rollback_criteria: request.rollback_criteria,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReleaseResponse {
    pub id: i64,
    pub version: String,
    pub lifecycle: String,
    pub release_type: String,
    pub strategy: String,
    pub state: String,
    /// The states one action away.
    pub allowed_next_states: Vec<String>,
    /// SHA-256 over the canonical manifest (version and artifact digests): what approvals and
    /// deployments bind to.
    pub manifest_digest: String,
    pub artifacts: Vec<ArtifactRefBody>,
    pub scope: Vec<ScopeItemBody>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub planned_start: Option<jiff::Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub planned_end: Option<jiff::Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub scope_freeze_at: Option<jiff::Timestamp>,
    pub rollback_criteria: String,
    pub created_by: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: jiff::Timestamp,
    pub revision: i64,
}

impl From<Release> for ReleaseResponse {
    fn from(release: Release) -> ReleaseResponse {
        let content = &release.content;
        ReleaseResponse {
            id: release.id.0,
            version: content.version.to_string(),
            lifecycle: content.lifecycle.to_string(),
            release_type: content.release_type.to_string(),
            strategy: content.strategy.to_string(),
            state: release.state.to_string(),
            allowed_next_states: release
                .state
                .allowed_next(content.release_type)
                .iter()
                .map(ToString::to_string)
                .collect(),
            manifest_digest: release.manifest_digest().to_string(),
            artifacts: content
                .artifacts
                .iter()
                .map(|a| ArtifactRefBody {
                    service: a.service.to_string(),
                    name: a.name.to_string(),
                    version: a.version.to_string(),
                    digest: a.digest.to_string(),
                })
                .collect(),
            scope: content
                .scope
                .iter()
                .map(|item| {
                    let (included, reason) = match &item.decision {
                        ScopeDecision::Included => (true, None),
                        ScopeDecision::Excluded { reason } => (false, Some(reason.clone())),
                    };
                    ScopeItemBody { ticket: item.ticket.clone(), title: item.title.clone(), included, reason }
                })
                .collect(),
            planned_start: content.planned_window.map(|w| w.start()),
            planned_end: content.planned_window.map(|w| w.end()),
            scope_freeze_at: content.scope_freeze_at,
            rollback_criteria: content.rollback_criteria.clone(),
            created_by: release.created_by.to_string(),
            created_at: release.created_at,
            updated_at: release.updated_at,
            revision: release.revision,
        }
    }
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    /// `plan`, `freeze_scope`, `unfreeze_scope`, `mark_ready`, `close`, `roll_back` or `cancel`.
    pub action: String,
    /// Required for `unfreeze_scope`, `roll_back` and `cancel`; kept in the audit log.
    pub reason: Option<String>,
}

pub(crate) fn release_ref(value: &str) -> Result<ReleaseRef, ApiError> {
    ReleaseRef::parse(value)
        .map_err(|_| ApiError::validation("release", format!("{value:?} is neither a release id nor a version")))
}

#[utoipa::path(get, path = "/releases", tag = "releases", params(PageQuery),
    responses((status = 200, body = Paginated<ReleaseResponse>, description = "Newest first")))]
pub async fn list_releases(
    State(state): State<AppState>,
    Auth(principal): Auth,
    QueryParams(query): QueryParams<PageQuery>,
) -> Result<Json<Paginated<ReleaseResponse>>, ApiError> {
    let page = query.page();
    let releases = state.tollgate.list_releases(&principal, page).await?;
    let items = releases.into_iter().map(ReleaseResponse::from).collect();
    Ok(Json(Paginated::new(items, page, |release: &ReleaseResponse| release.id)))
}

#[utoipa::path(post, path = "/releases", tag = "releases", request_body = ReleaseRequest,
    responses((status = 201, body = ReleaseResponse), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_release(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(request): JsonBody<ReleaseRequest>,
) -> Result<(StatusCode, Json<ReleaseResponse>), ApiError> {
    if request.revision.is_some() {
        return Err(ApiError::validation("revision", "a new release has no revision"));
    }
    let release = state.tollgate.create_release(&principal, request.into()).await?;
    Ok((StatusCode::CREATED, Json(release.into())))
}

#[utoipa::path(get, path = "/releases/{release}", tag = "releases", params(("release" = String, Path, description = "Release id or version")),
    responses((status = 200, body = ReleaseResponse), (status = 404, body = Problem)))]
pub async fn get_release(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(release): Path<String>,
) -> Result<Json<ReleaseResponse>, ApiError> {
    let release = state.tollgate.get_release(&principal, &release_ref(&release)?).await?;
    Ok(Json(release.into()))
}

#[utoipa::path(put, path = "/releases/{release}", tag = "releases", params(("release" = String, Path, description = "Release id or version")),
    request_body = ReleaseRequest,
    responses((status = 200, body = ReleaseResponse), (status = 404, body = Problem), (status = 409, body = Problem, description = "Scope frozen or stale revision"), (status = 422, body = Problem)))]
pub async fn replace_release(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(release): Path<String>,
    JsonBody(request): JsonBody<ReleaseRequest>,
) -> Result<Json<ReleaseResponse>, ApiError> {
    let revision = request.revision;
    let release = state.tollgate.update_release(&principal, &release_ref(&release)?, request.into(), revision).await?;
    Ok(Json(release.into()))
}

#[utoipa::path(post, path = "/releases/{release}/transitions", tag = "releases", params(("release" = String, Path, description = "Release id or version")),
    request_body = TransitionRequest,
    responses((status = 200, body = ReleaseResponse), (status = 404, body = Problem), (status = 409, body = Problem, description = "Not allowed from the current state"), (status = 422, body = Problem)))]
pub async fn transition_release(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(release): Path<String>,
    JsonBody(request): JsonBody<TransitionRequest>,
) -> Result<Json<ReleaseResponse>, ApiError> {
    let action: ReleaseAction = request
        .action
        .parse()
        .map_err(|problem: tollgate_core::Problem| ApiError::validation("action", problem.to_string()))?;
    let release = state
        .tollgate
        .transition_release(&principal, &release_ref(&release)?, action, request.reason.as_deref())
        .await?;
    Ok(Json(release.into()))
}
