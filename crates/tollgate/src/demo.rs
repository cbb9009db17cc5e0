//! `tollgate demo`: the main job on the embedded default, end to end. Starts a server on a
//! throw-away data directory, applies `examples/tollgate.yaml`, pushes signed artifacts with CI
//! evidence, creates two releases from them, records
//! them through dev → staging → prod, prints the register and the audit verification, then keeps
//! serving (or stops, with `--exit`).

use anyhow::Context as _;
use serde_json::{json, Value};
use tollgate_core::attestation::{sign, Provenance, Statement, Subject};
use tollgate_core::digest::Sha256Digest;

use crate::args::{DemoArgs, StorageArgs};
use crate::client::Client;
use crate::commands::apply::request_body;
use crate::commands::release::{register_rows, REGISTER};
use crate::output::table;
use crate::serve;

const EXAMPLE: &str = include_str!("../../../examples/tollgate.yaml");
/// Real CI output, made by cargo-nextest and cargo-cyclonedx on this workspace.
const JUNIT: &[u8] = include_bytes!("../../tollgate-evidence/tests/fixtures/nextest-tollgate-core.junit.xml");
const SBOM: &[u8] = include_bytes!("../../tollgate-evidence/tests/fixtures/tollgate.cdx.json");
const PATH: [&str; 3] = ["dev", "staging", "prod"];

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let data_dir =
        tempfile::Builder::new().prefix("tollgate-demo-").tempdir().context("creating a temporary data directory")?;
    let storage = StorageArgs { data_dir: data_dir.path().to_owned(), database_url: None };
    let mut signals = serve::Signals::install()?;
    let running = serve::start(&storage, None, args.listen, tollgate_service::Settings::default()).await?;
    let url = format!("http://{}", running.address);
    let token = running.admin_token.clone().context("a fresh data directory creates the admin token")?;
    println!("tollgate demo: server on {url}, data in {}", data_dir.path().display());
    let client = Client::new(&url, Some(token.clone()));

    let outcome = script(&client, data_dir.path()).await;
    if let Err(error) = outcome {
        running.stop().await?;
        return Err(error);
    }
    println!("\nTollgate is running at {url}");
    println!("token: {token}");
    println!("try:   TOLLGATE_SERVER={url} TOLLGATE_TOKEN={token} tollgate release list");
    if !args.exit {
        println!("press Ctrl-C to stop (the demo data is deleted on exit)");
        signals.wait().await?;
    }
    running.stop().await?;
    drop(data_dir);
    Ok(())
}

