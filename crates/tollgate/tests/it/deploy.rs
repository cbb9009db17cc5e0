//! Deployments carried out by the server's engine, end to end: the real binary, real step
//! processes, `kill -9` of the server mid-step and a restart on the same data.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::{run, Server};

/// Waits until `path` holds `n` lines, for at most 30 seconds.
fn wait_for_lines(path: &Path, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = std::fs::read_to_string(path).map(|text| text.lines().count()).unwrap_or(0);
        if found >= n {
            return;
        }
        assert!(Instant::now() < deadline, "{} has {found} lines, not {n}", path.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Asks the server for the run of `id` until it is no longer active (at most 60 seconds).
fn wait_for_run(server: &Server, id: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let shown = run(server.cli().args(["deployment", "steps", id, "--output", "json"])).success();
        let run: serde_json::Value = serde_json::from_str(&shown.stdout).expect("a run as JSON");
        if run["run"]["state"] != "active" {
            return run;
        }
        assert!(Instant::now() < deadline, "the run is still active: {run:#}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn states(run: &serde_json::Value) -> Vec<String> {
    let steps = run["steps"].as_array().expect("steps");
    steps
        .iter()
        .map(|step| format!("{} {} {}", step["name"], step["state"], step["attempts"]).replace('"', ""))
        .collect()
}

#[test]
fn a_server_killed_mid_deployment_resumes_it_after_a_restart() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let base = dir.path();
    let yaml = format!(
        r#"teams:
  - name: web
environments:
  - name: dev
    tier: dev
lifecycles:
  - name: default
    environments: [dev]
services:
  - name: site
    owner: web
    deploy:
      tiers:
        - name: app
          steps:
            - name: build
              exec: ["sh", "-c", "echo run >> {base}/build.log; sleep 2"]
              idempotent: true
            - name: switch
              exec: ["sh", "-c", "echo run >> {base}/switch.log; sleep 2; echo switched to {{{{ release.version }}}}"]
"#,
        base = base.display()
    );
    std::fs::write(base.join("tollgate.yaml"), yaml).expect("written");
    std::fs::write(base.join("site.tar"), b"site 1.0.0\n").expect("written");
    let flags = ["--segregation-author-may-ship", "--claim-ttl", "3"];
    let mut server = Server::start_with(base, &flags);
    run(server.cli().args(["apply", "-f", "tollgate.yaml"])).success();
    run(server.cli().args(["artifact", "push", "site.tar", "--name", "site", "--version", "1.0.0", "--team", "web"]))
        .success();
    let digest = tollgate_core::digest::Sha256Digest::of(b"site 1.0.0\n").to_string();
    run(server
        .cli()
        .args(["release", "create", "--version", "1.0.0", "--type", "minor"])
        .args(["--artifact", &format!("site=site@1.0.0@{digest}")]))
    .success();
    for verb in ["plan", "freeze", "ready"] {
        run(server.cli().args(["release", verb, "1.0.0"])).success();
    }
    let started =
        run(server.cli().args(["deployment", "start", "--release", "1.0.0", "--env", "dev", "--output", "json"]))
            .success();
    let started: serde_json::Value = serde_json::from_str(&started.stdout).expect("a run as JSON");
    let id = started["deployment"]["id"].to_string();

    // Killed in the idempotent step: after a restart it runs again and the run goes on.
    wait_for_lines(&base.join("build.log"), 1);
    server.kill();
    let server = Server::restart(base, &server.token, &flags);
    // Killed again in the second step, which is not idempotent: the run waits for an operator.
    wait_for_lines(&base.join("switch.log"), 1);
    let mut server = server;
    server.kill();
    let server = Server::restart(base, &server.token, &flags);
    let waiting = wait_for_run(&server, &id);
    assert_eq!(waiting["run"]["state"], "needs_operator", "{waiting:#}");
    assert_eq!(states(&waiting), ["build succeeded 2", "switch running 1"]);
    let reason = waiting["run"]["reason"].as_str().expect("a reason");
    assert!(reason.starts_with("step site/app/switch was running when its worker stopped"), "{reason}");
    assert_eq!(std::fs::read_to_string(base.join("build.log")).expect("read"), "run\nrun\n");

    // The operator resumes: the step runs again and the deployment succeeds.
    run(server.cli().args(["deployment", "resume", &id, "--reason", "checked the switch did not happen"])).success();
    let done = wait_for_run(&server, &id);
    assert_eq!(done["deployment"]["status"], "succeeded", "{done:#}");
    assert_eq!(states(&done), ["build succeeded 2", "switch succeeded 2"]);
    let logs = run(server.cli().args(["deployment", "logs", &id])).success();
    assert!(logs.stdout.contains("[step 1] switched to 1.0.0"), "{}", logs.stdout);
    assert!(logs.stdout.contains("runs the step again: it was running when its worker stopped"), "{}", logs.stdout);
    let register = run(server.cli().args(["register", "--env", "dev", "--output", "json"])).success();
    assert!(register.stdout.contains("\"1.0.0\""), "{}", register.stdout);
    let verified = run(server.cli().args(["audit", "verify"])).success();
    assert!(verified.stdout.starts_with("ok"), "{}", verified.stdout);
}
