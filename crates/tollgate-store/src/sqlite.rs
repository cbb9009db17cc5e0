//! The SQLite backend: one file in the data directory, WAL mode, one writer connection.
//!
//! Also the read-only audit verifier for SQLite files. It reads with rusqlite on its own thread
//! while the caller hashes, so verification runs at close to the speed of SHA-256.

use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use ed25519_dalek::VerifyingKey;
use sqlx::any::AnyPoolOptions;
use sqlx::Executor;
use tollgate_core::audit::{read_entry, Checkpoint, EntryFacts, VerifyReport};
use tollgate_core::digest::Sha256Digest;
use tollgate_core::Entity;

use crate::audit::AuditVerification;
use crate::error::StoreError;
use crate::{Backend, DatabaseConfig, Store};

// `synchronous = FULL`: a commit is on disk when it returns, WAL mode or not.
const PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                       PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;";

pub(crate) async fn open(path: &Path) -> Result<Store, StoreError> {
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let connect = |max_connections: u32| {
        AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(|connection, _| {
                Box::pin(async move {
                    connection.execute(PRAGMAS).await?;
                    Ok(())
                })
            })
            .connect(&url)
    };
    let writer = connect(1).await.map_err(StoreError::from_sqlx)?;
    let reader = connect(8).await.map_err(StoreError::from_sqlx)?;
    Ok(Store { backend: Backend::Sqlite, writer, reader, config: DatabaseConfig::Sqlite { path: path.to_owned() } })
}

/// Entries per batch handed from the reader thread to the hasher.
const BATCH_ENTRIES: usize = 1024;
/// Batches in flight between the two threads; their buffers are reused, not reallocated.
const BATCHES_IN_FLIGHT: usize = 4;

/// Verifies the audit chain of a SQLite database file without changing it.
///
/// One read transaction on the reader thread reads the recorded keys, the checkpoints, the head
/// and then the entries up to that head, so a server appending meanwhile changes nothing the
/// verification sees.
pub fn verify_file(path: &Path, verification: &AuditVerification) -> Result<VerifyReport, StoreError> {
    let connection = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(unavailable)?;
    let (start_sender, start_receiver) = mpsc::sync_channel::<Result<LogStart, StoreError>>(1);
    let (full_sender, full_receiver) = mpsc::sync_channel::<Result<Batch, StoreError>>(BATCHES_IN_FLIGHT);
    let (empty_sender, empty_receiver) = mpsc::channel::<Batch>();
    for _ in 0..BATCHES_IN_FLIGHT {
        empty_sender.send(Batch::default()).expect("the receiver of empty batches is alive here");
    }
    let reading = thread::spawn(move || read_log(connection, start_sender, full_sender, empty_receiver));
    let outcome = (|| {
        let start = start_receiver.recv().map_err(|error| StoreError::Unavailable(Box::new(error)))??;
        let mut verifier = verification.verifier(start.checkpoints, start.recorded_keys);
        for batch in full_receiver.iter() {
            let mut batch = batch?;
            for (seq, hash, body, facts) in batch.entries() {
                if verifier.push_read(seq, hash, body, facts).is_err() {
                    return Ok(verifier.finish(Some(start.head)));
                }
            }
            batch.clear();
            // The reader may have finished and gone; then the buffer is simply dropped.
            let _ = empty_sender.send(batch);
        }
        Ok(verifier.finish(Some(start.head)))
    })();
    // When the verifier stopped early, dropping both channel ends here ends the reader.
    drop(full_receiver);
    drop(empty_sender);
    reading.join().expect("the audit reader thread does not panic");
    outcome
}

/// What the reader reads before the entries, in the same transaction.
struct LogStart {
    recorded_keys: Vec<VerifyingKey>,
    checkpoints: Vec<Checkpoint>,
    head: (u64, Sha256Digest),
}

