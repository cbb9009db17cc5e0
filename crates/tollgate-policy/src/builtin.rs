//! The built-in gate library: Rego modules embedded in the crate, what each gate takes as
//! parameters, and the checking of those parameters.
//!
//! Each built-in is a module `package tollgate.builtin.<name>` that defines `violations` and
//! reads its parameters from `input.params`; [`check_params`] validates a gate spec's
//! parameters in Rust (so a typo is a located error when the bundle is built, not a silent
//! default) and fills in defaults, so the Rego never sees a missing parameter. The modules'
//! own Rego tests live in `rego/*_test.rego` and run in this crate's tests.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::PolicyError;

/// The version of the built-in library; it is part of every bundle digest together with the
/// digest of the library's sources.
pub const LIBRARY_VERSION: &str = "1";

/// What a built-in gate is and takes.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct BuiltinInfo {
    /// The name a gate spec uses, such as `coverage`.
    pub name: &'static str,
    /// What the gate checks, in one line.
    pub description: &'static str,
    /// The parameters it takes.
    pub params: &'static [ParamInfo],
    /// Whether a bundle may use it.
    pub availability: Availability,
}

/// One parameter of a built-in gate.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ParamInfo {
    /// The parameter's name.
    pub name: &'static str,
    /// What it means and which values it takes.
    pub description: &'static str,
    /// Its default, as JSON text.
    pub default: &'static str,
    #[serde(skip)]
    pub(crate) kind: ParamKind,
}

/// Whether a built-in gate can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Availability {
    /// It can be used.
    Available,
    /// It is listed so its name is taken, but a bundle refuses it.
    Unavailable {
        /// Why, such as what it waits for.
        reason: &'static str,
    },
}

/// The values a parameter accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParamKind {
    /// A number from 0 to 1.
    Rate,
    /// A number from 0 to 1, or null for "not checked".
    OptionalRate,
    /// A number of zero or more.
    NonNegative,
    /// `true` or `false`.
    Bool,
    /// One of the listed strings.
    OneOf(&'static [&'static str]),
    /// A list of strings.
    Strings,
    /// A list of strings, or null for "all".
    OptionalStrings,
    /// A list of distinct strings among the listed ones.
    SubsetOf(&'static [&'static str]),
    /// A list of `{path, min_line_rate, min_branch_rate}`.
    CriticalPaths,
}

const FINDING_LEVELS: &[&str] = &["error", "warning", "note", "none"];
const SEVERITIES: &[&str] = &["critical", "high", "medium", "low", "info", "none"];
const METRICS: &[&str] = &["mean", "p50", "p90", "p95", "p99", "max", "error_rate", "throughput"];

/// Every built-in gate, available or not.
pub fn builtin_gates() -> &'static [BuiltinInfo] {
    BUILTINS
}

