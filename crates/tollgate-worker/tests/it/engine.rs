//! Running deployments end to end on real processes and loopback servers.

use tollgate_core::deployment::DeploymentStatus;
use tollgate_core::run::{RunState, StepState};
use tollgate_service::run::StartDeployment;
use tollgate_testkit::{TestApp, TestDb};
use tollgate_worker::Progress;

use crate::{catalog, engine, ready_release, start_in_background, yaml_path};

/// An HTTP server on a loopback port answering `/health` with 200 and `/version` with a body.
async fn loopback_server() -> std::net::SocketAddr {
    use axum::routing::get;
    let router = axum::Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/version", get(|| async { "version 1.0.0 ready" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let address = listener.local_addr().expect("an address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    address
}

#[tokio::test]
async fn a_deployment_runs_each_service_after_its_dependencies_and_succeeds() {
    for db in TestDb::every_backend().await {
        let app = TestApp::on(db, 1000).await;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let secret_file = dir.path().join("token");
        std::fs::write(&secret_file, "hunter2-secret-value\n").expect("the secret is written");
        let marker = dir.path().join("deployed");
        let server = loopback_server().await;
        let ledger_plan = format!(
            r#"secrets:
  - {{ name: token, file: "{secret}" }}
variables:
  dev: {{ port: {port} }}
tiers:
  - name: migrate
    steps:
      - name: migrate
        exec: ["sh", "-c", "echo migrating $TOLLGATE_SERVICE to {{{{ release.version }}}} with $TOKEN; echo to stderr >&2"]
        env: {{ TOKEN: "{{{{ secrets.token }}}}" }}
"#,
            secret = yaml_path(&secret_file),
            port = server.port(),
        );
        let api_plan = format!(
            r#"variables:
  dev: {{ port: {port} }}
tiers:
  - name: app
    steps:
      - exec: ["sh", "-c", "echo {{{{ artifact.digest }}}} > {marker}"]
      - health: {{ tcp: "127.0.0.1:{{{{ vars.port }}}}", interval: 50ms, successes: 2 }}
      - health: {{ http: "http://127.0.0.1:{{{{ vars.port }}}}/health", interval: 50ms }}
      - http: {{ url: "http://127.0.0.1:{{{{ vars.port }}}}/version", expect_body: "ready" }}
      - wait: 10ms
"#,
            port = server.port(),
            marker = yaml_path(&marker),
        );
        catalog(&app, Some(&ledger_plan), Some(&api_plan)).await;
        let release = ready_release(&app, "1.0.0").await;
        let shipper = app.shipper().await;
        let started = app
            .tollgate
            .start_orchestrated(&shipper, &release, "dev", StartDeployment::default())
            .await
            .expect("started");
        assert_eq!(started.deployment.status, DeploymentStatus::Running);
        let order: Vec<String> = started.steps.iter().map(|step| step.path()).collect();
        assert_eq!(
            order,
            [
                "ledger/migrate/migrate",
                "api/app/exec-1",
                "api/app/health-2",
                "api/app/health-3",
                "api/app/http-4",
                "api/app/wait-5"
            ],
            "ledger's plan runs before that of api, which depends on it"
        );

        let worker = engine(&app, "worker-a");
        assert_eq!(worker.run_once().await.expect("ran"), Progress::Progressed);
        let finished = app.tollgate.get_run(&shipper, started.deployment.id).await.expect("the run");
        assert_eq!(finished.deployment.status, DeploymentStatus::Succeeded, "{:#?}", finished.steps);
        assert_eq!(finished.run.state, RunState::Finished);
        assert!(finished.steps.iter().all(|step| step.state == StepState::Succeeded && step.attempts == 1));
        assert_eq!(
            finished.steps[4].outcome.as_deref(),
            Some(&*format!("GET http://127.0.0.1:{}/version answered 200", server.port()))
        );
        let digest = std::fs::read_to_string(&marker).expect("the exec step ran");
        assert!(digest.starts_with("sha256:"), "{digest}");

        let logs = app.tollgate.list_logs(&shipper, started.deployment.id, None, 1000).await.expect("logs");
        let text: Vec<String> = logs.iter().map(|line| format!("{} {}", line.position, line.text)).collect();
        assert!(text.contains(&"0 migrating ledger to 1.0.0 with [redacted:token]".to_owned()), "{text:#?}");
        assert!(text.contains(&"0 to stderr".to_owned()), "{text:#?}");
        assert!(text.iter().any(|line| line.starts_with("2 probe 1: healthy")), "{text:#?}");
        assert!(text.iter().all(|line| !line.contains("hunter2")), "a secret reached the log: {text:#?}");

        // The deployment entered the register; the engine's lease is released; nothing is left
        // for a worker.
        let register = app.tollgate.register(&shipper, Some("dev"), None).await.expect("register");
        assert!(register[0].services.iter().all(|service| service.deployment == started.deployment.id));
        assert!(app.tollgate.list_leases(&shipper, None).await.expect("leases").is_empty());
        assert_eq!(worker.run_once().await.expect("idle"), Progress::Idle);
    }
}

