//! Quality gates: evaluating an environment's gates for a release, decisions, overrides,
//! replays, and the installed gate policy.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use tollgate_core::digest::Sha256Digest;
use tollgate_core::gate::{
    EnvironmentGatesInput, GateBinding, GateDecision, GateDecisionId, GateInput, GateOverride, GateSource, GatesInput,
    PolicyModule, PolicyVersion, PolicyVersionRecord,
};
use tollgate_service::gate::{Evaluation, GateEvaluation};
use tollgate_service::GateResult;
use utoipa::openapi::schema::{AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::api::problem::{problems, JSON_BODY, PATH, QUERY};
use crate::api::releases::release_ref;
use crate::api::schema::{self, members, null, reference, with_rules};
use crate::api::{page_limit, PageQuery, Paginated};
use crate::error::ApiError;
use crate::extract::{Auth, JsonBody, PathParam, QueryParams};
use crate::AppState;

/// One gate as declared: exactly one of `builtin` and `rego`; its schema is that of
/// [`GateBody`].
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = GateFields)]
pub struct GateRequest {
    /// Unique within the environment; the built-in's name or the module's file stem when absent.
    #[schema(value_type = Option<schema::GateName>)]
    pub name: Option<String>,
    /// A gate of the built-in library (see `GET /policy`).
    #[schema(value_type = Option<schema::GateName>)]
    pub builtin: Option<String>,
    /// The path of one of the request's modules that defines the gate's `violations`.
    #[schema(value_type = Option<schema::ModulePath>)]
    pub rego: Option<String>,
    /// The built-in's parameters.
    #[schema(value_type = Option<Object>)]
    pub with: Option<serde_json::Value>,
    /// `block` when absent.
    #[schema(value_type = Option<schema::Enforcement>)]
    pub enforcement: Option<String>,
}

/// The schema of a declared gate: a built-in (with optional parameters) or a user module.
pub struct GateBody;

impl PartialSchema for GateBody {
    fn schema() -> RefOr<Schema> {
        let builtin =
            members(&["builtin"], vec![("builtin", reference::<schema::GateName>()), ("rego", null().into())]);
        let rego = members(
            &["rego"],
            vec![("rego", reference::<schema::ModulePath>()), ("builtin", null().into()), ("with", null().into())],
        );
        let exactly_one = AnyOfBuilder::new().item(builtin).item(rego);
        with_rules(GateRequest::schema(), [exactly_one.into()], "A gate: exactly one of `builtin` and `rego`.").into()
    }
}

impl ToSchema for GateBody {
    fn name() -> std::borrow::Cow<'static, str> {
        "GateRequest".into()
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        GateRequest::schemas(schemas);
    }
}

/// The gates of each environment, by environment name.
pub struct GatesByEnvironment;

impl PartialSchema for GatesByEnvironment {
    fn schema() -> RefOr<Schema> {
        let gates = ArrayBuilder::new().items(reference::<GateBody>());
        ObjectBuilder::new()
            .additional_properties(Some(gates))
            .property_names(Some(ObjectBuilder::new().schema_type(Type::String).pattern(Some(schema::NAME_PATTERN))))
            .description(Some("Each environment's gates, by environment name; the whole gate policy."))
            .into()
    }
}

impl ToSchema for GatesByEnvironment {}

/// A user's Rego module.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModuleRequest {
    #[schema(value_type = schema::ModulePath)]
    pub path: String,
    #[schema(value_type = schema::ModuleSource)]
    pub source: String,
}

impl From<GateRequest> for GateInput {
    fn from(gate: GateRequest) -> GateInput {
        GateInput {
            name: gate.name,
            builtin: gate.builtin,
            rego: gate.rego,
            with: gate.with,
            enforcement: gate.enforcement,
        }
    }
}

impl From<ModuleRequest> for PolicyModule {
    fn from(module: ModuleRequest) -> PolicyModule {
        PolicyModule { path: module.path, source: module.source }
    }
}