const BUILTINS: &[BuiltinInfo] = &[
    BuiltinInfo {
        name: "test_pass_rate",
        description: "the share of tests that ran and passed is at least `min`, per test report",
        params: &[
            ParamInfo {
                name: "min",
                description: "the lowest pass rate, from 0 to 1",
                default: "1.0",
                kind: ParamKind::Rate,
            },
            ParamInfo {
                name: "suites",
                description: "judge only the suites with these names (null: whole reports)",
                default: "null",
                kind: ParamKind::OptionalStrings,
            },
        ],
        availability: Availability::Available,
    },
    BuiltinInfo {
        name: "coverage",
        description: "line and branch coverage overall, per report, and on critical paths",
        params: &[
            ParamInfo {
                name: "min_line_rate",
                description: "the lowest line rate of each report (null: not checked)",
                default: "0.8",
                kind: ParamKind::OptionalRate,
            },
            ParamInfo {
                name: "min_branch_rate",
                description: "the lowest branch rate of each report (null: not checked)",
                default: "null",
                kind: ParamKind::OptionalRate,
            },
            ParamInfo {
                name: "critical_paths",
                description:
                    "[{path, min_line_rate, min_branch_rate}]: a path prefix or glob judged on the files it matches",
                default: "[]",
                kind: ParamKind::CriticalPaths,
            },
        ],
        availability: Availability::Available,
    },
    BuiltinInfo {
        name: "no_sarif_errors",
        description: "no static-analysis finding at or above `level`",
        params: &[ParamInfo {
            name: "level",
            description: "error, warning, note or none",
            default: "\"error\"",
            kind: ParamKind::OneOf(FINDING_LEVELS),
        }],
        availability: Availability::Available,
    },
    BuiltinInfo {
        name: "no_vulnerabilities",
        description: "no SBOM vulnerability at or above `at_or_above`, listing the offending ids",
        params: &[
            ParamInfo {
                name: "at_or_above",
                description: "critical, high, medium, low, info or none",
                default: "\"high\"",
                kind: ParamKind::OneOf(SEVERITIES),
            },
            ParamInfo {
                name: "count_unknown",
                description: "whether a vulnerability without a rating counts as offending",
                default: "true",
                kind: ParamKind::Bool,
            },
        ],
        availability: Availability::Available,
    },
    BuiltinInfo {
        name: "licenses",
        description: "every SBOM license, normalized to SPDX, is allowed and none is denied",
        params: &[
            ParamInfo {
                name: "allow",
                description: "SPDX ids (or raw license strings) allowed; empty: all that are not denied",
                default: "[]",
                kind: ParamKind::Strings,
            },
            ParamInfo {
                name: "deny",
                description: "SPDX ids (or raw license strings) refused",
                default: "[]",
                kind: ParamKind::Strings,
            },
            ParamInfo {
                name: "allow_unlicensed",
                description: "whether components that declare no license are accepted",
                default: "false",
                kind: ParamKind::Bool,
            },
        ],
        availability: Availability::Available,
    },
    BuiltinInfo {
        name: "signed_artifacts",
        description: "every artifact of the release has a trusted signature",
        params: &[],
        availability: Availability::Available,
    },
    BuiltinInfo {
        name: "config_keys_present",
        description: "every configuration key the release needs is set in the environment",
        params: &[],
        availability: Availability::Unavailable { reason: "needs environment configuration (not yet available)" },
    },
    BuiltinInfo {
        name: "performance",
        description: "load-test latency, error rate and throughput did not regress against the previous release",
        params: &[
            ParamInfo {
                name: "max_regression_percent",
                description: "how much worse a metric may get, in percent",
                default: "10",
                kind: ParamKind::NonNegative,
            },
            ParamInfo {
                name: "metrics",
                description: "the metrics compared: mean, p50, p90, p95, p99, max, error_rate, throughput",
                default: "[\"p95\", \"error_rate\", \"throughput\"]",
                kind: ParamKind::SubsetOf(METRICS),
            },
            ParamInfo {
                name: "error_rate_tolerance",
                description: "an absolute error rate always allowed on top of the previous one",
                default: "0.001",
                kind: ParamKind::Rate,
            },
        ],
        availability: Availability::Available,
    },
];

/// The library's modules: (path, source). Paths are under `tollgate/builtin/`.
pub(crate) const LIBRARY: &[(&str, &str)] = &[
    ("tollgate/builtin/meta.rego", include_str!("../rego/meta.rego")),
    ("tollgate/builtin/test_pass_rate.rego", include_str!("../rego/test_pass_rate.rego")),
    ("tollgate/builtin/coverage.rego", include_str!("../rego/coverage.rego")),
    ("tollgate/builtin/no_sarif_errors.rego", include_str!("../rego/no_sarif_errors.rego")),
    ("tollgate/builtin/no_vulnerabilities.rego", include_str!("../rego/no_vulnerabilities.rego")),
    ("tollgate/builtin/licenses.rego", include_str!("../rego/licenses.rego")),
    ("tollgate/builtin/signed_artifacts.rego", include_str!("../rego/signed_artifacts.rego")),
    ("tollgate/builtin/performance.rego", include_str!("../rego/performance.rego")),
];

/// The rule that is evaluated once when a bundle is compiled, so compile errors surface then.
pub(crate) const META_RULE: &str = "data.tollgate.builtin.meta.version";

/// The package prefix reserved for the library; user modules may not use it.
pub(crate) const RESERVED_PACKAGE: &str = "data.tollgate.builtin";

/// Looks a built-in up by name.
pub(crate) fn find(name: &str) -> Option<&'static BuiltinInfo> {
    BUILTINS.iter().find(|info| info.name == name)
}

