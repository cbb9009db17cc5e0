//! Rollouts end to end: the real binary deploys `tollgate sample-service` processes on loopback
//! ports and moves traffic through a real nginx (Debian's, run unprivileged from a prefix in a
//! temporary directory, never the system's own), or through a `command` provider.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::deploy::{ready_site, wait_for_run};
use crate::{run, Server};

/// An nginx of its own: `-p DIR -c DIR/nginx.conf`, in the foreground, on a free loopback port,
/// proxying to upstream `site` from `DIR/upstream.conf`. Stopped on drop.
struct Nginx {
    child: Child,
    dir: PathBuf,
    port: u16,
}

fn nginx_binary() -> &'static str {
    let binary = "/usr/sbin/nginx";
    assert!(
        Path::new(binary).exists(),
        "{binary} is missing: the rollout tests need Debian's nginx (bash scripts/ensure-nginx.sh installs it)"
    );
    binary
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    listener.local_addr().expect("an address").port()
}

impl Nginx {
    fn start(dir: &Path, first_server: &str) -> Nginx {
        std::fs::create_dir_all(dir.join("tmp")).expect("created");
        std::fs::create_dir_all(dir.join("logs")).expect("created");
        let port = free_port();
        std::fs::write(dir.join("upstream.conf"), format!("upstream site {{\n    server {first_server};\n}}\n"))
            .expect("written");
        let d = dir.display();
        let conf = format!(
            "daemon off;\nmaster_process on;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log stderr warn;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/tmp/body;\n  proxy_temp_path {d}/tmp/proxy;\n\
               fastcgi_temp_path {d}/tmp/fastcgi;\n  uwsgi_temp_path {d}/tmp/uwsgi;\n  scgi_temp_path {d}/tmp/scgi;\n\
               include {d}/upstream.conf;\n\
               server {{\n    listen 127.0.0.1:{port};\n    location / {{ proxy_pass http://site; }}\n  }}\n}}\n"
        );
        std::fs::write(dir.join("nginx.conf"), conf).expect("written");
        let child = Command::new(nginx_binary())
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .args(["-e", "stderr"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx starts");
        let nginx = Nginx { child, dir: dir.to_owned(), port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nginx does not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        nginx
    }

    /// The bodies of `n` requests to `/` through nginx.
    fn answers(&self, n: usize) -> Vec<String> {
        (0..n).map(|_| get(self.port, "/")).collect()
    }

    /// Asks `n` requests at a time until their answers satisfy `expected` (at most 10 seconds):
    /// a reloaded nginx's old workers serve what they have for a moment before they exit.
    fn eventually(&self, n: usize, what: &str, expected: impl Fn(&[String]) -> bool) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let answers = self.answers(n);
            if expected(&answers) {
                return answers;
            }
            assert!(Instant::now() < deadline, "nginx never answered {what}: the last answers were {answers:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM lets nginx's master stop its workers; SIGKILL would leave them running.
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(self.dir.join("nginx.pid"));
    }
}

/// `GET path` on a loopback port with a bare HTTP/1.0 request: the status line's code and the
/// body, `"502 …"` style, or `"refused"`.
fn get(port: u16, path: &str) -> String {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return "refused".to_owned() };
    stream.set_read_timeout(Some(Duration::from_secs(5))).expect("a timeout");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").expect("written");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response.split(' ').nth(1).unwrap_or("?").to_owned();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").trim().to_owned();
    format!("{status} {body}")
}

/// Kills the sample services whose pid files are in `dir` when dropped.
struct Processes(PathBuf);

impl Drop for Processes {
    fn drop(&mut self) {
        for entry in std::fs::read_dir(&self.0).into_iter().flatten().flatten() {
            if entry.path().extension().is_some_and(|extension| extension == "pid") {
                if let Ok(pid) = std::fs::read_to_string(entry.path()) {
                    let _ = Command::new("kill").arg(pid.trim()).status();
                }
            }
        }
    }
}

/// Asks for the run of `id` until `ready` says so of it (at most 60 seconds).
fn wait_until(server: &Server, id: &str, what: &str, ready: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let shown = run(server.cli().args(["deployment", "steps", id, "--output", "json"])).success();
        let run: serde_json::Value = serde_json::from_str(&shown.stdout).expect("a run as JSON");
        if ready(&run) {
            return run;
        }
        assert!(Instant::now() < deadline, "waited in vain for {what}: {run:#}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `tier/name@target state` for each step.
fn steps(run: &serde_json::Value) -> Vec<String> {
    run["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|step| {
            let target = step["target"].as_str().map(|target| format!("@{target}")).unwrap_or_default();
            format!("{} {}/{}{target} {}", step["phase"], step["tier"], step["name"], step["state"]).replace('"', "")
        })
        .collect()
}

fn traffic(server: &Server) -> Vec<String> {
    let shown = run(server.cli().args(["register", "--env", "staging", "--output", "json"])).success();
    let register: serde_json::Value = serde_json::from_str(&shown.stdout).expect("JSON");
    let splits = register["environments"][0]["traffic"].as_array().cloned().unwrap_or_default();
    splits
        .iter()
        .flat_map(|split| split["shares"].as_array().cloned().unwrap_or_default())
        .map(|share| {
            let version = share["release_version"].as_str().unwrap_or("nothing");
            format!("{} {}% {version}", share["group"].as_str().unwrap_or("?"), share["weight"])
        })
        .collect()
}

/// A tollgate.yaml with one environment, staging, and one service, site, whose `deploy` key
/// follows (indented by six spaces).
const STAGING_SITE: &str = r#"teams:
  - name: web
environments:
  - name: staging
    tier: staging
lifecycles:
  - name: default
    environments: [staging]
services:
  - name: site
    owner: web
    deploy:"#;

const CANARY_PLAN: &str = r#"
      strategy: { canary: { weights: [50, 100], pause: 1h } }
      traffic:
        nginx: { upstream: site, file: "@NGINX@/upstream.conf", prefix: "@NGINX@", conf: "@NGINX@/nginx.conf", binary: /usr/sbin/nginx }
      targets:
        - { name: blue-1, environment: staging, address: "127.0.0.1:@BLUE@", group: blue }
        - { name: green-1, environment: staging, address: "127.0.0.1:@GREEN@", group: green }
      tiers:
        - name: app
          steps:
            - name: start
              per_target: true
              exec:
                - sh
                - -c
                - >-
                  pid=@BASE@/{{ target.name }}.pid;
                  if [ -f $pid ]; then kill $(cat $pid); rm -f $pid; sleep 0.3; fi;
                  setsid @BIN@ sample-service --listen {{ target.address }} --version {{ release.version }}
                  --name {{ target.name }} --pid-file $pid
                  {% if release.version == "3.0.0" %}--unhealthy{% endif %}
                  > @BASE@/{{ target.name }}.log 2>&1 < /dev/null &
            - name: ready
              per_target: true
              health: { http: "http://{{ target.address }}/health", interval: 100ms, successes: 1, failures: 20 }
      verify:
        - name: through-nginx
          health: { http: "http://127.0.0.1:@PORT@/", interval: 100ms, successes: 3, failures: 20 }
      rollback:
        - name: stop
          per_target: true
          exec: ["sh", "-c", "kill $(cat @BASE@/{{ target.name }}.pid) && rm @BASE@/{{ target.name }}.pid"]
"#;

/// Writes `base/tollgate.yaml`: staging's site deployed by `plan`, its placeholders filled in.
fn write_canary_plan(base: &Path, plan: &str, nginx: &Nginx, blue: u16, green: u16) {
    let yaml = format!("{STAGING_SITE}{plan}")
        .replace("@NGINX@", &base.join("nginx").display().to_string())
        .replace("@BASE@", &base.display().to_string())
        .replace("@BIN@", env!("CARGO_BIN_EXE_tollgate"))
        .replace("@BLUE@", &blue.to_string())
        .replace("@GREEN@", &green.to_string())
        .replace("@PORT@", &nginx.port.to_string());
    std::fs::write(base.join("tollgate.yaml"), yaml).expect("written");
}

#[test]
fn a_canary_through_nginx_splits_traffic_is_promoted_and_a_faulty_release_is_rolled_back() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let base = dir.path();
    let _processes = Processes(base.to_owned());
    let (blue, green) = (free_port(), free_port());
    let nginx = Nginx::start(&base.join("nginx"), &format!("127.0.0.1:{blue}"));
    write_canary_plan(base, CANARY_PLAN, &nginx, blue, green);
    let server = Server::start_with(base, &["--segregation-author-may-ship"]);
    run(server.cli().args(["apply", "-f", "tollgate.yaml"])).success();

    // A first deployment has nothing to compare with: blue gets all of the traffic at once.
    ready_site(&server, base, "1.0.0", "minor");
    run(server.cli().args(["deploy", "--release", "1.0.0", "--env", "staging"])).success();
    nginx.eventually(6, "blue only", |answers| answers.iter().all(|answer| answer == "200 blue-1 1.0.0"));
    assert_eq!(traffic(&server), ["blue 100% 1.0.0", "green 0% nothing"]);
    let upstream = std::fs::read_to_string(base.join("nginx/upstream.conf")).expect("read");
    assert!(upstream.contains(&format!("server 127.0.0.1:{green} down; # green-1")), "{upstream}");

    // The second goes to green and holds at 50% (its pause is an hour): the register and nginx
    // both show the two versions.
    ready_site(&server, base, "2.0.0", "minor");
    let started =
        run(server.cli().args(["deployment", "start", "--release", "2.0.0", "--env", "staging", "--output", "json"]))
            .success();
    let started: serde_json::Value = serde_json::from_str(&started.stdout).expect("JSON");
    let id = started["deployment"]["id"].to_string();
    wait_until(&server, &id, "the canary's pause at 50%", |run| {
        steps(run).contains(&"deploy canary-50/pause running".to_owned())
    });
    assert_eq!(traffic(&server), ["green 50% 2.0.0", "blue 50% 1.0.0"]);
    nginx.eventually(20, "both versions", |answers| {
        ["200 blue-1 1.0.0", "200 green-1 2.0.0"].iter().all(|expected| answers.iter().any(|answer| answer == expected))
    });
    let shown = run(server.cli().args(["register", "--env", "staging"])).success();
    assert!(shown.stdout.contains("staging site: blue 50% (1.0.0), green 50% (2.0.0)"), "{}", shown.stdout);

    // Promoting skips the pause and its verification, and moves all of the traffic to green.
    run(server.cli().args(["deployment", "promote", &id, "--reason", "error rate flat"])).success();
    let finished = wait_for_run(&server, &id);
    assert_eq!(
        steps(&finished),
        [
            "deploy app/start@green-1 succeeded",
            "deploy app/ready@green-1 succeeded",
            "deploy canary-50/shift succeeded",
            "deploy canary-50/pause skipped",
            "deploy canary-50/through-nginx skipped",
            "deploy canary-100/shift succeeded",
            "deploy canary-100/through-nginx succeeded",
            "rollback rollback/switch-back pending",
            "rollback rollback/stop@green-1 pending",
        ]
    );
    nginx.eventually(6, "green only", |answers| answers.iter().all(|answer| answer == "200 green-1 2.0.0"));
    assert_eq!(traffic(&server), ["green 100% 2.0.0", "blue 0% 1.0.0"]);
    let promoting_twice = run(server.cli().args(["deployment", "promote", &id])).failure();
    assert!(promoting_twice.stderr.contains("run_not_waiting"), "{}", promoting_twice.stderr);

    // A faulty release goes to blue, fails its health check there, and is rolled back: traffic
    // stays with green, and blue is torn down.
    ready_site(&server, base, "3.0.0", "minor");
    let failed = run(server.cli().args(["deploy", "--release", "3.0.0", "--env", "staging"])).failure();
    let last = failed.stdout.lines().last().unwrap_or_default().to_owned();
    assert!(last.contains(" rolled_back: step site/app/ready@blue-1 failed: "), "{}", failed.stdout);
    nginx.eventually(6, "green only", |answers| answers.iter().all(|answer| answer == "200 green-1 2.0.0"));
    assert_eq!(get(blue, "/health"), "refused", "blue is torn down");
    assert_eq!(traffic(&server), ["blue 0% nothing", "green 100% 2.0.0"]);
    let verified = run(server.cli().args(["audit", "verify"])).success();
    assert!(verified.stdout.starts_with("ok"), "{}", verified.stdout);
}

#[test]
fn a_configuration_nginx_refuses_fails_the_shift_and_leaves_the_running_one_alone() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let base = dir.path();
    let _processes = Processes(base.to_owned());
    let (blue, green) = (free_port(), free_port());
    let nginx = Nginx::start(&base.join("nginx"), &format!("127.0.0.1:{blue}"));
    // The upstream's name clashes with one the configuration already has: `nginx -t` refuses.
    let conf = std::fs::read_to_string(base.join("nginx/nginx.conf")).expect("read");
    let clash = conf.replace("include", "upstream taken { server 127.0.0.1:1; }\n  include");
    std::fs::write(base.join("nginx/nginx.conf"), clash).expect("written");
    write_canary_plan(base, &CANARY_PLAN.replace("upstream: site,", "upstream: taken,"), &nginx, blue, green);
    let before = std::fs::read_to_string(base.join("nginx/upstream.conf")).expect("read");
    let server = Server::start_with(base, &["--segregation-author-may-ship"]);
    run(server.cli().args(["apply", "-f", "tollgate.yaml"])).success();
    ready_site(&server, base, "1.0.0", "minor");
    let failed = run(server.cli().args(["deploy", "--release", "1.0.0", "--env", "staging"])).failure();
    assert!(failed.stdout.contains("nginx -t refused the new upstream"), "{}", failed.stdout);
    assert!(failed.stdout.contains("duplicate upstream \"taken\""), "{}", failed.stdout);
    assert_eq!(std::fs::read_to_string(base.join("nginx/upstream.conf")).expect("read"), before);
    assert_eq!(traffic(&server), Vec::<String>::new(), "no split is recorded for a shift that failed");
}

