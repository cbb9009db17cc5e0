//! Quality gates: Rego policies evaluated with regorus over a release's evidence.
//!
//! A [`Bundle`] is a list of gates (core's [`GateSpec`]s: built-in gates with parameters, or
//! gates defined by user Rego modules, core's [`PolicyModule`]s) compiled once by [`Bundle::new`], which reports every problem with its location. A
//! bundle then evaluates any number of input documents ([`Bundle::evaluate`]), giving one
//! [`GateResult`] per gate: pass, fail with every [`GateViolation`], or an error confined to
//! that gate. [`Bundle::digest`] identifies the bundle (its gates, its modules and the built-in
//! library) for decision records. [`run_tests`] runs a set of modules' Rego unit tests.
//!
//! # The gate protocol
//!
//! A gate is a Rego rule `violations`: a set (or array) of objects `{"msg": string, "data":
//! any}`; empty means pass. Its package may also define `notes`, a set (or array) of strings
//! saying how it judged (such as why it passed without judging), copied into
//! [`GateResult::notes`]. A user gate is a module of its own whose package (by convention
//! `tollgate.gates.<gate name>`; any dotted path of identifiers outside `tollgate.builtin`)
//! defines `violations`; its gate spec names the module by path. Built-in gates are
//! modules of this crate, `package tollgate.builtin.<name>`, listed by [`builtin_gates`]; they
//! read their parameters, checked and completed with defaults when the bundle is built, from
//! `input.params`. Every gate sees the input document as the service built it (see
//! `docs/policy.md`, "Gate input"), plus `input.licenses`, the normalized view of every SBOM
//! license string ([`license::normalize`]) when there is SBOM evidence. Some built-ins also get
//! a view of their own computed in Rust (`critical_files`, `license_verdicts`), where Rego
//! would redo the same work for every element.
//!
//! # Purity and bounds
//!
//! This crate reads no files, environment or clock of its own and draws no randomness. regorus
//! is built with features `std` (for its execution timer), `arc` (so bundles are `Send` and
//! `Sync`) and `glob` (for `glob.match`); without `time`, `uuid`, `http`, `opa-runtime`,
//! `regex`, `jsonschema` or its bytecode VM, so no built-in function can read the clock or the
//! network, and `rand.intn` is replaced by one that fails (see the `engine` module). Each gate
//! runs under a wall-clock limit ([`Limits::max_gate_duration`]), the one bound the interpreter
//! offers: it is a safety net, never part of a decision that completes in time, but it does
//! mean a gate that runs close to the limit could pass on a fast machine and error on a slow
//! one. Inputs are bounded in size and depth before evaluation.
//!
//! [`GateSpec`]: tollgate_core::gate::GateSpec
//! [`PolicyModule`]: tollgate_core::gate::PolicyModule
#![forbid(unsafe_code)]

mod builtin;
mod bundle;
mod change;
mod coverage;
mod engine;
mod error;
mod gate;
mod input;
pub mod license;
mod testing;

pub use crate::builtin::{builtin_gates, Availability, BuiltinInfo, ParamInfo, LIBRARY_VERSION};
pub use crate::bundle::{library_digest, Bundle, Limits};
pub use crate::change::{approval_policy_version, approval_route};
pub use crate::engine::MAX_RANGE_ELEMENTS;
pub use crate::error::{InputError, PolicyError};
pub use crate::gate::{GateResult, GateViolation, Outcome};
pub use crate::testing::{run_tests, TestReport, TestResult};
