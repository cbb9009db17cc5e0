//! Releases: versioned bundles of artifacts with scope, plan and a lifecycle state machine.
//!
//! The state machine is enforced here and only here: the service layer asks for a transition and
//! persists what this module returns. The manifest digest is what approvals and deployments bind
//! to; it changes whenever anything that would be deployed changes.

pub mod filter;

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use crate::artifact::{ArtifactName, ArtifactVersion};
use crate::digest::{canonical_json, Sha256Digest};
use crate::name::{check_text, check_token, LifecycleName, ServiceName, UserName};
use crate::violation::{Problem, Violations};
use crate::Timestamp;

/// A release's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct ReleaseId(pub i64);

impl fmt::Display for ReleaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Longest ticket id accepted (artifact names and versions are limited in `artifact`).
pub const MAX_TICKET_LEN: usize = 64;
pub const MAX_TITLE_LEN: usize = 300;
pub const MAX_REASON_LEN: usize = 2000;
pub const MAX_ROLLBACK_CRITERIA_LEN: usize = 4000;
pub const MAX_ARTIFACTS: usize = 500;
pub const MAX_SCOPE_ITEMS: usize = 2000;

/// How big a change a release is. Emergency releases may skip planning and promotion steps,
/// and are flagged wherever they do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseType {
    Major,
    Minor,
    Patch,
    Emergency,
}

/// How a release is rolled out to its users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutStrategy {
    BigBang,
    Phased,
    Pilot,
    Parallel,
}

crate::keyword_enum!(ReleaseType { Major => "major", Minor => "minor", Patch => "patch", Emergency => "emergency" });
crate::keyword_enum!(RolloutStrategy { BigBang => "big_bang", Phased => "phased", Pilot => "pilot", Parallel => "parallel" });

/// One service's artifact in a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArtifactRef {
    pub service: ServiceName,
    pub name: ArtifactName,
    pub version: ArtifactVersion,
    pub digest: Sha256Digest,
}

/// A ticket or feature considered for a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScopeItem {
    pub ticket: String,
    pub title: String,
    pub decision: ScopeDecision,
}

/// Whether a scope item ships, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum ScopeDecision {
    Included,
    Excluded { reason: String },
}

/// When a release is planned to go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PlannedWindow {
    start: Timestamp,
    // Invariant: end > start.
    end: Timestamp,
}

impl PlannedWindow {
    pub fn new(start: Timestamp, end: Timestamp) -> Result<PlannedWindow, Problem> {
        if end > start {
            Ok(PlannedWindow { start, end })
        } else {
            Err(Problem::EmptyRange)
        }
    }

    pub fn start(&self) -> Timestamp {
        self.start
    }

    pub fn end(&self) -> Timestamp {
        self.end
    }
}

/// Everything a user decides about a release: what it contains and how it is planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleaseContent {
    pub version: semver::Version,
    pub lifecycle: LifecycleName,
    pub release_type: ReleaseType,
    pub strategy: RolloutStrategy,
    /// One artifact per service, ordered by service name.
    pub artifacts: Vec<ArtifactRef>,
    pub scope: Vec<ScopeItem>,
    pub planned_window: Option<PlannedWindow>,
    pub scope_freeze_at: Option<Timestamp>,
    pub rollback_criteria: String,
}

impl ReleaseContent {
    /// The digest of what would be deployed: the version and every artifact digest. Scope notes
    /// and planning dates are not deployed and do not change it.
    pub fn manifest_digest(&self) -> Sha256Digest {
        #[derive(Serialize)]
        struct Manifest<'a> {
            schema: &'static str,
            version: String,
            artifacts: &'a [ArtifactRef],
        }
        Sha256Digest::of(&canonical_json(&Manifest {
            schema: "tollgate.release-manifest/v1",
            version: self.version.to_string(),
            artifacts: &self.artifacts,
        }))
    }

    /// The services this release deploys.
    pub fn services(&self) -> impl Iterator<Item = &ServiceName> {
        self.artifacts.iter().map(|artifact| &artifact.service)
    }
}

/// A stored release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Release {
    pub id: ReleaseId,
    pub content: ReleaseContent,
    pub state: ReleaseState,
    pub created_by: UserName,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Incremented by every change; a write with a stale revision is refused.
    pub revision: i64,
}

/// A release as a list shows it: without its artifacts and scope, with the services it deploys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseSummary {
    pub id: ReleaseId,
    pub version: semver::Version,
    pub state: ReleaseState,
    pub release_type: ReleaseType,
    pub lifecycle: LifecycleName,
    pub created_by: UserName,
    pub updated_at: Timestamp,
    pub services: Vec<ServiceName>,
}