#[tokio::test]
async fn a_failing_step_fails_the_deployment_after_its_retries_and_frees_the_services() {
    for db in TestDb::every_backend().await {
        let app = TestApp::on(db, 1000).await;
        let plan = r#"tiers:
  - name: app
    steps:
      - exec: ["sh", "-c", "echo boom; exit 3"]
        retries: 1
        backoff: 10ms
      - exec: ["true"]
"#;
        catalog(&app, Some(plan), None).await;
        let release = ready_release(&app, "1.0.0").await;
        let shipper = app.shipper().await;
        let started = app.tollgate.start_orchestrated(&shipper, &release, "dev", StartDeployment::default()).await;
        let started = started.expect("started");
        assert_eq!(engine(&app, "worker-a").run_once().await.expect("ran"), Progress::Progressed);
        let run = app.tollgate.get_run(&shipper, started.deployment.id).await.expect("the run");
        assert_eq!(run.deployment.status, DeploymentStatus::Failed);
        assert_eq!(run.steps[0].state, StepState::Failed);
        assert_eq!(run.steps[0].attempts, 2);
        assert_eq!(run.steps[0].outcome.as_deref(), Some("exit status 3 (after 1 retries)"));
        assert_eq!(run.steps[1].state, StepState::Pending, "nothing runs after a failed step");
        assert_eq!(run.run.state, RunState::Finished);
        assert_eq!(
            run.run.reason.as_deref(),
            Some("failed: step ledger/app/exec-1 failed: exit status 3 (after 1 retries)")
        );
        let logs = app.tollgate.list_logs(&shipper, started.deployment.id, None, 1000).await.expect("logs");
        let text: Vec<&str> = logs.iter().map(|line| line.text.as_str()).collect();
        assert_eq!(text, ["boom", "attempt 1 failed (exit status 3); retrying in 10ms", "boom"]);
        assert!(app.tollgate.list_leases(&shipper, None).await.expect("leases").is_empty());
        // The services are free: the next deployment may start.
        let next = ready_release(&app, "1.0.1").await;
        app.tollgate.start_orchestrated(&shipper, &next, "dev", StartDeployment::default()).await.expect("started");
    }
}

#[tokio::test]
async fn a_step_past_its_timeout_is_stopped_and_a_bad_template_is_named() {
    let app = TestApp::sqlite().await;
    let plan = r#"tiers:
  - name: app
    steps:
      - exec: ["sleep", "30"]
        timeout: 200ms
"#;
    let bad = r#"tiers:
  - name: app
    steps:
      - exec: ["echo", "{{ vars.missing }}"]
"#;
    catalog(&app, Some(plan), None).await;
    let shipper = app.shipper().await;
    let release = ready_release(&app, "1.0.0").await;
    let started = app.tollgate.start_orchestrated(&shipper, &release, "dev", StartDeployment::default()).await;
    let started = started.expect("started");
    let began = std::time::Instant::now();
    engine(&app, "worker-a").run_once().await.expect("ran");
    assert!(began.elapsed() < std::time::Duration::from_secs(10), "the sleep was not stopped");
    let run = app.tollgate.get_run(&shipper, started.deployment.id).await.expect("the run");
    assert_eq!(run.steps[0].outcome.as_deref(), Some("timed out after 200ms"));
    assert_eq!(run.deployment.status, DeploymentStatus::Failed);

    catalog(&app, Some(bad), None).await;
    let release = ready_release(&app, "1.0.1").await;
    let started = app.tollgate.start_orchestrated(&shipper, &release, "dev", StartDeployment::default()).await;
    let started = started.expect("started");
    engine(&app, "worker-a").run_once().await.expect("ran");
    let run = app.tollgate.get_run(&shipper, started.deployment.id).await.expect("the run");
    let outcome = run.steps[0].outcome.clone().unwrap_or_default();
    assert!(outcome.starts_with("a template could not be rendered: exec[1]: undefined value"), "{outcome}");
}

