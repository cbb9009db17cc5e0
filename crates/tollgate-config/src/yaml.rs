//! The YAML layer: parsing text into a tree of positioned nodes, and what kind of value a node is.
//!
//! Parsing uses `marked-yaml`, which refuses anchors, aliases and tags, and whose scanner bounds
//! nesting depth; duplicate keys are errors. Scalars are typed here by the YAML 1.2 core schema
//! (`12`, `true`, `null` unquoted are not strings); this layer knows nothing of the tollgate schema.

use marked_yaml::types::MarkedMappingNode;
use marked_yaml::{LoadError, LoaderOptions, Marker, Node, Span};

use crate::error::{ConfigProblem, ProblemKind, ValueKind};
use crate::source_map::Location;

/// Parses `text` into its top-level mapping. A text with no content (blank, comments, document
/// markers) is an empty mapping. Only the first YAML document is read; see
/// `find_second_document`.
pub(crate) fn parse(text: &str) -> Result<Node, ConfigProblem> {
    if is_blank(text) {
        return Ok(Node::from(MarkedMappingNode::new_empty(Span::new_blank())));
    }
    marked_yaml::parse_yaml_with_options(0, text, options(true)).map_err(|load_error| {
        let (location, path, kind) = match load_error {
            LoadError::TopLevelMustBeMapping(marker) | LoadError::TopLevelMustBeSequence(marker) => {
                (location(&marker), String::new(), ProblemKind::TopLevelNotMapping)
            }
            LoadError::UnexpectedAnchor(marker) => (location(&marker), String::new(), ProblemKind::Anchor),
            LoadError::MappingKeyMustBeScalar(marker) => (location(&marker), String::new(), ProblemKind::KeyNotScalar),
            LoadError::UnexpectedTag(marker) => (location(&marker), String::new(), ProblemKind::Tag),
            LoadError::ScanError(marker, scan_error) => {
                (location(&marker), String::new(), ProblemKind::Syntax { message: scan_error.info().to_owned() })
            }
            LoadError::DuplicateKey(duplicate) => {
                let first = span_location(duplicate.prev_key.span());
                let second = span_location(duplicate.key.span());
                let path = find_mapping_with_key(text, first).unwrap_or_default();
                let kind = ProblemKind::DuplicateKey { key: duplicate.key.as_str().to_owned(), first };
                (second, path, kind)
            }
        };
        ConfigProblem { location, path, kind }
    })
}

/// Where a second YAML document starts: a `---` or `...` marker line followed by content, after
/// content. YAML ends a document at such a line even inside a quoted or block string, so looking
/// at lines is exact.
pub(crate) fn find_second_document(text: &str) -> Option<Location> {
    let mut seen_content = false;
    let mut marker_after_content = None;
    for (index, line) in text.lines().enumerate() {
        if seen_content && marker_after_content.is_none() && document_marker_rest(line).is_some() {
            marker_after_content = Some(Location { line: index + 1, column: 1 });
        }
        if has_content(line) {
            if marker_after_content.is_some() {
                return marker_after_content;
            }
            seen_content = true;
        }
    }
    None
}

/// Where a node starts. Block mappings are located at their first key, since the parser marks
/// them after it.
pub(crate) fn node_location(node: &Node) -> Location {
    let start = span_location(node.span());
    match node {
        Node::Mapping(mapping) => {
            mapping.keys().next().map_or(start, |first_key| start.min(span_location(first_key.span())))
        }
        Node::Scalar(_) | Node::Sequence(_) => start,
    }
}

/// Where a node with only a start marker (a scalar, a key) starts.
pub(crate) fn span_location(span: &Span) -> Location {
    span.start().map_or(Location::START, location)
}

/// The kind of value a node holds. Quoted and block scalars are always strings; plain ones are
/// typed by the YAML 1.2 core schema.
pub(crate) fn value_kind(node: &Node) -> ValueKind {
    match node {
        Node::Mapping(_) => ValueKind::Mapping,
        Node::Sequence(_) => ValueKind::List,
        // With coercion prevented at load, `may_coerce` is true exactly for plain scalars.
        Node::Scalar(scalar) if !scalar.may_coerce() => ValueKind::String,
        Node::Scalar(scalar) => plain_scalar_kind(scalar.as_str()),
    }
}

fn options(error_on_duplicate_keys: bool) -> LoaderOptions {
    LoaderOptions::default().prevent_coercion(true).error_on_duplicate_keys(error_on_duplicate_keys)
}

fn location(marker: &Marker) -> Location {
    Location { line: marker.line(), column: marker.column() }
}

/// The key path of the mapping holding the key that starts at `key_location`. Parses `text`
/// again with duplicate keys allowed, which keeps the first of them; only runs on that error.
fn find_mapping_with_key(text: &str, key_location: Location) -> Option<String> {
    let root = marked_yaml::parse_yaml_with_options(0, text, options(false)).ok()?;
    find_path(&root, String::new(), key_location)
}