/// Checks the parameters of gate `gate` (a use of built-in `info`) and returns them with every
/// default filled in. Returns every problem, each naming the gate and the parameter.
pub(crate) fn check_params(gate: &str, info: &BuiltinInfo, params: &Value) -> Result<Value, Vec<PolicyError>> {
    let empty = Map::new();
    let given = match params {
        Value::Null => &empty,
        Value::Object(given) => given,
        other => {
            return Err(vec![PolicyError::gate(
                gate,
                format!("the parameters of built-in `{}` must be an object, not {}", info.name, kind_of(other)),
            )])
        }
    };
    let mut errors = Vec::new();
    for name in given.keys() {
        if !info.params.iter().any(|param| param.name == name) {
            let known: Vec<&str> = info.params.iter().map(|param| param.name).collect();
            let known = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
            errors.push(PolicyError::gate(
                gate,
                format!("unknown parameter `{name}` of built-in `{}` (it takes: {known})", info.name),
            ));
        }
    }
    let mut effective = Map::new();
    for param in info.params {
        let value = match given.get(param.name) {
            Some(value) => value.clone(),
            None => serde_json::from_str(param.default).expect("built-in defaults are valid JSON"),
        };
        match check_value(param.kind, &value) {
            Ok(value) => {
                effective.insert(param.name.to_owned(), value);
            }
            Err((suffix, expected)) => errors.push(PolicyError::gate(
                gate,
                format!("parameter `{}{suffix}` must be {expected}, not {}", param.name, shown(&value, &suffix)),
            )),
        }
    }
    if errors.is_empty() {
        Ok(Value::Object(effective))
    } else {
        Err(errors)
    }
}

/// Checks one value; on failure returns the path inside the parameter (such as `[2].path`) and
/// what was expected.
fn check_value(kind: ParamKind, value: &Value) -> Result<Value, (String, String)> {
    let fail = |expected: &str| Err((String::new(), expected.to_owned()));
    match kind {
        ParamKind::Rate => match value.as_f64() {
            Some(rate) if (0.0..=1.0).contains(&rate) => Ok(value.clone()),
            _ => fail("a number from 0 to 1"),
        },
        ParamKind::OptionalRate => match value {
            Value::Null => Ok(Value::Null),
            _ => check_value(ParamKind::Rate, value).or_else(|_| fail("a number from 0 to 1, or null")),
        },
        ParamKind::NonNegative => match value.as_f64() {
            Some(number) if number >= 0.0 => Ok(value.clone()),
            _ => fail("a number of zero or more"),
        },
        ParamKind::Bool => match value {
            Value::Bool(_) => Ok(value.clone()),
            _ => fail("true or false"),
        },
        ParamKind::OneOf(choices) => match value.as_str() {
            Some(choice) if choices.contains(&choice) => Ok(value.clone()),
            _ => fail(&format!("one of {}", choices.join(", "))),
        },
        ParamKind::Strings => match value.as_array() {
            Some(items) if items.iter().all(Value::is_string) => Ok(value.clone()),
            _ => fail("a list of strings"),
        },
        ParamKind::OptionalStrings => match value {
            Value::Null => Ok(Value::Null),
            _ => check_value(ParamKind::Strings, value).or_else(|_| fail("a list of strings, or null")),
        },
        ParamKind::SubsetOf(choices) => {
            let expected = format!("a list of distinct names among {}", choices.join(", "));
            let Some(items) = value.as_array() else { return fail(&expected) };
            let mut seen = Vec::new();
            for item in items {
                match item.as_str() {
                    Some(name) if choices.contains(&name) && !seen.contains(&name) => seen.push(name),
                    _ => return fail(&expected),
                }
            }
            Ok(value.clone())
        }
        ParamKind::CriticalPaths => check_critical_paths(value),
    }
}

/// Checks `[{path, min_line_rate, min_branch_rate}]` and fills absent rates with null.
fn check_critical_paths(value: &Value) -> Result<Value, (String, String)> {
    let Some(items) = value.as_array() else {
        return Err((String::new(), "a list of {path, min_line_rate, min_branch_rate} objects".to_owned()));
    };
    let mut checked = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let Some(object) = item.as_object() else {
            return Err((format!("[{index}]"), "an object {path, min_line_rate, min_branch_rate}".to_owned()));
        };
        if let Some(unknown) =
            object.keys().find(|key| !["path", "min_line_rate", "min_branch_rate"].contains(&key.as_str()))
        {
            return Err((
                format!("[{index}].{unknown}"),
                "absent (a critical path takes path, min_line_rate and min_branch_rate)".to_owned(),
            ));
        }
        let path = match object.get("path").and_then(Value::as_str) {
            Some(path) if !path.is_empty() => path,
            _ => return Err((format!("[{index}].path"), "a non-empty path prefix or glob".to_owned())),
        };
        crate::coverage::check_path(path).map_err(|expected| (format!("[{index}].path"), expected))?;
        let mut entry = Map::new();
        entry.insert("path".to_owned(), Value::String(path.to_owned()));
        for rate in ["min_line_rate", "min_branch_rate"] {
            let given = object.get(rate).cloned().unwrap_or(Value::Null);
            let rate_value = check_value(ParamKind::OptionalRate, &given)
                .map_err(|(_, expected)| (format!("[{index}].{rate}"), expected))?;
            entry.insert(rate.to_owned(), rate_value);
        }
        checked.push(Value::Object(entry));
    }
    Ok(Value::Array(checked))
}

