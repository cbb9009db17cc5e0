//! Lifecycles: ordered promotion paths through environments (dev → staging → prod).

use crate::name::{EnvironmentName, LifecycleName};
use crate::team::parse_unique_names;
use crate::violation::{Problem, Violations};

/// An ordered promotion path. A release reaches an environment only after it succeeded in the
/// one before it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Lifecycle {
    name: LifecycleName,
    // Invariant: not empty, no environment twice.
    environments: Vec<EnvironmentName>,
}

/// Where an environment stands in a lifecycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage<'a> {
    /// The first environment: nothing comes before it.
    First,
    /// Comes after this environment.
    After(&'a EnvironmentName),
    /// The lifecycle does not contain the environment.
    NotInLifecycle,
}

impl Lifecycle {
    /// Builds a lifecycle from an ordered list of environments.
    pub fn new(name: LifecycleName, environments: Vec<EnvironmentName>) -> Result<Lifecycle, Violations> {
        let mut violations = Violations::new();
        if environments.is_empty() {
            violations.push("environments", Problem::Required);
        }
        for (index, environment) in environments.iter().enumerate() {
            if environments[..index].contains(environment) {
                violations
                    .push(format!("environments[{index}]"), Problem::Duplicate { value: environment.to_string() });
            }
        }
        violations.into_result(Lifecycle { name, environments })
    }

    pub fn name(&self) -> &LifecycleName {
        &self.name
    }

    pub fn environments(&self) -> &[EnvironmentName] {
        &self.environments
    }

    /// Where `environment` stands in this lifecycle.
    pub fn stage_of(&self, environment: &EnvironmentName) -> Stage<'_> {
        match self.environments.iter().position(|e| e == environment) {
            Some(0) => Stage::First,
            Some(index) => Stage::After(&self.environments[index - 1]),
            None => Stage::NotInLifecycle,
        }
    }

    /// Whether `environment` is the last stop of the path.
    pub fn is_last(&self, environment: &EnvironmentName) -> bool {
        self.environments.last() == Some(environment)
    }
}

/// A lifecycle as typed, before validation.
#[derive(Debug, Clone, Default)]
pub struct LifecycleInput {
    pub name: String,
    pub environments: Vec<String>,
}

impl LifecycleInput {
    /// Validates every field. References to environments are checked by the caller.
    pub fn parse(self) -> Result<Lifecycle, Violations> {
        let mut violations = Violations::new();
        let name = violations.check("name", LifecycleName::parse(&self.name));
        // Parsed for its violations (invalid names, duplicates); the order comes from the input.
        parse_unique_names(&mut violations, "environments", &self.environments, EnvironmentName::parse);
        if self.environments.is_empty() {
            violations.push("environments", Problem::Required);
        }
        match name {
            Some(name) if violations.is_empty() => {
                let environments = self
                    .environments
                    .iter()
                    .map(|value| EnvironmentName::parse(value).expect("validated above"))
                    .collect();
                Lifecycle::new(name, environments)
            }
            _ => Err(violations),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lifecycle(environments: &[&str]) -> Lifecycle {
        LifecycleInput {
            name: "default".to_owned(),
            environments: environments.iter().map(|e| e.to_string()).collect(),
        }
        .parse()
        .expect("valid lifecycle")
    }

    #[test]
    fn stages_follow_the_order_of_the_path() {
        let path = lifecycle(&["dev", "staging", "prod"]);
        let env = |name: &str| EnvironmentName::parse(name).expect("name");
        assert_eq!(path.stage_of(&env("dev")), Stage::First);
        assert_eq!(path.stage_of(&env("staging")), Stage::After(&env("dev")));
        assert_eq!(path.stage_of(&env("prod")), Stage::After(&env("staging")));
        assert_eq!(path.stage_of(&env("qa")), Stage::NotInLifecycle);
        assert!(path.is_last(&env("prod")));
    }

    #[test]
    fn empty_and_repeating_paths_are_refused() {
        let empty = LifecycleInput { name: "default".to_owned(), environments: vec![] };
        assert_eq!(empty.parse().expect_err("empty").to_string(), "environments: is required");
        let repeating = LifecycleInput {
            name: "default".to_owned(),
            environments: vec!["dev".to_owned(), "prod".to_owned(), "dev".to_owned()],
        };
        assert_eq!(
            repeating.parse().expect_err("repeat").to_string(),
            "environments[2]: \"dev\" appears more than once"
        );
    }
}
