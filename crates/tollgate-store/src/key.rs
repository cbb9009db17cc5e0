//! Public keys trusted to sign artifacts, per team and/or builder; revocable, never deleted.

use ed25519_dalek::VerifyingKey;
use tollgate_core::artifact::{TrustedKeyId, TrustedKeyRecord};
use tollgate_core::name::{TeamName, UserName};
use tollgate_core::{Entity, Timestamp};

use crate::conn::Conn;
use crate::error::StoreError;
use crate::rows::{micros, parse, timestamp};
use crate::tx::StoreTx;

#[derive(sqlx::FromRow)]
struct TrustedKeyRow {
    id: i64,
    key_id: String,
    name: String,
    team: Option<String>,
    builder: Option<String>,
    public_key: Vec<u8>,
    created_by: String,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl TryFrom<TrustedKeyRow> for TrustedKeyRecord {
    type Error = StoreError;

    fn try_from(row: TrustedKeyRow) -> Result<TrustedKeyRecord, StoreError> {
        const ENTITY: Entity = Entity::TrustedKey;
        let key = row.id;
        Ok(TrustedKeyRecord {
            id: TrustedKeyId(row.id),
            public_key: crate::rows::verifying_key(&row.key_id, &row.public_key)?,
            key_id: row.key_id,
            name: row.name,
            team: row.team.map(|team| parse(ENTITY, &key, TeamName::parse(&team))).transpose()?,
            builder: row.builder,
            created_by: parse(ENTITY, &key, UserName::parse(&row.created_by))?,
            created_at: timestamp(ENTITY, &key, row.created_at)?,
            revoked_at: row.revoked_at.map(|at| timestamp(ENTITY, &key, at)).transpose()?,
        })
    }
}

impl Conn {
    pub async fn list_trusted_keys(&mut self) -> Result<Vec<TrustedKeyRecord>, StoreError> {
        let rows: Vec<TrustedKeyRow> = sqlx::query_as(
            "SELECT id, key_id, name, team, builder, public_key, created_by, created_at, revoked_at FROM trusted_keys ORDER BY id",
        )
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        rows.into_iter().map(TrustedKeyRecord::try_from).collect()
    }
}

/// A trusted key about to be registered.
#[derive(Debug, Clone)]
pub struct NewTrustedKey<'a> {
    pub name: &'a str,
    pub team: Option<&'a TeamName>,
    pub builder: Option<&'a str>,
    pub public_key: &'a VerifyingKey,
    pub created_by: &'a UserName,
    pub created_at: Timestamp,
}

impl StoreTx {
    pub async fn insert_trusted_key(&mut self, new: &NewTrustedKey<'_>) -> Result<TrustedKeyId, StoreError> {
        let key_id = tollgate_core::audit::key_id(new.public_key);
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO trusted_keys (key_id, name, team, builder, public_key, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(&key_id)
        .bind(new.name)
        .bind(new.team.map(|t| t.to_string()))
        .bind(new.builder.map(str::to_owned))
        .bind(new.public_key.as_bytes().to_vec())
        .bind(new.created_by.as_str())
        .bind(micros(new.created_at))
        .fetch_one(self.executor())
        .await
        .map_err(StoreError::on_write(Entity::TrustedKey, &key_id))?;
        Ok(TrustedKeyId(id))
    }

    pub async fn revoke_trusted_key(&mut self, id: TrustedKeyId, at: Timestamp) -> Result<(), StoreError> {
        let result = sqlx::query("UPDATE trusted_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id.0)
            .bind(micros(at))
            .execute(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        if result.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StoreError::NotFound { entity: Entity::TrustedKey, key: id.0.to_string() })
        }
    }
}
