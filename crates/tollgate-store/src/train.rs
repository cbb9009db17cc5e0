//! Release trains: one row each, the cadence as written. Departures are computed by
//! `tollgate-calendar`, never stored.

use tollgate_core::calendar::local_date_time;
use tollgate_core::name::{TrainName, UserName};
use tollgate_core::train::ReleaseTrain;
use tollgate_core::{Entity, Timestamp};

use crate::conn::Conn;
use crate::error::StoreError;
use crate::rows::{micros, parse};
use crate::tx::StoreTx;

#[derive(sqlx::FromRow)]
struct TrainRow {
    name: String,
    tzid: String,
    first_departure: String,
    rule: String,
    length: String,
    cutoff_offset: String,
    freeze_offset: String,
}

impl TryFrom<TrainRow> for ReleaseTrain {
    type Error = StoreError;

    fn try_from(row: TrainRow) -> Result<ReleaseTrain, StoreError> {
        const ENTITY: Entity = Entity::Train;
        let key = row.name.clone();
        Ok(ReleaseTrain {
            name: parse(ENTITY, &key, TrainName::parse(&row.name))?,
            tzid: row.tzid,
            first_departure: parse(ENTITY, &key, local_date_time(&row.first_departure))?,
            rule: row.rule,
            length: row.length,
            cutoff: row.cutoff_offset,
            freeze: row.freeze_offset,
        })
    }
}

const COLUMNS: &str = "name, tzid, first_departure, rule, length, cutoff_offset, freeze_offset";

impl Conn {
    /// Every train, by name.
    pub async fn list_trains(&mut self) -> Result<Vec<ReleaseTrain>, StoreError> {
        let rows: Vec<TrainRow> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM release_trains ORDER BY name"))
            .fetch_all(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        rows.into_iter().map(ReleaseTrain::try_from).collect()
    }

    pub async fn find_train(&mut self, name: &TrainName) -> Result<Option<ReleaseTrain>, StoreError> {
        let row: Option<TrainRow> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM release_trains WHERE name = $1"))
            .bind(name.as_str())
            .fetch_optional(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        row.map(ReleaseTrain::try_from).transpose()
    }
}

impl StoreTx {
    /// Creates or replaces a train.
    pub async fn put_train(&mut self, train: &ReleaseTrain, by: &UserName, at: Timestamp) -> Result<(), StoreError> {
        let delete = sqlx::query("DELETE FROM release_trains WHERE name = $1").bind(train.name.as_str());
        self.execute(delete, Entity::Train, train.name.as_str()).await?;
        let sql = format!(
            "INSERT INTO release_trains ({COLUMNS}, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        );
        let insert = sqlx::query(&sql)
            .bind(train.name.as_str())
            .bind(train.tzid.as_str())
            .bind(train.first_departure.to_string())
            .bind(train.rule.as_str())
            .bind(train.length.as_str())
            .bind(train.cutoff.as_str())
            .bind(train.freeze.as_str())
            .bind(by.as_str())
            .bind(micros(at));
        self.execute(insert, Entity::Train, train.name.as_str()).await.map(drop)
    }

    /// Deletes a train; `NotFound` when there is none by that name.
    pub async fn delete_train(&mut self, name: &TrainName) -> Result<(), StoreError> {
        let query = sqlx::query("DELETE FROM release_trains WHERE name = $1").bind(name.as_str());
        if self.execute(query, Entity::Train, name.as_str()).await? == 0 {
            return Err(StoreError::NotFound { entity: Entity::Train, key: name.to_string() });
        }
        Ok(())
    }
}