#[test]
fn a_rolling_update_takes_each_batch_out_of_traffic_through_a_command_provider() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let base = dir.path();
    let plan = r#"
      strategy: { rolling: { batch: 2 } }
      traffic: { command: ["sh", "-c", "cat >> @BASE@/shifts; echo >> @BASE@/shifts"] }
      targets:
        - { name: web-1, environment: staging, address: "127.0.0.1:9001" }
        - { name: web-2, environment: staging, address: "127.0.0.1:9002" }
        - { name: web-3, environment: staging, address: "127.0.0.1:9003" }
      tiers:
        - name: app
          steps:
            - name: install
              per_target: true
              exec: ["sh", "-c", "echo {{ target.name }} {{ target.port }} {{ release.version }} >> @BASE@/journal"]
"#;
    let yaml = format!("{STAGING_SITE}{plan}").replace("@BASE@", &base.display().to_string());
    std::fs::write(base.join("tollgate.yaml"), yaml).expect("written");
    let server = Server::start_with(base, &["--segregation-author-may-ship"]);
    run(server.cli().args(["apply", "-f", "tollgate.yaml"])).success();
    ready_site(&server, base, "1.0.0", "minor");
    run(server.cli().args(["deploy", "--release", "1.0.0", "--env", "staging"])).success();
    assert_eq!(
        std::fs::read_to_string(base.join("journal")).expect("read"),
        "web-1 9001 1.0.0\nweb-2 9002 1.0.0\nweb-3 9003 1.0.0\n"
    );
    let shifts: Vec<String> = std::fs::read_to_string(base.join("shifts"))
        .expect("read")
        .lines()
        .map(|line| {
            let shift: serde_json::Value = serde_json::from_str(line).expect("a shift as JSON");
            let servers = shift["servers"].as_array().expect("servers");
            servers
                .iter()
                .map(|server| format!("{}={}", server["target"].as_str().unwrap_or("?"), server["weight"]))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert_eq!(
        shifts,
        ["web-1=0 web-2=0 web-3=1", "web-1=1 web-2=1 web-3=1", "web-1=1 web-2=1 web-3=0", "web-1=1 web-2=1 web-3=1",]
    );
}
