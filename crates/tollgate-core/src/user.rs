//! Users and their roles.

use crate::name::{check_text, UserName};
use crate::team::MAX_DISPLAY_NAME_LEN;
use crate::violation::Violations;

/// A person or a machine identity that holds API tokens.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct User {
    pub name: UserName,
    pub display_name: String,
    pub role: Role,
}

/// What a user may do. Finer authorization (Cedar policies) builds on top of this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything; changes nothing. For dashboards.
    Viewer,
    /// Reads everything and changes releases, deployments and configuration.
    Member,
    /// Everything a member does, plus managing users and other people's tokens.
    Admin,
    /// Reads everything, verifies and exports the whole audit log; changes nothing.
    Auditor,
}

crate::keyword_enum!(Role { Viewer => "viewer", Member => "member", Admin => "admin", Auditor => "auditor" });

impl Role {
    /// Whether this role may change records (anything but reading).
    pub fn can_write(self) -> bool {
        matches!(self, Role::Member | Role::Admin)
    }
}
/// A user as typed, before validation.
#[derive(Debug, Clone, Default)]
pub struct UserInput {
    pub name: String,
    pub display_name: Option<String>,
    pub role: Option<String>,
}

impl UserInput {
    /// Validates every field. The role defaults to member.
    pub fn parse(self) -> Result<User, Violations> {
        let mut violations = Violations::new();
        let name = violations.check("name", UserName::parse(&self.name));
        let display_name = self.display_name.unwrap_or_else(|| self.name.clone());
        violations.check("display_name", check_text(&display_name, MAX_DISPLAY_NAME_LEN, true));
        let role = match self.role {
            Some(role) => violations.check("role", role.parse()),
            None => Some(Role::Member),
        };
        match (name, role) {
            (Some(name), Some(role)) if violations.is_empty() => Ok(User { name, display_name, role }),
            _ => Err(violations),
        }
    }
}
