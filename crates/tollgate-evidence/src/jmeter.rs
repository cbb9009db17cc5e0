//! JMeter results files (JTL) in CSV form into [`LoadTestFacts`].
//!
//! Columns are found by the names in the header line, so any column set JMeter can be
//! configured to save is read, as long as it has `timeStamp` (milliseconds since the epoch,
//! JMeter's default `timestamp_format=ms`), `elapsed` (milliseconds), `label` and `success`.
//! A file without a header line (JMeter before 3.0 wrote none by default) is refused: its
//! columns cannot be known. Fields may be quoted, as JMeter quotes labels with commas or quotes.
//!
//! Each label is one scenario, and its figures are the ones JMeter's Aggregate Report shows
//! (computed by `SamplingStatCalculator` and `StatCalculator`):
//! - failures are the samples with `success` false;
//! - the mean is the exact mean of `elapsed`;
//! - a percentile p is the elapsed value at rank `max(1, round(n × p))` of the sorted values,
//!   with Java's `Math.round` (halves round up), and p ≥ 100% is the maximum. This is close to,
//!   but not the same as, the nearest-rank method (`ceil(n × p)`); the HTML dashboard of JMeter
//!   3 and later interpolates instead and can differ slightly;
//! - the duration runs from the earliest sample start to the latest sample end, and throughput is
//!   samples over that duration. A sample starts at `timeStamp` and ends at `timeStamp + elapsed`,
//!   as JMeter's shipped `sampleresult.timestamp.start=true` makes it.
//!
//! Latencies are kept as a count per distinct millisecond value, as JMeter keeps them, so memory
//! does not grow with the number of rows; [`MAX_JTL_ROWS`] bounds the time and [`MAX_SCENARIOS`]
//! the number of labels. Batch samples (`SampleCount` above 1) are counted as one sample each.

use std::collections::BTreeMap;

use crate::facts::round_seconds;
use crate::limits::{MAX_JTL_ROWS, MAX_SCENARIOS};
use crate::text::{excerpt, Source};
use crate::{EvidenceError, EvidenceKind, LatencyFacts, LoadTestFacts, LoadTestTool, ScenarioFacts};

/// The columns a results file must have.
const REQUIRED_COLUMNS: [&str; 4] = ["timeStamp", "elapsed", "label", "success"];

/// Parses a JMeter CSV results file.
pub(crate) fn parse(bytes: &[u8]) -> Result<LoadTestFacts, EvidenceError> {
    let source = Source::new(EvidenceKind::Jmeter, bytes)?;
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(source.bytes);
    let columns = Columns::find(source, &mut reader)?;
    let mut labels: BTreeMap<String, Label> = BTreeMap::new();
    let mut record = csv::StringRecord::new();
    let mut n_rows: u64 = 0;
    loop {
        let offset = reader.position().byte() as usize;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(error) => return Err(csv_error(source, offset, &error)),
        }
        n_rows += 1;
        if n_rows > MAX_JTL_ROWS {
            return Err(source.error_at(offset, format!("more than the limit of {MAX_JTL_ROWS} rows")));
        }
        let sample = columns.sample(source, offset, &record)?;
        if !labels.contains_key(sample.label) {
            if labels.len() == MAX_SCENARIOS {
                return Err(source.error_at(offset, format!("more than the limit of {MAX_SCENARIOS} labels")));
            }
            labels.insert(sample.label.to_owned(), Label::new());
        }
        labels.get_mut(sample.label).expect("the label was inserted above").add(&sample);
    }
    let scenarios = labels.into_iter().map(|(name, label)| label.facts(name)).collect();
    Ok(LoadTestFacts { tool: LoadTestTool::Jmeter, scenarios })
}

/// Where the needed columns are.
struct Columns {
    time_stamp: usize,
    elapsed: usize,
    label: usize,
    success: usize,
}

/// One row, as far as the facts need it.
struct Sample<'a> {
    label: &'a str,
    start: u64,
    elapsed: u64,
    success: bool,
}

/// What is kept of one label's samples.
struct Label {
    /// Elapsed milliseconds → how many samples took that long.
    elapsed: BTreeMap<u64, u64>,
    n_samples: u64,
    n_failed: u64,
    elapsed_sum: u128,
    first_start: u64,
    last_end: u64,
}

