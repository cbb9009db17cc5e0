//! Tollgate's use cases. One module per aggregate; each use case opens one transaction, asks
//! the core what to do, persists it, and appends the audit entry in the same transaction.
//!
//! Authorization by role happens here, on the `Principal` the HTTP layer authenticated.
//! This crate reads the clock through `Clock`, so tests control time.
#![forbid(unsafe_code)]

pub mod apply;
pub mod artifact;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod deployment;
mod error;
pub mod evidence;
pub mod release;
pub mod retention;

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use tollgate_core::audit::Actor;
use tollgate_core::user::{Role, User};
use tollgate_core::Timestamp;
use tollgate_store::blob::BlobStore;
use tollgate_store::Store;

pub use crate::error::{ServiceError, ServiceResult};

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
    /// A signed checkpoint is written every this many audit entries.
    pub checkpoint_interval: u64,
    /// The largest artifact accepted, in bytes.
    pub max_artifact_bytes: u64,
    /// The largest evidence file accepted, in bytes.
    pub max_evidence_bytes: u64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            checkpoint_interval: 1000,
            max_artifact_bytes: 10 * 1024 * 1024 * 1024,
            max_evidence_bytes: 64 * 1024 * 1024,
        }
    }
}

/// The application: the store, the audit signing key and the clock.
#[derive(Clone)]
pub struct Tollgate {
    store: Store,
    blobs: BlobStore,
    signing_key: Arc<SigningKey>,
    clock: Arc<dyn Clock>,
    settings: Settings,
}

impl std::fmt::Debug for Tollgate {
    // Written by hand: never print the signing key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tollgate").field("store", &self.store).field("settings", &self.settings).finish()
    }
}

/// Who is asking, and for which request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    pub request_id: Option<String>,
}

impl Principal {
    fn actor(&self) -> Actor {
        Actor::User(self.user.name.clone())
    }

    /// Fails unless the user may change records.
    pub fn require_write(&self) -> ServiceResult<()> {
        if self.user.role.can_write() {
            Ok(())
        } else {
            Err(ServiceError::Forbidden {
                reason: format!("user {} has role {} and may only read", self.user.name, self.user.role),
            })
        }
    }

    /// Fails unless the user is an admin.
    pub fn require_admin(&self) -> ServiceResult<()> {
        if self.user.role == Role::Admin {
            Ok(())
        } else {
            Err(ServiceError::Forbidden { reason: format!("user {} is not an admin", self.user.name) })
        }
    }
}

impl Tollgate {
    /// Builds the application and records the signing key's public half, so checkpoints can be
    /// verified from the database alone.
    pub async fn new(
        store: Store,
        blobs: BlobStore,
        signing_key: SigningKey,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> ServiceResult<Tollgate> {
        let mut tx = store.begin().await?;
        tx.insert_signing_key(&signing_key.verifying_key(), clock.now()).await?;
        tx.commit().await?;
        Ok(Tollgate { store, blobs, signing_key: Arc::new(signing_key), clock, settings })
    }

    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn verifying_key(&self) -> ed25519_dalek::VerifyingKey {
        self.signing_key.verifying_key()
    }
}
