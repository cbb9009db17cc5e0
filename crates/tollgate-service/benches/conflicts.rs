//! The conflict check of a change through the service, on a stored calendar and change list:
//! `cargo bench -p tollgate-service --bench conflicts` (SQLite, and PostgreSQL too when
//! `TOLLGATE_TEST_POSTGRES_URL` is set).
//!
//! Data, written once per backend:
//! - 1,000 recurring periods that apply to prod (900 windows scoped to prod, 100 global
//!   freezes), in five zones, daily or weekly with several BYDAY sets, their starts spread
//!   over the two years before the horizon, written through the service (compiled and audited);
//! - 10,000 scheduled changes in prod over a two-year horizon (2026-03-01 to 2028-03-01), two
//!   hours and twenty minutes each with 20 minutes of rollback time, each touching two of 100
//!   services, written straight through the store in large transactions.
//!
//! Then `N_PROBES` open changes across the horizon (one hour, touching two of the services) are
//! read with `Tollgate::get_change`, whose view holds every conflict: the deny periods and
//! windows the calendar gives for the interval with its rollback time, and the scheduled
//! changes on shared services within the stabilization gap. Each probe is read once to warm
//! up, then timed `N_ROUNDS` times; p50, p99 and max are printed with the number of conflicts
//! found. The first read after the calendar was last written (which compiles the 1,000
//! periods and builds their occurrence index once for the revision) is reported on its own.
//! Each timed read is the whole change view (the release, verdicts and teams too), so the
//! conflict check alone takes less. Target: p99 under 5 ms.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use jiff::{SignedDuration, Timestamp};
use tollgate_core::apply::ApplyInput;
use tollgate_core::calendar::PeriodInput;
use tollgate_core::change::{ChangeContent, ChangeId, ChangeRequest, ChangeState, ChangeType};
use tollgate_core::environment::EnvironmentInput;
use tollgate_core::lifecycle::LifecycleInput;
use tollgate_core::name::{EnvironmentName, ServiceName, UserName};
use tollgate_core::release::{PlannedWindow, ReleaseId};
use tollgate_core::service::ServiceInput;
use tollgate_core::team::TeamInput;
use tollgate_service::apply::ApplyMode;
use tollgate_testkit::fixtures::release_input;
use tollgate_testkit::{TestApp, TestDb};

const N_WINDOWS: usize = 1_000;
const N_SCHEDULED: usize = 10_000;
const N_SERVICES: usize = 100;
const N_PROBES: usize = 200;
const N_ROUNDS: usize = 5;
const PER_TRANSACTION: usize = 2_000;
const HORIZON_FROM: &str = "2026-03-01T00:00:00Z";
const HORIZON_TO: &str = "2028-03-01T00:00:00Z";
const TARGET_P99: Duration = Duration::from_millis(5);

const ZONES: [&str; 5] = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Tokyo", "UTC"];
const DAY_SETS: [&str; 4] = ["MO,TU,WE,TH", "MO,WE,FR", "TU,TH", "SA"];

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let mut backends = vec![("sqlite", TestDb::sqlite())];
        if let Some(postgres) = TestDb::postgres().await {
            backends.push(("postgres", postgres));
        }
        for (name, db) in backends {
            bench(name, db).await?;
        }
        Ok(())
    })
}

