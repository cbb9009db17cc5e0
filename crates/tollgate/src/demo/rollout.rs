//! The demo's rollouts, for real: service `storefront` runs as `tollgate sample-service`
//! processes on loopback ports, two per environment (weight groups blue and green). Tollgate's
//! engine deploys it blue-green in staging and as a canary in prod, then a release with an
//! injected fault fails its health check in staging and is rolled back by itself.
//!
//! Where nginx is installed, traffic goes through one nginx per environment, run unprivileged
//! from the demo's data directory; otherwise a `command` provider writes the weights to a file
//! and the demo's own small load generator splits its requests by them, and says so.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::{json, Value};
use tollgate_http::api::gates::{EvaluateRequest, GateEvaluationResponse};
use tollgate_http::api::releases::{ArtifactRefBody, ReleaseResponse, TransitionRequest};
use tollgate_http::api::runs::DeploymentRunResponse;

use crate::client::{Answer, Client};
use crate::demo::{change_through_cab, push_signed, release_request, upload_evidence};

const ENVIRONMENTS: [&str; 2] = ["staging", "prod"];

/// The processes the rollouts left running (nginx, the sample services): stopped on drop.
pub struct Rollouts {
    nginx: Vec<Child>,
    dir: PathBuf,
}

impl Drop for Rollouts {
    fn drop(&mut self) {
        // SIGTERM lets nginx's master stop its workers; SIGKILL would leave them running.
        for child in &mut self.nginx {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let _ = child.wait();
        }
        for entry in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            if entry.path().extension().is_some_and(|extension| extension == "pid") {
                if let Ok(pid) = std::fs::read_to_string(entry.path()) {
                    let _ = Command::new("kill").arg(pid.trim()).status();
                }
            }
        }
    }
}

/// How requests reach an environment's targets.
enum Route {
    /// nginx listening on this port.
    Nginx(u16),
    /// The demo's load generator, by the weights the command provider wrote to this file.
    Weights(PathBuf),
}

/// Runs the rollouts; what it started keeps running until the returned value is dropped.
pub async fn run(
    client: &Client,
    author: &Client,
    board: &[(&str, Client)],
    key: &ed25519_dalek::SigningKey,
    data_dir: &Path,
) -> anyhow::Result<Rollouts> {
    let dir = data_dir.join("storefront");
    std::fs::create_dir_all(&dir).context("creating the storefront directory")?;
    let mut rollouts = Rollouts { nginx: Vec::new(), dir: dir.clone() };
    let binary = std::env::current_exe().context("finding the tollgate binary")?;
    let mut routes = Vec::new();
    let mut targets = Vec::new();
    let mut variables = serde_json::Map::new();
    let nginx = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|path| Path::new(path).exists());
    for environment in ENVIRONMENTS {
        let (blue, green) = (free_port()?, free_port()?);
        targets.push(json!({ "name": "blue-1", "environment": environment, "address": format!("127.0.0.1:{blue}"), "group": "blue" }));
        targets.push(json!({ "name": "green-1", "environment": environment, "address": format!("127.0.0.1:{green}"), "group": "green" }));
        match nginx {
            Some(nginx) => {
                let port = free_port()?;
                rollouts.nginx.push(start_nginx(nginx, &dir.join(format!("nginx-{environment}")), port, blue)?);
                variables.insert(environment.to_owned(), json!({ "entry": format!("127.0.0.1:{port}") }));
                routes.push(Route::Nginx(port));
            }
            None => routes.push(Route::Weights(dir.join(format!("weights-{environment}.json")))),
        }
    }
    let d = dir.display();
    let traffic = match nginx {
        Some(nginx) => json!({ "nginx": {
            "upstream": "storefront",
            "file": format!("{d}/nginx-{{{{ environment.name }}}}/upstream.conf"),
            "prefix": format!("{d}/nginx-{{{{ environment.name }}}}"),
            "conf": format!("{d}/nginx-{{{{ environment.name }}}}/nginx.conf"),
            "binary": nginx,
        }}),
        None => json!({ "command": ["sh", "-c", format!("cat > {d}/weights-{{{{ environment.name }}}}.json")] }),
    };
    let start = format!(
        "pid={d}/{{{{ environment.name }}}}-{{{{ target.name }}}}.pid; \
         if [ -f $pid ]; then kill $(cat $pid); rm -f $pid; sleep 0.3; fi; \
         setsid {binary} sample-service --listen {{{{ target.address }}}} --version {{{{ release.version }}}} \
         --name storefront --pid-file $pid {{% if release.version == \"2.2.0\" %}}--unhealthy{{% endif %}} \
         > {d}/{{{{ environment.name }}}}-{{{{ target.name }}}}.log 2>&1 < /dev/null &",
        binary = binary.display()
    );
    let stop = format!("kill $(cat {d}/{{{{ environment.name }}}}-{{{{ target.name }}}}.pid)");
    let mut plan = json!({
        "targets": targets,
        "strategy": { "canary": { "weights": [10, 50, 100], "pause": "3s" } },
        "strategies": [{ "environment": "staging", "blue_green": {} }],
        "traffic": traffic,
        "tiers": [{ "name": "app", "steps": [
            { "name": "start", "per_target": true, "exec": ["sh", "-c", start], "idempotent": true },
            { "name": "ready", "per_target": true,
              "health": { "http": "http://{{ target.address }}/health", "interval": "100ms", "failures": 20 } },
        ]}],
        "rollback": [{ "name": "stop", "per_target": true, "exec": ["sh", "-c", stop] }],
    });
    if nginx.is_some() {
        plan["variables"] = Value::Object(variables);
        plan["verify"] = json!([{ "name": "through-nginx",
            "health": { "http": "http://{{ vars.entry }}/health", "interval": "100ms", "successes": 2, "failures": 20 } }]);
    }
    let apply = json!({
        "lifecycles": [{ "name": "storefront", "environments": ENVIRONMENTS }],
        "services": [{ "name": "storefront", "owner": "payments", "criticality": "medium", "deploy": plan }],
    });
    let _: Answer<Value> = client.post("/apply", &apply).await?;
    println!("\n== rollouts, for real: storefront as sample-service processes on loopback ports");
    match nginx {
        Some(nginx) => {
            println!("   traffic through {nginx}, one unprivileged instance per environment (staging and prod)")
        }
        None => println!("   nginx is not installed: the demo's own load generator splits its requests by the weights"),
    }

    for (version, faulty) in [("2.0.0", false), ("2.1.0", false), ("2.2.0", true)] {
        prepare(client, author, key, version, faulty).await?;
        for (environment, route) in ENVIRONMENTS.iter().zip(&routes) {
            if *environment == "prod" {
                change_through_cab(author, board, version).await?;
            }
            let outcome = deploy(client, version, environment, route).await?;
            if outcome != "succeeded" {
                let answers = sample(route, 10).await?;
                println!("   traffic in {environment} after the rollback: {}", describe(&answers));
                break;
            }
        }
    }
    Ok(rollouts)
}

