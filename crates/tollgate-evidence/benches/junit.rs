//! Parse rate of the JUnit parser on a generated ~50 MB report: `cargo bench -p
//! tollgate-evidence --bench junit`. Prints the median of five runs in MB/s.
//!
//! The report looks like a large CI run: many suites of many test cases with realistic names
//! and times, about one in fifty failing with a message and a multi-line trace, some skipped,
//! some with captured output, and escaped characters in names and messages.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

const TARGET_BYTES: usize = 50 * 1024 * 1024;
const RUNS: usize = 5;

fn main() {
    let report = generate(TARGET_BYTES);
    let megabytes = report.len() as f64 / 1_000_000.0;
    let facts = tollgate_evidence::parse_junit(&report).expect("the generated report parses");
    println!(
        "junit: {megabytes:.1} MB, {} suites, {} test cases ({} failed, {} errors, {} skipped)",
        facts.suites.len(),
        facts.total,
        facts.failed,
        facts.errors,
        facts.skipped
    );
    let mut durations: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            let facts = tollgate_evidence::parse_junit(black_box(&report)).expect("parses");
            black_box(facts);
            started.elapsed()
        })
        .collect();
    durations.sort();
    let median = durations[RUNS / 2];
    let rates: Vec<String> =
        durations.iter().map(|duration| format!("{:.0}", megabytes / duration.as_secs_f64())).collect();
    println!(
        "junit: median {:.0} MB/s ({:.1} ms per parse; runs in MB/s, sorted: {})",
        megabytes / median.as_secs_f64(),
        median.as_secs_f64() * 1000.0,
        rates.join(", ")
    );
}

/// A deterministic report of at least `target_bytes` bytes.
fn generate(target_bytes: usize) -> Vec<u8> {
    let mut random = Lcg(0x5eed);
    let mut xml = String::with_capacity(target_bytes + 1024 * 1024);
    xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str("<testsuites name=\"nextest-run\" tests=\"0\" failures=\"0\" errors=\"0\" time=\"812.304\">\n");
    let mut n_suite = 0;
    while xml.len() < target_bytes {
        n_suite += 1;
        let n_cases = 50 + random.below(300);
        writeln!(
            xml,
            "  <testsuite name=\"crate_{n_suite}::integration\" tests=\"{n_cases}\" disabled=\"0\" errors=\"0\" failures=\"0\" time=\"{}.{:03}\">",
            random.below(90),
            random.below(1000)
        )
        .expect("writing to a String cannot fail");
        for n_case in 0..n_cases {
            write_case(&mut xml, &mut random, n_suite, n_case);
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml.into_bytes()
}

fn write_case(xml: &mut String, random: &mut Lcg, n_suite: u64, n_case: u64) {
    let module = ["release", "approval", "deployment", "policy", "audit"][random.below(5) as usize];
    write!(
        xml,
        "    <testcase name=\"{module}::tests::case_{n_case}_handles_&lt;edge&gt;_input\" classname=\"crate_{n_suite}::integration\" timestamp=\"2025-01-01T00:00:00.000+00:00\" time=\"0.{:03}\"",
        random.below(1000)
    )
    .expect("writing to a String cannot fail");
    match random.below(100) {
        0 | 1 => {
            write!(
                xml,
                ">\n      <failure message=\"assertion `left == right` failed: &quot;{module}&quot; at case {n_case}\" type=\"test failure\">thread '{module}::tests::case_{n_case}' panicked at src/{module}.rs:{}:9:\nassertion `left == right` failed\n  left: Approved\n right: Pending &amp; waiting\nstack backtrace:\n   0: rust_begin_unwind\n   1: core::panicking::panic_fmt\n   2: core::panicking::assert_failed\n</failure>\n      <system-out>running 1 test\n</system-out>\n      <system-err>note: run with `RUST_BACKTRACE=1`</system-err>\n    </testcase>\n",
                random.below(900)
            )
            .expect("writing to a String cannot fail");
        }
        2 => xml.push_str(">\n      <error message=\"test timed out\" type=\"timeout\"/>\n    </testcase>\n"),
        3..=5 => xml.push_str(">\n      <skipped message=\"ignored\"/>\n    </testcase>\n"),
        6..=10 => xml.push_str(
            ">\n      <system-out><![CDATA[starting server on 127.0.0.1:0\nlistening]]></system-out>\n    </testcase>\n",
        ),
        _ => xml.push_str("/>\n"),
    }
}

/// A small deterministic pseudo-random sequence, so every run benchmarks the same bytes.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound
    }
}
