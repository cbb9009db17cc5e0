//! Verification of the audit log: positions, hashes, entry bodies, signed checkpoints, witnesses,
//! and which keys may vouch for the log.
//!
//! Entries are fed in position order. Each one's hash must follow from the previous hash and its
//! bytes; its body must be an entry of a known format that names its own position. A checkpoint
//! counts only when it is signed by a trusted key: then its head must be the chain's hash at its
//! tree size, and it vouches for every entry up to there. Checkpoints by keys the verifier does
//! not trust are counted and ignored, since they vouch for nothing.
//!
//! Trust starts from keys the caller supplies (an auditor's own copy, or the keys a database
//! records about itself) and grows only along the log: an entry that enrolls or rotates a key
//! (`signing_key.enroll`, `signing_key.rotate`) makes that key trusted once a checkpoint by an
//! already trusted key covers the entry; a rotated-out key vouches for nothing after that
//! checkpoint. This module reads no rows and no files.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use ed25519_dalek::VerifyingKey;
use serde::Deserialize;

use crate::audit::{
    entry_hash, key_id, Checkpoint, SigningKeyEntry, ENROLL_ACTION, ENTRY_FORMAT_VERSION, GENESIS, ROTATE_ACTION,
};
use crate::digest::Sha256Digest;

/// Where a verifier's trust starts.
#[derive(Debug, Clone)]
pub enum KeyTrust {
    /// Keys the verifier holds on its own (an auditor's copy of the server's public key).
    Given(Vec<VerifyingKey>),
    /// The keys the verified database records about itself: this proves the log is consistent
    /// with its own checkpoints, not that the keys are the ones an auditor would trust.
    Recorded(Vec<VerifyingKey>),
}

/// What a log must satisfy beyond an unbroken chain.
#[derive(Debug, Clone, Default)]
pub struct VerifyPolicy {
    /// The most entries that may follow the last trusted checkpoint; `0` means a trusted
    /// checkpoint must cover the last entry.
    pub max_unsigned_tail: u64,
    /// Checkpoints saved earlier by the auditor: the log must still contain each one's entry,
    /// with that hash, and may only extend it.
    pub witnesses: Vec<Checkpoint>,
    /// The number of entries the log says it has (an export's header), checked at the end.
    pub declared_entries: Option<u64>,
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
    /// A trusted checkpoint's head hash differs from the chain's hash at its size.
    CheckpointMismatch { tree_size: u64 },
    /// A checkpoint names a trusted key, but its signature does not verify with it.
    BadSignature { tree_size: u64, key_id: String },
    /// A trusted checkpoint covers more entries than the log has: entries were removed.
    Truncated { tree_size: u64, entries: u64 },
    /// The recorded head of the log disagrees with its last entry.
    HeadMismatch { recorded_seq: u64, recorded_hash: Sha256Digest },
    /// The log has entries, but no checkpoint by a trusted key vouches for any of them.
    NoTrustedCheckpoint { entries: u64 },
    /// More entries follow the last trusted checkpoint than the policy allows.
    UnsignedTail { unsigned: u64, max: u64 },
    /// A witness checkpoint's head differs from the chain's hash at its size.
    WitnessMismatch { tree_size: u64 },
    /// A witness covers more entries than the log has: the log was truncated or rewritten.
    WitnessBeyondEnd { tree_size: u64, entries: u64 },
    /// The log holds another number of entries than it declares.
    CountMismatch { declared: u64, found: u64 },
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
            ChainProblem::Truncated { tree_size, entries } => write!(f, "entry {seq}: missing; a checkpoint covers {tree_size} entries but the log ends after {entries}"),
            ChainProblem::HeadMismatch { recorded_seq, recorded_hash } => write!(f, "entry {seq}: the recorded head is entry {recorded_seq} with hash {recorded_hash}, which the chain does not end with"),
            ChainProblem::NoTrustedCheckpoint { entries } => write!(f, "entries 1 to {entries}: no checkpoint signed by a trusted key covers any entry"),
            ChainProblem::UnsignedTail { unsigned, max } => write!(f, "entry {seq}: this and the {} entries after it are not covered by a checkpoint signed by a trusted key (at most {max} may be)", unsigned - 1),
            ChainProblem::WitnessMismatch { tree_size } => write!(f, "entry {seq}: differs from the witness checkpoint at tree size {tree_size} (history was rewritten)"),
            ChainProblem::WitnessBeyondEnd { tree_size, entries } => write!(f, "entry {seq}: missing; the witness checkpoint covers {tree_size} entries but the log ends after {entries}"),
            ChainProblem::CountMismatch { declared, found } => write!(f, "entry {seq}: the log declares {declared} entries but holds {found}"),
        }
    }
}

