//! Web UI benchmark: time per page, p50 and p99, signed in as the admin, on two data sets:
//!
//! - the demo: the real binary (`tollgate demo`), whose address and admin password are read
//!   from its output;
//! - a large installation on SQLite: 10,000 releases, 100 services, 10 environments, 5,000
//!   deployments and 1,000,000 audit entries, written straight through the store (in large
//!   transactions) and served by the real router in this process.
//!
//! Each page is requested `N_WARMUP` times, then `N_REQUESTS` times one after another over one
//! keep-alive loopback connection; the time is from sending the request to the last byte of
//! the body, so it includes the loopback round trip (tens of microseconds). Target: p99 under
//! 50 ms on every page.
//!
//! Run with `cargo bench -p tollgate --bench pages`; `TOLLGATE_BENCH_SECTIONS=demo` or `large`
//! runs one data set.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use serde_json::json;
use tollgate_core::audit::{Actor, AuditAction, AuditRecord, ObjectKind, ObjectRef};
use tollgate_core::deployment::{DeploymentStatus, DeploymentTimes, Promotion};
use tollgate_core::digest::Sha256Digest;
use tollgate_core::name::{EnvironmentName, UserName};
use tollgate_core::release::ReleaseInput;
use tollgate_core::Timestamp;
use tollgate_service::session::Password;
use tollgate_store::tx::NewDeployment;
use tollgate_testkit::{spawn_app_on, SpawnedApp, TestApp, TestDb};

const N_WARMUP: usize = 5;
const N_REQUESTS: usize = 200;
const TARGET_P99: Duration = Duration::from_millis(50);

const N_RELEASES: usize = 10_000;
const N_SERVICES: usize = 100;
const N_ENVIRONMENTS: usize = 10;
const N_DEPLOYMENTS: usize = 5_000;
const N_AUDIT_ENTRIES: u64 = 1_000_000;
const APPENDS_PER_TRANSACTION: u64 = 10_000;
const PASSWORD: &str = "benchmark password 1";

fn main() -> anyhow::Result<()> {
    let sections = std::env::var("TOLLGATE_BENCH_SECTIONS").unwrap_or_else(|_| "demo,large".to_owned());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let mut results = Vec::new();
    if sections.split(',').any(|section| section == "demo") {
        results.extend(runtime.block_on(bench_demo())?);
    }
    if sections.split(',').any(|section| section == "large") {
        results.extend(runtime.block_on(bench_large())?);
    }
    println!("\n{:<8} {:<44} {:>9} {:>9} {:>7}", "data", "page", "p50 ms", "p99 ms", "target");
    for result in &results {
        println!(
            "{:<8} {:<44} {:>9.2} {:>9.2} {:>7}",
            result.data,
            result.page,
            millis(result.p50),
            millis(result.p99),
            if result.p99 < TARGET_P99 { "met" } else { "MISSED" }
        );
    }
    Ok(())
}

struct PageResult {
    data: &'static str,
    page: String,
    p50: Duration,
    p99: Duration,
}

async fn bench_demo() -> anyhow::Result<Vec<PageResult>> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["demo", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting tollgate demo")?;
    let stdout = child.stdout.take().context("the demo's output")?;
    let mut lines = BufReader::new(stdout).lines();
    let (mut base, mut password) = (None, None);
    for line in lines.by_ref() {
        let line = line?;
        if let Some(rest) = line.strip_prefix("web UI: ") {
            let url = rest.split_whitespace().next().context("a URL")?;
            base = Some(url.trim_end_matches("/login").to_owned());
            password = rest.split("password ").nth(1).map(|p| p.trim_end_matches(')').to_owned());
            break;
        }
    }
    let (base, password) = (base.context("the demo printed its address")?, password.context("and a password")?);
    let release_version = "1.1.0";
    let pages = vec![
        "/".to_owned(),
        "/register".to_owned(),
        "/releases".to_owned(),
        format!("/releases/{release_version}"),
        "/artifacts".to_owned(),
        "/artifacts/1".to_owned(),
        "/catalog".to_owned(),
        "/audit".to_owned(),
        "/policy".to_owned(),
    ];
    let results = measure("demo", &base, "admin", &password, &pages).await;
    let _ = child.kill();
    let _ = child.wait();
    results
}