/// Pushes and signs the artifact, creates the release with its evidence and takes it to ready.
async fn prepare(
    client: &Client,
    author: &Client,
    key: &ed25519_dalek::SigningKey,
    version: &str,
    faulty: bool,
) -> anyhow::Result<()> {
    let pushed = push_signed(client, key, "storefront", version).await?;
    let artifact = ArtifactRefBody {
        service: "storefront".to_owned(),
        name: "storefront".to_owned(),
        version: version.to_owned(),
        digest: pushed.digest,
    };
    let mut request = release_request(version, vec![artifact]);
    request.lifecycle = "storefront".to_owned();
    let _: Answer<ReleaseResponse> = author.post("/releases", &request).await?;
    upload_evidence(client, version).await?;
    for action in ["plan", "freeze_scope", "mark_ready"] {
        let transition = TransitionRequest { action: action.to_owned(), reason: None };
        let _: Answer<ReleaseResponse> = client.post(&format!("/releases/{version}/transitions"), &transition).await?;
    }
    let fault = if faulty { " (with a fault injected: its /health answers 503)" } else { "" };
    println!("\n   release {version} of storefront{fault}: signed, evidence attached, ready");
    Ok(())
}

/// Starts the deployment of `version` into `environment`, samples the traffic while a canary
/// pauses, and waits for its end; returns the deployment's status.
async fn deploy(client: &Client, version: &str, environment: &str, route: &Route) -> anyhow::Result<String> {
    let request = EvaluateRequest {
        release: version.to_owned(),
        environment: environment.to_owned(),
        explain: false,
        dry_run: None,
    };
    let _: Answer<GateEvaluationResponse> = client.post("/gates/evaluate", &request).await?;
    let started: Answer<DeploymentRunResponse> =
        client.post("/deployments/start", &json!({ "release": version, "environment": environment })).await?;
    let id = started.value.deployment.id;
    let mut sampled = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let run = loop {
        let run: Answer<DeploymentRunResponse> = client.get(&format!("/deployments/{id}/run")).await?;
        let run = run.value;
        if run.run.state != "active" {
            break run;
        }
        let pausing = run.steps.iter().find(|step| step.name == "pause" && step.state == "running");
        if let Some(step) = pausing.filter(|step| !sampled.contains(&step.tier)) {
            sampled.push(step.tier.clone());
            // nginx's workers take the reloaded weights over gracefully: give them a moment.
            tokio::time::sleep(Duration::from_millis(800)).await;
            let answers = sample(route, 20).await?;
            let weight = step.tier.trim_start_matches("canary-");
            println!("   {environment} canary at {weight}%: 20 requests answered by {}", describe(&answers));
        }
        anyhow::ensure!(Instant::now() < deadline, "deployment {id} did not finish in two minutes");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let strategy = if run.steps.iter().any(|step| step.tier.starts_with("canary-")) {
        "canary"
    } else if environment == "staging" {
        "blue-green"
    } else {
        "a first rollout: all traffic at once"
    };
    let status = run.deployment.status.clone();
    let why = run.run.reason.unwrap_or_default();
    println!("   {version} to {environment} ({strategy}, deployment {id}): {why}");
    if status == "succeeded" {
        let answers = sample(route, 10).await?;
        println!("   {environment} now answers: {}", describe(&answers));
    }
    Ok(status)
}

/// `n` answers of `/` in the environment: through nginx, or spread by the last weights.
async fn sample(route: &Route, n: usize) -> anyhow::Result<Vec<String>> {
    let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(5)).build()?;
    let mut answers = Vec::with_capacity(n);
    for index in 0..n {
        let url = match route {
            Route::Nginx(port) => format!("http://127.0.0.1:{port}/"),
            Route::Weights(file) => format!("http://{}/", pick(file, index, n)?),
        };
        let answer = match http.get(&url).send().await {
            Ok(response) => response.text().await.unwrap_or_default().trim().to_owned(),
            Err(_) => "no answer".to_owned(),
        };
        answers.push(answer);
    }
    Ok(answers)
}

