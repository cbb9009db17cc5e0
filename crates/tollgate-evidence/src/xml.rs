//! A guarded, streaming XML reader shared by the JUnit and Cobertura parsers.
//!
//! It wraps `quick_xml`'s zero-copy reader over the input slice and hands the parsers only
//! element starts and ends, after enforcing what `quick_xml` leaves to its user: one root
//! element, no internal DTD subset (so no entity can be declared, let alone expanded; a
//! reference to an external DTD is allowed and never fetched),
//! only the five predefined entities and character references, bounded depth, names, attributes
//! and text, and an error instead of a silent end when the input is truncated. It never builds a
//! tree and never copies text. It does not interpret any element; the parsers do.

use std::borrow::Cow;
use std::str::FromStr;

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::Reader;

use crate::limits::{MAX_ATTRIBUTES, MAX_ATTRIBUTE_BYTES, MAX_DEPTH, MAX_NAME_BYTES, MAX_TEXT_BYTES};
use crate::text::{excerpt, Source};
use crate::EvidenceError;

/// What the parsers see of a document.
pub(crate) enum XmlEvent<'a> {
    /// An element opens; an empty element (`<a/>`) gives a start and then an end.
    Start(Element<'a>),
    /// The innermost open element closes.
    End,
}

/// An element's start tag, whose attributes have been checked.
pub(crate) struct Element<'a> {
    start: BytesStart<'a>,
    source: Source<'a>,
    offset: usize,
}

/// Reads the events of one document.
pub(crate) struct XmlReader<'a> {
    source: Source<'a>,
    reader: Reader<&'a [u8]>,
    // Invariant: holds the offset of the `<` of every open element, innermost last, and never
    // more than `MAX_DEPTH` of them.
    open_elements: Vec<usize>,
    end_of_empty_element: bool,
    root_closed: bool,
    seen_doctype: bool,
}

impl<'a> XmlReader<'a> {
    pub(crate) fn new(source: Source<'a>) -> XmlReader<'a> {
        let mut reader = Reader::from_reader(source.bytes);
        let config = reader.config_mut();
        config.check_end_names = true;
        config.allow_unmatched_ends = false;
        config.allow_dangling_amp = false;
        config.expand_empty_elements = false;
        config.trim_text(false);
        XmlReader {
            source,
            reader,
            open_elements: Vec::new(),
            end_of_empty_element: false,
            root_closed: false,
            seen_doctype: false,
        }
    }

    /// The next start or end of an element, or `None` after the root element has closed and
    /// only whitespace, comments and processing instructions follow.
    pub(crate) fn next(&mut self) -> Result<Option<XmlEvent<'a>>, EvidenceError> {
        loop {
            if self.end_of_empty_element {
                self.end_of_empty_element = false;
                self.close();
                return Ok(Some(XmlEvent::End));
            }
            let offset = position(self.reader.buffer_position());
            let event = self.reader.read_event().map_err(|error| {
                self.source.error_at(position(self.reader.error_position()), format!("malformed XML: {error}"))
            })?;
            match event {
                Event::Start(start) => return self.open(start, offset).map(Some),
                Event::Empty(start) => {
                    self.end_of_empty_element = true;
                    return self.open(start, offset).map(Some);
                }
                Event::End(_) => {
                    self.close();
                    return Ok(Some(XmlEvent::End));
                }
                Event::Text(text) => self.check_text(&text, offset, "text")?,
                Event::CData(data) => self.check_text(&data, offset, "CDATA section")?,
                Event::Comment(comment) => {
                    self.check_length(&comment, offset, "comment")?;
                }
                Event::GeneralRef(reference) => self.check_reference(&reference, offset)?,
                Event::Decl(_) | Event::PI(_) => {}
                Event::DocType(doctype) => self.check_doctype(&doctype, offset)?,
                Event::Eof => return self.end_of_input(offset),
            }
        }
    }

