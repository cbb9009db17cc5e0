//! Orchestrated deployments: starting one (every precondition judged, the deployment recorded
//! as running, the release's services locked by a lease the engine holds, and the run stored),
//! rolling an environment back to an earlier release, the engine's fenced steps (claim, start
//! the next step, finish it), rolling back after a failure and quarantining; operators'
//! decisions and manual steps' judgments live in `operator.rs`.
//!
//! The engine itself, which runs steps, lives in `tollgate-worker`; it reaches the database only
//! through the calls here. Each of its writes checks its claim in the transaction that writes,
//! with the run's row locked, so a worker that lost its claim changes nothing.

use std::collections::BTreeMap;

use jiff::SignedDuration;
use tollgate_core::audit::{AuditAction, ObjectKind, ObjectRef};
use tollgate_core::deployment::{Deployment, DeploymentId, DeploymentInput, DeploymentStatus};
use tollgate_core::gate::check_reason;
use tollgate_core::lease::{LeaseState, LeaseTtl};
use tollgate_core::name::ServiceName;
use tollgate_core::plan::{DeploymentPlan, StepAction};
use tollgate_core::release::{ArtifactRef, Release};
use tollgate_core::rollout::{GroupShare, Rollout, TrafficSplit};
use tollgate_core::run::{
    begin_rollback, expand, next_action, quarantines, Claim, DeploymentStep, LogLine, NextAction, Phase, RollbackStart,
    Run, RunOutcome, RunState, StepState, WorkerName,
};
use tollgate_core::{Entity, Timestamp};
use tollgate_store::StoreTx;

use crate::audit::Change;
use crate::catalog::not_found;
use crate::deployment::StartMode;
use crate::release::{get_in, ReleaseRef};
use crate::{Principal, ServiceError, ServiceResult, Tollgate};

mod operator;

/// The lease the engine holds on the services it deploys: a day, renewed while the run goes on.
/// The run's own claims keep it alive across crashes; the lease keeps other deployers out.
pub(crate) const ORCHESTRATED_LEASE: LeaseTtl = LeaseTtl::ENGINE;

/// The most log lines one read returns.
pub const MAX_LOG_PAGE: u32 = 1000;

/// What a deployer asks for when Tollgate deploys.
#[derive(Debug, Clone, Default)]
pub struct StartDeployment {
    /// A reason to deploy although the deployment window is closed (breaking glass).
    pub override_window: Option<String>,
}

/// An orchestrated deployment as it stands: its record, its run and its steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentRun {
    pub deployment: Deployment,
    pub run: Run,
    pub steps: Vec<DeploymentStep>,
}

/// What a worker needs to carry out one step: the step, and what its templates may refer to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepWork {
    pub deployment: Deployment,
    pub step: DeploymentStep,
    /// The plan of the step's service, as it was when the deployment started.
    pub plan: DeploymentPlan,
    /// The artifact of the step's service in the release, if it has one.
    pub artifact: Option<ArtifactRef>,
}

/// What a run's steps may refer to, unchanged while it runs: read once per claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunContext {
    pub deployment: Deployment,
    /// The plans of the release's services as they were when the deployment started.
    pub plans: BTreeMap<ServiceName, DeploymentPlan>,
    pub artifacts: Vec<ArtifactRef>,
}

impl RunContext {
    /// What carrying out `step` needs; `None` when the run holds no plan for its service (the
    /// run's steps come from its plans, so only a corrupted run lacks one).
    pub fn work(&self, step: DeploymentStep) -> Option<StepWork> {
        let plan = self.plans.get(&step.service)?.clone();
        let artifact = self.artifacts.iter().find(|artifact| artifact.service == step.service).cloned();
        Some(StepWork { deployment: self.deployment.clone(), step, plan, artifact })
    }
}

/// What a worker does after asking for the next step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignment {
    /// Carry out this step (it is marked running, its attempt counted), then finish it.
    Run(Box<DeploymentStep>),
    /// The run needs nothing more from workers now: it finished, or waits for an operator.
    Done(RunState),
}

/// How an attempt at a step ended, as the worker reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepReport {
    pub succeeded: bool,
    /// In a sentence, secrets redacted: `exit status 0`, `GET … answered 503 after 3 attempts`.
    pub outcome: String,
    /// Attempts made beyond the first (retries).
    pub retries: u32,
    /// Output not yet stored, secrets redacted.
    pub logs: Vec<(Timestamp, String)>,
}

