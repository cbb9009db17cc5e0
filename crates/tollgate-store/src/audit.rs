//! The audit log in the database: append (inside a write transaction), read, and verify.
//!
//! Each append also writes the entry's row of the search index (`audit_index`, see
//! `audit_search`); verification never reads it. There is deliberately no function here that
//! updates or deletes an entry or an index row.

use ed25519_dalek::VerifyingKey;
use futures::TryStreamExt;
use tollgate_core::audit::{
    entry_hash, key_id, AuditRecord, ChainVerifier, Checkpoint, KeyTrust, SigningKeyRecord, StoredEntry, VerifyPolicy,
    VerifyReport,
};
use tollgate_core::digest::Sha256Digest;
use tollgate_core::Entity;
use tollgate_core::Timestamp;

use crate::conn::Conn;
use crate::error::StoreError;
use crate::rows::{micros, timestamp, verifying_key, CheckpointRow};
use crate::tx::StoreTx;
use crate::{Backend, Store};

impl StoreTx {
    /// Appends `record` to the chain and returns it as stored.
    ///
    /// On PostgreSQL the transaction holds the head row's lock since `Store::begin`, so writers
    /// queue there, positions have no gaps, and every entry follows the one committed before it.
    /// The schema checks it too: an entry goes right after the head, and the head moves only to
    /// the entry just appended.
    pub async fn append_audit(&mut self, record: &AuditRecord) -> Result<StoredEntry, StoreError> {
        // A bug, not a runtime condition: an unaudited transaction never holds the head lock.
        assert!(self.is_audited(), "audit entries are appended only in transactions started with Store::begin");
        let (head_seq, previous) = self.audit_head().await?;
        let seq = head_seq + 1;
        let body = record.canonical_bytes(seq);
        let hash = entry_hash(previous.as_bytes(), &body);
        sqlx::query("INSERT INTO audit_entries (seq, hash, body) VALUES ($1, $2, $3)")
            .bind(seq as i64)
            .bind(hash.to_vec())
            .bind(body.clone())
            .execute(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(seq as i64)
            .bind(hash.to_vec())
            .execute(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        self.index_audit_entry(seq, record).await?;
        Ok(StoredEntry { seq, hash: Sha256Digest::from_bytes(hash), body })
    }

    /// Writes the search index row of the entry at `seq`: what its body says about time, actor,
    /// action and object, as the body spells them. The time is raised to the previous row's
    /// when that is later (a clock that stepped back), so times never decrease along the index.
    /// One statement, so an append costs one more round trip, not two.
    async fn index_audit_entry(&mut self, seq: u64, record: &AuditRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_index (seq, at, actor, action, object_kind, object_id) \
             SELECT $1, CASE WHEN previous.at > $2 THEN previous.at ELSE $2 END, $3, $4, $5, $6 \
             FROM (SELECT MAX(at) AS at FROM audit_index WHERE seq = $1 - 1) AS previous",
        )
        .bind(seq as i64)
        .bind(micros(record.at))
        .bind(record.actor.to_string())
        .bind(record.action_name().to_string())
        .bind(record.object.kind.as_str())
        .bind(&record.object.id)
        .execute(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        Ok(())
    }

    /// Stores a signed checkpoint, unless one is stored at its tree size already (by any key).
    /// Returns whether it stored this one.
    pub async fn insert_checkpoint(&mut self, checkpoint: &Checkpoint) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "INSERT INTO audit_checkpoints (tree_size, key_id, head, signed_at, signature) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (tree_size) DO NOTHING",
        )
        .bind(checkpoint.tree_size as i64)
        .bind(&checkpoint.key_id)
        .bind(checkpoint.head.as_bytes().to_vec())
        .bind(micros(checkpoint.signed_at))
        .bind(checkpoint.signature.to_vec())
        .execute(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        Ok(result.rows_affected() == 1)
    }

    /// Records a public key that may sign checkpoints, enrolled by the audit entry `enrolled_seq`.
    /// Fails with `Conflict` when the key is recorded already.
    pub async fn insert_signing_key(
        &mut self,
        key: &VerifyingKey,
        enrolled_seq: u64,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let key_id = key_id(key);
        sqlx::query("INSERT INTO signing_keys (key_id, public_key, created_at, enrolled_seq) VALUES ($1, $2, $3, $4)")
            .bind(&key_id)
            .bind(key.as_bytes().to_vec())
            .bind(micros(now))
            .bind(enrolled_seq as i64)
            .execute(self.executor())
            .await
            .map_err(StoreError::on_write(Entity::SigningKey, &key_id))?;
        Ok(())
    }

    /// Records that a key signs nothing after the checkpoint at `retired_seq`.
    pub async fn retire_signing_key(
        &mut self,
        key_id: &str,
        retired_seq: u64,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO signing_key_retirements (key_id, retired_seq, retired_at) VALUES ($1, $2, $3)")
            .bind(key_id)
            .bind(retired_seq as i64)
            .bind(micros(now))
            .execute(self.executor())
            .await
            .map_err(StoreError::on_write(Entity::SigningKey, key_id))?;
        Ok(())
    }
}

impl Conn {
    /// The position and hash of the last entry (0 and zeros for an empty log).
    pub async fn audit_head(&mut self) -> Result<(u64, Sha256Digest), StoreError> {
        let (seq, hash): (i64, Vec<u8>) = sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        let hash: [u8; 32] = hash
            .as_slice()
            .try_into()
            .map_err(|_| StoreError::corrupt(Entity::AuditHead, seq, "hash is not 32 bytes"))?;
        let seq = u64::try_from(seq).map_err(|_| StoreError::corrupt(Entity::AuditHead, seq, "negative seq"))?;
        Ok((seq, Sha256Digest::from_bytes(hash)))
    }

