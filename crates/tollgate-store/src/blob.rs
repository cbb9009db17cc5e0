//! Content-addressed blobs on the filesystem: `<root>/sha256/<2 hex>/<64 hex>`.
//!
//! A blob is streamed to a temporary file under `<root>/tmp` while it is hashed and synced
//! (`BlobWriter`), then waits as a `PendingBlob` until its digest is known (and matches the one
//! expected, if any) and the caller commits it: renamed into place and the directory synced. The
//! same content is stored once. Nothing here holds a whole blob in memory.
//!
//! Invariant: callers commit a pending blob, and remove a blob, only inside a write transaction
//! of the store, which serializes them: so a push that reuses a stored blob and a collection
//! that removes it can never interleave between the check and the act.

use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use tokio::fs::{self, File};
use tokio::io::{AsyncRead, AsyncReadExt};
use tollgate_core::digest::Sha256Digest;

/// Why a blob operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("the content is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the content's digest is {actual}, not the expected {expected}")]
    DigestMismatch { expected: Sha256Digest, actual: Sha256Digest },
    #[error("blob {0} is missing")]
    Missing(Sha256Digest),
    #[error("the content stopped before its end: {0}")]
    Interrupted(#[source] std::io::Error),
    #[error("blob storage failed")]
    Io(#[from] std::io::Error),
}

/// The blob directory.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

/// A blob being written. Dropping it unfinished removes the temporary file.
///
/// The content is hashed and written on a thread of its own, fed through a short queue, so
/// receiving the next piece (on the async runtime) and hashing and writing the last one run at
/// once, on two cores.
pub struct BlobWriter {
    pieces: Option<tokio::sync::mpsc::Sender<Vec<u8>>>,
    worker: Option<tokio::task::JoinHandle<std::io::Result<Sha256Digest>>>,
    temp_path: PathBuf,
    final_root: PathBuf,
    size: u64,
    limit: u64,
}

/// Content that is written, synced and hashed, waiting to be committed into place. Dropping it
/// uncommitted removes the temporary file.
#[derive(Debug)]
pub struct PendingBlob {
    temp_path: PathBuf,
    final_root: PathBuf,
    pub digest: Sha256Digest,
    pub size: u64,
}

/// A blob that is in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredBlob {
    pub digest: Sha256Digest,
    pub size: u64,
}

/// Read buffer for hashing a stored blob.
const READ_BUFFER: usize = 1024 * 1024;
/// Temporary files older than this belong to no upload still running.
pub const TEMP_FILE_GRACE: std::time::Duration = std::time::Duration::from_secs(3600);

impl BlobStore {
    /// A blob store under `root`, created if missing.
    pub async fn open(root: &Path) -> Result<BlobStore, BlobError> {
        fs::create_dir_all(root.join("tmp")).await?;
        fs::create_dir_all(root.join("sha256")).await?;
        Ok(BlobStore { root: root.to_owned() })
    }

    /// Where the blob with `digest` lives.
    pub fn path(&self, digest: &Sha256Digest) -> PathBuf {
        let hex = digest.to_hex();
        self.root.join("sha256").join(&hex[..2]).join(hex)
    }

    /// Starts writing a blob of at most `limit` bytes.
    pub async fn writer(&self, limit: u64) -> Result<BlobWriter, BlobError> {
        let temp_path = self.root.join("tmp").join(format!("{}.part", uuid::Uuid::new_v4().simple()));
        let file = File::create(&temp_path).await?.into_std().await;
        let (pieces, queue) = tokio::sync::mpsc::channel(PIECES_QUEUED);
        let worker = tokio::task::spawn_blocking(move || write_pieces(file, queue));
        Ok(BlobWriter {
            pieces: Some(pieces),
            worker: Some(worker),
            temp_path,
            final_root: self.root.clone(),
            size: 0,
            limit,
        })
    }

    pub async fn exists(&self, digest: &Sha256Digest) -> bool {
        fs::metadata(self.path(digest)).await.is_ok()
    }

