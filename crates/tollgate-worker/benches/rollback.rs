//! Time from a failing health check to the start of the rollback: a service whose plan probes a
//! loopback server that answers `/health` with 503 (`failures: 1`, so that probe decides) and
//! whose rollback step is an `http` call to the same server. The server notes the instant it
//! answered the failing probe and the instant the rollback's call arrived; the difference is
//! the engine's reaction (recording the failed step, deciding to roll back, starting the
//! rollback step) plus one loopback request. Median and p99 over 20 deployments per backend
//! (SQLite, and PostgreSQL when `TOLLGATE_TEST_POSTGRES_URL` is set), one worker. The target is
//! under 1 s beyond the probe interval.
//!
//! `cargo bench -p tollgate-worker --bench rollback`

#[path = "common.rs"]
mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tollgate_core::run::WorkerName;
use tollgate_service::run::StartDeployment;
use tollgate_testkit::{TestApp, TestDb};
use tollgate_worker::{Engine, EngineSettings};

use crate::common::{catalog, percentile, ready_release, service};

const RUNS: usize = 20;

/// When the server answered the last failing probe, and when a rollback call arrived.
#[derive(Debug, Default)]
struct Seen {
    failed_probe: Option<Instant>,
    rollback: Option<Instant>,
}

async fn target(seen: Arc<Mutex<Seen>>) -> std::net::SocketAddr {
    use axum::http::StatusCode;
    use axum::routing::{get, post};
    let probes = seen.clone();
    let router = axum::Router::new()
        .route(
            "/health",
            get(move || {
                let seen = probes.clone();
                async move {
                    seen.lock().expect("not poisoned").failed_probe = Some(Instant::now());
                    StatusCode::SERVICE_UNAVAILABLE
                }
            }),
        )
        .route(
            "/rollback",
            post(move || {
                let seen = seen.clone();
                async move {
                    seen.lock().expect("not poisoned").rollback = Some(Instant::now());
                    "rolled back"
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let address = listener.local_addr().expect("an address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    address
}

async fn measure(db: TestDb) -> (String, Vec<Duration>) {
    let backend = db.backend_name().to_owned();
    let app = TestApp::on(db, 1000).await;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let address = target(seen.clone()).await;
    let plan = format!(
        "tiers:\n  - name: app\n    steps:\n      - health: {{ http: \"http://{address}/health\", interval: 100ms, failures: 1 }}\nrollback:\n  - http: {{ method: POST, url: \"http://{address}/rollback\" }}\n"
    );
    catalog(&app, vec![service("ledger", &[], &plan)]).await;
    let settings = EngineSettings { supervisor: None, ..EngineSettings::default() };
    let engine = Engine::new(app.tollgate.clone(), WorkerName::parse("bench").expect("a name"), settings);
    let shipper = app.shipper().await;
    let mut latencies = Vec::with_capacity(RUNS);
    for run in 0..RUNS {
        let reference = ready_release(&app, &shipper, &["ledger"], &format!("1.0.{run}")).await;
        let started = app.tollgate.start_orchestrated(&shipper, &reference, "dev", StartDeployment::default()).await;
        let started = started.expect("started");
        *seen.lock().expect("not poisoned") = Seen::default();
        engine.run_once().await.expect("the run completes");
        let done = app.tollgate.get_run(&shipper, started.deployment.id).await.expect("the run");
        assert_eq!(done.deployment.status.as_str(), "rolled_back", "{:#?}", done.steps);
        let seen = seen.lock().expect("not poisoned");
        let (probe, rollback) = (seen.failed_probe.expect("probed"), seen.rollback.expect("rolled back"));
        latencies.push(rollback.duration_since(probe));
    }
    (backend, latencies)
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let mut databases = vec![TestDb::sqlite()];
    databases.extend(runtime.block_on(TestDb::postgres()));
    println!("from the failing health probe to the rollback's first request, {RUNS} deployments per backend");
    for db in databases {
        let (backend, mut latencies) = runtime.block_on(measure(db));
        latencies.sort();
        println!(
            "{backend:<10} median {:>8.3} ms  p99 {:>8.3} ms  max {:>8.3} ms",
            percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
            percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
            latencies.last().expect("runs").as_secs_f64() * 1000.0,
        );
    }
}
