//! Cobertura XML coverage reports into [`CoverageFacts`].
//!
//! Lines are counted from the `<line>` elements of `<class><lines>`; the copies of the same
//! lines under `<class><methods><method><lines>` are not counted again. A line that appears in
//! several classes of the same file (inner classes, or a report merged from several runs) counts
//! once, as covered when any copy has hits. Branches come from `condition-coverage="50% (1/2)"`
//! on lines with `branch="true"`.
//!
//! When the report has `<line>` elements, the counts come from them and the `lines-valid`,
//! `lines-covered`, `branches-valid` and `branches-covered` attributes of `<coverage>` are
//! ignored; only a report with no `<line>` at all (a summary-only report) is taken at its
//! attributes' word. Rates are always recomputed, never read from `line-rate` or `branch-rate`.
//! Files are the distinct `filename`s of `<class>` elements; `by_file` has each file's counts
//! from its lines, and is empty for a summary-only report.

use std::collections::{BTreeMap, HashMap};

use crate::facts::rate;
use crate::text::Source;
use crate::xml::{Element, XmlEvent, XmlReader};
use crate::{CoverageFacts, EvidenceError, EvidenceKind, FileCoverage};

/// Parses a Cobertura XML coverage report.
pub(crate) fn parse(bytes: &[u8]) -> Result<CoverageFacts, EvidenceError> {
    let source = Source::new(EvidenceKind::Cobertura, bytes)?;
    let mut reader = XmlReader::new(source);
    let mut report = Report::default();
    while let Some(event) = reader.next()? {
        match event {
            XmlEvent::Start(element) => report.start(&element)?,
            XmlEvent::End => {
                report.frames.pop();
            }
        }
    }
    Ok(report.finish())
}

/// What each open element is, innermost last.
enum Frame {
    Coverage,
    Class { file: u32 },
    ClassLines { file: u32 },
    Other,
}

#[derive(Default, Clone, Copy)]
struct LineRecord {
    covered: bool,
    branches: Option<Branches>,
}

#[derive(Clone, Copy)]
struct Branches {
    covered: u64,
    total: u64,
}

#[derive(Default, Clone, Copy)]
struct Summary {
    lines_total: u64,
    lines_covered: u64,
    branches_total: u64,
    branches_covered: u64,
}

#[derive(Default)]
struct Report {
    frames: Vec<Frame>,
    files: HashMap<String, u32>,
    lines: HashMap<(u32, u64), LineRecord>,
    summary: Summary,
}

impl Report {
    fn start(&mut self, element: &Element<'_>) -> Result<(), EvidenceError> {
        let name = element.name();
        let frame = match (self.frames.last(), name) {
            (None, b"coverage") => {
                self.summary = summary(element)?;
                Frame::Coverage
            }
            (None, _) => {
                return Err(element
                    .error(format!("expected the root element <coverage>, found <{}>", String::from_utf8_lossy(name))))
            }
            (Some(_), b"class") => Frame::Class { file: self.file(element)? },
            (Some(&Frame::Class { file }), b"lines") => Frame::ClassLines { file },
            (Some(&Frame::ClassLines { file }), b"line") => {
                self.line(file, element)?;
                Frame::Other
            }
            (Some(_), _) => Frame::Other,
        };
        self.frames.push(frame);
        Ok(())
    }

    fn file(&mut self, element: &Element<'_>) -> Result<u32, EvidenceError> {
        let Some(filename) = element.attribute("filename")? else {
            return Err(element.error("<class> has no filename attribute"));
        };
        if let Some(&index) = self.files.get(filename.as_ref()) {
            return Ok(index);
        }
        let index =
            u32::try_from(self.files.len()).map_err(|_| element.error("more than 4294967295 distinct files"))?;
        self.files.insert(filename.into_owned(), index);
        Ok(index)
    }

    fn line(&mut self, file: u32, element: &Element<'_>) -> Result<(), EvidenceError> {
        let number: u64 = element
            .parse_attribute("number", "a line number")?
            .ok_or_else(|| element.error("<line> has no number attribute"))?;
        let hits: u64 = element
            .parse_attribute("hits", "a non-negative hit count")?
            .ok_or_else(|| element.error("<line> has no hits attribute"))?;
        let is_branch = element.attribute("branch")?.is_some_and(|branch| branch == "true");
        let branches = match element.attribute("condition-coverage")? {
            Some(condition_coverage) if is_branch => {
                Some(parse_condition_coverage(&condition_coverage).ok_or_else(|| {
                    element.error(format!("condition-coverage is not like \"50% (1/2)\": {condition_coverage:?}"))
                })?)
            }
            _ => None,
        };
        let record = self.lines.entry((file, number)).or_default();
        record.covered |= hits > 0;
        record.branches = match (record.branches, branches) {
            (Some(old), Some(new)) => {
                Some(Branches { covered: old.covered.max(new.covered), total: old.total.max(new.total) })
            }
            (old, new) => old.or(new),
        };
        Ok(())
    }

