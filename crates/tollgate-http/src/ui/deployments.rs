//! `/deployments/{id}`: one deployment: its record and, for one Tollgate's engine carries out,
//! its run: each step with its state, attempts and outcome, what the steps printed (secrets
//! redacted), and the operator's decisions that apply to it now. While the run is active or
//! paused, its steps and output follow it by themselves (htmx asks `/fragments/deployments/{id}`
//! every two seconds, so a reason being typed is kept); without JavaScript the page reloads.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use tollgate_core::deployment::{Deployment, DeploymentId, Promotion};
use tollgate_core::run::{OperatorDecision, Phase, RunState, StepState};
use tollgate_service::run::DeploymentRun;
use tollgate_service::ServiceError;

use crate::error::ApiError;
use crate::ui::format::when;
use crate::ui::{render, Chrome, CsrfForm, UiError, UiResult, WebUser};
use crate::AppState;

/// The most log lines the page shows: the last ones.
const LOG_LINES: u32 = 1000;

#[derive(Template)]
#[template(path = "deployment.html")]
pub(crate) struct DeploymentPage {
    pub chrome: Chrome,
    pub id: i64,
    pub release: String,
    pub environment: String,
    pub status: &'static str,
    pub actor: String,
    pub started: String,
    pub finished: String,
    /// Why, for a rollback to a release that ran here before; empty otherwise.
    pub rollback_cause: String,
    /// Absent for a deployment made by another tool.
    pub run: Option<RunView>,
    pub csrf: String,
    /// A decision that failed, with why.
    pub problem: Option<String>,
}

pub(crate) struct RunView {
    pub state: &'static str,
    pub phase: &'static str,
    pub active: bool,
    pub paused: bool,
    pub needs_operator: bool,
    /// Needs an operator for a step a stopped worker left (resume, skip, abort or roll back).
    pub stopped_step: bool,
    /// Needs an operator to confirm its rollback (roll back, or abort without one).
    pub confirm_rollback: bool,
    /// A manual step waits for a judgment (approve or reject).
    pub judging: bool,
    /// A canary has lower weights left to skip (promote).
    pub promotable: bool,
    pub worker: String,
    pub reason: String,
    /// The steps and output, rendered: the part that follows the run live.
    pub live: String,
}

