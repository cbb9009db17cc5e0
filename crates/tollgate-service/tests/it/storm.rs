//! Sixteen writers at once on PostgreSQL: release transitions, deployments and catalog edits
//! interleaved. Every audited write takes the audit head lock first, so nothing deadlocks, no
//! request is refused as unavailable, the chain is unbroken and every count is exact.

use std::sync::Arc;
use std::time::Duration;

use tollgate_core::deployment::DeploymentInput;
use tollgate_core::release::{ReleaseAction, ReleaseState};
use tollgate_core::team::TeamInput;
use tollgate_service::catalog::Upsert;
use tollgate_service::release::ReleaseRef;
use tollgate_service::Principal;
use tollgate_service::ServiceError;
use tollgate_testkit::fixtures::release_input;
use tollgate_testkit::{TestApp, TestDb};

use crate::release::catalog;

const N_RELEASE_WRITERS: usize = 8;
const N_CATALOG_WRITERS: usize = 8;
const TEAMS_PER_WRITER: usize = 5;

/// Audit entries one release writer appends: plan, freeze, ready, deploy to dev (the record and
/// the release's start), deploy to staging.
const ENTRIES_PER_RELEASE: i64 = 6;
/// Audit entries one catalog writer appends: each team created, then replaced.
const ENTRIES_PER_CATALOG_WRITER: i64 = 2 * TEAMS_PER_WRITER as i64;

async fn release_writer(app: Arc<TestApp>, shipper: Principal, version: String) -> Result<(), ServiceError> {
    let release = ReleaseRef::Version(version.parse().expect("a version"));
    for action in [ReleaseAction::Plan, ReleaseAction::FreezeScope, ReleaseAction::MarkReady] {
        app.tollgate.transition_release(&shipper, &release, action, None).await?;
    }
    for environment in ["dev", "staging"] {
        let succeeded = DeploymentInput { status: Some("succeeded".to_owned()), ..DeploymentInput::default() };
        app.tollgate.record_deployment(&shipper, &release, environment, succeeded).await?;
    }
    Ok(())
}

async fn catalog_writer(app: Arc<TestApp>, writer: usize) -> Result<(), ServiceError> {
    for n in 0..TEAMS_PER_WRITER {
        let name = format!("team-{writer}-{n}");
        let created = TeamInput { name: name.clone(), ..TeamInput::default() };
        app.tollgate.put_team(&app.admin, created, Upsert::Create).await?;
        let renamed = TeamInput { name, display_name: Some(format!("Team {writer}/{n}")), ..TeamInput::default() };
        app.tollgate.put_team(&app.admin, renamed, Upsert::Replace).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_writers_on_postgres_never_deadlock_and_keep_an_unbroken_chain() {
    let Some(db) = TestDb::postgres().await else {
        eprintln!("TOLLGATE_TEST_POSTGRES_URL is not set: the PostgreSQL writer storm needs PostgreSQL");
        return;
    };
    let app = Arc::new(TestApp::on(db, 25).await);
    catalog(&app).await;
    let versions: Vec<String> = (0..N_RELEASE_WRITERS).map(|n| format!("1.{n}.0")).collect();
    for version in &versions {
        app.stock("payments", &[("api", version)]).await;
        app.tollgate.create_release(&app.admin, release_input(version, &[("api", version)])).await.expect("created");
    }
    // Someone else than the author (the admin) ships the releases.
    let shipper = app.shipper().await;
    let before = app.row_counts().await;

    let mut writers = Vec::new();
    for version in versions.clone() {
        writers.push(tokio::spawn(release_writer(Arc::clone(&app), shipper.clone(), version)));
    }
    for writer in 0..N_CATALOG_WRITERS {
        writers.push(tokio::spawn(catalog_writer(Arc::clone(&app), writer)));
    }
    let all = futures_join(writers);
    let outcomes =
        tokio::time::timeout(Duration::from_secs(120), all).await.expect("no deadlock: every writer finished");
    for outcome in outcomes {
        outcome.expect("the writer did not panic").expect("no writer was refused (no 503, no conflict)");
    }

    let after = app.row_counts().await;
    let expected_entries =
        N_RELEASE_WRITERS as i64 * ENTRIES_PER_RELEASE + N_CATALOG_WRITERS as i64 * ENTRIES_PER_CATALOG_WRITER;
    assert_eq!(after["audit_entries"] - before["audit_entries"], expected_entries);
    assert_eq!(after["deployments"] - before["deployments"], 2 * N_RELEASE_WRITERS as i64);
    assert_eq!(after["teams"] - before["teams"], (N_CATALOG_WRITERS * TEAMS_PER_WRITER) as i64);
    for version in &versions {
        let release = ReleaseRef::Version(version.parse().expect("a version"));
        let state = app.tollgate.get_release(&app.admin, &release).await.expect("release").state;
        assert_eq!(state, ReleaseState::Deploying, "{version}");
    }
    let report = app.tollgate.verify_audit(&app.admin).await.expect("verified");
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.entries as i64, after["audit_entries"]);
}

/// Waits for every task, keeping their order.
async fn futures_join<T>(tasks: Vec<tokio::task::JoinHandle<T>>) -> Vec<Result<T, tokio::task::JoinError>> {
    let mut outcomes = Vec::with_capacity(tasks.len());
    for task in tasks {
        outcomes.push(task.await);
    }
    outcomes
}
