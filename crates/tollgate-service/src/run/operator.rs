//! Operators' part in a run: their decisions (resume, skip, abort, roll back, pause, approve,
//! reject), each authorized as deploying the release there and audited with its reason, and the
//! timer that applies a manual step's default judgment when nobody judged in time.

use tollgate_authz::Action;
use tollgate_core::audit::{AuditAction, ObjectKind, ObjectRef};
use tollgate_core::deployment::DeploymentId;
use tollgate_core::plan::Judgment;
use tollgate_core::run::{
    promotion_skips, DeploymentStep, OperatorDecision, Phase, Run, RunOutcome, RunState, StepState,
};
use tollgate_core::Entity;

use crate::audit::Change;
use crate::catalog::not_found;
use crate::release::ReleaseRef;
use crate::run::{load_run, Confirmation, DeploymentRun};
use crate::{Principal, ServiceError, ServiceResult, Tollgate};

impl Tollgate {
    /// An operator's decision on a run: run a stopped step again, go on without it, abort (stop
    /// deploying and roll back as the plans say; while rolling back, stop the rollback and end the
    /// deployment as failed), or roll back (confirming a rollback that waits for one, or stopping
    /// a deployment to roll it back at once, across irreversible steps too). Aborting and rolling
    /// back also act on a run that is still active: its running step is recorded as failed, and
    /// its worker stops it. Authorized as deploying the release there.
    pub async fn decide_run(
        &self,
        principal: &Principal,
        deployment: DeploymentId,
        decision: OperatorDecision,
        reason: Option<&str>,
    ) -> ServiceResult<DeploymentRun> {
        let (release, environment) = {
            let mut read = self.store.read().await?;
            let found =
                read.find_deployment(deployment).await?.ok_or_else(|| not_found(Entity::Deployment, deployment))?;
            (ReleaseRef::Id(found.release), found.environment)
        };
        self.authorize_deployment(principal, Action::Deploy, &release, &environment).await?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let run = match tx.find_run(deployment).await? {
            Some(_) => tx.lock_run(deployment).await?,
            None => {
                let reason = "is not orchestrated by Tollgate".to_owned();
                return Err(ServiceError::RunNotWaiting { deployment, reason });
            }
        };
        let steps = tx.list_steps(deployment).await?;
        let stopped = steps.iter().find(|step| step.state == StepState::Running).cloned();
        let skips = promotion_skips(&steps);
        check_decision(&run, stopped.as_ref(), decision, &skips)?;
        let by = &principal.user.name;
        let said = reason.map(|reason| format!(" ({reason})")).unwrap_or_default();
        // Pausing and resuming a paused run leave the step running alone: it goes on to its end.
        let paces = decision == OperatorDecision::Pause
            || (run.state == RunState::Paused && decision == OperatorDecision::Resume);
        if decision == OperatorDecision::Promote {
            let why = format!("{by} decided to promote{said}");
            self.promote_in(&mut tx, principal, run, &steps, &skips, &why).await?;
            let current = load_run(&mut tx, deployment).await?;
            tx.commit().await?;
            return Ok(current);
        }
        if let Some(before) = stopped.filter(|_| !paces) {
            tx.update_step(&step_after(decision, &before, by.as_str(), &said, now)).await?;
            let line = format!("{by} decided: {decision}{said}");
            tx.append_logs(deployment, before.position, &[(now, line)]).await?;
        }
        let action = audit_action(decision);
        let why = format!("{by} decided to {decision}{said}");
        match (decision, run.phase) {
            _ if paces => {
                // The claim stays with the worker that runs a step, so it finishes the step.
                let state = if decision == OperatorDecision::Pause { RunState::Paused } else { RunState::Active };
                let after = Run { state, reason: Some(why.clone()), ..run.clone() };
                tx.update_run(&after).await?;
                let object = ObjectRef::new(ObjectKind::Run, deployment);
                let change = Change { action, object, before: Some(&run), after: Some(&after), reason: Some(&why) };
                self.record_for(&mut tx, principal, change).await?;
            }
            (OperatorDecision::Pause, _) => unreachable!("pausing paces the run"),
            (OperatorDecision::Promote, _) => unreachable!("promoting returned above"),
            (
                OperatorDecision::Resume
                | OperatorDecision::Skip
                | OperatorDecision::Approve
                | OperatorDecision::Reject,
                _,
            )
            | (OperatorDecision::RollBack, Phase::Rollback) => {
                self.set_run_state_in(&mut tx, principal, run, RunState::Active, &why, action).await?;
            }
            (OperatorDecision::Abort, Phase::Rollback) => {
                let cause = run.reason.clone().unwrap_or_default();
                let reason = format!("{cause}; {by} stopped the rollback{said}");
                self.end_run_in(&mut tx, principal, deployment, RunOutcome::RollbackFailed, &reason).await?;
            }
            (OperatorDecision::Abort | OperatorDecision::RollBack, Phase::Deploy) => {
                let confirmation = match decision {
                    OperatorDecision::RollBack => Confirmation::Given,
                    _ => Confirmation::AsPlanned,
                };
                let cause = format!(
                    "{by} {}{said}",
                    if confirmation == Confirmation::Given { "rolled it back" } else { "aborted it" }
                );
                // The operator's decision is on record before what it sets off; whoever held the
                // run stops, its next write finding the claim gone.
                let handed = Run {
                    worker: None,
                    claim_expires_at: None,
                    state: RunState::Active,
                    reason: Some(cause.clone()),
                    ..run.clone()
                };
                tx.update_run(&handed).await?;
                let object = ObjectRef::new(ObjectKind::Run, deployment);
                let change = Change { action, object, before: Some(&run), after: Some(&handed), reason: Some(&cause) };
                self.record_for(&mut tx, principal, change).await?;
                self.begin_rollback_in(&mut tx, principal, handed, &cause, confirmation).await?;
            }
        }
        let current = load_run(&mut tx, deployment).await?;
        tx.commit().await?;
        Ok(current)
    }

