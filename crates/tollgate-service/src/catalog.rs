//! Teams, services, environments and lifecycles one at a time. Creating or replacing one is
//! applying a configuration of that one object, so references and cycles are checked exactly
//! as `tollgate apply` checks them.

use tollgate_core::apply::{ApplyInput, PlanOp};
use tollgate_core::environment::{Environment, EnvironmentInput};
use tollgate_core::lifecycle::{Lifecycle, LifecycleInput};
use tollgate_core::name::{EnvironmentName, LifecycleName, ServiceName, TeamName};
use tollgate_core::service::{Service, ServiceInput};
use tollgate_core::team::{Team, TeamInput};
use tollgate_core::Entity;
use tollgate_core::{Problem, Violations};

use crate::apply::ApplyMode;
use crate::{Principal, ServiceError, ServiceResult, Tollgate};

/// Whether a single-object write creates or replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsert {
    /// Fails with `Conflict` when the object exists.
    Create,
    /// Fails with `NotFound` when it does not.
    Replace,
}

/// The whole catalog, as the catalog page shows it.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub teams: Vec<Team>,
    pub services: Vec<Service>,
    pub environments: Vec<Environment>,
    pub lifecycles: Vec<Lifecycle>,
}

impl Tollgate {
    pub async fn put_team(&self, principal: &Principal, input: TeamInput, upsert: Upsert) -> ServiceResult<Team> {
        let name = input.name.clone();
        self.put_one(
            principal,
            ApplyInput { teams: vec![input], ..ApplyInput::default() },
            "teams",
            Entity::Team,
            &name,
            upsert,
        )
        .await?;
        self.get_team(principal, &name).await
    }

    pub async fn put_service(
        &self,
        principal: &Principal,
        mut input: ServiceInput,
        upsert: Upsert,
    ) -> ServiceResult<Service> {
        let name = input.name.clone();
        // The API edits a service's catalog fields; its deployment plan is tollgate.yaml's to
        // change, so an edit that does not give one keeps the one it has.
        if input.deploy.is_none() {
            if let Ok(service_name) = ServiceName::parse(&name) {
                let mut read = self.store.read().await?;
                let current = read.find_service(&service_name).await?;
                input.deploy = current.and_then(|service| service.deploy).map(Into::into);
            }
        }
        self.put_one(
            principal,
            ApplyInput { services: vec![input], ..ApplyInput::default() },
            "services",
            Entity::Service,
            &name,
            upsert,
        )
        .await?;
        self.get_service(principal, &name).await
    }

    pub async fn put_environment(
        &self,
        principal: &Principal,
        input: EnvironmentInput,
        upsert: Upsert,
    ) -> ServiceResult<Environment> {
        let name = input.name.clone();
        let document = ApplyInput { environments: vec![input], ..ApplyInput::default() };
        self.put_one(principal, document, "environments", Entity::Environment, &name, upsert).await?;
        self.get_environment(principal, &name).await
    }

    pub async fn put_lifecycle(
        &self,
        principal: &Principal,
        input: LifecycleInput,
        upsert: Upsert,
    ) -> ServiceResult<Lifecycle> {
        let name = input.name.clone();
        let document = ApplyInput { lifecycles: vec![input], ..ApplyInput::default() };
        self.put_one(principal, document, "lifecycles", Entity::Lifecycle, &name, upsert).await?;
        self.get_lifecycle(principal, &name).await
    }

    async fn put_one(
        &self,
        principal: &Principal,
        document: ApplyInput,
        section: &str,
        entity: Entity,
        name: &str,
        upsert: Upsert,
    ) -> ServiceResult<()> {
        let expect = |plan: &tollgate_core::apply::Plan| {
            let creates = plan.changes.iter().any(|change| change.op == PlanOp::Create);
            match (upsert, creates) {
                (Upsert::Create, false) => Err(ServiceError::Conflict { entity, key: name.to_owned() }),
                (Upsert::Replace, true) => Err(ServiceError::NotFound { entity, key: name.to_owned() }),
                _ => Ok(()),
            }
        };
        self.apply_checked(principal, document, ApplyMode::Apply, expect).await.map_err(|e| unprefix(e, section))?;
        Ok(())
    }

