//! Edits slipped between a check and the write it allows, on every backend: each use case is
//! stopped at its hook point, another change lands, then it goes on. The check must not act on
//! what it did not see.

use std::sync::Arc;

use tollgate_core::artifact::ArtifactInput;
use tollgate_core::deployment::DeploymentInput;
use tollgate_core::release::{ReleaseAction, ReleaseState};
use tollgate_service::hooks::HookPoint;
use tollgate_service::release::ReleaseRef;
use tollgate_service::ServiceError;
use tollgate_testkit::fixtures::release_input;
use tollgate_testkit::{TestApp, TestDb};

use crate::release::catalog;

/// Runs `story` on a fresh application on SQLite and, when configured, PostgreSQL.
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

/// A release of `api@version` (stocked and signed) taken to scope-frozen.
async fn frozen_release(app: &TestApp, version: &str) -> ReleaseRef {
    app.stock("payments", &[("api", version)]).await;
    let release =
        app.tollgate.create_release(&app.admin, release_input(version, &[("api", version)])).await.expect("created");
    let reference = ReleaseRef::Id(release.id);
    for action in [ReleaseAction::Plan, ReleaseAction::FreezeScope] {
        app.tollgate.transition_release(&app.shipper().await, &reference, action, None).await.expect("transition");
    }
    reference
}

/// Unfreezes `release`, points it at `api@to` (pushed but never signed), and freezes it again.
async fn swap_content(app: &TestApp, release: &ReleaseRef, to: &str) {
    app.push_artifact("api", to, "payments", format!("api@{to}").as_bytes()).await;
    let admin = &app.admin;
    app.tollgate
        .transition_release(admin, release, ReleaseAction::UnfreezeScope, Some("late fix"))
        .await
        .expect("unfrozen");
    let current = app.tollgate.get_release(admin, release).await.expect("release");
    let input = release_input(&current.content.version.to_string(), &[("api", to)]);
    app.tollgate.update_release(admin, release, input, None).await.expect("edited");
    app.tollgate.transition_release(admin, release, ReleaseAction::FreezeScope, None).await.expect("frozen");
}

#[tokio::test]
async fn an_edit_between_the_readiness_check_and_its_write_is_refused() {
    on_every_backend(|app| async move {
        let release = frozen_release(&app, "1.0.0").await;
        let pause = app.tollgate.hooks().arm(HookPoint::AfterReadinessCheck);
        let marking = {
            let (app, release) = (Arc::clone(&app), release.clone());
            tokio::spawn(async move {
                app.tollgate.transition_release(&app.shipper().await, &release, ReleaseAction::MarkReady, None).await
            })
        };
        pause.reached().await;
        swap_content(&app, &release, "1.0.1").await;
        pause.resume();
        let outcome = marking.await.expect("the task ends");
        assert!(matches!(outcome, Err(ServiceError::ReleaseChanged { .. })), "{outcome:?}");
        let after = app.tollgate.get_release(&app.admin, &release).await.expect("release");
        assert_eq!(after.state, ReleaseState::ScopeFrozen, "unchecked content never became ready");
        // Checked again, the new content's missing signature is what refuses it.
        let again =
            app.tollgate.transition_release(&app.shipper().await, &release, ReleaseAction::MarkReady, None).await;
        assert!(matches!(again, Err(ServiceError::NotReady(_))), "{again:?}");
    })
    .await;
}

