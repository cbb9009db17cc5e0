//! `POST /apply`: config as code, planned and applied in one transaction.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use tollgate_core::apply::{ApplyInput, PlanOp};
use tollgate_core::change::policy::{
    ApprovalSettingsInput, ChangePolicyInput, ChangeTemplateInput, EnvironmentChangeRulesInput, LabelTeamsInput,
    RiskClassesInput, RiskPolicyInput, RiskWeightsInput, Scalar,
};
use tollgate_core::sso::{GroupRolesInput, SsoInput, SsoRolesInput};
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
    /// The single sign-on settings (`docs/sso.md`); absent leaves the installed ones alone.
    pub sso: Option<SsoRequest>,
    /// The change policy (`docs/changes.md`); absent leaves the one in force alone, present
    /// replaces it whole (what it leaves out takes its default).
    pub changes: Option<ChangePolicyRequest>,
}

/// The `changes` section of tollgate.yaml: risk scoring, approvals, per-environment rules.
/// Numbers are checked by the server (ranges in `docs/changes.md`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePolicyRequest {
    pub risk: Option<RiskPolicyRequest>,
    pub approvals: Option<ApprovalSettingsRequest>,
    /// 0 to 10080; 30 when absent.
    #[schema(value_type = Option<f64>)]
    pub stabilization_gap_minutes: Option<serde_json::Number>,
    #[serde(default)]
    pub environments: Vec<EnvironmentChangeRulesRequest>,
    /// Pre-approved templates of standard changes.
    #[serde(default)]
    pub templates: Vec<ChangeTemplateRequest>,
}

