//! Config as code: plan a declared configuration against the store and apply it in one
//! transaction. Unchanged objects are not written and get no audit entry.

use std::collections::BTreeSet;

use tollgate_authz::{Action, Context, Resource};
use tollgate_core::apply::{plan, ApplyInput, CurrentState, Desired, Plan, PlanOp, PlannedChange};
use tollgate_core::audit::{AuditAction, ObjectKind, ObjectRef};
use tollgate_core::environment::Tier;
use tollgate_core::Entity;

use tollgate_core::name::{EnvironmentName, LifecycleName, ServiceName, TeamName, UserName};
use tollgate_store::{Conn, StoreError, StoreTx};

use crate::audit::Change;
use crate::authz::{environment_resource, service_resource};
use crate::{Principal, ServiceError, ServiceResult, Tollgate};

/// Whether to write the plan or only show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyMode {
    DryRun,
    Apply,
}

impl Tollgate {
    /// Plans `input` and, in `Apply` mode, writes every create and update with its audit entry.
    /// All or nothing: an error leaves the store as it was.
    /// Every object created or changed is authorized by its own action (team.edit,
    /// environment.tier, ...) besides `apply`.
    pub async fn apply(&self, principal: &Principal, input: ApplyInput, mode: ApplyMode) -> ServiceResult<Plan> {
        if mode == ApplyMode::Apply {
            self.authorize(principal, Action::Apply, Resource::System, Context::default()).await?;
        }
        self.apply_checked(principal, input, mode, |_| Ok(())).await
    }

    /// `apply`, with `check` run on the plan before anything is written (a single-object create
    /// refuses an object that exists, a replace one that does not).
    pub(crate) async fn apply_checked(
        &self,
        principal: &Principal,
        input: ApplyInput,
        mode: ApplyMode,
        check: impl FnOnce(&Plan) -> ServiceResult<()>,
    ) -> ServiceResult<Plan> {
        // A plan only reads: a snapshot, never the writer.
        let (snapshot_plan, snapshot_state) = {
            let mut read = self.store.read().await?;
            let current = current_state(&mut read, &input).await?;
            (plan(input.clone(), &current)?, current)
        };
        if mode == ApplyMode::DryRun {
            self.authorize_read(principal).await?;
            check(&snapshot_plan)?;
            self.compile_planned_policy(&snapshot_plan)?;
            return Ok(snapshot_plan);
        }
        for change in &snapshot_plan.changes {
            for (action, resource, context) in change_actions(change, &snapshot_state, &snapshot_plan) {
                self.authorize(principal, action, resource, context).await?;
            }
        }
        let mut tx = self.store.begin().await?;
        let current = current_state(&mut tx, &input).await?;
        let plan = plan(input, &current)?;
        // What was authorized is what is written: a plan that changed meanwhile is refused.
        if plan != snapshot_plan {
            let changed = plan.changes.iter().zip(&snapshot_plan.changes).find(|(now, then)| now != then);
            let (entity, key) = match changed.map(|(now, _)| &now.desired) {
                Some(Desired::Team(team)) => (Entity::Team, team.name.to_string()),
                Some(Desired::Service(service)) => (Entity::Service, service.name.to_string()),
                Some(Desired::Environment(environment)) => (Entity::Environment, environment.name.to_string()),
                Some(Desired::Lifecycle(lifecycle)) => (Entity::Lifecycle, lifecycle.name().to_string()),
                Some(Desired::GatePolicy(_)) => (Entity::PolicyVersion, "the gate policy".to_owned()),
                Some(Desired::Sso(_)) => (Entity::SsoConfig, "the single sign-on settings".to_owned()),
                Some(Desired::ChangePolicy(_)) => (Entity::ChangePolicy, "the change policy".to_owned()),
                None => (Entity::Team, "the configuration".to_owned()),
            };
            return Err(ServiceError::Conflict { entity, key: format!("{key} (changed while it was authorized)") });
        }
        check(&plan)?;
        self.compile_planned_policy(&plan)?;
        if plan.is_noop() {
            return Ok(plan);
        }
        for change in &plan.changes {
            self.apply_change(&mut tx, principal, &current, change.desired.clone(), &change.op).await?;
        }
        tx.commit().await?;
        Ok(plan)
    }

