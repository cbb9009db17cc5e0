//! Latency of one authorization decision for realistic requests: `cargo bench -p
//! tollgate-authz --bench authz`. Prints p50, p90, p99 and max over many decisions, each timed
//! alone (building the request's Cedar entities included: that is what the service pays).
//!
//! It also writes the policies, schema and every request with its entities and decision to a
//! directory (`TOLLGATE_AUTHZ_BENCH_DIR`, default `<temp>/tollgate-authz-bench`), and at the end
//! of the run `benches/cedarpy_authz.py` runs them through cedarpy, the Python binding of the same
//! engine, with `$TOLLGATE_BENCH_PYTHON`, else `$HOME/.cache/tollgate-venv-bench/bin/python`
//! (made by `bash scripts/ensure-bench-venv.sh`; without it that part is skipped with a note).
//! cedarpy's figures (10,000 decisions at ~1 ms, ~10 s) are printed beside ours in microseconds,
//! with the ratios at p50 and p99, so the overhead that is Tollgate's shows beside the engine's.
//! The whole bench takes under a minute.

use std::collections::BTreeSet;
use std::hint::black_box;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tollgate_authz::{
    Action, Authorizer, Context, Grant, PolicyFile, PrincipalFacts, ReleaseFacts, Request, Resource, ResourceType,
    Segregation, ACTIONS,
};
use tollgate_core::environment::Tier;
use tollgate_core::name::{EnvironmentName, TeamName, UserName};
use tollgate_core::user::Role;
use tollgate_core::Timestamp;

const DISTINCT_REQUESTS: usize = 500;
const DECISIONS: usize = 200_000;

const USER_POLICIES: &str = r#"
@id("prod-deploy-days")
@reason("deploys to prod happen Tuesday to Thursday")
forbid (principal, action == Tollgate::Action::"deploy", resource)
when { resource.tier == "prod" }
unless { ["tue", "wed", "thu"].contains(context.time.day_of_week) };

@id("owners-only")
@reason("only the owning team edits a service")
forbid (principal, action == Tollgate::Action::"service.edit", resource)
unless { principal in resource.owner };

@id("business-hours-tier-changes")
@reason("tiers change in business hours")
forbid (principal, action == Tollgate::Action::"environment.tier", resource)
unless { context.time.hour >= 8 && context.time.hour < 18 };
"#;

fn main() {
    let files = [PolicyFile { name: "ops.cedar".into(), text: USER_POLICIES.into() }];
    let authorizer = Authorizer::new(Segregation::default(), &files).expect("the bench policies are valid");
    let requests: Vec<Request> = (0..DISTINCT_REQUESTS).map(request).collect();
    let mut allowed = 0;
    for request in &requests {
        let decision = authorizer.authorize(request);
        assert!(decision.errors.is_empty(), "{:?}", decision.errors);
        allowed += usize::from(decision.allowed);
    }
    println!("authz: {DISTINCT_REQUESTS} distinct requests, {allowed} allowed; {DECISIONS} decisions timed one by one");
    // Warm up.
    for request in requests.iter().cycle().take(20_000) {
        black_box(authorizer.authorize(black_box(request)));
    }
    let mut durations: Vec<Duration> = Vec::with_capacity(DECISIONS);
    for request in requests.iter().cycle().take(DECISIONS) {
        let started = Instant::now();
        black_box(authorizer.authorize(black_box(request)));
        durations.push(started.elapsed());
    }
    durations.sort();
    let at = |q: f64| durations[((durations.len() as f64 * q) as usize).min(durations.len() - 1)];
    println!(
        "authz (Rust, tollgate-authz): p50 {:?}, p90 {:?}, p99 {:?}, max {:?}",
        at(0.50),
        at(0.90),
        at(0.99),
        durations[durations.len() - 1]
    );
    let dir = write_out(&authorizer, &requests);
    compare_with_cedarpy(&dir, at(0.50), at(0.99));
}

