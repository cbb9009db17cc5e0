//! Authorization: every use case asks `authorize` first. The facts a decision needs (the
//! principal's roles, teams and just-in-time grants; the resource's tier, owner, author) are
//! read from one snapshot and handed to `tollgate-authz`, which decides with the built-in and
//! the user's Cedar policies. Denials become `Forbidden` with the policy's reason; decisions on
//! sensitive actions are audited (see `Audited` in `tollgate-authz`).
//!
//! Also here: just-in-time grants and the user policies (apply, list, check).

use std::collections::BTreeSet;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tollgate_authz::{
    Action, Audited, Authorizer, Context, PolicyFile, PrincipalFacts, ReleaseFacts, Request, Resource, ResourceType,
};
use tollgate_core::audit::{AuditAction, ObjectKind, ObjectRef};
use tollgate_core::authz::{
    DecisionRecord, GrantId, GrantInput, JitGrant, PolicyFileRecord, PolicyVersion, PolicyVersionSummary,
};
use tollgate_core::environment::{Environment, Tier};
use tollgate_core::name::{EnvironmentName, LifecycleName, ServiceName, TeamName, UserName};
use tollgate_core::release::Release;
use tollgate_core::service::Service;
use tollgate_core::{Entity, Problem, Violations};
use tollgate_store::Conn;

use crate::audit::Change;
use crate::catalog::{not_found, parse_key};
use crate::release::{get_in, ReleaseRef};
use crate::{Principal, PrincipalKind, ServiceError, ServiceResult, Tollgate};

pub use tollgate_authz::{Decision, PolicyInfo, PolicySource, Segregation, MAX_POLICY_FILE_BYTES};

/// The names of every action, in the order of the docs.
pub fn action_names() -> Vec<&'static str> {
    tollgate_authz::ACTIONS.iter().map(|info| info.name).collect()
}

/// The user policies in force, with the sequence of the version they were built from.
#[derive(Debug, Clone)]
pub(crate) struct Policies {
    sequence: i64,
    authorizer: Arc<Authorizer>,
}

impl Policies {
    pub(crate) fn built_in(segregation: tollgate_authz::Segregation) -> Policies {
        let authorizer = Authorizer::new(segregation, &[]).expect("the built-in policies are valid");
        Policies { sequence: 0, authorizer: Arc::new(authorizer) }
    }
}

/// What `authz check` asks about.
#[derive(Debug, Clone, Default)]
pub struct CheckInput {
    /// Whose request (yourself when empty).
    pub principal: Option<String>,
    pub action: String,
    /// The resource's name; its type follows from the action. Ignored for system actions.
    pub resource: Option<String>,
    /// For `deploy`: the release (id or version).
    pub release: Option<String>,
    pub reason: Option<String>,
}

/// The outcome of applying user policies.
#[derive(Debug, Clone)]
pub struct AppliedPolicies {
    pub version: PolicyVersion,
    pub policies: Vec<PolicyInfo>,
    /// False when the same files were in force already (nothing was written).
    pub changed: bool,
}

impl Tollgate {
    /// Decides whether `principal` may do `action` on `resource`, reading the principal's
    /// facts from a snapshot. Fails with `Forbidden` and the policies' reason when denied.
    /// Decisions on sensitive actions are audited in their own transaction.
    pub(crate) async fn authorize(
        &self,
        principal: &Principal,
        action: Action,
        resource: Resource,
        context: Context,
    ) -> ServiceResult<Decision> {
        let decision = {
            let mut read = self.store.read().await?;
            self.decide_in(&mut read, principal, action, resource.clone(), context).await?
        };
        self.audit_decision(principal, action, &resource, &decision).await?;
        if decision.allowed {
            Ok(decision)
        } else {
            Err(ServiceError::Forbidden { reason: decision.reason() })
        }
    }

    /// Authorizes reading the records.
    pub(crate) async fn authorize_read(&self, principal: &Principal) -> ServiceResult<()> {
        self.authorize(principal, Action::ReadRecords, Resource::System, Context::default()).await.map(drop)
    }

    /// The decision alone: no audit, no error on denial.
    pub(crate) async fn decide_in(
        &self,
        conn: &mut Conn,
        principal: &Principal,
        action: Action,
        resource: Resource,
        context: Context,
    ) -> ServiceResult<Decision> {
        let authorizer = self.authorizer(conn).await?;
        let facts = principal_facts(conn, &principal.user.name, &principal.user.roles, self.now()).await?;
        let request = Request { principal: facts, action, resource, context, at: self.now() };
        Ok(authorizer.authorize(&request))
    }

