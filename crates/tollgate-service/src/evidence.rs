//! Evidence from CI: a file is parsed into normalized facts first; only a file that parses is
//! kept, raw, in the blob store, with its facts beside its digest.

use tollgate_core::audit::{AuditAction, ObjectKind, ObjectRef};
use tollgate_core::name::ServiceName;
use tollgate_core::{Problem, Violations};
use tollgate_evidence::EvidenceKind;
use tollgate_store::EvidenceRecord;

use crate::audit::Change;
use crate::catalog::{not_found, parse_key};
use crate::release::{get_in, ReleaseRef};
use crate::{Principal, ServiceError, ServiceResult, Tollgate};

impl Tollgate {
    /// Parses and stores an evidence file for a release (and optionally one of its services).
    /// A file that does not parse is refused with its location, and nothing is stored.
    pub async fn upload_evidence(
        &self,
        principal: &Principal,
        release: &ReleaseRef,
        service: Option<&str>,
        kind: &str,
        content: &[u8],
    ) -> ServiceResult<EvidenceRecord> {
        principal.require_write()?;
        let mut violations = Violations::new();
        let kind: Option<EvidenceKind> = violations.check(
            "kind",
            kind.parse().map_err(|_| Problem::NotOneOf {
                value: kind.to_owned(),
                accepted: &["junit", "cobertura", "lcov", "sarif", "cyclonedx"],
            }),
        );
        let service = service.map(|name| parse_key(name, ServiceName::parse)).transpose()?;
        if content.len() as u64 > self.settings.max_evidence_bytes {
            return Err(ServiceError::TooLarge { limit: self.settings.max_evidence_bytes });
        }
        let kind = violations.into_result(kind)?.expect("a kind when there are no violations");
        let facts = tollgate_evidence::parse(kind, content)?;
        let facts = serde_json::to_value(&facts).expect("facts serialize to JSON");

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
        // The blob is written before the transaction opens, so the database's writer never waits
        // on file I/O. Should the transaction fail, the blob is unreferenced and collection sweeps it.
        let mut writer = self.blobs.writer(self.settings.max_evidence_bytes).await?;
        writer.write(content).await?;
        let blob = writer.finish(None).await?;
        let mut tx = self.store.begin().await?;
        let now = self.now();
        let id = tx
            .insert_evidence(
                release.id,
                service.as_ref(),
                &kind.to_string(),
                &blob.digest,
                blob.size,
                &facts,
                &principal.user.name,
                now,
            )
            .await?;
        let record = tx
            .list_evidence(release.id)
            .await?
            .into_iter()
            .find(|e| e.id == id)
            .ok_or_else(|| not_found("evidence", id))?;
        let object = ObjectRef::new(ObjectKind::Evidence, id);
        let after = serde_json::json!({
            "release": release.content.version.to_string(),
            "service": service.as_ref().map(ToString::to_string),
            "kind": kind.to_string(),
            "digest": blob.digest.to_string(),
            "facts": facts,
        });
        let change = Change { action: AuditAction::Create, object, before: None, after: Some(&after), reason: None };
        self.record_for(&mut tx, principal, change).await?;
        tx.commit().await?;
        Ok(record)
    }

    pub async fn list_evidence(
        &self,
        _principal: &Principal,
        release: &ReleaseRef,
    ) -> ServiceResult<Vec<EvidenceRecord>> {
        let mut read = self.store.read().await?;
        let release = get_in(&mut read, release).await?;
        Ok(read.list_evidence(release.id).await?)
    }
}
