//! The pages of orchestrated deployments over HTTP, as a browser without JavaScript uses them:
//! an operator's decisions on a run, a manual step's judgment, and an environment's quarantine
//! lifted from its history; each with a forged form post that changes nothing.

use tollgate_core::deployment::DeploymentId;
use tollgate_core::plan::{DeployInput, StepInput, TierInput};
use tollgate_testkit::SpawnedApp;

use crate::ui::{app_with_password, Browser, PASSWORD};

/// Applies team `payments`, environment `dev` (its whole lifecycle) and service `api` with a plan
/// of one tier of `steps` (`on_failure` as given), stocks and readies release 1.0.0, and starts
/// its orchestrated deployment into dev; no worker runs it.
async fn orchestrated(
    app: &SpawnedApp,
    steps: Vec<StepInput>,
    on_failure: Option<tollgate_core::plan::OnFailureInput>,
) -> DeploymentId {
    use tollgate_core::apply::ApplyInput;
    use tollgate_core::environment::EnvironmentInput;
    use tollgate_core::lifecycle::LifecycleInput;
    use tollgate_core::release::ReleaseAction;
    use tollgate_core::service::ServiceInput;
    use tollgate_core::team::TeamInput;
    use tollgate_service::apply::ApplyMode;
    use tollgate_service::release::ReleaseRef;
    use tollgate_service::run::StartDeployment;

    let tollgate = &app.app.tollgate;
    let admin = &app.app.admin;
    let deploy =
        DeployInput { tiers: vec![TierInput { name: "app".to_owned(), steps }], on_failure, ..Default::default() };
    let document = ApplyInput {
        teams: vec![TeamInput { name: "payments".to_owned(), ..TeamInput::default() }],
        environments: vec![EnvironmentInput { name: "dev".to_owned(), tier: "dev".to_owned(), region: None }],
        lifecycles: vec![LifecycleInput { name: "default".to_owned(), environments: vec!["dev".to_owned()] }],
        services: vec![ServiceInput {
            name: "api".to_owned(),
            owner: "payments".to_owned(),
            deploy: Some(deploy),
            ..ServiceInput::default()
        }],
        ..ApplyInput::default()
    };
    tollgate.apply(admin, document, ApplyMode::Apply).await.expect("applied");
    app.app.stock("payments", &[("api", "1.0.0")]).await;
    let input = tollgate_testkit::fixtures::release_input("1.0.0", &[("api", "1.0.0")]);
    let release = ReleaseRef::Id(tollgate.create_release(admin, input).await.expect("created").id);
    let shipper = app.app.shipper().await;
    for action in [ReleaseAction::Plan, ReleaseAction::FreezeScope, ReleaseAction::MarkReady] {
        tollgate.transition_release(&shipper, &release, action, None).await.expect("transition");
    }
    let started = tollgate.start_orchestrated(&shipper, &release, "dev", StartDeployment::default()).await;
    started.expect("started").deployment.id
}

