//! Leases on every backend: one deployment per environment and service at a time; a holder
//! that stops renewing is taken over and fenced off; a refusal explains every reason and writes
//! nothing; concurrent acquirers get one lease.

use std::sync::Arc;

use jiff::SignedDuration;
use tollgate_core::deployment::{DeploymentInput, DeploymentStatus};
use tollgate_core::lease::{LeaseError, LeaseState, LeaseTtl};
use tollgate_service::lease::AcquireLease;
use tollgate_service::release::ReleaseRef;
use tollgate_service::{Clock, ServiceError};
use tollgate_testkit::{TestApp, TestDb};

use crate::release::{catalog, ready_release, succeeded};

fn lease_for(seconds: i64) -> AcquireLease {
    AcquireLease { ttl: Some(LeaseTtl::from_seconds(seconds).expect("a ttl")), override_window: None }
}

/// The audit entries about leases, in order.
async fn lease_records(app: &TestApp) -> Vec<serde_json::Value> {
    let entries = app.tollgate.list_audit(&app.admin, 0, 10_000).await.expect("entries");
    entries
        .iter()
        .map(|entry| serde_json::from_slice::<serde_json::Value>(&entry.body).expect("an audit record"))
        .filter(|record| record["object"]["kind"] == "lease")
        .collect()
}

/// The action and object of each audit entry about leases, in order.
async fn lease_actions(app: &TestApp) -> Vec<String> {
    let records = lease_records(app).await;
    records.iter().map(|record| format!("{} {}", record["action"], record["object"]["id"]).replace('"', "")).collect()
}

#[tokio::test]
async fn a_lease_locks_the_services_until_its_outcome_is_reported() {
    for db in TestDb::every_backend().await {
        let app = TestApp::on(db, 1000).await;
        catalog(&app).await;
        let first = ready_release(&app, "1.0.0", "minor").await;
        let second = ready_release(&app, "1.1.0", "minor").await;
        let shipper = app.shipper().await;

        let held = app.tollgate.acquire_lease(&shipper, &first, "dev", lease_for(300)).await.expect("acquired");
        assert_eq!(held.deployment.status, DeploymentStatus::Running);
        assert_eq!(held.lease.deployment, held.deployment.id);
        assert_eq!(held.lease.epoch, 1);
        assert_eq!(held.lease.holder, shipper.user.name);
        let services: Vec<&str> = held.lease.services.iter().map(|service| service.as_str()).collect();
        assert_eq!(services, ["api", "ledger"]);
        assert_eq!(held.lease.expires_at, app.clock.now() + SignedDuration::from_secs(300));

        // Another deployment of those services in dev is refused, naming the holder, and
        // nothing is written: neither by a second lease nor by recording a running deployment.
        let before = app.row_counts().await;
        let refused = app.tollgate.acquire_lease(&shipper, &second, "dev", AcquireLease::default()).await;
        let Err(ServiceError::DeploymentRefused(check)) = refused else { panic!("not refused: {refused:?}") };
        assert_eq!(check.refusals().len(), 2, "{:#?}", check.refusals());
        let message = &check.refusals()[0];
        assert!(message.starts_with("lock: api in dev is locked by deployment"), "{message}");
        assert!(message.contains(&format!("deployment {}", held.deployment.id)), "{message}");
        assert!(message.contains("epoch 1"), "{message}");
        // Recording a running deployment is refused by the lock too, judged in its transaction.
        let recorded = app.tollgate.record_deployment(&shipper, &second, "dev", DeploymentInput::default()).await;
        let Err(ServiceError::LeaseHeld(conflicts)) = recorded else { panic!("not refused: {recorded:?}") };
        assert_eq!(conflicts.len(), 2, "{conflicts:?}");
        assert_eq!(app.row_counts().await, before, "a refused deployment writes nothing");

        // Renewal needs the lease's epoch and extends from now.
        app.clock.advance(SignedDuration::from_secs(200));
        let wrong = app.tollgate.renew_lease(&shipper, held.deployment.id, 2, None).await;
        assert!(matches!(wrong, Err(ServiceError::LeaseLost(LeaseError::WrongEpoch { .. }))), "{wrong:?}");
        let renewed = app.tollgate.renew_lease(&shipper, held.deployment.id, 1, None).await.expect("renewed");
        assert_eq!(renewed.expires_at, app.clock.now() + SignedDuration::from_secs(300));
        app.clock.advance(SignedDuration::from_secs(200));
        let listed = app.tollgate.list_leases(&shipper, Some("dev")).await.expect("listed");
        assert_eq!(listed, vec![renewed.clone()], "still held after its first expiry");

        // Reporting the outcome finishes the deployment and frees the services.
        let reported = app
            .tollgate
            .report_lease(&shipper, held.deployment.id, 1, DeploymentStatus::Succeeded)
            .await
            .expect("reported");
        assert_eq!(reported.deployment.status, DeploymentStatus::Succeeded);
        assert_eq!(reported.lease.state(app.clock.now()), LeaseState::Released);
        assert!(app.tollgate.list_leases(&shipper, None).await.expect("listed").is_empty());
        let register = app.tollgate.register(&shipper, Some("dev"), None).await.expect("register");
        assert!(register[0].services.iter().all(|service| service.deployment == held.deployment.id));
        let again = app.tollgate.report_lease(&shipper, held.deployment.id, 1, DeploymentStatus::Failed).await;
        assert!(matches!(again, Err(ServiceError::LeaseLost(LeaseError::Released { .. }))), "{again:?}");

        // The next lease in dev has a greater epoch.
        let next = app.tollgate.acquire_lease(&shipper, &second, "dev", AcquireLease::default()).await.expect("next");
        assert_eq!(next.lease.epoch, 2);
        assert_eq!(next.lease.ttl, LeaseTtl::DEFAULT);
        let first_id = held.deployment.id;
        assert_eq!(
            lease_actions(&app).await,
            [
                format!("lease.acquire {first_id}"),
                format!("lease.renew {first_id}"),
                format!("lease.release {first_id}"),
                format!("lease.acquire {}", next.deployment.id),
            ]
        );
    }
}

