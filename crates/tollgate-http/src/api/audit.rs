//! The audit log: read, search, verify, export for offline verification.

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::stream;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use axum::http::StatusCode;
use tollgate_core::audit::export::ExportLine;
use tollgate_core::audit::search::{AuditFilter, AuditFilterInput, AuditPage, DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT};
use tollgate_core::audit::{SigningKeyRecord, StoredEntry};
use tollgate_service::audit::AuditExport;
use tollgate_service::ServiceError;
use utoipa::{IntoParams, ToSchema};

use crate::api::problem::{problems, JSON_BODY, QUERY};
use crate::api::{bounded, schema};
use crate::error::ApiError;
use crate::extract::{Auth, JsonBody, QueryParams};
use crate::AppState;

/// Entries per page of an export.
const EXPORT_PAGE: i64 = 1000;

#[derive(Debug, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Entries after this position (default 0: from the start).
    #[serde(default, deserialize_with = "audit_position")]
    #[param(value_type = Option<schema::AuditPosition>)]
    pub after: Option<u64>,
    /// Entries per page, 1 to 1000 (default 100).
    #[serde(default, deserialize_with = "audit_limit")]
    #[param(value_type = Option<schema::AuditLimit>)]
    pub limit: Option<i64>,
}

/// A position the store can look up: positions are stored as signed 64-bit integers.
fn audit_position<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    bounded(deserializer, 0, i64::MAX.unsigned_abs())
}

/// A page size of 1 to [`schema::MAX_AUDIT_LIMIT`]; anything else is refused, not clamped.
fn audit_limit<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    bounded(deserializer, 1, schema::MAX_AUDIT_LIMIT)
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditEntryResponse {
    #[schema(value_type = schema::Id)]
    pub seq: u64,
    #[schema(value_type = schema::Digest)]
    pub hash: String,
    /// The entry: actor, action, object, before, after, reason, request id, time.
    #[schema(value_type = Object)]
    pub entry: serde_json::Value,
}

/// A search of the audit log: filters (all optional, all must match) and the page.
#[derive(Debug, Default, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditSearchQuery {
    /// Only entries by this actor.
    #[param(value_type = Option<schema::AuditActor>)]
    pub actor: Option<String>,
    /// Only entries of this action.
    #[param(value_type = Option<schema::AuditAction>)]
    pub action: Option<String>,
    /// Only entries about objects of this kind.
    #[param(value_type = Option<schema::ObjectKind>)]
    pub object_kind: Option<String>,
    /// Only entries about this object; needs `object_kind`.
    #[param(value_type = Option<schema::ObjectId>)]
    pub object_id: Option<String>,
    /// Only entries at or after this instant.
    #[param(value_type = Option<schema::Timestamp>)]
    pub from: Option<String>,
    /// Only entries before this instant; after `from`.
    #[param(value_type = Option<schema::Timestamp>)]
    pub to: Option<String>,
    /// Entries before this position: the `next_before` of the previous page.
    #[serde(default, deserialize_with = "search_before")]
    #[param(value_type = Option<schema::AuditBefore>)]
    pub before: Option<u64>,
    /// Entries per page, 1 to 100 (default 50).
    #[serde(default, deserialize_with = "search_limit")]
    #[param(value_type = Option<schema::AuditSearchLimit>)]
    pub limit: Option<u32>,
}

/// A position the store can look up, above 0: nothing lies before position 1.
fn search_before<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    bounded(deserializer, 1, i64::MAX.unsigned_abs())
}

/// A page size of 1 to [`MAX_SEARCH_LIMIT`]; anything else is refused, not clamped.
fn search_limit<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    bounded(deserializer, 1, MAX_SEARCH_LIMIT)
}

/// One page of a search, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditSearchResponse {
    pub items: Vec<AuditEntryResponse>,
    /// The `before` of the next (older) page; null on the last page.
    #[schema(value_type = Option<schema::AuditBefore>)]
    pub next_before: Option<u64>,
}