/// The `gates` section of a document and the modules its gates name.
pub fn gates_input(gates: BTreeMap<String, Vec<GateRequest>>, modules: Vec<ModuleRequest>) -> GatesInput {
    GatesInput {
        environments: gates
            .into_iter()
            .map(|(environment, gates)| EnvironmentGatesInput {
                environment,
                gates: gates.into_iter().map(Into::into).collect(),
            })
            .collect(),
        modules: modules.into_iter().map(Into::into).collect(),
    }
}

/// A policy to try without installing it: the gates of the evaluated environment.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DryRunRequest {
    #[schema(value_type = Vec<GateBody>)]
    pub gates: Vec<GateRequest>,
    #[serde(default)]
    pub modules: Vec<ModuleRequest>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluateRequest {
    #[schema(value_type = schema::ReleaseRef)]
    pub release: String,
    #[schema(value_type = schema::Name)]
    pub environment: String,
    /// Include the input document the gates judged.
    #[serde(default)]
    pub explain: bool,
    /// Judge with these gates instead of the installed ones; nothing is recorded.
    pub dry_run: Option<DryRunRequest>,
}

/// A policy version: its sequence number and the SHA-256 of its bundle.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PolicyVersionResponse {
    #[schema(value_type = schema::Id)]
    pub seq: i64,
    #[schema(value_type = schema::Digest)]
    pub digest: String,
}

impl From<PolicyVersion> for PolicyVersionResponse {
    fn from(version: PolicyVersion) -> PolicyVersionResponse {
        PolicyVersionResponse { seq: version.seq, digest: version.digest.to_string() }
    }
}

/// One violation: what is wrong and the data the gate judged.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GateViolationResponse {
    pub message: String,
    /// Any JSON value the gate gives (an object, a list, a number, null).
    pub data: serde_json::Value,
}

/// The result of one gate.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GateResultResponse {
    #[schema(value_type = schema::GateName)]
    pub gate: String,
    #[schema(value_type = schema::Enforcement)]
    pub enforcement: String,
    #[schema(value_type = schema::GateOutcome)]
    pub outcome: String,
    /// Why the gate could not be judged (outcome `error`).
    pub reason: Option<String>,
    pub violations: Vec<GateViolationResponse>,
    /// What the gate says besides violations (e.g. that it had no baseline to compare with).
    pub notes: Vec<String>,
}

impl From<&GateResult> for GateResultResponse {
    fn from(result: &GateResult) -> GateResultResponse {
        let stored = serde_json::to_value(result).expect("a gate result converts to JSON");
        GateResultResponse::from_stored(&stored)
    }
}

