//! `tollgate artifact`, `key`, `evidence` and `retention`: the supply chain from the command line.
//! Signing and verifying files work offline; the rest talks to the server.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::SigningKey;
use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tollgate_core::attestation::{sign, verify, Envelope, Provenance, Statement, Subject, TrustedKey};
use tollgate_core::digest::Sha256Digest;

use crate::args::{
    ArtifactCommand, ArtifactRef, EvidenceCommand, KeyCommand, OutputFormat, ProvenanceArgs, RetentionCommand,
};
use crate::client::{encode, ApiProblem};
use crate::commands::Context;
use crate::output::{print_item, print_json, print_list, Column};

const ARTIFACT: &[Column] = &[
    ("id", "/id"),
    ("name", "/name"),
    ("version", "/version"),
    ("team", "/team"),
    ("digest", "/digest"),
    ("size", "/size"),
    ("builder", "/builder"),
    ("tags", "/tags"),
];
const KEY: &[Column] = &[
    ("id", "/id"),
    ("key id", "/key_id"),
    ("name", "/name"),
    ("team", "/team"),
    ("builder", "/builder"),
    ("revoked", "/revoked_at"),
];
const EVIDENCE: &[Column] =
    &[("id", "/id"), ("kind", "/kind"), ("service", "/service"), ("digest", "/digest"), ("facts", "/facts")];
const DECISION: &[Column] =
    &[("artifact", "/name"), ("version", "/version"), ("outcome", "/outcome"), ("reasons", "/reasons")];
const POLICY: &[Column] = &[
    ("id", "/id"),
    ("selector", "/selector"),
    ("keep last", "/keep_last"),
    ("keep deployed days", "/keep_deployed_days"),
];

/// Runs an artifact command; `Ok(false)` when a verification found a problem.
pub async fn artifact(context: &Context, command: ArtifactCommand) -> anyhow::Result<bool> {
    match command {
        ArtifactCommand::Push { file, artifact, team, media_type, provenance, tags, signature } => {
            let digest = file_digest(&file).await?;
            let mut query = format!(
                "/artifacts?name={}&version={}&team={}&digest={}",
                encode(&artifact.name),
                encode(&artifact.version),
                encode(&team),
                encode(&digest.to_string())
            );
            for (key, value) in [
                ("media_type", &media_type),
                ("repository", &provenance.repository),
                ("commit", &provenance.commit),
                ("build_id", &provenance.build_id),
                ("builder", &provenance.builder),
            ] {
                if let Some(value) = value {
                    query.push_str(&format!("&{key}={}", encode(value)));
                }
            }
            if !tags.is_empty() {
                query.push_str(&format!("&tags={}", encode(&tags.join(","))));
            }
            let source = tokio::fs::File::open(&file).await.with_context(|| format!("opening {}", file.display()))?;
            let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(source, 256 * 1024));
            let response = context.client.request_body(Method::POST, &query, body).await?;
            let pushed = context.client.read(response).await?;
            print_item(context.output, &pushed, ARTIFACT);
            if let Some(signature) = signature {
                attach(context, pushed["id"].as_i64().unwrap_or_default(), &signature).await?;
            }
        }
        ArtifactCommand::Pull { artifact, file } => pull(context, &artifact, &file).await?,
        ArtifactCommand::Sign { file, name, key, provenance, envelope: destination } => {
            let key = read_private_key(&key)?;
            let digest = file_digest(&file).await?;
            let statement = Statement::provenance(Subject { name: name.clone(), digest }, &provenance_of(&provenance));
            let envelope = sign(&statement, &key);
            let output = destination.unwrap_or_else(|| with_suffix(&file, ".dsse.json"));
            std::fs::write(&output, envelope.to_json()).with_context(|| format!("writing {}", output.display()))?;
            println!(
                "signed {name} ({digest}) with key {}: {}",
                tollgate_core::audit::key_id(&key.verifying_key()),
                output.display()
            );
        }
        ArtifactCommand::Verify { file, name, signature, public_key } => {
            let key = crate::commands::audit::read_public_key(&public_key)?;
            let text =
                std::fs::read_to_string(&signature).with_context(|| format!("reading {}", signature.display()))?;
            let envelope = Envelope::from_json(&text)?;
            let digest = file_digest(&file).await?;
            let trusted = [TrustedKey { key, name: public_key.display().to_string(), revoked_at: None }];
            match verify(&envelope, &trusted, &Subject { name: name.clone(), digest }, jiff::Timestamp::now()) {
                Ok(verified) => println!("ok: {name} ({digest}) is signed by key {}", verified.key_id),
                Err(error) => {
                    println!("FAILED: {error}");
                    return Ok(false);
                }
            }
        }
        ArtifactCommand::Attach { artifact, signature } => {
            let found = find(context, &artifact).await?;
            attach(context, found["id"].as_i64().unwrap_or_default(), &signature).await?;
        }
        ArtifactCommand::List { name } => {
            let path = match name {
                Some(name) => format!("/artifacts?name={}", encode(&name)),
                None => "/artifacts".to_owned(),
            };
            print_list(context.output, &context.client.get(&path).await?, ARTIFACT);
        }
        ArtifactCommand::Check { artifact } => {
            let found = find(context, &artifact).await?;
            let check = context.client.get(&format!("/artifacts/{}/verify", found["id"])).await?;
            match context.output {
                OutputFormat::Json => print_json(&check),
                OutputFormat::Table => {
                    let content =
                        check["content_problem"].as_str().map_or("content ok".to_owned(), |p| format!("content: {p}"));
                    println!("{}@{}: {content}", artifact.name, artifact.version);
                    print_list(
                        context.output,
                        &check["signatures"],
                        &[("key id", "/key_id"), ("valid", "/valid"), ("detail", "/detail")],
                    );
                }
            }
            return Ok(check["ok"].as_bool().unwrap_or(false));
        }
        ArtifactCommand::Gc { dry_run } => {
            let collection = context.client.post(&format!("/artifacts/gc?dry_run={dry_run}"), &json!({})).await?;
            match context.output {
                OutputFormat::Json => print_json(&collection),
                OutputFormat::Table => {
                    print_list(context.output, &collection["decisions"], DECISION);
                    println!(
                        "{} blobs removed{}",
                        collection["removed_blobs"],
                        if dry_run { " (dry run: nothing was changed)" } else { "" }
                    );
                }
            }
        }
    }
    Ok(true)
}

