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
use tollgate_core::audit::{ChainVerifier, Checkpoint, VerifyReport};
use tollgate_core::digest::Sha256Digest;

use crate::error::StoreError;
use crate::{Backend, DatabaseConfig, Store};

const PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
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

/// Rows read ahead of the hasher, per batch.
const BATCH: usize = 4096;

/// Verifies the audit chain of a SQLite database file without changing it.
///
/// Checkpoints must be signed by one of `trusted_keys`, or, when that is empty, by a key
/// recorded in the database itself.
pub fn verify_file(path: &Path, trusted_keys: &[VerifyingKey]) -> Result<VerifyReport, StoreError> {
    let open = || {
        rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(unavailable)
    };
    let connection = open()?;
    let keys = if trusted_keys.is_empty() { recorded_keys(&connection)? } else { trusted_keys.to_vec() };
    let checkpoints = read_checkpoints(&connection)?;
    let head: (i64, Vec<u8>) = connection
        .query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |row| Ok((row.get(0)?, row.get(1)?)))
        .map_err(unavailable)?;
    let recorded_head = (
        u64::try_from(head.0).map_err(|_| StoreError::corrupt("audit head", 1, "negative seq"))?,
        digest_from(&head.1, "audit head", 1)?,
    );
    drop(connection);

    let mut verifier = ChainVerifier::new(checkpoints, &keys);
    let (sender, receiver) = mpsc::sync_channel::<Result<Vec<RawEntry>, StoreError>>(4);
    let reader = open()?;
    let reading = thread::spawn(move || read_entries(reader, sender));
    let mut stopped_early = false;
    'batches: for batch in receiver.iter() {
        for entry in batch? {
            if verifier.push(entry.seq, &entry.hash, &entry.body).is_err() {
                stopped_early = true;
                break 'batches;
            }
        }
    }
    // When the verifier stopped early the receiver is dropped here, which ends the reader.
    drop(receiver);
    reading.join().expect("the audit reader thread does not panic");
    let _ = stopped_early;
    Ok(verifier.finish(Some(recorded_head)))
}

struct RawEntry {
    seq: u64,
    hash: Vec<u8>,
    body: Vec<u8>,
}

fn read_entries(connection: rusqlite::Connection, sender: mpsc::SyncSender<Result<Vec<RawEntry>, StoreError>>) {
    let outcome = (|| {
        let mut statement =
            connection.prepare("SELECT seq, hash, body FROM audit_entries ORDER BY seq").map_err(unavailable)?;
        let mut rows = statement.query([]).map_err(unavailable)?;
        let mut batch = Vec::with_capacity(BATCH);
        while let Some(row) = rows.next().map_err(unavailable)? {
            let seq: i64 = row.get(0).map_err(unavailable)?;
            batch.push(RawEntry {
                seq: u64::try_from(seq).map_err(|_| StoreError::corrupt("audit entry", seq, "negative seq"))?,
                // As bytes whatever the stored type: an edit may have turned a blob into text.
                hash: row.get_ref(1).map_err(unavailable)?.as_bytes().map_err(|e| unavailable(e.into()))?.to_vec(),
                body: row.get_ref(2).map_err(unavailable)?.as_bytes().map_err(|e| unavailable(e.into()))?.to_vec(),
            });
            if batch.len() == BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                if sender.send(Ok(full)).is_err() {
                    return Ok(());
                }
            }
        }
        if !batch.is_empty() {
            let _ = sender.send(Ok(batch));
        }
        Ok(())
    })();
    if let Err(error) = outcome {
        let _ = sender.send(Err(error));
    }
}

fn recorded_keys(connection: &rusqlite::Connection) -> Result<Vec<VerifyingKey>, StoreError> {
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

fn read_checkpoints(connection: &rusqlite::Connection) -> Result<Vec<Checkpoint>, StoreError> {
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

fn digest_from(bytes: &[u8], entity: &'static str, key: i64) -> Result<Sha256Digest, StoreError> {
    let array: [u8; 32] = bytes.try_into().map_err(|_| StoreError::corrupt(entity, key, "hash is not 32 bytes"))?;
    Ok(Sha256Digest::from_bytes(array))
}

fn unavailable(error: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(Box::new(error))
}
