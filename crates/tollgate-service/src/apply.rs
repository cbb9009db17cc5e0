//! Config as code: plan a declared configuration against the store and apply it in one
//! transaction. Unchanged objects are not written and get no audit entry.

use tollgate_core::apply::{plan, ApplyInput, CurrentState, Desired, Plan, PlanOp};
use tollgate_core::audit::{AuditAction, ObjectKind, ObjectRef};
use tollgate_store::{StoreError, StoreTx};

use crate::audit::Change;
use crate::{Principal, ServiceResult, Tollgate};

/// Whether to write the plan or only show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyMode {
    DryRun,
    Apply,
}

impl Tollgate {
    /// Plans `input` and, in `Apply` mode, writes every create and update with its audit entry.
    /// All or nothing: an error leaves the store as it was.
    pub async fn apply(&self, principal: &Principal, input: ApplyInput, mode: ApplyMode) -> ServiceResult<Plan> {
        if mode == ApplyMode::Apply {
            principal.require_write()?;
        }
        let mut tx = self.store.begin().await?;
        let current = current_state(&mut tx).await?;
        let plan = plan(input, &current)?;
        if mode == ApplyMode::DryRun || plan.is_noop() {
            return Ok(plan);
        }
        for change in &plan.changes {
            self.apply_change(&mut tx, principal, &current, change.desired.clone(), &change.op).await?;
        }
        tx.commit().await?;
        Ok(plan)
    }

    async fn apply_change(
        &self,
        tx: &mut StoreTx,
        principal: &Principal,
        current: &CurrentState,
        desired: Desired,
        op: &PlanOp,
    ) -> ServiceResult<()> {
        let action = match op {
            PlanOp::Unchanged => return Ok(()),
            PlanOp::Create => AuditAction::Create,
            PlanOp::Update { .. } => AuditAction::Update,
        };
        let creating = matches!(op, PlanOp::Create);
        match desired {
            Desired::Team(team) => {
                if creating {
                    tx.insert_team(&team).await?
                } else {
                    tx.update_team(&team).await?
                }
                let before = current.teams.iter().find(|t| t.name == team.name);
                let object = ObjectRef::new(ObjectKind::Team, &team.name);
                self.record_for(tx, principal, Change { action, object, before, after: Some(&team), reason: None })
                    .await
            }
            Desired::Environment(environment) => {
                if creating {
                    tx.insert_environment(&environment).await?
                } else {
                    tx.update_environment(&environment).await?
                }
                let before = current.environments.iter().find(|e| e.name == environment.name);
                let object = ObjectRef::new(ObjectKind::Environment, &environment.name);
                self.record_for(
                    tx,
                    principal,
                    Change { action, object, before, after: Some(&environment), reason: None },
                )
                .await
            }
            Desired::Lifecycle(lifecycle) => {
                if creating {
                    tx.insert_lifecycle(&lifecycle).await?
                } else {
                    tx.update_lifecycle(&lifecycle).await?
                }
                let before = current.lifecycles.iter().find(|l| l.name() == lifecycle.name());
                let object = ObjectRef::new(ObjectKind::Lifecycle, lifecycle.name());
                self.record_for(tx, principal, Change { action, object, before, after: Some(&lifecycle), reason: None })
                    .await
            }
            Desired::Service(service) => {
                if creating {
                    tx.insert_service(&service).await?
                } else {
                    tx.update_service(&service).await?
                }
                let before = current.services.iter().find(|s| s.name == service.name);
                let object = ObjectRef::new(ObjectKind::Service, &service.name);
                self.record_for(tx, principal, Change { action, object, before, after: Some(&service), reason: None })
                    .await
            }
        }
    }
}

/// Everything a configuration document can refer to, read in the transaction that applies it.
async fn current_state(tx: &mut StoreTx) -> Result<CurrentState, StoreError> {
    Ok(CurrentState {
        users: tx.list_users().await?.into_iter().map(|user| user.name).collect(),
        teams: tx.list_teams().await?,
        environments: tx.list_environments().await?,
        lifecycles: tx.list_lifecycles().await?,
        services: tx.list_services().await?,
    })
}
