//! Deployments and the release register: what ran where, and when.
//!
//! A deployment records one release going into one environment. The register is derived from
//! deployments alone: what runs in an environment at an instant is, per service, the latest
//! deployment that had succeeded by then and had not yet been rolled back.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use crate::digest::Sha256Digest;
use crate::lifecycle::{Lifecycle, Stage};
use crate::name::{EnvironmentName, LifecycleName, ServiceName, UserName};
use crate::release::{parse_timestamp, ArtifactRef, Release, ReleaseId, ReleaseState, ReleaseType};
use crate::violation::{Problem, Violations};
use crate::Timestamp;

/// A deployment's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct DeploymentId(pub i64);

impl fmt::Display for DeploymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Where a deployment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentStatus {
    Running,
    Succeeded,
    Failed,
    RolledBack,
}

crate::keyword_enum!(DeploymentStatus {
    Running => "running", Succeeded => "succeeded", Failed => "failed", RolledBack => "rolled_back",
});

impl DeploymentStatus {
    /// Whether a deployment may move from this status to `next`.
    pub fn can_become(self, next: DeploymentStatus) -> bool {
        use DeploymentStatus as S;
        matches!(
            (self, next),
            (S::Running, S::Succeeded)
                | (S::Running, S::Failed)
                | (S::Running, S::RolledBack)
                | (S::Succeeded, S::RolledBack)
        )
    }

    fn allowed_next(self) -> Vec<DeploymentStatus> {
        use DeploymentStatus as S;
        [S::Running, S::Succeeded, S::Failed, S::RolledBack].into_iter().filter(|next| self.can_become(*next)).collect()
    }
}

/// Whether the deployment followed the lifecycle's promotion path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "promotion", rename_all = "snake_case")]
pub enum Promotion {
    /// The previous environment had a successful deployment of this release (or there is none).
    Followed,
    /// An emergency release skipped the previous environment; flagged for review.
    EmergencySkipped { skipped: EnvironmentName },
    /// A rollback: an operator put back a release that ran in the environment before, outside
    /// the lifecycle's order, for `cause`.
    Rollback { cause: String },
}

/// One release going into one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deployment {
    pub id: DeploymentId,
    pub release: ReleaseId,
    pub release_version: semver::Version,
    pub environment: EnvironmentName,
    /// The manifest digest of the release as deployed.
    pub manifest_digest: Sha256Digest,
    pub status: DeploymentStatus,
    pub promotion: Promotion,
    pub actor: UserName,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    pub rolled_back_at: Option<Timestamp>,
}

/// A deployment with the artifacts its release carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployedRelease {
    pub deployment: Deployment,
    pub artifacts: Vec<ArtifactRef>,
}

/// Why a release may not be deployed to an environment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromotionError {
    #[error("release {version} is {state}; only a ready or deploying release can be deployed")]
    ReleaseNotDeployable { version: semver::Version, state: ReleaseState },
    #[error("environment {environment} is not in lifecycle {lifecycle} ({})", path.join(" -> "))]
    NotInLifecycle { environment: EnvironmentName, lifecycle: LifecycleName, path: Vec<String> },
    #[error(
        "release {version} has not succeeded in {previous}, which comes before {environment} in lifecycle {lifecycle}"
    )]
    PreviousStageMissing {
        version: semver::Version,
        environment: EnvironmentName,
        previous: EnvironmentName,
        lifecycle: LifecycleName,
    },
    #[error("release {version} is {state}; only a deployed or closed release can be rolled back to")]
    NotRollbackTarget { version: semver::Version, state: ReleaseState },
    #[error("release {version} never succeeded in {environment}, so it cannot be rolled back to there")]
    NeverLiveIn { version: semver::Version, environment: EnvironmentName },
}

/// Decides whether `release` may be deployed to `environment`, given the environments where it
/// already succeeded. Returns every reason it may not.
pub fn check_promotion(
    release: &Release,
    lifecycle: &Lifecycle,
    environment: &EnvironmentName,
    succeeded_in: &BTreeSet<EnvironmentName>,
) -> Result<Promotion, Vec<PromotionError>> {
    let mut errors = Vec::new();
    let version = &release.content.version;
    if !matches!(release.state, ReleaseState::Ready | ReleaseState::Deploying) {
        errors.push(PromotionError::ReleaseNotDeployable { version: version.clone(), state: release.state });
    }
    let promotion = match lifecycle.stage_of(environment) {
        Stage::First => Promotion::Followed,
        Stage::After(previous) if succeeded_in.contains(previous) => Promotion::Followed,
        Stage::After(previous) if release.content.release_type == ReleaseType::Emergency => {
            Promotion::EmergencySkipped { skipped: previous.clone() }
        }
        Stage::After(previous) => {
            errors.push(PromotionError::PreviousStageMissing {
                version: version.clone(),
                environment: environment.clone(),
                previous: previous.clone(),
                lifecycle: lifecycle.name().clone(),
            });
            Promotion::Followed
        }
        Stage::NotInLifecycle => {
            errors.push(PromotionError::NotInLifecycle {
                environment: environment.clone(),
                lifecycle: lifecycle.name().clone(),
                path: lifecycle.environments().iter().map(ToString::to_string).collect(),
            });
            Promotion::Followed
        }
    };
    if errors.is_empty() {
        Ok(promotion)
    } else {
        Err(errors)
    }
}

