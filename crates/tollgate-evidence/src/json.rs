//! Guarded JSON deserialization shared by the SARIF and CycloneDX parsers.
//!
//! Before serde sees the input, one linear pass checks that the top level is an object, that
//! arrays and objects nest at most [`MAX_DEPTH`] deep and that no string is longer than
//! [`MAX_JSON_STRING_BYTES`]; serde_json then deserializes into the parser's own minimal structs,
//! skipping everything else without building it. Errors are located by line and column for
//! broken JSON and by JSON path (through `serde_path_to_error`) for JSON that does not fit the
//! schema. This module knows no schema; the parsers do.

use serde::Deserialize;
use serde_json::error::Category;
use serde_path_to_error::Segment;

use crate::limits::{MAX_DEPTH, MAX_JSON_STRING_BYTES};
use crate::text::Source;
use crate::EvidenceError;

/// Checks the input's shape and bounds, once, before any [`deserialize`] of it.
pub(crate) fn check_structure(source: Source<'_>) -> Result<(), EvidenceError> {
    let bytes = source.bytes;
    let Some(first) = bytes.iter().position(|byte| !byte.is_ascii_whitespace()) else {
        return Err(EvidenceError::whole(source.kind, "empty input"));
    };
    if bytes[first] != b'{' {
        let found = match bytes[first] {
            b'[' => "an array",
            b'"' => "a string",
            b't' | b'f' => "a boolean",
            b'n' => "null",
            b'-' | b'0'..=b'9' => "a number",
            _ => "something that is not JSON",
        };
        return Err(EvidenceError::at_path(
            source.kind,
            "$",
            format!("expected a JSON object at the top level, found {found}"),
        ));
    }
    let mut depth = 0_usize;
    let mut index = first;
    while index < bytes.len() {
        match bytes[index] {
            b'"' => {
                let start = index;
                index = end_of_string(bytes, index + 1);
                if index - start > MAX_JSON_STRING_BYTES {
                    return Err(source.error_at(
                        start,
                        format!("a string is longer than the limit of {MAX_JSON_STRING_BYTES} bytes"),
                    ));
                }
            }
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(
                        source.error_at(index, format!("arrays and objects are nested more than {MAX_DEPTH} deep"))
                    );
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        index += 1;
    }
    Ok(())
}

/// Deserializes the whole input as a `T`, refusing trailing content.
pub(crate) fn deserialize<'a, T: Deserialize<'a>>(source: Source<'a>) -> Result<T, EvidenceError> {
    let mut deserializer = serde_json::Deserializer::from_slice(source.bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = json_path(error.path());
        locate(source, error.into_inner(), Some(path))
    })?;
    deserializer.end().map_err(|error| locate(source, error, None))?;
    Ok(value)
}

/// Writes a path like `$.runs[0].results[2].level`.
fn json_path(path: &serde_path_to_error::Path) -> String {
    let mut text = String::from("$");
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => text.push_str(&format!("[{index}]")),
            Segment::Map { key } if is_identifier(key) => text.push_str(&format!(".{key}")),
            Segment::Map { key } => text.push_str(&format!("[{key:?}]")),
            Segment::Enum { variant } => text.push_str(&format!(".{variant}")),
            Segment::Unknown => text.push_str(".?"),
        }
    }
    text
}

fn is_identifier(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'$')
}

/// Schema errors go to their JSON path, syntax errors to their line and column.
fn locate(source: Source<'_>, error: serde_json::Error, path: Option<String>) -> EvidenceError {
    let full = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
    match (error.classify(), path) {
        (Category::Data, Some(path)) => EvidenceError::at_path(source.kind, path, message),
        (Category::Eof, _) => EvidenceError::new(
            source.kind,
            crate::Location::LineColumn { line: error.line() as u64, column: error.column() as u64 },
            format!("unexpected end of input: {message}"),
        ),
        _ => EvidenceError::new(
            source.kind,
            crate::Location::LineColumn { line: error.line() as u64, column: error.column() as u64 },
            message,
        ),
    }
}

/// The index of the closing quote of a string whose content starts at `index`, or the end of
/// the input for an unterminated string (which serde_json then reports).
fn end_of_string(bytes: &[u8], mut index: usize) -> usize {
    while index < bytes.len() {
        match bytes[index] {
            b'\\' => index += 2,
            b'"' => return index,
            _ => index += 1,
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EvidenceKind;

    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Shape {
        version: String,
        items: Vec<Item>,
    }

    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Item {
        #[serde(rename = "bom-ref")]
        reference: u32,
    }

    fn error(input: &str) -> String {
        let source = Source::new(EvidenceKind::Sarif, input.as_bytes()).expect("not empty");
        check_structure(source).and_then(|()| deserialize::<Shape>(source)).expect_err("invalid").to_string()
    }

    #[test]
    fn a_value_of_the_wrong_type_is_located_by_json_path() {
        assert_eq!(
            error(r#"{"version": "1", "items": [{"bom-ref": 1}, {"bom-ref": "x"}]}"#),
            r#"sarif: at $.items[1]["bom-ref"]: invalid type: string "x", expected u32"#
        );
    }

    #[test]
    fn a_missing_field_is_located_at_its_object() {
        assert_eq!(error(r#"{"items": []}"#), "sarif: at $: missing field `version`");
    }

    #[test]
    fn truncated_json_is_located_by_line_and_column() {
        assert_eq!(
            error("{\"version\": \"1\",\n \"items\": [{"),
            "sarif: line 2, column 12: unexpected end of input: EOF while parsing an object"
        );
    }

    #[test]
    fn trailing_content_is_refused() {
        assert_eq!(error(r#"{"version": "1", "items": []} {}"#), "sarif: line 1, column 31: trailing characters");
    }

    #[test]
    fn a_top_level_that_is_not_an_object_is_refused() {
        assert_eq!(error(" [1, 2]"), "sarif: at $: expected a JSON object at the top level, found an array");
        assert_eq!(error("\"text\""), "sarif: at $: expected a JSON object at the top level, found a string");
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_refused_even_where_it_would_be_skipped() {
        let deep = format!(r#"{{"skipped": {}{}}}"#, "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        let error = error(&deep);
        assert!(error.ends_with(&format!("nested more than {MAX_DEPTH} deep")), "{error}");
    }

    #[test]
    fn brackets_inside_strings_do_not_count_as_nesting() {
        let source_text = format!(r#"{{"version": "{}\"", "items": []}}"#, "[".repeat(MAX_DEPTH * 2));
        let source = Source::new(EvidenceKind::Sarif, source_text.as_bytes()).expect("not empty");
        check_structure(source).expect("brackets in a string are text");
    }

    #[test]
    fn an_overlong_string_is_refused() {
        let long = format!(r#"{{"version": "{}"}}"#, "x".repeat(MAX_JSON_STRING_BYTES + 1));
        let error = error(&long);
        assert!(error.starts_with("sarif: line 1, column 13: a string is longer"), "{error}");
    }
}
