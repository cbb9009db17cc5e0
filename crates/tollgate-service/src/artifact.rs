//! Artifacts: push (content streamed into the blob store, then recorded), pull, trusted keys,
//! signatures, verification, and the readiness of a release's artifacts.
//!
//! A push is two steps around the streaming, so the HTTP layer never holds a blob: `start_push`
//! validates the metadata, the caller streams the content into a `BlobWriter`, and `finish_push`
//! records the artifact, or refuses (and audits) a different digest under an existing name and
//! version.

use tollgate_core::artifact::{
    decide_push, Artifact, ArtifactId, ArtifactInput, ArtifactName, ArtifactVersion, NewArtifact, PushOutcome,
    ReadinessProblem, SignatureRecord, TrustedKeyId, TrustedKeyRecord,
};
use tollgate_core::attestation::{parse_public_key_pem, verify, Envelope, Subject, TrustedKey, VerifiedAttestation};
use tollgate_core::audit::{AuditAction, ObjectKind, ObjectRef};
use tollgate_core::environment::Tier;
use tollgate_core::name::TeamName;
use tollgate_core::release::Release;
use tollgate_core::{Problem, Violations};
use tollgate_store::blob::{BlobWriter, StoredBlob};
use tollgate_store::{Conn, NewTrustedKey};

use crate::audit::Change;
use crate::catalog::not_found;
use crate::{Principal, ServiceError, ServiceResult, Tollgate};

/// A push whose metadata checked out, waiting for its content.
#[derive(Debug)]
pub struct PushTicket {
    new: NewArtifact,
}

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    pub artifact: Artifact,
    /// False when the same content was already stored under the name and version.
    pub created: bool,
}

/// The result of checking an artifact now: its content and each signature.
#[derive(Debug, Clone)]
pub struct ArtifactCheck {
    pub artifact: Artifact,
    /// `None` when the content on disk has the artifact's digest.
    pub content_problem: Option<String>,
    pub signatures: Vec<(SignatureRecord, Result<VerifiedAttestation, String>)>,
}

impl Tollgate {
    /// Validates a push's metadata: fields, the owning team, its naming pattern.
    pub async fn start_push(&self, principal: &Principal, input: ArtifactInput) -> ServiceResult<PushTicket> {
        principal.require_write()?;
        let new = input.parse()?;
        let team = self.store.read().await?.find_team(&new.team).await?;
        let team = team
            .ok_or_else(|| invalid("team", Problem::UnknownReference { kind: "team", name: new.team.to_string() }))?;
        if let Some(pattern) = &team.artifact_pattern {
            pattern.check(&new.name).map_err(|problem| invalid("name", problem))?;
        }
        Ok(PushTicket { new })
    }

    /// A writer for a push's content, bounded by the artifact size limit.
    pub async fn blob_writer(&self) -> ServiceResult<BlobWriter> {
        Ok(self.blobs.writer(self.settings.max_artifact_bytes).await?)
    }

    /// Records a pushed artifact whose content is in the blob store.
    pub async fn finish_push(
        &self,
        principal: &Principal,
        ticket: PushTicket,
        blob: StoredBlob,
    ) -> ServiceResult<Pushed> {
        let new = ticket.new;
        let mut tx = self.store.begin().await?;
        let existing = tx.find_artifact(&new.name, &new.version).await?;
        match decide_push(existing.as_ref(), &new, blob.digest) {
            Ok(PushOutcome::AlreadyPresent) => {
                let artifact = existing.expect("an artifact is present");
                Ok(Pushed { artifact, created: false })
            }
            Ok(PushOutcome::Create) => {
                let id = tx.insert_artifact(&new, &blob.digest, blob.size, &principal.user.name, self.now()).await?;
                let artifact = tx.find_artifact_by_id(id).await?.ok_or_else(|| not_found("artifact", id))?;
                let object = ObjectRef::new(ObjectKind::Artifact, format!("{}@{}", artifact.name, artifact.version));
                let change =
                    Change { action: AuditAction::Create, object, before: None, after: Some(&artifact), reason: None };
                self.record_for(&mut tx, principal, change).await?;
                tx.commit().await?;
                Ok(Pushed { artifact, created: true })
            }
            Err(immutable) => {
                // The refusal is on record; the stored artifact is untouched. The pushed content
                // stays an unreferenced blob until garbage collection sweeps it.
                let object = ObjectRef::new(ObjectKind::Artifact, format!("{}@{}", new.name, new.version));
                let attempt = serde_json::json!({ "digest": blob.digest.to_string(), "size": blob.size });
                let reason = immutable.to_string();
                let change = Change {
                    action: AuditAction::Refuse,
                    object,
                    before: None,
                    after: Some(&attempt),
                    reason: Some(&reason),
                };
                self.record_for(&mut tx, principal, change).await?;
                tx.commit().await?;
                Err(immutable.into())
            }
        }
    }

    pub async fn get_artifact(&self, _principal: &Principal, id: ArtifactId) -> ServiceResult<Artifact> {
        let found = self.store.read().await?.find_artifact_by_id(id).await?;
        found.ok_or_else(|| not_found("artifact", id))
    }