/// Decides whether `environment` may be rolled back to `release` for `cause`: the release is
/// deployed or closed, and it succeeded there before (it is in the environment's history). The
/// lifecycle's order does not apply: a rollback goes back. Returns every reason it may not.
pub fn check_rollback(
    release: &Release,
    environment: &EnvironmentName,
    succeeded_in: &BTreeSet<EnvironmentName>,
    cause: &str,
) -> Result<Promotion, Vec<PromotionError>> {
    let mut errors = Vec::new();
    let version = &release.content.version;
    if !matches!(release.state, ReleaseState::Deployed | ReleaseState::Closed) {
        errors.push(PromotionError::NotRollbackTarget { version: version.clone(), state: release.state });
    }
    if !succeeded_in.contains(environment) {
        errors.push(PromotionError::NeverLiveIn { version: version.clone(), environment: environment.clone() });
    }
    if errors.is_empty() {
        Ok(Promotion::Rollback { cause: cause.to_owned() })
    } else {
        Err(errors)
    }
}

/// Why a deployment's status cannot change as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("deployment {id} is {from} and cannot become {to}; allowed: {}", allowed.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "))]
pub struct StatusError {
    pub id: DeploymentId,
    pub from: DeploymentStatus,
    pub to: DeploymentStatus,
    pub allowed: Vec<DeploymentStatus>,
}

impl Deployment {
    /// The deployment after moving to `next` at `now`, or why it cannot.
    pub fn finish(&self, next: DeploymentStatus, now: Timestamp) -> Result<Deployment, StatusError> {
        if !self.status.can_become(next) {
            return Err(StatusError { id: self.id, from: self.status, to: next, allowed: self.status.allowed_next() });
        }
        let mut updated = self.clone();
        updated.status = next;
        match (self.status, next) {
            // A running deployment that failed and was undone: it ends and is rolled back at once,
            // so it was never live.
            (DeploymentStatus::Running, DeploymentStatus::RolledBack) => {
                updated.finished_at = Some(now.max(self.started_at));
                updated.rolled_back_at = updated.finished_at;
            }
            (_, DeploymentStatus::RolledBack) => updated.rolled_back_at = Some(now),
            _ => updated.finished_at = Some(now.max(self.started_at)),
        }
        Ok(updated)
    }

    /// Whether the deployment's artifacts were running at `at`.
    pub fn live_at(&self, at: Timestamp) -> bool {
        let succeeded = matches!(self.status, DeploymentStatus::Succeeded | DeploymentStatus::RolledBack);
        succeeded
            && self.finished_at.is_some_and(|finished| finished <= at)
            && self.rolled_back_at.is_none_or(|rolled_back| rolled_back > at)
    }
}

/// A deployment as typed, before validation: when it is recorded after the fact, it carries
/// its own times.
#[derive(Debug, Clone, Default)]
pub struct DeploymentInput {
    pub status: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The reason for deploying although the environment's deployment window is closed at the
    /// start (breaking glass, authorized as `override.window`); not a time, so `parse` leaves it.
    pub override_window: Option<String>,
}

/// The status and times of a new deployment record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeploymentTimes {
    pub status: DeploymentStatus,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