    /// Opens a blob for reading.
    pub async fn open_blob(&self, digest: &Sha256Digest) -> Result<File, BlobError> {
        match File::open(self.path(digest)).await {
            Ok(file) => Ok(file),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Err(BlobError::Missing(*digest)),
            Err(error) => Err(error.into()),
        }
    }

    /// Streams a blob's content, read on a blocking thread a few chunks ahead of the consumer,
    /// so reading the disk and sending to the network overlap.
    pub async fn stream_blob(&self, digest: &Sha256Digest) -> Result<BlobStream, BlobError> {
        let file = self.open_blob(digest).await?.into_std().await;
        let (sender, receiver) = tokio::sync::mpsc::channel(READ_AHEAD);
        tokio::task::spawn_blocking(move || read_chunks(file, &sender));
        Ok(BlobStream { receiver })
    }

    /// Re-reads a blob and checks that its content still has its digest.
    pub async fn verify(&self, digest: &Sha256Digest) -> Result<(), BlobError> {
        let mut file = self.open_blob(digest).await?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; READ_BUFFER];
        loop {
            let read = file.read(&mut buffer).await?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
        }
        let actual = Sha256Digest::from_bytes(hasher.finalize().into());
        if actual == *digest {
            Ok(())
        } else {
            Err(BlobError::DigestMismatch { expected: *digest, actual })
        }
    }

    /// Removes a blob; a missing blob is not an error, so removal can be retried.
    pub async fn remove(&self, digest: &Sha256Digest) -> Result<(), BlobError> {
        match fs::remove_file(self.path(digest)).await {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Removes temporary files older than `grace`: uploads a crash or a lost connection left
    /// behind. Returns how many it removed.
    pub async fn sweep_temporary(&self, grace: std::time::Duration) -> Result<usize, BlobError> {
        let mut removed = 0;
        let mut entries = fs::read_dir(self.root.join("tmp")).await?;
        while let Some(entry) = entries.next_entry().await? {
            let old = entry.metadata().await?.modified()?.elapsed().is_ok_and(|age| age >= grace);
            if old {
                match fs::remove_file(entry.path()).await {
                    Ok(()) => removed += 1,
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                    Err(error) => return Err(error.into()),
                }
            }
        }
        Ok(removed)
    }

    /// Every stored blob with its last modification time.
    pub async fn list(&self) -> Result<Vec<(Sha256Digest, std::time::SystemTime)>, BlobError> {
        let mut blobs = Vec::new();
        let mut prefixes = fs::read_dir(self.root.join("sha256")).await?;
        while let Some(prefix) = prefixes.next_entry().await? {
            let mut entries = fs::read_dir(prefix.path()).await?;
            while let Some(entry) = entries.next_entry().await? {
                let name = entry.file_name();
                let Some(digest) = name.to_str().and_then(|hex| Sha256Digest::parse(&format!("sha256:{hex}")).ok())
                else {
                    continue;
                };
                blobs.push((digest, entry.metadata().await?.modified()?));
            }
        }
        Ok(blobs)
    }
}

impl BlobWriter {
    /// Appends a chunk.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), BlobError> {
        self.push(chunk.to_vec()).await
    }

    async fn push(&mut self, piece: Vec<u8>) -> Result<(), BlobError> {
        self.size += piece.len() as u64;
        if self.size > self.limit {
            return Err(BlobError::TooLarge { limit: self.limit });
        }
        let pieces = self.pieces.as_ref().expect("a writer has its queue until finished");
        if pieces.send(piece).await.is_err() {
            // The worker stopped: its error says why.
            return Err(self
                .join()
                .await
                .err()
                .unwrap_or_else(|| std::io::Error::other("the blob writer stopped"))
                .into());
        }
        Ok(())
    }

    /// Copies everything `reader` yields into the blob. A read error is returned as
    /// `BlobError::Interrupted`: the content did not arrive whole.
    pub async fn copy_from(&mut self, reader: &mut (impl AsyncRead + Unpin)) -> Result<(), BlobError> {
        loop {
            let mut piece = Vec::with_capacity(READ_BUFFER);
            while piece.len() < READ_BUFFER {
                if reader.read_buf(&mut piece).await.map_err(BlobError::Interrupted)? == 0 {
                    break;
                }
            }
            if piece.is_empty() {
                return Ok(());
            }
            let last = piece.len() < READ_BUFFER;
            self.push(piece).await?;
            if last {
                return Ok(());
            }
        }
    }

    /// Syncs the content and checks its digest against `expected` (when given). The content
    /// stays in its temporary file until the returned `PendingBlob` is committed.
    pub async fn finish(mut self, expected: Option<Sha256Digest>) -> Result<PendingBlob, BlobError> {
        self.pieces = None;
        let digest = self.join().await?;
        if let Some(expected) = expected {
            if expected != digest {
                return Err(BlobError::DigestMismatch { expected, actual: digest });
            }
        }
        let temp_path = std::mem::take(&mut self.temp_path);
        Ok(PendingBlob { temp_path, final_root: self.final_root.clone(), digest, size: self.size })
    }

    /// Waits for the worker: the digest once every piece is written and synced.
    async fn join(&mut self) -> std::io::Result<Sha256Digest> {
        self.pieces = None;
        let worker = self.worker.take().ok_or_else(|| std::io::Error::other("the blob writer already stopped"))?;
        worker.await.map_err(std::io::Error::other)?
    }
}