impl GateResultResponse {
    /// From the stored form of a result (a decision's `results` items).
    fn from_stored(stored: &serde_json::Value) -> GateResultResponse {
        let text = |key: &str| stored[key].as_str().unwrap_or_default().to_owned();
        let violations = stored["violations"].as_array().map(Vec::as_slice).unwrap_or_default();
        GateResultResponse {
            gate: text("gate"),
            enforcement: text("enforcement"),
            outcome: text("outcome"),
            reason: stored["reason"].as_str().map(str::to_owned),
            notes: stored["notes"]
                .as_array()
                .map(|notes| notes.iter().filter_map(|note| note.as_str().map(str::to_owned)).collect())
                .unwrap_or_default(),
            violations: violations
                .iter()
                .map(|violation| GateViolationResponse {
                    message: violation["message"].as_str().unwrap_or_default().to_owned(),
                    data: violation["data"].clone(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GateEvaluationResponse {
    #[schema(value_type = schema::Version)]
    pub release: String,
    #[schema(value_type = schema::Name)]
    pub environment: String,
    /// Whether every blocking gate passed.
    pub passed: bool,
    /// The recorded decision; absent on a dry run or when no gate policy is installed.
    #[schema(value_type = Option<schema::Id>)]
    pub decision: Option<i64>,
    /// The policy version judged with; absent on a dry run or when none is installed.
    pub policy: Option<PolicyVersionResponse>,
    #[schema(value_type = Option<schema::Digest>)]
    pub manifest_digest: Option<String>,
    /// The digest of the evidence set judged: evidence files and signatures with their trust.
    #[schema(value_type = Option<schema::Digest>)]
    pub evidence_digest: Option<String>,
    #[schema(value_type = schema::Digest)]
    pub input_digest: String,
    pub gates: Vec<GateResultResponse>,
    /// The input document, when asked for with `explain`.
    #[schema(value_type = Option<Object>)]
    pub input: Option<serde_json::Value>,
}

fn binding_parts(binding: Option<&GateBinding>) -> (Option<PolicyVersionResponse>, Option<String>, Option<String>) {
    match binding {
        Some(binding) => (
            Some(binding.policy.into()),
            Some(binding.manifest_digest.to_string()),
            Some(binding.evidence_digest.to_string()),
        ),
        None => (None, None, None),
    }
}

impl GateEvaluationResponse {
    fn new(evaluation: GateEvaluation, explain: bool) -> GateEvaluationResponse {
        let (policy, manifest_digest, evidence_digest) = binding_parts(evaluation.binding.as_ref());
        GateEvaluationResponse {
            release: evaluation.release.to_string(),
            environment: evaluation.environment.to_string(),
            passed: evaluation.passed,
            decision: evaluation.decision.map(|id| id.0),
            policy,
            manifest_digest,
            evidence_digest,
            input_digest: evaluation.input_digest.to_string(),
            gates: evaluation.results.iter().map(GateResultResponse::from).collect(),
            input: explain.then_some(evaluation.input),
        }
    }
}

/// A recorded decision.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GateDecisionResponse {
    #[schema(value_type = schema::Id)]
    pub id: i64,
    #[schema(value_type = schema::Id)]
    pub release: i64,
    #[schema(value_type = schema::Name)]
    pub environment: String,
    pub passed: bool,
    pub policy: PolicyVersionResponse,
    #[schema(value_type = schema::Digest)]
    pub manifest_digest: String,
    #[schema(value_type = schema::Digest)]
    pub evidence_digest: String,
    #[schema(value_type = schema::Digest)]
    pub input_digest: String,
    pub gates: Vec<GateResultResponse>,
    #[schema(value_type = schema::Name)]
    pub created_by: String,
    #[schema(value_type = schema::Timestamp)]
    pub created_at: jiff::Timestamp,
    /// The input document (only when one decision is read).
    #[schema(value_type = Option<Object>)]
    pub input: Option<serde_json::Value>,
}

impl GateDecisionResponse {
    fn new(decision: GateDecision, with_input: bool) -> GateDecisionResponse {
        let results = decision.results.as_array().map(Vec::as_slice).unwrap_or_default();
        GateDecisionResponse {
            id: decision.id.0,
            release: decision.release.0,
            environment: decision.environment.to_string(),
            passed: decision.passed,
            policy: decision.binding.policy.into(),
            manifest_digest: decision.binding.manifest_digest.to_string(),
            evidence_digest: decision.binding.evidence_digest.to_string(),
            input_digest: decision.input_digest.to_string(),
            gates: results.iter().map(GateResultResponse::from_stored).collect(),
            created_by: decision.created_by.to_string(),
            created_at: decision.created_at,
            input: with_input.then_some(decision.input),
        }
    }
}

#[derive(Debug, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DecisionQuery {
    /// Only this release (id or version).
    #[param(value_type = Option<schema::ReleaseRef>)]
    pub release: Option<String>,
    /// Only this environment.
    #[param(value_type = Option<schema::Name>)]
    pub environment: Option<String>,
    #[serde(default, deserialize_with = "page_limit")]
    #[param(value_type = Option<schema::PageLimit>)]
    pub limit: Option<i64>,
    #[param(value_type = Option<schema::Cursor>)]
    pub cursor: Option<i64>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverrideRequest {
    #[schema(value_type = schema::ReleaseRef)]
    pub release: String,
    #[schema(value_type = schema::Name)]
    pub environment: String,
    /// Why the failed gates may be passed over; recorded in the audit log.
    #[schema(value_type = schema::Reason)]
    pub reason: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GateOverrideResponse {
    #[schema(value_type = schema::Id)]
    pub id: i64,
    #[schema(value_type = schema::Id)]
    pub decision: i64,
    #[schema(value_type = schema::Version)]
    pub release: String,
    #[schema(value_type = schema::Name)]
    pub environment: String,
    pub policy: PolicyVersionResponse,
    #[schema(value_type = schema::Digest)]
    pub manifest_digest: String,
    #[schema(value_type = schema::Digest)]
    pub evidence_digest: String,
    pub reason: String,
    #[schema(value_type = schema::Name)]
    pub created_by: String,
    #[schema(value_type = schema::Timestamp)]
    pub created_at: jiff::Timestamp,
}

impl From<GateOverride> for GateOverrideResponse {
    fn from(overridden: GateOverride) -> GateOverrideResponse {
        GateOverrideResponse {
            id: overridden.id.0,
            decision: overridden.decision.0,
            release: overridden.release.to_string(),
            environment: overridden.environment.to_string(),
            policy: overridden.binding.policy.into(),
            manifest_digest: overridden.binding.manifest_digest.to_string(),
            evidence_digest: overridden.binding.evidence_digest.to_string(),
            reason: overridden.reason,
            created_by: overridden.created_by.to_string(),
            created_at: overridden.created_at,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReplayResponse {
    #[schema(value_type = schema::Id)]
    pub decision: i64,
    /// Whether judging the stored input again under the decision's policy version gives the
    /// recorded results.
    pub matches: bool,
    pub recorded: Vec<GateResultResponse>,
    pub replayed: Vec<GateResultResponse>,
}

/// One gate of the installed policy.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GateSpecResponse {
    #[schema(value_type = schema::GateName)]
    pub name: String,
    #[schema(value_type = Option<schema::GateName>)]
    pub builtin: Option<String>,
    #[schema(value_type = Option<schema::ModulePath>)]
    pub rego: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub with: Option<serde_json::Value>,
    #[schema(value_type = schema::Enforcement)]
    pub enforcement: String,
}

/// A module of the installed policy, by digest.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ModuleResponse {
    #[schema(value_type = schema::ModulePath)]
    pub path: String,
    #[schema(value_type = schema::Digest)]
    pub digest: String,
}

/// A gate of the built-in library.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BuiltinGateResponse {
    #[schema(value_type = schema::GateName)]
    pub name: String,
    pub description: String,
    pub params: Vec<BuiltinParamResponse>,
    /// Why it cannot be enabled yet, when it cannot.
    pub unavailable: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BuiltinParamResponse {
    pub name: String,
    pub description: String,
    /// The default, as JSON text.
    pub default: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(as = GatePolicyResponse)]
pub struct PolicyResponse {
    /// The installed version; absent when no gate policy was ever installed.
    pub version: Option<PolicyVersionResponse>,
    #[schema(value_type = Option<schema::Name>)]
    pub installed_by: Option<String>,
    #[schema(value_type = Option<schema::Timestamp>)]
    pub installed_at: Option<jiff::Timestamp>,
    /// Each environment's gates.
    pub gates: BTreeMap<String, Vec<GateSpecResponse>>,
    pub modules: Vec<ModuleResponse>,
    /// The built-in gate library.
    pub builtins: Vec<BuiltinGateResponse>,
}

fn policy_response(record: Option<PolicyVersionRecord>) -> PolicyResponse {
    let builtins = tollgate_service::builtin_gates()
        .iter()
        .map(|builtin| BuiltinGateResponse {
            name: builtin.name.to_owned(),
            description: builtin.description.to_owned(),
            params: builtin
                .params
                .iter()
                .map(|param| BuiltinParamResponse {
                    name: param.name.to_owned(),
                    description: param.description.to_owned(),
                    default: param.default.to_owned(),
                })
                .collect(),
            unavailable: match &builtin.availability {
                tollgate_service::Availability::Available => None,
                tollgate_service::Availability::Unavailable { reason } => Some(reason.to_string()),
            },
        })
        .collect();
    let Some(record) = record else {
        return PolicyResponse {
            version: None,
            installed_by: None,
            installed_at: None,
            gates: BTreeMap::new(),
            modules: Vec::new(),
            builtins,
        };
    };
    let gates = record
        .policy
        .gates
        .iter()
        .map(|(environment, specs)| {
            let specs = specs
                .iter()
                .map(|spec| {
                    let (builtin, rego, with) = match &spec.source {
                        GateSource::Builtin { builtin, params } => (Some(builtin.clone()), None, Some(params.clone())),
                        GateSource::Rego { path } => (None, Some(path.clone()), None),
                    };
                    GateSpecResponse {
                        name: spec.name.to_string(),
                        builtin,
                        rego,
                        with,
                        enforcement: spec.enforcement.to_string(),
                    }
                })
                .collect();
            (environment.to_string(), specs)
        })
        .collect();
    let modules = record
        .policy
        .modules
        .iter()
        .map(|module| ModuleResponse {
            path: module.path.clone(),
            digest: Sha256Digest::of(module.source.as_bytes()).to_string(),
        })
        .collect();
    PolicyResponse {
        version: Some(record.version.into()),
        installed_by: Some(record.created_by.to_string()),
        installed_at: Some(record.created_at),
        gates,
        modules,
        builtins,
    }
}

fn decision_id(value: &str) -> Result<GateDecisionId, ApiError> {
    value.parse().map(GateDecisionId).map_err(|_| ApiError::validation("id", format!("{value:?} is not a decision id")))
}

problems!(
    EvaluateProblems,
    [JSON_BODY, &["forbidden", "release_not_found", "environment_not_found", "validation_failed", "busy"]]
);

/// Evaluates the environment's gates for the release and records the decision (not on a dry
/// run). 422 lists every problem of a dry-run policy, with module lines and columns.
#[utoipa::path(post, path = "/gates/evaluate", tag = "gates", request_body = EvaluateRequest,
    responses((status = 200, body = GateEvaluationResponse), EvaluateProblems))]
pub async fn evaluate(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(request): JsonBody<EvaluateRequest>,
) -> Result<Json<GateEvaluationResponse>, ApiError> {
    let release = release_ref(&request.release)?;
    let evaluation = match request.dry_run {
        Some(dry_run) => {
            let mut gates = BTreeMap::new();
            gates.insert(request.environment.clone(), dry_run.gates);
            Evaluation::DryRun(gates_input(gates, dry_run.modules))
        }
        None => Evaluation::Record,
    };
    let evaluated = state.tollgate.evaluate_gates(&principal, &release, &request.environment, evaluation).await?;
    Ok(Json(GateEvaluationResponse::new(evaluated, request.explain)))
}

problems!(ListDecisionsProblems, [QUERY, &["release_not_found", "validation_failed"]]);

#[utoipa::path(get, path = "/gates/decisions", tag = "gates", params(DecisionQuery),
    responses((status = 200, body = Paginated<GateDecisionResponse>, description = "Newest first, without their input"), ListDecisionsProblems))]
pub async fn list_decisions(
    State(state): State<AppState>,
    Auth(principal): Auth,
    QueryParams(query): QueryParams<DecisionQuery>,
) -> Result<Json<Paginated<GateDecisionResponse>>, ApiError> {
    let page = PageQuery { limit: query.limit, cursor: query.cursor }.page();
    let release = query.release.as_deref().map(release_ref).transpose()?;
    let decisions =
        state.tollgate.list_gate_decisions(&principal, release.as_ref(), query.environment.as_deref(), page).await?;
    let items = decisions.into_iter().map(|decision| GateDecisionResponse::new(decision, false)).collect();
    Ok(Json(Paginated::new(items, page, |decision: &GateDecisionResponse| decision.id)))
}

problems!(GetDecisionProblems, [PATH, &["not_found"]]);

#[utoipa::path(get, path = "/gates/decisions/{id}", tag = "gates", params(("id" = schema::Id, Path)),
    responses((status = 200, body = GateDecisionResponse, description = "With the input it judged"), GetDecisionProblems))]
pub async fn get_decision(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(id): PathParam<String>,
) -> Result<Json<GateDecisionResponse>, ApiError> {
    let decision = state.tollgate.get_gate_decision(&principal, decision_id(&id)?).await?;
    Ok(Json(GateDecisionResponse::new(decision, true)))
}

problems!(ReplayProblems, [PATH, &["not_found", "busy", "validation_failed"]]);

/// Judges the decision's stored input again under its own policy version.
#[utoipa::path(post, path = "/gates/decisions/{id}/replay", tag = "gates", params(("id" = schema::Id, Path)),
    responses((status = 200, body = ReplayResponse), ReplayProblems))]
