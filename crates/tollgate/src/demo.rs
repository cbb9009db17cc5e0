//! `tollgate demo`: the main job on the embedded default, end to end. Starts a server on a
//! throw-away data directory, applies `examples/tollgate.yaml`, deploys service `storefront` for
//! real (`rollout.rs`: processes on loopback ports, blue-green in staging, a canary in prod, a
//! faulty release rolled back), pushes signed artifacts with CI evidence, creates releases from
//! them, records them through dev → staging → prod, prints the register and the audit
//! verification, then keeps serving (or stops, with `--exit`).

mod rollout;

use anyhow::Context as _;
use serde_json::Value;
use tollgate_core::attestation::{sign, Provenance, Statement, Subject};
use tollgate_core::digest::Sha256Digest;
use tollgate_evidence::Facts;
use tollgate_http::api::apply::PlanResponse;
use tollgate_http::api::artifacts::{ArtifactResponse, KeyRequest, KeyResponse, PushQuery, SignatureResponse};
use tollgate_http::api::audit::VerifyResponse;
use tollgate_http::api::calendar::{PeriodRequest, PeriodResponse, WindowResponse};
use tollgate_http::api::changes::{ChangeDetailResponse, ChangeRequestBody, ChangeResponse, VerdictRequest};
use tollgate_http::api::deployments::{DeploymentRequest, DeploymentResponse, RegisterResponse};
use tollgate_http::api::evidence::{EvidenceQuery, EvidenceResponse};
use tollgate_http::api::releases::{
    ArtifactRefBody, ReleaseRequest, ReleaseResponse, ScopeItemBody, TransitionRequest,
};

use crate::args::{DemoArgs, StorageArgs};
use crate::client::{Answer, ApiProblem, Client};
use crate::commands::apply::apply_request;
use crate::output::Tabular;
use crate::serve;
use tollgate_http::api::gates::{EvaluateRequest, GateEvaluationResponse};
use tollgate_http::api::people::{IssuedTokenResponse, TokenRequest, UserRequest, UserResponse};

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
    let settings = tollgate_service::Settings::default();
    let running = serve::start(
        &storage,
        None,
        args.listen,
        settings,
        tollgate_http::WebSettings::default(),
        serve::Workers::default(),
    )
    .await?;
    let url = format!("http://{}", running.address);
    let token = running.admin_token.clone().context("a fresh data directory creates the admin token")?;
    let password = running.admin_password.clone().context("a fresh data directory creates the admin password")?;
    println!("tollgate demo: server on {url}, data in {}", data_dir.path().display());
    let client = Client::new(&url, Some(token.clone()));

    let outcome = script(&client, &url, data_dir.path(), !args.no_rollouts).await;
    let rollouts = match outcome {
        Ok(rollouts) => rollouts,
        Err(error) => {
            running.stop().await?;
            return Err(error);
        }
    };
    println!("\nTollgate is running at {url}");
    println!("web UI: {url}/login  (user admin, password {password})");
    println!("token: {token}");
    println!("try:   TOLLGATE_SERVER={url} TOLLGATE_TOKEN={token} tollgate release list");
    if !args.exit {
        println!("press Ctrl-C to stop (the demo data is deleted on exit)");
        signals.wait().await?;
    }
    drop(rollouts);
    running.stop().await?;
    drop(data_dir);
    Ok(())
}