/// Entries read ahead of the hasher, packed into one buffer so reading allocates nothing per
/// entry and the buffers can be reused; with each body already read (`read_entry`) on the
/// reader's thread, so parsing runs beside hashing.
#[derive(Default)]
struct Batch {
    seqs: Vec<u64>,
    facts: Vec<Result<EntryFacts, String>>,
    // The stored hash and then the body of each entry, back to back.
    bytes: Vec<u8>,
    // For each entry, where its hash ends and where its body ends in `bytes`.
    ends: Vec<(usize, usize)>,
}

impl Batch {
    fn push(&mut self, seq: u64, hash: &[u8], body: &[u8]) {
        self.seqs.push(seq);
        self.facts.push(read_entry(body));
        self.bytes.extend_from_slice(hash);
        let hash_end = self.bytes.len();
        self.bytes.extend_from_slice(body);
        self.ends.push((hash_end, self.bytes.len()));
    }

    fn len(&self) -> usize {
        self.seqs.len()
    }

    fn is_empty(&self) -> bool {
        self.seqs.is_empty()
    }

    fn entries(&mut self) -> impl Iterator<Item = (u64, &[u8], &[u8], Result<EntryFacts, String>)> {
        let starts = std::iter::once(0).chain(self.ends.iter().map(|&(_, body_end)| body_end));
        let facts = self.facts.drain(..);
        self.seqs.iter().zip(starts.zip(&self.ends)).zip(facts).map(
            |((&seq, (start, &(hash_end, body_end))), facts)| {
                (seq, &self.bytes[start..hash_end], &self.bytes[hash_end..body_end], facts)
            },
        )
    }

    fn clear(&mut self) {
        self.seqs.clear();
        self.facts.clear();
        self.bytes.clear();
        self.ends.clear();
    }
}

fn read_log(
    mut connection: rusqlite::Connection,
    start: mpsc::SyncSender<Result<LogStart, StoreError>>,
    full: mpsc::SyncSender<Result<Batch, StoreError>>,
    empty: mpsc::Receiver<Batch>,
) {
    let mut started = false;
    let outcome = (|| {
        let transaction = connection.transaction().map_err(unavailable)?;
        let head: (i64, Vec<u8>) = transaction
            .query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(unavailable)?;
        let head = (
            u64::try_from(head.0).map_err(|_| StoreError::corrupt(Entity::AuditHead, 1, "negative seq"))?,
            digest_from(&head.1, Entity::AuditHead, 1)?,
        );
        let log_start = LogStart {
            recorded_keys: recorded_keys(&transaction)?,
            checkpoints: read_checkpoints(&transaction)?,
            head,
        };
        started = true;
        if start.send(Ok(log_start)).is_err() {
            return Ok(());
        }
        let mut statement = transaction
            .prepare("SELECT seq, hash, body FROM audit_entries WHERE seq <= ?1 ORDER BY seq")
            .map_err(unavailable)?;
        let mut rows = statement.query([head.0 as i64]).map_err(unavailable)?;
        // No empty batch means the hasher has stopped: there is nothing left to read for.
        let Ok(mut batch) = empty.recv() else {
            return Ok(());
        };
        while let Some(row) = rows.next().map_err(unavailable)? {
            let seq: i64 = row.get(0).map_err(unavailable)?;
            let seq = u64::try_from(seq).map_err(|_| StoreError::corrupt(Entity::AuditEntry, seq, "negative seq"))?;
            // As bytes whatever the stored type: an edit may have turned a blob into text.
            let hash = row.get_ref(1).map_err(unavailable)?.as_bytes().map_err(|e| unavailable(e.into()))?;
            let body = row.get_ref(2).map_err(unavailable)?.as_bytes().map_err(|e| unavailable(e.into()))?;
            batch.push(seq, hash, body);
            if batch.len() == BATCH_ENTRIES {
                if full.send(Ok(batch)).is_err() {
                    return Ok(());
                }
                let Ok(next) = empty.recv() else {
                    return Ok(());
                };
                batch = next;
            }
        }
        if !batch.is_empty() {
            let _ = full.send(Ok(batch));
        }
        Ok(())
    })();
    if let Err(error) = outcome {
        // The error goes to the side that waits for it: the start, or the batches after it.
        if started {
            let _ = full.send(Err(error));
        } else {
            let _ = start.send(Err(error));
        }
    }
}

