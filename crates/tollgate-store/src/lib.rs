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
mod audit_search;
mod authz;
pub mod blob;
mod calendar;
mod change;
mod config;
mod conn;
mod error;
mod evidence;
mod gate;
mod key;
mod lease;
mod postgres;
mod quarantine;
mod retention;
mod rows;
mod run;
mod session;
pub mod sqlite;
mod sso;
mod traffic;
mod train;
pub mod tx;

use std::sync::Once;

use sqlx::AnyPool;

pub use crate::audit::AuditVerification;
pub use crate::audit_search::KEPT_VERIFICATIONS;
pub use crate::change::ChangeFilter;
pub use crate::config::DatabaseConfig;
pub use crate::conn::{Conn, StoreRead};
pub use crate::error::StoreError;
pub use crate::evidence::NewEvidence;
pub use crate::gate::NewGateDecision;
pub use crate::key::NewTrustedKey;
pub use crate::lease::NewLease;
pub use crate::tx::StoreTx;

/// Whether a write transaction may append audit entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Audited {
    Yes,
    No,
}

/// Work that one replica at a time does, each with its own advisory lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Signing an audit checkpoint on the timer.
    TimedCheckpoint,
    /// Verifying the whole audit chain on the timer.
    ScheduledVerification,
}

impl Job {
    fn lock_key(self) -> i64 {
        // Arbitrary, fixed and distinct: "tollgate" in ASCII, plus the job.
        const BASE: i64 = 0x746f_6c6c_6761_7400;
        match self {
            Job::TimedCheckpoint => BASE + 1,
            Job::ScheduledVerification => BASE + 2,
        }
    }
}

/// A replica's claim on a job that writes nothing to the audit log, held until dropped: on
/// PostgreSQL an open transaction holding the job's advisory lock (rolled back, and so released,
/// when dropped, even if the job fails); on SQLite, where one process owns the file, nothing.
/// It holds no write lock, so the job's own reads and writes run beside it.
pub struct JobClaim {
    // Held only for its advisory lock; never written through.
    lock: Option<sqlx::Transaction<'static, sqlx::any::Any>>,
}

impl JobClaim {
    /// Gives the job up now, so another replica may take the next run.
    pub async fn release(self) -> Result<(), StoreError> {
        if let Some(transaction) = self.lock {
            transaction.rollback().await.map_err(StoreError::from_sqlx)?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for JobClaim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobClaim").field("locked", &self.lock.is_some()).finish()
    }
}

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

    /// Starts an audited write transaction: one that may append to the audit log. Dropping it
    /// without `commit` rolls everything back.
    ///
    /// On PostgreSQL it takes the audit head's row lock before anything else, so audited writers
    /// queue in one place and can never deadlock on each other's rows. On SQLite the single
    /// writer connection serializes them already.
    pub async fn begin(&self) -> Result<StoreTx, StoreError> {
        let mut transaction = self.writer.begin().await.map_err(StoreError::from_sqlx)?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE")
                .execute(&mut *transaction)
                .await
                .map_err(StoreError::from_sqlx)?;
        }
        Ok(StoreTx::new(transaction, Audited::Yes))
    }

    /// Starts a write transaction that appends nothing to the audit log (web sessions, worker
    /// leases): it stays off the audit head lock, and `append_audit` refuses to run in it.
    pub async fn begin_unaudited(&self) -> Result<StoreTx, StoreError> {
        let transaction = self.writer.begin().await.map_err(StoreError::from_sqlx)?;
        Ok(StoreTx::new(transaction, Audited::No))
    }

    /// Starts an audited write transaction for a job that one replica at a time runs, or
    /// returns `None` when another replica holds the job now (PostgreSQL advisory lock,
    /// released at commit or rollback). On SQLite there is one process: it always starts.
    pub async fn begin_job(&self, job: Job) -> Result<Option<StoreTx>, StoreError> {
        let mut transaction = self.writer.begin().await.map_err(StoreError::from_sqlx)?;
        if self.backend == Backend::Postgres {
            let (locked,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_xact_lock($1)")
                .bind(job.lock_key())
                .fetch_one(&mut *transaction)
                .await
                .map_err(StoreError::from_sqlx)?;
            if !locked {
                return Ok(None);
            }
            sqlx::query("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE")
                .execute(&mut *transaction)
                .await
                .map_err(StoreError::from_sqlx)?;
        }
        Ok(Some(StoreTx::new(transaction, Audited::Yes)))
    }

    /// Claims `job` for this replica, or returns `None` when another replica holds it now
    /// (PostgreSQL advisory lock, released when the claim is dropped). For long jobs that append
    /// nothing to the audit log (verifying it on a timer): unlike [`Store::begin_job`] it takes
    /// neither the audit head lock nor, on SQLite, the writer connection.
    pub async fn claim_job(&self, job: Job) -> Result<Option<JobClaim>, StoreError> {
        if self.backend == Backend::Sqlite {
            return Ok(Some(JobClaim { lock: None }));
        }
        let mut transaction = self.reader.begin().await.map_err(StoreError::from_sqlx)?;
        let (locked,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_xact_lock($1)")
            .bind(job.lock_key())
            .fetch_one(&mut *transaction)
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok(locked.then_some(JobClaim { lock: Some(transaction) }))
    }

    /// Starts a read-only transaction: one consistent snapshot for several reads (on
    /// PostgreSQL, `REPEATABLE READ`; on SQLite, the WAL snapshot of the transaction).
    pub async fn read(&self) -> Result<StoreRead, StoreError> {
        let mut transaction = self.reader.begin().await.map_err(StoreError::from_sqlx)?;
        if self.backend == Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *transaction)
                .await
                .map_err(StoreError::from_sqlx)?;
        }
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