async fn bench_large() -> anyhow::Result<Vec<PageResult>> {
    let db = TestDb::sqlite();
    let spawned = spawn_app_on(TestApp::on(db, 100_000).await).await;
    let started = Instant::now();
    seed(&spawned).await?;
    println!("seeded the large data set in {:.1} s", started.elapsed().as_secs_f64());
    let app = &spawned.app;
    app.tollgate.set_password(&app.admin, "admin", &Password(PASSWORD.to_owned())).await?;
    let pages = vec![
        "/".to_owned(),
        "/register".to_owned(),
        "/register/env-09".to_owned(),
        "/releases".to_owned(),
        "/releases?state=ready".to_owned(),
        "/releases?service=svc-042".to_owned(),
        "/releases?text=TCK-77".to_owned(),
        format!("/releases?before={}", N_RELEASES / 2),
        "/releases/1.0.5000".to_owned(),
        "/artifacts".to_owned(),
        "/catalog".to_owned(),
        "/audit".to_owned(),
        "/audit?actor=ana".to_owned(),
        "/policy".to_owned(),
    ];
    measure("large", &spawned.base_url, "admin", PASSWORD, &pages).await
}

/// 100 services in 10 teams, 10 environments on one lifecycle, 10,000 releases, 5,000
/// deployments, and audit entries up to 1,000,000.
async fn seed(spawned: &SpawnedApp) -> anyhow::Result<()> {
    let app = &spawned.app;
    let teams: Vec<_> = (0..10).map(|team| json!({ "name": format!("team-{team:02}") })).collect();
    let environments: Vec<_> = (0..N_ENVIRONMENTS)
        .map(|index| {
            let tier = if index == N_ENVIRONMENTS - 1 { "prod" } else { "staging" };
            json!({ "name": format!("env-{index:02}"), "tier": tier })
        })
        .collect();
    let names: Vec<String> = (0..N_ENVIRONMENTS).map(|index| format!("env-{index:02}")).collect();
    let services: Vec<_> = (0..N_SERVICES)
        .map(|index| {
            let mut depends_on: Vec<String> =
                [index / 2, index / 3].iter().filter(|&&d| d < index).map(|d| format!("svc-{d:03}")).collect();
            depends_on.dedup();
            json!({ "name": format!("svc-{index:03}"), "owner": format!("team-{:02}", index % 10), "depends_on": depends_on })
        })
        .collect();
    let document = json!({
        "teams": teams,
        "environments": environments,
        "lifecycles": [{ "name": "main", "environments": names }],
        "services": services,
    });
    let applied = spawned.post("/api/v1/apply", document).await;
    ensure!(applied.status == 200, "applying the catalog: {:?}", applied.body);

    let admin = UserName::parse("admin").expect("valid");
    let now = app.tollgate.now();
    let states = ["draft", "planned", "scope_frozen", "ready", "deployed", "closed"];
    // Audited transactions (with nothing appended): deployments are written only in those.
    let mut tx = app.store.begin().await?;
    let mut ids = Vec::with_capacity(N_RELEASES);
    for index in 0..N_RELEASES {
        let services = [index % N_SERVICES, (index * 7 + 3) % N_SERVICES];
        let artifacts = services
            .iter()
            .map(|service| tollgate_core::release::ArtifactRefInput {
                service: format!("svc-{service:03}"),
                name: format!("svc-{service:03}"),
                version: format!("1.0.{index}"),
                digest: Sha256Digest::of(format!("{service} {index}").as_bytes()).to_string(),
            })
            .collect();
        let input = ReleaseInput {
            version: format!("1.0.{index}"),
            lifecycle: "main".to_owned(),
            release_type: "minor".to_owned(),
            artifacts,
            scope: vec![tollgate_core::release::ScopeItemInput {
                ticket: format!("TCK-{index}"),
                title: format!("Change number {index}"),
                included: true,
                reason: None,
            }],
            rollback_criteria: Some("error ratio above 1%".to_owned()),
            ..Default::default()
        };
        let content = input.parse().map_err(|violations| anyhow::anyhow!("{violations}"))?;
        let id = tx.insert_release(&content, &admin, now).await?;
        let state: tollgate_core::release::ReleaseState = states[index % states.len()].parse().expect("a state");
        tx.update_release_state(id, state, 1, now).await?;
        ids.push((id, content.manifest_digest()));
        if index % 2_000 == 1_999 {
            tx.commit().await?;
            tx = app.store.begin().await?;
        }
    }
    for index in 0..N_DEPLOYMENTS {
        let (release, digest) = &ids[index * 2 % N_RELEASES];
        let environment = EnvironmentName::parse(&format!("env-{:02}", index % N_ENVIRONMENTS)).expect("valid");
        let at = now.checked_sub(jiff::SignedDuration::from_mins((N_DEPLOYMENTS - index) as i64))?;
        let new = NewDeployment {
            release: *release,
            environment: &environment,
            manifest_digest: *digest,
            times: DeploymentTimes { status: DeploymentStatus::Succeeded, started_at: at, finished_at: Some(at) },
            promotion: &Promotion::Followed,
            actor: &admin,
        };
        tx.insert_deployment(&new).await?;
    }
    tx.commit().await?;

    let users: Vec<UserName> =
        ["ana", "bo", "chen", "dara"].iter().map(|name| UserName::parse(name).expect("valid")).collect();
    let (mut seq, _) = app.store.read().await?.audit_head().await?;
    while seq < N_AUDIT_ENTRIES {
        let mut tx = app.store.begin().await?;
        let end = (seq + APPENDS_PER_TRANSACTION).min(N_AUDIT_ENTRIES);
        for next in seq + 1..=end {
            let record = synthetic_record(next, &users, now);
            tx.append_audit(&record).await?;
        }
        tx.commit().await?;
        seq = end;
    }
    app.tollgate.checkpoint_now().await?;
    Ok(())
}

