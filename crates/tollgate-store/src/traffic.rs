//! Traffic splits: one `traffic_splits` row per traffic shift a blue-green or canary rollout
//! applied, keyed by the step that applied it.
//!
//! Invariant: a split is written in the transaction that finishes its step, so the register
//! never shows weights that a provider did not apply; a step run again after a crash replaces
//! its own row rather than adding one.

use tollgate_core::deployment::DeploymentId;
use tollgate_core::name::{EnvironmentName, ServiceName};
use tollgate_core::rollout::TrafficSplit;
use tollgate_core::{Entity, Timestamp};

use crate::conn::Conn;
use crate::error::StoreError;
use crate::rows::{micros, parse, timestamp};
use crate::tx::StoreTx;

#[derive(sqlx::FromRow)]
struct TrafficSplitRow {
    deployment_id: i64,
    position: i64,
    environment: String,
    service: String,
    at: i64,
    shares: String,
}

impl TryFrom<TrafficSplitRow> for TrafficSplit {
    type Error = StoreError;

    fn try_from(row: TrafficSplitRow) -> Result<TrafficSplit, StoreError> {
        const ENTITY: Entity = Entity::TrafficSplit;
        let key = format!("{}/{}", row.deployment_id, row.position);
        let corrupt = |error: &dyn std::fmt::Display| StoreError::corrupt(ENTITY, key.clone(), error.to_string());
        Ok(TrafficSplit {
            environment: parse(ENTITY, &key, EnvironmentName::parse(&row.environment))?,
            service: parse(ENTITY, &key, ServiceName::parse(&row.service))?,
            deployment: DeploymentId(row.deployment_id),
            position: u32::try_from(row.position).map_err(|error| corrupt(&error))?,
            at: timestamp(ENTITY, &key, row.at)?,
            shares: serde_json::from_str(&row.shares).map_err(|error| corrupt(&error))?,
        })
    }
}

const COLUMNS: &str = "deployment_id, position, environment, service, at, shares";

impl Conn {
    /// The latest split of each service of `environment` at or before `at`, by service.
    pub async fn traffic_splits_at(
        &mut self,
        environment: &EnvironmentName,
        at: Timestamp,
    ) -> Result<Vec<TrafficSplit>, StoreError> {
        let rows: Vec<TrafficSplitRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM traffic_splits t WHERE environment = $1 AND at <= $2 AND NOT EXISTS ( \
                 SELECT 1 FROM traffic_splits later WHERE later.environment = t.environment \
                 AND later.service = t.service AND later.at <= $2 AND (later.at > t.at \
                 OR (later.at = t.at AND (later.deployment_id > t.deployment_id \
                 OR (later.deployment_id = t.deployment_id AND later.position > t.position))))) \
             ORDER BY service"
        ))
        .bind(environment.as_str())
        .bind(micros(at))
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        rows.into_iter().map(TrafficSplit::try_from).collect()
    }
}

impl StoreTx {
    /// Records a split; a split of the same step is replaced.
    pub async fn upsert_traffic_split(&mut self, split: &TrafficSplit) -> Result<(), StoreError> {
        let key = format!("{}/{}", split.deployment, split.position);
        let upsert = sqlx::query(
            "INSERT INTO traffic_splits (deployment_id, position, environment, service, at, shares) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (deployment_id, position) DO UPDATE SET at = excluded.at, shares = excluded.shares",
        )
        .bind(split.deployment.0)
        .bind(i64::from(split.position))
        .bind(split.environment.as_str())
        .bind(split.service.as_str())
        .bind(micros(split.at))
        .bind(serde_json::to_string(&split.shares).expect("shares serialize"));
        self.execute(upsert, Entity::TrafficSplit, &key).await?;
        Ok(())
    }
}