    async fn audit_decision(
        &self,
        principal: &Principal,
        action: Action,
        resource: &Resource,
        decision: &Decision,
    ) -> ServiceResult<()> {
        // An allowed request is on record through the change it makes (a request that changes
        // nothing, such as bad input, leaves the log alone); a denied one through this entry.
        let audited = match action.info().audited {
            Audited::Always | Audited::Denials => !decision.allowed,
            Audited::No => false,
        };
        if !audited {
            return Ok(());
        }
        let record = DecisionRecord {
            action: action.name().to_owned(),
            resource: describe(resource),
            allowed: decision.allowed,
            policies: decision.policies.iter().map(|policy| policy.id.clone()).collect(),
            grants: decision.grants.clone(),
            reason: decision.reason(),
            tier: match resource {
                Resource::Environment { tier, .. } => Some(*tier),
                _ => None,
            },
        };
        let verb = if decision.allowed { AuditAction::Allow } else { AuditAction::Deny };
        let mut tx = self.store.begin().await?;
        let object = ObjectRef::new(ObjectKind::AuthzDecision, action.name());
        let change = Change { action: verb, object, before: None, after: Some(&record), reason: None };
        self.record_for(&mut tx, principal, change).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The authorizer for the latest user policies, rebuilt when another version was applied
    /// (on this replica or another).
    pub(crate) async fn authorizer(&self, conn: &mut Conn) -> ServiceResult<Arc<Authorizer>> {
        let sequence = conn.latest_authz_policy_sequence().await?;
        {
            let policies = self.policies.read().expect("the policy lock is never poisoned");
            if policies.sequence == sequence {
                return Ok(policies.authorizer.clone());
            }
        }
        let files = match conn.latest_authz_policy_version().await? {
            Some(version) => files_of(&version.files),
            None => Vec::new(),
        };
        // Stored policies were valid when applied; a schema change that breaks them must not
        // lock everyone out, so they are dropped with an error in the log.
        let authorizer = match Authorizer::new(self.settings.segregation, &files) {
            Ok(authorizer) => authorizer,
            Err(errors) => {
                tracing::error!(%errors, sequence, "stored authorization policies no longer validate; only the built-in policies apply");
                Authorizer::new(self.settings.segregation, &[]).expect("the built-in policies are valid")
            }
        };
        let authorizer = Arc::new(authorizer);
        let mut policies = self.policies.write().expect("the policy lock is never poisoned");
        *policies = Policies { sequence, authorizer: authorizer.clone() };
        Ok(authorizer)
    }

    /// A release as decisions see it.
    pub(crate) async fn release_facts(&self, conn: &mut Conn, release: &Release) -> ServiceResult<ReleaseFacts> {
        facts_of_release(conn, release).await
    }

    /// A release not yet written, authored by `author`.
    pub(crate) async fn new_release_facts(
        &self,
        conn: &mut Conn,
        author: &UserName,
        lifecycle: &LifecycleName,
        services: &[ServiceName],
    ) -> ServiceResult<ReleaseFacts> {
        facts_of_new_release(conn, author, lifecycle, services).await
    }

    // Just-in-time grants

    /// Grants `input.user` a role in an environment for a while, with a reason. Audited.
    pub async fn grant(&self, principal: &Principal, input: GrantInput) -> ServiceResult<JitGrant> {
        let new = input.parse()?;
        let (environment, role) = {
            let mut read = self.store.read().await?;
            let environment = read
                .find_environment(&new.environment)
                .await?
                .ok_or_else(|| ServiceError::invalid("environment", unknown("environment", &new.environment)))?;
            if read.find_user(&new.user).await?.is_none() {
                return Err(ServiceError::invalid("user", unknown("user", &new.user)));
            }
            (environment, new.role)
        };
        let context = Context { subject: Some(new.user.clone()), role: Some(role), ..Context::default() };
        self.authorize(principal, Action::JitGrant, environment_resource(&environment), context).await?;
        let now = self.now();
        let expires_at = now
            .checked_add(jiff::SignedDuration::from_secs(new.seconds))
            .map_err(|_| ServiceError::invalid("duration", Problem::Invalid { reason: "out of range".into() }))?;
        let mut tx = self.store.begin().await?;
        let id = tx.insert_grant(&new, &principal.user.name, now, expires_at).await?;
        let grant = tx.find_grant(id).await?.ok_or_else(|| not_found(Entity::Grant, id))?;
        let object = ObjectRef::new(ObjectKind::JitGrant, id);
        let change = Change {
            action: AuditAction::Create,
            object,
            before: None,
            after: Some(&grant),
            reason: Some(&grant.reason),
        };
        self.record_for(&mut tx, principal, change).await?;
        tx.commit().await?;
        Ok(grant)
    }

    /// Grants that have not expired: everyone's for those who may list them, your own otherwise.
    pub async fn list_grants(&self, principal: &Principal) -> ServiceResult<Vec<JitGrant>> {
        let mut read = self.store.read().await?;
        let all =
            self.decide_in(&mut read, principal, Action::JitList, Resource::System, Context::default()).await?.allowed;
        let user = (!all).then_some(&principal.user.name);
        Ok(read.list_grants(user, self.now()).await?)
    }

    /// Revokes a grant before it expires. Audited, with the reason when one is given.
    pub async fn revoke_grant(
        &self,
        principal: &Principal,
        id: GrantId,
        reason: Option<&str>,
    ) -> ServiceResult<JitGrant> {
        let reason = match reason {
            Some(reason) => {
                let mut violations = Violations::new();
                let reason = tollgate_core::authz::check_reason(&mut violations, reason);
                violations.into_result(reason)?
            }
            None => None,
        };
        let (before, environment) = {
            let mut read = self.store.read().await?;
            let grant = read.find_grant(id).await?.ok_or_else(|| not_found(Entity::Grant, id))?;
            let environment = read.find_environment(&grant.environment).await?;
            (grant, environment)
        };
        let resource = match &environment {
            Some(environment) => environment_resource(environment),
            None => Resource::Environment { name: before.environment.clone(), tier: Tier::Prod },
        };
        let context = Context { subject: Some(before.user.clone()), role: Some(before.role), ..Context::default() };
        self.authorize(principal, Action::JitRevoke, resource, context).await?;
        let mut tx = self.store.begin().await?;
        tx.revoke_grant(id, &principal.user.name, self.now()).await.map_err(|error| match error {
            tollgate_store::StoreError::NotFound { .. } => {
                ServiceError::Conflict { entity: Entity::Grant, key: format!("{id} (already revoked)") }
            }
            other => other.into(),
        })?;
        let after = tx.find_grant(id).await?.ok_or_else(|| not_found(Entity::Grant, id))?;
        let object = ObjectRef::new(ObjectKind::JitGrant, id);
        let change = Change {
            action: AuditAction::Revoke,
            object,
            before: Some(&before),
            after: Some(&after),
            reason: reason.as_deref(),
        };
        self.record_for(&mut tx, principal, change).await?;
        tx.commit().await?;
        Ok(after)
    }

    // User policies

    /// Replaces the user policies with `files`, after validating them against the schema.
    /// Audited; versioned by sequence and SHA-256. The same files again change nothing.
    pub async fn apply_authz_policies(
        &self,
        principal: &Principal,
        files: Vec<PolicyFileRecord>,
    ) -> ServiceResult<AppliedPolicies> {
        self.authorize(principal, Action::AuthzPolicyApply, Resource::System, Context::default()).await?;
        let policies = Authorizer::validate(&files_of(&files)).map_err(policy_violations)?;
        let sha256 = digest_of(&files);
        let mut tx = self.store.begin().await?;
        if let Some(latest) = tx.latest_authz_policy_version().await? {
            if latest.sha256 == sha256 {
                return Ok(AppliedPolicies { version: latest, policies, changed: false });
            }
        }
        let now = self.now();
        let sequence = tx.insert_authz_policy_version(&sha256, &files, &principal.user.name, now).await?;
        let summary = PolicyVersionSummary {
            sequence,
            sha256: sha256.clone(),
            files: files.iter().map(|file| file.name.clone()).collect(),
            policies: policies.iter().map(|policy| policy.id.clone()).collect(),
        };
        let object = ObjectRef::new(ObjectKind::AuthzPolicy, sequence);
        let change = Change { action: AuditAction::Apply, object, before: None, after: Some(&summary), reason: None };
        self.record_for(&mut tx, principal, change).await?;
        tx.commit().await?;
        let version =
            PolicyVersion { sequence, sha256, files, applied_by: principal.user.name.clone(), applied_at: now };
        Ok(AppliedPolicies { version, policies, changed: true })
    }

    /// The policies in force (built-in and user) and the version of the user policies.
    pub async fn list_authz_policies(
        &self,
        principal: &Principal,
    ) -> ServiceResult<(Option<PolicyVersion>, Vec<PolicyInfo>)> {
        self.authorize(principal, Action::AuthzPolicyRead, Resource::System, Context::default()).await?;
        let mut read = self.store.read().await?;
        let version = read.latest_authz_policy_version().await?;
        let authorizer = self.authorizer(&mut read).await?;
        Ok((version, authorizer.policies()))
    }

    /// Whether a request would be allowed, and which policies decide: for yourself, or (for
    /// those who may read the policies) for anyone.
    pub async fn check_authz(&self, principal: &Principal, input: CheckInput) -> ServiceResult<Decision> {
        let action = Action::parse(&input.action).ok_or_else(|| {
            let accepted: Vec<&str> = tollgate_authz::ACTIONS.iter().map(|info| info.name).collect();
            ServiceError::invalid(
                "action",
                Problem::Invalid { reason: format!("{:?} is not one of {}", input.action, accepted.join(", ")) },
            )
        })?;
        let mut read = self.store.read().await?;
        let subject = match input.principal.as_deref().filter(|name| *name != principal.user.name.as_str()) {
            None => principal.clone(),
            Some(name) => {
                let name = parse_key(name, UserName::parse)?;
                let user = read.find_user(&name).await?.ok_or_else(|| not_found(Entity::User, &name))?;
                Principal { user, token: None, request_id: principal.request_id.clone(), kind: PrincipalKind::User }
            }
        };
        let own = subject.user.name == principal.user.name;
        let needed = if own { Action::AuthzCheck } else { Action::AuthzPolicyRead };
        let allowed = self.decide_in(&mut read, principal, needed, Resource::System, Context::default()).await?;
        if !allowed.allowed {
            return Err(ServiceError::Forbidden { reason: allowed.reason() });
        }
        let resource = match action.resource_type() {
            // A change request is judged with the facts of its release and environment.
            ResourceType::ChangeRequest => {
                let number = input.resource.as_deref().unwrap_or_default();
                let id = number.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
                    let reason = format!("{number:?} is not a change request number");
                    ServiceError::invalid("resource", Problem::Invalid { reason })
                })?;
                self.change_resource_in(&mut read, tollgate_core::change::ChangeId(id)).await?
            }
            kind => resource_named(&mut read, kind, input.resource.as_deref()).await?,
        };
        let mut context = Context { reason: input.reason.clone(), ..Context::default() };
        if let Some(release) = &input.release {
            let reference = ReleaseRef::parse(release).map_err(|problem| ServiceError::invalid("release", problem))?;
            let release = get_in(&mut read, &reference).await?;
            context.release = Some(self.release_facts(&mut read, &release).await?);
        }
        self.decide_in(&mut read, &subject, action, resource, context).await
    }
}

