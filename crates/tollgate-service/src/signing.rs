//! The keys that sign audit checkpoints: the key file of this server, enrolling other replicas'
//! keys, and rotating this server's key.
//!
//! A key may sign only once the log has enrolled it: the first key of an empty log enrolls
//! itself (the root an auditor trusts); every later key is enrolled by an audited entry that a
//! checkpoint by an already enrolled key covers at once, so an offline verifier that trusts the
//! root learns to trust it too. A rotation enrolls the new key the same way and retires the old
//! one from that checkpoint on. A server never makes up a new key for a log that has entries.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use tollgate_core::audit::SigningKeyRecord;
use tollgate_core::audit::{key_id, Actor, AuditAction, Checkpoint, ObjectKind, ObjectRef, SigningKeyEntry};
use tollgate_core::{Problem, Violations};
use tollgate_store::StoreTx;

use crate::audit::Change;
use crate::{Principal, ServiceError, ServiceResult, Tollgate};

/// Why the server cannot sign with its key.
#[derive(Debug, thiserror::Error)]
pub enum SigningKeyProblem {
    #[error(
        "the audit signing key {path} is missing, but the audit log already has {entries} entries; \
         restore the key, or start with --signing-key naming an enrolled key (a new key is never made up \
         for an existing log)"
    )]
    Missing { path: PathBuf, entries: u64 },
    #[error(
        "the audit signing key {key_id} is not enrolled in this log; enroll its public key first \
         (`tollgate audit key enroll --public-key FILE` against a running server, as an admin)"
    )]
    NotEnrolled { key_id: String },
    #[error("the audit signing key {key_id} was retired by a rotation at tree size {retired_seq}; start with the key that replaced it")]
    Retired { key_id: String, retired_seq: u64 },
    #[error("{path} is not an ed25519 private key: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("this server has no key file to rotate")]
    NoKeyFile,
    #[error("writing the audit signing key {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where a server's audit signing key lives: PKCS#8 PEM, mode 0600, with the public half in
/// PEM beside it (`<name>.pub`). A rotation writes the new key to `<file>.next` first.
#[derive(Debug, Clone)]
pub struct SigningKeyFile {
    path: PathBuf,
}

impl SigningKeyFile {
    pub fn new(path: impl Into<PathBuf>) -> SigningKeyFile {
        SigningKeyFile { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the public half is written.
    pub fn public_path(&self) -> PathBuf {
        self.path.with_extension("pub")
    }

    fn next_path(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".next");
        PathBuf::from(name)
    }

    /// The key in the file, or `None` when there is no file.
    pub fn load(&self) -> Result<Option<SigningKey>, SigningKeyProblem> {
        read_key(&self.path)
    }

    /// Generates a key and writes it (and its public half). Fails if the file exists.
    pub fn create(&self) -> Result<SigningKey, SigningKeyProblem> {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        write_key(&self.path, &key)?;
        self.write_public(&key)?;
        Ok(key)
    }

    /// Writes a rotation's new key beside the current one, synced, before the rotation commits.
    fn stage(&self, key: &SigningKey) -> Result<(), SigningKeyProblem> {
        let next = self.next_path();
        let _ = fs::remove_file(&next);
        write_key(&next, key)
    }

    /// A staged key left by a rotation that may or may not have committed.
    fn staged(&self) -> Result<Option<SigningKey>, SigningKeyProblem> {
        read_key(&self.next_path())
    }

    /// Moves the staged key over the current one, once its rotation committed.
    fn promote(&self, key: &SigningKey) -> Result<(), SigningKeyProblem> {
        let io = |source| SigningKeyProblem::Io { path: self.path.clone(), source };
        fs::rename(self.next_path(), &self.path).map_err(io)?;
        if let Some(directory) = self.path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            fs::File::open(directory).and_then(|directory| directory.sync_all()).map_err(io)?;
        }
        self.write_public(key)
    }

    fn discard_staged(&self) {
        let _ = fs::remove_file(self.next_path());
    }

    fn write_public(&self, key: &SigningKey) -> Result<(), SigningKeyProblem> {
        let path = self.public_path();
        let pem = key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|error| SigningKeyProblem::Unreadable { path: path.clone(), reason: error.to_string() })?;
        fs::write(&path, pem).map_err(|source| SigningKeyProblem::Io { path, source })
    }
}

