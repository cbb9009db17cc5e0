//! k6 end-of-test summaries into [`LoadTestFacts`].
//!
//! Two JSON shapes are read, both with a `metrics` object keyed by metric name:
//! - `k6 run --summary-export=summary.json`: each metric's figures sit directly in it,
//!   `"http_reqs": {"count": 100, "rate": 549.9}`;
//! - the data `handleSummary` receives (written out with `JSON.stringify`): each metric's
//!   figures sit in `values`, `"http_reqs": {"type": "counter", "values": {"count": 100, ...}}`,
//!   and `state.testRunDurationMs` gives the run's duration.
//!
//! Requests come from the counter `http_reqs` (`count`, and `rate` per second over the whole run).
//! Failures come from the rate metric `http_req_failed`, whose naming is inverted: a rate metric
//! counts a sample as a *pass* when its value is non-zero, and `http_req_failed` is non-zero for a
//! failed request, so `passes` is the number of failed requests, `fails` the number of requests
//! that did not fail, and `value` (`rate`) the fraction that failed. Latency comes from the trend
//! `http_req_duration`: `avg`, `med`, `p(90)`, `p(95)`, `p(99)` and `max`, in milliseconds (k6
//! keeps time metrics in milliseconds; `summaryTimeUnit` changes only the printed summary). A
//! percentile the summary does not carry (k6 reports `p(99)` only when `summaryTrendStats` asks
//! for it) is `None`, never estimated.
//!
//! Scenarios: k6 summarizes a sub-metric such as `http_reqs{scenario:checkout}` only when a
//! threshold names it. When the summary has sub-metrics tagged with exactly one tag,
//! `scenario`, each such scenario becomes one [`ScenarioFacts`] from them; otherwise the untagged
//! metrics become one scenario named `default`. Other sub-metrics
//! (`http_req_duration{expected_response:true}`) are ignored. A scenario whose failures or
//! request count the summary does not give is refused rather than assumed to have none.
//!
//! k6's rates are per second over the whole test run, so every scenario's duration is the run's:
//! `state.testRunDurationMs` when present, else `count / rate` of `http_reqs` (or `iterations`).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::facts::round_seconds;
use crate::limits::MAX_SCENARIOS;
use crate::text::{excerpt, Source};
use crate::{EvidenceError, EvidenceKind, LatencyFacts, LoadTestFacts, LoadTestTool, ScenarioFacts};

/// The name of the one scenario of a summary without per-scenario sub-metrics.
const DEFAULT_SCENARIO: &str = "default";

/// Parses a k6 summary (`--summary-export` or `handleSummary` JSON).
pub(crate) fn parse(bytes: &[u8]) -> Result<LoadTestFacts, EvidenceError> {
    let source = Source::new(EvidenceKind::K6, bytes)?;
    crate::json::check_structure(source)?;
    let summary: Summary = crate::json::deserialize(source)?;
    let run_seconds = summary.run_seconds();
    let metrics = Metrics::group(&summary.metrics)?;
    let scenarios =
        metrics.into_iter().map(|(name, scenario)| scenario.facts(name, run_seconds)).collect::<Result<Vec<_>, _>>()?;
    Ok(LoadTestFacts { tool: LoadTestTool::K6, scenarios })
}

#[derive(Deserialize)]
struct Summary {
    metrics: BTreeMap<String, Metric>,
    #[serde(default)]
    state: Option<State>,
}

#[derive(Deserialize)]
struct State {
    #[serde(rename = "testRunDurationMs")]
    test_run_duration_ms: Option<f64>,
}

/// One metric in either shape: figures inline (`--summary-export`) or under `values`
/// (`handleSummary`).
#[derive(Deserialize)]
struct Metric {
    #[serde(default)]
    values: Option<Values>,
    #[serde(flatten)]
    inline: Values,
}

#[derive(Deserialize, Default, Clone, Copy)]
struct Values {
    avg: Option<f64>,
    med: Option<f64>,
    max: Option<f64>,
    #[serde(rename = "p(90)")]
    p90: Option<f64>,
    #[serde(rename = "p(95)")]
    p95: Option<f64>,
    #[serde(rename = "p(99)")]
    p99: Option<f64>,
    count: Option<f64>,
    rate: Option<f64>,
    passes: Option<f64>,
    fails: Option<f64>,
}