/// The facts about `user` a decision needs at `at`.
async fn principal_facts(
    conn: &mut Conn,
    user: &UserName,
    roles: &BTreeSet<tollgate_core::user::Role>,
    at: tollgate_core::Timestamp,
) -> ServiceResult<PrincipalFacts> {
    let grants = conn
        .list_grants(Some(user), at)
        .await?
        .into_iter()
        .filter(|grant| grant.is_active(at))
        .map(|grant| tollgate_authz::Grant {
            id: grant.id.0,
            role: grant.role,
            environment: grant.environment,
            not_before: grant.not_before,
            expires_at: grant.expires_at,
            revoked_at: grant.revoked_at,
        })
        .collect();
    Ok(PrincipalFacts { name: user.clone(), roles: roles.clone(), teams: conn.teams_of(user).await?, grants })
}

/// The resource of `kind` named `name`, read from the store (for `authz check`).
async fn resource_named(conn: &mut Conn, kind: ResourceType, name: Option<&str>) -> ServiceResult<Resource> {
    let required = || {
        name.ok_or_else(|| {
            ServiceError::invalid("resource", Problem::Invalid { reason: format!("a {kind} must be named") })
        })
    };
    Ok(match kind {
        ResourceType::System if name.is_some() => {
            return Err(ServiceError::invalid(
                "resource",
                Problem::Invalid { reason: "the action is about the system: name no resource".into() },
            ))
        }
        ResourceType::System => Resource::System,
        ResourceType::Team => Resource::Team(parse_key(required()?, TeamName::parse)?),
        ResourceType::Service => {
            let name = parse_key(required()?, ServiceName::parse)?;
            let service = conn.find_service(&name).await?.ok_or_else(|| not_found(Entity::Service, &name))?;
            service_resource(&service)
        }
        ResourceType::Environment => {
            let name = parse_key(required()?, EnvironmentName::parse)?;
            let environment =
                conn.find_environment(&name).await?.ok_or_else(|| not_found(Entity::Environment, &name))?;
            environment_resource(&environment)
        }
        ResourceType::Lifecycle => {
            let name = parse_key(required()?, LifecycleName::parse)?;
            conn.find_lifecycle(&name).await?.ok_or_else(|| not_found(Entity::Lifecycle, &name))?;
            Resource::Lifecycle { reaches_prod: lifecycle_reaches_prod(conn, &name).await?, name: name.to_string() }
        }
        ResourceType::Release => {
            let reference =
                ReleaseRef::parse(required()?).map_err(|problem| ServiceError::invalid("resource", problem))?;
            let release = get_in(conn, &reference).await?;
            Resource::Release(facts_of_release(conn, &release).await?)
        }
        // Named by number and judged with its release's facts: see `check_authz`.
        ResourceType::ChangeRequest => {
            return Err(ServiceError::invalid(
                "resource",
                Problem::Invalid { reason: "a change request is named by its number".into() },
            ));
        }
    })
}

