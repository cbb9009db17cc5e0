//! Leases for deployers that are not Tollgate: acquire, renew, report the outcome, list.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use tollgate_core::deployment::DeploymentStatus;
use tollgate_core::lease::{Lease, LeaseTtl};
use tollgate_service::lease::{AcquireLease, LeasedDeployment};
use utoipa::{IntoParams, ToSchema};

use crate::api::deployments::{deployment_id, DeploymentResponse};
use crate::api::problem::{problems, JSON_BODY, PATH, QUERY};
use crate::api::releases::release_ref;
use crate::api::{json_integer, json_required_integer, schema};
use crate::error::ApiError;
use crate::extract::{Auth, JsonBody, PathParam, QueryParams};
use crate::AppState;

/// What to deploy, and for how long to hold the environment.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcquireLeaseRequest {
    #[schema(value_type = schema::ReleaseRef)]
    pub release: String,
    #[schema(value_type = schema::Name)]
    pub environment: String,
    #[serde(default, deserialize_with = "json_integer")]
    #[schema(value_type = Option<schema::LeaseTtlSeconds>)]
    pub ttl_seconds: Option<i64>,
    /// A reason to deploy although the deployment window is closed (breaking glass; needs
    /// `override.window`); audited when it was needed.
    #[schema(value_type = Option<schema::Reason>)]
    pub override_window: Option<String>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenewLeaseRequest {
    #[serde(deserialize_with = "json_required_integer")]
    #[schema(value_type = schema::Epoch)]
    pub epoch: u64,
    /// The lease's own ttl when absent.
    #[serde(default, deserialize_with = "json_integer")]
    #[schema(value_type = Option<schema::LeaseTtlSeconds>)]
    pub ttl_seconds: Option<i64>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportLeaseRequest {
    #[serde(deserialize_with = "json_required_integer")]
    #[schema(value_type = schema::Epoch)]
    pub epoch: u64,
    #[schema(value_type = schema::Outcome)]
    pub status: String,
}

/// A lease on an environment's services, held for one deployment.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LeaseResponse {
    /// The deployment it was acquired for; it names the lease.
    #[schema(value_type = schema::Id)]
    pub deployment: i64,
    #[schema(value_type = schema::Name)]
    pub environment: String,
    #[schema(value_type = schema::NameSet)]
    pub services: Vec<String>,
    #[schema(value_type = schema::Name)]
    pub holder: String,
    /// The fencing token: greater than that of every lease granted before in the environment.
    #[schema(value_type = schema::Epoch)]
    pub epoch: u64,
    #[schema(value_type = schema::LeaseTtlSeconds)]
    pub ttl_seconds: u32,
    #[schema(value_type = schema::Timestamp)]
    pub acquired_at: jiff::Timestamp,
    #[schema(value_type = schema::Timestamp)]
    pub expires_at: jiff::Timestamp,
    #[schema(value_type = Option<schema::Timestamp>)]
    pub released_at: Option<jiff::Timestamp>,
    /// Where it stands as this answer is written.
    #[schema(value_type = schema::LeaseState)]
    pub state: String,
}

impl LeaseResponse {
    pub fn new(lease: Lease, now: jiff::Timestamp) -> LeaseResponse {
        LeaseResponse {
            deployment: lease.deployment.0,
            environment: lease.environment.to_string(),
            services: lease.services.iter().map(ToString::to_string).collect(),
            holder: lease.holder.to_string(),
            epoch: lease.epoch,
            ttl_seconds: lease.ttl.seconds(),
            acquired_at: lease.acquired_at,
            expires_at: lease.expires_at,
            released_at: lease.released_at,
            state: lease.state(now).to_string(),
        }
    }
}

/// A lease with its deployment.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LeasedDeploymentResponse {
    pub lease: LeaseResponse,
    pub deployment: DeploymentResponse,
}

impl LeasedDeploymentResponse {
    fn new(leased: LeasedDeployment, now: jiff::Timestamp) -> LeasedDeploymentResponse {
        LeasedDeploymentResponse { lease: LeaseResponse::new(leased.lease, now), deployment: leased.deployment.into() }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LeaseList {
    pub items: Vec<LeaseResponse>,
}

#[derive(Debug, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LeaseQuery {
    /// Only this environment.
    #[param(value_type = Option<schema::Name>)]
    pub environment: Option<String>,
}

fn ttl(seconds: Option<i64>) -> Result<Option<LeaseTtl>, ApiError> {
    seconds
        .map(|seconds| {
            LeaseTtl::from_seconds(seconds).map_err(|problem| ApiError::validation("ttl_seconds", problem.to_string()))
        })
        .transpose()
}

problems!(
    AcquireLeaseProblems,
    [
        JSON_BODY,
        &[
            "forbidden",
            "release_not_found",
            "environment_not_found",
            "deployment_refused",
            "lease_held",
            "environment_quarantined",
            "promotion_refused",
            "release_not_ready",
            "release_changed",
            "gates_not_passed",
            "window_closed",
            "change_required",
            "conflict",
            "validation_failed",
        ],
    ]
);

/// Judges every precondition of deploying the release into the environment now (as
/// `POST /deployments/check` does) and, when all hold, records the deployment as running and
/// locks the release's services in the environment for the caller until the lease expires.
/// 409 `deployment_refused` lists every failed precondition; 409 `lease_held` names the
/// deployment holding a service. A lease that expired unrenewed is taken over: its deployment
/// is recorded as failed.
#[utoipa::path(post, path = "/leases", tag = "leases", request_body = AcquireLeaseRequest,
    responses((status = 201, body = LeasedDeploymentResponse), AcquireLeaseProblems))]
