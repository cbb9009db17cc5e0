//! Writes. Every write goes through a `StoreTx`, which also appends the audit entry, so a
//! change and its entry commit or roll back together.

use std::ops::{Deref, DerefMut};

use sqlx::any::Any;
use sqlx::Transaction;
use tollgate_core::deployment::{Deployment, DeploymentId, DeploymentStatus, DeploymentTimes, Promotion};
use tollgate_core::digest::Sha256Digest;
use tollgate_core::environment::Environment;
use tollgate_core::lifecycle::Lifecycle;
use tollgate_core::name::{EnvironmentName, UserName};
use tollgate_core::release::{ReleaseContent, ReleaseId, ReleaseState, ScopeDecision};
use tollgate_core::service::Service;
use tollgate_core::team::Team;
use tollgate_core::token::TokenId;
use tollgate_core::user::User;
use tollgate_core::Entity;
use tollgate_core::Timestamp;

use crate::conn::Conn;
use crate::error::StoreError;
use crate::rows::micros;
use crate::Audited;

/// A write transaction. Dropped without `commit`, it rolls back.
pub struct StoreTx {
    conn: Conn,
    audited: Audited,
}

impl Deref for StoreTx {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        &self.conn
    }
}

impl DerefMut for StoreTx {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.conn
    }
}

/// A new token, as stored: only the digest of its secret.
#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    pub user: &'a UserName,
    pub description: &'a str,
    pub prefix: &'a str,
    pub secret_digest: Sha256Digest,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    /// The token whose holder created this one; revoking it revokes this one.
    pub parent: Option<TokenId>,
}

/// A new deployment record.
#[derive(Debug, Clone)]
pub struct NewDeployment<'a> {
    pub release: ReleaseId,
    pub environment: &'a EnvironmentName,
    pub manifest_digest: Sha256Digest,
    pub times: DeploymentTimes,
    pub promotion: &'a Promotion,
    pub actor: &'a UserName,
}

impl StoreTx {
    pub(crate) fn new(transaction: Transaction<'static, Any>, audited: Audited) -> StoreTx {
        StoreTx { conn: Conn { transaction }, audited }
    }

    /// Whether this transaction may append audit entries (it started with `Store::begin`).
    pub(crate) fn is_audited(&self) -> bool {
        self.audited == Audited::Yes
    }

    /// Makes every write of this transaction durable.
    pub async fn commit(self) -> Result<(), StoreError> {
        self.conn.transaction.commit().await.map_err(StoreError::from_sqlx)
    }

