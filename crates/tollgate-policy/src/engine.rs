//! The Rego engine as this crate sets it up: Rego v1, strict built-in errors, prints gathered
//! (never written anywhere), the built-in library loaded, and the engine's non-deterministic or
//! unbounded built-in functions replaced.
//!
//! regorus is built without its `time`, `uuid`, `http`, `opa-runtime` and `rvm` features, so
//! `time.now_ns`, `uuid.*`, `http.send` and `opa.runtime` do not exist. Its `std` feature (needed
//! for the execution timer) brings `rand.intn`, which is replaced here by a function that fails.
//! `numbers.range` and `numbers.range_step` allocate their whole result before the execution
//! timer can stop them, so they are replaced by versions that refuse more than
//! [`MAX_RANGE_ELEMENTS`] elements.

use std::num::NonZeroU32;
use std::time::Duration;

use anyhow::bail;
use regorus::{Engine, Value};
use tollgate_core::gate::PolicyModule;

use crate::builtin;
use crate::error::PolicyError;

/// The most elements `numbers.range` and `numbers.range_step` return.
pub const MAX_RANGE_ELEMENTS: u64 = 1_000_000;

/// How many units of work the interpreter does between two looks at its timer.
const TIMER_CHECK_INTERVAL: u32 = 64;

/// A fresh engine with the library loaded (not yet compiled).
pub(crate) fn new_engine() -> Engine {
    let mut engine = Engine::new();
    engine.set_strict_builtin_errors(true);
    engine.set_gather_prints(true);
    for (path, source) in builtin::LIBRARY {
        engine.add_policy((*path).to_owned(), (*source).to_owned()).expect("the built-in library parses");
    }
    engine
        .add_extension(
            "rand.intn".to_owned(),
            2,
            Box::new(|_: Vec<Value>| -> anyhow::Result<Value> {
                bail!("rand.intn is not available: gates must be deterministic")
            }),
        )
        .expect("rand.intn is replaced once");
    engine
        .add_extension("numbers.range".to_owned(), 2, Box::new(|params: Vec<Value>| range(&params, "numbers.range")))
        .expect("numbers.range is replaced once");
    engine
        .add_extension(
            "numbers.range_step".to_owned(),
            3,
            Box::new(|params: Vec<Value>| range(&params, "numbers.range_step")),
        )
        .expect("numbers.range_step is replaced once");
    engine
}

/// Bounds each rule evaluation of `engine` to `limit` of wall-clock time.
pub(crate) fn set_time_limit(engine: &mut Engine, limit: Duration) {
    engine.set_execution_timer_config(regorus::utils::limits::ExecutionTimerConfig {
        limit,
        check_interval: NonZeroU32::new(TIMER_CHECK_INTERVAL).expect("the interval is not zero"),
    });
}

/// Adds user modules to `engine`; returns each module's package (such as `data.team.gate`) in
/// the modules' order, `None` for a module that did not parse, and every error.
pub(crate) fn add_modules(engine: &mut Engine, modules: &[PolicyModule]) -> (Vec<Option<String>>, Vec<PolicyError>) {
    let mut packages = Vec::with_capacity(modules.len());
    let mut errors = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for module in modules {
        if module.path.is_empty() || module.path.starts_with("tollgate/builtin/") {
            errors.push(PolicyError::module(
                &module.path,
                "a module path must be non-empty and outside tollgate/builtin/",
            ));
            packages.push(None);
            continue;
        }
        if !seen.insert(module.path.as_str()) {
            errors.push(PolicyError::module(&module.path, "two modules have this path"));
            packages.push(None);
            continue;
        }
        match engine.add_policy(module.path.clone(), module.source.clone()) {
            Ok(package)
                if package == builtin::RESERVED_PACKAGE
                    || package.starts_with(&format!("{}.", builtin::RESERVED_PACKAGE)) =>
            {
                errors.push(PolicyError {
                    path: module.path.clone(),
                    line: Some(1),
                    column: None,
                    message: format!("package {} is reserved for the built-in library", &package["data.".len()..]),
                });
                packages.push(None);
            }
            Ok(package) => packages.push(Some(package)),
            Err(error) => {
                errors.push(PolicyError::from_engine(&module.path, &error));
                packages.push(None);
            }
        }
    }
    (packages, errors)
}

/// Compiles everything loaded, so that compile errors (such as recursion or an unknown
/// function) surface now rather than at the first evaluation.
pub(crate) fn compile(engine: &mut Engine) -> Result<(), PolicyError> {
    engine
        .eval_rule(builtin::META_RULE.to_owned())
        .map(drop)
        .map_err(|error| PolicyError::from_engine("bundle", &error))
}

/// `numbers.range(a, b)` and `numbers.range_step(a, b, step)`, refusing large results.
fn range(params: &[Value], name: &str) -> anyhow::Result<Value> {
    let integer = |index: usize| -> anyhow::Result<i64> {
        match params.get(index).map(Value::as_i64) {
            Some(Ok(value)) => Ok(value),
            _ => bail!("{name}: operand {} must be an integer", index + 1),
        }
    };
    let (start, end) = (integer(0)?, integer(1)?);
    let step = if params.len() == 3 { integer(2)? } else { 1 };
    if step <= 0 {
        bail!("{name}: step must be a positive integer");
    }
    let span = start.abs_diff(end);
    let n_elements = span / step.unsigned_abs() + 1;
    if n_elements > MAX_RANGE_ELEMENTS {
        bail!("{name}: {n_elements} elements is more than the limit of {MAX_RANGE_ELEMENTS}");
    }
    let direction: i64 = if end >= start { 1 } else { -1 };
    let values: Vec<Value> = (0..n_elements)
        .map(|index| Value::from(start + direction * step * i64::try_from(index).expect("at most a million elements")))
        .collect();
    Ok(Value::from(values))
}
