//! What the engine's benchmarks share: a service with a plan given as YAML, loaded by the real
//! configuration loader.

use tollgate_core::apply::ApplyInput;
use tollgate_core::environment::EnvironmentInput;
use tollgate_core::lifecycle::LifecycleInput;
use tollgate_core::release::ReleaseAction;
use tollgate_core::service::ServiceInput;
use tollgate_core::team::TeamInput;
use tollgate_service::apply::ApplyMode;
use tollgate_service::release::ReleaseRef;
use tollgate_service::Principal;
use tollgate_testkit::fixtures::release_input;
use tollgate_testkit::TestApp;

/// Applies team `payments`, environment `dev` and `services`.
pub async fn catalog(app: &TestApp, services: Vec<ServiceInput>) {
    let document = ApplyInput {
        teams: vec![TeamInput { name: "payments".to_owned(), ..TeamInput::default() }],
        environments: vec![EnvironmentInput { name: "dev".to_owned(), tier: "dev".to_owned(), region: None }],
        lifecycles: vec![LifecycleInput { name: "default".to_owned(), environments: vec!["dev".to_owned()] }],
        services,
        ..ApplyInput::default()
    };
    app.tollgate.apply(&app.admin, document, ApplyMode::Apply).await.expect("the catalog applies");
}

/// A release of `services` at `version`, ready to deploy.
pub async fn ready_release(app: &TestApp, shipper: &Principal, services: &[&str], version: &str) -> ReleaseRef {
    let artifacts: Vec<(&str, &str)> = services.iter().map(|service| (*service, version)).collect();
    app.stock("payments", &artifacts).await;
    let release = app.tollgate.create_release(&app.admin, release_input(version, &artifacts)).await.expect("created");
    let reference = ReleaseRef::Id(release.id);
    for action in [ReleaseAction::Plan, ReleaseAction::FreezeScope, ReleaseAction::MarkReady] {
        app.tollgate.transition_release(shipper, &reference, action, None).await.expect("transition");
    }
    reference
}

pub fn service(name: &str, depends_on: &[&str], plan: &str) -> ServiceInput {
    let text = format!(
        "services:\n  - name: x\n    owner: y\n    deploy:\n{}",
        plan.lines().map(|line| format!("      {line}\n")).collect::<String>()
    );
    let loaded = tollgate_config::load("bench.yaml", &text).expect("the plan loads");
    ServiceInput {
        name: name.to_owned(),
        owner: "payments".to_owned(),
        depends_on: depends_on.iter().map(|name| (*name).to_owned()).collect(),
        deploy: loaded.input.services.into_iter().next().and_then(|service| service.deploy),
        ..ServiceInput::default()
    }
}

/// The value at `fraction` (0.5: the median) of durations sorted in ascending order.
pub fn percentile(sorted: &[std::time::Duration], fraction: f64) -> std::time::Duration {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index]
}
