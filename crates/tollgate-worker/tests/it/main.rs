//! The engine on real processes, real loopback servers and real databases (SQLite always,
//! PostgreSQL when configured): plans run in dependency order, failures fail the deployment,
//! secrets never reach a log, and a worker that lost its claim changes nothing.

mod engine;
mod fencing;
mod rollback;

use std::path::Path;

use tollgate_core::apply::ApplyInput;
use tollgate_core::deployment::DeploymentId;
use tollgate_core::environment::EnvironmentInput;
use tollgate_core::lifecycle::LifecycleInput;
use tollgate_core::plan::DeployInput;
use tollgate_core::release::ReleaseAction;
use tollgate_core::run::WorkerName;
use tollgate_core::service::ServiceInput;
use tollgate_core::team::TeamInput;
use tollgate_service::apply::ApplyMode;
use tollgate_service::release::ReleaseRef;
use tollgate_service::run::StartDeployment;
use tollgate_service::ServiceError;
use tollgate_testkit::fixtures::release_input;
use tollgate_testkit::TestApp;
use tollgate_worker::{Engine, EngineSettings, Progress};

/// Applies a catalog of two services, `ledger` and `api` (which depends on ledger), each with
/// the plan given as YAML (parsed by the real configuration loader).
pub async fn catalog(app: &TestApp, ledger_plan: Option<&str>, api_plan: Option<&str>) {
    let plan = |yaml: Option<&str>| -> Option<DeployInput> {
        let yaml = yaml?;
        let text = format!("services:\n  - name: x\n    owner: y\n    deploy:\n{}", indent(yaml, 6));
        let loaded = tollgate_config::load("tollgate.yaml", &text).unwrap_or_else(|error| panic!("{error}\n{text}"));
        loaded.input.services.into_iter().next().and_then(|service| service.deploy)
    };
    let document = ApplyInput {
        teams: vec![TeamInput { name: "payments".to_owned(), ..TeamInput::default() }],
        environments: ["dev", "staging", "prod"]
            .iter()
            .map(|name| EnvironmentInput { name: name.to_string(), tier: name.to_string(), region: None })
            .collect(),
        lifecycles: vec![LifecycleInput {
            name: "default".to_owned(),
            environments: vec!["dev".to_owned(), "staging".to_owned(), "prod".to_owned()],
        }],
        services: vec![
            ServiceInput {
                name: "ledger".to_owned(),
                owner: "payments".to_owned(),
                deploy: plan(ledger_plan),
                ..ServiceInput::default()
            },
            ServiceInput {
                name: "api".to_owned(),
                owner: "payments".to_owned(),
                depends_on: vec!["ledger".to_owned()],
                deploy: plan(api_plan),
                ..ServiceInput::default()
            },
        ],
        ..ApplyInput::default()
    };
    app.tollgate.apply(&app.admin, document, ApplyMode::Apply).await.expect("the catalog applies");
}

fn indent(text: &str, by: usize) -> String {
    text.lines().map(|line| format!("{}{line}\n", " ".repeat(by))).collect()
}

/// A release of both services, ready to deploy.
pub async fn ready_release(app: &TestApp, version: &str) -> ReleaseRef {
    app.stock("payments", &[("api", version), ("ledger", version)]).await;
    let input = release_input(version, &[("api", version), ("ledger", version)]);
    let release = app.tollgate.create_release(&app.admin, input).await.expect("created");
    let reference = ReleaseRef::Id(release.id);
    for action in [ReleaseAction::Plan, ReleaseAction::FreezeScope, ReleaseAction::MarkReady] {
        app.tollgate.transition_release(&app.shipper().await, &reference, action, None).await.expect("transition");
    }
    reference
}

pub fn engine(app: &TestApp, name: &str) -> Engine {
    let settings = EngineSettings {
        claim_ttl: std::time::Duration::from_secs(10),
        flush_every: std::time::Duration::from_millis(50),
        poll_every: std::time::Duration::from_millis(50),
        supervisor: None,
    };
    Engine::new(app.tollgate.clone(), WorkerName::parse(name).expect("a worker name"), settings)
}

/// Starts the deployment of `release` into dev and a worker carrying it out in the background,
/// and returns once the step that creates `started_file` runs: the deployment's id and the
/// worker's task.
pub async fn start_in_background(
    app: &TestApp,
    release: &ReleaseRef,
    started_file: &Path,
) -> (DeploymentId, tokio::task::JoinHandle<Result<Progress, ServiceError>>) {
    let shipper = app.shipper().await;
    let started = app.tollgate.start_orchestrated(&shipper, release, "dev", StartDeployment::default()).await;
    let id = started.expect("started").deployment.id;
    let worker = engine(app, "worker-a");
    let running = tokio::spawn(async move { worker.run_once().await });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !started_file.exists() {
        assert!(std::time::Instant::now() < deadline, "the step did not start");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    (id, running)
}

/// A path as it is written into a YAML plan.
pub fn yaml_path(path: &Path) -> String {
    path.to_str().expect("a UTF-8 temporary path").to_owned()
}
