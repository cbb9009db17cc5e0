//! Deployment records and the release register.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use tollgate_core::deployment::{
    Deployment, DeploymentId, DeploymentInput, DeploymentStatus, Promotion, RunningService,
};
use utoipa::{IntoParams, ToSchema};

use crate::api::releases::release_ref;
use crate::api::{parse_time, PageQuery, Paginated};
use crate::error::{ApiError, Problem};
use crate::extract::{Auth, JsonBody, QueryParams};
use crate::AppState;

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeploymentRequest {
    /// Release id or version.
    pub release: String,
    pub environment: String,
    /// `running` (default), `succeeded` or `failed`.
    pub status: Option<String>,
    /// When recording after the fact (RFC 3339); now when absent.
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FinishRequest {
    /// `succeeded` or `failed` for a running deployment, `rolled_back` for a succeeded one.
    pub status: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeploymentResponse {
    pub id: i64,
    pub release: i64,
    pub release_version: String,
    pub environment: String,
    pub status: String,
    /// The release's manifest digest at the time of the deployment.
    pub manifest_digest: String,
    /// Set when an emergency release skipped this environment's predecessor in its lifecycle.
    pub emergency_skipped: Option<String>,
    pub actor: String,
    #[schema(value_type = String, format = DateTime)]
    pub started_at: jiff::Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<jiff::Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub rolled_back_at: Option<jiff::Timestamp>,
}

fn skipped(promotion: &Promotion) -> Option<String> {
    match promotion {
        Promotion::Followed => None,
        Promotion::EmergencySkipped { skipped } => Some(skipped.to_string()),
    }
}

impl From<Deployment> for DeploymentResponse {
    fn from(deployment: Deployment) -> DeploymentResponse {
        DeploymentResponse {
            id: deployment.id.0,
            release: deployment.release.0,
            release_version: deployment.release_version.to_string(),
            environment: deployment.environment.to_string(),
            status: deployment.status.to_string(),
            manifest_digest: deployment.manifest_digest.to_string(),
            emergency_skipped: skipped(&deployment.promotion),
            actor: deployment.actor.to_string(),
            started_at: deployment.started_at,
            finished_at: deployment.finished_at,
            rolled_back_at: deployment.rolled_back_at,
        }
    }
}

#[derive(Debug, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeploymentQuery {
    /// Only this environment: its history.
    pub environment: Option<String>,
    /// Only this release (id or version).
    pub release: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<i64>,
}

#[derive(Debug, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RegisterQuery {
    /// Only this environment.
    pub environment: Option<String>,
    /// The instant to answer for (RFC 3339); now when absent.
    pub at: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RegisterResponse {
    #[schema(value_type = String, format = DateTime)]
    pub at: jiff::Timestamp,
    pub environments: Vec<EnvironmentRegisterResponse>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnvironmentRegisterResponse {
    pub environment: String,
    pub tier: String,
    pub services: Vec<RunningServiceResponse>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RunningServiceResponse {
    pub service: String,
    pub artifact: String,
    pub version: String,
    pub digest: String,
    pub release: i64,
    pub release_version: String,
    pub deployment: i64,
    #[schema(value_type = String, format = DateTime)]
    pub deployed_at: jiff::Timestamp,
    pub emergency_skipped: Option<String>,
}

impl From<RunningService> for RunningServiceResponse {
    fn from(running: RunningService) -> RunningServiceResponse {
        RunningServiceResponse {
            service: running.service.to_string(),
            artifact: running.artifact.name.to_string(),
            version: running.artifact.version.to_string(),
            digest: running.artifact.digest.to_string(),
            release: running.release.0,
            release_version: running.release_version.to_string(),
            deployment: running.deployment.0,
            deployed_at: running.deployed_at,
            emergency_skipped: skipped(&running.promotion),
        }
    }
}

#[utoipa::path(get, path = "/deployments", tag = "deployments", params(DeploymentQuery),
    responses((status = 200, body = Paginated<DeploymentResponse>, description = "Newest first"), (status = 404, body = Problem)))]
pub async fn list_deployments(
    State(state): State<AppState>,
    Auth(principal): Auth,
    QueryParams(query): QueryParams<DeploymentQuery>,
) -> Result<Json<Paginated<DeploymentResponse>>, ApiError> {
    let page = PageQuery { limit: query.limit, cursor: query.cursor }.page();
    let release = query.release.as_deref().map(release_ref).transpose()?;
    let deployments =
        state.tollgate.list_deployments(&principal, query.environment.as_deref(), release.as_ref(), page).await?;
    let items = deployments.into_iter().map(DeploymentResponse::from).collect();
    Ok(Json(Paginated::new(items, page, |deployment: &DeploymentResponse| deployment.id)))
}

#[utoipa::path(post, path = "/deployments", tag = "deployments", request_body = DeploymentRequest,
    responses((status = 201, body = DeploymentResponse), (status = 404, body = Problem), (status = 409, body = Problem, description = "The lifecycle does not allow it yet"), (status = 422, body = Problem)))]
pub async fn record_deployment(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(request): JsonBody<DeploymentRequest>,
) -> Result<(StatusCode, Json<DeploymentResponse>), ApiError> {
    let release = release_ref(&request.release)?;
    let input =
        DeploymentInput { status: request.status, started_at: request.started_at, finished_at: request.finished_at };
    let deployment = state.tollgate.record_deployment(&principal, &release, &request.environment, input).await?;
    Ok((StatusCode::CREATED, Json(deployment.into())))
}

fn deployment_id(value: &str) -> Result<DeploymentId, ApiError> {
    value.parse().map(DeploymentId).map_err(|_| ApiError::validation("id", format!("{value:?} is not a deployment id")))
}

#[utoipa::path(get, path = "/deployments/{id}", tag = "deployments", params(("id" = i64, Path)),
    responses((status = 200, body = DeploymentResponse), (status = 404, body = Problem)))]
pub async fn get_deployment(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
) -> Result<Json<DeploymentResponse>, ApiError> {
    Ok(Json(state.tollgate.get_deployment(&principal, deployment_id(&id)?).await?.into()))
}

#[utoipa::path(post, path = "/deployments/{id}/finish", tag = "deployments", params(("id" = i64, Path)), request_body = FinishRequest,
    responses((status = 200, body = DeploymentResponse), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn finish_deployment(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<FinishRequest>,
) -> Result<Json<DeploymentResponse>, ApiError> {
    let status: DeploymentStatus =
        request.status.parse().map_err(|p: tollgate_core::Problem| ApiError::validation("status", p.to_string()))?;
    Ok(Json(state.tollgate.finish_deployment(&principal, deployment_id(&id)?, status).await?.into()))
}

#[utoipa::path(get, path = "/register", tag = "register", params(RegisterQuery),
    responses((status = 200, body = RegisterResponse, description = "What version of each service runs in each environment"), (status = 404, body = Problem)))]
pub async fn register(
    State(state): State<AppState>,
    Auth(principal): Auth,
    QueryParams(query): QueryParams<RegisterQuery>,
) -> Result<Json<RegisterResponse>, ApiError> {
    let at = parse_time("at", query.at.as_deref())?.unwrap_or_else(|| state.tollgate.now());
    let register = state.tollgate.register(&principal, query.environment.as_deref(), Some(at)).await?;
    let environments = register
        .into_iter()
        .map(|entry| EnvironmentRegisterResponse {
            environment: entry.environment.name.to_string(),
            tier: entry.environment.tier.to_string(),
            services: entry.services.into_iter().map(RunningServiceResponse::from).collect(),
        })
        .collect();
    Ok(Json(RegisterResponse { at, environments }))
}