    pub async fn find_artifact(&self, _principal: &Principal, name: &str, version: &str) -> ServiceResult<Artifact> {
        let name = ArtifactName::parse(name).map_err(|p| invalid("name", p))?;
        let version = ArtifactVersion::parse(version).map_err(|p| invalid("version", p))?;
        let found = self.store.read().await?.find_artifact(&name, &version).await?;
        found.ok_or_else(|| not_found("artifact", format!("{name}@{version}")))
    }

    pub async fn list_artifacts(&self, _principal: &Principal, name: Option<&str>) -> ServiceResult<Vec<Artifact>> {
        let name = name.map(|n| ArtifactName::parse(n).map_err(|p| invalid("name", p))).transpose()?;
        Ok(self.store.read().await?.list_artifacts(name.as_ref()).await?)
    }

    /// Registers a public key (PEM) trusted to sign artifacts of a team or a builder.
    pub async fn register_key(
        &self,
        principal: &Principal,
        name: &str,
        team: Option<&str>,
        builder: Option<&str>,
        public_key_pem: &str,
    ) -> ServiceResult<TrustedKeyRecord> {
        principal.require_admin()?;
        let mut violations = Violations::new();
        violations.check("name", tollgate_core::name::check_text(name, 100, true));
        let team = team.and_then(|team| violations.check("team", TeamName::parse(team)));
        if let Some(builder) = builder {
            violations.check("builder", tollgate_core::name::check_text(builder, 512, true));
        }
        let key = violations.check(
            "public_key",
            parse_public_key_pem(public_key_pem).map_err(|e| Problem::Invalid { reason: e.to_string() }),
        );
        let key = violations.into_result(key)?.expect("a key when there are no violations");
        let mut tx = self.store.begin().await?;
        if let Some(team) = &team {
            if tx.find_team(team).await?.is_none() {
                return Err(invalid("team", Problem::UnknownReference { kind: "team", name: team.to_string() }));
            }
        }
        let new = NewTrustedKey {
            name,
            team: team.as_ref(),
            builder,
            public_key: &key,
            created_by: &principal.user.name,
            created_at: self.now(),
        };
        let id = tx.insert_trusted_key(&new).await?;
        let record = find_key(&mut tx, id).await?;
        let object = ObjectRef::new(ObjectKind::TrustedKey, &record.key_id);
        let change = Change { action: AuditAction::Create, object, before: None, after: Some(&record), reason: None };
        self.record_for(&mut tx, principal, change).await?;
        tx.commit().await?;
        Ok(record)
    }

    pub async fn list_keys(&self, _principal: &Principal) -> ServiceResult<Vec<TrustedKeyRecord>> {
        Ok(self.store.read().await?.list_trusted_keys().await?)
    }

