//! The policies in force, for the policy page: the gate policy and its versions, the Cedar
//! policies (for those who may read them) and the just-in-time grants in force.

use tollgate_authz::{Action, Context, PolicyInfo, Resource};
use tollgate_core::authz::{JitGrant, PolicyVersion};
use tollgate_core::gate::PolicyVersionRecord;
use tollgate_core::Page;

use crate::{Principal, ServiceResult, Tollgate};

/// How many gate policy versions the page lists.
const VERSIONS_SHOWN: i64 = 20;

/// Everything the policy page shows.
#[derive(Debug, Clone)]
pub struct PolicyOverview {
    /// The gate policy in force.
    pub gate_policy: Option<PolicyVersionRecord>,
    /// The latest gate policy versions, newest first.
    pub gate_versions: Vec<PolicyVersionRecord>,
    /// The authorization policies in force and the version of the user policies; `None` when
    /// the reader may not read them (`authz.policy.read`).
    pub authorization: Option<(Option<PolicyVersion>, Vec<PolicyInfo>)>,
    /// The just-in-time grants in force now: every user's for those who may list grants, the
    /// reader's own otherwise.
    pub grants: Vec<JitGrant>,
}

impl Tollgate {
    /// The policy page's content, for anyone who may read records.
    pub async fn policy_overview(&self, principal: &Principal) -> ServiceResult<PolicyOverview> {
        self.authorize_read(principal).await?;
        let mut read = self.store.read().await?;
        let gate_policy = read.find_current_policy().await?;
        let gate_versions = read.list_policy_versions(Page { cursor: None, limit: VERSIONS_SHOWN }).await?;
        let may_read_authorization = self
            .decide_in(&mut read, principal, Action::AuthzPolicyRead, Resource::System, Context::default())
            .await?
            .allowed;
        let authorization = if may_read_authorization {
            let version = read.latest_authz_policy_version().await?;
            let authorizer = self.authorizer(&mut read).await?;
            Some((version, authorizer.policies()))
        } else {
            None
        };
        // The grants in force: everyone's for those who may list grants (jit.list), as the
        // API's list does, and otherwise the reader's own.
        let all_grants =
            self.decide_in(&mut read, principal, Action::JitList, Resource::System, Context::default()).await?.allowed;
        let user = (!all_grants).then_some(&principal.user.name);
        let now = self.now();
        let grants = read.list_grants(user, now).await?.into_iter().filter(|grant| grant.is_active(now)).collect();
        Ok(PolicyOverview { gate_policy, gate_versions, authorization, grants })
    }
}