#[tokio::test]
async fn an_expired_lease_is_taken_over_and_its_holder_fenced_off() {
    for db in TestDb::every_backend().await {
        let app = TestApp::on(db, 1000).await;
        catalog(&app).await;
        let first = ready_release(&app, "1.0.0", "minor").await;
        let second = ready_release(&app, "1.1.0", "minor").await;
        let shipper = app.shipper().await;
        let stalled = app.tollgate.acquire_lease(&shipper, &first, "dev", lease_for(60)).await.expect("acquired");
        let stalled_id = stalled.deployment.id;

        // The holder stops renewing (a CI job killed, a paused process) past its expiry.
        app.clock.advance(SignedDuration::from_secs(60));
        let late = app.tollgate.renew_lease(&shipper, stalled_id, 1, None).await;
        assert!(matches!(late, Err(ServiceError::LeaseLost(LeaseError::Expired { .. }))), "{late:?}");
        let listed = app.tollgate.list_leases(&shipper, Some("dev")).await.expect("listed");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].state(app.clock.now()), LeaseState::Expired);

        // The next deployment takes the services over; the stalled deployment is recorded as
        // failed, with the reason on record.
        let taker = app.tollgate.acquire_lease(&shipper, &second, "dev", AcquireLease::default()).await.expect("taken");
        assert_eq!(taker.lease.epoch, 2);
        let failed = app.tollgate.get_deployment(&shipper, stalled_id).await.expect("found");
        assert_eq!(failed.status, DeploymentStatus::Failed);
        let old = app.tollgate.get_lease(&shipper, stalled_id).await.expect("kept");
        assert_eq!(old.state(app.clock.now()), LeaseState::Released);
        let listed = app.tollgate.list_leases(&shipper, None).await.expect("listed");
        assert_eq!(listed.iter().map(|lease| lease.deployment).collect::<Vec<_>>(), [taker.deployment.id]);

        // The stalled holder wakes up: whatever it reports is refused and changes nothing.
        let before = app.row_counts().await;
        let woke = app.tollgate.report_lease(&shipper, stalled_id, 1, DeploymentStatus::Succeeded).await;
        assert!(matches!(woke, Err(ServiceError::LeaseLost(_))), "{woke:?}");
        let renewed = app.tollgate.renew_lease(&shipper, stalled_id, 1, None).await;
        assert!(matches!(renewed, Err(ServiceError::LeaseLost(_))), "{renewed:?}");
        assert_eq!(app.row_counts().await, before);
        assert_eq!(
            app.tollgate.get_deployment(&shipper, stalled_id).await.expect("found").status,
            DeploymentStatus::Failed
        );
        let register = app.tollgate.register(&shipper, Some("dev"), None).await.expect("register");
        assert!(register[0].services.is_empty(), "nothing the stalled holder did entered the register");
        let actions = lease_actions(&app).await;
        assert_eq!(actions[1], format!("lease.release {stalled_id}"), "{actions:?}");
    }
}

