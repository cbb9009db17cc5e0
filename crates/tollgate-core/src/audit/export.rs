//! The audit export format (`tollgate-audit-export/v1`): JSON lines that an auditor verifies
//! offline, without the database.
//!
//! A header line, then every checkpoint, then every entry in order. An entry carries its
//! canonical bytes as a JSON string, byte for byte as they were hashed, so verification never
//! depends on how a JSON library re-encodes a value. The header names the exporting server's
//! key for information only: verification trusts only the keys the auditor supplies.

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::audit::{format_timestamp, key_id, ChainVerifier, Checkpoint, KeyTrust, VerifyPolicy, VerifyReport};
use crate::digest::Sha256Digest;

/// The format name in the header line.
pub const EXPORT_FORMAT: &str = "tollgate-audit-export/v1";

/// One line of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ExportLine {
    Header { format: String, key_id: String, public_key: String, entries: u64 },
    Checkpoint { tree_size: u64, head: String, signed_at: String, key_id: String, signature: String },
    Entry { seq: u64, hash: String, body: String },
}

impl ExportLine {
    pub fn header(public_key: &VerifyingKey, entries: u64) -> ExportLine {
        ExportLine::Header {
            format: EXPORT_FORMAT.to_owned(),
            key_id: key_id(public_key),
            public_key: hex::encode(public_key.as_bytes()),
            entries,
        }
    }

    pub fn checkpoint(checkpoint: &Checkpoint) -> ExportLine {
        ExportLine::Checkpoint {
            tree_size: checkpoint.tree_size,
            head: checkpoint.head.to_string(),
            signed_at: format_timestamp(checkpoint.signed_at),
            key_id: checkpoint.key_id.clone(),
            signature: hex::encode(checkpoint.signature),
        }
    }

    /// An entry line. Fails when the stored bytes are not UTF-8, which canonical JSON always is.
    pub fn entry(seq: u64, hash: &Sha256Digest, body: &[u8]) -> Result<ExportLine, std::str::Utf8Error> {
        Ok(ExportLine::Entry { seq, hash: hash.to_string(), body: std::str::from_utf8(body)?.to_owned() })
    }
}

impl ExportLine {
    /// The checkpoint a checkpoint line holds. Fails, naming the field, when a value does not
    /// decode, or when the line is not a checkpoint.
    pub fn into_checkpoint(self) -> Result<Checkpoint, String> {
        let ExportLine::Checkpoint { tree_size, head, signed_at, key_id, signature } = self else {
            return Err("not a checkpoint line".to_owned());
        };
        let head = Sha256Digest::parse(&head).map_err(|p| format!("head: {p}"))?;
        let signed_at = signed_at.parse().map_err(|_| format!("signed_at: {signed_at:?} is not a timestamp"))?;
        let mut bytes = [0u8; 64];
        hex::decode_to_slice(&signature, &mut bytes).map_err(|_| "signature: not 64 hex-encoded bytes".to_owned())?;
        Ok(Checkpoint { tree_size, head, signed_at, key_id, signature: bytes })
    }
}

/// Reads a witness: one checkpoint, written as a checkpoint line of the export format (what
/// `tollgate audit checkpoint` prints).
pub fn parse_witness(text: &str) -> Result<Checkpoint, String> {
    let line: ExportLine = serde_json::from_str(text.trim()).map_err(|error| error.to_string())?;
    line.into_checkpoint()
}

/// Why an export file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct ExportError {
    pub line: usize,
    pub reason: String,
}

/// Verifies an export given as lines, trusting only `trusted_keys` (and the keys they endorse
/// along the log) for checkpoints.
///
/// The export verifies only when a trusted checkpoint covers its last entry and its header
/// declares exactly the entries it holds; each of `witnesses` (checkpoints the auditor saved
/// earlier) must still be in it. Fails with an `ExportError` when a line cannot be read.
pub fn verify_export<'a>(
    lines: impl IntoIterator<Item = &'a str>,
    trusted_keys: &[VerifyingKey],
    witnesses: &[Checkpoint],
) -> Result<VerifyReport, ExportError> {
    let mut checkpoints = Vec::new();
    let mut verifier: Option<ChainVerifier> = None;
    let mut declared_entries = None;
    let mut seen_header = false;
    for (index, text) in lines.into_iter().enumerate() {
        let line = index + 1;
        if text.trim().is_empty() {
            continue;
        }
        let error = |reason: String| ExportError { line, reason };
        let parsed: ExportLine = serde_json::from_str(text).map_err(|e| error(e.to_string()))?;
        match parsed {
            ExportLine::Header { format, entries, .. } => {
                if seen_header || line != 1 {
                    return Err(error("the header must be the first line, once".to_owned()));
                }
                if format != EXPORT_FORMAT {
                    return Err(error(format!("unknown format {format:?}, expected {EXPORT_FORMAT:?}")));
                }
                seen_header = true;
                declared_entries = Some(entries);
            }
            checkpoint @ ExportLine::Checkpoint { .. } => {
                if verifier.is_some() {
                    return Err(error("checkpoints must come before entries".to_owned()));
                }
                checkpoints.push(checkpoint.into_checkpoint().map_err(error)?);
            }
            ExportLine::Entry { seq, hash, body } => {
                if !seen_header {
                    return Err(error("the file has no header line".to_owned()));
                }
                let hash = Sha256Digest::parse(&hash).map_err(|p| error(format!("hash: {p}")))?;
                let verifier = verifier.get_or_insert_with(|| {
                    let policy = policy(witnesses, declared_entries);
                    ChainVerifier::new(std::mem::take(&mut checkpoints), KeyTrust::Given(trusted_keys.to_vec()), policy)
                });
                if verifier.push(seq, hash.as_bytes(), body.as_bytes()).is_err() {
                    break;
                }
            }
        }
    }
    if !seen_header {
        return Err(ExportError { line: 1, reason: "the file has no header line".to_owned() });
    }
    let verifier = verifier.unwrap_or_else(|| {
        let policy = policy(witnesses, declared_entries);
        ChainVerifier::new(checkpoints, KeyTrust::Given(trusted_keys.to_vec()), policy)
    });
    Ok(verifier.finish(None))
}

/// An export must be covered to its last entry by a trusted checkpoint.
fn policy(witnesses: &[Checkpoint], declared_entries: Option<u64>) -> VerifyPolicy {
    VerifyPolicy { max_unsigned_tail: 0, witnesses: witnesses.to_vec(), declared_entries }
}