/// The lifecycle state of a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseState {
    Draft,
    Planned,
    ScopeFrozen,
    Ready,
    Deploying,
    Deployed,
    Closed,
    RolledBack,
    Cancelled,
}

crate::keyword_enum!(ReleaseState {
    Draft => "draft", Planned => "planned", ScopeFrozen => "scope_frozen", Ready => "ready",
    Deploying => "deploying", Deployed => "deployed", Closed => "closed",
    RolledBack => "rolled_back", Cancelled => "cancelled",
});

/// What can be done to a release's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseAction {
    Plan,
    FreezeScope,
    UnfreezeScope,
    MarkReady,
    StartDeployment,
    CompleteDeployment,
    Close,
    RollBack,
    Cancel,
}

crate::keyword_enum!(ReleaseAction {
    Plan => "plan", FreezeScope => "freeze_scope", UnfreezeScope => "unfreeze_scope",
    MarkReady => "mark_ready", StartDeployment => "start_deployment",
    CompleteDeployment => "complete_deployment", Close => "close", RollBack => "roll_back",
    Cancel => "cancel",
});

impl ReleaseAction {
    /// Every action, in the order of the lifecycle.
    pub const EVERY: [ReleaseAction; 9] = [
        ReleaseAction::Plan,
        ReleaseAction::FreezeScope,
        ReleaseAction::UnfreezeScope,
        ReleaseAction::MarkReady,
        ReleaseAction::StartDeployment,
        ReleaseAction::CompleteDeployment,
        ReleaseAction::Close,
        ReleaseAction::RollBack,
        ReleaseAction::Cancel,
    ];

    /// Whether a person asks for this action directly. The deployment actions follow from
    /// recorded deployments instead, so a release is never marked deployed without one.
    pub fn is_manual(self) -> bool {
        !matches!(self, ReleaseAction::StartDeployment | ReleaseAction::CompleteDeployment)
    }

    /// Whether the action must say why (it is recorded in the audit log).
    pub fn requires_reason(self) -> bool {
        matches!(self, ReleaseAction::UnfreezeScope | ReleaseAction::Cancel | ReleaseAction::RollBack)
    }
}

/// Why a release cannot change as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("cannot {action} a release that is {from}; allowed next states: {}", list_or_none(allowed))]
    NotAllowed { from: ReleaseState, action: ReleaseAction, allowed: Vec<ReleaseState> },
    #[error("scope is frozen: a release that is {state} cannot change its content; unfreeze it first")]
    ContentLocked { state: ReleaseState },
    #[error("{action} needs a reason")]
    ReasonRequired { action: ReleaseAction },
}

fn list_or_none(states: &[ReleaseState]) -> String {
    if states.is_empty() {
        "none (final state)".to_owned()
    } else {
        states.iter().map(|state| state.as_str()).collect::<Vec<_>>().join(", ")
    }
}

impl ReleaseState {
    /// The state `action` leads to from this state, if it is allowed.
    pub fn next(self, action: ReleaseAction, release_type: ReleaseType) -> Option<ReleaseState> {
        use ReleaseAction as A;
        use ReleaseState as S;
        match (self, action) {
            (S::Draft, A::Plan) => Some(S::Planned),
            // Emergency releases may go straight from draft to ready.
            (S::Draft, A::MarkReady) if release_type == ReleaseType::Emergency => Some(S::Ready),
            (S::Planned, A::FreezeScope) => Some(S::ScopeFrozen),
            (S::ScopeFrozen, A::MarkReady) => Some(S::Ready),
            (S::ScopeFrozen | S::Ready, A::UnfreezeScope) => Some(S::Planned),
            (S::Ready, A::StartDeployment) => Some(S::Deploying),
            (S::Deploying, A::CompleteDeployment) => Some(S::Deployed),
            (S::Deploying | S::Deployed, A::RollBack) => Some(S::RolledBack),
            (S::Deployed | S::RolledBack, A::Close) => Some(S::Closed),
            (S::Draft | S::Planned | S::ScopeFrozen | S::Ready, A::Cancel) => Some(S::Cancelled),
            _ => None,
        }
    }

    /// Every state reachable in one step, in a stable order.
    pub fn allowed_next(self, release_type: ReleaseType) -> Vec<ReleaseState> {
        let mut states = Vec::new();
        for action in ReleaseAction::EVERY {
            if let Some(state) = self.next(action, release_type) {
                if !states.contains(&state) {
                    states.push(state);
                }
            }
        }
        states
    }

