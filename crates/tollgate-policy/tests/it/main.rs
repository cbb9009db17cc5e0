//! Bundles built, evaluated and refused, on real evidence facts.

use std::time::Duration;

use serde_json::{json, Value};
use tollgate_core::gate::{Enforcement, GateName, GateSource, GateSpec, PolicyModule};
use tollgate_evidence::EvidenceKind;
use tollgate_policy::{run_tests, Bundle, InputError, Limits, Outcome};

fn name(name: &str) -> GateName {
    GateName::parse(name).expect("a valid gate name")
}

fn builtin(builtin: &str, params: Value) -> GateSpec {
    GateSpec {
        name: name(builtin),
        source: GateSource::Builtin { builtin: builtin.to_owned(), params },
        enforcement: Enforcement::Block,
    }
}

fn rego(gate: &str, path: &str) -> GateSpec {
    GateSpec { name: name(gate), source: GateSource::Rego { path: path.to_owned() }, enforcement: Enforcement::Warn }
}

fn module(path: &str, source: &str) -> PolicyModule {
    PolicyModule { path: path.to_owned(), source: source.to_owned() }
}

fn errors(gates: Vec<GateSpec>, modules: Vec<PolicyModule>) -> Vec<String> {
    Bundle::new(gates, modules).expect_err("the bundle is refused").iter().map(ToString::to_string).collect()
}

