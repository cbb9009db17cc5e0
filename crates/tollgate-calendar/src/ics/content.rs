//! RFC 5545 content lines: unfolding, names, parameters and values on the way in; escaping and
//! folding at 75 octets on the way out.

use crate::error::IcsError;
use crate::limits::{MAX_CONTENT_LINE_BYTES, MAX_ICS_BYTES};

/// Lines are folded so that none is longer than this many octets, CRLF not counted.
const FOLD_OCTETS: usize = 75;

/// One unfolded content line: `NAME;PARAM=value:VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContentLine {
    /// The physical line it starts on (1-based).
    pub line: usize,
    /// The property name, upper case.
    pub name: String,
    /// The parameters, names upper case, each with its values (quotes removed).
    pub params: Vec<(String, Vec<String>)>,
    /// The value, still escaped.
    pub value: String,
}

impl ContentLine {
    /// The first value of parameter `name` (upper case), if the line has it.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(param, _)| param == name).and_then(|(_, values)| values.first()).map(String::as_str)
    }

    /// An error about this property.
    pub fn error(&self, reason: impl Into<String>) -> IcsError {
        IcsError::Property { line: self.line, property: self.name.clone(), reason: reason.into() }
    }
}

/// Splits `text` into unfolded content lines (CRLF or LF line ends; a line starting with a space
/// or a tab continues the one before). Blank lines are skipped.
pub(crate) fn content_lines(text: &str) -> Result<Vec<ContentLine>, IcsError> {
    if text.len() > MAX_ICS_BYTES {
        return Err(IcsError::Limit { line: 1, reason: format!("the file is larger than {MAX_ICS_BYTES} bytes") });
    }
    let mut lines = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (index, physical) in text.split('\n').enumerate() {
        let number = index + 1;
        let physical = physical.strip_suffix('\r').unwrap_or(physical);
        if let Some(continuation) = physical.strip_prefix([' ', '\t']) {
            let Some((start, unfolded)) = current.as_mut() else {
                return Err(IcsError::Syntax { line: number, reason: "a folded line continues nothing".into() });
            };
            if unfolded.len() + continuation.len() > MAX_CONTENT_LINE_BYTES {
                let reason = format!("a content line is longer than {MAX_CONTENT_LINE_BYTES} bytes");
                return Err(IcsError::Limit { line: *start, reason });
            }
            unfolded.push_str(continuation);
            continue;
        }
        if let Some((start, unfolded)) = current.take() {
            lines.push(parse_line(start, &unfolded)?);
        }
        if physical.len() > MAX_CONTENT_LINE_BYTES {
            let reason = format!("a content line is longer than {MAX_CONTENT_LINE_BYTES} bytes");
            return Err(IcsError::Limit { line: number, reason });
        }
        if !physical.trim().is_empty() {
            current = Some((number, physical.to_owned()));
        }
    }
    if let Some((start, unfolded)) = current {
        lines.push(parse_line(start, &unfolded)?);
    }
    Ok(lines)
}

/// Reads `NAME *(;PARAM=value *(,value)) : VALUE`.
fn parse_line(line: usize, text: &str) -> Result<ContentLine, IcsError> {
    let syntax = |reason: &str| IcsError::Syntax { line, reason: reason.to_owned() };
    let name_end = text.find([';', ':']).ok_or_else(|| syntax("a content line without a colon"))?;
    let name = &text[..name_end];
    if name.is_empty() || !name.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-') {
        return Err(syntax("a property name is empty or has characters other than letters, digits and dashes"));
    }
    let name = name.to_ascii_uppercase();
    let mut params = Vec::new();
    let mut rest = &text[name_end..];
    while let Some(after) = rest.strip_prefix(';') {
        let equals = after.find('=').ok_or_else(|| IcsError::Property {
            line,
            property: name.clone(),
            reason: "a parameter without a value".into(),
        })?;
        let param_name = after[..equals].to_ascii_uppercase();
        let mut values = Vec::new();
        rest = &after[equals..];
        while let Some(after) = rest.strip_prefix(['=', ',']) {
            let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
                let close = quoted.find('"').ok_or_else(|| IcsError::Property {
                    line,
                    property: name.clone(),
                    reason: format!("parameter {param_name}: a quote is not closed"),
                })?;
                (&quoted[..close], &quoted[close + 1..])
            } else {
                let end = after.find([',', ';', ':']).unwrap_or(after.len());
                (&after[..end], &after[end..])
            };
            values.push(value.to_owned());
            rest = remaining;
        }
        params.push((param_name, values));
    }
    let value = rest.strip_prefix(':').ok_or_else(|| IcsError::Property {
        line,
        property: name.clone(),
        reason: "the parameters are not followed by a colon".into(),
    })?;
    Ok(ContentLine { line, name, params, value: value.to_owned() })
}