    /// Promotes a canary: skips the steps at `skips` (the running one too, whose worker then
    /// loses its claim and stops it) so the run goes on with the shift to all of the traffic.
    async fn promote_in(
        &self,
        tx: &mut tollgate_store::StoreTx,
        principal: &Principal,
        run: Run,
        steps: &[DeploymentStep],
        skips: &[u32],
        why: &str,
    ) -> ServiceResult<()> {
        let now = self.now();
        let by = &principal.user.name;
        let mut stopped_running = false;
        for step in steps.iter().filter(|step| skips.contains(&step.position)) {
            stopped_running |= step.state == StepState::Running;
            let outcome = format!("skipped: {by} promoted the rollout to all of the traffic");
            let skipped = DeploymentStep {
                state: StepState::Skipped,
                finished_at: Some(now),
                outcome: Some(outcome),
                ..step.clone()
            };
            tx.update_step(&skipped).await?;
        }
        let state = if run.state == RunState::Paused { RunState::Paused } else { RunState::Active };
        let after = match stopped_running {
            true => Run { state, worker: None, claim_expires_at: None, reason: Some(why.to_owned()), ..run.clone() },
            false => Run { state, reason: Some(why.to_owned()), ..run.clone() },
        };
        tx.update_run(&after).await?;
        let object = ObjectRef::new(ObjectKind::Run, run.deployment);
        let change =
            Change { action: AuditAction::Promote, object, before: Some(&run), after: Some(&after), reason: Some(why) };
        self.record_for(tx, principal, change).await
    }

    /// Applies the default judgment of every manual step whose wait has timed out, and hands its
    /// run back to the workers. Run by a timer on every server; a run judged or decided meanwhile
    /// is left alone. Returns the deployments moved on.
    pub async fn expire_judgments(&self) -> ServiceResult<Vec<DeploymentId>> {
        let waiting = {
            let mut read = self.store.read().await?;
            read.list_runs_in_state(RunState::NeedsOperator).await?
        };
        let system = Principal::system();
        let mut moved = Vec::new();
        for candidate in waiting {
            let mut tx = self.store.begin().await?;
            // Judged again in the transaction that writes: decided meanwhile is left alone.
            let run = tx.lock_run(candidate.deployment).await?;
            if run.state != RunState::NeedsOperator {
                continue;
            }
            let steps = tx.list_steps(run.deployment).await?;
            let Some(step) = steps.into_iter().find(|step| step.awaiting_judgment().is_some()) else { continue };
            let (_, deadline, default) = step.awaiting_judgment().expect("checked");
            let now = self.now();
            if now < deadline {
                continue;
            }
            let outcome = format!("no judgment by {deadline}: {default} by default");
            let judged = DeploymentStep {
                state: if default == Judgment::Approve { StepState::Succeeded } else { StepState::Failed },
                finished_at: Some(now),
                outcome: Some(outcome.clone()),
                ..step.clone()
            };
            tx.update_step(&judged).await?;
            tx.append_logs(run.deployment, step.position, &[(now, outcome.clone())]).await?;
            let object = ObjectRef::new(ObjectKind::DeploymentStep, format!("{}/{}", run.deployment, step.position));
            let change = Change {
                action: AuditAction::Finish,
                object,
                before: Some(&step),
                after: Some(&judged),
                reason: Some(&outcome),
            };
            self.record_for(&mut tx, &system, change).await?;
            self.set_run_state_in(&mut tx, &system, run, RunState::Active, &outcome, AuditAction::Update).await?;
            tx.commit().await?;
            moved.push(candidate.deployment);
        }
        Ok(moved)
    }
}

