//! The audit log: hash-chained entries, signed checkpoints, and their verification.
//!
//! Each entry's canonical bytes (RFC 8785 JSON, format version 1) are stored exactly as hashed:
//! `hash = sha256(previous hash || canonical bytes)`, with 32 zero bytes before the first entry.
//! A checkpoint signs a tree size and the head hash at that size with the server's ed25519 key,
//! so removing entries from the end is detected too. This module only computes and checks; it
//! reads no rows and no files.

pub mod export;

use std::collections::BTreeMap;
use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::digest::{canonical_json, Sha256Digest};
use crate::name::UserName;
use crate::Timestamp;

/// The hash before the first entry.
pub const GENESIS: [u8; 32] = [0; 32];

/// The version of the entry format written by this build.
pub const ENTRY_FORMAT_VERSION: u32 = 1;

/// Who did something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    User(UserName),
    /// Tollgate itself: bootstrap, workers.
    System,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::User(name) => write!(f, "{name}"),
            // '@' cannot appear in a user name, so this never collides with one.
            Actor::System => f.write_str("@system"),
        }
    }
}

impl Serialize for Actor {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The kinds of object an entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    Team,
    User,
    Token,
    Service,
    Environment,
    Lifecycle,
    Release,
    Deployment,
    Artifact,
    TrustedKey,
    Evidence,
    RetentionPolicy,
    LegalHold,
}

crate::keyword_enum!(ObjectKind {
    Team => "team", User => "user", Token => "token", Service => "service",
    Environment => "environment", Lifecycle => "lifecycle", Release => "release",
    Deployment => "deployment", Artifact => "artifact", TrustedKey => "trusted_key",
    Evidence => "evidence", RetentionPolicy => "retention_policy", LegalHold => "legal_hold",
});

/// The object an entry is about: its kind and its key (a name or a numeric id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectRef {
    pub kind: ObjectKind,
    pub id: String,
}

impl ObjectRef {
    pub fn new(kind: ObjectKind, id: impl fmt::Display) -> ObjectRef {
        ObjectRef { kind, id: id.to_string() }
    }
}

/// What happened, as `<object kind>.<verb>`. Part of the stored format: never rename a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum AuditAction {
    #[serde(rename = "create")]
    Create,
    #[serde(rename = "update")]
    Update,
    #[serde(rename = "revoke")]
    Revoke,
    #[serde(rename = "transition")]
    Transition,
    #[serde(rename = "record")]
    Record,
    #[serde(rename = "finish")]
    Finish,
    /// A request that was refused but must be on record (a push that would change an immutable artifact).
    #[serde(rename = "refuse")]
    Refuse,
    #[serde(rename = "sign")]
    Sign,
    #[serde(rename = "remove")]
    Remove,
}

crate::keyword_enum!(AuditAction {
    Create => "create", Update => "update", Revoke => "revoke", Transition => "transition",
    Record => "record", Finish => "finish", Refuse => "refuse", Sign => "sign", Remove => "remove",
});

/// An entry before it has a place in the chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    pub at: Timestamp,
    pub actor: Actor,
    pub action: AuditAction,
    pub object: ObjectRef,
    /// The object before the change; absent on create.
    pub before: Option<serde_json::Value>,
    /// The object after the change.
    pub after: Option<serde_json::Value>,
    /// Why, when the action requires a reason (unfreeze, cancel, roll back).
    pub reason: Option<String>,
    /// The id of the API request that caused the change.
    pub request_id: Option<String>,
}

impl AuditRecord {
    /// The canonical bytes of this record at position `seq`: what is stored and hashed.
    pub fn canonical_bytes(&self, seq: u64) -> Vec<u8> {
        #[derive(Serialize)]
        struct Stored<'a> {
            v: u32,
            seq: u64,
            at: String,
            actor: &'a Actor,
            action: String,
            object: &'a ObjectRef,
            before: &'a Option<serde_json::Value>,
            after: &'a Option<serde_json::Value>,
            reason: &'a Option<String>,
            request_id: &'a Option<String>,
        }
        canonical_json(&Stored {
            v: ENTRY_FORMAT_VERSION,
            seq,
            at: format_timestamp(self.at),
            actor: &self.actor,
            action: format!("{}.{}", self.object.kind, self.action),
            object: &self.object,
            before: &self.before,
            after: &self.after,
            reason: &self.reason,
            request_id: &self.request_id,
        })
    }
}

/// Formats a timestamp the one way audit entries spell it: UTC, microseconds, `Z`.
pub fn format_timestamp(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The hash of an entry whose canonical bytes are `body`, following `previous`.
pub fn entry_hash(previous: &[u8; 32], body: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(previous);
    hasher.update(body);
    hasher.finalize().into()
}

/// A signed statement that the log had `tree_size` entries with head hash `head`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub tree_size: u64,
    pub head: Sha256Digest,
    pub signed_at: Timestamp,
    pub key_id: String,
    pub signature: [u8; 64],
}

