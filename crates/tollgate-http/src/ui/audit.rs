//! `/audit`: the audit log, newest first, filtered by actor, action, object and time and paged
//! in the database (through the index written with each entry); each entry's before and after
//! as a diff. Admins and auditors can verify the whole chain here (`POST /audit/verify`), which
//! shows the result and the latest checkpoints; the page never verifies by itself.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tollgate_core::audit::body::EntryBody;
use tollgate_core::audit::diff::diff;
use tollgate_core::audit::search::{AuditFilter, AuditFilterInput, AuditPage};
use tollgate_core::audit::StoredEntry;
use tollgate_service::ServiceError;

use crate::error::{ApiError, FieldError};
use crate::ui::error::urlencoding;
use crate::ui::format::{rfc3339, short_digest, when};
use crate::ui::{render, Chrome, CsrfForm, UiError, UiResult, WebUser};
use crate::AppState;

/// Entries per page.
const PAGE_SIZE: u32 = 50;
/// Checkpoints shown after a verification.
const CHECKPOINTS_SHOWN: usize = 20;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct AuditQuery {
    #[serde(default)]
    actor: Option<String>,
    #[serde(default)]
    action: Option<String>,
    /// `kind/id` (`release/12`) or a kind alone.
    #[serde(default)]
    object: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    before: Option<u64>,
}

#[derive(Template)]
#[template(path = "audit.html")]
pub(crate) struct AuditLogPage {
    pub chrome: Chrome,
    pub actor: String,
    pub action: String,
    pub object: String,
    pub from: String,
    pub to: String,
    pub errors: Vec<FieldError>,
    pub entries: Vec<EntryLine>,
    pub next: Option<String>,
    pub first_page: bool,
    pub may_verify: bool,
    pub verification: Option<VerificationLine>,
    pub scheduled: Option<VerificationLine>,
    pub checkpoints: Vec<(u64, String, String, String)>,
    pub verify_problem: Option<String>,
}

impl AuditLogPage {
    pub fn error_for(&self, field: &str) -> Option<&str> {
        self.errors.iter().find(|error| error.field == field).map(|error| error.message.as_str())
    }
}