    /// Compiles a gate policy the plan would install, so a policy that does not compile is
    /// refused (with its locations) before anything is written, also on a dry run.
    fn compile_planned_policy(&self, plan: &Plan) -> ServiceResult<()> {
        for change in &plan.changes {
            if let (Desired::GatePolicy(policy), PlanOp::Create | PlanOp::Update { .. }) = (&change.desired, &change.op)
            {
                self.compile_policy(policy)?;
            }
        }
        Ok(())
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
            Desired::GatePolicy(policy) => {
                self.install_policy_in(tx, principal, &policy).await?;
                Ok(())
            }
            Desired::Sso(sso) => {
                if creating {
                    tx.insert_sso_config(&sso, &principal.user.name, self.now()).await?
                } else {
                    tx.update_sso_config(&sso, &principal.user.name, self.now()).await?
                }
                let before = current.sso.as_ref();
                let object = ObjectRef::new(ObjectKind::Sso, "sso");
                self.record_for(tx, principal, Change { action, object, before, after: Some(&sso), reason: None }).await
            }
            Desired::ChangePolicy(policy) => {
                tx.put_change_policy(&policy, &principal.user.name, self.now()).await?;
                let before = current.change_policy.as_ref();
                let object = ObjectRef::new(ObjectKind::ChangePolicy, "changes");
                self.record_for(tx, principal, Change { action, object, before, after: Some(&policy), reason: None })
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

/// The actions that authorize one planned change, each with its resource as it is now.
fn change_actions(change: &PlannedChange, current: &CurrentState, plan: &Plan) -> Vec<(Action, Resource, Context)> {
    let none = Context::default;
    let creating = match &change.op {
        PlanOp::Unchanged => return Vec::new(),
        PlanOp::Create => true,
        PlanOp::Update { .. } => false,
    };
    match &change.desired {
        // Both decide what may ship: the gates, and which deployments need an approved change
        // and who approves it.
        Desired::GatePolicy(_) | Desired::ChangePolicy(_) => vec![(Action::PolicyApply, Resource::System, none())],
        // The settings decide who becomes a user and with which roles.
        Desired::Sso(_) => {
            vec![(Action::UserCreate, Resource::System, none()), (Action::UserEdit, Resource::System, none())]
        }
        Desired::Team(team) => {
            let action = if creating { Action::TeamCreate } else { Action::TeamEdit };
            vec![(action, Resource::Team(team.name.clone()), none())]
        }
        Desired::Service(service) => {
            if creating {
                return vec![(Action::ServiceCreate, service_resource(service), none())];
            }
            let mut actions = Vec::new();
            let before = current.services.iter().find(|s| s.name == service.name);
            if let Some(before) = before {
                actions.push((Action::ServiceEdit, service_resource(before), none()));
            }
            // Handing a service to another team needs the right to edit it there too.
            if before.is_none_or(|before| before.owner != service.owner) {
                actions.push((Action::ServiceEdit, service_resource(service), none()));
            }
            actions
        }
        Desired::Environment(environment) => {
            if creating {
                return vec![(Action::EnvironmentCreate, environment_resource(environment), none())];
            }
            let before = current.environments.iter().find(|e| e.name == environment.name).unwrap_or(environment);
            let mut actions = Vec::new();
            if before.tier != environment.tier {
                let context = Context { new_tier: Some(environment.tier), ..Context::default() };
                actions.push((Action::EnvironmentTier, environment_resource(before), context));
            }
            if before.region != environment.region {
                actions.push((Action::EnvironmentEdit, environment_resource(before), none()));
            }
            actions
        }
        Desired::Lifecycle(lifecycle) => {
            let tier_of = |name: &tollgate_core::name::EnvironmentName| {
                let planned = plan.changes.iter().find_map(|change| match &change.desired {
                    Desired::Environment(environment) if &environment.name == name => Some(environment.tier),
                    _ => None,
                });
                planned.or_else(|| current.environments.iter().find(|e| &e.name == name).map(|e| e.tier))
            };
            let reaches_prod = lifecycle.environments().iter().any(|name| tier_of(name) == Some(Tier::Prod));
            let action = if creating { Action::LifecycleCreate } else { Action::LifecycleEdit };
            vec![(action, Resource::Lifecycle { name: lifecycle.name().to_string(), reaches_prod }, none())]
        }
    }
}

/// What exists of everything `input` declares or refers to, read in the transaction that
/// plans it: the declared objects (to diff them), the users, teams, environments and services
/// their references name (to check them), and every service reachable from a declared
/// dependency (so a cycle through a declared service is found). Never the whole catalog.
async fn current_state(conn: &mut Conn, input: &ApplyInput) -> Result<CurrentState, StoreError> {
    let mut state = CurrentState::default();
    let mut user_names = BTreeSet::new();
    let mut team_names = BTreeSet::new();
    let mut environment_names = BTreeSet::new();
    for team in &input.teams {
        team_names.insert(team.name.as_str());
        user_names.extend(team.members.iter().map(String::as_str));
    }
    for environment in &input.environments {
        environment_names.insert(environment.name.as_str());
    }
    for lifecycle in &input.lifecycles {
        environment_names.extend(lifecycle.environments.iter().map(String::as_str));
        if let Ok(name) = LifecycleName::parse(&lifecycle.name) {
            state.lifecycles.extend(conn.find_lifecycle(&name).await?);
        }
    }
    for service in &input.services {
        team_names.insert(service.owner.as_str());
        // The environments a plan's targets are in.
        let targets = service.deploy.iter().flat_map(|deploy| &deploy.targets);
        environment_names.extend(targets.map(|target| target.environment.as_str()));
    }
    if let Some(gates) = &input.gates {
        environment_names.extend(gates.environments.iter().map(|entry| entry.environment.as_str()));
        state.policy = conn.find_current_policy().await?.map(|record| record.policy);
    }
    if input.sso.is_some() {
        state.sso = conn.find_sso_config().await?;
    }
    if let Some(changes) = &input.changes {
        state.change_policy = conn.find_change_policy().await?;
        environment_names.extend(changes.environments.iter().map(|rules| rules.name.as_str()));
        for template in &changes.templates {
            environment_names.extend(template.environments.iter().map(String::as_str));
        }
        if let Some(approvals) = &changes.approvals {
            team_names.extend(approvals.cab_required_teams.iter().map(String::as_str));
            for entry in &approvals.cab_label_teams {
                team_names.extend(entry.teams.iter().map(String::as_str));
            }
        }
    }
    for name in user_names.into_iter().filter_map(|name| UserName::parse(name).ok()) {
        if conn.find_user(&name).await?.is_some() {
            state.users.insert(name);
        }
    }
    for name in team_names.into_iter().filter_map(|name| TeamName::parse(name).ok()) {
        state.teams.extend(conn.find_team(&name).await?);
    }
    for name in environment_names.into_iter().filter_map(|name| EnvironmentName::parse(name).ok()) {
        state.environments.extend(conn.find_environment(&name).await?);
    }
    // The declared services, and every stored service reachable from their dependencies.
    let mut pending: Vec<ServiceName> = input
        .services
        .iter()
        .flat_map(|service| std::iter::once(&service.name).chain(&service.depends_on))
        .filter_map(|name| ServiceName::parse(name).ok())
        .collect();
    // The services the change policy's templates name.
    for template in input.changes.iter().flat_map(|changes| &changes.templates) {
        pending.extend(template.services.iter().filter_map(|name| ServiceName::parse(name).ok()));
    }
    let mut seen = BTreeSet::new();
    while let Some(name) = pending.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(service) = conn.find_service(&name).await? {
            pending.extend(service.depends_on.iter().cloned());
            state.services.push(service);
        }
    }
    Ok(state)
}