/// Whose keys a verification trusted, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustSource {
    Given { keys: usize },
    Recorded { keys: usize },
}

/// What a verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Entries that verified before the first failure (all of them on success).
    pub entries: u64,
    pub head: Option<Sha256Digest>,
    /// Checkpoints by trusted keys that matched the chain.
    pub checkpoints_verified: usize,
    /// Entries after the last trusted checkpoint: chained, but not yet vouched for.
    pub unsigned_tail: u64,
    /// Checkpoints by keys the verifier does not trust; they were ignored.
    pub untrusted_checkpoints: usize,
    /// Keys that became trusted along the log (enrolled or rotated in, then endorsed).
    pub endorsed_keys: usize,
    pub witnesses_verified: usize,
    pub trust: TrustSource,
    pub failure: Option<VerifyFailure>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.failure.is_none()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(failure) = &self.failure {
            return write!(f, "FAILED: {failure}");
        }
        write!(f, "ok: {} entries verified", self.entries)?;
        if let Some(head) = &self.head {
            write!(f, ", head {head}")?;
        }
        write!(f, ", {} signed checkpoints verified", self.checkpoints_verified)?;
        write!(f, ", {} entries after the last checkpoint", self.unsigned_tail)?;
        if self.witnesses_verified > 0 {
            write!(f, ", {} witnesses matched", self.witnesses_verified)?;
        }
        if self.untrusted_checkpoints > 0 {
            write!(f, ", {} checkpoints by untrusted keys ignored", self.untrusted_checkpoints)?;
        }
        if self.endorsed_keys > 0 {
            write!(f, ", {} keys endorsed along the log", self.endorsed_keys)?;
        }
        match self.trust {
            TrustSource::Given { keys } => write!(f, "; trusted {keys} given key(s)"),
            TrustSource::Recorded { keys } => write!(
                f,
                "; trusted the {keys} signing key(s) recorded in the database itself, not a key held apart from it"
            ),
        }
    }
}

/// A key the verifier trusts, up to a tree size when it was rotated out.
#[derive(Debug, Clone)]
struct Trusted {
    key: VerifyingKey,
    valid_until: Option<u64>,
}

/// A key the log introduced, waiting for a trusted checkpoint to cover its entry.
#[derive(Debug, Clone)]
struct Pending {
    seq: u64,
    key_id: String,
    key: VerifyingKey,
    replaces: Option<String>,
}

/// The parts of an entry body verification reads: it must be a JSON object with `v` and
/// `seq`; `action` is read when present (key entries); every other field is skipped.
struct EntryHead<'a> {
    v: u32,
    seq: u64,
    action: Option<Cow<'a, str>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for EntryHead<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<EntryHead<'a>, D::Error> {
        struct Fields;
        impl<'de> serde::de::Visitor<'de> for Fields {
            type Value = EntryHead<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            // Only a map: an array of the same values is not an entry.
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<EntryHead<'de>, A::Error> {
                let (mut v, mut seq, mut action) = (None, None, None);
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match key.as_ref() {
                        "v" => v = Some(map.next_value()?),
                        "seq" => seq = Some(map.next_value()?),
                        "action" => action = Some(map.next_value::<Cow<'de, str>>()?),
                        _ => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(EntryHead {
                    v: v.ok_or_else(|| serde::de::Error::missing_field("v"))?,
                    seq: seq.ok_or_else(|| serde::de::Error::missing_field("seq"))?,
                    action,
                })
            }
        }
        deserializer.deserialize_map(Fields)
    }
}

