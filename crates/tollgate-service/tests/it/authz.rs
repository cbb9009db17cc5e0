//! Authorization stories on every backend: ownership, segregation of duties attacked with two
//! tokens and a team-mate, just-in-time grants that expire by themselves, user policies.

use std::sync::Arc;

use tollgate_core::artifact::ArtifactInput;
use tollgate_core::authz::{GrantId, GrantInput, PolicyFileRecord};
use tollgate_core::deployment::DeploymentInput;
use tollgate_core::environment::EnvironmentInput;
use tollgate_core::release::ReleaseAction;
use tollgate_core::team::TeamInput;
use tollgate_service::artifact::AnnouncedDigest;
use tollgate_service::authz::CheckInput;
use tollgate_service::catalog::Upsert;
use tollgate_service::release::ReleaseRef;
use tollgate_service::{Principal, ServiceError};
use tollgate_testkit::fixtures::release_input;
use tollgate_testkit::{TestApp, TestDb};

use crate::release::catalog;

async fn on_every_backend<F, Fut>(story: F)
where
    F: Fn(Arc<TestApp>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for db in TestDb::every_backend().await {
        let app = Arc::new(TestApp::on(db, 1000).await);
        catalog(&app).await;
        story(app).await;
    }
}

fn forbidden<T: std::fmt::Debug>(outcome: Result<T, ServiceError>) -> String {
    match outcome {
        Err(ServiceError::Forbidden { reason }) => reason,
        other => panic!("expected forbidden, got {other:?}"),
    }
}

/// A developer in team payments (which owns the catalog's services).
async fn payments_developer(app: &TestApp, name: &str) -> Principal {
    let (developer, _) = app.user(name, "developer").await;
    let mut team = app.tollgate.get_team(&app.admin, "payments").await.expect("payments");
    team.members.insert(developer.user.name.clone());
    let input = TeamInput {
        name: "payments".into(),
        members: team.members.iter().map(ToString::to_string).collect(),
        ..TeamInput::default()
    };
    app.tollgate.put_team(&app.admin, input, Upsert::Replace).await.expect("member");
    developer
}

async fn push(app: &TestApp, principal: &Principal, team: &str) -> Result<(), ServiceError> {
    let input =
        ArtifactInput { name: "mal".into(), version: "1.0.0".into(), team: team.into(), ..ArtifactInput::default() };
    let mut content: &[u8] = b"payload";
    app.tollgate.push_artifact(principal, input, AnnouncedDigest::Before(None), &mut content).await.map(drop)
}

#[tokio::test]
async fn a_member_of_another_team_cannot_push_under_it_nor_edit_it() {
    on_every_backend(|app| async move {
        let outsider = app.user("mallory", "member").await.0;
        let before = app.row_counts().await;
        let reason = forbidden(push(&app, &outsider, "payments").await);
        assert!(reason.contains("artifact.push on Team \"payments\""), "{reason}");
        let takeover = TeamInput { name: "payments".into(), members: vec!["mallory".into()], ..TeamInput::default() };
        forbidden(app.tollgate.put_team(&outsider, takeover, Upsert::Replace).await);
        let after = app.row_counts().await;
        // Nothing changed but the audited denials.
        assert_eq!(after["artifacts"], before["artifacts"]);
        assert_eq!(after["team_members"], before["team_members"]);
        let denials = app.tollgate.list_audit(&app.admin, 0, 1000).await.expect("audit");
        let denied: Vec<_> = denials
            .iter()
            .filter(|entry| String::from_utf8_lossy(&entry.body).contains("authz_decision.deny"))
            .collect();
        assert_eq!(denied.len(), 2, "push and team edit denials are audited");
        // A member of the team may.
        let developer = payments_developer(&app, "dana").await;
        push(&app, &developer, "payments").await.expect("pushed by a member");
    })
    .await;
}

