//! `POST /apply`: config as code, planned and applied in one transaction.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use tollgate_core::apply::{ApplyInput, PlanOp};
use tollgate_service::apply::ApplyMode;
use utoipa::{IntoParams, ToSchema};

use crate::api::catalog::{EnvironmentRequest, LifecycleRequest, ServiceRequest, TeamRequest};
use crate::api::gates::{gates_input, GateRequest, ModuleRequest};
use crate::api::problem::{problems, JSON_BODY, QUERY};
use crate::api::schema;
use crate::error::ApiError;
use crate::extract::{Auth, JsonBody, QueryParams};
use crate::AppState;

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyRequest {
    #[serde(default)]
    pub teams: Vec<TeamRequest>,
    #[serde(default)]
    pub environments: Vec<EnvironmentRequest>,
    #[serde(default)]
    pub lifecycles: Vec<LifecycleRequest>,
    #[serde(default)]
    pub services: Vec<ServiceRequest>,
    /// Each environment's gates; absent leaves the installed gate policy alone, present
    /// replaces it whole (a new policy version when it differs).
    #[schema(value_type = Option<crate::api::gates::GatesByEnvironment>)]
    pub gates: Option<std::collections::BTreeMap<String, Vec<GateRequest>>>,
    /// The Rego modules the gates name by path.
    #[serde(default)]
    pub modules: Vec<ModuleRequest>,
}

#[derive(Debug, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ApplyQuery {
    /// Only plan; write nothing.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PlanResponse {
    /// Whether the plan was written (false on a dry run or when nothing changes).
    pub applied: bool,
    pub changes: Vec<PlannedChangeResponse>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PlannedChangeResponse {
    #[schema(value_type = ObjectKind)]
    pub kind: String,
    #[schema(value_type = schema::Name)]
    pub name: String,
    #[schema(value_type = PlanOperation)]
    pub op: String,
    /// The fields an update changes.
    pub fields: Vec<String>,
}

/// The kind of a planned change's object.
pub struct ObjectKind;

impl utoipa::PartialSchema for ObjectKind {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let kinds = ["team", "environment", "lifecycle", "service", "gate_policy"];
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(kinds))
            .into()
    }
}

impl ToSchema for ObjectKind {}

/// What a planned change does.
pub struct PlanOperation;

impl utoipa::PartialSchema for PlanOperation {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(["create", "update", "unchanged"]))
            .into()
    }
}

impl ToSchema for PlanOperation {}

problems!(ApplyProblems, [JSON_BODY, QUERY, &["forbidden", "validation_failed"]]);

/// Objects missing from the document are left alone; 422 lists every invalid field and dangling
/// reference by path (`services[1].owner`).
#[utoipa::path(post, path = "/apply", tag = "apply", params(ApplyQuery), request_body = ApplyRequest,
    responses((status = 200, body = PlanResponse), ApplyProblems))]
pub async fn apply(
    State(state): State<AppState>,
    Auth(principal): Auth,
    QueryParams(query): QueryParams<ApplyQuery>,
    JsonBody(request): JsonBody<ApplyRequest>,
) -> Result<Json<PlanResponse>, ApiError> {
    let input = ApplyInput {
        teams: request.teams.into_iter().map(Into::into).collect(),
        environments: request.environments.into_iter().map(Into::into).collect(),
        lifecycles: request.lifecycles.into_iter().map(Into::into).collect(),
        services: request.services.into_iter().map(Into::into).collect(),
        gates: request.gates.map(|gates| gates_input(gates, request.modules)),
    };
    let mode = if query.dry_run { ApplyMode::DryRun } else { ApplyMode::Apply };
    let plan = state.tollgate.apply(&principal, input, mode).await?;
    let applied = mode == ApplyMode::Apply && !plan.is_noop();
    let changes = plan
        .changes
        .iter()
        .map(|change| {
            let (op, fields) = match &change.op {
                PlanOp::Create => ("create", Vec::new()),
                PlanOp::Update { fields } => ("update", fields.iter().map(|f| f.to_string()).collect()),
                PlanOp::Unchanged => ("unchanged", Vec::new()),
            };
            PlannedChangeResponse {
                kind: change.desired.kind().to_owned(),
                name: change.desired.name().to_owned(),
                op: op.to_owned(),
                fields,
            }
        })
        .collect();
    Ok(Json(PlanResponse { applied, changes }))
}
