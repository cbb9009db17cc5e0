//! Large data sets for benchmarks: an audit log of any length, appended through the store's own
//! path (`StoreTx::append_audit`, which writes each entry's search index row in the same
//! transaction) in big transactions, with a signed checkpoint at regular positions, so the log
//! verifies and searches like one a server wrote.
//!
//! The entries are realistic rather than uniform: twelve users and the system, services created
//! and updated, releases created and moved with reasons, deployments recorded, spread one a
//! second from 2026-03-01T12:00:00Z.

use std::time::{Duration, Instant};

use anyhow::{ensure, Context as _};
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};
use tollgate_core::audit::{entry_hash, Actor, AuditAction, AuditRecord, Checkpoint, ObjectKind, ObjectRef, GENESIS};
use tollgate_core::digest::Sha256Digest;
use tollgate_core::name::UserName;
use tollgate_core::Timestamp;
use tollgate_store::Store;

/// 2026-03-01T12:00:00Z: entry `seq` is dated this many seconds plus `seq`.
pub const START_SECOND: i64 = 1_772_366_400;

/// How many entries [`audit_log`] appends, how many per transaction, and where it signs.
#[derive(Debug, Clone, Copy)]
pub struct AuditSeeding {
    pub n_entries: u64,
    pub per_transaction: u64,
    /// A checkpoint is signed at every multiple of this position.
    pub checkpoint_interval: u64,
}

impl AuditSeeding {
    /// `n_entries` in transactions of 10,000, a checkpoint every 100,000 positions.
    pub fn benchmark(n_entries: u64) -> AuditSeeding {
        AuditSeeding { n_entries, per_transaction: 10_000, checkpoint_interval: 100_000 }
    }
}

/// What [`audit_log`] appended.
#[derive(Debug, Clone)]
pub struct SeededLog {
    /// The position and hash of the last entry.
    pub head: (u64, Sha256Digest),
    pub n_entries: u64,
    /// Bytes a verifier hashes for the appended entries: each body and the previous hash.
    pub n_hashed_bytes: u64,
    pub n_body_bytes_min: usize,
    pub n_body_bytes_max: usize,
    pub elapsed: Duration,
}

/// Appends `seeding.n_entries` realistic entries after the log's head, `per_transaction` in
/// each transaction, and signs a checkpoint with `signing_key` at every multiple of
/// `checkpoint_interval` (the caller records the key first, or uses one the log enrolled).
/// `progress` is called after each transaction with the entries appended so far.
pub async fn audit_log(
    store: &Store,
    signing_key: &SigningKey,
    seeding: AuditSeeding,
    mut progress: impl FnMut(u64, Duration),
) -> anyhow::Result<SeededLog> {
    ensure!(seeding.per_transaction > 0 && seeding.checkpoint_interval > 0, "{seeding:?} appends nothing");
    let fixtures = Fixtures::new()?;
    let started = Instant::now();
    let (first_seq, _) = store.read().await?.audit_head().await?;
    let mut seeded = SeededLog {
        head: (first_seq, Sha256Digest::from_bytes(GENESIS)),
        n_entries: 0,
        n_hashed_bytes: 0,
        n_body_bytes_min: usize::MAX,
        n_body_bytes_max: 0,
        elapsed: Duration::ZERO,
    };
    while seeded.n_entries < seeding.n_entries {
        let mut tx = store.begin().await.context("starting a transaction")?;
        let batch_end = (seeded.n_entries + seeding.per_transaction).min(seeding.n_entries);
        for _ in seeded.n_entries..batch_end {
            let seq = seeded.head.0 + 1;
            let record = fixtures.record(seq)?;
            let entry = tx.append_audit(&record).await.with_context(|| format!("appending entry {seq}"))?;
            ensure!(entry.seq == seq, "entry {seq} was stored as {}", entry.seq);
            if seq % seeding.checkpoint_interval == 0 {
                let checkpoint = Checkpoint::sign(signing_key, seq, entry.hash, record.at);
                tx.insert_checkpoint(&checkpoint).await.with_context(|| format!("the checkpoint at {seq}"))?;
            }
            seeded.n_hashed_bytes += 32 + entry.body.len() as u64;
            seeded.n_body_bytes_min = seeded.n_body_bytes_min.min(entry.body.len());
            seeded.n_body_bytes_max = seeded.n_body_bytes_max.max(entry.body.len());
            seeded.head = (entry.seq, entry.hash);
            seeded.n_entries += 1;
        }
        tx.commit().await.with_context(|| format!("committing entries up to {}", seeded.head.0))?;
        progress(seeded.n_entries, started.elapsed());
    }
    seeded.elapsed = started.elapsed();
    Ok(seeded)
}

