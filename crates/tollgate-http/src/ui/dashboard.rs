//! `/`: the dashboard. Releases by state, recent deployments, artifacts waiting for signatures,
//! the audit log's last checkpoint. Its live part refreshes itself every 10 seconds with htmx
//! (`/fragments/dashboard`); without JavaScript a reload shows the same.

use askama::Template;
use axum::extract::State;
use axum::response::Html;
use tollgate_core::deployment::Promotion;
use tollgate_service::dashboard::Dashboard;

use crate::ui::format::{rfc3339, short_digest, when, words};
use crate::ui::{render, Chrome, UiError, UiResult, WebUser};
use crate::AppState;

#[derive(Template)]
#[template(path = "dashboard.html")]
pub(crate) struct DashboardPage {
    pub chrome: Chrome,
    /// The live part, rendered by [`DashboardLive`].
    pub live: String,
}

#[derive(Template)]
#[template(path = "dashboard_live.html")]
pub(crate) struct DashboardLive {
    pub states: Vec<(String, String, u64)>,
    pub n_releases: u64,
    pub deployments: Vec<DeploymentLine>,
    pub unsigned: Vec<ArtifactLine>,
    pub n_unsigned: u64,
    pub checkpoint: Option<CheckpointLine>,
    pub audit_length: u64,
    /// The latest scheduled verification: (ok, when, what it found).
    pub verification: Option<(bool, String, String)>,
}

pub(crate) struct DeploymentLine {
    pub release: String,
    pub environment: String,
    pub status: &'static str,
    pub promotion: String,
    pub actor: String,
    pub started: String,
    pub started_rfc3339: String,
}

pub(crate) struct ArtifactLine {
    pub id: i64,
    pub name: String,
    pub version: String,
    pub digest: String,
    pub created: String,
}

pub(crate) struct CheckpointLine {
    pub tree_size: u64,
    pub signed: String,
    pub key_id: String,
}

/// `GET /`.
pub(crate) async fn page(State(state): State<AppState>, user: WebUser) -> UiResult<Html<String>> {
    let live = live(&state, &user).await?;
    render(&DashboardPage { chrome: user.chrome("dashboard"), live: render(&live)?.0 })
}

/// `GET /fragments/dashboard`: the live part alone, for htmx.
pub(crate) async fn fragment(State(state): State<AppState>, user: WebUser) -> UiResult<Html<String>> {
    render(&live(&state, &user).await?)
}

async fn live(state: &AppState, user: &WebUser) -> UiResult<DashboardLive> {
    let dashboard = state
        .tollgate
        .dashboard(&user.principal)
        .await
        .map_err(|error| UiError::from_service(error, Some(user.chrome("dashboard"))))?;
    Ok(DashboardLive::from(dashboard))
}

impl From<Dashboard> for DashboardLive {
    fn from(dashboard: Dashboard) -> DashboardLive {
        let n_releases = dashboard.releases_by_state.iter().map(|(_, count)| count).sum();
        DashboardLive {
            states: dashboard
                .releases_by_state
                .iter()
                .map(|(state, count)| (state.as_str().to_owned(), words(state.as_str()), *count))
                .collect(),
            n_releases,
            deployments: dashboard
                .recent_deployments
                .into_iter()
                .map(|deployment| DeploymentLine {
                    release: deployment.release_version.to_string(),
                    environment: deployment.environment.to_string(),
                    status: deployment.status.as_str(),
                    promotion: match &deployment.promotion {
                        Promotion::Followed => String::new(),
                        Promotion::EmergencySkipped { skipped } => format!("emergency: skipped {skipped}"),
                        Promotion::Rollback { .. } => "rollback".to_owned(),
                    },
                    actor: deployment.actor.to_string(),
                    started: when(deployment.started_at),
                    started_rfc3339: rfc3339(deployment.started_at),
                })
                .collect(),
            unsigned: dashboard
                .unsigned_artifacts
                .into_iter()
                .map(|artifact| ArtifactLine {
                    id: artifact.id.0,
                    name: artifact.name.to_string(),
                    version: artifact.version.to_string(),
                    digest: short_digest(&artifact.digest.to_string()),
                    created: when(artifact.created_at),
                })
                .collect(),
            n_unsigned: dashboard.n_unsigned_artifacts,
            checkpoint: dashboard.latest_checkpoint.map(|checkpoint| CheckpointLine {
                tree_size: checkpoint.tree_size,
                signed: when(checkpoint.signed_at),
                key_id: checkpoint.key_id.clone(),
            }),
            audit_length: dashboard.audit_length,
            verification: dashboard
                .last_verification
                .map(|result| (result.ok, when(result.verified_at), result.message)),
        }
    }
}
