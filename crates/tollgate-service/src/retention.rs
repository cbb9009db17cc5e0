//! Retention policies, legal holds, and garbage collection of artifacts.
//!
//! Collection removes one artifact per transaction (with its audit entry), then its blob once no
//! artifact or evidence refers to the digest. Interrupted, it leaves at worst an unreferenced
//! blob, which the next run sweeps; running it again is always safe.

use std::collections::BTreeMap;

use tollgate_core::artifact::{Artifact, Tag};
use tollgate_core::audit::{AuditAction, ObjectKind, ObjectRef};
use tollgate_core::deployment::running_at;
use tollgate_core::retention::{decide, Decision, RetentionPolicy, Selector, Usage};
use tollgate_core::{Problem, Violations};

use crate::audit::Change;
use crate::{Principal, ServiceError, ServiceResult, Tollgate};

/// Unreferenced blobs younger than this are left alone: they may belong to a push in flight.
const ORPHAN_GRACE: std::time::Duration = std::time::Duration::from_secs(3600);

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
        principal.require_admin()?;
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

    pub async fn list_retention_policies(&self, _principal: &Principal) -> ServiceResult<Vec<RetentionPolicy>> {
        Ok(self.store.read().await?.list_retention_policies().await?)
    }

    /// Puts every artifact carrying `tag` under legal hold.
    pub async fn hold(&self, principal: &Principal, tag: &str, reason: &str) -> ServiceResult<()> {
        principal.require_admin()?;
        let mut violations = Violations::new();
        let tag = violations.check("tag", Tag::parse(tag));
        violations.check("reason", tollgate_core::name::check_text(reason, 2000, true));
        let tag = violations.into_result(tag)?.expect("a tag when there are no violations");
        let mut tx = self.store.begin().await?;
        tx.insert_legal_hold(&tag, reason, &principal.user.name, self.now()).await?;
        let object = ObjectRef::new(ObjectKind::LegalHold, &tag);
        let after = serde_json::json!({ "tag": tag.to_string(), "reason": reason });
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
        principal.require_admin()?;
        let tag = Tag::parse(tag).map_err(|problem| {
            let mut violations = Violations::new();
            violations.push("tag", problem);
            ServiceError::Invalid(violations)
        })?;
        let mut tx = self.store.begin().await?;
        tx.delete_legal_hold(&tag).await?;
        let object = ObjectRef::new(ObjectKind::LegalHold, &tag);
        let before = serde_json::json!({ "tag": tag.to_string() });
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
        if !dry_run {
            principal.require_admin()?;
        }
        let (artifacts, decisions) = self.retention_decisions().await?;
        let mut removed_blobs = 0;
        if !dry_run {
            for (artifact, decision) in artifacts.iter().zip(&decisions) {
                if !decision.keep {
                    removed_blobs += self.remove_artifact(principal, artifact, decision).await?;
                }
            }
            removed_blobs += self.sweep_orphan_blobs().await?;
        }
        Ok(Collection { decisions: artifacts.into_iter().zip(decisions).collect(), removed_blobs, dry_run })
    }

    async fn retention_decisions(&self) -> ServiceResult<(Vec<Artifact>, Vec<Decision>)> {
        let mut read = self.store.read().await?;
        let artifacts = read.list_artifacts(None).await?;
        let policies = read.list_retention_policies().await?;
        let key = |artifact: &Artifact| (artifact.name.to_string(), artifact.version.to_string());
        let open = read.releases_referencing_artifacts(&["closed", "cancelled"]).await?;
        let deployed = read.last_deployments_of_artifacts().await?;
        let mut running: BTreeMap<(String, String), Vec<_>> = BTreeMap::new();
        for environment in read.list_environments().await? {
            let history = read.deployed_releases(&environment.name).await?;
            for service in running_at(&history, self.now()) {
                running
                    .entry((service.artifact.name.clone(), service.artifact.version.clone()))
                    .or_default()
                    .push(environment.name.clone());
            }
        }
        let mut usage = Usage {
            held_tags: read.list_legal_holds().await?.into_iter().map(|hold| hold.tag).collect(),
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

    /// Removes one artifact (audited), then its blob if nothing else refers to the digest.
    async fn remove_artifact(
        &self,
        principal: &Principal,
        artifact: &Artifact,
        decision: &Decision,
    ) -> ServiceResult<usize> {
        let mut tx = self.store.begin().await?;
        tx.delete_artifact(artifact.id).await?;
        let object = ObjectRef::new(ObjectKind::Artifact, format!("{}@{}", artifact.name, artifact.version));
        let reason = decision.removable_because.join("; ");
        let change =
            Change { action: AuditAction::Remove, object, before: Some(artifact), after: None, reason: Some(&reason) };
        self.record_for(&mut tx, principal, change).await?;
        tx.commit().await?;
        if self.store.read().await?.is_digest_referenced(&artifact.digest).await? {
            return Ok(0);
        }
        self.blobs.remove(&artifact.digest).await?;
        Ok(1)
    }

    /// Removes blobs no artifact or evidence refers to, once they are older than the grace period.
    async fn sweep_orphan_blobs(&self) -> ServiceResult<usize> {
        let referenced = self.store.read().await?.referenced_digests().await?;
        let mut removed = 0;
        for (digest, modified) in self.blobs.list().await? {
            let old_enough = modified.elapsed().is_ok_and(|age| age >= ORPHAN_GRACE);
            if old_enough && !referenced.contains(&digest.to_string()) {
                self.blobs.remove(&digest).await?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}
