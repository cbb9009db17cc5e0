//! Artifacts: push (content streamed into the blob store, then recorded), pull, trusted keys,
//! signatures and verification.
//!
//! A push is one use case: it checks the metadata, streams the content into a temporary blob
//! while hashing it, and then, in one transaction, either moves the blob into place and records
//! the artifact, or refuses (and audits) other content under a name and version that is stored
//! or was removed. A refused push leaves no blob behind.

use tokio::io::AsyncRead;
use tollgate_authz::{Action, Context, Resource};
use tollgate_core::artifact::{
    decide_push, Artifact, ArtifactId, ArtifactInput, ArtifactName, ArtifactVersion, PushAttempt, PushOutcome,
    Recorded, SignatureAttached, SignatureRecord, TrustedKeyId, TrustedKeyRecord,
};
use tollgate_core::attestation::{parse_public_key_pem, Envelope, VerifiedAttestation};
use tollgate_core::audit::{AuditAction, ObjectKind, ObjectRef};
use tollgate_core::digest::Sha256Digest;
use tollgate_core::environment::Tier;
use tollgate_core::name::TeamName;
use tollgate_core::release::Release;
use tollgate_core::{Entity, Problem, Violations};
use tollgate_store::{Conn, NewTrustedKey};

use crate::audit::Change;
use crate::catalog::not_found;
use crate::hooks::HookPoint;
use crate::readiness::verify_for;
use crate::{Principal, ServiceError, ServiceResult, Tollgate};

/// The digest a push announces for its content, which the content must have before anything
/// is recorded.
pub enum AnnouncedDigest {
    /// Known before the content: the request named it (or named none).
    Before(Option<Sha256Digest>),
    /// Known only once the content ended (an HTTP trailer): asked for after the last byte.
    After(Box<dyn FnOnce() -> Result<Option<Sha256Digest>, Problem> + Send>),
}