    fn open(&mut self, start: BytesStart<'a>, offset: usize) -> Result<XmlEvent<'a>, EvidenceError> {
        let name = start.name();
        if self.root_closed {
            return Err(self.source.error_at(
                offset,
                format!("a second root element <{}> after the first one closed", lossy(name.as_ref())),
            ));
        }
        if name.as_ref().len() > MAX_NAME_BYTES {
            return Err(self.source.error_at(offset, format!("an element name is longer than {MAX_NAME_BYTES} bytes")));
        }
        if self.open_elements.len() >= MAX_DEPTH {
            return Err(self.source.error_at(offset, format!("elements are nested more than {MAX_DEPTH} deep")));
        }
        self.open_elements.push(offset);
        let element = Element { start, source: self.source, offset };
        element.check_attributes()?;
        Ok(XmlEvent::Start(element))
    }

    fn close(&mut self) {
        self.open_elements.pop();
        if self.open_elements.is_empty() {
            self.root_closed = true;
        }
    }

    /// Accepts only a document type declaration that points at an external DTD, as Cobertura
    /// and llvm-cov write (`<!DOCTYPE coverage SYSTEM "...coverage-04.dtd">`); the DTD is never
    /// fetched, so it cannot define an entity here. An internal subset (`[...]`) is where
    /// entities are declared (the billion laughs, external entities), and is refused unread.
    fn check_doctype(&mut self, doctype: &[u8], offset: usize) -> Result<(), EvidenceError> {
        if doctype.contains(&b'[') {
            return Err(self.source.error_at(
                offset,
                "a document type declaration with an internal subset (<!DOCTYPE ... [...]>) is \
                 refused: it can declare entities, which this parser never expands",
            ));
        }
        if self.seen_doctype || !self.open_elements.is_empty() || self.root_closed {
            return Err(self
                .source
                .error_at(offset, "a document type declaration is allowed only once, before the root element"));
        }
        self.seen_doctype = true;
        Ok(())
    }

    fn check_text(&self, text: &[u8], offset: usize, what: &str) -> Result<(), EvidenceError> {
        self.check_length(text, offset, what)?;
        if self.open_elements.is_empty() && !text.iter().all(u8::is_ascii_whitespace) {
            let where_ = if self.root_closed { "after" } else { "before" };
            return Err(self.source.error_at(offset, format!("{what} {where_} the root element")));
        }
        Ok(())
    }

    fn check_length(&self, text: &[u8], offset: usize, what: &str) -> Result<(), EvidenceError> {
        if text.len() > MAX_TEXT_BYTES {
            return Err(self.source.error_at(
                offset,
                format!("a {what} of {} bytes is longer than the limit of {MAX_TEXT_BYTES} bytes", text.len()),
            ));
        }
        Ok(())
    }

    fn check_reference(&self, reference: &BytesRef<'_>, offset: usize) -> Result<(), EvidenceError> {
        let name = lossy(reference);
        if self.open_elements.is_empty() {
            return Err(self.source.error_at(offset, format!("entity reference &{name}; outside the root element")));
        }
        if reference.is_char_ref() {
            return match reference.resolve_char_ref() {
                Ok(_) => Ok(()),
                Err(_) => Err(self.source.error_at(offset, format!("invalid character reference &{name};"))),
            };
        }
        if quick_xml::escape::resolve_predefined_entity(&name).is_none() {
            return Err(self.source.error_at(
                offset,
                format!(
                    "unknown entity reference &{name}; (only &lt; &gt; &amp; &apos; &quot; and \
                     character references are allowed)"
                ),
            ));
        }
        Ok(())
    }

    fn end_of_input(&self, offset: usize) -> Result<Option<XmlEvent<'a>>, EvidenceError> {
        match self.open_elements.last() {
            Some(&open_offset) => Err(self.source.error_at(
                offset,
                format!(
                    "unexpected end of input: <{}> is not closed",
                    lossy(element_name_at(self.source.bytes, open_offset))
                ),
            )),
            None if !self.root_closed => Err(EvidenceError::whole(self.source.kind, "no root element")),
            None => Ok(None),
        }
    }
}