    /// Whether the content (artifacts, scope, plan) may still change.
    pub fn content_editable(self) -> bool {
        matches!(self, ReleaseState::Draft | ReleaseState::Planned)
    }
}

impl Release {
    /// The state after `action`, or why it is refused. `reason` is required for actions whose
    /// cause must be on record.
    pub fn transition(&self, action: ReleaseAction, reason: Option<&str>) -> Result<ReleaseState, TransitionError> {
        let release_type = self.content.release_type;
        let next = self.state.next(action, release_type).ok_or_else(|| TransitionError::NotAllowed {
            from: self.state,
            action,
            allowed: self.state.allowed_next(release_type),
        })?;
        if action.requires_reason() && reason.is_none_or(|reason| reason.trim().is_empty()) {
            return Err(TransitionError::ReasonRequired { action });
        }
        Ok(next)
    }

    /// Checks that the content may be replaced.
    pub fn check_content_editable(&self) -> Result<(), TransitionError> {
        if self.state.content_editable() {
            Ok(())
        } else {
            Err(TransitionError::ContentLocked { state: self.state })
        }
    }

    pub fn manifest_digest(&self) -> Sha256Digest {
        self.content.manifest_digest()
    }
}

/// An artifact reference as typed.
#[derive(Debug, Clone, Default)]
pub struct ArtifactRefInput {
    pub service: String,
    pub name: String,
    pub version: String,
    pub digest: String,
}

/// A scope item as typed. An excluded item needs a reason.
#[derive(Debug, Clone, Default)]
pub struct ScopeItemInput {
    pub ticket: String,
    pub title: String,
    pub included: bool,
    pub reason: Option<String>,
}

/// A release's content as typed, before validation.
#[derive(Debug, Clone, Default)]
pub struct ReleaseInput {
    pub version: String,
    pub lifecycle: String,
    pub release_type: String,
    pub strategy: Option<String>,
    pub artifacts: Vec<ArtifactRefInput>,
    pub scope: Vec<ScopeItemInput>,
    pub planned_start: Option<String>,
    pub planned_end: Option<String>,
    pub scope_freeze_at: Option<String>,
    pub rollback_criteria: Option<String>,
}

impl ReleaseInput {
    /// Validates every field and reports every problem. References to services and the
    /// lifecycle are checked by the caller.
    pub fn parse(self) -> Result<ReleaseContent, Violations> {
        let mut violations = Violations::new();
        let version = violations.check("version", parse_version(&self.version));
        let lifecycle = violations.check("lifecycle", LifecycleName::parse(&self.lifecycle));
        let release_type = violations.check("release_type", self.release_type.parse());
        let strategy = match &self.strategy {
            Some(value) => violations.check("strategy", value.parse()),
            None => Some(RolloutStrategy::BigBang),
        };
        let artifacts = parse_artifacts(&mut violations, self.artifacts);
        let scope = parse_scope(&mut violations, self.scope);
        let planned_start = parse_optional_timestamp(&mut violations, "planned_start", self.planned_start);
        let planned_end = parse_optional_timestamp(&mut violations, "planned_end", self.planned_end);
        let planned_window = match (planned_start, planned_end) {
            (Some(Some(start)), Some(Some(end))) => {
                violations.check("planned_end", PlannedWindow::new(start, end).map(Some))
            }
            (Some(None), Some(None)) => Some(None),
            (Some(Some(_)), Some(None)) => {
                violations.push("planned_end", Problem::Required);
                None
            }
            (Some(None), Some(Some(_))) => {
                violations.push("planned_start", Problem::Required);
                None
            }
            _ => None,
        };
        let scope_freeze_at = parse_optional_timestamp(&mut violations, "scope_freeze_at", self.scope_freeze_at);
        let rollback_criteria = self.rollback_criteria.unwrap_or_default();
        violations.check("rollback_criteria", check_text(&rollback_criteria, MAX_ROLLBACK_CRITERIA_LEN, false));
        match (version, lifecycle, release_type, strategy, planned_window, scope_freeze_at) {
            (
                Some(version),
                Some(lifecycle),
                Some(release_type),
                Some(strategy),
                Some(planned_window),
                Some(scope_freeze_at),
            ) if violations.is_empty() => Ok(ReleaseContent {
                version,
                lifecycle,
                release_type,
                strategy,
                artifacts,
                scope,
                planned_window,
                scope_freeze_at,
                rollback_criteria,
            }),
            _ => Err(violations),
        }
    }
}

