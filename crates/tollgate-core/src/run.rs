//! Runs: the engine's durable state of an orchestrated deployment, and the state machine of each
//! of its steps.
//!
//! Starting an orchestrated deployment expands the plans of the release's services into a list
//! of steps (services in dependency order, each service's tiers and steps in plan order), stored
//! beside the deployment with the plan as it was then, so editing a plan never changes a running
//! deployment. Workers pick runs up from the database: a worker claims a run for a while (its
//! claim expires unless renewed) and every write it makes presents the claim's epoch, which grows
//! with every claim of the run (fencing). A worker that stalled past its claim and wakes up finds
//! its epoch stale and can change nothing.
//!
//! A claimed run is moved on by `next_action`: the first step of its phase that is not finished
//! decides. A step left running by a worker that died is run again when it is idempotent;
//! otherwise the run needs an operator, who resumes (runs it again), skips it, or aborts the
//! deployment.
//!
//! A run has two phases. It deploys (the plans' tiers); when a step fails or an operator aborts,
//! `begin_rollback` decides whether it rolls back: the rollback steps of every service whose
//! steps began run, services in reverse order, by themselves or once an operator confirms (the
//! plan asks for it, or an irreversible step ran). A rollback across an irreversible step of a
//! service that declares no rollback steps is refused: nothing could recover it.
//!
//! This module decides; it does not store, run steps, or read the clock.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use crate::deployment::DeploymentId;
use crate::name::{ServiceName, StepName};
use crate::plan::{DeploymentPlan, Judgment, QuarantineMode, RollbackMode, StepAction, StepSpec};
use crate::rollout::{expand_plan, Rollout, RolloutError, Target};
use crate::service::Service;
use crate::violation::Problem;
use crate::Timestamp;

/// The longest step output kept per step, in bytes; the end is kept and older lines dropped.
pub const MAX_STEP_LOG_BYTES: usize = 256 * 1024;

/// Where a step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    Pending,
    Running,
    Succeeded,
    Failed,
    /// An operator chose to go on without it.
    Skipped,
}

crate::keyword_enum!(StepState {
    Pending => "pending", Running => "running", Succeeded => "succeeded", Failed => "failed", Skipped => "skipped",
});

/// Which half of a run: deploying, or undoing what was deployed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    #[default]
    Deploy,
    Rollback,
}

crate::keyword_enum!(Phase { Deploy => "deploy", Rollback => "rollback" });

/// The tier name rollback steps are shown under.
pub const ROLLBACK_TIER: &str = "rollback";

/// One step of an orchestrated deployment. Stored, and written into the audit log when it
/// finishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeploymentStep {
    pub deployment: DeploymentId,
    /// Its place in the run, from 0: every deploy step comes before every rollback step.
    pub position: u32,
    pub phase: Phase,
    pub service: ServiceName,
    pub tier: StepName,
    pub spec: StepSpec,
    /// The target a per-target step runs for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    pub state: StepState,
    /// Attempts started, retries and re-runs after a crash included.
    pub attempts: u32,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// What the last attempt ended with, in a sentence (`exit status 3`, `GET … answered 503`).
    pub outcome: Option<String>,
}

impl DeploymentStep {
    /// `ledger/migrate/exec-1` (`ledger/app/exec-1@web-2` for a target's): how messages and
    /// logs name the step.
    pub fn path(&self) -> String {
        match &self.target {
            Some(target) => format!("{}/{}/{}@{}", self.service, self.tier, self.spec.name, target.name),
            None => format!("{}/{}/{}", self.service, self.tier, self.spec.name),
        }
    }

    /// For a manual step waiting for a judgment: what it asks, when its default decides, and
    /// what the default is.
    pub fn awaiting_judgment(&self) -> Option<(&str, Timestamp, Judgment)> {
        let StepAction::Manual { prompt, default } = &self.spec.action else { return None };
        let started_at = self.started_at.filter(|_| self.state == StepState::Running)?;
        let timeout = jiff::SignedDuration::from_millis(i64::try_from(self.spec.timeout.millis()).unwrap_or(i64::MAX));
        let deadline = started_at.checked_add(timeout).unwrap_or(started_at);
        Some((prompt.as_str(), deadline, *default))
    }
}

/// A step to store when a run starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStep {
    pub phase: Phase,
    pub service: ServiceName,
    pub tier: StepName,
    pub spec: StepSpec,
    pub target: Option<Target>,
}

