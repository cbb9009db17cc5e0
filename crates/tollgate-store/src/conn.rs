//! Reads. `Conn` is an open transaction; `StoreRead` and `StoreTx` both give access to it, so
//! a use case reads and writes through one transaction.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::{Deref, DerefMut};

use sqlx::any::Any;
use sqlx::Transaction;
use tollgate_core::deployment::{DeployedRelease, Deployment, DeploymentId, DeploymentStatus};
use tollgate_core::digest::Sha256Digest;
use tollgate_core::environment::Environment;
use tollgate_core::lifecycle::Lifecycle;
use tollgate_core::name::{EnvironmentName, LifecycleName, ServiceName, TeamName, UserName};
use tollgate_core::release::filter::ReleaseFilter;
use tollgate_core::release::{ArtifactRef, Release, ReleaseId, ReleaseState, ReleaseSummary};
use tollgate_core::service::Service;
use tollgate_core::team::Team;
use tollgate_core::token::{ApiToken, TokenId};
use tollgate_core::user::User;
use tollgate_core::{Entity, Page, Timestamp};

use crate::error::StoreError;
use crate::rows::{
    artifact, micros, parse, DeploymentRow, EnvironmentRow, ReleaseArtifactRow, ReleaseRow, ScopeItemRow, ServiceRow,
    TeamRow, TokenRow, UserRow,
};

/// An open transaction, for reading.
pub struct Conn {
    pub(crate) transaction: Transaction<'static, Any>,
}

/// A read-only snapshot.
pub struct StoreRead {
    conn: Conn,
}

impl StoreRead {
    pub(crate) fn new(transaction: Transaction<'static, Any>) -> StoreRead {
        StoreRead { conn: Conn { transaction } }
    }
}

impl Deref for StoreRead {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        &self.conn
    }
}

impl DerefMut for StoreRead {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.conn
    }
}

const RELEASE_COLUMNS: &str = "id, version, lifecycle, release_type, strategy, planned_start, planned_end, \
     scope_freeze_at, rollback_criteria, state, manifest_digest, created_by, created_at, updated_at, revision";

const DEPLOYMENT_COLUMNS: &str = "d.id, d.release_id, r.version AS release_version, d.environment, \
     d.manifest_digest, d.status, d.skipped_environment, d.rollback_cause, d.actor, d.started_at, d.finished_at, \
     d.rolled_back_at";