impl Tollgate {
    /// Judges every precondition of deploying `release` into `environment` now and, when all
    /// hold, records the deployment as running, locks the release's services there with a lease
    /// held for the engine, and stores the run of the services' deployment plans; the server's
    /// workers carry it out. Refused like [`Tollgate::acquire_lease`], and with
    /// [`ServiceError::NoDeploymentPlan`] when none of the release's services has a plan.
    pub async fn start_orchestrated(
        &self,
        principal: &Principal,
        release: &ReleaseRef,
        environment: &str,
        request: StartDeployment,
    ) -> ServiceResult<DeploymentRun> {
        let release = self.judge_start(principal, release, environment, request.override_window.is_some()).await?;
        let input = DeploymentInput { override_window: request.override_window, ..DeploymentInput::default() };
        let (deployment, _) =
            self.start_deployment(principal, &release, environment, input, StartMode::Orchestrate).await?;
        let mut read = self.store.read().await?;
        load_run(&mut read, deployment.id).await
    }

    /// Rolls `environment` back to `release`, a release that ran there before (deployed or
    /// closed, its deployment there succeeded), for `cause`: a deployment of its own kind,
    /// carried out by the engine with the services' plans as they are now, recorded with the
    /// cause. Authorized as deploying it there; refused when its artifacts are missing or changed
    /// (or unsigned, for prod), when another deployment holds one of its services, or when the
    /// environment is quarantined. Gates, the deployment window and change requests are not
    /// judged: they were when the release went there first, and a rollback must not wait.
    pub async fn roll_back_to(
        &self,
        principal: &Principal,
        release: &ReleaseRef,
        environment: &str,
        cause: &str,
    ) -> ServiceResult<DeploymentRun> {
        let cause = check_reason(cause).map_err(|problem| ServiceError::invalid("reason", problem))?;
        let mode = StartMode::RollBack { cause };
        let (deployment, _) =
            self.start_deployment(principal, release, environment, DeploymentInput::default(), mode).await?;
        let mut read = self.store.read().await?;
        load_run(&mut read, deployment.id).await
    }

    /// Stores the run of `deployment`: the plans of the release's services and their steps.
    /// Fails with [`ServiceError::NoDeploymentPlan`] when no service of the release has a plan.
    pub(crate) async fn insert_run_in(
        &self,
        tx: &mut StoreTx,
        principal: &Principal,
        release: &Release,
        deployment: &Deployment,
    ) -> ServiceResult<()> {
        let mut services = Vec::new();
        for name in release.content.services() {
            services.push(tx.find_service(name).await?.ok_or_else(|| not_found(Entity::Service, name))?);
        }
        let live: BTreeMap<ServiceName, Vec<GroupShare>> = tx
            .traffic_splits_at(&deployment.environment, deployment.started_at)
            .await?
            .into_iter()
            .map(|split| (split.service, split.shares))
            .collect();
        let rollout = Rollout {
            environment: &deployment.environment,
            release: release.id,
            version: &release.content.version,
            live: &live,
        };
        let steps = expand(&services, &rollout)?;
        if steps.is_empty() {
            let services = services.iter().map(|service| service.name.to_string()).collect();
            return Err(ServiceError::NoDeploymentPlan { release: release.content.version.clone(), services });
        }
        let plans: BTreeMap<ServiceName, DeploymentPlan> =
            services.into_iter().filter_map(|service| service.deploy.map(|plan| (service.name, plan))).collect();
        tx.insert_run(deployment.id, &plans, &steps).await?;
        let run = tx.lock_run(deployment.id).await?;
        let object = ObjectRef::new(ObjectKind::Run, deployment.id);
        let change = Change { action: AuditAction::Create, object, before: None, after: Some(&run), reason: None };
        self.record_for(tx, principal, change).await
    }

    /// Claims a run that needs a worker (unclaimed, or its claim lapsed) for `worker`, for
    /// `ttl`; `None` when there is none. Of several workers claiming one run, one gets it.
    pub async fn claim_run(&self, worker: &WorkerName, ttl: SignedDuration) -> ServiceResult<Option<Claim>> {
        let now = self.now();
        let candidates = {
            let mut read = self.store.read().await?;
            read.list_claimable_runs(now, 8).await?
        };
        for run in candidates {
            let claim = Claim {
                deployment: run.deployment,
                worker: worker.clone(),
                epoch: run.epoch + 1,
                expires_at: expires(now, ttl),
            };
            let mut tx = self.store.begin_unaudited().await?;
            if tx.claim_run(&claim, now).await? {
                tx.commit().await?;
                return Ok(Some(claim));
            }
        }
        Ok(None)
    }