async fn bench(backend: &str, db: TestDb) -> anyhow::Result<()> {
    let app = TestApp::on(db, 100_000).await;
    let started = Instant::now();
    catalog(&app).await?;
    let release = release(&app).await?;
    for index in 0..N_WINDOWS {
        let id = format!("period-{index:04}");
        app.tollgate.put_calendar_period(&app.admin, &id, period(index)).await.with_context(|| id.clone())?;
    }
    seed_changes(&app, release).await?;
    let probes = seed_probes(&app, release).await?;
    println!(
        "{backend}: {N_WINDOWS} recurring periods, {N_SCHEDULED} scheduled changes written in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let first = app.tollgate.get_change(&app.admin, probes[0]).await?;
    let compile = started.elapsed();
    let mut durations = Vec::with_capacity(N_PROBES * N_ROUNDS);
    let mut n_conflicts = 0;
    for probe in &probes {
        app.tollgate.get_change(&app.admin, *probe).await?;
    }
    for _ in 0..N_ROUNDS {
        for probe in &probes {
            let started = Instant::now();
            let view = app.tollgate.get_change(&app.admin, *probe).await?;
            durations.push(started.elapsed());
            n_conflicts += view.conflicts.len();
        }
    }
    durations.sort();
    let quantile = |q: f64| durations[((durations.len() as f64 * q) as usize).min(durations.len() - 1)];
    let p99 = quantile(0.99);
    println!(
        "  first read after the last calendar write (compiles the calendar, builds its occurrence index): {compile:?}, {} conflicts",
        first.conflicts.len()
    );
    println!(
        "  {} reads of {N_PROBES} one-hour changes ({:.1} conflicts each on average): p50 {:?}, p90 {:?}, p99 {p99:?}, max {:?} ({} p99 < {TARGET_P99:?})",
        durations.len(),
        n_conflicts as f64 / durations.len() as f64,
        quantile(0.5),
        quantile(0.9),
        durations[durations.len() - 1],
        if p99 < TARGET_P99 { "met:" } else { "MISSED:" }
    );
    Ok(())
}

fn service(index: usize) -> String {
    format!("svc-{index:03}")
}

async fn catalog(app: &TestApp) -> anyhow::Result<()> {
    let document = ApplyInput {
        teams: vec![TeamInput { name: "payments".to_owned(), ..TeamInput::default() }],
        environments: vec![EnvironmentInput { name: "prod".to_owned(), tier: "prod".to_owned(), region: None }],
        lifecycles: vec![LifecycleInput { name: "default".to_owned(), environments: vec!["prod".to_owned()] }],
        services: (0..N_SERVICES)
            .map(|index| ServiceInput {
                name: service(index),
                owner: "payments".to_owned(),
                // A tree: each service depends on the one at half its index.
                depends_on: if index == 0 { vec![] } else { vec![service(index / 2)] },
                ..ServiceInput::default()
            })
            .collect(),
        gates: None,
        sso: None,
        changes: None,
    };
    app.tollgate.apply(&app.admin, document, ApplyMode::Apply).await?;
    Ok(())
}

/// A release of two leaf services (so its impacted services are those two).
async fn release(app: &TestApp) -> anyhow::Result<ReleaseId> {
    let artifacts = [("svc-098", "1.0.0"), ("svc-099", "1.0.0")];
    app.stock("payments", &artifacts).await;
    let release = app.tollgate.create_release(&app.admin, release_input("1.0.0", &artifacts)).await?;
    Ok(release.id)
}

/// Period `index`: one in ten a two-hour global freeze on one day of the month, the others a
/// window of four to eleven hours on prod.
fn period(index: usize) -> PeriodInput {
    let zone = ZONES[index % ZONES.len()];
    // Starts spread over the two years before the horizon, on the hour.
    let start: Timestamp = HORIZON_FROM.parse().expect("a time");
    let start = (start - SignedDuration::from_hours(24 * 17 * (index / 24) as i64))
        .to_zoned(jiff::tz::TimeZone::UTC)
        .datetime();
    let start = format!("{}T{:02}:00", start.date(), 6 + index % 12);
    if index % 10 == 0 {
        return PeriodInput {
            name: format!("Freeze {index}"),
            kind: "freeze".to_owned(),
            scope: None,
            tzid: zone.to_owned(),
            start,
            length: "PT2H".to_owned(),
            rule: Some(format!("FREQ=MONTHLY;BYMONTHDAY={}", 1 + index % 28)),
            exdates: vec![],
            rdates: vec![],
        };
    }
    let rule = if index % 3 == 0 {
        "FREQ=DAILY".to_owned()
    } else {
        format!("FREQ=WEEKLY;BYDAY={}", DAY_SETS[index % DAY_SETS.len()])
    };
    PeriodInput {
        name: format!("Window {index}"),
        kind: "window".to_owned(),
        scope: Some("environment:prod".to_owned()),
        tzid: zone.to_owned(),
        start,
        length: format!("PT{}H", 4 + index % 8),
        rule: Some(rule),
        exdates: vec![],
        rdates: vec![],
    }
}

fn change_row(
    release: ReleaseId,
    state: ChangeState,
    start: Timestamp,
    length: SignedDuration,
    services: [usize; 2],
) -> ChangeRequest {
    let at: Timestamp = HORIZON_FROM.parse().expect("a time");
    ChangeRequest {
        id: ChangeId(0),
        release,
        content: ChangeContent {
            environment: EnvironmentName::parse("prod").expect("a name"),
            change_type: ChangeType::Normal,
            template: None,
            justification: "scheduled work".to_owned(),
            implementation_plan: "deploy".to_owned(),
            rollback_plan: "redeploy the previous release".to_owned(),
            rollback_minutes: 20,
            tickets: vec![],
            links: vec![],
            planned: PlannedWindow::new(start, start + length).expect("a window"),
        },
        state,
        manifest_digest: tollgate_core::digest::Sha256Digest::of(b"release"),
        impacted_services: services.iter().map(|index| ServiceName::parse(&service(*index)).expect("a name")).collect(),
        risk: None,
        route: None,
        requested_by: UserName::parse("admin").expect("a name"),
        created_at: at,
        updated_at: at,
        deployment: None,
        review_due_at: None,
        review: None,
        revision: 1,
    }
}

async fn seed_changes(app: &TestApp, release: ReleaseId) -> anyhow::Result<()> {
    let from: Timestamp = HORIZON_FROM.parse()?;
    let to: Timestamp = HORIZON_TO.parse()?;
    let step = to.duration_since(from) / N_SCHEDULED as i32;
    let mut tx = app.store.begin_unaudited().await?;
    for index in 0..N_SCHEDULED {
        let start = from + step * index as i32;
        let services = [index % N_SERVICES, (index * 7 + 3) % N_SERVICES];
        let length = SignedDuration::from_hours(2) + SignedDuration::from_mins(20);
        tx.insert_change_request(&change_row(release, ChangeState::Scheduled, start, length, services)).await?;
        if (index + 1) % PER_TRANSACTION == 0 {
            tx.commit().await?;
            tx = app.store.begin_unaudited().await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// `N_PROBES` submitted one-hour changes spread over the horizon, off the hour, touching the
/// release's two services and one more.
async fn seed_probes(app: &TestApp, release: ReleaseId) -> anyhow::Result<Vec<ChangeId>> {
    let from: Timestamp = HORIZON_FROM.parse()?;
    let to: Timestamp = HORIZON_TO.parse()?;
    let step = to.duration_since(from) / N_PROBES as i32;
    let mut tx = app.store.begin_unaudited().await?;
    let mut ids = Vec::with_capacity(N_PROBES);
    for index in 0..N_PROBES {
        let start = from + step * index as i32 + SignedDuration::from_mins(7 * (index % 60) as i64);
        let row = change_row(release, ChangeState::Submitted, start, SignedDuration::from_hours(1), [98, index % 97]);
        ids.push(tx.insert_change_request(&row).await?);
    }
    tx.commit().await?;
    Ok(ids)
}
