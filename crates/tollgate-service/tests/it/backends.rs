//! The main story once per backend: every query a use case issues also runs on PostgreSQL.

use tollgate_core::deployment::DeploymentInput;
use tollgate_core::release::{ReleaseAction, ReleaseState};
use tollgate_core::team::TeamInput;
use tollgate_core::Page;
use tollgate_service::catalog::Upsert;
use tollgate_service::release::ReleaseRef;
use tollgate_service::ServiceError;
use tollgate_testkit::fixtures::release_input;
use tollgate_testkit::{TestApp, TestDb};

use crate::release::catalog;

#[tokio::test]
async fn the_main_story_runs_on_every_backend() {
    for db in TestDb::every_backend().await {
        let backend = db.backend_name();
        let app = TestApp::on(db, 4).await;
        catalog(&app).await;
        let (member, token) = app.user("bo", "member").await;
        let tokens = app.tollgate.list_tokens(&member).await.expect("tokens");
        assert_eq!(tokens.len(), 1, "{backend}");
        assert_eq!(app.tollgate.list_tokens(&app.admin).await.expect("tokens").len(), 2, "{backend}");
        app.tollgate
            .put_team(
                &member,
                TeamInput { name: "ops".to_owned(), members: vec!["bo".to_owned()], ..TeamInput::default() },
                Upsert::Create,
            )
            .await
            .expect("team");

        app.stock("payments", &[("api", "1.0.0")]).await;
        let release =
            app.tollgate.create_release(&member, release_input("1.0.0", &[("api", "1.0.0")])).await.expect("release");
        let reference = ReleaseRef::Version(release.content.version.clone());
        for action in [ReleaseAction::Plan, ReleaseAction::FreezeScope] {
            app.tollgate.transition_release(&member, &reference, action, None).await.expect("transition");
        }
        // Its author does not ship it to prod: someone else marks it ready and deploys it.
        let own = app.tollgate.transition_release(&member, &reference, ReleaseAction::MarkReady, None).await;
        assert!(matches!(own, Err(ServiceError::Forbidden { .. })), "{backend}: {own:?}");
        let shipper = app.shipper().await;
        app.tollgate.transition_release(&shipper, &reference, ReleaseAction::MarkReady, None).await.expect("ready");
        app.approved_change(&reference, "prod").await;
        for environment in ["dev", "staging", "prod"] {
            let input = DeploymentInput { status: Some("succeeded".to_owned()), ..DeploymentInput::default() };
            app.tollgate.record_deployment(&shipper, &reference, environment, input).await.expect("deployment");
        }
        let deployed = app.tollgate.get_release(&member, &reference).await.expect("release");
        assert_eq!(deployed.state, ReleaseState::Deployed, "{backend}");
        let register = app.tollgate.register(&member, Some("prod"), None).await.expect("register");
        assert_eq!(register[0].services.len(), 1, "{backend}");
        let history = app
            .tollgate
            .list_deployments(&member, Some("dev"), Some(&reference), Page::first(10))
            .await
            .expect("history");
        assert_eq!(history.len(), 1, "{backend}");
        app.tollgate.revoke_token(&member, tokens[0].id).await.expect("revoked");
        assert!(app.tollgate.authenticate(&token, None).await.is_err(), "{backend}");

        let junit = include_bytes!("../../../tollgate-evidence/tests/fixtures/nextest-tollgate-core.junit.xml");
        let evidence = app
            .tollgate
            .upload_evidence(&member, &reference, Some("api"), "junit", &mut &junit[..])
            .await
            .expect("evidence");
        assert_eq!(
            app.tollgate.list_evidence(&member, &reference).await.expect("list")[0].id,
            evidence.id,
            "{backend}"
        );
        app.tollgate.set_retention_policy(&app.admin, "team:payments", Some(1), Some(30)).await.expect("policy");
        app.tollgate.set_retention_policy(&app.admin, "team:payments", Some(2), None).await.expect("replaced");
        assert_eq!(app.tollgate.list_retention_policies(&app.admin).await.expect("policies").len(), 1, "{backend}");
        app.tollgate.hold(&app.admin, "sox-2026", "audit").await.expect("hold");
        let collection = app.tollgate.collect_garbage(&app.admin, true).await.expect("dry run");
        assert!(
            collection.decisions.iter().all(|(_, decision)| decision.keep),
            "{backend}: the deployed artifact is kept"
        );
        let report = app.tollgate.verify_audit(&app.admin).await.expect("verify");
        assert!(report.is_ok() && report.checkpoints_verified > 0, "{backend}: {report}");
        let export = app.tollgate.start_audit_export(&app.admin).await.expect("export");
        assert_eq!(export.head, report.entries, "{backend}: a checkpoint is not an entry");
        assert!(
            export.checkpoints.iter().any(|c| c.tree_size == export.head),
            "{backend}: the export is signed to its head"
        );
    }
}
