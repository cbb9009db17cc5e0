//! Normalized facts: what a policy may ask about a piece of evidence, independent of the tool
//! that wrote it.
//!
//! [`Facts`] serialize to JSON with a `format_version` and a `kind` tag. That JSON is a stored
//! format: a change to a field's meaning or name needs a new [`FORMAT_VERSION`]. Adding a field is
//! a compatible change. This module holds no parsing; the parsers fill these types.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The version of the stored JSON form of [`Facts`]. Deserializing refuses any other version.
pub const FORMAT_VERSION: u32 = 1;

/// The facts extracted from one piece of evidence.
///
/// Serializes as one JSON object: `{"format_version": 1, "kind": "tests", ...}` with the fields
/// of the variant's struct beside `kind`.
#[derive(Debug, Clone, PartialEq)]
pub enum Facts {
    /// From a test report (JUnit XML).
    Tests(TestFacts),
    /// From a coverage report (Cobertura XML, LCOV).
    Coverage(CoverageFacts),
    /// From a static-analysis report (SARIF).
    Findings(FindingFacts),
    /// From a software bill of materials (CycloneDX JSON).
    Sbom(SbomFacts),
    /// From the results of a load test (a k6 summary, a JMeter results file).
    LoadTest(LoadTestFacts),
}

/// Test outcomes, counted from the individual test cases of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestFacts {
    /// The number of test cases.
    pub total: u64,
    /// Test cases with no failure, error or skip marker.
    pub passed: u64,
    /// Test cases with a `<failure>` (and no `<error>`).
    pub failed: u64,
    /// Test cases marked `<skipped>` (and with no failure or error).
    pub skipped: u64,
    /// Test cases with an `<error>`.
    pub errors: u64,
    /// The run's duration: the root element's `time`, else the sum of the suites' durations.
    pub duration_seconds: f64,
    /// Every suite that directly holds test cases, or holds nothing, in the order they close.
    pub suites: Vec<SuiteFacts>,
}

/// The outcomes of one test suite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuiteFacts {
    /// The suite's `name` attribute, empty when it has none.
    pub name: String,
    /// The number of test cases directly in this suite.
    pub total: u64,
    /// See [`TestFacts::passed`].
    pub passed: u64,
    /// See [`TestFacts::failed`].
    pub failed: u64,
    /// See [`TestFacts::skipped`].
    pub skipped: u64,
    /// See [`TestFacts::errors`].
    pub errors: u64,
    /// The suite's `time` attribute, else the sum of its test cases' `time`.
    pub duration_seconds: f64,
}

/// Line and branch coverage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoverageFacts {
    /// Instrumented lines.
    pub lines_total: u64,
    /// Instrumented lines executed at least once.
    pub lines_covered: u64,
    /// `lines_covered / lines_total`; `None` when there are no instrumented lines, since any
    /// number would be made up.
    pub line_rate: Option<f64>,
    /// Branches (outcomes of conditions).
    pub branches_total: u64,
    /// Branches taken at least once.
    pub branches_covered: u64,
    /// `branches_covered / branches_total`; `None` when the report has no branch data.
    pub branch_rate: Option<f64>,
    /// Distinct source files in the report.
    pub files: u64,
    /// The same counts for each source file, by the path the report names it with. Empty for a
    /// report that has only totals. Absent from facts stored before it existed, which read back
    /// with an empty map.
    #[serde(default)]
    pub by_file: BTreeMap<String, FileCoverage>,
}

/// The line and branch counts of one source file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCoverage {
    /// Instrumented lines.
    pub lines_total: u64,
    /// Instrumented lines executed at least once.
    pub lines_covered: u64,
    /// Branches.
    pub branches_total: u64,
    /// Branches taken at least once.
    pub branches_covered: u64,
}

/// Static-analysis findings (SARIF results).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingFacts {
    /// The number of results.
    pub total: u64,
    /// Results by level; every level is present, with zero when it has no results.
    pub by_level: BTreeMap<FindingLevel, u64>,
    /// Results by rule id. Results without a rule id are counted only in `total` and `by_level`.
    pub by_rule: BTreeMap<String, u64>,
    /// Results by the URI of their first location. Results without one are counted only in
    /// `total` and `by_level`.
    pub by_file: BTreeMap<String, u64>,
    /// The distinct names of the tools (`tool.driver.name`) of all runs, in run order.
    pub tools: Vec<String>,
}

