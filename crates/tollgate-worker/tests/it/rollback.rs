//! Rollback on real processes and real databases: a failure runs the rollback steps of the
//! services it touched, in reverse order; a rollback that fails (or is refused) quarantines the
//! environment until an authorized user lifts it with a reason; an irreversible step needs a
//! recovery and a confirmation; aborting a running deployment rolls it back.

use tollgate_core::deployment::DeploymentStatus;
use tollgate_core::run::{OperatorDecision, Phase, RunState, StepState};
use tollgate_service::lease::AcquireLease;
use tollgate_service::run::StartDeployment;
use tollgate_service::ServiceError;
use tollgate_testkit::{TestApp, TestDb};

use crate::{catalog, engine, ready_release, start_in_background, yaml_path};

/// Starts the deployment of `release` into dev and lets one worker carry it as far as it goes.
async fn deploy(
    app: &TestApp,
    release: &tollgate_service::release::ReleaseRef,
) -> tollgate_service::run::DeploymentRun {
    let shipper = app.shipper().await;
    let started = app.tollgate.start_orchestrated(&shipper, release, "dev", StartDeployment::default()).await;
    let id = started.expect("started").deployment.id;
    engine(app, "worker-a").run_once().await.expect("ran");
    app.tollgate.get_run(&shipper, id).await.expect("the run")
}

