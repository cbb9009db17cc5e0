//! Leases for deployers that are not Tollgate: acquire (every precondition of a deployment
//! judged, the deployment recorded as running and the release's services locked in the
//! environment), renew, and report the outcome (which finishes the deployment and frees the
//! services).
//!
//! A lease that is not renewed expires; the next deployment to those services takes it over,
//! or the server's timer ends it (`expire_leases`), either of which records the expired lease's
//! deployment as failed. Every renewal and report presents
//! the lease's epoch, and is refused once the lease is no longer held.

use tollgate_authz::Action;
use tollgate_core::audit::{AuditAction, ObjectKind, ObjectRef};
use tollgate_core::deployment::{Deployment, DeploymentId, DeploymentInput, DeploymentStatus, Precondition};
use tollgate_core::lease::{expiry, judge_locks, Lease, LeaseState, LeaseTtl, LockConflict};
use tollgate_core::name::{EnvironmentName, ServiceName};
use tollgate_core::Entity;
use tollgate_store::{Conn, NewLease, StoreTx};

use crate::audit::Change;
use crate::catalog::{not_found, parse_key};
use crate::deployment::StartMode;
use crate::release::ReleaseRef;
use crate::{Principal, ServiceError, ServiceResult, Tollgate};

/// What a deployer asks for with a lease.
#[derive(Debug, Clone, Default)]
pub struct AcquireLease {
    /// How long the lease lasts unless renewed; [`LeaseTtl::DEFAULT`] when absent.
    pub ttl: Option<LeaseTtl>,
    /// A reason to deploy although the deployment window is closed (breaking glass).
    pub override_window: Option<String>,
}

/// A granted lease and the running deployment it was granted for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeasedDeployment {
    pub lease: Lease,
    pub deployment: Deployment,
}

impl Tollgate {
    /// Judges every precondition of deploying `release` into `environment` now and, when all
    /// hold, records the deployment as running and grants its deployer a lease on the release's
    /// services there. Refused with every reason ([`ServiceError::DeploymentRefused`]) when a
    /// precondition that records decide fails; with [`ServiceError::NotReady`] when only the
    /// artifacts fail (they are hashed once, by the recording); and with the recording's own
    /// refusals when something changed between the check and the write ([`ServiceError::LeaseHeld`]
    /// for a lease taken meanwhile). Nothing is written then.
    pub async fn acquire_lease(
        &self,
        principal: &Principal,
        release: &ReleaseRef,
        environment: &str,
        request: AcquireLease,
    ) -> ServiceResult<LeasedDeployment> {
        let release = self.judge_start(principal, release, environment, request.override_window.is_some()).await?;
        let input = DeploymentInput { override_window: request.override_window, ..DeploymentInput::default() };
        let ttl = request.ttl.unwrap_or(LeaseTtl::DEFAULT);
        let (deployment, lease) =
            self.start_deployment(principal, &release, environment, input, StartMode::Lease(ttl)).await?;
        let lease = lease.expect("a lease is granted when one is asked for");
        Ok(LeasedDeployment { lease, deployment })
    }