#[tokio::test]
async fn only_an_admin_turns_prod_into_dev() {
    on_every_backend(|app| async move {
        let developer = payments_developer(&app, "dana").await;
        let demote = EnvironmentInput { name: "prod".into(), tier: "dev".into(), region: None };
        let reason = forbidden(app.tollgate.put_environment(&developer, demote.clone(), Upsert::Replace).await);
        assert!(reason.contains("environment.tier"), "{reason}");
        assert_eq!(app.tollgate.get_environment(&app.admin, "prod").await.expect("prod").tier.as_str(), "prod");
        app.tollgate.put_environment(&app.admin, demote, Upsert::Replace).await.expect("an admin may");
    })
    .await;
}

/// A release of `api@version` by `author`, frozen.
async fn authored_release(app: &TestApp, author: &Principal, version: &str) -> ReleaseRef {
    app.stock("payments", &[("api", version)]).await;
    let release =
        app.tollgate.create_release(author, release_input(version, &[("api", version)])).await.expect("created");
    let reference = ReleaseRef::Id(release.id);
    for action in [ReleaseAction::Plan, ReleaseAction::FreezeScope] {
        app.tollgate.transition_release(author, &reference, action, None).await.expect("transition");
    }
    reference
}

#[tokio::test]
async fn the_author_with_a_second_token_still_cannot_ship_to_prod() {
    on_every_backend(|app| async move {
        let (author, _) = app.user("ana", "developer,release_manager,deployer").await;
        let reference = authored_release(&app, &author, "3.0.0").await;
        forbidden(app.tollgate.transition_release(&author, &reference, ReleaseAction::MarkReady, None).await);
        // A second token is the same user.
        let second = app.tollgate.create_token(&author, "ana", "ci", None).await.expect("token");
        let again = app.tollgate.authenticate(second.secret.expose(), None).await.expect("authenticates");
        let reason =
            forbidden(app.tollgate.transition_release(&again, &reference, ReleaseAction::MarkReady, None).await);
        assert!(reason.contains("sod.author_does_not_ship_to_prod"), "{reason}");
        // Someone else marks it ready; the author still may not deploy it to prod.
        let shipper = app.shipper().await;
        app.tollgate.transition_release(&shipper, &reference, ReleaseAction::MarkReady, None).await.expect("ready");
        for environment in ["dev", "staging"] {
            app.tollgate.record_deployment(&author, &reference, environment, succeeded()).await.expect("non-prod");
        }
        app.approved_change(&reference, "prod").await;
        let reason = forbidden(app.tollgate.record_deployment(&again, &reference, "prod", succeeded()).await);
        assert!(reason.contains("sod.author_does_not_deploy_to_prod"), "{reason}");
        app.tollgate.record_deployment(&shipper, &reference, "prod", succeeded()).await.expect("someone else deploys");
    })
    .await;
}

fn succeeded() -> DeploymentInput {
    DeploymentInput { status: Some("succeeded".to_owned()), ..DeploymentInput::default() }
}

