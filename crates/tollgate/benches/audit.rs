//! Audit benchmarks, in one run: verifying a 1,000,000-entry SQLite audit log against the raw
//! SHA-256 rate over the same bytes, the same log verified on PostgreSQL (when
//! `TOLLGATE_TEST_POSTGRES_URL` is set), and audit entries appended per second through the HTTP
//! API with 8 concurrent clients (SQLite, with `synchronous = FULL`, and PostgreSQL).
//!
//! `TOLLGATE_BENCH_SECTIONS` (comma-separated: `sqlite`, `postgres`, `api`) runs only some
//! sections; all run by default.
//!
//! The API is measured with two requests that each append one entry: creating a team, whose
//! use case re-reads the whole catalog and so slows down as teams accumulate, and creating a
//! token, which does a constant amount of other work and so shows what the append path allows.
//!
//! Run with `cargo bench -p tollgate --bench audit`. Targets are reported as met or missed; the
//! process fails only when the harness itself fails. Everything it creates lives in temporary
//! directories or temporary PostgreSQL databases, and the HTTP clients talk to loopback only.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tollgate_core::audit::{entry_hash, GENESIS};
use tollgate_core::Timestamp;
use tollgate_store::{DatabaseConfig, Store};
use tollgate_testkit::seed::{self, AuditSeeding, START_SECOND};
use tollgate_testkit::{TestApp, TestDb};

/// Entries in the generated log.
const N_ENTRIES: u64 = 1_000_000;
/// Appends per write transaction while generating.
const APPENDS_PER_TRANSACTION: u64 = 10_000;
/// A signed checkpoint every this many entries.
const CHECKPOINT_INTERVAL: u64 = 100_000;
/// Timed runs per measurement; the median is reported.
const N_RUNS: usize = 5;
/// Concurrent HTTP clients.
const N_CLIENTS: usize = 8;
/// Sequential requests per client.
const REQUESTS_PER_CLIENT: usize = 500;

const VERIFY_TARGET: Duration = Duration::from_secs(2);
const POSTGRES_VERIFY_TARGET: Duration = Duration::from_secs(4);
const HASHING_SHARE_TARGET: f64 = 0.5;

