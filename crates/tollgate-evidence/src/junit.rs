//! JUnit XML test reports into [`TestFacts`].
//!
//! Accepts a `<testsuites>` root holding `<testsuite>`s, or a bare `<testsuite>` root, with
//! `<testsuite>`s nested to any depth (as PHPUnit writes them). This covers cargo-nextest,
//! pytest, Maven Surefire, Gradle, Jest and Go's junit reporters.
//!
//! Outcomes are counted from `<testcase>` elements, one outcome per test case, by the markers
//! among its direct children: `<error>` beats `<failure>`, which beats `<skipped>`; a test case
//! with none of them passed. Other children are ignored, notably cargo-nextest's
//! `<flakyFailure>` and `<rerunFailure>`: a flaky test that passed on retry has passed. The
//! `tests`, `failures`, `errors` and `skipped` attributes are not read at all: they are a
//! summary that can disagree with the test cases (and some producers omit or miscount them), so
//! when they disagree the test cases win, always.
//!
//! Durations come from `time` attributes: a suite's own `time`, else the sum of its test cases'
//! `time`; the run's is the root element's `time`, else the sum of the suites'. The root's
//! `time` is preferred because it is the wall-clock time of a parallel run (as cargo-nextest
//! writes it), which the sum of test times is not.

use crate::facts::round_seconds;
use crate::text::Source;
use crate::xml::{Element, XmlEvent, XmlReader};
use crate::{EvidenceError, EvidenceKind, SuiteFacts, TestFacts};

/// Parses a JUnit XML test report.
pub(crate) fn parse(bytes: &[u8]) -> Result<TestFacts, EvidenceError> {
    let source = Source::new(EvidenceKind::Junit, bytes)?;
    let mut reader = XmlReader::new(source);
    let mut report = Report::default();
    while let Some(event) = reader.next()? {
        match event {
            XmlEvent::Start(element) => report.start(&element)?,
            XmlEvent::End => report.end(),
        }
    }
    Ok(report.finish())
}

/// What each open element is, innermost last.
enum Frame {
    Root,
    Suite(SuiteBuilder),
    Case { outcome: Outcome, seconds: f64 },
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Passed,
    Skipped,
    Failed,
    Error,
}

struct SuiteBuilder {
    name: String,
    declared_seconds: Option<f64>,
    summed_seconds: f64,
    has_child_suite: bool,
    counts: Counts,
}

#[derive(Default, Clone, Copy)]
struct Counts {
    total: u64,
    skipped: u64,
    failed: u64,
    errors: u64,
}

#[derive(Default)]
struct Report {
    frames: Vec<Frame>,
    root_seconds: Option<f64>,
    suites: Vec<SuiteFacts>,
    counts: Counts,
}

impl Report {
    fn start(&mut self, element: &Element<'_>) -> Result<(), EvidenceError> {
        let name = element.name();
        let frame = match (self.frames.last_mut(), name) {
            (None, b"testsuites") => {
                self.root_seconds = element.seconds_attribute("time")?;
                Frame::Root
            }
            (None, b"testsuite") => {
                let suite = suite(element)?;
                self.root_seconds = suite.declared_seconds;
                Frame::Suite(suite)
            }
            (None, _) => {
                return Err(element.error(format!(
                    "expected the root element <testsuites> or <testsuite>, found <{}>",
                    String::from_utf8_lossy(name)
                )))
            }
            (Some(Frame::Root), b"testsuite") => Frame::Suite(suite(element)?),
            (Some(Frame::Suite(parent)), b"testsuite") => {
                parent.has_child_suite = true;
                Frame::Suite(suite(element)?)
            }
            (Some(Frame::Suite(_)), b"testcase") => {
                Frame::Case { outcome: Outcome::Passed, seconds: element.seconds_attribute("time")?.unwrap_or(0.0) }
            }
            (Some(Frame::Case { outcome, .. }), b"failure" | b"error" | b"skipped") => {
                let marked = match name {
                    b"error" => Outcome::Error,
                    b"failure" => Outcome::Failed,
                    _ => Outcome::Skipped,
                };
                *outcome = (*outcome).max(marked);
                Frame::Other
            }
            (Some(Frame::Case { .. }), b"testsuite") => return Err(element.error("<testsuite> inside a <testcase>")),
            (Some(Frame::Root), b"testcase") => return Err(element.error("<testcase> outside a <testsuite>")),
            (Some(Frame::Case { .. }), b"testcase") => return Err(element.error("<testcase> inside a <testcase>")),
            (Some(_), _) => Frame::Other,
        };
        self.frames.push(frame);
        Ok(())
    }

    fn end(&mut self) {
        match self.frames.pop() {
            Some(Frame::Case { outcome, seconds }) => {
                if let Some(Frame::Suite(suite)) = self.frames.last_mut() {
                    suite.counts.add(outcome);
                    suite.summed_seconds += seconds;
                }
                self.counts.add(outcome);
            }
            Some(Frame::Suite(suite)) => {
                if !suite.has_child_suite || suite.counts.total > 0 {
                    self.suites.push(suite.finish());
                }
            }
            Some(Frame::Root | Frame::Other) | None => {}
        }
    }

    fn finish(self) -> TestFacts {
        let seconds = self.root_seconds.unwrap_or_else(|| self.suites.iter().map(|suite| suite.duration_seconds).sum());
        let counts = self.counts;
        TestFacts {
            total: counts.total,
            passed: counts.passed(),
            failed: counts.failed,
            skipped: counts.skipped,
            errors: counts.errors,
            duration_seconds: round_seconds(seconds),
            suites: self.suites,
        }
    }
}

