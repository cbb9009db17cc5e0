use tollgate_core::apply::ApplyInput;
use tollgate_core::deployment::{DeploymentInput, DeploymentStatus, Promotion};
use tollgate_core::environment::EnvironmentInput;
use tollgate_core::lifecycle::LifecycleInput;
use tollgate_core::release::{ReleaseAction, ReleaseState};
use tollgate_core::service::ServiceInput;
use tollgate_core::team::TeamInput;
use tollgate_service::apply::ApplyMode;
use tollgate_service::release::ReleaseRef;
use tollgate_service::ServiceError;
use tollgate_testkit::fixtures::{at, release_input};
use tollgate_testkit::TestApp;

pub(crate) async fn catalog(app: &TestApp) {
    let document = ApplyInput {
        teams: vec![TeamInput { name: "payments".to_owned(), ..TeamInput::default() }],
        environments: ["dev", "staging", "prod"]
            .iter()
            .map(|name| EnvironmentInput { name: name.to_string(), tier: name.to_string(), region: None })
            .collect(),
        lifecycles: vec![LifecycleInput {
            name: "default".to_owned(),
            environments: vec!["dev".to_owned(), "staging".to_owned(), "prod".to_owned()],
        }],
        services: ["api", "ledger"]
            .iter()
            .map(|name| ServiceInput {
                name: name.to_string(),
                owner: "payments".to_owned(),
                ..ServiceInput::default()
            })
            .collect(),
        gates: None,
        sso: None,
        changes: None,
    };
    app.tollgate.apply(&app.admin, document, ApplyMode::Apply).await.expect("the catalog applies");
}

pub(crate) fn succeeded() -> DeploymentInput {
    DeploymentInput { status: Some("succeeded".to_owned()), ..DeploymentInput::default() }
}

pub(crate) async fn ready_release(app: &TestApp, version: &str, release_type: &str) -> ReleaseRef {
    app.stock("payments", &[("api", version), ("ledger", version)]).await;
    let mut input = release_input(version, &[("api", version), ("ledger", version)]);
    input.release_type = release_type.to_owned();
    let release = app.tollgate.create_release(&app.admin, input).await.expect("created");
    let reference = ReleaseRef::Id(release.id);
    for action in [ReleaseAction::Plan, ReleaseAction::FreezeScope, ReleaseAction::MarkReady] {
        app.tollgate.transition_release(&app.shipper().await, &reference, action, None).await.expect("transition");
    }
    reference
}

#[tokio::test]
async fn a_release_is_promoted_through_its_lifecycle_into_the_register() {
    let app = TestApp::sqlite().await;
    catalog(&app).await;
    let first = ready_release(&app, "1.0.0", "minor").await;
    app.approved_change(&first, "prod").await;
    for environment in ["dev", "staging", "prod"] {
        app.tollgate.record_deployment(&app.shipper().await, &first, environment, succeeded()).await.expect("deployed");
        app.clock.advance(jiff::SignedDuration::from_hours(1));
    }
    let release = app.tollgate.get_release(&app.admin, &first).await.expect("release");
    assert_eq!(release.state, ReleaseState::Deployed);

    let second = ready_release(&app, "1.1.0", "minor").await;
    app.tollgate.record_deployment(&app.shipper().await, &second, "dev", succeeded()).await.expect("deployed");
    let skipping = app.tollgate.record_deployment(&app.shipper().await, &second, "prod", succeeded()).await;
    match skipping {
        Err(ServiceError::Promotion(errors)) => assert_eq!(
            errors.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["release 1.1.0 has not succeeded in staging, which comes before prod in lifecycle default"]
        ),
        other => panic!("expected a promotion error, got {other:?}"),
    }

    let register = app.tollgate.register(&app.admin, Some("prod"), None).await.expect("register");
    let versions: Vec<String> =
        register[0].services.iter().map(|s| format!("{}={}", s.service, s.artifact.version)).collect();
    assert_eq!(versions, ["api=1.0.0", "ledger=1.0.0"]);
    let dev_now = app.tollgate.register(&app.admin, Some("dev"), None).await.expect("register");
    assert_eq!(dev_now[0].services[0].release_version.to_string(), "1.1.0");
    let dev_before =
        app.tollgate.register(&app.admin, Some("dev"), Some(at("2026-03-01T12:30:00Z"))).await.expect("register");
    assert_eq!(dev_before[0].services[0].release_version.to_string(), "1.0.0");
}