/// The steps of a run over `services`: the plans of those that have one, each service after the
/// services of the set it depends on (by name among equals), each plan's steps as its strategy
/// orders them over the rollout environment's targets; then the rollback steps of the plans,
/// services in the reverse order. Fails when a plan cannot be rolled out to the environment.
pub fn expand(services: &[Service], rollout: &Rollout<'_>) -> Result<Vec<NewStep>, RolloutError> {
    let in_set: BTreeSet<&ServiceName> = services.iter().map(|service| &service.name).collect();
    let mut placed: BTreeSet<&ServiceName> = BTreeSet::new();
    let mut remaining: Vec<&Service> = services.iter().collect();
    remaining.sort_by(|a, b| a.name.cmp(&b.name));
    let mut ordered = Vec::with_capacity(services.len());
    while !remaining.is_empty() {
        let ready = remaining.iter().position(|service| {
            service.depends_on.iter().all(|dependency| !in_set.contains(dependency) || placed.contains(dependency))
        });
        // Invariant: services form no cycle (apply refuses one); if stored data had one anyway,
        // the rest follow by name rather than never.
        let service = remaining.remove(ready.unwrap_or(0));
        placed.insert(&service.name);
        ordered.push(service);
    }
    let mut deploy = Vec::new();
    let mut rollback = Vec::new();
    for service in ordered {
        let Some(plan) = &service.deploy else { continue };
        let (service_deploy, service_rollback) = expand_plan(&service.name, plan, rollout)?;
        deploy.extend(service_deploy);
        rollback.push(service_rollback);
    }
    deploy.extend(rollback.into_iter().rev().flatten());
    Ok(deploy)
}

/// Where a run stands, beside its deployment's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Workers move it on.
    Active,
    /// A worker died in a step that is not idempotent; an operator decides.
    NeedsOperator,
    /// An operator paused it: the step running goes on to its end (its worker keeps its claim
    /// for that), and no further step starts until the operator resumes it.
    Paused,
    /// Its deployment finished.
    Finished,
}

crate::keyword_enum!(RunState {
    Active => "active", NeedsOperator => "needs_operator", Paused => "paused", Finished => "finished",
});

/// The name a worker claims runs under: `replica-3f2a…` (1 to 64 letters, digits, `-`, `_`, `.`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct WorkerName(String);

impl WorkerName {
    pub fn parse(value: &str) -> Result<WorkerName, Problem> {
        let allowed = |byte: u8| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.');
        if value.is_empty() || value.len() > 64 || !value.bytes().all(allowed) {
            return Err(Problem::Invalid {
                reason: format!("{value:?} is not a worker name (1 to 64 letters, digits, '-', '_' and '.')"),
            });
        }
        Ok(WorkerName(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The engine's state of one orchestrated deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Run {
    pub deployment: DeploymentId,
    pub state: RunState,
    pub phase: Phase,
    /// Who holds the claim, if anyone has claimed the run yet.
    pub worker: Option<WorkerName>,
    /// The fencing token: grows by one with every claim.
    pub epoch: u64,
    /// When the claim lapses unless renewed.
    pub claim_expires_at: Option<Timestamp>,
    /// Why an operator is needed, or why the run finished as it did.
    pub reason: Option<String>,
}

/// A worker's claim on a run: what it presents with every write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub deployment: DeploymentId,
    pub worker: WorkerName,
    pub epoch: u64,
    pub expires_at: Timestamp,
}

/// Why a worker may not write to a run: it must stop.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    #[error(
        "worker {worker} lost deployment {deployment}: its claim (epoch {presented}) was taken over (epoch {current})"
    )]
    TakenOver { deployment: DeploymentId, worker: WorkerName, presented: u64, current: u64 },
    #[error("worker {worker} lost deployment {deployment}: its claim expired at {expired_at}")]
    Expired { deployment: DeploymentId, worker: WorkerName, expired_at: Timestamp },
    #[error("deployment {deployment} is {state}; its run takes no more writes from workers")]
    NotActive { deployment: DeploymentId, state: RunState },
}

impl Run {
    /// Whether a worker may claim the run at `at`: it is active and unclaimed, or its claim lapsed.
    pub fn claimable(&self, at: Timestamp) -> bool {
        self.state == RunState::Active && self.claim_expires_at.is_none_or(|expires_at| at >= expires_at)
    }

