//! Orchestrated deployments: start one (Tollgate's engine carries out the services' deployment
//! plans), follow its run and steps, read its logs, and decide for a run that needs an operator.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use futures::{Stream, StreamExt as _};
use serde::{Deserialize, Serialize};
use tollgate_core::run::{DeploymentStep, LogLine, OperatorDecision, Run, RunState};
use tollgate_service::run::{DeploymentRun, StartDeployment, MAX_LOG_PAGE};
use utoipa::{IntoParams, ToSchema};

use crate::api::deployments::{deployment_id, DeploymentResponse};
use crate::api::problem::{problems, JSON_BODY, PATH, QUERY};
use crate::api::releases::release_ref;
use crate::api::schema;
use crate::error::ApiError;
use crate::extract::{Auth, JsonBody, PathParam, QueryParams};
use crate::AppState;

/// What to deploy, and where.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartDeploymentRequest {
    #[schema(value_type = schema::ReleaseRef)]
    pub release: String,
    #[schema(value_type = schema::Name)]
    pub environment: String,
    /// A reason to deploy although the deployment window is closed (breaking glass; needs
    /// `override.window`); audited when it was needed.
    #[schema(value_type = Option<schema::Reason>)]
    pub override_window: Option<String>,
}

/// Which earlier release to put back into an environment, and why.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// A release that ran in the environment before (deployed or closed).
    #[schema(value_type = schema::ReleaseRef)]
    pub release: String,
    #[schema(value_type = schema::Name)]
    pub environment: String,
    /// Why: kept with the deployment and in the audit log.
    #[schema(value_type = schema::Reason)]
    pub reason: String,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    #[schema(value_type = schema::OperatorDecision)]
    pub decision: String,
    #[schema(value_type = Option<schema::Reason>)]
    pub reason: Option<String>,
}

/// The engine's state of an orchestrated deployment.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RunResponse {
    #[schema(value_type = schema::RunState)]
    pub state: String,
    /// `deploy`, or `rollback` once a failure (or an operator) started undoing it.
    #[schema(value_type = schema::RunPhase)]
    pub phase: String,
    /// The worker holding the run now, if any.
    pub worker: Option<String>,
    /// Grows by one with every claim of the run by a worker.
    pub epoch: u64,
    #[schema(value_type = Option<schema::Timestamp>)]
    pub claim_expires_at: Option<jiff::Timestamp>,
    /// Why an operator is needed, or how the run ended.
    pub reason: Option<String>,
}

impl From<Run> for RunResponse {
    fn from(run: Run) -> RunResponse {
        RunResponse {
            state: run.state.to_string(),
            phase: run.phase.to_string(),
            worker: run.worker.map(|worker| worker.to_string()),
            epoch: run.epoch,
            claim_expires_at: run.claim_expires_at,
            reason: run.reason,
        }
    }
}

/// One step of a run.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StepResponse {
    pub position: u32,
    #[schema(value_type = schema::RunPhase)]
    pub phase: String,
    #[schema(value_type = schema::Name)]
    pub service: String,
    #[schema(value_type = schema::Name)]
    pub tier: String,
    #[schema(value_type = schema::Name)]
    pub name: String,
    #[schema(value_type = schema::StepKind)]
    pub kind: String,
    /// The target a per-target step runs for.
    #[schema(value_type = Option<schema::Name>)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub idempotent: bool,
    /// Whether the plan's rollback steps can undo it.
    pub reversible: bool,
    #[schema(value_type = schema::StepState)]
    pub state: String,
    pub attempts: u32,
    #[schema(value_type = Option<schema::Timestamp>)]
    pub started_at: Option<jiff::Timestamp>,
    #[schema(value_type = Option<schema::Timestamp>)]
    pub finished_at: Option<jiff::Timestamp>,
    pub outcome: Option<String>,
}