fn suite(element: &Element<'_>) -> Result<SuiteBuilder, EvidenceError> {
    Ok(SuiteBuilder {
        name: element.attribute("name")?.map(|name| name.into_owned()).unwrap_or_default(),
        declared_seconds: element.seconds_attribute("time")?,
        summed_seconds: 0.0,
        has_child_suite: false,
        counts: Counts::default(),
    })
}

impl SuiteBuilder {
    fn finish(self) -> SuiteFacts {
        let counts = self.counts;
        SuiteFacts {
            name: self.name,
            total: counts.total,
            passed: counts.passed(),
            failed: counts.failed,
            skipped: counts.skipped,
            errors: counts.errors,
            duration_seconds: round_seconds(self.declared_seconds.unwrap_or(self.summed_seconds)),
        }
    }
}

impl Counts {
    fn add(&mut self, outcome: Outcome) {
        self.total += 1;
        match outcome {
            Outcome::Passed => {}
            Outcome::Skipped => self.skipped += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Error => self.errors += 1,
        }
    }

    fn passed(self) -> u64 {
        // Invariant: every test case adds one to `total` and at most one to the others.
        self.total - self.skipped - self.failed - self.errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(input: &str) -> TestFacts {
        parse(input.as_bytes()).expect("a valid report")
    }

    fn error(input: &str) -> String {
        parse(input.as_bytes()).expect_err("an invalid report").to_string()
    }

    #[test]
    fn outcomes_are_counted_from_test_cases_not_from_attributes() {
        let facts = facts(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="99" failures="0" time="1.5">
  <testsuite name="a" tests="1" failures="0" time="0.5">
    <testcase name="ok" time="0.1"/>
    <testcase name="bad" time="0.2"><failure message="boom">trace</failure></testcase>
    <testcase name="broken" time="0.1"><error message="x"/><failure/></testcase>
    <testcase name="later"><skipped/></testcase>
    <testcase name="flaky"><flakyFailure message="once"/><system-out>out</system-out></testcase>
  </testsuite>
  <testsuite name="b"><testcase name="t" time="0.25"/><testcase name="u" time="0.05"/></testsuite>
</testsuites>"#,
        );
        insta::assert_debug_snapshot!(facts, @r#"
        TestFacts {
            total: 7,
            passed: 4,
            failed: 1,
            skipped: 1,
            errors: 1,
            duration_seconds: 1.5,
            suites: [
                SuiteFacts {
                    name: "a",
                    total: 5,
                    passed: 2,
                    failed: 1,
                    skipped: 1,
                    errors: 1,
                    duration_seconds: 0.5,
                },
                SuiteFacts {
                    name: "b",
                    total: 2,
                    passed: 2,
                    failed: 0,
                    skipped: 0,
                    errors: 0,
                    duration_seconds: 0.3,
                },
            ],
        }
        "#);
    }

    #[test]
    fn a_bare_testsuite_root_is_a_report_of_one_suite() {
        let facts = facts(r#"<testsuite name="only"><testcase name="t" time="2"/></testsuite>"#);
        assert_eq!((facts.total, facts.passed, facts.suites.len()), (1, 1, 1));
        assert_eq!(facts.duration_seconds, 2.0);
    }

    #[test]
    fn nested_suites_report_the_suites_that_hold_test_cases() {
        let facts = facts(
            r#"<testsuites><testsuite name="all">
                 <testsuite name="x"><testcase name="1"/></testsuite>
                 <testsuite name="y"><testcase name="2"><failure/></testcase></testsuite>
               </testsuite></testsuites>"#,
        );
        let names: Vec<&str> = facts.suites.iter().map(|suite| suite.name.as_str()).collect();
        assert_eq!(names, ["x", "y"]);
        assert_eq!((facts.total, facts.failed), (2, 1));
    }

    #[test]
    fn an_empty_suite_is_reported_with_zero_tests() {
        let facts = facts(r#"<testsuites><testsuite name="none" tests="0"/></testsuites>"#);
        assert_eq!(facts.suites.len(), 1);
        assert_eq!(facts.total, 0);
    }

    #[test]
    fn another_root_element_is_refused() {
        assert_eq!(
            error("<coverage/>"),
            "junit: line 1, column 1: expected the root element <testsuites> or <testsuite>, found <coverage>"
        );
    }

    #[test]
    fn a_test_case_outside_a_suite_is_refused() {
        assert_eq!(
            error("<testsuites>\n  <testcase/>\n</testsuites>"),
            "junit: line 2, column 3: <testcase> outside a <testsuite>"
        );
    }

    #[test]
    fn a_time_that_is_not_a_number_is_located_at_its_value() {
        assert_eq!(
            error("<testsuite>\n<testcase time=\"soon\"/></testsuite>"),
            r#"junit: line 2, column 17: attribute time is not a non-negative number of seconds: "soon""#
        );
        assert!(error(r#"<testsuite time="-1"/>"#).contains("non-negative"));
        assert!(error(r#"<testsuite time="NaN"/>"#).contains("non-negative"));
    }

    #[test]
    fn entities_in_suite_names_are_unescaped() {
        let facts = facts(r#"<testsuite name="a &amp; b &#x263A;"/>"#);
        assert_eq!(facts.suites[0].name, "a & b ☺");
    }
}
