//! Tollgate storage: one `Store` over SQLite (the embedded default) and PostgreSQL.
//!
//! The queries are written once, in a portable SQL subset, against sqlx's `Any` driver
//! (`conn`, `tx`, `audit`). What differs between the backends lives in `sqlite` and `postgres`:
//! connecting, pragmas, how writers are serialized, and the migrations (`migrations/sqlite`,
//! `migrations/postgres`). Rows are converted to core types in `rows`; no driver type leaves
//! this crate.
//!
//! Invariants: the audit log has no update or delete path in this crate; every write happens in
//! a `StoreTx`, and the audit entry for it is appended in that same transaction.
#![forbid(unsafe_code)]

mod artifact;
mod audit;
pub mod blob;
mod config;
mod conn;
mod error;
mod postgres;
mod rows;
pub mod sqlite;
pub mod tx;

use std::sync::Once;

use sqlx::AnyPool;

pub use crate::artifact::{EvidenceRecord, LegalHold, NewTrustedKey};
pub use crate::audit::StoredEntry;
pub use crate::config::DatabaseConfig;
pub use crate::conn::{Conn, Page, StoreRead};
pub use crate::error::StoreError;
pub use crate::tx::StoreTx;

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The storage of one Tollgate installation. Cheap to clone: it holds connection pools.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    // Invariant: on SQLite the writer pool has exactly one connection, so write transactions
    // never race for the database lock; on PostgreSQL both pools are the same pool.
    writer: AnyPool,
    reader: AnyPool,
    config: DatabaseConfig,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("config", &self.config).finish()
    }
}

impl Store {
    /// Connects to the database and applies pending migrations.
    ///
    /// Fails with `Unavailable` when the database cannot be reached or migrated.
    pub async fn open(config: &DatabaseConfig) -> Result<Store, StoreError> {
        let store = Store::connect(config).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without migrating, for tools that only read an existing database.
    pub async fn connect(config: &DatabaseConfig) -> Result<Store, StoreError> {
        install_drivers();
        let store = match config {
            DatabaseConfig::Sqlite { path } => sqlite::open(path).await?,
            DatabaseConfig::Postgres { url } => postgres::open(url).await?,
        };
        Ok(Store { config: config.clone(), ..store })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn config(&self) -> &DatabaseConfig {
        &self.config
    }

    /// Starts a write transaction. Dropping it without `commit` rolls everything back.
    pub async fn begin(&self) -> Result<StoreTx, StoreError> {
        let transaction = self.writer.begin().await.map_err(StoreError::from_sqlx)?;
        Ok(StoreTx::new(transaction))
    }

    /// Starts a read-only transaction: a consistent snapshot for several reads.
    pub async fn read(&self) -> Result<StoreRead, StoreError> {
        let transaction = self.reader.begin().await.map_err(StoreError::from_sqlx)?;
        Ok(StoreRead::new(transaction))
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.reader).await.map_err(StoreError::from_sqlx)?;
        Ok(())
    }

    /// Closes every connection; pending work finishes first.
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = match self.backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        migrator.run(&self.writer).await.map_err(|error| StoreError::Unavailable(Box::new(error)))
    }
}

fn install_drivers() {
    static DRIVERS: Once = Once::new();
    DRIVERS.call_once(sqlx::any::install_default_drivers);
}
