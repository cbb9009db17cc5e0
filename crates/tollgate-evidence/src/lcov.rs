//! LCOV tracefiles into [`CoverageFacts`].
//!
//! A tracefile is a sequence of records, each `SF:<file>` ... `end_of_record`, whose lines are
//! `TAG:value`. Lines come from `DA:<line>,<hits>[,<checksum>]` and branches from
//! `BRDA:<line>,<block>,<branch>,<taken>` (`taken` is `-` for a branch never reached). The
//! summaries `LF`, `LH`, `BRF` and `BRH` are used only for a record that has no `DA` (or no
//! `BRDA`) lines; otherwise the detail wins, as it does for Cobertura. Records of the same file
//! (one per test name, `TN:`) are merged: a line is covered when any record hit it.
//!
//! `by_file` has the same counts for each `SF:` path, records of the same path merged.
//!
//! Function records (`FN`, `FNDA`, `FNF`, `FNH`, `FNL`, `FNA`), `TN`, `VER` and unknown tags
//! are accepted and ignored, so newer lcov versions still parse. Every error names the line
//! (and the column of the offending field); a tracefile whose last record has no
//! `end_of_record` is refused as truncated.

use std::collections::{BTreeMap, HashMap};

use crate::facts::rate;
use crate::limits::MAX_LINE_BYTES;
use crate::text::{excerpt, Source};
use crate::{CoverageFacts, EvidenceError, EvidenceKind, FileCoverage};

/// Parses an LCOV tracefile.
pub(crate) fn parse(bytes: &[u8]) -> Result<CoverageFacts, EvidenceError> {
    let source = Source::new(EvidenceKind::Lcov, bytes)?;
    let mut tracefile = Tracefile::default();
    let mut offset = 0;
    for raw_line in source.bytes.split_inclusive(|&byte| byte == b'\n') {
        let line_offset = offset;
        offset += raw_line.len();
        if raw_line.len() > MAX_LINE_BYTES {
            return Err(
                source.error_at(line_offset, format!("a line is longer than the limit of {MAX_LINE_BYTES} bytes"))
            );
        }
        let line = std::str::from_utf8(raw_line).map_err(|_| source.error_at(line_offset, "line is not UTF-8"))?.trim();
        if !line.is_empty() {
            tracefile.line(Line { source, text: line }, line_offset)?;
        }
    }
    if let Some(record) = tracefile.record.take() {
        return Err(source.error_at(
            source.bytes.len(),
            format!("unexpected end of input: the record of {} has no end_of_record", excerpt(&record.name)),
        ));
    }
    tracefile.finish(source)
}

/// One non-blank line of the input, for making errors that point into it.
#[derive(Clone, Copy)]
struct Line<'a> {
    source: Source<'a>,
    text: &'a str,
}

#[derive(Default)]
struct Tracefile {
    record: Option<Record>,
    n_records: u64,
    files: HashMap<String, u32>,
    lines: HashMap<(u32, u64), bool>,
    branches: HashMap<(u32, u64, String, String), bool>,
    /// Counts from the `LF`/`LH`/`BRF`/`BRH` summaries of records without detail, by file.
    summarized: HashMap<u32, Summary>,
}

/// The record being read.
struct Record {
    name: String,
    file: u32,
    has_lines: bool,
    has_branches: bool,
    summary: Summary,
}

#[derive(Default, Clone, Copy)]
struct Summary {
    lines_total: u64,
    lines_covered: u64,
    branches_total: u64,
    branches_covered: u64,
}

impl Tracefile {
    fn line(&mut self, line: Line<'_>, offset: usize) -> Result<(), EvidenceError> {
        if line.text == "end_of_record" {
            let record = self
                .record
                .take()
                .ok_or_else(|| line.error(line.text, offset, "end_of_record without an SF: line before it"))?;
            self.end_record(record);
            return Ok(());
        }
        let Some((tag, value)) = line.text.split_once(':') else {
            return Err(line.error(line.text, offset, format!("expected TAG:VALUE, found {}", excerpt(line.text))));
        };
        if tag == "SF" {
            if let Some(record) = &self.record {
                return Err(line.error(
                    tag,
                    offset,
                    format!("SF: before the end_of_record of the record of {}", excerpt(&record.name)),
                ));
            }
            self.record = Some(Record {
                name: value.to_owned(),
                file: self.file(value, line, offset)?,
                has_lines: false,
                has_branches: false,
                summary: Summary::default(),
            });
            return Ok(());
        }
        if !matches!(tag, "DA" | "LF" | "LH" | "BRDA" | "BRF" | "BRH") {
            return Ok(());
        }
        self.data(tag, value, line, offset)
    }