/// The step an operator's `decision` leaves behind when it stops at the step running, `before`.
fn step_after(
    decision: OperatorDecision,
    before: &DeploymentStep,
    by: &str,
    said: &str,
    now: tollgate_core::Timestamp,
) -> DeploymentStep {
    let (state, outcome) = match decision {
        OperatorDecision::Resume => return DeploymentStep { state: StepState::Pending, ..before.clone() },
        OperatorDecision::Skip => (StepState::Skipped, format!("skipped by {by}")),
        OperatorDecision::Abort => (StepState::Failed, format!("aborted by {by}")),
        OperatorDecision::RollBack => (StepState::Failed, format!("stopped by {by} to roll back")),
        OperatorDecision::Approve => (StepState::Succeeded, format!("approved by {by}{said}")),
        OperatorDecision::Reject => (StepState::Failed, format!("rejected by {by}{said}")),
        OperatorDecision::Pause => unreachable!("pausing leaves the running step alone"),
        OperatorDecision::Promote => unreachable!("promoting skips its steps itself"),
    };
    DeploymentStep { state, finished_at: Some(now), outcome: Some(outcome), ..before.clone() }
}

fn audit_action(decision: OperatorDecision) -> AuditAction {
    match decision {
        OperatorDecision::Resume => AuditAction::Resume,
        OperatorDecision::Skip => AuditAction::Skip,
        OperatorDecision::Abort => AuditAction::Abort,
        OperatorDecision::RollBack => AuditAction::RollBack,
        OperatorDecision::Approve => AuditAction::Approve,
        OperatorDecision::Reject => AuditAction::Reject,
        OperatorDecision::Pause => AuditAction::Pause,
        OperatorDecision::Promote => AuditAction::Promote,
    }
}

/// Whether `decision` applies to `run` as it stands (`stopped` is its running step, if any).
fn check_decision(
    run: &Run,
    stopped: Option<&DeploymentStep>,
    decision: OperatorDecision,
    promotion_skips: &[u32],
) -> ServiceResult<()> {
    let waiting = run.state == RunState::NeedsOperator;
    let judging = stopped.is_some_and(|step| step.awaiting_judgment().is_some());
    let refusal = match decision {
        _ if run.state == RunState::Finished => Some(format!("has finished ({})", run.reason.as_deref().unwrap_or(""))),
        OperatorDecision::Pause if run.state != RunState::Active => {
            Some(format!("is not running steps (its run is {}), so there is nothing to pause", run.state))
        }
        OperatorDecision::Promote if run.phase == Phase::Rollback => Some("is rolling back".to_owned()),
        OperatorDecision::Promote if promotion_skips.is_empty() => {
            Some("has no canary weights left below all of the traffic to skip".to_owned())
        }
        OperatorDecision::Promote => None,
        OperatorDecision::Resume if run.state == RunState::Paused => None,
        OperatorDecision::Resume | OperatorDecision::Skip if !waiting => {
            Some(format!("is not waiting for an operator (its run is {})", run.state))
        }
        OperatorDecision::Resume | OperatorDecision::Skip if stopped.is_none() => Some(
            "is waiting for its rollback to be confirmed, not for a step: roll_back confirms, abort ends it".to_owned(),
        ),
        OperatorDecision::Resume | OperatorDecision::Skip if judging => {
            "waits for a judgment of a manual step: approve or reject it".to_owned().into()
        }
        OperatorDecision::Approve | OperatorDecision::Reject if !waiting || !judging => {
            Some("has no manual step waiting for a judgment".to_owned())
        }
        OperatorDecision::RollBack if run.phase == Phase::Rollback && (!waiting || stopped.is_some()) => {
            Some("is rolling back already".to_owned())
        }
        _ => None,
    };
    match refusal {
        Some(reason) => Err(ServiceError::RunNotWaiting { deployment: run.deployment, reason }),
        None => Ok(()),
    }
}