    /// Extends `claim` by `ttl` from now, while it is still the run's claim; also renews the
    /// engine's lease on the services once half of it has passed.
    pub async fn renew_claim(&self, claim: &Claim, ttl: SignedDuration) -> ServiceResult<Claim> {
        let now = self.now();
        let renewed = Claim { expires_at: expires(now, ttl), ..claim.clone() };
        let mut tx = self.store.begin_unaudited().await?;
        let run = tx.lock_run(claim.deployment).await?;
        run.check_claim(claim, now)?;
        tx.update_run(&Run { claim_expires_at: Some(renewed.expires_at), ..run }).await?;
        tx.commit().await?;
        self.renew_engine_lease(claim.deployment).await?;
        Ok(renewed)
    }

    /// Decides what the holder of `claim` does next, in one transaction with its claim checked:
    /// marks the next step running and hands it over, or records that the run needs an operator,
    /// or begins rolling back after a failure, or finishes the deployment.
    pub async fn next_assignment(&self, claim: &Claim) -> ServiceResult<Assignment> {
        let mut tx = self.store.begin().await?;
        let run = tx.lock_run(claim.deployment).await?;
        run.check_claim(claim, self.now())?;
        let assignment = self.assign_in(&mut tx, claim, run).await?;
        tx.commit().await?;
        Ok(assignment)
    }

    /// `next_assignment` inside a transaction that locked `run` and checked the claim.
    async fn assign_in(&self, tx: &mut StoreTx, claim: &Claim, mut run: Run) -> ServiceResult<Assignment> {
        let now = self.now();
        let system = Principal::system();
        // The first unfinished step of the phase decides (every step before it succeeded or was
        // skipped), so it is the only one read. A failure that starts the rollback goes round
        // once more, in the rollback phase.
        let (position, next) = loop {
            // A paused run starts no further step: its worker lets go of it until it is resumed.
            if run.state == RunState::Paused {
                tx.update_run(&Run { worker: None, claim_expires_at: None, ..run }).await?;
                return Ok(Assignment::Done(RunState::Paused));
            }
            let next = tx.next_unfinished_step(claim.deployment, run.phase).await?;
            match (next_action(run.phase, next.as_slice()), run.phase) {
                (NextAction::Start(position) | NextAction::Rerun(position), _) => break (position, next),
                (NextAction::AwaitJudgment(_), _) => {
                    let waiting = next.expect("next_action names the step it was given");
                    self.await_judgment_in(tx, &system, run, waiting).await?;
                    return Ok(Assignment::Done(RunState::NeedsOperator));
                }
                (NextAction::AskOperator { reason, .. }, _) => {
                    self.set_run_state_in(tx, &system, run, RunState::NeedsOperator, &reason, AuditAction::Update)
                        .await?;
                    return Ok(Assignment::Done(RunState::NeedsOperator));
                }
                (NextAction::Succeed, Phase::Deploy) => {
                    let reason = "every step of its run succeeded";
                    self.end_run_in(tx, &system, claim.deployment, RunOutcome::Succeeded, reason).await?;
                    return Ok(Assignment::Done(RunState::Finished));
                }
                (NextAction::Succeed, Phase::Rollback) => {
                    let cause = run.reason.clone().unwrap_or_default();
                    let reason = format!("{cause}; its rollback succeeded");
                    self.end_run_in(tx, &system, claim.deployment, RunOutcome::RolledBack, &reason).await?;
                    return Ok(Assignment::Done(RunState::Finished));
                }
                (NextAction::Fail { reason, .. }, Phase::Deploy) => {
                    match self.begin_rollback_in(tx, &system, run, &reason, Confirmation::AsPlanned).await? {
                        Some(rolling_back) if rolling_back.state == RunState::Active => run = rolling_back,
                        Some(waiting) => return Ok(Assignment::Done(waiting.state)),
                        None => return Ok(Assignment::Done(RunState::Finished)),
                    }
                }
                (NextAction::Fail { reason, .. }, Phase::Rollback) => {
                    let cause = run.reason.clone().unwrap_or_default();
                    let reason = format!("{cause}; the rollback failed: {reason}");
                    self.end_run_in(tx, &system, claim.deployment, RunOutcome::RollbackFailed, &reason).await?;
                    return Ok(Assignment::Done(RunState::Finished));
                }
            }
        };
        let before = next.expect("next_action names the step it was given");
        debug_assert_eq!(before.position, position);
        let rerun = before.state == StepState::Running;
        let step = DeploymentStep {
            state: StepState::Running,
            attempts: before.attempts + 1,
            started_at: Some(now),
            finished_at: None,
            outcome: None,
            ..before
        };
        tx.update_step(&step).await?;
        if rerun {
            let line = format!("worker {} runs the step again: it was running when its worker stopped", claim.worker);
            tx.append_logs(claim.deployment, position, &[(now, line)]).await?;
        }
        Ok(Assignment::Run(Box::new(step)))
    }

