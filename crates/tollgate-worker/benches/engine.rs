//! The engine's own time per step: a deployment of 200 no-op `exec` steps (`true`) in four tiers
//! over two services, run by one worker on SQLite and, when `TOLLGATE_TEST_POSTGRES_URL` is set,
//! on PostgreSQL. Each step's time is split into its attempt (spawning `true` and waiting for it,
//! reported apart) and the engine's part (claiming the next step, rendering it, recording its
//! end with its audit entry). Prints the median and p99 of each over every step of two runs.
//!
//! `cargo bench -p tollgate-worker --bench engine`

#[path = "common.rs"]
mod common;

use std::time::{Duration, Instant};

use tollgate_core::run::WorkerName;
use tollgate_service::run::StartDeployment;
use tollgate_testkit::{TestApp, TestDb};
use tollgate_worker::{Engine, EngineSettings, StepTiming};

use crate::common::{catalog, percentile, ready_release, service};

const STEPS_PER_TIER: usize = 50;
const RUNS: usize = 2;

fn plan_yaml() -> String {
    let mut yaml = String::from("tiers:\n");
    for tier in ["one", "two"] {
        yaml.push_str(&format!("  - name: {tier}\n    steps:\n"));
        for _ in 0..STEPS_PER_TIER {
            yaml.push_str("      - exec: [\"true\"]\n");
        }
    }
    yaml
}

async fn measure(db: TestDb) -> (String, Vec<StepTiming>, Duration) {
    let backend = db.backend_name().to_owned();
    let app = TestApp::on(db, 1000).await;
    let plan = plan_yaml();
    catalog(&app, vec![service("ledger", &[], &plan), service("api", &["ledger"], &plan)]).await;
    let settings = EngineSettings { supervisor: None, ..EngineSettings::default() };
    let engine = Engine::new(app.tollgate.clone(), WorkerName::parse("bench").expect("a name"), settings);
    let shipper = app.shipper().await;
    let mut wall = Duration::ZERO;
    for run in 0..RUNS {
        let version = format!("1.0.{run}");
        let reference = ready_release(&app, &shipper, &["api", "ledger"], &version).await;
        let started = app.tollgate.start_orchestrated(&shipper, &reference, "dev", StartDeployment::default()).await;
        let started = started.expect("started");
        assert_eq!(started.steps.len(), 4 * STEPS_PER_TIER);
        let began = Instant::now();
        engine.run_once().await.expect("the run completes");
        wall += began.elapsed();
        let done = app.tollgate.get_run(&shipper, started.deployment.id).await.expect("the run");
        assert_eq!(done.deployment.status.as_str(), "succeeded");
    }
    (backend, engine.recent_timings(), wall)
}

fn report(backend: &str, timings: &[StepTiming], wall: Duration) {
    let mut engine: Vec<Duration> = timings.iter().map(|timing| timing.engine).collect();
    let mut attempts: Vec<Duration> = timings.iter().map(|timing| timing.attempts).collect();
    engine.sort();
    attempts.sort();
    println!(
        "{backend:<10} steps {:>4}  engine per step: median {:>8.3} ms  p99 {:>8.3} ms  |  process spawn+wait: median {:>7.3} ms  p99 {:>7.3} ms  |  wall {:.2} s",
        timings.len(),
        percentile(&engine, 0.5).as_secs_f64() * 1000.0,
        percentile(&engine, 0.99).as_secs_f64() * 1000.0,
        percentile(&attempts, 0.5).as_secs_f64() * 1000.0,
        percentile(&attempts, 0.99).as_secs_f64() * 1000.0,
        wall.as_secs_f64(),
    );
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let mut databases = vec![TestDb::sqlite()];
    databases.extend(runtime.block_on(TestDb::postgres()));
    println!("a deployment of {} no-op exec steps, {RUNS} runs per backend, one worker", 4 * STEPS_PER_TIER);
    for db in databases {
        let (backend, timings, wall) = runtime.block_on(measure(db));
        report(&backend, &timings, wall);
    }
}