#[derive(Deserialize)]
struct KeyEntry {
    after: SigningKeyEntry,
}

/// What verification reads from an entry's body: its format version and position, and the key
/// it introduces, if it is a key entry.
#[derive(Debug, Clone)]
pub struct EntryFacts {
    v: u32,
    seq: u64,
    key: Option<IntroducedKey>,
}

#[derive(Debug, Clone)]
struct IntroducedKey {
    key_id: String,
    key: VerifyingKey,
    replaces: Option<String>,
}

/// Reads an entry's body: a JSON object with `v` and `seq` (and, for a key entry, `after`).
/// Fails, saying why, when the body is not that. Pure, so it may run on any thread.
pub fn read_entry(body: &[u8]) -> Result<EntryFacts, String> {
    let head: EntryHead<'_> = serde_json::from_slice(body).map_err(|error| format!("not an audit entry: {error}"))?;
    let action = head.action.as_deref().unwrap_or_default();
    let key = if action == ENROLL_ACTION || action == ROTATE_ACTION {
        let entry: KeyEntry = serde_json::from_slice(body).map_err(|error| format!("{action}: {error}"))?;
        let key = entry.after.verifying_key().map_err(|reason| format!("{action}: {reason}"))?;
        Some(IntroducedKey { key_id: entry.after.key_id, key, replaces: entry.after.replaces })
    } else {
        None
    };
    Ok(EntryFacts { v: head.v, seq: head.seq, key })
}

/// Verifies a chain fed entry by entry, in position order.
///
/// Feeding stops being useful after the first failure; `push` returns it so callers can stop
/// reading.
pub struct ChainVerifier {
    next_seq: u64,
    previous: [u8; 32],
    // Checkpoints by tree size, not yet judged.
    checkpoints: BTreeMap<u64, Vec<Checkpoint>>,
    witnesses: BTreeMap<u64, Vec<Checkpoint>>,
    trusted: BTreeMap<String, Trusted>,
    pending: Vec<Pending>,
    trust: TrustSource,
    policy: VerifyPolicy,
    checkpoints_verified: usize,
    untrusted_checkpoints: usize,
    endorsed_keys: usize,
    witnesses_verified: usize,
    last_trusted_checkpoint: u64,
    failure: Option<VerifyFailure>,
}

impl ChainVerifier {
    /// Starts a verification of a log that has `checkpoints`, trusting `trust`.
    pub fn new(checkpoints: Vec<Checkpoint>, trust: KeyTrust, policy: VerifyPolicy) -> ChainVerifier {
        let (keys, source) = match trust {
            KeyTrust::Given(keys) => {
                let n_keys = keys.len();
                (keys, TrustSource::Given { keys: n_keys })
            }
            KeyTrust::Recorded(keys) => {
                let n_keys = keys.len();
                (keys, TrustSource::Recorded { keys: n_keys })
            }
        };
        let mut by_size: BTreeMap<u64, Vec<Checkpoint>> = BTreeMap::new();
        for checkpoint in checkpoints {
            by_size.entry(checkpoint.tree_size).or_default().push(checkpoint);
        }
        let mut witnesses: BTreeMap<u64, Vec<Checkpoint>> = BTreeMap::new();
        for witness in &policy.witnesses {
            witnesses.entry(witness.tree_size).or_default().push(witness.clone());
        }
        ChainVerifier {
            next_seq: 1,
            previous: GENESIS,
            checkpoints: by_size,
            witnesses,
            trusted: keys.into_iter().map(|key| (key_id(&key), Trusted { key, valid_until: None })).collect(),
            pending: Vec::new(),
            trust: source,
            policy,
            checkpoints_verified: 0,
            untrusted_checkpoints: 0,
            endorsed_keys: 0,
            witnesses_verified: 0,
            last_trusted_checkpoint: 0,
            failure: None,
        }
    }

