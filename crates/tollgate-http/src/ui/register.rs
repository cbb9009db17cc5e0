//! `/register`: what runs where. A services × environments matrix with the version in each cell
//! and since when, at this instant or at one the reader names (date, time and time zone);
//! `/register/{environment}`: that environment's deployment history, newest first. Both show the
//! leases that lock services now (deployments by other tools, held until their outcome). The
//! history also shows the environment's quarantine, if any, with a form to lift it.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::Deserialize;
use tollgate_core::deployment::{DeploymentStatus, Promotion};
use tollgate_core::lease::Lease;
use tollgate_core::page::Page;
use tollgate_service::release::ReleaseRef;
use tollgate_service::ServiceError;

use crate::error::ApiError;
use crate::ui::format::{rfc3339, when};
use crate::ui::{render, Chrome, CsrfForm, UiError, UiResult, WebUser};
use crate::AppState;

/// Deployments per page of an environment's history.
const HISTORY_PAGE: i64 = 50;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct AtQuery {
    #[serde(default)]
    date: Option<String>,
    #[serde(default)]
    time: Option<String>,
    #[serde(default)]
    zone: Option<String>,
}

#[derive(Template)]
#[template(path = "register.html")]
pub(crate) struct RegisterPage {
    pub chrome: Chrome,
    pub environments: Vec<String>,
    pub rows: Vec<(String, Vec<Option<Cell>>)>,
    /// What instant the matrix is for, in words.
    pub at: String,
    pub date: String,
    pub time: String,
    pub zone: String,
    pub problem: Option<String>,
    /// Leases that lock services now (shown only for now).
    pub leases: Vec<LeaseLine>,
    /// Traffic between weight groups, as blue-green and canary rollouts left it.
    pub traffic: Vec<TrafficLine>,
}

/// One service's traffic split in an environment, as the register pages show it.
pub(crate) struct TrafficLine {
    pub environment: String,
    pub service: String,
    pub deployment: i64,
    pub since: String,
    pub since_rfc3339: String,
    /// `(group, weight, version)`, the largest share first.
    pub shares: Vec<(String, u32, String)>,
}

impl TrafficLine {
    fn new(split: &tollgate_core::rollout::TrafficSplit) -> TrafficLine {
        let mut shares: Vec<(String, u32, String)> = split
            .shares
            .iter()
            .map(|share| {
                let version = share.version.as_ref().map_or_else(|| "nothing deployed".to_owned(), ToString::to_string);
                (share.group.to_string(), share.weight, version)
            })
            .collect();
        shares.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        TrafficLine {
            environment: split.environment.to_string(),
            service: split.service.to_string(),
            deployment: split.deployment.0,
            since: when(split.at),
            since_rfc3339: rfc3339(split.at),
            shares,
        }
    }
}

/// A lease as the register pages show it.
pub(crate) struct LeaseLine {
    pub environment: String,
    pub deployment: i64,
    pub services: String,
    pub holder: String,
    pub epoch: u64,
    pub state: &'static str,
    pub expires: String,
    pub expires_rfc3339: String,
}

impl LeaseLine {
    fn new(lease: Lease, now: Timestamp) -> LeaseLine {
        LeaseLine {
            environment: lease.environment.to_string(),
            deployment: lease.deployment.0,
            services: lease.services.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
            holder: lease.holder.to_string(),
            epoch: lease.epoch,
            state: lease.state(now).as_str(),
            expires: when(lease.expires_at),
            expires_rfc3339: rfc3339(lease.expires_at),
        }
    }
}

/// The leases that lock services now, of one environment or all.
async fn lease_lines(state: &AppState, user: &WebUser, environment: Option<&str>) -> UiResult<Vec<LeaseLine>> {
    let leases = state
        .tollgate
        .list_leases(&user.principal, environment)
        .await
        .map_err(|error| UiError::from_service(error, Some(user.chrome("register"))))?;
    let now = state.tollgate.now();
    Ok(leases.into_iter().map(|lease| LeaseLine::new(lease, now)).collect())
}

pub(crate) struct Cell {
    pub version: String,
    pub since: String,
    pub since_rfc3339: String,
    pub deployment: i64,
    pub flag: String,
}

