//! `tollgate serve`: the server process. Opens the store, loads the signing key, bootstraps the
//! admin on an empty database, serves HTTP until SIGINT or SIGTERM, then signs a final audit
//! checkpoint.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
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
        max_artifact_bytes: args.max_artifact_bytes,
        max_evidence_bytes: args.max_evidence_bytes,
    };
    let running = start(&args.storage, args.listen, settings).await?;
    println!("tollgate listening on http://{}", running.address);
    if let Some(token) = &running.admin_token {
        let path = args.storage.data_dir.join(keys::ADMIN_TOKEN_FILE);
        println!("created user admin; its token (shown once, also in {}):\n{token}", path.display());
    }
    let Running { shutdown, mut task, .. } = running;
    tokio::select! {
        signalled = shutdown_signal() => {
            signalled?;
            tracing::info!("shutting down");
            let _ = shutdown.send(());
            task.await.context("the server task panicked")?
        }
        ended = &mut task => ended.context("the server task panicked")?,
    }
}

/// Opens everything and starts serving on `listen` in the background.
pub async fn start(storage: &StorageArgs, listen: SocketAddr, settings: Settings) -> anyhow::Result<Running> {
    keys::ensure_data_dir(&storage.data_dir)?;
    let config = match &storage.database_url {
        Some(url) => DatabaseConfig::parse_url(url).map_err(anyhow::Error::msg)?,
        None => DatabaseConfig::in_data_dir(&storage.data_dir),
    };
    let store = Store::open(&config).await.with_context(|| format!("opening the database {config}"))?;
    let signing_key = keys::load_or_create_signing_key(&storage.data_dir)?;
    let blobs = BlobStore::open(&storage.data_dir.join("blobs")).await.context("opening the blob store")?;
    let tollgate = Tollgate::new(store.clone(), blobs, signing_key, Arc::new(SystemClock), settings).await?;
    let admin_token = match tollgate.bootstrap().await? {
        Some(issued) => {
            keys::write_admin_token(&storage.data_dir, issued.secret.expose())?;
            Some(issued.secret.expose().to_owned())
        }
        None => None,
    };
    let listener = TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
    let address = listener.local_addr()?;
    let (shutdown, stopped) = oneshot::channel::<()>();
    let router = tollgate_http::router(tollgate.clone());
    let app = tollgate.clone();
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
            .context("serving HTTP")?;
        if let Some(checkpoint) = app.checkpoint_now().await? {
            tracing::info!(tree_size = checkpoint.tree_size, "signed the audit checkpoint at shutdown");
        }
        store.close().await;
        Ok(())
    });
    tracing::info!(%address, database = %config, "serving");
    Ok(Running { address, admin_token, shutdown, task })
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        outcome = tokio::signal::ctrl_c() => outcome.context("waiting for Ctrl-C")?,
        _ = terminate.recv() => {}
    }
    Ok(())
}