/// Undoes TEXT escaping: `\\`, `\;`, `\,`, `\n` and `\N`. Another escaped character stands for
/// itself (some writers escape colons).
pub(crate) fn unescape_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut characters = value.chars();
    while let Some(character) = characters.next() {
        if character != '\\' {
            out.push(character);
            continue;
        }
        match characters.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// Splits a TEXT list at the commas that are not escaped, each item still escaped.
pub(crate) fn split_text_list(value: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (index, character) in value.char_indices() {
        match character {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ',' => {
                items.push(&value[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    items.push(&value[start..]);
    items
}

/// Escapes TEXT: backslash, semicolon, comma and line ends.
pub(crate) fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            other => out.push(other),
        }
    }
    out
}

/// Appends `line` to `out`, folded so that no physical line exceeds 75 octets, each ended by
/// CRLF. Folds never split a UTF-8 character.
pub(crate) fn push_folded(out: &mut String, line: &str) {
    let mut rest = line;
    let mut limit = FOLD_OCTETS;
    loop {
        if rest.len() <= limit {
            out.push_str(rest);
            out.push_str("\r\n");
            return;
        }
        let mut cut = limit;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&rest[..cut]);
        out.push_str("\r\n ");
        rest = &rest[cut..];
        // The leading space of a continuation line counts toward its 75 octets.
        limit = FOLD_OCTETS - 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_lines_unfold_with_crlf_or_lf_and_keep_their_first_line_number() {
        let text =
            "BEGIN:VCALENDAR\r\nSUMMARY;LANGUAGE=en:Year-end\r\n  freeze\r\nX-A;P=\"a;b:c\",d;Q=e:v:w\nEND:VCALENDAR\n";
        let lines = content_lines(text).expect("valid");
        assert_eq!(lines.len(), 4);
        assert_eq!((lines[1].line, lines[1].name.as_str(), lines[1].value.as_str()), (2, "SUMMARY", "Year-end freeze"));
        assert_eq!(lines[1].param("LANGUAGE"), Some("en"));
        assert_eq!(lines[2].line, 4);
        assert_eq!(
            lines[2].params,
            [("P".to_owned(), vec!["a;b:c".to_owned(), "d".to_owned()]), ("Q".to_owned(), vec!["e".to_owned()])]
        );
        assert_eq!(lines[2].value, "v:w");
    }

    #[test]
    fn malformed_lines_are_refused_with_their_line() {
        for (text, message) in [
            (" continued", "line 1: a folded line continues nothing"),
            ("BEGIN:VCALENDAR\nNO COLON", "line 2: a content line without a colon"),
            ("X;P:v", "line 1: X: a parameter without a value"),
            ("X;P=\"open:v", "line 1: X: parameter P: a quote is not closed"),
            ("BAD NAME:v", "line 1: a property name is empty or has characters other than letters, digits and dashes"),
        ] {
            assert_eq!(content_lines(text).expect_err(text).to_string(), message);
        }
    }

    #[test]
    fn text_escapes_round_trip() {
        let text = "a\\b;c,d\ne";
        assert_eq!(escape_text(text), "a\\\\b\\;c\\,d\\ne");
        assert_eq!(unescape_text(&escape_text(text)), text);
        assert_eq!(split_text_list("A\\,B,C"), ["A\\,B", "C"]);
    }

    #[test]
    fn long_lines_fold_at_75_octets_without_splitting_characters() {
        let line = format!("SUMMARY:{}", "é".repeat(100));
        let mut out = String::new();
        push_folded(&mut out, &line);
        for physical in out.split("\r\n").filter(|physical| !physical.is_empty()) {
            assert!(physical.len() <= 75, "{} octets", physical.len());
        }
        let unfolded = content_lines(&out).expect("valid");
        assert_eq!(unfolded[0].value, "é".repeat(100));
    }
}