/// `GET /register`.
pub(crate) async fn page(
    State(state): State<AppState>,
    user: WebUser,
    Query(query): Query<AtQuery>,
) -> UiResult<Response> {
    let (at, problem) = match instant(&query) {
        Ok(at) => (at, None),
        Err(problem) => (None, Some(problem)),
    };
    let register = state
        .tollgate
        .register(&user.principal, None, at)
        .await
        .map_err(|error| UiError::from_service(error, Some(user.chrome("register"))))?;
    let environments: Vec<String> = register.iter().map(|entry| entry.environment.name.to_string()).collect();
    let services: BTreeSet<String> =
        register.iter().flat_map(|entry| entry.services.iter().map(|running| running.service.to_string())).collect();
    let mut cells: BTreeMap<(String, usize), Cell> = BTreeMap::new();
    for (column, entry) in register.iter().enumerate() {
        for running in &entry.services {
            let flag = match &running.promotion {
                Promotion::Followed => String::new(),
                Promotion::EmergencySkipped { skipped } => format!("emergency, skipped {skipped}"),
                Promotion::Rollback { .. } => "rollback".to_owned(),
            };
            let cell = Cell {
                version: running.release_version.to_string(),
                since: when(running.deployed_at),
                since_rfc3339: rfc3339(running.deployed_at),
                deployment: running.deployment.0,
                flag,
            };
            cells.insert((running.service.to_string(), column), cell);
        }
    }
    let rows = services
        .into_iter()
        .map(|service| {
            let row = (0..environments.len()).map(|column| cells.remove(&(service.clone(), column))).collect();
            (service, row)
        })
        .collect();
    let status = if problem.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let traffic = register.iter().flat_map(|entry| entry.traffic.iter().map(TrafficLine::new)).collect();
    let leases = match at {
        None => lease_lines(&state, &user, None).await?,
        Some(_) => Vec::new(),
    };
    let page = RegisterPage {
        chrome: user.chrome("register"),
        environments,
        rows,
        at: at.map_or_else(|| "now".to_owned(), |at| format!("at {}", when(at))),
        date: query.date.unwrap_or_default(),
        time: query.time.unwrap_or_default(),
        zone: query.zone.unwrap_or_else(|| "UTC".to_owned()),
        problem,
        leases,
        traffic,
    };
    Ok((status, render(&page)?).into_response())
}

/// The instant a register query names, `None` for now; the problem names the field.
fn instant(query: &AtQuery) -> Result<Option<Timestamp>, String> {
    let date = query.date.as_deref().map(str::trim).filter(|date| !date.is_empty());
    let Some(date) = date else {
        return Ok(None);
    };
    let date: Date = date.parse().map_err(|_| format!("date: {date:?} is not a date like 2026-11-30"))?;
    let time = match query.time.as_deref().map(str::trim).filter(|time| !time.is_empty()) {
        Some(time) => time.parse::<Time>().map_err(|_| format!("time: {time:?} is not a time like 14:30"))?,
        None => Time::midnight(),
    };
    let zone_name = query.zone.as_deref().map(str::trim).filter(|zone| !zone.is_empty()).unwrap_or("UTC");
    let zone = TimeZone::get(zone_name)
        .map_err(|_| format!("zone: {zone_name:?} is not a time zone like UTC or Europe/Berlin"))?;
    let zoned = date.to_datetime(time).to_zoned(zone).map_err(|error| format!("date and time: {error}"))?;
    Ok(Some(zoned.timestamp()))
}

#[derive(Template)]
#[template(path = "environment_history.html")]
pub(crate) struct HistoryPage {
    pub chrome: Chrome,
    pub environment: String,
    pub rows: Vec<HistoryLine>,
    pub next: Option<i64>,
    /// Leases that lock services of the environment now.
    pub leases: Vec<LeaseLine>,
    pub quarantine: Option<QuarantineLine>,
    /// Traffic between weight groups of the environment's services now.
    pub traffic: Vec<TrafficLine>,
    /// Versions that succeeded here (on this page), newest first: what "roll back to…" offers.
    pub rollback_targets: Vec<String>,
    pub csrf: String,
    /// A lift that failed, with why.
    pub problem: Option<String>,
}

