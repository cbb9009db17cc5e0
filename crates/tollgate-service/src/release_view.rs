//! One release as a person reviews it: content, artifacts with their signatures, evidence,
//! gate decisions, deployments, and the actions the reader may take now. Read from one
//! snapshot, in one call, for the release page.
//!
//! The actions listed are those the state machine allows and authorization permits for this
//! reader; taking one still goes through `transition_release`, which decides again.

use tollgate_authz::{Action, Context, Resource};
use tollgate_core::artifact::{Artifact, SignatureRecord};
use tollgate_core::attestation::Envelope;
use tollgate_core::deployment::Deployment;
use tollgate_core::digest::Sha256Digest;
use tollgate_core::evidence::EvidenceRecord;
use tollgate_core::gate::{GateDecision, GateOverride};
use tollgate_core::release::{ArtifactRef, Release, ReleaseAction};
use tollgate_core::Page;

use crate::readiness::verify_for;
use crate::release::{get_in, release_action, ReleaseRef};
use crate::{Principal, ServiceResult, Tollgate};

/// The most deployments and gate decisions a release view lists.
const VIEW_LIST_LENGTH: i64 = 50;

/// A release and everything its page shows.
#[derive(Debug, Clone)]
pub struct ReleaseView {
    pub release: Release,
    pub manifest_digest: Sha256Digest,
    pub artifacts: Vec<ReleaseArtifact>,
    /// Each evidence file with a one-line summary of its facts.
    pub evidence: Vec<(EvidenceRecord, String)>,
    /// The newest gate decision for each environment, newest first, with the override that
    /// lets it pass when one was given.
    pub gate_decisions: Vec<(GateDecision, Option<GateOverride>)>,
    pub deployments: Vec<Deployment>,
    /// The manual actions the reader may take now.
    pub actions: Vec<ReleaseAction>,
    /// Whether the reader may override a failed gate decision.
    pub may_override_gates: bool,
}

/// One artifact of a release: the reference, the stored artifact (if it is stored), and each
/// signature with whether it verifies against the trusted keys now.
#[derive(Debug, Clone)]
pub struct ReleaseArtifact {
    pub reference: ArtifactRef,
    pub artifact: Option<Artifact>,
    pub signatures: Vec<(SignatureRecord, Result<String, String>)>,
}

impl Tollgate {
    /// The release and everything its page shows, for anyone who may read records.
    pub async fn release_view(&self, principal: &Principal, release: &ReleaseRef) -> ServiceResult<ReleaseView> {
        self.authorize_read(principal).await?;
        let mut read = self.store.read().await?;
        let release = get_in(&mut read, release).await?;
        let trusted = read.list_trusted_keys().await?;
        let mut artifacts = Vec::with_capacity(release.content.artifacts.len());
        for reference in &release.content.artifacts {
            let artifact = read.find_artifact(&reference.name, &reference.version).await?;
            let signatures = match &artifact {
                Some(artifact) => read
                    .list_signatures(artifact.id)
                    .await?
                    .into_iter()
                    .map(|record| {
                        let outcome = Envelope::from_json(&record.envelope)
                            .and_then(|envelope| {
                                verify_for(&envelope, &trusted, artifact, Some(&artifact.team), self.now())
                            })
                            .map(|verified| format!("{} ({})", verified.key_name, verified.key_id))
                            .map_err(|error| error.to_string());
                        (record, outcome)
                    })
                    .collect(),
                None => Vec::new(),
            };
            artifacts.push(ReleaseArtifact { reference: reference.clone(), artifact, signatures });
        }
        let evidence = read
            .list_evidence(release.id)
            .await?
            .into_iter()
            .map(|record| {
                let summary = serde_json::from_value::<tollgate_evidence::Facts>(record.facts.clone())
                    .map_or_else(|error| format!("facts do not read: {error}"), |facts| facts.summary());
                (record, summary)
            })
            .collect();
        let page = Page { cursor: None, limit: VIEW_LIST_LENGTH };
        let mut gate_decisions = read.list_gate_decisions(Some(release.id), None, page).await?;
        let mut seen = std::collections::BTreeSet::new();
        gate_decisions.retain(|decision| seen.insert(decision.environment.clone()));
        let mut decided = Vec::with_capacity(gate_decisions.len());
        for decision in gate_decisions {
            let overridden = read.find_gate_override(decision.id).await?;
            decided.push((decision, overridden));
        }
        let gate_decisions = decided;
        let deployments = read.list_deployments(None, Some(release.id), page).await?;
        let facts = self.release_facts(&mut read, &release).await?;
        let mut actions = Vec::new();
        for action in ReleaseAction::EVERY {
            if !action.is_manual() || release.state.next(action, release.content.release_type).is_none() {
                continue;
            }
            let resource = Resource::Release(facts.clone());
            let decision =
                self.decide_in(&mut read, principal, release_action(action), resource, Context::default()).await?;
            if decision.allowed {
                actions.push(action);
            }
        }
        let override_context = Context { reason: Some("checking the page".to_owned()), ..Context::default() };
        let may_override_gates = self
            .decide_in(&mut read, principal, Action::OverrideGate, Resource::Release(facts), override_context)
            .await?
            .allowed;
        Ok(ReleaseView {
            manifest_digest: release.content.manifest_digest(),
            release,
            artifacts,
            evidence,
            gate_decisions,
            deployments,
            actions,
            may_override_gates,
        })
    }
}
