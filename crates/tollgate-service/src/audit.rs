//! Audit use cases: appending an entry inside a use case's transaction, signing checkpoints
//! (every `checkpoint_interval` entries, on a timer, at shutdown, before an export), reading,
//! verifying and exporting the log.
//!
//! Verifying and exporting read the whole log: only admins and auditors may, and one runs at a
//! time per server; another is refused as busy rather than queued. The server also verifies
//! the chain on a timer (`scheduled_audit_verification`, one replica at a time) and keeps the
//! results, so a dashboard shows the last one without running a verification itself.
//! Searching reads the audit index, a page at a time, newest first.

use std::time::Instant;

use tokio::sync::OwnedSemaphorePermit;
use tollgate_core::audit::search::{AuditFilter, AuditPage, AuditSearchPage};
use tollgate_core::audit::{
    key_id, Actor, AuditAction, AuditRecord, Checkpoint, ObjectRef, StoredEntry, VerificationResult, VerifyReport,
};
use tollgate_store::{AuditVerification, Job, StoreError, StoreTx};

use crate::error::Busy;
use crate::{Limits, Principal, ServiceResult, Tollgate};

/// The change one audit entry records.
pub(crate) struct Change<'a, T: serde::Serialize> {
    pub action: AuditAction,
    pub object: ObjectRef,
    pub before: Option<&'a T>,
    pub after: Option<&'a T>,
    pub reason: Option<&'a str>,
}

