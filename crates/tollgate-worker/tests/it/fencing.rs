//! Claims and fencing on every backend: a worker that stalled past its claim writes nothing
//! once another took the run over; a step left running by a stopped worker runs again when it
//! is idempotent and waits for an operator when it is not.

use jiff::SignedDuration;
use tollgate_core::deployment::DeploymentStatus;
use tollgate_core::run::{ClaimError, OperatorDecision, RunState, StepState, WorkerName};
use tollgate_service::run::{Assignment, StartDeployment, StepReport};
use tollgate_service::{Clock, ServiceError};
use tollgate_testkit::{TestApp, TestDb};

use crate::{catalog, engine, ready_release};

const PLAN: &str = r#"tiers:
  - name: app
    steps:
      - name: migrate
        exec: ["true"]
      - name: restart
        exec: ["true"]
        idempotent: true
"#;

fn worker(name: &str) -> WorkerName {
    WorkerName::parse(name).expect("a worker name")
}

fn report() -> StepReport {
    StepReport { succeeded: true, outcome: "exit status 0".to_owned(), retries: 0, logs: Vec::new() }
}

#[tokio::test]
async fn a_worker_that_stalled_past_its_claim_changes_nothing_and_an_operator_decides() {
    for db in TestDb::every_backend().await {
        let app = TestApp::on(db, 1000).await;
        catalog(&app, Some(PLAN), None).await;
        let release = ready_release(&app, "1.0.0").await;
        let shipper = app.shipper().await;
        let started = app.tollgate.start_orchestrated(&shipper, &release, "dev", StartDeployment::default()).await;
        let id = started.expect("started").deployment.id;
        let ttl = SignedDuration::from_secs(10);

        // Worker A claims the run and starts its first step, then stalls (SIGSTOP, a long GC).
        let stalled = app.tollgate.claim_run(&worker("worker-a"), ttl).await.expect("claimed").expect("a run");
        assert_eq!(stalled.epoch, 1);
        let Assignment::Run(step) = app.tollgate.next_assignment(&stalled).await.expect("assigned") else {
            panic!("no step assigned")
        };
        assert_eq!(step.spec.name.as_str(), "migrate");
        assert!(app.tollgate.claim_run(&worker("worker-b"), ttl).await.expect("asked").is_none(), "still claimed");

        // Its claim lapses; worker B takes the run over with the next epoch.
        app.clock.advance(SignedDuration::from_secs(11));
        let taken = app.tollgate.claim_run(&worker("worker-b"), ttl).await.expect("claimed").expect("a run");
        assert_eq!(taken.epoch, 2);
        let before = app.row_counts().await;

        // A wakes up: every write it tries is refused, and nothing changes.
        let finish = app.tollgate.finish_step(&stalled, step.position, report()).await;
        assert!(matches!(finish, Err(ServiceError::ClaimLost(ClaimError::TakenOver { .. }))), "{finish:?}");
        let logs = app.tollgate.append_step_logs(&stalled, 0, &[(app.clock.now(), "late".to_owned())]).await;
        assert!(matches!(logs, Err(ServiceError::ClaimLost(_))), "{logs:?}");
        let renew = app.tollgate.renew_claim(&stalled, ttl).await;
        assert!(matches!(renew, Err(ServiceError::ClaimLost(_))), "{renew:?}");
        let next = app.tollgate.next_assignment(&stalled).await;
        assert!(matches!(next, Err(ServiceError::ClaimLost(_))), "{next:?}");
        assert_eq!(app.row_counts().await, before, "a fenced-off worker wrote something");

        // B finds `migrate` left running; it is not idempotent, so the run waits for an operator.
        let assignment = app.tollgate.next_assignment(&taken).await.expect("decided");
        assert_eq!(assignment, Assignment::Done(RunState::NeedsOperator));
        let waiting = app.tollgate.get_run(&shipper, id).await.expect("the run");
        assert_eq!(waiting.run.state, RunState::NeedsOperator);
        assert_eq!(waiting.deployment.status, DeploymentStatus::Running);
        let reason = waiting.run.reason.clone().unwrap_or_default();
        assert!(reason.starts_with("step ledger/app/migrate was running when its worker stopped"), "{reason}");
        assert!(app.tollgate.claim_run(&worker("worker-c"), ttl).await.expect("asked").is_none(), "no worker takes it");

        // The operator decides to skip it; a worker finishes the rest.
        let decided = app.tollgate.decide_run(&shipper, id, OperatorDecision::Skip, Some("applied by hand")).await;
        let decided = decided.expect("decided");
        assert_eq!(decided.run.state, RunState::Active);
        assert_eq!(decided.steps[0].state, StepState::Skipped);
        let again = app.tollgate.decide_run(&shipper, id, OperatorDecision::Resume, None).await;
        assert!(matches!(again, Err(ServiceError::RunNotWaiting { .. })), "{again:?}");
        engine(&app, "worker-c").run_once().await.expect("ran");
        let done = app.tollgate.get_run(&shipper, id).await.expect("the run");
        assert_eq!(done.deployment.status, DeploymentStatus::Succeeded);
        assert_eq!(done.steps[1].state, StepState::Succeeded);
    }
}

