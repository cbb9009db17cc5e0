//! One-line summaries of [`Facts`] for people: what a CLI table or a web page shows instead of
//! the stored JSON.
//!
//! A summary is for reading, not for parsing: its wording may change between versions, unlike
//! the stored format. Counts of zero are left out where they add nothing ("120 tests: 120
//! passed"), and rates are rounded down, so "100.0%" means everything was covered.

use std::collections::BTreeMap;

use crate::facts::{
    CoverageFacts, Facts, FindingFacts, FindingLevel, LoadTestFacts, LoadTestTool, SbomFacts, Severity, TestFacts,
};

/// How many licenses an SBOM summary names before it says "and N more".
const LICENSES_SHOWN: usize = 3;

impl Facts {
    /// A one-line summary, such as `7 tests: 5 passed, 1 failed, 1 skipped (1.3 s)`.
    pub fn summary(&self) -> String {
        match self {
            Facts::Tests(facts) => facts.summary(),
            Facts::Coverage(facts) => facts.summary(),
            Facts::Findings(facts) => facts.summary(),
            Facts::Sbom(facts) => facts.summary(),
            Facts::LoadTest(facts) => facts.summary(),
        }
    }
}

impl TestFacts {
    /// `7 tests: 5 passed, 1 failed, 1 skipped (1.3 s)`; outcomes with no test are left out.
    pub fn summary(&self) -> String {
        if self.total == 0 {
            return "no tests".to_owned();
        }
        let mut outcomes = vec![format!("{} passed", self.passed)];
        outcomes.extend(nonzero(self.failed, "failed", "failed"));
        outcomes.extend(nonzero(self.errors, "error", "errors"));
        outcomes.extend(nonzero(self.skipped, "skipped", "skipped"));
        format!("{}: {} ({})", count(self.total, "test", "tests"), outcomes.join(", "), duration(self.duration_seconds))
    }
}

impl CoverageFacts {
    /// `lines 81.2% (1234/1520), branches 60.0% (30/50), 42 files`.
    pub fn summary(&self) -> String {
        let lines = match self.line_rate {
            Some(rate) => format!("lines {} ({}/{})", percent(rate), self.lines_covered, self.lines_total),
            None => "no instrumented lines".to_owned(),
        };
        let branches = match self.branch_rate {
            Some(rate) => format!("branches {} ({}/{})", percent(rate), self.branches_covered, self.branches_total),
            None => "no branch data".to_owned(),
        };
        format!("{lines}, {branches}, {}", count(self.files, "file", "files"))
    }
}

impl FindingFacts {
    /// `12 findings: 1 error, 3 warnings, 8 notes (clippy)`; levels with no finding are left out.
    pub fn summary(&self) -> String {
        let levels: Vec<String> = FindingLevel::ALL
            .into_iter()
            .filter_map(|level| {
                let n_findings = self.by_level.get(&level).copied().unwrap_or(0);
                match level {
                    FindingLevel::Error => nonzero(n_findings, "error", "errors"),
                    FindingLevel::Warning => nonzero(n_findings, "warning", "warnings"),
                    FindingLevel::Note => nonzero(n_findings, "note", "notes"),
                    FindingLevel::None => nonzero(n_findings, "with level none", "with level none"),
                }
            })
            .collect();
        let mut summary = if self.total == 0 {
            "no findings".to_owned()
        } else {
            format!("{}: {}", count(self.total, "finding", "findings"), levels.join(", "))
        };
        if !self.tools.is_empty() {
            summary.push_str(&format!(" ({})", self.tools.join(", ")));
        }
        summary
    }
}

impl SbomFacts {
    /// `143 components, 3 vulnerabilities (1 high, 2 medium), licenses: MIT (80), Apache-2.0 (40),
    /// ISC (5) and 4 more, 3 without license`.
    pub fn summary(&self) -> String {
        let mut parts = vec![count(self.components, "component", "components")];
        parts.push(self.vulnerability_summary());
        parts.push(license_summary(&self.licenses));
        if self.components_without_license > 0 {
            parts.push(format!("{} without license", self.components_without_license));
        }
        parts.join(", ")
    }