pub async fn key(context: &Context, command: KeyCommand) -> anyhow::Result<()> {
    match command {
        KeyCommand::Generate { out } => {
            let (private, public) = crate::keys::generate_key_pair(&out)?;
            println!("wrote {} (private, 0600) and {}", private.display(), public.display());
        }
        KeyCommand::Add { name, public_key, team, builder } => {
            let pem =
                std::fs::read_to_string(&public_key).with_context(|| format!("reading {}", public_key.display()))?;
            let body = json!({ "name": name, "team": team, "builder": builder, "public_key": pem });
            print_item(context.output, &context.client.post("/keys", &body).await?, KEY);
        }
        KeyCommand::List => print_list(context.output, &context.client.get("/keys").await?, KEY),
        KeyCommand::Revoke { id } => {
            print_item(context.output, &context.client.post(&format!("/keys/{id}/revoke"), &json!({})).await?, KEY)
        }
    }
    Ok(())
}

pub async fn evidence(context: &Context, command: EvidenceCommand) -> anyhow::Result<()> {
    match command {
        EvidenceCommand::Upload { file, release, service, kind } => {
            let mut path = format!("/releases/{}/evidence?kind={}", encode(&release), encode(&kind));
            if let Some(service) = service {
                path.push_str(&format!("&service={}", encode(&service)));
            }
            let content = tokio::fs::read(&file).await.with_context(|| format!("reading {}", file.display()))?;
            let response = context.client.request_body(Method::POST, &path, reqwest::Body::from(content)).await?;
            let record = context.client.read(response).await.map_err(|error| match error.downcast::<ApiProblem>() {
                Ok(problem) => anyhow::anyhow!("{}: {}", file.display(), problem.detail),
                Err(other) => other,
            })?;
            print_item(context.output, &record, EVIDENCE);
        }
        EvidenceCommand::List { release } => print_list(
            context.output,
            &context.client.get(&format!("/releases/{}/evidence", encode(&release))).await?,
            EVIDENCE,
        ),
    }
    Ok(())
}

