//! Teams, services, environments and lifecycles: the objects `tollgate apply` also manages.
//! `POST` creates (409 when the name is taken); `PUT /{name}` replaces (404 when missing).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use tollgate_core::environment::{Environment, EnvironmentInput};
use tollgate_core::lifecycle::{Lifecycle, LifecycleInput};
use tollgate_core::service::{Service, ServiceInput};
use tollgate_core::team::{Team, TeamInput};
use tollgate_service::catalog::Upsert;
use utoipa::ToSchema;

use crate::api::problem::{problems, JSON_BODY, PATH};
use crate::api::schema;
use crate::error::ApiError;
use crate::extract::{Auth, JsonBody, PathParam};
use crate::AppState;

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamRequest {
    #[schema(value_type = schema::Name)]
    pub name: String,
    #[schema(value_type = Option<schema::DisplayName>)]
    pub display_name: Option<String>,
    /// Users who belong to the team; every one must exist.
    #[serde(default)]
    #[schema(value_type = schema::NameSet)]
    pub members: Vec<String>,
    #[schema(value_type = Option<schema::ArtifactPattern>)]
    pub artifact_pattern: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TeamResponse {
    #[schema(value_type = schema::Name)]
    pub name: String,
    #[schema(value_type = schema::DisplayName)]
    pub display_name: String,
    #[schema(value_type = schema::NameSet)]
    pub members: Vec<String>,
    #[schema(value_type = Option<schema::ArtifactPattern>)]
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
    #[schema(value_type = schema::Name)]
    pub name: String,
    /// The owning team; it must exist.
    #[schema(value_type = schema::Name)]
    pub owner: String,
    /// `medium` when absent.
    #[schema(value_type = Option<schema::Criticality>)]
    pub criticality: Option<String>,
    /// Services this one needs at run time; every one must exist, and the graph has no cycle.
    #[serde(default)]
    #[schema(value_type = schema::NameSet)]
    pub depends_on: Vec<String>,
    #[schema(value_type = Option<schema::ServiceDescription>)]
    pub description: Option<String>,
    /// What policies select the service by (`security`, `pci`): names, at most 32.
    #[serde(default)]
    #[schema(value_type = schema::LabelSet)]
    pub labels: Vec<String>,
    /// How Tollgate deploys the service. In `POST /apply`, absent means no plan; in a service's
    /// own create or replace, absent keeps the plan it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<crate::api::plans::DeployRequest>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ServiceResponse {
    #[schema(value_type = schema::Name)]
    pub name: String,
    #[schema(value_type = schema::Name)]
    pub owner: String,
    #[schema(value_type = schema::Criticality)]
    pub criticality: String,
    #[schema(value_type = schema::NameSet)]
    pub depends_on: Vec<String>,
    #[schema(value_type = schema::ServiceDescription)]
    pub description: String,
    #[schema(value_type = schema::LabelSet)]
    pub labels: Vec<String>,
}

impl From<ServiceRequest> for ServiceInput {
    fn from(request: ServiceRequest) -> ServiceInput {
        ServiceInput {
            name: request.name,
            owner: request.owner,
            criticality: request.criticality,
            depends_on: request.depends_on,
            description: request.description,
            labels: request.labels,
            deploy: request.deploy.map(Into::into),
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
            labels: service.labels.iter().map(ToString::to_string).collect(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentRequest {
    #[schema(value_type = schema::Name)]
    pub name: String,
    #[schema(value_type = schema::Tier)]
    pub tier: String,
    #[schema(value_type = Option<schema::Name>)]
    pub region: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnvironmentResponse {
    #[schema(value_type = schema::Name)]
    pub name: String,
    #[schema(value_type = schema::Tier)]
    pub tier: String,
    #[schema(value_type = Option<schema::Name>)]
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
    #[schema(value_type = schema::Name)]
    pub name: String,
    /// The promotion path; every environment must exist.
    #[schema(value_type = schema::EnvironmentPath)]
    pub environments: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LifecycleResponse {
    #[schema(value_type = schema::Name)]
    pub name: String,
    #[schema(value_type = schema::EnvironmentPath)]
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

problems!(CreateTeamProblems, [JSON_BODY, &["forbidden", "conflict", "validation_failed"]]);

/// 409 when the name is taken.
#[utoipa::path(post, path = "/teams", tag = "teams", request_body = TeamRequest,
    responses((status = 201, body = TeamResponse), CreateTeamProblems))]
pub async fn create_team(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(request): JsonBody<TeamRequest>,
) -> Result<(StatusCode, Json<TeamResponse>), ApiError> {
    let team = state.tollgate.put_team(&principal, request.into(), Upsert::Create).await?;
    Ok((StatusCode::CREATED, Json(team.into())))
}

problems!(GetTeamProblems, [PATH, &["team_not_found"]]);

#[utoipa::path(get, path = "/teams/{name}", tag = "teams", params(("name" = schema::Name, Path)),
    responses((status = 200, body = TeamResponse), GetTeamProblems))]
pub async fn get_team(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(name): PathParam<String>,
) -> Result<Json<TeamResponse>, ApiError> {
    Ok(Json(state.tollgate.get_team(&principal, &name).await?.into()))
}

problems!(ReplaceTeamProblems, [JSON_BODY, PATH, &["forbidden", "team_not_found", "validation_failed"]]);

/// The body's `name` must be the name in the path (422 otherwise); 404 when there is no such team.
#[utoipa::path(put, path = "/teams/{name}", tag = "teams", params(("name" = schema::Name, Path)), request_body = TeamRequest,
    responses((status = 200, body = TeamResponse), ReplaceTeamProblems))]
pub async fn replace_team(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(name): PathParam<String>,
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

problems!(CreateServiceProblems, [JSON_BODY, &["forbidden", "conflict", "validation_failed"]]);

/// 409 when the name is taken.
#[utoipa::path(post, path = "/services", tag = "services", request_body = ServiceRequest,
    responses((status = 201, body = ServiceResponse), CreateServiceProblems))]
pub async fn create_service(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(request): JsonBody<ServiceRequest>,
) -> Result<(StatusCode, Json<ServiceResponse>), ApiError> {
    let service = state.tollgate.put_service(&principal, request.into(), Upsert::Create).await?;
    Ok((StatusCode::CREATED, Json(service.into())))
}

problems!(GetServiceProblems, [PATH, &["service_not_found"]]);

#[utoipa::path(get, path = "/services/{name}", tag = "services", params(("name" = schema::Name, Path)),
    responses((status = 200, body = ServiceResponse), GetServiceProblems))]