#[tokio::test]
async fn a_run_waiting_for_an_operator_is_decided_on_its_page_and_a_forged_decision_changes_nothing() {
    use tollgate_core::run::{RunState, StepState, WorkerName};
    use tollgate_service::run::Assignment;

    let app = app_with_password().await;
    let tollgate = &app.app.tollgate;
    let admin = &app.app.admin;
    // A plan whose only step is not idempotent: a worker stopped in it leaves the run to an operator.
    let step = StepInput { name: Some("switch".to_owned()), exec: vec!["true".to_owned()], ..StepInput::default() };
    let id = orchestrated(&app, vec![step], None).await;
    let ttl = jiff::SignedDuration::from_secs(10);
    let worker = |name: &str| WorkerName::parse(name).expect("a worker name");
    let stopped = tollgate.claim_run(&worker("worker-a"), ttl).await.expect("claimed").expect("a run");
    tollgate.next_assignment(&stopped).await.expect("assigned");
    app.app.clock.advance(jiff::SignedDuration::from_secs(11));
    let taken = tollgate.claim_run(&worker("worker-b"), ttl).await.expect("claimed").expect("a run");
    let waiting = tollgate.next_assignment(&taken).await.expect("decided");
    assert_eq!(waiting, Assignment::Done(RunState::NeedsOperator));

    let mut browser = Browser::new(&app);
    browser.sign_in("admin", PASSWORD).await;
    let page = browser.get(&format!("/deployments/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("id=\"run-state\">needs_operator<"), "{}", page.body);
    assert!(page.body.contains("value=\"skip\""), "the page offers the decisions: {}", page.body);
    let before = app.app.row_counts().await;
    let forged = browser.post(&format!("/deployments/{id}/decision"), &[("csrf", "f00d"), ("decision", "skip")]).await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert_eq!(app.app.row_counts().await, before, "a forged decision wrote something");
    let run = tollgate.get_run(admin, id).await.expect("the run");
    assert_eq!(run.run.state, RunState::NeedsOperator);

    let decided = browser
        .post(
            &format!("/deployments/{id}/decision"),
            &[("csrf", &page.csrf()), ("decision", "skip"), ("reason", "switched by hand")],
        )
        .await;
    assert_eq!((decided.status, decided.location()), (303, &*format!("/deployments/{id}")), "{}", decided.body);
    let run = tollgate.get_run(admin, id).await.expect("the run");
    assert_eq!((run.run.state, run.steps[0].state), (RunState::Active, StepState::Skipped));
    let again = browser.get(&format!("/deployments/{id}")).await;
    assert!(again.body.contains("skipped by admin"), "{}", again.body);
    assert!(!again.body.contains("value=\"skip\""), "an active run offers no step decisions");
    assert!(again.body.contains("value=\"roll_back\""), "an active run may be rolled back: {}", again.body);
    assert!(again.body.contains("value=\"pause\""), "an active run may be paused: {}", again.body);
    // The steps and output follow the run by themselves (htmx); a changed state asks for the page.
    let fragment = format!("/fragments/deployments/{id}?state=active");
    assert!(again.body.contains(&format!("hx-get=\"{fragment}\"")), "{}", again.body);
    let live = browser.get(&fragment).await;
    assert_eq!(live.status, 200, "{}", live.body);
    assert!(live.body.contains("id=\"steps\"") && live.body.contains("skipped by admin"), "{}", live.body);
    assert_eq!(live.header("hx-refresh"), "");
    let moved = browser.get(&format!("/fragments/deployments/{id}?state=needs_operator")).await;
    assert_eq!((moved.status, moved.header("hx-refresh")), (200, "true"), "{}", moved.body);
    let paused =
        browser.post(&format!("/deployments/{id}/decision"), &[("csrf", &again.csrf()), ("decision", "pause")]).await;
    assert_eq!(paused.status, 303, "{}", paused.body);
    let shown = browser.get(&format!("/deployments/{id}")).await;
    assert!(shown.body.contains("id=\"run-state\">paused<"), "{}", shown.body);
    assert!(shown.body.contains("value=\"resume\"") && !shown.body.contains("value=\"pause\""), "{}", shown.body);
}