pub async fn retention(context: &Context, command: RetentionCommand) -> anyhow::Result<()> {
    match command {
        RetentionCommand::List => print_list(context.output, &context.client.get("/retention/policies").await?, POLICY),
        RetentionCommand::Set { selector, keep_last, keep_deployed_days } => {
            let body =
                json!({ "selector": selector, "keep_last": keep_last, "keep_deployed_days": keep_deployed_days });
            let policy = context.client.send(Method::PUT, "/retention/policies", Some(&body)).await?;
            print_item(context.output, &policy, POLICY);
        }
        RetentionCommand::Hold { tag, reason } => {
            context
                .client
                .send_no_content(Method::POST, "/retention/holds", &json!({ "tag": tag, "reason": reason }))
                .await?;
            println!("legal hold on tag {tag}");
        }
        RetentionCommand::Unhold { tag, reason } => {
            context
                .client
                .send_no_content(
                    Method::POST,
                    &format!("/retention/holds/{}/release", encode(&tag)),
                    &json!({ "reason": reason }),
                )
                .await?;
            println!("legal hold on tag {tag} released");
        }
    }
    Ok(())
}

async fn find(context: &Context, artifact: &ArtifactRef) -> anyhow::Result<Value> {
    let found = context
        .client
        .get(&format!("/artifacts?name={}&version={}", encode(&artifact.name), encode(&artifact.version)))
        .await?;
    found.as_array().and_then(|items| items.first()).cloned().context("the server answered with no artifact")
}

async fn attach(context: &Context, id: i64, signature: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(signature).with_context(|| format!("reading {}", signature.display()))?;
    let envelope: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", signature.display()))?;
    let attached = context.client.post(&format!("/artifacts/{id}/signatures"), &envelope).await?;
    if context.output == OutputFormat::Table {
        println!(
            "signature by key {} ({}) attached",
            attached["key_id"].as_str().unwrap_or_default(),
            attached["key_name"].as_str().unwrap_or_default()
        );
    }
    Ok(())
}

/// Streams an artifact into `output`, hashing on the way; the file appears only if the digest matches.
async fn pull(context: &Context, artifact: &ArtifactRef, output: &Path) -> anyhow::Result<()> {
    let found = find(context, artifact).await?;
    let expected = Sha256Digest::parse(found["digest"].as_str().unwrap_or_default())
        .map_err(|p| anyhow::anyhow!("the server sent a bad digest: {p}"))?;
    let mut response =
        context.client.request(Method::GET, &format!("/artifacts/{}/content", found["id"]), None).await?;
    if !response.status().is_success() {
        bail!("the download failed with status {}", response.status());
    }
    let temporary = with_suffix(output, ".part");
    let mut file =
        tokio::fs::File::create(&temporary).await.with_context(|| format!("creating {}", temporary.display()))?;
    let mut hasher = Sha256::new();
    while let Some(chunk) = response.chunk().await.context("downloading")? {
        hasher.update(&chunk);
        file.write_all(&chunk).await.context("writing the download")?;
    }
    file.sync_all().await.context("writing the download")?;
    let actual = Sha256Digest::from_bytes(hasher.finalize().into());
    if actual != expected {
        let _ = std::fs::remove_file(&temporary);
        bail!("the download's digest is {actual}, not {expected}: nothing was written");
    }
    std::fs::rename(&temporary, output).with_context(|| format!("writing {}", output.display()))?;
    println!("pulled {}@{} ({expected}) to {}", artifact.name, artifact.version, output.display());
    Ok(())
}

/// The SHA-256 of a file, read in chunks.
pub async fn file_digest(path: &Path) -> anyhow::Result<Sha256Digest> {
    let mut file = tokio::fs::File::open(path).await.with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        let read = file.read(&mut buffer).await.with_context(|| format!("reading {}", path.display()))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(Sha256Digest::from_bytes(hasher.finalize().into()))
}

fn provenance_of(args: &ProvenanceArgs) -> Provenance {
    Provenance {
        build_type: "https://tollgate.dev/build/v1".to_owned(),
        builder_id: args.builder.clone().unwrap_or_else(|| "https://tollgate.dev/local".to_owned()),
        repository: args.repository.clone(),
        commit: args.commit.clone(),
        invocation_id: args.build_id.clone(),
        started_on: None,
        finished_on: None,
    }
}

fn read_private_key(path: &Path) -> anyhow::Result<SigningKey> {
    let pem = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    SigningKey::from_pkcs8_pem(&pem)
        .map_err(|error| anyhow::anyhow!("{} is not an ed25519 private key: {error}", path.display()))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}
