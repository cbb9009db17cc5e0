//! Deployment records and the release register.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use tollgate_core::deployment::{
    Deployment, DeploymentCheck, DeploymentId, DeploymentInput, DeploymentStatus, PreconditionResult, Promotion,
    RunningService,
};
use utoipa::openapi::schema::{AnyOfBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::api::problem::{problems, JSON_BODY, PATH, QUERY};
use crate::api::releases::release_ref;
use crate::api::schema::{self, members, null, one_of_values, with_rules};
use crate::api::{page_limit, parse_time, PageQuery, Paginated};
use crate::error::ApiError;
use crate::extract::{Auth, JsonBody, PathParam, QueryParams};
use crate::AppState;

/// A deployment as recorded; its schema is that of [`DeploymentBody`].
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DeploymentFields)]
pub struct DeploymentRequest {
    /// The release; it must exist, be ready or deploying, and have succeeded in the environment
    /// before this one in its lifecycle (unless it is an emergency release).
    #[schema(value_type = schema::ReleaseRef)]
    pub release: String,
    /// The environment; it must exist and be in the release's lifecycle.
    #[schema(value_type = schema::Name)]
    pub environment: String,
    /// `running` when absent.
    #[schema(value_type = Option<schema::NewDeploymentStatus>)]
    pub status: Option<String>,
    /// When recording after the fact; now when absent, never in the future.
    #[schema(value_type = Option<schema::Timestamp>)]
    pub started_at: Option<String>,
    /// Only for a finished deployment: not before `started_at`, never in the future; now when absent.
    #[schema(value_type = Option<schema::Timestamp>)]
    pub finished_at: Option<String>,
    /// A reason to deploy although the environment's deployment window is closed at the start
    /// (breaking glass; needs `override.window`). Audited with the deployment when it was needed.
    #[schema(value_type = Option<schema::Reason>)]
    pub override_window: Option<String>,
}

/// The body of `POST /deployments`: a running deployment has no `finished_at`.
pub struct DeploymentBody;

impl PartialSchema for DeploymentBody {
    fn schema() -> RefOr<Schema> {
        let finished = vec![serde_json::json!("succeeded"), serde_json::json!("failed")];
        let running = AnyOfBuilder::new()
            .item(members(&["status"], vec![("status", one_of_values(Type::String, finished).into())]))
            .item(members(&[], vec![("finished_at", null().into())]));
        with_rules(DeploymentRequest::schema(), [running.into()], "A deployment to record.").into()
    }
}