impl std::fmt::Debug for AnnouncedDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AnnouncedDigest::Before(digest) => f.debug_tuple("Before").field(digest).finish(),
            AnnouncedDigest::After(_) => f.write_str("After(..)"),
        }
    }
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
    /// Pushes an artifact: `content` is read to its end into the blob store, and recorded under
    /// the input's name and version if its digest is the one `announced` (when there is one).
    ///
    /// Fails before reading anything when the metadata is invalid (fields, unknown team, the
    /// team's naming pattern); with `TooLarge`, `Interrupted` or `DigestMismatch` while reading;
    /// with `Immutable` (audited) when the name and version point at other content. Pushing the
    /// same content again changes nothing.
    pub async fn push_artifact(
        &self,
        principal: &Principal,
        input: ArtifactInput,
        announced: AnnouncedDigest,
        content: &mut (impl AsyncRead + Unpin),
    ) -> ServiceResult<Pushed> {
        let new = input.parse()?;
        self.authorize(principal, Action::ArtifactPush, Resource::Team(new.team.clone()), Context::default()).await?;
        let team = self.store.read().await?.find_team(&new.team).await?;
        let team = team.ok_or_else(|| {
            ServiceError::invalid("team", Problem::UnknownReference { kind: "team", name: new.team.to_string() })
        })?;
        if let Some(pattern) = &team.artifact_pattern {
            pattern.check(&new.name).map_err(|problem| ServiceError::invalid("name", problem))?;
        }
        let mut writer = self.blobs.writer(self.settings.max_artifact_bytes).await?;
        writer.copy_from(content).await?;
        let expected = match announced {
            AnnouncedDigest::Before(digest) => digest,
            AnnouncedDigest::After(read) => {
                read().map_err(|problem| ServiceError::invalid("content_digest", problem))?
            }
        };
        let pending = writer.finish(expected).await?;
        self.hooks.at(HookPoint::BeforePushCommit).await;

        let mut tx = self.store.begin().await?;
        let existing = tx.find_artifact(&new.name, &new.version).await?;
        let tombstone = match &existing {
            Some(_) => None,
            None => tx.find_tombstone(&new.name, &new.version).await?,
        };
        let recorded = match (&existing, tombstone) {
            (Some(artifact), _) => Recorded::Stored(artifact),
            (None, Some(digest)) => Recorded::Removed { digest },
            (None, None) => Recorded::Nothing,
        };
        match decide_push(recorded, &new, pending.digest) {
            Ok(PushOutcome::AlreadyPresent) => {
                // Committed under the lock: restores the content if it went missing, else keeps one copy.
                pending.commit().await?;
                let artifact = existing.expect("an artifact is present");
                Ok(Pushed { artifact, created: false })
            }
            Ok(PushOutcome::Create) => {
                // Moved into place inside the transaction: a collection that removes blobs takes
                // the same lock, so it cannot remove this content between here and the commit.
                let blob = pending.commit().await?;
                let id = tx.insert_artifact(&new, &blob.digest, blob.size, &principal.user.name, self.now()).await?;
                let artifact = tx.find_artifact_by_id(id).await?.ok_or_else(|| not_found(Entity::Artifact, id))?;
                let object = ObjectRef::new(ObjectKind::Artifact, format!("{}@{}", artifact.name, artifact.version));
                let change =
                    Change { action: AuditAction::Create, object, before: None, after: Some(&artifact), reason: None };
                self.record_for(&mut tx, principal, change).await?;
                tx.commit().await?;
                Ok(Pushed { artifact, created: true })
            }
            Err(immutable) => {
                // The refusal is on record; the stored artifact is untouched, and the pushed
                // content is dropped with its temporary file.
                let (digest, size) = (pending.digest, pending.size);
                drop(pending);
                let object = ObjectRef::new(ObjectKind::Artifact, format!("{}@{}", new.name, new.version));
                let attempt = PushAttempt { digest: digest.to_string(), size };
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

    /// An artifact and its content, as a stream of chunks read ahead from disk.
    pub async fn open_artifact_content(
        &self,
        principal: &Principal,
        id: ArtifactId,
    ) -> ServiceResult<(Artifact, impl futures::Stream<Item = std::io::Result<Vec<u8>>> + Send + 'static)> {
        let artifact = self.get_artifact(principal, id).await?;
        let content = self.blobs.stream_blob(&artifact.digest).await?;
        Ok((artifact, content))
    }

    pub async fn get_artifact(&self, principal: &Principal, id: ArtifactId) -> ServiceResult<Artifact> {
        self.authorize_read(principal).await?;
        let found = self.store.read().await?.find_artifact_by_id(id).await?;
        found.ok_or_else(|| not_found(Entity::Artifact, id))
    }

    pub async fn find_artifact(&self, principal: &Principal, name: &str, version: &str) -> ServiceResult<Artifact> {
        self.authorize_read(principal).await?;
        let name = ArtifactName::parse(name).map_err(|p| ServiceError::invalid("name", p))?;
        let version = ArtifactVersion::parse(version).map_err(|p| ServiceError::invalid("version", p))?;
        let found = self.store.read().await?.find_artifact(&name, &version).await?;
        found.ok_or_else(|| not_found(Entity::Artifact, format!("{name}@{version}")))
    }

    pub async fn list_artifacts(&self, principal: &Principal, name: Option<&str>) -> ServiceResult<Vec<Artifact>> {
        self.authorize_read(principal).await?;
        let name = name.map(|n| ArtifactName::parse(n).map_err(|p| ServiceError::invalid("name", p))).transpose()?;
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
        self.authorize(principal, Action::KeyTrust, Resource::System, Context::default()).await?;
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
                return Err(ServiceError::invalid(
                    "team",
                    Problem::UnknownReference { kind: "team", name: team.to_string() },
                ));
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

    pub async fn list_keys(&self, principal: &Principal) -> ServiceResult<Vec<TrustedKeyRecord>> {
        self.authorize_read(principal).await?;
        Ok(self.store.read().await?.list_trusted_keys().await?)
    }

    /// Revokes a trusted key: from now on its signatures are refused, on upload and before deploys.
    pub async fn revoke_key(&self, principal: &Principal, id: TrustedKeyId) -> ServiceResult<TrustedKeyRecord> {
        self.authorize(principal, Action::KeyRevoke, Resource::System, Context::default()).await?;
        let mut tx = self.store.begin().await?;
        let before = find_key(&mut tx, id).await?;
        tx.revoke_trusted_key(id, self.now()).await.map_err(|error| match error {
            tollgate_store::StoreError::NotFound { .. } => ServiceError::Conflict {
                entity: Entity::TrustedKey,
                key: format!("{} (already revoked)", before.key_id),
            },
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
        let team = {
            let mut read = self.store.read().await?;
            read.find_artifact_by_id(id).await?.ok_or_else(|| not_found(Entity::Artifact, id))?.team
        };
        self.authorize(principal, Action::ArtifactSign, Resource::Team(team), Context::default()).await?;
        let envelope = Envelope::from_json(envelope_json)?;
        let mut tx = self.store.begin().await?;
        let artifact = tx.find_artifact_by_id(id).await?.ok_or_else(|| not_found(Entity::Artifact, id))?;
        let registered = tx.list_trusted_keys().await?;
        let verified = verify_for(&envelope, &registered, &artifact, Some(&artifact.team), self.now())?;
        tx.insert_signature(id, &verified.key_id, &envelope.to_json(), &principal.user.name, self.now()).await?;
        let object = ObjectRef::new(ObjectKind::Artifact, format!("{}@{}", artifact.name, artifact.version));
        let after = SignatureAttached {
            key_id: verified.key_id.clone(),
            key_name: verified.key_name.clone(),
            digest: artifact.digest.to_string(),
        };
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
        let registered = read.list_trusted_keys().await?;
        let signatures = read
            .list_signatures(id)
            .await?
            .into_iter()
            .map(|record| {
                let outcome = Envelope::from_json(&record.envelope)
                    .and_then(|envelope| {
                        verify_for(&envelope, &registered, &artifact, Some(&artifact.team), self.now())
                    })
                    .map_err(|error| error.to_string());
                (record, outcome)
            })
            .collect();
        Ok(ArtifactCheck { artifact, content_problem, signatures })
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

async fn find_key(conn: &mut Conn, id: TrustedKeyId) -> ServiceResult<TrustedKeyRecord> {
    let keys = conn.list_trusted_keys().await?;
    keys.into_iter().find(|key| key.id == id).ok_or_else(|| not_found(Entity::TrustedKey, id.0))
}
