//! Recurrence expansion speed: `cargo bench -p tollgate-calendar --bench rrule`.
//!
//! 1. Throughput: the oracle's rule set (tests/it/rules.rs) expanded over its four years many
//!    times, then `scripts/rrule-oracle.py --time` (python-dateutil and zoneinfo, the same
//!    work: expansion, the daylight-saving rule, the overlap filter) over the same rules in the
//!    same run; occurrences per second for both and the ratio (the target is at least 10x).
//! 2. 1,000 recurring windows (the rule set repeated with starts moved back by up to two
//!    years) expanded over a two-year horizon into core `Occurrence`s: the median of several
//!    runs, and the same windows through the Python oracle once.
//! 3. One change against the 1,000 windows: for each of many one-hour changes across the
//!    horizon, every window asked whether an occurrence overlaps it; p50, p99 and max.
//! 4. The conflict check as indexed: the 1,000 windows' occurrences over the horizon and
//!    10,000 scheduled changes (10 environments, 100 services, two services each, a
//!    stabilization gap of 30 minutes and a rollback time) each built into an
//!    `IntervalIndex` once (build times reported), then for each of many one-hour changes:
//!    the occurrences overlapping it with its rollback time (deny periods; an allow window
//!    that holds it) and the changes in its environment touching one of its services within
//!    the gap; p50, p99 and max of the whole check.
//!
//! The Python is `TOLLGATE_TEST_PYTHON` or `$HOME/.cache/tollgate-venv/bin/python`, as for the
//! oracle test.

#[path = "../tests/it/rules.rs"]
mod rules;

use std::hint::black_box;
use std::time::{Duration, Instant};

use jiff::civil::DateTime;
use jiff::{SignedDuration, Timestamp};
use tollgate_calendar::{Period, PeriodKind};

use crate::rules::{rule_set, run_oracle, Case};

const THROUGHPUT_PASSES: usize = 100;
const PYTHON_PASSES: usize = 2;
const WINDOWS: usize = 1_000;
const EXPANSION_RUNS: usize = 9;
const CHANGES: usize = 2_000;
const HORIZON_FROM: &str = "2026-01-01T00:00:00Z";
const HORIZON_TO: &str = "2028-01-01T00:00:00Z";

fn main() {
    throughput();
    let windows = thousand_windows();
    expansion(&windows);
    one_change(&windows);
    indexed_check(&windows);
}

/// A scheduled change as the indexed check sees it.
struct Scheduled {
    environment: u16,
    services: [u16; 2],
}

const SCHEDULED: usize = 10_000;
const ENVIRONMENTS: u16 = 10;
const SERVICES: u16 = 100;