/// The values the records are made of.
struct Fixtures {
    users: Vec<Actor>,
}

const USERS: [&str; 12] =
    ["ana", "bo", "chen", "dara", "emeka", "fatima", "goran", "hana", "ines", "jonas", "kofi", "lena"];
const SERVICES: [&str; 16] = [
    "payments-api",
    "ledger",
    "checkout-web",
    "identity",
    "search",
    "notifications",
    "billing-worker",
    "catalog",
    "pricing",
    "inventory",
    "shipping",
    "reporting",
    "fraud-scoring",
    "gateway",
    "media-store",
    "recommendations",
];
const TEAMS: [&str; 5] = ["core-payments", "platform", "growth", "logistics", "data"];
const CRITICALITIES: [&str; 4] = ["low", "medium", "high", "critical"];
const RELEASE_TYPES: [&str; 4] = ["major", "minor", "patch", "emergency"];
const STRATEGIES: [&str; 4] = ["big_bang", "phased", "pilot", "parallel"];

impl Fixtures {
    fn new() -> anyhow::Result<Fixtures> {
        let users = USERS
            .iter()
            .map(|name| UserName::parse(name).map(Actor::User))
            .collect::<Result<Vec<_>, _>>()
            .context("parsing the fixture user names")?;
        Ok(Fixtures { users })
    }

    /// A realistic entry, one of five shapes, varied by `seq`.
    fn record(&self, seq: u64) -> anyhow::Result<AuditRecord> {
        let actor = self.users[seq as usize % self.users.len()].clone();
        let service = SERVICES[(seq / 5) as usize % SERVICES.len()];
        let release_id = seq / 5 + 1;
        let (actor, action, object, before, after, reason) = match seq % 5 {
            0 => (
                actor,
                AuditAction::Create,
                ObjectRef::new(ObjectKind::Service, service),
                None,
                Some(service_json(seq, service, 0)),
                None,
            ),
            1 => (
                actor,
                AuditAction::Update,
                ObjectRef::new(ObjectKind::Service, service),
                Some(service_json(seq, service, 0)),
                Some(service_json(seq, service, 1)),
                None,
            ),
            2 => (
                actor,
                AuditAction::Create,
                ObjectRef::new(ObjectKind::Release, release_id),
                None,
                Some(release_json(seq, release_id, service, "draft")),
                None,
            ),
            3 => (
                actor,
                AuditAction::Transition,
                ObjectRef::new(ObjectKind::Release, release_id),
                Some(release_json(seq, release_id, service, "submitted")),
                Some(release_json(seq, release_id, service, "approved")),
                (seq % 4 == 0).then(|| format!("approved after CAB review {}", seq % 97)),
            ),
            _ => (
                Actor::System,
                AuditAction::Record,
                ObjectRef::new(ObjectKind::Deployment, seq / 5 + 1),
                None,
                Some(deployment_json(seq, release_id)),
                None,
            ),
        };
        Ok(AuditRecord {
            at: Timestamp::from_second(START_SECOND + seq as i64).context("a timestamp in range")?,
            actor,
            action,
            object,
            before,
            after,
            reason,
            request_id: Some(format!("{:016x}-{:08x}", seq.wrapping_mul(0x9e37_79b9), seq)),
        })
    }
}