#[tokio::test]
async fn an_emergency_release_skips_a_stage_and_is_flagged() {
    let app = TestApp::sqlite().await;
    catalog(&app).await;
    app.stock("payments", &[("api", "1.0.1")]).await;
    let input = release_input("1.0.1", &[("api", "1.0.1")]);
    let input = tollgate_core::release::ReleaseInput { release_type: "emergency".to_owned(), ..input };
    let release = app.tollgate.create_release(&app.admin, input).await.expect("created");
    let reference = ReleaseRef::Id(release.id);
    app.tollgate
        .transition_release(&app.shipper().await, &reference, ReleaseAction::MarkReady, None)
        .await
        .expect("fast track");
    // Straight to prod: the environment before it (staging) is skipped, and the record says so.
    app.approved_change(&reference, "prod").await;
    let deployment =
        app.tollgate.record_deployment(&app.shipper().await, &reference, "prod", succeeded()).await.expect("recorded");
    assert_eq!(
        deployment.promotion,
        Promotion::EmergencySkipped { skipped: tollgate_core::name::EnvironmentName::parse("staging").expect("name") }
    );
}

#[tokio::test]
async fn scope_cannot_change_once_frozen_and_unfreezing_is_audited() {
    let app = TestApp::sqlite().await;
    catalog(&app).await;
    let reference = ready_release(&app, "2.0.0", "major").await;
    let edit =
        app.tollgate.update_release(&app.admin, &reference, release_input("2.0.0", &[("api", "2.0.1")]), None).await;
    assert_eq!(
        edit.map(|_| ()).map_err(|e| e.to_string()),
        Err("scope is frozen: a release that is ready cannot change its content; unfreeze it first".to_owned())
    );
    let unfrozen = app
        .tollgate
        .transition_release(&app.shipper().await, &reference, ReleaseAction::UnfreezeScope, Some("PAY-9 must ship"))
        .await
        .expect("unfreeze");
    assert_eq!(unfrozen.state, ReleaseState::Planned);
    let edited = app
        .tollgate
        .update_release(&app.admin, &reference, release_input("2.0.0", &[("api", "2.0.1")]), Some(unfrozen.revision))
        .await
        .expect("edit after unfreeze");
    assert_ne!(edited.manifest_digest(), unfrozen.manifest_digest());

    let entries = app.tollgate.list_audit(&app.admin, 0, 1000).await.expect("audit");
    let unfreeze = entries
        .iter()
        .map(|entry| serde_json::from_slice::<serde_json::Value>(&entry.body).expect("json"))
        .find(|body| body["reason"] == "PAY-9 must ship")
        .expect("the unfreeze is in the audit log");
    assert_eq!(
        (unfreeze["action"].as_str(), unfreeze["after"]["state"].as_str()),
        (Some("release.transition"), Some("planned"))
    );
}

#[tokio::test]
async fn a_rolled_back_deployment_restores_the_previous_version_in_the_register() {
    let app = TestApp::sqlite().await;
    catalog(&app).await;
    let first = ready_release(&app, "1.0.0", "minor").await;
    app.tollgate.record_deployment(&app.shipper().await, &first, "dev", succeeded()).await.expect("deployed");
    app.clock.advance(jiff::SignedDuration::from_mins(10));
    let second = ready_release(&app, "1.1.0", "minor").await;
    let deployment =
        app.tollgate.record_deployment(&app.shipper().await, &second, "dev", succeeded()).await.expect("deployed");
    app.clock.advance(jiff::SignedDuration::from_mins(10));
    app.tollgate
        .finish_deployment(&app.shipper().await, deployment.id, DeploymentStatus::RolledBack)
        .await
        .expect("rolled back");
    let register = app.tollgate.register(&app.admin, Some("dev"), None).await.expect("register");
    assert_eq!(register[0].services[0].release_version.to_string(), "1.0.0");
}