fn recorded_keys(connection: &rusqlite::Transaction<'_>) -> Result<Vec<VerifyingKey>, StoreError> {
    let mut statement = connection.prepare("SELECT key_id, public_key FROM signing_keys").map_err(unavailable)?;
    let rows = statement
        .query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, Vec<u8>>(1)?)))
        .map_err(unavailable)?;
    let mut keys = Vec::new();
    for row in rows {
        let (key_id, bytes) = row.map_err(unavailable)?;
        keys.push(crate::rows::verifying_key(&key_id, &bytes)?);
    }
    Ok(keys)
}

fn read_checkpoints(connection: &rusqlite::Transaction<'_>) -> Result<Vec<Checkpoint>, StoreError> {
    let mut statement = connection
        .prepare("SELECT tree_size, key_id, head, signed_at, signature FROM audit_checkpoints ORDER BY tree_size")
        .map_err(unavailable)?;
    let rows = statement
        .query_map([], |row| {
            Ok(crate::rows::CheckpointRow {
                tree_size: row.get(0)?,
                key_id: row.get(1)?,
                head: row.get(2)?,
                signed_at: row.get(3)?,
                signature: row.get(4)?,
            })
        })
        .map_err(unavailable)?;
    let mut checkpoints = Vec::new();
    for row in rows {
        checkpoints.push(row.map_err(unavailable)?.try_into()?);
    }
    Ok(checkpoints)
}

fn digest_from(bytes: &[u8], entity: Entity, key: i64) -> Result<Sha256Digest, StoreError> {
    let array: [u8; 32] = bytes.try_into().map_err(|_| StoreError::corrupt(entity, key, "hash is not 32 bytes"))?;
    Ok(Sha256Digest::from_bytes(array))
}