/// The metrics one scenario is made of.
#[derive(Default)]
struct Metrics<'a> {
    requests: Option<(&'a str, Values)>,
    failed: Option<(&'a str, Values)>,
    duration: Option<Values>,
}

impl Metric {
    fn values(&self) -> Values {
        self.values.unwrap_or(self.inline)
    }
}

impl Summary {
    fn run_seconds(&self) -> Option<f64> {
        if let Some(milliseconds) = self.state.as_ref().and_then(|state| state.test_run_duration_ms) {
            return Some(milliseconds / 1000.0);
        }
        ["http_reqs", "iterations"].into_iter().find_map(|name| {
            let values = self.metrics.get(name)?.values();
            let (count, rate) = (values.count?, values.rate?);
            (count > 0.0 && rate > 0.0).then(|| count / rate)
        })
    }
}

impl<'a> Metrics<'a> {
    /// The metrics of each scenario, by scenario name.
    fn group(metrics: &'a BTreeMap<String, Metric>) -> Result<BTreeMap<&'a str, Metrics<'a>>, EvidenceError> {
        let mut by_scenario: BTreeMap<&'a str, Metrics<'a>> = BTreeMap::new();
        for (key, metric) in metrics {
            if let Some((name, scenario)) = scenario_sub_metric(key) {
                if !by_scenario.contains_key(scenario) && by_scenario.len() == MAX_SCENARIOS {
                    return Err(EvidenceError::at_path(
                        EvidenceKind::K6,
                        metric_path(key),
                        format!("more than the limit of {MAX_SCENARIOS} scenarios"),
                    ));
                }
                by_scenario.entry(scenario).or_default().add(name, key, metric);
            }
        }
        if by_scenario.is_empty() {
            let default = by_scenario.entry(DEFAULT_SCENARIO).or_default();
            for (key, metric) in metrics {
                default.add(key, key, metric);
            }
        }
        Ok(by_scenario)
    }

    fn add(&mut self, name: &str, key: &'a str, metric: &Metric) {
        match name {
            "http_reqs" => self.requests = Some((key, metric.values())),
            "http_req_failed" => self.failed = Some((key, metric.values())),
            "http_req_duration" => self.duration = Some(metric.values()),
            _ => {}
        }
    }

    fn facts(self, name: &str, run_seconds: Option<f64>) -> Result<ScenarioFacts, EvidenceError> {
        let (failed_key, failed_values) = self.failed.ok_or_else(|| {
            EvidenceError::at_path(
                EvidenceKind::K6,
                "$.metrics",
                format!(
                    "no {} metric, so the failures of scenario {} are unknown",
                    metric_name("http_req_failed", name),
                    excerpt(name)
                ),
            )
        })?;
        let failed = count(failed_key, "passes", failed_values.passes)?;
        let not_failed = count(failed_key, "fails", failed_values.fails)?;
        let (requests, rate) = match self.requests {
            Some((key, values)) => (count(key, "count", values.count)?, values.rate),
            None => (failed + not_failed, None),
        };
        let duration_seconds = run_seconds.map_or(0.0, round_seconds);
        let throughput_per_second = match rate {
            Some(rate) => rate,
            None if duration_seconds > 0.0 => requests as f64 / duration_seconds,
            None => 0.0,
        };
        let latency = self.duration.unwrap_or_default();
        Ok(ScenarioFacts {
            name: name.to_owned(),
            requests,
            failed,
            error_rate: if requests == 0 { 0.0 } else { failed as f64 / requests as f64 },
            throughput_per_second,
            duration_seconds,
            latency_ms: LatencyFacts {
                mean: latency.avg,
                p50: latency.med,
                p90: latency.p90,
                p95: latency.p95,
                p99: latency.p99,
                max: latency.max,
            },
        })
    }
}

/// Splits `http_reqs{scenario:checkout}` into `("http_reqs", "checkout")`; `None` for an
/// untagged metric or one with any other tag set.
fn scenario_sub_metric(key: &str) -> Option<(&str, &str)> {
    let (name, tags) = key.strip_suffix('}')?.split_once('{')?;
    let scenario = tags.trim().strip_prefix("scenario:")?;
    (!scenario.contains(',')).then_some((name, scenario.trim()))
}

fn metric_name(name: &str, scenario: &str) -> String {
    if scenario == DEFAULT_SCENARIO {
        name.to_owned()
    } else {
        format!("{name}{{scenario:{scenario}}}")
    }
}

fn metric_path(key: &str) -> String {
    format!("$.metrics[{key:?}]")
}

/// A count k6 wrote as a JSON number: it must be a whole, non-negative number.
fn count(key: &str, field: &str, value: Option<f64>) -> Result<u64, EvidenceError> {
    let path = || format!("{}.{field}", metric_path(key));
    let value = value.ok_or_else(|| {
        EvidenceError::at_path(EvidenceKind::K6, metric_path(key), format!("missing field `{field}`"))
    })?;
    if value < 0.0 || value.fract() != 0.0 || value > u64::MAX as f64 {
        return Err(EvidenceError::at_path(EvidenceKind::K6, path(), format!("expected a whole count, found {value}")));
    }
    Ok(value as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(input: &str) -> LoadTestFacts {
        parse(input.as_bytes()).expect("a valid summary")
    }

    fn error(input: &str) -> String {
        parse(input.as_bytes()).expect_err("an invalid summary").to_string()
    }

    #[test]
    fn untagged_metrics_make_one_default_scenario_and_missing_percentiles_stay_null() {
        let facts = facts(
            r#"{"metrics": {
                "http_reqs": {"count": 200, "rate": 20},
                "http_req_failed": {"passes": 3, "fails": 197, "value": 0.015},
                "http_req_duration": {"avg": 12.5, "min": 1, "med": 10, "max": 80, "p(90)": 30, "p(95)": 41.5},
                "http_req_duration{expected_response:true}": {"avg": 1, "med": 1, "max": 1}
            }}"#,
        );
        insta::assert_json_snapshot!(facts, @r#"
        {
          "tool": "k6",
          "scenarios": [
            {
              "name": "default",
              "requests": 200,
              "failed": 3,
              "error_rate": 0.015,
              "throughput_per_second": 20.0,
              "duration_seconds": 10.0,
              "latency_ms": {
                "mean": 12.5,
                "p50": 10.0,
                "p90": 30.0,
                "p95": 41.5,
                "p99": null,
                "max": 80.0
              }
            }
          ]
        }
        "#);
    }

    #[test]
    fn the_handle_summary_shape_reads_values_and_the_run_duration() {
        let facts = facts(
            r#"{"state": {"testRunDurationMs": 2500}, "metrics": {
                "http_reqs{scenario:a}": {"type": "counter", "values": {"count": 10, "rate": 4}},
                "http_req_failed{scenario:a}": {"type": "rate", "values": {"rate": 0.1, "passes": 1, "fails": 9}},
                "http_req_duration{scenario:a}": {"type": "trend", "values": {"avg": 2, "med": 2, "max": 3, "p(99)": 3}},
                "http_reqs": {"type": "counter", "values": {"count": 99, "rate": 1}}
            }}"#,
        );
        let scenario = &facts.scenarios[0];
        assert_eq!(facts.scenarios.len(), 1);
        assert_eq!((scenario.name.as_str(), scenario.requests, scenario.failed), ("a", 10, 1));
        assert_eq!((scenario.duration_seconds, scenario.throughput_per_second), (2.5, 4.0));
        assert_eq!((scenario.latency_ms.p95, scenario.latency_ms.p99), (None, Some(3.0)));
    }

    #[test]
    fn passes_of_http_req_failed_are_the_failed_requests() {
        let facts = facts(r#"{"metrics": {"http_req_failed": {"passes": 4, "fails": 6, "value": 0.4}}}"#);
        let scenario = &facts.scenarios[0];
        assert_eq!((scenario.requests, scenario.failed, scenario.error_rate), (10, 4, 0.4));
    }

    #[test]
    fn sub_metrics_with_other_tags_are_not_scenarios() {
        assert_eq!(scenario_sub_metric("http_reqs{scenario:checkout}"), Some(("http_reqs", "checkout")));
        assert_eq!(scenario_sub_metric("http_reqs{scenario:a,status:200}"), None);
        assert_eq!(scenario_sub_metric("http_reqs{status:200}"), None);
        assert_eq!(scenario_sub_metric("http_reqs"), None);
    }

    #[test]
    fn a_scenario_without_failure_figures_is_refused() {
        assert_eq!(
            error(r#"{"metrics": {"http_reqs{scenario:a}": {"count": 1, "rate": 1}}}"#),
            r#"k6: at $.metrics: no http_req_failed{scenario:a} metric, so the failures of scenario "a" are unknown"#
        );
        assert_eq!(
            error(r#"{"metrics": {"vus": {"value": 1}}}"#),
            r#"k6: at $.metrics: no http_req_failed metric, so the failures of scenario "default" are unknown"#
        );
    }

    #[test]
    fn a_fractional_count_is_refused_at_its_path() {
        assert_eq!(
            error(r#"{"metrics": {"http_req_failed": {"passes": 1.5, "fails": 1}}}"#),
            r#"k6: at $.metrics["http_req_failed"].passes: expected a whole count, found 1.5"#
        );
    }

    #[test]
    fn a_summary_without_metrics_is_refused() {
        assert_eq!(error(r#"{"root_group": {}}"#), "k6: at $: missing field `metrics`");
    }
}