impl Checkpoint {
    /// Signs the head of a log of `tree_size` entries.
    pub fn sign(key: &SigningKey, tree_size: u64, head: Sha256Digest, signed_at: Timestamp) -> Checkpoint {
        let message = checkpoint_message(tree_size, &head, signed_at);
        Checkpoint {
            tree_size,
            head,
            signed_at,
            key_id: key_id(&key.verifying_key()),
            signature: key.sign(&message).to_bytes(),
        }
    }

    /// Whether `key` made this signature.
    pub fn verify_signature(&self, key: &VerifyingKey) -> bool {
        let message = checkpoint_message(self.tree_size, &self.head, self.signed_at);
        key.verify(&message, &Signature::from_bytes(&self.signature)).is_ok()
    }
}

/// The bytes a checkpoint signature covers.
pub fn checkpoint_message(tree_size: u64, head: &Sha256Digest, signed_at: Timestamp) -> Vec<u8> {
    format!(
        "tollgate audit checkpoint v1\ntree_size {tree_size}\nhead {head}\nsigned_at {}\n",
        format_timestamp(signed_at)
    )
    .into_bytes()
}

/// A short, stable name for a public key: the first 16 hex characters of its SHA-256.
pub fn key_id(key: &VerifyingKey) -> String {
    Sha256Digest::of(key.as_bytes()).to_hex()[..16].to_owned()
}

/// Why verification stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainProblem {
    /// The entry's stored hash is not the hash of its bytes after the previous entry.
    HashMismatch,
    /// Entries are missing or out of order.
    SequenceGap { expected: u64, found: u64 },
    /// The entry's bytes are not an entry of a known format, or disagree with its position.
    Malformed { reason: String },
    /// A checkpoint's head hash differs from the chain's hash at its size.
    CheckpointMismatch { tree_size: u64 },
    /// A checkpoint's signature does not verify with the key it names.
    BadSignature { tree_size: u64, key_id: String },
    /// A checkpoint is signed by a key that is not trusted.
    UnknownKey { tree_size: u64, key_id: String },
    /// A checkpoint covers more entries than the log has: entries were removed from the end.
    Truncated { tree_size: u64, entries: u64 },
    /// The recorded head of the log disagrees with its last entry.
    HeadMismatch { recorded_seq: u64, recorded_hash: Sha256Digest },
}

/// The first entry (by position) that does not verify, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyFailure {
    pub seq: u64,
    pub problem: ChainProblem,
}

impl fmt::Display for VerifyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seq = self.seq;
        match &self.problem {
            ChainProblem::HashMismatch => write!(f, "entry {seq}: hash does not match its content and the previous entry (edited, reordered or replaced)"),
            ChainProblem::SequenceGap { expected, found } => write!(f, "entry {expected}: missing (found entry {found} in its place)"),
            ChainProblem::Malformed { reason } => write!(f, "entry {seq}: malformed: {reason}"),
            ChainProblem::CheckpointMismatch { tree_size } => write!(f, "entry {seq}: differs from the checkpoint signed at tree size {tree_size}"),
            ChainProblem::BadSignature { tree_size, key_id } => write!(f, "checkpoint at tree size {tree_size}: signature by key {key_id} does not verify"),
            ChainProblem::UnknownKey { tree_size, key_id } => write!(f, "checkpoint at tree size {tree_size}: signed by untrusted key {key_id}"),
            ChainProblem::Truncated { tree_size, entries } => write!(f, "entry {seq}: missing; a checkpoint covers {tree_size} entries but the log ends after {entries}"),
            ChainProblem::HeadMismatch { recorded_seq, recorded_hash } => write!(f, "entry {seq}: the recorded head is entry {recorded_seq} with hash {recorded_hash}, which the chain does not end with"),
        }
    }
}

/// What a verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Entries that verified before the first failure (all of them on success).
    pub entries: u64,
    pub head: Option<Sha256Digest>,
    pub checkpoints_verified: usize,
    /// Entries after the last verified checkpoint: chained, but not yet signed.
    pub unsigned_tail: u64,
    pub failure: Option<VerifyFailure>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.failure.is_none()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.failure {
            None => {
                write!(f, "ok: {} entries verified", self.entries)?;
                if let Some(head) = &self.head {
                    write!(f, ", head {head}")?;
                }
                write!(f, ", {} signed checkpoints verified", self.checkpoints_verified)?;
                if self.unsigned_tail > 0 {
                    write!(f, ", {} entries after the last checkpoint", self.unsigned_tail)?;
                }
                Ok(())
            }
            Some(failure) => write!(f, "FAILED: {failure}"),
        }
    }
}