/// The part of a deployment's page that follows its run: each step and what the steps printed.
/// While the run is active or paused, htmx asks for it again every two seconds; when the run's
/// state has changed since the page was drawn, the answer asks for the whole page instead (its
/// decisions and reason change with the state).
#[derive(Template)]
#[template(path = "deployment_live.html")]
pub(crate) struct RunLive {
    pub id: i64,
    pub state: &'static str,
    pub polling: bool,
    /// The run as a graph: services in the order they deploy, each with its tiers in order,
    /// each tier with its steps.
    pub graph: Vec<GraphService>,
    pub steps: Vec<StepLine>,
    pub logs: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct LiveQuery {
    /// The run's state when the page was drawn.
    #[serde(default)]
    state: String,
}

pub(crate) struct GraphService {
    pub name: String,
    pub tiers: Vec<GraphTier>,
}

pub(crate) struct GraphTier {
    pub name: String,
    pub phase: &'static str,
    /// `(position, label, state)` of each step.
    pub steps: Vec<(u32, String, &'static str)>,
}

/// Groups `steps` (in run order) by service and, within a service, by tier and phase, both in
/// the order they first appear.
fn graph(steps: &[StepLine]) -> Vec<GraphService> {
    let mut services: Vec<GraphService> = Vec::new();
    for step in steps {
        let index = match services.iter().position(|service| service.name == step.service) {
            Some(index) => index,
            None => {
                services.push(GraphService { name: step.service.clone(), tiers: Vec::new() });
                services.len() - 1
            }
        };
        let tiers = &mut services[index].tiers;
        let tier = match tiers.iter().position(|tier| tier.name == step.tier && tier.phase == step.phase) {
            Some(tier) => tier,
            None => {
                tiers.push(GraphTier { name: step.tier.clone(), phase: step.phase, steps: Vec::new() });
                tiers.len() - 1
            }
        };
        let label = match step.target.as_str() {
            "" => step.name.clone(),
            target => format!("{}@{target}", step.name),
        };
        tiers[tier].steps.push((step.position, label, step.state));
    }
    services
}

pub(crate) struct StepLine {
    pub position: u32,
    pub phase: &'static str,
    pub service: String,
    pub tier: String,
    pub name: String,
    pub target: String,
    pub kind: &'static str,
    pub state: &'static str,
    pub attempts: u32,
    pub outcome: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct DecisionForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
}

/// `GET /deployments/{id}`.
pub(crate) async fn detail(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
) -> UiResult<Html<String>> {
    let id = deployment_id(&user, &id)?;
    render(&page(&state, &user, id, None).await?)
}

/// `POST /deployments/{id}/decision`: resume, skip, abort, roll back, or judge a manual step.
pub(crate) async fn decide(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(user, form): CsrfForm<DecisionForm>,
) -> UiResult<Response> {
    let id = deployment_id(&user, &id)?;
    let reason = Some(form.reason.trim()).filter(|reason| !reason.is_empty());
    let outcome = match form.decision.parse::<OperatorDecision>() {
        Ok(decision) => state.tollgate.decide_run(&user.principal, id, decision, reason).await,
        Err(problem) => {
            let mut violations = tollgate_core::Violations::new();
            violations.push("decision", problem);
            Err(ServiceError::Invalid(violations))
        }
    };
    match outcome {
        Ok(_) => Ok(Redirect::to(&format!("/deployments/{}", id.0)).into_response()),
        Err(error @ ServiceError::NotFound { .. }) => Err(UiError::from_service(error, Some(user.chrome("register")))),
        Err(error) => {
            let parts = ApiError::from(error).into_page_parts();
            let page = page(&state, &user, id, Some(parts.detail)).await?;
            Ok((parts.status, render(&page)?).into_response())
        }
    }
}

/// `GET /fragments/deployments/{id}?state=S`: the live part alone, for htmx; `HX-Refresh` when
/// the run is no longer in state `S`.
pub(crate) async fn fragment(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    Query(query): Query<LiveQuery>,
) -> UiResult<Response> {
    let id = deployment_id(&user, &id)?;
    let chrome = || Some(user.chrome("register"));
    let run =
        state.tollgate.get_run(&user.principal, id).await.map_err(|error| UiError::from_service(error, chrome()))?;
    if run.run.state.as_str() != query.state {
        return Ok(([("hx-refresh", "true")], Html(String::new())).into_response());
    }
    let logs = read_logs(&state, &user, id).await?;
    Ok(render(&run_live(&run, logs))?.into_response())
}

async fn read_logs(state: &AppState, user: &WebUser, id: DeploymentId) -> UiResult<Vec<String>> {
    let logs = state
        .tollgate
        .list_logs(&user.principal, id, None, LOG_LINES)
        .await
        .map_err(|error| UiError::from_service(error, Some(user.chrome("register"))))?;
    Ok(logs.into_iter().map(|line| format!("[step {}] {}", line.position, line.text)).collect())
}

async fn page(state: &AppState, user: &WebUser, id: DeploymentId, problem: Option<String>) -> UiResult<DeploymentPage> {
    let tollgate = &state.tollgate;
    let chrome = || Some(user.chrome("register"));
    let deployment =
        tollgate.get_deployment(&user.principal, id).await.map_err(|error| UiError::from_service(error, chrome()))?;
    let run = match tollgate.get_run(&user.principal, id).await {
        Ok(run) => {
            let logs = read_logs(state, user, id).await?;
            let live = render(&run_live(&run, logs))?.0;
            Some(run_view(run, live))
        }
        Err(ServiceError::NotFound { .. }) => None,
        Err(error) => return Err(UiError::from_service(error, chrome())),
    };
    Ok(deployment_page(user, deployment, run, problem))
}

fn deployment_page(
    user: &WebUser,
    deployment: Deployment,
    run: Option<RunView>,
    problem: Option<String>,
) -> DeploymentPage {
    DeploymentPage {
        chrome: user.chrome("register"),
        id: deployment.id.0,
        release: deployment.release_version.to_string(),
        environment: deployment.environment.to_string(),
        status: deployment.status.as_str(),
        actor: deployment.actor.to_string(),
        started: when(deployment.started_at),
        finished: deployment.finished_at.map(when).unwrap_or_default(),
        rollback_cause: match deployment.promotion {
            Promotion::Rollback { cause } => cause,
            Promotion::Followed | Promotion::EmergencySkipped { .. } => String::new(),
        },
        run,
        csrf: user.session.csrf.clone(),
        problem,
    }
}

fn run_view(run: DeploymentRun, live: String) -> RunView {
    let needs_operator = run.run.state == RunState::NeedsOperator;
    let judging = needs_operator && run.steps.iter().any(|step| step.awaiting_judgment().is_some());
    let stopped_step = needs_operator && !judging && run.steps.iter().any(|step| step.state == StepState::Running);
    RunView {
        state: run.run.state.as_str(),
        phase: run.run.phase.as_str(),
        active: run.run.state == RunState::Active,
        paused: run.run.state == RunState::Paused,
        needs_operator,
        stopped_step,
        confirm_rollback: needs_operator && !stopped_step && !judging && run.run.phase == Phase::Rollback,
        judging,
        promotable: run.run.phase == Phase::Deploy && !tollgate_core::run::promotion_skips(&run.steps).is_empty(),
        worker: run.run.worker.map(|worker| worker.to_string()).unwrap_or_default(),
        reason: run.run.reason.unwrap_or_default(),
        live,
    }
}

fn run_live(run: &DeploymentRun, logs: Vec<String>) -> RunLive {
    let steps: Vec<StepLine> = run
        .steps
        .iter()
        .map(|step| StepLine {
            position: step.position,
            phase: step.phase.as_str(),
            service: step.service.to_string(),
            tier: step.tier.to_string(),
            name: step.spec.name.to_string(),
            target: step.target.as_ref().map(|target| target.name.to_string()).unwrap_or_default(),
            kind: step.spec.action.kind(),
            state: step.state.as_str(),
            attempts: step.attempts,
            outcome: step.outcome.clone().unwrap_or_default(),
        })
        .collect();
    RunLive {
        id: run.deployment.id.0,
        state: run.run.state.as_str(),
        polling: matches!(run.run.state, RunState::Active | RunState::Paused),
        graph: graph(&steps),
        steps,
        logs,
    }
}

fn deployment_id(user: &WebUser, id: &str) -> UiResult<DeploymentId> {
    id.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(DeploymentId)
        .ok_or_else(|| UiError::not_found(Some(user.chrome("register")), &format!("there is no deployment {id}")))
}
