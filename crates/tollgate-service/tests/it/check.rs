//! `check_deployment` on every backend: every precondition judged at once and explained, what
//! it allows is what recording then accepts, and asking writes nothing (not even an audit
//! entry for a denied `deploy`).

use std::sync::Arc;

use serde_json::json;
use tollgate_core::apply::ApplyInput;
use tollgate_core::calendar::PeriodInput;
use tollgate_core::deployment::{DeploymentCheck, Precondition};
use tollgate_core::gate::{EnvironmentGatesInput, GateInput, GatesInput};
use tollgate_service::apply::ApplyMode;
use tollgate_service::gate::Evaluation;
use tollgate_testkit::{TestApp, TestDb};

use crate::release::{catalog, ready_release, succeeded};

/// (precondition, passed) of each result, in order.
fn verdicts(check: &DeploymentCheck) -> Vec<(Precondition, bool)> {
    check.results.iter().map(|result| (result.precondition, result.passed)).collect()
}

fn reasons(check: &DeploymentCheck, precondition: Precondition) -> String {
    let result = check.results.iter().find(|result| result.precondition == precondition).expect("judged");
    result.reasons.join(" | ")
}

#[tokio::test]
async fn a_check_judges_every_precondition_explains_each_refusal_and_writes_nothing() {
    for db in TestDb::every_backend().await {
        let app = Arc::new(TestApp::on(db, 1000).await);
        catalog(&app).await;
        let gates = GatesInput {
            environments: vec![EnvironmentGatesInput {
                environment: "prod".into(),
                gates: vec![GateInput {
                    builtin: Some("signed_artifacts".into()),
                    with: Some(json!({})),
                    ..Default::default()
                }],
            }],
            modules: vec![],
        };
        let document = ApplyInput { gates: Some(gates), ..ApplyInput::default() };
        app.tollgate.apply(&app.admin, document, ApplyMode::Apply).await.expect("gates");
        let release = ready_release(&app, "1.0.0", "minor").await;
        let shipper = app.shipper().await;
        app.tollgate.record_deployment(&shipper, &release, "dev", succeeded()).await.expect("dev");
        let freeze = PeriodInput {
            name: "Incident freeze".into(),
            kind: "freeze".into(),
            scope: Some("environment:prod".into()),
            tzid: "UTC".into(),
            start: "2026-03-01T00:00".into(),
            length: "P1D".into(),
            ..PeriodInput::default()
        };
        app.tollgate.put_calendar_period(&app.admin, "incident", freeze).await.expect("freeze");
        let (developer, _) = app.user("dana", "developer").await;

        let before = app.row_counts().await;
        let check = app.tollgate.check_deployment(&developer, &release, "prod").await.expect("checked");
        assert_eq!(app.row_counts().await, before, "a check writes nothing");
        assert!(!check.allowed);
        assert_eq!(
            verdicts(&check),
            [
                (Precondition::Authorization, false),
                (Precondition::Promotion, false),
                (Precondition::Artifacts, true),
                (Precondition::Gates, false),
                (Precondition::Window, false),
                (Precondition::Change, false),
                (Precondition::Lock, true),
                (Precondition::Quarantine, true),
                (Precondition::RollbackTested, true),
            ]
        );
        assert!(reasons(&check, Precondition::Authorization).contains("deploy"), "{check:#?}");
        assert!(reasons(&check, Precondition::Promotion).contains("staging"), "{check:#?}");
        assert!(reasons(&check, Precondition::Gates).contains("have not been evaluated"), "{check:#?}");
        assert!(reasons(&check, Precondition::Window).contains("Incident freeze"), "{check:#?}");
        assert!(reasons(&check, Precondition::Change).contains("approved change request"), "{check:#?}");
        assert_eq!(check.refusals().len(), 5, "{:#?}", check.refusals());

        // Meet each precondition: staging, the gates, the freeze lifted, an approved change.
        app.tollgate.record_deployment(&shipper, &release, "staging", succeeded()).await.expect("staging");
        app.tollgate.evaluate_gates(&app.admin, &release, "prod", Evaluation::Record).await.expect("evaluated");
        app.tollgate.delete_calendar_period(&app.admin, "incident").await.expect("lifted");
        app.approved_change(&release, "prod").await;
        let check = app.tollgate.check_deployment(&shipper, &release, "prod").await.expect("checked");
        assert!(check.allowed, "{:#?}", check.refusals());
        // The developer still may not deploy there: only that is refused now.
        let check = app.tollgate.check_deployment(&developer, &release, "prod").await.expect("checked");
        assert_eq!(check.refusals().len(), 1, "{:#?}", check.refusals());
        // What the check allowed, recording accepts.
        app.tollgate.record_deployment(&shipper, &release, "prod", succeeded()).await.expect("deployed");
    }
}

#[tokio::test]
async fn a_check_hashes_the_artifacts_as_a_deployment_would() {
    for db in TestDb::every_backend().await {
        let app = TestApp::on(db, 1000).await;
        catalog(&app).await;
        let release = ready_release(&app, "1.0.0", "minor").await;
        let api = app.tollgate.find_artifact(&app.admin, "api", "1.0.0").await.expect("api");
        std::fs::write(app.blobs.path(&api.digest), b"api@1.0.0 with a backdoor").expect("tampered");
        let check = app.tollgate.check_deployment(&app.shipper().await, &release, "dev").await.expect("checked");
        assert!(!check.allowed);
        let artifacts = reasons(&check, Precondition::Artifacts);
        assert!(artifacts.contains("api@1.0.0"), "{check:#?}");
        assert_eq!(check.refusals().len(), 1, "only the artifacts: {:#?}", check.refusals());
    }
}
