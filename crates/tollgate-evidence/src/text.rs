//! The checks every format starts with: the input is not empty and is UTF-8. Also the
//! [`Source`] that turns byte offsets into located errors.
//!
//! No format here is read in another encoding: an XML encoding declaration is not consulted,
//! and input that is not valid UTF-8 is refused where the first invalid byte is.

use crate::error::{line_column, offset_within};
use crate::{EvidenceError, EvidenceKind};

/// The input of one parse, for making errors that point into it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Source<'a> {
    pub(crate) kind: EvidenceKind,
    /// The input after the byte order mark, if any; offsets count from here.
    pub(crate) bytes: &'a [u8],
}

impl<'a> Source<'a> {
    /// Checks that the input is not blank and is UTF-8, and drops a UTF-8 byte order mark.
    pub(crate) fn new(kind: EvidenceKind, bytes: &'a [u8]) -> Result<Source<'a>, EvidenceError> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(EvidenceError::whole(kind, "empty input"));
        }
        if let Err(utf8_error) = std::str::from_utf8(bytes) {
            let offset = utf8_error.valid_up_to();
            return Err(EvidenceError::new(
                kind,
                line_column(bytes, offset),
                format!("input is not UTF-8: byte 0x{:02x} cannot start or continue a character", bytes[offset]),
            ));
        }
        Ok(Source { kind, bytes })
    }

    /// An error at a byte offset of the input.
    pub(crate) fn error_at(self, offset: usize, message: impl Into<String>) -> EvidenceError {
        EvidenceError::new(self.kind, line_column(self.bytes, offset), message)
    }

    /// An error at `part` when it is a slice of the input, else at `fallback_offset`.
    pub(crate) fn error_at_slice(
        self,
        part: &[u8],
        fallback_offset: usize,
        message: impl Into<String>,
    ) -> EvidenceError {
        let offset = offset_within(self.bytes, part).unwrap_or(fallback_offset);
        self.error_at(offset, message)
    }
}

/// Shows at most the first 40 characters of a value in an error message.
pub(crate) fn excerpt(value: &str) -> String {
    const MAX_CHARACTERS: usize = 40;
    match value.char_indices().nth(MAX_CHARACTERS) {
        Some((end, _)) => format!("{:?}…", &value[..end]),
        None => format!("{value:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_input_is_empty() {
        let error = Source::new(EvidenceKind::Lcov, b" \n\t").expect_err("blank");
        assert_eq!(error.to_string(), "lcov: empty input");
    }

    #[test]
    fn a_byte_order_mark_alone_is_empty_input() {
        let error = Source::new(EvidenceKind::Junit, b"\xEF\xBB\xBF").expect_err("blank");
        assert_eq!(error.to_string(), "junit: empty input");
    }

    #[test]
    fn invalid_utf8_is_located_at_its_first_bad_byte() {
        let error = Source::new(EvidenceKind::Junit, b"<a>\n  \xff</a>").expect_err("latin-1");
        assert_eq!(
            error.to_string(),
            "junit: line 2, column 3: input is not UTF-8: byte 0xff cannot start or continue a character"
        );
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        assert_eq!(excerpt("short"), r#""short""#);
        assert_eq!(excerpt(&"x".repeat(50)), format!("{:?}…", "x".repeat(40)));
    }
}
