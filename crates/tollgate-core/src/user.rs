//! Users and their roles.

use std::collections::BTreeSet;

use crate::name::{check_text, UserName};
use crate::team::MAX_DISPLAY_NAME_LEN;
use crate::violation::{Problem, Violations};

/// A person or a machine identity that holds API tokens.
///
/// A stored format: audit entries before the roles carried `role` (one of viewer, member,
/// admin, auditor); they now carry `roles`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct User {
    pub name: UserName,
    pub display_name: String,
    /// Never empty.
    pub roles: BTreeSet<Role>,
}

impl User {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// A built-in role. What each may do is a Cedar policy (`tollgate-authz`); users may add more.
///
/// Deserializes too, for stored settings that name roles (the single sign-on role mapping).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything; changes nothing. For dashboards.
    Viewer,
    /// Reads everything, verifies and exports the whole audit log; changes nothing.
    Auditor,
    /// Pushes artifacts of their teams, edits their teams and services, creates and moves
    /// releases, uploads evidence.
    Developer,
    /// Plans, freezes and moves releases; may override a gate with a reason.
    ReleaseManager,
    /// Approves changes (never their own).
    Approver,
    /// Records deployments; the only role that deploys to prod.
    Deployer,
    /// Everything no segregation-of-duties rule forbids: users, tokens, keys, policies, tiers.
    Admin,
}

crate::keyword_enum!(Role {
    Viewer => "viewer", Auditor => "auditor", Developer => "developer", ReleaseManager => "release_manager",
    Approver => "approver", Deployer => "deployer", Admin => "admin",
});

/// The role name of earlier versions that stands for developer and deployer.
pub const MEMBER: &str = "member";

/// The roles a role name stands for: itself, or developer and deployer for `member`.
pub fn parse_roles(value: &str) -> Result<BTreeSet<Role>, Problem> {
    if value == MEMBER {
        return Ok(member_roles());
    }
    let role: Role = value.parse().map_err(|_| Problem::NotOneOf { value: value.to_owned(), accepted: ROLE_NAMES })?;
    Ok(BTreeSet::from([role]))
}

/// Every role name accepted, `member` included.
pub const ROLE_NAMES: &[&str] =
    &["viewer", "auditor", "developer", "release_manager", "approver", "deployer", "admin", "member"];

/// The most role names a user input may give (there are eight, repeats allowed).
pub const MAX_ROLE_NAMES: usize = 16;

/// What `member` used to allow: developer and deployer.
pub fn member_roles() -> BTreeSet<Role> {
    BTreeSet::from([Role::Developer, Role::Deployer])
}

/// A user as typed, before validation.
#[derive(Debug, Clone, Default)]
pub struct UserInput {
    pub name: String,
    pub display_name: Option<String>,
    /// Role names; `member` stands for developer and deployer. Empty means `member`.
    pub roles: Vec<String>,
}

impl UserInput {
    /// Validates every field. Without roles the user is a member (developer and deployer).
    pub fn parse(self) -> Result<User, Violations> {
        let mut violations = Violations::new();
        let name = violations.check("name", UserName::parse(&self.name));
        let display_name = self.display_name.unwrap_or_else(|| self.name.clone());
        violations.check("display_name", check_text(&display_name, MAX_DISPLAY_NAME_LEN, true));
        let mut roles = BTreeSet::new();
        if self.roles.len() > MAX_ROLE_NAMES {
            let reason = format!("at most {MAX_ROLE_NAMES} role names");
            violations.push("roles", Problem::Invalid { reason });
        }
        for (index, role) in self.roles.iter().enumerate() {
            if let Some(parsed) = violations.check(&format!("roles[{index}]"), parse_roles(role)) {
                roles.extend(parsed);
            }
        }
        if self.roles.is_empty() {
            roles = member_roles();
        }
        match name {
            Some(name) if violations.is_empty() => Ok(User { name, display_name, roles }),
            _ => Err(violations),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(roles: &[&str], expected: Result<&[Role], &str>) {
        let input = UserInput {
            name: "ana".into(),
            display_name: None,
            roles: roles.iter().map(|role| (*role).to_owned()).collect(),
        };
        let parsed = input.parse().map(|user| user.roles.into_iter().collect::<Vec<_>>()).map_err(|v| v.to_string());
        assert_eq!(parsed, expected.map(<[Role]>::to_vec).map_err(str::to_owned), "{roles:?}");
    }

    #[test]
    fn member_stands_for_developer_and_deployer() {
        check(&["member"], Ok(&[Role::Developer, Role::Deployer]));
        check(&[], Ok(&[Role::Developer, Role::Deployer]));
        check(&["admin", "member"], Ok(&[Role::Developer, Role::Deployer, Role::Admin]));
        check(&["release_manager"], Ok(&[Role::ReleaseManager]));
        check(&["root"], Err("roles[0]: \"root\" is not one of viewer, auditor, developer, release_manager, approver, deployer, admin, member"));
    }
}
