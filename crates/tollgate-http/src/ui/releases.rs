//! `/releases` (a filtered, paged list) and `/releases/{version}` (one release: scope,
//! artifacts and signatures, evidence, gate decisions, deployments, and the actions the reader
//! may take now as buttons). The live part of a release page refreshes itself with htmx.
//!
//! A button posts to the same use case as the API (`transition_release`, `override_gates`);
//! a refusal re-renders the page with the API's problem text beside the button that caused it.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use tollgate_core::artifact::ArtifactProvenance;
use tollgate_core::page::Page;
use tollgate_core::release::filter::ReleaseFilterInput;
use tollgate_core::release::{ReleaseAction, ReleaseState, ScopeDecision};
use tollgate_service::release::ReleaseRef;
use tollgate_service::release_view::ReleaseView;
use tollgate_service::ServiceError;

use crate::error::{ApiError, FieldError};
use crate::ui::error::urlencoding;
use crate::ui::format::{rfc3339, short_digest, when, words};
use crate::ui::{render, Chrome, CsrfForm, UiError, UiResult, WebUser};
use crate::AppState;

/// Releases per page of the list.
const PAGE_SIZE: i64 = 50;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    service: Option<String>,
    #[serde(default)]
    team: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    before: Option<String>,
}

#[derive(Template)]
#[template(path = "releases.html")]
pub(crate) struct ReleasesPage {
    pub chrome: Chrome,
    pub state: String,
    pub service: String,
    pub team: String,
    pub text: String,
    pub states: Vec<(&'static str, String)>,
    pub errors: Vec<FieldError>,
    pub rows: Vec<ReleaseLine>,
    /// The query string of the next page, when there may be one.
    pub next: Option<String>,
    pub first_page: bool,
}

pub(crate) struct ReleaseLine {
    pub version: String,
    pub state: &'static str,
    pub state_label: String,
    pub release_type: &'static str,
    pub lifecycle: String,
    pub services: String,
    pub created_by: String,
    pub updated: String,
    pub updated_rfc3339: String,
}

impl ReleasesPage {
    /// The message for `field`, when the filter refused it.
    pub fn error_for(&self, field: &str) -> Option<&str> {
        self.errors.iter().find(|error| error.field == field).map(|error| error.message.as_str())
    }
}

/// `GET /releases`.
pub(crate) async fn list(
    State(state): State<AppState>,
    user: WebUser,
    Query(query): Query<ListQuery>,
) -> UiResult<Response> {
    let cursor = match query.before.as_deref().filter(|value| !value.is_empty()) {
        Some(value) => Some(value.parse::<i64>().map_err(|_| UiError::bad_request("before: not a release id"))?),
        None => None,
    };
    let input = ReleaseFilterInput {
        state: query.state.clone(),
        service: query.service.clone(),
        team: query.team.clone(),
        text: query.text.clone(),
    };
    let page = Page { cursor, limit: PAGE_SIZE };
    let (rows, errors, status) = match state.tollgate.list_release_summaries(&user.principal, input, page).await {
        Ok(rows) => (rows, Vec::new(), StatusCode::OK),
        Err(error @ ServiceError::Invalid(_)) => {
            let problem = ApiError::from(error).into_page_parts();
            (Vec::new(), problem.errors, problem.status)
        }
        Err(error) => return Err(UiError::from_service(error, Some(user.chrome("releases")))),
    };
    let next = (rows.len() == PAGE_SIZE as usize).then(|| {
        let last = rows.last().map_or(0, |release| release.id.0);
        let mut pairs = vec![];
        for (key, value) in
            [("state", &query.state), ("service", &query.service), ("team", &query.team), ("text", &query.text)]
        {
            if let Some(value) = value.as_deref().filter(|value| !value.is_empty()) {
                pairs.push(format!("{key}={}", urlencoding(value)));
            }
        }
        pairs.push(format!("before={last}"));
        pairs.join("&")
    });
    let page = ReleasesPage {
        chrome: user.chrome("releases"),
        state: query.state.unwrap_or_default(),
        service: query.service.unwrap_or_default(),
        team: query.team.unwrap_or_default(),
        text: query.text.unwrap_or_default(),
        states: ReleaseState::ALL.iter().map(|state| (*state, words(state))).collect(),
        errors,
        rows: rows
            .into_iter()
            .map(|release| ReleaseLine {
                version: release.version.to_string(),
                state: release.state.as_str(),
                state_label: words(release.state.as_str()),
                release_type: release.release_type.as_str(),
                lifecycle: release.lifecycle.to_string(),
                services: release.services.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
                created_by: release.created_by.to_string(),
                updated: when(release.updated_at),
                updated_rfc3339: rfc3339(release.updated_at),
            })
            .collect(),
        next,
        first_page: cursor.is_none(),
    };
    Ok((status, render(&page)?).into_response())
}

#[derive(Template)]
#[template(path = "release.html")]
pub(crate) struct ReleasePage {
    pub chrome: Chrome,
    pub version: String,
    pub summary: Vec<(&'static str, String)>,
    pub manifest_digest: String,
    pub rollback_criteria: String,
    pub scope: Vec<ScopeLine>,
    pub artifacts: Vec<ArtifactLine>,
    pub evidence: Vec<EvidenceLine>,
    /// The live part, rendered by [`ReleaseLive`].
    pub live: String,
    pub actions: Vec<ActionButton>,
    /// A problem not tied to one button (shown above the actions).
    pub problem: Option<Problem>,
    pub history_link: String,
    pub csrf: String,
}

impl ReleasePage {
    /// The session's form token, for the action forms.
    pub fn live_csrf(&self) -> &str {
        &self.csrf
    }
}

#[derive(Template)]
#[template(path = "release_live.html")]
pub(crate) struct ReleaseLive {
    pub version: String,
    pub state: &'static str,
    pub state_label: String,
    pub gates: Vec<GateLine>,
    pub deployments: Vec<DeploymentLine>,
    pub csrf: String,
    pub may_override: bool,
    pub override_problem: Option<Problem>,
}

pub(crate) struct Problem {
    pub detail: String,
    pub errors: Vec<FieldError>,
    /// The action or environment the problem is about.
    pub about: String,
}

impl Problem {
    /// The errors that name a field (a refusal about the whole release names none).
    pub fn field_errors(&self) -> Vec<&FieldError> {
        self.errors.iter().filter(|error| !error.field.is_empty()).collect()
    }
}

pub(crate) struct ScopeLine {
    pub ticket: String,
    pub title: String,
    pub excluded: Option<String>,
}

pub(crate) struct ArtifactLine {
    pub service: String,
    pub name: String,
    pub version: String,
    pub digest: String,
    pub short_digest: String,
    pub id: Option<i64>,
    pub stored: bool,
    pub provenance: String,
    pub signatures: Vec<(String, bool, String)>,
}

pub(crate) struct EvidenceLine {
    pub kind: &'static str,
    pub service: String,
    pub summary: String,
    pub short_digest: String,
    pub uploaded: String,
    pub by: String,
}

pub(crate) struct GateLine {
    pub environment: String,
    pub decision: i64,
    pub passed: bool,
    /// The override that lets a failed decision pass, when one was given.
    pub overridden: Option<OverrideLine>,
    pub policy: String,
    pub decided: String,
    pub gates: Vec<GateResultLine>,
}

pub(crate) struct OverrideLine {
    pub reason: String,
    pub by: String,
}

pub(crate) struct GateResultLine {
    pub name: String,
    pub enforcement: String,
    pub outcome: String,
    pub violations: Vec<String>,
}

pub(crate) struct DeploymentLine {
    pub environment: String,
    pub status: &'static str,
    pub actor: String,
    pub started: String,
    pub finished: String,
}

pub(crate) struct ActionButton {
    pub action: &'static str,
    pub label: String,
    pub needs_reason: bool,
    pub danger: bool,
    pub problem: Option<Problem>,
}

/// `GET /releases/{version}`.
pub(crate) async fn detail(
    State(state): State<AppState>,
    user: WebUser,
    Path(version): Path<String>,
) -> UiResult<Html<String>> {
    let view = view(&state, &user, &version).await?;
    render(&release_page(&user, view, None, None)?)
}

/// `GET /fragments/releases/{version}`: the live part alone, for htmx.
pub(crate) async fn fragment(
    State(state): State<AppState>,
    user: WebUser,
    Path(version): Path<String>,
) -> UiResult<Html<String>> {
    let view = view(&state, &user, &version).await?;
    render(&release_live(&user, &view, None))
}

#[derive(Deserialize)]
pub(crate) struct TransitionForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    reason: String,
}

/// `POST /releases/{version}/transitions`: one of the buttons.
pub(crate) async fn transition(
    State(state): State<AppState>,
    Path(version): Path<String>,
    CsrfForm(user, form): CsrfForm<TransitionForm>,
) -> UiResult<Response> {
    let reference = reference(&user, &version)?;
    let action = form.action.parse::<ReleaseAction>();
    let reason = Some(form.reason.trim()).filter(|reason| !reason.is_empty());
    let outcome = match action {
        Ok(action) => state.tollgate.transition_release(&user.principal, &reference, action, reason).await.map(drop),
        Err(problem) => {
            let mut violations = tollgate_core::Violations::new();
            violations.push("action", problem);
            Err(ServiceError::Invalid(violations))
        }
    };
    match outcome {
        Ok(()) => Ok(Redirect::to(&format!("/releases/{}", urlencoding(&version))).into_response()),
        Err(error) => refused(&state, &user, &version, error, Some(form.action), false).await,
    }
}

#[derive(Deserialize)]
pub(crate) struct OverrideForm {
    #[serde(default)]
    environment: String,
    #[serde(default)]
    reason: String,
}

/// `POST /releases/{version}/gates/override`: lets a failed gate decision pass, with a reason.
pub(crate) async fn override_gates(
    State(state): State<AppState>,
    Path(version): Path<String>,
    CsrfForm(user, form): CsrfForm<OverrideForm>,
) -> UiResult<Response> {
    let reference = reference(&user, &version)?;
    let outcome =
        state.tollgate.override_gates(&user.principal, &reference, &form.environment, &form.reason).await.map(drop);
    match outcome {
        Ok(()) => Ok(Redirect::to(&format!("/releases/{}", urlencoding(&version))).into_response()),
        Err(error) => refused(&state, &user, &version, error, Some(form.environment), true).await,
    }
}

/// The release page again, with the refusal beside what caused it, under the API's status.
async fn refused(
    state: &AppState,
    user: &WebUser,
    version: &str,
    error: ServiceError,
    about: Option<String>,
    is_override: bool,
) -> UiResult<Response> {
    if matches!(error, ServiceError::NotFound { .. }) {
        return Err(UiError::from_service(error, Some(user.chrome("releases"))));
    }
    let problem = ApiError::from(error).into_page_parts();
    let status = problem.status;
    let problem = Problem { detail: problem.detail, errors: problem.errors, about: about.unwrap_or_default() };
    let view = view(state, user, version).await?;
    let page = if is_override {
        release_page(user, view, None, Some(problem))?
    } else {
        release_page(user, view, Some(problem), None)?
    };
    Ok((status, render(&page)?).into_response())
}

fn reference(user: &WebUser, version: &str) -> UiResult<ReleaseRef> {
    ReleaseRef::parse(version)
        .map_err(|_| UiError::not_found(Some(user.chrome("releases")), &format!("there is no release {version}")))
}

async fn view(state: &AppState, user: &WebUser, version: &str) -> UiResult<ReleaseView> {
    let reference = reference(user, version)?;
    state
        .tollgate
        .release_view(&user.principal, &reference)
        .await
        .map_err(|error| UiError::from_service(error, Some(user.chrome("releases"))))
}

fn release_page(
    user: &WebUser,
    view: ReleaseView,
    action_problem: Option<Problem>,
    override_problem: Option<Problem>,
) -> UiResult<ReleasePage> {
    let live = render(&release_live(user, &view, override_problem))?.0;
    let release = &view.release;
    let content = &release.content;
    let mut action_problem = action_problem;
    let mut actions: Vec<ActionButton> = view
        .actions
        .iter()
        .map(|action| {
            let problem = action_problem.take_if(|problem| problem.about == action.as_str());
            ActionButton {
                action: action.as_str(),
                label: capitalized(&words(action.as_str())),
                needs_reason: action.requires_reason(),
                danger: matches!(action, ReleaseAction::Cancel | ReleaseAction::RollBack),
                problem,
            }
        })
        .collect();
    actions.sort_by_key(|button| button.danger);
    let planned = content.planned_window.as_ref().map_or_else(
        || "not planned".to_owned(),
        |window| format!("{} to {}", when(window.start()), when(window.end())),
    );
    let summary = vec![
        ("State", words(release.state.as_str())),
        ("Type", content.release_type.as_str().to_owned()),
        ("Rollout strategy", words(content.strategy.as_str())),
        ("Lifecycle", content.lifecycle.to_string()),
        ("Planned window", planned),
        ("Scope freeze", content.scope_freeze_at.map_or_else(|| "not set".to_owned(), when)),
        ("Created by", format!("{} on {}", release.created_by, when(release.created_at))),
        ("Last change", format!("{} (revision {})", when(release.updated_at), release.revision)),
    ];
    Ok(ReleasePage {
        chrome: user.chrome("releases"),
        version: content.version.to_string(),
        summary,
        manifest_digest: view.manifest_digest.to_string(),
        rollback_criteria: content.rollback_criteria.clone(),
        scope: content
            .scope
            .iter()
            .map(|item| ScopeLine {
                ticket: item.ticket.clone(),
                title: item.title.clone(),
                excluded: match &item.decision {
                    ScopeDecision::Included => None,
                    ScopeDecision::Excluded { reason } => Some(reason.clone()),
                },
            })
            .collect(),
        artifacts: view
            .artifacts
            .iter()
            .map(|artifact| ArtifactLine {
                service: artifact.reference.service.to_string(),
                name: artifact.reference.name.to_string(),
                version: artifact.reference.version.to_string(),
                digest: artifact.reference.digest.to_string(),
                short_digest: short_digest(&artifact.reference.digest.to_string()),
                id: artifact.artifact.as_ref().map(|stored| stored.id.0),
                stored: artifact.artifact.as_ref().is_some_and(|stored| stored.digest == artifact.reference.digest),
                provenance: artifact.artifact.as_ref().map(|stored| provenance(&stored.provenance)).unwrap_or_default(),
                signatures: artifact
                    .signatures
                    .iter()
                    .map(|(record, outcome)| match outcome {
                        Ok(key) => (format!("signed by {} with {key}", record.created_by), true, String::new()),
                        Err(problem) => (format!("signature by {}", record.created_by), false, problem.clone()),
                    })
                    .collect(),
            })
            .collect(),
        evidence: view
            .evidence
            .iter()
            .map(|(record, summary)| EvidenceLine {
                kind: record.kind.as_str(),
                service: record.service.as_ref().map(ToString::to_string).unwrap_or_default(),
                summary: summary.clone(),
                short_digest: short_digest(&record.digest.to_string()),
                uploaded: when(record.created_at),
                by: record.created_by.to_string(),
            })
            .collect(),
        live,
        actions,
        problem: action_problem,
        history_link: format!("/audit?object=release/{}", release.id.0),
        csrf: user.session.csrf.clone(),
    })
}

fn release_live(user: &WebUser, view: &ReleaseView, override_problem: Option<Problem>) -> ReleaseLive {
    let release = &view.release;
    ReleaseLive {
        version: release.content.version.to_string(),
        state: release.state.as_str(),
        state_label: words(release.state.as_str()),
        gates: view
            .gate_decisions
            .iter()
            .map(|(decision, overridden)| gate_line(decision, overridden.as_ref()))
            .collect(),
        deployments: view
            .deployments
            .iter()
            .map(|deployment| DeploymentLine {
                environment: deployment.environment.to_string(),
                status: deployment.status.as_str(),
                actor: deployment.actor.to_string(),
                started: when(deployment.started_at),
                finished: deployment.finished_at.map(when).unwrap_or_default(),
            })
            .collect(),
        csrf: user.session.csrf.clone(),
        may_override: view.may_override_gates,
        override_problem,
    }
}

fn gate_line(
    decision: &tollgate_core::gate::GateDecision,
    overridden: Option<&tollgate_core::gate::GateOverride>,
) -> GateLine {
    let results = decision.results.as_array().cloned().unwrap_or_default();
    GateLine {
        environment: decision.environment.to_string(),
        decision: decision.id.0,
        passed: decision.passed,
        overridden: overridden.map(|overridden| OverrideLine {
            reason: overridden.reason.clone(),
            by: format!("{} on {}", overridden.created_by, when(overridden.created_at)),
        }),
        policy: format!("policy version {}", decision.binding.policy.seq),
        decided: format!("{} by {}", when(decision.created_at), decision.created_by),
        gates: results
            .iter()
            .map(|result| GateResultLine {
                name: text(result, "gate"),
                enforcement: text(result, "enforcement"),
                outcome: text(result, "outcome"),
                violations: result
                    .get("violations")
                    .and_then(|violations| violations.as_array())
                    .map(|violations| {
                        violations
                            .iter()
                            .map(|violation| {
                                violation.get("message").and_then(|m| m.as_str()).unwrap_or_default().to_owned()
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect(),
    }
}

fn text(value: &serde_json::Value, key: &str) -> String {
    value.get(key).and_then(|value| value.as_str()).unwrap_or_default().to_owned()
}

fn capitalized(text: &str) -> String {
    let mut characters = text.chars();
    characters.next().map_or_else(String::new, |first| first.to_uppercase().chain(characters).collect())
}

/// Provenance in a line: repository, commit, build and builder, as far as they are known.
pub(crate) fn provenance(provenance: &ArtifactProvenance) -> String {
    let parts: Vec<String> = [
        provenance.repository.clone(),
        provenance.commit.as_ref().map(|commit| format!("commit {}", commit.chars().take(12).collect::<String>())),
        provenance.build_id.as_ref().map(|build| format!("build {build}")),
        provenance.builder.as_ref().map(|builder| format!("by {builder}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if parts.is_empty() {
        "no provenance recorded".to_owned()
    } else {
        parts.join(", ")
    }
}
