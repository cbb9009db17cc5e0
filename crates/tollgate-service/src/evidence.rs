//! Evidence from CI: a file is streamed to disk, parsed into normalized facts off the async
//! runtime, and only a file that parses is kept, raw, in the blob store, with its facts beside
//! its digest.
//!
//! Parsing is bounded per server (`max_parallel_parses`, one per core by default): an upload
//! that finds no free parser is refused as busy before its body is read.

use tokio::io::AsyncRead;
use tollgate_core::audit::{AuditAction, ObjectKind, ObjectRef};
use tollgate_core::digest::{canonical_json, Sha256Digest};
use tollgate_core::evidence::{EvidenceKind, EvidenceRecord, EvidenceUploaded};
use tollgate_core::name::ServiceName;
use tollgate_core::{Entity, Problem, Violations};
use tollgate_evidence::Facts;
use tollgate_store::NewEvidence;

use crate::audit::Change;
use crate::catalog::{not_found, parse_key};
use crate::error::Busy;
use crate::release::{get_in, ReleaseRef};
use crate::{Limits, Principal, ServiceError, ServiceResult, Tollgate};

impl Tollgate {
    /// Parses and stores an evidence file for a release (and optionally one of its services).
    /// A file that does not parse is refused with its location, and nothing is stored.
    pub async fn upload_evidence(
        &self,
        principal: &Principal,
        release: &ReleaseRef,
        service: Option<&str>,
        kind: &str,
        content: &mut (impl AsyncRead + Unpin),
    ) -> ServiceResult<EvidenceRecord> {
        let mut violations = Violations::new();
        let kind: Option<EvidenceKind> = violations.check("kind", kind.parse());
        let service = service.map(|name| parse_key(name, ServiceName::parse)).transpose()?;
        let kind = violations.into_result(kind)?.expect("a kind when there are no violations");
        self.authorize_release(principal, tollgate_authz::Action::EvidenceUpload, release).await?;
        let release = get_in(&mut *self.store.read().await?, release).await?;
        if let Some(service) = &service {
            if !release.content.services().any(|s| s == service) {
                let mut violations = Violations::new();
                violations.push(
                    "service",
                    Problem::Invalid {
                        reason: format!("release {} has no artifact for service {service}", release.content.version),
                    },
                );
                return Err(ServiceError::Invalid(violations));
            }
        }
        let _parse = Limits::try_acquire(&self.limits.parses, Busy::Parse)?;
        let mut writer = self.blobs.writer(self.settings.max_evidence_bytes).await?;
        writer.copy_from(content).await?;
        let pending = writer.finish(None).await?;
        let path = pending.temp_path().to_owned();
        let facts = tokio::task::spawn_blocking(move || -> ServiceResult<Facts> {
            let bytes = std::fs::read(&path).map_err(tollgate_store::blob::BlobError::from)?;
            Ok(tollgate_evidence::parse(kind, &bytes)?)
        })
        .await
        .map_err(|error| ServiceError::Unavailable(tollgate_store::StoreError::Unavailable(Box::new(error))))??;
        let summary = facts.summary();
        let facts = serde_json::to_value(&facts).expect("facts serialize to JSON");
        let facts_digest = Sha256Digest::of(&canonical_json(&facts));

        let mut tx = self.store.begin().await?;
        let blob = pending.commit().await?;
        let now = self.now();
        let new = NewEvidence {
            release: release.id,
            service: service.as_ref(),
            kind,
            digest: &blob.digest,
            size: blob.size,
            facts: &facts,
            created_by: &principal.user.name,
            created_at: now,
        };
        let id = tx.insert_evidence(&new).await?;
        let record = tx
            .list_evidence(release.id)
            .await?
            .into_iter()
            .find(|e| e.id == id)
            .ok_or_else(|| not_found(Entity::Evidence, id))?;
        let object = ObjectRef::new(ObjectKind::Evidence, id);
        let uploaded = EvidenceUploaded {
            release: release.content.version.to_string(),
            service,
            kind,
            digest: blob.digest,
            size: blob.size,
            facts_digest,
            summary,
        };
        let change = Change { action: AuditAction::Create, object, before: None, after: Some(&uploaded), reason: None };
        self.record_for(&mut tx, principal, change).await?;
        tx.commit().await?;
        Ok(record)
    }

    pub async fn list_evidence(
        &self,
        principal: &Principal,
        release: &ReleaseRef,
    ) -> ServiceResult<Vec<EvidenceRecord>> {
        self.authorize_read(principal).await?;
        let mut read = self.store.read().await?;
        let release = get_in(&mut read, release).await?;
        Ok(read.list_evidence(release.id).await?)
    }
}