    /// Extends the lease of `deployment` by its ttl (or `ttl`) from now, for the holder of
    /// `epoch`; refused once the lease expired or was released.
    pub async fn renew_lease(
        &self,
        principal: &Principal,
        deployment: DeploymentId,
        epoch: u64,
        ttl: Option<LeaseTtl>,
    ) -> ServiceResult<Lease> {
        self.authorize_lease(principal, deployment).await?;
        let mut tx = self.store.begin().await?;
        let before = get_lease_in(&mut tx, deployment).await?;
        let after = before.renewed(epoch, ttl, self.now())?;
        tx.renew_lease(&after).await?;
        let object = ObjectRef::new(ObjectKind::Lease, deployment);
        let change =
            Change { action: AuditAction::Renew, object, before: Some(&before), after: Some(&after), reason: None };
        self.record_for(&mut tx, principal, change).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Reports the outcome of the deployment held under a lease, for the holder of `epoch`:
    /// the deployment becomes `status` (succeeded or failed) and the lease is released.
    pub async fn report_lease(
        &self,
        principal: &Principal,
        deployment: DeploymentId,
        epoch: u64,
        status: DeploymentStatus,
    ) -> ServiceResult<LeasedDeployment> {
        self.authorize_lease(principal, deployment).await?;
        let mut tx = self.store.begin().await?;
        get_lease_in(&mut tx, deployment).await?.check_holder(epoch, self.now())?;
        let reason = format!("its deployment reported {status}");
        let finished = self.finish_in(&mut tx, principal, deployment, status, &reason).await?;
        let lease = get_lease_in(&mut tx, deployment).await?;
        tx.commit().await?;
        Ok(LeasedDeployment { lease, deployment: finished })
    }

    /// Judges every precondition that records decide before a deployment starts under a lease
    /// or with the engine; refused with every reason, the artifacts' included
    /// ([`ServiceError::DeploymentRefused`]). When they hold, returns the release by version for
    /// the recording, which hashes the artifacts once and refuses with `NotReady` when one is
    /// missing, changed or unsigned. `breaking_glass` answers a closed window only; the recording
    /// authorizes and audits it.
    pub(crate) async fn judge_start(
        &self,
        principal: &Principal,
        release: &ReleaseRef,
        environment: &str,
        breaking_glass: bool,
    ) -> ServiceResult<ReleaseRef> {
        let records = self.judge_records(principal, release, environment).await?;
        let overridden = |precondition: Precondition| precondition == Precondition::Window && breaking_glass;
        if records.check.results.iter().any(|result| !result.passed && !overridden(result.precondition)) {
            let check = self.judge_artifacts(records).await?;
            return Err(ServiceError::DeploymentRefused(Box::new(check)));
        }
        Ok(ReleaseRef::Version(records.check.release))
    }

    /// The lease acquired for `deployment`.
    pub async fn get_lease(&self, principal: &Principal, deployment: DeploymentId) -> ServiceResult<Lease> {
        self.authorize_read(principal).await?;
        let mut read = self.store.read().await?;
        get_lease_in(&mut read, deployment).await
    }

    /// Leases that lock services now (held, or expired and not yet taken over), of one
    /// environment or all, by environment and epoch.
    pub async fn list_leases(&self, principal: &Principal, environment: Option<&str>) -> ServiceResult<Vec<Lease>> {
        self.authorize_read(principal).await?;
        let environment = environment.map(|name| parse_key(name, EnvironmentName::parse)).transpose()?;
        let mut read = self.store.read().await?;
        if let Some(environment) = &environment {
            if read.find_environment(environment).await?.is_none() {
                return Err(not_found(Entity::Environment, environment));
            }
        }
        Ok(read.list_locking_leases(environment.as_ref()).await?)
    }

    /// Ends every lease that expired without a report: its deployment, if still running, is
    /// recorded as failed and its services are freed, by `@system`, with the reason. Run by a
    /// timer on every server; a lease another server (or a take-over) ended meanwhile is left
    /// alone, so concurrent runs do each lease once. Returns the deployments whose lease ended.
    pub async fn expire_leases(&self) -> ServiceResult<Vec<DeploymentId>> {
        let candidates = {
            let mut read = self.store.read().await?;
            let now = self.now();
            let leases = read.list_locking_leases(None).await?;
            leases.into_iter().filter(|lease| lease.state(now) == LeaseState::Expired).collect::<Vec<_>>()
        };
        let system = Principal::system();
        let mut ended = Vec::new();
        for candidate in candidates {
            let mut tx = self.store.begin().await?;
            // Judged again in the transaction: renewed, reported or taken over since is left.
            let Some(lease) = tx.find_lease(candidate.deployment).await? else { continue };
            if lease.state(self.now()) != LeaseState::Expired {
                continue;
            }
            let reason = format!("its lease expired at {} without a report", lease.expires_at);
            let deployment = tx.find_deployment(lease.deployment).await?;
            if deployment.is_some_and(|deployment| deployment.status == DeploymentStatus::Running) {
                self.finish_in(&mut tx, &system, lease.deployment, DeploymentStatus::Failed, &reason).await?;
            } else {
                self.release_lease_in(&mut tx, &system, &lease, Some(&reason)).await?;
            }
            tx.commit().await?;
            ended.push(lease.deployment);
        }
        Ok(ended)
    }

    /// The locks on `services` in `environment` now: those held by another deployment's lease,
    /// and the expired leases a new lease would take over.
    pub(crate) async fn locks_in(
        &self,
        conn: &mut Conn,
        environment: &EnvironmentName,
        services: &[ServiceName],
    ) -> ServiceResult<(Vec<LockConflict>, Vec<Lease>)> {
        let locks = conn.find_locks(environment, services).await?;
        Ok(judge_locks(locks, self.now()))
    }

    /// Grants `deployment` a lease on `services`, taking over the expired leases judged before:
    /// each is released and its deployment, if still running, recorded as failed.
    pub(crate) async fn grant_lease_in(
        &self,
        tx: &mut StoreTx,
        principal: &Principal,
        deployment: &Deployment,
        mut services: Vec<ServiceName>,
        taken_over: Vec<Lease>,
        ttl: LeaseTtl,
    ) -> ServiceResult<Lease> {
        for expired in taken_over {
            let reason = format!(
                "its lease expired at {} and deployment {} took {} over",
                expired.expires_at, deployment.id, deployment.environment
            );
            let running = tx.find_deployment(expired.deployment).await?;
            if running.is_some_and(|running| running.status == DeploymentStatus::Running) {
                self.finish_in(tx, principal, expired.deployment, DeploymentStatus::Failed, &reason).await?;
            } else {
                self.release_lease_in(tx, principal, &expired, Some(&reason)).await?;
            }
        }
        services.sort();
        services.dedup();
        let now = self.now();
        let new = NewLease {
            deployment: deployment.id,
            environment: &deployment.environment,
            services: &services,
            holder: &principal.user.name,
            ttl,
            acquired_at: now,
            expires_at: expiry(now, ttl),
        };
        let lease = tx.insert_lease(&new).await?;
        let object = ObjectRef::new(ObjectKind::Lease, deployment.id);
        let change = Change { action: AuditAction::Acquire, object, before: None, after: Some(&lease), reason: None };
        self.record_for(tx, principal, change).await?;
        Ok(lease)
    }

    /// Releases `lease` now, with its audit entry.
    pub(crate) async fn release_lease_in(
        &self,
        tx: &mut StoreTx,
        principal: &Principal,
        lease: &Lease,
        reason: Option<&str>,
    ) -> ServiceResult<()> {
        let released = lease.released(self.now());
        tx.release_lease(&released).await?;
        let object = ObjectRef::new(ObjectKind::Lease, lease.deployment);
        let change =
            Change { action: AuditAction::Release, object, before: Some(lease), after: Some(&released), reason };
        self.record_for(tx, principal, change).await
    }

    /// Renewing and reporting are finishing the deployment, as far as authorization goes.
    async fn authorize_lease(&self, principal: &Principal, deployment: DeploymentId) -> ServiceResult<()> {
        let (release, environment) = {
            let mut read = self.store.read().await?;
            let found =
                read.find_deployment(deployment).await?.ok_or_else(|| not_found(Entity::Deployment, deployment))?;
            (ReleaseRef::Id(found.release), found.environment)
        };
        self.authorize_deployment(principal, Action::DeploymentFinish, &release, &environment).await.map(drop)
    }
}

async fn get_lease_in(conn: &mut tollgate_store::Conn, deployment: DeploymentId) -> ServiceResult<Lease> {
    conn.find_lease(deployment).await?.ok_or_else(|| not_found(Entity::Lease, deployment))
}