impl<'a> Element<'a> {
    /// The element's local name: without a namespace prefix.
    pub(crate) fn name(&self) -> &[u8] {
        self.start.local_name().into_inner()
    }

    /// An error located at this element's start tag.
    pub(crate) fn error(&self, message: impl Into<String>) -> EvidenceError {
        self.source.error_at(self.offset, message)
    }

    /// The unescaped value of the attribute with this local name, if present.
    pub(crate) fn attribute(&self, key: &str) -> Result<Option<Cow<'_, str>>, EvidenceError> {
        Ok(self.raw_attribute(key)?.map(|(value, _)| value))
    }

    /// The attribute parsed as a `T`, or an error naming the attribute and its value.
    pub(crate) fn parse_attribute<T: FromStr>(&self, key: &str, expected: &str) -> Result<Option<T>, EvidenceError> {
        let Some((value, offset)) = self.raw_attribute(key)? else {
            return Ok(None);
        };
        value.trim().parse().map(Some).map_err(|_| {
            self.source.error_at(offset, format!("attribute {key} is not {expected}: {}", excerpt(&value)))
        })
    }

    /// A duration in seconds from the attribute: a finite, non-negative number. An empty value
    /// counts as absent.
    pub(crate) fn seconds_attribute(&self, key: &str) -> Result<Option<f64>, EvidenceError> {
        let Some((value, offset)) = self.raw_attribute(key)? else {
            return Ok(None);
        };
        if value.trim().is_empty() {
            return Ok(None);
        }
        match value.trim().parse::<f64>() {
            Ok(seconds) if seconds.is_finite() && seconds >= 0.0 => Ok(Some(seconds)),
            _ => Err(self.source.error_at(
                offset,
                format!("attribute {key} is not a non-negative number of seconds: {}", excerpt(&value)),
            )),
        }
    }

    fn raw_attribute(&self, key: &str) -> Result<Option<(Cow<'_, str>, usize)>, EvidenceError> {
        for attribute in self.start.attributes().with_checks(false) {
            let attribute = attribute.map_err(|error| self.error(format!("malformed attribute: {error}")))?;
            if attribute.key.local_name().as_ref() != key.as_bytes() {
                continue;
            }
            let offset = crate::error::offset_within(self.source.bytes, &attribute.value).unwrap_or(self.offset);
            let text = match attribute.value {
                Cow::Borrowed(bytes) => Cow::Borrowed(self.utf8(bytes, offset)?),
                Cow::Owned(bytes) => Cow::Owned(self.utf8(&bytes, offset)?.to_owned()),
            };
            let value = match quick_xml::escape::unescape(&text) {
                Ok(Cow::Borrowed(_)) => text,
                Ok(Cow::Owned(unescaped)) => Cow::Owned(unescaped),
                Err(error) => return Err(self.source.error_at(offset, format!("attribute {key}: {error}"))),
            };
            return Ok(Some((value, offset)));
        }
        Ok(None)
    }

    /// Checks every attribute once: well-formed, no duplicates, bounded, known entities only.
    fn check_attributes(&self) -> Result<(), EvidenceError> {
        for (index, attribute) in self.start.attributes().enumerate() {
            if index >= MAX_ATTRIBUTES {
                return Err(self.error(format!("an element has more than {MAX_ATTRIBUTES} attributes")));
            }
            let attribute = attribute.map_err(|error| self.error(format!("malformed attribute: {error}")))?;
            // The key is decoded for messages only: that costs a scan, paid on errors alone.
            let key = || lossy(attribute.key.as_ref());
            let value: &[u8] = &attribute.value;
            if value.len() > MAX_ATTRIBUTE_BYTES {
                return Err(self.source.error_at_slice(
                    value,
                    self.offset,
                    format!(
                        "attribute {} is {} bytes long, more than the limit of \
                         {MAX_ATTRIBUTE_BYTES} bytes",
                        key(),
                        value.len()
                    ),
                ));
            }
            if let Err((relative_offset, message)) = check_references(value) {
                let offset = crate::error::offset_within(self.source.bytes, value)
                    .map_or(self.offset, |offset| offset + relative_offset);
                return Err(self.source.error_at(offset, format!("attribute {}: {message}", key())));
            }
        }
        Ok(())
    }

    fn utf8<'b>(&self, bytes: &'b [u8], offset: usize) -> Result<&'b str, EvidenceError> {
        // The whole input was checked to be UTF-8 and attribute values end at ASCII quotes, so
        // this fails only if that reasoning is wrong; report it rather than panic.
        std::str::from_utf8(bytes).map_err(|_| self.source.error_at(offset, "attribute value is not UTF-8"))
    }
}