    /// Starts (or resumes) the wait of a manual step for a person's judgment: the step is marked
    /// running, and the run handed to operators, its reason saying what is asked, by when, and
    /// what happens then. No worker holds the run while it waits; the server's timer applies the
    /// default once the step's timeout has passed ([`Tollgate::expire_judgments`]).
    async fn await_judgment_in(
        &self,
        tx: &mut StoreTx,
        principal: &Principal,
        run: Run,
        step: DeploymentStep,
    ) -> ServiceResult<()> {
        let step = match step.state {
            StepState::Pending => {
                let running = DeploymentStep {
                    state: StepState::Running,
                    attempts: step.attempts + 1,
                    started_at: Some(self.now()),
                    ..step
                };
                tx.update_step(&running).await?;
                running
            }
            _ => step,
        };
        let (prompt, deadline, default) = step.awaiting_judgment().expect("a running manual step awaits a judgment");
        let reason = format!(
            "step {} waits for a judgment: {prompt} (approve or reject; {default} by default at {deadline})",
            step.path()
        );
        self.set_run_state_in(tx, principal, run, RunState::NeedsOperator, &reason, AuditAction::Update).await
    }

    /// Decides, after the deploy phase of `run` failed (`cause`), whether it rolls back, and
    /// records it: the rollback steps of services never touched are skipped and the run enters
    /// its rollback phase, active or waiting for an operator's confirmation (`confirmation`
    /// given counts as one). Returns the run as it is then, or `None` when the deployment ended
    /// (nothing to roll back, or the rollback refused).
    async fn begin_rollback_in(
        &self,
        tx: &mut StoreTx,
        principal: &Principal,
        run: Run,
        cause: &str,
        confirmation: Confirmation,
    ) -> ServiceResult<Option<Run>> {
        let deployment = run.deployment;
        let steps = tx.list_steps(deployment).await?;
        let plans = tx.run_plans(deployment).await?;
        let (skip, waits_for) = match begin_rollback(&steps, &plans) {
            RollbackStart::Nothing => {
                self.end_run_in(tx, principal, deployment, RunOutcome::Failed, cause).await?;
                return Ok(None);
            }
            RollbackStart::Refused { reason } => {
                let reason = format!("{cause}; {reason}");
                self.end_run_in(tx, principal, deployment, RunOutcome::RollbackFailed, &reason).await?;
                return Ok(None);
            }
            RollbackStart::Go { skip } => (skip, None),
            RollbackStart::Confirm { skip, reason } => match confirmation {
                Confirmation::Given => (skip, None),
                Confirmation::AsPlanned => (skip, Some(reason)),
            },
        };
        let now = self.now();
        for step in steps.iter().filter(|step| skip.contains(&step.position)) {
            let outcome = format!("not needed: no step of {} began", step.service);
            let skipped = DeploymentStep {
                state: StepState::Skipped,
                finished_at: Some(now),
                outcome: Some(outcome),
                ..step.clone()
            };
            tx.update_step(&skipped).await?;
        }
        // An automatic rollback goes on under the claim that saw the failure; one that waits for
        // an operator drops it, like every hand-over.
        let after = match &waits_for {
            None => Run { phase: Phase::Rollback, reason: Some(cause.to_owned()), ..run.clone() },
            Some(question) => Run {
                phase: Phase::Rollback,
                state: RunState::NeedsOperator,
                worker: None,
                claim_expires_at: None,
                reason: Some(format!("{cause}; {question}")),
                ..run.clone()
            },
        };
        tx.update_run(&after).await?;
        let object = ObjectRef::new(ObjectKind::Run, deployment);
        let change = Change {
            action: AuditAction::RollBack,
            object,
            before: Some(&run),
            after: Some(&after),
            reason: after.reason.as_deref(),
        };
        self.record_for(tx, principal, change).await?;
        Ok(Some(after))
    }

