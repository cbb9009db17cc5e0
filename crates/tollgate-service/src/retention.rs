//! Retention policies, legal holds, and garbage collection of artifacts.
//!
//! Collection decides on a snapshot, then removes one artifact per transaction, deciding again
//! inside it (a release or a deployment may have come to need the artifact meanwhile); the
//! removal leaves a tombstone and its audit entry. The blob goes in a second transaction, which
//! holds the same lock a push holds while it records content: so the blob is removed only if,
//! under that lock, nothing refers to its digest. Interrupted, collection leaves at worst an
//! unreferenced blob or a partial upload, which the next run sweeps; running it again is safe.

use std::collections::BTreeMap;

use tollgate_core::artifact::{Artifact, ArtifactName, Tag};
use tollgate_core::audit::{AuditAction, ObjectKind, ObjectRef};
use tollgate_core::deployment::running_at;
use tollgate_core::digest::Sha256Digest;
use tollgate_core::release::ReleaseState;
use tollgate_core::retention::{decide, Decision, LegalHold, RetentionPolicy, Selector, Usage};
use tollgate_core::{Problem, Violations};
use tollgate_store::blob::TEMP_FILE_GRACE;
use tollgate_store::Conn;

use crate::audit::Change;
use crate::hooks::HookPoint;
use crate::{Principal, ServiceError, ServiceResult, Tollgate};

/// What a collection decided (and, unless a dry run, did).
#[derive(Debug, Clone)]
pub struct Collection {
    pub decisions: Vec<(Artifact, Decision)>,
    pub removed_blobs: usize,
    pub dry_run: bool,
}

impl Tollgate {
    /// Creates or replaces the policy for artifacts of one name (`name:ledger`) or one team
    /// (`team:payments`).
    pub async fn set_retention_policy(
        &self,
        principal: &Principal,
        selector: &str,
        keep_last: Option<u32>,
        keep_deployed_days: Option<u32>,
    ) -> ServiceResult<RetentionPolicy> {
        self.authorize(
            principal,
            tollgate_authz::Action::RetentionEdit,
            tollgate_authz::Resource::System,
            tollgate_authz::Context::default(),
        )
        .await?;
        let mut violations = Violations::new();
        let selector = match selector.split_once(':') {
            Some(("name", name)) => {
                violations.check("selector", tollgate_core::artifact::ArtifactName::parse(name).map(Selector::Name))
            }
            Some(("team", team)) => {
                violations.check("selector", tollgate_core::name::TeamName::parse(team).map(Selector::Team))
            }
            _ => {
                violations.push(
                    "selector",
                    Problem::Invalid { reason: format!("{selector:?} is neither name:<artifact> nor team:<team>") },
                );
                None
            }
        };
        if keep_last.is_none() && keep_deployed_days.is_none() {
            violations.push(
                "keep_last",
                Problem::Invalid {
                    reason: "a policy keeps the last N versions, or what was deployed in D days, or both".to_owned(),
                },
            );
        }
        if keep_last == Some(0) {
            violations.push("keep_last", Problem::Invalid { reason: "must be at least 1".to_owned() });
        }
        let selector = violations.into_result(selector)?.expect("a selector when there are no violations");
        let mut tx = self.store.begin().await?;
        let id = tx
            .upsert_retention_policy(&selector, keep_last, keep_deployed_days, &principal.user.name, self.now())
            .await?;
        let policy = RetentionPolicy { id, selector, keep_last, keep_deployed_days };
        let object = ObjectRef::new(ObjectKind::RetentionPolicy, id.0);
        let change = Change { action: AuditAction::Update, object, before: None, after: Some(&policy), reason: None };
        self.record_for(&mut tx, principal, change).await?;
        tx.commit().await?;
        Ok(policy)
    }

    pub async fn list_retention_policies(&self, principal: &Principal) -> ServiceResult<Vec<RetentionPolicy>> {
        self.authorize_read(principal).await?;
        Ok(self.store.read().await?.list_retention_policies().await?)
    }

