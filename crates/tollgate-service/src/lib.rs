//! Tollgate's use cases. One module per aggregate; each use case opens one transaction, asks
//! the core what to do, persists it, and appends the audit entry in the same transaction.
//!
//! Authorization happens here, on the `Principal` the HTTP layer authenticated: every use case
//! starts with `authorize` (Cedar policies, see `authz`).
//! This crate reads the clock through `Clock`, so tests control time.
#![forbid(unsafe_code)]

pub mod apply;
pub mod artifact;
pub mod artifact_view;
pub mod audit;
pub mod auth;
pub mod authz;
pub mod calendar;
pub mod catalog;
pub mod change;
pub mod dashboard;
pub mod deployment;
mod error;
pub mod evidence;
pub mod gate;
pub mod hooks;
pub mod lease;
pub mod policy_view;
pub mod quarantine;
pub mod readiness;
pub mod release;
pub mod release_view;
pub mod retention;
pub mod run;
pub mod session;
pub mod signing;
pub mod sso;
pub mod train;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tollgate_core::audit::Actor;
use tollgate_core::token::ApiToken;
use tollgate_core::user::User;
use tollgate_core::Timestamp;
use tollgate_store::blob::BlobStore;
use tollgate_store::Store;

pub use crate::error::{Busy, GateRefusal, ServiceError, ServiceResult};
use crate::signing::SigningKeyFile;
/// The policy engine's gate results and built-in library, as the service returns them.
pub use tollgate_policy::{builtin_gates, Availability, BuiltinInfo, GateResult, Outcome};

/// Where the current time comes from.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// Settings of the application.
#[derive(Debug, Clone)]
pub struct Settings {
    /// A signed checkpoint is written every this many audit entries; verification allows at
    /// most this many entries after the last checkpoint.
    pub checkpoint_interval: u64,
    /// A signed checkpoint is also written this often when entries were appended since the
    /// last one, so the unsigned tail is bounded in time too.
    pub checkpoint_every: Duration,
    /// The largest artifact accepted, in bytes.
    pub max_artifact_bytes: u64,
    /// The largest evidence file accepted, in bytes.
    pub max_evidence_bytes: u64,
    /// Evidence files parsed at once; more uploads are refused as busy.
    pub max_parallel_parses: usize,
    /// Which optional segregation-of-duties rules are in force.
    pub segregation: tollgate_authz::Segregation,
    /// How long web sessions last (30 minutes idle, 12 hours at most, by default).
    pub sessions: tollgate_core::session::SessionLifetime,
    /// Single sign-on attempts under way at once (across replicas); more are refused as busy.
    pub sso_max_pending_logins: u64,
    /// How long one request to the identity provider may take.
    pub sso_provider_timeout: Duration,
    /// Where the secrets the configuration names by variable (the SSO client secret) are read.
    pub secret_source: sso::SecretSource,
    /// The server verifies the whole audit chain this often and keeps the result.
    pub verify_every: Duration,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            checkpoint_interval: 1000,
            checkpoint_every: Duration::from_secs(60),
            max_artifact_bytes: 10 * 1024 * 1024 * 1024,
            max_evidence_bytes: 64 * 1024 * 1024,
            max_parallel_parses: std::thread::available_parallelism().map_or(1, usize::from),
            segregation: tollgate_authz::Segregation::default(),
            sessions: tollgate_core::session::SessionLifetime::default(),
            sso_max_pending_logins: 10_000,
            sso_provider_timeout: Duration::from_secs(10),
            secret_source: sso::SecretSource::Environment,
            verify_every: Duration::from_secs(3600),
        }
    }
}

/// The application: the store, the audit signing key and the clock.
#[derive(Clone)]
pub struct Tollgate {
    store: Store,
    blobs: BlobStore,
    // Replaced by a rotation; read for every checkpoint.
    signing_key: Arc<RwLock<Arc<SigningKey>>>,
    key_file: Option<Arc<SigningKeyFile>>,
    clock: Arc<dyn Clock>,
    settings: Settings,
    limits: Arc<Limits>,
    hooks: Arc<hooks::Hooks>,
    /// The authorizer for the latest user policies; rebuilt when a newer version is stored.
    policies: Arc<RwLock<authz::Policies>>,
    /// The installation's secret for sign-in form tokens, read (or made) on first use.
    web_secret: Arc<tokio::sync::OnceCell<Vec<u8>>>,
    /// The calendar compiled for the newest revision read (see `calendar::CalendarCache`).
    calendar_cache: Arc<calendar::CalendarCache>,
    /// The HTTP client and cached discovery document for single sign-on.
    sso: Arc<sso::provider::Provider>,
}