    fn finish(self) -> CoverageFacts {
        let mut by_index: HashMap<u32, FileCoverage> = HashMap::new();
        for (&(file, _line), record) in &self.lines {
            let counts = by_index.entry(file).or_default();
            counts.lines_total += 1;
            counts.lines_covered += u64::from(record.covered);
            if let Some(branches) = record.branches {
                counts.branches_total += branches.total;
                counts.branches_covered += branches.covered;
            }
        }
        let summary = if self.lines.is_empty() {
            self.summary
        } else {
            let mut counted = Summary::default();
            for counts in by_index.values() {
                counted.lines_total += counts.lines_total;
                counted.lines_covered += counts.lines_covered;
                counted.branches_total += counts.branches_total;
                counted.branches_covered += counts.branches_covered;
            }
            counted
        };
        let by_file: BTreeMap<String, FileCoverage> = if self.lines.is_empty() {
            BTreeMap::new()
        } else {
            self.files
                .iter()
                .map(|(name, index)| (name.clone(), by_index.get(index).copied().unwrap_or_default()))
                .collect()
        };
        CoverageFacts {
            lines_total: summary.lines_total,
            lines_covered: summary.lines_covered,
            line_rate: rate(summary.lines_covered, summary.lines_total),
            branches_total: summary.branches_total,
            branches_covered: summary.branches_covered,
            branch_rate: rate(summary.branches_covered, summary.branches_total),
            files: self.files.len() as u64,
            by_file,
        }
    }
}

fn summary(element: &Element<'_>) -> Result<Summary, EvidenceError> {
    let count = |key| element.parse_attribute::<u64>(key, "a non-negative count");
    let summary = Summary {
        lines_total: count("lines-valid")?.unwrap_or(0),
        lines_covered: count("lines-covered")?.unwrap_or(0),
        branches_total: count("branches-valid")?.unwrap_or(0),
        branches_covered: count("branches-covered")?.unwrap_or(0),
    };
    if summary.lines_covered > summary.lines_total || summary.branches_covered > summary.branches_total {
        return Err(element.error("<coverage> claims more covered lines or branches than it has"));
    }
    Ok(summary)
}

/// Reads the `(covered/total)` part of `"50% (1/2)"`.
fn parse_condition_coverage(text: &str) -> Option<Branches> {
    let inside = text.split_once('(')?.1.split_once(')')?.0;
    let (covered, total) = inside.split_once('/')?;
    let branches = Branches { covered: covered.trim().parse().ok()?, total: total.trim().parse().ok()? };
    (branches.covered <= branches.total).then_some(branches)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(input: &str) -> CoverageFacts {
        parse(input.as_bytes()).expect("a valid report")
    }

    #[test]
    fn lines_are_counted_once_per_file_and_method_copies_are_ignored() {
        let facts = facts(
            r#"<?xml version="1.0" ?>
<coverage lines-valid="100" lines-covered="1" line-rate="0.01" version="7">
  <packages><package name="p"><classes>
    <class name="A" filename="a.py">
      <methods><method name="f"><lines><line number="1" hits="0"/></lines></method></methods>
      <lines>
        <line number="1" hits="3"/>
        <line number="2" hits="0" branch="true" condition-coverage="50% (1/2)"/>
        <line number="3" hits="0"/>
      </lines>
    </class>
    <class name="A$Inner" filename="a.py">
      <lines><line number="3" hits="1"/><line number="2" hits="1" branch="true" condition-coverage="100% (2/2)"/></lines>
    </class>
    <class name="B" filename="b.py"><lines><line number="1" hits="0"/></lines></class>
  </classes></package></packages>
</coverage>"#,
        );
        insta::assert_debug_snapshot!(facts, @r#"
        CoverageFacts {
            lines_total: 4,
            lines_covered: 3,
            line_rate: Some(
                0.75,
            ),
            branches_total: 2,
            branches_covered: 2,
            branch_rate: Some(
                1.0,
            ),
            files: 2,
            by_file: {
                "a.py": FileCoverage {
                    lines_total: 3,
                    lines_covered: 3,
                    branches_total: 2,
                    branches_covered: 2,
                },
                "b.py": FileCoverage {
                    lines_total: 1,
                    lines_covered: 0,
                    branches_total: 0,
                    branches_covered: 0,
                },
            },
        }
        "#);
    }

    #[test]
    fn a_summary_only_report_is_taken_from_its_attributes() {
        let facts = facts(r#"<coverage lines-valid="10" lines-covered="4" branches-valid="0" branches-covered="0"/>"#);
        assert_eq!((facts.lines_total, facts.lines_covered), (10, 4));
        assert_eq!(facts.line_rate, Some(0.4));
        assert_eq!(facts.branch_rate, None);
        assert!(facts.by_file.is_empty(), "a summary has no per-file counts");
    }

    #[test]
    fn a_report_without_lines_has_no_line_rate() {
        assert_eq!(facts("<coverage/>").line_rate, None);
    }

    #[test]
    fn another_root_element_is_refused() {
        let error = parse(b"<testsuites/>").expect_err("not cobertura").to_string();
        assert_eq!(error, "cobertura: line 1, column 1: expected the root element <coverage>, found <testsuites>");
    }

    #[test]
    fn a_line_without_hits_is_refused() {
        let error = parse(b"<coverage><class filename=\"a\"><lines>\n<line number=\"1\"/></lines></class></coverage>")
            .expect_err("no hits")
            .to_string();
        assert_eq!(error, "cobertura: line 2, column 1: <line> has no hits attribute");
    }

    #[test]
    fn malformed_condition_coverage_is_refused() {
        let error = parse(
            br#"<coverage><class filename="a"><lines><line number="1" hits="1" branch="true" condition-coverage="3/2"/></lines></class></coverage>"#,
        )
        .expect_err("bad condition coverage")
        .to_string();
        assert!(error.contains("condition-coverage"), "{error}");
    }

    #[test]
    fn condition_coverage_is_read_from_its_parentheses() {
        let branches = parse_condition_coverage("33.33% (1/3)").expect("well formed");
        assert_eq!((branches.covered, branches.total), (1, 3));
        assert!(parse_condition_coverage("100%").is_none());
        assert!(parse_condition_coverage("(3/2)").is_none());
    }
}
