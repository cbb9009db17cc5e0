//! `tollgate artifact`, `key` and `retention`: the supply chain from the command line.
//! Signing and verifying files work offline; the rest talks to the server.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::SigningKey;
use reqwest::Method;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use tollgate_core::attestation::{sign, verify, Envelope, Provenance, Statement, Subject, TrustedKey};
use tollgate_core::digest::Sha256Digest;
use tollgate_http::api::artifacts::{
    ArtifactResponse, CollectionResponse, DecisionResponse, GcQuery, HoldRequest, KeyRequest, KeyResponse, ListQuery,
    PolicyRequest, PolicyResponse, PushQuery, ReleaseHoldRequest, SignatureCheck, SignatureResponse,
    VerificationResponse,
};

use crate::args::{ArtifactCommand, ArtifactRef, KeyCommand, OutputFormat, ProvenanceArgs, RetentionCommand};
use crate::client::{encode, Answer};
use crate::commands::Context;
use crate::output::{fields, item, maybe_time, or_dash, print, rows, size, time, yes_no, Row, Tabular};

/// Runs an artifact command; `Ok(false)` when a verification found a problem.
pub async fn artifact(context: &Context, command: ArtifactCommand) -> anyhow::Result<bool> {
    match command {
        ArtifactCommand::Push { file, artifact, team, media_type, provenance, tags, signature } => {
            let query = PushQuery {
                name: artifact.name,
                version: artifact.version,
                team,
                media_type,
                repository: provenance.repository,
                commit: provenance.commit,
                build_id: provenance.build_id,
                builder: provenance.builder,
                tags: (!tags.is_empty()).then(|| tags.join(",")),
                // Announced after the content, in a trailer: the file is read once.
                digest: None,
            };
            let source = std::fs::File::open(&file).with_context(|| format!("opening {}", file.display()))?;
            let (body, sent) = hashed_body(source);
            let pushed: Answer<ArtifactResponse> =
                context.client.upload_with_trailer("/artifacts", &query, body).await?;
            let sent = sent.await.context("the upload ended before its digest was known")?;
            if pushed.value.digest != sent.to_string() {
                bail!("the server stored {} but {sent} was sent", pushed.value.digest);
            }
            print(context.output, &pushed);
            if let Some(signature) = signature {
                attach(context, pushed.value.id, &signature).await?;
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
            attach(context, found.id, &signature).await?;
        }
        ArtifactCommand::List { name } => {
            let request = context.client.request(Method::GET, "/artifacts").query(&ListQuery { name, version: None });
            print(context.output, &context.client.call::<Vec<ArtifactResponse>>(request).await?);
        }
        ArtifactCommand::Check { artifact } => {
            let found = find(context, &artifact).await?;
            let check: Answer<VerificationResponse> =
                context.client.get(&format!("/artifacts/{}/verify", found.id)).await?;
            print(context.output, &check);
            return Ok(check.value.ok);
        }
        ArtifactCommand::Gc { dry_run } => {
            let request = context.client.request(Method::POST, "/artifacts/gc").query(&GcQuery { dry_run });
            print(context.output, &context.client.call::<CollectionResponse>(request).await?);
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
            let request = KeyRequest { name, team, builder, public_key: pem };
            let added: Answer<KeyResponse> = context.client.post("/keys", &request).await?;
            print(context.output, &added);
        }
        KeyCommand::List => print(context.output, &context.client.get::<Vec<KeyResponse>>("/keys").await?),
        KeyCommand::Revoke { id } => {
            let request = context.client.request(Method::POST, &format!("/keys/{id}/revoke"));
            print(context.output, &context.client.call::<KeyResponse>(request).await?);
        }
    }
    Ok(())
}

pub async fn retention(context: &Context, command: RetentionCommand) -> anyhow::Result<()> {
    match command {
        RetentionCommand::List => {
            print(context.output, &context.client.get::<Vec<PolicyResponse>>("/retention/policies").await?)
        }
        RetentionCommand::Set { selector, keep_last, keep_deployed_days } => {
            let policy = PolicyRequest { selector, keep_last, keep_deployed_days };
            let request = context.client.request(Method::PUT, "/retention/policies").json(&policy);
            print(context.output, &context.client.call::<PolicyResponse>(request).await?);
        }
        RetentionCommand::Hold { tag, reason } => {
            let hold = HoldRequest { tag: tag.clone(), reason };
            context
                .client
                .call_no_content(context.client.request(Method::POST, "/retention/holds").json(&hold))
                .await?;
            println!("legal hold on tag {tag}");
        }
        RetentionCommand::Unhold { tag, reason } => {
            let path = format!("/retention/holds/{}/release", encode(&tag));
            let release = ReleaseHoldRequest { reason };
            context.client.call_no_content(context.client.request(Method::POST, &path).json(&release)).await?;
            println!("legal hold on tag {tag} released");
        }
    }
    Ok(())
}

/// The artifact with this name and version.
async fn find(context: &Context, artifact: &ArtifactRef) -> anyhow::Result<ArtifactResponse> {
    let query = ListQuery { name: Some(artifact.name.clone()), version: Some(artifact.version.clone()) };
    let request = context.client.request(Method::GET, "/artifacts").query(&query);
    let found: Answer<Vec<ArtifactResponse>> = context.client.call(request).await?;
    found.value.into_iter().next().context("the server answered with no artifact")
}

async fn attach(context: &Context, id: i64, signature: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(signature).with_context(|| format!("reading {}", signature.display()))?;
    // The API takes the envelope as it is; the server checks it.
    let envelope: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", signature.display()))?;
    let attached: Answer<SignatureResponse> =
        context.client.post(&format!("/artifacts/{id}/signatures"), &envelope).await?;
    if context.output == OutputFormat::Table {
        println!("signature by key {} ({}) attached", attached.value.key_id, attached.value.key_name);
    }
    Ok(())
}

/// Streams an artifact into `output`, hashing on the way; the file appears only if the digest matches.
async fn pull(context: &Context, artifact: &ArtifactRef, output: &Path) -> anyhow::Result<()> {
    let found = find(context, artifact).await?;
    let expected =
        Sha256Digest::parse(&found.digest).map_err(|p| anyhow::anyhow!("the server sent a bad digest: {p}"))?;
    let mut response = context.client.download(&format!("/artifacts/{}/content", found.id)).await?;
    let temporary = with_suffix(output, ".part");
    let file = std::fs::File::create(&temporary).with_context(|| format!("creating {}", temporary.display()))?;
    // Received here, hashed and written on a thread of its own: both cores work at once.
    let (pieces, queue) = tokio::sync::mpsc::channel::<axum::body::Bytes>(READ_AHEAD);
    let writer = tokio::task::spawn_blocking(move || write_and_hash(file, queue));
    let received = async {
        while let Some(chunk) = response.chunk().await.context("downloading")? {
            if pieces.send(chunk).await.is_err() {
                break;
            }
        }
        anyhow::Ok(())
    }
    .await;
    drop(pieces);
    let written = writer.await.context("writing the download")?;
    if let Err(error) = received {
        let _ = std::fs::remove_file(&temporary);
        return Err(error);
    }
    let actual = written.with_context(|| format!("writing {}", temporary.display()))?;
    if actual != expected {
        let _ = std::fs::remove_file(&temporary);
        bail!("the download's digest is {actual}, not {expected}: nothing was written");
    }
    std::fs::rename(&temporary, output).with_context(|| format!("writing {}", output.display()))?;
    println!("pulled {}@{} ({expected}) to {}", artifact.name, artifact.version, output.display());
    Ok(())
}

impl Row for ArtifactResponse {
    const HEADERS: &'static [&'static str] = &["id", "name", "version", "team", "size", "digest", "tags"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.name.clone(),
            self.version.clone(),
            self.team.clone(),
            size(self.size),
            self.digest.clone(),
            crate::output::list(&self.tags),
        ]
    }
}

