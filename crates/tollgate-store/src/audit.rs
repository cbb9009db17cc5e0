//! The audit log in the database: append (inside a write transaction), read, and verify.
//!
//! There is deliberately no function here that updates or deletes an entry.

use ed25519_dalek::VerifyingKey;
use futures::TryStreamExt;
use tollgate_core::audit::{entry_hash, key_id, AuditRecord, ChainVerifier, Checkpoint, VerifyReport};
use tollgate_core::digest::Sha256Digest;
use tollgate_core::Timestamp;

use crate::conn::Conn;
use crate::error::StoreError;
use crate::rows::{micros, verifying_key, CheckpointRow};
use crate::tx::StoreTx;
use crate::{Backend, Store};

/// An entry as stored: its position, its hash and the canonical bytes that were hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    pub seq: u64,
    pub hash: Sha256Digest,
    pub body: Vec<u8>,
}

impl StoreTx {
    /// Appends `record` to the chain and returns it as stored.
    ///
    /// The head row is updated first, which takes its lock: concurrent writers queue here, so
    /// positions have no gaps and every entry follows the one committed before it.
    pub async fn append_audit(&mut self, record: &AuditRecord) -> Result<StoredEntry, StoreError> {
        let (seq, previous): (i64, Vec<u8>) =
            sqlx::query_as("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
                .fetch_one(self.executor())
                .await
                .map_err(StoreError::from_sqlx)?;
        let seq = u64::try_from(seq).map_err(|_| StoreError::corrupt("audit head", seq, "negative seq"))?;
        let previous: [u8; 32] = previous
            .as_slice()
            .try_into()
            .map_err(|_| StoreError::corrupt("audit head", seq, "hash is not 32 bytes"))?;
        let body = record.canonical_bytes(seq);
        let hash = entry_hash(&previous, &body);
        sqlx::query("INSERT INTO audit_entries (seq, hash, body) VALUES ($1, $2, $3)")
            .bind(seq as i64)
            .bind(hash.to_vec())
            .bind(body.clone())
            .execute(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
            .bind(hash.to_vec())
            .execute(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok(StoredEntry { seq, hash: Sha256Digest::from_bytes(hash), body })
    }

    pub async fn insert_checkpoint(&mut self, checkpoint: &Checkpoint) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_checkpoints (tree_size, key_id, head, signed_at, signature) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (tree_size, key_id) DO NOTHING",
        )
        .bind(checkpoint.tree_size as i64)
        .bind(&checkpoint.key_id)
        .bind(checkpoint.head.as_bytes().to_vec())
        .bind(micros(checkpoint.signed_at))
        .bind(checkpoint.signature.to_vec())
        .execute(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        Ok(())
    }

    /// Records a public key that signs checkpoints, once.
    pub async fn insert_signing_key(&mut self, key: &VerifyingKey, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO signing_keys (key_id, public_key, created_at) VALUES ($1, $2, $3) ON CONFLICT (key_id) DO NOTHING")
            .bind(key_id(key))
            .bind(key.as_bytes().to_vec())
            .bind(micros(now))
            .execute(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
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
        let hash: [u8; 32] =
            hash.as_slice().try_into().map_err(|_| StoreError::corrupt("audit head", seq, "hash is not 32 bytes"))?;
        let seq = u64::try_from(seq).map_err(|_| StoreError::corrupt("audit head", seq, "negative seq"))?;
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

    /// The public keys recorded as checkpoint signers.
    pub async fn list_signing_keys(&mut self) -> Result<Vec<VerifyingKey>, StoreError> {
        let rows: Vec<(String, Vec<u8>)> =
            sqlx::query_as("SELECT key_id, public_key FROM signing_keys ORDER BY key_id")
                .fetch_all(self.executor())
                .await
                .map_err(StoreError::from_sqlx)?;
        rows.iter().map(|(id, bytes)| verifying_key(id, bytes)).collect()
    }
}

fn stored_entry((seq, hash, body): (i64, Vec<u8>, Vec<u8>)) -> Result<StoredEntry, StoreError> {
    let hash: [u8; 32] =
        hash.as_slice().try_into().map_err(|_| StoreError::corrupt("audit entry", seq, "hash is not 32 bytes"))?;
    Ok(StoredEntry {
        seq: u64::try_from(seq).map_err(|_| StoreError::corrupt("audit entry", seq, "negative seq"))?,
        hash: Sha256Digest::from_bytes(hash),
        body,
    })
}

impl Store {
    /// Verifies the whole audit chain in the database and names the first entry that fails.
    ///
    /// Checkpoints must be signed by one of `trusted_keys`, or, when that is empty, by a key
    /// recorded in the database. Reads only.
    pub async fn verify_audit(&self, trusted_keys: &[VerifyingKey]) -> Result<VerifyReport, StoreError> {
        if let (Backend::Sqlite, crate::DatabaseConfig::Sqlite { path }) = (self.backend, &self.config) {
            let path = path.clone();
            let keys = trusted_keys.to_vec();
            return tokio::task::spawn_blocking(move || crate::sqlite::verify_file(&path, &keys))
                .await
                .map_err(|error| StoreError::Unavailable(Box::new(error)))?;
        }
        let mut read = self.read().await?;
        let keys = if trusted_keys.is_empty() { read.list_signing_keys().await? } else { trusted_keys.to_vec() };
        let checkpoints = read.list_checkpoints().await?;
        let head = read.audit_head().await?;
        let mut verifier = ChainVerifier::new(checkpoints, &keys);
        {
            let mut rows =
                sqlx::query_as::<_, (i64, Vec<u8>, Vec<u8>)>("SELECT seq, hash, body FROM audit_entries ORDER BY seq")
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
