//! Quarantined environments: listing them, quarantining one when a deployment's plans ask for
//! it, and lifting a quarantine (authorized as `quarantine.lift`, with a reason, audited).
//!
//! Refusing deployments into a quarantined environment is the deployment's own check
//! (`deployment.rs`), judged in the transaction that records it.

use tollgate_authz::{Action, Context};
use tollgate_core::audit::{AuditAction, ObjectKind, ObjectRef};
use tollgate_core::deployment::Deployment;
use tollgate_core::gate::check_reason;
use tollgate_core::name::EnvironmentName;
use tollgate_core::quarantine::Quarantine;
use tollgate_core::Entity;
use tollgate_store::StoreTx;

use crate::audit::Change;
use crate::authz::environment_resource;
use crate::catalog::{not_found, parse_key};
use crate::{Principal, ServiceError, ServiceResult, Tollgate};

impl Tollgate {
    /// Every environment in quarantine, by name.
    pub async fn list_quarantines(&self, principal: &Principal) -> ServiceResult<Vec<Quarantine>> {
        self.authorize_read(principal).await?;
        let mut read = self.store.read().await?;
        Ok(read.list_quarantines().await?)
    }

    /// Lifts the quarantine of `environment`, so deployments start there again. Authorized as
    /// `quarantine.lift` with `reason`, which the audit entry keeps; refused with
    /// [`ServiceError::NotQuarantined`] when there is none.
    pub async fn lift_quarantine(
        &self,
        principal: &Principal,
        environment: &str,
        reason: &str,
    ) -> ServiceResult<Quarantine> {
        let environment = parse_key(environment, EnvironmentName::parse)?;
        let reason = check_reason(reason).map_err(|problem| ServiceError::invalid("reason", problem))?;
        let target = {
            let mut read = self.store.read().await?;
            read.find_environment(&environment).await?.ok_or_else(|| not_found(Entity::Environment, &environment))?
        };
        let context = Context { reason: Some(reason.clone()), ..Context::default() };
        self.authorize(principal, Action::QuarantineLift, environment_resource(&target), context).await?;
        let mut tx = self.store.begin().await?;
        let quarantine =
            tx.find_quarantine(&environment).await?.ok_or_else(|| ServiceError::NotQuarantined(environment.clone()))?;
        tx.delete_quarantine(&quarantine).await?;
        let object = ObjectRef::new(ObjectKind::Quarantine, &environment);
        let change = Change {
            action: AuditAction::Lift,
            object,
            before: Some(&quarantine),
            after: None::<&Quarantine>,
            reason: Some(&reason),
        };
        self.record_for(&mut tx, principal, change).await?;
        tx.commit().await?;
        Ok(quarantine)
    }

    /// Quarantines the environment of `deployment` for `reason`, with its audit entry; an
    /// environment already in quarantine stays in the one it has.
    pub(crate) async fn quarantine_in(
        &self,
        tx: &mut StoreTx,
        principal: &Principal,
        deployment: &Deployment,
        reason: &str,
    ) -> ServiceResult<()> {
        if tx.find_quarantine(&deployment.environment).await?.is_some() {
            return Ok(());
        }
        let quarantine = Quarantine {
            environment: deployment.environment.clone(),
            deployment: Some(deployment.id),
            reason: reason.to_owned(),
            since: self.now(),
        };
        tx.insert_quarantine(&quarantine).await?;
        let object = ObjectRef::new(ObjectKind::Quarantine, &deployment.environment);
        let change = Change {
            action: AuditAction::Quarantine,
            object,
            before: None::<&Quarantine>,
            after: Some(&quarantine),
            reason: Some(reason),
        };
        self.record_for(tx, principal, change).await
    }
}