/// Work that is expensive enough to bound per server: whoever finds no permit gets `Busy`.
#[derive(Debug)]
struct Limits {
    /// Full-chain verifications and exports: one at a time.
    audit_scans: Arc<Semaphore>,
    /// Evidence parses: one per core by default.
    parses: Arc<Semaphore>,
    /// Password hashes and checks (argon2id): one per core.
    password_checks: Arc<Semaphore>,
}

impl Limits {
    /// A permit for `kind`, or `Busy` with the seconds to wait.
    fn try_acquire(semaphore: &Arc<Semaphore>, kind: Busy) -> ServiceResult<OwnedSemaphorePermit> {
        semaphore.clone().try_acquire_owned().map_err(|_| ServiceError::Busy(kind))
    }
}

impl std::fmt::Debug for Tollgate {
    // Written by hand: never print the signing key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tollgate").field("store", &self.store).field("settings", &self.settings).finish()
    }
}

/// Who is asking, with which token, and for which request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    /// The token the request authenticated with (none for a web session and for the system's
    /// own work).
    pub token: Option<ApiToken>,
    pub request_id: Option<String>,
    pub kind: PrincipalKind,
}

/// Whether a principal is someone who signed in or Tollgate itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    /// A user or machine identity, through a token or a web session.
    User,
    /// Tollgate's own work (timers, workers): audited as `@system`, never authorized as a user.
    System,
}

impl Principal {
    /// Tollgate itself, for work no request asked for. Use cases that take it skip
    /// authorization; its audit entries name `@system`.
    pub(crate) fn system() -> Principal {
        let user = User {
            name: tollgate_core::name::UserName::parse("tollgate").expect("a valid name"),
            display_name: "Tollgate".to_owned(),
            roles: std::collections::BTreeSet::new(),
        };
        Principal { user, token: None, request_id: None, kind: PrincipalKind::System }
    }

    fn actor(&self) -> Actor {
        match self.kind {
            PrincipalKind::User => Actor::User(self.user.name.clone()),
            PrincipalKind::System => Actor::System,
        }
    }
}

impl Tollgate {
    /// Builds the application around an audit signing key.
    ///
    /// On an empty log the key becomes the log's first (root) key, enrolled by the first entry
    /// with a checkpoint over it. On a log that has entries the key must be enrolled already and
    /// not retired: a server never starts signing with a key the log does not know. `key_file`
    /// is where the key lives, so a rotation can replace it.
    pub async fn open(
        store: Store,
        blobs: BlobStore,
        signing_key: SigningKey,
        key_file: Option<SigningKeyFile>,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> ServiceResult<Tollgate> {
        let limits = Limits {
            audit_scans: Arc::new(Semaphore::new(1)),
            parses: Arc::new(Semaphore::new(settings.max_parallel_parses.max(1))),
            password_checks: Arc::new(Semaphore::new(std::thread::available_parallelism().map_or(1, usize::from))),
        };
        let policies = Arc::new(RwLock::new(authz::Policies::built_in(settings.segregation)));
        let sso = Arc::new(sso::provider::Provider::new(settings.sso_provider_timeout)?);
        let tollgate = Tollgate {
            store,
            blobs,
            signing_key: Arc::new(RwLock::new(Arc::new(signing_key))),
            key_file: key_file.map(Arc::new),
            clock,
            settings,
            limits: Arc::new(limits),
            hooks: Arc::new(hooks::Hooks::default()),
            policies,
            web_secret: Arc::new(tokio::sync::OnceCell::new()),
            calendar_cache: Arc::default(),
            sso,
        };
        tollgate.check_signing_key().await?;
        Ok(tollgate)
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The key that signs checkpoints now.
    pub fn verifying_key(&self) -> ed25519_dalek::VerifyingKey {
        self.signing_key().verifying_key()
    }

    fn signing_key(&self) -> Arc<SigningKey> {
        self.signing_key.read().expect("the signing key lock is never poisoned").clone()
    }

    /// Checks that the database answers (for `/readyz`).
    pub async fn ping(&self) -> ServiceResult<()> {
        Ok(self.store.ping().await?)
    }

    /// The test hooks of this application (inert unless a test arms them).
    pub fn hooks(&self) -> &hooks::Hooks {
        &self.hooks
    }
}