/// Reads a public key in PEM (SubjectPublicKeyInfo), as the key files' `.pub` halves hold it.
pub fn parse_public_key(pem: &str) -> Result<VerifyingKey, String> {
    VerifyingKey::from_public_key_pem(pem.trim()).map_err(|error| format!("not an ed25519 public key: {error}"))
}

fn read_key(path: &Path) -> Result<Option<SigningKey>, SigningKeyProblem> {
    let pem = match fs::read_to_string(path) {
        Ok(pem) => pem,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(SigningKeyProblem::Io { path: path.to_owned(), source }),
    };
    SigningKey::from_pkcs8_pem(&pem)
        .map(Some)
        .map_err(|error| SigningKeyProblem::Unreadable { path: path.to_owned(), reason: error.to_string() })
}

fn write_key(path: &Path, key: &SigningKey) -> Result<(), SigningKeyProblem> {
    let io = |source| SigningKeyProblem::Io { path: path.to_owned(), source };
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|error| SigningKeyProblem::Unreadable { path: path.to_owned(), reason: error.to_string() })?;
    let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(io)?;
    file.write_all(pem.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)
}

/// Where a server's signing key comes from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A key file: loaded, created on an empty log, replaced by rotations.
    File(SigningKeyFile),
    /// A key held in memory (tests); it cannot be rotated.
    Fixed(Box<SigningKey>),
}

impl KeySource {
    /// The key to start with. A rotation interrupted after it committed is finished here; one
    /// interrupted before is forgotten. A missing file on a log with entries is an error.
    pub async fn load(self, store: &tollgate_store::Store) -> ServiceResult<(SigningKey, Option<SigningKeyFile>)> {
        let file = match self {
            KeySource::Fixed(key) => return Ok((*key, None)),
            KeySource::File(file) => file,
        };
        let mut read = store.read().await?;
        let records = read.list_signing_key_records().await?;
        let (entries, _) = read.audit_head().await?;
        drop(read);
        if let Some(staged) = file.staged()? {
            let staged_id = key_id(&staged.verifying_key());
            if records.iter().any(|record| record.key_id == staged_id) {
                file.promote(&staged)?;
                return Ok((staged, Some(file)));
            }
            file.discard_staged();
        }
        match file.load()? {
            Some(key) => Ok((key, Some(file))),
            None if entries == 0 && records.is_empty() => {
                let key = file.create()?;
                Ok((key, Some(file)))
            }
            None => Err(SigningKeyProblem::Missing { path: file.path().to_owned(), entries }.into()),
        }
    }
}

impl Tollgate {
    /// Makes sure this server's key may sign: on an empty log it becomes the root key, enrolled
    /// by the first entry; otherwise it must be enrolled and not retired.
    pub(crate) async fn check_signing_key(&self) -> ServiceResult<()> {
        let key = self.signing_key();
        let key_id = key_id(&key.verifying_key());
        let mut tx = self.store.begin().await?;
        let records = tx.list_signing_key_records().await?;
        let (entries, _) = tx.audit_head().await?;
        match records.iter().find(|record| record.key_id == key_id) {
            Some(SigningKeyRecord { retired_seq: Some(retired_seq), .. }) => {
                Err(SigningKeyProblem::Retired { key_id, retired_seq: *retired_seq }.into())
            }
            Some(_) => Ok(()),
            None if entries == 0 && records.is_empty() => {
                let entry = SigningKeyEntry::new(&key.verifying_key(), "root", None);
                self.enroll_in(&mut tx, Actor::System, None, &entry, AuditAction::Enroll).await?;
                tx.commit().await?;
                Ok(())
            }
            None => Err(SigningKeyProblem::NotEnrolled { key_id }.into()),
        }
    }