/// Checks every `&...;` of an attribute value without unescaping (and so allocating): only the
/// five predefined entities and valid character references are allowed. Returns the offset of
/// the first bad reference within the value.
fn check_references(value: &[u8]) -> Result<(), (usize, String)> {
    let mut from = 0;
    while let Some(position) = value[from..].iter().position(|&byte| byte == b'&') {
        let start = from + position;
        let Some(length) = value[start + 1..].iter().position(|&byte| byte == b';') else {
            return Err((start, "an & that starts no entity reference (write &amp;)".to_owned()));
        };
        let name = &value[start + 1..start + 1 + length];
        let known = match name {
            b"lt" | b"gt" | b"amp" | b"apos" | b"quot" => true,
            [b'#', b'x', digits @ ..] => is_character(digits, 16),
            [b'#', digits @ ..] => is_character(digits, 10),
            _ => false,
        };
        if !known {
            return Err((start, format!("unknown entity reference &{};", excerpt_bytes(name))));
        }
        from = start + length + 2;
    }
    Ok(())
}

/// Whether `digits` in `radix` name a character XML allows in a reference (not NUL).
fn is_character(digits: &[u8], radix: u32) -> bool {
    !digits.is_empty()
        && digits.iter().all(|digit| char::from(*digit).is_digit(radix))
        && std::str::from_utf8(digits)
            .ok()
            .and_then(|digits| u32::from_str_radix(digits, radix).ok())
            .and_then(char::from_u32)
            .is_some_and(|character| character != '\0')
}

fn excerpt_bytes(bytes: &[u8]) -> String {
    let text = lossy(bytes);
    let shown = excerpt(&text);
    shown[1..shown.len() - 1].to_owned()
}

fn position(offset: u64) -> usize {
    usize::try_from(offset).unwrap_or(usize::MAX)
}

