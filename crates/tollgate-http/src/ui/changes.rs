//! `/changes` (change requests, newest first, by state and environment), `/changes/agenda`
//! (the CAB agenda) and `/changes/{id}` (one change: its risk factors, route, verdicts,
//! conflicts, and the actions the reader may take: submit, approve or reject with a comment,
//! schedule, withdraw, close).
//!
//! A form posts to the same use case as the API; a refusal re-renders the page with the API's
//! problem text beside the form that caused it, under the API's status.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use tollgate_core::change::approval::Verdict;
use tollgate_core::change::{ChangeAction, ChangeId, ChangeRequest, ChangeState};
use tollgate_core::page::Page;
use tollgate_service::change::{ChangeQuery, ChangeView};
use tollgate_service::ServiceError;

use crate::error::ApiError;
use crate::ui::format::{short_digest, when, words};
use crate::ui::{render, Chrome, CsrfForm, UiError, UiResult, WebUser};
use crate::AppState;

/// Changes per page of the list.
const PAGE_SIZE: i64 = 100;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    environment: Option<String>,
}

#[derive(Template)]
#[template(path = "changes.html")]
pub(crate) struct ChangesPage {
    pub chrome: Chrome,
    pub state: String,
    pub environment: String,
    pub states: Vec<&'static str>,
    pub environments: Vec<String>,
    pub rows: Vec<ChangeLine>,
    pub problem: Option<String>,
}

pub(crate) struct ChangeLine {
    pub id: i64,
    pub release: String,
    pub environment: String,
    pub change_type: &'static str,
    pub state: &'static str,
    pub risk: String,
    pub risk_class: &'static str,
    pub route: &'static str,
    pub planned: String,
    pub requested_by: String,
}

impl ChangeLine {
    fn new(change: &ChangeRequest, release: String) -> ChangeLine {
        ChangeLine {
            id: change.id.0,
            release,
            environment: change.content.environment.to_string(),
            change_type: change.content.change_type.as_str(),
            state: change.state.as_str(),
            risk: change.risk.as_ref().map_or_else(String::new, |risk| format!("{} {}", risk.score, risk.class)),
            risk_class: change.risk.as_ref().map_or("none", |risk| risk.class.as_str()),
            route: change.route.as_ref().map_or("", |route| route.kind()),
            planned: format!("{} to {}", when(change.content.planned.start()), when(change.content.planned.end())),
            requested_by: change.requested_by.to_string(),
        }
    }
}

/// `GET /changes`.
pub(crate) async fn list(
    State(state): State<AppState>,
    user: WebUser,
    Query(query): Query<ListQuery>,
) -> UiResult<Response> {
    let filter = ChangeQuery {
        release: None,
        environment: query.environment.clone().filter(|name| !name.is_empty()),
        state: query.state.clone().filter(|state| !state.is_empty()),
        requested_by: None,
    };
    let environments = state
        .tollgate
        .list_environments(&user.principal)
        .await
        .map_err(|error| UiError::from_service(error, Some(user.chrome("changes"))))?
        .into_iter()
        .map(|environment| environment.name.to_string())
        .collect();
    let listed = state.tollgate.list_changes(&user.principal, &filter, Page { cursor: None, limit: PAGE_SIZE }).await;
    let (rows, problem, status) = match listed {
        Ok(changes) => {
            let rows = changes.iter().map(|change| ChangeLine::new(change, format!("#{}", change.release))).collect();
            (rows, None, axum::http::StatusCode::OK)
        }
        Err(error @ ServiceError::Invalid(_)) => {
            let parts = ApiError::from(error).into_page_parts();
            (Vec::new(), Some(parts.detail), parts.status)
        }
        Err(error) => return Err(UiError::from_service(error, Some(user.chrome("changes")))),
    };
    let page = ChangesPage {
        chrome: user.chrome("changes"),
        state: query.state.unwrap_or_default(),
        environment: query.environment.unwrap_or_default(),
        states: ChangeState::ALL.to_vec(),
        environments,
        rows,
        problem,
    };
    Ok((status, render(&page)?).into_response())
}

#[derive(Template)]
#[template(path = "cab_agenda.html")]
pub(crate) struct AgendaPage {
    pub chrome: Chrome,
    pub items: Vec<AgendaItem>,
}

