//! Evidence records: a CI report's digest (its raw bytes are a blob) and its parsed facts.

use tollgate_core::digest::Sha256Digest;
use tollgate_core::evidence::{EvidenceId, EvidenceKind, EvidenceRecord};
use tollgate_core::name::{ServiceName, UserName};
use tollgate_core::release::ReleaseId;
use tollgate_core::{Entity, Timestamp};

use crate::conn::Conn;
use crate::error::StoreError;
use crate::rows::{micros, parse, timestamp};
use crate::tx::StoreTx;

#[derive(sqlx::FromRow)]
struct EvidenceRow {
    id: i64,
    service: Option<String>,
    kind: String,
    digest: String,
    size: i64,
    facts: String,
    created_by: String,
    created_at: i64,
}

impl EvidenceRow {
    fn into_record(self, release: ReleaseId) -> Result<EvidenceRecord, StoreError> {
        const ENTITY: Entity = Entity::Evidence;
        let id = self.id;
        Ok(EvidenceRecord {
            id: EvidenceId(id),
            release,
            service: self.service.map(|s| parse(ENTITY, &id, ServiceName::parse(&s))).transpose()?,
            kind: parse(ENTITY, &id, self.kind.parse::<EvidenceKind>())?,
            digest: parse(ENTITY, &id, Sha256Digest::parse(&self.digest))?,
            size: u64::try_from(self.size).map_err(|_| StoreError::corrupt(ENTITY, id, "negative size"))?,
            facts: serde_json::from_str(&self.facts).map_err(|e| StoreError::corrupt(ENTITY, id, e))?,
            created_by: parse(ENTITY, &id, UserName::parse(&self.created_by))?,
            created_at: timestamp(ENTITY, &id, self.created_at)?,
        })
    }
}

impl Conn {
    pub async fn list_evidence(&mut self, release: ReleaseId) -> Result<Vec<EvidenceRecord>, StoreError> {
        let rows: Vec<EvidenceRow> = sqlx::query_as(
            "SELECT id, service, kind, digest, size, facts, created_by, created_at FROM evidence WHERE release_id = $1 ORDER BY id",
        )
        .bind(release.0)
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        rows.into_iter().map(|row| row.into_record(release)).collect()
    }
}

/// Evidence about to be recorded.
#[derive(Debug, Clone)]
pub struct NewEvidence<'a> {
    pub release: ReleaseId,
    pub service: Option<&'a ServiceName>,
    pub kind: EvidenceKind,
    pub digest: &'a Sha256Digest,
    pub size: u64,
    pub facts: &'a serde_json::Value,
    pub created_by: &'a UserName,
    pub created_at: Timestamp,
}

impl StoreTx {
    pub async fn insert_evidence(&mut self, new: &NewEvidence<'_>) -> Result<EvidenceId, StoreError> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO evidence (release_id, service, kind, digest, size, facts, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(new.release.0)
        .bind(new.service.map(|s| s.to_string()))
        .bind(new.kind.as_str())
        .bind(new.digest.to_string())
        .bind(i64::try_from(new.size).unwrap_or(i64::MAX))
        .bind(new.facts.to_string())
        .bind(new.created_by.as_str())
        .bind(micros(new.created_at))
        .fetch_one(self.executor())
        .await
        .map_err(StoreError::on_write(Entity::Evidence, new.release))?;
        Ok(EvidenceId(id))
    }
}