impl Tabular for ArtifactResponse {
    fn table(&self) -> String {
        fields([
            ("id", self.id.to_string()),
            ("name", self.name.clone()),
            ("version", self.version.clone()),
            ("team", self.team.clone()),
            ("digest", self.digest.clone()),
            ("size", format!("{} ({} bytes)", size(self.size), self.size)),
            ("media type", self.media_type.clone()),
            ("repository", or_dash(self.repository.as_deref())),
            ("commit", or_dash(self.commit.as_deref())),
            ("build id", or_dash(self.build_id.as_deref())),
            ("builder", or_dash(self.builder.as_deref())),
            ("tags", crate::output::list(&self.tags)),
            ("created", format!("{} by {}", time(self.created_at), self.created_by)),
        ])
    }
}

impl Tabular for VerificationResponse {
    /// The verdict first, then what it rests on: the content and each signature.
    fn table(&self) -> String {
        let artifact = &self.artifact;
        let verdict = if self.ok { "ok" } else { "FAILED" };
        let content = match &self.content_problem {
            None => "matches its digest".to_owned(),
            Some(problem) => problem.clone(),
        };
        let mut text =
            format!("{}@{} ({}): {verdict}\ncontent: {content}", artifact.name, artifact.version, artifact.digest);
        if self.signatures.is_empty() {
            text.push_str("\nsignatures: none");
        } else {
            text.push_str(&format!("\nsignatures:\n{}", rows(&self.signatures)));
        }
        text
    }
}

impl Row for SignatureCheck {
    const HEADERS: &'static [&'static str] = &["key id", "valid", "signer or reason"];

    fn cells(&self) -> Vec<String> {
        vec![self.key_id.clone(), yes_no(self.valid), self.detail.clone()]
    }
}

impl Tabular for CollectionResponse {
    /// Each decision with its reasons, then the totals.
    fn table(&self) -> String {
        let n_kept = self.decisions.iter().filter(|decision| decision.outcome == "keep").count();
        let n_removed = self.decisions.len() - n_kept;
        let decisions = rows(&self.decisions);
        let text = if self.dry_run {
            format!("{decisions}\n\n{n_kept} kept, {n_removed} to remove (dry run: nothing was changed)")
        } else {
            format!("{decisions}\n\n{n_kept} kept, {n_removed} removed, {} blobs removed", self.removed_blobs)
        };
        text
    }
}

