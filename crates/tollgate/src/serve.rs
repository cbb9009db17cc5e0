//! `tollgate serve`: the server process. Opens the store, loads the signing key (refusing a
//! missing or unenrolled one on an existing log), bootstraps the admin on an empty database,
//! serves HTTP, signs timed checkpoints and verifies the audit chain on a timer until SIGINT or
//! SIGTERM, then signs a final checkpoint.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tollgate_core::run::WorkerName;
use tollgate_core::session::SessionLifetime;
use tollgate_http::WebSettings;
use tollgate_service::signing::{KeySource, SigningKeyFile};
use tollgate_service::{Settings, SystemClock, Tollgate};
use tollgate_store::blob::BlobStore;
use tollgate_store::{DatabaseConfig, Store};

use crate::args::{ServeArgs, StorageArgs};
use crate::keys;

/// A server that is listening.
pub struct Running {
    pub address: SocketAddr,
    /// The admin token, when this start created it.
    pub admin_token: Option<String>,
    /// The admin's first password for the web UI, when this start created it.
    pub admin_password: Option<String>,
    shutdown: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Stops accepting requests, waits for the ones in flight, signs a checkpoint, closes the store.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(());
        self.task.await.context("the server task panicked")?
    }
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let settings = Settings {
        checkpoint_interval: args.checkpoint_interval.max(1),
        checkpoint_every: std::time::Duration::from_secs(args.checkpoint_every.max(1)),
        verify_every: std::time::Duration::from_secs(args.verify_every.max(1)),
        max_artifact_bytes: args.max_artifact_bytes,
        max_evidence_bytes: args.max_evidence_bytes,
        segregation: tollgate_service::authz::Segregation {
            author_does_not_ship_to_prod: !args.segregation_author_may_ship,
            outside_team_approver_for_prod: !args.segregation_team_approvals,
        },
        sessions: SessionLifetime {
            idle: jiff::SignedDuration::from_secs(i64::try_from(args.session_idle).unwrap_or(i64::MAX)),
            absolute: jiff::SignedDuration::from_secs(i64::try_from(args.session_lifetime).unwrap_or(i64::MAX)),
        },
        ..Settings::default()
    };
    let web = WebSettings { trusted_proxies: args.trusted_proxies.clone() };
    // Installed before the address is printed: whoever reads it may signal at once.
    let mut signals = Signals::install()?;
    let workers = Workers { count: args.workers as usize, claim_ttl: std::time::Duration::from_secs(args.claim_ttl) };
    let running = start(&args.storage, args.signing_key.as_deref(), args.listen, settings, web, workers).await?;
    announce(&args.storage.data_dir, &running);
    let Running { shutdown, mut task, .. } = running;
    tokio::select! {
        signalled = signals.wait() => {
            signalled?;
            tracing::info!("shutting down");
            let _ = shutdown.send(());
            task.await.context("the server task panicked")?
        }
        ended = &mut task => ended.context("the server task panicked")?,
    }
}

/// Prints the address and, on a first start, the admin's token and password. Whoever started the
/// server may have closed its standard output after reading the address: a failed write is
/// ignored (both secrets are also in files), where `println!` would panic and stop the server.
fn announce(data_dir: &std::path::Path, running: &Running) {
    use std::io::Write as _;
    let mut text = format!("tollgate listening on http://{}\n", running.address);
    if let Some(token) = &running.admin_token {
        let path = data_dir.join(keys::ADMIN_TOKEN_FILE);
        text.push_str(&format!("created user admin; its token (shown once, also in {}):\n{token}\n", path.display()));
    }
    if let Some(password) = &running.admin_password {
        let path = data_dir.join(keys::ADMIN_PASSWORD_FILE);
        text.push_str(&format!(
            "sign in to the web UI at http://{}/login as admin with the password (also in {}):\n{password}\n",
            running.address,
            path.display()
        ));
    }
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush());
}

/// Opens everything and starts serving on `listen` in the background.
pub async fn start(
    storage: &StorageArgs,
    signing_key: Option<&Path>,
    listen: SocketAddr,
    settings: Settings,
    web: WebSettings,
    workers: Workers,
) -> anyhow::Result<Running> {
    keys::ensure_data_dir(&storage.data_dir)?;
    let config = match &storage.database_url {
        Some(url) => DatabaseConfig::parse_url(url).map_err(anyhow::Error::msg)?,
        None => DatabaseConfig::in_data_dir(&storage.data_dir),
    };
    let store = Store::open(&config).await.with_context(|| format!("opening the database {config}"))?;
    let key_path = signing_key.map_or_else(|| storage.data_dir.join(keys::SIGNING_KEY_FILE), Path::to_path_buf);
    let (key, key_file) = KeySource::File(SigningKeyFile::new(key_path)).load(&store).await?;
    let blobs = BlobStore::open(&storage.data_dir.join("blobs")).await.context("opening the blob store")?;
    let checkpoint_every = settings.checkpoint_every;
    let verify_every = settings.verify_every;
    let tollgate = Tollgate::open(store.clone(), blobs, key, key_file, Arc::new(SystemClock), settings).await?;
    // The token and password reach their files before the admin is committed: a crash cannot
    // lose them.
    let bootstrapped = tollgate
        .bootstrap(|first| {
            keys::write_admin_token(&storage.data_dir, first.token.secret.expose())?;
            keys::write_admin_password(&storage.data_dir, &first.password.0).map(drop)
        })
        .await?;
    let (admin_token, admin_password) = match bootstrapped? {
        Some(first) => (Some(first.token.secret.expose().to_owned()), Some(first.password.0)),
        None => (None, None),
    };
    let listener = TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
    let address = listener.local_addr()?;
    let (shutdown, stopped) = oneshot::channel::<()>();
    let router = tollgate_http::router_with(tollgate.clone(), web);
    let app = tollgate.clone();
    let timer = tokio::spawn(checkpoint_timer(tollgate.clone(), checkpoint_every));
    let verifier = tokio::spawn(verification_timer(tollgate.clone(), verify_every));
    let leases = tokio::spawn(lease_timer(tollgate.clone()));
    let engines = start_workers(&tollgate, &workers)?;
    let task = tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
            .context("serving HTTP")?;
        timer.abort();
        verifier.abort();
        leases.abort();
        // A step in flight is abandoned: its claim lapses and a worker (here after a restart,
        // or on another replica) takes the run over, as after a crash.
        for engine in engines {
            engine.abort();
        }
        if let Some(checkpoint) = app.checkpoint_now().await? {
            tracing::info!(tree_size = checkpoint.tree_size, "signed the audit checkpoint at shutdown");
        }
        store.close().await;
        Ok(())
    });
    tracing::info!(%address, database = %config, "serving");
    Ok(Running { address, admin_token, admin_password, shutdown, task })
}