pub async fn get_service(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(name): PathParam<String>,
) -> Result<Json<ServiceResponse>, ApiError> {
    Ok(Json(state.tollgate.get_service(&principal, &name).await?.into()))
}

problems!(ReplaceServiceProblems, [JSON_BODY, PATH, &["forbidden", "service_not_found", "validation_failed"]]);

/// The body's `name` must be the name in the path (422 otherwise); 404 when there is no such service.
#[utoipa::path(put, path = "/services/{name}", tag = "services", params(("name" = schema::Name, Path)), request_body = ServiceRequest,
    responses((status = 200, body = ServiceResponse), ReplaceServiceProblems))]
pub async fn replace_service(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(name): PathParam<String>,
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

problems!(CreateEnvironmentProblems, [JSON_BODY, &["forbidden", "conflict", "validation_failed"]]);

/// 409 when the name is taken.
#[utoipa::path(post, path = "/environments", tag = "environments", request_body = EnvironmentRequest,
    responses((status = 201, body = EnvironmentResponse), CreateEnvironmentProblems))]
pub async fn create_environment(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(request): JsonBody<EnvironmentRequest>,
) -> Result<(StatusCode, Json<EnvironmentResponse>), ApiError> {
    let environment = state.tollgate.put_environment(&principal, request.into(), Upsert::Create).await?;
    Ok((StatusCode::CREATED, Json(environment.into())))
}

problems!(GetEnvironmentProblems, [PATH, &["environment_not_found"]]);

#[utoipa::path(get, path = "/environments/{name}", tag = "environments", params(("name" = schema::Name, Path)),
    responses((status = 200, body = EnvironmentResponse), GetEnvironmentProblems))]
pub async fn get_environment(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(name): PathParam<String>,
) -> Result<Json<EnvironmentResponse>, ApiError> {
    Ok(Json(state.tollgate.get_environment(&principal, &name).await?.into()))
}

problems!(ReplaceEnvironmentProblems, [JSON_BODY, PATH, &["forbidden", "environment_not_found", "validation_failed"]]);

/// The body's `name` must be the name in the path (422 otherwise); 404 when there is no such environment.
#[utoipa::path(put, path = "/environments/{name}", tag = "environments", params(("name" = schema::Name, Path)), request_body = EnvironmentRequest,
    responses((status = 200, body = EnvironmentResponse), ReplaceEnvironmentProblems))]
pub async fn replace_environment(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(name): PathParam<String>,
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

problems!(CreateLifecycleProblems, [JSON_BODY, &["forbidden", "conflict", "validation_failed"]]);

/// 409 when the name is taken.
#[utoipa::path(post, path = "/lifecycles", tag = "lifecycles", request_body = LifecycleRequest,
    responses((status = 201, body = LifecycleResponse), CreateLifecycleProblems))]
pub async fn create_lifecycle(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(request): JsonBody<LifecycleRequest>,
) -> Result<(StatusCode, Json<LifecycleResponse>), ApiError> {
    let lifecycle = state.tollgate.put_lifecycle(&principal, request.into(), Upsert::Create).await?;
    Ok((StatusCode::CREATED, Json(lifecycle.into())))
}

problems!(GetLifecycleProblems, [PATH, &["lifecycle_not_found"]]);

#[utoipa::path(get, path = "/lifecycles/{name}", tag = "lifecycles", params(("name" = schema::Name, Path)),
    responses((status = 200, body = LifecycleResponse), GetLifecycleProblems))]
pub async fn get_lifecycle(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(name): PathParam<String>,
) -> Result<Json<LifecycleResponse>, ApiError> {
    Ok(Json(state.tollgate.get_lifecycle(&principal, &name).await?.into()))
}

problems!(ReplaceLifecycleProblems, [JSON_BODY, PATH, &["forbidden", "lifecycle_not_found", "validation_failed"]]);

/// The body's `name` must be the name in the path (422 otherwise); 404 when there is no such lifecycle.
#[utoipa::path(put, path = "/lifecycles/{name}", tag = "lifecycles", params(("name" = schema::Name, Path)), request_body = LifecycleRequest,
    responses((status = 200, body = LifecycleResponse), ReplaceLifecycleProblems))]
pub async fn replace_lifecycle(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(name): PathParam<String>,
    JsonBody(request): JsonBody<LifecycleRequest>,
) -> Result<Json<LifecycleResponse>, ApiError> {
    check_same_name(&name, &request.name)?;
    Ok(Json(state.tollgate.put_lifecycle(&principal, request.into(), Upsert::Replace).await?.into()))
}