    /// The whole catalog from one snapshot: teams, services, environments, lifecycles.
    pub async fn catalog(&self, principal: &Principal) -> ServiceResult<Catalog> {
        self.authorize_read(principal).await?;
        let mut read = self.store.read().await?;
        Ok(Catalog {
            teams: read.list_teams().await?,
            services: read.list_services().await?,
            environments: read.list_environments().await?,
            lifecycles: read.list_lifecycles().await?,
        })
    }

    pub async fn get_team(&self, principal: &Principal, name: &str) -> ServiceResult<Team> {
        self.authorize_read(principal).await?;
        let name = parse_key(name, TeamName::parse)?;
        let found = self.store.read().await?.find_team(&name).await?;
        found.ok_or_else(|| not_found(Entity::Team, name))
    }

    pub async fn list_teams(&self, principal: &Principal) -> ServiceResult<Vec<Team>> {
        self.authorize_read(principal).await?;
        Ok(self.store.read().await?.list_teams().await?)
    }

    pub async fn get_service(&self, principal: &Principal, name: &str) -> ServiceResult<Service> {
        self.authorize_read(principal).await?;
        let name = parse_key(name, ServiceName::parse)?;
        let found = self.store.read().await?.find_service(&name).await?;
        found.ok_or_else(|| not_found(Entity::Service, name))
    }

    pub async fn list_services(&self, principal: &Principal) -> ServiceResult<Vec<Service>> {
        self.authorize_read(principal).await?;
        Ok(self.store.read().await?.list_services().await?)
    }

    pub async fn get_environment(&self, principal: &Principal, name: &str) -> ServiceResult<Environment> {
        self.authorize_read(principal).await?;
        let name = parse_key(name, EnvironmentName::parse)?;
        let found = self.store.read().await?.find_environment(&name).await?;
        found.ok_or_else(|| not_found(Entity::Environment, name))
    }

    pub async fn list_environments(&self, principal: &Principal) -> ServiceResult<Vec<Environment>> {
        self.authorize_read(principal).await?;
        Ok(self.store.read().await?.list_environments().await?)
    }

    pub async fn get_lifecycle(&self, principal: &Principal, name: &str) -> ServiceResult<Lifecycle> {
        self.authorize_read(principal).await?;
        let name = parse_key(name, LifecycleName::parse)?;
        let found = self.store.read().await?.find_lifecycle(&name).await?;
        found.ok_or_else(|| not_found(Entity::Lifecycle, name))
    }

    pub async fn list_lifecycles(&self, principal: &Principal) -> ServiceResult<Vec<Lifecycle>> {
        self.authorize_read(principal).await?;
        Ok(self.store.read().await?.list_lifecycles().await?)
    }
}

/// Parses a name from a path; an invalid one cannot name anything, so it is reported as invalid.
pub(crate) fn parse_key<T>(value: &str, parse: impl Fn(&str) -> Result<T, Problem>) -> ServiceResult<T> {
    parse(value).map_err(|problem| {
        let mut violations = Violations::new();
        violations.push("name", problem);
        ServiceError::Invalid(violations)
    })
}

pub(crate) fn not_found(entity: Entity, key: impl ToString) -> ServiceError {
    ServiceError::NotFound { entity, key: key.to_string() }
}

/// Turns `services[0].owner` into `owner`: a single-object request has no section.
fn unprefix(error: ServiceError, section: &str) -> ServiceError {
    match error {
        ServiceError::Invalid(violations) => {
            let prefix = format!("{section}[0]");
            let violations = violations
                .0
                .into_iter()
                .map(|mut violation| {
                    if let Some(rest) = violation.field.strip_prefix(&prefix) {
                        violation.field = rest.trim_start_matches('.').to_owned();
                    }
                    violation
                })
                .collect();
            ServiceError::Invalid(Violations(violations))
        }
        other => other,
    }
}
