//! Ownership, segregation of duties, just-in-time grants, user policies and their errors.

use tollgate_authz::{Action, Authorizer, Grant, PolicyFile, Resource, Segregation, ACTIONS};
use tollgate_core::environment::Tier;
use tollgate_core::user::Role;

use crate::matrix::{at, environment, principal, release, request, team};

fn built_in() -> Authorizer {
    Authorizer::new(Segregation::default(), &[]).expect("built-in policies")
}

fn with_user_policies(text: &str) -> Authorizer {
    Authorizer::new(Segregation::default(), &[file("ops.cedar", text)]).expect("valid policies")
}

fn file(name: &str, text: &str) -> PolicyFile {
    PolicyFile { name: name.into(), text: text.into() }
}

fn errors(text: &str) -> Vec<String> {
    match Authorizer::new(Segregation::default(), &[file("ops.cedar", text)]) {
        Ok(_) => panic!("the policy is accepted:\n{text}"),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn members_of_another_team_may_not_push_its_artifacts_nor_edit_it() {
    let authorizer = built_in();
    for action in [Action::ArtifactPush, Action::ArtifactSign, Action::TeamEdit] {
        let mut attempt = request(Role::Developer, action, Tier::Dev);
        attempt.resource = Resource::Team(team("identity"));
        let decision = authorizer.authorize(&attempt);
        assert!(!decision.allowed, "{action}");
        assert_eq!(
            decision.reason(),
            format!("user ana doing {action} on Team \"identity\" is denied: no policy permits it")
        );
    }
    let mut service = request(Role::Developer, Action::ServiceEdit, Tier::Dev);
    service.resource = Resource::Service {
        name: "login".into(),
        owner: team("identity"),
        criticality: "high".into(),
        labels: std::collections::BTreeSet::new(),
    };
    assert!(!authorizer.authorize(&service).allowed);
}

#[test]
fn only_admins_change_an_environment_tier_or_a_lifecycle() {
    let authorizer = built_in();
    for role in [Role::Developer, Role::ReleaseManager, Role::Deployer] {
        for action in [Action::EnvironmentTier, Action::LifecycleEdit] {
            assert!(!authorizer.authorize(&request(role, action, Tier::Prod)).allowed, "{role} {action}");
        }
    }
    assert!(authorizer.authorize(&request(Role::Admin, Action::EnvironmentTier, Tier::Prod)).allowed);
}

#[test]
fn the_author_of_a_release_does_not_mark_it_ready_for_prod_nor_deploy_it_there() {
    let authorizer = built_in();
    let mut ready = request(Role::Developer, Action::ReleaseMarkReady, Tier::Prod);
    ready.resource = Resource::Release(release("ana", true));
    let decision = authorizer.authorize(&ready);
    assert!(!decision.allowed);
    assert_eq!(decision.policies[0].id, "sod.author_does_not_ship_to_prod");
    // Off the path to prod, the author may.
    ready.resource = Resource::Release(release("ana", false));
    assert!(authorizer.authorize(&ready).allowed);

    let mut deploy = request(Role::Deployer, Action::Deploy, Tier::Prod);
    deploy.principal.roles.insert(Role::Admin);
    deploy.context.release = Some(release("ana", true));
    assert!(!authorizer.authorize(&deploy).allowed, "not even an admin who deploys");
    let mut dev = deploy.clone();
    dev.resource = Resource::Environment { name: environment("dev"), tier: Tier::Dev };
    assert!(authorizer.authorize(&dev).allowed);

    // The rule is a setting; switched off, the author may ship.
    let relaxed = Segregation { author_does_not_ship_to_prod: false, ..Segregation::default() };
    let relaxed = Authorizer::new(relaxed, &[]).expect("built-in policies");
    assert!(relaxed.authorize(&deploy).allowed);
}

#[test]
fn a_user_policy_cannot_weaken_segregation_of_duties() {
    let authorizer = with_user_policies(r#"@id("authors-ship") permit (principal, action, resource);"#);
    let mut deploy = request(Role::Deployer, Action::Deploy, Tier::Prod);
    deploy.context.release = Some(release("ana", true));
    assert!(!authorizer.authorize(&deploy).allowed);
    let mut approve = request(Role::Approver, Action::ChangeApprove, Tier::Prod);
    if let Resource::ChangeRequest(change) = &mut approve.resource {
        change.requested_by = crate::matrix::user("ana");
    }
    let decision = authorizer.authorize(&approve);
    assert!(!decision.allowed);
    assert_eq!(decision.policies[0].id, "sod.no_self_approval");
}

#[test]
fn a_team_mate_does_not_complete_the_approvals_of_a_prod_change_alone() {
    let authorizer = built_in();
    let mut approve = request(Role::Approver, Action::ChangeApprove, Tier::Prod);
    approve.context.outside_team_approved = Some(false);
    let decision = authorizer.authorize(&approve);
    assert!(!decision.allowed);
    assert_eq!(decision.policies[0].id, "sod.outside_team_approver_for_prod");
    // An approval that does not complete them, or one from outside the team, is fine.
    approve.context.completes_approvals = Some(false);
    assert!(authorizer.authorize(&approve).allowed);
    approve.context.completes_approvals = Some(true);
    approve.principal.teams.clear();
    assert!(authorizer.authorize(&approve).allowed);
}

#[test]
fn a_just_in_time_grant_elevates_only_while_it_lasts_and_only_where_it_was_given() {
    let authorizer = built_in();
    let mut deploy = request(Role::Developer, Action::Deploy, Tier::Prod);
    assert!(!authorizer.authorize(&deploy).allowed);
    let grant = Grant {
        id: 1,
        role: Role::Deployer,
        environment: environment("prod"),
        not_before: at("2026-03-04T08:00:00Z"),
        expires_at: at("2026-03-04T12:00:00Z"),
        revoked_at: None,
    };
    deploy.principal.grants = vec![grant.clone()];
    let decision = authorizer.authorize(&deploy);
    assert!(decision.allowed, "{}", decision.reason());
    assert_eq!(decision.grants, vec![1]);

    let cases = [
        ("expired", Grant { expires_at: at("2026-03-04T10:00:00Z"), ..grant.clone() }),
        ("not started", Grant { not_before: at("2026-03-04T10:00:01Z"), ..grant.clone() }),
        ("revoked", Grant { revoked_at: Some(at("2026-03-04T09:00:00Z")), ..grant.clone() }),
        ("for staging", Grant { environment: environment("staging"), ..grant.clone() }),
    ];
    for (case, grant) in cases {
        deploy.principal.grants = vec![grant];
        let decision = authorizer.authorize(&deploy);
        assert!(!decision.allowed, "{case}");
        assert!(decision.grants.is_empty(), "{case}");
    }
}

#[test]
fn nobody_grants_themselves_an_elevation() {
    let mut grant = request(Role::Admin, Action::JitGrant, Tier::Prod);
    grant.context.subject = Some(crate::matrix::user("ana"));
    let decision = built_in().authorize(&grant);
    assert!(!decision.allowed);
    assert_eq!(decision.policies[0].id, "jit.not_for_oneself");
}

#[test]
fn every_override_needs_a_reason() {
    let authorizer = built_in();
    for info in ACTIONS.iter().filter(|info| info.action.is_override()) {
        for reason in [None, Some(""), Some("   ")] {
            let mut attempt = request(Role::Admin, info.action, Tier::Prod);
            attempt.context.reason = reason.map(str::to_owned);
            let decision = authorizer.authorize(&attempt);
            assert!(!decision.allowed, "{} with reason {reason:?}", info.name);
            assert_eq!(decision.policies[0].id, "override.reason_required");
        }
        assert!(authorizer.authorize(&request(Role::Admin, info.action, Tier::Prod)).allowed, "{}", info.name);
    }
}

#[test]
fn a_user_policy_limits_prod_deploys_to_tuesday_to_thursday() {
    let authorizer = with_user_policies(
        r#"
        @id("prod-deploy-days")
        @reason("deploys to prod happen Tuesday to Thursday")
        forbid (principal, action == Tollgate::Action::"deploy", resource)
        when { resource.tier == "prod" }
        unless { ["tue", "wed", "thu"].contains(context.time.day_of_week) };
        "#,
    );
    let mut deploy = request(Role::Deployer, Action::Deploy, Tier::Prod);
    assert!(authorizer.authorize(&deploy).allowed, "a Wednesday");
    deploy.at = at("2026-03-02T10:00:00Z");
    let decision = authorizer.authorize(&deploy);
    assert!(!decision.allowed, "a Monday");
    assert_eq!(
        decision.reason(),
        "user ana doing deploy on Environment \"prod\" is denied: deploys to prod happen Tuesday to Thursday (prod-deploy-days)"
    );
    deploy.resource = Resource::Environment { name: environment("dev"), tier: Tier::Dev };
    assert!(authorizer.authorize(&deploy).allowed, "dev on a Monday");
}

#[test]
fn a_user_policy_keeps_service_edits_to_the_owning_team_even_for_admins() {
    let authorizer = with_user_policies(
        r#"
        @id("owners-only")
        forbid (principal, action == Tollgate::Action::"service.edit", resource)
        unless { principal in resource.owner };
        "#,
    );
    let mut edit = request(Role::Admin, Action::ServiceEdit, Tier::Dev);
    assert!(authorizer.authorize(&edit).allowed);
    edit.principal.teams.clear();
    assert!(!authorizer.authorize(&edit).allowed);
}

#[test]
fn a_decision_names_the_policies_that_made_it() {
    let decision = built_in().authorize(&request(Role::Deployer, Action::Deploy, Tier::Dev));
    assert!(decision.allowed);
    let ids: Vec<&str> = decision.policies.iter().map(|policy| policy.id.as_str()).collect();
    assert_eq!(ids, ["deployer.deploy"]);
    assert_eq!(
        decision.reason(),
        "user ana doing deploy on Environment \"dev\" is allowed: deployers record deployments and their outcome (deployer.deploy)"
    );
    let mut nobody = request(Role::Viewer, Action::Deploy, Tier::Dev);
    nobody.principal = principal(&[]);
    assert!(!built_in().authorize(&nobody).allowed);
}

#[test]
fn bad_policies_are_refused_with_their_location() {
    let cases: &[(&str, &str)] = &[
        ("@id(\"a\")\npermit (principal, action, resource)\n  when { principal.name == };", "ops.cedar:3:"),
        ("@id(\"a\") permit (principal, action == Tollgate::Action::\"launch\", resource);", "ops.cedar:1:"),
        ("@id(\"a\") permit (principal is Tollgate::Robot, action, resource);", "ops.cedar:1:"),
        (
            "@id(\"a\")\npermit (principal, action == Tollgate::Action::\"deploy\", resource)\n  when { resource.colour == \"red\" };",
            "ops.cedar:3:",
        ),
        ("permit (principal, action, resource);", "no @id"),
        ("@id(\"admin.all\") permit (principal, action, resource);", "id of a built-in policy"),
        ("@id(\"a\") permit (principal, action, resource);\n@id(\"a\") permit (principal, action, resource);", "used twice"),
        ("@id(\"a\") permit (principal == ?principal, action, resource);", "templates"),
    ];
    for (text, expected) in cases {
        let errors = errors(text);
        assert!(errors.iter().any(|error| error.contains(expected)), "{text}\n{errors:#?}");
        assert!(errors.iter().all(|error| error.starts_with("ops.cedar")), "{errors:#?}");
    }
    let unknown = errors("@id(\"a\")\npermit (principal, action, resource)\n  when { resource.colour == \"red\" };");
    assert!(unknown[0].contains("(policy a)"), "{unknown:?}");
}

#[test]
fn huge_or_deeply_nested_policies_are_refused_without_parsing() {
    let huge =
        format!("@id(\"a\") permit (principal, action, resource) when {{ {} }};", "true && ".repeat(20_000) + "true");
    assert!(errors(&huge)[0].contains("more than the limit"), "huge");
    let deep = format!(
        "@id(\"a\") permit (principal, action, resource) when {{ {}true{} }};",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    assert!(errors(&deep)[0].contains("nested deeper"), "deep");
    let negations = format!("@id(\"a\") permit (principal, action, resource) when {{ {}true }};", "!".repeat(5000));
    assert!(errors(&negations)[0].contains("unary operators"), "negations");
    assert!(errors("@id(\"a\") permit (principal, action, resource) when { \"\0\" };")[0].contains("NUL"));
}

#[test]
fn the_schema_declares_exactly_the_actions_of_the_table() {
    let schema = tollgate_authz::schema();
    let declared: std::collections::BTreeSet<String> =
        schema.actions().map(|action| action.id().unescaped().to_owned()).collect();
    let groups = ["read", "admin", "override", "release", "catalog"];
    let expected: std::collections::BTreeSet<String> =
        ACTIONS.iter().map(|info| info.name.to_owned()).chain(groups.iter().map(|g| (*g).to_owned())).collect();
    assert_eq!(declared, expected);
}

#[test]
fn the_docs_list_every_action() {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/authorization.md"))
        .expect("docs/authorization.md");
    let table = tollgate_authz::actions_table();
    assert!(docs.contains(&table), "docs/authorization.md must contain the table of actions:\n\n{table}");
}

#[test]
fn a_user_policy_keeps_deploys_of_labelled_services_to_a_team() {
    let authorizer = with_user_policies(
        r#"
        @id("pci-deployers")
        @reason("releases touching a pci service are deployed by the security team")
        forbid (principal, action == Tollgate::Action::"deploy", resource)
        when { context has release && context.release.labels.contains("pci") }
        unless { principal in Tollgate::Team::"security" };

        @id("pci-service-edits")
        forbid (principal, action == Tollgate::Action::"service.edit", resource)
        when { resource.labels.contains("pci") }
        unless { principal in Tollgate::Team::"security" };
        "#,
    );
    let mut deploy = request(Role::Deployer, Action::Deploy, Tier::Dev);
    let decision = authorizer.authorize(&deploy);
    assert!(!decision.allowed, "a payments deployer and a pci release");
    assert!(decision.reason().contains("(pci-deployers)"), "{}", decision.reason());
    deploy.principal.teams.insert(team("security"));
    assert!(authorizer.authorize(&deploy).allowed, "a member of security");
    let mut unlabelled = request(Role::Deployer, Action::Deploy, Tier::Dev);
    unlabelled.context.release.as_mut().expect("a release").labels.clear();
    assert!(authorizer.authorize(&unlabelled).allowed, "a release touching no pci service");

    let mut edit = request(Role::Admin, Action::ServiceEdit, Tier::Dev);
    assert!(!authorizer.authorize(&edit).allowed, "ledger is labelled pci");
    edit.principal.teams.insert(team("security"));
    assert!(authorizer.authorize(&edit).allowed);
}