/// The offending value for a message: the value at `suffix` inside `value` when the suffix
/// points inside it, else the whole value.
fn shown(value: &Value, suffix: &str) -> String {
    let pointer: String =
        suffix.split(['[', ']', '.']).filter(|part| !part.is_empty()).map(|part| format!("/{part}")).collect();
    match value.pointer(&pointer) {
        Some(inner) => inner.to_string(),
        None if suffix.is_empty() => value.to_string(),
        None => "absent".to_owned(),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_core::gate::PolicyModule;

    use crate::{run_tests, Limits, Outcome};

    const LIBRARY_TESTS: &[(&str, &str)] = &[
        ("tests/test_pass_rate_test.rego", include_str!("../rego/tests/test_pass_rate_test.rego")),
        ("tests/coverage_test.rego", include_str!("../rego/tests/coverage_test.rego")),
        ("tests/no_sarif_errors_test.rego", include_str!("../rego/tests/no_sarif_errors_test.rego")),
        ("tests/no_vulnerabilities_test.rego", include_str!("../rego/tests/no_vulnerabilities_test.rego")),
        ("tests/licenses_test.rego", include_str!("../rego/tests/licenses_test.rego")),
        ("tests/signed_artifacts_test.rego", include_str!("../rego/tests/signed_artifacts_test.rego")),
        ("tests/performance_test.rego", include_str!("../rego/tests/performance_test.rego")),
    ];

    #[test]
    fn every_rego_test_of_the_built_in_library_passes() {
        let modules = LIBRARY_TESTS
            .iter()
            .map(|(path, source)| PolicyModule { path: (*path).to_owned(), source: (*source).to_owned() })
            .collect();
        let report = run_tests(modules, &Limits::default()).unwrap_or_else(|errors| panic!("{errors:#?}"));
        let not_passed: Vec<String> = report
            .results
            .iter()
            .filter(|result| result.outcome != Outcome::Pass)
            .map(|result| format!("{}.{}: {:?}", result.package, result.name, result.outcome))
            .collect();
        assert!(not_passed.is_empty(), "{not_passed:#?}");
        assert!(report.passed >= 30, "only {} tests ran", report.passed);
    }

    #[test]
    fn every_available_built_in_has_a_module_and_a_test_file() {
        for info in builtin_gates().iter().filter(|info| info.availability == Availability::Available) {
            assert!(LIBRARY.iter().any(|(path, _)| path.ends_with(&format!("/{}.rego", info.name))), "{}", info.name);
            assert!(
                LIBRARY_TESTS.iter().any(|(path, _)| path.ends_with(&format!("/{}_test.rego", info.name))),
                "{}",
                info.name
            );
        }
    }

    #[test]
    fn parameters_are_checked_and_completed_with_defaults() {
        let info = find("coverage").expect("coverage exists");
        let params =
            serde_json::json!({"min_line_rate": 0.9, "critical_paths": [{"path": "src/pay/", "min_line_rate": 0.95}]});
        insta::assert_json_snapshot!(check_params("cov", info, &params).expect("valid"), @r#"
        {
          "min_line_rate": 0.9,
          "min_branch_rate": null,
          "critical_paths": [
            {
              "path": "src/pay/",
              "min_line_rate": 0.95,
              "min_branch_rate": null
            }
          ]
        }
        "#);
    }

    #[test]
    fn invalid_parameters_are_each_reported_naming_the_gate_and_the_parameter() {
        let info = find("coverage").expect("coverage exists");
        let params = serde_json::json!({"min_line_rate": 1.5, "typo": 1, "critical_paths": [{"path": "src/", "min_branch_rate": "high"}]});
        let errors = check_params("cov", info, &params).expect_err("invalid");
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        insta::assert_debug_snapshot!(lines, @r#"
        [
            "gates.cov: unknown parameter `typo` of built-in `coverage` (it takes: min_line_rate, min_branch_rate, critical_paths)",
            "gates.cov: parameter `min_line_rate` must be a number from 0 to 1, or null, not 1.5",
            "gates.cov: parameter `critical_paths[0].min_branch_rate` must be a number from 0 to 1, or null, not \"high\"",
        ]
        "#);
    }
}