    pub(crate) async fn execute<'q>(
        &mut self,
        query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
        entity: Entity,
        key: &str,
    ) -> Result<u64, StoreError> {
        let result = query.execute(self.conn.executor()).await.map_err(StoreError::on_write(entity, key))?;
        Ok(result.rows_affected())
    }

    /// Fails with `NotFound` when an update touched no row.
    pub(crate) fn expect_one(affected: u64, entity: Entity, key: &str) -> Result<(), StoreError> {
        if affected == 0 {
            Err(StoreError::NotFound { entity, key: key.to_owned() })
        } else {
            Ok(())
        }
    }

    // Users

    pub async fn insert_user(&mut self, user: &User, now: Timestamp) -> Result<(), StoreError> {
        let key = user.name.as_str();
        let query = sqlx::query("INSERT INTO users (name, display_name, created_at) VALUES ($1, $2, $3)")
            .bind(key)
            .bind(&user.display_name)
            .bind(micros(now));
        self.execute(query, Entity::User, key).await?;
        self.replace_roles(user).await
    }

    async fn replace_roles(&mut self, user: &User) -> Result<(), StoreError> {
        let key = user.name.as_str();
        let query = sqlx::query("DELETE FROM user_roles WHERE user_name = $1").bind(key);
        self.execute(query, Entity::User, key).await?;
        for role in &user.roles {
            let query =
                sqlx::query("INSERT INTO user_roles (user_name, role) VALUES ($1, $2)").bind(key).bind(role.as_str());
            self.execute(query, Entity::User, key).await?;
        }
        Ok(())
    }

    pub async fn update_user(&mut self, user: &User) -> Result<(), StoreError> {
        let key = user.name.as_str();
        let query =
            sqlx::query("UPDATE users SET display_name = $2 WHERE name = $1").bind(key).bind(&user.display_name);
        let affected = self.execute(query, Entity::User, key).await?;
        Self::expect_one(affected, Entity::User, key)?;
        self.replace_roles(user).await
    }

    // Teams

    pub async fn insert_team(&mut self, team: &Team) -> Result<(), StoreError> {
        let key = team.name.as_str();
        let query = sqlx::query("INSERT INTO teams (name, display_name, artifact_pattern) VALUES ($1, $2, $3)")
            .bind(key)
            .bind(&team.display_name)
            .bind(team.artifact_pattern.as_ref().map(|p| p.as_str().to_owned()));
        self.execute(query, Entity::Team, key).await?;
        self.replace_members(team).await
    }

    pub async fn update_team(&mut self, team: &Team) -> Result<(), StoreError> {
        let key = team.name.as_str();
        let query = sqlx::query("UPDATE teams SET display_name = $2, artifact_pattern = $3 WHERE name = $1")
            .bind(key)
            .bind(&team.display_name)
            .bind(team.artifact_pattern.as_ref().map(|p| p.as_str().to_owned()));
        let affected = self.execute(query, Entity::Team, key).await?;
        Self::expect_one(affected, Entity::Team, key)?;
        self.replace_members(team).await
    }

    async fn replace_members(&mut self, team: &Team) -> Result<(), StoreError> {
        let key = team.name.as_str();
        self.execute(sqlx::query("DELETE FROM team_members WHERE team = $1").bind(key), Entity::Team, key).await?;
        for member in &team.members {
            let query = sqlx::query("INSERT INTO team_members (team, user_name) VALUES ($1, $2)")
                .bind(key)
                .bind(member.as_str());
            self.execute(query, Entity::TeamMember, member.as_str()).await?;
        }
        Ok(())
    }

    // Tokens

    pub async fn insert_token(&mut self, token: &NewToken<'_>) -> Result<TokenId, StoreError> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO api_tokens (user_name, description, prefix, secret_hash, created_at, expires_at, parent_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(token.user.as_str())
        .bind(token.description)
        .bind(token.prefix)
        .bind(token.secret_digest.as_bytes().to_vec())
        .bind(micros(token.created_at))
        .bind(token.expires_at.map(micros))
        .bind(token.parent.map(|parent| parent.0))
        .fetch_one(self.conn.executor())
        .await
        .map_err(StoreError::on_write(Entity::Token, token.prefix))?;
        Ok(TokenId(id))
    }

    pub async fn revoke_token(&mut self, id: TokenId, at: Timestamp) -> Result<(), StoreError> {
        let key = id.to_string();
        let query = sqlx::query("UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id.0)
            .bind(micros(at));
        let affected = self.execute(query, Entity::Token, &key).await?;
        Self::expect_one(affected, Entity::Token, &key)
    }

    // Services

    pub async fn insert_service(&mut self, service: &Service) -> Result<(), StoreError> {
        let key = service.name.as_str();
        let query = sqlx::query(
            "INSERT INTO services (name, owner, criticality, description, labels, deploy_plan) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(key)
        .bind(service.owner.as_str())
        .bind(service.criticality.as_str())
        .bind(&service.description)
        .bind(crate::rows::joined_labels(service))
        .bind(crate::rows::plan_json(service));
        self.execute(query, Entity::Service, key).await?;
        self.replace_dependencies(service).await
    }

    pub async fn update_service(&mut self, service: &Service) -> Result<(), StoreError> {
        let key = service.name.as_str();
        let query = sqlx::query(
            "UPDATE services SET owner = $2, criticality = $3, description = $4, labels = $5, deploy_plan = $6 \
             WHERE name = $1",
        )
        .bind(key)
        .bind(service.owner.as_str())
        .bind(service.criticality.as_str())
        .bind(&service.description)
        .bind(crate::rows::joined_labels(service))
        .bind(crate::rows::plan_json(service));
        let affected = self.execute(query, Entity::Service, key).await?;
        Self::expect_one(affected, Entity::Service, key)?;
        self.replace_dependencies(service).await
    }

    async fn replace_dependencies(&mut self, service: &Service) -> Result<(), StoreError> {
        let key = service.name.as_str();
        self.execute(
            sqlx::query("DELETE FROM service_dependencies WHERE service = $1").bind(key),
            Entity::Service,
            key,
        )
        .await?;
        for dependency in &service.depends_on {
            let query = sqlx::query("INSERT INTO service_dependencies (service, depends_on) VALUES ($1, $2)")
                .bind(key)
                .bind(dependency.as_str());
            self.execute(query, Entity::ServiceDependency, dependency.as_str()).await?;
        }
        Ok(())
    }

    // Environments

    pub async fn insert_environment(&mut self, environment: &Environment) -> Result<(), StoreError> {
        let key = environment.name.as_str();
        let query = sqlx::query("INSERT INTO environments (name, tier, region) VALUES ($1, $2, $3)")
            .bind(key)
            .bind(environment.tier.as_str())
            .bind(environment.region.as_ref().map(|r| r.to_string()));
        self.execute(query, Entity::Environment, key).await.map(drop)
    }

    pub async fn update_environment(&mut self, environment: &Environment) -> Result<(), StoreError> {
        let key = environment.name.as_str();
        let query = sqlx::query("UPDATE environments SET tier = $2, region = $3 WHERE name = $1")
            .bind(key)
            .bind(environment.tier.as_str())
            .bind(environment.region.as_ref().map(|r| r.to_string()));
        let affected = self.execute(query, Entity::Environment, key).await?;
        Self::expect_one(affected, Entity::Environment, key)
    }

    // Lifecycles

    pub async fn insert_lifecycle(&mut self, lifecycle: &Lifecycle) -> Result<(), StoreError> {
        let key = lifecycle.name().as_str();
        self.execute(sqlx::query("INSERT INTO lifecycles (name) VALUES ($1)").bind(key), Entity::Lifecycle, key)
            .await?;
        self.replace_path(lifecycle).await
    }

    pub async fn update_lifecycle(&mut self, lifecycle: &Lifecycle) -> Result<(), StoreError> {
        let key = lifecycle.name().as_str();
        let (exists,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM lifecycles WHERE name = $1")
            .bind(key)
            .fetch_one(self.conn.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        Self::expect_one(u64::try_from(exists).unwrap_or(0), Entity::Lifecycle, key)?;
        self.replace_path(lifecycle).await
    }

    async fn replace_path(&mut self, lifecycle: &Lifecycle) -> Result<(), StoreError> {
        let key = lifecycle.name().as_str();
        self.execute(
            sqlx::query("DELETE FROM lifecycle_environments WHERE lifecycle = $1").bind(key),
            Entity::Lifecycle,
            key,
        )
        .await?;
        for (position, environment) in lifecycle.environments().iter().enumerate() {
            let query = sqlx::query(
                "INSERT INTO lifecycle_environments (lifecycle, position, environment) VALUES ($1, $2, $3)",
            )
            .bind(key)
            .bind(position as i64)
            .bind(environment.as_str());
            self.execute(query, Entity::Lifecycle, key).await?;
        }
        Ok(())
    }

    // Releases

    /// Stores a new release in state draft, revision 1.
    pub async fn insert_release(
        &mut self,
        content: &ReleaseContent,
        created_by: &UserName,
        now: Timestamp,
    ) -> Result<ReleaseId, StoreError> {
        let key = content.version.to_string();
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO releases (version, lifecycle, release_type, strategy, planned_start, planned_end, \
             scope_freeze_at, rollback_criteria, state, manifest_digest, created_by, created_at, updated_at, revision) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, 1) RETURNING id",
        )
        .bind(&key)
        .bind(content.lifecycle.as_str())
        .bind(content.release_type.as_str())
        .bind(content.strategy.as_str())
        .bind(content.planned_window.map(|w| micros(w.start())))
        .bind(content.planned_window.map(|w| micros(w.end())))
        .bind(content.scope_freeze_at.map(micros))
        .bind(&content.rollback_criteria)
        .bind(ReleaseState::Draft.as_str())
        .bind(content.manifest_digest().to_string())
        .bind(created_by.as_str())
        .bind(micros(now))
        .fetch_one(self.conn.executor())
        .await
        .map_err(StoreError::on_write(Entity::Release, &key))?;
        let id = ReleaseId(id);
        self.insert_release_parts(id, content).await?;
        Ok(id)
    }

    /// Replaces a release's content, if its revision is still `expected_revision`.
    pub async fn update_release_content(
        &mut self,
        id: ReleaseId,
        content: &ReleaseContent,
        expected_revision: i64,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let key = id.to_string();
        let query = sqlx::query(
            "UPDATE releases SET version = $3, lifecycle = $4, release_type = $5, strategy = $6, planned_start = $7, \
             planned_end = $8, scope_freeze_at = $9, rollback_criteria = $10, manifest_digest = $11, updated_at = $12, \
             revision = revision + 1 WHERE id = $1 AND revision = $2",
        )
        .bind(id.0)
        .bind(expected_revision)
        .bind(content.version.to_string())
        .bind(content.lifecycle.as_str())
        .bind(content.release_type.as_str())
        .bind(content.strategy.as_str())
        .bind(content.planned_window.map(|w| micros(w.start())))
        .bind(content.planned_window.map(|w| micros(w.end())))
        .bind(content.scope_freeze_at.map(micros))
        .bind(&content.rollback_criteria)
        .bind(content.manifest_digest().to_string())
        .bind(micros(now));
        let affected = self.execute(query, Entity::Release, &content.version.to_string()).await?;
        Self::stale_unless_one(affected, &key)?;
        for table in ["release_artifacts", "release_scope_items"] {
            let sql = format!("DELETE FROM {table} WHERE release_id = $1");
            let query = sqlx::query(&sql).bind(id.0);
            self.execute(query, Entity::Release, &key).await?;
        }
        self.insert_release_parts(id, content).await
    }

    /// Moves a release to `state`, if its revision is still `expected_revision`.
    pub async fn update_release_state(
        &mut self,
        id: ReleaseId,
        state: ReleaseState,
        expected_revision: i64,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let key = id.to_string();
        let query = sqlx::query(
            "UPDATE releases SET state = $3, updated_at = $4, revision = revision + 1 WHERE id = $1 AND revision = $2",
        )
        .bind(id.0)
        .bind(expected_revision)
        .bind(state.as_str())
        .bind(micros(now));
        let affected = self.execute(query, Entity::Release, &key).await?;
        Self::stale_unless_one(affected, &key)
    }

    fn stale_unless_one(affected: u64, key: &str) -> Result<(), StoreError> {
        if affected == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict { entity: Entity::Release, key: key.to_owned() })
        }
    }

    async fn insert_release_parts(&mut self, id: ReleaseId, content: &ReleaseContent) -> Result<(), StoreError> {
        let key = id.to_string();
        for artifact in &content.artifacts {
            let query = sqlx::query("INSERT INTO release_artifacts (release_id, service, name, version, digest) VALUES ($1, $2, $3, $4, $5)")
                .bind(id.0)
                .bind(artifact.service.as_str())
                .bind(artifact.name.as_str())
                .bind(artifact.version.as_str())
                .bind(artifact.digest.to_string());
            self.execute(query, Entity::ReleaseArtifact, artifact.service.as_str()).await?;
        }
        for (position, item) in content.scope.iter().enumerate() {
            let reason = match &item.decision {
                ScopeDecision::Included => None,
                ScopeDecision::Excluded { reason } => Some(reason.clone()),
            };
            let query = sqlx::query(
                "INSERT INTO release_scope_items (release_id, position, ticket, title, excluded_reason) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id.0)
            .bind(position as i64)
            .bind(&item.ticket)
            .bind(&item.title)
            .bind(reason);
            self.execute(query, Entity::Release, &key).await?;
        }
        Ok(())
    }

    // Deployments

    /// Inserts a deployment record and, when it succeeded, puts it into the current register.
    pub async fn insert_deployment(&mut self, new: &NewDeployment<'_>) -> Result<DeploymentId, StoreError> {
        // A bug, not a runtime condition: see `register_succeeded`.
        assert!(self.is_audited(), "deployments are written only in transactions started with Store::begin");
        let (skipped, cause) = match new.promotion {
            Promotion::Followed => (None, None),
            Promotion::EmergencySkipped { skipped } => (Some(skipped.to_string()), None),
            Promotion::Rollback { cause } => (None, Some(cause.as_str())),
        };
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO deployments (release_id, environment, manifest_digest, status, skipped_environment, actor, \
             started_at, finished_at, rollback_cause) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(new.release.0)
        .bind(new.environment.as_str())
        .bind(new.manifest_digest.to_string())
        .bind(new.times.status.as_str())
        .bind(skipped)
        .bind(new.actor.as_str())
        .bind(micros(new.times.started_at))
        .bind(new.times.finished_at.map(micros))
        .bind(cause)
        .fetch_one(self.conn.executor())
        .await
        .map_err(StoreError::on_write(Entity::Deployment, new.release))?;
        let id = DeploymentId(id);
        if new.times.status == DeploymentStatus::Succeeded {
            self.register_succeeded(id).await?;
        }
        Ok(id)
    }

    /// Stores a deployment's new status and times, if its status is still `expected_status`,
    /// and keeps the current register true: a success enters it, a rollback leaves it.
    pub async fn update_deployment(
        &mut self,
        deployment: &Deployment,
        expected_status: DeploymentStatus,
    ) -> Result<(), StoreError> {
        // A bug, not a runtime condition: see `register_succeeded`.
        assert!(self.is_audited(), "deployments are written only in transactions started with Store::begin");
        let key = deployment.id.to_string();
        let query = sqlx::query(
            "UPDATE deployments SET status = $3, finished_at = $4, rolled_back_at = $5 WHERE id = $1 AND status = $2",
        )
        .bind(deployment.id.0)
        .bind(expected_status.as_str())
        .bind(deployment.status.as_str())
        .bind(deployment.finished_at.map(micros))
        .bind(deployment.rolled_back_at.map(micros));
        let affected = self.execute(query, Entity::Deployment, &key).await?;
        if affected != 1 {
            return Err(StoreError::Conflict { entity: Entity::Deployment, key });
        }
        match deployment.status {
            DeploymentStatus::Succeeded => self.register_succeeded(deployment.id).await,
            DeploymentStatus::RolledBack => self.register_rolled_back(deployment.id).await,
            DeploymentStatus::Running | DeploymentStatus::Failed => Ok(()),
        }
    }

    /// Puts a deployment that succeeded into the current register, for each of its services
    /// where it finished after (or, at the same instant, was recorded after) what runs there.
    ///
    /// Invariant: deployment writes run in audited transactions, which PostgreSQL serializes on
    /// the audit head lock taken at `begin`; so each statement here sees every earlier
    /// deployment write committed, and two rollbacks cannot each restore what the other removed.
    async fn register_succeeded(&mut self, deployment: DeploymentId) -> Result<(), StoreError> {
        let sql = format!(
            "{INSERT_CURRENT} SELECT d.environment, a.service, d.id, d.finished_at \
             FROM deployments d JOIN release_artifacts a ON a.release_id = d.release_id WHERE d.id = $1 \
             {UPSERT_NEWER}"
        );
        let query = sqlx::query(&sql).bind(deployment.0);
        self.execute(query, Entity::Deployment, &deployment.to_string()).await?;
        Ok(())
    }

    /// Takes a rolled-back deployment out of the current register: each service it ran now runs
    /// what ran there before it, the newest live deployment that remains.
    async fn register_rolled_back(&mut self, deployment: DeploymentId) -> Result<(), StoreError> {
        let key = deployment.to_string();
        let query = sqlx::query("DELETE FROM current_register WHERE deployment_id = $1").bind(deployment.0);
        self.execute(query, Entity::Deployment, &key).await?;
        let sql = format!(
            "{INSERT_CURRENT} SELECT d.environment, a.service, d.id, d.finished_at \
             FROM deployments d JOIN release_artifacts a ON a.release_id = d.release_id \
             JOIN deployments r ON r.id = $1 AND r.environment = d.environment \
             JOIN release_artifacts ra ON ra.release_id = r.release_id AND ra.service = a.service \
             WHERE d.status = 'succeeded' AND NOT EXISTS ( \
               SELECT 1 FROM deployments n JOIN release_artifacts b ON b.release_id = n.release_id \
               WHERE n.environment = d.environment AND b.service = a.service AND n.status = 'succeeded' \
                 AND (n.finished_at > d.finished_at OR (n.finished_at = d.finished_at AND n.id > d.id))) \
             {UPSERT_NEWER}"
        );
        let query = sqlx::query(&sql).bind(deployment.0);
        self.execute(query, Entity::Deployment, &key).await?;
        Ok(())
    }
}

const INSERT_CURRENT: &str = "INSERT INTO current_register (environment, service, deployment_id, finished_at)";

/// Replaces a service's current deployment only with one that finished later, or at the same
/// instant with a higher id: the order `running_at` decides by.
const UPSERT_NEWER: &str = "ON CONFLICT (environment, service) DO UPDATE \
     SET deployment_id = excluded.deployment_id, finished_at = excluded.finished_at \
     WHERE excluded.finished_at > current_register.finished_at \
        OR (excluded.finished_at = current_register.finished_at \
            AND excluded.deployment_id > current_register.deployment_id)";