/// Pieces waiting for the writer thread (each up to `READ_BUFFER`): the memory an upload holds.
const PIECES_QUEUED: usize = 2;

/// The writer thread: hashes and writes each piece, then syncs the file (the kernel writes back
/// in the background meanwhile; syncing every few megabytes measured no faster and less steady).
/// Returns the digest.
fn write_pieces(
    mut file: std::fs::File,
    mut queue: tokio::sync::mpsc::Receiver<Vec<u8>>,
) -> std::io::Result<Sha256Digest> {
    use std::io::Write as _;
    let mut hasher = Sha256::new();
    while let Some(piece) = queue.blocking_recv() {
        hasher.update(&piece);
        file.write_all(&piece)?;
    }
    file.sync_all()?;
    Ok(Sha256Digest::from_bytes(hasher.finalize().into()))
}

impl PendingBlob {
    /// The written content, for reading it before it is committed (to parse evidence).
    pub fn temp_path(&self) -> &Path {
        &self.temp_path
    }

    /// Moves the content into place under its digest and syncs the directories, so the rename
    /// survives a crash. When the same content is stored already, keeps that one copy.
    pub async fn commit(mut self) -> Result<StoredBlob, BlobError> {
        let store = BlobStore { root: self.final_root.clone() };
        let target = store.path(&self.digest);
        let directory = target.parent().expect("a blob path has a parent").to_owned();
        if fs::metadata(&target).await.is_ok() {
            fs::remove_file(&self.temp_path).await?;
        } else {
            let created = fs::metadata(&directory).await.is_err();
            fs::create_dir_all(&directory).await?;
            fs::rename(&self.temp_path, &target).await?;
            sync_directory(&directory).await?;
            if created {
                sync_directory(directory.parent().expect("the prefix directory has a parent")).await?;
            }
        }
        self.temp_path = PathBuf::new();
        Ok(StoredBlob { digest: self.digest, size: self.size })
    }
}

impl Drop for PendingBlob {
    fn drop(&mut self) {
        if !self.temp_path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.temp_path);
        }
    }
}

/// A blob's content as a stream of chunks (see `BlobStore::stream_blob`).
#[derive(Debug)]
pub struct BlobStream {
    receiver: tokio::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
}

impl futures::Stream for BlobStream {
    type Item = std::io::Result<Vec<u8>>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.receiver.poll_recv(context)
    }
}

/// Chunks read ahead of the consumer of a `BlobStream`.
const READ_AHEAD: usize = 4;