#[tokio::test]
async fn an_acquisition_refused_by_its_preconditions_names_every_reason_and_writes_nothing() {
    for db in TestDb::every_backend().await {
        let app = TestApp::on(db, 1000).await;
        catalog(&app).await;
        let release = ready_release(&app, "1.0.0", "minor").await;
        let (developer, _) = app.user("dana", "developer").await;
        let before = app.row_counts().await;
        let refused = app.tollgate.acquire_lease(&developer, &release, "prod", AcquireLease::default()).await;
        let Err(ServiceError::DeploymentRefused(check)) = refused else { panic!("not refused: {refused:?}") };
        let refusals = check.refusals();
        for precondition in ["authorization:", "promotion:", "change:"] {
            assert!(refusals.iter().any(|reason| reason.starts_with(precondition)), "{precondition} {refusals:#?}");
        }
        assert_eq!(app.row_counts().await, before, "a refused acquisition writes nothing");
    }
}

#[tokio::test]
async fn an_operator_finishing_a_leased_deployment_releases_its_lease() {
    for db in TestDb::every_backend().await {
        let app = TestApp::on(db, 1000).await;
        catalog(&app).await;
        let release = ready_release(&app, "1.0.0", "minor").await;
        let shipper = app.shipper().await;
        let held = app.tollgate.acquire_lease(&shipper, &release, "dev", AcquireLease::default()).await.expect("held");
        app.tollgate
            .finish_deployment(&app.admin, held.deployment.id, DeploymentStatus::Failed)
            .await
            .expect("finished");
        let lease = app.tollgate.get_lease(&shipper, held.deployment.id).await.expect("kept");
        assert_eq!(lease.state(app.clock.now()), LeaseState::Released);
        let reported = app.tollgate.report_lease(&shipper, held.deployment.id, 1, DeploymentStatus::Succeeded).await;
        assert!(matches!(reported, Err(ServiceError::LeaseLost(LeaseError::Released { .. }))), "{reported:?}");
        app.tollgate.acquire_lease(&shipper, &release, "dev", AcquireLease::default()).await.expect("free again");
    }
}

#[tokio::test]
async fn concurrent_acquisitions_of_one_environment_grant_one_lease() {
    for db in TestDb::every_backend().await {
        let backend = db.backend_name();
        let app = Arc::new(TestApp::on(db, 1000).await);
        catalog(&app).await;
        let release = ready_release(&app, "1.0.0", "minor").await;
        let shipper = app.shipper().await;
        // The first deployment moves the release to deploying; the racers all go to staging.
        app.tollgate.record_deployment(&shipper, &release, "dev", succeeded()).await.expect("dev");
        let racers: Vec<_> = (0..8)
            .map(|_| {
                let app = app.clone();
                let shipper = shipper.clone();
                let release: ReleaseRef = release.clone();
                tokio::spawn(async move {
                    app.tollgate.acquire_lease(&shipper, &release, "staging", AcquireLease::default()).await
                })
            })
            .collect();
        let mut granted = 0;
        for racer in racers {
            match racer.await.expect("the task runs") {
                Ok(_) => granted += 1,
                // Refused in the transaction (the lock taken since the check) or by the check.
                Err(ServiceError::LeaseHeld(_)) => {}
                Err(ServiceError::DeploymentRefused(check))
                    if check.refusals().iter().all(|reason| reason.starts_with("lock: ")) => {}
                Err(other) => panic!("{backend}: unexpected {other:?}"),
            }
        }
        assert_eq!(granted, 1, "{backend}");
        let leases = app.tollgate.list_leases(&shipper, Some("staging")).await.expect("listed");
        assert_eq!(leases.len(), 1, "{backend}");
        let counts = app.row_counts().await;
        assert_eq!(counts["deployment_leases"], 1, "{backend}");
        assert_eq!(counts["environment_locks"], 2, "{backend}");
        assert_eq!(counts["deployments"], 2, "{backend}: dev, and one in staging");
    }
}