/// A pre-approved template of standard changes: routine work on named services in named
/// environments (empty lists mean any).
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeTemplateRequest {
    #[schema(value_type = schema::Name)]
    pub name: String,
    #[schema(value_type = Option<schema::PlanText>)]
    pub description: Option<String>,
    #[serde(default)]
    #[schema(value_type = Vec<schema::Name>)]
    pub services: Vec<String>,
    #[serde(default)]
    #[schema(value_type = Vec<schema::Name>)]
    pub environments: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RiskPolicyRequest {
    /// Each factor's weight, 0 to 1000 (at least one above 0).
    #[schema(value_type = Option<std::collections::BTreeMap<schema::RiskFactorKind, f64>>)]
    pub weights: Option<std::collections::BTreeMap<String, serde_json::Number>>,
    /// The lowest score of `medium`, `high` and `critical`, rising, 1 to 100.
    #[schema(value_type = Option<std::collections::BTreeMap<String, f64>>)]
    pub classes: Option<std::collections::BTreeMap<String, serde_json::Number>>,
    /// 1 to 3650 days; 90 when absent.
    #[schema(value_type = Option<f64>)]
    pub failure_window_days: Option<serde_json::Number>,
    /// 0 to 1; 0.1 when absent.
    #[schema(value_type = Option<f64>)]
    pub prior_rate: Option<serde_json::Number>,
    /// 0 to 1000 deployments; 10 when absent.
    #[schema(value_type = Option<f64>)]
    pub prior_weight: Option<serde_json::Number>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalSettingsRequest {
    /// 1 to 20 distinct approvers; 2 when absent.
    #[schema(value_type = Option<f64>)]
    pub cab_quorum: Option<serde_json::Number>,
    #[serde(default)]
    #[schema(value_type = Vec<schema::Name>)]
    pub cab_required_teams: Vec<String>,
    /// Teams a CAB needs a member of when the change touches a service with a label.
    #[serde(default)]
    pub cab_label_teams: Vec<LabelTeamsRequest>,
    /// 1 to 365 days; 5 when absent.
    #[schema(value_type = Option<f64>)]
    pub review_days: Option<serde_json::Number>,
}

/// The teams a CAB needs for changes touching services labelled `label`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelTeamsRequest {
    #[schema(value_type = schema::Name)]
    pub label: String,
    /// At least one team, each once.
    #[schema(value_type = Vec<schema::Name>)]
    pub teams: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentChangeRulesRequest {
    #[schema(value_type = schema::Name)]
    pub name: String,
    /// By tier when absent: prod requires a change.
    pub requires_change: Option<bool>,
    #[schema(value_type = Option<f64>)]
    pub stabilization_gap_minutes: Option<serde_json::Number>,
    /// `finish` (the default) or `pause`.
    #[schema(value_type = Option<schema::WindowClose>)]
    pub on_window_close: Option<String>,
    /// An environment where the release's rollback must have succeeded (a deployment there
    /// rolled back by its plans' rollback steps) before it is deployed here.
    #[schema(value_type = Option<schema::Name>)]
    pub requires_rollback_tested_in: Option<String>,
}

fn scalar(number: Option<serde_json::Number>) -> Option<Scalar> {
    number.map(|number| Scalar(number.to_string()))
}

impl From<ChangePolicyRequest> for ChangePolicyInput {
    fn from(request: ChangePolicyRequest) -> ChangePolicyInput {
        ChangePolicyInput {
            risk: request.risk.map(|risk| {
                let mut weights = risk.weights.unwrap_or_default();
                let mut classes = risk.classes.unwrap_or_default();
                RiskPolicyInput {
                    weights: Some(RiskWeightsInput {
                        blast_radius: scalar(weights.remove("blast_radius")),
                        size: scalar(weights.remove("size")),
                        failure_rate: scalar(weights.remove("failure_rate")),
                        environment_tier: scalar(weights.remove("environment_tier")),
                        schedule: scalar(weights.remove("schedule")),
                        emergency: scalar(weights.remove("emergency")),
                        evidence: scalar(weights.remove("evidence")),
                    }),
                    classes: Some(RiskClassesInput {
                        medium: scalar(classes.remove("medium")),
                        high: scalar(classes.remove("high")),
                        critical: scalar(classes.remove("critical")),
                    }),
                    failure_window_days: scalar(risk.failure_window_days),
                    prior_rate: scalar(risk.prior_rate),
                    prior_weight: scalar(risk.prior_weight),
                }
            }),
            approvals: request.approvals.map(|approvals| ApprovalSettingsInput {
                cab_quorum: scalar(approvals.cab_quorum),
                cab_required_teams: approvals.cab_required_teams,
                cab_label_teams: approvals
                    .cab_label_teams
                    .into_iter()
                    .map(|entry| LabelTeamsInput { label: entry.label, teams: entry.teams })
                    .collect(),
                review_days: scalar(approvals.review_days),
            }),
            stabilization_gap_minutes: scalar(request.stabilization_gap_minutes),
            environments: request
                .environments
                .into_iter()
                .map(|rules| EnvironmentChangeRulesInput {
                    name: rules.name,
                    requires_change: rules.requires_change.map(|value| Scalar(value.to_string())),
                    stabilization_gap_minutes: scalar(rules.stabilization_gap_minutes),
                    on_window_close: rules.on_window_close,
                    requires_rollback_tested_in: rules.requires_rollback_tested_in,
                })
                .collect(),
            templates: request
                .templates
                .into_iter()
                .map(|template| ChangeTemplateInput {
                    name: template.name,
                    description: template.description,
                    services: template.services,
                    environments: template.environments,
                })
                .collect(),
        }
    }
}

/// The `sso` section of tollgate.yaml: single sign-on with an OpenID Connect provider.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SsoRequest {
    /// The provider's issuer: `https://`, or `http://` on a loopback host; no query or fragment.
    #[schema(min_length = 1, max_length = 2048)]
    pub issuer: String,
    #[schema(min_length = 1, max_length = 255)]
    pub client_id: String,
    /// The name of the environment variable that holds the client secret on every server.
    #[schema(pattern = "^[A-Za-z_][A-Za-z0-9_]{0,254}$")]
    pub client_secret_env: String,
    /// The server's callback: a URL whose path ends with `/login/sso/callback`.
    #[schema(min_length = 1, max_length = 2048)]
    pub redirect_url: String,
    /// The claim read as the user name; `preferred_username` when absent (`sub` when a token
    /// lacks it).
    #[schema(min_length = 1, max_length = 255)]
    pub username_claim: Option<String>,
    /// The claim listing the user's groups; `groups` when absent.
    #[schema(min_length = 1, max_length = 255)]
    pub groups_claim: Option<String>,
    /// The roles each group gives; a user gets the union over their groups.
    #[schema(value_type = std::collections::BTreeMap<String, Vec<schema::Role>>)]
    pub roles: std::collections::BTreeMap<String, Vec<String>>,
    /// The scopes asked for besides `openid`; `profile` when absent.
    #[serde(default)]
    #[schema(value_type = Vec<ScopeToken>, max_items = 32)]
    pub scopes: Vec<String>,
}

impl From<SsoRequest> for SsoInput {
    fn from(request: SsoRequest) -> SsoInput {
        SsoInput {
            issuer: request.issuer,
            client_id: request.client_id,
            client_secret_env: request.client_secret_env,
            redirect_url: request.redirect_url,
            username_claim: request.username_claim,
            groups_claim: request.groups_claim,
            roles: SsoRolesInput {
                groups: request.roles.into_iter().map(|(group, roles)| GroupRolesInput { group, roles }).collect(),
            },
            scopes: request.scopes,
        }
    }
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

/// An OAuth scope (RFC 6749, section 3.3).
pub struct ScopeToken;

impl utoipa::PartialSchema for ScopeToken {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[!#-\\[\\]-~]+$"))
            .max_length(Some(tollgate_core::sso::MAX_SSO_TEXT_LEN))
            .description(Some("A scope: visible ASCII characters other than `\"` and `\\`."))
            .into()
    }
}

impl ToSchema for ScopeToken {}

/// The kind of a planned change's object.
pub struct ObjectKind;

impl utoipa::PartialSchema for ObjectKind {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let kinds = ["team", "environment", "lifecycle", "service", "gate_policy", "sso", "change_policy"];
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
        sso: request.sso.map(Into::into),
        changes: request.changes.map(Into::into),
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