/// The deployment workers a server runs.
#[derive(Debug, Clone)]
pub struct Workers {
    pub count: usize,
    pub claim_ttl: std::time::Duration,
}

impl Default for Workers {
    fn default() -> Workers {
        Workers { count: 2, claim_ttl: tollgate_worker::EngineSettings::default().claim_ttl }
    }
}

/// Starts `workers.count` deployment workers, each named after this process: a name is never
/// reused, so a restarted server takes its old runs over like any other replica would.
fn start_workers(tollgate: &Tollgate, workers: &Workers) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let process: u32 = rand::random();
    let supervisor = std::env::current_exe().context("finding the tollgate binary, which supervises steps")?;
    let settings = tollgate_worker::EngineSettings {
        claim_ttl: workers.claim_ttl,
        supervisor: Some(supervisor),
        ..Default::default()
    };
    (0..workers.count)
        .map(|index| {
            let name = format!("worker-{}-{process:08x}-{index}", std::process::id());
            let worker =
                WorkerName::parse(&name).map_err(|problem| anyhow::anyhow!("worker name {name}: {problem}"))?;
            let engine = tollgate_worker::Engine::new(tollgate.clone(), worker, settings.clone());
            Ok(tokio::spawn(engine.run(std::future::pending())))
        })
        .collect()
}

/// Signs a checkpoint every `every` when entries came since the last one, so the log's
/// unsigned tail is bounded in time as well as in count. A failed tick is logged and retried
/// at the next one.
async fn checkpoint_timer(tollgate: Tollgate, every: std::time::Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        match tollgate.timed_checkpoint().await {
            Ok(Some(checkpoint)) => {
                tracing::debug!(tree_size = checkpoint.tree_size, "signed a timed audit checkpoint")
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(error = %error, "could not sign a timed audit checkpoint"),
        }
    }
}

/// How often a server ends the leases that expired without a report.
const LEASE_SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Ends the leases that expired without a report, so a deployer that died leaves no deployment
/// running for ever, and applies the default judgment of manual steps nobody judged in time. A
/// failed tick is logged and retried at the next one.
async fn lease_timer(tollgate: Tollgate) {
    let mut ticks = tokio::time::interval(LEASE_SWEEP_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match tollgate.expire_leases().await {
            Ok(ended) if ended.is_empty() => {}
            Ok(ended) => tracing::info!(deployments = ?ended, "ended leases that expired without a report"),
            Err(error) => tracing::warn!(error = %error, "could not end expired leases"),
        }
        match tollgate.expire_judgments().await {
            Ok(moved) if moved.is_empty() => {}
            Ok(moved) => tracing::info!(deployments = ?moved, "applied the default judgment of manual steps"),
            Err(error) => tracing::warn!(error = %error, "could not apply the default judgments"),
        }
    }
}

/// How long after start the first scheduled verification runs (sooner when the timer's period
/// is shorter): late enough not to slow the start, early enough that a dashboard soon has one.
const FIRST_VERIFICATION_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// Verifies the whole audit chain every `every` and stores the result, so a dashboard shows it
/// without verifying. A failed verification is logged as an error; a tick that could not run
/// (the database unreachable) is logged and retried at the next one.
async fn verification_timer(tollgate: Tollgate, every: std::time::Duration) {
    let first = tokio::time::Instant::now() + FIRST_VERIFICATION_AFTER.min(every);
    let mut ticks = tokio::time::interval_at(first, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match tollgate.scheduled_audit_verification().await {
            Ok(Some(result)) if result.ok => {
                tracing::info!(
                    entries = result.entries,
                    duration_ms = result.duration.as_millis(),
                    "verified the audit chain"
                )
            }
            Ok(Some(result)) => tracing::error!(message = %result.message, "the audit chain failed verification"),
            Ok(None) => {}
            Err(error) => tracing::warn!(error = %error, "could not verify the audit chain"),
        }
    }
}

/// The signals that stop the server, SIGINT (Ctrl-C) and SIGTERM, handled from the moment
/// they are installed.
pub struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn install() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
            terminate: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
        })
    }

    /// Resolves on the first SIGINT or SIGTERM.
    pub async fn wait(&mut self) -> anyhow::Result<()> {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        Ok(())
    }
}
