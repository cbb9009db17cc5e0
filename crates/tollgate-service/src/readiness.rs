//! Whether a release's artifacts may ship, checked in two steps around the slow part.
//!
//! First, on a read snapshot, the check reads every artifact record, signature and trusted key
//! it needs, then lets the connection go; the artifacts' content is hashed with no database
//! connection held. The write that the check allows then runs in its own transaction, which
//! first makes sure the release is still the one that was checked (same revision or, for a
//! deployment, same manifest digest) and repeats the checks that need only records. So an edit
//! that lands between the check and the write is either seen, or refuses the write: never
//! slipped through.

use tollgate_core::artifact::{record_problem, Artifact, ReadinessProblem, SignatureRecord, TrustedKeyRecord};
use tollgate_core::attestation::{verify, AttestationError, Envelope, Subject, TrustedKey, VerifiedAttestation};
use tollgate_core::name::TeamName;
use tollgate_core::release::{ArtifactRef, Release};
use tollgate_store::{Conn, StoreTx};

use crate::hooks::HookPoint;
use crate::release::{get_in, ReleaseRef};
use crate::{ServiceError, ServiceResult, Tollgate};

/// What a check of a release's artifacts reads, from one snapshot.
#[derive(Debug, Clone)]
pub(crate) struct ArtifactsSnapshot {
    artifacts: Vec<ArtifactState>,
    /// The trusted keys, when signatures are required.
    keys: Option<Vec<TrustedKeyRecord>>,
}

#[derive(Debug, Clone)]
struct ArtifactState {
    reference: ArtifactRef,
    /// The team owning the reference's service: only its keys (and team-less ones) count.
    owner: Option<TeamName>,
    stored: Option<Artifact>,
    signatures: Vec<SignatureRecord>,
}

/// An artifact of a release with its signatures: (key id, the key's team, trusted now).
#[derive(Debug, Clone)]
pub(crate) struct SignedArtifact {
    pub service: String,
    pub name: String,
    pub version: String,
    pub digest: tollgate_core::digest::Sha256Digest,
    pub signatures: Vec<(String, Option<String>, bool)>,
}

/// How the write checks that the release is still the one that was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Binding {
    /// Nothing about the release may have changed (marking it ready).
    Revision,
    /// Its deployable content may not have changed: its state may move on (deployments).
    ManifestDigest,
}

impl Tollgate {
    /// Reads what checking `release`'s artifacts needs, in `conn`'s snapshot.
    pub(crate) async fn read_artifacts(
        &self,
        conn: &mut Conn,
        release: &Release,
        require_signatures: bool,
    ) -> ServiceResult<ArtifactsSnapshot> {
        let keys = if require_signatures { Some(conn.list_trusted_keys().await?) } else { None };
        let mut artifacts = Vec::with_capacity(release.content.artifacts.len());
        for reference in &release.content.artifacts {
            let stored = conn.find_artifact(&reference.name, &reference.version).await?;
            let signatures = match (&stored, &keys) {
                (Some(artifact), Some(_)) => conn.list_signatures(artifact.id).await?,
                _ => Vec::new(),
            };
            let owner = conn.find_service(&reference.service).await?.map(|service| service.owner);
            artifacts.push(ArtifactState { reference: reference.clone(), owner, stored, signatures });
        }
        Ok(ArtifactsSnapshot { artifacts, keys })
    }

    /// Every problem that keeps the artifacts from shipping: missing from the store, a digest
    /// that differs, content that no longer verifies on disk, and (when signatures are required)
    /// no valid signature by a trusted key. Hashes the content; holds no connection.
    pub(crate) async fn artifact_problems(&self, snapshot: &ArtifactsSnapshot) -> ServiceResult<Vec<ReadinessProblem>> {
        let mut problems = Vec::new();
        for state in &snapshot.artifacts {
            if let Some(problem) = record_problem(&state.reference, state.stored.as_ref()) {
                problems.push(problem);
                continue;
            }
            if let Err(error) = self.blobs.verify(&state.reference.digest).await {
                let reason = error.to_string();
                problems.push(ReadinessProblem::ContentCorrupt { artifact: state.reference.clone(), reason });
                continue;
            }
            problems.extend(self.signature_problem(snapshot, state));
        }
        Ok(problems)
    }

    /// The slow half of a check: hashes the artifacts' content with no connection held and
    /// refuses with every problem; otherwise opens the write transaction, in which the caller
    /// looks again with `recheck_in` before it writes.
    pub(crate) async fn hash_then_begin(&self, snapshot: &ArtifactsSnapshot) -> ServiceResult<StoreTx> {
        let problems = self.artifact_problems(snapshot).await?;
        if !problems.is_empty() {
            return Err(ServiceError::NotReady(problems));
        }
        self.hooks.at(HookPoint::AfterReadinessCheck).await;
        Ok(self.store.begin().await?)
    }