pub(crate) struct EntryLine {
    pub seq: u64,
    pub at: String,
    pub at_rfc3339: String,
    pub actor: String,
    pub action: String,
    pub object: String,
    pub object_link: Option<String>,
    pub reason: String,
    pub request_id: String,
    pub hash: String,
    /// (path, kind, before, after)
    pub changes: Vec<(String, &'static str, String, String)>,
}

pub(crate) struct VerificationLine {
    pub ok: bool,
    pub message: String,
    pub when: String,
}

/// `GET /audit`.
pub(crate) async fn page(
    State(state): State<AppState>,
    user: WebUser,
    Query(query): Query<AuditQuery>,
) -> UiResult<Response> {
    audit_page(&state, &user, query, None, None).await
}

#[derive(Deserialize)]
pub(crate) struct VerifyForm {}

/// `POST /audit/verify`: verifies the whole chain now (admins and auditors; one at a time).
pub(crate) async fn verify(
    State(state): State<AppState>,
    CsrfForm(user, VerifyForm {}): CsrfForm<VerifyForm>,
) -> UiResult<Response> {
    match state.tollgate.verify_audit(&user.principal).await {
        Ok(report) => {
            let line =
                VerificationLine { ok: report.is_ok(), message: report.to_string(), when: when(state.tollgate.now()) };
            audit_page(&state, &user, AuditQuery::default(), Some(line), None).await
        }
        Err(error @ (ServiceError::Forbidden { .. } | ServiceError::Busy(_))) => {
            let problem = ApiError::from(error).into_page_parts();
            let status = problem.status;
            let response = audit_page(&state, &user, AuditQuery::default(), None, Some(problem.detail)).await?;
            Ok((status, response).into_response())
        }
        Err(error) => Err(UiError::from_service(error, Some(user.chrome("audit")))),
    }
}

async fn audit_page(
    state: &AppState,
    user: &WebUser,
    query: AuditQuery,
    verification: Option<VerificationLine>,
    verify_problem: Option<String>,
) -> UiResult<Response> {
    let chrome = || user.chrome("audit");
    let (object_kind, object_id) = match query.object.as_deref().map(str::trim).filter(|o| !o.is_empty()) {
        Some(object) => match object.split_once('/') {
            Some((kind, id)) => (Some(kind.to_owned()), Some(id.to_owned())),
            None => (Some(object.to_owned()), None),
        },
        None => (None, None),
    };
    let given = |value: &Option<String>| value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    let input = AuditFilterInput {
        actor: given(&query.actor),
        action: given(&query.action),
        object_kind,
        object_id,
        from: given(&query.from).map(|from| as_rfc3339(&from)),
        to: given(&query.to).map(|to| as_rfc3339(&to)),
    };
    let page = AuditPage::new(query.before, PAGE_SIZE)
        .map_err(|violations| UiError::from_service(ServiceError::Invalid(violations), Some(chrome())))?;
    let (entries, next_before, errors, status) = match AuditFilter::parse(&input) {
        Ok(filter) => match state.tollgate.search_audit(&user.principal, &filter, page).await {
            Ok(found) => (found.entries, found.next_before, Vec::new(), StatusCode::OK),
            Err(error) => return Err(UiError::from_service(error, Some(chrome()))),
        },
        Err(violations) => {
            let problem = ApiError::from(ServiceError::Invalid(violations)).into_page_parts();
            (Vec::new(), None, problem.errors, problem.status)
        }
    };
    let scheduled = state
        .tollgate
        .last_audit_verification(&user.principal)
        .await
        .map_err(|error| UiError::from_service(error, Some(chrome())))?
        .map(|result| VerificationLine { ok: result.ok, message: result.message, when: when(result.verified_at) });
    let may_verify = state
        .tollgate
        .may_verify_audit(&user.principal)
        .await
        .map_err(|error| UiError::from_service(error, Some(chrome())))?;
    let checkpoints = if verification.is_some() {
        state
            .tollgate
            .recent_checkpoints(&user.principal, CHECKPOINTS_SHOWN)
            .await
            .map_err(|error| UiError::from_service(error, Some(chrome())))?
            .into_iter()
            .map(|checkpoint| {
                (
                    checkpoint.tree_size,
                    when(checkpoint.signed_at),
                    short_digest(&checkpoint.head.to_string()),
                    checkpoint.key_id,
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    let next = next_before.map(|before| {
        let mut pairs = Vec::new();
        for (key, value) in [
            ("actor", &query.actor),
            ("action", &query.action),
            ("object", &query.object),
            ("from", &query.from),
            ("to", &query.to),
        ] {
            if let Some(value) = value.as_deref().filter(|value| !value.is_empty()) {
                pairs.push(format!("{key}={}", urlencoding(value)));
            }
        }
        pairs.push(format!("before={before}"));
        pairs.join("&")
    });
    let page = AuditLogPage {
        chrome: chrome(),
        actor: query.actor.unwrap_or_default(),
        action: query.action.unwrap_or_default(),
        object: query.object.unwrap_or_default(),
        from: query.from.unwrap_or_default(),
        to: query.to.unwrap_or_default(),
        errors,
        entries: entries.iter().map(entry_line).collect(),
        next,
        first_page: query.before.is_none(),
        may_verify,
        verification,
        scheduled,
        checkpoints,
        verify_problem,
    };
    Ok((status, render(&page)?).into_response())
}

/// A `datetime-local` value (`2026-11-30T10:00`) read as UTC; anything else is passed on as
/// typed, for the filter to judge as RFC 3339.
fn as_rfc3339(value: &str) -> String {
    let local = value.len() == 16 && value.as_bytes().get(10) == Some(&b'T');
    if local {
        format!("{value}:00Z")
    } else {
        value.to_owned()
    }
}

fn entry_line(entry: &StoredEntry) -> EntryLine {
    let hash = short_digest(&entry.hash.to_string());
    match serde_json::from_slice::<EntryBody>(&entry.body) {
        Ok(body) => {
            let object = format!("{}/{}", body.object.kind, body.object.id);
            let object_link = match body.object.kind.as_str() {
                "release" => Some(format!("/audit?object={}", urlencoding(&object))),
                "artifact" => Some(format!("/artifacts/{}", urlencoding(&body.object.id))),
                _ => None,
            };
            let changes = diff(body.before.as_ref(), body.after.as_ref())
                .iter()
                .map(|change| {
                    let show =
                        |value: Option<&serde_json::Value>| value.map(|value| value.to_string()).unwrap_or_default();
                    (
                        if change.path().is_empty() { "/".to_owned() } else { change.path().to_owned() },
                        change.kind().as_str(),
                        show(change.before()),
                        show(change.after()),
                    )
                })
                .collect();
            EntryLine {
                seq: entry.seq,
                at: when(body.at),
                at_rfc3339: rfc3339(body.at),
                actor: body.actor,
                action: body.action,
                object,
                object_link,
                reason: body.reason.unwrap_or_default(),
                request_id: body.request_id.unwrap_or_default(),
                hash,
                changes,
            }
        }
        Err(error) => EntryLine {
            seq: entry.seq,
            at: String::new(),
            at_rfc3339: String::new(),
            actor: String::new(),
            action: String::new(),
            object: format!("(the entry does not read: {error})"),
            object_link: None,
            reason: String::new(),
            request_id: String::new(),
            hash,
            changes: Vec::new(),
        },
    }
}
