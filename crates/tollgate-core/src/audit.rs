//! The audit log: hash-chained entries, signed checkpoints, and their verification.
//!
//! Each entry's canonical bytes (RFC 8785 JSON, format version 1) are stored exactly as hashed:
//! `hash = sha256(previous hash || canonical bytes)`, with 32 zero bytes before the first entry.
//! A checkpoint signs a tree size and the head hash at that size with the server's ed25519 key,
//! so removing entries from the end is detected too. This module only computes and checks; it
//! reads no rows and no files.

pub mod body;
pub mod diff;
pub mod export;
pub mod search;
mod verify;

use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::digest::{canonical_json, Sha256Digest};
use crate::name::UserName;
use crate::Timestamp;

pub use crate::audit::verify::{
    read_entry, ChainProblem, ChainVerifier, EntryFacts, KeyTrust, TrustSource, VerifyFailure, VerifyPolicy,
    VerifyReport,
};

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
            Actor::System => f.write_str(search::SYSTEM_ACTOR),
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
    SigningKey,
    Policy,
    GateDecision,
    GateOverride,
    JitGrant,
    AuthzPolicy,
    AuthzDecision,
    /// Sign-ins of one user or client address (lockouts).
    Login,
    /// The single sign-on settings (`object.id` is `sso`).
    Sso,
    /// A release-calendar period (window, maintenance window, freeze, blackout).
    CalendarPeriod,
    /// A change request (`object.id` is its number).
    ChangeRequest,
    /// The change policy (`object.id` is `changes`).
    ChangePolicy,
    /// A release train (`object.id` is its name).
    Train,
    /// A deployer's lease on an environment's services (`object.id` is its deployment's id).
    Lease,
    /// The engine's run of an orchestrated deployment (`object.id` is its deployment's id).
    Run,
    /// One step of a run (`object.id` is `deployment/position`).
    DeploymentStep,
    /// An environment's quarantine (`object.id` is the environment's name).
    Quarantine,
}

crate::keyword_enum!(ObjectKind {
    Team => "team", User => "user", Token => "token", Service => "service",
    Environment => "environment", Lifecycle => "lifecycle", Release => "release",
    Deployment => "deployment", Artifact => "artifact", TrustedKey => "trusted_key",
    Evidence => "evidence", RetentionPolicy => "retention_policy", LegalHold => "legal_hold",
    SigningKey => "signing_key", Policy => "policy", GateDecision => "gate_decision",
    GateOverride => "gate_override", JitGrant => "jit_grant", AuthzPolicy => "authz_policy",
    AuthzDecision => "authz_decision", Login => "login", Sso => "sso",
    CalendarPeriod => "calendar_period", ChangeRequest => "change_request", ChangePolicy => "change_policy", Train => "train",
    Lease => "lease", Run => "run", DeploymentStep => "deployment_step", Quarantine => "quarantine",
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
    /// A key is enrolled to sign checkpoints.
    #[serde(rename = "enroll")]
    Enroll,
    /// A key replaces the one that signed until now.
    #[serde(rename = "rotate")]
    Rotate,
    /// Gates were evaluated; the decision is on record.
    #[serde(rename = "evaluate")]
    Evaluate,
    /// A refusal was overridden by an authorized person, with a reason.
    #[serde(rename = "override")]
    Override,
    /// An approver approved a change request.
    #[serde(rename = "approve")]
    Approve,
    /// An approver rejected a change request.
    #[serde(rename = "reject")]
    Reject,
    /// User authorization policies are applied.
    #[serde(rename = "apply")]
    Apply,
    /// A sensitive request was allowed.
    #[serde(rename = "allow")]
    Allow,
    /// A sensitive request was denied.
    #[serde(rename = "deny")]
    Deny,
    /// Someone signed in to the web UI.
    #[serde(rename = "sign_in")]
    SignIn,
    /// Someone signed out of the web UI.
    #[serde(rename = "sign_out")]
    SignOut,
    /// A password was set.
    #[serde(rename = "set_password")]
    SetPassword,
    /// Sign-ins were locked out after repeated failures.
    #[serde(rename = "lock_out")]
    LockOut,
    /// A lease was granted.
    #[serde(rename = "acquire")]
    Acquire,
    /// A lease's holder extended it.
    #[serde(rename = "renew")]
    Renew,
    /// A lease ended: its outcome was reported, its deployment finished, or it was taken over.
    #[serde(rename = "release")]
    Release,
    /// An operator ran a step again that a stopped worker left unfinished.
    #[serde(rename = "resume")]
    Resume,
    /// An operator went on without a step.
    #[serde(rename = "skip")]
    Skip,
    /// An operator ended a deployment.
    #[serde(rename = "abort")]
    Abort,
    /// A run began to roll back what it deployed (by itself, or confirmed by an operator).
    #[serde(rename = "roll_back")]
    RollBack,
    /// An environment was quarantined.
    #[serde(rename = "quarantine")]
    Quarantine,
    /// An authorized user lifted a quarantine, with a reason.
    #[serde(rename = "lift")]
    Lift,
    /// An operator paused a run.
    #[serde(rename = "pause")]
    Pause,
    /// An operator promoted a canary rollout at once to all of the traffic.
    #[serde(rename = "promote")]
    Promote,
}

crate::keyword_enum!(AuditAction {
    Create => "create", Update => "update", Revoke => "revoke", Transition => "transition",
    Record => "record", Finish => "finish", Refuse => "refuse", Sign => "sign", Remove => "remove",
    Enroll => "enroll", Rotate => "rotate", Evaluate => "evaluate", Override => "override", Approve => "approve", Reject => "reject",
    Apply => "apply", Allow => "allow", Deny => "deny", SignIn => "sign_in", SignOut => "sign_out",
    SetPassword => "set_password", LockOut => "lock_out", Acquire => "acquire", Renew => "renew",
    Release => "release", Resume => "resume", Skip => "skip", Abort => "abort", RollBack => "roll_back",
    Quarantine => "quarantine", Lift => "lift", Pause => "pause",
    Promote => "promote",
});

/// The actions that introduce a checkpoint signing key into the log: verification reads their
/// `after` as a [`SigningKeyEntry`].
pub const ENROLL_ACTION: &str = "signing_key.enroll";
pub const ROTATE_ACTION: &str = "signing_key.rotate";

/// What the log records when a checkpoint signing key is enrolled (`signing_key.enroll`) or
/// replaces another (`signing_key.rotate`): the `after` of that entry. A stored format that
/// verification reads back, so its fields are never renamed.
///
/// A key introduced this way is trusted by a verifier once a checkpoint signed by a key it
/// already trusts covers the entry (the endorsement); a replaced key signs nothing after that
/// checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningKeyEntry {
    /// `key_id` of the public key.
    pub key_id: String,
    /// The ed25519 public key, 32 bytes in hex.
    pub public_key: String,
    /// A name for the key's holder (a replica), for people.
    pub label: String,
    /// The key this one replaces (on rotation).
    pub replaces: Option<String>,
}