pub(crate) struct AgendaItem {
    pub line: ChangeLine,
    pub approvals: Vec<String>,
    pub missing: Vec<String>,
    pub conflicts: Vec<String>,
    pub evidence: String,
}

/// `GET /changes/agenda`.
pub(crate) async fn agenda(State(state): State<AppState>, user: WebUser) -> UiResult<Html<String>> {
    let agenda = state
        .tollgate
        .cab_agenda(&user.principal)
        .await
        .map_err(|error| UiError::from_service(error, Some(user.chrome("changes"))))?;
    let items = agenda
        .into_iter()
        .map(|view| {
            let evidence = view
                .change
                .risk
                .as_ref()
                .and_then(|risk| risk.factors.iter().find(|factor| factor.kind.as_str() == "evidence"))
                .map_or_else(String::new, |factor| factor.explanation.clone());
            AgendaItem {
                approvals: verdicts(&view),
                missing: view.status.as_ref().map_or_else(Vec::new, |status| status.missing.clone()),
                conflicts: view.conflicts.iter().map(|conflict| conflict.explanation.clone()).collect(),
                evidence,
                line: ChangeLine::new(&view.change, view.release_version.to_string()),
            }
        })
        .collect();
    render(&AgendaPage { chrome: user.chrome("changes"), items })
}

#[derive(Template)]
#[template(path = "change.html")]
pub(crate) struct ChangePage {
    pub chrome: Chrome,
    pub line: ChangeLine,
    /// The pre-approved template a standard change follows; empty for other types.
    pub template: String,
    pub justification: String,
    pub implementation_plan: String,
    pub rollback_plan: String,
    pub rollback_minutes: u32,
    pub tickets: Vec<String>,
    pub links: Vec<String>,
    pub impacted: Vec<String>,
    pub digest: String,
    pub release_unchanged: bool,
    pub factors: Vec<FactorLine>,
    pub approvals: Vec<String>,
    pub complete: bool,
    pub missing: Vec<String>,
    pub conflicts: Vec<(&'static str, String)>,
    pub review: String,
    pub review_due: String,
    /// The actions the change's state allows now (the service decides who may).
    pub actions: Vec<(&'static str, &'static str)>,
    pub may_decide: bool,
    pub may_review: bool,
    pub csrf: String,
    pub problem: Option<(String, String)>,
}

pub(crate) struct FactorLine {
    pub name: String,
    pub value: String,
    pub weight: u32,
    pub points: String,
    pub explanation: String,
}

/// `GET /changes/{id}`.
pub(crate) async fn detail(State(state): State<AppState>, user: WebUser, Path(id): Path<String>) -> UiResult<Response> {
    let id = change_id(&user, &id)?;
    let view = state
        .tollgate
        .get_change(&user.principal, id)
        .await
        .map_err(|error| UiError::from_service(error, Some(user.chrome("changes"))))?;
    Ok(render(&change_page(&user, view, None))?.into_response())
}

#[derive(Deserialize)]
pub(crate) struct ActionForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    comment: String,
}

/// `POST /changes/{id}/actions`: one of the forms.
pub(crate) async fn act(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(user, form): CsrfForm<ActionForm>,
) -> UiResult<Response> {
    let id = change_id(&user, &id)?;
    let tollgate = &state.tollgate;
    let principal = &user.principal;
    let comment = form.comment.trim();
    let reason = Some(comment).filter(|comment| !comment.is_empty());
    let outcome = match form.action.as_str() {
        "submit" => tollgate.submit_change(principal, id).await,
        "approve" => tollgate.decide_change(principal, id, Verdict::Approve, comment).await,
        "reject" => tollgate.decide_change(principal, id, Verdict::Reject, comment).await,
        "schedule" => tollgate.schedule_change(principal, id).await,
        "withdraw" => tollgate.end_change(principal, id, ChangeAction::Withdraw, reason).await,
        "close" => tollgate.end_change(principal, id, ChangeAction::Close, reason).await,
        "review" => tollgate.review_change(principal, id, comment).await,
        other => {
            let mut violations = tollgate_core::Violations::new();
            let accepted = &["submit", "approve", "reject", "schedule", "withdraw", "close", "review"];
            violations.push("action", tollgate_core::Problem::NotOneOf { value: other.to_owned(), accepted });
            Err(ServiceError::Invalid(violations))
        }
    };
    match outcome {
        Ok(_) => Ok(Redirect::to(&format!("/changes/{}", id.0)).into_response()),
        Err(error @ ServiceError::NotFound { .. }) => Err(UiError::from_service(error, Some(user.chrome("changes")))),
        Err(error) => {
            let parts = ApiError::from(error).into_page_parts();
            let mut detail = parts.detail;
            for error in parts.errors.iter().filter(|error| !error.field.is_empty()) {
                detail.push_str(&format!("; {}: {}", error.field, error.message));
            }
            let view = tollgate
                .get_change(principal, id)
                .await
                .map_err(|error| UiError::from_service(error, Some(user.chrome("changes"))))?;
            let page = change_page(&user, view, Some((form.action, detail)));
            Ok((parts.status, render(&page)?).into_response())
        }
    }
}