impl From<StoredEntry> for AuditEntryResponse {
    fn from(entry: StoredEntry) -> AuditEntryResponse {
        AuditEntryResponse {
            seq: entry.seq,
            hash: entry.hash.to_string(),
            entry: serde_json::from_slice(&entry.body).unwrap_or(serde_json::Value::Null),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VerifyResponse {
    pub ok: bool,
    pub entries: u64,
    #[schema(value_type = Option<schema::Digest>)]
    pub head: Option<String>,
    pub checkpoints_verified: usize,
    pub unsigned_tail: u64,
    /// The first entry that does not verify.
    #[schema(value_type = Option<schema::Id>)]
    pub failed_entry: Option<u64>,
    /// What verification found, in a sentence.
    pub message: String,
}

problems!(ListAuditProblems, [QUERY]);

#[utoipa::path(get, path = "/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = [AuditEntryResponse]), ListAuditProblems))]
pub async fn list_audit(
    State(state): State<AppState>,
    Auth(principal): Auth,
    QueryParams(query): QueryParams<AuditQuery>,
) -> Result<Json<Vec<AuditEntryResponse>>, ApiError> {
    let entries = state.tollgate.list_audit(&principal, query.after.unwrap_or(0), query.limit.unwrap_or(100)).await?;
    Ok(Json(entries.into_iter().map(AuditEntryResponse::from).collect()))
}

problems!(SearchAuditProblems, [QUERY, &["validation_failed"]]);

/// Newest first, one page at a time: pass `next_before` as `before` for the next page. 422
/// `validation_failed` names every filter that does not parse, an `object_id` without an
/// `object_kind`, and a `to` that is not after `from`.
#[utoipa::path(get, path = "/audit/entries", tag = "audit", params(AuditSearchQuery),
    responses((status = 200, body = AuditSearchResponse, description = "The matching entries, newest first"), SearchAuditProblems))]
pub async fn search_audit(
    State(state): State<AppState>,
    Auth(principal): Auth,
    QueryParams(query): QueryParams<AuditSearchQuery>,
) -> Result<Json<AuditSearchResponse>, ApiError> {
    let input = AuditFilterInput {
        actor: query.actor,
        action: query.action,
        object_kind: query.object_kind,
        object_id: query.object_id,
        from: query.from,
        to: query.to,
    };
    let filter = AuditFilter::parse(&input).map_err(ServiceError::from)?;
    let page = AuditPage::new(query.before, query.limit.unwrap_or(DEFAULT_SEARCH_LIMIT)).map_err(ServiceError::from)?;
    let found = state.tollgate.search_audit(&principal, &filter, page).await?;
    Ok(Json(AuditSearchResponse {
        items: found.entries.into_iter().map(AuditEntryResponse::from).collect(),
        next_before: found.next_before,
    }))
}

problems!(VerifyAuditProblems, [&["forbidden", "busy"]]);

/// Only admins and auditors verify; one whole-log verification or export runs at a time (429).

#[utoipa::path(get, path = "/audit/verify", tag = "audit",
    responses((status = 200, body = VerifyResponse, description = "The verdict; `ok` is false when an entry fails"), VerifyAuditProblems))]
pub async fn verify_audit(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> Result<Json<VerifyResponse>, ApiError> {
    let report = state.tollgate.verify_audit(&principal).await?;
    Ok(Json(VerifyResponse {
        ok: report.is_ok(),
        entries: report.entries,
        head: report.head.map(|head| head.to_string()),
        checkpoints_verified: report.checkpoints_verified,
        unsigned_tail: report.unsigned_tail,
        failed_entry: report.failure.as_ref().map(|failure| failure.seq),
        message: report.to_string(),
    }))
}

problems!(ExportAuditProblems, [&["forbidden", "busy"]]);

/// Only admins and auditors export; one whole-log verification or export runs at a time (429).

#[utoipa::path(get, path = "/audit/export", tag = "audit",
    responses((status = 200, content_type = "application/x-ndjson", description = "tollgate-audit-export/v1 JSON lines: a header, the checkpoints, then every entry"), ExportAuditProblems))]
pub async fn export_audit(State(state): State<AppState>, Auth(principal): Auth) -> Result<Response, ApiError> {
    let export = Arc::new(state.tollgate.start_audit_export(&principal).await?);
    let mut head_lines = vec![ExportLine::header(&export.public_key, export.head)];
    head_lines.extend(export.checkpoints.iter().map(ExportLine::checkpoint));
    let head_text: String = head_lines.iter().map(to_line).collect();
    // The stream holds the export, and with it the server's one permit for whole-log work.
    let pages = stream::unfold((state, export, 0u64), |(state, export, after)| async move {
        if after >= export.head {
            return None;
        }
        let page = export_page(&state, &export, after).await;
        let next = match &page {
            Ok((last, _)) => *last,
            Err(_) => export.head,
        };
        Some((page.map(|(_, text)| text), (state, export, next)))
    });
    let body = stream::once(async move { Ok::<_, std::io::Error>(head_text) });
    let body = futures::StreamExt::chain(body, pages);
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], Body::from_stream(body)).into_response())
}