    fn vulnerability_summary(&self) -> String {
        let n_vulnerabilities = self.vulnerabilities.len() as u64;
        if n_vulnerabilities == 0 {
            return "no vulnerabilities".to_owned();
        }
        let severities: Vec<String> = Severity::ALL
            .into_iter()
            .filter_map(|severity| {
                let n_severity = self.vulnerabilities_by_severity.get(&severity).copied().unwrap_or(0);
                (n_severity > 0).then(|| format!("{n_severity} {}", severity_name(severity)))
            })
            .collect();
        format!("{} ({})", count(n_vulnerabilities, "vulnerability", "vulnerabilities"), severities.join(", "))
    }
}

impl LoadTestFacts {
    /// `k6: 2 scenarios, 12,034 requests, 0.4% failed, p95 212 ms`. The failed share is rounded to
    /// one decimal, except that a run with some failures never shows `0.0%` (it shows `<0.1%`)
    /// and one with some successes never `100.0%` (`>99.9%`); with several scenarios the p95 is
    /// the slowest scenario's (`p95 up to 212 ms`), and it is left out when no scenario has one.
    pub fn summary(&self) -> String {
        let tool = match self.tool {
            LoadTestTool::K6 => "k6",
            LoadTestTool::Jmeter => "JMeter",
        };
        let n_requests: u64 = self.scenarios.iter().map(|scenario| scenario.requests).sum();
        if n_requests == 0 {
            return format!("{tool}: {}, no requests", count(self.scenarios.len() as u64, "scenario", "scenarios"));
        }
        let n_failed: u64 = self.scenarios.iter().map(|scenario| scenario.failed).sum();
        let failed_share = failed_share(n_failed, n_requests);
        let mut parts = vec![
            count(self.scenarios.len() as u64, "scenario", "scenarios"),
            format!("{} {}", thousands(n_requests), if n_requests == 1 { "request" } else { "requests" }),
            format!("{failed_share} failed"),
        ];
        let slowest_p95 = self.scenarios.iter().filter_map(|scenario| scenario.latency_ms.p95).reduce(f64::max);
        if let Some(p95) = slowest_p95 {
            let up_to = if self.scenarios.len() > 1 { "up to " } else { "" };
            parts.push(format!("p95 {up_to}{}", milliseconds(p95)));
        }
        format!("{tool}: {}", parts.join(", "))
    }
}

/// `12,034`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

/// `0.4%`, `<0.1%`, `>99.9%`: rounded, but never hiding that some requests failed or passed.
fn failed_share(n_failed: u64, n_requests: u64) -> String {
    let share = (n_failed as f64 / n_requests as f64 * 1000.0).round() / 10.0;
    if n_failed > 0 && share < 0.1 {
        "<0.1%".to_owned()
    } else if n_failed < n_requests && share > 99.9 {
        ">99.9%".to_owned()
    } else {
        format!("{share:.1}%")
    }
}

/// `212 ms`, `25 ms`, `0.4 ms`.
fn milliseconds(value: f64) -> String {
    if value >= 10.0 {
        format!("{value:.0} ms")
    } else {
        format!("{value:.1} ms")
    }
}

/// The most used licenses first (ties by name), then how many others there are.
fn license_summary(licenses: &BTreeMap<String, u64>) -> String {
    if licenses.is_empty() {
        return "no licenses".to_owned();
    }
    let mut by_use: Vec<(&String, &u64)> = licenses.iter().collect();
    by_use.sort_by(|(name_a, n_a), (name_b, n_b)| n_b.cmp(n_a).then(name_a.cmp(name_b)));
    let shown: Vec<String> =
        by_use.iter().take(LICENSES_SHOWN).map(|(name, n_components)| format!("{name} ({n_components})")).collect();
    let mut summary = format!("licenses: {}", shown.join(", "));
    if by_use.len() > LICENSES_SHOWN {
        summary.push_str(&format!(" and {} more", by_use.len() - LICENSES_SHOWN));
    }
    summary
}

fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "critical",
        Severity::High => "high",
        Severity::Medium => "medium",
        Severity::Low => "low",
        Severity::Info => "info",
        Severity::None => "none",
        Severity::Unknown => "unknown",
    }
}

/// `1 test`, `2 tests`.
fn count(n: u64, singular: &str, plural: &str) -> String {
    format!("{n} {}", if n == 1 { singular } else { plural })
}

/// Like [`count`], but nothing for zero.
fn nonzero(n: u64, singular: &str, plural: &str) -> Option<String> {
    (n > 0).then(|| count(n, singular, plural))
}

/// A rate as a percentage with one decimal, rounded down: only a full rate shows as `100.0%`.
fn percent(rate: f64) -> String {
    format!("{:.1}%", (rate * 1000.0).floor() / 10.0)
}

/// `40 ms`, `1.3 s`, `2 min 5 s`.
fn duration(seconds: f64) -> String {
    if seconds < 1.0 {
        format!("{:.0} ms", seconds * 1000.0)
    } else if seconds < 60.0 {
        format!("{seconds:.1} s")
    } else {
        let whole = seconds.round() as u64;
        format!("{} min {} s", whole / 60, whole % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{LatencyFacts, ScenarioFacts, VulnerabilityFact};

    fn check(facts: Facts, expected: &str) {
        assert_eq!(facts.summary(), expected);
    }

    fn tests(passed: u64, failed: u64, skipped: u64, errors: u64, duration_seconds: f64) -> Facts {
        Facts::Tests(TestFacts {
            total: passed + failed + skipped + errors,
            passed,
            failed,
            skipped,
            errors,
            duration_seconds,
            suites: Vec::new(),
        })
    }

    fn coverage(lines: (u64, u64), branches: (u64, u64), files: u64) -> Facts {
        let rate = |(covered, total): (u64, u64)| (total > 0).then(|| covered as f64 / total as f64);
        Facts::Coverage(CoverageFacts {
            lines_covered: lines.0,
            lines_total: lines.1,
            line_rate: rate(lines),
            branches_covered: branches.0,
            branches_total: branches.1,
            branch_rate: rate(branches),
            files,
            by_file: BTreeMap::new(),
        })
    }

    fn findings(levels: [u64; 4], tools: &[&str]) -> Facts {
        Facts::Findings(FindingFacts {
            total: levels.iter().sum(),
            by_level: FindingLevel::ALL.into_iter().zip(levels).collect(),
            by_rule: BTreeMap::new(),
            by_file: BTreeMap::new(),
            tools: tools.iter().map(|tool| tool.to_string()).collect(),
        })
    }

    fn sbom(components: u64, licenses: &[(&str, u64)], without_license: u64, severities: &[Severity]) -> Facts {
        let mut by_severity: BTreeMap<Severity, u64> = Severity::ALL.into_iter().map(|s| (s, 0)).collect();
        for severity in severities {
            *by_severity.entry(*severity).or_default() += 1;
        }
        Facts::Sbom(SbomFacts {
            spec_version: "1.5".to_owned(),
            components,
            licenses: licenses.iter().map(|(name, n)| (name.to_string(), *n)).collect(),
            components_without_license: without_license,
            vulnerabilities: severities
                .iter()
                .map(|severity| VulnerabilityFact { id: None, severity: *severity, affects: Vec::new() })
                .collect(),
            vulnerabilities_by_severity: by_severity,
        })
    }

    fn load_test(tool: LoadTestTool, scenarios: &[(u64, u64, Option<f64>)]) -> Facts {
        Facts::LoadTest(LoadTestFacts {
            tool,
            scenarios: scenarios
                .iter()
                .map(|&(requests, failed, p95)| ScenarioFacts {
                    name: "s".to_owned(),
                    requests,
                    failed,
                    error_rate: 0.0,
                    throughput_per_second: 0.0,
                    duration_seconds: 0.0,
                    latency_ms: LatencyFacts { p95, ..LatencyFacts::default() },
                })
                .collect(),
        })
    }

    #[test]
    fn a_load_test_shows_its_failed_share_and_the_slowest_p95() {
        check(
            load_test(LoadTestTool::K6, &[(12_000, 48, Some(212.4)), (34, 0, Some(15.0))]),
            "k6: 2 scenarios, 12,034 requests, 0.4% failed, p95 up to 212 ms",
        );
        check(
            load_test(LoadTestTool::Jmeter, &[(10_000, 1, Some(9.25))]),
            "JMeter: 1 scenario, 10,000 requests, <0.1% failed, p95 9.2 ms",
        );
        check(
            load_test(LoadTestTool::K6, &[(3, 1, Some(12.6))]),
            "k6: 1 scenario, 3 requests, 33.3% failed, p95 13 ms",
        );
        check(load_test(LoadTestTool::K6, &[(10_000, 9_999, None)]), "k6: 1 scenario, 10,000 requests, >99.9% failed");
        check(load_test(LoadTestTool::Jmeter, &[(1, 0, None)]), "JMeter: 1 scenario, 1 request, 0.0% failed");
        check(load_test(LoadTestTool::K6, &[]), "k6: 0 scenarios, no requests");
    }

    #[test]
    fn large_counts_are_grouped_in_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn a_test_report_counts_outcomes_and_leaves_out_the_empty_ones() {
        check(tests(5, 1, 1, 0, 1.25), "7 tests: 5 passed, 1 failed, 1 skipped (1.2 s)");
        check(tests(120, 0, 0, 0, 0.042), "120 tests: 120 passed (42 ms)");
        check(tests(0, 0, 0, 1, 125.0), "1 test: 0 passed, 1 error (2 min 5 s)");
        check(tests(0, 0, 0, 0, 0.0), "no tests");
    }

    #[test]
    fn coverage_rounds_rates_down_so_only_full_coverage_shows_100_percent() {
        check(coverage((1234, 1520), (30, 50), 42), "lines 81.1% (1234/1520), branches 60.0% (30/50), 42 files");
        check(coverage((9999, 10000), (1, 1), 1), "lines 99.9% (9999/10000), branches 100.0% (1/1), 1 file");
        check(coverage((0, 0), (0, 0), 0), "no instrumented lines, no branch data, 0 files");
    }

    #[test]
    fn findings_are_counted_by_level_with_their_tools() {
        check(findings([1, 3, 8, 0], &["clippy"]), "12 findings: 1 error, 3 warnings, 8 notes (clippy)");
        check(
            findings([0, 1, 0, 2], &["semgrep", "clippy"]),
            "3 findings: 1 warning, 2 with level none (semgrep, clippy)",
        );
        check(findings([0, 0, 0, 0], &[]), "no findings");
    }

    #[test]
    fn a_bill_of_materials_names_vulnerabilities_by_severity_and_the_most_used_licenses() {
        check(
            sbom(
                143,
                &[("MIT", 80), ("Apache-2.0", 40), ("ISC", 5), ("BSD-3-Clause", 5), ("Zlib", 1)],
                3,
                &[Severity::Medium, Severity::High, Severity::Medium],
            ),
            "143 components, 3 vulnerabilities (1 high, 2 medium), \
             licenses: MIT (80), Apache-2.0 (40), BSD-3-Clause (5) and 2 more, 3 without license",
        );
        check(
            sbom(1, &[("MIT", 1)], 0, &[Severity::Unknown]),
            "1 component, 1 vulnerability (1 unknown), licenses: MIT (1)",
        );
        check(sbom(0, &[], 0, &[]), "0 components, no vulnerabilities, no licenses");
    }
}
