//! Audit use cases: appending an entry inside a use case's transaction, signing checkpoints,
//! reading, verifying and exporting the log.

use tollgate_core::audit::{Actor, AuditAction, AuditRecord, Checkpoint, ObjectRef, VerifyReport};
use tollgate_store::{StoreTx, StoredEntry};

use crate::{Principal, ServiceResult, Tollgate};

/// The change one audit entry records.
pub(crate) struct Change<'a, T: serde::Serialize> {
    pub action: AuditAction,
    pub object: ObjectRef,
    pub before: Option<&'a T>,
    pub after: Option<&'a T>,
    pub reason: Option<&'a str>,
}

/// What an export starts with: the checkpoints that cover the log up to `head`, and the key
/// of this server. The entries up to `head` are read page by page with `list_audit`.
#[derive(Debug, Clone)]
pub struct AuditExport {
    pub head: u64,
    pub checkpoints: Vec<Checkpoint>,
    pub public_key: ed25519_dalek::VerifyingKey,
}

impl Tollgate {
    /// Appends the entry for `change` in `tx`, and a signed checkpoint when the log reaches a
    /// multiple of the checkpoint interval.
    pub(crate) async fn record<T: serde::Serialize>(
        &self,
        tx: &mut StoreTx,
        actor: Actor,
        request_id: Option<&str>,
        change: Change<'_, T>,
    ) -> ServiceResult<()> {
        let snapshot =
            |value: Option<&T>| value.map(|value| serde_json::to_value(value).expect("records serialize to JSON"));
        let record = AuditRecord {
            at: self.now(),
            actor,
            action: change.action,
            object: change.object,
            before: snapshot(change.before),
            after: snapshot(change.after),
            reason: change.reason.map(str::to_owned),
            request_id: request_id.map(str::to_owned),
        };
        let entry = tx.append_audit(&record).await?;
        if entry.seq % self.settings.checkpoint_interval.max(1) == 0 {
            let checkpoint = Checkpoint::sign(&self.signing_key, entry.seq, entry.hash, self.now());
            tx.insert_checkpoint(&checkpoint).await?;
        }
        Ok(())
    }

    /// The same, for a principal's request.
    pub(crate) async fn record_for<T: serde::Serialize>(
        &self,
        tx: &mut StoreTx,
        principal: &Principal,
        change: Change<'_, T>,
    ) -> ServiceResult<()> {
        self.record(tx, principal.actor(), principal.request_id.as_deref(), change).await
    }

    /// Signs a checkpoint at the current head, unless one by this key is already there.
    /// Called on shutdown and before an export.
    pub async fn checkpoint_now(&self) -> ServiceResult<Option<Checkpoint>> {
        let mut tx = self.store.begin().await?;
        let (seq, hash) = tx.audit_head().await?;
        if seq == 0 {
            return Ok(None);
        }
        let key_id = tollgate_core::audit::key_id(&self.signing_key.verifying_key());
        let existing = tx.list_checkpoints().await?;
        if existing.iter().any(|c| c.tree_size == seq && c.key_id == key_id) {
            return Ok(None);
        }
        let checkpoint = Checkpoint::sign(&self.signing_key, seq, hash, self.now());
        tx.insert_checkpoint(&checkpoint).await?;
        tx.commit().await?;
        Ok(Some(checkpoint))
    }

    /// Verifies the whole chain against the checkpoints and the keys recorded in the database.
    pub async fn verify_audit(&self, _principal: &Principal) -> ServiceResult<VerifyReport> {
        Ok(self.store.verify_audit(&[]).await?)
    }

    /// Up to `limit` entries after position `after`.
    pub async fn list_audit(&self, _principal: &Principal, after: u64, limit: i64) -> ServiceResult<Vec<StoredEntry>> {
        let mut read = self.store.read().await?;
        Ok(read.list_audit_entries(after, limit.clamp(1, 1000)).await?)
    }

    /// Starts an export: signs a checkpoint at the head, so the export is covered to its last
    /// entry, and returns the checkpoints up to it.
    pub async fn start_audit_export(&self, _principal: &Principal) -> ServiceResult<AuditExport> {
        self.checkpoint_now().await?;
        let mut read = self.store.read().await?;
        let (head, _) = read.audit_head().await?;
        let checkpoints = read.list_checkpoints().await?.into_iter().filter(|c| c.tree_size <= head).collect();
        Ok(AuditExport { head, checkpoints, public_key: self.signing_key.verifying_key() })
    }
}