/// Depth-first search for the mapping holding a key at `key_location`. The recursion is bounded
/// by the parser's nesting limit.
fn find_path(node: &Node, path: String, key_location: Location) -> Option<String> {
    match node {
        Node::Scalar(_) => None,
        Node::Sequence(sequence) => sequence
            .iter()
            .enumerate()
            .find_map(|(index, item)| find_path(item, format!("{path}[{index}]"), key_location)),
        Node::Mapping(mapping) => {
            if mapping.keys().any(|key| span_location(key.span()) == key_location) {
                return Some(path);
            }
            mapping.iter().find_map(|(key, value)| find_path(value, join_key(&path, key.as_str()), key_location))
        }
    }
}

/// `services[0].owner` from `services[0]` and `owner`; `services` from the empty root path.
pub(crate) fn join_key(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn is_blank(text: &str) -> bool {
    !text.lines().any(has_content)
}

/// Whether a line holds YAML content: not blank, not a comment, not a `%` directive, not a bare
/// document marker.
fn has_content(line: &str) -> bool {
    let rest = document_marker_rest(line).unwrap_or(line);
    let trimmed = rest.trim_start();
    !(trimmed.is_empty() || trimmed.starts_with('#') || rest.starts_with('%'))
}

/// What follows a `---` or `...` document marker, if the line starts with one.
fn document_marker_rest(line: &str) -> Option<&str> {
    ["---", "..."]
        .iter()
        .find_map(|marker| line.strip_prefix(marker).filter(|rest| rest.is_empty() || rest.starts_with([' ', '\t'])))
}

fn plain_scalar_kind(value: &str) -> ValueKind {
    match value {
        "" | "~" | "null" | "Null" | "NULL" => ValueKind::Null,
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" => ValueKind::Boolean,
        _ if is_number(value) => ValueKind::Number,
        _ => ValueKind::String,
    }
}

/// Integers (decimal, `0o` octal, `0x` hex) and floats (`1.5`, `-2e3`, `.5`, `.inf`, `.nan`) of
/// the YAML 1.2 core schema.
fn is_number(value: &str) -> bool {
    let unsigned = value.strip_prefix(['-', '+']).unwrap_or(value);
    if let Some(octal) = value.strip_prefix("0o") {
        return !octal.is_empty() && octal.chars().all(|c| c.is_digit(8));
    }
    if let Some(hex) = value.strip_prefix("0x") {
        return !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit());
    }
    if matches!(unsigned, ".inf" | ".Inf" | ".INF") || matches!(value, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, Some(exponent)),
        None => (unsigned, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |part: &str| part.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok = (!whole.is_empty() || !fraction.is_empty()) && digits(whole) && digits(fraction);
    let exponent_ok = exponent.is_none_or(|exponent| {
        let exponent = exponent.strip_prefix(['-', '+']).unwrap_or(exponent);
        !exponent.is_empty() && digits(exponent)
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_scalars_are_typed_by_the_yaml_core_schema() {
        let cases = [
            ("", ValueKind::Null),
            ("~", ValueKind::Null),
            ("null", ValueKind::Null),
            ("true", ValueKind::Boolean),
            ("FALSE", ValueKind::Boolean),
            ("12", ValueKind::Number),
            ("-12", ValueKind::Number),
            ("+1.5", ValueKind::Number),
            ("1.", ValueKind::Number),
            (".5", ValueKind::Number),
            ("2e10", ValueKind::Number),
            ("1.5E-3", ValueKind::Number),
            ("0o17", ValueKind::Number),
            ("0x1F", ValueKind::Number),
            (".inf", ValueKind::Number),
            ("-.inf", ValueKind::Number),
            (".nan", ValueKind::Number),
            (".", ValueKind::String),
            ("-", ValueKind::String),
            ("e5", ValueKind::String),
            ("1e", ValueKind::String),
            ("0x", ValueKind::String),
            ("1.2.3", ValueKind::String),
            ("yes", ValueKind::String),
            ("no", ValueKind::String),
            ("nulls", ValueKind::String),
            ("v1", ValueKind::String),
            ("postgres-main", ValueKind::String),
        ];
        for (value, expected) in cases {
            assert_eq!(plain_scalar_kind(value), expected, "{value:?}");
        }
    }

    #[test]
    fn document_markers_need_a_space_or_the_end_of_the_line_after_them() {
        assert_eq!(document_marker_rest("---"), Some(""));
        assert_eq!(document_marker_rest("--- # start"), Some(" # start"));
        assert_eq!(document_marker_rest("..."), Some(""));
        assert_eq!(document_marker_rest("----"), None);
        assert_eq!(document_marker_rest(" ---"), None);
        assert_eq!(document_marker_rest("---x"), None);
    }

    #[test]
    fn markers_comments_and_directives_are_not_content() {
        assert!(is_blank("%YAML 1.2\n---\n# nothing yet\n\n...\n"));
        assert!(!is_blank("--- {teams: []}\n"));
    }
}