/// Whether `lifecycle` reaches a prod-tier environment (an unknown lifecycle counts as one).
pub(crate) async fn lifecycle_reaches_prod(conn: &mut Conn, lifecycle: &LifecycleName) -> ServiceResult<bool> {
    let Some(lifecycle) = conn.find_lifecycle(lifecycle).await? else {
        return Ok(true);
    };
    for name in lifecycle.environments() {
        if conn.find_environment(name).await?.is_some_and(|environment| environment.tier == Tier::Prod) {
            return Ok(true);
        }
    }
    Ok(false)
}

pub(crate) fn environment_resource(environment: &Environment) -> Resource {
    Resource::Environment { name: environment.name.clone(), tier: environment.tier }
}

pub(crate) fn service_resource(service: &Service) -> Resource {
    Resource::Service {
        name: service.name.to_string(),
        owner: service.owner.clone(),
        criticality: service.criticality.to_string(),
        labels: service.labels.iter().map(|label| label.as_str().to_owned()).collect(),
    }
}

fn describe(resource: &Resource) -> String {
    match resource {
        Resource::System => "the system".to_owned(),
        Resource::Team(team) => format!("team {team}"),
        Resource::Service { name, .. } => format!("service {name}"),
        Resource::Environment { name, .. } => format!("environment {name}"),
        Resource::Lifecycle { name, .. } => format!("lifecycle {name}"),
        Resource::Release(release) => format!("release {}", release.version),
        Resource::ChangeRequest(change) => format!("change request {}", change.id),
    }
}

