//! `/artifacts` (a paged list, searchable by name) and `/artifacts/{id}` (one artifact: its
//! versions, digest, size, signatures checked now, retention decision and why, legal holds).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use tollgate_core::artifact::ArtifactId;
use tollgate_core::page::Page;
use tollgate_service::ServiceError;

use crate::error::ApiError;
use crate::ui::error::urlencoding;
use crate::ui::format::{short_digest, when};
use crate::ui::releases::provenance;
use crate::ui::{render, Chrome, UiError, UiResult, WebUser};
use crate::AppState;

/// Artifacts per page of the list.
const PAGE_SIZE: i64 = 50;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    before: Option<i64>,
}

#[derive(Template)]
#[template(path = "artifacts.html")]
pub(crate) struct ArtifactsPage {
    pub chrome: Chrome,
    pub text: String,
    pub problem: Option<String>,
    pub rows: Vec<ArtifactLine>,
    pub next: Option<String>,
    pub first_page: bool,
}

pub(crate) struct ArtifactLine {
    pub id: i64,
    pub name: String,
    pub version: String,
    pub team: String,
    pub digest: String,
    pub size: String,
    pub signatures: u64,
    pub created: String,
}

/// `GET /artifacts`.
pub(crate) async fn list(
    State(state): State<AppState>,
    user: WebUser,
    Query(query): Query<ListQuery>,
) -> UiResult<Response> {
    let page = Page { cursor: query.before, limit: PAGE_SIZE };
    let (rows, problem, status) =
        match state.tollgate.list_artifact_page(&user.principal, query.text.as_deref(), page).await {
            Ok(rows) => (rows, None, StatusCode::OK),
            Err(error @ ServiceError::Invalid(_)) => {
                let problem = ApiError::from(error).into_page_parts();
                (Vec::new(), Some(problem.detail), problem.status)
            }
            Err(error) => return Err(UiError::from_service(error, Some(user.chrome("artifacts")))),
        };
    let text = query.text.unwrap_or_default();
    let next = (rows.len() == PAGE_SIZE as usize).then(|| {
        let last = rows.last().map_or(0, |(artifact, _)| artifact.id.0);
        if text.is_empty() {
            format!("before={last}")
        } else {
            format!("text={}&before={last}", urlencoding(&text))
        }
    });
    let page = ArtifactsPage {
        chrome: user.chrome("artifacts"),
        problem,
        rows: rows
            .into_iter()
            .map(|(artifact, signatures)| ArtifactLine {
                id: artifact.id.0,
                name: artifact.name.to_string(),
                version: artifact.version.to_string(),
                team: artifact.team.to_string(),
                digest: short_digest(&artifact.digest.to_string()),
                size: bytes(artifact.size),
                signatures,
                created: when(artifact.created_at),
            })
            .collect(),
        next,
        first_page: query.before.is_none(),
        text,
    };
    Ok((status, render(&page)?).into_response())
}

#[derive(Template)]
#[template(path = "artifact.html")]
pub(crate) struct ArtifactPage {
    pub chrome: Chrome,
    pub title: String,
    pub facts: Vec<(&'static str, String)>,
    pub tags: Vec<String>,
    pub signatures: Vec<(String, bool, String)>,
    pub keep: Option<bool>,
    pub kept_because: Vec<String>,
    pub removable_because: Vec<String>,
    pub holds: Vec<(String, String)>,
    pub versions: Vec<(i64, String, String, bool)>,
}

/// `GET /artifacts/{id}`.
pub(crate) async fn detail(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
) -> UiResult<Html<String>> {
    let not_found = || UiError::not_found(Some(user.chrome("artifacts")), &format!("there is no artifact {id}"));
    let artifact_id = ArtifactId(id.parse::<i64>().map_err(|_| not_found())?);
    let view = state
        .tollgate
        .artifact_view(&user.principal, artifact_id)
        .await
        .map_err(|error| UiError::from_service(error, Some(user.chrome("artifacts"))))?;
    let artifact = &view.artifact;
    let page = ArtifactPage {
        chrome: user.chrome("artifacts"),
        title: format!("{} {}", artifact.name, artifact.version),
        facts: vec![
            ("Name", artifact.name.to_string()),
            ("Version", artifact.version.to_string()),
            ("Team", artifact.team.to_string()),
            ("Digest", artifact.digest.to_string()),
            ("Size", format!("{} ({} bytes)", bytes(artifact.size), artifact.size)),
            ("Media type", artifact.media_type.as_str().to_owned()),
            ("Provenance", provenance(&artifact.provenance)),
            ("Pushed", format!("{} by {}", when(artifact.created_at), artifact.created_by)),
        ],
        tags: artifact.tags.iter().map(ToString::to_string).collect(),
        signatures: view
            .signatures
            .iter()
            .map(|(record, outcome)| match outcome {
                Ok(key) => (
                    format!("signed by {} with {key}, {}", record.created_by, when(record.created_at)),
                    true,
                    String::new(),
                ),
                Err(problem) => {
                    (format!("attached by {}, {}", record.created_by, when(record.created_at)), false, problem.clone())
                }
            })
            .collect(),
        keep: view.retention.as_ref().map(|decision| decision.keep),
        kept_because: view
            .retention
            .as_ref()
            .map(|decision| decision.kept_because.iter().map(ToString::to_string).collect())
            .unwrap_or_default(),
        removable_because: view
            .retention
            .as_ref()
            .map(|decision| decision.removable_because.clone())
            .unwrap_or_default(),
        holds: view.holds.iter().map(|hold| (hold.tag.to_string(), hold.reason.clone())).collect(),
        versions: view
            .versions
            .iter()
            .map(|other| (other.id.0, other.version.to_string(), when(other.created_at), other.id == artifact.id))
            .collect(),
    };
    render(&page)
}

/// A size for people: `1.5 MiB`.
fn bytes(size: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = size as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{size} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
