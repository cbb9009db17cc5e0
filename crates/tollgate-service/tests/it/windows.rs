//! Deployment windows where deployments are recorded, on every backend: a closed window refuses
//! with every reason and writes nothing; an emergency release or a deployer breaking glass with a
//! reason goes through, audited as an override; the window is judged at the deployment's start;
//! a freeze added between the deployment's checks and its write refuses it.

use std::sync::Arc;

use serde_json::json;
use tollgate_core::calendar::PeriodInput;
use tollgate_core::deployment::DeploymentInput;
use tollgate_service::hooks::HookPoint;
use tollgate_service::release::ReleaseRef;
use tollgate_service::ServiceError;
use tollgate_testkit::{TestApp, TestDb};

use crate::calendar::{at, window};
use crate::release::{catalog, ready_release, succeeded};

/// The calendar tests' freeze of the three days from 30 March in New York, on prod only.
fn freeze() -> PeriodInput {
    PeriodInput { scope: Some("environment:prod".into()), ..crate::calendar::freeze() }
}

const FREEZE_REASON: &str = "freeze \"Quarter close\" is in force from 2026-03-30T00:00:00 to 2026-04-02T00:00:00 \
     America/New_York (2026-03-30T04:00:00Z to 2026-04-02T04:00:00Z UTC)";

/// The catalog, prod's window and freeze, and a ready release of `type` (deployed to dev and
/// staging unless it is an emergency), at `now`.
async fn with_calendar<F, Fut>(now: &str, release_type: &'static str, story: F)
where
    F: Fn(Arc<TestApp>, ReleaseRef) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for db in TestDb::every_backend().await {
        let app = Arc::new(TestApp::on(db, 1000).await);
        catalog(&app).await;
        app.tollgate.put_calendar_period(&app.admin, "weekdays", window()).await.expect("window");
        app.tollgate.put_calendar_period(&app.admin, "quarter-close", freeze()).await.expect("freeze");
        app.clock.set(at(now));
        let release = ready_release(&app, "1.0.0", release_type).await;
        if release_type != "emergency" {
            for environment in ["dev", "staging"] {
                let shipper = app.shipper().await;
                let deployed = app.tollgate.record_deployment(&shipper, &release, environment, succeeded()).await;
                deployed.expect("dev and staging have no periods");
            }
        }
        app.approved_change(&release, "prod").await;
        story(app, release).await;
    }
}

fn breaking_glass(reason: &str) -> DeploymentInput {
    DeploymentInput { override_window: Some(reason.to_owned()), ..succeeded() }
}

/// The audit entries `deployment.override`, as JSON.
async fn window_overrides(app: &TestApp) -> Vec<serde_json::Value> {
    let entries = app.tollgate.list_audit(&app.admin, 0, 1000).await.expect("audit");
    entries
        .iter()
        .map(|entry| serde_json::from_slice::<serde_json::Value>(&entry.body).expect("json"))
        .filter(|body| body["action"] == "deployment.override")
        .collect()
}

#[tokio::test]
async fn a_deployment_into_a_closed_window_is_refused_with_every_reason_and_writes_nothing() {
    // Tuesday 31 March, 20:00 Berlin: after the window closed, inside the freeze.
    with_calendar("2026-03-31T18:00:00Z", "minor", |app, release| async move {
        let shipper = app.shipper().await;
        let before = app.row_counts().await;
        let refused = app.tollgate.record_deployment(&shipper, &release, "prod", succeeded()).await;
        let Err(ServiceError::WindowClosed(window)) = refused else {
            panic!("expected window_closed, got {refused:?}")
        };
        assert_eq!(
            window.reasons(),
            [
                FREEZE_REASON.to_owned(),
                "no deployment window of prod is open at 2026-03-31T18:00:00Z; the next opens at 2026-04-02T08:00:00Z"
                    .to_owned()
            ]
        );
        assert_eq!(app.row_counts().await, before, "a refused deployment writes nothing");

        // A blank reason breaks no glass: the field is named and nothing changes.
        let blank = app.tollgate.record_deployment(&shipper, &release, "prod", breaking_glass("  ")).await;
        let Err(ServiceError::Invalid(violations)) = blank else {
            panic!("expected a validation error, got {blank:?}")
        };
        assert_eq!(violations.to_string(), "override_window: a reason is required");
        assert_eq!(app.row_counts().await, before);
    })
    .await;
}

