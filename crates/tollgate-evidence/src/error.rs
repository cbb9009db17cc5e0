//! The one error every parser returns: which kind of evidence, where in the input, and what is
//! wrong.
//!
//! Locations are computed only when an error is made, so a successful parse never pays for line
//! counting. This module does not decide what is an error; the parsers do.

use std::fmt;

use crate::EvidenceKind;

/// Why a piece of evidence could not be turned into facts.
///
/// Displayed as `junit: line 3, column 7: <message>`, `sarif: at $.runs[0].results[2].level:
/// <message>` or, when the problem concerns the input as a whole, `lcov: <message>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {location}{message}")]
pub struct EvidenceError {
    /// The kind of evidence that was being parsed.
    pub kind: EvidenceKind,
    /// Where in the input the problem was found.
    pub location: Location,
    /// What is wrong, in lower case without a trailing period.
    pub message: String,
}

/// A place in the input that an [`EvidenceError`] points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A 1-based line and column (columns count characters) in a text format: XML or LCOV, and
    /// JSON syntax errors.
    LineColumn {
        /// The 1-based line number.
        line: u64,
        /// The 1-based column, in characters.
        column: u64,
    },
    /// A JSONPath-like address of the value that does not fit the schema, such as
    /// `$.runs[0].results[2].level`.
    JsonPath(String),
    /// The problem concerns the input as a whole, such as empty input.
    Whole,
}

impl fmt::Display for Location {
    /// Writes the location followed by `": "`, or nothing for [`Location::Whole`], so that it
    /// can prefix a message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::LineColumn { line, column } => write!(f, "line {line}, column {column}: "),
            Location::JsonPath(path) => write!(f, "at {path}: "),
            Location::Whole => Ok(()),
        }
    }
}

impl EvidenceError {
    pub(crate) fn new(kind: EvidenceKind, location: Location, message: impl Into<String>) -> Self {
        EvidenceError { kind, location, message: message.into() }
    }

    pub(crate) fn whole(kind: EvidenceKind, message: impl Into<String>) -> Self {
        EvidenceError::new(kind, Location::Whole, message)
    }

    pub(crate) fn at_path(kind: EvidenceKind, path: impl Into<String>, message: impl Into<String>) -> Self {
        EvidenceError::new(kind, Location::JsonPath(path.into()), message)
    }
}

/// Turns a byte offset into a 1-based line and a 1-based column counted in characters.
///
/// Works on raw bytes, so it is also right for input that is not valid UTF-8 and for offsets
/// that fall inside a multi-byte character.
pub(crate) fn line_column(input: &[u8], offset: usize) -> Location {
    let before = &input[..offset.min(input.len())];
    let line_start = before.iter().rposition(|&byte| byte == b'\n').map_or(0, |newline| newline + 1);
    let n_newlines = before.iter().filter(|&&byte| byte == b'\n').count();
    let n_characters = before[line_start..].iter().filter(|&&byte| byte & 0xC0 != 0x80).count();
    Location::LineColumn { line: n_newlines as u64 + 1, column: n_characters as u64 + 1 }
}

/// The byte offset of `part` inside `whole`, when `part` is a sub-slice of it.
pub(crate) fn offset_within(whole: &[u8], part: &[u8]) -> Option<usize> {
    let start = whole.as_ptr() as usize;
    let part_start = part.as_ptr() as usize;
    (part_start >= start && part_start + part.len() <= start + whole.len()).then(|| part_start - start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, offset: usize, expected: (u64, u64)) {
        assert_eq!(
            line_column(input.as_bytes(), offset),
            Location::LineColumn { line: expected.0, column: expected.1 }
        );
    }

    #[test]
    fn offsets_become_one_based_lines_and_character_columns() {
        check("abc", 0, (1, 1));
        check("abc", 2, (1, 3));
        check("ab\ncd", 3, (2, 1));
        check("ab\ncd", 4, (2, 2));
        check("é\nxé y", 7, (2, 4));
        check("abc", 99, (1, 4));
    }

    #[test]
    fn errors_display_kind_location_and_message() {
        let at_line = EvidenceError::new(EvidenceKind::Junit, Location::LineColumn { line: 3, column: 7 }, "bad");
        assert_eq!(at_line.to_string(), "junit: line 3, column 7: bad");
        let at_path = EvidenceError::at_path(EvidenceKind::Sarif, "$.version", "bad");
        assert_eq!(at_path.to_string(), "sarif: at $.version: bad");
        let whole = EvidenceError::whole(EvidenceKind::Lcov, "empty input");
        assert_eq!(whole.to_string(), "lcov: empty input");
    }

    #[test]
    fn only_sub_slices_have_an_offset() {
        let whole = b"hello world";
        assert_eq!(offset_within(whole, &whole[6..]), Some(6));
        let elsewhere = b"world".to_vec();
        assert_eq!(offset_within(whole, &elsewhere), None);
    }
}