    /// Checks that `claim` is still the run's claim at `at`: same epoch, not expired, run active.
    pub fn check_claim(&self, claim: &Claim, at: Timestamp) -> Result<(), ClaimError> {
        if claim.epoch != self.epoch || self.worker.as_ref() != Some(&claim.worker) {
            return Err(ClaimError::TakenOver {
                deployment: self.deployment,
                worker: claim.worker.clone(),
                presented: claim.epoch,
                current: self.epoch,
            });
        }
        // A paused run stays its worker's until the step it runs has ended.
        if !matches!(self.state, RunState::Active | RunState::Paused) {
            return Err(ClaimError::NotActive { deployment: self.deployment, state: self.state });
        }
        match self.claim_expires_at {
            Some(expired_at) if at >= expired_at => {
                Err(ClaimError::Expired { deployment: self.deployment, worker: claim.worker.clone(), expired_at })
            }
            _ => Ok(()),
        }
    }
}

/// What a claimed run does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextAction {
    /// Start the step at this position.
    Start(u32),
    /// The step at this position was left running by a worker that is gone; it is idempotent, so
    /// it runs again.
    Rerun(u32),
    /// The step at this position was left running and is not idempotent: nobody knows whether it
    /// took effect, so an operator decides.
    AskOperator { position: u32, reason: String },
    /// The manual step at this position waits for a person's judgment (it starts waiting now
    /// when it is pending).
    AwaitJudgment(u32),
    /// Every step of the phase succeeded or was skipped: the deployment succeeded, or its
    /// rollback did.
    Succeed,
    /// The step at this position failed: the deployment failed (and may roll back), or its
    /// rollback did.
    Fail { position: u32, reason: String },
}

/// Decides what a worker that has just claimed (or still holds) a run does next, from the steps
/// of the run's `phase` in order (others are passed over). A worker never leaves a step running
/// between two of its own decisions, so a running step here was left by a worker that is gone.
pub fn next_action(phase: Phase, steps: &[DeploymentStep]) -> NextAction {
    for step in steps.iter().filter(|step| step.phase == phase) {
        let manual = matches!(step.spec.action, StepAction::Manual { .. });
        match step.state {
            StepState::Succeeded | StepState::Skipped => continue,
            StepState::Pending | StepState::Running if manual => return NextAction::AwaitJudgment(step.position),
            StepState::Pending => return NextAction::Start(step.position),
            StepState::Failed => {
                let outcome = step.outcome.as_deref().unwrap_or("it failed");
                let what = match phase {
                    Phase::Deploy => "step",
                    Phase::Rollback => "rollback step",
                };
                return NextAction::Fail {
                    position: step.position,
                    reason: format!("{what} {} failed: {outcome}", step.path()),
                };
            }
            StepState::Running if step.spec.idempotent => return NextAction::Rerun(step.position),
            StepState::Running => {
                let reason = format!(
                    "step {} was running when its worker stopped (attempt {}), and it is not idempotent: \
                     it may or may not have taken effect; resume runs it again, skip goes on without it, abort ends the deployment",
                    step.path(),
                    step.attempts
                );
                return NextAction::AskOperator { position: step.position, reason };
            }
        }
    }
    NextAction::Succeed
}

/// What a failed deployment does about rolling back, as `begin_rollback` decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollbackStart {
    /// No service whose steps began declares rollback steps: the deployment fails as it is.
    Nothing,
    /// Roll back now. The rollback steps at `skip` belong to services whose steps never began:
    /// they are skipped.
    Go { skip: Vec<u32> },
    /// Roll back once an operator confirms: a plan asks for it, or an irreversible step ran.
    Confirm { skip: Vec<u32>, reason: String },
    /// Rolling back would cross an irreversible step whose service has no rollback steps to
    /// recover with: the deployment fails, and a person takes it from there.
    Refused { reason: String },
}