/// Verifies a chain fed entry by entry, in position order, against signed checkpoints.
///
/// Feeding stops being useful after the first failure; `push` returns it so callers can stop
/// reading.
pub struct ChainVerifier {
    next_seq: u64,
    previous: [u8; 32],
    // Checkpoints by tree size, already signature-checked.
    checkpoints: BTreeMap<u64, Vec<Checkpoint>>,
    checkpoints_verified: usize,
    last_verified_checkpoint: u64,
    failure: Option<VerifyFailure>,
}

impl ChainVerifier {
    /// Starts a verification. Each checkpoint must be signed by one of `trusted_keys`;
    /// a checkpoint that is not fails the verification.
    pub fn new(checkpoints: Vec<Checkpoint>, trusted_keys: &[VerifyingKey]) -> ChainVerifier {
        let mut verifier = ChainVerifier {
            next_seq: 1,
            previous: GENESIS,
            checkpoints: BTreeMap::new(),
            checkpoints_verified: 0,
            last_verified_checkpoint: 0,
            failure: None,
        };
        let keys: BTreeMap<String, &VerifyingKey> = trusted_keys.iter().map(|key| (key_id(key), key)).collect();
        for checkpoint in checkpoints {
            let problem = match keys.get(&checkpoint.key_id) {
                None => Some(ChainProblem::UnknownKey {
                    tree_size: checkpoint.tree_size,
                    key_id: checkpoint.key_id.clone(),
                }),
                Some(key) if !checkpoint.verify_signature(key) => Some(ChainProblem::BadSignature {
                    tree_size: checkpoint.tree_size,
                    key_id: checkpoint.key_id.clone(),
                }),
                Some(_) => None,
            };
            if let Some(problem) = problem {
                verifier.fail(checkpoint.tree_size, problem);
            }
            verifier.checkpoints.entry(checkpoint.tree_size).or_default().push(checkpoint);
        }
        verifier
    }

    /// Checks the next entry: its position, and its stored hash against its bytes.
    pub fn push(&mut self, seq: u64, stored_hash: &[u8], body: &[u8]) -> Result<(), VerifyFailure> {
        if let Some(failure) = &self.failure {
            return Err(failure.clone());
        }
        if seq != self.next_seq {
            return Err(self.fail(self.next_seq, ChainProblem::SequenceGap { expected: self.next_seq, found: seq }));
        }
        let hash = entry_hash(&self.previous, body);
        if stored_hash != hash {
            return Err(self.fail(seq, ChainProblem::HashMismatch));
        }
        if let Some(checkpoints) = self.checkpoints.get(&seq) {
            if checkpoints.iter().any(|c| c.head.as_bytes() != &hash) {
                return Err(self.fail(seq, ChainProblem::CheckpointMismatch { tree_size: seq }));
            }
            self.checkpoints_verified += checkpoints.len();
            self.last_verified_checkpoint = seq;
        }
        self.previous = hash;
        self.next_seq = seq + 1;
        Ok(())
    }

    /// Ends the verification. `recorded_head` is the head the store says it has, if it keeps one.
    pub fn finish(mut self, recorded_head: Option<(u64, Sha256Digest)>) -> VerifyReport {
        let entries = self.next_seq - 1;
        if self.failure.is_none() {
            if let Some((&tree_size, _)) = self.checkpoints.range(entries + 1..).next() {
                self.fail(entries + 1, ChainProblem::Truncated { tree_size, entries });
            }
        }
        if self.failure.is_none() {
            if let Some((recorded_seq, recorded_hash)) = recorded_head {
                let matches = recorded_seq == entries && (entries == 0 || recorded_hash.as_bytes() == &self.previous);
                if !matches {
                    self.fail(
                        entries.min(recorded_seq) + 1,
                        ChainProblem::HeadMismatch { recorded_seq, recorded_hash },
                    );
                }
            }
        }
        VerifyReport {
            entries,
            head: (entries > 0).then(|| Sha256Digest::from_bytes(self.previous)),
            checkpoints_verified: self.checkpoints_verified,
            unsigned_tail: entries - self.last_verified_checkpoint,
            failure: self.failure,
        }
    }

    fn fail(&mut self, seq: u64, problem: ChainProblem) -> VerifyFailure {
        let failure = VerifyFailure { seq, problem };
        // Keep the first failure by position.
        if self.failure.as_ref().is_none_or(|existing| failure.seq < existing.seq) {
            self.failure = Some(failure.clone());
        }
        self.failure.clone().expect("a failure was just recorded")
    }
}

#[cfg(test)]
mod tests;