    /// Revokes a trusted key: from now on its signatures are refused, on upload and before deploys.
    pub async fn revoke_key(&self, principal: &Principal, id: TrustedKeyId) -> ServiceResult<TrustedKeyRecord> {
        principal.require_admin()?;
        let mut tx = self.store.begin().await?;
        let before = find_key(&mut tx, id).await?;
        tx.revoke_trusted_key(id, self.now()).await.map_err(|error| match error {
            tollgate_store::StoreError::NotFound { .. } => {
                ServiceError::Conflict { entity: "trusted key", key: format!("{} (already revoked)", before.key_id) }
            }
            other => other.into(),
        })?;
        let after = find_key(&mut tx, id).await?;
        let object = ObjectRef::new(ObjectKind::TrustedKey, &after.key_id);
        let change =
            Change { action: AuditAction::Revoke, object, before: Some(&before), after: Some(&after), reason: None };
        self.record_for(&mut tx, principal, change).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Attaches a DSSE envelope to an artifact, after verifying it against the trusted keys.
    pub async fn attach_signature(
        &self,
        principal: &Principal,
        id: ArtifactId,
        envelope_json: &str,
    ) -> ServiceResult<VerifiedAttestation> {
        principal.require_write()?;
        let envelope = Envelope::from_json(envelope_json)?;
        let mut tx = self.store.begin().await?;
        let artifact = tx.find_artifact_by_id(id).await?.ok_or_else(|| not_found("artifact", id))?;
        let keys = trusted_keys_for(&mut tx, &artifact).await?;
        let verified = verify(&envelope, &keys, &subject(&artifact), self.now())?;
        tx.insert_signature(id, &verified.key_id, &envelope.to_json(), &principal.user.name, self.now()).await?;
        let object = ObjectRef::new(ObjectKind::Artifact, format!("{}@{}", artifact.name, artifact.version));
        let after = serde_json::json!({ "key_id": verified.key_id, "key_name": verified.key_name, "digest": artifact.digest.to_string() });
        let change = Change { action: AuditAction::Sign, object, before: None, after: Some(&after), reason: None };
        self.record_for(&mut tx, principal, change).await?;
        tx.commit().await?;
        Ok(verified)
    }

    /// Checks an artifact now: its content on disk against its digest, and every signature.
    pub async fn check_artifact(&self, principal: &Principal, id: ArtifactId) -> ServiceResult<ArtifactCheck> {
        let artifact = self.get_artifact(principal, id).await?;
        let content_problem = self.blobs.verify(&artifact.digest).await.err().map(|error| error.to_string());
        let mut read = self.store.read().await?;
        let keys = trusted_keys_for(&mut read, &artifact).await?;
        let signatures = read
            .list_signatures(id)
            .await?
            .into_iter()
            .map(|record| {
                let outcome = Envelope::from_json(&record.envelope)
                    .and_then(|envelope| verify(&envelope, &keys, &subject(&artifact), self.now()))
                    .map_err(|error| error.to_string());
                (record, outcome)
            })
            .collect();
        Ok(ArtifactCheck { artifact, content_problem, signatures })
    }

    /// Every problem that keeps `release`'s artifacts from shipping: missing from the store,
    /// a digest that differs, content that no longer verifies, and (when `require_signatures`)
    /// no valid signature by a trusted key.
    pub(crate) async fn artifact_problems(
        &self,
        conn: &mut Conn,
        release: &Release,
        require_signatures: bool,
    ) -> ServiceResult<Vec<ReadinessProblem>> {
        // Read once for every artifact of the release, only when signatures matter.
        let registered_keys = if require_signatures { Some(conn.list_trusted_keys().await?) } else { None };
        let mut problems = Vec::new();
        for reference in &release.content.artifacts {
            let (service, name, version) =
                (reference.service.to_string(), reference.name.clone(), reference.version.clone());
            let stored = match (ArtifactName::parse(&reference.name), ArtifactVersion::parse(&reference.version)) {
                (Ok(artifact_name), Ok(artifact_version)) => {
                    conn.find_artifact(&artifact_name, &artifact_version).await?
                }
                _ => None,
            };
            let Some(artifact) = stored else {
                problems.push(ReadinessProblem::MissingArtifact { service, name, version });
                continue;
            };
            if artifact.digest != reference.digest {
                problems.push(ReadinessProblem::DigestMismatch {
                    service,
                    name,
                    version,
                    expected: reference.digest,
                    stored: artifact.digest,
                });
                continue;
            }
            if let Err(error) = self.blobs.verify(&artifact.digest).await {
                problems.push(ReadinessProblem::ContentCorrupt { service, name, version, reason: error.to_string() });
                continue;
            }
            if let Some(registered) = &registered_keys {
                let keys = keys_for(registered, &artifact);
                let mut reasons = Vec::new();
                let mut signed = false;
                for record in conn.list_signatures(artifact.id).await? {
                    match Envelope::from_json(&record.envelope)
                        .and_then(|e| verify(&e, &keys, &subject(&artifact), self.now()))
                    {
                        Ok(_) => signed = true,
                        Err(error) => reasons.push(error.to_string()),
                    }
                }
                if !signed {
                    if reasons.is_empty() {
                        reasons.push("it has no signature".to_owned());
                    }
                    problems.push(ReadinessProblem::Unsigned { service, name, version, reasons });
                }
            }
        }
        Ok(problems)
    }

    /// Whether a release headed along `lifecycle` must carry signed artifacts: it must when the
    /// lifecycle reaches a prod-tier environment.
    pub(crate) async fn lifecycle_requires_signatures(
        &self,
        conn: &mut Conn,
        release: &Release,
    ) -> ServiceResult<bool> {
        let Some(lifecycle) = conn.find_lifecycle(&release.content.lifecycle).await? else {
            return Ok(true);
        };
        for name in lifecycle.environments() {
            if conn.find_environment(name).await?.is_some_and(|environment| environment.tier == Tier::Prod) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

fn subject(artifact: &Artifact) -> Subject {
    Subject { name: artifact.name.to_string(), digest: artifact.digest }
}

/// The keys whose signatures count for `artifact`.
async fn trusted_keys_for(conn: &mut Conn, artifact: &Artifact) -> ServiceResult<Vec<TrustedKey>> {
    Ok(keys_for(&conn.list_trusted_keys().await?, artifact))
}

/// Of the registered keys, those whose signatures count for `artifact`: registered for its team
/// or for no team, and for its builder or for no builder.
fn keys_for(registered: &[TrustedKeyRecord], artifact: &Artifact) -> Vec<TrustedKey> {
    registered
        .iter()
        .filter(|key| key.team.as_ref().is_none_or(|team| *team == artifact.team))
        .filter(|key| key.builder.as_ref().is_none_or(|builder| artifact.provenance.builder.as_ref() == Some(builder)))
        .map(|key| TrustedKey { key: key.public_key, name: key.name.clone(), revoked_at: key.revoked_at })
        .collect()
}

async fn find_key(conn: &mut Conn, id: TrustedKeyId) -> ServiceResult<TrustedKeyRecord> {
    let keys = conn.list_trusted_keys().await?;
    keys.into_iter().find(|key| key.id == id).ok_or_else(|| not_found("trusted key", id.0))
}

fn invalid(field: &str, problem: Problem) -> ServiceError {
    let mut violations = Violations::new();
    violations.push(field, problem);
    ServiceError::Invalid(violations)
}
