use tollgate_core::apply::{plan, CurrentState};

use super::*;

const FULL: &str = r#"# Tollgate configuration.
teams:
  - name: payments
    display_name: Payments
    members: [ana, bo]
  - name: platform
environments:
  - name: staging
    tier: staging
  - name: prod
    tier: prod
    region: eu
lifecycles:
  - name: default
    environments:
      - staging
      - prod
services:
  - name: postgres-main
    owner: platform
  - name: ledger
    owner: payments
    criticality: high
    depends_on: [postgres-main]
    description: "Double-entry ledger: the book of record"
gates:
  prod:
    - builtin: test_pass_rate
      with: { min: 1.0, suites: [unit, "2"], strict: true, note: ~ }
    - rego: policies/licenses.rego
      enforcement: warn
"#;

fn load_ok(text: &str) -> ConfigFile {
    match load("tollgate.yaml", text) {
        Ok(config_file) => config_file,
        Err(error) => panic!("expected the file to load, got:\n{error}"),
    }
}

fn load_err(text: &str) -> String {
    match load("tollgate.yaml", text) {
        Ok(config_file) => panic!("expected an error, got {:#?}", config_file.input),
        Err(error) => error.to_string(),
    }
}

#[test]
fn a_full_file_loads_into_the_apply_input_it_declares() {
    let config_file = load_ok(FULL);
    insta::assert_debug_snapshot!(config_file.input, @r#"
    ApplyInput {
        teams: [
            TeamInput {
                name: "payments",
                display_name: Some(
                    "Payments",
                ),
                members: [
                    "ana",
                    "bo",
                ],
                artifact_pattern: None,
            },
            TeamInput {
                name: "platform",
                display_name: None,
                members: [],
                artifact_pattern: None,
            },
        ],
        environments: [
            EnvironmentInput {
                name: "staging",
                tier: "staging",
                region: None,
            },
            EnvironmentInput {
                name: "prod",
                tier: "prod",
                region: Some(
                    "eu",
                ),
            },
        ],
        lifecycles: [
            LifecycleInput {
                name: "default",
                environments: [
                    "staging",
                    "prod",
                ],
            },
        ],
        services: [
            ServiceInput {
                name: "postgres-main",
                owner: "platform",
                criticality: None,
                depends_on: [],
                description: None,
                labels: [],
                deploy: None,
            },
            ServiceInput {
                name: "ledger",
                owner: "payments",
                criticality: Some(
                    "high",
                ),
                depends_on: [
                    "postgres-main",
                ],
                description: Some(
                    "Double-entry ledger: the book of record",
                ),
                labels: [],
                deploy: None,
            },
        ],
        gates: Some(
            GatesInput {
                environments: [
                    EnvironmentGatesInput {
                        environment: "prod",
                        gates: [
                            GateInput {
                                name: None,
                                builtin: Some(
                                    "test_pass_rate",
                                ),
                                rego: None,
                                with: Some(
                                    Object {
                                        "min": Number(1.0),
                                        "suites": Array [
                                            String("unit"),
                                            String("2"),
                                        ],
                                        "strict": Bool(true),
                                        "note": Null,
                                    },
                                ),
                                enforcement: None,
                            },
                            GateInput {
                                name: None,
                                builtin: None,
                                rego: Some(
                                    "policies/licenses.rego",
                                ),
                                with: None,
                                enforcement: Some(
                                    "warn",
                                ),
                            },
                        ],
                    },
                ],
                modules: [],
            },
        ),
        sso: None,
        changes: None,
    }
    "#);
}

#[test]
fn an_empty_file_is_an_empty_configuration() {
    for text in ["", "\n\n", "# nothing yet\n  # still nothing\n", "---\n# empty\n...\n"] {
        let input = load_ok(text).input;
        assert!(
            input.teams.is_empty()
                && input.environments.is_empty()
                && input.lifecycles.is_empty()
                && input.services.is_empty(),
            "{text:?}"
        );
    }
}

#[test]
fn null_sections_and_optional_keys_are_empty_or_absent() {
    let text = "teams:\n  - name: payments\n    display_name:\n    members: ~\nservices:\n";
    let input = load_ok(text).input;
    assert_eq!(input.teams.len(), 1);
    assert_eq!(input.teams[0].display_name, None);
    assert!(input.teams[0].members.is_empty());
    assert!(input.services.is_empty());
}

#[test]
fn quoted_numbers_and_booleans_are_strings() {
    let text = "environments:\n  - name: '12'\n    tier: \"true\"\n    region: |\n      eu\n";
    let input = load_ok(text).input;
    assert_eq!(input.environments[0].name, "12");
    assert_eq!(input.environments[0].tier, "true");
    assert_eq!(input.environments[0].region.as_deref(), Some("eu\n"));
}

#[test]
fn unknown_keys_are_reported_at_every_level_with_the_keys_expected() {
    let text = "\
teams: []
servics: []
services:
  - name: ledger
    ownr: payments
    owner: payments
    deploy: {tier: [], tiers: [{name: app, steps: [{exec: [run], timout: 5s}]}]}
environments:
  - {name: prod, tier: prod, zone: eu}
";
    insta::assert_snapshot!(load_err(text), @r#"
    tollgate.yaml:2:1: unknown key "servics" (expected one of: teams, environments, lifecycles, services, gates, sso, changes)
    tollgate.yaml:5:5: services[0]: unknown key "ownr" (expected one of: name, owner, criticality, depends_on, description, labels, deploy)
    tollgate.yaml:7:14: services[0].deploy: unknown key "tier" (expected one of: tiers, variables, secrets, rollback, on_failure, targets, strategy, strategies, traffic, verify)
    tollgate.yaml:7:66: services[0].deploy.tiers[0].steps[0]: unknown key "timout" (expected one of: name, exec, http, health, wait, manual, env, working_dir, timeout, retries, backoff, idempotent, reversible, per_target)
    tollgate.yaml:9:30: environments[0]: unknown key "zone" (expected one of: name, tier, region)
    "#);
}

#[test]
fn a_deployment_plan_problem_is_located_at_its_line_and_key() {
    let text = "\
services:
  - name: ledger
    owner: payments
    deploy:
      tiers:
        - name: app
          steps:
            - exec: [./deploy.sh]
              timeout: ten
            - health: {tcp: \"127.0.0.1:80\"}
              retries: 11
";
    let config = load_ok(text);
    let service = config.input.services[0].clone();
    let violations = service.parse().expect_err("invalid");
    let described: Vec<String> = violations
        .0
        .iter()
        .map(|violation| config.describe_violation(&violation.clone().within("services[0]")))
        .collect();
    insta::assert_snapshot!(described.join("\n"), @r#"
    tollgate.yaml:9:24: services[0].deploy.tiers[0].steps[0].timeout: "ten" is not a duration (a whole number followed by ms, s, m or h, at most 24h)
    tollgate.yaml:11:24: services[0].deploy.tiers[0].steps[1].retries: "11" is not a whole number from 0 to 10
    "#);
}

#[test]
fn a_rollout_problem_is_located_at_its_line_and_key() {
    let text = "\
services:
  - name: ledger
    owner: payments
    deploy:
      strategy:
        canary: {weights: [10, 5, 100], pause: 2m}
      traffic: {nginx: {upstream: ledger, file: /etc/nginx/ledger.conf}}
      targets:
        - {name: blue-1, environment: prod, address: 127.0.0.1, group: blue}
      tiers:
        - name: app
          steps:
            - exec: [./deploy.sh]
              per_target: 2
";
    let config = load_ok(text);
    let service = config.input.services[0].clone();
    let violations = service.parse().expect_err("invalid");
    let described: Vec<String> = violations
        .0
        .iter()
        .map(|violation| config.describe_violation(&violation.clone().within("services[0]")))
        .collect();
    insta::assert_snapshot!(described.join("\n"), @r#"
    tollgate.yaml:14:27: services[0].deploy.tiers[0].steps[0].per_target: "2" is not true or false
    tollgate.yaml:9:54: services[0].deploy.targets[0].address: "127.0.0.1" is not an address (host:port)
    tollgate.yaml:6:32: services[0].deploy.strategy.canary.weights[1]: "5" is not a percentage above the one before it, up to 100
    "#);
}

#[test]
fn numbers_booleans_and_nulls_are_not_strings() {
    let text = "\
environments:
  - name: 12
    tier: true
    region: 1.5
  - name: ~
    tier: prod
services:
  - name: ledger
    owner:
";
    insta::assert_snapshot!(load_err(text), @"
    tollgate.yaml:2:11: environments[0].name: expected a string, found a number (quote it to use it as text)
    tollgate.yaml:3:11: environments[0].tier: expected a string, found a boolean (quote it to use it as text)
    tollgate.yaml:4:13: environments[0].region: expected a string, found a number (quote it to use it as text)
    tollgate.yaml:5:11: environments[1].name: expected a string, found null
    tollgate.yaml:9:5: services[0].owner: expected a string, found null
    ");
}

#[test]
fn lists_and_mappings_where_strings_are_expected_are_wrong_types() {
    let text = "\
teams:
  - name: [payments]
    members: ana
  - name: platform
    members:
      - ana
      - {name: bo}
      - 7
lifecycles: {name: default}
services:
  - ledger
";
    insta::assert_snapshot!(load_err(text), @"
    tollgate.yaml:2:11: teams[0].name: expected a string, found a list
    tollgate.yaml:3:14: teams[0].members: expected a list, found a string
    tollgate.yaml:7:9: teams[1].members[1]: expected a string, found a mapping
    tollgate.yaml:8:9: teams[1].members[2]: expected a string, found a number (quote it to use it as text)
    tollgate.yaml:9:13: lifecycles: expected a list, found a mapping
    tollgate.yaml:11:5: services[0]: expected a mapping, found a string
    ");
}

#[test]
fn missing_required_keys_are_reported_at_their_mapping() {
    let text = "\
environments:
  - name: prod
lifecycles:
  - environments: [prod]
services:
  - {description: nameless}
";
    insta::assert_snapshot!(load_err(text), @r#"
    tollgate.yaml:2:5: environments[0]: missing key "tier"
    tollgate.yaml:4:5: lifecycles[0]: missing key "name"
    tollgate.yaml:6:5: services[0]: missing key "name"
    tollgate.yaml:6:5: services[0]: missing key "owner"
    "#);
}

#[test]
fn a_duplicate_key_is_reported_with_both_locations_and_its_path() {
    let text = "\
services:
  - name: ledger
    owner: payments
    owner: platform
";
    insta::assert_snapshot!(load_err(text), @r#"tollgate.yaml:4:5: services[0]: duplicate key "owner" (first at 3:5)"#);
}

#[test]
fn a_duplicate_top_level_section_is_reported() {
    let text = "teams: []\nservices: []\nteams: []\n";
    insta::assert_snapshot!(load_err(text), @r#"tollgate.yaml:3:1: duplicate key "teams" (first at 1:1)"#);
}

#[test]
fn a_syntax_error_is_reported_alone_with_its_location() {
    let text = "\
services:
  - name: ledger
    ownr: payments
    depends_on: [postgres
";
    insta::assert_snapshot!(load_err(text), @"tollgate.yaml:5:1: invalid YAML: while parsing a flow sequence, expected ',' or ']'");
}

#[test]
fn anchors_are_rejected_so_aliases_cannot_expand_the_file() {
    let billion_laughs = "\
a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
";
    insta::assert_snapshot!(load_err(billion_laughs), @"tollgate.yaml:1:7: anchors and aliases are not supported");
}

#[test]
fn an_alias_without_an_anchor_is_a_syntax_error() {
    insta::assert_snapshot!(load_err("teams: *everyone\n"), @"tollgate.yaml:1:8: invalid YAML: while parsing node, found unknown anchor");
}

#[test]
fn tags_are_rejected() {
    insta::assert_snapshot!(load_err("teams:\n  - name: !!str 12\n"), @"tollgate.yaml:2:17: tags are not supported");
}

#[test]
fn a_top_level_that_is_not_a_mapping_is_rejected() {
    insta::assert_snapshot!(load_err("- name: payments\n"), @"tollgate.yaml:1:1: the top level must be a mapping");
    insta::assert_snapshot!(load_err("teams\n"), @"tollgate.yaml:1:1: the top level must be a mapping");
}

#[test]
fn a_mapping_used_as_a_key_is_rejected() {
    insta::assert_snapshot!(load_err("? {name: payments}\n: x\n"), @"tollgate.yaml:1:3: a key must be a string");
}

#[test]
fn a_second_document_is_rejected_instead_of_ignored() {
    let text = "teams: []\n---\nservices:\n  - name: ledger\n";
    insta::assert_snapshot!(load_err(text), @"tollgate.yaml:2:1: a second YAML document starts here, but the file must hold one document");
}

#[test]
fn deep_nesting_is_refused_by_the_parser() {
    let text = format!("teams: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    insta::assert_snapshot!(load_err(&text), @"tollgate.yaml:1:263: invalid YAML: recursion limit exceeded");
}

#[test]
fn a_file_over_the_size_limit_is_refused_before_parsing() {
    let at_limit = format!("#{}", " ".repeat(MAX_FILE_SIZE - 1));
    assert!(load("tollgate.yaml", &at_limit).is_ok());
    // Not YAML at all: a parser would report a syntax error, the size check comes first.
    let over_limit = "{".repeat(MAX_FILE_SIZE + 1);
    let error = load("tollgate.yaml", &over_limit).map(|_| ());
    assert_eq!(
        error,
        Err(ConfigError::TooLarge {
            file_name: "tollgate.yaml".to_owned(),
            size: MAX_FILE_SIZE + 1,
            limit: MAX_FILE_SIZE,
        })
    );
    insta::assert_snapshot!(load_err(&over_limit), @"tollgate.yaml: the file is 1048577 bytes, more than the limit of 1048576 bytes");
}

#[test]
fn messages_gives_one_line_per_problem() {
    let error = load("tollgate.yaml", "teams: 1\nservices: 2\n").map(|_| ());
    let messages = error.map_err(|error| error.messages());
    assert_eq!(
        messages,
        Err(vec![
            "tollgate.yaml:1:8: teams: expected a list, found a number".to_owned(),
            "tollgate.yaml:2:11: services: expected a list, found a number".to_owned(),
        ])
    );
}

#[test]
fn locate_finds_list_items_list_valued_keys_and_mappings() {
    let config_file = load_ok(FULL);
    let lines: Vec<String> = [
        "teams",
        "teams[0]",
        "teams[0].members",
        "teams[0].members[1]",
        "teams[1].name",
        "environments[1].region",
        "lifecycles[0].environments",
        "lifecycles[0].environments[1]",
        "services[1].owner",
        "services[1].depends_on",
        "services[1].depends_on[0]",
        "services[1].description",
        "services[0].depends_on",
        "services[2]",
        "nothing",
    ]
    .iter()
    .map(|path| match config_file.locate(path) {
        Some(location) => format!("{path} {location}"),
        None => format!("{path} -"),
    })
    .collect();
    insta::assert_snapshot!(lines.join("\n"), @"
    teams 3:3
    teams[0] 3:5
    teams[0].members 5:14
    teams[0].members[1] 5:20
    teams[1].name 6:11
    environments[1].region 12:13
    lifecycles[0].environments 16:7
    lifecycles[0].environments[1] 17:9
    services[1].owner 22:12
    services[1].depends_on 24:17
    services[1].depends_on[0] 24:18
    services[1].description 25:18
    services[0].depends_on -
    services[2] -
    nothing -
    ");
}

#[test]
fn a_key_with_no_value_is_located_at_the_key() {
    let config_file = load_ok("teams:\n  - name: payments\n    members:\n");
    assert_eq!(config_file.locate("teams[0].members"), Some(Location { line: 3, column: 5 }));
}

#[test]
fn describe_falls_back_to_the_nearest_written_ancestor_then_to_the_path() {
    let config_file = load_ok(FULL);
    assert_eq!(config_file.describe("services[1].owner"), "tollgate.yaml:22:12: services[1].owner");
    assert_eq!(config_file.describe("services[0].criticality"), "tollgate.yaml:19:5: services[0].criticality");
    assert_eq!(config_file.describe("calendar[0].name"), "calendar[0].name");
}

#[test]
fn core_violations_are_described_with_their_place_in_the_file() {
    let text = "\
teams:
  - name: payments
    members: [ana]
environments:
  - name: prod
    tier: production
lifecycles:
  - name: default
    environments: [staging, prod]
services:
  - name: ledger
    owner: payment
    depends_on: [postgres-main]
";
    let config_file = load_ok(text);
    let violations = match plan(config_file.input.clone(), &CurrentState::default()) {
        Ok(_) => panic!("expected violations"),
        Err(violations) => violations,
    };
    let lines: Vec<String> = violations.0.iter().map(|violation| config_file.describe_violation(violation)).collect();
    insta::assert_snapshot!(lines.join("\n"), @r#"
    tollgate.yaml:6:11: environments[0].tier: "production" is not one of dev, test, uat, staging, prod
    tollgate.yaml:3:15: teams[0].members[0]: user "ana" does not exist
    tollgate.yaml:9:20: lifecycles[0].environments[0]: environment "staging" does not exist
    tollgate.yaml:9:29: lifecycles[0].environments[1]: environment "prod" does not exist
    tollgate.yaml:12:12: services[0].owner: team "payment" does not exist
    tollgate.yaml:13:18: services[0].depends_on[0]: service "postgres-main" does not exist
    "#);
}

#[test]
fn gate_parameters_keep_their_yaml_types_and_gate_problems_are_located() {
    let config_file = load_ok(FULL);
    let gates = config_file.input.gates.expect("a gates section");
    let prod = &gates.environments[0];
    assert_eq!(prod.environment, "prod");
    // Compared as values: the key order of a JSON object is not part of its meaning.
    let expected = serde_json::json!({"min": 1.0, "note": null, "strict": true, "suites": ["unit", "2"]});
    assert_eq!(prod.gates[0].with.as_ref(), Some(&expected));
    assert_eq!(config_file.source_map.describe("gates.prod[1].rego"), "tollgate.yaml:30:13: gates.prod[1].rego");
    let errors = load_err("gates:\n  prod:\n    - builtin: 7\n      colour: red\n  staging: yes\n");
    insta::assert_snapshot!(errors, @r#"
    tollgate.yaml:3:16: gates.prod[0].builtin: expected a string, found a number (quote it to use it as text)
    tollgate.yaml:4:7: gates.prod[0]: unknown key "colour" (expected one of: name, builtin, rego, with, enforcement)
    tollgate.yaml:5:12: gates.staging: expected a list, found a string
    "#);
}

const SSO: &str = r#"sso:
  issuer: https://login.example.com/realms/main
  client_id: tollgate
  client_secret_env: TOLLGATE_SSO_CLIENT_SECRET
  redirect_url: https://tollgate.example.com/login/sso/callback
  groups_claim: roles
  roles:
    tollgate-admins: [admin]
    engineering:
      - member
      - viewer
  scopes: [profile, groups]
"#;

#[test]
fn an_sso_section_loads_with_its_role_mapping_in_file_order() {
    let config_file = load_ok(SSO);
    insta::assert_debug_snapshot!(config_file.input.sso, @r#"
    Some(
        SsoInput {
            issuer: "https://login.example.com/realms/main",
            client_id: "tollgate",
            client_secret_env: "TOLLGATE_SSO_CLIENT_SECRET",
            redirect_url: "https://tollgate.example.com/login/sso/callback",
            username_claim: None,
            groups_claim: Some(
                "roles",
            ),
            roles: SsoRolesInput {
                groups: [
                    GroupRolesInput {
                        group: "tollgate-admins",
                        roles: [
                            "admin",
                        ],
                    },
                    GroupRolesInput {
                        group: "engineering",
                        roles: [
                            "member",
                            "viewer",
                        ],
                    },
                ],
            },
            scopes: [
                "profile",
                "groups",
            ],
        },
    )
    "#);
    assert_eq!(config_file.describe("sso.roles.engineering[1]"), "tollgate.yaml:11:9: sso.roles.engineering[1]");
}

#[test]
fn sso_shape_problems_are_reported_with_their_place_in_the_file() {
    let text = "sso:\n  issuer: https://login.example.com\n  client_secret: hunter2\n  roles:\n    admins: admin\n";
    insta::assert_snapshot!(load_err(text), @r#"
    tollgate.yaml:2:3: sso: missing key "client_id"
    tollgate.yaml:2:3: sso: missing key "client_secret_env"
    tollgate.yaml:2:3: sso: missing key "redirect_url"
    tollgate.yaml:3:3: sso: unknown key "client_secret" (expected one of: issuer, client_id, client_secret_env, redirect_url, username_claim, groups_claim, roles, scopes)
    tollgate.yaml:5:13: sso.roles.admins: expected a list, found a string
    "#);
}

#[test]
fn sso_value_problems_found_by_core_are_described_with_their_place_in_the_file() {
    let text = SSO
        .replace("https://login.example.com/realms/main", "http://login.example.com")
        .replace("      - viewer", "      - superuser")
        .replace("TOLLGATE_SSO_CLIENT_SECRET", "'s3cret!'");
    let config_file = load_ok(&text);
    let violations = match plan(config_file.input.clone(), &CurrentState::default()) {
        Ok(_) => panic!("expected violations"),
        Err(violations) => violations,
    };
    let lines: Vec<String> = violations.0.iter().map(|violation| config_file.describe_violation(violation)).collect();
    insta::assert_snapshot!(lines.join("\n"), @r#"
    tollgate.yaml:2:11: sso.issuer: "http://login.example.com" is plain http on a host that is not loopback; use https
    tollgate.yaml:4:22: sso.client_secret_env: "s3cret!" is not the name of an environment variable (letters, digits and '_', not starting with a digit); name the variable that holds the secret, never the secret itself
    tollgate.yaml:11:9: sso.roles.engineering[1]: "superuser" is not one of viewer, auditor, developer, release_manager, approver, deployer, admin, member
    "#);
}

const CHANGES: &str = r#"environments:
  - name: prod
    tier: prod
changes:
  risk:
    weights: { emergency: 30, evidence: 0 }
    classes: { critical: 90 }
    failure_window_days: 30
    prior_rate: 0.05
  approvals:
    cab_quorum: 3
    review_days: 2
  stabilization_gap_minutes: 60
  environments:
    - name: prod
      on_window_close: pause
"#;

#[test]
fn a_changes_section_loads_and_plans_the_policy_it_describes() {
    let config_file = load_ok(CHANGES);
    let plan = plan(config_file.input.clone(), &CurrentState::default()).expect("valid");
    let Some(tollgate_core::apply::Desired::ChangePolicy(policy)) = plan.changes.last().map(|change| &change.desired)
    else {
        panic!("no change policy in {plan:?}")
    };
    let weights = policy.risk.weights;
    assert_eq!((weights.emergency, weights.evidence, weights.size), (30, 0, 15), "what is left out keeps its default");
    assert_eq!(
        (policy.risk.cutoffs, policy.risk.failure_window_days, policy.risk.prior_rate),
        ([25, 50, 90], 30, 0.05)
    );
    assert_eq!(
        (policy.approvals.cab_quorum, policy.approvals.review_days, policy.stabilization_gap_minutes),
        (3, 2, 60)
    );
    let prod = tollgate_core::name::EnvironmentName::parse("prod").expect("a name");
    assert_eq!(policy.on_window_close(&prod), tollgate_core::change::policy::WindowClose::Pause);
}

#[test]
fn changes_problems_are_described_with_their_place_in_the_file() {
    let shape = CHANGES.replace("cab_quorum: 3", "cab_quorum: \"3\"").replace("prior_rate: 0.05", "prior_rte: 0.05");
    insta::assert_snapshot!(load_err(&shape), @r#"
    tollgate.yaml:9:5: changes.risk: unknown key "prior_rte" (expected one of: weights, classes, failure_window_days, prior_rate, prior_weight)
    tollgate.yaml:11:17: changes.approvals.cab_quorum: expected a number, found a string
    "#);
    let values = CHANGES.replace("cab_quorum: 3", "cab_quorum: 0").replace("critical: 90", "critical: 20");
    let config_file = load_ok(&values);
    let violations = plan(config_file.input.clone(), &CurrentState::default()).expect_err("invalid values");
    let lines: Vec<String> = violations.0.iter().map(|violation| config_file.describe_violation(violation)).collect();
    insta::assert_snapshot!(lines.join("\n"), @r#"
    tollgate.yaml:7:14: changes.risk.classes: must rise: medium 25 < high 50 < critical 20
    tollgate.yaml:11:17: changes.approvals.cab_quorum: "0" is not a whole number from 1 to 20
    "#);
}
