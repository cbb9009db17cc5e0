//! Teams, services, environments and lifecycles: the objects `tollgate apply` also manages.
//! `POST` creates (409 when the name is taken); `PUT /{name}` replaces (404 when missing).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use tollgate_core::environment::{Environment, EnvironmentInput};
use tollgate_core::lifecycle::{Lifecycle, LifecycleInput};
use tollgate_core::service::{Service, ServiceInput};
use tollgate_core::team::{Team, TeamInput};
use tollgate_service::catalog::Upsert;
use utoipa::ToSchema;

use crate::error::{ApiError, Problem};
use crate::extract::{Auth, JsonBody};
use crate::AppState;

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamRequest {
    pub name: String,
    pub display_name: Option<String>,
    #[serde(default)]
    pub members: Vec<String>,
    /// A regular expression every artifact name of the team must match.
    pub artifact_pattern: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TeamResponse {
    pub name: String,
    pub display_name: String,
    pub members: Vec<String>,
    pub artifact_pattern: Option<String>,
}

impl From<TeamRequest> for TeamInput {
    fn from(request: TeamRequest) -> TeamInput {
        TeamInput {
            name: request.name,
            display_name: request.display_name,
            members: request.members,
            artifact_pattern: request.artifact_pattern,
        }
    }
}

impl From<Team> for TeamResponse {
    fn from(team: Team) -> TeamResponse {
        TeamResponse {
            name: team.name.to_string(),
            display_name: team.display_name,
            members: team.members.iter().map(ToString::to_string).collect(),
            artifact_pattern: team.artifact_pattern.map(|p| p.as_str().to_owned()),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceRequest {
    pub name: String,
    /// The owning team.
    pub owner: String,
    /// `low`, `medium` (default), `high` or `critical`.
    pub criticality: Option<String>,
    #[serde(default)]
    pub depends_on: Vec<String>,
    pub description: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ServiceResponse {
    pub name: String,
    pub owner: String,
    pub criticality: String,
    pub depends_on: Vec<String>,
    pub description: String,
}

impl From<ServiceRequest> for ServiceInput {
    fn from(request: ServiceRequest) -> ServiceInput {
        ServiceInput {
            name: request.name,
            owner: request.owner,
            criticality: request.criticality,
            depends_on: request.depends_on,
            description: request.description,
        }
    }
}

impl From<Service> for ServiceResponse {
    fn from(service: Service) -> ServiceResponse {
        ServiceResponse {
            name: service.name.to_string(),
            owner: service.owner.to_string(),
            criticality: service.criticality.to_string(),
            depends_on: service.depends_on.iter().map(ToString::to_string).collect(),
            description: service.description,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentRequest {
    pub name: String,
    /// `dev`, `test`, `uat`, `staging` or `prod`.
    pub tier: String,
    pub region: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnvironmentResponse {
    pub name: String,
    pub tier: String,
    pub region: Option<String>,
}

impl From<EnvironmentRequest> for EnvironmentInput {
    fn from(request: EnvironmentRequest) -> EnvironmentInput {
        EnvironmentInput { name: request.name, tier: request.tier, region: request.region }
    }
}

impl From<Environment> for EnvironmentResponse {
    fn from(environment: Environment) -> EnvironmentResponse {
        EnvironmentResponse {
            name: environment.name.to_string(),
            tier: environment.tier.to_string(),
            region: environment.region.map(|r| r.to_string()),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LifecycleRequest {
    pub name: String,
    /// The promotion path, first environment first.
    pub environments: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LifecycleResponse {
    pub name: String,
    pub environments: Vec<String>,
}

impl From<LifecycleRequest> for LifecycleInput {
    fn from(request: LifecycleRequest) -> LifecycleInput {
        LifecycleInput { name: request.name, environments: request.environments }
    }
}

impl From<Lifecycle> for LifecycleResponse {
    fn from(lifecycle: Lifecycle) -> LifecycleResponse {
        LifecycleResponse {
            name: lifecycle.name().to_string(),
            environments: lifecycle.environments().iter().map(ToString::to_string).collect(),
        }
    }
}

/// A `PUT /{name}` body must name the object of its path.
fn check_same_name(path: &str, body: &str) -> Result<(), ApiError> {
    if path == body {
        Ok(())
    } else {
        Err(ApiError::validation("name", format!("{body:?} differs from the name in the path {path:?}")))
    }
}

fn all<T, R: From<T>>(items: Vec<T>) -> Json<Vec<R>> {
    Json(items.into_iter().map(R::from).collect())
}

#[utoipa::path(get, path = "/teams", tag = "teams", responses((status = 200, body = [TeamResponse])))]
pub async fn list_teams(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> Result<Json<Vec<TeamResponse>>, ApiError> {
    Ok(all(state.tollgate.list_teams(&principal).await?))
}

#[utoipa::path(post, path = "/teams", tag = "teams", request_body = TeamRequest,
    responses((status = 201, body = TeamResponse), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_team(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(request): JsonBody<TeamRequest>,
) -> Result<(StatusCode, Json<TeamResponse>), ApiError> {
    let team = state.tollgate.put_team(&principal, request.into(), Upsert::Create).await?;
    Ok((StatusCode::CREATED, Json(team.into())))
}

#[utoipa::path(get, path = "/teams/{name}", tag = "teams", params(("name" = String, Path)),
    responses((status = 200, body = TeamResponse), (status = 404, body = Problem)))]
pub async fn get_team(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
) -> Result<Json<TeamResponse>, ApiError> {
    Ok(Json(state.tollgate.get_team(&principal, &name).await?.into()))
}

#[utoipa::path(put, path = "/teams/{name}", tag = "teams", params(("name" = String, Path)), request_body = TeamRequest,
    responses((status = 200, body = TeamResponse), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn replace_team(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
    JsonBody(request): JsonBody<TeamRequest>,
) -> Result<Json<TeamResponse>, ApiError> {
    check_same_name(&name, &request.name)?;
    Ok(Json(state.tollgate.put_team(&principal, request.into(), Upsert::Replace).await?.into()))
}

#[utoipa::path(get, path = "/services", tag = "services", responses((status = 200, body = [ServiceResponse])))]
pub async fn list_services(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> Result<Json<Vec<ServiceResponse>>, ApiError> {
    Ok(all(state.tollgate.list_services(&principal).await?))
}

#[utoipa::path(post, path = "/services", tag = "services", request_body = ServiceRequest,
    responses((status = 201, body = ServiceResponse), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_service(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(request): JsonBody<ServiceRequest>,
) -> Result<(StatusCode, Json<ServiceResponse>), ApiError> {
    let service = state.tollgate.put_service(&principal, request.into(), Upsert::Create).await?;
    Ok((StatusCode::CREATED, Json(service.into())))
}

#[utoipa::path(get, path = "/services/{name}", tag = "services", params(("name" = String, Path)),
    responses((status = 200, body = ServiceResponse), (status = 404, body = Problem)))]
pub async fn get_service(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
) -> Result<Json<ServiceResponse>, ApiError> {
    Ok(Json(state.tollgate.get_service(&principal, &name).await?.into()))
}

#[utoipa::path(put, path = "/services/{name}", tag = "services", params(("name" = String, Path)), request_body = ServiceRequest,
    responses((status = 200, body = ServiceResponse), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn replace_service(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
    JsonBody(request): JsonBody<ServiceRequest>,
) -> Result<Json<ServiceResponse>, ApiError> {
    check_same_name(&name, &request.name)?;
    Ok(Json(state.tollgate.put_service(&principal, request.into(), Upsert::Replace).await?.into()))
}

#[utoipa::path(get, path = "/environments", tag = "environments", responses((status = 200, body = [EnvironmentResponse])))]
pub async fn list_environments(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> Result<Json<Vec<EnvironmentResponse>>, ApiError> {
    Ok(all(state.tollgate.list_environments(&principal).await?))
}

#[utoipa::path(post, path = "/environments", tag = "environments", request_body = EnvironmentRequest,
    responses((status = 201, body = EnvironmentResponse), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_environment(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(request): JsonBody<EnvironmentRequest>,
) -> Result<(StatusCode, Json<EnvironmentResponse>), ApiError> {
    let environment = state.tollgate.put_environment(&principal, request.into(), Upsert::Create).await?;
    Ok((StatusCode::CREATED, Json(environment.into())))
}

#[utoipa::path(get, path = "/environments/{name}", tag = "environments", params(("name" = String, Path)),
    responses((status = 200, body = EnvironmentResponse), (status = 404, body = Problem)))]
pub async fn get_environment(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
) -> Result<Json<EnvironmentResponse>, ApiError> {
    Ok(Json(state.tollgate.get_environment(&principal, &name).await?.into()))
}

#[utoipa::path(put, path = "/environments/{name}", tag = "environments", params(("name" = String, Path)), request_body = EnvironmentRequest,
    responses((status = 200, body = EnvironmentResponse), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn replace_environment(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
    JsonBody(request): JsonBody<EnvironmentRequest>,
) -> Result<Json<EnvironmentResponse>, ApiError> {
    check_same_name(&name, &request.name)?;
    Ok(Json(state.tollgate.put_environment(&principal, request.into(), Upsert::Replace).await?.into()))
}

#[utoipa::path(get, path = "/lifecycles", tag = "lifecycles", responses((status = 200, body = [LifecycleResponse])))]
pub async fn list_lifecycles(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> Result<Json<Vec<LifecycleResponse>>, ApiError> {
    Ok(all(state.tollgate.list_lifecycles(&principal).await?))
}

#[utoipa::path(post, path = "/lifecycles", tag = "lifecycles", request_body = LifecycleRequest,
    responses((status = 201, body = LifecycleResponse), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_lifecycle(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(request): JsonBody<LifecycleRequest>,
) -> Result<(StatusCode, Json<LifecycleResponse>), ApiError> {
    let lifecycle = state.tollgate.put_lifecycle(&principal, request.into(), Upsert::Create).await?;
    Ok((StatusCode::CREATED, Json(lifecycle.into())))
}

#[utoipa::path(get, path = "/lifecycles/{name}", tag = "lifecycles", params(("name" = String, Path)),
    responses((status = 200, body = LifecycleResponse), (status = 404, body = Problem)))]
pub async fn get_lifecycle(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
) -> Result<Json<LifecycleResponse>, ApiError> {
    Ok(Json(state.tollgate.get_lifecycle(&principal, &name).await?.into()))
}

#[utoipa::path(put, path = "/lifecycles/{name}", tag = "lifecycles", params(("name" = String, Path)), request_body = LifecycleRequest,
    responses((status = 200, body = LifecycleResponse), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn replace_lifecycle(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(name): Path<String>,
    JsonBody(request): JsonBody<LifecycleRequest>,
) -> Result<Json<LifecycleResponse>, ApiError> {
    check_same_name(&name, &request.name)?;
    Ok(Json(state.tollgate.put_lifecycle(&principal, request.into(), Upsert::Replace).await?.into()))
}
