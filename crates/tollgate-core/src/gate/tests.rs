use serde_json::json;

use super::*;

fn module(path: &str) -> PolicyModule {
    PolicyModule { path: path.to_owned(), source: "package tollgate.gates.x\n".to_owned() }
}

fn builtin(name: &str, with: serde_json::Value) -> GateInput {
    GateInput { builtin: Some(name.to_owned()), with: Some(with), ..GateInput::default() }
}

fn prod(gates: Vec<GateInput>) -> Vec<EnvironmentGatesInput> {
    vec![EnvironmentGatesInput { environment: "prod".to_owned(), gates }]
}

/// Parses a policy and returns either its gates as `name source enforcement` lines or its
/// violations as `field: problem` lines.
fn check(gates: Vec<EnvironmentGatesInput>, modules: Vec<PolicyModule>, expected: &[&str]) {
    let lines: Vec<String> = match parse_policy(gates, modules) {
        Ok(policy) => policy
            .gates
            .iter()
            .flat_map(|(environment, specs)| {
                specs.iter().map(move |spec| {
                    let source = match &spec.source {
                        GateSource::Builtin { builtin, params } => format!("builtin:{builtin} {params}"),
                        GateSource::Rego { path } => format!("rego:{path}"),
                    };
                    format!("{environment} {} {source} {}", spec.name, spec.enforcement)
                })
            })
            .collect(),
        Err(violations) => violations.0.iter().map(|violation| violation.to_string()).collect(),
    };
    assert_eq!(lines, expected);
}

#[test]
fn gates_are_named_after_their_builtin_or_module_and_block_by_default() {
    check(
        prod(vec![
            builtin("test_pass_rate", json!({"min": 1.0})),
            GateInput {
                rego: Some("policies/licenses.rego".into()),
                enforcement: Some("warn".into()),
                ..GateInput::default()
            },
        ]),
        vec![module("policies/licenses.rego")],
        &[
            r#"prod test_pass_rate builtin:test_pass_rate {"min":1.0} block"#,
            "prod licenses rego:policies/licenses.rego warn",
        ],
    );
}

#[test]
fn every_problem_of_a_gate_list_is_reported_with_its_path() {
    check(
        prod(vec![
            GateInput { builtin: Some("a".into()), rego: Some("b.rego".into()), ..GateInput::default() },
            GateInput { rego: Some("missing.rego".into()), ..GateInput::default() },
            GateInput { builtin: Some("coverage".into()), enforcement: Some("maybe".into()), ..GateInput::default() },
            builtin("coverage", json!([1, 2])),
            GateInput { builtin: Some("coverage".into()), name: Some("Coverage!".into()), ..GateInput::default() },
        ]),
        vec![],
        &[
            "gates.prod[0]: a gate names exactly one of builtin or rego",
            "gates.prod[1].rego: module missing.rego was not given",
            r#"gates.prod[2].enforcement: "maybe" is not one of block, warn"#,
            "gates.prod[3].with: parameters are a mapping",
            r#"gates.prod[4].name: "Coverage!" is not a gate name (1 to 63 lower-case letters, digits, '-' and '_', starting with a letter)"#,
        ],
    );
}

#[test]
fn a_gate_name_is_unique_within_its_environment() {
    check(
        prod(vec![builtin("coverage", json!({})), builtin("coverage", json!({"min_line_rate": 0.8}))]),
        vec![],
        &["gates.prod[1].name: gate coverage is declared twice for prod"],
    );
}

#[test]
fn an_environment_name_is_checked_for_form() {
    check(
        vec![EnvironmentGatesInput { environment: "Prod".into(), gates: vec![] }],
        vec![],
        &[
            r#"gates.Prod: "Prod" is not a valid name (1 to 63 lower-case letters, digits or dashes, starting with a letter or digit)"#,
        ],
    );
}

#[test]
fn modules_are_bounded_and_unique() {
    let big = PolicyModule { path: "big.rego".into(), source: "#".repeat(MAX_MODULE_SIZE + 1) };
    check(
        vec![],
        vec![module("a.rego"), module("a.rego"), big, module("")],
        &[
            "modules[1].path: module a.rego is given twice",
            &format!(
                "modules[2].source: module big.rego is {} bytes; the limit is {MAX_MODULE_SIZE}",
                MAX_MODULE_SIZE + 1
            ),
            "modules[3].path: a module path has 1 to 255 characters",
        ],
    );
}

#[test]
fn the_policy_digest_does_not_depend_on_declaration_order_of_environments_or_parameter_keys() {
    let first = parse_policy(
        vec![
            EnvironmentGatesInput {
                environment: "staging".into(),
                gates: vec![builtin("coverage", json!({"a": 1, "b": 2}))],
            },
            EnvironmentGatesInput { environment: "prod".into(), gates: vec![builtin("coverage", json!({}))] },
        ],
        vec![],
    )
    .expect("valid");
    let second = parse_policy(
        vec![
            EnvironmentGatesInput { environment: "prod".into(), gates: vec![builtin("coverage", json!({}))] },
            EnvironmentGatesInput {
                environment: "staging".into(),
                gates: vec![builtin("coverage", json!({"b": 2, "a": 1}))],
            },
        ],
        vec![],
    )
    .expect("valid");
    assert_eq!(first.digest(), second.digest());
    let third = parse_policy(prod(vec![builtin("coverage", json!({"min_line_rate": 0.9}))]), vec![]).expect("valid");
    assert_ne!(first.digest(), third.digest());
}

#[test]
fn the_evidence_set_digest_ignores_order_and_sees_trust() {
    let a = Sha256Digest::of(b"a");
    let b = Sha256Digest::of(b"b");
    let evidence = |first: &'static str, second: &'static str| {
        vec![
            EvidenceItem { kind: first, service: None, digest: &a },
            EvidenceItem { kind: second, service: Some("ledger"), digest: &b },
        ]
    };
    let signed = |trusted| vec![SignatureItem { artifact: &a, key: "k1", trusted }];
    let one = evidence_set_digest(evidence("junit", "sarif"), signed(true));
    let reordered = {
        let mut items = evidence("junit", "sarif");
        items.reverse();
        evidence_set_digest(items, signed(true))
    };
    assert_eq!(one, reordered);
    assert_ne!(one, evidence_set_digest(evidence("junit", "sarif"), signed(false)));
    assert_ne!(one, evidence_set_digest(evidence("junit", "junit"), signed(true)));
}

#[test]
fn an_override_needs_a_reason() {
    assert_eq!(check_reason("  "), Err(Problem::Invalid { reason: "a reason is required".to_owned() }));
    assert_eq!(check_reason(" hotfix for INC-7 "), Ok("hotfix for INC-7".to_owned()));
    assert!(check_reason(&"x".repeat(MAX_REASON_LEN + 1)).is_err());
}