    /// Reads one `DA`, `BRDA`, `LF`, `LH`, `BRF` or `BRH` line into the open record.
    fn data(&mut self, tag: &str, value: &str, line: Line<'_>, offset: usize) -> Result<(), EvidenceError> {
        let Some(record) = self.record.as_mut() else {
            return Err(line.error(tag, offset, format!("{tag}: outside a record (no SF: line before it)")));
        };
        match tag {
            "DA" => {
                let [number, hits_and_checksum] = line.fields(value, offset, "DA:<line>,<hits>")?;
                let hits = hits_and_checksum.split_once(',').map_or(hits_and_checksum, |(hits, _checksum)| hits);
                let number = line.number(number, offset, "line number")?;
                let hits = line.number(hits, offset, "hit count")?;
                *self.lines.entry((record.file, number)).or_default() |= hits > 0;
                record.has_lines = true;
            }
            "BRDA" => {
                // The branch may be an expression with commas in it (lcov 2), so `taken` is
                // the last field and the branch is everything between the block and it.
                let shape = "BRDA:<line>,<block>,<branch>,<taken>";
                let [number, block, branch_and_taken] = line.fields(value, offset, shape)?;
                let (branch, taken) = branch_and_taken.rsplit_once(',').ok_or_else(|| {
                    line.error(value, offset, format!("expected {shape}, found {}", excerpt(line.text)))
                })?;
                let number = line.number(number, offset, "line number")?;
                let taken = match taken {
                    "-" => 0,
                    taken => line.number(taken, offset, "taken count")?,
                };
                let key = (record.file, number, block.to_owned(), branch.to_owned());
                *self.branches.entry(key).or_default() |= taken > 0;
                record.has_branches = true;
            }
            _ => {
                let count = line.number(value, offset, "count")?;
                let summary = &mut record.summary;
                match tag {
                    "LF" => summary.lines_total = count,
                    "LH" => summary.lines_covered = count,
                    "BRF" => summary.branches_total = count,
                    _ => summary.branches_covered = count,
                }
            }
        }
        Ok(())
    }

    fn file(&mut self, name: &str, line: Line<'_>, offset: usize) -> Result<u32, EvidenceError> {
        if let Some(&index) = self.files.get(name) {
            return Ok(index);
        }
        let index = u32::try_from(self.files.len())
            .map_err(|_| line.error(name, offset, "more than 4294967295 distinct files"))?;
        self.files.insert(name.to_owned(), index);
        Ok(index)
    }

    fn end_record(&mut self, record: Record) {
        self.n_records += 1;
        let summarized = self.summarized.entry(record.file).or_default();
        if !record.has_lines {
            summarized.lines_total += record.summary.lines_total;
            summarized.lines_covered += record.summary.lines_covered;
        }
        if !record.has_branches {
            summarized.branches_total += record.summary.branches_total;
            summarized.branches_covered += record.summary.branches_covered;
        }
    }

    fn finish(self, source: Source<'_>) -> Result<CoverageFacts, EvidenceError> {
        if self.n_records == 0 {
            return Err(EvidenceError::whole(
                source.kind,
                "no records: an LCOV tracefile has SF:<file> ... end_of_record",
            ));
        }
        let mut by_index: HashMap<u32, FileCoverage> = HashMap::new();
        for (&(file, _line), &hit) in &self.lines {
            let counts = by_index.entry(file).or_default();
            counts.lines_total += 1;
            counts.lines_covered += u64::from(hit);
        }
        for (&(file, ..), &taken) in &self.branches {
            let counts = by_index.entry(file).or_default();
            counts.branches_total += 1;
            counts.branches_covered += u64::from(taken);
        }
        for (&file, summarized) in &self.summarized {
            let counts = by_index.entry(file).or_default();
            counts.lines_total += summarized.lines_total;
            counts.lines_covered += summarized.lines_covered;
            counts.branches_total += summarized.branches_total;
            counts.branches_covered += summarized.branches_covered;
        }
        let mut total = FileCoverage::default();
        for counts in by_index.values() {
            total.lines_total += counts.lines_total;
            total.lines_covered += counts.lines_covered;
            total.branches_total += counts.branches_total;
            total.branches_covered += counts.branches_covered;
        }
        if total.lines_covered > total.lines_total || total.branches_covered > total.branches_total {
            return Err(EvidenceError::whole(
                source.kind,
                "the LH or BRH summaries claim more covered lines or branches than LF or BRF",
            ));
        }
        let by_file: BTreeMap<String, FileCoverage> = self
            .files
            .iter()
            .map(|(name, index)| (name.clone(), by_index.get(index).copied().unwrap_or_default()))
            .collect();
        Ok(CoverageFacts {
            lines_total: total.lines_total,
            lines_covered: total.lines_covered,
            line_rate: rate(total.lines_covered, total.lines_total),
            branches_total: total.branches_total,
            branches_covered: total.branches_covered,
            branch_rate: rate(total.branches_covered, total.branches_total),
            files: self.files.len() as u64,
            by_file,
        })
    }
}