#[tokio::test]
async fn an_edit_between_the_deploy_check_and_its_write_is_refused() {
    on_every_backend(|app| async move {
        let release = frozen_release(&app, "2.0.0").await;
        app.tollgate
            .transition_release(&app.shipper().await, &release, ReleaseAction::MarkReady, None)
            .await
            .expect("ready");
        let before = app.row_counts().await;
        let pause = app.tollgate.hooks().arm(HookPoint::AfterReadinessCheck);
        let deploying = {
            let (app, release) = (Arc::clone(&app), release.clone());
            tokio::spawn(async move {
                let succeeded = DeploymentInput { status: Some("succeeded".to_owned()), ..DeploymentInput::default() };
                app.tollgate.record_deployment(&app.shipper().await, &release, "dev", succeeded).await
            })
        };
        pause.reached().await;
        swap_content(&app, &release, "2.0.1").await;
        let fixed = app.tollgate.find_artifact(&app.admin, "api", "2.0.1").await.expect("pushed");
        app.sign_artifact(&fixed).await;
        app.tollgate
            .transition_release(&app.shipper().await, &release, ReleaseAction::MarkReady, None)
            .await
            .expect("ready");
        pause.resume();
        let outcome = deploying.await.expect("the task ends");
        assert!(matches!(outcome, Err(ServiceError::ReleaseChanged { .. })), "{outcome:?}");
        let after = app.row_counts().await;
        assert_eq!(after["deployments"], before["deployments"], "nothing was deployed");
    })
    .await;
}

#[tokio::test]
async fn a_key_revoked_between_the_check_and_the_write_refuses_the_write() {
    on_every_backend(|app| async move {
        let release = frozen_release(&app, "3.0.0").await;
        let pause = app.tollgate.hooks().arm(HookPoint::AfterReadinessCheck);
        let marking = {
            let (app, release) = (Arc::clone(&app), release.clone());
            tokio::spawn(async move {
                app.tollgate.transition_release(&app.shipper().await, &release, ReleaseAction::MarkReady, None).await
            })
        };
        pause.reached().await;
        let keys = app.tollgate.list_keys(&app.admin).await.expect("keys");
        app.tollgate.revoke_key(&app.admin, keys[0].id).await.expect("revoked");
        pause.resume();
        let outcome = marking.await.expect("the task ends");
        let message = outcome.map(|_| ()).map_err(|e| e.to_string()).expect_err("refused");
        assert!(message.contains("has no valid signature from a trusted key"), "{message}");
    })
    .await;
}

#[tokio::test]
async fn collection_decides_again_and_keeps_what_a_release_came_to_need() {
    on_every_backend(|app| async move {
        for version in ["1.0.0", "1.0.1", "1.0.2"] {
            app.push_artifact("api", version, "payments", format!("api@{version}").as_bytes()).await;
            app.clock.advance(jiff::SignedDuration::from_mins(1));
        }
        app.tollgate.set_retention_policy(&app.admin, "name:api", Some(1), None).await.expect("policy");
        let pause = app.tollgate.hooks().arm(HookPoint::BeforeRemoval);
        let collecting = {
            let app = Arc::clone(&app);
            tokio::spawn(async move { app.tollgate.collect_garbage(&app.admin, false).await })
        };
        pause.reached().await;
        // Decided removable on the snapshot; a release now needs 1.0.0.
        app.tollgate.create_release(&app.admin, release_input("9.0.0", &[("api", "1.0.0")])).await.expect("created");
        pause.resume();
        let collection = collecting.await.expect("the task ends").expect("collected");
        let kept: Vec<String> = app
            .tollgate
            .list_artifacts(&app.admin, Some("api"))
            .await
            .expect("list")
            .iter()
            .map(|a| a.version.to_string())
            .collect();
        assert_eq!(kept, ["1.0.2", "1.0.0"], "1.0.1 went; 1.0.0 stayed for release 9.0.0");
        assert_eq!(collection.removed_blobs, 1);
        let stayed = collection.decisions.iter().find(|(artifact, _)| artifact.version.as_str() == "1.0.0");
        let (_, decision) = stayed.expect("1.0.0 was decided");
        assert!(decision.keep, "{decision:?}");
        let content = app.tollgate.find_artifact(&app.admin, "api", "1.0.0").await.expect("kept");
        app.blobs.verify(&content.digest).await.expect("its content is whole");
    })
    .await;
}

