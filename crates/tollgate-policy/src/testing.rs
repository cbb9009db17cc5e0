//! Rego unit tests, as `opa test` runs them: every rule whose name starts with `test_` in every
//! given module is evaluated; it passes when it is `true`, fails when it is false or undefined,
//! and errors when its evaluation fails or runs past the time limit.
//!
//! Test rules are found by name at the start of a line (`test_name if {` or `test_name := `),
//! as `opa fmt` writes them, and confirmed as rules of the module by the engine. The built-in
//! library is loaded too, so tests may call `data.tollgate.builtin.*`. Durations are not
//! measured: this module reads no clock.

use std::collections::BTreeSet;

use serde::Serialize;

use tollgate_core::gate::PolicyModule;

use crate::bundle::Limits;
use crate::engine;
use crate::error::PolicyError;
use crate::gate::Outcome;

/// The results of a test run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestReport {
    /// One result per test rule, by module order and then by name.
    pub results: Vec<TestResult>,
    /// The number of tests that passed.
    pub passed: usize,
    /// The number of tests that failed.
    pub failed: usize,
    /// The number of tests whose evaluation failed.
    pub errored: usize,
}

/// The result of one test rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestResult {
    /// The package, such as `tollgate.gates.no_debug`.
    pub package: String,
    /// The rule's name, such as `test_debug_endpoint_is_refused`.
    pub name: String,
    /// Pass, fail, or why it could not be evaluated.
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl TestReport {
    /// Whether every test passed (and there was at least one).
    pub fn all_passed(&self) -> bool {
        !self.results.is_empty() && self.failed == 0 && self.errored == 0
    }
}

/// Runs every `test_*` rule of `modules`. Fails, like [`crate::Bundle::new`], when a module
/// does not parse or compile; a failing test is a result, not an error.
pub fn run_tests(modules: Vec<PolicyModule>, limits: &Limits) -> Result<TestReport, Vec<PolicyError>> {
    let mut engine = engine::new_engine();
    let (packages, mut errors) = engine::add_modules(&mut engine, &modules);
    if errors.is_empty() {
        if let Err(error) = engine::compile(&mut engine) {
            errors.push(error);
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    engine::set_time_limit(&mut engine, limits.max_gate_duration);
    let mut report = TestReport { results: Vec::new(), passed: 0, failed: 0, errored: 0 };
    for (module, package) in modules.iter().zip(packages) {
        let package = package.expect("every module parsed");
        for name in test_names(&module.source) {
            if !matches!(engine.has_declared_rule_rooted_at(&module.path, &name), Ok(true)) {
                continue;
            }
            let outcome = match engine.eval_rule(format!("{package}.{name}")) {
                Ok(regorus::Value::Bool(true)) => Outcome::Pass,
                Ok(_) => Outcome::Fail,
                Err(error) => Outcome::Error { reason: PolicyError::from_engine(&module.path, &error).to_string() },
            };
            match outcome {
                Outcome::Pass => report.passed += 1,
                Outcome::Fail => report.failed += 1,
                Outcome::Error { .. } => report.errored += 1,
            }
            report.results.push(TestResult { package: package["data.".len()..].to_owned(), name, outcome });
        }
    }
    Ok(report)
}

/// The distinct names of rules named `test_*` at the start of a line, sorted.
fn test_names(source: &str) -> BTreeSet<String> {
    source
        .lines()
        .filter(|line| line.starts_with("test_"))
        .map(|line| line.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect())
        .collect()
}
