//! Teams: the owners of services and the unit that people belong to.

use std::collections::BTreeSet;

use crate::artifact::NamePattern;
use crate::name::{check_text, TeamName, UserName};
use crate::violation::Violations;

/// The longest display name accepted.
pub const MAX_DISPLAY_NAME_LEN: usize = 200;

/// A team, known by its name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Team {
    pub name: TeamName,
    pub display_name: String,
    /// Users who belong to the team. Every one must exist.
    pub members: BTreeSet<UserName>,
    /// The naming convention its artifacts must follow, if any.
    pub artifact_pattern: Option<NamePattern>,
}

/// A team as typed by a user, before validation.
#[derive(Debug, Clone, Default)]
pub struct TeamInput {
    pub name: String,
    pub display_name: Option<String>,
    pub members: Vec<String>,
    pub artifact_pattern: Option<String>,
}

impl TeamInput {
    /// Validates every field and reports every problem. The display name defaults to the name.
    /// References to users are checked by the caller, which knows which users exist.
    pub fn parse(self) -> Result<Team, Violations> {
        let mut violations = Violations::new();
        let name = violations.check("name", TeamName::parse(&self.name));
        let display_name = self.display_name.unwrap_or_else(|| self.name.clone());
        violations.check("display_name", check_text(&display_name, MAX_DISPLAY_NAME_LEN, true));
        let members = parse_unique_names(&mut violations, "members", &self.members, UserName::parse);
        let artifact_pattern = match &self.artifact_pattern {
            Some(pattern) => violations.check("artifact_pattern", NamePattern::parse(pattern).map(Some)),
            None => Some(None),
        };
        match (name, artifact_pattern) {
            (Some(name), Some(artifact_pattern)) if violations.is_empty() => {
                Ok(Team { name, display_name, members, artifact_pattern })
            }
            _ => Err(violations),
        }
    }
}

/// Parses a list of names into a set, reporting invalid and repeated entries by index.
pub(crate) fn parse_unique_names<T: Ord>(
    violations: &mut Violations,
    field: &str,
    values: &[String],
    parse: impl Fn(&str) -> Result<T, crate::Problem>,
) -> BTreeSet<T> {
    let mut names = BTreeSet::new();
    for (index, value) in values.iter().enumerate() {
        let entry_field = format!("{field}[{index}]");
        if let Some(name) = violations.check(&entry_field, parse(value)) {
            if !names.insert(name) {
                violations.push(entry_field, crate::Problem::Duplicate { value: value.clone() });
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_of_a_team_is_reported() {
        let input = TeamInput {
            name: "Payments".to_owned(),
            display_name: Some(String::new()),
            members: vec!["ana".to_owned(), "ana".to_owned(), "B O".to_owned()],
            artifact_pattern: Some("(".to_owned()),
        };
        let violations = input.parse().expect_err("invalid");
        let fields: Vec<&str> = violations.0.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["name", "display_name", "members[1]", "members[2]", "artifact_pattern"]);
    }

    #[test]
    fn display_name_defaults_to_the_name() {
        let team = TeamInput { name: "payments".to_owned(), ..TeamInput::default() }.parse().expect("valid");
        assert_eq!(team.display_name, "payments");
    }
}