/// The level of a static-analysis finding, as SARIF 2.1.0 defines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingLevel {
    /// A serious problem.
    Error,
    /// A problem; the SARIF default.
    Warning,
    /// A minor problem or an opportunity for improvement.
    Note,
    /// Not a problem, such as a passing check.
    None,
}

/// What a software bill of materials says about components, licenses and vulnerabilities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SbomFacts {
    /// The CycloneDX `specVersion`, such as `1.5`.
    pub spec_version: String,
    /// The number of components, nested ones included; the subject in `metadata.component` is
    /// not counted.
    pub components: u64,
    /// Components by license: an SPDX id, a license name, or a whole SPDX expression such as
    /// `MIT OR Apache-2.0`. A component with several licenses counts once for each.
    pub licenses: BTreeMap<String, u64>,
    /// Components that declare no license at all.
    pub components_without_license: u64,
    /// Every vulnerability, in document order.
    pub vulnerabilities: Vec<VulnerabilityFact>,
    /// Vulnerabilities by severity; every severity is present, with zero when it has none.
    pub vulnerabilities_by_severity: BTreeMap<Severity, u64>,
}

/// One vulnerability of a software bill of materials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VulnerabilityFact {
    /// The vulnerability's `id` (such as a CVE or GHSA id), else its `bom-ref`.
    pub id: Option<String>,
    /// The highest severity among its ratings; `unknown` when it has none.
    pub severity: Severity,
    /// The `bom-ref`s of the components it affects.
    pub affects: Vec<String>,
}

/// The severity of a vulnerability, as CycloneDX defines it, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Critical.
    Critical,
    /// High.
    High,
    /// Medium.
    Medium,
    /// Low.
    Low,
    /// Informational.
    Info,
    /// Rated as no risk.
    None,
    /// Not rated, or rated as unknown.
    Unknown,
}

/// What a load test measured, per scenario.
///
/// A scenario is a k6 scenario or a JMeter sampler label. Figures the tool did not report are
/// `null`, never estimated: a k6 summary carries only the percentiles its `summaryTrendStats`
/// asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadTestFacts {
    /// The tool that wrote the results.
    pub tool: LoadTestTool,
    /// Every scenario, by name.
    pub scenarios: Vec<ScenarioFacts>,
}

/// The load-testing tool that wrote a piece of load-test evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadTestTool {
    /// Grafana k6.
    K6,
    /// Apache JMeter.
    Jmeter,
}

/// The figures of one load-test scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioFacts {
    /// The k6 scenario (`default` for a test without named scenarios) or the JMeter label.
    pub name: String,
    /// Requests (k6) or samples (JMeter) made.
    pub requests: u64,
    /// Requests that failed: k6's `http_req_failed`, JMeter's `success=false`.
    pub failed: u64,
    /// `failed / requests`; zero when there were no requests.
    pub error_rate: f64,
    /// Requests per second over `duration_seconds`.
    pub throughput_per_second: f64,
    /// k6: the whole test run, which is what k6's rates are measured over. JMeter: from the
    /// label's first sample start to its last sample end, as JMeter's Aggregate Report measures.
    pub duration_seconds: f64,
    /// Request durations in milliseconds.
    pub latency_ms: LatencyFacts,
}

/// Request durations in milliseconds; `None` for a figure the tool did not report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyFacts {
    /// The mean.
    pub mean: Option<f64>,
    /// The median.
    pub p50: Option<f64>,
    /// The 90th percentile.
    pub p90: Option<f64>,
    /// The 95th percentile.
    pub p95: Option<f64>,
    /// The 99th percentile.
    pub p99: Option<f64>,
    /// The longest.
    pub max: Option<f64>,
}