impl StepResponse {
    /// `site/app/start` (`site/app/start@web-2` for a target's): how messages name the step.
    pub fn path(&self) -> String {
        match &self.target {
            Some(target) => format!("{}/{}/{}@{target}", self.service, self.tier, self.name),
            None => format!("{}/{}/{}", self.service, self.tier, self.name),
        }
    }
}

impl From<DeploymentStep> for StepResponse {
    fn from(step: DeploymentStep) -> StepResponse {
        StepResponse {
            position: step.position,
            phase: step.phase.to_string(),
            service: step.service.to_string(),
            tier: step.tier.to_string(),
            name: step.spec.name.to_string(),
            kind: step.spec.action.kind().to_owned(),
            target: step.target.map(|target| target.name.to_string()),
            idempotent: step.spec.idempotent,
            reversible: step.spec.reversible,
            state: step.state.to_string(),
            attempts: step.attempts,
            started_at: step.started_at,
            finished_at: step.finished_at,
            outcome: step.outcome,
        }
    }
}

/// An orchestrated deployment: its record, its run and its steps in order.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeploymentRunResponse {
    pub deployment: DeploymentResponse,
    pub run: RunResponse,
    pub steps: Vec<StepResponse>,
}

impl From<DeploymentRun> for DeploymentRunResponse {
    fn from(run: DeploymentRun) -> DeploymentRunResponse {
        DeploymentRunResponse {
            deployment: run.deployment.into(),
            run: run.run.into(),
            steps: run.steps.into_iter().map(StepResponse::from).collect(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LogLineResponse {
    /// The step's position in the run.
    pub step: u32,
    /// From 1, per step.
    pub line: u64,
    #[schema(value_type = schema::Timestamp)]
    pub at: jiff::Timestamp,
    pub text: String,
}

impl From<LogLine> for LogLineResponse {
    fn from(line: LogLine) -> LogLineResponse {
        LogLineResponse { step: line.position, line: line.line, at: line.at, text: line.text }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LogPage {
    pub items: Vec<LogLineResponse>,
    /// Where the next read starts (`after=`): the last line of this page, or the `after` asked
    /// with when there was nothing new.
    #[schema(value_type = Option<schema::LogCursor>)]
    pub next: Option<String>,
}

#[derive(Debug, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// Only lines after this one (`STEP:LINE`).
    #[param(value_type = Option<schema::LogCursor>)]
    pub after: Option<String>,
    /// At most this many lines (1 to 1000; 1000 when absent).
    #[serde(default, deserialize_with = "log_limit")]
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

problems!(
    StartDeploymentProblems,
    [
        JSON_BODY,
        &[
            "forbidden",
            "release_not_found",
            "environment_not_found",
            "deployment_refused",
            "no_deployment_plan",
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

/// Judges every precondition of deploying the release into the environment now and, when all
/// hold, records the deployment as running, locks the release's services there for Tollgate's
/// engine, and starts carrying out the deployment plans of the release's services (each service
/// after those it depends on). Follow it with `GET /deployments/{id}/run` and `/logs`.
#[utoipa::path(post, path = "/deployments/start", tag = "deployments", request_body = StartDeploymentRequest,
    responses((status = 201, body = DeploymentRunResponse), StartDeploymentProblems))]
pub async fn start_deployment(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(request): JsonBody<StartDeploymentRequest>,
) -> Result<(StatusCode, Json<DeploymentRunResponse>), ApiError> {
    let release = release_ref(&request.release)?;
    let start = StartDeployment { override_window: request.override_window };
    let run = state.tollgate.start_orchestrated(&principal, &release, &request.environment, start).await?;
    Ok((StatusCode::CREATED, Json(run.into())))
}

problems!(
    RollbackProblems,
    [
        JSON_BODY,
        &[
            "forbidden",
            "release_not_found",
            "environment_not_found",
            "no_deployment_plan",
            "lease_held",
            "environment_quarantined",
            "promotion_refused",
            "release_not_ready",
            "release_changed",
            "conflict",
            "validation_failed",
        ],
    ]
);

/// Rolls the environment back to a release that ran there before (deployed or closed, its
/// deployment there succeeded): a deployment of its own kind, carried out by the engine with the
/// services' plans, recorded with the reason (`rollback_cause`). Gates, windows and change
/// requests are not judged (they were when the release went there first); its artifacts, the
/// services' locks and the environment's quarantine are. 409 `promotion_refused` names why the
/// release cannot be rolled back to.
#[utoipa::path(post, path = "/deployments/rollback", tag = "deployments", request_body = RollbackRequest,
    responses((status = 201, body = DeploymentRunResponse), RollbackProblems))]
pub async fn roll_back(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(request): JsonBody<RollbackRequest>,
) -> Result<(StatusCode, Json<DeploymentRunResponse>), ApiError> {
    let release = release_ref(&request.release)?;
    let run = state.tollgate.roll_back_to(&principal, &release, &request.environment, &request.reason).await?;
    Ok((StatusCode::CREATED, Json(run.into())))
}

problems!(GetRunProblems, [PATH, &["deployment_not_found", "run_not_found", "validation_failed"]]);

/// The run of an orchestrated deployment and its steps.
#[utoipa::path(get, path = "/deployments/{id}/run", tag = "deployments", params(("id" = schema::Id, Path)),
    responses((status = 200, body = DeploymentRunResponse), GetRunProblems))]
pub async fn get_run(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(id): PathParam<String>,
) -> Result<Json<DeploymentRunResponse>, ApiError> {
    let run = state.tollgate.get_run(&principal, deployment_id("id", &id)?).await?;
    Ok(Json(run.into()))
}

problems!(ListLogsProblems, [PATH, QUERY, &["run_not_found", "validation_failed"]]);

/// What the steps of an orchestrated deployment printed, secrets redacted, in order; page with
/// `after` (the `next` of the previous page).
#[utoipa::path(get, path = "/deployments/{id}/logs", tag = "deployments", params(("id" = schema::Id, Path), LogQuery),
    responses((status = 200, body = LogPage), ListLogsProblems))]
pub async fn list_logs(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(id): PathParam<String>,
    QueryParams(query): QueryParams<LogQuery>,
) -> Result<Json<LogPage>, ApiError> {
    let deployment = deployment_id("id", &id)?;
    let after = query.after.as_deref().map(parse_cursor).transpose()?;
    let limit = query.limit.map_or(MAX_LOG_PAGE, |limit| u32::try_from(limit).unwrap_or(MAX_LOG_PAGE));
    let lines = state.tollgate.list_logs(&principal, deployment, after, limit).await?;
    let next = lines.last().map(|line| format!("{}:{}", line.position, line.line)).or(query.after);
    Ok(Json(LogPage { items: lines.into_iter().map(LogLineResponse::from).collect(), next }))
}

#[derive(Debug, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LogStreamQuery {
    /// Only lines after this one (`STEP:LINE`, the `id` of the last event received).
    #[param(value_type = Option<schema::LogCursor>)]
    pub after: Option<String>,
}