    /// Up to `limit` entries after position `after`, in order.
    pub async fn list_audit_entries(&mut self, after: u64, limit: i64) -> Result<Vec<StoredEntry>, StoreError> {
        let rows: Vec<(i64, Vec<u8>, Vec<u8>)> =
            sqlx::query_as("SELECT seq, hash, body FROM audit_entries WHERE seq > $1 ORDER BY seq LIMIT $2")
                .bind(after as i64)
                .bind(limit)
                .fetch_all(self.executor())
                .await
                .map_err(StoreError::from_sqlx)?;
        rows.into_iter().map(stored_entry).collect()
    }

    pub async fn list_checkpoints(&mut self) -> Result<Vec<Checkpoint>, StoreError> {
        let rows: Vec<CheckpointRow> = sqlx::query_as(
            "SELECT tree_size, key_id, head, signed_at, signature FROM audit_checkpoints ORDER BY tree_size, key_id",
        )
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        rows.into_iter().map(Checkpoint::try_from).collect()
    }

    /// The checkpoint with the largest tree size, if any.
    pub async fn latest_checkpoint(&mut self) -> Result<Option<Checkpoint>, StoreError> {
        let row: Option<CheckpointRow> = sqlx::query_as(
            "SELECT tree_size, key_id, head, signed_at, signature FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 1",
        )
        .fetch_optional(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        row.map(Checkpoint::try_from).transpose()
    }

    /// The public keys recorded as checkpoint signers.
    pub async fn list_signing_keys(&mut self) -> Result<Vec<VerifyingKey>, StoreError> {
        Ok(self.list_signing_key_records().await?.into_iter().map(|record| record.public_key).collect())
    }

    /// The checkpoint signing keys with when they were enrolled and retired.
    pub async fn list_signing_key_records(&mut self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        let rows: Vec<SigningKeyRow> = sqlx::query_as(
            "SELECT k.key_id, k.public_key, k.created_at, k.enrolled_seq, r.retired_seq, r.retired_at \
             FROM signing_keys k LEFT JOIN signing_key_retirements r ON r.key_id = k.key_id ORDER BY k.created_at, k.key_id",
        )
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        rows.into_iter().map(SigningKeyRecord::try_from).collect()
    }
}

#[derive(sqlx::FromRow)]
struct SigningKeyRow {
    key_id: String,
    public_key: Vec<u8>,
    created_at: i64,
    enrolled_seq: Option<i64>,
    retired_seq: Option<i64>,
    retired_at: Option<i64>,
}

impl TryFrom<SigningKeyRow> for SigningKeyRecord {
    type Error = StoreError;