    /// Ends the deployment of a run as `outcome` says (succeeded, failed or rolled back), and
    /// quarantines its environment when the plans of the services it touched ask for it.
    async fn end_run_in(
        &self,
        tx: &mut StoreTx,
        principal: &Principal,
        deployment: DeploymentId,
        outcome: RunOutcome,
        reason: &str,
    ) -> ServiceResult<()> {
        let status = match outcome {
            RunOutcome::Succeeded => DeploymentStatus::Succeeded,
            RunOutcome::RolledBack => DeploymentStatus::RolledBack,
            RunOutcome::Failed | RunOutcome::RollbackFailed => DeploymentStatus::Failed,
        };
        let finished = self.finish_in(tx, principal, deployment, status, reason).await?;
        // A success quarantines nothing: no need to read the run again on the engine's path.
        if outcome == RunOutcome::Succeeded {
            return Ok(());
        }
        let steps = tx.list_steps(deployment).await?;
        let plans = tx.run_plans(deployment).await?;
        if quarantines(outcome, &steps, &plans) {
            self.quarantine_in(tx, principal, &finished, reason).await?;
        }
        Ok(())
    }

    /// What the steps of the run `claim` holds may refer to: its deployment, the plans as they
    /// were at its start, the release's artifacts. Read once per claim: none of it changes.
    pub async fn run_context(&self, claim: &Claim) -> ServiceResult<RunContext> {
        let mut read = self.store.read().await?;
        let deployment = read
            .find_deployment(claim.deployment)
            .await?
            .ok_or_else(|| not_found(Entity::Deployment, claim.deployment))?;
        let release = get_in(&mut read, &ReleaseRef::Id(deployment.release)).await?;
        let plans = read.run_plans(claim.deployment).await?;
        Ok(RunContext { deployment, plans, artifacts: release.content.artifacts })
    }

    /// Stores the output of a running step so far, for the holder of `claim`.
    pub async fn append_step_logs(
        &self,
        claim: &Claim,
        position: u32,
        lines: &[(Timestamp, String)],
    ) -> ServiceResult<()> {
        let mut tx = self.store.begin_unaudited().await?;
        tx.lock_run(claim.deployment).await?.check_claim(claim, self.now())?;
        tx.append_logs(claim.deployment, position, lines).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records how the step at `position` ended, for the holder of `claim`, with its audit
    /// entry, and decides what the worker does next (as `next_assignment`), in one transaction;
    /// refused with [`ServiceError::ClaimLost`] when the claim is no longer the run's.
    pub async fn finish_step(
        &self,
        claim: &Claim,
        position: u32,
        report: StepReport,
    ) -> ServiceResult<(DeploymentStep, Assignment)> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let run = tx.lock_run(claim.deployment).await?;
        run.check_claim(claim, now)?;
        let before = tx
            .find_step(claim.deployment, position)
            .await?
            .ok_or_else(|| not_found(Entity::DeploymentStep, format!("{}/{position}", claim.deployment)))?;
        if before.state != StepState::Running {
            return Err(ServiceError::Conflict {
                entity: Entity::DeploymentStep,
                key: format!("{} (it is {}, not running)", before.path(), before.state),
            });
        }
        let after = DeploymentStep {
            state: if report.succeeded { StepState::Succeeded } else { StepState::Failed },
            attempts: before.attempts + report.retries,
            finished_at: Some(now),
            outcome: Some(report.outcome),
            ..before.clone()
        };
        tx.update_step(&after).await?;
        tx.append_logs(claim.deployment, position, &report.logs).await?;
        if let (StepState::Succeeded, StepAction::Traffic(shift)) = (after.state, &after.spec.action) {
            if !shift.shares.is_empty() {
                let deployment = tx
                    .find_deployment(claim.deployment)
                    .await?
                    .ok_or_else(|| not_found(Entity::Deployment, claim.deployment))?;
                let environment = deployment.environment;
                let split = TrafficSplit {
                    environment,
                    service: after.service.clone(),
                    deployment: claim.deployment,
                    position,
                    at: now,
                    shares: shift.shares.clone(),
                };
                tx.upsert_traffic_split(&split).await?;
            }
        }
        let object = ObjectRef::new(ObjectKind::DeploymentStep, format!("{}/{position}", claim.deployment));
        let change =
            Change { action: AuditAction::Finish, object, before: Some(&before), after: Some(&after), reason: None };
        self.record_for(&mut tx, &Principal::system(), change).await?;
        let next = self.assign_in(&mut tx, claim, run).await?;
        tx.commit().await?;
        Ok((after, next))
    }