pub async fn replay(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(id): PathParam<String>,
) -> Result<Json<ReplayResponse>, ApiError> {
    let replay = state.tollgate.replay_gate_decision(&principal, decision_id(&id)?).await?;
    let recorded = replay.decision.results.as_array().map(Vec::as_slice).unwrap_or_default();
    Ok(Json(ReplayResponse {
        decision: replay.decision.id.0,
        matches: replay.matches,
        recorded: recorded.iter().map(GateResultResponse::from_stored).collect(),
        replayed: replay.results.iter().map(GateResultResponse::from).collect(),
    }))
}

problems!(
    OverrideProblems,
    [
        JSON_BODY,
        &[
            "forbidden",
            "release_not_found",
            "environment_not_found",
            "gates_not_passed",
            "conflict",
            "validation_failed"
        ],
    ]
);

/// Lets the current failed decision pass, with a reason (admins). 409 `gates_not_passed` when
/// there is no current decision to override; `conflict` when it passed.
#[utoipa::path(post, path = "/gates/overrides", tag = "gates", request_body = OverrideRequest,
    responses((status = 201, body = GateOverrideResponse), OverrideProblems))]
pub async fn override_gates(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(request): JsonBody<OverrideRequest>,
) -> Result<(StatusCode, Json<GateOverrideResponse>), ApiError> {
    let release = release_ref(&request.release)?;
    let overridden = state.tollgate.override_gates(&principal, &release, &request.environment, &request.reason).await?;
    Ok((StatusCode::CREATED, Json(overridden.into())))
}