#[tokio::test]
async fn a_just_in_time_grant_lets_on_call_deploy_to_prod_until_it_expires() {
    on_every_backend(|app| async move {
        let (author, _) = app.user("ana", "developer").await;
        let reference = authored_release(&app, &author, "4.0.0").await;
        let shipper = app.shipper().await;
        app.tollgate.transition_release(&shipper, &reference, ReleaseAction::MarkReady, None).await.expect("ready");
        for environment in ["dev", "staging"] {
            app.tollgate.record_deployment(&shipper, &reference, environment, succeeded()).await.expect("deployed");
        }
        let (on_call, _) = app.user("olli", "developer").await;
        forbidden(app.tollgate.record_deployment(&on_call, &reference, "prod", succeeded()).await);

        // Nobody grants themselves; an admin grants on-call four hours with a reason.
        let grant = |user: &str| GrantInput {
            user: user.into(),
            role: "deployer".into(),
            environment: "prod".into(),
            seconds: 4 * 3600,
            reason: "incident 42: hotfix".into(),
        };
        forbidden(app.tollgate.grant(&app.admin, grant("admin")).await);
        let blank = GrantInput { reason: "  ".into(), ..grant("olli") };
        assert!(matches!(app.tollgate.grant(&app.admin, blank).await, Err(ServiceError::Invalid(_))));
        let granted = app.tollgate.grant(&app.admin, grant("olli")).await.expect("granted");

        // Expired by itself: no job runs, the clock passes it.
        app.clock.advance(jiff::SignedDuration::from_hours(4));
        let reason = forbidden(app.tollgate.record_deployment(&on_call, &reference, "prod", succeeded()).await);
        assert!(reason.contains("prod.deploy_by_deployer"), "{reason}");
        assert!(
            app.tollgate.list_grants(&app.admin).await.expect("grants").is_empty(),
            "expired grants are not listed"
        );

        // A fresh grant works, and is what the decision names.
        let again = app.tollgate.grant(&app.admin, grant("olli")).await.expect("granted");
        assert_ne!(again.id, granted.id);
        let check = CheckInput {
            principal: Some("olli".into()),
            action: "deploy".into(),
            resource: Some("prod".into()),
            release: Some(reference.to_string()),
            reason: None,
        };
        let decision = app.tollgate.check_authz(&app.admin, check).await.expect("checked");
        assert!(decision.allowed, "{}", decision.reason());
        assert_eq!(decision.grants, vec![again.id.0]);
        // Revoked, it stops at once.
        app.tollgate.revoke_grant(&app.admin, GrantId(again.id.0), Some("incident closed")).await.expect("revoked");
        forbidden(app.tollgate.record_deployment(&on_call, &reference, "prod", succeeded()).await);
    })
    .await;
}

#[tokio::test]
async fn user_policies_are_validated_versioned_and_enforced() {
    on_every_backend(|app| async move {
        let bad = PolicyFileRecord {
            name: "ops.cedar".into(),
            text: "@id(\"x\")\npermit (principal, action, resource)\n  when { resource.colour == \"red\" };".into(),
        };
        let invalid = app.tollgate.apply_authz_policies(&app.admin, vec![bad]).await;
        let message = invalid.map(drop).map_err(|error| error.to_string()).expect_err("invalid");
        assert!(message.contains("ops.cedar:3:"), "{message}");

        let freeze = PolicyFileRecord {
            name: "freeze.cedar".into(),
            text: "@id(\"no-team-edits\")\n@reason(\"teams are frozen this week\")\nforbid (principal, action == Tollgate::Action::\"team.edit\", resource);".into(),
        };
        let developer = payments_developer(&app, "dana").await;
        let applied = app.tollgate.apply_authz_policies(&app.admin, vec![freeze.clone()]).await.expect("applied");
        assert!(applied.changed);
        assert_eq!(applied.version.sha256.len(), 64);
        let unchanged = app.tollgate.apply_authz_policies(&app.admin, vec![freeze]).await.expect("applied");
        assert!(!unchanged.changed);
        assert_eq!(unchanged.version.sequence, applied.version.sequence);
        forbidden(app.tollgate.apply_authz_policies(&developer, Vec::new()).await);

        let edit = TeamInput {
            name: "payments".into(),
            display_name: Some("Payments".into()),
            members: vec!["dana".into()],
            ..TeamInput::default()
        };
        let reason = forbidden(app.tollgate.put_team(&developer, edit, Upsert::Replace).await);
        assert!(reason.contains("teams are frozen this week (no-team-edits)"), "{reason}");
        let (_, policies) = app.tollgate.list_authz_policies(&app.admin).await.expect("policies");
        assert!(policies.iter().any(|policy| policy.id == "no-team-edits"));
    })
    .await;
}