async fn script(
    client: &Client,
    url: &str,
    data_dir: &std::path::Path,
    with_rollouts: bool,
) -> anyhow::Result<Option<rollout::Rollouts>> {
    let config = tollgate_config::load("examples/tollgate.yaml", EXAMPLE)
        .map_err(|e| anyhow::anyhow!(e.messages().join("\n")))?;
    let plan: Answer<PlanResponse> = client.post("/apply", &apply_request(&config.input, Vec::new())?).await?;
    println!("\n== applied examples/tollgate.yaml: {} objects created", plan.value.changes.len());

    // A CI signing key, trusted for the team's artifacts.
    let signing_key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let public_key = tollgate_core::attestation::public_key_pem(&signing_key.verifying_key());
    let key_request =
        KeyRequest { name: "demo-ci".to_owned(), team: Some("payments".to_owned()), builder: None, public_key };
    let key: Answer<KeyResponse> = client.post("/keys", &key_request).await?;
    println!("\n== trusted signing key {} (demo-ci) for team payments", key.value.key_id);

    // Releases are authored by a developer: the admin, who deploys them, never ships to prod
    // what it authored (segregation of duties).
    let user = UserRequest { name: "dev".to_owned(), display_name: None, role: Some("member".to_owned()), roles: None };
    let _: Answer<UserResponse> = client.post("/users", &user).await?;
    let token_request =
        TokenRequest { user: Some("dev".to_owned()), description: Some("demo author".to_owned()), expires_at: None };
    let issued: Answer<IssuedTokenResponse> = client.post("/tokens", &token_request).await?;
    let author = Client::new(url, Some(issued.value.secret));
    // The change advisory board: two approvers, neither in the author's team.
    let mut board = Vec::new();
    for name in ["ana", "bo"] {
        let user =
            UserRequest { name: name.to_owned(), display_name: None, role: Some("approver".to_owned()), roles: None };
        let _: Answer<UserResponse> = client.post("/users", &user).await?;
        let token_request =
            TokenRequest { user: Some(name.to_owned()), description: Some("demo CAB".to_owned()), expires_at: None };
        let issued: Answer<IssuedTokenResponse> = client.post("/tokens", &token_request).await?;
        board.push((name, Client::new(url, Some(issued.value.secret))));
    }

    release_window(client).await?;
    let rollouts = match with_rollouts {
        true => Some(rollout::run(client, &author, &board, &signing_key, data_dir).await?),
        false => None,
    };
    let releases = [
        ("1.0.0", vec![("ledger", "3.2.0"), ("payments-api", "1.0.0"), ("checkout-web", "1.0.0")]),
        ("1.1.0", vec![("payments-api", "1.1.0"), ("checkout-web", "1.1.0")]),
        ("1.2.0", vec![("payments-api", "1.2.0")]),
    ];
    for (version, artifacts) in releases {
        println!("\n== release {version}");
        let mut references = Vec::new();
        for (service, artifact_version) in &artifacts {
            let pushed = push_signed(client, &signing_key, service, artifact_version).await?;
            println!("   pushed and signed {service}@{artifact_version} ({} bytes, {})", pushed.size, pushed.digest);
            references.push(ArtifactRefBody {
                service: service.to_string(),
                name: service.to_string(),
                version: artifact_version.to_string(),
                digest: pushed.digest,
            });
        }
        let release: Answer<ReleaseResponse> = author.post("/releases", &release_request(version, references)).await?;
        println!("   manifest {}", release.value.manifest_digest);
        for (kind, facts) in upload_evidence(client, version).await? {
            println!("   evidence {kind}: {}", facts.summary());
        }
        for action in ["plan", "freeze_scope", "mark_ready"] {
            let transition = TransitionRequest { action: action.to_owned(), reason: None };
            let moved: Answer<ReleaseResponse> =
                client.post(&format!("/releases/{version}/transitions"), &transition).await?;
            println!("   {action:<13} -> {}", moved.value.state);
        }
        for environment in PATH {
            let request = EvaluateRequest {
                release: version.to_owned(),
                environment: environment.to_owned(),
                explain: false,
                dry_run: None,
            };
            let evaluated: Answer<GateEvaluationResponse> = client.post("/gates/evaluate", &request).await?;
            if !evaluated.value.gates.is_empty() {
                let gates: Vec<String> =
                    evaluated.value.gates.iter().map(|gate| format!("{} {}", gate.gate, gate.outcome)).collect();
                let verdict = if evaluated.value.passed { "passed" } else { "did not pass" };
                println!("   gates of {environment:<8} {verdict}: {}", gates.join(", "));
            }
            if version == "1.2.0" && environment == "prod" {
                // An incident freezes prod before 1.2.0 gets there: the deployment is refused.
                freeze_prod(client, version).await?;
                break;
            }
            if environment == "prod" {
                // Prod needs an approved change request for exactly this content.
                change_through_cab(&author, &board, version).await?;
            }
            let record = DeploymentRequest {
                release: version.to_owned(),
                environment: environment.to_owned(),
                status: Some("succeeded".to_owned()),
                started_at: None,
                finished_at: None,
                override_window: None,
            };
            let deployment: Answer<DeploymentResponse> = client.post("/deployments", &record).await?;
            println!("   deployed to {environment:<8} (deployment {})", deployment.value.id);
        }
        let release: Answer<ReleaseResponse> = client.get(&format!("/releases/{version}")).await?;
        println!("   state: {}", release.value.state);
    }

    let register: Answer<RegisterResponse> = client.get("/register").await?;
    println!("\n== release register (what runs where)\n{}", register.value.table());
    let verdict: Answer<VerifyResponse> = client.get("/audit/verify").await?;
    println!("\n== audit verification (server, whole chain)\n{}", verdict.value.message);

    // What an auditor does: export, then verify offline against the server's public key.
    let export = client.download("/audit/export").await?.text().await?;
    let public_key = crate::commands::audit::read_public_key(&data_dir.join(crate::keys::PUBLIC_KEY_FILE))?;
    let report = tollgate_core::audit::export::verify_export(export.lines(), &[public_key], &[])?;
    println!("\n== audit export verified offline with {}\n{report}", crate::keys::PUBLIC_KEY_FILE);
    anyhow::ensure!(report.is_ok(), "the demo's audit export does not verify");
    Ok(rollouts)
}