fn files_of(files: &[PolicyFileRecord]) -> Vec<PolicyFile> {
    files.iter().map(|file| PolicyFile { name: file.name.clone(), text: file.text.clone() }).collect()
}

/// SHA-256 (hex) of the canonical JSON of the files.
fn digest_of(files: &[PolicyFileRecord]) -> String {
    let canonical = serde_json::to_vec(files).expect("policy files serialize");
    hex::encode(Sha256::digest(&canonical))
}

/// Policy errors as violations: one per problem, under `files[i]` of the file it is in.
fn policy_violations(errors: tollgate_authz::PolicyErrors) -> ServiceError {
    let mut violations = Violations::new();
    for error in errors.0 {
        violations.push("policies", Problem::Invalid { reason: error.to_string() });
    }
    ServiceError::Invalid(violations)
}

fn unknown(kind: &'static str, name: &impl ToString) -> Problem {
    Problem::UnknownReference { kind, name: name.to_string() }
}

/// What authorization sees of `release`.
async fn facts_of_release(conn: &mut Conn, release: &Release) -> ServiceResult<ReleaseFacts> {
    let services: Vec<ServiceName> = release.content.services().cloned().collect();
    let mut facts = facts_of_new_release(conn, &release.created_by, &release.content.lifecycle, &services).await?;
    facts.id = release.id.0;
    facts.version = release.content.version.to_string();
    facts.state = release.state.to_string();
    Ok(facts)
}

/// What authorization sees of a release not yet written, authored by `author`.
async fn facts_of_new_release(
    conn: &mut Conn,
    author: &UserName,
    lifecycle: &LifecycleName,
    services: &[ServiceName],
) -> ServiceResult<ReleaseFacts> {
    let mut teams = BTreeSet::new();
    let mut labels = BTreeSet::new();
    for service in services {
        if let Some(service) = conn.find_service(service).await? {
            teams.insert(service.owner);
            labels.extend(service.labels.iter().map(|label| label.as_str().to_owned()));
        }
    }
    Ok(ReleaseFacts {
        id: 0,
        version: String::new(),
        state: "draft".to_owned(),
        author: author.clone(),
        teams,
        author_teams: conn.teams_of(author).await?,
        reaches_prod: lifecycle_reaches_prod(conn, lifecycle).await?,
        labels,
    })
}