fn service_json(seq: u64, service: &str, revision: u64) -> Value {
    let index = (seq / 5) as usize;
    let depends_on: Vec<&str> =
        (1..=(index % 3)).map(|offset| SERVICES[(index + offset * 5) % SERVICES.len()]).collect();
    json!({
        "name": service,
        "owner": TEAMS[index % TEAMS.len()],
        "criticality": CRITICALITIES[(index + revision as usize) % CRITICALITIES.len()],
        "depends_on": depends_on,
        "description": format!(
            "{service}: serves production traffic for region {}, revision {}",
            ["eu-west", "us-east", "ap-south"][index % 3],
            index as u64 * 2 + revision
        ),
    })
}

fn release_json(seq: u64, release_id: u64, service: &str, state: &str) -> Value {
    let index = seq / 5;
    json!({
        "id": release_id,
        "version": format!("2026.{}.{}", index % 12 + 1, index % 31),
        "lifecycle": "standard",
        "release_type": RELEASE_TYPES[index as usize % RELEASE_TYPES.len()],
        "strategy": STRATEGIES[index as usize % STRATEGIES.len()],
        "state": state,
        "title": format!("Release {release_id} of {service}"),
        "artifacts": [{
            "service": service,
            "name": format!("{service}-image"),
            "version": format!("1.{}.{}", index % 40, seq % 100),
            "digest": fake_digest(seq),
        }],
    })
}

fn deployment_json(seq: u64, release_id: u64) -> Value {
    let environment = ["staging", "production-eu", "production-us"][(seq % 3) as usize];
    json!({
        "release": release_id,
        "environment": environment,
        "manifest_digest": fake_digest(seq),
        "state": "succeeded",
        "started_at": START_SECOND + seq as i64 - 90,
        "finished_at": START_SECOND + seq as i64,
    })
}

fn fake_digest(seed: u64) -> String {
    Sha256Digest::from_bytes(entry_hash(&GENESIS, &seed.to_le_bytes())).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_seeded_log_continues_the_head_verifies_and_is_indexed() {
        let db = crate::TestDb::sqlite();
        let store = Store::open(db.config()).await.expect("the store opens");
        let key = SigningKey::from_bytes(&[9; 32]);
        let mut tx = store.begin().await.expect("a transaction");
        tx.insert_signing_key(&key.verifying_key(), 0, Timestamp::UNIX_EPOCH).await.expect("the key");
        tx.commit().await.expect("committed");
        let mut batches = Vec::new();
        let seeding = AuditSeeding { n_entries: 2_500, per_transaction: 1_000, checkpoint_interval: 1_000 };
        let seeded = audit_log(&store, &key, seeding, |done, _| batches.push(done)).await.expect("seeded");
        assert_eq!((seeded.n_entries, seeded.head.0), (2_500, 2_500));
        assert_eq!(batches, [1_000, 2_000, 2_500]);
        let verification = tollgate_store::AuditVerification {
            trusted_keys: vec![key.verifying_key()],
            max_unsigned_tail: 500,
            witnesses: Vec::new(),
        };
        let report = store.verify_audit(&verification).await.expect("verified");
        assert!(report.is_ok() && report.entries == 2_500 && report.checkpoints_verified == 2, "{report}");
        assert_eq!(report.head, Some(seeded.head.1));
        let counts = store.read().await.expect("a read").row_counts().await.expect("counts");
        assert_eq!((counts["audit_entries"], counts["audit_index"]), (2_500, 2_500));

        // Seeding again continues after the head.
        let more = AuditSeeding { n_entries: 10, ..seeding };
        let continued = audit_log(&store, &key, more, |_, _| {}).await.expect("seeded");
        assert_eq!(continued.head.0, 2_510);
        store.close().await;
    }
}
