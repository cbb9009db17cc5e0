//! Files written by real tools (see scripts/make-evidence-fixtures.sh), parsed into facts.
//!
//! Each test snapshots the facts and checks a few of them against an independent count of the
//! same file, so a snapshot accepted by mistake still cannot hide a miscount.

use tollgate_evidence::{parse, EvidenceKind, Facts, FindingLevel, LoadTestFacts, ScenarioFacts};

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("fixture {}: {error}", path.display()))
}

fn text(name: &str) -> String {
    String::from_utf8(fixture(name)).expect("fixtures are UTF-8")
}

fn facts(kind: EvidenceKind, name: &str) -> Facts {
    parse(kind, &fixture(name)).unwrap_or_else(|error| panic!("{name}: {error}"))
}

#[test]
fn the_nextest_report_of_tollgate_core_counts_every_test_case_as_passed() {
    let facts = facts(EvidenceKind::Junit, "nextest-tollgate-core.junit.xml");
    insta::assert_json_snapshot!("nextest-tollgate-core", facts);
    let Facts::Tests(tests) = facts else { panic!("a test report gives test facts") };
    let n_testcases = text("nextest-tollgate-core.junit.xml").matches("<testcase ").count() as u64;
    assert!(n_testcases > 0);
    assert_eq!(tests.total, n_testcases);
    assert_eq!(tests.passed, n_testcases);
    assert_eq!((tests.failed, tests.errors, tests.skipped), (0, 0, 0));
}

#[test]
fn the_nextest_report_of_a_failing_crate_counts_its_failure() {
    let facts = facts(EvidenceKind::Junit, "nextest-demo.junit.xml");
    insta::assert_json_snapshot!("nextest-demo", facts);
    let Facts::Tests(tests) = facts else { panic!("a test report gives test facts") };
    // Nextest leaves ignored tests out of its report.
    assert_eq!((tests.total, tests.passed, tests.failed), (3, 2, 1));
}

#[test]
fn the_pytest_report_counts_a_failure_and_a_skip() {
    let facts = facts(EvidenceKind::Junit, "pytest-demo.junit.xml");
    insta::assert_json_snapshot!("pytest-demo", facts);
    let Facts::Tests(tests) = facts else { panic!("a test report gives test facts") };
    assert_eq!((tests.total, tests.passed, tests.failed, tests.skipped, tests.errors), (5, 3, 1, 1, 0));
}

#[test]
fn the_clippy_sarif_of_tollgate_core_has_no_findings() {
    let facts = facts(EvidenceKind::Sarif, "tollgate-core.clippy.sarif");
    let Facts::Findings(findings) = facts else { panic!("SARIF gives findings") };
    assert_eq!(findings.total, 0);
    assert!(findings.by_level.values().all(|&count| count == 0));
    assert_eq!(findings.tools, ["clippy"]);
}

#[test]
fn the_clippy_sarif_of_a_linty_crate_counts_findings_by_level_rule_and_file() {
    let facts = facts(EvidenceKind::Sarif, "demo.clippy.sarif");
    insta::assert_json_snapshot!("demo-clippy-sarif", facts);
    let Facts::Findings(findings) = facts else { panic!("SARIF gives findings") };
    let log: serde_json::Value = serde_json::from_slice(&fixture("demo.clippy.sarif")).expect("JSON");
    let results = log["runs"][0]["results"].as_array().expect("results");
    assert_eq!(findings.total, results.len() as u64);
    assert_eq!(findings.by_level[&FindingLevel::Error], 1, "absurd_extreme_comparisons is deny-by-default");
}

#[test]
fn the_cyclonedx_sbom_of_the_workspace_counts_components_and_licenses() {
    let facts = facts(EvidenceKind::Cyclonedx, "tollgate.cdx.json");
    insta::assert_json_snapshot!("tollgate-cdx", facts);
    let Facts::Sbom(sbom) = facts else { panic!("CycloneDX gives SBOM facts") };
    let bom: serde_json::Value = serde_json::from_slice(&fixture("tollgate.cdx.json")).expect("JSON");
    let (n_components, n_without_license) = count_components(&bom["components"]);
    assert!(n_components > 50, "the workspace has many dependencies");
    assert_eq!(sbom.components, n_components);
    assert_eq!(sbom.components_without_license, n_without_license);
    assert_eq!(sbom.licenses.values().sum::<u64>(), n_components - n_without_license, "one license each");
    assert_eq!(sbom.spec_version, "1.5");
    assert!(sbom.vulnerabilities.is_empty(), "cargo-cyclonedx writes no vulnerabilities");
}

