use super::*;

fn service(name: &str, owner: &str, depends_on: &[&str]) -> ServiceInput {
    ServiceInput {
        name: name.to_owned(),
        owner: owner.to_owned(),
        depends_on: depends_on.iter().map(|d| d.to_string()).collect(),
        ..ServiceInput::default()
    }
}

fn input() -> ApplyInput {
    ApplyInput {
        teams: vec![TeamInput { name: "payments".to_owned(), ..TeamInput::default() }],
        environments: ["dev", "staging", "prod"]
            .iter()
            .map(|name| EnvironmentInput { name: name.to_string(), tier: name.to_string(), region: None })
            .collect(),
        lifecycles: vec![LifecycleInput {
            name: "default".to_owned(),
            environments: vec!["dev".to_owned(), "staging".to_owned(), "prod".to_owned()],
        }],
        services: vec![
            service("api", "payments", &["ledger"]),
            service("ledger", "payments", &["postgres-main"]),
            service("postgres-main", "payments", &[]),
        ],
        gates: None,
        sso: None,
        changes: None,
    }
}

fn summary(plan: &Plan) -> Vec<String> {
    plan.changes
        .iter()
        .map(|change| match &change.op {
            PlanOp::Create => format!("create {} {}", change.desired.kind(), change.desired.name()),
            PlanOp::Update { fields } => {
                format!("update {} {} ({})", change.desired.kind(), change.desired.name(), fields.join(", "))
            }
            PlanOp::Unchanged => format!("unchanged {} {}", change.desired.kind(), change.desired.name()),
        })
        .collect()
}

/// The state after applying `plan`.
fn applied(plan: &Plan) -> CurrentState {
    let mut state = CurrentState::default();
    for change in &plan.changes {
        match &change.desired {
            Desired::Team(team) => state.teams.push(team.clone()),
            Desired::Environment(environment) => state.environments.push(environment.clone()),
            Desired::Lifecycle(lifecycle) => state.lifecycles.push(lifecycle.clone()),
            Desired::Service(service) => state.services.push(service.clone()),
            Desired::GatePolicy(policy) => state.policy = Some(policy.clone()),
            Desired::Sso(sso) => state.sso = Some(sso.clone()),
            Desired::ChangePolicy(policy) => state.change_policy = Some(policy.clone()),
        }
    }
    state
}

#[test]
fn a_fresh_plan_creates_everything_with_dependencies_first() {
    let plan = plan(input(), &CurrentState::default()).expect("valid");
    assert_eq!(
        summary(&plan),
        [
            "create team payments",
            "create environment dev",
            "create environment staging",
            "create environment prod",
            "create lifecycle default",
            "create service postgres-main",
            "create service ledger",
            "create service api",
        ]
    );
}

#[test]
fn planning_the_same_input_again_changes_nothing() {
    let first = plan(input(), &CurrentState::default()).expect("valid");
    let second = plan(input(), &applied(&first)).expect("valid");
    assert!(second.is_noop(), "{:?}", summary(&second));
}

#[test]
fn changed_fields_are_named() {
    let current = applied(&plan(input(), &CurrentState::default()).expect("valid"));
    let mut changed = input();
    changed.services[0].criticality = Some("high".to_owned());
    changed.services[0].depends_on.clear();
    changed.environments[2].region = Some("eu".to_owned());
    let plan = plan(changed, &current).expect("valid");
    let updates: Vec<String> = summary(&plan).into_iter().filter(|line| line.starts_with("update")).collect();
    assert_eq!(updates, ["update environment prod (region)", "update service api (criticality, depends_on)"]);
}

