//! Evidence from CI, per release.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use tollgate_core::evidence::EvidenceRecord;
use utoipa::{IntoParams, ToSchema};

use crate::api::body_reader;
use crate::api::releases::release_ref;
use crate::error::{ApiError, Problem};
use crate::extract::{Auth, QueryParams};
use crate::AppState;

#[derive(Debug, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EvidenceQuery {
    /// `junit`, `cobertura`, `lcov`, `sarif` or `cyclonedx`.
    pub kind: String,
    /// The service of the release the file is about, if it is about one.
    pub service: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EvidenceResponse {
    pub id: i64,
    pub release: i64,
    pub service: Option<String>,
    pub kind: String,
    /// The digest of the raw file, kept as evidence.
    pub digest: String,
    pub size: u64,
    /// The normalized facts parsed from the file.
    #[schema(value_type = Object)]
    pub facts: serde_json::Value,
    pub created_by: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: jiff::Timestamp,
}

impl From<EvidenceRecord> for EvidenceResponse {
    fn from(record: EvidenceRecord) -> EvidenceResponse {
        EvidenceResponse {
            id: record.id.0,
            release: record.release.0,
            service: record.service.map(|s| s.to_string()),
            kind: record.kind.to_string(),
            digest: record.digest.to_string(),
            size: record.size,
            facts: record.facts,
            created_by: record.created_by.to_string(),
            created_at: record.created_at,
        }
    }
}

#[utoipa::path(post, path = "/releases/{release}/evidence", tag = "evidence", params(("release" = String, Path, description = "Release id or version"), EvidenceQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The raw file"),
    responses((status = 201, body = EvidenceResponse), (status = 404, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem, description = "The file does not parse; the detail says where")))]
pub async fn upload(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(release): Path<String>,
    QueryParams(query): QueryParams<EvidenceQuery>,
    body: Body,
) -> Result<(StatusCode, Json<EvidenceResponse>), ApiError> {
    let release = release_ref(&release)?;
    let mut content = body_reader(body);
    let record = state
        .tollgate
        .upload_evidence(&principal, &release, query.service.as_deref(), &query.kind, &mut content)
        .await?;
    Ok((StatusCode::CREATED, Json(record.into())))
}

#[utoipa::path(get, path = "/releases/{release}/evidence", tag = "evidence", params(("release" = String, Path, description = "Release id or version")),
    responses((status = 200, body = [EvidenceResponse]), (status = 404, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    Auth(principal): Auth,
    Path(release): Path<String>,
) -> Result<Json<Vec<EvidenceResponse>>, ApiError> {
    let records = state.tollgate.list_evidence(&principal, &release_ref(&release)?).await?;
    Ok(Json(records.into_iter().map(EvidenceResponse::from).collect()))
}