#[tokio::test]
async fn a_deployer_breaks_glass_with_a_reason_and_the_override_is_audited() {
    with_calendar("2026-03-31T18:00:00Z", "minor", |app, release| async move {
        let reason = "the ledger double-books refunds; fix agreed with the CAB chair";
        let deployment = app
            .tollgate
            .record_deployment(&app.shipper().await, &release, "prod", breaking_glass(reason))
            .await
            .expect("glass broken");
        let object = json!({ "kind": "deployment", "id": deployment.id.0.to_string() });
        let overrides = window_overrides(&app).await;
        assert_eq!(overrides.len(), 1, "{overrides:?}");
        assert_eq!(
            overrides[0]["after"],
            json!({
                "environment": "prod",
                "at": "2026-03-31T18:00:00Z",
                "closed_because": [
                    FREEZE_REASON,
                    "no deployment window of prod is open at 2026-03-31T18:00:00Z; the next opens at 2026-04-02T08:00:00Z"
                ],
                "kind": "break_glass",
                "reason": reason,
            })
        );
        assert_eq!(overrides[0]["object"], object, "the entry is about the deployment");
        assert_eq!(overrides[0]["reason"], reason);
        assert_eq!(overrides[0]["actor"], "shipper");
    })
    .await;
}

#[tokio::test]
async fn an_emergency_release_deploys_through_a_freeze_and_says_so_in_the_log() {
    with_calendar("2026-03-31T08:30:00Z", "emergency", |app, release| async move {
        // Inside the window, but the freeze is in force.
        app.tollgate
            .record_deployment(&app.shipper().await, &release, "prod", succeeded())
            .await
            .expect("an emergency is not held back by a freeze");
        let overrides = window_overrides(&app).await;
        assert_eq!(overrides.len(), 1, "{overrides:?}");
        assert_eq!(overrides[0]["after"]["kind"], "emergency");
        assert_eq!(overrides[0]["after"]["closed_because"], json!([FREEZE_REASON]));
        assert_eq!(overrides[0]["reason"], serde_json::Value::Null);
    })
    .await;
}

#[tokio::test]
async fn the_window_is_judged_at_the_deployments_start() {
    // Saturday 4 April: closed. A deployment that started on Thursday inside the window is
    // recorded after the fact; one that started inside the freeze is refused.
    with_calendar("2026-04-04T12:00:00Z", "minor", |app, release| async move {
        let in_freeze = DeploymentInput {
            started_at: Some("2026-03-31T08:30:00Z".into()),
            finished_at: Some("2026-03-31T09:00:00Z".into()),
            ..succeeded()
        };
        let refused = app.tollgate.record_deployment(&app.shipper().await, &release, "prod", in_freeze).await;
        let Err(ServiceError::WindowClosed(window)) = refused else {
            panic!("expected window_closed, got {refused:?}")
        };
        assert_eq!(window.at, at("2026-03-31T08:30:00Z"));
        let in_window = DeploymentInput {
            started_at: Some("2026-04-02T09:00:00Z".into()),
            finished_at: Some("2026-04-02T09:20:00Z".into()),
            ..succeeded()
        };
        app.tollgate
            .record_deployment(&app.shipper().await, &release, "prod", in_window)
            .await
            .expect("it started inside Thursday's window");
        assert!(window_overrides(&app).await.is_empty(), "nothing was overridden");
    })
    .await;
}

#[tokio::test]
async fn a_freeze_added_between_the_checks_and_the_write_refuses_the_deployment() {
    // Thursday 2 April, 11:00 Berlin: the window is open and no freeze is in force.
    with_calendar("2026-04-02T09:00:00Z", "minor", |app, release| async move {
        let pause = app.tollgate.hooks().arm(HookPoint::AfterReadinessCheck);
        let deploying = {
            let (app, release) = (Arc::clone(&app), release.clone());
            tokio::spawn(async move {
                app.tollgate.record_deployment(&app.shipper().await, &release, "prod", succeeded()).await
            })
        };
        pause.reached().await;
        let emergency_freeze = PeriodInput {
            name: "Incident freeze".into(),
            start: "2026-04-02T10:30".into(),
            tzid: "Europe/Berlin".into(),
            length: "PT4H".into(),
            ..freeze()
        };
        app.tollgate.put_calendar_period(&app.admin, "incident", emergency_freeze).await.expect("freeze");
        let deployments = app.row_counts().await["deployments"];
        pause.resume();
        let outcome = deploying.await.expect("the task ends");
        let Err(ServiceError::WindowClosed(window)) = outcome else {
            panic!("expected window_closed, got {outcome:?}")
        };
        assert_eq!(window.denied_by.len(), 1, "{window:?}");
        assert_eq!(window.denied_by[0].name, "Incident freeze");
        assert_eq!(app.row_counts().await["deployments"], deployments, "nothing was recorded");
    })
    .await;
}
