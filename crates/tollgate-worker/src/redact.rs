//! Redaction: every form of a secret's value a step may print is replaced before a line is
//! stored or logged.
//!
//! A value is looked for as written, base64-encoded (standard and URL-safe alphabets, with and
//! without padding) and URL-encoded (percent-encoding, and form encoding with `+` for spaces),
//! since those are the forms tools print credentials in (an `Authorization: Basic` header, a
//! connection URL). Longer forms are replaced first, so a value inside another is not left half
//! shown.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;

/// Replaces the secrets it was built with, in every form, by `[redacted:NAME]`.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Each form of each value with its replacement, longest form first.
    forms: Vec<(String, String)>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} forms)", self.forms.len())
    }
}

impl Redactor {
    /// A redactor for `secrets`, given as (name, value). Empty values are ignored.
    pub fn new<'a>(secrets: impl IntoIterator<Item = (&'a str, &'a str)>) -> Redactor {
        let mut forms = Vec::new();
        for (name, value) in secrets {
            if value.is_empty() {
                continue;
            }
            let replacement = format!("[redacted:{name}]");
            let bytes = value.as_bytes();
            let candidates = [
                value.to_owned(),
                STANDARD.encode(bytes),
                STANDARD_NO_PAD.encode(bytes),
                URL_SAFE.encode(bytes),
                URL_SAFE_NO_PAD.encode(bytes),
                percent_encode(value, false),
                percent_encode(value, true),
            ];
            for candidate in candidates {
                if !forms.iter().any(|(form, _)| *form == candidate) {
                    forms.push((candidate, replacement.clone()));
                }
            }
        }
        forms.sort_by_key(|(form, _)| std::cmp::Reverse(form.len()));
        Redactor { forms }
    }

    /// `text` with every form of every secret replaced.
    pub fn redact(&self, text: &str) -> String {
        let mut redacted = text.to_owned();
        for (form, replacement) in &self.forms {
            if redacted.contains(form.as_str()) {
                redacted = redacted.replace(form.as_str(), replacement);
            }
        }
        redacted
    }
}

/// Percent-encodes every byte but the unreserved ones of RFC 3986; with `form`, a space becomes
/// `+` (application/x-www-form-urlencoded).
fn percent_encode(value: &str, form: bool) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => encoded.push(byte as char),
            b' ' if form => encoded.push('+'),
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(secret: &str, text: &str, expected: &str) {
        assert_eq!(Redactor::new([("db", secret)]).redact(text), expected);
    }

    #[test]
    fn every_form_of_a_secret_is_redacted() {
        let secret = "s3cr3t p@ss/word?";
        check(secret, "password=s3cr3t p@ss/word?", "password=[redacted:db]");
        check(secret, &format!("Basic {}", STANDARD.encode(secret)), "Basic [redacted:db]");
        check(secret, &format!("t={}", URL_SAFE_NO_PAD.encode(secret)), "t=[redacted:db]");
        check(secret, "postgres://u:s3cr3t%20p%40ss%2Fword%3F@db", "postgres://u:[redacted:db]@db");
        check(secret, "pw=s3cr3t+p%40ss%2Fword%3F&x=1", "pw=[redacted:db]&x=1");
        check(secret, "nothing to hide", "nothing to hide");
    }

    #[test]
    fn a_secret_inside_another_is_not_left_half_shown() {
        let redactor = Redactor::new([("short", "abcd"), ("long", "abcdefgh")]);
        assert_eq!(redactor.redact("x abcdefgh y abcd"), "x [redacted:long] y [redacted:short]");
    }
}