#[tokio::test]
async fn a_release_without_any_plan_is_refused_and_nothing_is_written() {
    let app = TestApp::sqlite().await;
    catalog(&app, None, None).await;
    let release = ready_release(&app, "1.0.0").await;
    let shipper = app.shipper().await;
    let before = app.row_counts().await;
    let refused = app.tollgate.start_orchestrated(&shipper, &release, "dev", StartDeployment::default()).await;
    let error = refused.expect_err("refused");
    assert_eq!(
        error.to_string(),
        "none of the services of release 1.0.0 (api, ledger) has a deployment plan; declare one under the service's \
         deploy key in tollgate.yaml, or record deployments made by other tools"
    );
    assert_eq!(app.row_counts().await, before);
}

#[tokio::test]
async fn an_api_edit_of_a_service_keeps_its_plan_and_an_apply_without_one_removes_it() {
    let app = TestApp::sqlite().await;
    let plan = "tiers:\n  - name: app\n    steps:\n      - exec: [\"true\"]\n";
    catalog(&app, Some(plan), None).await;
    let edit = tollgate_core::service::ServiceInput {
        name: "ledger".to_owned(),
        owner: "payments".to_owned(),
        description: Some("edited through the API".to_owned()),
        ..Default::default()
    };
    let edited = app.tollgate.put_service(&app.admin, edit, tollgate_service::catalog::Upsert::Replace).await;
    let edited = edited.expect("edited");
    assert_eq!(edited.description, "edited through the API");
    assert_eq!(edited.deploy.as_ref().map(|plan| plan.tiers.len()), Some(1), "the plan is kept");
    catalog(&app, None, None).await;
    let applied = app.tollgate.get_service(&app.admin, "ledger").await.expect("the service");
    assert_eq!(applied.deploy, None, "apply declares the whole service");
}

#[tokio::test]
async fn aborting_an_active_run_stops_its_step_and_fails_the_deployment() {
    for db in TestDb::every_backend().await {
        let app = TestApp::on(db, 1000).await;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let started_file = dir.path().join("started");
        let plan = format!(
            "tiers:\n  - name: app\n    steps:\n      - exec: [\"sh\", \"-c\", \"touch {}; exec sleep 30\"]\n      - exec: [\"true\"]\n",
            crate::yaml_path(&started_file)
        );
        catalog(&app, Some(&plan), None).await;
        let release = ready_release(&app, "1.0.0").await;
        let shipper = app.shipper().await;
        let (id, running) = start_in_background(&app, &release, &started_file).await;
        let began = std::time::Instant::now();
        let decision = tollgate_core::run::OperatorDecision::Abort;
        let aborted = app.tollgate.decide_run(&shipper, id, decision, Some("wrong version")).await.expect("aborted");
        assert_eq!(aborted.deployment.status, DeploymentStatus::Failed);
        assert_eq!(aborted.run.state, RunState::Finished);
        assert_eq!(aborted.steps[0].state, StepState::Failed);
        assert_eq!(aborted.steps[0].outcome.as_deref(), Some(&*format!("aborted by {}", shipper.user.name)));
        // The worker notices at its next write and drops the step (its `sleep 30` is killed).
        running.await.expect("the worker task ends").expect("no error");
        assert!(began.elapsed() < std::time::Duration::from_secs(10), "the step was not stopped");
        let after = app.tollgate.get_run(&shipper, id).await.expect("the run");
        assert_eq!(after.steps[0].outcome, aborted.steps[0].outcome, "the stopped worker wrote nothing after");
        assert_eq!(after.steps[1].state, StepState::Pending);
    }
}