pub(crate) struct QuarantineLine {
    pub since: String,
    /// The deployment whose failure quarantined the environment; 0 when none.
    pub deployment: i64,
    pub reason: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct LiftForm {
    #[serde(default)]
    reason: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RollbackForm {
    #[serde(default)]
    release: String,
    #[serde(default)]
    reason: String,
}

pub(crate) struct HistoryLine {
    pub id: i64,
    pub release: String,
    pub status: &'static str,
    pub actor: String,
    pub started: String,
    pub finished: String,
    pub flag: String,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct HistoryQuery {
    #[serde(default)]
    before: Option<i64>,
}

/// `GET /register/{environment}`.
pub(crate) async fn history(
    State(state): State<AppState>,
    user: WebUser,
    Path(environment): Path<String>,
    Query(query): Query<HistoryQuery>,
) -> UiResult<Html<String>> {
    render(&history_page(&state, &user, environment, query.before, None).await?)
}

/// `POST /register/{environment}/quarantine/lift`: lifts the environment's quarantine, with a
/// reason; a refusal is shown on the page and changes nothing.
pub(crate) async fn lift_quarantine(
    State(state): State<AppState>,
    Path(environment): Path<String>,
    CsrfForm(user, form): CsrfForm<LiftForm>,
) -> UiResult<Response> {
    match state.tollgate.lift_quarantine(&user.principal, &environment, &form.reason).await {
        Ok(_) => Ok(Redirect::to(&format!("/register/{environment}")).into_response()),
        Err(error) => {
            let parts = ApiError::from(error).into_page_parts();
            let page = history_page(&state, &user, environment, None, Some(parts.detail)).await?;
            Ok((parts.status, render(&page)?).into_response())
        }
    }
}

/// `POST /register/{environment}/rollback`: rolls the environment back to an earlier release,
/// with a reason, and shows the new deployment; a refusal is shown on the history.
pub(crate) async fn roll_back(
    State(state): State<AppState>,
    Path(environment): Path<String>,
    CsrfForm(user, form): CsrfForm<RollbackForm>,
) -> UiResult<Response> {
    let started = match ReleaseRef::parse(&form.release) {
        Ok(release) => state.tollgate.roll_back_to(&user.principal, &release, &environment, &form.reason).await,
        Err(problem) => {
            let mut violations = tollgate_core::Violations::new();
            violations.push("release", problem);
            Err(ServiceError::Invalid(violations))
        }
    };
    match started {
        Ok(run) => Ok(Redirect::to(&format!("/deployments/{}", run.deployment.id.0)).into_response()),
        Err(error) => {
            let parts = ApiError::from(error).into_page_parts();
            let page = history_page(&state, &user, environment, None, Some(parts.detail)).await?;
            Ok((parts.status, render(&page)?).into_response())
        }
    }
}

async fn history_page(
    state: &AppState,
    user: &WebUser,
    environment: String,
    before: Option<i64>,
    problem: Option<String>,
) -> UiResult<HistoryPage> {
    let chrome = || Some(user.chrome("register"));
    let page = Page { cursor: before, limit: HISTORY_PAGE };
    let deployments = state
        .tollgate
        .list_deployments(&user.principal, Some(&environment), None, page)
        .await
        .map_err(|error| UiError::from_service(error, chrome()))?;
    let next = (deployments.len() == HISTORY_PAGE as usize).then(|| deployments.last().map_or(0, |d| d.id.0));
    let leases = lease_lines(state, user, Some(&environment)).await?;
    let quarantines = state
        .tollgate
        .list_quarantines(&user.principal)
        .await
        .map_err(|error| UiError::from_service(error, chrome()))?;
    let quarantine =
        quarantines.into_iter().find(|quarantine| quarantine.environment.as_str() == environment).map(|quarantine| {
            QuarantineLine {
                since: when(quarantine.since),
                deployment: quarantine.deployment.map_or(0, |deployment| deployment.0),
                reason: quarantine.reason,
            }
        });
    let register = state
        .tollgate
        .register(&user.principal, Some(&environment), None)
        .await
        .map_err(|error| UiError::from_service(error, chrome()))?;
    let traffic = register.iter().flat_map(|entry| entry.traffic.iter().map(TrafficLine::new)).collect();
    let mut rollback_targets: Vec<String> = Vec::new();
    for deployment in &deployments {
        let version = deployment.release_version.to_string();
        if deployment.status == DeploymentStatus::Succeeded && !rollback_targets.contains(&version) {
            rollback_targets.push(version);
        }
    }
    Ok(HistoryPage {
        chrome: user.chrome("register"),
        environment,
        rollback_targets,
        rows: deployments
            .into_iter()
            .map(|deployment| HistoryLine {
                id: deployment.id.0,
                release: deployment.release_version.to_string(),
                status: deployment.status.as_str(),
                actor: deployment.actor.to_string(),
                started: when(deployment.started_at),
                finished: deployment.finished_at.map(when).unwrap_or_default(),
                flag: match deployment.promotion {
                    Promotion::Followed => String::new(),
                    Promotion::EmergencySkipped { skipped } => format!("emergency, skipped {skipped}"),
                    Promotion::Rollback { cause } => format!("rollback: {cause}"),
                },
            })
            .collect(),
        next,
        leases,
        quarantine,
        traffic,
        csrf: user.session.csrf.clone(),
        problem,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(date: &str, time: &str, zone: &str) -> Result<Option<Timestamp>, String> {
        instant(&AtQuery { date: Some(date.into()), time: Some(time.into()), zone: Some(zone.into()) })
    }

    #[test]
    fn an_instant_is_read_in_its_time_zone() {
        assert_eq!(at("", "", ""), Ok(None));
        let berlin = at("2026-07-01", "14:30", "Europe/Berlin").expect("valid").expect("an instant");
        assert_eq!(berlin.to_string(), "2026-07-01T12:30:00Z");
        assert!(at("2026-13-01", "", "UTC").expect_err("bad date").starts_with("date:"));
        assert!(at("2026-07-01", "25:00", "UTC").expect_err("bad time").starts_with("time:"));
        assert!(at("2026-07-01", "", "Mars/Olympus").expect_err("bad zone").starts_with("zone:"));
    }
}
