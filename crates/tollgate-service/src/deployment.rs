//! Deployments and the release register.
//!
//! Recording a deployment checks the promotion path, binds the record to the release's manifest
//! digest, and moves the release: the first deployment starts it (ready → deploying), success in
//! the last environment of its lifecycle completes it (deploying → deployed).

use tollgate_authz::{Action, Context};
use tollgate_core::audit::{AuditAction, ObjectKind, ObjectRef};
use tollgate_core::calendar::{OverrideKind, WindowOverride};
use tollgate_core::deployment::{
    check_promotion, check_rollback, running_at, Deployment, DeploymentCheck, DeploymentId, DeploymentInput,
    DeploymentStatus, Precondition, PreconditionResult, Promotion, RunningService,
};
use tollgate_core::environment::{Environment, Tier};
use tollgate_core::gate::check_reason;
use tollgate_core::lease::{Lease, LeaseTtl};
use tollgate_core::lifecycle::Lifecycle;
use tollgate_core::name::{EnvironmentName, ServiceName};
use tollgate_core::release::{Release, ReleaseAction, ReleaseState, ReleaseType};
use tollgate_core::Entity;
use tollgate_core::Page;
use tollgate_core::Timestamp;
use tollgate_store::tx::NewDeployment;
use tollgate_store::{Conn, StoreTx};

use crate::audit::Change;
use crate::authz::environment_resource;
use crate::catalog::{not_found, parse_key};
use crate::readiness::{ArtifactsSnapshot, Binding};
use crate::release::{get_in, ReleaseRef};
use crate::{Principal, ServiceError, ServiceResult, Tollgate};

/// A deployment check without its artifacts (every precondition records decide), with what
/// hashing the artifacts needs.
pub(crate) struct JudgedRecords {
    pub check: DeploymentCheck,
    pub snapshot: ArtifactsSnapshot,
}

/// What starting a deployment writes besides the deployment record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StartMode {
    /// The record alone: a deployment made by another tool, reported after the fact.
    Record,
    /// A lease on the release's services for a deployer that is not Tollgate.
    Lease(LeaseTtl),
    /// A lease held by the engine and the run it carries out.
    Orchestrate,
    /// As `Orchestrate`, rolling the environment back to a release that ran there before, for
    /// `cause`: judged as a rollback (the release deployed or closed, live there before) instead
    /// of a promotion, and without the gates, window and change request a promotion needs.
    RollBack { cause: String },
}

impl StartMode {
    fn promotion(
        &self,
        release: &Release,
        lifecycle: &Lifecycle,
        environment: &EnvironmentName,
        succeeded_in: &std::collections::BTreeSet<EnvironmentName>,
    ) -> ServiceResult<Promotion> {
        let judged = match self {
            StartMode::RollBack { cause } => check_rollback(release, environment, succeeded_in, cause),
            _ => check_promotion(release, lifecycle, environment, succeeded_in),
        };
        judged.map_err(ServiceError::Promotion)
    }
}

/// What runs in one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentRegister {
    pub environment: Environment,
    pub services: Vec<RunningService>,
    /// The traffic split of each service a blue-green or canary rollout moved traffic of: while
    /// one runs, both versions and their weights.
    pub traffic: Vec<tollgate_core::rollout::TrafficSplit>,
}

impl Tollgate {
    /// Records a deployment of `release` to `environment`. A running deployment is refused while
    /// a lease held by another deployment locks one of the release's services there.
    pub async fn record_deployment(
        &self,
        principal: &Principal,
        release: &ReleaseRef,
        environment: &str,
        input: DeploymentInput,
    ) -> ServiceResult<Deployment> {
        Ok(self.start_deployment(principal, release, environment, input, StartMode::Record).await?.0)
    }