/// What an export starts with: the checkpoints that cover the log up to `head`, and the key
/// of this server. The entries up to `head` are read page by page with `list_audit`. Holding
/// it holds this server's one permit for whole-log work.
#[derive(Debug)]
pub struct AuditExport {
    pub head: u64,
    pub checkpoints: Vec<Checkpoint>,
    pub public_key: ed25519_dalek::VerifyingKey,
    pub permit: OwnedSemaphorePermit,
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
        self.append(tx, actor, request_id, change).await.map(drop)
    }

    /// `record`, returning the entry as stored.
    pub(crate) async fn append<T: serde::Serialize>(
        &self,
        tx: &mut StoreTx,
        actor: Actor,
        request_id: Option<&str>,
        change: Change<'_, T>,
    ) -> ServiceResult<StoredEntry> {
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
            self.sign_checkpoint_in(tx, entry.seq, entry.hash).await?;
        }
        Ok(entry)
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

    /// Signs a checkpoint of the log at `tree_size` with this server's key, unless one is there
    /// already or the key was retired (by a rotation on another replica): a retired key's
    /// checkpoint would vouch for nothing.
    async fn sign_checkpoint_in(
        &self,
        tx: &mut StoreTx,
        tree_size: u64,
        head: tollgate_core::digest::Sha256Digest,
    ) -> ServiceResult<Option<Checkpoint>> {
        let key = self.signing_key();
        let id = key_id(&key.verifying_key());
        let retired = tx.list_signing_key_records().await?.iter().any(|r| r.key_id == id && r.retired_seq.is_some());
        if retired {
            tracing::error!(key_id = %id, "this server's audit signing key was retired by a rotation; it signs no checkpoint until restarted with the new key");
            return Ok(None);
        }
        let checkpoint = Checkpoint::sign(&key, tree_size, head, self.now());
        Ok(tx.insert_checkpoint(&checkpoint).await?.then_some(checkpoint))
    }

    /// Signs a checkpoint at the current head, unless one is there already. Called on shutdown,
    /// after bootstrap, and before an export.
    pub async fn checkpoint_now(&self) -> ServiceResult<Option<Checkpoint>> {
        let mut tx = self.store.begin().await?;
        let signed = self.checkpoint_head_in(&mut tx).await?;
        tx.commit().await?;
        Ok(signed)
    }

    /// The timer's checkpoint: signs one at the head when entries came after the last one. On
    /// PostgreSQL one replica at a time does it (an advisory lock); the others skip the tick.
    pub async fn timed_checkpoint(&self) -> ServiceResult<Option<Checkpoint>> {
        let Some(mut tx) = self.store.begin_job(Job::TimedCheckpoint).await? else {
            return Ok(None);
        };
        let signed = self.checkpoint_head_in(&mut tx).await?;
        tx.commit().await?;
        Ok(signed)
    }

    async fn checkpoint_head_in(&self, tx: &mut StoreTx) -> ServiceResult<Option<Checkpoint>> {
        let (seq, hash) = tx.audit_head().await?;
        if seq == 0 || tx.latest_checkpoint().await?.is_some_and(|latest| latest.tree_size >= seq) {
            return Ok(None);
        }
        self.sign_checkpoint_in(tx, seq, hash).await
    }

    /// The latest signed checkpoint: what an auditor keeps as a witness.
    pub async fn latest_checkpoint(&self, principal: &Principal) -> ServiceResult<Option<Checkpoint>> {
        self.authorize_read(principal).await?;
        Ok(self.store.read().await?.latest_checkpoint().await?)
    }

    /// Verifies the whole chain against its checkpoints and the keys recorded in the database,
    /// allowing at most a checkpoint interval of unsigned entries. Admins and auditors only;
    /// one whole-log scan at a time.
    pub async fn verify_audit(&self, principal: &Principal) -> ServiceResult<VerifyReport> {
        self.authorize(
            principal,
            tollgate_authz::Action::AuditVerify,
            tollgate_authz::Resource::System,
            tollgate_authz::Context::default(),
        )
        .await?;
        let _permit = Limits::try_acquire(&self.limits.audit_scans, Busy::AuditScan)?;
        let verification =
            AuditVerification { max_unsigned_tail: self.settings.checkpoint_interval, ..AuditVerification::default() };
        Ok(self.store.verify_audit(&verification).await?)
    }

    /// The timer's verification: verifies the whole chain as [`Tollgate::verify_audit`] does
    /// and stores the result (in an unaudited transaction, keeping the latest
    /// [`tollgate_store::KEPT_VERIFICATIONS`]). Returns `None` when it did not run: another
    /// replica holds the job (PostgreSQL advisory lock), or this server runs a whole-log
    /// verification or export now. A log that fails verification, a stored entry that cannot
    /// even be read included, is a result (not ok), not an error; an unreachable database is
    /// an error, and the next tick tries again.
    pub async fn scheduled_audit_verification(&self) -> ServiceResult<Option<VerificationResult>> {
        let Some(claim) = self.store.claim_job(Job::ScheduledVerification).await? else {
            return Ok(None);
        };
        let Ok(_permit) = Limits::try_acquire(&self.limits.audit_scans, Busy::AuditScan) else {
            return Ok(None);
        };
        let started = Instant::now();
        let verification =
            AuditVerification { max_unsigned_tail: self.settings.checkpoint_interval, ..AuditVerification::default() };
        let outcome = self.store.verify_audit(&verification).await;
        // Kept to the microsecond, as stored.
        let duration =
            std::time::Duration::from_micros(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
        let result = match outcome {
            Ok(report) => VerificationResult::of(&report, self.now(), duration),
            Err(error @ StoreError::Corrupt { .. }) => VerificationResult {
                verified_at: self.now(),
                ok: false,
                entries: 0,
                checkpoints_verified: 0,
                unsigned_tail: 0,
                failed_entry: None,
                message: format!("FAILED: {error}"),
                duration,
            },
            Err(error) => return Err(error.into()),
        };
        let mut tx = self.store.begin_unaudited().await?;
        tx.insert_audit_verification(&result).await?;
        tx.commit().await?;
        claim.release().await?;
        Ok(Some(result))
    }

    /// Whether `principal` may verify the whole chain (for showing the action; verifying
    /// authorizes again).
    pub async fn may_verify_audit(&self, principal: &Principal) -> ServiceResult<bool> {
        let mut read = self.store.read().await?;
        let decision = self
            .decide_in(
                &mut read,
                principal,
                tollgate_authz::Action::AuditVerify,
                tollgate_authz::Resource::System,
                tollgate_authz::Context::default(),
            )
            .await?;
        Ok(decision.allowed)
    }

    /// The latest `limit` signed checkpoints, newest first.
    pub async fn recent_checkpoints(&self, principal: &Principal, limit: usize) -> ServiceResult<Vec<Checkpoint>> {
        self.authorize_read(principal).await?;
        let mut checkpoints = self.store.read().await?.list_checkpoints().await?;
        checkpoints.sort_by_key(|checkpoint| std::cmp::Reverse(checkpoint.tree_size));
        checkpoints.truncate(limit);
        Ok(checkpoints)
    }

    /// The result of the latest scheduled verification, if one ran. Reads only: it never
    /// verifies. Anyone who may read records may see it.
    pub async fn last_audit_verification(&self, principal: &Principal) -> ServiceResult<Option<VerificationResult>> {
        self.authorize_read(principal).await?;
        Ok(self.store.read().await?.last_audit_verification().await?)
    }

    /// One page of the entries that match `filter`, newest first, with the position to read
    /// the next page from. Anyone who may read records may search them.
    pub async fn search_audit(
        &self,
        principal: &Principal,
        filter: &AuditFilter,
        page: AuditPage,
    ) -> ServiceResult<AuditSearchPage> {
        self.authorize_read(principal).await?;
        Ok(self.store.read().await?.search_audit(filter, page).await?)
    }

    /// Up to `limit` entries after position `after`.
    pub async fn list_audit(&self, principal: &Principal, after: u64, limit: i64) -> ServiceResult<Vec<StoredEntry>> {
        self.authorize_read(principal).await?;
        let mut read = self.store.read().await?;
        Ok(read.list_audit_entries(after, limit.clamp(1, 1000)).await?)
    }

    /// Starts an export: signs a checkpoint at the head, so the export is covered to its last
    /// entry, and returns the checkpoints up to it. Admins and auditors only; one whole-log
    /// scan at a time, for as long as the export holds its permit.
    pub async fn start_audit_export(&self, principal: &Principal) -> ServiceResult<AuditExport> {
        self.authorize(
            principal,
            tollgate_authz::Action::AuditExport,
            tollgate_authz::Resource::System,
            tollgate_authz::Context::default(),
        )
        .await?;
        let permit = Limits::try_acquire(&self.limits.audit_scans, Busy::AuditScan)?;
        self.checkpoint_now().await?;
        let mut read = self.store.read().await?;
        let (head, _) = read.audit_head().await?;
        let checkpoints = read.list_checkpoints().await?.into_iter().filter(|c| c.tree_size <= head).collect();
        Ok(AuditExport { head, checkpoints, public_key: self.verifying_key(), permit })
    }

    /// The entries of an export after `after`, up to its head: one page.
    pub async fn export_page(&self, export: &AuditExport, after: u64, limit: i64) -> ServiceResult<Vec<StoredEntry>> {
        let mut read = self.store.read().await?;
        let entries = read.list_audit_entries(after, limit.clamp(1, 1000)).await?;
        Ok(entries.into_iter().filter(|entry| entry.seq <= export.head).collect())
    }

    /// How many entries the log has (for the metrics).
    pub async fn audit_length(&self) -> ServiceResult<u64> {
        Ok(self.store.read().await?.audit_head().await?.0)
    }
}
