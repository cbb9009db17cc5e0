//! The dashboard: what a release desk looks at first, read from one snapshot.
//!
//! It reads counts and short lists only (never a whole table, never a chain verification),
//! so it stays fast on a large installation.

use tollgate_core::artifact::Artifact;
use tollgate_core::audit::{Checkpoint, VerificationResult};
use tollgate_core::deployment::Deployment;
use tollgate_core::release::ReleaseState;
use tollgate_core::Page;

use crate::{Principal, ServiceResult, Tollgate};

/// How many recent deployments and unsigned artifacts the dashboard lists.
pub const DASHBOARD_LIST_LENGTH: i64 = 10;

/// What the dashboard shows.
#[derive(Debug, Clone)]
pub struct Dashboard {
    /// Releases in each state, in the order of the release lifecycle; states with none left out.
    pub releases_by_state: Vec<(ReleaseState, u64)>,
    /// The latest deployments, newest first.
    pub recent_deployments: Vec<Deployment>,
    /// The newest artifacts without any signature, and how many there are in all.
    pub unsigned_artifacts: Vec<Artifact>,
    pub n_unsigned_artifacts: u64,
    /// The latest signed audit checkpoint.
    pub latest_checkpoint: Option<Checkpoint>,
    /// Entries in the audit log.
    pub audit_length: u64,
    /// The latest scheduled whole-chain verification (the dashboard never verifies itself).
    pub last_verification: Option<VerificationResult>,
}

impl Tollgate {
    /// The dashboard, for anyone who may read records.
    pub async fn dashboard(&self, principal: &Principal) -> ServiceResult<Dashboard> {
        self.authorize_read(principal).await?;
        let mut read = self.store.read().await?;
        let mut releases_by_state = read.count_releases_by_state().await?;
        releases_by_state.sort_by_key(|(state, _)| lifecycle_order(*state));
        let page = Page { cursor: None, limit: DASHBOARD_LIST_LENGTH };
        let recent_deployments = read.list_deployments(None, None, page).await?;
        let (unsigned_artifacts, n_unsigned_artifacts) = read.list_unsigned_artifacts(DASHBOARD_LIST_LENGTH).await?;
        let latest_checkpoint = read.latest_checkpoint().await?;
        let (audit_length, _) = read.audit_head().await?;
        let last_verification = read.last_audit_verification().await?;
        Ok(Dashboard {
            releases_by_state,
            recent_deployments,
            unsigned_artifacts,
            n_unsigned_artifacts,
            latest_checkpoint,
            audit_length,
            last_verification,
        })
    }
}

fn lifecycle_order(state: ReleaseState) -> usize {
    ReleaseState::ALL.iter().position(|name| *name == state.as_str()).unwrap_or(usize::MAX)
}
