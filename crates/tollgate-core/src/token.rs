//! API tokens: random secrets shown once, stored only as their SHA-256, revocable, expiring.
//!
//! Core does not generate secrets (it has no randomness); it defines their format, their
//! digest and the rules for whether a token is usable at a given instant.

use std::fmt;

use crate::digest::Sha256Digest;
use crate::name::UserName;
use crate::Timestamp;

/// The prefix of every token secret, so leaked tokens are easy to find by secret scanners.
pub const TOKEN_PREFIX: &str = "tg_";

/// A token's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct TokenId(pub i64);

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A token secret. Its `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSecret(String);

impl TokenSecret {
    /// Builds the secret from 32 random bytes drawn by the caller.
    pub fn from_random_bytes(bytes: [u8; 32]) -> TokenSecret {
        TokenSecret(format!("{TOKEN_PREFIX}{}", hex::encode(bytes)))
    }

    /// Accepts a secret presented by a client, if it has the token format.
    pub fn parse(value: &str) -> Option<TokenSecret> {
        let hex_part = value.strip_prefix(TOKEN_PREFIX)?;
        let well_formed = hex_part.len() == 64 && hex_part.bytes().all(|b| b.is_ascii_hexdigit());
        well_formed.then(|| TokenSecret(value.to_owned()))
    }

    /// The only form in which a token is stored.
    pub fn digest(&self) -> Sha256Digest {
        Sha256Digest::of(self.0.as_bytes())
    }

    /// The first characters, safe to show to identify a token.
    pub fn display_prefix(&self) -> String {
        self.0.chars().take(TOKEN_PREFIX.len() + 8).collect()
    }

    /// The secret itself, to be shown exactly once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenSecret({}…)", self.display_prefix())
    }
}

/// A stored token, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiToken {
    pub id: TokenId,
    pub user: UserName,
    pub description: String,
    /// The first characters of the secret, to recognise it.
    pub prefix: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    /// The token it was created with, when a token's holder created it; it ends with that one.
    pub parent: Option<TokenId>,
}

/// Why a token may not be created with the expiry asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenLifetimeError {
    #[error("a token cannot outlive the token that creates it; that one expires at {parent_expires_at}")]
    OutlivesParent { parent_expires_at: Timestamp },
}

/// The expiry of a token created with `parent`: at most the parent's. Without an expiry asked
/// for, a child of an expiring token expires with it.
pub fn child_expiry(parent: &ApiToken, asked: Option<Timestamp>) -> Result<Option<Timestamp>, TokenLifetimeError> {
    match (parent.expires_at, asked) {
        (None, asked) => Ok(asked),
        (Some(parent_expires_at), None) => Ok(Some(parent_expires_at)),
        (Some(parent_expires_at), Some(asked)) if asked > parent_expires_at => {
            Err(TokenLifetimeError::OutlivesParent { parent_expires_at })
        }
        (Some(_), Some(asked)) => Ok(Some(asked)),
    }
}

/// Why a presented token does not authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRejection {
    Revoked,
    Expired,
}

impl ApiToken {
    /// Whether the token authenticates at `now`.
    pub fn check_usable(&self, now: Timestamp) -> Result<(), TokenRejection> {
        if self.revoked_at.is_some_and(|revoked_at| revoked_at <= now) {
            return Err(TokenRejection::Revoked);
        }
        if self.expires_at.is_some_and(|expires_at| expires_at <= now) {
            return Err(TokenRejection::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_parse_only_in_token_format_and_never_show_in_debug() {
        let secret = TokenSecret::from_random_bytes([7; 32]);
        assert_eq!(TokenSecret::parse(secret.expose()), Some(secret.clone()));
        assert_eq!(TokenSecret::parse("tg_123"), None);
        assert_eq!(TokenSecret::parse(&secret.expose()[3..]), None);
        assert!(!format!("{secret:?}").contains(&secret.expose()[12..]));
    }

    #[test]
    fn a_child_token_never_outlives_its_parent() {
        let at = |text: &str| -> Timestamp { text.parse().expect("timestamp") };
        let parent = |expires_at: Option<&str>| ApiToken {
            id: TokenId(1),
            user: UserName::parse("ana").expect("name"),
            description: String::new(),
            prefix: "tg_0000".to_owned(),
            created_at: at("2026-03-01T00:00:00Z"),
            expires_at: expires_at.map(at),
            revoked_at: None,
            parent: None,
        };
        let check = |parent_expiry: Option<&str>, asked: Option<&str>, expected: Result<Option<&str>, &str>| {
            let outcome = child_expiry(&parent(parent_expiry), asked.map(at)).map_err(|e| e.to_string());
            assert_eq!(outcome, expected.map(|e| e.map(at)).map_err(str::to_owned), "{parent_expiry:?} {asked:?}");
        };
        check(None, None, Ok(None));
        check(None, Some("2027-01-01T00:00:00Z"), Ok(Some("2027-01-01T00:00:00Z")));
        check(Some("2026-06-01T00:00:00Z"), None, Ok(Some("2026-06-01T00:00:00Z")));
        check(Some("2026-06-01T00:00:00Z"), Some("2026-05-01T00:00:00Z"), Ok(Some("2026-05-01T00:00:00Z")));
        check(
            Some("2026-06-01T00:00:00Z"),
            Some("2026-07-01T00:00:00Z"),
            Err("a token cannot outlive the token that creates it; that one expires at 2026-06-01T00:00:00Z"),
        );
    }

    #[test]
    fn revoked_and_expired_tokens_are_not_usable() {
        let now: Timestamp = "2026-03-01T12:00:00Z".parse().expect("timestamp");
        let earlier: Timestamp = "2026-03-01T11:00:00Z".parse().expect("timestamp");
        let later: Timestamp = "2026-03-01T13:00:00Z".parse().expect("timestamp");
        let token = ApiToken {
            id: TokenId(1),
            user: UserName::parse("ana").expect("name"),
            description: String::new(),
            prefix: "tg_0000".to_owned(),
            created_at: earlier,
            expires_at: None,
            revoked_at: None,
            parent: None,
        };
        assert_eq!(token.check_usable(now), Ok(()));
        let expired = ApiToken { expires_at: Some(now), ..token.clone() };
        assert_eq!(expired.check_usable(now), Err(TokenRejection::Expired));
        let revoked = ApiToken { revoked_at: Some(earlier), expires_at: Some(later), ..token };
        assert_eq!(revoked.check_usable(now), Err(TokenRejection::Revoked));
    }
}