impl ToSchema for DeploymentBody {
    fn name() -> std::borrow::Cow<'static, str> {
        "DeploymentRequest".into()
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        DeploymentRequest::schemas(schemas);
    }
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FinishRequest {
    /// `succeeded` or `failed` for a running deployment, `rolled_back` for a succeeded one; any
    /// other change is a conflict.
    #[schema(value_type = schema::DeploymentStatus)]
    pub status: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeploymentResponse {
    #[schema(value_type = schema::Id)]
    pub id: i64,
    #[schema(value_type = schema::Id)]
    pub release: i64,
    #[schema(value_type = schema::Version)]
    pub release_version: String,
    #[schema(value_type = schema::Name)]
    pub environment: String,
    #[schema(value_type = schema::DeploymentStatus)]
    pub status: String,
    /// The release's manifest digest at the time of the deployment.
    #[schema(value_type = schema::Digest)]
    pub manifest_digest: String,
    /// Set when an emergency release skipped this environment's predecessor in its lifecycle.
    #[schema(value_type = Option<schema::Name>)]
    pub emergency_skipped: Option<String>,
    /// Present for a rollback to a release that ran in the environment before: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_cause: Option<String>,
    #[schema(value_type = schema::Name)]
    pub actor: String,
    #[schema(value_type = schema::Timestamp)]
    pub started_at: jiff::Timestamp,
    #[schema(value_type = Option<schema::Timestamp>)]
    pub finished_at: Option<jiff::Timestamp>,
    #[schema(value_type = Option<schema::Timestamp>)]
    pub rolled_back_at: Option<jiff::Timestamp>,
}

fn skipped(promotion: &Promotion) -> Option<String> {
    match promotion {
        Promotion::Followed | Promotion::Rollback { .. } => None,
        Promotion::EmergencySkipped { skipped } => Some(skipped.to_string()),
    }
}

fn rollback_cause(promotion: &Promotion) -> Option<String> {
    match promotion {
        Promotion::Rollback { cause } => Some(cause.clone()),
        Promotion::Followed | Promotion::EmergencySkipped { .. } => None,
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
            rollback_cause: rollback_cause(&deployment.promotion),
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
    #[param(value_type = Option<schema::Name>)]
    pub environment: Option<String>,
    /// Only this release (id or version).
    #[param(value_type = Option<schema::ReleaseRef>)]
    pub release: Option<String>,
    #[serde(default, deserialize_with = "page_limit")]
    #[param(value_type = Option<schema::PageLimit>)]
    pub limit: Option<i64>,
    #[param(value_type = Option<schema::Cursor>)]
    pub cursor: Option<i64>,
}

#[derive(Debug, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RegisterQuery {
    /// Only this environment.
    #[param(value_type = Option<schema::Name>)]
    pub environment: Option<String>,
    /// The instant to answer for; now when absent.
    #[param(value_type = Option<schema::Timestamp>)]
    pub at: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RegisterResponse {
    #[schema(value_type = schema::Timestamp)]
    pub at: jiff::Timestamp,
    pub environments: Vec<EnvironmentRegisterResponse>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnvironmentRegisterResponse {
    #[schema(value_type = schema::Name)]
    pub environment: String,
    #[schema(value_type = schema::Tier)]
    pub tier: String,
    pub services: Vec<RunningServiceResponse>,
    /// Each service's traffic between its weight groups, as blue-green and canary rollouts
    /// left it: while one runs, both versions and their weights.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub traffic: Vec<TrafficSplitResponse>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TrafficSplitResponse {
    #[schema(value_type = schema::Name)]
    pub service: String,
    /// The deployment whose step moved the traffic.
    #[schema(value_type = schema::Id)]
    pub deployment: i64,
    #[schema(value_type = schema::Timestamp)]
    pub at: jiff::Timestamp,
    pub shares: Vec<GroupShareResponse>,
}

/// A weight group's percentage of a service's traffic and the release it runs.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GroupShareResponse {
    #[schema(value_type = schema::Name)]
    pub group: String,
    #[schema(minimum = 0, maximum = 100)]
    pub weight: u32,
    #[schema(value_type = Option<schema::Id>)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<i64>,
    #[schema(value_type = Option<schema::Version>)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_version: Option<String>,
}

impl From<tollgate_core::rollout::TrafficSplit> for TrafficSplitResponse {
    fn from(split: tollgate_core::rollout::TrafficSplit) -> TrafficSplitResponse {
        TrafficSplitResponse {
            service: split.service.to_string(),
            deployment: split.deployment.0,
            at: split.at,
            shares: split
                .shares
                .into_iter()
                .map(|share| GroupShareResponse {
                    group: share.group.to_string(),
                    weight: share.weight,
                    release: share.release.map(|release| release.0),
                    release_version: share.version.map(|version| version.to_string()),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RunningServiceResponse {
    #[schema(value_type = schema::Name)]
    pub service: String,
    #[schema(value_type = schema::ArtifactName)]
    pub artifact: String,
    #[schema(value_type = schema::ArtifactVersion)]
    pub version: String,
    #[schema(value_type = schema::Digest)]
    pub digest: String,
    #[schema(value_type = schema::Id)]
    pub release: i64,
    #[schema(value_type = schema::Version)]
    pub release_version: String,
    #[schema(value_type = schema::Id)]
    pub deployment: i64,
    #[schema(value_type = schema::Timestamp)]
    pub deployed_at: jiff::Timestamp,
    #[schema(value_type = Option<schema::Name>)]
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

problems!(ListDeploymentsProblems, [QUERY, &["environment_not_found", "release_not_found", "validation_failed"]]);

#[utoipa::path(get, path = "/deployments", tag = "deployments", params(DeploymentQuery),
    responses((status = 200, body = Paginated<DeploymentResponse>, description = "Newest first"), ListDeploymentsProblems))]
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

problems!(
    RecordDeploymentProblems,
    [
        JSON_BODY,
        &[
            "forbidden",
            "release_not_found",
            "environment_not_found",
            "promotion_refused",
            "release_not_ready",
            "release_changed",
            "gates_not_passed",
            "window_closed",
            "change_required",
            "lease_held",
            "environment_quarantined",
            "conflict",
            "validation_failed",
        ],
    ]
);

/// 409 `promotion_refused` when the lifecycle does not allow it yet, `release_not_ready` when an
/// artifact is missing, differs, does not verify, or (for prod) lacks a trusted signature,
/// `gates_not_passed` when a blocking gate has not passed, `window_closed` when the
/// environment's deployment window is closed at the start and nothing overrides it,
/// `lease_held` when a running deployment meets a lease another deployment holds on one of
/// the release's services there.
#[utoipa::path(post, path = "/deployments", tag = "deployments", request_body = DeploymentBody,
    responses((status = 201, body = DeploymentResponse), RecordDeploymentProblems))]
pub async fn record_deployment(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(request): JsonBody<DeploymentRequest>,
) -> Result<(StatusCode, Json<DeploymentResponse>), ApiError> {
    let release = release_ref(&request.release)?;
    let input = DeploymentInput {
        status: request.status,
        started_at: request.started_at,
        finished_at: request.finished_at,
        override_window: request.override_window,
    };
    let deployment = state.tollgate.record_deployment(&principal, &release, &request.environment, input).await?;
    Ok((StatusCode::CREATED, Json(deployment.into())))
}

/// A deployment id from the path parameter `field`: a positive integer.
pub(crate) fn deployment_id(field: &str, value: &str) -> Result<DeploymentId, ApiError> {
    value
        .parse()
        .ok()
        .filter(|id| *id > 0)
        .map(DeploymentId)
        .ok_or_else(|| ApiError::validation(field, format!("{value:?} is not a deployment id")))
}

problems!(GetDeploymentProblems, [PATH, &["deployment_not_found"]]);

/// What to check: a release into an environment, now.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeploymentCheckRequest {
    #[schema(value_type = schema::ReleaseRef)]
    pub release: String,
    #[schema(value_type = schema::Name)]
    pub environment: String,
}

/// One precondition as judged.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct PreconditionResponse {
    /// `authorization`, `promotion`, `artifacts`, `gates`, `window`, `change` or `lock`.
    #[schema(value_type = schema::Precondition)]
    pub precondition: String,
    pub passed: bool,
    /// Why it failed, one sentence each; for a pass, a note when there is one.
    pub reasons: Vec<String>,
}

impl From<PreconditionResult> for PreconditionResponse {
    fn from(result: PreconditionResult) -> PreconditionResponse {
        PreconditionResponse {
            precondition: result.precondition.as_str().to_owned(),
            passed: result.passed,
            reasons: result.reasons,
        }
    }
}

/// Whether the release may be deployed into the environment now, every precondition judged.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct DeploymentCheckResponse {
    #[schema(value_type = schema::Version)]
    pub release: String,
    #[schema(value_type = schema::Name)]
    pub environment: String,
    #[schema(value_type = schema::Timestamp)]
    pub at: jiff::Timestamp,
    /// True when every precondition passed.
    pub allowed: bool,
    /// In order: authorization, promotion, artifacts, gates, window, change, lock.
    pub results: Vec<PreconditionResponse>,
}

impl From<DeploymentCheck> for DeploymentCheckResponse {
    fn from(check: DeploymentCheck) -> DeploymentCheckResponse {
        DeploymentCheckResponse {
            release: check.release.to_string(),
            environment: check.environment.to_string(),
            at: check.at,
            allowed: check.allowed,
            results: check.results.into_iter().map(PreconditionResponse::from).collect(),
        }
    }
}

problems!(CheckDeploymentProblems, [JSON_BODY, &["release_not_found", "environment_not_found", "validation_failed"]]);

/// Whether a release may be deployed into an environment now: every precondition a recorded
/// deployment must meet, judged at once and each refusal explained, for tools that deploy by
/// themselves and use Tollgate as the gate. A refusal is an answer (200 with `allowed: false`),
/// not an error; nothing is written.
#[utoipa::path(post, path = "/deployments/check", operation_id = "check_deployment", tag = "deployments",
    request_body = DeploymentCheckRequest,
    responses((status = 200, body = DeploymentCheckResponse), CheckDeploymentProblems))]
