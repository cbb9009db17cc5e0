//! Environments: the places releases are deployed to, from dev to prod.

use crate::name::{EnvironmentName, RegionName};
use crate::violation::Violations;

/// A place releases are deployed to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Environment {
    pub name: EnvironmentName,
    pub tier: Tier,
    pub region: Option<RegionName>,
}

/// The kind of environment, which decides how strictly it is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Dev,
    Test,
    Uat,
    Staging,
    Prod,
}

crate::keyword_enum!(Tier { Dev => "dev", Test => "test", Uat => "uat", Staging => "staging", Prod => "prod" });

/// An environment as typed, before validation.
#[derive(Debug, Clone, Default)]
pub struct EnvironmentInput {
    pub name: String,
    pub tier: String,
    pub region: Option<String>,
}

impl EnvironmentInput {
    /// Validates every field.
    pub fn parse(self) -> Result<Environment, Violations> {
        let mut violations = Violations::new();
        let name = violations.check("name", EnvironmentName::parse(&self.name));
        let tier = violations.check("tier", self.tier.parse());
        let region = match &self.region {
            Some(region) => violations.check("region", RegionName::parse(region).map(Some)),
            None => Some(None),
        };
        match (name, tier, region) {
            (Some(name), Some(tier), Some(region)) => Ok(Environment { name, tier, region }),
            _ => Err(violations),
        }
    }
}