    /// Records a deployment and, as `mode` asks, grants it a lease on the release's services in
    /// the environment and stores the run the engine carries out, all in one transaction.
    pub(crate) async fn start_deployment(
        &self,
        principal: &Principal,
        release: &ReleaseRef,
        environment: &str,
        input: DeploymentInput,
        mode: StartMode,
    ) -> ServiceResult<(Deployment, Option<Lease>)> {
        let environment = parse_key(environment, EnvironmentName::parse)?;
        let override_reason = match input.override_window.as_deref() {
            Some(reason) => {
                Some(check_reason(reason).map_err(|problem| ServiceError::invalid("override_window", problem))?)
            }
            None => None,
        };
        let times = input.parse(self.now())?;
        let authorized = self.authorize_deployment(principal, Action::Deploy, release, &environment).await?;
        // Breaking glass is asked for up front and authorized as such, whether or not the
        // window turns out to be closed; it is recorded only when it was needed.
        if let Some(reason) = &override_reason {
            let context = Context { reason: Some(reason.clone()), ..Context::default() };
            self.authorize(principal, Action::OverrideWindow, environment_resource(&authorized), context).await?;
        }
        let (checked, require_signatures, snapshot) = {
            let mut read = self.store.read().await?;
            let candidate = get_in(&mut read, release).await?;
            let target = read
                .find_environment(&environment)
                .await?
                .ok_or_else(|| not_found(Entity::Environment, &environment))?;
            // The promotion rules first: they are the more fundamental refusal.
            let lifecycle = lifecycle_of(&mut read, &candidate).await?;
            let succeeded_in = read.succeeded_environments(candidate.id).await?;
            mode.promotion(&candidate, &lifecycle, &environment, &succeeded_in)?;
            let require_signatures = target.tier == Tier::Prod;
            let snapshot = self.read_artifacts(&mut read, &candidate, require_signatures).await?;
            (candidate, require_signatures, snapshot)
        };
        // Approved is what deploys: every artifact is re-verified on disk, with no connection held.
        let mut tx = self.hash_then_begin(&snapshot).await?;
        let target =
            tx.find_environment(&environment).await?.ok_or_else(|| not_found(Entity::Environment, &environment))?;
        // Authorization judged the tier it read; a tier changed since is refused, not slipped through.
        if target.tier != authorized.tier {
            return Err(ServiceError::Conflict {
                entity: Entity::Environment,
                key: format!("{environment} (its tier changed while the deployment was checked)"),
            });
        }
        // Signatures are judged from records, so a tier that became prod meanwhile is judged here.
        let require_signatures = require_signatures || target.tier == Tier::Prod;
        let mut current = self.recheck_in(&mut tx, &checked, Binding::ManifestDigest, require_signatures).await?;
        let lifecycle = lifecycle_of(&mut tx, &current).await?;
        let succeeded_in = tx.succeeded_environments(current.id).await?;
        let promotion = mode.promotion(&current, &lifecycle, &environment, &succeeded_in)?;
        let rollback = matches!(mode, StartMode::RollBack { .. });
        // A rollback puts back what was approved, gated and deployed before, now: it waits for no
        // gate, window or change request (its artifacts are verified as for any deployment).
        if !rollback {
            // Approved is what deploys: the environment's blocking gates passed for this content.
            self.check_gates_in(&mut tx, &current, &environment).await?;
        }
        // The window at the deployment's start, judged in the transaction that records it, so a
        // freeze added meanwhile refuses it.
        let window_override = match rollback {
            true => None,
            false => {
                window_override_in(self, &mut tx, &current, &target, times.started_at, override_reason.as_deref())
                    .await?
            }
        };
        // Approved is what deploys: where the environment requires a change, an approved
        // change request for this content whose planned interval holds the start.
        let change_request = match rollback {
            true => None,
            false => self.change_for_deployment_in(&mut tx, &current, &target, times.started_at).await?,
        };
        // Where the change policy asks for it, the release's rollback was tested elsewhere first.
        if !rollback {
            rollback_tested_in(&mut tx, &current, &environment).await?;
        }
        // One deployment per environment and service at a time: judged in the transaction that
        // records it, which no other deployment write can interleave with.
        let services: Vec<ServiceName> = current.content.services().cloned().collect();
        let taken_over = match times.status {
            DeploymentStatus::Running => match self.locks_in(&mut tx, &environment, &services).await? {
                (conflicts, _) if !conflicts.is_empty() => return Err(ServiceError::LeaseHeld(conflicts)),
                (_, expired) => expired,
            },
            _ => Vec::new(),
        };
        // A quarantined environment takes no new deployment; one recorded after the fact (it
        // already finished) is history, not a deployment that starts now.
        if times.status == DeploymentStatus::Running {
            if let Some(quarantine) = tx.find_quarantine(&environment).await? {
                return Err(ServiceError::Quarantined(Box::new(quarantine)));
            }
        }
        let new = NewDeployment {
            release: current.id,
            environment: &environment,
            manifest_digest: current.manifest_digest(),
            times,
            promotion: &promotion,
            actor: &principal.user.name,
        };
        let id = tx.insert_deployment(&new).await?;
        let deployment = tx.find_deployment(id).await?.ok_or_else(|| not_found(Entity::Deployment, id))?;
        let object = ObjectRef::new(ObjectKind::Deployment, id);
        let change = Change {
            action: AuditAction::Record,
            object: object.clone(),
            before: None,
            after: Some(&deployment),
            reason: None,
        };
        self.record_for(&mut tx, principal, change).await?;
        let lease = match mode {
            StartMode::Record => None,
            StartMode::Lease(ttl) => {
                Some(self.grant_lease_in(&mut tx, principal, &deployment, services, taken_over, ttl).await?)
            }
            StartMode::Orchestrate | StartMode::RollBack { .. } => {
                self.insert_run_in(&mut tx, principal, &current, &deployment).await?;
                let ttl = crate::run::ORCHESTRATED_LEASE;
                Some(self.grant_lease_in(&mut tx, principal, &deployment, services, taken_over, ttl).await?)
            }
        };
        if let Some(window_override) = window_override {
            let change = Change {
                action: AuditAction::Override,
                object,
                before: None,
                after: Some(&window_override),
                reason: window_override.reason.as_deref(),
            };
            self.record_for(&mut tx, principal, change).await?;
        }
        if let Some(change_request) = change_request {
            self.follow_deployment_in(&mut tx, principal, change_request, &deployment).await?;
        }
        if current.state == ReleaseState::Ready {
            current = self.transition_in(&mut tx, principal, &current, ReleaseAction::StartDeployment, None).await?;
        }
        self.complete_if_last(&mut tx, principal, &current, &lifecycle, &deployment).await?;
        tx.commit().await?;
        Ok((deployment, lease))
    }