/// Parses a semantic version (`1.4.0`, `2.0.0-rc.1+build.5`).
pub fn parse_version(value: &str) -> Result<semver::Version, Problem> {
    semver::Version::parse(value)
        .map_err(|error| Problem::InvalidVersion { value: value.to_owned(), reason: error.to_string() })
}

/// The last year a timestamp may be written in. A `Timestamp` ends on 9999-12-30, so some
/// instants written in 9999 do not fit; a limit on the year as written is one a client can check.
pub const MAX_TIMESTAMP_YEAR: i16 = 9998;

/// Parses an RFC 3339 timestamp with an offset (`2026-03-01T12:00:00Z`), written in a year up to
/// [`MAX_TIMESTAMP_YEAR`].
pub fn parse_timestamp(value: &str) -> Result<Timestamp, Problem> {
    let invalid = || Problem::InvalidTimestamp { value: value.to_owned() };
    let pieces = jiff::fmt::temporal::Pieces::parse(value).map_err(|_| invalid())?;
    if pieces.date().year() > MAX_TIMESTAMP_YEAR {
        return Err(Problem::Invalid { reason: format!("{value:?} lies after the year {MAX_TIMESTAMP_YEAR}") });
    }
    value.parse::<Timestamp>().map_err(|_| invalid())
}

fn parse_optional_timestamp(
    violations: &mut Violations,
    field: &str,
    value: Option<String>,
) -> Option<Option<Timestamp>> {
    match value {
        Some(value) => violations.check(field, parse_timestamp(&value).map(Some)),
        None => Some(None),
    }
}

fn parse_artifacts(violations: &mut Violations, inputs: Vec<ArtifactRefInput>) -> Vec<ArtifactRef> {
    if inputs.len() > MAX_ARTIFACTS {
        violations
            .push("artifacts", Problem::Invalid { reason: format!("at most {MAX_ARTIFACTS} artifacts are allowed") });
        return Vec::new();
    }
    let mut services = BTreeSet::new();
    let mut artifacts = Vec::new();
    for (index, input) in inputs.into_iter().enumerate() {
        let field = |name: &str| format!("artifacts[{index}].{name}");
        let service = violations.check(&field("service"), ServiceName::parse(&input.service));
        if let Some(service) = &service {
            if !services.insert(service.clone()) {
                violations.push(
                    field("service"),
                    Problem::Invalid { reason: format!("service {service} already has an artifact in this release") },
                );
            }
        }
        let name = violations.check(&field("name"), ArtifactName::parse(&input.name));
        let version = violations.check(&field("version"), ArtifactVersion::parse(&input.version));
        let digest = violations.check(&field("digest"), Sha256Digest::parse(&input.digest));
        if let (Some(service), Some(name), Some(version), Some(digest)) = (service, name, version, digest) {
            artifacts.push(ArtifactRef { service, name, version, digest });
        }
    }
    artifacts.sort_by(|a, b| a.service.cmp(&b.service));
    artifacts
}

fn parse_scope(violations: &mut Violations, inputs: Vec<ScopeItemInput>) -> Vec<ScopeItem> {
    if inputs.len() > MAX_SCOPE_ITEMS {
        violations
            .push("scope", Problem::Invalid { reason: format!("at most {MAX_SCOPE_ITEMS} scope items are allowed") });
        return Vec::new();
    }
    let mut tickets = BTreeSet::new();
    let mut scope = Vec::new();
    for (index, input) in inputs.into_iter().enumerate() {
        let field = |name: &str| format!("scope[{index}].{name}");
        let ticket_allowed = |c: char| c.is_ascii_alphanumeric() || "._#/-".contains(c);
        let mut ok =
            violations.check(&field("ticket"), check_token(&input.ticket, MAX_TICKET_LEN, ticket_allowed)).is_some();
        if ok && !tickets.insert(input.ticket.clone()) {
            violations.push(field("ticket"), Problem::Duplicate { value: input.ticket.clone() });
            ok = false;
        }
        ok &= violations.check(&field("title"), check_text(&input.title, MAX_TITLE_LEN, true)).is_some();
        let decision = if input.included {
            if input.reason.is_some() {
                violations.push(
                    field("reason"),
                    Problem::Invalid { reason: "only an excluded item has a reason".to_owned() },
                );
                ok = false;
            }
            ScopeDecision::Included
        } else {
            let reason = input.reason.unwrap_or_default();
            ok &= violations.check(&field("reason"), check_text(&reason, MAX_REASON_LEN, true)).is_some();
            ScopeDecision::Excluded { reason }
        };
        if ok {
            scope.push(ScopeItem { ticket: input.ticket, title: input.title, decision });
        }
    }
    scope
}

#[cfg(test)]
mod tests;