pub async fn check_deployment(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(request): JsonBody<DeploymentCheckRequest>,
) -> Result<Json<DeploymentCheckResponse>, ApiError> {
    let release = release_ref(&request.release)?;
    Ok(Json(state.tollgate.check_deployment(&principal, &release, &request.environment).await?.into()))
}

#[utoipa::path(get, path = "/deployments/{id}", tag = "deployments", params(("id" = schema::Id, Path)),
    responses((status = 200, body = DeploymentResponse), GetDeploymentProblems))]
pub async fn get_deployment(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(id): PathParam<String>,
) -> Result<Json<DeploymentResponse>, ApiError> {
    Ok(Json(state.tollgate.get_deployment(&principal, deployment_id("id", &id)?).await?.into()))
}

problems!(
    FinishDeploymentProblems,
    [
        JSON_BODY,
        PATH,
        &["forbidden", "deployment_not_found", "invalid_deployment_transition", "conflict", "validation_failed"],
    ]
);

#[utoipa::path(post, path = "/deployments/{id}/finish", tag = "deployments", params(("id" = schema::Id, Path)), request_body = FinishRequest,
    responses((status = 200, body = DeploymentResponse), FinishDeploymentProblems))]
pub async fn finish_deployment(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(id): PathParam<String>,
    JsonBody(request): JsonBody<FinishRequest>,
) -> Result<Json<DeploymentResponse>, ApiError> {
    let status: DeploymentStatus =
        request.status.parse().map_err(|p: tollgate_core::Problem| ApiError::validation("status", p.to_string()))?;
    Ok(Json(state.tollgate.finish_deployment(&principal, deployment_id("id", &id)?, status).await?.into()))
}

problems!(RegisterProblems, [QUERY, &["environment_not_found", "validation_failed"]]);

#[utoipa::path(get, path = "/register", tag = "register", params(RegisterQuery),
    responses((status = 200, body = RegisterResponse, description = "What version of each service runs in each environment"), RegisterProblems))]
pub async fn register(
    State(state): State<AppState>,
    Auth(principal): Auth,
    QueryParams(query): QueryParams<RegisterQuery>,
) -> Result<Json<RegisterResponse>, ApiError> {
    // Without `at` the service reads what runs now from the current register.
    let asked = parse_time("at", query.at.as_deref())?;
    let at = asked.unwrap_or_else(|| state.tollgate.now());
    let register = state.tollgate.register(&principal, query.environment.as_deref(), asked).await?;
    let environments = register
        .into_iter()
        .map(|entry| EnvironmentRegisterResponse {
            environment: entry.environment.name.to_string(),
            tier: entry.environment.tier.to_string(),
            services: entry.services.into_iter().map(RunningServiceResponse::from).collect(),
            traffic: entry.traffic.into_iter().map(TrafficSplitResponse::from).collect(),
        })
        .collect();
    Ok(Json(RegisterResponse { at, environments }))
}