/// Uploads the demo's CI output (JUnit and CycloneDX) as evidence of release `version`.
async fn upload_evidence(client: &Client, version: &str) -> anyhow::Result<Vec<(&'static str, Facts)>> {
    let mut uploaded = Vec::new();
    for (kind, file) in [("junit", JUNIT), ("cyclonedx", SBOM)] {
        let query = EvidenceQuery { kind: kind.to_owned(), service: None };
        let path = format!("/releases/{version}/evidence");
        let evidence: Answer<EvidenceResponse> = client.upload(&path, &query, reqwest::Body::from(file)).await?;
        let facts: Facts = serde_json::from_value(evidence.value.facts).context("the server's facts")?;
        uploaded.push((kind, facts));
    }
    Ok(uploaded)
}

/// Requests a change for `version` into prod as the author, submits it (risk and route), and
/// has the board approve it until the route is satisfied.
async fn change_through_cab(author: &Client, board: &[(&str, Client)], version: &str) -> anyhow::Result<()> {
    let now = jiff::Timestamp::now();
    let body = ChangeRequestBody {
        release: version.to_owned(),
        environment: "prod".to_owned(),
        change_type: None,
        template: None,
        justification: format!("ship release {version} to customers"),
        implementation_plan: Some("record the deployment after the pipeline's rollout".to_owned()),
        rollback_plan: "redeploy the previous release".to_owned(),
        rollback_minutes: Some(15),
        tickets: Vec::new(),
        links: Vec::new(),
        planned_start: Some((now - jiff::SignedDuration::from_mins(10)).to_string()),
        planned_end: Some((now + jiff::SignedDuration::from_mins(110)).to_string()),
    };
    let created: Answer<ChangeResponse> = author.post("/changes", &body).await?;
    let id = created.value.id;
    let mut view: Answer<ChangeDetailResponse> = author.post(&format!("/changes/{id}/submit"), &Value::Null).await?;
    let (risk, route) = (view.value.change.risk.as_ref(), view.value.change.route.as_ref());
    println!(
        "   change {id} for prod: risk {} ({}), route {}",
        risk.map_or(0, |risk| risk.score),
        risk.map_or("-", |risk| risk.class.as_str()),
        route.map_or("-", |route| route.kind.as_str())
    );
    for conflict in &view.value.conflicts {
        println!("   conflict ({}): {}", conflict.kind, conflict.explanation);
    }
    for (name, approver) in board {
        if view.value.change.state != "assessing" {
            break;
        }
        let verdict = VerdictRequest { comment: Some(format!("{name}: rollback plan and evidence reviewed")) };
        view = approver.post(&format!("/changes/{id}/approve"), &verdict).await?;
        println!("   approved by {name:<4} -> {}", view.value.change.state);
    }
    anyhow::ensure!(
        view.value.change.state == "approved",
        "change {id} was not approved: {:?}",
        view.value.approval_status
    );
    Ok(())
}

/// Opens a daily release window on prod, three hours from an hour ago: the demo's changes are
/// planned inside it, but the first one's rollback time would run past its close, which the
/// change's risk and conflicts show.
async fn release_window(client: &Client) -> anyhow::Result<()> {
    let start = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1)).to_zoned(jiff::tz::TimeZone::UTC);
    let window = PeriodRequest {
        name: "Daily release window".to_owned(),
        kind: "window".to_owned(),
        scope: Some("environment:prod".to_owned()),
        tzid: "UTC".to_owned(),
        start: start.datetime().strftime("%Y-%m-%dT%H:%M").to_string(),
        length: "PT3H".to_owned(),
        rule: Some("FREQ=DAILY".to_owned()),
        exdates: Vec::new(),
        rdates: Vec::new(),
    };
    let request = client.request(reqwest::Method::PUT, "/calendar/periods/daily-release-window").json(&window);
    let _: Answer<PeriodResponse> = client.call(request).await?;
    println!("\n== calendar: a daily release window on prod, three hours from {} UTC", start.strftime("%H:%M"));
    Ok(())
}