impl Columns {
    fn find(source: Source<'_>, reader: &mut csv::Reader<&[u8]>) -> Result<Columns, EvidenceError> {
        let header = reader.headers().map_err(|error| csv_error(source, 0, &error))?.clone();
        let index = |name: &str| header.iter().position(|column| column.trim() == name);
        let missing: Vec<&str> = REQUIRED_COLUMNS.into_iter().filter(|name| index(name).is_none()).collect();
        if !missing.is_empty() {
            let first = header.get(0).unwrap_or("");
            let hint = if first.trim().parse::<u64>().is_ok() {
                "; the first line looks like a sample: save the header with \
                 jmeter.save.saveservice.print_field_names=true"
            } else {
                ""
            };
            return Err(source.error_at(0, format!("the header line has no {} column{hint}", missing.join(", "))));
        }
        let position = |name: &str| index(name).expect("every required column was found above");
        Ok(Columns {
            time_stamp: position("timeStamp"),
            elapsed: position("elapsed"),
            label: position("label"),
            success: position("success"),
        })
    }

    fn sample<'r>(
        &self,
        source: Source<'_>,
        offset: usize,
        record: &'r csv::StringRecord,
    ) -> Result<Sample<'r>, EvidenceError> {
        let field = |index: usize| record.get(index).unwrap_or("");
        let number = |index: usize, what: &str| {
            let text = field(index);
            text.trim().parse::<u64>().map_err(|_| {
                source.error_at(offset, format!("{what} is not a whole number of milliseconds: {}", excerpt(text)))
            })
        };
        let success = match field(self.success).trim() {
            "true" => true,
            "false" => false,
            other => return Err(source.error_at(offset, format!("success is not true or false: {}", excerpt(other)))),
        };
        Ok(Sample {
            label: field(self.label),
            start: number(self.time_stamp, "timeStamp")?,
            elapsed: number(self.elapsed, "elapsed")?,
            success,
        })
    }
}

impl Label {
    fn new() -> Label {
        Label {
            elapsed: BTreeMap::new(),
            n_samples: 0,
            n_failed: 0,
            elapsed_sum: 0,
            first_start: u64::MAX,
            last_end: 0,
        }
    }

    fn add(&mut self, sample: &Sample<'_>) {
        *self.elapsed.entry(sample.elapsed).or_default() += 1;
        self.n_samples += 1;
        self.n_failed += u64::from(!sample.success);
        self.elapsed_sum += u128::from(sample.elapsed);
        self.first_start = self.first_start.min(sample.start);
        self.last_end = self.last_end.max(sample.start.saturating_add(sample.elapsed));
    }

    fn facts(self, name: String) -> ScenarioFacts {
        let duration_milliseconds = self.last_end.saturating_sub(self.first_start);
        let duration_seconds = round_seconds(duration_milliseconds as f64 / 1000.0);
        let throughput_per_second = if duration_milliseconds == 0 {
            0.0
        } else {
            self.n_samples as f64 * 1000.0 / duration_milliseconds as f64
        };
        ScenarioFacts {
            name,
            requests: self.n_samples,
            failed: self.n_failed,
            error_rate: self.n_failed as f64 / self.n_samples as f64,
            throughput_per_second,
            duration_seconds,
            latency_ms: LatencyFacts {
                mean: Some(self.elapsed_sum as f64 / self.n_samples as f64),
                p50: self.percentile(0.50),
                p90: self.percentile(0.90),
                p95: self.percentile(0.95),
                p99: self.percentile(0.99),
                max: self.elapsed.last_key_value().map(|(&elapsed, _)| elapsed as f64),
            },
        }
    }

    /// JMeter's `StatCalculator.getPercentPoint`: the value at rank `max(1, round(n × p))`.
    fn percentile(&self, fraction: f64) -> Option<f64> {
        let rank = ((self.n_samples as f64 * fraction) + 0.5).floor() as u64;
        let mut n_seen = 0;
        for (&elapsed, &n_samples) in &self.elapsed {
            n_seen += n_samples;
            if n_seen >= rank {
                return Some(elapsed as f64);
            }
        }
        None
    }
}