/// The `index`-th request: a user with one or two roles in one or two teams, asking for every
/// action in turn about a resource in dev, staging or prod, some holding a grant, at hours
/// across a week.
fn request(index: usize) -> Request {
    let roles = [
        vec![Role::Viewer],
        vec![Role::Developer, Role::Deployer],
        vec![Role::Developer],
        vec![Role::ReleaseManager],
        vec![Role::Approver],
        vec![Role::Deployer],
        vec![Role::Admin],
        vec![Role::Auditor],
    ];
    let action = ACTIONS[index % ACTIONS.len()].action;
    let tier = [Tier::Dev, Tier::Staging, Tier::Prod][index % 3];
    let environment = EnvironmentName::parse(tier.as_str()).expect("a name");
    let teams: BTreeSet<TeamName> =
        ["payments", "identity"].iter().take(1 + index % 2).map(|t| TeamName::parse(t).expect("a team")).collect();
    let at: Timestamp = "2026-03-02T00:00:00Z".parse::<Timestamp>().expect("a time")
        + jiff::SignedDuration::from_mins((index as i64 * 97) % (7 * 24 * 60));
    let name = UserName::parse(&format!("user-{}", index % 40)).expect("a name");
    let grants = if index % 5 == 0 {
        vec![Grant {
            id: index as i64,
            role: Role::Deployer,
            environment: EnvironmentName::parse("prod").expect("a name"),
            not_before: at - jiff::SignedDuration::from_hours(1),
            expires_at: at + jiff::SignedDuration::from_hours(3),
            revoked_at: None,
        }]
    } else {
        Vec::new()
    };
    let principal = PrincipalFacts { name, roles: roles[index % roles.len()].iter().copied().collect(), teams, grants };
    let release = ReleaseFacts {
        id: index as i64,
        version: format!("1.{index}.0"),
        state: "ready".into(),
        author: UserName::parse(&format!("user-{}", (index + 3) % 40)).expect("a name"),
        teams: BTreeSet::from([TeamName::parse("payments").expect("a team")]),
        author_teams: BTreeSet::from([TeamName::parse("payments").expect("a team")]),
        reaches_prod: true,
        labels: BTreeSet::from(["pci".to_owned()]),
    };
    let resource = match action.resource_type() {
        ResourceType::System => Resource::System,
        ResourceType::Team => Resource::Team(TeamName::parse("payments").expect("a team")),
        ResourceType::Service => Resource::Service {
            name: "ledger".into(),
            owner: TeamName::parse(if index % 2 == 0 { "payments" } else { "identity" }).expect("a team"),
            criticality: "high".into(),
            labels: BTreeSet::from(["pci".to_owned()]),
        },
        ResourceType::Environment => Resource::Environment { name: environment.clone(), tier },
        ResourceType::Lifecycle => Resource::Lifecycle { name: "default".into(), reaches_prod: true },
        ResourceType::Release => Resource::Release(release.clone()),
        ResourceType::ChangeRequest => Resource::ChangeRequest(tollgate_authz::ChangeRequestFacts {
            id: index as i64,
            requested_by: release.author.clone(),
            release: release.clone(),
            environment,
            tier,
            change_type: "normal".to_owned(),
        }),
    };
    let context = Context {
        reason: (index % 4 != 0).then(|| "incident 42".to_owned()),
        release: matches!(action, Action::Deploy | Action::DeploymentFinish).then_some(release),
        subject: Some(UserName::parse("user-7").expect("a name")),
        role: Some(Role::Deployer),
        new_tier: (action == Action::EnvironmentTier).then_some(Tier::Dev),
        outside_team_approved: Some(index % 3 == 0),
        completes_approvals: Some(true),
    };
    Request { principal, action, resource, context, at }
}

