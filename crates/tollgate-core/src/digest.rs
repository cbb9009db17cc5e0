//! SHA-256 digests and the canonical JSON encoding (RFC 8785, JCS) that digests are taken over.

use std::fmt;

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::violation::Problem;

/// A SHA-256 digest, written `sha256:` followed by 64 lower-case hex characters.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256Digest([u8; 32]);

impl Sha256Digest {
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
