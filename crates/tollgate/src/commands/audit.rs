//! `tollgate audit`: list, search, verify (offline file, database, or server), export, checkpoint
//! (a witness to keep), and the checkpoint signing keys.

use std::io::Write;

use anyhow::{bail, Context as _};
use ed25519_dalek::pkcs8::DecodePublicKey;
use ed25519_dalek::VerifyingKey;
use serde_json::json;
use tollgate_core::audit::body::EntryBody;
use tollgate_core::audit::export::{parse_witness, ExportLine};
use tollgate_core::audit::{Checkpoint, TrustSource, VerifyReport};
use tollgate_http::api::audit::{
    AuditEntryResponse, AuditQuery, AuditSearchQuery, AuditSearchResponse, EnrollRequest, SigningKeyResponse,
    VerifyResponse,
};
use tollgate_store::{AuditVerification, DatabaseConfig, Store};

use crate::args::{AuditCommand, AuditKeyCommand, AuditSearchArgs, OutputFormat, VerifyArgs};
use crate::client::Answer;
use crate::commands::Context;
use crate::output::{item, json_cell, or_dash, print, print_json, rows, time, Row, Tabular};

/// The outcome of a verify command: the report, printed, and whether it passed.
pub async fn audit(context: &Context, command: AuditCommand) -> anyhow::Result<bool> {
    match command {
        AuditCommand::List { after, limit } => {
            let query = AuditQuery { after: Some(after), limit: Some(limit) };
            let request = context.client.request(reqwest::Method::GET, "/audit").query(&query);
            print(context.output, &context.client.call::<Vec<AuditEntryResponse>>(request).await?);
            Ok(true)
        }
        AuditCommand::Search(args) => {
            let request = context.client.request(reqwest::Method::GET, "/audit/entries").query(&search_query(args));
            print(context.output, &context.client.call::<AuditSearchResponse>(request).await?);
            Ok(true)
        }
        AuditCommand::Export => {
            export(context).await?;
            Ok(true)
        }
        AuditCommand::Checkpoint => {
            let checkpoint: Answer<ExportLine> = context.client.get("/audit/checkpoint").await?;
            // The witness file is this JSON line, whatever the output format.
            println!("{}", serde_json::to_string(&checkpoint.json).context("printing the checkpoint")?);
            Ok(true)
        }
        AuditCommand::Key(command) => {
            key(context, command).await?;
            Ok(true)
        }
        AuditCommand::Verify(args) => verify(context, args).await,
    }
}

/// The query of a search; `--object KIND/ID` names the kind and the id (which may hold `/`).
fn search_query(args: AuditSearchArgs) -> AuditSearchQuery {
    let (object_kind, object_id) = match args.object {
        Some(object) => match object.split_once('/') {
            Some((kind, id)) => (Some(kind.to_owned()), Some(id.to_owned())),
            None => (Some(object), None),
        },
        None => (None, None),
    };
    AuditSearchQuery {
        actor: args.actor,
        action: args.action,
        object_kind,
        object_id,
        from: args.from,
        to: args.to,
        before: args.before,
        limit: Some(args.limit),
    }
}

async fn key(context: &Context, command: AuditKeyCommand) -> anyhow::Result<()> {
    match command {
        AuditKeyCommand::List => {
            print(context.output, &context.client.get::<Vec<SigningKeyResponse>>("/audit/keys").await?)
        }
        AuditKeyCommand::Enroll { public_key, label } => {
            let pem =
                std::fs::read_to_string(&public_key).with_context(|| format!("reading {}", public_key.display()))?;
            let request = EnrollRequest { public_key: pem, label };
            let enrolled: Answer<SigningKeyResponse> = context.client.post("/audit/keys", &request).await?;
            print(context.output, &enrolled);
        }
        AuditKeyCommand::Rotate => {
            let request = context.client.request(reqwest::Method::POST, "/audit/keys/rotate");
            print(context.output, &context.client.call::<SigningKeyResponse>(request).await?);
        }
    }
    Ok(())
}

async fn export(context: &Context) -> anyhow::Result<()> {
    let mut response = context.client.download("/audit/export").await?;
    let mut stdout = std::io::stdout().lock();
    while let Some(chunk) = response.chunk().await.context("reading the export")? {
        stdout.write_all(&chunk).context("writing the export")?;
    }
    stdout.flush().context("writing the export")?;
    Ok(())
}