    /// Checks the next entry: its position, its stored hash against its bytes, its body, and
    /// the checkpoints and witnesses at its position.
    pub fn push(&mut self, seq: u64, stored_hash: &[u8], body: &[u8]) -> Result<(), VerifyFailure> {
        self.push_read(seq, stored_hash, body, read_entry(body))
    }

    /// `push`, with the body already read by `read_entry` (on another thread, say, so parsing
    /// and hashing run side by side).
    pub fn push_read(
        &mut self,
        seq: u64,
        stored_hash: &[u8],
        body: &[u8],
        read: Result<EntryFacts, String>,
    ) -> Result<(), VerifyFailure> {
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
        if let Err(reason) = read.and_then(|facts| self.take_facts(seq, facts)) {
            return Err(self.fail(seq, ChainProblem::Malformed { reason }));
        }
        if let Some(witnesses) = self.witnesses.remove(&seq) {
            if witnesses.iter().any(|witness| witness.head.as_bytes() != &hash) {
                return Err(self.fail(seq, ChainProblem::WitnessMismatch { tree_size: seq }));
            }
            self.witnesses_verified += witnesses.len();
        }
        if let Some(checkpoints) = self.checkpoints.remove(&seq) {
            self.judge_checkpoints(seq, &hash, checkpoints)?;
        }
        self.previous = hash;
        self.next_seq = seq + 1;
        Ok(())
    }

    /// Ends the verification. `recorded_head` is the head the store says it has, if it keeps one.
    pub fn finish(mut self, recorded_head: Option<(u64, Sha256Digest)>) -> VerifyReport {
        let entries = self.next_seq - 1;
        if self.failure.is_none() {
            self.judge_end(entries, recorded_head);
        }
        VerifyReport {
            entries,
            head: (entries > 0).then(|| Sha256Digest::from_bytes(self.previous)),
            checkpoints_verified: self.checkpoints_verified,
            unsigned_tail: entries - self.last_trusted_checkpoint,
            untrusted_checkpoints: self.untrusted_checkpoints,
            endorsed_keys: self.endorsed_keys,
            witnesses_verified: self.witnesses_verified,
            trust: self.trust,
            failure: self.failure,
        }
    }

    /// Checks the format version and position an entry states, and picks up a key it introduces.
    fn take_facts(&mut self, seq: u64, facts: EntryFacts) -> Result<(), String> {
        if facts.v != ENTRY_FORMAT_VERSION {
            return Err(format!("format version {}, expected {ENTRY_FORMAT_VERSION}", facts.v));
        }
        if facts.seq != seq {
            return Err(format!("it says it is entry {}", facts.seq));
        }
        if let Some(key) = facts.key {
            self.pending.push(Pending { seq, key_id: key.key_id, key: key.key, replaces: key.replaces });
        }
        Ok(())
    }

    /// Judges the checkpoints at `tree_size`: those by trusted keys must verify and match;
    /// each one may endorse keys, which can make more of them trusted.
    fn judge_checkpoints(
        &mut self,
        tree_size: u64,
        hash: &[u8; 32],
        mut remaining: Vec<Checkpoint>,
    ) -> Result<(), VerifyFailure> {
        loop {
            let (trusted, untrusted): (Vec<Checkpoint>, Vec<Checkpoint>) =
                remaining.into_iter().partition(|checkpoint| self.trusted_key(checkpoint, tree_size).is_some());
            remaining = untrusted;
            if trusted.is_empty() {
                break;
            }
            for checkpoint in &trusted {
                let key = self.trusted_key(checkpoint, tree_size).expect("partitioned as trusted");
                if !checkpoint.verify_signature(&key) {
                    let key_id = checkpoint.key_id.clone();
                    return Err(self.fail(tree_size, ChainProblem::BadSignature { tree_size, key_id }));
                }
                if checkpoint.head.as_bytes() != hash {
                    return Err(self.fail(tree_size, ChainProblem::CheckpointMismatch { tree_size }));
                }
                self.checkpoints_verified += 1;
                self.last_trusted_checkpoint = tree_size;
            }
            self.endorse(tree_size);
        }
        self.untrusted_checkpoints += remaining.len();
        Ok(())
    }