/// Counts components (nested included) and those without licenses, independently of the parser.
fn count_components(components: &serde_json::Value) -> (u64, u64) {
    let mut counts = (0, 0);
    for component in components.as_array().into_iter().flatten() {
        counts.0 += 1;
        if component["licenses"].as_array().is_none_or(Vec::is_empty) {
            counts.1 += 1;
        }
        let nested = count_components(&component["components"]);
        counts = (counts.0 + nested.0, counts.1 + nested.1);
    }
    counts
}

#[test]
fn coverage_py_agrees_with_itself_across_lcov_and_cobertura() {
    let lcov = facts(EvidenceKind::Lcov, "coveragepy-demo.lcov");
    let cobertura = facts(EvidenceKind::Cobertura, "coveragepy-demo.cobertura.xml");
    insta::assert_json_snapshot!("coveragepy-demo", lcov);
    assert_eq!(lcov, cobertura);
    let Facts::Coverage(coverage) = cobertura else { panic!("coverage facts") };
    // The same numbers coverage.py wrote into the <coverage> attributes.
    let summary = (coverage.lines_total, coverage.lines_covered, coverage.branches_total, coverage.branches_covered);
    assert_eq!(summary, (27, 22, 8, 5));
}

#[test]
fn llvm_cov_agrees_with_itself_across_lcov_and_cobertura() {
    let lcov = facts(EvidenceKind::Lcov, "llvm-cov-tollgate-core.lcov");
    let cobertura = facts(EvidenceKind::Cobertura, "llvm-cov-tollgate-core.cobertura.xml");
    insta::assert_json_snapshot!("llvm-cov-tollgate-core", lcov);
    let (Facts::Coverage(lcov), Facts::Coverage(cobertura)) = (lcov, cobertura) else { panic!("coverage facts") };
    assert_eq!(
        (lcov.lines_total, lcov.lines_covered, lcov.files),
        (cobertura.lines_total, cobertura.lines_covered, cobertura.files)
    );
    for coverage in [&lcov, &cobertura] {
        assert_eq!(coverage.by_file.len() as u64, coverage.files);
        let lines_covered: u64 = coverage.by_file.values().map(|file| file.lines_covered).sum();
        let lines_total: u64 = coverage.by_file.values().map(|file| file.lines_total).sum();
        assert_eq!((lines_covered, lines_total), (coverage.lines_covered, coverage.lines_total));
    }
    // The same numbers llvm-cov wrote into the <coverage> attributes.
    let attributes = text("llvm-cov-tollgate-core.cobertura.xml");
    assert!(attributes.contains(&format!("lines-valid=\"{}\"", cobertura.lines_total)));
    assert!(attributes.contains(&format!("lines-covered=\"{}\"", cobertura.lines_covered)));
}