/// The address request `index` of `n` goes to, so that each target gets its share of the
/// weights the traffic provider wrote last.
fn pick(file: &Path, index: usize, n: usize) -> anyhow::Result<String> {
    let shift: Value = serde_json::from_str(&std::fs::read_to_string(file).context("reading the weights")?)?;
    let servers = shift["servers"].as_array().cloned().unwrap_or_default();
    let total: u64 = servers.iter().map(|server| server["weight"].as_u64().unwrap_or(0)).sum();
    let mut point = (index as u64 * total.max(1)) / n.max(1) as u64;
    for server in &servers {
        let weight = server["weight"].as_u64().unwrap_or(0);
        if point < weight {
            return Ok(server["address"].as_str().unwrap_or_default().to_owned());
        }
        point -= weight;
    }
    anyhow::bail!("no server takes traffic in {}", file.display())
}

/// `18 × storefront 2.0.0, 2 × storefront 2.1.0`, by answer.
fn describe(answers: &[String]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for answer in answers {
        match counts.iter_mut().find(|(seen, _)| seen == answer) {
            Some((_, count)) => *count += 1,
            None => counts.push((answer.clone(), 1)),
        }
    }
    counts.sort();
    counts.iter().map(|(answer, count)| format!("{count} × {answer}")).collect::<Vec<_>>().join(", ")
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free loopback port")?;
    Ok(listener.local_addr()?.port())
}

/// An nginx of the demo's own in `prefix`, on `port`, proxying to upstream `storefront`
/// (first to `first_port`).
fn start_nginx(binary: &str, prefix: &Path, port: u16, first_port: u16) -> anyhow::Result<Child> {
    std::fs::create_dir_all(prefix.join("tmp")).context("creating nginx's directory")?;
    std::fs::create_dir_all(prefix.join("logs")).context("creating nginx's directory")?;
    std::fs::write(
        prefix.join("upstream.conf"),
        format!("upstream storefront {{\n    server 127.0.0.1:{first_port};\n}}\n"),
    )?;
    let p = prefix.display();
    let conf = format!(
        "daemon off;\nmaster_process on;\nworker_processes 1;\npid {p}/nginx.pid;\nerror_log stderr warn;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {p}/tmp/body;\n  proxy_temp_path {p}/tmp/proxy;\n\
         fastcgi_temp_path {p}/tmp/fastcgi;\n  uwsgi_temp_path {p}/tmp/uwsgi;\n  scgi_temp_path {p}/tmp/scgi;\n\
         include {p}/upstream.conf;\n\
         server {{\n    listen 127.0.0.1:{port};\n    location / {{ proxy_pass http://storefront; }}\n  }}\n}}\n"
    );
    std::fs::write(prefix.join("nginx.conf"), conf)?;
    let child = Command::new(binary)
        .arg("-p")
        .arg(prefix)
        .arg("-c")
        .arg(prefix.join("nginx.conf"))
        .args(["-e", "stderr"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {binary}"))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        anyhow::ensure!(Instant::now() < deadline, "nginx did not listen on 127.0.0.1:{port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(child)
}