/// How often a log stream looks for new lines.
const STREAM_POLL: std::time::Duration = std::time::Duration::from_millis(250);

problems!(StreamLogsProblems, [PATH, QUERY, &["run_not_found", "validation_failed"]]);

/// What the steps of an orchestrated deployment print, live, as Server-Sent Events: a `line`
/// event per line (`id` is `STEP:LINE`, `data` the line as in `/logs`), and, once the run is no
/// longer active, an `end` event whose `data` is `{"run": STATE, "status": STATUS}`; then the
/// stream ends. Reconnect with `after` set to the last `id` received.
#[utoipa::path(get, path = "/deployments/{id}/logs/stream", tag = "deployments", params(("id" = schema::Id, Path), LogStreamQuery),
    responses((status = 200, content_type = "text/event-stream", body = String, description = "`line` events, then one `end` event"), StreamLogsProblems))]
pub async fn stream_logs(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(id): PathParam<String>,
    QueryParams(query): QueryParams<LogStreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, std::convert::Infallible>>>, ApiError> {
    let deployment = deployment_id("id", &id)?;
    let after = query.after.as_deref().map(parse_cursor).transpose()?;
    // Asked once up front, so an unknown deployment or a denied reader is an error answer.
    state.tollgate.get_run(&principal, deployment).await?;
    let tollgate = state.tollgate.clone();
    let events = futures::stream::unfold(Some(after), move |cursor| {
        let tollgate = tollgate.clone();
        let principal = principal.clone();
        async move {
            let mut after = cursor?;
            loop {
                // Read the state before the lines, so no line printed before the end is missed.
                let run = tollgate.get_run(&principal, deployment).await.ok()?;
                let lines = tollgate.list_logs(&principal, deployment, after, MAX_LOG_PAGE).await.ok()?;
                if let Some(last) = lines.last() {
                    after = Some((last.position, last.line));
                    let events: Vec<Event> = lines.into_iter().map(line_event).collect();
                    return Some((events, Some(after)));
                }
                if run.run.state != RunState::Active {
                    let end =
                        serde_json::json!({ "run": run.run.state.as_str(), "status": run.deployment.status.as_str() });
                    return Some((vec![Event::default().event("end").data(end.to_string())], None));
                }
                tokio::time::sleep(STREAM_POLL).await;
            }
        }
    })
    .flat_map(|events| futures::stream::iter(events.into_iter().map(Ok)));
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

fn line_event(line: LogLine) -> Event {
    let id = format!("{}:{}", line.position, line.line);
    let data = serde_json::to_string(&LogLineResponse::from(line)).expect("a log line serializes");
    Event::default().event("line").id(id).data(data)
}

problems!(
    DecideProblems,
    [JSON_BODY, PATH, &["forbidden", "deployment_not_found", "run_not_waiting", "conflict", "validation_failed"]]
);

/// An operator's decision on a run: `resume` runs again the step a stopped worker left (not
/// idempotent), `skip` goes on without it, `abort` stops the deployment and rolls it back as its
/// plans say (while rolling back: stops the rollback, the deployment failed), `roll_back` confirms
/// a rollback that waits for one or rolls a deployment back at once. 409 `run_not_waiting` when
/// the run does not take the decision now.
#[utoipa::path(post, path = "/deployments/{id}/decision", tag = "deployments", params(("id" = schema::Id, Path)),
    request_body = DecisionRequest, responses((status = 200, body = DeploymentRunResponse), DecideProblems))]