#[tokio::test]
async fn the_policy_overview_lists_others_grants_only_to_those_who_may_list_them() {
    on_every_backend(|app| async move {
        let grant = |user: &str| GrantInput {
            user: user.into(),
            role: "deployer".into(),
            environment: "prod".into(),
            seconds: 3600,
            reason: "on call".into(),
        };
        let (olli, _) = app.user("olli", "developer").await;
        let (pia, _) = app.user("pia", "developer").await;
        app.tollgate.grant(&app.admin, grant("olli")).await.expect("granted");
        app.tollgate.grant(&app.admin, grant("pia")).await.expect("granted");
        let users_of = |grants: &[tollgate_core::authz::JitGrant]| -> Vec<String> {
            let mut users: Vec<String> = grants.iter().map(|grant| grant.user.to_string()).collect();
            users.sort();
            users
        };
        let everyone = app.tollgate.policy_overview(&app.admin).await.expect("overview");
        assert_eq!(users_of(&everyone.grants), ["olli", "pia"]);
        // A developer may not list grants (jit.list): the page shows their own, as the API does.
        let own = app.tollgate.policy_overview(&olli).await.expect("overview");
        assert_eq!(users_of(&own.grants), ["olli"]);
        assert_eq!(users_of(&app.tollgate.list_grants(&pia).await.expect("grants")), ["pia"]);
    })
    .await;
}

#[tokio::test]
async fn reading_the_gate_policy_versions_is_authorized() {
    on_every_backend(|app| async move {
        let (vic, _) = app.user("vic", "viewer").await;
        app.tollgate.list_policy_versions(&vic, tollgate_core::Page::first(10)).await.expect("a viewer reads them");
        let no_reading = PolicyFileRecord {
            name: "quiet.cedar".into(),
            text: "@id(\"vic-reads-nothing\")\n@reason(\"vic is off the records\")\n\
                   forbid (principal == Tollgate::User::\"vic\", action == Tollgate::Action::\"read.records\", resource);"
                .into(),
        };
        app.tollgate.apply_authz_policies(&app.admin, vec![no_reading]).await.expect("applied");
        let reason = forbidden(app.tollgate.list_policy_versions(&vic, tollgate_core::Page::first(10)).await);
        assert!(reason.contains("vic-reads-nothing"), "{reason}");
    })
    .await;
}

#[tokio::test]
async fn a_user_policy_on_service_labels_judges_the_labels_of_a_releases_services() {
    on_every_backend(|app| async move {
        catalog(&app).await;
        let ledger = tollgate_core::service::ServiceInput {
            name: "ledger".into(),
            owner: "payments".into(),
            labels: vec!["pci".into()],
            ..tollgate_core::service::ServiceInput::default()
        };
        app.tollgate.put_service(&app.admin, ledger, Upsert::Replace).await.expect("labelled");
        let policy = PolicyFileRecord {
            name: "pci.cedar".into(),
            text: "@id(\"pci-deployers\")\n@reason(\"releases touching a pci service are deployed by the security team\")\n\
                   forbid (principal, action == Tollgate::Action::\"deploy\", resource)\n\
                   when { context has release && context.release.labels.contains(\"pci\") }\n\
                   unless { principal in Tollgate::Team::\"security\" };"
                .into(),
        };
        app.tollgate.apply_authz_policies(&app.admin, vec![policy]).await.expect("applied");
        let release = crate::release::ready_release(&app, "1.0.0", "minor").await;
        let shipper = app.shipper().await;
        let refused = app.tollgate.record_deployment(&shipper, &release, "dev", DeploymentInput::default()).await;
        let reason = forbidden(refused);
        assert!(reason.contains("(pci-deployers)"), "{reason}");
        let check = app.tollgate.check_deployment(&shipper, &release, "dev").await.expect("checked");
        assert!(check.refusals().iter().any(|refusal| refusal.contains("pci-deployers")), "{:?}", check.refusals());
    })
    .await;
}