/// The stored form of [`Facts`]: the version beside the tagged variant.
#[derive(Serialize)]
struct StoredFacts<'a> {
    format_version: u32,
    #[serde(flatten)]
    facts: TaggedFacts<'a>,
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum TaggedFacts<'a> {
    Tests(&'a TestFacts),
    Coverage(&'a CoverageFacts),
    Findings(&'a FindingFacts),
    Sbom(&'a SbomFacts),
    LoadTest(&'a LoadTestFacts),
}

#[derive(Deserialize)]
struct OwnedStoredFacts {
    format_version: u32,
    #[serde(flatten)]
    facts: OwnedTaggedFacts,
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum OwnedTaggedFacts {
    Tests(TestFacts),
    Coverage(CoverageFacts),
    Findings(FindingFacts),
    Sbom(SbomFacts),
    LoadTest(LoadTestFacts),
}

impl FindingLevel {
    /// Every level, most severe first.
    pub const ALL: [FindingLevel; 4] =
        [FindingLevel::Error, FindingLevel::Warning, FindingLevel::Note, FindingLevel::None];
}

impl Severity {
    /// Every severity, most severe first.
    pub const ALL: [Severity; 7] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
        Severity::None,
        Severity::Unknown,
    ];
}

impl Serialize for Facts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let facts = match self {
            Facts::Tests(facts) => TaggedFacts::Tests(facts),
            Facts::Coverage(facts) => TaggedFacts::Coverage(facts),
            Facts::Findings(facts) => TaggedFacts::Findings(facts),
            Facts::Sbom(facts) => TaggedFacts::Sbom(facts),
            Facts::LoadTest(facts) => TaggedFacts::LoadTest(facts),
        };
        StoredFacts { format_version: FORMAT_VERSION, facts }.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Facts {
    /// Reads the stored form back; fails on a `format_version` other than [`FORMAT_VERSION`].
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let stored = OwnedStoredFacts::deserialize(deserializer)?;
        if stored.format_version != FORMAT_VERSION {
            return Err(serde::de::Error::custom(format_args!(
                "unsupported facts format_version {}, expected {FORMAT_VERSION}",
                stored.format_version
            )));
        }
        Ok(match stored.facts {
            OwnedTaggedFacts::Tests(facts) => Facts::Tests(facts),
            OwnedTaggedFacts::Coverage(facts) => Facts::Coverage(facts),
            OwnedTaggedFacts::Findings(facts) => Facts::Findings(facts),
            OwnedTaggedFacts::Sbom(facts) => Facts::Sbom(facts),
            OwnedTaggedFacts::LoadTest(facts) => Facts::LoadTest(facts),
        })
    }
}

/// `numerator / denominator`, or `None` when the denominator is zero.
pub(crate) fn rate(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

/// Rounds a duration to whole microseconds, so sums of many `time` attributes do not show
/// floating-point noise such as `0.30000000000000004`.
pub(crate) fn round_seconds(seconds: f64) -> f64 {
    (seconds * 1_000_000.0).round() / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coverage() -> Facts {
        Facts::Coverage(CoverageFacts {
            lines_total: 4,
            lines_covered: 3,
            line_rate: Some(0.75),
            branches_total: 0,
            branches_covered: 0,
            branch_rate: None,
            files: 1,
            by_file: BTreeMap::from([(
                "src/a.rs".to_owned(),
                FileCoverage { lines_total: 4, lines_covered: 3, branches_total: 0, branches_covered: 0 },
            )]),
        })
    }

    #[test]
    fn facts_serialize_with_format_version_and_kind() {
        insta::assert_json_snapshot!(coverage(), @r#"
        {
          "format_version": 1,
          "kind": "coverage",
          "lines_total": 4,
          "lines_covered": 3,
          "line_rate": 0.75,
          "branches_total": 0,
          "branches_covered": 0,
          "branch_rate": null,
          "files": 1,
          "by_file": {
            "src/a.rs": {
              "lines_total": 4,
              "lines_covered": 3,
              "branches_total": 0,
              "branches_covered": 0
            }
          }
        }
        "#);
    }

    #[test]
    fn coverage_stored_before_per_file_counts_reads_back_with_none() {
        let json = r#"{"format_version":1,"kind":"coverage","lines_total":4,"lines_covered":3,"line_rate":0.75,
            "branches_total":0,"branches_covered":0,"branch_rate":null,"files":1}"#;
        let Facts::Coverage(read) = serde_json::from_str::<Facts>(json).expect("old facts deserialize") else {
            panic!("coverage facts")
        };
        assert!(read.by_file.is_empty());
        assert_eq!(read.lines_covered, 3);
    }

    #[test]
    fn stored_facts_read_back_to_the_same_value() {
        let json = serde_json::to_string(&coverage()).expect("facts serialize");
        let read: Facts = serde_json::from_str(&json).expect("stored facts deserialize");
        assert_eq!(read, coverage());
    }

    #[test]
    fn stored_facts_of_another_format_version_are_refused() {
        let json = serde_json::to_string(&coverage())
            .expect("facts serialize")
            .replace(r#""format_version":1"#, r#""format_version":2"#);
        let error = serde_json::from_str::<Facts>(&json).expect_err("version 2 is unknown");
        assert!(error.to_string().contains("format_version 2"), "{error}");
    }

    #[test]
    fn durations_lose_floating_point_noise() {
        assert_eq!(round_seconds(0.1 + 0.2), 0.3);
    }
}