    /// Puts every artifact carrying `tag` under legal hold.
    pub async fn hold(&self, principal: &Principal, tag: &str, reason: &str) -> ServiceResult<()> {
        self.authorize(
            principal,
            tollgate_authz::Action::RetentionEdit,
            tollgate_authz::Resource::System,
            tollgate_authz::Context::default(),
        )
        .await?;
        let mut violations = Violations::new();
        let tag = violations.check("tag", Tag::parse(tag));
        violations.check("reason", tollgate_core::name::check_text(reason, 2000, true));
        let tag = violations.into_result(tag)?.expect("a tag when there are no violations");
        let mut tx = self.store.begin().await?;
        tx.insert_legal_hold(&tag, reason, &principal.user.name, self.now()).await?;
        let object = ObjectRef::new(ObjectKind::LegalHold, &tag);
        let after = LegalHold {
            tag: tag.clone(),
            reason: reason.to_owned(),
            created_by: principal.user.name.clone(),
            created_at: self.now(),
        };
        self.record_for(
            &mut tx,
            principal,
            Change { action: AuditAction::Create, object, before: None, after: Some(&after), reason: Some(reason) },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Lifts a legal hold.
    pub async fn release_hold(&self, principal: &Principal, tag: &str, reason: &str) -> ServiceResult<()> {
        self.authorize(
            principal,
            tollgate_authz::Action::RetentionEdit,
            tollgate_authz::Resource::System,
            tollgate_authz::Context::default(),
        )
        .await?;
        let tag = Tag::parse(tag).map_err(|problem| {
            let mut violations = Violations::new();
            violations.push("tag", problem);
            ServiceError::Invalid(violations)
        })?;
        let mut tx = self.store.begin().await?;
        let before = tx.list_legal_holds().await?.into_iter().find(|hold| hold.tag == tag);
        let before = before.ok_or_else(|| crate::catalog::not_found(tollgate_core::Entity::LegalHold, &tag))?;
        tx.delete_legal_hold(&tag).await?;
        let object = ObjectRef::new(ObjectKind::LegalHold, &tag);
        self.record_for(
            &mut tx,
            principal,
            Change { action: AuditAction::Remove, object, before: Some(&before), after: None, reason: Some(reason) },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Decides every artifact against the retention policies and, unless `dry_run`, removes
    /// what no reason keeps.
    pub async fn collect_garbage(&self, principal: &Principal, dry_run: bool) -> ServiceResult<Collection> {
        if dry_run {
            self.authorize_read(principal).await?;
        } else {
            self.authorize(
                principal,
                tollgate_authz::Action::RetentionGc,
                tollgate_authz::Resource::System,
                tollgate_authz::Context::default(),
            )
            .await?;
        }
        let (artifacts, decisions) = {
            let mut read = self.store.read().await?;
            self.retention_decisions(&mut read, None).await?
        };
        let mut collection =
            Collection { decisions: artifacts.into_iter().zip(decisions).collect(), removed_blobs: 0, dry_run };
        if dry_run {
            return Ok(collection);
        }
        self.hooks.at(HookPoint::BeforeRemoval).await;
        for (artifact, decision) in &mut collection.decisions {
            if !decision.keep {
                let (now_decided, removed_blob) = self.remove_artifact(principal, artifact).await?;
                *decision = now_decided;
                collection.removed_blobs += usize::from(removed_blob);
            }
        }
        collection.removed_blobs += self.sweep_orphan_blobs().await?;
        Ok(collection)
    }

    /// The artifacts (all, or those of one name) and their decisions, read through `conn`.
    pub(crate) async fn retention_decisions(
        &self,
        conn: &mut Conn,
        name: Option<&ArtifactName>,
    ) -> ServiceResult<(Vec<Artifact>, Vec<Decision>)> {
        let artifacts = conn.list_artifacts(name).await?;
        let policies = conn.list_retention_policies().await?;
        let key = |artifact: &Artifact| (artifact.name.to_string(), artifact.version.to_string());
        let open = conn.releases_referencing_artifacts(&[ReleaseState::Closed, ReleaseState::Cancelled]).await?;
        let deployed = conn.last_deployments_of_artifacts().await?;
        let mut running: BTreeMap<(String, String), Vec<_>> = BTreeMap::new();
        for environment in conn.list_environments().await? {
            let history = conn.deployed_releases(&environment.name).await?;
            for service in running_at(&history, self.now()) {
                running
                    .entry((service.artifact.name.to_string(), service.artifact.version.to_string()))
                    .or_default()
                    .push(environment.name.clone());
            }
        }
        let mut usage = Usage {
            held_tags: conn.list_legal_holds().await?.into_iter().map(|hold| hold.tag).collect(),
            ..Usage::default()
        };
        for artifact in &artifacts {
            if let Some(releases) = open.get(&key(artifact)) {
                usage.open_releases.insert(artifact.id, releases.clone());
            }
            if let Some(at) = deployed.get(&key(artifact)) {
                usage.last_deployed.insert(artifact.id, *at);
            }
            if let Some(environments) = running.get(&key(artifact)) {
                usage.running.insert(artifact.id, environments.clone());
            }
        }
        let decisions = decide(&artifacts, &policies, &usage, self.now());
        Ok((artifacts, decisions))
    }

    /// Removes one artifact (audited, leaving a tombstone) if a decision made inside the
    /// removing transaction still removes it; then its blob, if nothing refers to the digest.
    /// Returns the decision that counted, and whether the blob went.
    async fn remove_artifact(&self, principal: &Principal, candidate: &Artifact) -> ServiceResult<(Decision, bool)> {
        let mut tx = self.store.begin().await?;
        let (artifacts, decisions) = self.retention_decisions(&mut tx, Some(&candidate.name)).await?;
        let found = artifacts.iter().zip(decisions).find(|(artifact, _)| artifact.id == candidate.id);
        let Some((artifact, decision)) = found else {
            // Removed by another collection meanwhile.
            let gone = Decision {
                artifact: candidate.id,
                keep: false,
                kept_because: Vec::new(),
                removable_because: vec!["already removed".to_owned()],
            };
            return Ok((gone, false));
        };
        if decision.keep {
            return Ok((decision, false));
        }
        tx.delete_artifact(artifact, self.now()).await?;
        let object = ObjectRef::new(ObjectKind::Artifact, format!("{}@{}", artifact.name, artifact.version));
        let reason = decision.removable_because.join("; ");
        let change =
            Change { action: AuditAction::Remove, object, before: Some(artifact), after: None, reason: Some(&reason) };
        self.record_for(&mut tx, principal, change).await?;
        tx.commit().await?;
        self.hooks.at(HookPoint::BeforeBlobRemoval).await;
        let removed = self.remove_blob_if_unreferenced(&candidate.digest).await?;
        Ok((decision, removed))
    }

    /// Removes a blob when no artifact or evidence refers to its digest, deciding and removing
    /// under the writers' lock, so a push recording the same content waits or is seen.
    async fn remove_blob_if_unreferenced(&self, digest: &Sha256Digest) -> ServiceResult<bool> {
        let mut tx = self.store.begin().await?;
        if tx.is_digest_referenced(digest).await? {
            return Ok(false);
        }
        self.blobs.remove(digest).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Removes blobs no artifact or evidence refers to, once they are older than the grace
    /// period, and partial uploads a crash left behind.
    async fn sweep_orphan_blobs(&self) -> ServiceResult<usize> {
        let mut removed = self.blobs.sweep_temporary(TEMP_FILE_GRACE).await?;
        let mut tx = self.store.begin().await?;
        let referenced = tx.referenced_digests().await?;
        for (digest, modified) in self.blobs.list().await? {
            let old_enough = modified.elapsed().is_ok_and(|age| age >= TEMP_FILE_GRACE);
            if old_enough && !referenced.contains(&digest.to_string()) {
                self.blobs.remove(&digest).await?;
                removed += 1;
            }
        }
        tx.commit().await?;
        Ok(removed)
    }
}