fn csv_error(source: Source<'_>, offset: usize, error: &csv::Error) -> EvidenceError {
    let offset = error.position().map_or(offset, |position| position.byte() as usize);
    let message = match error.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("a row has {len} fields where the header line has {expected_len}")
        }
        _ => error.to_string(),
    };
    source.error_at(offset, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,\
                          failureMessage,bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect\n";

    fn row(start: u64, elapsed: u64, label: &str, success: bool) -> String {
        format!("{start},{elapsed},{label},200,OK,users 1-1,text,{success},,100,50,1,1,http://127.0.0.1/,1,0,0\n")
    }

    fn facts(input: &str) -> LoadTestFacts {
        parse(input.as_bytes()).expect("a valid results file")
    }

    fn error(input: &str) -> String {
        parse(input.as_bytes()).expect_err("an invalid results file").to_string()
    }

    #[test]
    fn each_label_is_a_scenario_with_jmeter_aggregate_report_figures() {
        let mut input = HEADER.to_owned();
        for elapsed in 1..=10 {
            input.push_str(&row(1_000 + elapsed * 100, elapsed, "home", elapsed != 7));
        }
        input.push_str(&row(5_000, 40, "\"search, \"\"quoted\"\"\"", true));
        insta::assert_json_snapshot!(facts(&input), @r#"
        {
          "tool": "jmeter",
          "scenarios": [
            {
              "name": "home",
              "requests": 10,
              "failed": 1,
              "error_rate": 0.1,
              "throughput_per_second": 10.989010989010989,
              "duration_seconds": 0.91,
              "latency_ms": {
                "mean": 5.5,
                "p50": 5.0,
                "p90": 9.0,
                "p95": 10.0,
                "p99": 10.0,
                "max": 10.0
              }
            },
            {
              "name": "search, \"quoted\"",
              "requests": 1,
              "failed": 0,
              "error_rate": 0.0,
              "throughput_per_second": 25.0,
              "duration_seconds": 0.04,
              "latency_ms": {
                "mean": 40.0,
                "p50": 40.0,
                "p90": 40.0,
                "p95": 40.0,
                "p99": 40.0,
                "max": 40.0
              }
            }
          ]
        }
        "#);
    }

    #[test]
    fn percentiles_use_jmeter_rounding_of_the_rank() {
        let mut label = Label::new();
        for elapsed in [10, 20, 30, 40] {
            label.add(&Sample { label: "a", start: 0, elapsed, success: true });
        }
        // Ranks round(4 × p): 0.5 → 2, 0.9 → 4 (3.6), 0.6 → 2 (2.4), 0.1 → 0, taken as the first.
        assert_eq!(label.percentile(0.5), Some(20.0));
        assert_eq!(label.percentile(0.9), Some(40.0));
        assert_eq!(label.percentile(0.6), Some(20.0));
        assert_eq!(label.percentile(0.1), Some(10.0));
    }

    #[test]
    fn columns_are_found_by_name_in_any_order() {
        let facts = facts("label,success,elapsed,timeStamp\nhome,false,12,1000\n");
        assert_eq!((facts.scenarios[0].requests, facts.scenarios[0].failed), (1, 1));
    }

    #[test]
    fn a_file_without_a_header_line_is_refused_with_a_hint() {
        assert_eq!(
            error("1796006945749,99,home,200,OK,users 1-1,text,true,238,3,3,90\n"),
            "jmeter: line 1, column 1: the header line has no timeStamp, elapsed, label, success column; the first \
             line looks like a sample: save the header with jmeter.save.saveservice.print_field_names=true"
        );
    }

    #[test]
    fn a_bad_field_names_its_line() {
        let input = format!("{HEADER}{}1000,fast,home,200,OK,t,text,true,,1,1,1,1,u,1,0,0\n", row(1, 1, "home", true));
        assert_eq!(error(&input), r#"jmeter: line 3, column 1: elapsed is not a whole number of milliseconds: "fast""#);
        let input = format!("{HEADER}1000,1,home,200,OK,t,text,yes,,1,1,1,1,u,1,0,0\n");
        assert_eq!(error(&input), r#"jmeter: line 2, column 1: success is not true or false: "yes""#);
    }

    #[test]
    fn a_row_with_a_missing_field_names_its_line() {
        let input = format!("{HEADER}{}1000,1,home\n", row(1, 1, "home", true));
        assert_eq!(error(&input), "jmeter: line 3, column 1: a row has 3 fields where the header line has 17");
    }

    #[test]
    fn a_file_with_only_a_header_has_no_scenarios() {
        assert!(facts(HEADER).scenarios.is_empty());
    }
}