/// Writes the policies, schema and requests for `benches/cedarpy_authz.py` and returns the
/// directory.
fn write_out(authorizer: &Authorizer, requests: &[Request]) -> PathBuf {
    let dir = std::env::var_os("TOLLGATE_AUTHZ_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("tollgate-authz-bench"));
    std::fs::create_dir_all(&dir).expect("the output directory");
    let mut lines = std::fs::File::create(dir.join("requests.jsonl")).expect("requests.jsonl");
    let mut policies = String::new();
    for request in requests {
        let (request_json, entities_json, policy_text) = authorizer.cedar_json(request).expect("JSON forms");
        let allowed = authorizer.authorize(request).allowed;
        writeln!(lines, "{{\"request\":{request_json},\"entities\":{entities_json},\"allowed\":{allowed}}}")
            .expect("a line");
        policies = policy_text;
    }
    std::fs::write(dir.join("policies.cedar"), policies).expect("policies.cedar");
    std::fs::write(dir.join("schema.cedarschema"), tollgate_authz::SCHEMA).expect("schema");
    println!("wrote {} requests, their entities and the policies to {}", requests.len(), dir.display());
    dir
}

/// The interpreter of the benches' Python peers: `$TOLLGATE_BENCH_PYTHON`, else the venv that
/// `scripts/ensure-bench-venv.sh` makes.
fn bench_python() -> PathBuf {
    std::env::var_os("TOLLGATE_BENCH_PYTHON").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/tollgate-venv-bench/bin/python")
    })
}

/// Runs `benches/cedarpy_authz.py` on the directory just written and prints its figures beside
/// ours, in microseconds, with the ratios; prints why and goes on when it cannot.
fn compare_with_cedarpy(dir: &Path, ours_p50: Duration, ours_p99: Duration) {
    let python = bench_python();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/cedarpy_authz.py");
    if python.components().count() > 1 && !python.exists() {
        println!(
            "cedarpy: skipped, no {}; prepare it with `bash scripts/ensure-bench-venv.sh` (or set TOLLGATE_BENCH_PYTHON)",
            python.display()
        );
        return;
    }
    println!("cedarpy (with {}):", python.display());
    let output = match Command::new(&python).arg(&script).arg(dir).stdin(Stdio::null()).output() {
        Ok(output) => output,
        Err(error) => {
            println!(
                "  skipped: cannot run {} ({error}); prepare it with `bash scripts/ensure-bench-venv.sh`",
                python.display()
            );
            return;
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines: Vec<&str> = stdout.lines().filter(|line| !line.trim().is_empty()).collect();
    let summary = lines.pop().and_then(|line| serde_json::from_str::<serde_json::Value>(line).ok());
    for line in &lines {
        println!("  {line}");
    }
    let Some(summary) = summary else {
        println!("  skipped: {} {} gave no summary ({})", python.display(), script.display(), output.status);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        for line in tail.into_iter().rev() {
            println!("    {line}");
        }
        return;
    };
    if !output.status.success() {
        // The script fails when a decision differs from ours; its figures still stand.
        println!("  WARNING: {} exited with {}: see above", script.display(), output.status);
    }
    let micros = |key: &str| summary.get(key).and_then(serde_json::Value::as_f64).map(|ms| ms * 1000.0);
    for (label, ours, key) in [("p50", ours_p50, "p50_ms"), ("p99", ours_p99, "p99_ms")] {
        let ours = ours.as_secs_f64() * 1e6;
        match micros(key) {
            Some(theirs) => println!(
                "  {label}: ours {ours:.1} µs, cedarpy is_authorized {theirs:.1} µs; ours/cedarpy {:.3} (cedarpy {:.1}x ours)",
                ours / theirs,
                theirs / ours
            ),
            None => println!("  {label}: ours {ours:.1} µs, cedarpy gave none"),
        }
    }
    if let Some(batch) = micros("batch_mean_ms") {
        let ours = ours_p50.as_secs_f64() * 1e6;
        println!("  cedarpy is_authorized_batch mean {batch:.1} µs per request; ours p50 / that {:.3}", ours / batch);
    }
}