impl SigningKeyEntry {
    pub fn new(key: &VerifyingKey, label: &str, replaces: Option<String>) -> SigningKeyEntry {
        SigningKeyEntry {
            key_id: key_id(key),
            public_key: hex::encode(key.as_bytes()),
            label: label.to_owned(),
            replaces,
        }
    }

    /// The public key, if the entry's key and id agree.
    pub fn verifying_key(&self) -> Result<VerifyingKey, String> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(&self.public_key, &mut bytes).map_err(|_| "public_key is not 32 hex-encoded bytes")?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| "public_key is not an ed25519 key")?;
        if key_id(&key) != self.key_id {
            return Err(format!("key_id {} is not the id of the key", self.key_id));
        }
        Ok(key)
    }
}

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
    /// The action as the log names it, `<object kind>.<verb>`.
    pub fn action_name(&self) -> search::ActionName {
        search::ActionName { kind: self.object.kind, action: self.action }
    }

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
            action: self.action_name().to_string(),
            object: &self.object,
            before: &self.before,
            after: &self.after,
            reason: &self.reason,
            request_id: &self.request_id,
        })
    }
}

/// An entry as stored: its position, its hash and the canonical bytes that were hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    pub seq: u64,
    pub hash: Sha256Digest,
    pub body: Vec<u8>,
}

/// A checkpoint signing key as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub key_id: String,
    pub public_key: VerifyingKey,
    pub created_at: Timestamp,
    /// The audit entry that enrolled it (absent for keys recorded before enrollment existed).
    pub enrolled_seq: Option<u64>,
    /// The tree size after which it signs nothing, when a rotation retired it.
    pub retired_seq: Option<u64>,
    pub retired_at: Option<Timestamp>,
}

/// The outcome of one scheduled verification of the whole chain, as the server keeps it for the
/// dashboard. Derived from a [`VerifyReport`]; not part of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationResult {
    pub verified_at: Timestamp,
    pub ok: bool,
    /// Entries that verified (before the failure, if one came).
    pub entries: u64,
    pub checkpoints_verified: u64,
    pub unsigned_tail: u64,
    /// The first entry that does not verify.
    pub failed_entry: Option<u64>,
    /// What verification found, in a sentence.
    pub message: String,
    /// How long the verification took.
    pub duration: std::time::Duration,
}

impl VerificationResult {
    /// The result that `report`, finished at `verified_at` after `duration`, stands for.
    pub fn of(report: &VerifyReport, verified_at: Timestamp, duration: std::time::Duration) -> VerificationResult {
        VerificationResult {
            verified_at,
            ok: report.is_ok(),
            entries: report.entries,
            checkpoints_verified: report.checkpoints_verified as u64,
            unsigned_tail: report.unsigned_tail,
            failed_entry: report.failure.as_ref().map(|failure| failure.seq),
            message: report.to_string(),
            duration,
        }
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

#[cfg(test)]
mod tests;