/// A step that appends `text` to `file`.
fn append(file: &std::path::Path, text: &str) -> String {
    format!(r#"exec: ["sh", "-c", "echo {text} >> {}"]"#, yaml_path(file))
}

#[tokio::test]
async fn a_failed_step_runs_the_rollback_steps_of_the_services_it_touched_in_reverse_order() {
    for db in TestDb::every_backend().await {
        let app = TestApp::on(db, 1000).await;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let journal = dir.path().join("journal");
        let ledger = format!(
            "tiers:\n  - name: app\n    steps:\n      - {}\nrollback:\n      - {}\n",
            append(&journal, "ledger-deployed"),
            append(&journal, "ledger-undone-{{ release.version }}"),
        );
        let api = format!(
            "tiers:\n  - name: app\n    steps:\n      - exec: [\"sh\", \"-c\", \"exit 3\"]\nrollback:\n      - {}\n",
            append(&journal, "api-undone"),
        );
        catalog(&app, Some(&ledger), Some(&api)).await;
        let release = ready_release(&app, "1.0.0").await;
        let shipper = app.shipper().await;
        let started = app.tollgate.start_orchestrated(&shipper, &release, "dev", StartDeployment::default()).await;
        let started = started.expect("started");
        let phases: Vec<(Phase, String)> = started.steps.iter().map(|step| (step.phase, step.path())).collect();
        assert_eq!(
            phases,
            [
                (Phase::Deploy, "ledger/app/exec-1".to_owned()),
                (Phase::Deploy, "api/app/exec-1".to_owned()),
                (Phase::Rollback, "api/rollback/exec-1".to_owned()),
                (Phase::Rollback, "ledger/rollback/exec-1".to_owned()),
            ]
        );
        engine(&app, "worker-a").run_once().await.expect("ran");
        let run = app.tollgate.get_run(&shipper, started.deployment.id).await.expect("the run");
        assert_eq!(run.deployment.status, DeploymentStatus::RolledBack, "{:#?}", run.steps);
        assert_eq!((run.run.state, run.run.phase), (RunState::Finished, Phase::Rollback));
        assert_eq!(
            run.run.reason.as_deref(),
            Some("rolled_back: step api/app/exec-1 failed: exit status 3; its rollback succeeded")
        );
        let states: Vec<StepState> = run.steps.iter().map(|step| step.state).collect();
        assert_eq!(states, [StepState::Succeeded, StepState::Failed, StepState::Succeeded, StepState::Succeeded]);
        let journal = std::fs::read_to_string(&journal).expect("the steps wrote");
        assert_eq!(journal, "ledger-deployed\napi-undone\nledger-undone-1.0.0\n");
        // Rolled back, it was never live: not in the register; the environment is not quarantined
        // (a rollback that succeeded leaves it as it was), so the next release deploys.
        let register = app.tollgate.register(&shipper, Some("dev"), None).await.expect("register");
        assert!(register[0].services.iter().all(|service| service.deployment != started.deployment.id));
        assert!(app.tollgate.list_quarantines(&shipper).await.expect("quarantines").is_empty());
        let next = ready_release(&app, "1.0.1").await;
        app.tollgate.start_orchestrated(&shipper, &next, "dev", StartDeployment::default()).await.expect("started");
    }
}

#[tokio::test]
async fn only_the_services_whose_steps_began_are_rolled_back() {
    let app = TestApp::sqlite().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let journal = dir.path().join("journal");
    let ledger = format!(
        "tiers:\n  - name: app\n    steps:\n      - exec: [\"false\"]\nrollback:\n      - {}\n",
        append(&journal, "ledger-undone")
    );
    let api = format!(
        "tiers:\n  - name: app\n    steps:\n      - exec: [\"true\"]\nrollback:\n      - {}\n",
        append(&journal, "api-undone")
    );
    catalog(&app, Some(&ledger), Some(&api)).await;
    let release = ready_release(&app, "1.0.0").await;
    let run = deploy(&app, &release).await;
    assert_eq!(run.deployment.status, DeploymentStatus::RolledBack);
    assert_eq!(run.steps[1].state, StepState::Pending, "api's steps never began");
    assert_eq!(run.steps[2].state, StepState::Skipped);
    assert_eq!(run.steps[2].outcome.as_deref(), Some("not needed: no step of api began"));
    assert_eq!(std::fs::read_to_string(&journal).expect("the rollback wrote"), "ledger-undone\n");
}

#[tokio::test]
async fn a_failed_rollback_quarantines_the_environment_until_an_authorized_user_lifts_it() {
    for db in TestDb::every_backend().await {
        let app = TestApp::on(db, 1000).await;
        let plan = "tiers:\n  - name: app\n    steps:\n      - exec: [\"sh\", \"-c\", \"exit 3\"]\nrollback:\n      - exec: [\"sh\", \"-c\", \"exit 4\"]\n";
        catalog(&app, Some(plan), None).await;
        let release = ready_release(&app, "1.0.0").await;
        let shipper = app.shipper().await;
        let run = deploy(&app, &release).await;
        let id = run.deployment.id;
        assert_eq!(run.deployment.status, DeploymentStatus::Failed);
        let reason = "step ledger/app/exec-1 failed: exit status 3; the rollback failed: rollback step \
                      ledger/rollback/exec-1 failed: exit status 4";
        assert_eq!(run.run.reason.as_deref(), Some(&*format!("failed: {reason}")));
        let quarantines = app.tollgate.list_quarantines(&shipper).await.expect("quarantines");
        assert_eq!(quarantines.len(), 1);
        assert_eq!((quarantines[0].environment.as_str(), quarantines[0].deployment), ("dev", Some(id)));
        assert_eq!(quarantines[0].reason, reason);

        // No deployment starts there, whichever way it asks; the check says why; nothing is written.
        let next = ready_release(&app, "1.0.1").await;
        let before = app.row_counts().await;
        let refused = app.tollgate.start_orchestrated(&shipper, &next, "dev", StartDeployment::default()).await;
        let refusal = refused.expect_err("quarantined").to_string();
        assert!(refusal.contains("quarantine: dev is quarantined since"), "{refusal}");
        let refused = app.tollgate.acquire_lease(&shipper, &next, "dev", AcquireLease::default()).await;
        assert!(matches!(refused, Err(ServiceError::DeploymentRefused(_))), "{refused:?}");
        let input = tollgate_core::deployment::DeploymentInput::default();
        let refused = app.tollgate.record_deployment(&shipper, &next, "dev", input).await;
        assert!(matches!(refused, Err(ServiceError::Quarantined(_))), "{refused:?}");
        let check = app.tollgate.check_deployment(&shipper, &next, "dev").await.expect("checked");
        assert!(!check.allowed);
        assert_eq!(check.refusals().len(), 1, "{:?}", check.refusals());
        assert_eq!(app.row_counts().await, before);

        // Lifting needs a reason and the permission; a refusal changes nothing.
        let blank = app.tollgate.lift_quarantine(&shipper, "dev", "  ").await;
        assert!(matches!(blank, Err(ServiceError::Invalid(_))), "{blank:?}");
        let (viewer, _) = app.user("vera", "viewer").await;
        let denied = app.tollgate.lift_quarantine(&viewer, "dev", "checked by hand").await;
        assert!(matches!(denied, Err(ServiceError::Forbidden { .. })), "{denied:?}");
        let not = app.tollgate.lift_quarantine(&shipper, "staging", "checked by hand").await;
        assert_eq!(not.expect_err("not quarantined").to_string(), "environment staging is not quarantined");
        assert!(app.tollgate.list_quarantines(&shipper).await.expect("quarantines").len() == 1);
        let lifted = app.tollgate.lift_quarantine(&shipper, "dev", "restored 0.9 by hand").await.expect("lifted");
        assert_eq!(lifted.deployment, Some(id));
        assert_eq!(
            audited(&app, "quarantine").await,
            [
                ("quarantine.quarantine".to_owned(), String::new()),
                ("quarantine.lift".to_owned(), "restored 0.9 by hand".to_owned())
            ]
        );
        app.tollgate.start_orchestrated(&shipper, &next, "dev", StartDeployment::default()).await.expect("started");
    }
}

#[tokio::test]
async fn rolling_back_across_an_irreversible_step_waits_for_a_confirmation() {
    for db in TestDb::every_backend().await {
        let app = TestApp::on(db, 1000).await;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let journal = dir.path().join("journal");
        let plan = format!(
            "tiers:\n  - name: migrate\n    steps:\n      - exec: [\"true\"]\n        reversible: false\n  - name: app\n    steps:\n      - exec: [\"false\"]\nrollback:\n      - {}\n",
            append(&journal, "restored-from-backup")
        );
        catalog(&app, Some(&plan), None).await;
        let release = ready_release(&app, "1.0.0").await;
        let shipper = app.shipper().await;
        let started = app.tollgate.start_orchestrated(&shipper, &release, "dev", StartDeployment::default()).await;
        let id = started.expect("started").deployment.id;
        let worker = engine(&app, "worker-a");
        worker.run_once().await.expect("ran");
        let run = app.tollgate.get_run(&shipper, id).await.expect("the run");
        assert_eq!((run.run.state, run.run.phase), (RunState::NeedsOperator, Phase::Rollback));
        assert_eq!(run.deployment.status, DeploymentStatus::Running);
        let reason = run.run.reason.clone().unwrap_or_default();
        assert!(reason.contains("irreversible step ledger/migrate/exec-1 ran"), "{reason}");
        assert!(!journal.exists(), "nothing rolled back before the confirmation");
        // Resume and skip are for a stopped step, not for this question.
        let resume = app.tollgate.decide_run(&shipper, id, OperatorDecision::Resume, None).await;
        assert!(matches!(resume, Err(ServiceError::RunNotWaiting { .. })), "{resume:?}");
        let confirmed = app.tollgate.decide_run(&shipper, id, OperatorDecision::RollBack, Some("restore")).await;
        assert_eq!(confirmed.expect("confirmed").run.state, RunState::Active);
        worker.run_once().await.expect("ran");
        let run = app.tollgate.get_run(&shipper, id).await.expect("the run");
        assert_eq!(run.deployment.status, DeploymentStatus::RolledBack);
        assert_eq!(std::fs::read_to_string(&journal).expect("restored"), "restored-from-backup\n");
    }
}

#[tokio::test]
async fn a_rollback_across_an_irreversible_step_with_no_recovery_is_refused_and_quarantines() {
    let app = TestApp::sqlite().await;
    let ledger = "tiers:\n  - name: migrate\n    steps:\n      - exec: [\"true\"]\n        reversible: false\n";
    let api = "tiers:\n  - name: app\n    steps:\n      - exec: [\"false\"]\nrollback:\n      - exec: [\"true\"]\n";
    catalog(&app, Some(ledger), Some(api)).await;
    let release = ready_release(&app, "1.0.0").await;
    let shipper = app.shipper().await;
    let run = deploy(&app, &release).await;
    assert_eq!(run.deployment.status, DeploymentStatus::Failed);
    assert_eq!(run.steps[2].state, StepState::Pending, "no rollback step ran");
    let quarantines = app.tollgate.list_quarantines(&shipper).await.expect("quarantines");
    assert_eq!(
        quarantines[0].reason,
        "step api/app/exec-1 failed: exit status 1; rolling back is refused: irreversible step ledger/migrate/exec-1 \
         ran, and its service declares no rollback steps to recover with"
    );
}

#[tokio::test]
async fn aborting_a_running_deployment_rolls_it_back_and_a_manual_plan_asks_first() {
    for db in TestDb::every_backend().await {
        let app = TestApp::on(db, 1000).await;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let started_file = dir.path().join("started");
        let journal = dir.path().join("journal");
        let plan = format!(
            "tiers:\n  - name: app\n    steps:\n      - exec: [\"sh\", \"-c\", \"touch {}; exec sleep 30\"]\nrollback:\n      - {}\n",
            yaml_path(&started_file),
            append(&journal, "undone")
        );
        catalog(&app, Some(&plan), None).await;
        let release = ready_release(&app, "1.0.0").await;
        let shipper = app.shipper().await;
        let (id, running) = start_in_background(&app, &release, &started_file).await;
        let worker = engine(&app, "worker-a");
        let aborted = app.tollgate.decide_run(&shipper, id, OperatorDecision::Abort, Some("wrong build")).await;
        let aborted = aborted.expect("aborted");
        assert_eq!((aborted.run.state, aborted.run.phase), (RunState::Active, Phase::Rollback));
        assert_eq!(aborted.run.worker, None, "the worker that ran the step lost the run");
        running.await.expect("the worker task ends").expect("no error");
        worker.run_once().await.expect("the rollback ran");
        let run = app.tollgate.get_run(&shipper, id).await.expect("the run");
        assert_eq!(run.deployment.status, DeploymentStatus::RolledBack);
        assert_eq!(std::fs::read_to_string(&journal).expect("undone"), "undone\n");
    }
}

#[tokio::test]
async fn a_manual_plan_waits_and_an_abort_then_ends_it_without_a_rollback() {
    let app = TestApp::sqlite().await;
    let plan = "tiers:\n  - name: app\n    steps:\n      - exec: [\"false\"]\nrollback:\n      - exec: [\"true\"]\non_failure: { rollback: manual, quarantine: never }\n";
    catalog(&app, Some(plan), None).await;
    let release = ready_release(&app, "1.0.0").await;
    let shipper = app.shipper().await;
    let run = deploy(&app, &release).await;
    let id = run.deployment.id;
    assert_eq!((run.run.state, run.run.phase), (RunState::NeedsOperator, Phase::Rollback));
    let reason = run.run.reason.unwrap_or_default();
    assert!(reason.contains("the plan of ledger rolls back when an operator confirms"), "{reason}");
    let ended = app.tollgate.decide_run(&shipper, id, OperatorDecision::Abort, Some("fix forward")).await;
    let ended = ended.expect("ended");
    assert_eq!(ended.deployment.status, DeploymentStatus::Failed);
    assert_eq!(ended.steps[1].state, StepState::Pending, "the rollback step never ran");
    assert!(app.tollgate.list_quarantines(&shipper).await.expect("quarantines").is_empty(), "quarantine: never");
    let again = app.tollgate.decide_run(&shipper, id, OperatorDecision::RollBack, None).await;
    assert!(matches!(again, Err(ServiceError::RunNotWaiting { .. })), "{again:?}");
}

/// The audit entries about objects of `kind`, oldest first: (action, reason given by a person).
async fn audited(app: &TestApp, kind: &str) -> Vec<(String, String)> {
    let entries = app.tollgate.list_audit(&app.admin, 0, 1000).await.expect("the audit log");
    entries
        .iter()
        .map(|entry| serde_json::from_slice::<serde_json::Value>(&entry.body).expect("an entry is JSON"))
        .filter(|body| body["object"]["kind"] == kind)
        .map(|body| {
            let action = body["action"].as_str().unwrap_or_default().to_owned();
            let reason = if action.ends_with(".lift") { body["reason"].as_str().unwrap_or_default() } else { "" };
            (action, reason.to_owned())
        })
        .collect()
}

/// A catalog with one environment, `dev`, the whole lifecycle: a release that succeeds there is
/// deployed. `ledger` has `plan`.
async fn one_stage_catalog(app: &TestApp, plan: &str) {
    use tollgate_core::apply::ApplyInput;
    use tollgate_core::environment::EnvironmentInput;
    use tollgate_core::lifecycle::LifecycleInput;
    use tollgate_core::service::ServiceInput;
    use tollgate_core::team::TeamInput;
    let text = format!(
        "services:\n  - name: ledger\n    owner: payments\n    deploy:\n{}",
        plan.lines().map(|line| format!("      {line}\n")).collect::<String>()
    );
    let loaded = tollgate_config::load("tollgate.yaml", &text).unwrap_or_else(|error| panic!("{error}\n{text}"));
    let document = ApplyInput {
        teams: vec![TeamInput { name: "payments".to_owned(), ..TeamInput::default() }],
        environments: vec![EnvironmentInput { name: "dev".to_owned(), tier: "dev".to_owned(), region: None }],
        lifecycles: vec![LifecycleInput { name: "default".to_owned(), environments: vec!["dev".to_owned()] }],
        services: vec![ServiceInput {
            name: "ledger".to_owned(),
            owner: "payments".to_owned(),
            deploy: loaded.input.services.into_iter().next().and_then(|service| service.deploy),
            ..ServiceInput::default()
        }],
        ..ApplyInput::default()
    };
    app.tollgate.apply(&app.admin, document, tollgate_service::apply::ApplyMode::Apply).await.expect("applied");
}

async fn ledger_release(app: &TestApp, version: &str) -> tollgate_service::release::ReleaseRef {
    use tollgate_core::release::ReleaseAction;
    app.stock("payments", &[("ledger", version)]).await;
    let input = tollgate_testkit::fixtures::release_input(version, &[("ledger", version)]);
    let release = app.tollgate.create_release(&app.admin, input).await.expect("created");
    let reference = tollgate_service::release::ReleaseRef::Id(release.id);
    for action in [ReleaseAction::Plan, ReleaseAction::FreezeScope, ReleaseAction::MarkReady] {
        app.tollgate.transition_release(&app.shipper().await, &reference, action, None).await.expect("transition");
    }
    reference
}

#[tokio::test]
async fn an_environment_is_rolled_back_to_an_earlier_release_of_its_history_with_a_reason() {
    for db in TestDb::every_backend().await {
        let app = TestApp::on(db, 1000).await;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let current = dir.path().join("current");
        let plan = format!(
            "tiers:\n  - name: app\n    steps:\n      - exec: [\"sh\", \"-c\", \"echo {{{{ release.version }}}} > {}\"]\n",
            yaml_path(&current)
        );
        one_stage_catalog(&app, &plan).await;
        let shipper = app.shipper().await;
        let worker = engine(&app, "worker-a");
        for version in ["1.0.0", "1.1.0"] {
            let release = ledger_release(&app, version).await;
            let started = app.tollgate.start_orchestrated(&shipper, &release, "dev", StartDeployment::default()).await;
            started.expect("started");
            worker.run_once().await.expect("ran");
        }
        assert_eq!(std::fs::read_to_string(&current).expect("deployed"), "1.1.0\n");
        let untried = ledger_release(&app, "1.2.0").await;

        // Refused, with every reason, writing nothing: a release that never ran here, a blank reason.
        let before = app.row_counts().await;
        let refused = app.tollgate.roll_back_to(&shipper, &untried, "dev", "1.1.0 leaks memory").await;
        assert_eq!(
            refused.expect_err("refused").to_string(),
            "release 1.2.0 is ready; only a deployed or closed release can be rolled back to; release 1.2.0 never \
             succeeded in dev, so it cannot be rolled back to there"
        );
        let first = tollgate_service::release::ReleaseRef::Version("1.0.0".parse().expect("a version"));
        let blank = app.tollgate.roll_back_to(&shipper, &first, "dev", " ").await;
        assert!(matches!(blank, Err(ServiceError::Invalid(_))), "{blank:?}");
        assert_eq!(app.row_counts().await, before);

        let rollback = app.tollgate.roll_back_to(&shipper, &first, "dev", "1.1.0 leaks memory").await;
        let rollback = rollback.expect("started");
        assert_eq!(
            rollback.deployment.promotion,
            tollgate_core::deployment::Promotion::Rollback { cause: "1.1.0 leaks memory".to_owned() }
        );
        worker.run_once().await.expect("ran");
        let done = app.tollgate.get_run(&shipper, rollback.deployment.id).await.expect("the run");
        assert_eq!(done.deployment.status, DeploymentStatus::Succeeded);
        assert_eq!(std::fs::read_to_string(&current).expect("rolled back"), "1.0.0\n");
        // The register says what runs now, and since when; 1.0.0 stays a deployed release.
        let register = app.tollgate.register(&shipper, Some("dev"), None).await.expect("register");
        assert_eq!(register[0].services[0].deployment, rollback.deployment.id);
        assert_eq!(register[0].services[0].release_version.to_string(), "1.0.0");
        let release = app.tollgate.get_release(&shipper, &first).await.expect("the release");
        assert_eq!(release.state, tollgate_core::release::ReleaseState::Deployed);
    }
}

#[tokio::test]
async fn a_manual_step_waits_for_a_judgment_without_a_worker_and_its_default_decides_in_time() {
    for db in TestDb::every_backend().await {
        let app = TestApp::on(db, 1000).await;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let journal = dir.path().join("journal");
        let plan = format!(
            "tiers:\n  - name: app\n    steps:\n      - {}\n      - name: canary-ok\n        manual: {{ prompt: \"Is the canary healthy?\" }}\n        timeout: 30m\n      - {}\nrollback:\n  - {}\n",
            append(&journal, "before"),
            append(&journal, "after"),
            append(&journal, "undone"),
        );
        catalog(&app, Some(&plan), None).await;
        let shipper = app.shipper().await;
        let worker = engine(&app, "worker-a");

        // Approved: the deployment goes on.
        let release = ready_release(&app, "1.0.0").await;
        let started = app.tollgate.start_orchestrated(&shipper, &release, "dev", StartDeployment::default()).await;
        let id = started.expect("started").deployment.id;
        worker.run_once().await.expect("ran");
        let waiting = app.tollgate.get_run(&shipper, id).await.expect("the run");
        assert_eq!(waiting.run.state, RunState::NeedsOperator);
        assert_eq!(waiting.steps[1].state, StepState::Running);
        let reason = waiting.run.reason.clone().unwrap_or_default();
        assert!(
            reason.starts_with("step ledger/app/canary-ok waits for a judgment: Is the canary healthy? (approve or reject; reject by default at 2026-03-01T12:"),
            "{reason}"
        );
        assert_eq!(worker.run_once().await.expect("idle"), tollgate_worker::Progress::Idle, "no worker waits");
        let resume = app.tollgate.decide_run(&shipper, id, OperatorDecision::Resume, None).await;
        assert!(matches!(resume, Err(ServiceError::RunNotWaiting { .. })), "{resume:?}");
        let approved = app.tollgate.decide_run(&shipper, id, OperatorDecision::Approve, Some("error rate flat")).await;
        let approved = approved.expect("approved");
        assert_eq!(
            approved.steps[1].outcome.as_deref(),
            Some(&*format!("approved by {} (error rate flat)", shipper.user.name))
        );
        worker.run_once().await.expect("ran");
        let done = app.tollgate.get_run(&shipper, id).await.expect("the run");
        assert_eq!(done.deployment.status, DeploymentStatus::Succeeded);
        let again = app.tollgate.decide_run(&shipper, id, OperatorDecision::Reject, None).await;
        assert!(matches!(again, Err(ServiceError::RunNotWaiting { .. })), "{again:?}");

        // Nobody judges: once the timeout passed, the timer applies the default (reject), and the
        // deployment rolls back.
        let release = ready_release(&app, "1.0.1").await;
        let started = app.tollgate.start_orchestrated(&shipper, &release, "dev", StartDeployment::default()).await;
        let id = started.expect("started").deployment.id;
        worker.run_once().await.expect("ran");
        app.clock.advance(jiff::SignedDuration::from_mins(29));
        assert!(app.tollgate.expire_judgments().await.expect("swept").is_empty(), "not yet");
        app.clock.advance(jiff::SignedDuration::from_mins(2));
        assert_eq!(app.tollgate.expire_judgments().await.expect("swept"), [id]);
        assert!(app.tollgate.expire_judgments().await.expect("swept").is_empty(), "applied once");
        worker.run_once().await.expect("ran");
        let done = app.tollgate.get_run(&shipper, id).await.expect("the run");
        assert_eq!(done.deployment.status, DeploymentStatus::RolledBack, "{:#?}", done.steps);
        let outcome = done.steps[1].outcome.clone().unwrap_or_default();
        assert!(
            outcome.starts_with("no judgment by 2026-03-01T12:") && outcome.ends_with(": reject by default"),
            "{outcome}"
        );
        let journal = std::fs::read_to_string(&journal).expect("written");
        assert_eq!(journal, "before\nafter\nbefore\nundone\n");
    }
}

#[tokio::test]
async fn a_paused_deployment_ends_its_running_step_starts_no_other_and_goes_on_when_resumed() {
    for db in TestDb::every_backend().await {
        let app = TestApp::on(db, 1000).await;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let started_file = dir.path().join("started");
        let journal = dir.path().join("journal");
        let plan = format!(
            "tiers:\n  - name: app\n    steps:\n      - exec: [\"sh\", \"-c\", \"touch {}; sleep 1; echo first >> {}\"]\n      - {}\n",
            yaml_path(&started_file),
            yaml_path(&journal),
            append(&journal, "second"),
        );
        catalog(&app, Some(&plan), None).await;
        let release = ready_release(&app, "1.0.0").await;
        let shipper = app.shipper().await;
        let (id, running) = start_in_background(&app, &release, &started_file).await;
        let worker = engine(&app, "worker-a");
        let paused = app.tollgate.decide_run(&shipper, id, OperatorDecision::Pause, Some("incident elsewhere")).await;
        assert_eq!(paused.expect("paused").run.state, RunState::Paused);
        let twice = app.tollgate.decide_run(&shipper, id, OperatorDecision::Pause, None).await;
        assert!(matches!(twice, Err(ServiceError::RunNotWaiting { .. })), "{twice:?}");
        // The worker finishes the step it runs, then lets go; nobody starts the next one.
        running.await.expect("the worker task ends").expect("no error");
        let run = app.tollgate.get_run(&shipper, id).await.expect("the run");
        assert_eq!((run.run.state, run.run.worker.clone()), (RunState::Paused, None));
        assert_eq!((run.steps[0].state, run.steps[1].state), (StepState::Succeeded, StepState::Pending));
        assert_eq!(worker.run_once().await.expect("idle"), tollgate_worker::Progress::Idle);
        assert_eq!(std::fs::read_to_string(&journal).expect("written"), "first\n");

        let resumed = app.tollgate.decide_run(&shipper, id, OperatorDecision::Resume, None).await;
        assert_eq!(resumed.expect("resumed").run.state, RunState::Active);
        worker.run_once().await.expect("ran");
        let done = app.tollgate.get_run(&shipper, id).await.expect("the run");
        assert_eq!(done.deployment.status, DeploymentStatus::Succeeded);
        assert_eq!(std::fs::read_to_string(&journal).expect("written"), "first\nsecond\n");
    }
}

#[tokio::test]
async fn a_judgment_racing_the_default_at_the_deadline_is_applied_once() {
    for db in TestDb::every_backend().await {
        let app = TestApp::on(db, 1000).await;
        let plan = "tiers:\n  - name: app\n    steps:\n      - manual: { prompt: \"Go?\", default: approve }\n        timeout: 10m\n";
        catalog(&app, Some(plan), None).await;
        let release = ready_release(&app, "1.0.0").await;
        let run = deploy(&app, &release).await;
        let id = run.deployment.id;
        assert_eq!(run.run.state, RunState::NeedsOperator);
        app.clock.advance(jiff::SignedDuration::from_mins(10));
        // An operator rejects at the very moment the timer applies the default: one of them wins.
        let shipper = app.shipper().await;
        let (operator, timer) = tokio::join!(
            app.tollgate.decide_run(&shipper, id, OperatorDecision::Reject, Some("too late?")),
            app.tollgate.expire_judgments()
        );
        let timer = timer.expect("the sweep ran");
        let run = app.tollgate.get_run(&shipper, id).await.expect("the run");
        let outcome = run.steps[0].outcome.clone().unwrap_or_default();
        match operator {
            Ok(_) => {
                assert!(timer.is_empty(), "both applied: {outcome}");
                assert_eq!(outcome, format!("rejected by {} (too late?)", shipper.user.name));
            }
            Err(error) => {
                assert!(matches!(error, ServiceError::RunNotWaiting { .. }), "{error}");
                assert_eq!(timer, [id]);
                assert!(outcome.ends_with(": approve by default"), "{outcome}");
            }
        }
        let judged = audited(&app, "deployment_step").await.len()
            + audited(&app, "run").await.iter().filter(|(action, _)| action == "run.reject").count();
        assert_eq!(judged, 1, "one judgment is on record");
    }
}

#[tokio::test]
async fn an_environment_may_require_the_releases_rollback_to_have_succeeded_elsewhere_first() {
    for db in TestDb::every_backend().await {
        let app = TestApp::on(db, 1000).await;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let broken = dir.path().join("broken");
        let plan = format!(
            "tiers:\n  - name: app\n    steps:\n      - exec: [\"sh\", \"-c\", \"test ! -e {}\"]\nrollback:\n  - exec: [\"true\"]\n",
            yaml_path(&broken)
        );
        catalog(&app, Some(&plan), None).await;
        let rules = tollgate_core::change::policy::EnvironmentChangeRulesInput {
            name: "staging".to_owned(),
            requires_rollback_tested_in: Some("dev".to_owned()),
            ..Default::default()
        };
        let changes =
            tollgate_core::change::policy::ChangePolicyInput { environments: vec![rules], ..Default::default() };
        let document = tollgate_core::apply::ApplyInput { changes: Some(changes), ..Default::default() };
        app.tollgate.apply(&app.admin, document, tollgate_service::apply::ApplyMode::Apply).await.expect("applied");
        let shipper = app.shipper().await;
        let release = ready_release(&app, "1.0.0").await;
        assert_eq!(deploy(&app, &release).await.deployment.status, DeploymentStatus::Succeeded);

        // Succeeded in dev, never rolled back there: staging refuses it, whichever way it is asked.
        let check = app.tollgate.check_deployment(&shipper, &release, "staging").await.expect("checked");
        let refusals = check.refusals();
        assert_eq!(refusals.len(), 1, "{refusals:?}");
        assert!(refusals[0].contains("before its rollback succeeded in dev"), "{refusals:?}");
        let before = app.row_counts().await;
        let refused = app.tollgate.start_orchestrated(&shipper, &release, "staging", StartDeployment::default()).await;
        assert!(matches!(refused, Err(ServiceError::DeploymentRefused(_))), "{refused:?}");
        let input = tollgate_core::deployment::DeploymentInput::default();
        let refused = app.tollgate.record_deployment(&shipper, &release, "staging", input).await;
        assert!(matches!(refused, Err(ServiceError::RollbackUntested { .. })), "{refused:?}");
        assert_eq!(app.row_counts().await, before);

        // A drill in dev: the deployment fails and its plan's rollback succeeds. Then staging takes it.
        std::fs::write(&broken, "").expect("written");
        assert_eq!(deploy(&app, &release).await.deployment.status, DeploymentStatus::RolledBack);
        std::fs::remove_file(&broken).expect("removed");
        let check = app.tollgate.check_deployment(&shipper, &release, "staging").await.expect("checked");
        assert!(check.allowed, "{:?}", check.refusals());
        let started = app.tollgate.start_orchestrated(&shipper, &release, "staging", StartDeployment::default()).await;
        started.expect("started");
    }
}