impl Row for DecisionResponse {
    const HEADERS: &'static [&'static str] = &["artifact", "version", "outcome", "reasons"];

    fn cells(&self) -> Vec<String> {
        let outcome = match self.outcome.as_str() {
            "remove" => "would remove".to_owned(),
            other => other.to_owned(),
        };
        vec![self.name.clone(), self.version.clone(), outcome, self.reasons.join("; ")]
    }
}

impl Row for KeyResponse {
    const HEADERS: &'static [&'static str] = &["id", "key id", "name", "team", "builder", "revoked"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.key_id.clone(),
            self.name.clone(),
            self.team.clone().unwrap_or_else(|| "(any)".to_owned()),
            self.builder.clone().unwrap_or_else(|| "(any)".to_owned()),
            maybe_time(self.revoked_at),
        ]
    }
}

impl Tabular for KeyResponse {
    fn table(&self) -> String {
        let created = ("created", format!("{} by {}", time(self.created_at), self.created_by));
        fields(Self::HEADERS.iter().copied().zip(self.cells()).chain([created]))
    }
}

impl Row for PolicyResponse {
    const HEADERS: &'static [&'static str] = &["id", "selector", "keep last", "keep deployed days"];

    fn cells(&self) -> Vec<String> {
        let number = |value: Option<u32>| value.map_or_else(|| "-".to_owned(), |n| n.to_string());
        vec![self.id.to_string(), self.selector.clone(), number(self.keep_last), number(self.keep_deployed_days)]
    }
}

impl Tabular for PolicyResponse {
    fn table(&self) -> String {
        item(self)
    }
}

/// Reads and writes of artifact content go in pieces this large.
const IO_BUFFER: usize = 1024 * 1024;
/// Pieces read ahead of the network while pushing.
const READ_AHEAD: usize = 4;

/// A file's content as a request body, read on a blocking thread a few pieces ahead of the
/// network and hashed on the way; the digest follows the last piece as a `Content-Digest`
/// trailer, and is also handed back through the receiver.
fn hashed_body(mut file: std::fs::File) -> (reqwest::Body, tokio::sync::oneshot::Receiver<Sha256Digest>) {
    use http_body_util::channel::Channel;
    let (mut frames, body) = Channel::<axum::body::Bytes, std::io::Error>::new(READ_AHEAD);
    let (pieces, mut read) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(READ_AHEAD);
    let (digest_sender, digest) = tokio::sync::oneshot::channel();
    let reading = tokio::task::spawn_blocking(move || {
        use std::io::Read as _;
        let mut hasher = Sha256::new();
        loop {
            let mut piece = vec![0u8; IO_BUFFER];
            match file.read(&mut piece) {
                Ok(0) => return Some(Sha256Digest::from_bytes(hasher.finalize().into())),
                Ok(n) => {
                    piece.truncate(n);
                    hasher.update(&piece);
                    if pieces.blocking_send(Ok(piece)).is_err() {
                        return None;
                    }
                }
                Err(error) => {
                    let _ = pieces.blocking_send(Err(error));
                    return None;
                }
            }
        }
    });
    tokio::spawn(async move {
        while let Some(piece) = read.recv().await {
            match piece {
                Ok(piece) => {
                    if frames.send_data(piece.into()).await.is_err() {
                        return;
                    }
                }
                Err(error) => return frames.abort(error),
            }
        }
        if let Ok(Some(sent)) = reading.await {
            let mut trailers = reqwest::header::HeaderMap::new();
            let value = reqwest::header::HeaderValue::from_str(&sent.to_content_digest())
                .expect("a content digest is a valid header value");
            trailers.insert("content-digest", value);
            if frames.send_trailers(trailers).await.is_ok() {
                let _ = digest_sender.send(sent);
            }
        }
    });
    (reqwest::Body::wrap(body), digest)
}

/// Writes every piece of `queue` to `file`, hashing it, syncs the file, and returns the digest.
fn write_and_hash(
    mut file: std::fs::File,
    mut queue: tokio::sync::mpsc::Receiver<axum::body::Bytes>,
) -> std::io::Result<Sha256Digest> {
    use std::io::Write as _;
    let mut hasher = Sha256::new();
    let mut writer = std::io::BufWriter::with_capacity(IO_BUFFER, &mut file);
    while let Some(piece) = queue.blocking_recv() {
        hasher.update(&piece);
        writer.write_all(&piece)?;
    }
    writer.flush()?;
    drop(writer);
    file.sync_all()?;
    Ok(Sha256Digest::from_bytes(hasher.finalize().into()))
}

/// The SHA-256 of a file, read in large chunks on a blocking thread.
pub async fn file_digest(path: &Path) -> anyhow::Result<Sha256Digest> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::Read as _;
        let mut file = std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; IO_BUFFER];
        loop {
            let read = file.read(&mut buffer).with_context(|| format!("reading {}", path.display()))?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
        }
        Ok(Sha256Digest::from_bytes(hasher.finalize().into()))
    })
    .await
    .context("hashing the file")?
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