problems!(GetPolicyProblems, [&["forbidden"]]);

/// The installed gate policy (each environment's gates and the modules by digest) and the
/// built-in gate library.
#[utoipa::path(get, path = "/policy", tag = "gates",
    responses((status = 200, body = PolicyResponse, description = "The installed gate policy"), GetPolicyProblems))]
pub async fn get_policy(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> Result<Json<PolicyResponse>, ApiError> {
    Ok(Json(policy_response(state.tollgate.current_policy(&principal).await?)))
}

problems!(ListPolicyVersionsProblems, [QUERY]);

#[utoipa::path(get, path = "/policy/versions", tag = "gates", params(PageQuery),
    responses((status = 200, body = Paginated<PolicyVersionItem>, description = "Newest first"), ListPolicyVersionsProblems))]
pub async fn list_policy_versions(
    State(state): State<AppState>,
    Auth(principal): Auth,
    QueryParams(query): QueryParams<PageQuery>,
) -> Result<Json<Paginated<PolicyVersionItem>>, ApiError> {
    let page = query.page();
    let versions = state.tollgate.list_policy_versions(&principal, page).await?;
    let items = versions
        .into_iter()
        .map(|record| PolicyVersionItem {
            seq: record.version.seq,
            digest: record.version.digest.to_string(),
            installed_by: record.created_by.to_string(),
            installed_at: record.created_at,
        })
        .collect();
    Ok(Json(Paginated::new(items, page, |item: &PolicyVersionItem| item.seq)))
}

/// One installed policy version.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PolicyVersionItem {
    #[schema(value_type = schema::Id)]
    pub seq: i64,
    #[schema(value_type = schema::Digest)]
    pub digest: String,
    #[schema(value_type = schema::Name)]
    pub installed_by: String,
    #[schema(value_type = schema::Timestamp)]
    pub installed_at: jiff::Timestamp,
}
