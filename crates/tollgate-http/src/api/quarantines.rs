//! Quarantined environments: list them, and lift one (authorized, with a reason).

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use tollgate_core::quarantine::Quarantine;
use utoipa::ToSchema;

use crate::api::problem::{problems, JSON_BODY, PATH};
use crate::api::schema;
use crate::error::ApiError;
use crate::extract::{Auth, JsonBody, PathParam};
use crate::AppState;

/// An environment in quarantine: no deployment starts there until it is lifted.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QuarantineResponse {
    #[schema(value_type = schema::Name)]
    pub environment: String,
    /// The deployment whose failure quarantined it.
    #[schema(value_type = Option<schema::Id>)]
    pub deployment: Option<i64>,
    pub reason: String,
    #[schema(value_type = schema::Timestamp)]
    pub since: jiff::Timestamp,
}

impl From<Quarantine> for QuarantineResponse {
    fn from(quarantine: Quarantine) -> QuarantineResponse {
        QuarantineResponse {
            environment: quarantine.environment.to_string(),
            deployment: quarantine.deployment.map(|deployment| deployment.0),
            reason: quarantine.reason,
            since: quarantine.since,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QuarantineList {
    pub items: Vec<QuarantineResponse>,
}

/// Why the quarantine may end: what was checked, who vouches for the environment now.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LiftQuarantineRequest {
    #[schema(value_type = schema::Reason)]
    pub reason: String,
}

problems!(ListProblems, [&[]]);

/// Every environment in quarantine, by name.
#[utoipa::path(get, path = "/quarantines", tag = "deployments",
    responses((status = 200, body = QuarantineList), ListProblems))]
pub async fn list_quarantines(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> Result<Json<QuarantineList>, ApiError> {
    let quarantines = state.tollgate.list_quarantines(&principal).await?;
    Ok(Json(QuarantineList { items: quarantines.into_iter().map(Into::into).collect() }))
}

problems!(
    LiftProblems,
    [JSON_BODY, PATH, &["forbidden", "environment_not_found", "not_quarantined", "conflict", "validation_failed"]]
);

/// Lifts an environment's quarantine, so deployments start there again; authorized as
/// `quarantine.lift`, with a reason, audited. Answers with the quarantine that ended; 409
/// `not_quarantined` when there was none.
#[utoipa::path(post, path = "/quarantines/{environment}/lift", tag = "deployments",
    params(("environment" = schema::Name, Path)), request_body = LiftQuarantineRequest,
    responses((status = 200, body = QuarantineResponse), LiftProblems))]
pub async fn lift_quarantine(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(environment): PathParam<String>,
    JsonBody(request): JsonBody<LiftQuarantineRequest>,
) -> Result<Json<QuarantineResponse>, ApiError> {
    let lifted = state.tollgate.lift_quarantine(&principal, &environment, &request.reason).await?;
    Ok(Json(lifted.into()))
}