#[tokio::test]
async fn an_idempotent_step_left_running_runs_again_and_an_abort_fails_the_deployment() {
    for db in TestDb::every_backend().await {
        let app = TestApp::on(db, 1000).await;
        let plan = r#"tiers:
  - name: app
    steps:
      - exec: ["true"]
        idempotent: true
      - exec: ["true"]
"#;
        catalog(&app, Some(plan), None).await;
        let release = ready_release(&app, "1.0.0").await;
        let shipper = app.shipper().await;
        let started = app.tollgate.start_orchestrated(&shipper, &release, "dev", StartDeployment::default()).await;
        let id = started.expect("started").deployment.id;
        let ttl = SignedDuration::from_secs(10);
        let stalled = app.tollgate.claim_run(&worker("worker-a"), ttl).await.expect("claimed").expect("a run");
        app.tollgate.next_assignment(&stalled).await.expect("assigned");
        app.clock.advance(SignedDuration::from_secs(11));

        let taken = app.tollgate.claim_run(&worker("worker-b"), ttl).await.expect("claimed").expect("a run");
        let Assignment::Run(step) = app.tollgate.next_assignment(&taken).await.expect("assigned") else {
            panic!("the idempotent step is not run again")
        };
        assert_eq!((step.position, step.attempts), (0, 2));
        // Finishing a step hands over the next: the second step is not idempotent, B stops in
        // it, and C finds it and asks for an operator.
        let (_, next) = app.tollgate.finish_step(&taken, 0, report()).await.expect("finished");
        assert!(matches!(next, Assignment::Run(ref step) if step.position == 1), "{next:?}");
        app.clock.advance(SignedDuration::from_secs(11));
        let third = app.tollgate.claim_run(&worker("worker-c"), ttl).await.expect("claimed").expect("a run");
        assert_eq!(third.epoch, 3);
        assert_eq!(
            app.tollgate.next_assignment(&third).await.expect("decided"),
            Assignment::Done(RunState::NeedsOperator)
        );

        let aborted = app.tollgate.decide_run(&shipper, id, OperatorDecision::Abort, Some("bad release")).await;
        let aborted = aborted.expect("aborted");
        assert_eq!(aborted.deployment.status, DeploymentStatus::Failed);
        assert_eq!(aborted.run.state, RunState::Finished);
        assert_eq!(aborted.steps[1].state, StepState::Failed);
        assert!(app.tollgate.list_leases(&shipper, None).await.expect("leases").is_empty());
        let logs = app.tollgate.list_logs(&shipper, id, None, 1000).await.expect("logs");
        let text: Vec<String> = logs.iter().map(|line| format!("{} {}", line.position, line.text)).collect();
        assert_eq!(
            text,
            [
                "0 worker worker-b runs the step again: it was running when its worker stopped",
                &format!("1 {} decided: abort (bad release)", shipper.user.name),
            ]
        );
    }
}

#[tokio::test]
async fn of_workers_claiming_at_once_one_gets_the_run() {
    for db in TestDb::every_backend().await {
        let app = TestApp::on(db, 1000).await;
        catalog(&app, Some(PLAN), None).await;
        let release = ready_release(&app, "1.0.0").await;
        let shipper = app.shipper().await;
        app.tollgate.start_orchestrated(&shipper, &release, "dev", StartDeployment::default()).await.expect("started");
        let ttl = SignedDuration::from_secs(10);
        let claims = futures::future::join_all((0..8).map(|index| {
            let tollgate = app.tollgate.clone();
            async move { tollgate.claim_run(&worker(&format!("worker-{index}")), ttl).await }
        }))
        .await;
        let won: Vec<_> = claims.into_iter().filter_map(|claim| claim.expect("no error")).collect();
        assert_eq!(won.len(), 1, "{won:?}");
        assert_eq!(won[0].epoch, 1);
    }
}
