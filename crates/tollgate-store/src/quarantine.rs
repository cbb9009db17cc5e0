//! Quarantined environments: one `quarantines` row per environment in quarantine.
//!
//! Invariant: an environment has at most one quarantine (its name is the key); lifting deletes
//! the row, and the audit log keeps what it was.

use tollgate_core::deployment::DeploymentId;
use tollgate_core::name::EnvironmentName;
use tollgate_core::quarantine::Quarantine;
use tollgate_core::Entity;

use crate::conn::Conn;
use crate::error::StoreError;
use crate::rows::{micros, parse, timestamp};
use crate::tx::StoreTx;

#[derive(sqlx::FromRow)]
struct QuarantineRow {
    environment: String,
    deployment_id: Option<i64>,
    reason: String,
    since: i64,
}

impl TryFrom<QuarantineRow> for Quarantine {
    type Error = StoreError;

    fn try_from(row: QuarantineRow) -> Result<Quarantine, StoreError> {
        const ENTITY: Entity = Entity::Quarantine;
        let key = row.environment.clone();
        Ok(Quarantine {
            environment: parse(ENTITY, &key, EnvironmentName::parse(&row.environment))?,
            deployment: row.deployment_id.map(DeploymentId),
            reason: row.reason,
            since: timestamp(ENTITY, &key, row.since)?,
        })
    }
}

const COLUMNS: &str = "environment, deployment_id, reason, since";

impl Conn {
    /// The quarantine of `environment`, if it is in one.
    pub async fn find_quarantine(&mut self, environment: &EnvironmentName) -> Result<Option<Quarantine>, StoreError> {
        let row: Option<QuarantineRow> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM quarantines WHERE environment = $1"))
                .bind(environment.as_str())
                .fetch_optional(self.executor())
                .await
                .map_err(StoreError::from_sqlx)?;
        row.map(Quarantine::try_from).transpose()
    }

    /// Every environment in quarantine, by name.
    pub async fn list_quarantines(&mut self) -> Result<Vec<Quarantine>, StoreError> {
        let rows: Vec<QuarantineRow> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM quarantines ORDER BY environment"))
                .fetch_all(self.executor())
                .await
                .map_err(StoreError::from_sqlx)?;
        rows.into_iter().map(Quarantine::try_from).collect()
    }
}

impl StoreTx {
    /// Quarantines an environment; `Conflict` when it already is.
    pub async fn insert_quarantine(&mut self, quarantine: &Quarantine) -> Result<(), StoreError> {
        let key = quarantine.environment.to_string();
        let insert =
            sqlx::query("INSERT INTO quarantines (environment, deployment_id, reason, since) VALUES ($1, $2, $3, $4)")
                .bind(quarantine.environment.as_str())
                .bind(quarantine.deployment.map(|deployment| deployment.0))
                .bind(quarantine.reason.as_str())
                .bind(micros(quarantine.since));
        self.execute(insert, Entity::Quarantine, &key).await?;
        Ok(())
    }

    /// Lifts the quarantine `quarantine` describes; `Conflict` when it is no longer the
    /// environment's (lifted, or replaced, meanwhile).
    pub async fn delete_quarantine(&mut self, quarantine: &Quarantine) -> Result<(), StoreError> {
        let key = quarantine.environment.to_string();
        let delete = sqlx::query("DELETE FROM quarantines WHERE environment = $1 AND since = $2")
            .bind(quarantine.environment.as_str())
            .bind(micros(quarantine.since));
        let affected = self.execute(delete, Entity::Quarantine, &key).await?;
        if affected != 1 {
            return Err(StoreError::Conflict { entity: Entity::Quarantine, key });
        }
        Ok(())
    }
}