pub async fn acquire_lease(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(request): JsonBody<AcquireLeaseRequest>,
) -> Result<(StatusCode, Json<LeasedDeploymentResponse>), ApiError> {
    let release = release_ref(&request.release)?;
    let acquire = AcquireLease { ttl: ttl(request.ttl_seconds)?, override_window: request.override_window };
    let leased = state.tollgate.acquire_lease(&principal, &release, &request.environment, acquire).await?;
    Ok((StatusCode::CREATED, Json(LeasedDeploymentResponse::new(leased, state.tollgate.now()))))
}

problems!(ListLeasesProblems, [QUERY, &["environment_not_found", "validation_failed"]]);

/// Leases that lock services now: held, or expired and not yet taken over.
#[utoipa::path(get, path = "/leases", tag = "leases", params(LeaseQuery),
    responses((status = 200, body = LeaseList), ListLeasesProblems))]
pub async fn list_leases(
    State(state): State<AppState>,
    Auth(principal): Auth,
    QueryParams(query): QueryParams<LeaseQuery>,
) -> Result<Json<LeaseList>, ApiError> {
    let leases = state.tollgate.list_leases(&principal, query.environment.as_deref()).await?;
    let now = state.tollgate.now();
    Ok(Json(LeaseList { items: leases.into_iter().map(|lease| LeaseResponse::new(lease, now)).collect() }))
}

problems!(GetLeaseProblems, [PATH, &["lease_not_found", "validation_failed"]]);

#[utoipa::path(get, path = "/leases/{deployment}", tag = "leases", params(("deployment" = schema::Id, Path)),
    responses((status = 200, body = LeaseResponse), GetLeaseProblems))]
pub async fn get_lease(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(deployment): PathParam<String>,
) -> Result<Json<LeaseResponse>, ApiError> {
    let lease = state.tollgate.get_lease(&principal, deployment_id("deployment", &deployment)?).await?;
    Ok(Json(LeaseResponse::new(lease, state.tollgate.now())))
}

problems!(
    RenewLeaseProblems,
    [
        JSON_BODY,
        PATH,
        &["forbidden", "deployment_not_found", "lease_not_found", "lease_lost", "conflict", "validation_failed"]
    ]
);

/// Extends the lease from now by its ttl (or `ttl_seconds`), for the holder of its epoch.
/// 409 `lease_lost` once it expired or was released.
#[utoipa::path(post, path = "/leases/{deployment}/renew", tag = "leases", params(("deployment" = schema::Id, Path)),
    request_body = RenewLeaseRequest, responses((status = 200, body = LeaseResponse), RenewLeaseProblems))]
pub async fn renew_lease(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(deployment): PathParam<String>,
    JsonBody(request): JsonBody<RenewLeaseRequest>,
) -> Result<Json<LeaseResponse>, ApiError> {
    let deployment = deployment_id("deployment", &deployment)?;
    let lease = state.tollgate.renew_lease(&principal, deployment, request.epoch, ttl(request.ttl_seconds)?).await?;
    Ok(Json(LeaseResponse::new(lease, state.tollgate.now())))
}

problems!(
    ReportLeaseProblems,
    [
        JSON_BODY,
        PATH,
        &[
            "forbidden",
            "deployment_not_found",
            "lease_not_found",
            "lease_lost",
            "invalid_deployment_transition",
            "conflict",
            "validation_failed",
        ],
    ]
);

/// Reports how the deployment held under the lease ended, for the holder of its epoch: the
/// deployment becomes succeeded (and enters the register) or failed, and the lease is released.
/// 409 `lease_lost` once it expired or was released.
#[utoipa::path(post, path = "/leases/{deployment}/report", tag = "leases", params(("deployment" = schema::Id, Path)),
    request_body = ReportLeaseRequest, responses((status = 200, body = LeasedDeploymentResponse), ReportLeaseProblems))]
pub async fn report_lease(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(deployment): PathParam<String>,
    JsonBody(request): JsonBody<ReportLeaseRequest>,
) -> Result<Json<LeasedDeploymentResponse>, ApiError> {
    let deployment = deployment_id("deployment", &deployment)?;
    let status = match request.status.as_str() {
        "succeeded" => DeploymentStatus::Succeeded,
        "failed" => DeploymentStatus::Failed,
        other => {
            return Err(ApiError::validation("status", format!("{other:?} is not succeeded or failed")));
        }
    };
    let leased = state.tollgate.report_lease(&principal, deployment, request.epoch, status).await?;
    Ok(Json(LeasedDeploymentResponse::new(leased, state.tollgate.now())))
}
