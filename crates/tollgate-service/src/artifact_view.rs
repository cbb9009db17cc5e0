//! Artifacts as people browse them: a page of the list, and one artifact with its other
//! versions, its signatures checked now, its retention decision and why, and the legal holds on
//! its tags. Read from one snapshot per call.

use tollgate_core::artifact::{Artifact, ArtifactId, SignatureRecord};
use tollgate_core::attestation::Envelope;
use tollgate_core::retention::{Decision, LegalHold};
use tollgate_core::{Entity, Page};

use crate::readiness::verify_for;
use crate::{Principal, ServiceResult, Tollgate};

/// One artifact and everything its page shows.
#[derive(Debug, Clone)]
pub struct ArtifactView {
    pub artifact: Artifact,
    /// Every version of the same name, newest first (this one included).
    pub versions: Vec<Artifact>,
    /// Each signature, with the key that verified it now or why it does not verify.
    pub signatures: Vec<(SignatureRecord, Result<String, String>)>,
    /// What retention decides for it now, and why.
    pub retention: Option<Decision>,
    /// The legal holds on its tags.
    pub holds: Vec<LegalHold>,
}

impl Tollgate {
    /// A page of artifacts, newest first, optionally those whose name contains `text`, each
    /// with its number of signatures.
    pub async fn list_artifact_page(
        &self,
        principal: &Principal,
        text: Option<&str>,
        page: Page,
    ) -> ServiceResult<Vec<(Artifact, u64)>> {
        self.authorize_read(principal).await?;
        let text = text.map(str::trim).filter(|text| !text.is_empty());
        if text.is_some_and(|text| text.chars().count() > tollgate_core::release::filter::MAX_FILTER_TEXT) {
            let mut violations = tollgate_core::Violations::new();
            let max = tollgate_core::release::filter::MAX_FILTER_TEXT;
            violations.push("text", tollgate_core::Problem::TooLong { max });
            return Err(crate::ServiceError::Invalid(violations));
        }
        Ok(self.store.read().await?.list_artifact_page(text, page).await?)
    }

    /// One artifact and everything its page shows.
    pub async fn artifact_view(&self, principal: &Principal, id: ArtifactId) -> ServiceResult<ArtifactView> {
        self.authorize_read(principal).await?;
        let mut read = self.store.read().await?;
        let artifact = read
            .find_artifact_by_id(id)
            .await?
            .ok_or_else(|| crate::ServiceError::NotFound { entity: Entity::Artifact, key: id.0.to_string() })?;
        let trusted = read.list_trusted_keys().await?;
        let signatures = read
            .list_signatures(id)
            .await?
            .into_iter()
            .map(|record| {
                let outcome = Envelope::from_json(&record.envelope)
                    .and_then(|envelope| verify_for(&envelope, &trusted, &artifact, Some(&artifact.team), self.now()))
                    .map(|verified| format!("{} ({})", verified.key_name, verified.key_id))
                    .map_err(|error| error.to_string());
                (record, outcome)
            })
            .collect();
        let (versions, decisions) = self.retention_decisions(&mut read, Some(&artifact.name)).await?;
        let retention = decisions.into_iter().find(|decision| decision.artifact == id);
        let holds =
            read.list_legal_holds().await?.into_iter().filter(|hold| artifact.tags.contains(&hold.tag)).collect();
        Ok(ArtifactView { artifact, versions, signatures, retention, holds })
    }
}