fn lossy(bytes: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// The name of the element whose start tag begins at `offset` (at its `<`).
fn element_name_at(input: &[u8], offset: usize) -> &[u8] {
    let after_bracket = input.get(offset + 1..).unwrap_or_default();
    let end = after_bracket
        .iter()
        .position(|&byte| byte.is_ascii_whitespace() || byte == b'>' || byte == b'/')
        .unwrap_or(after_bracket.len());
    &after_bracket[..end.min(MAX_NAME_BYTES)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EvidenceKind;

    /// Reads a whole document, returning the element names in order or the error's text.
    fn read(input: &str) -> Result<Vec<String>, String> {
        let source = Source::new(EvidenceKind::Junit, input.as_bytes()).map_err(|e| e.to_string())?;
        let mut reader = XmlReader::new(source);
        let mut names = Vec::new();
        while let Some(event) = reader.next().map_err(|e| e.to_string())? {
            match event {
                XmlEvent::Start(element) => names.push(lossy(element.name()).into_owned()),
                XmlEvent::End => names.push("/".to_owned()),
            }
        }
        Ok(names)
    }

    #[test]
    fn starts_and_ends_are_paired_for_empty_elements() {
        assert_eq!(
            read("<?xml version=\"1.0\"?>\n<a><b/><c>x &amp; &#x41;</c></a>\n<!-- done -->\n"),
            Ok(["a", "b", "/", "c", "/", "/"].map(str::to_owned).to_vec())
        );
    }

    #[test]
    fn a_doctype_with_an_internal_subset_is_refused() {
        let error = read("<?xml version=\"1.0\"?>\n<!DOCTYPE a [<!ENTITY x \"y\">]>\n<a>&x;</a>").expect_err("doctype");
        assert!(
            error.starts_with("junit: line 2, column 1: a document type declaration with an internal subset"),
            "{error}"
        );
    }

    #[test]
    fn a_doctype_naming_an_external_dtd_is_ignored_and_its_entities_stay_unknown() {
        let doctype = "<!DOCTYPE a SYSTEM \"https://example.invalid/a.dtd\">";
        assert!(read(&format!("{doctype}\n<a/>")).is_ok());
        let error = read(&format!("{doctype}\n<a>&x;</a>")).expect_err("x is not declared here");
        assert!(error.contains("unknown entity reference &x;"), "{error}");
        let error = read(&format!("{doctype}{doctype}<a/>")).expect_err("twice");
        assert!(error.contains("only once"), "{error}");
    }

    #[test]
    fn an_unknown_entity_is_refused() {
        let error = read("<a>\n &nbsp;</a>").expect_err("unknown entity");
        assert!(error.starts_with("junit: line 2, column 2: unknown entity reference &nbsp;"), "{error}");
    }

    #[test]
    fn an_unknown_entity_in_an_attribute_is_refused() {
        let error = read("<a x=\"&bogus;\"/>").expect_err("unknown entity");
        assert!(error.starts_with("junit: line 1, column 7: attribute x:"), "{error}");
    }

    #[test]
    fn attribute_references_are_checked_without_unescaping() {
        assert_eq!(check_references(b"a &lt;&gt;&amp;&apos;&quot; &#65;&#x263A; b"), Ok(()));
        assert_eq!(check_references(b"x&lol;"), Err((1, "unknown entity reference &lol;".to_owned())));
        assert!(check_references(b"&#0;").is_err());
        assert!(check_references(b"&#xD800;").is_err());
        assert!(check_references(b"&#+65;").is_err());
        assert!(check_references(b"&#x;").is_err());
        assert!(check_references(b"fish & chips").is_err());
    }

    #[test]
    fn truncated_input_names_the_unclosed_element() {
        assert_eq!(
            read("<a>\n<b>\n").expect_err("truncated"),
            "junit: line 3, column 1: unexpected end of input: <b> is not closed"
        );
    }

    #[test]
    fn input_cut_inside_a_tag_is_located_at_the_tag() {
        let error = read("<a>\n  <b x=\"1").expect_err("truncated tag");
        assert!(error.starts_with("junit: line 2, column 3: malformed XML"), "{error}");
    }

    #[test]
    fn mismatched_end_tags_are_refused() {
        let error = read("<a><b></a>").expect_err("mismatch");
        assert!(error.contains("malformed XML"), "{error}");
    }

    #[test]
    fn a_second_root_is_refused() {
        assert_eq!(
            read("<a/>\n<b/>").expect_err("two roots"),
            "junit: line 2, column 1: a second root element <b> after the first one closed"
        );
    }

    #[test]
    fn text_outside_the_root_is_refused() {
        assert_eq!(
            read("<a/> trailing").expect_err("text after root"),
            "junit: line 1, column 5: text after the root element"
        );
    }

    #[test]
    fn comments_alone_have_no_root_element() {
        assert_eq!(read("<!-- nothing -->").expect_err("no root"), "junit: no root element");
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_refused() {
        let input = format!("{}{}", "<a>".repeat(MAX_DEPTH + 1), "</a>".repeat(MAX_DEPTH + 1));
        let error = read(&input).expect_err("too deep");
        assert!(error.ends_with(&format!("elements are nested more than {MAX_DEPTH} deep")), "{error}");
        assert!(read(&format!("{}{}", "<a>".repeat(MAX_DEPTH), "</a>".repeat(MAX_DEPTH))).is_ok());
    }

    #[test]
    fn duplicate_attributes_are_refused() {
        let error = read("<a x=\"1\" x=\"2\"/>").expect_err("duplicate");
        assert!(error.contains("malformed attribute"), "{error}");
    }
}