async fn script(client: &Client, data_dir: &std::path::Path) -> anyhow::Result<()> {
    let config = tollgate_config::load("examples/tollgate.yaml", EXAMPLE)
        .map_err(|e| anyhow::anyhow!(e.messages().join("\n")))?;
    let plan = client.post("/apply", &request_body(&config.input)).await?;
    let created = plan["changes"].as_array().map_or(0, |changes| changes.len());
    println!("\n== applied examples/tollgate.yaml: {created} objects created");

    // A CI signing key, trusted for the team's artifacts.
    let signing_key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let public_key = tollgate_core::attestation::public_key_pem(&signing_key.verifying_key());
    let key = client.post("/keys", &json!({ "name": "demo-ci", "team": "payments", "public_key": public_key })).await?;
    println!("\n== trusted signing key {} (demo-ci) for team payments", key["key_id"].as_str().unwrap_or_default());

    let releases = [
        ("1.0.0", vec![("ledger", "3.2.0"), ("payments-api", "1.0.0"), ("checkout-web", "1.0.0")]),
        ("1.1.0", vec![("payments-api", "1.1.0"), ("checkout-web", "1.1.0")]),
    ];
    for (version, artifacts) in releases {
        println!("\n== release {version}");
        let mut references = Vec::new();
        for (service, artifact_version) in &artifacts {
            let pushed = push_signed(client, &signing_key, service, artifact_version).await?;
            println!(
                "   pushed and signed {service}@{artifact_version} ({} bytes, {})",
                pushed["size"],
                pushed["digest"].as_str().unwrap_or_default()
            );
            references.push(
                json!({ "service": service, "name": service, "version": artifact_version, "digest": pushed["digest"] }),
            );
        }
        let release = client.post("/releases", &release_request(version, references)).await?;
        println!("   manifest {}", release["manifest_digest"].as_str().unwrap_or_default());
        for (kind, file) in [("junit", JUNIT), ("cyclonedx", SBOM)] {
            let path = format!("/releases/{version}/evidence?kind={kind}");
            let response = client.request_body(reqwest::Method::POST, &path, reqwest::Body::from(file)).await?;
            let evidence = client.read(response).await?;
            println!("   evidence {kind}: {}", summary(kind, &evidence["facts"]));
        }
        for action in ["plan", "freeze_scope", "mark_ready"] {
            let moved = client.post(&format!("/releases/{version}/transitions"), &json!({ "action": action })).await?;
            println!("   {action:<13} -> {}", moved["state"].as_str().unwrap_or_default());
        }
        for environment in PATH {
            let deployment = client
                .post("/deployments", &json!({ "release": version, "environment": environment, "status": "succeeded" }))
                .await?;
            println!("   deployed to {environment:<8} (deployment {})", deployment["id"]);
        }
        let release = client.get(&format!("/releases/{version}")).await?;
        println!("   state: {}", release["state"].as_str().unwrap_or_default());
    }

    let register = client.get("/register").await?;
    println!("\n== release register (what runs where)\n{}", table(&register_rows(&register), REGISTER));
    let verdict = client.get("/audit/verify").await?;
    println!("\n== audit verification (server, whole chain)\n{}", verdict["message"].as_str().unwrap_or_default());

    // What an auditor does: export, then verify offline against the server's public key.
    let export = client.request(reqwest::Method::GET, "/audit/export", None).await?.text().await?;
    let public_key = crate::commands::audit::read_public_key(&data_dir.join(crate::keys::PUBLIC_KEY_FILE))?;
    let report = tollgate_core::audit::export::verify_export(export.lines(), &[public_key], &[])?;
    println!("\n== audit export verified offline with {}\n{report}", crate::keys::PUBLIC_KEY_FILE);
    anyhow::ensure!(report.is_ok(), "the demo's audit export does not verify");
    Ok(())
}

/// Builds, signs and pushes a stand-in build output for `service@version`.
async fn push_signed(
    client: &Client,
    key: &ed25519_dalek::SigningKey,
    service: &str,
    version: &str,
) -> anyhow::Result<Value> {
    let content = format!("{service} {version}\nbuild output of the demo; {}\n", "x".repeat(4096)).into_bytes();
    let digest = Sha256Digest::of(&content);
    let subject = Subject { name: service.to_owned(), digest };
    let provenance = Provenance {
        build_type: "https://tollgate.dev/build/v1".to_owned(),
        builder_id: "https://ci.example/demo".to_owned(),
        repository: Some(format!("https://git.example/payments/{service}")),
        commit: Some("4f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c".to_owned()),
        invocation_id: Some(format!("demo-{service}-{version}")),
        started_on: None,
        finished_on: None,
    };
    let envelope = sign(&Statement::provenance(subject, &provenance), key);
    let path = format!("/artifacts?name={service}&version={version}&team=payments&builder=https%3A%2F%2Fci.example%2Fdemo&digest={digest}");
    let response = client.request_body(reqwest::Method::POST, &path, reqwest::Body::from(content)).await?;
    let pushed = client.read(response).await?;
    let envelope: Value = serde_json::from_str(&envelope.to_json()).expect("an envelope is JSON");
    client.post(&format!("/artifacts/{}/signatures", pushed["id"]), &envelope).await?;
    Ok(pushed)
}

fn summary(kind: &str, facts: &Value) -> String {
    match kind {
        "junit" => format!("{} tests, {} failed", facts["total"], facts["failed"]),
        _ => format!("{} components", facts["components"]),
    }
}

fn release_request(version: &str, artifacts: Vec<Value>) -> Value {
    json!({
        "version": version,
        "lifecycle": "default",
        "release_type": "minor",
        "strategy": "phased",
        "artifacts": artifacts,
        "scope": [
            { "ticket": format!("PAY-{}", version.replace('.', "")), "title": format!("Changes shipped in {version}") },
            { "ticket": "PAY-99", "title": "Dark mode", "included": false, "reason": "design not signed off" }
        ],
        "rollback_criteria": "error ratio above 1% or p99 latency above 800 ms for 5 minutes",
    })
}
