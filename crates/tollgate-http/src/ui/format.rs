//! How pages write values: times, digests, states. View models hold the strings these make, so
//! templates only place text.

use tollgate_core::Timestamp;

/// A time as a page shows it: `2026-11-30 06:20:15 UTC` (the page also carries the RFC 3339
/// form in a `<time datetime>` attribute).
pub(crate) fn when(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The RFC 3339 form, for `<time datetime="…">`.
pub(crate) fn rfc3339(at: Timestamp) -> String {
    at.to_string()
}

/// The first 12 hex digits of a digest (`sha256:` stripped), enough to recognise it.
pub(crate) fn short_digest(digest: &str) -> String {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    hex.chars().take(12).collect()
}

/// A keyword (`scope_frozen`) as words (`scope frozen`).
pub(crate) fn words(keyword: &str) -> String {
    keyword.replace('_', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_written_for_people() {
        let at: Timestamp = "2026-11-30T06:20:15.123Z".parse().expect("valid");
        assert_eq!(when(at), "2026-11-30 06:20:15 UTC");
        assert_eq!(short_digest("sha256:0123456789abcdef0123"), "0123456789ab");
        assert_eq!(words("scope_frozen"), "scope frozen");
    }
}