impl DeploymentInput {
    /// Validates status and times against `now`: a record is running, succeeded or failed; a
    /// finished record has a finish time after its start; nothing lies in the future.
    pub fn parse(self, now: Timestamp) -> Result<DeploymentTimes, Violations> {
        let mut violations = Violations::new();
        let status = match self.status.as_deref() {
            None => Some(DeploymentStatus::Running),
            Some("rolled_back") => {
                violations.push(
                    "status",
                    Problem::Invalid {
                        reason: "a new deployment cannot be rolled_back; record it, then roll it back".to_owned(),
                    },
                );
                None
            }
            Some(value) => violations.check("status", value.parse()),
        };
        let started_at = match &self.started_at {
            Some(value) => violations.check("started_at", parse_timestamp(value)),
            None => Some(now),
        };
        let finished_at = match &self.finished_at {
            Some(value) => violations.check("finished_at", parse_timestamp(value).map(Some)),
            None => Some(None),
        };
        for (field, value) in [("started_at", started_at), ("finished_at", finished_at.flatten())] {
            if value.is_some_and(|value| value > now) {
                violations.push(field, Problem::Invalid { reason: "lies in the future".to_owned() });
            }
        }
        let (Some(status), Some(started_at), Some(finished_at)) = (status, started_at, finished_at) else {
            return Err(violations);
        };
        let finished_at = match (status, finished_at) {
            (DeploymentStatus::Running, Some(_)) => {
                violations.push(
                    "finished_at",
                    Problem::Invalid { reason: "a running deployment has not finished".to_owned() },
                );
                None
            }
            (DeploymentStatus::Running, None) => None,
            (_, Some(finished)) if finished < started_at => {
                violations.push("finished_at", Problem::EmptyRange);
                None
            }
            (_, Some(finished)) => Some(finished),
            (_, None) => Some(now.max(started_at)),
        };
        violations.into_result(DeploymentTimes { status, started_at, finished_at })
    }
}

/// One service as it ran in an environment at an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunningService {
    pub service: ServiceName,
    pub artifact: ArtifactRef,
    pub release: ReleaseId,
    pub release_version: semver::Version,
    pub deployment: DeploymentId,
    pub deployed_at: Timestamp,
    pub promotion: Promotion,
}

/// What ran in an environment at `at`, per service, from that environment's deployments.
pub fn running_at(history: &[DeployedRelease], at: Timestamp) -> Vec<RunningService> {
    let mut latest: BTreeMap<&ServiceName, (&DeployedRelease, &ArtifactRef)> = BTreeMap::new();
    for deployed in history.iter().filter(|d| d.deployment.live_at(at)) {
        for artifact in &deployed.artifacts {
            let newer = |current: &DeployedRelease| {
                let key = |d: &Deployment| (d.finished_at, d.id);
                key(&deployed.deployment) > key(&current.deployment)
            };
            match latest.get(&artifact.service) {
                Some((current, _)) if !newer(current) => {}
                _ => {
                    latest.insert(&artifact.service, (deployed, artifact));
                }
            }
        }
    }
    latest
        .into_iter()
        .map(|(service, (deployed, artifact))| RunningService {
            service: service.clone(),
            artifact: artifact.clone(),
            release: deployed.deployment.release,
            release_version: deployed.deployment.release_version.clone(),
            deployment: deployed.deployment.id,
            deployed_at: deployed.deployment.finished_at.expect("a live deployment has finished"),
            promotion: deployed.deployment.promotion.clone(),
        })
        .collect()
}

/// One precondition of a deployment, as `tollgate deployment check` reports it: the same
/// checks that recording (and later starting) a deployment makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Precondition {
    /// The caller may deploy there (Cedar `deploy`, segregation of duties included).
    Authorization,
    /// The release's state and the lifecycle's order (promotion).
    Promotion,
    /// Every artifact present, unchanged on disk and, for prod, signed by a trusted key.
    Artifacts,
    /// The environment's blocking gates passed for the release as it is now.
    Gates,
    /// The deployment window is open (or an emergency release overrides it).
    Window,
    /// An approved change request covers it, where the environment requires one.
    Change,
    /// No lease of another deployment holds one of the release's services in the environment.
    Lock,
    /// The environment is not quarantined.
    Quarantine,
    /// Where the change policy asks for it, the release's rollback was tested in the environment
    /// it names: a deployment of the release there was rolled back by its plans' rollback steps.
    RollbackTested,
}

crate::keyword_enum!(Precondition {
    Authorization => "authorization",
    Promotion => "promotion",
    Artifacts => "artifacts",
    Gates => "gates",
    Window => "window",
    Change => "change",
    Lock => "lock",
    Quarantine => "quarantine",
    RollbackTested => "rollback_tested",
});

/// How one precondition judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PreconditionResult {
    pub precondition: Precondition,
    pub passed: bool,
    /// Why it failed, one sentence each; for a pass, a note when there is one (an emergency
    /// release passing a closed window).
    pub reasons: Vec<String>,
}

/// Whether a release may be deployed into an environment now, with every precondition judged
/// (not only the first that fails).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeploymentCheck {
    pub release: semver::Version,
    pub environment: EnvironmentName,
    pub at: Timestamp,
    pub allowed: bool,
    pub results: Vec<PreconditionResult>,
}

impl DeploymentCheck {
    /// Every reason of every failed precondition, prefixed with its name.
    pub fn refusals(&self) -> Vec<String> {
        self.results
            .iter()
            .filter(|result| !result.passed)
            .flat_map(|result| result.reasons.iter().map(move |reason| format!("{}: {reason}", result.precondition)))
            .collect()
    }
}

#[cfg(test)]
mod tests;