fn indexed_check(windows: &[Case]) {
    let (from, to) = (at(HORIZON_FROM), at(HORIZON_TO));
    let periods: Vec<Period> = windows
        .iter()
        .enumerate()
        .map(|(index, case)| Period {
            name: format!("window {index}"),
            // One in ten is a freeze, so both kinds of answer are exercised.
            kind: if index % 10 == 0 { PeriodKind::Freeze } else { PeriodKind::Window },
            recurrence: case.recurrence(),
        })
        .collect();
    let started = Instant::now();
    let occurrences = tollgate_calendar::index_occurrences(&periods, from, to);
    let occurrence_build = started.elapsed();
    let span = to.duration_since(from);
    let scheduled_step = span / SCHEDULED as i32;
    let entries: Vec<_> = (0..SCHEDULED)
        .map(|index| {
            let start = from + scheduled_step * index as i32;
            let end = start + SignedDuration::from_hours(2) + SignedDuration::from_mins(20);
            let services = [(index % SERVICES as usize) as u16, ((index * 7 + 3) % SERVICES as usize) as u16];
            (start, end, Scheduled { environment: (index % ENVIRONMENTS as usize) as u16, services })
        })
        .collect();
    let started = Instant::now();
    let changes = tollgate_calendar::IntervalIndex::new(entries);
    let change_build = started.elapsed();
    let gap = SignedDuration::from_mins(30);
    let step = span / CHANGES as i32;
    let mut durations: Vec<Duration> = Vec::with_capacity(CHANGES);
    let (mut n_denied, mut n_held, mut n_clashes) = (0usize, 0usize, 0usize);
    for index in 0..CHANGES {
        let start = from + step * index as i32 + SignedDuration::from_mins(7 * (index % 60) as i64);
        let end = start + SignedDuration::from_hours(1);
        let deadline = end + SignedDuration::from_mins(20);
        let (environment, services) = ((index % ENVIRONMENTS as usize) as u16, [(index % 97) as u16, 5]);
        let started = Instant::now();
        let mut denied = 0;
        let mut held = false;
        for (_, _, occurrence) in occurrences.overlapping(start, deadline) {
            if occurrence.kind.is_deny() {
                denied += 1;
            } else if occurrence.start <= start && deadline <= occurrence.end {
                held = true;
            }
        }
        let clashes = changes
            .overlapping(start - gap, deadline + gap)
            .filter(|(_, _, other)| {
                other.environment == environment && other.services.iter().any(|service| services.contains(service))
            })
            .count();
        durations.push(started.elapsed());
        n_denied += black_box(denied);
        n_held += usize::from(black_box(held));
        n_clashes += black_box(clashes);
    }
    durations.sort();
    let at_quantile = |q: f64| durations[((durations.len() as f64 * q) as usize).min(durations.len() - 1)];
    println!(
        "conflict check, indexed: {} occurrences of {WINDOWS} windows and {SCHEDULED} scheduled changes over 2 years",
        occurrences.len()
    );
    println!("  built once: occurrences {occurrence_build:?}, changes {change_build:?}");
    println!(
        "  {CHANGES} one-hour checks ({n_denied} deny overlaps, {n_held} held by a window, {n_clashes} change clashes): \
         p50 {:?}, p90 {:?}, p99 {:?}, max {:?} (target p99 < 5 ms)",
        at_quantile(0.50),
        at_quantile(0.90),
        at_quantile(0.99),
        durations[durations.len() - 1]
    );
}

fn throughput() {
    let cases = rule_set();
    let recurrences: Vec<_> = cases.iter().map(Case::recurrence).collect();
    let expand_all = || -> usize {
        cases
            .iter()
            .zip(&recurrences)
            .map(|(case, recurrence)| black_box(recurrence.instances(case.from(), case.to())).count())
            .sum()
    };
    let n_occurrences = expand_all();
    let started = Instant::now();
    for _ in 0..THROUGHPUT_PASSES {
        assert_eq!(expand_all(), n_occurrences);
    }
    let rust_seconds = started.elapsed().as_secs_f64();
    let rust_rate = (n_occurrences * THROUGHPUT_PASSES) as f64 / rust_seconds;
    let (python_occurrences, python_seconds) = python_timing(&cases, PYTHON_PASSES);
    assert_eq!(python_occurrences, n_occurrences, "the oracle and the crate expand the rule set alike");
    let python_rate = (python_occurrences * PYTHON_PASSES) as f64 / python_seconds;
    println!("rrule throughput: {} rules over 4 years, {n_occurrences} occurrences per pass", cases.len());
    println!(
        "  tollgate-calendar: {rust_rate:>12.0} occurrences/s ({THROUGHPUT_PASSES} passes in {rust_seconds:.3} s)"
    );
    println!(
        "  python-dateutil:   {python_rate:>12.0} occurrences/s ({PYTHON_PASSES} passes in {python_seconds:.3} s)"
    );
    println!("  ratio: {:.1}x (target >= 10x)", rust_rate / python_rate);
}

