//! `tollgate demo`: the main job on the embedded default, end to end. Starts a server on a
//! throw-away data directory, applies `examples/tollgate.yaml`, creates two releases, records
//! them through dev → staging → prod, prints the register and the audit verification, then keeps
//! serving (or stops, with `--exit`).

use anyhow::Context as _;
use serde_json::{json, Value};
use tollgate_core::digest::Sha256Digest;

use crate::args::{DemoArgs, StorageArgs};
use crate::client::Client;
use crate::commands::apply::request_body;
use crate::commands::release::{register_rows, REGISTER};
use crate::output::table;
use crate::serve;

const EXAMPLE: &str = include_str!("../../../examples/tollgate.yaml");
const PATH: [&str; 3] = ["dev", "staging", "prod"];

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let data_dir = tempfile::Builder::new()
        .prefix("tollgate-demo-")
        .tempdir()
        .context("creating a temporary data directory")?;
    let storage = StorageArgs {
        data_dir: data_dir.path().to_owned(),
        database_url: None,
    };
    let running = serve::start(&storage, args.listen, 1000).await?;
    let url = format!("http://{}", running.address);
    let token = running
        .admin_token
        .clone()
        .context("a fresh data directory creates the admin token")?;
    println!(
        "tollgate demo: server on {url}, data in {}",
        data_dir.path().display()
    );
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
        serve::shutdown_signal().await?;
    }
    running.stop().await?;
    drop(data_dir);
    Ok(())
}

async fn script(client: &Client, data_dir: &std::path::Path) -> anyhow::Result<()> {
    let config = tollgate_config::load("examples/tollgate.yaml", EXAMPLE)
        .map_err(|e| anyhow::anyhow!(e.messages().join("\n")))?;
    let plan = client.post("/apply", &request_body(&config.input)).await?;
    let created = plan["changes"]
        .as_array()
        .map_or(0, |changes| changes.len());
    println!("\n== applied examples/tollgate.yaml: {created} objects created");

    let releases = [
        (
            "1.0.0",
            "minor",
            vec![
                ("ledger", "3.2.0"),
                ("payments-api", "1.0.0"),
                ("checkout-web", "1.0.0"),
            ],
        ),
        (
            "1.1.0",
            "minor",
            vec![("payments-api", "1.1.0"), ("checkout-web", "1.1.0")],
        ),
    ];
    for (version, release_type, artifacts) in releases {
        let release = client
            .post(
                "/releases",
                &release_request(version, release_type, &artifacts),
            )
            .await?;
        println!(
            "\n== release {version}: manifest {}",
            release["manifest_digest"].as_str().unwrap_or_default()
        );
        for action in ["plan", "freeze_scope", "mark_ready"] {
            let moved = client
                .post(
                    &format!("/releases/{version}/transitions"),
                    &json!({ "action": action }),
                )
                .await?;
            println!(
                "   {action:<13} -> {}",
                moved["state"].as_str().unwrap_or_default()
            );
        }
        for environment in PATH {
            let deployment = client
                .post("/deployments", &json!({ "release": version, "environment": environment, "status": "succeeded" }))
                .await?;
            println!(
                "   deployed to {environment:<8} (deployment {})",
                deployment["id"]
            );
        }
        let release = client.get(&format!("/releases/{version}")).await?;
        println!(
            "   state: {}",
            release["state"].as_str().unwrap_or_default()
        );
    }

    let register = client.get("/register").await?;
    println!(
        "\n== release register (what runs where)\n{}",
        table(&register_rows(&register), REGISTER)
    );
    let verdict = client.get("/audit/verify").await?;
    println!(
        "\n== audit verification (server, whole chain)\n{}",
        verdict["message"].as_str().unwrap_or_default()
    );

    // What an auditor does: export, then verify offline against the server's public key.
    let export = client
        .request(reqwest::Method::GET, "/audit/export", None)
        .await?
        .text()
        .await?;
    let public_key =
        crate::commands::audit::read_public_key(&data_dir.join(crate::keys::PUBLIC_KEY_FILE))?;
    let report = tollgate_core::audit::export::verify_export(export.lines(), &[public_key])?;
    println!(
        "\n== audit export verified offline with {}\n{report}",
        crate::keys::PUBLIC_KEY_FILE
    );
    anyhow::ensure!(report.is_ok(), "the demo's audit export does not verify");
    Ok(())
}

fn release_request(version: &str, release_type: &str, artifacts: &[(&str, &str)]) -> Value {
    let artifacts: Vec<Value> = artifacts
        .iter()
        .map(|(service, artifact_version)| {
            // The artifact store comes later; until then the digest stands for the build output.
            let digest = Sha256Digest::of(format!("{service}@{artifact_version}").as_bytes());
            json!({ "service": service, "name": service, "version": artifact_version, "digest": digest.to_string() })
        })
        .collect();
    json!({
        "version": version,
        "lifecycle": "default",
        "release_type": release_type,
        "strategy": "phased",
        "artifacts": artifacts,
        "scope": [
            { "ticket": format!("PAY-{}", version.replace('.', "")), "title": format!("Changes shipped in {version}") },
            { "ticket": "PAY-99", "title": "Dark mode", "included": false, "reason": "design not signed off" }
        ],
        "rollback_criteria": "error ratio above 1% or p99 latency above 800 ms for 5 minutes",
    })
}
