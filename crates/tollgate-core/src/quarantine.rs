//! Quarantine: an environment that takes no further deployment until an authorized user lifts
//! it with a reason.
//!
//! A failed deployment quarantines its environment when its plans ask for it (by default, when a
//! rollback was needed and did not succeed, so nobody vouches for what runs there). This is the
//! minimal state the environments' full state model builds on; it only refuses new deployments.
//!
//! This module holds the record; storing it and judging deployments against it happen elsewhere.

use std::fmt;

use serde::Serialize;

use crate::deployment::DeploymentId;
use crate::name::EnvironmentName;
use crate::Timestamp;

/// An environment in quarantine. Stored, and written into the audit log when it starts and
/// when it is lifted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quarantine {
    pub environment: EnvironmentName,
    /// The deployment whose failure quarantined the environment.
    pub deployment: Option<DeploymentId>,
    /// Why, in a sentence.
    pub reason: String,
    pub since: Timestamp,
}

impl fmt::Display for Quarantine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is quarantined since {}", self.environment, self.since)?;
        if let Some(deployment) = self.deployment {
            write!(f, " after deployment {deployment}")?;
        }
        write!(f, ": {}; an authorized user lifts it with `tollgate quarantine lift`", self.reason)
    }
}
