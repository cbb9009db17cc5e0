//! Parsers of CI evidence into normalized facts.
//!
//! Evidence is what a CI run leaves behind: test reports (JUnit XML), coverage reports
//! (Cobertura XML, LCOV), static-analysis reports (SARIF 2.1.0), software bills of materials
//! (CycloneDX JSON 1.4 to 1.6) and load-test results (k6 JSON summaries, JMeter CSV results). [`parse`] takes the bytes of one such file and returns [`Facts`],
//! a small normalized summary that policies can ask questions of and that is stored as JSON.
//! [`Facts::summary`] says the same in one line for people.
//!
//! This crate is pure: it takes `&[u8]` and returns facts or an [`EvidenceError`]. It reads no
//! files, does no async work and fetches nothing, so it never resolves external entities or
//! schemas. It bounds the work an input can cause (see [`limits`]) and refuses XML internal DTD
//! subsets (where entities are declared) instead of expanding entities, but it does not bound
//! the input's size: that is the caller's job. The largest inputs tested are listed in
//! [`limits`].
#![forbid(unsafe_code)]

mod cobertura;
mod cyclonedx;
mod error;
mod facts;
mod jmeter;
mod json;
mod junit;
mod k6;
mod lcov;
pub mod limits;
mod sarif;
mod summary;
mod text;
mod xml;

pub use crate::error::{EvidenceError, Location};
pub use crate::facts::{
    CoverageFacts, Facts, FileCoverage, FindingFacts, FindingLevel, LatencyFacts, LoadTestFacts, LoadTestTool,
    SbomFacts, ScenarioFacts, Severity, SuiteFacts, TestFacts, VulnerabilityFact, FORMAT_VERSION,
};

/// The formats of evidence this crate reads (defined in core, where records of them live).
pub use tollgate_core::evidence::EvidenceKind;

/// Parses one piece of evidence of the given kind.
///
/// Fails with an [`EvidenceError`] naming the line and column (XML, LCOV, CSV, JSON syntax) or the
/// JSON path (JSON that does not fit the schema) of the first problem: malformed or truncated
/// input, input that is empty or not UTF-8, a schema version this crate does not know, or input
/// that exceeds one of the [`limits`].
pub fn parse(kind: EvidenceKind, bytes: &[u8]) -> Result<Facts, EvidenceError> {
    match kind {
        EvidenceKind::Junit => parse_junit(bytes).map(Facts::Tests),
        EvidenceKind::Cobertura => parse_cobertura(bytes).map(Facts::Coverage),
        EvidenceKind::Lcov => parse_lcov(bytes).map(Facts::Coverage),
        EvidenceKind::Sarif => parse_sarif(bytes).map(Facts::Findings),
        EvidenceKind::Cyclonedx => parse_cyclonedx(bytes).map(Facts::Sbom),
        EvidenceKind::K6 => parse_k6(bytes).map(Facts::LoadTest),
        EvidenceKind::Jmeter => parse_jmeter(bytes).map(Facts::LoadTest),
    }
}

/// Parses a JUnit XML test report. See [`parse`] for when it fails.
///
/// Outcomes are counted from the `<testcase>` elements. The `tests`, `failures`, `errors` and
/// `skipped` attributes of suites are ignored where they disagree with the test cases, because
/// they are a summary that producers get wrong (and some omit); see the `junit` module docs.
pub fn parse_junit(bytes: &[u8]) -> Result<TestFacts, EvidenceError> {
    junit::parse(bytes)
}

/// Parses a Cobertura XML coverage report. See [`parse`] for when it fails.
pub fn parse_cobertura(bytes: &[u8]) -> Result<CoverageFacts, EvidenceError> {
    cobertura::parse(bytes)
}

/// Parses an LCOV tracefile. See [`parse`] for when it fails.
pub fn parse_lcov(bytes: &[u8]) -> Result<CoverageFacts, EvidenceError> {
    lcov::parse(bytes)
}

/// Parses a SARIF 2.1.0 log. See [`parse`] for when it fails.
pub fn parse_sarif(bytes: &[u8]) -> Result<FindingFacts, EvidenceError> {
    sarif::parse(bytes)
}

/// Parses a CycloneDX JSON bill of materials (spec 1.4 to 1.6). See [`parse`] for when it fails.
pub fn parse_cyclonedx(bytes: &[u8]) -> Result<SbomFacts, EvidenceError> {
    cyclonedx::parse(bytes)
}

/// Parses a k6 end-of-test summary: the JSON of `k6 run --summary-export`, or the data
/// `handleSummary` receives. See [`parse`] for when it fails, and the `k6` module docs for how
/// scenarios and k6's inverted `passes`/`fails` of `http_req_failed` are read.
pub fn parse_k6(bytes: &[u8]) -> Result<LoadTestFacts, EvidenceError> {
    k6::parse(bytes)
}

/// Parses a JMeter results file (JTL) in CSV form with a header line, computing each label's
/// figures as JMeter's Aggregate Report does. See [`parse`] for when it fails.
pub fn parse_jmeter(bytes: &[u8]) -> Result<LoadTestFacts, EvidenceError> {
    jmeter::parse(bytes)
}