/// Freezes prod from an hour ago for four hours, shows that a deployment of `version` is
/// refused with the freeze as its reason, and what the window state says.
async fn freeze_prod(client: &Client, version: &str) -> anyhow::Result<()> {
    let now = jiff::Timestamp::now();
    let start = (now - jiff::SignedDuration::from_hours(1)).to_zoned(jiff::tz::TimeZone::UTC).datetime();
    let freeze = PeriodRequest {
        name: "Incident freeze".to_owned(),
        kind: "freeze".to_owned(),
        scope: Some("environment:prod".to_owned()),
        tzid: "UTC".to_owned(),
        start: start.strftime("%Y-%m-%dT%H:%M").to_string(),
        length: "PT4H".to_owned(),
        rule: None,
        exdates: Vec::new(),
        rdates: Vec::new(),
    };
    let request = client.request(reqwest::Method::PUT, "/calendar/periods/incident-freeze").json(&freeze);
    let _: Answer<PeriodResponse> = client.call(request).await?;
    println!("   calendar: freeze \"Incident freeze\" on prod for four hours");
    let record = DeploymentRequest {
        release: version.to_owned(),
        environment: "prod".to_owned(),
        status: Some("succeeded".to_owned()),
        started_at: None,
        finished_at: None,
        override_window: None,
    };
    let refused = client.post::<_, DeploymentResponse>("/deployments", &record).await;
    let problem = match refused {
        Err(error) => error.downcast::<ApiProblem>().context("the refusal is a problem document")?,
        Ok(_) => anyhow::bail!("the freeze did not refuse the deployment"),
    };
    anyhow::ensure!(problem.problem.code == "window_closed", "refused for another reason: {problem}");
    let reason = problem.problem.errors.first().map_or(problem.problem.detail.as_str(), |e| e.message.as_str());
    println!("   refused in prod ({}): {reason}", problem.problem.code);
    let window: Answer<WindowResponse> = client.get("/environments/prod/window").await?;
    let opens = window.value.next_change.map(|at| at.to_string()).unwrap_or_else(|| "-".to_owned());
    let state = if window.value.open { "open" } else { "closed" };
    println!("   prod window: {state}, opens again at {opens}");
    Ok(())
}

/// Builds, signs and pushes a stand-in build output for `service@version`.
async fn push_signed(
    client: &Client,
    key: &ed25519_dalek::SigningKey,
    service: &str,
    version: &str,
) -> anyhow::Result<ArtifactResponse> {
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
    let query = PushQuery {
        name: service.to_owned(),
        version: version.to_owned(),
        team: "payments".to_owned(),
        media_type: None,
        repository: None,
        commit: None,
        build_id: None,
        builder: Some("https://ci.example/demo".to_owned()),
        tags: None,
        digest: Some(digest.to_string()),
    };
    let pushed: Answer<ArtifactResponse> = client.upload("/artifacts", &query, reqwest::Body::from(content)).await?;
    let envelope: Value = serde_json::from_str(&envelope.to_json()).expect("an envelope is JSON");
    let _: Answer<SignatureResponse> =
        client.post(&format!("/artifacts/{}/signatures", pushed.value.id), &envelope).await?;
    Ok(pushed.value)
}

fn release_request(version: &str, artifacts: Vec<ArtifactRefBody>) -> ReleaseRequest {
    let scope_item = |ticket: String, title: String, reason: Option<&str>| ScopeItemBody {
        ticket,
        title,
        included: reason.is_none(),
        reason: reason.map(str::to_owned),
    };
    ReleaseRequest {
        version: version.to_owned(),
        lifecycle: "default".to_owned(),
        release_type: "minor".to_owned(),
        strategy: Some("phased".to_owned()),
        artifacts,
        scope: vec![
            scope_item(format!("PAY-{}", version.replace('.', "")), format!("Changes shipped in {version}"), None),
            scope_item("PAY-99".to_owned(), "Dark mode".to_owned(), Some("design not signed off")),
        ],
        planned_start: None,
        planned_end: None,
        scope_freeze_at: None,
        rollback_criteria: Some("error ratio above 1% or p99 latency above 800 ms for 5 minutes".to_owned()),
        revision: None,
    }
}
