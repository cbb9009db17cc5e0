//! The audit log: read, verify, export for offline verification.

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::stream;
use serde::{Deserialize, Serialize};
use tollgate_core::audit::export::ExportLine;
use tollgate_service::Principal;
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, Problem};
use crate::extract::{Auth, QueryParams};
use crate::AppState;

/// Entries per page of an export.
const EXPORT_PAGE: i64 = 1000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Entries after this position (default 0: from the start).
    pub after: Option<u64>,
    /// Entries per page, 1 to 1000 (default 100).
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryResponse {
    pub seq: u64,
    pub hash: String,
    /// The entry: actor, action, object, before, after, reason, request id, time.
    #[schema(value_type = Object)]
    pub entry: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyResponse {
    pub ok: bool,
    pub entries: u64,
    pub head: Option<String>,
    pub checkpoints_verified: usize,
    pub unsigned_tail: u64,
    /// The first entry that does not verify.
    pub failed_entry: Option<u64>,
    /// What verification found, in a sentence.
    pub message: String,
}

#[utoipa::path(get, path = "/audit", tag = "audit", params(AuditQuery), responses((status = 200, body = [AuditEntryResponse])))]
pub async fn list_audit(
    State(state): State<AppState>,
    Auth(principal): Auth,
    QueryParams(query): QueryParams<AuditQuery>,
) -> Result<Json<Vec<AuditEntryResponse>>, ApiError> {
    let entries = state.tollgate.list_audit(&principal, query.after.unwrap_or(0), query.limit.unwrap_or(100)).await?;
    let entries = entries
        .into_iter()
        .map(|entry| AuditEntryResponse {
            seq: entry.seq,
            hash: entry.hash.to_string(),
            entry: serde_json::from_slice(&entry.body).unwrap_or(serde_json::Value::Null),
        })
        .collect();
    Ok(Json(entries))
}

#[utoipa::path(get, path = "/audit/verify", tag = "audit",
    responses((status = 200, body = VerifyResponse, description = "The verdict; `ok` is false when an entry fails"), (status = 503, body = Problem)))]
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

#[utoipa::path(get, path = "/audit/export", tag = "audit",
    responses((status = 200, content_type = "application/x-ndjson", description = "tollgate-audit-export/v1 JSON lines: a header, the checkpoints, then every entry")))]
pub async fn export_audit(State(state): State<AppState>, Auth(principal): Auth) -> Result<Response, ApiError> {
    let export = state.tollgate.start_audit_export(&principal).await?;
    let mut head_lines = vec![ExportLine::header(&export.public_key, export.head)];
    head_lines.extend(export.checkpoints.iter().map(ExportLine::checkpoint));
    let head_text: String = head_lines.iter().map(to_line).collect();
    let pages = stream::unfold((state, principal, 0u64, export.head), |(state, principal, after, head)| async move {
        if after >= head {
            return None;
        }
        let page = export_page(&state, &principal, after, head).await;
        let next = match &page {
            Ok((last, _)) => *last,
            Err(_) => head,
        };
        Some((page.map(|(_, text)| text), (state, principal, next, head)))
    });
    let body = stream::once(async move { Ok::<_, std::io::Error>(head_text) });
    let body = futures::StreamExt::chain(body, pages);
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], Body::from_stream(body)).into_response())
}

/// The entries after `after` (up to `head`) as export lines, and the last position read.
async fn export_page(state: &AppState, principal: &Principal, after: u64, head: u64) -> std::io::Result<(u64, String)> {
    let entries = state.tollgate.list_audit(principal, after, EXPORT_PAGE).await.map_err(std::io::Error::other)?;
    let mut text = String::new();
    let mut last = head;
    for entry in entries.iter().filter(|entry| entry.seq <= head) {
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
