//! `tollgate audit`: list, verify (offline file, database, or server) and export.

use std::io::Write;

use anyhow::{bail, Context as _};
use ed25519_dalek::pkcs8::DecodePublicKey;
use ed25519_dalek::VerifyingKey;
use reqwest::Method;
use tollgate_core::audit::VerifyReport;
use tollgate_store::{DatabaseConfig, Store};

use crate::args::{AuditCommand, OutputFormat, VerifyArgs};
use crate::commands::Context;
use crate::output::{print_json, print_list};

/// The outcome of a verify command: the report, printed, and whether it passed.
pub async fn audit(context: &Context, command: AuditCommand) -> anyhow::Result<bool> {
    match command {
        AuditCommand::List { after, limit } => {
            let entries = context.client.get(&format!("/audit?after={after}&limit={limit}")).await?;
            let columns = &[
                ("seq", "/seq"),
                ("at", "/entry/at"),
                ("actor", "/entry/actor"),
                ("action", "/entry/action"),
                ("object", "/entry/object/id"),
                ("reason", "/entry/reason"),
            ];
            print_list(context.output, &entries, columns);
            Ok(true)
        }
        AuditCommand::Export => {
            export(context).await?;
            Ok(true)
        }
        AuditCommand::Verify(args) => verify(context, args).await,
    }
}

async fn export(context: &Context) -> anyhow::Result<()> {
    let mut response = context.client.request(Method::GET, "/audit/export", None).await?;
    if !response.status().is_success() {
        bail!("the export failed with status {}", response.status());
    }
    let mut stdout = std::io::stdout().lock();
    while let Some(chunk) = response.chunk().await.context("reading the export")? {
        stdout.write_all(&chunk).context("writing the export")?;
    }
    stdout.flush().context("writing the export")?;
    Ok(())
}

async fn verify(context: &Context, args: VerifyArgs) -> anyhow::Result<bool> {
    let keys = args.public_keys.iter().map(|path| read_public_key(path)).collect::<anyhow::Result<Vec<_>>>()?;
    let report = if let Some(file) = &args.file {
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        tollgate_core::audit::export::verify_export(text.lines(), &keys)
            .with_context(|| format!("{} is not an audit export", file.display()))?
    } else if let Some(config) = database(&args)? {
        verify_database(&config, &keys).await?
    } else {
        let verdict = context.client.get("/audit/verify").await?;
        match context.output {
            OutputFormat::Json => print_json(&verdict),
            OutputFormat::Table => println!("{}", verdict["message"].as_str().unwrap_or_default()),
        }
        return Ok(verdict["ok"].as_bool().unwrap_or(false));
    };
    match context.output {
        OutputFormat::Json => print_json(&serde_json::json!({
            "ok": report.is_ok(),
            "entries": report.entries,
            "head": report.head.map(|head| head.to_string()),
            "checkpoints_verified": report.checkpoints_verified,
            "unsigned_tail": report.unsigned_tail,
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
async fn verify_database(config: &DatabaseConfig, keys: &[VerifyingKey]) -> anyhow::Result<VerifyReport> {
    match config {
        DatabaseConfig::Sqlite { path } => {
            if !path.exists() {
                bail!("no database at {}", path.display());
            }
            let path = path.clone();
            let keys = keys.to_vec();
            Ok(tokio::task::spawn_blocking(move || tollgate_store::sqlite::verify_file(&path, &keys)).await??)
        }
        DatabaseConfig::Postgres { .. } => {
            let store = Store::connect(config).await.context("opening the database")?;
            let report = store.verify_audit(keys).await?;
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
