//! Roles × actions × environments: what each built-in role may do, in a dev and a prod
//! environment, on resources of the asker's own team. One table, one `check`.

use std::collections::BTreeSet;

use tollgate_authz::{
    Action, Authorizer, ChangeRequestFacts, Context, PrincipalFacts, ReleaseFacts, Request, Resource, ResourceType,
    Segregation, ACTIONS,
};
use tollgate_core::environment::Tier;
use tollgate_core::name::{EnvironmentName, TeamName, UserName};
use tollgate_core::user::Role;
use tollgate_core::Timestamp;

/// What each role may do in any environment, on its own team's resources, about a release
/// someone else authored.
const ALLOWED: &[(Role, &[&str])] = &[
    (Role::Viewer, &["read.records", "authz.check"]),
    (Role::Auditor, &["read.records", "authz.check", "audit.verify", "audit.export", "authz.policy.read", "jit.list"]),
    (
        Role::Developer,
        &[
            "read.records",
            "authz.check",
            "apply",
            "team.create",
            "team.edit",
            "service.create",
            "service.edit",
            "environment.create",
            "environment.edit",
            "lifecycle.create",
            "artifact.push",
            "artifact.sign",
            "evidence.upload",
            "release.create",
            "release.edit",
            "release.plan",
            "release.freeze",
            "release.unfreeze",
            "release.mark_ready",
            "release.close",
            "release.roll_back",
            "release.cancel",
            "gate.evaluate",
            "change.request",
        ],
    ),
    (
        Role::ReleaseManager,
        &[
            "read.records",
            "authz.check",
            "team.edit",
            "evidence.upload",
            "release.create",
            "release.edit",
            "release.plan",
            "release.freeze",
            "release.unfreeze",
            "release.mark_ready",
            "release.close",
            "release.roll_back",
            "release.cancel",
            "gate.evaluate",
            "change.request",
            "override.gate",
            "calendar.edit",
        ],
    ),
    (Role::Approver, &["read.records", "authz.check", "team.edit", "change.approve"]),
    (
        Role::Deployer,
        &[
            "read.records",
            "authz.check",
            "team.edit",
            "deploy",
            "deployment.finish",
            "quarantine.lift",
            "override.window",
        ],
    ),
    // Everything but deploying to prod, which only deployers do (below).
    (Role::Admin, &["*"]),
];

/// Allowed in dev but denied in prod, per role.
const DENIED_IN_PROD: &[(Role, &[&str])] = &[(Role::Admin, &["deploy", "deployment.finish"])];

#[test]
fn every_role_may_do_exactly_its_actions_in_every_environment() {
    let authorizer = Authorizer::new(Segregation::default(), &[]).expect("built-in policies");
    for (role, allowed) in ALLOWED {
        for tier in [Tier::Dev, Tier::Prod] {
            for info in ACTIONS {
                let denied_in_prod = DENIED_IN_PROD
                    .iter()
                    .any(|(denied_role, actions)| denied_role == role && actions.contains(&info.name));
                // Every role is a member of its team, so team.edit is allowed to all but
                // viewers and auditors, whose fixtures are in no team.
                let expected =
                    (allowed.contains(&"*") || allowed.contains(&info.name)) && !(tier == Tier::Prod && denied_in_prod);
                check(&authorizer, *role, info.action, tier, expected);
            }
        }
    }
}

fn check(authorizer: &Authorizer, role: Role, action: Action, tier: Tier, expected: bool) {
    let request = request(role, action, tier);
    let decision = authorizer.authorize(&request);
    assert_eq!(
        decision.allowed,
        expected,
        "{role} doing {action} in {tier}: {} (errors: {:?})",
        decision.reason(),
        decision.errors
    );
}

pub fn at(value: &str) -> Timestamp {
    value.parse().expect("a timestamp")
}

pub fn user(name: &str) -> UserName {
    UserName::parse(name).expect("a user name")
}

pub fn team(name: &str) -> TeamName {
    TeamName::parse(name).expect("a team name")
}

pub fn environment(name: &str) -> EnvironmentName {
    EnvironmentName::parse(name).expect("an environment name")
}

/// A principal `ana` with `roles`, in team payments unless a viewer or auditor.
pub fn principal(roles: &[Role]) -> PrincipalFacts {
    let in_team = roles.iter().any(|role| !matches!(role, Role::Viewer | Role::Auditor));
    PrincipalFacts {
        name: user("ana"),
        roles: roles.iter().copied().collect(),
        teams: if in_team { BTreeSet::from([team("payments")]) } else { BTreeSet::new() },
        grants: Vec::new(),
    }
}

/// A release of payments' ledger authored by `author`.
pub fn release(author: &str, reaches_prod: bool) -> ReleaseFacts {
    ReleaseFacts {
        id: 7,
        version: "1.4.0".into(),
        state: "planned".into(),
        author: user(author),
        teams: BTreeSet::from([team("payments")]),
        author_teams: BTreeSet::from([team("payments")]),
        reaches_prod,
        labels: BTreeSet::from(["pci".to_owned()]),
    }
}

/// The resource of `action`'s type, in an environment of `tier`.
pub fn resource(action: Action, tier: Tier) -> Resource {
    let prod = tier == Tier::Prod;
    let name = environment(if prod { "prod" } else { "dev" });
    match action.resource_type() {
        ResourceType::System => Resource::System,
        ResourceType::Team => Resource::Team(team("payments")),
        ResourceType::Service => Resource::Service {
            name: "ledger".into(),
            owner: team("payments"),
            criticality: "high".into(),
            labels: BTreeSet::from(["pci".to_owned()]),
        },
        ResourceType::Environment => Resource::Environment { name, tier },
        ResourceType::Lifecycle => Resource::Lifecycle { name: "default".into(), reaches_prod: prod },
        ResourceType::Release => Resource::Release(release("bo", prod)),
        ResourceType::ChangeRequest => Resource::ChangeRequest(ChangeRequestFacts {
            id: 3,
            requested_by: user("bo"),
            release: release("bo", prod),
            environment: name,
            tier,
            change_type: "normal".to_owned(),
        }),
    }
}

/// A request by `ana` holding `role`, about someone else (`cy`) where a subject is needed.
pub fn request(role: Role, action: Action, tier: Tier) -> Request {
    Request {
        principal: principal(&[role]),
        action,
        resource: resource(action, tier),
        context: Context {
            reason: Some("the gate's scanner is down".into()),
            release: Some(release("bo", tier == Tier::Prod)),
            subject: Some(user("cy")),
            role: Some(Role::Deployer),
            outside_team_approved: Some(true),
            completes_approvals: Some(true),
            ..Context::default()
        },
        // A Wednesday.
        at: at("2026-03-04T10:00:00Z"),
    }
}
