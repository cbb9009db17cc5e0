//! What a gate is (its definition) and what judging one gives (its result).
//!
//! These types are stored formats: gate definitions are part of a bundle's digest, and gate
//! results go into decision records and audit entries. Their JSON is pinned by snapshot tests.
//! This module holds no evaluation.

use serde::{Deserialize, Serialize};

/// One user Rego file: its path (a name, used in errors and by gate definitions) and its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Module {
    /// Where the module came from, such as `gates/no_debug.rego`; unique within a bundle.
    pub path: String,
    /// The Rego source (Rego v1 syntax).
    pub source: String,
}

/// What a failing gate does to a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Enforcement {
    /// A failing (or erroring) gate stops the release.
    Block,
    /// A failing gate is reported and the release may go on.
    Warn,
}

/// Where a gate's rule comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GateSource {
    /// A gate of the built-in library (see [`crate::builtin_gates`]) with its parameters, a
    /// JSON object; parameters left out take their documented defaults.
    Builtin {
        /// The built-in's name, such as `coverage`.
        name: String,
        /// The parameters, such as `{"min_line_rate": 0.8}`.
        params: serde_json::Value,
    },
    /// A user module that defines the gate's `violations` rule in its package.
    Rego {
        /// The [`Module::path`] of that module.
        path: String,
    },
}

/// One gate of a bundle: a name, a rule and what a failure does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateDefinition {
    /// The gate's name: lower-case letters, digits and `_`, starting with a letter.
    pub name: String,
    /// Where its rule comes from.
    pub source: GateSource,
    /// What a failure does.
    pub enforcement: Enforcement,
}

/// The judgement of one gate on one input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateResult {
    /// The gate's name.
    pub gate: String,
    /// The gate's enforcement, copied from its definition so a result reads on its own.
    pub enforcement: Enforcement,
    /// Pass, fail, or why it could not be judged.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Every violation the gate found; empty unless the outcome is a failure.
    pub violations: Vec<GateViolation>,
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
