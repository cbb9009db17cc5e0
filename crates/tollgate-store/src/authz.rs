//! Authorization records: versions of the user Cedar policies (append-only) and just-in-time
//! grants (revoked, never deleted).

use tollgate_core::authz::{GrantId, JitGrant, NewGrant, PolicyFileRecord, PolicyVersion};
use tollgate_core::name::{EnvironmentName, UserName};
use tollgate_core::{Entity, Timestamp};

use crate::conn::Conn;
use crate::error::StoreError;
use crate::rows::{micros, parse, timestamp};
use crate::tx::StoreTx;

const GRANT_COLUMNS: &str =
    "id, user_name, role, environment, reason, granted_by, not_before, expires_at, revoked_at, revoked_by";

#[derive(sqlx::FromRow)]
struct GrantRow {
    id: i64,
    user_name: String,
    role: String,
    environment: String,
    reason: String,
    granted_by: String,
    not_before: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
    revoked_by: Option<String>,
}

impl TryFrom<GrantRow> for JitGrant {
    type Error = StoreError;

    fn try_from(row: GrantRow) -> Result<JitGrant, StoreError> {
        const ENTITY: Entity = Entity::Grant;
        let id = row.id;
        let user = |name: &str| parse(ENTITY, &id, UserName::parse(name));
        Ok(JitGrant {
            id: GrantId(id),
            user: user(&row.user_name)?,
            role: parse(ENTITY, &id, row.role.parse())?,
            environment: parse(ENTITY, &id, EnvironmentName::parse(&row.environment))?,
            reason: row.reason,
            granted_by: user(&row.granted_by)?,
            not_before: timestamp(ENTITY, &id, row.not_before)?,
            expires_at: timestamp(ENTITY, &id, row.expires_at)?,
            revoked_at: row.revoked_at.map(|at| timestamp(ENTITY, &id, at)).transpose()?,
            revoked_by: row.revoked_by.as_deref().map(user).transpose()?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct PolicyVersionRow {
    sequence: i64,
    sha256: String,
    files: String,
    applied_by: String,
    applied_at: i64,
}

impl TryFrom<PolicyVersionRow> for PolicyVersion {
    type Error = StoreError;

    fn try_from(row: PolicyVersionRow) -> Result<PolicyVersion, StoreError> {
        const ENTITY: Entity = Entity::AuthzPolicy;
        let sequence = row.sequence;
        let files: Vec<PolicyFileRecord> =
            serde_json::from_str(&row.files).map_err(|error| StoreError::corrupt(ENTITY, sequence, error))?;
        Ok(PolicyVersion {
            sequence,
            sha256: row.sha256,
            files,
            applied_by: parse(ENTITY, &sequence, UserName::parse(&row.applied_by))?,
            applied_at: timestamp(ENTITY, &sequence, row.applied_at)?,
        })
    }
}

impl Conn {
    /// The grant with this id.
    pub async fn find_grant(&mut self, id: GrantId) -> Result<Option<JitGrant>, StoreError> {
        let row: Option<GrantRow> = sqlx::query_as(&format!("SELECT {GRANT_COLUMNS} FROM jit_grants WHERE id = $1"))
            .bind(id.0)
            .fetch_optional(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        row.map(JitGrant::try_from).transpose()
    }

    /// The grants of `user` (every user's without one) that have not expired by `at`, revoked
    /// ones included; newest first.
    pub async fn list_grants(&mut self, user: Option<&UserName>, at: Timestamp) -> Result<Vec<JitGrant>, StoreError> {
        let rows: Vec<GrantRow> = sqlx::query_as(&format!(
            "SELECT {GRANT_COLUMNS} FROM jit_grants WHERE (CAST($1 AS TEXT) IS NULL OR user_name = $1) AND expires_at > $2 \
             ORDER BY id DESC"
        ))
        .bind(user.map(UserName::as_str))
        .bind(micros(at))
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        rows.into_iter().map(JitGrant::try_from).collect()
    }

    /// The latest version of the user policies, if any was applied.
    pub async fn latest_authz_policy_version(&mut self) -> Result<Option<PolicyVersion>, StoreError> {
        let row: Option<PolicyVersionRow> = sqlx::query_as(
            "SELECT sequence, sha256, files, applied_by, applied_at FROM authz_policy_versions \
             ORDER BY sequence DESC LIMIT 1",
        )
        .fetch_optional(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        row.map(PolicyVersion::try_from).transpose()
    }

    /// The sequence of the latest version of the user policies (0 when none was applied).
    pub async fn latest_authz_policy_sequence(&mut self) -> Result<i64, StoreError> {
        let (sequence,): (Option<i64>,) = sqlx::query_as("SELECT MAX(sequence) FROM authz_policy_versions")
            .fetch_one(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok(sequence.unwrap_or(0))
    }
}

impl StoreTx {
    pub async fn insert_grant(
        &mut self,
        grant: &NewGrant,
        granted_by: &UserName,
        not_before: Timestamp,
        expires_at: Timestamp,
    ) -> Result<GrantId, StoreError> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO jit_grants (user_name, role, environment, reason, granted_by, not_before, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(grant.user.as_str())
        .bind(grant.role.as_str())
        .bind(grant.environment.as_str())
        .bind(&grant.reason)
        .bind(granted_by.as_str())
        .bind(micros(not_before))
        .bind(micros(expires_at))
        .fetch_one(self.executor())
        .await
        .map_err(StoreError::on_write(Entity::Grant, grant.user.as_str()))?;
        Ok(GrantId(id))
    }

    /// Revokes a grant; fails with `NotFound` when it does not exist or is revoked already.
    pub async fn revoke_grant(&mut self, id: GrantId, by: &UserName, at: Timestamp) -> Result<(), StoreError> {
        let result =
            sqlx::query("UPDATE jit_grants SET revoked_at = $2, revoked_by = $3 WHERE id = $1 AND revoked_at IS NULL")
                .bind(id.0)
                .bind(micros(at))
                .bind(by.as_str())
                .execute(self.executor())
                .await
                .map_err(StoreError::on_write(Entity::Grant, &id.to_string()))?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound { entity: Entity::Grant, key: id.to_string() });
        }
        Ok(())
    }

    /// Appends a version of the user policies; returns its sequence.
    pub async fn insert_authz_policy_version(
        &mut self,
        sha256: &str,
        files: &[PolicyFileRecord],
        applied_by: &UserName,
        at: Timestamp,
    ) -> Result<i64, StoreError> {
        let files = serde_json::to_string(files).expect("policy files serialize");
        let (sequence,): (i64,) = sqlx::query_as(
            "INSERT INTO authz_policy_versions (sha256, files, applied_by, applied_at) VALUES ($1, $2, $3, $4) \
             RETURNING sequence",
        )
        .bind(sha256)
        .bind(files)
        .bind(applied_by.as_str())
        .bind(micros(at))
        .fetch_one(self.executor())
        .await
        .map_err(StoreError::on_write(Entity::AuthzPolicy, sha256))?;
        Ok(sequence)
    }
}