fn unavailable(error: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(Box::new(error))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_core::audit::{
        entry_hash, Actor, AuditAction, AuditRecord, ChainProblem, ObjectKind, ObjectRef, GENESIS,
    };

    #[test]
    fn a_batch_gives_back_every_entry_as_pushed_and_can_be_reused() {
        let entries: Vec<(u64, Vec<u8>, Vec<u8>)> = vec![
            (1, vec![1; 32], b"first".to_vec()),
            (2, vec![], b"".to_vec()),
            (3, vec![3; 5], b"third, with a short hash".to_vec()),
        ];
        let mut batch = Batch::default();
        for _ in 0..2 {
            for (seq, hash, body) in &entries {
                batch.push(*seq, hash, body);
            }
            let read: Vec<(u64, Vec<u8>, Vec<u8>)> =
                batch.entries().map(|(seq, hash, body, _)| (seq, hash.to_vec(), body.to_vec())).collect();
            assert_eq!(read, entries);
            batch.clear();
            assert!(batch.is_empty());
        }
    }

    /// The pragmas every connection runs with: `synchronous = FULL` (2) makes a commit durable
    /// when it returns, so a crash just after an acknowledged write loses nothing.
    #[tokio::test]
    async fn every_connection_commits_durably_in_wal_mode_with_foreign_keys() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let config = DatabaseConfig::Sqlite { path: dir.path().join("tollgate.db") };
        let store = Store::open(&config).await.expect("the store opens");
        for (name, pool) in [("writer", &store.writer), ("reader", &store.reader)] {
            let mut connection = pool.acquire().await.expect("a connection");
            let (synchronous,): (i64,) =
                sqlx::query_as("PRAGMA synchronous").fetch_one(&mut *connection).await.expect("read");
            let (journal,): (String,) =
                sqlx::query_as("PRAGMA journal_mode").fetch_one(&mut *connection).await.expect("read");
            let (foreign_keys,): (i64,) =
                sqlx::query_as("PRAGMA foreign_keys").fetch_one(&mut *connection).await.expect("read");
            assert_eq!((synchronous, journal.as_str(), foreign_keys), (2, "wal", 1), "{name}");
        }
        assert_eq!(store.writer.options().get_max_connections(), 1, "one writer connection");
    }

    fn key() -> ed25519_dalek::SigningKey {
        ed25519_dalek::SigningKey::from_bytes(&[5; 32])
    }

    /// A database with the real schema and `n` chained entries, more than fit in one batch, and
    /// a checkpoint over all of them signed with `key()`.
    fn database_with_entries(dir: &Path, n: u64) -> std::path::PathBuf {
        let path = dir.join("tollgate.db");
        let mut connection = rusqlite::Connection::open(&path).expect("the database opens");
        let transaction = connection.transaction().expect("a transaction starts");
        transaction.execute_batch(include_str!("../migrations/sqlite/0001_initial.sql")).expect("the schema applies");
        let mut previous = GENESIS;
        for seq in 1..=n {
            let record = AuditRecord {
                at: "2026-03-01T12:00:00Z".parse().expect("timestamp"),
                actor: Actor::System,
                action: AuditAction::Create,
                object: ObjectRef::new(ObjectKind::Team, format!("team-{seq}")),
                before: None,
                after: None,
                reason: None,
                request_id: None,
            };
            let body = record.canonical_bytes(seq);
            let hash = entry_hash(&previous, &body);
            transaction
                .execute(
                    "INSERT INTO audit_entries (seq, hash, body) VALUES (?1, ?2, ?3)",
                    rusqlite::params![seq as i64, hash.to_vec(), body],
                )
                .expect("an entry inserts");
            previous = hash;
        }
        transaction
            .execute(
                "UPDATE audit_head SET seq = ?1, hash = ?2 WHERE id = 1",
                rusqlite::params![n as i64, previous.to_vec()],
            )
            .expect("the head updates");
        let checkpoint = Checkpoint::sign(&key(), n, Sha256Digest::from_bytes(previous), record_time());
        transaction
            .execute(
                "INSERT INTO audit_checkpoints (tree_size, key_id, head, signed_at, signature) VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![
                    n as i64,
                    checkpoint.key_id,
                    checkpoint.head.as_bytes().to_vec(),
                    0i64,
                    checkpoint.signature.to_vec()
                ],
            )
            .expect("the checkpoint inserts");
        transaction.commit().expect("the entries commit");
        path
    }

    fn record_time() -> tollgate_core::Timestamp {
        tollgate_core::Timestamp::UNIX_EPOCH
    }

    fn trusting_key() -> AuditVerification {
        AuditVerification { trusted_keys: vec![key().verifying_key()], max_unsigned_tail: 0, witnesses: Vec::new() }
    }

    #[test]
    fn an_edit_after_the_first_batches_is_found_and_named() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let n = 3 * BATCH_ENTRIES as u64 + 7;
        let path = database_with_entries(dir.path(), n);
        let report = verify_file(&path, &trusting_key()).expect("verification runs");
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.entries, n);

        let edited = 2 * BATCH_ENTRIES as u64 + 5;
        let connection = rusqlite::Connection::open(&path).expect("the database opens");
        connection.execute_batch("DROP TRIGGER audit_entries_no_update;").expect("the trigger drops");
        connection
            .execute("UPDATE audit_entries SET body = 'edited' WHERE seq = ?1", [edited as i64])
            .expect("the edit runs");
        drop(connection);
        let report = verify_file(&path, &trusting_key()).expect("verification runs");
        let failure = report.failure.expect("the edit is found");
        assert_eq!(failure.seq, edited);
        assert_eq!(failure.problem, ChainProblem::HashMismatch);
        assert_eq!(report.entries, edited - 1);
    }
}