    /// Whether `release` may be deployed into `environment` now, with every precondition
    /// judged: what recording a deployment checks, for tools that deploy themselves and use
    /// Tollgate as the gate. Writes nothing (a question is not an attempt, so a denial of
    /// `deploy` is not audited here); reading is what it needs.
    pub async fn check_deployment(
        &self,
        principal: &Principal,
        release: &ReleaseRef,
        environment: &str,
    ) -> ServiceResult<DeploymentCheck> {
        let judged = self.judge_records(principal, release, environment).await?;
        self.judge_artifacts(judged).await
    }

    /// Every precondition that records decide, judged on one snapshot: the check without its
    /// artifacts, and what hashing them needs.
    pub(crate) async fn judge_records(
        &self,
        principal: &Principal,
        release: &ReleaseRef,
        environment: &str,
    ) -> ServiceResult<JudgedRecords> {
        let environment = parse_key(environment, EnvironmentName::parse)?;
        self.authorize_read(principal).await?;
        let at = self.now();
        let mut results = Vec::new();
        let (candidate, snapshot) = {
            let mut read = self.store.read().await?;
            let candidate = get_in(&mut read, release).await?;
            let target = read
                .find_environment(&environment)
                .await?
                .ok_or_else(|| not_found(Entity::Environment, &environment))?;
            let facts = self.release_facts(&mut read, &candidate).await?;
            let context = Context { release: Some(facts), ..Context::default() };
            let decision =
                self.decide_in(&mut read, principal, Action::Deploy, environment_resource(&target), context).await?;
            let reasons = if decision.allowed { Vec::new() } else { vec![decision.reason()] };
            results.push(PreconditionResult {
                precondition: Precondition::Authorization,
                passed: decision.allowed,
                reasons,
            });

            let lifecycle = lifecycle_of(&mut read, &candidate).await?;
            let succeeded_in = read.succeeded_environments(candidate.id).await?;
            let promotion = check_promotion(&candidate, &lifecycle, &environment, &succeeded_in);
            let reasons = promotion.err().unwrap_or_default().iter().map(ToString::to_string).collect();
            results.push(judged(Precondition::Promotion, reasons));

            let snapshot = self.read_artifacts(&mut read, &candidate, target.tier == Tier::Prod).await?;
            let gates = refusal(self.check_gates_in(&mut read, &candidate, &environment).await)?;
            let services: Vec<ServiceName> = candidate.content.services().cloned().collect();
            let window = self.window_state_in(&mut read, &target, &services, at).await?;
            let window = match (window.open, candidate.content.release_type) {
                (true, _) => PreconditionResult { precondition: Precondition::Window, passed: true, reasons: Vec::new() },
                (false, ReleaseType::Emergency) => PreconditionResult {
                    precondition: Precondition::Window,
                    passed: true,
                    reasons: vec![format!(
                        "{} is closed ({}), but an emergency release deploys anyway; the override is audited when the deployment is recorded",
                        environment,
                        window.reasons().join("; ")
                    )],
                },
                (false, _) => judged(Precondition::Window, vec![ServiceError::WindowClosed(Box::new(window)).to_string()]),
            };
            let change = refusal(self.change_for_deployment_in(&mut read, &candidate, &target, at).await.map(drop))?;
            results.push(judged(Precondition::Gates, gates));
            results.push(window);
            results.push(judged(Precondition::Change, change));
            let (conflicts, _) = self.locks_in(&mut read, &environment, &services).await?;
            results.push(judged(Precondition::Lock, conflicts.iter().map(ToString::to_string).collect()));
            let quarantine = read.find_quarantine(&environment).await?;
            results.push(judged(Precondition::Quarantine, quarantine.iter().map(ToString::to_string).collect()));
            let untested = refusal(rollback_tested_in(&mut read, &candidate, &environment).await)?;
            results.push(judged(Precondition::RollbackTested, untested));
            (candidate, snapshot)
        };
        let allowed = results.iter().all(|result| result.passed);
        let check = DeploymentCheck { release: candidate.content.version.clone(), environment, at, allowed, results };
        Ok(JudgedRecords { check, snapshot })
    }