fn change_id(user: &WebUser, id: &str) -> UiResult<ChangeId> {
    id.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(ChangeId)
        .ok_or_else(|| UiError::not_found(Some(user.chrome("changes")), &format!("there is no change request {id}")))
}

fn verdicts(view: &ChangeView) -> Vec<String> {
    view.approvals
        .iter()
        .map(|approval| {
            let stale = if approval.manifest_digest == view.release_digest {
                ""
            } else {
                " (for an earlier digest; no longer counts)"
            };
            let comment = if approval.comment.is_empty() { String::new() } else { format!(": {}", approval.comment) };
            format!("{} {}s at {}{comment}{stale}", approval.approver, approval.verdict, when(approval.at))
        })
        .collect()
}

fn change_page(user: &WebUser, view: ChangeView, problem: Option<(String, String)>) -> ChangePage {
    let change = &view.change;
    let content = &change.content;
    let factors = change
        .risk
        .as_ref()
        .map(|risk| {
            risk.factors
                .iter()
                .map(|factor| FactorLine {
                    name: words(factor.kind.as_str()),
                    value: format!("{:.2}", factor.value),
                    weight: factor.weight,
                    points: format!("{:.2}", factor.points),
                    explanation: factor.explanation.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    let actions: Vec<(&'static str, &'static str)> = [
        (ChangeAction::Submit, "submit", "Submit"),
        (ChangeAction::Resubmit, "submit", "Resubmit for the release as it is now"),
        (ChangeAction::Schedule, "schedule", "Schedule"),
        (ChangeAction::Withdraw, "withdraw", "Withdraw"),
        (ChangeAction::Close, "close", "Close"),
    ]
    .into_iter()
    .filter(|(action, _, _)| change.transition(*action).is_ok())
    .map(|(_, form, label)| (form, label))
    .collect();
    ChangePage {
        chrome: user.chrome("changes"),
        line: ChangeLine::new(change, view.release_version.to_string()),
        template: content.template.as_ref().map(ToString::to_string).unwrap_or_default(),
        justification: content.justification.clone(),
        implementation_plan: content.implementation_plan.clone(),
        rollback_plan: content.rollback_plan.clone(),
        rollback_minutes: content.rollback_minutes,
        tickets: content.tickets.clone(),
        links: content.links.clone(),
        impacted: change.impacted_services.iter().map(ToString::to_string).collect(),
        digest: short_digest(&change.manifest_digest.to_string()),
        release_unchanged: view.release_unchanged,
        factors,
        approvals: verdicts(&view),
        complete: view.status.as_ref().is_some_and(|status| status.complete),
        missing: view.status.as_ref().map_or_else(Vec::new, |status| status.missing.clone()),
        conflicts: view
            .conflicts
            .iter()
            .map(|conflict| (conflict.kind.as_str(), conflict.explanation.clone()))
            .collect(),
        review: change
            .review
            .as_ref()
            .map_or_else(String::new, |review| format!("{} at {}: {}", review.by, when(review.at), review.summary)),
        review_due: change.review_due_at.map(when).unwrap_or_default(),
        may_decide: change.state == ChangeState::Assessing,
        may_review: change.transition(ChangeAction::Review).is_ok(),
        actions,
        csrf: user.session.csrf.clone(),
        problem,
    }
}
