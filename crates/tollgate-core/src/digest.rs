//! SHA-256 digests and the canonical JSON encoding (RFC 8785, JCS) that digests are taken over.

use std::fmt;

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::violation::Problem;

/// A SHA-256 digest, written `sha256:` followed by 64 lower-case hex characters.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256Digest([u8; 32]);

impl Sha256Digest {
    /// The `Content-Digest` field value (RFC 9530) naming this digest: `sha-256=:<base64>:`.
    pub fn to_content_digest(&self) -> String {
        use base64::Engine as _;
        format!("sha-256=:{}:", base64::engine::general_purpose::STANDARD.encode(self.0))
    }

    /// The SHA-256 digest in a `Content-Digest` field value (RFC 9530), which may list several
    /// algorithms; `None` when it lists no `sha-256`. Fails when the `sha-256` member is not
    /// 32 bytes of base64 between colons.
    pub fn from_content_digest(value: &str) -> Result<Option<Sha256Digest>, Problem> {
        use base64::Engine as _;
        let Some(member) = value.split(',').map(str::trim).find_map(|member| member.strip_prefix("sha-256=")) else {
            return Ok(None);
        };
        let invalid = || Problem::Invalid { reason: format!("{member:?} is not a SHA-256 digest as `:<base64>:`") };
        let encoded = member.strip_prefix(':').and_then(|rest| rest.strip_suffix(':')).ok_or_else(invalid)?;
        let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|_| invalid())?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| invalid())?;
        Ok(Some(Sha256Digest(bytes)))
    }

    pub const PREFIX: &'static str = "sha256:";

    /// Parses the `sha256:<64 hex>` form. Upper-case hex is refused so that one digest has one
    /// spelling.
    pub fn parse(value: &str) -> Result<Sha256Digest, Problem> {
        let invalid = || Problem::InvalidDigest { value: value.to_owned() };
        let hex_part = value.strip_prefix(Self::PREFIX).ok_or_else(invalid)?;
        if hex_part.len() != 64 || hex_part.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(invalid());
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut bytes).map_err(|_| invalid())?;
        Ok(Sha256Digest(bytes))
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Sha256Digest {
        Sha256Digest(bytes)
    }

    /// The digest of `data`.
    pub fn of(data: &[u8]) -> Sha256Digest {
        Sha256Digest(Sha256::digest(data).into())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", Self::PREFIX, self.to_hex())
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Sha256Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The canonical JSON bytes of `value` (RFC 8785): sorted keys, no insignificant white space.
///
/// Digests and signatures are always taken over these bytes, so two equal values always hash
/// the same whatever order their fields were written in.
pub fn canonical_json<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    serde_jcs::to_vec(value).expect("serializing an in-memory value to JSON cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_round_trips_through_its_text_form() {
        let digest = Sha256Digest::of(b"abc");
        assert_eq!(digest.to_string(), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(Sha256Digest::parse(&digest.to_string()), Ok(digest));
    }

    #[test]
    fn content_digest_fields_read_back_and_name_their_problem() {
        let digest = Sha256Digest::of(b"abc");
        assert_eq!(digest.to_content_digest(), "sha-256=:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=:");
        assert_eq!(Sha256Digest::from_content_digest(&digest.to_content_digest()), Ok(Some(digest)));
        let listed = format!("sha-512=:AAAA:, {}", digest.to_content_digest());
        assert_eq!(Sha256Digest::from_content_digest(&listed), Ok(Some(digest)));
        assert_eq!(Sha256Digest::from_content_digest("sha-512=:AAAA:"), Ok(None));
        assert!(Sha256Digest::from_content_digest("sha-256=:AAAA:").is_err(), "too short");
        assert!(Sha256Digest::from_content_digest("sha-256=ungWv48Bz").is_err(), "no colons");
    }

    #[test]
    fn malformed_digests_are_refused() {
        for value in [
            "",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
            "sha256:ba7816",
            "sha256:zz7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "md5:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ] {
            assert!(Sha256Digest::parse(value).is_err(), "{value:?}");
        }
    }

    #[test]
    fn canonical_json_sorts_keys_and_drops_white_space() {
        let value = serde_json::json!({"b": 1, "a": {"d": [1, 2], "c": "x"}});
        assert_eq!(String::from_utf8(canonical_json(&value)).expect("utf-8"), r#"{"a":{"c":"x","d":[1,2]},"b":1}"#);
    }
}
