//! What a request is about, as plain data the service reads from the store: who asks (with
//! their roles, teams and just-in-time grants), the resource and the context. Turned into
//! Cedar entities here, so the service never builds Cedar values itself.

use std::collections::BTreeSet;

use tollgate_core::environment::Tier;
use tollgate_core::name::{EnvironmentName, TeamName, UserName};
use tollgate_core::user::Role;
use tollgate_core::Timestamp;

use crate::action::{Action, ResourceType};

/// Who asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalFacts {
    pub name: UserName,
    pub roles: BTreeSet<Role>,
    /// The teams the user is a member of.
    pub teams: BTreeSet<TeamName>,
    /// The user's just-in-time grants; only those active at the request's time and for the
    /// request's environment count.
    pub grants: Vec<Grant>,
}

/// A time-bound elevation: `role` in `environment` from `not_before` until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: i64,
    pub role: Role,
    pub environment: EnvironmentName,
    pub not_before: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

impl Grant {
    /// Whether the grant counts at `at`: started, not expired (the end is exclusive) and not
    /// revoked by then.
    pub fn is_active(&self, at: Timestamp) -> bool {
        self.not_before <= at && at < self.expires_at && self.revoked_at.is_none_or(|revoked| revoked > at)
    }
}

/// A release, as decisions see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseFacts {
    pub id: i64,
    pub version: String,
    pub state: String,
    pub author: UserName,
    /// The teams owning the release's services.
    pub teams: BTreeSet<TeamName>,
    /// The teams the author is a member of.
    pub author_teams: BTreeSet<TeamName>,
    /// Whether its lifecycle reaches a prod-tier environment.
    pub reaches_prod: bool,
    /// The labels of the release's services, each once (`pci`, `security`).
    pub labels: BTreeSet<String>,
}

/// A change request, as decisions see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRequestFacts {
    pub id: i64,
    pub requested_by: UserName,
    pub release: ReleaseFacts,
    pub environment: EnvironmentName,
    pub tier: Tier,
    /// `standard`, `normal` or `emergency`; empty for a change not yet created.
    pub change_type: String,
}

/// What a request is about. Its type must be the one the action names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    System,
    Team(TeamName),
    Service { name: String, owner: TeamName, criticality: String, labels: BTreeSet<String> },
    Environment { name: EnvironmentName, tier: Tier },
    Lifecycle { name: String, reaches_prod: bool },
    Release(ReleaseFacts),
    ChangeRequest(ChangeRequestFacts),
}

impl Resource {
    pub fn resource_type(&self) -> ResourceType {
        match self {
            Resource::System => ResourceType::System,
            Resource::Team(_) => ResourceType::Team,
            Resource::Service { .. } => ResourceType::Service,
            Resource::Environment { .. } => ResourceType::Environment,
            Resource::Lifecycle { .. } => ResourceType::Lifecycle,
            Resource::Release(_) => ResourceType::Release,
            Resource::ChangeRequest(_) => ResourceType::ChangeRequest,
        }
    }

    /// The environment the request is about, which selects the just-in-time grants that count.
    pub fn environment(&self) -> Option<&EnvironmentName> {
        match self {
            Resource::Environment { name, .. } => Some(name),
            Resource::ChangeRequest(change) => Some(&change.environment),
            _ => None,
        }
    }
}

/// The context of a request, beyond its time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// Why (mandatory for overrides).
    pub reason: Option<String>,
    /// The release a deployment is about.
    pub release: Option<ReleaseFacts>,
    /// The user a grant, a token or a user edit is for.
    pub subject: Option<UserName>,
    /// The role a grant elevates to.
    pub role: Option<Role>,
    /// The tier an environment edit would give it.
    pub new_tier: Option<Tier>,
    /// For an approval: whether someone outside the author's team approved already.
    pub outside_team_approved: Option<bool>,
    /// For an approval: whether this one completes the approvals needed.
    pub completes_approvals: Option<bool>,
}

/// One request for a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub principal: PrincipalFacts,
    pub action: Action,
    pub resource: Resource,
    pub context: Context,
    /// When the request is made: judges grants and fills `context.time`.
    pub at: Timestamp,
}