fn synthetic_record(seq: u64, users: &[UserName], at: Timestamp) -> AuditRecord {
    let user = users[(seq % users.len() as u64) as usize].clone();
    let release = seq % N_RELEASES as u64;
    AuditRecord {
        at,
        actor: Actor::User(user),
        action: AuditAction::Transition,
        object: ObjectRef::new(ObjectKind::Release, release),
        before: Some(json!({ "state": "planned", "revision": seq })),
        after: Some(json!({ "state": "scope_frozen", "revision": seq + 1 })),
        reason: None,
        request_id: Some(format!("bench-{seq}")),
    }
}

async fn measure(
    data: &'static str,
    base: &str,
    user: &str,
    password: &str,
    pages: &[String],
) -> anyhow::Result<Vec<PageResult>> {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let cookies = sign_in(&client, base, user, password).await?;
    let mut results = Vec::new();
    for page in pages {
        let mut times = Vec::with_capacity(N_REQUESTS);
        for round in 0..N_WARMUP + N_REQUESTS {
            let started = Instant::now();
            let response = client.get(format!("{base}{page}")).header("cookie", &cookies).send().await?;
            let status = response.status();
            let body = response.bytes().await?;
            let elapsed = started.elapsed();
            ensure!(status.is_success(), "{page}: {status}: {}", String::from_utf8_lossy(&body));
            if round >= N_WARMUP {
                times.push(elapsed);
            }
        }
        times.sort();
        let p50 = times[times.len() / 2];
        let p99 = times[(times.len() * 99).div_ceil(100) - 1];
        println!("{data:<8} {page:<44} p50 {:>8.2} ms  p99 {:>8.2} ms", millis(p50), millis(p99));
        results.push(PageResult { data, page: page.clone(), p50, p99 });
    }
    Ok(results)
}

/// Signs in through the sign-in form; returns the `Cookie` header of the session.
async fn sign_in(client: &reqwest::Client, base: &str, user: &str, password: &str) -> anyhow::Result<String> {
    let login = client.get(format!("{base}/login")).send().await?;
    let login_cookie = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| value.split(';').next().filter(|pair| pair.starts_with("tollgate_login=")))
        .context("a pre-sign-in cookie")?
        .to_owned();
    let body = login.text().await?;
    let marker = "name=\"csrf\" value=\"";
    let start = body.find(marker).context("a form token")? + marker.len();
    let csrf = body[start..].split('"').next().context("a value")?.to_owned();
    let signed_in = client
        .post(format!("{base}/login"))
        .header("cookie", &login_cookie)
        .form(&[("username", user), ("password", password), ("csrf", &csrf), ("next", "/")])
        .send()
        .await?;
    ensure!(signed_in.status().as_u16() == 303, "sign-in failed: {}", signed_in.status());
    signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| value.split(';').next().filter(|pair| pair.starts_with("tollgate_session=")))
        .map(str::to_owned)
        .context("a session cookie")
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
