//! `tollgate sample-service`: a small HTTP service for the demo and the end-to-end tests of
//! rollouts to deploy as real processes. It answers `/` with its name and version, `/health`
//! with 200 (or 503 when started `--unhealthy`), and `/metrics` with its request counts in the
//! Prometheus text format; `--error-rate` makes that share of `/` answers a 500 (spread evenly,
//! not at random, so a test knows what to expect). It listens on loopback addresses only.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::Context as _;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;

use crate::args::SampleArgs;

#[derive(Debug, Default)]
struct Counts {
    ok: AtomicU64,
    errors: AtomicU64,
}

#[derive(Debug, Clone)]
struct Sample {
    name: Arc<str>,
    version: Arc<str>,
    error_rate: f64,
    unhealthy: bool,
    counts: Arc<Counts>,
}

/// Serves until the process is stopped.
pub async fn run(args: SampleArgs) -> anyhow::Result<()> {
    let address: SocketAddr = args.listen;
    anyhow::ensure!(
        address.ip().is_loopback(),
        "--listen {address}: the sample service listens on loopback addresses only"
    );
    anyhow::ensure!((0.0..=1.0).contains(&args.error_rate), "--error-rate {}: a share from 0 to 1", args.error_rate);
    let sample = Sample {
        name: args.name.as_deref().unwrap_or("sample").into(),
        version: args.version.as_str().into(),
        error_rate: args.error_rate,
        unhealthy: args.unhealthy,
        counts: Arc::default(),
    };
    let router = Router::new()
        .route("/", get(index))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(sample);
    let listener =
        tokio::net::TcpListener::bind(address).await.with_context(|| format!("cannot listen on {address}"))?;
    if let Some(pid_file) = &args.pid_file {
        std::fs::write(pid_file, format!("{}\n", std::process::id()))
            .with_context(|| format!("cannot write {}", pid_file.display()))?;
    }
    eprintln!("sample service {} {} listening on {address}", args.name.as_deref().unwrap_or("sample"), args.version);
    axum::serve(listener, router).await.context("serving")?;
    Ok(())
}

async fn index(State(sample): State<Sample>) -> (StatusCode, String) {
    let n_ok = sample.counts.ok.load(Ordering::Relaxed);
    let n_errors = sample.counts.errors.load(Ordering::Relaxed);
    // The next answer is an error when errors would otherwise fall behind the rate.
    let total = (n_ok + n_errors + 1) as f64;
    if (n_errors as f64) < (total * sample.error_rate).floor() {
        sample.counts.errors.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::INTERNAL_SERVER_ERROR, format!("{} {} failed\n", sample.name, sample.version));
    }
    sample.counts.ok.fetch_add(1, Ordering::Relaxed);
    (StatusCode::OK, format!("{} {}\n", sample.name, sample.version))
}

async fn health(State(sample): State<Sample>) -> (StatusCode, &'static str) {
    match sample.unhealthy {
        true => (StatusCode::SERVICE_UNAVAILABLE, "unhealthy\n"),
        false => (StatusCode::OK, "ok\n"),
    }
}

async fn metrics(State(sample): State<Sample>) -> String {
    let version = &sample.version;
    format!(
        "# HELP sample_requests_total Requests answered at /, by status code.\n\
         # TYPE sample_requests_total counter\n\
         sample_requests_total{{version=\"{version}\",code=\"200\"}} {}\n\
         sample_requests_total{{version=\"{version}\",code=\"500\"}} {}\n",
        sample.counts.ok.load(Ordering::Relaxed),
        sample.counts.errors.load(Ordering::Relaxed),
    )
}