fn main() -> anyhow::Result<()> {
    let started = Instant::now();
    print_machine()?;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("building the tokio runtime")?;
    let signing_key = SigningKey::from_bytes(&[7; 32]);
    let sections = std::env::var("TOLLGATE_BENCH_SECTIONS").unwrap_or_else(|_| "sqlite,postgres,api".to_owned());
    let wants = |section: &str| sections.split(',').any(|wanted| wanted.trim() == section);

    let mut hashing = None;
    if wants("sqlite") {
        let dir = tempfile::tempdir().context("creating a temporary directory")?;
        let path = dir.path().join("tollgate.db");
        heading("1. Generating 1,000,000 audit entries in SQLite (StoreTx::append_audit)");
        let store = runtime.block_on(Store::open(&DatabaseConfig::Sqlite { path: path.clone() }))?;
        let generated = runtime.block_on(generate(&store, &signing_key))?;
        // Closing the last connection checkpoints the WAL into the database file.
        runtime.block_on(store.close());
        print_file_sizes(&path)?;
        heading("2. Verifying them (tollgate_store::sqlite::verify_file)");
        let verification = bench_verify(&path, &signing_key, &generated)?;
        heading("3. Raw SHA-256 over the same bytes, in memory, one thread");
        let raw = bench_raw_sha256(&path, &generated)?;
        hashing = Some(report_hashing(&generated, &verification, &raw));
    }
    let mut postgres = None;
    if wants("postgres") {
        heading("4. The same 1,000,000 entries on PostgreSQL: generated, then verified (Store::verify_audit)");
        postgres = runtime.block_on(bench_postgres(&signing_key))?;
    }
    let mut api = Vec::new();
    if wants("api") {
        heading("5. Audit entries appended per second through the API, 8 concurrent clients");
        api = runtime.block_on(bench_api_on_every_backend())?;
    }

    heading("Summary");
    print_summary(hashing.as_ref(), postgres.as_ref(), &api);
    println!("total bench time: {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Verification timings on PostgreSQL.
struct PostgresVerification {
    median: Duration,
    runs: Vec<Duration>,
}

/// Generates the log on a fresh PostgreSQL database and verifies it `N_RUNS` times; `None` when
/// no PostgreSQL server is configured.
async fn bench_postgres(signing_key: &SigningKey) -> anyhow::Result<Option<PostgresVerification>> {
    let Some(db) = TestDb::postgres().await else {
        println!("postgres: skipped, {} is not set", tollgate_testkit::POSTGRES_URL_VAR);
        return Ok(None);
    };
    let store = Store::open(db.config()).await.context("opening the PostgreSQL benchmark database")?;
    let generated = generate(&store, signing_key).await?;
    let verification = tollgate_store::AuditVerification {
        trusted_keys: vec![signing_key.verifying_key()],
        max_unsigned_tail: CHECKPOINT_INTERVAL,
        witnesses: Vec::new(),
    };
    let mut runs = Vec::with_capacity(N_RUNS);
    for run in 1..=N_RUNS {
        let cpu_before = process_cpu_time();
        let started = Instant::now();
        let report = store.verify_audit(&verification).await.context("verifying on PostgreSQL")?;
        let elapsed = started.elapsed();
        let cpu = process_cpu_time()
            .zip(cpu_before)
            .map(|(after, before)| format!("{:.2} s", (after - before).as_secs_f64()))
            .unwrap_or_else(|| "unknown".to_owned());
        ensure!(report.is_ok(), "verification failed: {report}");
        ensure!(report.entries == N_ENTRIES, "verification covered {} entries", report.entries);
        ensure!(report.head.map(|head| *head.as_bytes()) == Some(generated.head), "another head");
        println!(
            "  run {run}: {:7.3} s  {:7.1} MB/s  cpu {cpu} (this process; the server's own cpu is not counted)",
            elapsed.as_secs_f64(),
            rate(generated.n_hashed_bytes, elapsed)
        );
        runs.push(elapsed);
    }
    store.close().await;
    drop(db);
    Ok(Some(PostgresVerification { median: median(&runs), runs }))
}

/// What generation produced, to check the later steps against.
struct Generated {
    head: [u8; 32],
    n_hashed_bytes: u64,
}

/// Fills a fresh database with `N_ENTRIES` entries and a checkpoint every
/// `CHECKPOINT_INTERVAL`, through the same store calls the service uses
/// (`tollgate_testkit::seed::audit_log`: `StoreTx::append_audit`, index rows included).
async fn generate(store: &Store, signing_key: &SigningKey) -> anyhow::Result<Generated> {
    let cpu_before = process_cpu_time();
    let mut tx = store.begin().await.context("starting a transaction")?;
    let recorded_at = Timestamp::from_second(START_SECOND).context("a timestamp in range")?;
    tx.insert_signing_key(&signing_key.verifying_key(), 0, recorded_at).await.context("recording the signing key")?;
    tx.commit().await.context("committing the signing key")?;

    let seeding = AuditSeeding {
        n_entries: N_ENTRIES,
        per_transaction: APPENDS_PER_TRANSACTION,
        checkpoint_interval: CHECKPOINT_INTERVAL,
    };
    let seeded = seed::audit_log(store, signing_key, seeding, |done, elapsed| {
        if done % 200_000 == 0 {
            let elapsed = elapsed.as_secs_f64();
            println!("  {done:>9} entries  {elapsed:6.1} s  ({:.0} entries/s)", done as f64 / elapsed);
        }
    })
    .await?;
    ensure!(seeded.head.0 == N_ENTRIES, "the log ends at {}", seeded.head.0);
    let elapsed = seeded.elapsed;
    let cpu = process_cpu_time().zip(cpu_before).map(|(after, before)| after - before);
    let n_body_bytes = seeded.n_hashed_bytes - 32 * N_ENTRIES;
    println!(
        "generated {N_ENTRIES} entries (and their index rows) in {:.1} s ({:.0} entries/s, process cpu {}), {} per \
         transaction, {} signed checkpoints",
        elapsed.as_secs_f64(),
        N_ENTRIES as f64 / elapsed.as_secs_f64(),
        cpu.map_or_else(|| "unknown".to_owned(), |cpu| format!("{:.1} s", cpu.as_secs_f64())),
        APPENDS_PER_TRANSACTION,
        N_ENTRIES / CHECKPOINT_INTERVAL
    );
    println!(
        "entry bodies: {:.1} MB, {} bytes on average (min {}, max {})",
        megabytes(n_body_bytes),
        n_body_bytes / N_ENTRIES,
        seeded.n_body_bytes_min,
        seeded.n_body_bytes_max
    );
    Ok(Generated { head: *seeded.head.1.as_bytes(), n_hashed_bytes: seeded.n_hashed_bytes })
}

/// Verification timings, first run apart.
struct Verification {
    cold: Duration,
    median: Duration,
    runs: Vec<Duration>,
}

fn bench_verify(path: &Path, signing_key: &SigningKey, generated: &Generated) -> anyhow::Result<Verification> {
    let evicted = evict_from_page_cache(path);
    let verification = tollgate_store::AuditVerification {
        trusted_keys: vec![signing_key.verifying_key()],
        max_unsigned_tail: CHECKPOINT_INTERVAL,
        witnesses: Vec::new(),
    };
    let mut runs = Vec::with_capacity(N_RUNS);
    for run in 1..=N_RUNS {
        let cpu_before = process_cpu_time();
        let started = Instant::now();
        let report =
            tollgate_store::sqlite::verify_file(path, &verification).context("verifying the benchmark database")?;
        let elapsed = started.elapsed();
        let cpu = process_cpu_time()
            .zip(cpu_before)
            .map(|(after, before)| format!("{:.2} s", (after - before).as_secs_f64()))
            .unwrap_or_else(|| "unknown".to_owned());
        ensure!(report.is_ok(), "verification failed: {report}");
        ensure!(report.entries == N_ENTRIES, "verification covered {} entries, not {N_ENTRIES}", report.entries);
        ensure!(
            report.checkpoints_verified as u64 == N_ENTRIES / CHECKPOINT_INTERVAL,
            "verified {} checkpoints",
            report.checkpoints_verified
        );
        ensure!(
            report.head.as_ref().map(|head| *head.as_bytes()) == Some(generated.head),
            "verification ended at another head"
        );
        let note = if run == 1 { "  (first run)" } else { "" };
        println!(
            "  run {run}: {:7.3} s  {:7.1} MB/s  cpu {cpu} (reader + hasher threads){note}",
            elapsed.as_secs_f64(),
            rate(generated.n_hashed_bytes, elapsed)
        );
        if run == 1 {
            println!("  report: {report}");
        }
        runs.push(elapsed);
    }
    match evicted {
        Ok(()) => println!(
            "the first run started with the database file evicted from the page cache \
             (fadvise DONTNEED via dd); runs 2-{N_RUNS} read it from a warm page cache"
        ),
        Err(error) => println!(
            "could not evict the database file from the page cache ({error:#}): every run, \
             the first included, read it from a warm page cache"
        ),
    }
    let cold = runs[0];
    let median = median(&runs);
    Ok(Verification { cold, median, runs })
}

/// Drops this one file's pages from the page cache, leaving the rest of the machine alone.
fn evict_from_page_cache(path: &Path) -> anyhow::Result<()> {
    std::fs::File::open(path).and_then(|file| file.sync_all()).context("syncing the database file")?;
    let status = Command::new("dd")
        .arg(format!("if={}", path.display()))
        .args(["iflag=nocache", "count=0", "status=none"])
        .status()
        .context("running dd")?;
    ensure!(status.success(), "dd failed: {status}");
    if let Ok(output) = Command::new("fincore").arg(path).output() {
        print!("  page cache before the first run (fincore):\n{}", String::from_utf8_lossy(&output.stdout));
    }
    Ok(())
}

/// The raw hashing timings.
struct RawSha256 {
    median: Duration,
    n_hashed_bytes: u64,
}

fn bench_raw_sha256(path: &Path, generated: &Generated) -> anyhow::Result<RawSha256> {
    let started = Instant::now();
    let (bodies, ends) = read_bodies(path)?;
    println!(
        "read {} bodies ({:.1} MB) into memory in {:.2} s (not timed below)",
        ends.len(),
        megabytes(bodies.len() as u64),
        started.elapsed().as_secs_f64()
    );
    let n_hashed_bytes = bodies.len() as u64 + 32 * ends.len() as u64;
    ensure!(
        n_hashed_bytes == generated.n_hashed_bytes,
        "read {n_hashed_bytes} bytes, generated {}",
        generated.n_hashed_bytes
    );
    let mut runs = Vec::with_capacity(N_RUNS);
    for run in 1..=N_RUNS {
        let started = Instant::now();
        let mut previous = GENESIS;
        let mut start = 0;
        for &end in &ends {
            previous = entry_hash(&previous, &bodies[start..end]);
            start = end;
        }
        let head = std::hint::black_box(previous);
        let elapsed = started.elapsed();
        ensure!(head == generated.head, "raw hashing ended at another head");
        println!("  run {run}: {:7.3} s  {:7.1} MB/s", elapsed.as_secs_f64(), rate(n_hashed_bytes, elapsed));
        runs.push(elapsed);
    }
    Ok(RawSha256 { median: median(&runs), n_hashed_bytes })
}

/// Every body, in position order, in one buffer, with the end offset of each.
fn read_bodies(path: &Path) -> anyhow::Result<(Vec<u8>, Vec<usize>)> {
    let connection = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .context("opening the database to read bodies")?;
    let mut statement =
        connection.prepare("SELECT body FROM audit_entries ORDER BY seq").context("preparing the body query")?;
    let mut rows = statement.query([]).context("querying bodies")?;
    let mut bodies = Vec::new();
    let mut ends = Vec::with_capacity(N_ENTRIES as usize);
    while let Some(row) = rows.next().context("reading a body")? {
        let body = row.get_ref(0).context("reading a body")?.as_blob().context("a body is a blob")?;
        bodies.extend_from_slice(body);
        ends.push(bodies.len());
    }
    Ok((bodies, ends))
}

/// The hashing comparison, as printed in the summary.
struct Hashing {
    verify_median: Duration,
    verify_cold: Duration,
    verify_rate: f64,
    raw_rate: f64,
}

fn report_hashing(generated: &Generated, verification: &Verification, raw: &RawSha256) -> Hashing {
    let verify_rate = rate(generated.n_hashed_bytes, verification.median);
    let raw_rate = rate(raw.n_hashed_bytes, raw.median);
    println!();
    println!(
        "bytes hashed per pass: {:.1} MB (32-byte previous hash + body, per entry)",
        megabytes(raw.n_hashed_bytes)
    );
    println!(
        "verify_file: first run {:.3} s, median of {} runs {:.3} s (all: {}) = {verify_rate:.1} MB/s",
        verification.cold.as_secs_f64(),
        N_RUNS,
        verification.median.as_secs_f64(),
        format_runs(&verification.runs),
    );
    println!("raw sha256:  median of {N_RUNS} runs {:.3} s = {raw_rate:.1} MB/s", raw.median.as_secs_f64());
    println!(
        "verify throughput / raw sha256 throughput = {:.2}  (verify's time includes reading \
         every row from SQLite on a second thread)",
        verify_rate / raw_rate
    );
    Hashing { verify_median: verification.median, verify_cold: verification.cold, verify_rate, raw_rate }
}

/// A mutating request that appends exactly one audit entry.
#[derive(Debug, Clone, Copy)]
enum Workload {
    /// `POST /api/v1/teams`: the use case plans against the whole catalog (twice), so its cost
    /// grows with the number of teams already there.
    CreateTeam,
    /// `POST /api/v1/tokens`: a constant amount of work besides the audit append.
    CreateToken,
}

impl Workload {
    fn request(self) -> &'static str {
        match self {
            Workload::CreateTeam => "POST /api/v1/teams",
            Workload::CreateToken => "POST /api/v1/tokens",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Workload::CreateTeam => "/api/v1/teams",
            Workload::CreateToken => "/api/v1/tokens",
        }
    }

    /// The body of request `name`; each name is used once.
    fn body(self, name: &str) -> Value {
        match self {
            Workload::CreateTeam => json!({ "name": name }),
            Workload::CreateToken => json!({ "description": name }),
        }
    }
}

/// One backend's API measurement.
struct ApiResult {
    backend: &'static str,
    workload: Workload,
    n_requests: usize,
    n_failed: usize,
    wall: Duration,
    n_appended: u64,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

/// Each workload on a fresh SQLite database, then on a fresh PostgreSQL database if configured.
async fn bench_api_on_every_backend() -> anyhow::Result<Vec<ApiResult>> {
    let mut results = Vec::new();
    for workload in [Workload::CreateTeam, Workload::CreateToken] {
        println!("{} x {} clients x {REQUESTS_PER_CLIENT}:", workload.request(), N_CLIENTS);
        results.push(bench_api(TestApp::on(TestDb::sqlite(), 1000).await, workload).await?);
        match TestDb::postgres().await {
            Some(db) => results.push(bench_api(TestApp::on(db, 1000).await, workload).await?),
            None => println!("postgres: skipped, {} is not set", tollgate_testkit::POSTGRES_URL_VAR),
        }
    }
    Ok(results)
}

/// Serves the real router for `app` on a loopback port and runs the clients against it.
async fn bench_api(app: TestApp, workload: Workload) -> anyhow::Result<ApiResult> {
    let backend = app.db.backend_name();
    let listener = TcpListener::bind("127.0.0.1:0").await.context("binding a loopback port")?;
    let address = listener.local_addr().context("reading the listener address")?;
    let router = tollgate_http::router(app.tollgate.clone());
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let base_url = format!("http://{address}");
    let clients = (0..N_CLIENTS)
        .map(|_| reqwest::Client::builder().build())
        .collect::<Result<Vec<_>, _>>()
        .context("building the HTTP clients")?;
    // One request per client first, so every client has its connection open before timing.
    for (client_index, client) in clients.iter().enumerate() {
        let name = format!("warm-{client_index}");
        send(client, &base_url, &app.admin_token, workload, &name).await?;
    }

    let head_before = audit_head(&app).await?;
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(N_CLIENTS);
    for (client_index, client) in clients.into_iter().enumerate() {
        let base_url = base_url.clone();
        let token = app.admin_token.clone();
        tasks.push(tokio::spawn(async move { run_client(client, base_url, token, workload, client_index).await }));
    }
    let mut outcomes = Vec::with_capacity(N_CLIENTS);
    for task in tasks {
        outcomes.push(task.await.context("a client task panicked")?);
    }
    let wall = started.elapsed();
    let head_after = audit_head(&app).await?;
    server.abort();

    summarize_api(backend, workload, started, wall, head_after - head_before, outcomes)
}

/// What one client saw.
struct ClientOutcome {
    latencies: Vec<Duration>,
    // When each successful request finished.
    finished: Vec<Instant>,
    n_failed: usize,
    first_failure: Option<String>,
}

async fn run_client(
    client: reqwest::Client,
    base_url: String,
    token: String,
    workload: Workload,
    client_index: usize,
) -> ClientOutcome {
    let mut outcome = ClientOutcome {
        latencies: Vec::with_capacity(REQUESTS_PER_CLIENT),
        finished: Vec::with_capacity(REQUESTS_PER_CLIENT),
        n_failed: 0,
        first_failure: None,
    };
    for n in 0..REQUESTS_PER_CLIENT {
        let name = format!("t-{client_index}-{n}");
        let started = Instant::now();
        let created = send(&client, &base_url, &token, workload, &name).await;
        match created {
            Ok(()) => {
                outcome.latencies.push(started.elapsed());
                outcome.finished.push(Instant::now());
            }
            Err(error) => {
                outcome.n_failed += 1;
                outcome.first_failure.get_or_insert_with(|| format!("{error:#}"));
            }
        }
    }
    outcome
}

/// Sends request `name` of `workload`, which creates one object and appends one audit entry.
async fn send(
    client: &reqwest::Client,
    base_url: &str,
    token: &str,
    workload: Workload,
    name: &str,
) -> anyhow::Result<()> {
    let request = workload.request();
    let response = client
        .post(format!("{base_url}{}", workload.path()))
        .bearer_auth(token)
        .json(&workload.body(name))
        .send()
        .await
        .with_context(|| format!("{request} {name}"))?;
    let status = response.status();
    let body = response.bytes().await.with_context(|| format!("reading the reply to {request} {name}"))?;
    ensure!(status == reqwest::StatusCode::CREATED, "{request} {name}: {status} {}", String::from_utf8_lossy(&body));
    Ok(())
}

async fn audit_head(app: &TestApp) -> anyhow::Result<u64> {
    let mut read = app.store.read().await.context("starting a read")?;
    let (seq, _) = read.audit_head().await.context("reading the audit head")?;
    Ok(seq)
}

fn summarize_api(
    backend: &'static str,
    workload: Workload,
    started: Instant,
    wall: Duration,
    n_appended: u64,
    outcomes: Vec<ClientOutcome>,
) -> anyhow::Result<ApiResult> {
    let n_failed = outcomes.iter().map(|outcome| outcome.n_failed).sum();
    if let Some(failure) = outcomes.iter().find_map(|outcome| outcome.first_failure.clone()) {
        println!("{backend}: {n_failed} requests failed; the first: {failure}");
    }
    let mut finished: Vec<Instant> = outcomes.iter().flat_map(|outcome| outcome.finished.iter().copied()).collect();
    finished.sort_unstable();
    let mut latencies: Vec<Duration> = outcomes.into_iter().flat_map(|outcome| outcome.latencies).collect();
    latencies.sort_unstable();
    let n_succeeded = latencies.len();
    ensure!(
        n_appended == n_succeeded as u64,
        "{backend}: the audit head moved by {n_appended}, but {n_succeeded} requests succeeded"
    );
    ensure!(n_succeeded > 0, "{backend}: no request succeeded");
    let result = ApiResult {
        backend,
        workload,
        n_requests: N_CLIENTS * REQUESTS_PER_CLIENT,
        n_failed,
        wall,
        n_appended,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        max: latencies[n_succeeded - 1],
    };
    println!(
        "  {backend:<8}: {} requests ({} failed) in {:.2} s; audit head +{} = {:.0} entries/s; \
         latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        result.n_requests,
        result.n_failed,
        wall.as_secs_f64(),
        n_appended,
        n_appended as f64 / wall.as_secs_f64(),
        millis(result.p50),
        millis(result.p99),
        millis(result.max),
    );
    println!("  {backend:<8}: requests/s in each quarter of the run: {}", quarter_rates(started, &finished));
    Ok(result)
}

/// Requests completed per second in each quarter (by count) of sorted completion times.
fn quarter_rates(started: Instant, finished: &[Instant]) -> String {
    let mut rates = Vec::with_capacity(4);
    let mut previous_end = started;
    for quarter in 1..=4 {
        let first = finished.len() * (quarter - 1) / 4;
        let end = finished.len() * quarter / 4;
        let Some(&quarter_end) = finished.get(end.saturating_sub(1)) else {
            continue;
        };
        let span = quarter_end.duration_since(previous_end).as_secs_f64();
        rates.push(format!("{:.0}", (end - first) as f64 / span));
        previous_end = quarter_end;
    }
    rates.join(", ")
}

fn print_summary(hashing: Option<&Hashing>, postgres: Option<&PostgresVerification>, api: &[ApiResult]) {
    if let Some(hashing) = hashing {
        let verify_met = hashing.verify_median < VERIFY_TARGET;
        let share = hashing.verify_rate / hashing.raw_rate;
        let share_met = share >= HASHING_SHARE_TARGET;
        println!(
            "[{}] SQLite: verify 1,000,000 entries in under 2 s: median {:.3} s (first run {:.3} s)",
            met(verify_met),
            hashing.verify_median.as_secs_f64(),
            hashing.verify_cold.as_secs_f64()
        );
        println!(
            "[{}] hashing inside verify at >= 50% of the raw sha256 rate: {:.0}% \
             ({:.1} MB/s vs {:.1} MB/s; verify includes reading SQLite)",
            met(share_met),
            share * 100.0,
            hashing.verify_rate,
            hashing.raw_rate
        );
    }
    if let Some(postgres) = postgres {
        println!(
            "[{}] PostgreSQL: verify 1,000,000 entries in under 4 s: median {:.3} s (runs: {})",
            met(postgres.median < POSTGRES_VERIFY_TARGET),
            postgres.median.as_secs_f64(),
            format_runs(&postgres.runs)
        );
    }
    for result in api {
        println!(
            "[info] {:<8} {:<20}: {:.0} audit entries/s with {N_CLIENTS} clients \
             ({} appended, p50 {:.2} ms, p99 {:.2} ms)",
            result.backend,
            result.workload.request(),
            result.n_appended as f64 / result.wall.as_secs_f64(),
            result.n_appended,
            millis(result.p50),
            millis(result.p99),
        );
    }
}

fn print_machine() -> anyhow::Result<()> {
    let n_cpus = std::thread::available_parallelism().context("reading the number of CPUs")?.get();
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown".to_owned());
    let sha_ni = cpuinfo.split_whitespace().any(|flag| flag == "sha_ni");
    let memory = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:").map(str::trim).map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("Tollgate audit bench");
    println!("nproc: {n_cpus}");
    println!("cpu: {model} (sha_ni: {})", if sha_ni { "yes" } else { "no" });
    println!("memory: {memory}");
    println!(
        "build: {}",
        if cfg!(debug_assertions) {
            "debug assertions ON (not an optimized build)"
        } else {
            "optimized (bench profile)"
        }
    );
    Ok(())
}

fn print_file_sizes(path: &Path) -> anyhow::Result<()> {
    let size = std::fs::metadata(path).context("reading the database file size")?.len();
    let wal = path.with_extension("db-wal");
    let wal_size = std::fs::metadata(&wal).map(|meta| meta.len()).unwrap_or(0);
    println!("database file: {:.1} MB, WAL: {:.1} MB", megabytes(size), megabytes(wal_size));
    Ok(())
}

fn heading(title: &str) {
    println!();
    println!("== {title}");
    println!("   (load average now: {})", load_average());
}

/// The 1, 5 and 15 minute load averages: other work on the machine skews every timing here.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|text| text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// CPU time (user + system) this process has used so far, from `/proc/self/stat`.
fn process_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the parenthesized command name; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // Linux reports these in clock ticks of 1/100 s (USER_HZ).
    Some(Duration::from_millis(ticks * 10))
}

fn median(runs: &[Duration]) -> Duration {
    let mut sorted = runs.to_vec();
    sorted.sort_unstable();
    sorted[sorted.len() / 2]
}

/// The nearest-rank percentile of sorted, non-empty `values`.
fn percentile(values: &[Duration], fraction: f64) -> Duration {
    let rank = (fraction * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

fn format_runs(runs: &[Duration]) -> String {
    runs.iter().map(|run| format!("{:.3}", run.as_secs_f64())).collect::<Vec<_>>().join(", ")
}

fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn rate(bytes: u64, elapsed: Duration) -> f64 {
    megabytes(bytes) / elapsed.as_secs_f64()
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn met(condition: bool) -> &'static str {
    if condition {
        "MET"
    } else {
        "MISSED"
    }
}