/// Every table, for row counts.
/// `text` with the characters `LIKE` treats specially escaped by a backslash.
pub(crate) fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if matches!(character, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

pub(crate) const TABLES: &[&str] = &[
    "users",
    "calendar_periods",
    "teams",
    "team_members",
    "api_tokens",
    "services",
    "service_dependencies",
    "environments",
    "lifecycles",
    "lifecycle_environments",
    "releases",
    "release_artifacts",
    "release_scope_items",
    "deployments",
    "current_register",
    "deployment_leases",
    "environment_locks",
    "deployment_runs",
    "deployment_steps",
    "deployment_logs",
    "quarantines",
    "change_requests",
    "change_approvals",
    "change_policy",
    "release_trains",
    "audit_entries",
    "audit_checkpoints",
    "signing_keys",
    "artifacts",
    "artifact_tags",
    "trusted_keys",
    "artifact_signatures",
    "evidence",
    "retention_policies",
    "legal_holds",
    "signing_key_retirements",
    "artifact_tombstones",
    "policy_versions",
    "gate_decisions",
    "gate_overrides",
    "user_roles",
    "authz_policy_versions",
    "jit_grants",
    "web_sessions",
    "login_failures",
    "login_lockouts",
    "sso_config",
    "sso_logins",
    "sso_identities",
    "audit_index",
    "audit_verifications",
];

impl Conn {
    pub(crate) fn executor(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.transaction
    }

    // Users

    pub async fn find_user(&mut self, name: &UserName) -> Result<Option<User>, StoreError> {
        let row: Option<UserRow> = sqlx::query_as("SELECT name, display_name FROM users WHERE name = $1")
            .bind(name.as_str())
            .fetch_optional(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        match row {
            None => Ok(None),
            Some(row) => {
                let roles =
                    self.names("SELECT role FROM user_roles WHERE user_name = $1 ORDER BY role", &row.name).await?;
                row.into_user(roles).map(Some)
            }
        }
    }

    pub async fn list_users(&mut self) -> Result<Vec<User>, StoreError> {
        let rows: Vec<UserRow> = sqlx::query_as("SELECT name, display_name FROM users ORDER BY name")
            .fetch_all(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        let mut roles = self.grouped("SELECT user_name, role FROM user_roles ORDER BY user_name, role").await?;
        rows.into_iter()
            .map(|row| {
                let user_roles = roles.remove(&row.name).unwrap_or_default();
                row.into_user(user_roles)
            })
            .collect()
    }

    /// The teams `user` is a member of.
    pub async fn teams_of(&mut self, user: &UserName) -> Result<BTreeSet<TeamName>, StoreError> {
        let names = self.names("SELECT team FROM team_members WHERE user_name = $1", user.as_str()).await?;
        names.iter().map(|name| parse(Entity::TeamMember, &name, TeamName::parse(name))).collect()
    }

    // Teams

    pub async fn find_team(&mut self, name: &TeamName) -> Result<Option<Team>, StoreError> {
        let row: Option<TeamRow> =
            sqlx::query_as("SELECT name, display_name, artifact_pattern FROM teams WHERE name = $1")
                .bind(name.as_str())
                .fetch_optional(self.executor())
                .await
                .map_err(StoreError::from_sqlx)?;
        match row {
            None => Ok(None),
            Some(row) => {
                let members = self
                    .names("SELECT user_name FROM team_members WHERE team = $1 ORDER BY user_name", &row.name)
                    .await?;
                row.into_team(members).map(Some)
            }
        }
    }

    pub async fn list_teams(&mut self) -> Result<Vec<Team>, StoreError> {
        let rows: Vec<TeamRow> = sqlx::query_as("SELECT name, display_name, artifact_pattern FROM teams ORDER BY name")
            .fetch_all(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        let mut members = self.grouped("SELECT team, user_name FROM team_members").await?;
        rows.into_iter()
            .map(|row| {
                let team_members = members.remove(&row.name).unwrap_or_default();
                row.into_team(team_members)
            })
            .collect()
    }

    // Tokens

    /// The token whose secret has this digest, if any.
    pub async fn find_token_by_digest(&mut self, digest: &Sha256Digest) -> Result<Option<ApiToken>, StoreError> {
        let row: Option<TokenRow> = sqlx::query_as(
            "SELECT id, user_name, description, prefix, created_at, expires_at, revoked_at, parent_id FROM api_tokens WHERE secret_hash = $1",
        )
        .bind(digest.as_bytes().to_vec())
        .fetch_optional(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        row.map(ApiToken::try_from).transpose()
    }

    pub async fn find_token(&mut self, id: TokenId) -> Result<Option<ApiToken>, StoreError> {
        let row: Option<TokenRow> = sqlx::query_as(
            "SELECT id, user_name, description, prefix, created_at, expires_at, revoked_at, parent_id FROM api_tokens WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        row.map(ApiToken::try_from).transpose()
    }

    /// Tokens, of one user or of everyone, oldest first.
    /// The ids of `id` and every token created, directly or not, with it.
    pub async fn token_tree(&mut self, id: TokenId) -> Result<Vec<TokenId>, StoreError> {
        let rows: Vec<(i64,)> = sqlx::query_as(
            "WITH RECURSIVE tree(id) AS (SELECT id FROM api_tokens WHERE id = $1 \
             UNION SELECT t.id FROM api_tokens t JOIN tree ON t.parent_id = tree.id) SELECT id FROM tree ORDER BY id",
        )
        .bind(id.0)
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        Ok(rows.into_iter().map(|(id,)| TokenId(id)).collect())
    }

    pub async fn list_tokens(&mut self, user: Option<&UserName>) -> Result<Vec<ApiToken>, StoreError> {
        let rows: Vec<TokenRow> = sqlx::query_as(
            "SELECT id, user_name, description, prefix, created_at, expires_at, revoked_at, parent_id FROM api_tokens \
             WHERE ($1 IS NULL OR user_name = $1) ORDER BY id",
        )
        .bind(user.map(|user| user.to_string()))
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        rows.into_iter().map(ApiToken::try_from).collect()
    }

    // Services

    pub async fn find_service(&mut self, name: &ServiceName) -> Result<Option<Service>, StoreError> {
        let row: Option<ServiceRow> = sqlx::query_as(
            "SELECT name, owner, criticality, description, labels, deploy_plan FROM services WHERE name = $1",
        )
        .bind(name.as_str())
        .fetch_optional(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        match row {
            None => Ok(None),
            Some(row) => {
                let depends_on = self
                    .names(
                        "SELECT depends_on FROM service_dependencies WHERE service = $1 ORDER BY depends_on",
                        &row.name,
                    )
                    .await?;
                row.into_service(depends_on).map(Some)
            }
        }
    }

    pub async fn list_services(&mut self) -> Result<Vec<Service>, StoreError> {
        let rows: Vec<ServiceRow> = sqlx::query_as(
            "SELECT name, owner, criticality, description, labels, deploy_plan FROM services ORDER BY name",
        )
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        let mut dependencies = self.grouped("SELECT service, depends_on FROM service_dependencies").await?;
        rows.into_iter()
            .map(|row| {
                let depends_on = dependencies.remove(&row.name).unwrap_or_default();
                row.into_service(depends_on)
            })
            .collect()
    }

    // Environments

    pub async fn find_environment(&mut self, name: &EnvironmentName) -> Result<Option<Environment>, StoreError> {
        let row: Option<EnvironmentRow> = sqlx::query_as("SELECT name, tier, region FROM environments WHERE name = $1")
            .bind(name.as_str())
            .fetch_optional(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        row.map(Environment::try_from).transpose()
    }

    pub async fn list_environments(&mut self) -> Result<Vec<Environment>, StoreError> {
        let rows: Vec<EnvironmentRow> = sqlx::query_as("SELECT name, tier, region FROM environments ORDER BY name")
            .fetch_all(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        rows.into_iter().map(Environment::try_from).collect()
    }

    // Lifecycles

    pub async fn find_lifecycle(&mut self, name: &LifecycleName) -> Result<Option<Lifecycle>, StoreError> {
        let exists: Option<(String,)> = sqlx::query_as("SELECT name FROM lifecycles WHERE name = $1")
            .bind(name.as_str())
            .fetch_optional(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        if exists.is_none() {
            return Ok(None);
        }
        let environments = self
            .names(
                "SELECT environment FROM lifecycle_environments WHERE lifecycle = $1 ORDER BY position",
                name.as_str(),
            )
            .await?;
        lifecycle(name.as_str(), environments).map(Some)
    }

    pub async fn list_lifecycles(&mut self) -> Result<Vec<Lifecycle>, StoreError> {
        let names: Vec<(String,)> = sqlx::query_as("SELECT name FROM lifecycles ORDER BY name")
            .fetch_all(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        let mut environments = self
            .grouped("SELECT lifecycle, environment FROM lifecycle_environments ORDER BY lifecycle, position")
            .await?;
        names
            .into_iter()
            .map(|(name,)| {
                let path = environments.remove(&name).unwrap_or_default();
                lifecycle(&name, path)
            })
            .collect()
    }

    // Releases

    pub async fn find_release(&mut self, id: ReleaseId) -> Result<Option<Release>, StoreError> {
        let row: Option<ReleaseRow> = sqlx::query_as(&format!("SELECT {RELEASE_COLUMNS} FROM releases WHERE id = $1"))
            .bind(id.0)
            .fetch_optional(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        match row {
            None => Ok(None),
            Some(row) => self.assemble_release(row).await.map(Some),
        }
    }

    pub async fn find_release_by_version(&mut self, version: &semver::Version) -> Result<Option<Release>, StoreError> {
        let row: Option<ReleaseRow> =
            sqlx::query_as(&format!("SELECT {RELEASE_COLUMNS} FROM releases WHERE version = $1"))
                .bind(version.to_string())
                .fetch_optional(self.executor())
                .await
                .map_err(StoreError::from_sqlx)?;
        match row {
            None => Ok(None),
            Some(row) => self.assemble_release(row).await.map(Some),
        }
    }

    /// Releases, newest first; the cursor is the id of the last release of the previous page.
    pub async fn list_releases(&mut self, page: Page) -> Result<Vec<Release>, StoreError> {
        let rows: Vec<ReleaseRow> = sqlx::query_as(&format!(
            "SELECT {RELEASE_COLUMNS} FROM releases WHERE ($1 IS NULL OR id < $1) ORDER BY id DESC LIMIT $2"
        ))
        .bind(page.cursor)
        .bind(page.bounded_limit())
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        let mut releases = Vec::with_capacity(rows.len());
        for row in rows {
            releases.push(self.assemble_release(row).await?);
        }
        Ok(releases)
    }

    /// A page of releases matching `filter`, newest first, with the services each deploys; the
    /// cursor is the id of the last release of the previous page. Filtered and paged in the
    /// database (indexes `releases_by_state`, `release_artifacts_by_service`).
    pub async fn list_release_summaries(
        &mut self,
        filter: &ReleaseFilter,
        page: Page,
    ) -> Result<Vec<ReleaseSummary>, StoreError> {
        let text = filter.text.as_ref().map(|text| format!("%{}%", escape_like(&text.to_lowercase())));
        let rows: Vec<(i64, String, String, String, String, String, i64)> = sqlx::query_as(
            "SELECT r.id, r.version, r.state, r.release_type, r.lifecycle, r.created_by, r.updated_at FROM releases r \
             WHERE (CAST($1 AS TEXT) IS NULL OR r.state = $1) \
             AND (CAST($2 AS TEXT) IS NULL OR EXISTS (SELECT 1 FROM release_artifacts a \
                  WHERE a.release_id = r.id AND a.service = $2)) \
             AND (CAST($3 AS TEXT) IS NULL OR EXISTS (SELECT 1 FROM release_artifacts a \
                  JOIN services s ON s.name = a.service WHERE a.release_id = r.id AND s.owner = $3)) \
             AND (CAST($4 AS TEXT) IS NULL OR LOWER(r.version) LIKE $4 ESCAPE '\\' OR EXISTS (SELECT 1 FROM \
                  release_scope_items i WHERE i.release_id = r.id \
                  AND (LOWER(i.ticket) LIKE $4 ESCAPE '\\' OR LOWER(i.title) LIKE $4 ESCAPE '\\'))) \
             AND (CAST($5 AS BIGINT) IS NULL OR r.id < $5) \
             ORDER BY r.id DESC LIMIT $6",
        )
        .bind(filter.state.map(|state| state.as_str()))
        .bind(filter.service.as_ref().map(ServiceName::as_str))
        .bind(filter.team.as_ref().map(TeamName::as_str))
        .bind(text)
        .bind(page.cursor)
        .bind(page.bounded_limit())
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        let mut services: BTreeMap<i64, Vec<ServiceName>> = BTreeMap::new();
        if !rows.is_empty() {
            let placeholders: Vec<String> = (1..=rows.len()).map(|n| format!("${n}")).collect();
            let sql = format!(
                "SELECT release_id, service FROM release_artifacts WHERE release_id IN ({}) ORDER BY service",
                placeholders.join(", ")
            );
            let mut query = sqlx::query_as::<_, (i64, String)>(&sql);
            for row in &rows {
                query = query.bind(row.0);
            }
            for (id, service) in query.fetch_all(self.executor()).await.map_err(StoreError::from_sqlx)? {
                services.entry(id).or_default().push(parse(Entity::Service, &service, ServiceName::parse(&service))?);
            }
        }
        rows.into_iter()
            .map(|(id, version, state, release_type, lifecycle, created_by, updated_at)| {
                Ok(ReleaseSummary {
                    id: ReleaseId(id),
                    version: parse(
                        Entity::Release,
                        &id,
                        semver::Version::parse(&version).map_err(|error| tollgate_core::Problem::InvalidVersion {
                            value: version.clone(),
                            reason: error.to_string(),
                        }),
                    )?,
                    state: parse(Entity::Release, &id, state.parse())?,
                    release_type: parse(Entity::Release, &id, release_type.parse())?,
                    lifecycle: parse(Entity::Release, &id, LifecycleName::parse(&lifecycle))?,
                    created_by: parse(Entity::Release, &id, UserName::parse(&created_by))?,
                    updated_at: crate::rows::timestamp(Entity::Release, &id, updated_at)?,
                    services: services.remove(&id).unwrap_or_default(),
                })
            })
            .collect()
    }

    /// How many releases are in each state (states without releases are left out).
    pub async fn count_releases_by_state(&mut self) -> Result<Vec<(ReleaseState, u64)>, StoreError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, COUNT(*) FROM releases GROUP BY state ORDER BY state")
                .fetch_all(self.executor())
                .await
                .map_err(StoreError::from_sqlx)?;
        rows.into_iter()
            .map(|(state, count)| Ok((parse(Entity::Release, &state, state.parse())?, count.unsigned_abs())))
            .collect()
    }

    async fn assemble_release(&mut self, row: ReleaseRow) -> Result<Release, StoreError> {
        let artifacts: Vec<ReleaseArtifactRow> = sqlx::query_as(
            "SELECT service, name, version, digest FROM release_artifacts WHERE release_id = $1 ORDER BY service",
        )
        .bind(row.id)
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        let scope: Vec<ScopeItemRow> = sqlx::query_as(
            "SELECT ticket, title, excluded_reason FROM release_scope_items WHERE release_id = $1 ORDER BY position",
        )
        .bind(row.id)
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        row.into_release(artifacts, scope)
    }

    // Deployments

    pub async fn find_deployment(&mut self, id: DeploymentId) -> Result<Option<Deployment>, StoreError> {
        let row: Option<DeploymentRow> = sqlx::query_as(&format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments d JOIN releases r ON r.id = d.release_id WHERE d.id = $1"
        ))
        .bind(id.0)
        .fetch_optional(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        row.map(Deployment::try_from).transpose()
    }

    /// Deployments, newest first, optionally of one environment or one release.
    pub async fn list_deployments(
        &mut self,
        environment: Option<&EnvironmentName>,
        release: Option<ReleaseId>,
        page: Page,
    ) -> Result<Vec<Deployment>, StoreError> {
        let rows: Vec<DeploymentRow> = sqlx::query_as(&format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments d JOIN releases r ON r.id = d.release_id \
             WHERE ($1 IS NULL OR d.environment = $1) AND ($2 IS NULL OR d.release_id = $2) \
             AND ($3 IS NULL OR d.id < $3) ORDER BY d.id DESC LIMIT $4"
        ))
        .bind(environment.map(|e| e.to_string()))
        .bind(release.map(|r| r.0))
        .bind(page.cursor)
        .bind(page.bounded_limit())
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        rows.into_iter().map(Deployment::try_from).collect()
    }

    /// Every deployment in an environment that succeeded (and may since have been rolled back),
    /// with the artifacts of its release: the input of the register.
    pub async fn deployed_releases(
        &mut self,
        environment: &EnvironmentName,
    ) -> Result<Vec<DeployedRelease>, StoreError> {
        let rows: Vec<DeploymentRow> = sqlx::query_as(&format!(
            "SELECT {DEPLOYMENT_COLUMNS} FROM deployments d JOIN releases r ON r.id = d.release_id \
             WHERE d.environment = $1 AND d.status IN ('succeeded', 'rolled_back') ORDER BY d.id"
        ))
        .bind(environment.as_str())
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        let artifact_rows: Vec<(i64, String, String, String, String)> = sqlx::query_as(
            "SELECT a.release_id, a.service, a.name, a.version, a.digest FROM release_artifacts a \
             WHERE a.release_id IN (SELECT release_id FROM deployments WHERE environment = $1)",
        )
        .bind(environment.as_str())
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        let mut artifacts: BTreeMap<i64, Vec<ArtifactRef>> = BTreeMap::new();
        for (release_id, service, name, version, digest) in artifact_rows {
            let row = ReleaseArtifactRow { service, name, version, digest };
            artifacts.entry(release_id).or_default().push(artifact(Entity::Release, &release_id, row)?);
        }
        rows.into_iter()
            .map(|row| {
                let release_artifacts = artifacts.get(&row.release_id).cloned().unwrap_or_default();
                Ok(DeployedRelease { deployment: Deployment::try_from(row)?, artifacts: release_artifacts })
            })
            .collect()
    }

    /// What runs in `environment` at `at`, as the deployments that put it there: for each
    /// service, the live deployment (succeeded, finished by `at`, not rolled back by then)
    /// that finished last, with only the artifacts it is the latest for. The same answer as
    /// `running_at(&deployed_releases(environment), at)`, chosen by the database instead of
    /// loading the whole history.
    pub async fn live_releases_at(
        &mut self,
        environment: &EnvironmentName,
        at: Timestamp,
    ) -> Result<Vec<DeployedRelease>, StoreError> {
        // Per service, the latest (finished_at, id): the latest finish, then the highest id
        // among equal finishes. Two GROUP BYs, which both databases run faster than a window.
        let rows: Vec<LiveRow> = sqlx::query_as(&format!(
            "WITH live AS ( \
               SELECT d.id, d.finished_at, a.service \
               FROM deployments d JOIN release_artifacts a ON a.release_id = d.release_id \
               WHERE d.environment = $1 AND d.status IN ('succeeded', 'rolled_back') \
                 AND d.finished_at <= $2 AND (d.rolled_back_at IS NULL OR d.rolled_back_at > $2) \
             ), latest AS ( \
               SELECT l.service, MAX(l.id) AS id FROM live l \
               JOIN (SELECT service, MAX(finished_at) AS finished_at FROM live GROUP BY service) m \
                 ON m.service = l.service AND m.finished_at = l.finished_at \
               GROUP BY l.service \
             ) \
             SELECT {DEPLOYMENT_COLUMNS}, a.service, a.name, a.version, a.digest \
             FROM latest x JOIN deployments d ON d.id = x.id JOIN releases r ON r.id = d.release_id \
             JOIN release_artifacts a ON a.release_id = d.release_id AND a.service = x.service \
             ORDER BY d.id, a.service"
        ))
        .bind(environment.as_str())
        .bind(micros(at))
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        live_releases(rows)
    }

    /// What runs in `environment` now, read from the current register the deployment writes
    /// keep: the same answer as `live_releases_at(environment, now)` in one indexed read.
    pub async fn current_releases(
        &mut self,
        environment: &EnvironmentName,
    ) -> Result<Vec<DeployedRelease>, StoreError> {
        let rows: Vec<LiveRow> = sqlx::query_as(&format!(
            "SELECT {DEPLOYMENT_COLUMNS}, a.service, a.name, a.version, a.digest \
             FROM current_register c JOIN deployments d ON d.id = c.deployment_id \
             JOIN releases r ON r.id = d.release_id \
             JOIN release_artifacts a ON a.release_id = d.release_id AND a.service = c.service \
             WHERE c.environment = $1 ORDER BY d.id, a.service"
        ))
        .bind(environment.as_str())
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        live_releases(rows)
    }

    /// The environments where a release has a successful deployment that was not rolled back.
    pub async fn succeeded_environments(
        &mut self,
        release: ReleaseId,
    ) -> Result<BTreeSet<EnvironmentName>, StoreError> {
        let rows: Vec<(String,)> =
            sqlx::query_as("SELECT DISTINCT environment FROM deployments WHERE release_id = $1 AND status = $2")
                .bind(release.0)
                .bind(DeploymentStatus::Succeeded.as_str())
                .fetch_all(self.executor())
                .await
                .map_err(StoreError::from_sqlx)?;
        rows.into_iter().map(|(name,)| parse(Entity::Deployment, &release, EnvironmentName::parse(&name))).collect()
    }

    /// The number of rows in every table, for checks that a refused request wrote nothing.
    pub async fn row_counts(&mut self) -> Result<BTreeMap<&'static str, i64>, StoreError> {
        let mut counts = BTreeMap::new();
        for table in TABLES {
            let (count,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(self.executor())
                .await
                .map_err(StoreError::from_sqlx)?;
            counts.insert(*table, count);
        }
        Ok(counts)
    }

    async fn names(&mut self, sql: &str, key: &str) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> =
            sqlx::query_as(sql).bind(key).fetch_all(self.executor()).await.map_err(StoreError::from_sqlx)?;
        Ok(rows.into_iter().map(|(name,)| name).collect())
    }

    /// Runs a two-column query and groups the second column by the first, keeping row order.
    async fn grouped(&mut self, sql: &str) -> Result<BTreeMap<String, Vec<String>>, StoreError> {
        let rows: Vec<(String, String)> =
            sqlx::query_as(sql).fetch_all(self.executor()).await.map_err(StoreError::from_sqlx)?;
        let mut grouped: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (key, value) in rows {
            grouped.entry(key).or_default().push(value);
        }
        Ok(grouped)
    }
}

fn lifecycle(name: &str, environments: Vec<String>) -> Result<Lifecycle, StoreError> {
    let environments = environments
        .iter()
        .map(|environment| parse(Entity::Lifecycle, &name, EnvironmentName::parse(environment)))
        .collect::<Result<Vec<_>, _>>()?;
    let name = parse(Entity::Lifecycle, &name, LifecycleName::parse(name))?;
    Lifecycle::new(name.clone(), environments)
        .map_err(|violations| StoreError::corrupt(Entity::Lifecycle, name, violations))
}

/// A live deployment with one of the artifacts it is the latest for.
#[derive(sqlx::FromRow)]
struct LiveRow {
    #[sqlx(flatten)]
    deployment: DeploymentRow,
    service: String,
    name: String,
    version: String,
    digest: String,
}

/// Folds rows ordered by deployment into one `DeployedRelease` per deployment.
fn live_releases(rows: Vec<LiveRow>) -> Result<Vec<DeployedRelease>, StoreError> {
    let mut live: Vec<DeployedRelease> = Vec::new();
    for row in rows {
        let release_id = row.deployment.release_id;
        let artifact_row =
            ReleaseArtifactRow { service: row.service, name: row.name, version: row.version, digest: row.digest };
        let artifact = artifact(Entity::Release, &release_id, artifact_row)?;
        match live.last_mut() {
            Some(last) if last.deployment.id.0 == row.deployment.id => last.artifacts.push(artifact),
            _ => live
                .push(DeployedRelease { deployment: Deployment::try_from(row.deployment)?, artifacts: vec![artifact] }),
        }
    }
    Ok(live)
}
