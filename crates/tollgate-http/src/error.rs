//! `ApiError`: the one place that picks an HTTP status and a stable `code` for every failure,
//! and writes it as RFC 9457 `application/problem+json`.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tollgate_core::release::TransitionError;
use tollgate_core::Entity;
use tollgate_service::signing::SigningKeyProblem;
use tollgate_service::ServiceError;
use utoipa::ToSchema;

/// Every error code the API answers with: code, status, meaning. Mirrored in
/// `docs/api-errors.md`; a test keeps the two equal.
pub const ERROR_CODES: &[(&str, u16, &str)] = &[
    ("malformed_json", 400, "The body is not well-formed JSON."),
    ("invalid_body", 422, "The body is JSON but does not match the schema: unknown field, wrong type, missing field."),
    ("invalid_query", 400, "A query parameter is missing, unknown, of the wrong type or out of range."),
    ("validation_failed", 422, "The request is well-formed but breaks a rule; `errors` lists every field and problem."),
    ("unsupported_media_type", 415, "The body is not sent as `application/json`."),
    ("payload_too_large", 413, "The body is over the size limit."),
    ("upload_interrupted", 400, "The request body stopped before its end; nothing was recorded."),
    ("unauthenticated", 401, "No bearer token, or a malformed, unknown, revoked or expired one."),
    ("forbidden", 403, "The token's user may not do this; `detail` names the policies that denied it and why."),
    ("route_not_found", 404, "No such endpoint."),
    ("user_not_found", 404, "No user has that name."),
    ("team_not_found", 404, "No team has that name."),
    ("token_not_found", 404, "No token has that id."),
    ("service_not_found", 404, "No service has that name."),
    ("environment_not_found", 404, "No environment has that name."),
    ("lifecycle_not_found", 404, "No lifecycle has that name."),
    ("release_not_found", 404, "No release has that id or version."),
    ("deployment_not_found", 404, "No deployment has that id."),
    ("artifact_not_found", 404, "No artifact has that id, or that name and version."),
    ("trusted_key_not_found", 404, "No trusted key has that id."),
    ("blob_not_found", 404, "The artifact's content is missing from the blob store."),
    ("legal_hold_not_found", 404, "No legal hold is on that tag."),
    ("signing_key_not_found", 404, "No audit signing key has that id."),
    ("grant_not_found", 404, "No just-in-time grant has that id."),
    ("calendar_period_not_found", 404, "No calendar period has that id."),
    ("change_request_not_found", 404, "No change request has that number."),
    ("train_not_found", 404, "No release train has that name."),
    ("lease_not_found", 404, "No lease was acquired for that deployment."),
    ("run_not_found", 404, "That deployment is not orchestrated by Tollgate: it has no run (it was recorded, or deployed under a lease)."),
    ("not_found", 404, "The object does not exist."),
    ("method_not_allowed", 405, "The endpoint does not accept this method."),
    ("conflict", 409, "The object exists already, or changed since it was read."),
    ("release_changed", 409, "The release changed between the check of its artifacts and the write the check allowed (or since the revision the request names); nothing was done. Check again."),
    ("token_outlives_parent", 422, "A token cannot be created to outlive the token that creates it."),
    ("signing_key_not_rotatable", 409, "This server holds its audit signing key in memory only (no key file), so it cannot rotate it."),
    ("locked_out", 429, "Too many failed sign-ins for this user or from this address; retry after the `Retry-After` seconds (each lockout in a row lasts twice as long, up to an hour)."),
    ("busy", 429, "Too many runs of this kind at once (whole-log verification or export, evidence parsing, password checks, single sign-on attempts under way); retry after the `Retry-After` seconds."),
    ("invalid_transition", 409, "The release's state does not allow that action; `detail` names the state and the allowed next states."),
    ("scope_frozen", 409, "The release's scope is frozen; unfreeze it (audited) to change its content."),
    ("reason_required", 422, "The action must give a reason."),
    ("gates_not_passed", 409, "The environment's blocking gates have not passed for the release as it is now: never evaluated, evaluated before the release, its evidence or the gate policy changed, or failed without an override."),
    ("window_closed", 409, "The environment's deployment window is closed at the deployment's start (a freeze or blackout is in force, or no allow window is open); `errors` lists every reason. An emergency release, or `override_window` with a reason (`override.window`), deploys anyway, audited."),
    ("change_required", 409, "The environment requires an approved change request for the deployment (every prod-tier environment does) and none holds: none was requested, its approvals are incomplete or were given for another manifest digest, or its planned interval does not hold the deployment's start; `errors` lists every reason. Nothing was recorded."),
    ("change_refused", 409, "The change request may not go on as asked: the release changed since it was submitted (resubmit it), its requester has an overdue post-implementation review, or its planned interval conflicts; `errors` lists every reason."),
    ("invalid_change_transition", 409, "The change request's state does not allow that action; `detail` names the state and the allowed next states."),
    ("deployment_refused", 409, "A precondition of the deployment failed (authorization, promotion, artifacts, gates, window or change); `errors` lists every reason, each prefixed with its precondition. Nothing was written."),
    ("lease_held", 409, "Another deployment holds a lease on one of the release's services in the environment; `errors` names each service, deployment, holder, epoch and expiry. Retry once it is released or has expired."),
    ("lease_lost", 409, "The lease is no longer the caller's: it expired (and may have been taken over), was released, or the epoch presented is not its epoch. Stop deploying."),
    ("claim_lost", 409, "A worker's claim on a deployment run was taken over or expired; the worker stops. Not returned to API callers in normal operation."),
    ("rollout_impossible", 422, "A service's deployment plan cannot be rolled out to the environment: its per-target steps have no targets there, or its blue-green or canary strategy does not find its targets there in two weight groups."),
    ("no_deployment_plan", 422, "None of the release's services declares a deployment plan (`deploy` in tollgate.yaml), so Tollgate cannot deploy it; record deployments made by other tools instead."),
    ("run_not_waiting", 409, "The deployment's run does not take that decision now: it is running (resume and skip wait for a stopped step), already rolling back, waiting for its rollback to be confirmed (roll_back or abort), finished, or not orchestrated by Tollgate."),
    ("environment_quarantined", 409, "The environment is quarantined after a failed deployment: no deployment starts there until an authorized user lifts the quarantine with a reason (`tollgate quarantine lift`)."),
    ("rollback_untested", 409, "The change policy requires the release's rollback to have succeeded in another environment (a deployment of it there rolled back by its plans' rollback steps) before it is deployed here; the message names the environment."),
    ("not_quarantined", 409, "The environment is not quarantined, so there is nothing to lift."),
    ("promotion_refused", 409, "The release may not be deployed there yet; `errors` lists every reason."),
    ("invalid_deployment_transition", 409, "The deployment's status does not allow that change."),
    ("release_not_ready", 409, "The release's artifacts are missing, differ from the store, fail verification or lack a trusted signature; `errors` lists every problem."),
    ("artifact_immutable", 409, "The artifact's name and version already point at other content; the attempt is audited."),
    ("content_too_large", 413, "The uploaded content is over the configured limit."),
    ("digest_mismatch", 422, "The uploaded content does not have the digest the request announced."),
    ("signature_rejected", 422, "The signature envelope is malformed, by an unknown or revoked key, does not verify, or is about another artifact."),
    ("invalid_evidence", 422, "The evidence file does not parse; `detail` says where (line and column, or JSON path)."),
    ("sso_not_configured", 404, "Single sign-on is not configured: no `sso` section was applied."),
    ("sso_login_expired", 400, "The single sign-on attempt is unknown, was used already, expired (after 10 minutes) or began under settings since replaced; start signing in again."),
    ("sso_rejected", 401, "The identity provider's answer does not prove who signs in: the code was refused, the ID token failed validation (signature, issuer, audience, expiry, nonce), a claim is unusable, or the user name belongs to a user single sign-on did not create. Nothing was written."),
    ("sso_no_role", 403, "The identity provider vouched for the user, but none of their groups is mapped to a role in `sso.roles`. Nothing was written."),
    ("sso_unavailable", 502, "The identity provider cannot be used now: unreachable, an unusable discovery document or token response, this server's client credentials refused, or the client secret variable not set on this server."),
    ("service_unavailable", 503, "The database is unavailable; retry later."),
    ("internal", 500, "An unexpected error; it is logged with the request id."),
];

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type: `urn:tollgate:problem:<code>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The stable, machine-readable code (see `docs/api-errors.md`).
    pub code: String,
    /// Every offending field and what is wrong with it, when there are several.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// One problem with one field.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    /// Path of the field in the request (`artifacts[0].digest`); empty for the request as a whole.
    pub field: String,
    pub message: String,
}

/// An error on its way to becoming a response.
#[derive(Debug)]
pub struct ApiError {
    code: &'static str,
    detail: String,
    errors: Vec<FieldError>,
    // The cause, logged (never sent) for internal errors.
    cause: Option<String>,
    // Seconds for a `Retry-After` header (busy).
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError { code, detail: detail.into(), errors: Vec::new(), cause: None, retry_after: None }
    }

    pub fn with_errors(mut self, errors: Vec<FieldError>) -> ApiError {
        self.errors = errors;
        self
    }

    pub fn validation(field: &str, message: impl Into<String>) -> ApiError {
        let message = message.into();
        ApiError::new("validation_failed", format!("{field}: {message}"))
            .with_errors(vec![FieldError { field: field.to_owned(), message }])
    }

    fn status(&self) -> StatusCode {
        let status = ERROR_CODES.iter().find(|(code, ..)| *code == self.code).map_or(500, |(_, status, _)| *status);
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The parts a web page shows: the same status, code, text and field errors the API gives.
    /// An internal error's cause is logged here, once, as the API's response logs it.
    pub(crate) fn into_page_parts(self) -> PageProblem {
        let status = self.status();
        if let Some(cause) = &self.cause {
            tracing::error!(code = self.code, cause = %cause, "request failed");
        }
        PageProblem { status, code: self.code, detail: self.detail, errors: self.errors, retry_after: self.retry_after }
    }
}

/// A problem as a web page shows it.
#[derive(Debug)]
pub(crate) struct PageProblem {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
    pub retry_after: Option<u64>,
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> ApiError {
        match error {
            ServiceError::Invalid(violations) => {
                let detail = violations.to_string();
                let errors = violations
                    .0
                    .iter()
                    .map(|v| FieldError { field: v.field.clone(), message: v.problem.to_string() })
                    .collect();
                ApiError::new("validation_failed", detail).with_errors(errors)
            }
            ServiceError::NotFound { entity, key } => {
                ApiError::new(not_found_code(entity), format!("{entity} {key} not found"))
            }
            ServiceError::ReleaseChanged { .. } => ApiError::new("release_changed", error.to_string()),
            ServiceError::Interrupted { .. } => ApiError::new("upload_interrupted", error.to_string()),
            ServiceError::Busy(busy) => {
                ApiError { retry_after: Some(busy.retry_after_seconds()), ..ApiError::new("busy", busy.to_string()) }
            }
            ServiceError::TokenLifetime(lifetime) => ApiError::new("token_outlives_parent", lifetime.to_string())
                .with_errors(vec![FieldError { field: "expires_at".to_owned(), message: lifetime.to_string() }]),
            ServiceError::SigningKey(SigningKeyProblem::NoKeyFile) => {
                ApiError::new("signing_key_not_rotatable", error.to_string())
            }
            ServiceError::SigningKey(_) => {
                let cause = error_chain(&error);
                ApiError { cause: Some(cause), ..ApiError::new("internal", "internal error") }
            }
            ServiceError::Conflict { .. } => ApiError::new("conflict", error.to_string()),
            ServiceError::Transition(transition) => {
                let code = match transition {
                    TransitionError::NotAllowed { .. } => "invalid_transition",
                    TransitionError::ContentLocked { .. } => "scope_frozen",
                    TransitionError::ReasonRequired { .. } => "reason_required",
                };
                ApiError::new(code, transition.to_string())
            }
            ServiceError::GatesNotPassed(refusal) => ApiError::new("gates_not_passed", refusal.to_string()),
            ServiceError::WindowClosed(window) => {
                let errors =
                    window.reasons().into_iter().map(|message| FieldError { field: String::new(), message }).collect();
                ApiError::new("window_closed", ServiceError::WindowClosed(window).to_string()).with_errors(errors)
            }
            ServiceError::ChangeTransition(transition) => {
                ApiError::new("invalid_change_transition", transition.to_string())
            }
            ServiceError::ChangeRefused { ref reasons, .. } => {
                let errors = reasons
                    .iter()
                    .map(|message| FieldError { field: String::new(), message: message.clone() })
                    .collect();
                ApiError::new("change_refused", error.to_string()).with_errors(errors)
            }
            ServiceError::ChangeRequired { ref reasons, .. } => {
                let errors = reasons
                    .iter()
                    .map(|message| FieldError { field: String::new(), message: message.clone() })
                    .collect();
                ApiError::new("change_required", error.to_string()).with_errors(errors)
            }
            ServiceError::DeploymentRefused(ref check) => {
                let errors =
                    check.refusals().into_iter().map(|message| FieldError { field: String::new(), message }).collect();
                ApiError::new("deployment_refused", error.to_string()).with_errors(errors)
            }
            ServiceError::LeaseHeld(ref conflicts) => {
                let errors = conflicts
                    .iter()
                    .map(|conflict| FieldError { field: String::new(), message: conflict.to_string() })
                    .collect();
                ApiError::new("lease_held", error.to_string()).with_errors(errors)
            }
            ServiceError::LeaseLost(lost) => ApiError::new("lease_lost", lost.to_string()),
            ServiceError::ClaimLost(lost) => ApiError::new("claim_lost", lost.to_string()),
            ServiceError::NoDeploymentPlan { .. } => ApiError::new("no_deployment_plan", error.to_string()),
            ServiceError::RolloutImpossible(_) => ApiError::new("rollout_impossible", error.to_string()),
            ServiceError::RunNotWaiting { .. } => ApiError::new("run_not_waiting", error.to_string()),
            ServiceError::Quarantined(_) => ApiError::new("environment_quarantined", error.to_string()),
            ServiceError::NotQuarantined(_) => ApiError::new("not_quarantined", error.to_string()),
            ServiceError::RollbackUntested { .. } => ApiError::new("rollback_untested", error.to_string()),
            ServiceError::Promotion(reasons) => {
                let errors =
                    reasons.iter().map(|r| FieldError { field: String::new(), message: r.to_string() }).collect();
                ApiError::new("promotion_refused", ServiceError::Promotion(reasons).to_string()).with_errors(errors)
            }
            ServiceError::NotReady(problems) => {
                let errors =
                    problems.iter().map(|p| FieldError { field: String::new(), message: p.to_string() }).collect();
                ApiError::new("release_not_ready", ServiceError::NotReady(problems).to_string()).with_errors(errors)
            }
            ServiceError::Immutable(immutable) => ApiError::new("artifact_immutable", immutable.to_string()),
            ServiceError::TooLarge { .. } => ApiError::new("content_too_large", error.to_string()),
            ServiceError::DigestMismatch { .. } => ApiError::new("digest_mismatch", error.to_string()),
            ServiceError::Attestation(attestation) => ApiError::new("signature_rejected", attestation.to_string()),
            ServiceError::Evidence(evidence) => ApiError::new("invalid_evidence", evidence.to_string()),
            ServiceError::DeploymentStatus(status) => {
                ApiError::new("invalid_deployment_transition", status.to_string())
            }
            ServiceError::SsoNotConfigured => ApiError::new("sso_not_configured", error.to_string()),
            ServiceError::SsoLoginExpired { .. } => ApiError::new("sso_login_expired", error.to_string()),
            ServiceError::SsoRejected { .. } => ApiError::new("sso_rejected", error.to_string()),
            ServiceError::SsoNoRole { .. } => ApiError::new("sso_no_role", error.to_string()),
            ServiceError::SsoUnavailable { .. } => {
                let cause = error_chain(&error);
                // The reason (endpoints, variable names) is for the operator's log.
                let detail = "the identity provider cannot be used now; try again later or sign in another way";
                ApiError { cause: Some(cause), ..ApiError::new("sso_unavailable", detail) }
            }
            ServiceError::Unauthenticated { reason } => ApiError::new("unauthenticated", reason),
            ServiceError::LockedOut { retry_after_seconds } => {
                ApiError { retry_after: Some(retry_after_seconds), ..ApiError::new("locked_out", error.to_string()) }
            }
            ServiceError::Forbidden { reason } => ApiError::new("forbidden", reason),
            ServiceError::Unavailable(_) => {
                let cause = error_chain(&error);
                ApiError { cause: Some(cause), ..ApiError::new("service_unavailable", "the database is unavailable") }
            }
            ServiceError::Corrupt(_) => {
                let cause = error_chain(&error);
                ApiError { cause: Some(cause), ..ApiError::new("internal", "internal error") }
            }
        }
    }
}

fn not_found_code(entity: Entity) -> &'static str {
    match entity {
        Entity::User => "user_not_found",
        Entity::Team => "team_not_found",
        Entity::Token => "token_not_found",
        Entity::Service => "service_not_found",
        Entity::Environment => "environment_not_found",
        Entity::Lifecycle => "lifecycle_not_found",
        Entity::Release => "release_not_found",
        Entity::Deployment => "deployment_not_found",
        Entity::Artifact => "artifact_not_found",
        Entity::TrustedKey => "trusted_key_not_found",
        Entity::Blob => "blob_not_found",
        Entity::LegalHold => "legal_hold_not_found",
        Entity::SigningKey => "signing_key_not_found",
        Entity::Grant => "grant_not_found",
        Entity::CalendarPeriod => "calendar_period_not_found",
        Entity::ChangeRequest => "change_request_not_found",
        Entity::Train => "train_not_found",
        Entity::Lease => "lease_not_found",
        Entity::Run => "run_not_found",
        _ => "not_found",
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    chain
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> ApiError {
        let code = match &rejection {
            JsonRejection::JsonDataError(_) => "invalid_body",
            JsonRejection::JsonSyntaxError(_) => "malformed_json",
            JsonRejection::MissingJsonContentType(_) => "unsupported_media_type",
            _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            _ => "malformed_json",
        };
        ApiError::new(code, rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> ApiError {
        ApiError::new("invalid_query", rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> ApiError {
        match rejection {
            PathRejection::FailedToDeserializePathParams(_) => {
                ApiError::new("validation_failed", rejection.body_text())
            }
            _ => ApiError { cause: Some(rejection.body_text()), ..ApiError::new("internal", "internal error") },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let Some(cause) = &self.cause {
            // Logged once, here at the edge; the request id is on the surrounding span.
            tracing::error!(code = self.code, cause = %cause, "request failed");
        }
        let title = status.canonical_reason().unwrap_or("Error").to_owned();
        let problem = Problem {
            problem_type: format!("urn:tollgate:problem:{}", self.code),
            title,
            status: status.as_u16(),
            detail: self.detail,
            code: self.code.to_owned(),
            errors: self.errors,
        };
        let body = serde_json::to_vec(&problem).expect("a problem serializes");
        let mut response = (status, [(header::CONTENT_TYPE, "application/problem+json")], body).into_response();
        if status == StatusCode::UNAUTHORIZED {
            // Calendar applications answer a Basic challenge with a user name and an API token.
            let challenge = header::HeaderValue::from_static("Bearer realm=\"tollgate\", Basic realm=\"tollgate\"");
            response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
        }
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        }
        response
    }
}

/// The table of codes as Markdown, as `docs/api-errors.md` holds it.
pub fn error_codes_markdown() -> String {
    let mut text = String::from(
        "# API error codes\n\nEvery error is an RFC 9457 `application/problem+json` document whose `code` is one of these.\n\
         This table is generated from `ERROR_CODES` in `crates/tollgate-http/src/error.rs`; a test keeps them equal.\n\n\
         | code | status | meaning |\n| --- | --- | --- |\n",
    );
    for (code, status, meaning) in ERROR_CODES {
        text.push_str(&format!("| `{code}` | {status} | {meaning} |\n"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_error_table_matches_the_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/api-errors.md");
        if std::env::var("TOLLGATE_BLESS").is_ok_and(|bless| bless == "1") {
            std::fs::write(path, error_codes_markdown()).expect("docs/api-errors.md is writable");
        }
        let documented = std::fs::read_to_string(path).expect("docs/api-errors.md is readable");
        assert_eq!(documented, error_codes_markdown(), "regenerate with TOLLGATE_BLESS=1 cargo test -p tollgate-http");
    }

    #[test]
    fn every_code_is_unique_and_every_not_found_code_is_listed() {
        let mut codes: Vec<&str> = ERROR_CODES.iter().map(|(code, ..)| *code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ERROR_CODES.len());
        for words in Entity::ALL {
            let entity: Entity = words.parse().expect("listed words parse");
            assert!(codes.contains(&not_found_code(entity)), "{entity}");
        }
    }
}