    /// An orchestrated deployment with its run and steps.
    pub async fn get_run(&self, principal: &Principal, deployment: DeploymentId) -> ServiceResult<DeploymentRun> {
        self.authorize_read(principal).await?;
        let mut read = self.store.read().await?;
        load_run(&mut read, deployment).await
    }

    /// What the steps of an orchestrated deployment printed, after line `after` (step position
    /// and line), at most `limit` lines (capped at [`MAX_LOG_PAGE`]).
    pub async fn list_logs(
        &self,
        principal: &Principal,
        deployment: DeploymentId,
        after: Option<(u32, u64)>,
        limit: u32,
    ) -> ServiceResult<Vec<LogLine>> {
        self.authorize_read(principal).await?;
        let mut read = self.store.read().await?;
        read.find_run(deployment).await?.ok_or_else(|| not_found(Entity::Run, deployment))?;
        Ok(read.list_logs(deployment, after, limit.clamp(1, MAX_LOG_PAGE)).await?)
    }

    /// Marks the run of a deployment that finished (by its engine, an operator or an expired
    /// lease) as finished, so no worker picks it up again; `reason` says why it ended.
    pub(crate) async fn finish_run_in(
        &self,
        tx: &mut StoreTx,
        principal: &Principal,
        deployment: &Deployment,
        reason: &str,
    ) -> ServiceResult<()> {
        let Some(run) = tx.find_run(deployment.id).await? else { return Ok(()) };
        if run.state == RunState::Finished {
            return Ok(());
        }
        let run = tx.lock_run(deployment.id).await?;
        let reason = format!("{}: {reason}", deployment.status);
        self.set_run_state_in(tx, principal, run, RunState::Finished, &reason, AuditAction::Update).await
    }

    async fn set_run_state_in(
        &self,
        tx: &mut StoreTx,
        principal: &Principal,
        before: Run,
        state: RunState,
        reason: &str,
        action: AuditAction,
    ) -> ServiceResult<()> {
        // A run that changes hands between worker and operator drops its claim: the next worker
        // claims it afresh, with the next epoch.
        let after =
            Run { state, worker: None, claim_expires_at: None, reason: Some(reason.to_owned()), ..before.clone() };
        tx.update_run(&after).await?;
        let object = ObjectRef::new(ObjectKind::Run, before.deployment);
        let change = Change { action, object, before: Some(&before), after: Some(&after), reason: Some(reason) };
        self.record_for(tx, principal, change).await
    }

    /// Renews the engine's lease on the services of `deployment` once half of it has passed.
    async fn renew_engine_lease(&self, deployment: DeploymentId) -> ServiceResult<()> {
        let now = self.now();
        let due = {
            let mut read = self.store.read().await?;
            read.find_lease(deployment).await?.filter(|lease| {
                lease.state(now) == LeaseState::Held
                    && lease.expires_at.duration_since(now) < ORCHESTRATED_LEASE.duration() / 2
            })
        };
        let Some(lease) = due else { return Ok(()) };
        let mut tx = self.store.begin().await?;
        let Some(before) = tx.find_lease(deployment).await?.filter(|found| *found == lease) else { return Ok(()) };
        let after = before.renewed(before.epoch, None, now)?;
        tx.renew_lease(&after).await?;
        let object = ObjectRef::new(ObjectKind::Lease, deployment);
        let change =
            Change { action: AuditAction::Renew, object, before: Some(&before), after: Some(&after), reason: None };
        self.record_for(&mut tx, &Principal::system(), change).await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn load_run(conn: &mut tollgate_store::Conn, deployment: DeploymentId) -> ServiceResult<DeploymentRun> {
    let found = conn.find_deployment(deployment).await?.ok_or_else(|| not_found(Entity::Deployment, deployment))?;
    let run = conn.find_run(deployment).await?.ok_or_else(|| not_found(Entity::Run, deployment))?;
    let steps = conn.list_steps(deployment).await?;
    Ok(DeploymentRun { deployment: found, run, steps })
}

/// Whether an operator's confirmation of a rollback was given with the decision that starts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Confirmation {
    /// The operator asked to roll back: a rollback that needs confirmation has it.
    Given,
    /// As the plans say: a rollback that needs confirmation waits for one.
    AsPlanned,
}

fn expires(now: Timestamp, ttl: SignedDuration) -> Timestamp {
    now.checked_add(ttl).expect("a claim's expiry is representable")
}
