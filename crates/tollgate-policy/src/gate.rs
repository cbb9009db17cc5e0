//! What judging a gate gives: its result.
//!
//! What a gate is (its [`GateSpec`], with its [`GateSource`] and [`Enforcement`]) and a user's
//! Rego module ([`PolicyModule`]) are core's types, shared with the configuration and the
//! service. Gate results are a stored format: they go into decision records and audit entries,
//! and their JSON is pinned by snapshot tests. This module holds no evaluation.
//!
//! [`GateSpec`]: tollgate_core::gate::GateSpec
//! [`GateSource`]: tollgate_core::gate::GateSource
//! [`PolicyModule`]: tollgate_core::gate::PolicyModule

use serde::{Deserialize, Serialize};
use tollgate_core::gate::{Enforcement, GateName};

/// The judgement of one gate on one input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateResult {
    /// The gate's name.
    pub gate: GateName,
    /// The gate's enforcement, copied from its definition so a result reads on its own.
    pub enforcement: Enforcement,
    /// Pass, fail, or why it could not be judged.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Every violation the gate found; empty unless the outcome is a failure.
    pub violations: Vec<GateViolation>,
    /// What the gate says about how it judged, such as why it passed without judging (the
    /// `performance` gate without a baseline): its optional `notes` rule, a set or array of
    /// strings. Left out of the JSON when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Whether a gate passed.
///
/// Serialized beside the result's other fields: `"outcome": "pass"`, `"outcome": "fail"` or
/// `"outcome": "error", "reason": "..."`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// No violations.
    Pass,
    /// At least one violation.
    Fail,
    /// The gate could not be judged: its rule failed, ran past a limit, or returned something
    /// that is not a set of violations. A blocking gate that errors blocks.
    Error {
        /// What went wrong, in one line.
        reason: String,
    },
}

/// One thing a gate objects to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateViolation {
    /// What is wrong, for people.
    pub message: String,
    /// The data the gate judged, such as the counts or the offending ids; `null` when the gate
    /// gave none.
    pub data: serde_json::Value,
}

impl GateResult {
    /// Whether this result should stop a release: a blocking gate that failed or errored.
    pub fn blocks(&self) -> bool {
        self.enforcement == Enforcement::Block && self.outcome != Outcome::Pass
    }
}