/// The entries after `after` (up to the export's head) as export lines, and the last position read.
async fn export_page(state: &AppState, export: &AuditExport, after: u64) -> std::io::Result<(u64, String)> {
    let entries = state.tollgate.export_page(export, after, EXPORT_PAGE).await.map_err(std::io::Error::other)?;
    let mut text = String::new();
    let mut last = export.head;
    for entry in &entries {
        let line = ExportLine::entry(entry.seq, &entry.hash, &entry.body).map_err(std::io::Error::other)?;
        text.push_str(&to_line(&line));
        last = entry.seq;
    }
    Ok((last, text))
}

fn to_line(line: &ExportLine) -> String {
    let mut text = serde_json::to_string(line).expect("export lines serialize");
    text.push('\n');
    text
}

problems!(LatestCheckpointProblems, [&["not_found"]]);

/// 404 `not_found` while the log has no checkpoint yet.
#[utoipa::path(get, path = "/audit/checkpoint", tag = "audit",
    responses((status = 200, content_type = "application/json", body = Object, description = "The latest signed checkpoint, as a checkpoint line of the export format: keep it as a witness for `tollgate audit verify --witness`"),
        LatestCheckpointProblems))]
pub async fn latest_checkpoint(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> Result<Json<ExportLine>, ApiError> {
    let checkpoint = state.tollgate.latest_checkpoint(&principal).await?;
    let checkpoint =
        checkpoint.ok_or_else(|| ApiError::new("not_found", "the audit log has no signed checkpoint yet"))?;
    Ok(Json(ExportLine::checkpoint(&checkpoint)))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SigningKeyResponse {
    pub key_id: String,
    #[schema(value_type = schema::PublicKeyPem)]
    pub public_key: String,
    #[schema(value_type = schema::Timestamp)]
    pub created_at: jiff::Timestamp,
    /// The audit entry that enrolled it.
    #[schema(value_type = Option<schema::Id>)]
    pub enrolled_seq: Option<u64>,
    /// The tree size after which it signs nothing (retired by a rotation).
    pub retired_seq: Option<u64>,
}

impl From<SigningKeyRecord> for SigningKeyResponse {
    fn from(record: SigningKeyRecord) -> SigningKeyResponse {
        SigningKeyResponse {
            public_key: tollgate_core::attestation::public_key_pem(&record.public_key),
            key_id: record.key_id,
            created_at: record.created_at,
            enrolled_seq: record.enrolled_seq,
            retired_seq: record.retired_seq,
        }
    }
}

#[utoipa::path(get, path = "/audit/keys", tag = "audit", responses((status = 200, body = [SigningKeyResponse], description = "The keys that sign checkpoints, enrolled and retired")))]
pub async fn list_signing_keys(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> Result<Json<Vec<SigningKeyResponse>>, ApiError> {
    let keys = state.tollgate.list_signing_keys(&principal).await?;
    Ok(Json(keys.into_iter().map(SigningKeyResponse::from).collect()))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// The replica's key; it must be a valid ed25519 point.
    #[schema(value_type = schema::PublicKeyPem)]
    pub public_key: String,
    /// A name for the key's holder, such as the replica's host name.
    #[schema(value_type = schema::KeyName)]
    pub label: String,
}

problems!(EnrollSigningKeyProblems, [JSON_BODY, &["forbidden", "conflict", "validation_failed"]]);

/// Only an admin enrolls keys; 409 when the key is enrolled already.
#[utoipa::path(post, path = "/audit/keys", tag = "audit", request_body = EnrollRequest,
    responses((status = 201, body = SigningKeyResponse, description = "Enrolled, audited, and endorsed by a checkpoint of this server's key"),
        EnrollSigningKeyProblems))]
pub async fn enroll_signing_key(
    State(state): State<AppState>,
    Auth(principal): Auth,
    JsonBody(request): JsonBody<EnrollRequest>,
) -> Result<(StatusCode, Json<SigningKeyResponse>), ApiError> {
    let record = state.tollgate.enroll_signing_key(&principal, &request.public_key, &request.label).await?;
    Ok((StatusCode::CREATED, Json(record.into())))
}

problems!(RotateSigningKeyProblems, [&["forbidden", "signing_key_not_rotatable"]]);

/// Only an admin rotates the key; 409 when this server holds its key in memory only.
#[utoipa::path(post, path = "/audit/keys/rotate", tag = "audit",
    responses((status = 201, body = SigningKeyResponse, description = "The new key of this server: enrolled, with the old key retired after the checkpoint it signed over the rotation"),
        RotateSigningKeyProblems))]
pub async fn rotate_signing_key(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> Result<(StatusCode, Json<SigningKeyResponse>), ApiError> {
    let record = state.tollgate.rotate_signing_key(&principal).await?;
    Ok((StatusCode::CREATED, Json(record.into())))
}
