//! What a use case can fail with, phrased as what the caller can do about it.

use tollgate_core::artifact::{ImmutableArtifact, ReadinessProblem};
use tollgate_core::attestation::AttestationError;
use tollgate_core::deployment::{PromotionError, StatusError};
use tollgate_core::digest::Sha256Digest;
use tollgate_core::gate::{GateDecisionId, PolicyVersion};
use tollgate_core::name::EnvironmentName;
use tollgate_core::release::{ReleaseId, TransitionError};
use tollgate_core::token::TokenLifetimeError;
use tollgate_core::Entity;
use tollgate_core::Violations;
use tollgate_store::StoreError;

use crate::signing::SigningKeyProblem;

/// Why a use case failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The input is invalid; every problem is listed.
    #[error("invalid input: {0}")]
    Invalid(Violations),
    /// The named object does not exist.
    #[error("{entity} {key} not found")]
    NotFound { entity: Entity, key: String },
    /// The object exists already, or changed since it was read.
    #[error("{entity} {key} already exists or was changed concurrently")]
    Conflict { entity: Entity, key: String },
    /// The release cannot change state or content as asked.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// The release may not be deployed to that environment; every reason is listed.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Promotion(Vec<PromotionError>),
    /// The deployment cannot change status as asked.
    #[error(transparent)]
    DeploymentStatus(#[from] StatusError),
    /// No valid credentials.
    #[error("authentication required: {reason}")]
    Unauthenticated { reason: &'static str },
    /// The caller is known but may not do this.
    #[error("forbidden: {reason}")]
    Forbidden { reason: String },
    /// The release or its artifacts are not fit to go further; every problem is listed.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    NotReady(Vec<ReadinessProblem>),
    /// The name and version already point at other content.
    #[error(transparent)]
    Immutable(#[from] ImmutableArtifact),
    /// The content is over the size limit.
    #[error("the content is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    /// The content does not have the digest the caller announced.
    #[error("the content's digest is {actual}, not the announced {expected}")]
    DigestMismatch { expected: Sha256Digest, actual: Sha256Digest },
    /// A signature was refused.
    #[error(transparent)]
    Attestation(#[from] AttestationError),
    /// An evidence file does not parse; the error names where.
    #[error(transparent)]
    Evidence(#[from] tollgate_evidence::EvidenceError),
    /// The database cannot be used right now; retrying may help.
    #[error("the database is unavailable")]
    Unavailable(#[source] StoreError),
    /// Stored data does not decode: needs an operator.
    #[error("stored data is corrupt")]
    Corrupt(#[source] StoreError),
    /// The release changed between the check of its artifacts and the write the check allowed;
    /// nothing was written. Checking again judges the new content.
    #[error("release {release} changed while it was being checked (revision {checked} was checked, it is now {current}); nothing was done, check again")]
    ReleaseChanged { release: ReleaseId, checked: i64, current: i64 },
    /// The request body stopped before its end; nothing was recorded.
    #[error("the upload was interrupted: {reason}")]
    Interrupted { reason: String },
    /// Too much of this kind of work runs now; retrying later helps.
    #[error("{0}")]
    Busy(Busy),
    /// The token asked for would outlive the token that asks.
    #[error(transparent)]
    TokenLifetime(#[from] TokenLifetimeError),
    /// The environment's blocking gates have not passed for the release as it is now.
    #[error(transparent)]
    GatesNotPassed(GateRefusal),
    /// The environment's deployment window is closed at the deployment's start (a freeze or
    /// blackout is in force, or no allow window is open); nothing was recorded.
    #[error("{} is closed for deployments at {}: {}; an emergency release, or an override of the window with a reason (`override.window`), may deploy anyway", .0.environment, .0.at, .0.reasons().join("; "))]
    WindowClosed(Box<crate::calendar::WindowState>),
    /// The change request cannot change state as asked.
    #[error(transparent)]
    ChangeTransition(#[from] tollgate_core::change::ChangeTransitionError),
    /// The change request may not go on as asked; every reason is listed.
    #[error("change {change} cannot go on: {}", reasons.join("; "))]
    ChangeRefused { change: tollgate_core::change::ChangeId, reasons: Vec<String> },
    /// The environment requires an approved change request for the deployment and none holds;
    /// every reason is listed, nothing was recorded.
    #[error("deploying release {release} to {environment} needs an approved change request: {}", reasons.join("; "))]
    ChangeRequired { release: semver::Version, environment: EnvironmentName, reasons: Vec<String> },
    /// A precondition of the deployment failed; the check lists every reason. Nothing was written.
    #[error("release {} may not be deployed to {} now: {}", .0.release, .0.environment, .0.refusals().join("; "))]
    DeploymentRefused(Box<tollgate_core::deployment::DeploymentCheck>),
    /// Another deployment holds a lease on one of the services in the environment; each is named.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    LeaseHeld(Vec<tollgate_core::lease::LockConflict>),
    /// The caller no longer holds the lease it acts under: it must stop deploying.
    #[error(transparent)]
    LeaseLost(#[from] tollgate_core::lease::LeaseError),
    /// A worker's claim on a run is no longer its own: it must stop working on it.
    #[error(transparent)]
    ClaimLost(#[from] tollgate_core::run::ClaimError),
    /// None of the release's services has a deployment plan, so Tollgate cannot deploy it.
    #[error("none of the services of release {release} ({}) has a deployment plan; declare one under the service's deploy key in tollgate.yaml, or record deployments made by other tools", services.join(", "))]
    NoDeploymentPlan { release: semver::Version, services: Vec<String> },
    /// A service's plan cannot be rolled out to the environment (no targets there for its
    /// per-target steps, or not the two weight groups its strategy moves traffic between).
    #[error(transparent)]
    RolloutImpossible(#[from] tollgate_core::rollout::RolloutError),
    /// The environment is quarantined: no deployment starts there until the quarantine is lifted.
    #[error("{0}")]
    Quarantined(Box<tollgate_core::quarantine::Quarantine>),
    /// The change policy requires the release's rollback to have been tested elsewhere first.
    #[error("release {release} may not be deployed to {environment} before its rollback succeeded in {tested_in}: roll back a deployment of it there (a failed step, or `tollgate deployment rollback N` while it runs) first")]
    RollbackUntested { release: semver::Version, environment: EnvironmentName, tested_in: EnvironmentName },
    /// The environment is not quarantined, so there is nothing to lift.
    #[error("environment {0} is not quarantined")]
    NotQuarantined(EnvironmentName),
    /// The deployment's run is not waiting for an operator's decision (or is not a run at all).
    #[error("deployment {deployment} {reason}")]
    RunNotWaiting { deployment: tollgate_core::deployment::DeploymentId, reason: String },
    /// The server's audit signing key cannot be used.
    #[error(transparent)]
    SigningKey(#[from] SigningKeyProblem),
    /// Sign-ins for this user or from this address are locked out after repeated failures.
    #[error("too many failed sign-ins; try again in {retry_after_seconds} seconds")]
    LockedOut { retry_after_seconds: u64 },
    /// Single sign-on is asked for but no `sso` section was applied.
    #[error("single sign-on is not configured: add an `sso` section to tollgate.yaml and apply it")]
    SsoNotConfigured,
    /// The identity provider cannot be used now (unreachable, answering nonsense, or refusing
    /// this server's client credentials); signing in some other way, or later, may work.
    #[error("the identity provider cannot be used now: {reason}")]
    SsoUnavailable { reason: String },
    /// The sign-in is unknown, was used already, expired, or began under other settings;
    /// starting it again works.
    #[error("this single sign-on attempt {reason}; start signing in again")]
    SsoLoginExpired { reason: &'static str },
    /// What the provider sent does not prove who signs in (a refused code, an ID token that
    /// fails validation, a claim Tollgate cannot use); nothing was written.
    #[error("single sign-on was refused: {reason}")]
    SsoRejected { reason: String },
    /// The provider vouched for the user, but none of their groups maps to a Tollgate role;
    /// nothing was written. An administrator maps a group in `sso.roles`.
    #[error("{user} signed in with the identity provider, but none of their groups ({}) is given a Tollgate role in sso.roles; ask an administrator to map one", if groups.is_empty() { "none".to_owned() } else { groups.join(", ") })]
    SsoNoRole { user: String, groups: Vec<String> },
}

/// Why a release may not enter an environment as far as its gates are concerned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GateRefusal {
    /// No decision binds to the release as it is now.
    #[error("the gates of {environment} have not been evaluated for release {release}{}; run `tollgate gate evaluate --release {release} --environment {environment}`", policy.map(|p| format!(" under policy version {}", p.seq)).unwrap_or_default())]
    NotEvaluated { release: semver::Version, environment: EnvironmentName, policy: Option<PolicyVersion> },
    /// The newest decision judged something that has changed since.
    #[error("gate decision {decision} for release {release} in {environment} no longer holds: {} changed since; evaluate again", changed.join(" and "))]
    Stale {
        release: semver::Version,
        environment: EnvironmentName,
        decision: GateDecisionId,
        changed: Vec<&'static str>,
    },
    /// Blocking gates failed, and the failure was not overridden.
    #[error("release {release} failed the blocking gates of {environment} ({}) in gate decision {decision}", gates.join(", "))]
    Failed { release: semver::Version, environment: EnvironmentName, decision: GateDecisionId, gates: Vec<String> },
}

/// Work of which only so much runs at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// A whole-log verification or export.
    AuditScan,
    /// An evidence parse.
    Parse,
    /// A password check (argon2id is deliberately slow).
    PasswordCheck,
    /// A single sign-on attempt: at most `Settings::sso_max_pending_logins` are under way.
    SsoLogins,
}

impl Busy {
    /// How long a client should wait before trying again, in seconds.
    pub fn retry_after_seconds(self) -> u64 {
        match self {
            Busy::AuditScan => 10,
            Busy::Parse => 2,
            Busy::PasswordCheck => 1,
            Busy::SsoLogins => 60,
        }
    }
}

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Busy::AuditScan => write!(
                f,
                "another audit verification or export is running on this server; retry in {} seconds",
                self.retry_after_seconds()
            ),
            Busy::Parse => write!(
                f,
                "every evidence parser of this server is busy; retry in {} seconds",
                self.retry_after_seconds()
            ),
            Busy::PasswordCheck => write!(
                f,
                "this server is checking as many passwords as it allows at once; retry in {} second",
                self.retry_after_seconds()
            ),
            Busy::SsoLogins => write!(
                f,
                "too many single sign-on attempts are under way; retry in {} seconds",
                self.retry_after_seconds()
            ),
        }
    }
}

impl ServiceError {
    /// A refusal of one field of the input, for the problem named.
    pub(crate) fn invalid(field: &str, problem: tollgate_core::violation::Problem) -> ServiceError {
        let mut violations = Violations::new();
        violations.push(field, problem);
        ServiceError::Invalid(violations)
    }
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> ServiceError {
        match error {
            StoreError::NotFound { entity, key } => ServiceError::NotFound { entity, key },
            StoreError::Conflict { entity, key } => ServiceError::Conflict { entity, key },
            StoreError::Unavailable(_) => ServiceError::Unavailable(error),
            StoreError::Corrupt { .. } => ServiceError::Corrupt(error),
        }
    }
}

impl From<tollgate_store::blob::BlobError> for ServiceError {
    fn from(error: tollgate_store::blob::BlobError) -> ServiceError {
        use tollgate_store::blob::BlobError;
        match error {
            BlobError::TooLarge { limit } => ServiceError::TooLarge { limit },
            BlobError::DigestMismatch { expected, actual } => ServiceError::DigestMismatch { expected, actual },
            BlobError::Missing(digest) => ServiceError::NotFound { entity: Entity::Blob, key: digest.to_string() },
            BlobError::Interrupted(source) => ServiceError::Interrupted { reason: source.to_string() },
            BlobError::Io(_) => ServiceError::Unavailable(tollgate_store::StoreError::Unavailable(Box::new(error))),
        }
    }
}

impl From<Violations> for ServiceError {
    fn from(violations: Violations) -> ServiceError {
        ServiceError::Invalid(violations)
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;