    /// The check completed with its artifacts, hashed on disk as a deployment hashes them, with
    /// no connection held.
    pub(crate) async fn judge_artifacts(&self, records: JudgedRecords) -> ServiceResult<DeploymentCheck> {
        let JudgedRecords { mut check, snapshot } = records;
        let problems = self.artifact_problems(&snapshot).await?;
        let artifacts = judged(Precondition::Artifacts, problems.iter().map(ToString::to_string).collect());
        check.allowed &= artifacts.passed;
        check.results.insert(2, artifacts);
        Ok(check)
    }

    /// Moves a deployment to `status`: a running one to succeeded or failed, a succeeded one
    /// to rolled back.
    pub async fn finish_deployment(
        &self,
        principal: &Principal,
        id: DeploymentId,
        status: DeploymentStatus,
    ) -> ServiceResult<Deployment> {
        let (release, environment) = {
            let mut read = self.store.read().await?;
            let deployment = read.find_deployment(id).await?.ok_or_else(|| not_found(Entity::Deployment, id))?;
            (ReleaseRef::Id(deployment.release), deployment.environment)
        };
        self.authorize_deployment(principal, Action::DeploymentFinish, &release, &environment).await?;
        let mut tx = self.store.begin().await?;
        // An operator who finishes a deployment ends its lease too: the deployer lost it.
        let after = self.finish_in(&mut tx, principal, id, status, "its deployment was finished").await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Moves deployment `id` to `status` in `tx`, with its audit entry, its change request
    /// followed, its release completed when it was the last stage, and its lease, if one is
    /// still unreleased, released with `lease_reason`.
    pub(crate) async fn finish_in(
        &self,
        tx: &mut StoreTx,
        principal: &Principal,
        id: DeploymentId,
        status: DeploymentStatus,
        lease_reason: &str,
    ) -> ServiceResult<Deployment> {
        let before = tx.find_deployment(id).await?.ok_or_else(|| not_found(Entity::Deployment, id))?;
        let after = before.finish(status, self.now())?;
        tx.update_deployment(&after, before.status).await?;
        self.finish_run_in(tx, principal, &after, lease_reason).await?;
        let object = ObjectRef::new(ObjectKind::Deployment, id);
        let change =
            Change { action: AuditAction::Finish, object, before: Some(&before), after: Some(&after), reason: None };
        self.record_for(tx, principal, change).await?;
        if let Some(lease) = tx.find_lease(id).await?.filter(|lease| lease.released_at.is_none()) {
            self.release_lease_in(tx, principal, &lease, Some(lease_reason)).await?;
        }
        if let Some(change_request) = self.change_of_deployment_in(tx, &after).await? {
            self.follow_deployment_in(tx, principal, change_request, &after).await?;
        }
        let release = get_in(tx, &ReleaseRef::Id(after.release)).await?;
        let lifecycle = lifecycle_of(tx, &release).await?;
        self.complete_if_last(tx, principal, &release, &lifecycle, &after).await?;
        Ok(after)
    }

    /// Authorizes `action` about `release` in `environment`; returns the environment as judged.
    pub(crate) async fn authorize_deployment(
        &self,
        principal: &Principal,
        action: Action,
        release: &ReleaseRef,
        environment: &EnvironmentName,
    ) -> ServiceResult<Environment> {
        let (context, target) = {
            let mut read = self.store.read().await?;
            let candidate = get_in(&mut read, release).await?;
            let target =
                read.find_environment(environment).await?.ok_or_else(|| not_found(Entity::Environment, environment))?;
            let facts = self.release_facts(&mut read, &candidate).await?;
            (Context { release: Some(facts), ..Context::default() }, target)
        };
        self.authorize(principal, action, environment_resource(&target), context).await?;
        Ok(target)
    }

    async fn complete_if_last(
        &self,
        tx: &mut StoreTx,
        principal: &Principal,
        release: &Release,
        lifecycle: &Lifecycle,
        deployment: &Deployment,
    ) -> ServiceResult<()> {
        let completes = deployment.status == DeploymentStatus::Succeeded
            && release.state == ReleaseState::Deploying
            && lifecycle.is_last(&deployment.environment);
        if completes {
            self.transition_in(tx, principal, release, ReleaseAction::CompleteDeployment, None).await?;
        }
        Ok(())
    }

    pub async fn get_deployment(&self, principal: &Principal, id: DeploymentId) -> ServiceResult<Deployment> {
        self.authorize_read(principal).await?;
        let found = self.store.read().await?.find_deployment(id).await?;
        found.ok_or_else(|| not_found(Entity::Deployment, id))
    }

    /// Deployments, newest first, optionally of one environment or one release: the history of
    /// an environment.
    pub async fn list_deployments(
        &self,
        principal: &Principal,
        environment: Option<&str>,
        release: Option<&ReleaseRef>,
        page: Page,
    ) -> ServiceResult<Vec<Deployment>> {
        self.authorize_read(principal).await?;
        let environment = environment.map(|name| parse_key(name, EnvironmentName::parse)).transpose()?;
        let mut read = self.store.read().await?;
        let release = match release {
            Some(release) => Some(get_in(&mut read, release).await?.id),
            None => None,
        };
        if let Some(environment) = &environment {
            if read.find_environment(environment).await?.is_none() {
                return Err(not_found(Entity::Environment, environment));
            }
        }
        Ok(read.list_deployments(environment.as_ref(), release, page).await?)
    }

    /// What runs in each environment (or one) at `at`, or now.
    pub async fn register(
        &self,
        principal: &Principal,
        environment: Option<&str>,
        at: Option<Timestamp>,
    ) -> ServiceResult<Vec<EnvironmentRegister>> {
        self.authorize_read(principal).await?;
        let mut read = self.store.read().await?;
        let environments = match environment {
            Some(name) => {
                let name = parse_key(name, EnvironmentName::parse)?;
                vec![read.find_environment(&name).await?.ok_or_else(|| not_found(Entity::Environment, &name))?]
            }
            None => read.list_environments().await?,
        };
        let mut register = Vec::with_capacity(environments.len());
        for environment in environments {
            // Now is kept current by every deployment write; an earlier instant is computed.
            let services = match at {
                None => running_at(&read.current_releases(&environment.name).await?, self.now()),
                Some(at) => running_at(&read.live_releases_at(&environment.name, at).await?, at),
            };
            let traffic = read.traffic_splits_at(&environment.name, at.unwrap_or_else(|| self.now())).await?;
            register.push(EnvironmentRegister { services, environment, traffic });
        }
        Ok(register)
    }
}

/// Judges the window of `environment` for `release` at `at`: nothing to record when it is open;
/// the override to audit when it is closed and the release is an emergency or glass is broken
/// with a reason; a refusal with every reason otherwise.
async fn window_override_in(
    tollgate: &Tollgate,
    conn: &mut tollgate_store::Conn,
    release: &Release,
    environment: &Environment,
    at: Timestamp,
    override_reason: Option<&str>,
) -> ServiceResult<Option<WindowOverride>> {
    let services: Vec<ServiceName> = release.content.services().cloned().collect();
    let window = tollgate.window_state_in(conn, environment, &services, at).await?;
    if window.open {
        return Ok(None);
    }
    let (kind, reason) = match (release.content.release_type, override_reason) {
        (ReleaseType::Emergency, reason) => (OverrideKind::Emergency, reason),
        (_, Some(reason)) => (OverrideKind::BreakGlass, Some(reason)),
        (_, None) => return Err(ServiceError::WindowClosed(Box::new(window))),
    };
    Ok(Some(WindowOverride {
        environment: environment.name.clone(),
        at,
        closed_because: window.reasons(),
        kind,
        reason: reason.map(str::to_owned),
    }))
}

async fn lifecycle_of(tx: &mut tollgate_store::Conn, release: &Release) -> ServiceResult<Lifecycle> {
    let name = &release.content.lifecycle;
    tx.find_lifecycle(name).await?.ok_or_else(|| not_found(Entity::Lifecycle, name))
}

/// A precondition that passed when it found no reason to refuse.
fn judged(precondition: Precondition, reasons: Vec<String>) -> PreconditionResult {
    PreconditionResult { precondition, passed: reasons.is_empty(), reasons }
}

/// The reasons a check refused with, or none when it passed; an error that is no refusal (the
/// database, corrupt data) is returned.
/// Refused with [`ServiceError::RollbackUntested`] when the change policy requires `release`'s
/// rollback to have succeeded in another environment before it enters `environment`, and it has
/// not.
async fn rollback_tested_in(conn: &mut Conn, release: &Release, environment: &EnvironmentName) -> ServiceResult<()> {
    let policy = conn.find_change_policy().await?.unwrap_or_default();
    let Some(tested_in) = policy.rollback_tested_in(environment) else { return Ok(()) };
    if conn.rollback_succeeded(release.id, tested_in).await? {
        return Ok(());
    }
    Err(ServiceError::RollbackUntested {
        release: release.content.version.clone(),
        environment: environment.clone(),
        tested_in: tested_in.clone(),
    })
}

fn refusal(outcome: ServiceResult<()>) -> ServiceResult<Vec<String>> {
    match outcome {
        Ok(()) => Ok(Vec::new()),
        Err(
            error @ (ServiceError::GatesNotPassed(_)
            | ServiceError::ChangeRequired { .. }
            | ServiceError::ChangeRefused { .. }
            | ServiceError::WindowClosed(_)
            | ServiceError::NotReady(_)
            | ServiceError::RollbackUntested { .. }
            | ServiceError::Promotion(_)),
        ) => Ok(vec![error.to_string()]),
        Err(error) => Err(error),
    }
}