async fn verify(context: &Context, args: VerifyArgs) -> anyhow::Result<bool> {
    let keys = args.public_keys.iter().map(|path| read_public_key(path)).collect::<anyhow::Result<Vec<_>>>()?;
    let witnesses = args.witnesses.iter().map(|path| read_witness(path)).collect::<anyhow::Result<Vec<_>>>()?;
    let report = if let Some(file) = &args.file {
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        tollgate_core::audit::export::verify_export(text.lines(), &keys, &witnesses)
            .with_context(|| format!("{} is not an audit export", file.display()))?
    } else if let Some(config) = database(&args)? {
        let verification = AuditVerification { trusted_keys: keys, max_unsigned_tail: args.max_unsigned, witnesses };
        verify_database(&config, &verification).await?
    } else {
        if !keys.is_empty() || !witnesses.is_empty() {
            bail!("--public-key and --witness check a file (--file) or a database (--data-dir, --database-url)");
        }
        let verdict: Answer<VerifyResponse> = context.client.get("/audit/verify").await?;
        print(context.output, &verdict);
        return Ok(verdict.value.ok);
    };
    match context.output {
        OutputFormat::Json => print_json(&json!({
            "ok": report.is_ok(),
            "entries": report.entries,
            "head": report.head.map(|head| head.to_string()),
            "checkpoints_verified": report.checkpoints_verified,
            "unsigned_tail": report.unsigned_tail,
            "untrusted_checkpoints": report.untrusted_checkpoints,
            "witnesses_verified": report.witnesses_verified,
            "trusted_keys": match report.trust {
                TrustSource::Given { .. } => "given",
                TrustSource::Recorded { .. } => "recorded in the database",
            },
            "failed_entry": report.failure.as_ref().map(|failure| failure.seq),
            "message": report.to_string(),
        })),
        OutputFormat::Table => println!("{report}"),
    }
    Ok(report.is_ok())
}

fn database(args: &VerifyArgs) -> anyhow::Result<Option<DatabaseConfig>> {
    if let Some(url) = &args.database_url {
        return DatabaseConfig::parse_url(url).map(Some).map_err(anyhow::Error::msg);
    }
    Ok(args.data_dir.as_deref().map(DatabaseConfig::in_data_dir))
}

/// Verifies a database without changing it: SQLite is opened read-only; PostgreSQL is read
/// through a plain connection, with no migration.
async fn verify_database(config: &DatabaseConfig, verification: &AuditVerification) -> anyhow::Result<VerifyReport> {
    match config {
        DatabaseConfig::Sqlite { path } => {
            if !path.exists() {
                bail!("no database at {}", path.display());
            }
            let path = path.clone();
            let verification = verification.clone();
            Ok(tokio::task::spawn_blocking(move || tollgate_store::sqlite::verify_file(&path, &verification)).await??)
        }
        DatabaseConfig::Postgres { .. } => {
            let store = Store::connect(config).await.context("opening the database")?;
            let report = store.verify_audit(verification).await?;
            store.close().await;
            Ok(report)
        }
    }
}

/// Reads a public key in PEM (SubjectPublicKeyInfo), as `tollgate serve` writes it.
pub fn read_public_key(path: &std::path::Path) -> anyhow::Result<VerifyingKey> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    VerifyingKey::from_public_key_pem(&text)
        .map_err(|error| anyhow::anyhow!("{} is not an ed25519 public key: {error}", path.display()))
}

/// Reads a witness saved by `tollgate audit checkpoint`.
fn read_witness(path: &std::path::Path) -> anyhow::Result<Checkpoint> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse_witness(&text).map_err(|reason| anyhow::anyhow!("{} is not a saved checkpoint: {reason}", path.display()))
}

impl Row for AuditEntryResponse {
    const HEADERS: &'static [&'static str] = &["seq", "at", "actor", "action", "object", "change"];

    /// The entry's fields; an entry this build cannot read is left to `--output json`.
    fn cells(&self) -> Vec<String> {
        let Ok(entry) = serde_json::from_value::<EntryBody>(self.entry.clone()) else {
            let unread = "(unknown entry format: see --output json)".to_owned();
            return vec![self.seq.to_string(), "-".to_owned(), "-".to_owned(), "-".to_owned(), "-".to_owned(), unread];
        };
        let change = change(&entry);
        vec![self.seq.to_string(), time(entry.at), entry.actor, entry.action, entry.object.id, change]
    }
}

/// What an entry changed, in a few words: the fields that changed, with their old and new values
/// when both are short, then the reason.
fn change(entry: &EntryBody) -> String {
    const SHORT: usize = 24;
    let mut parts: Vec<String> = entry
        .changes()
        .iter()
        .map(|change| {
            let before = change.before.as_ref().map_or_else(|| "-".to_owned(), json_cell);
            let after = change.after.as_ref().map_or_else(|| "-".to_owned(), json_cell);
            if before.chars().count() <= SHORT && after.chars().count() <= SHORT {
                format!("{}: {before} -> {after}", change.field)
            } else {
                format!("{} changed", change.field)
            }
        })
        .collect();
    if let Some(reason) = &entry.reason {
        parts.push(format!("reason: {reason}"));
    }
    or_dash(Some(&parts.join("; ")))
}

impl Tabular for AuditSearchResponse {
    /// The entries, then how to read the next page when there is one.
    fn table(&self) -> String {
        let mut table = rows(&self.items);
        if let Some(before) = self.next_before {
            table.push_str(&format!("\nmore entries: --before {before}"));
        }
        table
    }
}

impl Tabular for VerifyResponse {
    fn table(&self) -> String {
        self.message.clone()
    }
}

impl Row for SigningKeyResponse {
    const HEADERS: &'static [&'static str] = &["key id", "created", "enrolled by entry", "retired after"];

    fn cells(&self) -> Vec<String> {
        let position = |seq: Option<u64>| seq.map_or_else(|| "-".to_owned(), |seq| seq.to_string());
        vec![self.key_id.clone(), time(self.created_at), position(self.enrolled_seq), position(self.retired_seq)]
    }
}

impl Tabular for SigningKeyResponse {
    fn table(&self) -> String {
        item(self)
    }
}