    /// Enrolls another replica's public key (PEM) to sign checkpoints of this log. Admins only;
    /// audited, and endorsed at once by a checkpoint signed with this server's key.
    pub async fn enroll_signing_key(
        &self,
        principal: &Principal,
        public_key_pem: &str,
        label: &str,
    ) -> ServiceResult<SigningKeyRecord> {
        self.authorize(
            principal,
            tollgate_authz::Action::SigningKeyEnroll,
            tollgate_authz::Resource::System,
            tollgate_authz::Context::default(),
        )
        .await?;
        let mut violations = Violations::new();
        let key = violations
            .check("public_key", parse_public_key(public_key_pem).map_err(|reason| Problem::Invalid { reason }));
        violations.check("label", tollgate_core::name::check_text(label, 100, true));
        let key = violations.into_result(key)?.expect("a key when there are no violations");
        let entry = SigningKeyEntry::new(&key, label, None);
        let mut tx = self.store.begin().await?;
        self.enroll_in(&mut tx, principal.actor(), principal.request_id.as_deref(), &entry, AuditAction::Enroll)
            .await?;
        let record = find_record(&mut tx, &entry.key_id).await?;
        tx.commit().await?;
        Ok(record)
    }

    /// Replaces this server's signing key with a new one. Admins only; audited. The new key is
    /// written to `<key file>.next` first; the log enrolls it and retires the old key in one
    /// transaction whose checkpoint the old key signs; then the file is moved into place.
    /// Other replicas sharing the old key must be given the new file.
    pub async fn rotate_signing_key(&self, principal: &Principal) -> ServiceResult<SigningKeyRecord> {
        self.authorize(
            principal,
            tollgate_authz::Action::SigningKeyRotate,
            tollgate_authz::Resource::System,
            tollgate_authz::Context::default(),
        )
        .await?;
        let file = self.key_file.clone().ok_or(SigningKeyProblem::NoKeyFile)?;
        let old = self.signing_key();
        let new = SigningKey::generate(&mut rand::rngs::OsRng);
        file.stage(&new)?;
        let rotated = async {
            let entry = SigningKeyEntry::new(&new.verifying_key(), "rotated", Some(key_id(&old.verifying_key())));
            let mut tx = self.store.begin().await?;
            let seq = self
                .enroll_in(&mut tx, principal.actor(), principal.request_id.as_deref(), &entry, AuditAction::Rotate)
                .await?;
            tx.retire_signing_key(&key_id(&old.verifying_key()), seq, self.now()).await?;
            let record = find_record(&mut tx, &entry.key_id).await?;
            tx.commit().await?;
            Ok::<_, ServiceError>(record)
        }
        .await;
        match rotated {
            Ok(record) => {
                file.promote(&new)?;
                *self.signing_key.write().expect("the signing key lock is never poisoned") = Arc::new(new);
                Ok(record)
            }
            Err(error) => {
                file.discard_staged();
                Err(error)
            }
        }
    }

    pub async fn list_signing_keys(&self, principal: &Principal) -> ServiceResult<Vec<SigningKeyRecord>> {
        self.authorize_read(principal).await?;
        Ok(self.store.read().await?.list_signing_key_records().await?)
    }

    /// Appends the entry that enrolls (or rotates in) `entry`'s key, records the key, and signs
    /// the checkpoint that endorses it with the current key. Returns the entry's position.
    async fn enroll_in(
        &self,
        tx: &mut StoreTx,
        actor: Actor,
        request_id: Option<&str>,
        entry: &SigningKeyEntry,
        action: AuditAction,
    ) -> ServiceResult<u64> {
        let key = entry.verifying_key().map_err(|reason| {
            let mut violations = Violations::new();
            violations.push("public_key", Problem::Invalid { reason });
            ServiceError::Invalid(violations)
        })?;
        let object = ObjectRef::new(ObjectKind::SigningKey, &entry.key_id);
        let change = Change { action, object, before: None, after: Some(entry), reason: None };
        let stored = self.append(tx, actor, request_id, change).await?;
        tx.insert_signing_key(&key, stored.seq, self.now()).await?;
        // The endorsement: unless a checkpoint at this size exists already (the interval's), sign one.
        let checkpoint = Checkpoint::sign(&self.signing_key(), stored.seq, stored.hash, self.now());
        tx.insert_checkpoint(&checkpoint).await?;
        Ok(stored.seq)
    }
}

async fn find_record(tx: &mut StoreTx, key_id: &str) -> ServiceResult<SigningKeyRecord> {
    let records = tx.list_signing_key_records().await?;
    records
        .into_iter()
        .find(|record| record.key_id == key_id)
        .ok_or_else(|| crate::catalog::not_found(tollgate_core::Entity::SigningKey, key_id))
}