    /// Every artifact of `release` with each signature's key, the key's team and whether it
    /// verifies against a trusted key now: what the gate input and the evidence-set digest
    /// show. Artifacts missing from the store are listed with no signatures.
    pub(crate) async fn signature_trust(
        &self,
        conn: &mut Conn,
        release: &Release,
    ) -> ServiceResult<Vec<SignedArtifact>> {
        let snapshot = self.read_artifacts(conn, release, true).await?;
        let registered = snapshot.keys.as_deref().unwrap_or_default();
        let mut signed = Vec::with_capacity(snapshot.artifacts.len());
        for state in &snapshot.artifacts {
            let mut signatures = Vec::new();
            if let Some(artifact) = &state.stored {
                // The same judgement as readiness: a team's key counts only for its services.
                for record in &state.signatures {
                    let trusted = Envelope::from_json(&record.envelope)
                        .and_then(|envelope| {
                            verify_for(&envelope, registered, artifact, state.owner.as_ref(), self.now())
                        })
                        .is_ok();
                    let team = registered
                        .iter()
                        .find(|key| key.key_id == record.key_id)
                        .and_then(|key| key.team.as_ref().map(ToString::to_string));
                    signatures.push((record.key_id.clone(), team, trusted));
                }
            }
            signed.push(SignedArtifact {
                service: state.reference.service.to_string(),
                name: state.reference.name.to_string(),
                version: state.reference.version.to_string(),
                digest: state.reference.digest,
                signatures,
            });
        }
        Ok(signed)
    }

    /// The problems judged from records alone (no hashing), for the second look inside the
    /// write transaction.
    fn record_problems(&self, snapshot: &ArtifactsSnapshot) -> Vec<ReadinessProblem> {
        let mut problems = Vec::new();
        for state in &snapshot.artifacts {
            match record_problem(&state.reference, state.stored.as_ref()) {
                Some(problem) => problems.push(problem),
                None => problems.extend(self.signature_problem(snapshot, state)),
            }
        }
        problems
    }

    fn signature_problem(&self, snapshot: &ArtifactsSnapshot, state: &ArtifactState) -> Option<ReadinessProblem> {
        let registered = snapshot.keys.as_ref()?;
        let artifact = state.stored.as_ref()?;
        let mut reasons = Vec::new();
        for record in &state.signatures {
            let verified = Envelope::from_json(&record.envelope)
                .and_then(|e| verify_for(&e, registered, artifact, state.owner.as_ref(), self.now()));
            match verified {
                Ok(_) => return None,
                Err(error) => reasons.push(error.to_string()),
            }
        }
        if reasons.is_empty() {
            reasons.push("it has no signature".to_owned());
        }
        Some(ReadinessProblem::Unsigned { artifact: state.reference.clone(), reasons })
    }

    /// Inside the write transaction: the release as it is now, if it is still the one that
    /// `checked` saw (by `binding`) and its records still pass. Fails with `ReleaseChanged`
    /// otherwise, or `NotReady` when a record changed (a key revoked, an artifact removed).
    pub(crate) async fn recheck_in(
        &self,
        conn: &mut Conn,
        checked: &Release,
        binding: Binding,
        require_signatures: bool,
    ) -> ServiceResult<Release> {
        let current = get_in(conn, &ReleaseRef::Id(checked.id)).await?;
        let unchanged = match binding {
            Binding::Revision => current.revision == checked.revision,
            Binding::ManifestDigest => current.manifest_digest() == checked.manifest_digest(),
        };
        if !unchanged {
            return Err(ServiceError::ReleaseChanged {
                release: checked.id,
                checked: checked.revision,
                current: current.revision,
            });
        }
        let snapshot = self.read_artifacts(conn, &current, require_signatures).await?;
        let problems = self.record_problems(&snapshot);
        if !problems.is_empty() {
            return Err(ServiceError::NotReady(problems));
        }
        Ok(current)
    }
}

/// Verifies `envelope` about `artifact` against the registered keys that count for it: those
/// registered for no team or for `owner` (the team owning the service the artifact ships as, or
/// the artifact's own team when no service is in question). A key registered for a builder
/// counts only when the signed SLSA provenance names that builder: the builder is taken from
/// what was signed, never from the push's metadata.
pub(crate) fn verify_for(
    envelope: &Envelope,
    registered: &[TrustedKeyRecord],
    artifact: &Artifact,
    owner: Option<&TeamName>,
    at: tollgate_core::Timestamp,
) -> Result<VerifiedAttestation, AttestationError> {
    let scoped: Vec<&TrustedKeyRecord> =
        registered.iter().filter(|key| key.team.as_ref().is_none_or(|team| Some(team) == owner)).collect();
    let keys: Vec<TrustedKey> = scoped
        .iter()
        .map(|key| TrustedKey { key: key.public_key, name: key.name.clone(), revoked_at: key.revoked_at })
        .collect();
    let subject = Subject { name: artifact.name.to_string(), digest: artifact.digest };
    let verified = verify(envelope, &keys, &subject, at)?;
    let record = scoped.iter().find(|key| key.key_id == verified.key_id);
    if let Some(trusted) = record.and_then(|key| key.builder.as_ref()) {
        let found = verified.provenance.as_ref().map(|provenance| provenance.builder_id.clone());
        if found.as_ref() != Some(trusted) {
            return Err(AttestationError::BuilderMismatch {
                key_id: verified.key_id.clone(),
                trusted: trusted.clone(),
                found,
            });
        }
    }
    Ok(verified)
}