    fn try_from(row: SigningKeyRow) -> Result<SigningKeyRecord, StoreError> {
        let seq = |value: Option<i64>| value.and_then(|value| u64::try_from(value).ok());
        Ok(SigningKeyRecord {
            public_key: verifying_key(&row.key_id, &row.public_key)?,
            created_at: timestamp(Entity::SigningKey, &row.key_id, row.created_at)?,
            enrolled_seq: seq(row.enrolled_seq),
            retired_seq: seq(row.retired_seq),
            retired_at: row.retired_at.map(|at| timestamp(Entity::SigningKey, &row.key_id, at)).transpose()?,
            key_id: row.key_id,
        })
    }
}

pub(crate) fn stored_entry((seq, hash, body): (i64, Vec<u8>, Vec<u8>)) -> Result<StoredEntry, StoreError> {
    let hash: [u8; 32] =
        hash.as_slice().try_into().map_err(|_| StoreError::corrupt(Entity::AuditEntry, seq, "hash is not 32 bytes"))?;
    Ok(StoredEntry {
        seq: u64::try_from(seq).map_err(|_| StoreError::corrupt(Entity::AuditEntry, seq, "negative seq"))?,
        hash: Sha256Digest::from_bytes(hash),
        body,
    })
}

/// What to verify a database's audit log against.
#[derive(Debug, Clone, Default)]
pub struct AuditVerification {
    /// Keys the verifier holds; when empty, the keys the database records are trusted.
    pub trusted_keys: Vec<VerifyingKey>,
    /// The most entries allowed after the last trusted checkpoint.
    pub max_unsigned_tail: u64,
    /// Checkpoints saved earlier, which the log must still contain.
    pub witnesses: Vec<Checkpoint>,
}

impl AuditVerification {
    /// The verifier for a log with `recorded_keys`, its `checkpoints`.
    pub(crate) fn verifier(&self, checkpoints: Vec<Checkpoint>, recorded_keys: Vec<VerifyingKey>) -> ChainVerifier {
        let trust = if self.trusted_keys.is_empty() {
            KeyTrust::Recorded(recorded_keys)
        } else {
            KeyTrust::Given(self.trusted_keys.clone())
        };
        let policy = VerifyPolicy {
            max_unsigned_tail: self.max_unsigned_tail,
            witnesses: self.witnesses.clone(),
            declared_entries: None,
        };
        ChainVerifier::new(checkpoints, trust, policy)
    }
}

impl Store {
    /// Verifies the whole audit chain in the database and names the first entry that fails.
    ///
    /// The head, checkpoints, keys and entries are read from one snapshot, so appends that
    /// commit meanwhile never raise a false alarm. Reads only.
    pub async fn verify_audit(&self, verification: &AuditVerification) -> Result<VerifyReport, StoreError> {
        if let (Backend::Sqlite, crate::DatabaseConfig::Sqlite { path }) = (self.backend, &self.config) {
            let path = path.clone();
            let verification = verification.clone();
            return tokio::task::spawn_blocking(move || crate::sqlite::verify_file(&path, &verification))
                .await
                .map_err(|error| StoreError::Unavailable(Box::new(error)))?;
        }
        let mut read = self.read().await?;
        let recorded_keys = read.list_signing_keys().await?;
        let checkpoints = read.list_checkpoints().await?;
        let head = read.audit_head().await?;
        let mut verifier = verification.verifier(checkpoints, recorded_keys);
        {
            let mut rows = sqlx::query_as::<_, (i64, Vec<u8>, Vec<u8>)>(
                "SELECT seq, hash, body FROM audit_entries WHERE seq <= $1 ORDER BY seq",
            )
            .bind(head.0 as i64)
            .fetch(read.executor());
            while let Some(row) = rows.try_next().await.map_err(StoreError::from_sqlx)? {
                let entry = stored_entry(row)?;
                if verifier.push(entry.seq, entry.hash.as_bytes(), &entry.body).is_err() {
                    break;
                }
            }
        }
        Ok(verifier.finish(Some(head)))
    }
}