pub async fn decide(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(id): PathParam<String>,
    JsonBody(request): JsonBody<DecisionRequest>,
) -> Result<Json<DeploymentRunResponse>, ApiError> {
    let deployment = deployment_id("id", &id)?;
    let decision: OperatorDecision = request
        .decision
        .parse()
        .map_err(|problem: tollgate_core::Problem| ApiError::validation("decision", problem.to_string()))?;
    if let Some(reason) = &request.reason {
        tollgate_core::gate::check_reason(reason)
            .map_err(|problem| ApiError::validation("reason", problem.to_string()))?;
    }
    let run = state.tollgate.decide_run(&principal, deployment, decision, request.reason.as_deref()).await?;
    Ok(Json(run.into()))
}

/// A log page's size: 1 to [`MAX_LOG_PAGE`] lines; anything else is refused, not clamped.
fn log_limit<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    crate::api::bounded(deserializer, 1, i64::from(MAX_LOG_PAGE))
}

fn parse_cursor(value: &str) -> Result<(u32, u64), ApiError> {
    let invalid = || ApiError::validation("after", format!("{value:?} is not STEP:LINE (two whole numbers)"));
    let (step, line) = value.split_once(':').ok_or_else(invalid)?;
    Ok((step.parse().map_err(|_| invalid())?, line.parse().map_err(|_| invalid())?))
}