    /// The key a checkpoint names, if it is trusted at `tree_size`.
    fn trusted_key(&self, checkpoint: &Checkpoint, tree_size: u64) -> Option<VerifyingKey> {
        let trusted = self.trusted.get(&checkpoint.key_id)?;
        trusted.valid_until.is_none_or(|until| tree_size <= until).then_some(trusted.key)
    }

    /// A trusted checkpoint at `tree_size` covers the keys introduced up to there: they become
    /// trusted, and the keys they replace stop at this tree size.
    fn endorse(&mut self, tree_size: u64) {
        let (covered, waiting): (Vec<Pending>, Vec<Pending>) =
            std::mem::take(&mut self.pending).into_iter().partition(|pending| pending.seq <= tree_size);
        self.pending = waiting;
        for pending in covered {
            if let Some(replaced) = pending.replaces.as_ref().and_then(|id| self.trusted.get_mut(id)) {
                replaced.valid_until = Some(replaced.valid_until.map_or(tree_size, |until| until.min(tree_size)));
            }
            if let std::collections::btree_map::Entry::Vacant(entry) = self.trusted.entry(pending.key_id) {
                entry.insert(Trusted { key: pending.key, valid_until: None });
                self.endorsed_keys += 1;
            }
        }
    }

    /// The checks that need the whole log, in order: evidence that entries were removed or
    /// the log disagrees with itself first, then coverage by trusted checkpoints. The first that
    /// fails is reported.
    fn judge_end(&mut self, entries: u64, recorded_head: Option<(u64, Sha256Digest)>) {
        let beyond: Vec<Checkpoint> =
            self.checkpoints.range(entries + 1..).flat_map(|(_, list)| list.clone()).collect();
        let mut truncated = None;
        for checkpoint in beyond {
            match self.trusted_key(&checkpoint, checkpoint.tree_size) {
                Some(key) if checkpoint.verify_signature(&key) => {
                    truncated.get_or_insert(checkpoint.tree_size);
                }
                _ => self.untrusted_checkpoints += 1,
            }
        }
        if let Some(tree_size) = truncated {
            self.fail(entries + 1, ChainProblem::Truncated { tree_size, entries });
            return;
        }
        if let Some((&tree_size, _)) = self.witnesses.range(entries + 1..).next() {
            self.fail(entries + 1, ChainProblem::WitnessBeyondEnd { tree_size, entries });
            return;
        }
        if let Some((recorded_seq, recorded_hash)) = recorded_head {
            let matches = recorded_seq == entries && (entries == 0 || recorded_hash.as_bytes() == &self.previous);
            if !matches {
                let seq = entries.min(recorded_seq) + 1;
                self.fail(seq, ChainProblem::HeadMismatch { recorded_seq, recorded_hash });
                return;
            }
        }
        if let Some(declared) = self.policy.declared_entries.filter(|declared| *declared != entries) {
            self.fail(entries.min(declared) + 1, ChainProblem::CountMismatch { declared, found: entries });
            return;
        }
        if entries > 0 && self.checkpoints_verified == 0 {
            self.fail(1, ChainProblem::NoTrustedCheckpoint { entries });
            return;
        }
        let unsigned = entries - self.last_trusted_checkpoint;
        if unsigned > self.policy.max_unsigned_tail {
            let max = self.policy.max_unsigned_tail;
            self.fail(self.last_trusted_checkpoint + 1, ChainProblem::UnsignedTail { unsigned, max });
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