#[tokio::test]
async fn a_push_reusing_a_blob_never_points_at_a_removed_file() {
    on_every_backend(|app| async move {
        app.push_artifact("api", "1.0.0", "payments", b"shared build").await;
        app.clock.advance(jiff::SignedDuration::from_mins(1));
        app.push_artifact("api", "1.0.1", "payments", b"newer build").await;
        app.tollgate.set_retention_policy(&app.admin, "name:api", Some(1), None).await.expect("policy");

        // The row of api@1.0.0 is gone; before its blob goes, a push of the same content lands.
        let pause = app.tollgate.hooks().arm(HookPoint::BeforeBlobRemoval);
        let collecting = {
            let app = Arc::clone(&app);
            tokio::spawn(async move { app.tollgate.collect_garbage(&app.admin, false).await })
        };
        pause.reached().await;
        let copy = app.push_artifact("api-copy", "1.0.0", "payments", b"shared build").await;
        pause.resume();
        let collection = collecting.await.expect("the task ends").expect("collected");
        assert_eq!(collection.removed_blobs, 0, "the blob is referenced again");
        app.blobs.verify(&copy.digest).await.expect("the copy's content is there");

        // The other order: a push whose content is written but not yet recorded, while
        // collection removes the only artifact with that content and its blob.
        app.tollgate.set_retention_policy(&app.admin, "name:api-copy", Some(1), None).await.expect("policy");
        app.clock.advance(jiff::SignedDuration::from_mins(1));
        app.push_artifact("api-copy", "1.0.1", "payments", b"another build").await;
        let pause = app.tollgate.hooks().arm(HookPoint::BeforePushCommit);
        let pushing = {
            let app = Arc::clone(&app);
            tokio::spawn(async move {
                let input = ArtifactInput {
                    name: "api-third".to_owned(),
                    version: "1.0.0".to_owned(),
                    team: "payments".to_owned(),
                    ..ArtifactInput::default()
                };
                let mut content: &[u8] = b"shared build";
                app.tollgate
                    .push_artifact(
                        &app.admin,
                        input,
                        tollgate_service::artifact::AnnouncedDigest::Before(None),
                        &mut content,
                    )
                    .await
            })
        };
        pause.reached().await;
        let collection = app.tollgate.collect_garbage(&app.admin, false).await.expect("collected");
        assert_eq!(collection.removed_blobs, 1, "api-copy@1.0.0 and its blob went");
        assert!(!app.blobs.exists(&copy.digest).await);
        pause.resume();
        let third = pushing.await.expect("the task ends").expect("pushed").artifact;
        app.blobs.verify(&third.digest).await.expect("the push put its content in place");
    })
    .await;
}

#[tokio::test]
async fn a_removed_name_and_version_never_come_back_with_other_content() {
    on_every_backend(|app| async move {
        app.push_artifact("api", "1.0.0", "payments", b"original").await;
        app.clock.advance(jiff::SignedDuration::from_mins(1));
        app.push_artifact("api", "1.0.1", "payments", b"newer").await;
        app.tollgate.set_retention_policy(&app.admin, "name:api", Some(1), None).await.expect("policy");
        app.tollgate.collect_garbage(&app.admin, false).await.expect("collected");
        assert!(app.tollgate.find_artifact(&app.admin, "api", "1.0.0").await.is_err(), "removed");

        let input = || ArtifactInput {
            name: "api".to_owned(),
            version: "1.0.0".to_owned(),
            team: "payments".to_owned(),
            ..ArtifactInput::default()
        };
        let blobs_before = app.blobs.list().await.expect("blobs").len();
        let mut other: &[u8] = b"impostor";
        let refused = app
            .tollgate
            .push_artifact(&app.admin, input(), tollgate_service::artifact::AnnouncedDigest::Before(None), &mut other)
            .await;
        let message = refused.map(|_| ()).map_err(|e| e.to_string()).expect_err("refused");
        assert!(message.contains("(removed, and kept as a tombstone)"), "{message}");
        assert_eq!(app.blobs.list().await.expect("blobs").len(), blobs_before, "a refused push leaves no blob");
        let mut same: &[u8] = b"original";
        let restored = app
            .tollgate
            .push_artifact(&app.admin, input(), tollgate_service::artifact::AnnouncedDigest::Before(None), &mut same)
            .await
            .expect("restored");
        assert!(restored.created);
    })
    .await;
}
