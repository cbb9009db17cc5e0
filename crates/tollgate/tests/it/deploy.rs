//! Deployments carried out by the server's engine, end to end: the real binary, real step
//! processes, `kill -9` of the server mid-step and a restart on the same data.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::{run, Server};

/// Pushes the artifact of site `version` (its content written to `site.tar` first), creates
/// release `version` of `release_type` with it, and takes it to ready.
pub(crate) fn ready_site(server: &Server, base: &Path, version: &str, release_type: &str) {
    let content = format!("site {version}\n");
    std::fs::write(base.join("site.tar"), &content).expect("written");
    run(server.cli().args(["artifact", "push", "site.tar", "--name", "site", "--version", version, "--team", "web"]))
        .success();
    let digest = tollgate_core::digest::Sha256Digest::of(content.as_bytes()).to_string();
    run(server
        .cli()
        .args(["release", "create", "--version", version, "--type", release_type])
        .args(["--artifact", &format!("site=site@{version}@{digest}")]))
    .success();
    for verb in ["plan", "freeze", "ready"] {
        run(server.cli().args(["release", verb, version])).success();
    }
}

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
pub(crate) fn wait_for_run(server: &Server, id: &str) -> serde_json::Value {
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
    let flags = ["--segregation-author-may-ship", "--claim-ttl", "3"];
    let mut server = Server::start_with(base, &flags);
    run(server.cli().args(["apply", "-f", "tollgate.yaml"])).success();
    ready_site(&server, base, "1.0.0", "minor");
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

    // The same lines as Server-Sent Events, then the end; from a cursor, only what follows it.
    let stream = |query: &str| {
        let url = format!("{}/api/v1/deployments/{id}/logs/stream{query}", server.url);
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        runtime.block_on(async {
            let response = reqwest::Client::new().get(url).bearer_auth(&server.token).send().await.expect("an answer");
            assert_eq!(response.status(), 200);
            let content_type = response.headers()["content-type"].to_str().expect("text").to_owned();
            assert_eq!(content_type, "text/event-stream");
            response.text().await.expect("the stream ends once the run has")
        })
    };
    let events = stream("");
    let lines = events.lines().filter(|line| line.starts_with("event: line")).count();
    assert!(lines >= 3, "{events}");
    assert!(events.contains("switched to 1.0.0"), "{events}");
    assert!(events.trim_end().ends_with(r#"data: {"run":"finished","status":"succeeded"}"#), "{events}");
    let first_id = events.lines().find_map(|line| line.strip_prefix("id: ")).expect("an event id");
    // Pages of the stored lines: a limit from the query string, refused out of range.
    let page = |query: &str| {
        let url = format!("{}/api/v1/deployments/{id}/logs{query}", server.url);
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        runtime.block_on(async {
            let response = reqwest::Client::new().get(url).bearer_auth(&server.token).send().await.expect("an answer");
            (response.status().as_u16(), response.json::<serde_json::Value>().await.expect("JSON"))
        })
    };
    let (status, one) = page("?limit=1");
    assert_eq!((status, one["items"].as_array().map(Vec::len)), (200, Some(1)), "{one}");
    let (status, refused) = page("?limit=0");
    assert_eq!((status, refused["code"].as_str()), (400, Some("invalid_query")), "{refused}");
    let rest = stream(&format!("?after={first_id}"));
    assert_eq!(rest.lines().filter(|line| line.starts_with("event: line")).count(), lines - 1, "{rest}");

    // `tollgate deploy` starts the next release and follows it to its end.
    ready_site(&server, base, "1.0.1", "patch");
    let deployed = run(server.cli().args(["deploy", "--release", "1.0.1", "--env", "dev"])).success();
    let printed: Vec<&str> = deployed.stdout.lines().collect();
    assert!(printed[0].ends_with(": 1.0.1 to dev, 2 steps"), "{}", deployed.stdout);
    assert!(printed.contains(&"[step 1] switched to 1.0.1"), "{}", deployed.stdout);
    assert!(printed.contains(&"step 1 site/app/switch succeeded: exit status 0"), "{}", deployed.stdout);
    let last = printed.last().copied().unwrap_or_default();
    assert!(last.ends_with(" succeeded: every step of its run succeeded"), "{}", deployed.stdout);
    assert!(!last.contains("succeeded: succeeded"), "the status is said once: {}", deployed.stdout);
    // A release that went through every environment of its lifecycle cannot be deployed again.
    let refused = run(server.cli().args(["deploy", "--release", "1.0.1", "--env", "dev"])).failure();
    assert!(refused.stderr.contains("deployment_refused"), "{}", refused.stderr);

    // But an operator rolls dev back to it, or to any earlier release of dev's history, with a reason.
    let no_reason = run(server.cli().args(["deployment", "rollback", "--to", "1.0.0", "--env", "dev"])).failure();
    assert!(no_reason.stderr.contains("--reason is required"), "{}", no_reason.stderr);
    let rolled = run(server.cli().args(["deployment", "rollback", "--to", "1.0.0", "--env", "dev"]).args([
        "--reason",
        "1.0.1 breaks sign-in",
        "--wait",
    ]))
    .success();
    let printed: Vec<&str> = rolled.stdout.lines().collect();
    assert!(printed[0].ends_with(": rolling dev back to 1.0.0, 2 steps"), "{}", rolled.stdout);
    assert!(printed.contains(&"[step 1] switched to 1.0.0"), "{}", rolled.stdout);
    let register = run(server.cli().args(["register", "--env", "dev", "--output", "json"])).success();
    let register: serde_json::Value = serde_json::from_str(&register.stdout).expect("JSON");
    assert_eq!(register["environments"][0]["services"][0]["release_version"], "1.0.0", "{register:#}");
    let listed = run(server.cli().args(["deployment", "list", "--env", "dev", "--output", "json"])).success();
    assert!(listed.stdout.contains(r#""rollback_cause": "1.0.1 breaks sign-in""#), "{}", listed.stdout);
}

/// The process id in a worker's name (`worker-PID-…`).
fn worker_pid(run: &serde_json::Value) -> Option<u32> {
    run["run"]["worker"].as_str()?.strip_prefix("worker-")?.split('-').next()?.parse().ok()
}

/// Waits until the run of `id` is held by a worker of one of `servers`, and returns its index.
fn holder(servers: &[&Server], id: &str) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let shown = run(servers[0].cli().args(["deployment", "steps", id, "--output", "json"])).success();
        let run: serde_json::Value = serde_json::from_str(&shown.stdout).expect("a run as JSON");
        if let Some(index) = worker_pid(&run).and_then(|pid| servers.iter().position(|server| server.pid() == pid)) {
            return index;
        }
        assert!(Instant::now() < deadline, "no replica holds the run: {run:#}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn count_starts(path: &Path) -> usize {
    std::fs::read_to_string(path).map(|text| text.lines().filter(|line| line.starts_with("start")).count()).unwrap_or(0)
}

#[test]
fn two_replicas_on_postgres_take_over_from_a_stopped_and_a_killed_one_and_never_run_a_step_twice_at_once() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let Some(db) = runtime.block_on(tollgate_testkit::TestDb::postgres()) else {
        return; // PostgreSQL is not configured here; in CI it is, and this test runs.
    };
    let url = match db.config() {
        tollgate_store::DatabaseConfig::Postgres { url } => url.clone(),
        _ => unreachable!("a PostgreSQL test database"),
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let base = dir.path();
    // Both replicas share the data directory (the artifact store and the audit signing key, as
    // on a shared volume) and the database.
    let dir_a = base.join("shared");
    std::fs::create_dir_all(&dir_a).expect("created");
    // Each run of a step first checks that no earlier run of a step is still alive, then says
    // when it started; a run a worker lost must be dead before another worker starts one.
    let step = |name: &str| {
        format!(
            r#"            - name: {name}
              exec: ["sh", "-c", "for p in $(sed -n 's/^start //p' {log}); do kill -0 $p 2>/dev/null && echo \"$p alive\" >> {overlap}; done; echo \"start $$\" >> {log}; sleep 4"]
              idempotent: true
"#,
            log = base.join("runs.log").display(),
            overlap = base.join("overlap.log").display(),
        )
    };
    let yaml = format!(
        "teams:\n  - name: web\nenvironments:\n  - name: dev\n    tier: dev\nlifecycles:\n  - name: default\n    environments: [dev]\n\
         services:\n  - name: site\n    owner: web\n    deploy:\n      tiers:\n        - name: app\n          steps:\n{}{}",
        step("first"),
        step("second")
    );
    std::fs::write(dir_a.join("tollgate.yaml"), yaml).expect("written");
    std::fs::write(dir_a.join("site.tar"), b"site 1.0.0\n").expect("written");
    let flags = ["--database-url", &url, "--segregation-author-may-ship", "--claim-ttl", "3"];
    let replica_a = Server::start_with(&dir_a, &flags);
    let replica_b = Server::restart(&dir_a, &replica_a.token, &flags);
    run(replica_a.cli().args(["apply", "-f", "tollgate.yaml"])).success();
    run(replica_a.cli().args([
        "artifact",
        "push",
        "site.tar",
        "--name",
        "site",
        "--version",
        "1.0.0",
        "--team",
        "web",
    ]))
    .success();
    let digest = tollgate_core::digest::Sha256Digest::of(b"site 1.0.0\n").to_string();
    run(replica_a
        .cli()
        .args(["release", "create", "--version", "1.0.0", "--type", "minor"])
        .args(["--artifact", &format!("site=site@1.0.0@{digest}")]))
    .success();
    for verb in ["plan", "freeze", "ready"] {
        run(replica_a.cli().args(["release", verb, "1.0.0"])).success();
    }
    let started =
        run(replica_b.cli().args(["deployment", "start", "--release", "1.0.0", "--env", "dev", "--output", "json"]))
            .success();
    let started: serde_json::Value = serde_json::from_str(&started.stdout).expect("a run as JSON");
    let id = started["deployment"]["id"].to_string();
    let runs = base.join("runs.log");
    let mut replicas = [replica_a, replica_b];

    // The replica running the first step is stopped (SIGSTOP) mid-step: the other takes the run
    // over once the claim lapses and runs the step again; the stopped one, woken, writes nothing.
    wait_for_lines(&runs, 1);
    let stopped = holder(&[&replicas[0], &replicas[1]], &id);
    replicas[stopped].signal("STOP");
    let deadline = Instant::now() + Duration::from_secs(30);
    while count_starts(&runs) < 2 {
        assert!(Instant::now() < deadline, "the other replica did not take the run over");
        std::thread::sleep(Duration::from_millis(50));
    }
    replicas[stopped].signal("CONT");

    // The replica running the second step is killed (-9) mid-step: the survivor takes over.
    while count_starts(&runs) < 3 {
        assert!(Instant::now() < deadline + Duration::from_secs(30), "the second step did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let killed = holder(&[&replicas[0], &replicas[1]], &id);
    replicas[killed].kill();
    let survivor = &replicas[1 - killed];
    let done = wait_for_run(survivor, &id);
    assert_eq!(done["deployment"]["status"], "succeeded", "{done:#}");
    assert_eq!(states(&done), ["first succeeded 2", "second succeeded 2"]);
    assert!(
        !base.join("overlap.log").exists(),
        "a step ran on both replicas at once: {:?}",
        std::fs::read_to_string(base.join("overlap.log"))
    );
    assert_eq!(count_starts(&runs), 4);
    // Each step finished once in the log: the stopped replica's late report was refused.
    let finishes =
        run(survivor.cli().args(["audit", "search", "--action", "deployment_step.finish", "--output", "json"]))
            .success();
    let finishes: serde_json::Value = serde_json::from_str(&finishes.stdout).expect("entries as JSON");
    assert_eq!(finishes["items"].as_array().map(Vec::len), Some(2), "{finishes:#}");
    let verified = run(survivor.cli().args(["audit", "verify"])).success();
    assert!(verified.stdout.starts_with("ok"), "{}", verified.stdout);
    drop(replicas);
    drop(db);
}

#[test]
fn a_failing_health_check_rolls_the_deployment_back_and_quarantines_until_lifted() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let base = dir.path();
    // Nothing listens on the probed port: the health check fails at its first probe.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let port = closed.local_addr().expect("an address").port();
    drop(closed);
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
            - name: start
              exec: ["sh", "-c", "echo started {{{{ release.version }}}} >> {base}/journal"]
            - name: check
              health: {{ tcp: "127.0.0.1:{port}", interval: 50ms, failures: 2 }}
      rollback:
        - name: restore
          exec: ["sh", "-c", "echo restored >> {base}/journal"]
      on_failure: {{ quarantine: always }}
"#,
        base = base.display()
    );
    std::fs::write(base.join("tollgate.yaml"), yaml).expect("written");
    let server = Server::start_with(base, &["--segregation-author-may-ship"]);
    run(server.cli().args(["apply", "-f", "tollgate.yaml"])).success();
    ready_site(&server, base, "1.0.0", "minor");

    let deployed = run(server.cli().args(["deploy", "--release", "1.0.0", "--env", "dev"])).failure();
    let printed: Vec<&str> = deployed.stdout.lines().collect();
    assert!(printed[0].ends_with(": 1.0.0 to dev, 2 steps (and 1 rollback step)"), "{}", deployed.stdout);
    let failed = format!("step 1 site/app/check failed: tcp 127.0.0.1:{port} unhealthy: 2 probes in a row failed");
    assert!(printed.iter().any(|line| line.starts_with(&failed)), "{}", deployed.stdout);
    assert!(printed.contains(&"rollback step 2 site/rollback/restore succeeded: exit status 0"), "{}", deployed.stdout);
    let last = printed.last().copied().unwrap_or_default();
    assert!(last.contains(" rolled_back: step site/app/check failed: "), "{}", deployed.stdout);
    assert!(last.ends_with("; its rollback succeeded"), "{}", deployed.stdout);
    assert_eq!(std::fs::read_to_string(base.join("journal")).expect("read"), "started 1.0.0\nrestored\n");

    // `quarantine: always`: the environment takes no deployment until someone lifts it.
    let listed = run(server.cli().args(["quarantine", "list", "--output", "json"])).success();
    let listed: serde_json::Value = serde_json::from_str(&listed.stdout).expect("JSON");
    assert_eq!(listed["items"][0]["environment"], "dev", "{listed:#}");
    let checked = run(server.cli().args(["deployment", "check", "--release", "1.0.0", "--env", "dev"])).failure();
    assert!(checked.stdout.contains("dev is quarantined since"), "{}", checked.stdout);
    let refused = run(server.cli().args(["deploy", "--release", "1.0.0", "--env", "dev"])).failure();
    assert!(refused.stderr.contains("deployment_refused"), "{}", refused.stderr);
    let no_reason = run(server.cli().args(["quarantine", "lift", "--env", "dev", "--reason", " "])).failure();
    assert!(no_reason.stderr.contains("reason"), "{}", no_reason.stderr);
    let lifted = run(server.cli().args(["quarantine", "lift", "--env", "dev", "--reason", "probe fixed"])).success();
    assert!(lifted.stdout.contains("environment"), "{}", lifted.stdout);
    run(server.cli().args(["deployment", "check", "--release", "1.0.0", "--env", "dev"])).success();
    let verified = run(server.cli().args(["audit", "verify"])).success();
    assert!(verified.stdout.starts_with("ok"), "{}", verified.stdout);
}

#[test]
fn a_second_deployment_to_a_locked_environment_is_refused_or_waits_for_the_lock() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let base = dir.path();
    let yaml = r#"teams:
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
            - { name: begin, exec: ["sh", "-c", "echo begin {{ deployment.id }} >> @BASE@/journal"] }
            - { name: hold, wait: 2s }
            - { name: end, exec: ["sh", "-c", "echo end {{ deployment.id }} >> @BASE@/journal"] }
"#
    .replace("@BASE@", &base.display().to_string());
    std::fs::write(base.join("tollgate.yaml"), yaml).expect("written");
    let server = Server::start_with(base, &["--segregation-author-may-ship"]);
    run(server.cli().args(["apply", "-f", "tollgate.yaml"])).success();
    ready_site(&server, base, "1.0.0", "minor");
    ready_site(&server, base, "1.1.0", "minor");
    run(server.cli().args(["deployment", "start", "--release", "1.0.0", "--env", "dev"])).success();

    // Without waiting, the second is refused with the lock as its reason, and nothing is written.
    let refused = run(server.cli().args(["deploy", "--release", "1.1.0", "--env", "dev"])).failure();
    assert!(refused.stderr.contains("lock: site in dev is locked by deployment 1"), "{}", refused.stderr);
    // Waiting, it starts once the first has finished, and the two never interleave.
    let waited =
        run(server.cli().args(["deploy", "--release", "1.1.0", "--env", "dev", "--wait-for-lock", "30s"])).success();
    assert!(
        waited.stderr.contains("waiting for the lock: lock: site in dev is locked by deployment 1"),
        "{}",
        waited.stderr
    );
    assert_eq!(std::fs::read_to_string(base.join("journal")).expect("read"), "begin 1\nend 1\nbegin 2\nend 2\n");
    // A refusal for another reason is not waited on.
    let unknown =
        run(server.cli().args(["deploy", "--release", "9.9.9", "--env", "dev", "--wait-for-lock", "30s"])).failure();
    assert!(!unknown.stderr.contains("waiting"), "{}", unknown.stderr);
}