/// Decides whether and how a run whose deploy phase ended in failure rolls back, from all its
/// steps and the plans it froze. Only services whose steps began are rolled back.
pub fn begin_rollback(steps: &[DeploymentStep], plans: &BTreeMap<ServiceName, DeploymentPlan>) -> RollbackStart {
    let began = |step: &&DeploymentStep| step.phase == Phase::Deploy && step.state != StepState::Pending;
    let touched: BTreeSet<&ServiceName> = steps.iter().filter(began).map(|step| &step.service).collect();
    let rollback: Vec<&DeploymentStep> = steps.iter().filter(|step| step.phase == Phase::Rollback).collect();
    let skip: Vec<u32> =
        rollback.iter().filter(|step| !touched.contains(&step.service)).map(|step| step.position).collect();
    if rollback.len() == skip.len() {
        return RollbackStart::Nothing;
    }
    // Steps that ran (or may have) and cannot be undone: skipped ones did not run.
    let irreversible: Vec<&DeploymentStep> =
        steps.iter().filter(began).filter(|step| !step.spec.reversible && step.state != StepState::Skipped).collect();
    let unrecoverable: Vec<String> = irreversible
        .iter()
        .filter(|step| !rollback.iter().any(|undo| undo.service == step.service))
        .map(|step| step.path())
        .collect();
    if !unrecoverable.is_empty() {
        let reason = format!(
            "rolling back is refused: irreversible step {} ran, and its service declares no rollback steps to recover with",
            unrecoverable.join(", ")
        );
        return RollbackStart::Refused { reason };
    }
    if !irreversible.is_empty() {
        let paths: Vec<String> = irreversible.iter().map(|step| step.path()).collect();
        let reason = format!(
            "irreversible step {} ran: rolling back runs the plan's recovery steps; roll_back confirms, abort ends the deployment as failed",
            paths.join(", ")
        );
        return RollbackStart::Confirm { skip, reason };
    }
    let manual: Vec<&str> = touched
        .iter()
        .filter(|service| plans.get(**service).is_some_and(|plan| plan.on_failure.rollback == RollbackMode::Manual))
        .map(|service| service.as_str())
        .collect();
    if !manual.is_empty() {
        let reason = format!(
            "the plan of {} rolls back when an operator confirms: roll_back confirms, abort ends the deployment as failed",
            manual.join(", ")
        );
        return RollbackStart::Confirm { skip, reason };
    }
    RollbackStart::Go { skip }
}

/// How a finished run ended, for deciding on quarantine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    Succeeded,
    /// Failed, and nothing was to roll back.
    Failed,
    /// Failed, and the rollback succeeded.
    RolledBack,
    /// Failed, and the rollback failed, was refused or aborted.
    RollbackFailed,
}

/// Whether a run that ended as `outcome` quarantines its environment: some plan of a service
/// whose steps began asks for it.
pub fn quarantines(
    outcome: RunOutcome,
    steps: &[DeploymentStep],
    plans: &BTreeMap<ServiceName, DeploymentPlan>,
) -> bool {
    let touched: BTreeSet<&ServiceName> = steps
        .iter()
        .filter(|step| step.phase == Phase::Deploy && step.state != StepState::Pending)
        .map(|step| &step.service)
        .collect();
    touched.into_iter().filter_map(|service| plans.get(service)).any(|plan| {
        match (plan.on_failure.quarantine, outcome) {
            (_, RunOutcome::Succeeded) | (QuarantineMode::Never, _) => false,
            (QuarantineMode::Always, _) => true,
            (QuarantineMode::OnRollbackFailure, outcome) => outcome == RunOutcome::RollbackFailed,
        }
    })
}

/// One line a step printed (stdout and stderr interleaved as read), secrets redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// The step's position in its run.
    pub position: u32,
    /// From 1, per step.
    pub line: u64,
    pub at: Timestamp,
    pub text: String,
}

/// What an operator decides for a run that needs one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatorDecision {
    /// Run the stopped step again; or go on with a paused run.
    Resume,
    /// Go on without the step.
    Skip,
    /// Stop deploying and roll back (when the plans declare how), or, while rolling back, stop
    /// the rollback: the deployment ends as failed.
    Abort,
    /// Confirm a rollback that waits for an operator.
    RollBack,
    /// Judge a manual step: it succeeds.
    Approve,
    /// Judge a manual step: it fails.
    Reject,
    /// Let the step running end, and start no further step until resumed.
    Pause,
    /// Move a canary at once to all of the traffic: its remaining lower weights, pauses and
    /// their verifications are skipped.
    Promote,
}

crate::keyword_enum!(OperatorDecision {
    Resume => "resume", Skip => "skip", Abort => "abort", RollBack => "roll_back", Approve => "approve", Reject => "reject",
    Pause => "pause", Promote => "promote",
});

/// The steps promoting a canary skips: every unfinished deploy step of a canary weight below
/// the last (its shift, pause and verification), for each service whose rollout is a canary.
/// Empty when nothing is left to skip.
pub fn promotion_skips(steps: &[DeploymentStep]) -> Vec<u32> {
    let canary = |step: &&DeploymentStep| step.phase == Phase::Deploy && step.tier.as_str().starts_with("canary-");
    let mut last_tier: BTreeMap<&ServiceName, &StepName> = BTreeMap::new();
    for step in steps.iter().filter(canary) {
        last_tier.insert(&step.service, &step.tier);
    }
    steps
        .iter()
        .filter(canary)
        .filter(|step| matches!(step.state, StepState::Pending | StepState::Running))
        .filter(|step| last_tier.get(&step.service) != Some(&&step.tier))
        .map(|step| step.position)
        .collect()
}

#[cfg(test)]
mod tests;
