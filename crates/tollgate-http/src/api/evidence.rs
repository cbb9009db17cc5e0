//! Evidence from CI, per release.

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use tollgate_core::evidence::EvidenceRecord;
use utoipa::{IntoParams, ToSchema};

use crate::api::body_reader;
use crate::api::problem::{problems, PATH, QUERY};
use crate::api::releases::release_ref;
use crate::api::schema;
use crate::error::ApiError;
use crate::extract::{Auth, PathParam, QueryParams};
use crate::AppState;

#[derive(Debug, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EvidenceQuery {
    #[param(value_type = schema::EvidenceKind)]
    pub kind: String,
    /// The service of the release the file is about, if it is about one; the release must have
    /// an artifact for it.
    #[param(value_type = Option<schema::Name>)]
    pub service: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EvidenceResponse {
    #[schema(value_type = schema::Id)]
    pub id: i64,
    #[schema(value_type = schema::Id)]
    pub release: i64,
    #[schema(value_type = Option<schema::Name>)]
    pub service: Option<String>,
    #[schema(value_type = schema::EvidenceKind)]
    pub kind: String,
    /// The digest of the raw file, kept as evidence.
    #[schema(value_type = schema::Digest)]
    pub digest: String,
    pub size: u64,
    /// The normalized facts parsed from the file.
    #[schema(value_type = Object)]
    pub facts: serde_json::Value,
    #[schema(value_type = schema::Name)]
    pub created_by: String,
    #[schema(value_type = schema::Timestamp)]
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

problems!(
    UploadProblems,
    [
        QUERY,
        PATH,
        &[
            "forbidden",
            "release_not_found",
            "validation_failed",
            "upload_interrupted",
            "content_too_large",
            "invalid_evidence",
            "busy",
        ],
    ]
);

/// The file is parsed before anything is stored: 422 `invalid_evidence` says where it does not.
#[utoipa::path(post, path = "/releases/{release}/evidence", operation_id = "upload_evidence", tag = "evidence", params(("release" = schema::ReleaseRef, Path, description = "Release id or version"), EvidenceQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The raw file"),
    responses((status = 201, body = EvidenceResponse), UploadProblems))]
pub async fn upload(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(release): PathParam<String>,
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

problems!(ListProblems, [PATH, &["release_not_found"]]);

#[utoipa::path(get, path = "/releases/{release}/evidence", operation_id = "list_evidence", tag = "evidence", params(("release" = schema::ReleaseRef, Path, description = "Release id or version")),
    responses((status = 200, body = [EvidenceResponse]), ListProblems))]
pub async fn list(
    State(state): State<AppState>,
    Auth(principal): Auth,
    PathParam(release): PathParam<String>,
) -> Result<Json<Vec<EvidenceResponse>>, ApiError> {
    let records = state.tollgate.list_evidence(&principal, &release_ref(&release)?).await?;
    Ok(Json(records.into_iter().map(EvidenceResponse::from).collect()))
}