/// Facts of a fixture produced by a real tool, as stored.
fn facts(kind: EvidenceKind, fixture: &str) -> Value {
    let path = format!("{}/../tollgate-evidence/tests/fixtures/{fixture}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).expect("the fixture exists");
    serde_json::to_value(tollgate_evidence::parse(kind, &bytes).expect("the fixture parses")).expect("facts serialize")
}

fn input(evidence: Vec<(&str, Value)>) -> Value {
    let evidence: Vec<Value> = evidence
        .into_iter()
        .map(|(kind, facts)| json!({"kind": kind, "service": "ledger", "digest": "sha256:0000", "facts": facts}))
        .collect();
    json!({
        "release": {"version": "1.4.0", "type": "minor", "state": "ready", "manifest_digest": "sha256:1111",
            "artifacts": [{"service": "ledger", "name": "ledger", "version": "1.4.0", "digest": "sha256:2222",
                "signatures": [{"key": "ci", "team": "payments", "trusted": true}]}]},
        "environment": {"name": "prod", "tier": "prod"},
        "evidence": evidence,
        "previous": null,
        "change_request": null,
    })
}

#[test]
fn built_in_gates_judge_the_facts_of_real_tool_reports() {
    let bundle = Bundle::new(
        vec![
            builtin("test_pass_rate", json!({})),
            builtin("coverage", json!({"min_line_rate": 0.5})),
            builtin("no_sarif_errors", json!({"level": "warning"})),
            builtin("no_vulnerabilities", json!({})),
            builtin("licenses", json!({"allow": ["MIT", "Apache-2.0", "BSD-3-Clause"], "allow_unlicensed": true})),
            builtin("signed_artifacts", json!({})),
            builtin("performance", json!({})),
        ],
        vec![],
    )
    .expect("the bundle compiles");
    let input = input(vec![
        ("junit", facts(EvidenceKind::Junit, "nextest-tollgate-core.junit.xml")),
        ("cobertura", facts(EvidenceKind::Cobertura, "llvm-cov-tollgate-core.cobertura.xml")),
        ("sarif", facts(EvidenceKind::Sarif, "tollgate-core.clippy.sarif")),
        ("cyclonedx", facts(EvidenceKind::Cyclonedx, "tollgate.cdx.json")),
    ]);
    let results = bundle.evaluate(&input, &Limits::default()).expect("the input is accepted");
    insta::assert_json_snapshot!(results);
}

#[test]
fn gate_results_are_stored_with_a_flat_outcome() {
    let bundle = Bundle::new(
        vec![builtin("signed_artifacts", json!({})), rego("broken", "broken.rego")],
        vec![module("broken.rego", "package tollgate.gates.broken\n\nviolations := [1]\n")],
    )
    .expect("the bundle compiles");
    let mut input = input(vec![]);
    input["release"]["artifacts"][0]["signatures"][0]["trusted"] = json!(false);
    let results = bundle.evaluate(&input, &Limits::default()).expect("the input is accepted");
    insta::assert_json_snapshot!(results, @r#"
    [
      {
        "gate": "signed_artifacts",
        "enforcement": "block",
        "outcome": "fail",
        "violations": [
          {
            "message": "artifact ledger 1.4.0 of service ledger has no trusted signature",
            "data": {
              "digest": "sha256:2222",
              "name": "ledger",
              "service": "ledger",
              "signatures": [
                {
                  "key": "ci",
                  "team": "payments",
                  "trusted": false
                }
              ],
              "version": "1.4.0"
            }
          }
        ]
      },
      {
        "gate": "broken",
        "enforcement": "warn",
        "outcome": "error",
        "reason": "violation 0 of the gate has no string `msg`",
        "violations": []
      }
    ]
    "#);
}

#[test]
fn the_performance_gate_notes_that_it_passed_without_a_baseline() {
    let bundle = Bundle::new(vec![builtin("performance", json!({}))], vec![]).expect("the bundle compiles");
    let load_test = json!({"format_version": 1, "kind": "load_test", "tool": "k6", "scenarios": [{"name": "checkout",
        "requests": 100, "failed": 0, "error_rate": 0.0, "throughput_per_second": 10.0, "duration_seconds": 10.0,
        "latency_ms": {"mean": 20.0, "p50": 18.0, "p90": 30.0, "p95": 35.0, "p99": 50.0, "max": 90.0}}]});
    let results = bundle.evaluate(&input(vec![("k6", load_test)]), &Limits::default()).expect("the input is accepted");
    insta::assert_json_snapshot!(results, @r#"
    [
      {
        "gate": "performance",
        "enforcement": "block",
        "outcome": "pass",
        "violations": [],
        "notes": [
          "no previous release succeeded in this environment: no baseline to compare with"
        ]
      }
    ]
    "#);
}

#[test]
fn a_user_gate_reads_the_input_and_reports_its_violations() {
    let source = r#"package tollgate.gates.prod_needs_change

violations contains {"msg": "a prod release needs a change request", "data": input.environment} if {
	input.environment.tier == "prod"
	input.change_request == null
}
"#;
    let bundle =
        Bundle::new(vec![rego("prod_needs_change", "gates/prod.rego")], vec![module("gates/prod.rego", source)])
            .expect("the bundle compiles");
    let results = bundle.evaluate(&input(vec![]), &Limits::default()).expect("the input is accepted");
    assert_eq!(results[0].outcome, Outcome::Fail);
    assert_eq!(results[0].violations[0].data, json!({"name": "prod", "tier": "prod"}));
}

#[test]
fn a_syntax_error_is_reported_with_path_line_and_column() {
    let source = "package tollgate.gates.x\n\nviolations contains v if {\n\tv := \n}\n";
    insta::assert_debug_snapshot!(errors(vec![rego("x", "x.rego")], vec![module("x.rego", source)]), @r#"
    [
        "x.rego:4:7: expecting `}` while parsing set",
    ]
    "#);
}

#[test]
fn recursion_errors_its_gate_with_a_location() {
    // regorus detects recursion when it evaluates, not when it compiles, so it is the gate's
    // error rather than the bundle's.
    let source = "package tollgate.gates.loop\n\nviolations := a\n\na := b\n\nb := a\n";
    let bundle = Bundle::new(vec![rego("loop", "loop.rego")], vec![module("loop.rego", source)]).expect("compiles");
    let results = bundle.evaluate(&input(vec![]), &Limits::default()).expect("the input is accepted");
    insta::assert_debug_snapshot!(results[0].outcome, @r#"
    Error {
        reason: "loop.rego:5:1: recursion detected when evaluating rule:",
    }
    "#);
}

#[test]
fn every_problem_of_the_gate_definitions_is_reported() {
    let gates = vec![
        builtin("coverage", json!({"min_line_rate": "high"})),
        builtin("config_keys_present", json!({})),
        GateSpec {
            name: name("nope"),
            source: GateSource::Builtin { builtin: "nope".to_owned(), params: json!({}) },
            enforcement: Enforcement::Warn,
        },
        rego("missing", "missing.rego"),
        rego("no_rule", "no_rule.rego"),
        rego("no_rule", "no_rule.rego"),
    ];
    let modules = vec![
        module("no_rule.rego", "package tollgate.gates.no_rule\n\nallow := true\n"),
        module("sneaky.rego", "package tollgate.builtin.coverage\n\nviolations := set()\n"),
    ];
    insta::assert_debug_snapshot!(errors(gates, modules), @r#"
    [
        "sneaky.rego:1: package tollgate.builtin.coverage is reserved for the built-in library",
        "gates.coverage: parameter `min_line_rate` must be a number from 0 to 1, or null, not \"high\"",
        "gates.config_keys_present: built-in `config_keys_present` cannot be used: needs environment configuration (not yet available)",
        "gates.nope: unknown built-in `nope` (known: test_pass_rate, coverage, no_sarif_errors, no_vulnerabilities, licenses, signed_artifacts, config_keys_present, performance)",
        "gates.missing: no module has the path `missing.rego`",
        "gates.no_rule: module `no_rule.rego` (package tollgate.gates.no_rule) defines no `violations` rule",
        "gates.no_rule: two gates have this name",
        "gates.no_rule: module `no_rule.rego` (package tollgate.gates.no_rule) defines no `violations` rule",
    ]
    "#);
}

#[test]
fn a_runaway_comprehension_errors_that_gate_only() {
    let source = "package tollgate.gates.runaway\n\nviolations contains {\"msg\": \"never\"} if {\n\tcount([x | some x in numbers.range(1, 1000000); some y in numbers.range(1, 1000000); x == y]) < 0\n}\n";
    let bundle = Bundle::new(
        vec![rego("runaway", "runaway.rego"), builtin("signed_artifacts", json!({}))],
        vec![module("runaway.rego", source)],
    )
    .expect("the bundle compiles");
    let limits = Limits { max_gate_duration: Duration::from_millis(50), ..Limits::default() };
    let results = bundle.evaluate(&input(vec![]), &limits).expect("the input is accepted");
    let Outcome::Error { reason } = &results[0].outcome else { panic!("{:?}", results[0]) };
    assert!(reason.contains("time limit") || reason.contains("execution"), "{reason}");
    assert_eq!(results[1].outcome, Outcome::Pass);
}

#[test]
fn a_huge_range_is_refused_instead_of_allocated() {
    let source = "package tollgate.gates.huge\n\nviolations contains {\"msg\": \"never\"} if {\n\tcount(numbers.range(0, 1000000000000)) < 0\n}\n";
    let bundle = Bundle::new(vec![rego("huge", "huge.rego")], vec![module("huge.rego", source)]).expect("compiles");
    let results = bundle.evaluate(&input(vec![]), &Limits::default()).expect("the input is accepted");
    let Outcome::Error { reason } = &results[0].outcome else { panic!("{:?}", results[0]) };
    assert!(reason.contains("more than the limit"), "{reason}");
}

#[test]
fn randomness_is_not_available_to_gates() {
    let source =
        "package tollgate.gates.dice\n\nviolations contains {\"msg\": \"unlucky\"} if rand.intn(\"x\", 6) == 0\n";
    let bundle = Bundle::new(vec![rego("dice", "dice.rego")], vec![module("dice.rego", source)]).expect("compiles");
    let results = bundle.evaluate(&input(vec![]), &Limits::default()).expect("the input is accepted");
    assert!(
        matches!(&results[0].outcome, Outcome::Error { reason } if reason.contains("deterministic")),
        "{results:?}"
    );
}

#[test]
fn an_input_larger_than_the_limit_is_refused_before_evaluation() {
    let bundle = Bundle::new(vec![builtin("signed_artifacts", json!({}))], vec![]).expect("compiles");
    let limits = Limits { max_input_bytes: 100, ..Limits::default() };
    let refused = bundle.evaluate(&input(vec![]), &limits).expect_err("too large");
    assert!(matches!(refused, InputError::TooLarge { size, limit: 100 } if size > 100), "{refused}");
    let mut deep = json!(1);
    for _ in 0..100 {
        deep = json!([deep]);
    }
    let refused = bundle.evaluate(&json!({"deep": deep}), &Limits::default()).expect_err("too deep");
    assert_eq!(refused, InputError::TooDeep { limit: 64 });
}

#[test]
fn the_digest_is_stable_and_covers_gates_params_and_modules() {
    let build = |min: f64, source: &str| {
        Bundle::new(
            vec![builtin("coverage", json!({"min_line_rate": min})), rego("x", "x.rego")],
            vec![module("x.rego", source)],
        )
        .expect("compiles")
        .digest()
    };
    let source = "package tollgate.gates.x\n\nviolations := set()\n";
    assert_eq!(build(0.8, source), build(0.8, source));
    assert_ne!(build(0.8, source), build(0.9, source));
    assert_ne!(build(0.8, source), build(0.8, &format!("{source}\n")));
}

#[test]
fn user_rego_tests_pass_fail_and_error() {
    let source = r#"package tollgate.gates.x_test

test_true if true

test_false if false

test_undefined if input.nothing

test_error if 1 / 0
"#;
    let report = run_tests(vec![module("x_test.rego", source)], &Limits::default()).expect("compiles");
    insta::assert_json_snapshot!(report, @r#"
    {
      "results": [
        {
          "package": "tollgate.gates.x_test",
          "name": "test_error",
          "outcome": "error",
          "reason": "x_test.rego:9:17: divide by zero"
        },
        {
          "package": "tollgate.gates.x_test",
          "name": "test_false",
          "outcome": "fail"
        },
        {
          "package": "tollgate.gates.x_test",
          "name": "test_true",
          "outcome": "pass"
        },
        {
          "package": "tollgate.gates.x_test",
          "name": "test_undefined",
          "outcome": "fail"
        }
      ],
      "passed": 1,
      "failed": 2,
      "errored": 1
    }
    "#);
}