impl<'a> Line<'a> {
    /// An error at `part` of this line (a sub-slice of it), else at the line's start.
    fn error(self, part: &str, line_offset: usize, message: impl Into<String>) -> EvidenceError {
        self.source.error_at_slice(part.as_bytes(), line_offset, message)
    }

    /// Splits `value` at commas into `N` fields; the last field keeps any further commas.
    fn fields<const N: usize>(self, value: &'a str, offset: usize, shape: &str) -> Result<[&'a str; N], EvidenceError> {
        let mut fields = value.splitn(N, ',');
        let mut result = [""; N];
        for slot in &mut result {
            *slot = fields
                .next()
                .ok_or_else(|| self.error(value, offset, format!("expected {shape}, found {}", excerpt(self.text))))?;
        }
        Ok(result)
    }

    fn number(self, field: &str, offset: usize, what: &str) -> Result<u64, EvidenceError> {
        field
            .trim()
            .parse()
            .map_err(|_| self.error(field, offset, format!("{what} is not a non-negative integer: {}", excerpt(field))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(input: &str) -> CoverageFacts {
        parse(input.as_bytes()).expect("a valid tracefile")
    }

    fn error(input: &str) -> String {
        parse(input.as_bytes()).expect_err("an invalid tracefile").to_string()
    }

    #[test]
    fn lines_and_branches_are_counted_from_detail_and_merged_per_file() {
        let facts = facts(
            "TN:unit\nSF:src/a.rs\nFN:1,f\nFNDA:1,f\nDA:1,1\nDA:2,0\nDA:3,0,abc\nBRDA:2,0,0,1\nBRDA:2,0,1,-\nBRF:2\nBRH:1\nLF:99\nLH:99\nend_of_record\n\
             TN:other\nSF:src/a.rs\nDA:2,4\nend_of_record\n\
             SF:src/b.rs\nLF:10\nLH:5\nend_of_record\n",
        );
        insta::assert_debug_snapshot!(facts, @r#"
        CoverageFacts {
            lines_total: 13,
            lines_covered: 7,
            line_rate: Some(
                0.5384615384615384,
            ),
            branches_total: 2,
            branches_covered: 1,
            branch_rate: Some(
                0.5,
            ),
            files: 2,
            by_file: {
                "src/a.rs": FileCoverage {
                    lines_total: 3,
                    lines_covered: 2,
                    branches_total: 2,
                    branches_covered: 1,
                },
                "src/b.rs": FileCoverage {
                    lines_total: 10,
                    lines_covered: 5,
                    branches_total: 0,
                    branches_covered: 0,
                },
            },
        }
        "#);
    }

    #[test]
    fn a_branch_expression_may_contain_commas() {
        let facts = facts("SF:a\nBRDA:1,0,(a, b) == c,1\nBRDA:1,0,(a, b) != c,0\nend_of_record\n");
        assert_eq!((facts.branches_total, facts.branches_covered), (2, 1));
    }

    #[test]
    fn windows_line_endings_are_accepted() {
        assert_eq!(facts("SF:a\r\nDA:1,1\r\nend_of_record\r\n").lines_covered, 1);
    }

    #[test]
    fn a_bad_hit_count_names_its_line_and_column() {
        assert_eq!(
            error("SF:a\nDA:1,1\nDA:2,many\nend_of_record\n"),
            r#"lcov: line 3, column 6: hit count is not a non-negative integer: "many""#
        );
    }

    #[test]
    fn a_missing_field_names_its_line() {
        assert_eq!(
            error("SF:a\nBRDA:1,0,0\nend_of_record\n"),
            r#"lcov: line 2, column 6: expected BRDA:<line>,<block>,<branch>,<taken>, found "BRDA:1,0,0""#
        );
    }

    #[test]
    fn a_truncated_tracefile_is_refused() {
        assert_eq!(
            error("SF:a\nDA:1,1\n"),
            r#"lcov: line 3, column 1: unexpected end of input: the record of "a" has no end_of_record"#
        );
    }

    #[test]
    fn data_outside_a_record_is_refused() {
        assert_eq!(error("DA:1,1\n"), "lcov: line 1, column 1: DA: outside a record (no SF: line before it)");
        assert_eq!(
            error("SF:a\nSF:b\nend_of_record\n"),
            r#"lcov: line 2, column 1: SF: before the end_of_record of the record of "a""#
        );
    }

    #[test]
    fn a_line_that_is_not_tag_and_value_is_refused() {
        assert_eq!(error("SF:a\n<html>\n"), r#"lcov: line 2, column 1: expected TAG:VALUE, found "<html>""#);
    }

    #[test]
    fn input_without_records_is_refused() {
        assert_eq!(error("TN:\n"), "lcov: no records: an LCOV tracefile has SF:<file> ... end_of_record");
    }
}