#[tokio::test]
async fn a_quarantine_is_shown_and_lifted_on_the_environment_page_and_a_forged_lift_changes_nothing() {
    use tollgate_core::plan::OnFailureInput;
    use tollgate_core::run::WorkerName;
    use tollgate_service::run::{Assignment, StepReport};

    let app = app_with_password().await;
    let tollgate = &app.app.tollgate;
    let admin = &app.app.admin;
    let step = StepInput { exec: vec!["./deploy".to_owned()], ..StepInput::default() };
    let on_failure = OnFailureInput { rollback: None, quarantine: Some("always".to_owned()) };
    let id = orchestrated(&app, vec![step], Some(on_failure)).await;
    // A worker reports the step failed: `quarantine: always` quarantines dev.
    let worker = WorkerName::parse("worker-a").expect("a worker name");
    let claim =
        tollgate.claim_run(&worker, jiff::SignedDuration::from_secs(10)).await.expect("claimed").expect("a run");
    let Assignment::Run(step) = tollgate.next_assignment(&claim).await.expect("assigned") else { panic!("a step") };
    let report = StepReport { succeeded: false, outcome: "exit status 2".to_owned(), retries: 0, logs: Vec::new() };
    tollgate.finish_step(&claim, step.position, report).await.expect("finished");

    let mut browser = Browser::new(&app);
    browser.sign_in("admin", PASSWORD).await;
    let page = browser.get("/register/dev").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("id=\"quarantine\""), "{}", page.body);
    assert!(page.body.contains("step api/app/exec-1 failed: exit status 2"), "{}", page.body);
    assert!(page.body.contains(&format!("href=\"/deployments/{}\"", id.0)), "{}", page.body);

    let before = app.app.row_counts().await;
    let forged = browser.post("/register/dev/quarantine/lift", &[("csrf", "f00d"), ("reason", "trust me")]).await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    let blank = browser.post("/register/dev/quarantine/lift", &[("csrf", &page.csrf()), ("reason", " ")]).await;
    assert_eq!(blank.status, 422, "{}", blank.body);
    assert!(blank.body.contains("id=\"history-problem\""), "{}", blank.body);
    assert_eq!(app.app.row_counts().await, before, "a refused lift wrote something");
    assert_eq!(tollgate.list_quarantines(admin).await.expect("quarantines").len(), 1);

    let lifted = browser.post("/register/dev/quarantine/lift", &[("csrf", &page.csrf()), ("reason", "fixed")]).await;
    assert_eq!((lifted.status, lifted.location()), (303, "/register/dev"), "{}", lifted.body);
    assert!(tollgate.list_quarantines(admin).await.expect("quarantines").is_empty());
    let again = browser.get("/register/dev").await;
    assert!(!again.body.contains("id=\"quarantine\""), "{}", again.body);
}

#[tokio::test]
async fn a_manual_step_is_judged_on_its_page_and_a_forged_judgment_changes_nothing() {
    use tollgate_core::plan::ManualStepInput;
    use tollgate_core::run::{RunState, StepState, WorkerName};
    use tollgate_service::run::Assignment;

    let app = app_with_password().await;
    let tollgate = &app.app.tollgate;
    let admin = &app.app.admin;
    let manual = ManualStepInput { prompt: "Is the <canary> healthy?".to_owned(), default: None };
    let step = StepInput { name: Some("canary-ok".to_owned()), manual: Some(manual), ..StepInput::default() };
    let id = orchestrated(&app, vec![step], None).await;
    // A worker reaches the manual step: the run waits for a judgment, with no worker.
    let worker = WorkerName::parse("worker-a").expect("a worker name");
    let claim =
        tollgate.claim_run(&worker, jiff::SignedDuration::from_secs(10)).await.expect("claimed").expect("a run");
    assert_eq!(tollgate.next_assignment(&claim).await.expect("assigned"), Assignment::Done(RunState::NeedsOperator));

    let mut browser = Browser::new(&app);
    browser.sign_in("admin", PASSWORD).await;
    let page = browser.get(&format!("/deployments/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("waits for a judgment: Is the &#60;canary&#62; healthy?"), "{}", page.body);
    assert!(page.body.contains("value=\"approve\"") && page.body.contains("value=\"reject\""), "{}", page.body);
    assert!(!page.body.contains("value=\"skip\""), "a judgment is not skipped: {}", page.body);
    let before = app.app.row_counts().await;
    let forged =
        browser.post(&format!("/deployments/{id}/decision"), &[("csrf", "f00d"), ("decision", "approve")]).await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert_eq!(app.app.row_counts().await, before, "a forged judgment wrote something");

    let judged = browser
        .post(
            &format!("/deployments/{id}/decision"),
            &[("csrf", &page.csrf()), ("decision", "approve"), ("reason", "flat")],
        )
        .await;
    assert_eq!((judged.status, judged.location()), (303, &*format!("/deployments/{id}")), "{}", judged.body);
    let run = tollgate.get_run(admin, id).await.expect("the run");
    assert_eq!((run.run.state, run.steps[0].state), (RunState::Active, StepState::Succeeded));
    assert_eq!(run.steps[0].outcome.as_deref(), Some("approved by admin (flat)"));
}