/// Reads `file` to its end in `READ_BUFFER` chunks into `sender`; stops when the consumer goes.
fn read_chunks(mut file: std::fs::File, sender: &tokio::sync::mpsc::Sender<std::io::Result<Vec<u8>>>) {
    use std::io::Read as _;
    loop {
        let mut chunk = vec![0u8; READ_BUFFER];
        let mut filled = 0;
        let outcome = loop {
            match file.read(&mut chunk[filled..]) {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    filled += n;
                    if filled == chunk.len() {
                        break Ok(());
                    }
                }
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(error) => break Err(error),
            }
        };
        if let Err(error) = outcome {
            let _ = sender.blocking_send(Err(error));
            return;
        }
        if filled == 0 {
            return;
        }
        chunk.truncate(filled);
        let last = filled < READ_BUFFER;
        if sender.blocking_send(Ok(chunk)).is_err() || last {
            return;
        }
    }
}

/// Makes a directory's entries (a rename, a new file) durable.
async fn sync_directory(path: &Path) -> Result<(), BlobError> {
    File::open(path).await?.sync_all().await?;
    Ok(())
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if !self.temp_path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.temp_path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_blob_is_stored_once_under_its_digest_and_verified() {
        let dir = tempfile::tempdir().expect("a directory");
        let store = BlobStore::open(dir.path()).await.expect("opens");
        for _ in 0..2 {
            let mut writer = store.writer(1024).await.expect("a writer");
            writer.write(b"hello ").await.expect("write");
            writer.write(b"world").await.expect("write");
            let pending = writer.finish(Some(Sha256Digest::of(b"hello world"))).await.expect("hashed");
            let blob = pending.commit().await.expect("stored");
            assert_eq!(blob, StoredBlob { digest: Sha256Digest::of(b"hello world"), size: 11 });
        }
        assert_eq!(store.list().await.expect("list").len(), 1);
        assert_eq!(std::fs::read_dir(dir.path().join("tmp")).expect("tmp").count(), 0, "no temporary file is left");
        store.verify(&Sha256Digest::of(b"hello world")).await.expect("intact");

        std::fs::write(store.path(&Sha256Digest::of(b"hello world")), b"hello w0rld").expect("tamper");
        assert!(matches!(store.verify(&Sha256Digest::of(b"hello world")).await, Err(BlobError::DigestMismatch { .. })));
    }

    #[tokio::test]
    async fn a_wrong_digest_or_an_oversized_blob_leaves_nothing_behind() {
        let dir = tempfile::tempdir().expect("a directory");
        let store = BlobStore::open(dir.path()).await.expect("opens");
        let mut writer = store.writer(1024).await.expect("a writer");
        writer.write(b"content").await.expect("write");
        let wrong = writer.finish(Some(Sha256Digest::of(b"other"))).await;
        assert!(matches!(wrong, Err(BlobError::DigestMismatch { .. })));
        let mut writer = store.writer(4).await.expect("a writer");
        assert!(matches!(writer.write(b"too long").await, Err(BlobError::TooLarge { limit: 4 })));
        drop(writer);
        assert_eq!(std::fs::read_dir(dir.path().join("tmp")).expect("tmp").count(), 0);
        assert!(store.list().await.expect("list").is_empty());
    }

    #[tokio::test]
    async fn an_uncommitted_blob_leaves_nothing_and_old_partial_uploads_are_swept() {
        let dir = tempfile::tempdir().expect("a directory");
        let store = BlobStore::open(dir.path()).await.expect("opens");
        let mut writer = store.writer(1024).await.expect("a writer");
        writer.write(b"never committed").await.expect("write");
        let pending = writer.finish(None).await.expect("hashed");
        assert!(pending.temp_path().exists());
        drop(pending);
        assert_eq!(std::fs::read_dir(dir.path().join("tmp")).expect("tmp").count(), 0);
        assert!(store.list().await.expect("list").is_empty());

        // A crash leaves partial uploads behind: old ones go, a fresh one (in flight) stays.
        let old = dir.path().join("tmp/old.part");
        let fresh = dir.path().join("tmp/fresh.part");
        std::fs::write(&old, b"half").expect("written");
        std::fs::write(&fresh, b"half").expect("written");
        let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
        std::fs::File::options().write(true).open(&old).expect("open").set_modified(two_hours_ago).expect("aged");
        assert_eq!(store.sweep_temporary(TEMP_FILE_GRACE).await.expect("swept"), 1);
        assert!(!old.exists() && fresh.exists());
    }
}
