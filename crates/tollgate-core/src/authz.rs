//! Records of authorization: just-in-time grants, versions of the user Cedar policies, and
//! what the audit log keeps of a decision. The decisions themselves are `tollgate-authz`'s.

use serde::Serialize;

use crate::environment::Tier;
use crate::name::{check_text, EnvironmentName, UserName};
use crate::user::Role;
use crate::violation::{Problem, Violations};
use crate::Timestamp;

/// The longest reason accepted for a grant or an override.
pub const MAX_REASON_LEN: usize = 1000;
/// The longest a just-in-time grant may last: one day.
pub const MAX_GRANT_SECONDS: i64 = 24 * 3600;

/// A just-in-time grant's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct GrantId(pub i64);

impl std::fmt::Display for GrantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A time-bound elevation: `user` holds `role` in `environment` from `not_before` until
/// `expires_at` (exclusive), unless revoked earlier. Expiry is judged against the time of each
/// request; nothing runs when it passes. A stored format (audit entries `jit_grant.*`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JitGrant {
    pub id: GrantId,
    pub user: UserName,
    pub role: Role,
    pub environment: EnvironmentName,
    pub reason: String,
    pub granted_by: UserName,
    pub not_before: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub revoked_by: Option<UserName>,
}

impl JitGrant {
    /// Whether the grant counts at `at`.
    pub fn is_active(&self, at: Timestamp) -> bool {
        self.not_before <= at && at < self.expires_at && self.revoked_at.is_none_or(|revoked| revoked > at)
    }
}

/// A grant as asked for, before validation.
#[derive(Debug, Clone, Default)]
pub struct GrantInput {
    pub user: String,
    pub role: String,
    pub environment: String,
    /// How long, in seconds.
    pub seconds: i64,
    pub reason: String,
}

/// A validated grant, before it has an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGrant {
    pub user: UserName,
    pub role: Role,
    pub environment: EnvironmentName,
    pub reason: String,
    pub seconds: i64,
}

impl GrantInput {
    /// Validates every field: a known role (not `member`, not `admin`: an admin is made, not
    /// granted), a duration from one minute to a day, a reason that is not blank.
    pub fn parse(self) -> Result<NewGrant, Violations> {
        let mut violations = Violations::new();
        let user = violations.check("user", UserName::parse(&self.user));
        let role = violations.check("role", self.role.parse::<Role>()).and_then(|role| {
            if role == Role::Admin {
                violations.push("role", Problem::Invalid { reason: "admin cannot be granted just in time".into() });
                None
            } else {
                Some(role)
            }
        });
        let environment = violations.check("environment", EnvironmentName::parse(&self.environment));
        if !(60..=MAX_GRANT_SECONDS).contains(&self.seconds) {
            violations.push(
                "duration",
                Problem::Invalid { reason: format!("must be from 1 minute to {} hours", MAX_GRANT_SECONDS / 3600) },
            );
        }
        let reason = check_reason(&mut violations, &self.reason);
        match (user, role, environment, reason) {
            (Some(user), Some(role), Some(environment), Some(reason)) if violations.is_empty() => {
                Ok(NewGrant { user, role, environment, reason, seconds: self.seconds })
            }
            _ => Err(violations),
        }
    }
}

/// A mandatory reason: trimmed, not empty, not too long.
pub fn check_reason(violations: &mut Violations, reason: &str) -> Option<String> {
    let trimmed = reason.trim();
    if trimmed.is_empty() {
        violations.push("reason", Problem::Invalid { reason: "a reason is required".into() });
        return None;
    }
    violations.check("reason", check_text(trimmed, MAX_REASON_LEN, false)).map(|()| trimmed.to_owned())
}

/// One file of user Cedar policies, as applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PolicyFileRecord {
    pub name: String,
    pub text: String,
}

/// A version of the user policies: the whole set in force from `applied_at` on. A stored
/// format (audit entry `authz_policy.apply` carries it without the texts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyVersion {
    pub sequence: i64,
    /// SHA-256 (hex) of the canonical JSON of `files`.
    pub sha256: String,
    pub files: Vec<PolicyFileRecord>,
    pub applied_by: UserName,
    pub applied_at: Timestamp,
}

/// What the audit log keeps of a policy version: no texts, their digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyVersionSummary {
    pub sequence: i64,
    pub sha256: String,
    pub files: Vec<String>,
    pub policies: Vec<String>,
}

/// What the audit log keeps of a decision on a sensitive action. A stored format
/// (`authz_decision.allow` and `authz_decision.deny`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecisionRecord {
    pub action: String,
    /// `Environment "prod"`, `Release 1.4.0`, `the system`.
    pub resource: String,
    pub allowed: bool,
    /// The ids of the policies that decided.
    pub policies: Vec<String>,
    /// The just-in-time grants that counted.
    pub grants: Vec<i64>,
    pub reason: String,
    /// The environment's tier, when the resource is an environment.
    pub tier: Option<Tier>,
}