#[test]
fn every_real_report_has_a_one_line_summary() {
    let summaries: Vec<String> = [
        (EvidenceKind::Junit, "nextest-demo.junit.xml"),
        (EvidenceKind::Junit, "pytest-demo.junit.xml"),
        (EvidenceKind::Cobertura, "coveragepy-demo.cobertura.xml"),
        (EvidenceKind::Lcov, "llvm-cov-tollgate-core.lcov"),
        (EvidenceKind::Sarif, "demo.clippy.sarif"),
        (EvidenceKind::Cyclonedx, "tollgate.cdx.json"),
        (EvidenceKind::K6, "k6-scenarios.summary-export.json"),
        (EvidenceKind::K6, "k6-default.summary-export.json"),
        (EvidenceKind::Jmeter, "jmeter-demo.jtl"),
    ]
    .into_iter()
    .map(|(kind, name)| format!("{name}: {}", facts(kind, name).summary()))
    .collect();
    insta::assert_snapshot!(summaries.join("\n"), @r"
    nextest-demo.junit.xml: 3 tests: 2 passed, 1 failed (122 ms)
    pytest-demo.junit.xml: 5 tests: 3 passed, 1 failed, 1 skipped (98 ms)
    coveragepy-demo.cobertura.xml: lines 81.4% (22/27), branches 62.5% (5/8), 2 files
    llvm-cov-tollgate-core.lcov: lines 90.5% (1393/1538), no branch data, 15 files
    demo.clippy.sarif: 6 findings: 1 error, 5 warnings (clippy)
    tollgate.cdx.json: 274 components, no vulnerabilities, licenses: MIT OR Apache-2.0 (149), MIT (44), Apache-2.0 OR MIT (28) and 18 more
    k6-scenarios.summary-export.json: k6: 2 scenarios, 100 requests, 6.0% failed, p95 up to 6.7 ms
    k6-default.summary-export.json: k6: 1 scenario, 30 requests, 0.0% failed, p95 8.5 ms
    jmeter-demo.jtl: JMeter: 3 scenarios, 300 requests, 33.3% failed, p95 up to 65 ms
    ");
}

fn load_test(kind: EvidenceKind, name: &str) -> LoadTestFacts {
    match facts(kind, name) {
        Facts::LoadTest(load_test) => load_test,
        other => panic!("{name} gives load-test facts, not {other:?}"),
    }
}

#[test]
fn the_k6_summary_export_of_two_scenarios_has_their_sub_metrics() {
    let facts = load_test(EvidenceKind::K6, "k6-scenarios.summary-export.json");
    insta::assert_json_snapshot!("k6-scenarios", Facts::LoadTest(facts.clone()));
    let summary: serde_json::Value =
        serde_json::from_slice(&fixture("k6-scenarios.summary-export.json")).expect("JSON");
    let names: Vec<&str> = facts.scenarios.iter().map(|scenario| scenario.name.as_str()).collect();
    assert_eq!(names, ["browse", "checkout"]);
    // The plan: 60 browse iterations, every tenth of each VU's a 404; 40 checkout iterations.
    let browse = &facts.scenarios[0];
    assert_eq!((browse.requests, browse.failed), (60, 6));
    assert_eq!((facts.scenarios[1].requests, facts.scenarios[1].failed), (40, 0));
    let untagged = &summary["metrics"]["http_req_failed"];
    assert_eq!(untagged["passes"].as_u64(), Some(6), "passes of http_req_failed are the failed requests");
    assert_eq!(browse.latency_ms.p99, summary["metrics"]["http_req_duration{scenario:browse}"]["p(99)"].as_f64());
}

#[test]
fn both_k6_json_shapes_of_one_run_give_the_same_facts() {
    let exported = load_test(EvidenceKind::K6, "k6-scenarios.summary-export.json");
    let handed = load_test(EvidenceKind::K6, "k6-scenarios.handle-summary.json");
    let without_duration = |scenarios: &[ScenarioFacts]| -> Vec<ScenarioFacts> {
        scenarios.iter().map(|scenario| ScenarioFacts { duration_seconds: 0.0, ..scenario.clone() }).collect()
    };
    assert_eq!(without_duration(&exported.scenarios), without_duration(&handed.scenarios));
    // The export has no run duration; count / rate gives it back to within rounding.
    for (exported, handed) in exported.scenarios.iter().zip(&handed.scenarios) {
        assert!((exported.duration_seconds - handed.duration_seconds).abs() < 1e-5, "{exported:?} {handed:?}");
    }
}

#[test]
fn the_k6_default_scenario_has_no_p99_since_k6_did_not_report_one() {
    let facts = load_test(EvidenceKind::K6, "k6-default.summary-export.json");
    insta::assert_json_snapshot!("k6-default", Facts::LoadTest(facts.clone()));
    let [scenario] = facts.scenarios.as_slice() else { panic!("one scenario") };
    assert_eq!((scenario.name.as_str(), scenario.requests, scenario.failed), ("default", 30, 0));
    assert!(scenario.latency_ms.p95.is_some());
    assert_eq!(scenario.latency_ms.p99, None);
}

#[test]
fn the_jmeter_results_match_jmeter_aggregate_report() {
    let facts = load_test(EvidenceKind::Jmeter, "jmeter-demo.jtl");
    insta::assert_json_snapshot!("jmeter-demo", Facts::LoadTest(facts.clone()));
    // Columns: label, samples, errors, mean, median, 90%, 95%, 99%, max, throughput; computed by
    // JMeter's own SamplingStatCalculator (scripts/loadtest/JmeterAggregate.java).
    let aggregate = text("jmeter-demo.aggregate.tsv");
    let rows: Vec<Vec<&str>> = aggregate.lines().map(|line| line.split('\t').collect()).collect();
    assert_eq!(rows.len(), facts.scenarios.len());
    for (row, scenario) in rows.iter().zip(&facts.scenarios) {
        let number = |index: usize| row[index].parse::<f64>().expect("a number");
        assert_eq!(row[0], scenario.name);
        assert_eq!((scenario.requests as f64, scenario.failed as f64), (number(1), number(2)), "{}", row[0]);
        let latency = &scenario.latency_ms;
        let ours = [latency.mean, latency.p50, latency.p90, latency.p95, latency.p99, latency.max];
        let jmeters = [number(3), number(4), number(5), number(6), number(7), number(8)];
        for (ours, jmeters) in ours.into_iter().zip(jmeters) {
            assert!((ours.expect("every figure is known") - jmeters).abs() < 1e-6, "{}: {ours:?} vs {jmeters}", row[0]);
        }
        assert!((scenario.throughput_per_second - number(9)).abs() < 1e-5, "{}", row[0]);
    }
    assert_eq!(facts.scenarios.iter().find(|scenario| scenario.name == "missing page").map(|s| s.failed), Some(100));
}