#[tokio::test]
async fn the_timer_fails_a_deployment_whose_lease_expired_without_a_report() {
    for db in TestDb::every_backend().await {
        let app = TestApp::on(db, 1000).await;
        catalog(&app).await;
        let release = ready_release(&app, "1.0.0", "minor").await;
        let shipper = app.shipper().await;
        let dead = app.tollgate.acquire_lease(&shipper, &release, "dev", lease_for(60)).await.expect("acquired");

        // Before its expiry nothing ends; after it, the deployment fails and dev is free.
        app.clock.advance(SignedDuration::from_secs(59));
        assert_eq!(app.tollgate.expire_leases().await.expect("swept"), []);
        app.clock.advance(SignedDuration::from_secs(1));
        assert_eq!(app.tollgate.expire_leases().await.expect("swept"), [dead.deployment.id]);
        let failed = app.tollgate.get_deployment(&shipper, dead.deployment.id).await.expect("found");
        assert_eq!(failed.status, DeploymentStatus::Failed);
        assert!(app.tollgate.list_leases(&shipper, None).await.expect("listed").is_empty());
        assert_eq!(app.tollgate.expire_leases().await.expect("swept again"), [], "each lease ends once");
        let late = app.tollgate.report_lease(&shipper, dead.deployment.id, 1, DeploymentStatus::Succeeded).await;
        assert!(matches!(late, Err(ServiceError::LeaseLost(_))), "{late:?}");

        // Tollgate itself did it, and said why.
        let records = lease_records(&app).await;
        let released = records.iter().find(|record| record["action"] == "lease.release").expect("audited");
        assert_eq!(released["actor"], "@system", "{released}");
        let reason = released["reason"].as_str().expect("a reason");
        assert!(reason.starts_with("its lease expired at 2026-03-01T"), "{reason}");
        app.tollgate.acquire_lease(&shipper, &release, "dev", AcquireLease::default()).await.expect("dev is free");
    }
}

#[tokio::test]
async fn an_acquisition_of_a_release_whose_artifact_changed_on_disk_is_refused_and_writes_nothing() {
    for db in TestDb::every_backend().await {
        let app = TestApp::on(db, 1000).await;
        catalog(&app).await;
        let release = ready_release(&app, "1.0.0", "minor").await;
        let api = app.tollgate.find_artifact(&app.admin, "api", "1.0.0").await.expect("api");
        std::fs::write(app.blobs.path(&api.digest), b"api@1.0.0 with a backdoor").expect("tampered");
        let shipper = app.shipper().await;
        let before = app.row_counts().await;
        // Only the artifacts fail: the recording hashes them and refuses with each problem.
        let refused = app.tollgate.acquire_lease(&shipper, &release, "dev", AcquireLease::default()).await;
        let Err(ServiceError::NotReady(problems)) = refused else { panic!("not refused: {refused:?}") };
        assert!(problems.iter().any(|problem| problem.to_string().contains("api@1.0.0")), "{problems:?}");
        assert_eq!(app.row_counts().await, before, "a refused acquisition writes nothing");
        // With another refusal as well, every reason comes at once, the artifact's included.
        let (developer, _) = app.user("dana", "developer").await;
        let before_developer = app.row_counts().await;
        let refused = app.tollgate.acquire_lease(&developer, &release, "dev", AcquireLease::default()).await;
        let Err(ServiceError::DeploymentRefused(check)) = refused else { panic!("not refused: {refused:?}") };
        let refusals = check.refusals();
        assert!(refusals.iter().any(|reason| reason.starts_with("artifacts: ")), "{refusals:#?}");
        assert!(refusals.iter().any(|reason| reason.starts_with("authorization: ")), "{refusals:#?}");
        assert_eq!(app.row_counts().await, before_developer, "a refused acquisition writes nothing");
    }
}