/// The rule set repeated to 1,000 windows, each copy's start moved back by a multiple of 17
/// days (up to about two years), so most expansions begin long after their start.
fn thousand_windows() -> Vec<Case> {
    let cases = rule_set();
    (0..WINDOWS)
        .map(|index| {
            let mut case = cases[index % cases.len()].clone();
            let dtstart: DateTime = case.dtstart.parse().expect("a civil date-time");
            let moved = dtstart - SignedDuration::from_hours(24 * 17 * (index / cases.len()) as i64);
            case.dtstart = moved.to_string();
            case.from = HORIZON_FROM;
            case.to = HORIZON_TO;
            case
        })
        .collect()
}

fn expansion(windows: &[Case]) {
    let periods: Vec<Period> = windows
        .iter()
        .enumerate()
        .map(|(index, case)| Period {
            name: format!("window {index}"),
            kind: PeriodKind::Window,
            recurrence: case.recurrence(),
        })
        .collect();
    let (from, to) = (at(HORIZON_FROM), at(HORIZON_TO));
    let mut durations = Vec::new();
    let mut n_occurrences = 0;
    for _ in 0..EXPANSION_RUNS {
        let started = Instant::now();
        n_occurrences = periods.iter().map(|period| black_box(period.occurrences(from, to)).len()).sum();
        durations.push(started.elapsed());
    }
    durations.sort();
    let median = durations[durations.len() / 2];
    let (python_occurrences, python_seconds) = python_timing(windows, 1);
    assert_eq!(python_occurrences, n_occurrences, "the oracle and the crate expand the windows alike");
    println!("{WINDOWS} recurring windows over 2 years, {n_occurrences} occurrences:");
    println!(
        "  tollgate-calendar: median {median:?} over {EXPANSION_RUNS} runs (min {:?}, max {:?}), {:.0} occurrences/s",
        durations[0],
        durations[durations.len() - 1],
        n_occurrences as f64 / median.as_secs_f64()
    );
    println!(
        "  python-dateutil:   {python_seconds:.3} s, {:.0} occurrences/s; ratio {:.1}x",
        n_occurrences as f64 / python_seconds,
        python_seconds / median.as_secs_f64()
    );
}

fn one_change(windows: &[Case]) {
    let recurrences: Vec<_> = windows.iter().map(Case::recurrence).collect();
    let (from, to) = (at(HORIZON_FROM), at(HORIZON_TO));
    let step = to.duration_since(from) / CHANGES as i32;
    let mut durations: Vec<Duration> = Vec::with_capacity(CHANGES);
    let mut n_conflicts = 0usize;
    for index in 0..CHANGES {
        // Spread over the horizon, off the hour, one hour long.
        let start = from + step * index as i32 + SignedDuration::from_mins(7 * (index % 60) as i64);
        let end = start + SignedDuration::from_hours(1);
        let started = Instant::now();
        let overlapping =
            recurrences.iter().filter(|recurrence| recurrence.instances(start, end).next().is_some()).count();
        durations.push(started.elapsed());
        n_conflicts += black_box(overlapping);
    }
    durations.sort();
    let at_quantile = |q: f64| durations[((durations.len() as f64 * q) as usize).min(durations.len() - 1)];
    println!(
        "one change against {WINDOWS} windows ({CHANGES} one-hour changes over 2 years, {n_conflicts} overlaps found):"
    );
    println!(
        "  p50 {:?}, p90 {:?}, p99 {:?}, max {:?} (target p99 < 5 ms)",
        at_quantile(0.50),
        at_quantile(0.90),
        at_quantile(0.99),
        durations[durations.len() - 1]
    );
}

/// Runs the oracle in timing mode: (occurrences per pass, seconds for all passes).
fn python_timing(cases: &[Case], passes: usize) -> (usize, f64) {
    let output = run_oracle(cases, &["--time", &passes.to_string()]);
    let timing: serde_json::Value = serde_json::from_str(&output).expect("the oracle prints its timing as JSON");
    let occurrences = timing["occurrences"].as_u64().expect("a count") as usize;
    (occurrences, timing["seconds"].as_f64().expect("seconds"))
}

fn at(text: &str) -> Timestamp {
    text.parse().expect("an instant")
}