#[test]
fn dangling_references_duplicates_and_cycles_are_all_reported() {
    let mut bad = input();
    bad.teams[0].members = vec!["nobody".to_owned()];
    bad.lifecycles[0].environments.push("qa".to_owned());
    bad.services[0].owner = "checkout".to_owned();
    bad.services[2].depends_on = vec!["api".to_owned()];
    bad.environments.push(EnvironmentInput { name: "dev".to_owned(), tier: "dev".to_owned(), region: None });
    bad.services.push(service("search", "payments", &["elastic"]));
    bad.services[1].deploy = Some(crate::plan::DeployInput {
        tiers: vec![crate::plan::TierInput {
            name: "app".to_owned(),
            steps: vec![crate::plan::StepInput { wait: Some("1s".to_owned()), ..Default::default() }],
        }],
        targets: vec![crate::rollout::TargetInput {
            name: "web-1".to_owned(),
            environment: "prdo".to_owned(),
            address: "127.0.0.1:8080".to_owned(),
            ..Default::default()
        }],
        ..Default::default()
    });
    let violations = plan(bad, &CurrentState::default()).expect_err("invalid");
    let lines: Vec<String> = violations.0.iter().map(ToString::to_string).collect();
    insta::assert_snapshot!(lines.join("\n"), @r###"
    environments[3].name: "dev" appears more than once
    teams[0].members[0]: user "nobody" does not exist
    lifecycles[0].environments[3]: environment "qa" does not exist
    services[0].owner: team "checkout" does not exist
    services[1].deploy.targets[0].environment: environment "prdo" does not exist
    services[3].depends_on[0]: service "elastic" does not exist
    services[0].depends_on: dependency cycle: api -> ledger -> postgres-main -> api
    "###);
}

#[test]
fn references_may_point_at_existing_objects() {
    let current = applied(&plan(input(), &CurrentState::default()).expect("valid"));
    let only_new_service =
        ApplyInput { services: vec![service("search", "payments", &["ledger"])], ..ApplyInput::default() };
    let plan = plan(only_new_service, &current).expect("valid");
    assert_eq!(summary(&plan), ["create service search"]);
}

fn with_gates(min: &str, environment: &str) -> ApplyInput {
    use crate::gate::{EnvironmentGatesInput, GateInput, GatesInput};
    let gate = GateInput {
        builtin: Some("test_pass_rate".to_owned()),
        with: Some(serde_json::json!({ "min": min.parse::<f64>().expect("a number") })),
        ..GateInput::default()
    };
    let gates = vec![EnvironmentGatesInput { environment: environment.to_owned(), gates: vec![gate] }];
    ApplyInput { gates: Some(GatesInput { environments: gates, modules: Vec::new() }), ..input() }
}

#[test]
fn a_gates_section_plans_one_policy_created_then_unchanged_then_updated() {
    let first = plan(with_gates("1.0", "prod"), &CurrentState::default()).expect("valid");
    assert_eq!(summary(&first).last().map(String::as_str), Some("create gate_policy gates"));
    let state = applied(&first);
    let again = plan(with_gates("1.0", "prod"), &state).expect("valid");
    assert!(again.is_noop(), "{:?}", summary(&again));
    let changed = plan(with_gates("0.9", "prod"), &state).expect("valid");
    assert_eq!(summary(&changed).last().map(String::as_str), Some("update gate_policy gates (gates)"));
}

#[test]
fn gates_of_an_environment_that_does_not_exist_are_refused_with_their_path() {
    let violations = plan(with_gates("1.0", "qa"), &CurrentState::default()).expect_err("qa is not declared");
    let fields: Vec<&str> = violations.0.iter().map(|violation| violation.field.as_str()).collect();
    assert_eq!(fields, ["gates.qa"]);
}

fn with_sso(roles: &[(&str, &[&str])]) -> ApplyInput {
    use crate::sso::{GroupRolesInput, SsoInput, SsoRolesInput};
    let groups = roles
        .iter()
        .map(|(group, roles)| GroupRolesInput {
            group: (*group).to_owned(),
            roles: roles.iter().map(|role| (*role).to_owned()).collect(),
        })
        .collect();
    let sso = SsoInput {
        issuer: "https://login.example.com".to_owned(),
        client_id: "tollgate".to_owned(),
        client_secret_env: "TOLLGATE_SSO_SECRET".to_owned(),
        redirect_url: "https://tollgate.example.com/login/sso/callback".to_owned(),
        roles: SsoRolesInput { groups },
        ..SsoInput::default()
    };
    ApplyInput { sso: Some(sso), ..ApplyInput::default() }
}

#[test]
fn an_sso_section_plans_the_settings_created_then_unchanged_then_updated() {
    let first = plan(with_sso(&[("admins", &["admin"])]), &CurrentState::default()).expect("valid");
    assert_eq!(summary(&first), ["create sso sso"]);
    let state = applied(&first);
    assert!(plan(with_sso(&[("admins", &["admin"])]), &state).expect("valid").is_noop());
    let changed = plan(with_sso(&[("admins", &["admin", "auditor"])]), &state).expect("valid");
    assert_eq!(summary(&changed), ["update sso sso (roles)"]);
}

#[test]
fn sso_problems_are_reported_with_their_path_in_the_section() {
    let mut bad = with_sso(&[("admins", &["admin", "superuser"])]);
    if let Some(sso) = bad.sso.as_mut() {
        sso.issuer = "http://login.example.com".to_owned();
    }
    let violations = plan(bad, &CurrentState::default()).expect_err("invalid");
    let fields: Vec<&str> = violations.0.iter().map(|violation| violation.field.as_str()).collect();
    assert_eq!(fields, ["sso.issuer", "sso.roles.admins[1]"]);
}

#[test]
fn a_change_policy_names_known_environments_and_teams_and_is_unchanged_when_applied_again() {
    use crate::change::policy::{
        ApprovalSettingsInput, ChangePolicyInput, EnvironmentChangeRulesInput, LabelTeamsInput, Scalar,
    };
    let changes = |environment: &str, team: &str| ChangePolicyInput {
        approvals: Some(ApprovalSettingsInput {
            cab_quorum: Some(Scalar("3".to_owned())),
            cab_required_teams: vec![team.to_owned()],
            cab_label_teams: vec![LabelTeamsInput { label: "security".to_owned(), teams: vec![team.to_owned()] }],
            review_days: None,
        }),
        environments: vec![EnvironmentChangeRulesInput { name: environment.to_owned(), ..Default::default() }],
        ..Default::default()
    };
    let unknown = ApplyInput { changes: Some(changes("moon", "security")), ..input() };
    let violations = plan(unknown, &CurrentState::default()).expect_err("unknown names");
    let fields: Vec<String> = violations.0.iter().map(|v| v.field.clone()).collect();
    assert_eq!(
        fields,
        [
            "changes.environments[0].name",
            "changes.approvals.cab_required_teams[0]",
            "changes.approvals.cab_label_teams[0].teams[0]"
        ]
    );

    let known = ApplyInput { changes: Some(changes("staging", "payments")), ..input() };
    let first = plan(known.clone(), &CurrentState::default()).expect("valid");
    let policy = first.changes.last().expect("a change");
    assert_eq!((policy.desired.kind(), &policy.op), ("change_policy", &PlanOp::Create));
    let again = plan(known, &applied(&first)).expect("valid");
    assert!(again.is_noop(), "{again:?}");
}
