//! Web sessions and sign-in lockouts: the rules, with time as an input.
//!
//! A session is a random secret in a cookie, stored only as its SHA-256 (like an API token).
//! It ends after a stretch of inactivity, after an absolute lifetime, when its holder signs out,
//! and, for a session made from an API token, when that token stops being usable.
//! Core draws no randomness: the caller brings the random bytes.
//!
//! Lockout: after [`LockoutRule::max_failures`] failed sign-ins within [`LockoutRule::window`]
//! for one key (a user name or a client address), the key is locked out; each lockout in a row
//! lasts twice as long as the one before, up to a cap. This module does not count failures
//! (the store does); it decides from the counts.

use std::fmt;

use jiff::SignedDuration;

use crate::digest::Sha256Digest;
use crate::name::UserName;
use crate::token::TokenId;
use crate::Timestamp;

/// The prefix of every session secret, so a leaked cookie is easy to recognise.
pub const SESSION_PREFIX: &str = "tgs_";

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest password accepted, in characters (at most 1 KiB of UTF-8): hashing is bounded work.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// A session's secret, as its cookie carries it. Its `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionSecret(String);

impl SessionSecret {
    /// Builds the secret from 32 random bytes drawn by the caller.
    pub fn from_random_bytes(bytes: [u8; 32]) -> SessionSecret {
        SessionSecret(format!("{SESSION_PREFIX}{}", hex::encode(bytes)))
    }

    /// Accepts a secret presented by a browser, if it has the session format.
    pub fn parse(value: &str) -> Option<SessionSecret> {
        let hex_part = value.strip_prefix(SESSION_PREFIX)?;
        let well_formed = hex_part.len() == 64 && hex_part.bytes().all(|b| b.is_ascii_hexdigit());
        well_formed.then(|| SessionSecret(value.to_owned()))
    }

    /// The only form in which a session is stored.
    pub fn digest(&self) -> Sha256Digest {
        Sha256Digest::of(self.0.as_bytes())
    }

    /// The secret itself, for the cookie.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionSecret(…)")
    }
}

/// How a session was signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInMethod {
    Password,
    Token,
    Sso,
}

crate::keyword_enum!(SignInMethod { Password => "password", Token => "token", Sso => "sso" });

/// A stored session, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSession {
    pub user: UserName,
    pub method: SignInMethod,
    /// The API token it was made from; the session ends with it.
    pub token: Option<TokenId>,
    /// The form token every state-changing form of this session must carry.
    pub csrf: String,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub expires_at: Timestamp,
    pub ended_at: Option<Timestamp>,
}

/// How long sessions last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLifetime {
    /// A session unused this long ends.
    pub idle: SignedDuration,
    /// A session ends this long after sign-in, however busy.
    pub absolute: SignedDuration,
}

impl Default for SessionLifetime {
    fn default() -> SessionLifetime {
        SessionLifetime { idle: SignedDuration::from_mins(30), absolute: SignedDuration::from_hours(12) }
    }
}

/// Why a session may not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionRejection {
    SignedOut,
    Idle,
    Expired,
}

impl SessionRejection {
    /// Says it for the person whose session it was.
    pub fn describe(self) -> &'static str {
        match self {
            SessionRejection::SignedOut => "the session was signed out",
            SessionRejection::Idle => "the session ended after a period of inactivity",
            SessionRejection::Expired => "the session reached its maximum lifetime",
        }
    }
}

impl WebSession {
    /// Whether the session may be used at `now`.
    pub fn check_usable(&self, lifetime: SessionLifetime, now: Timestamp) -> Result<(), SessionRejection> {
        if self.ended_at.is_some() {
            return Err(SessionRejection::SignedOut);
        }
        if now >= self.expires_at {
            return Err(SessionRejection::Expired);
        }
        if now.duration_since(self.last_seen_at) >= lifetime.idle {
            return Err(SessionRejection::Idle);
        }
        Ok(())
    }

    /// Whether the last-seen time is old enough to be worth writing again: activity is recorded
    /// at most once a minute, so browsing does not turn every page view into a write.
    pub fn needs_touch(&self, now: Timestamp) -> bool {
        now.duration_since(self.last_seen_at) >= SignedDuration::from_secs(60)
    }
}

/// Whether a password is acceptable to set; the problem names what is wrong.
pub fn check_new_password(password: &str) -> Result<(), crate::Problem> {
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return Err(crate::Problem::TooLong { max: MAX_PASSWORD_CHARS });
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(crate::Problem::Invalid {
            reason: format!("a password needs at least {MIN_PASSWORD_CHARS} characters"),
        });
    }
    Ok(())
}

/// What a sign-in is keyed on for counting failures.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum LockoutKey {
    User(String),
    Address(String),
}

impl LockoutKey {
    /// The key as stored: `user:NAME` or `address:IP`.
    pub fn stored(&self) -> String {
        match self {
            LockoutKey::User(name) => format!("user:{name}"),
            LockoutKey::Address(address) => format!("address:{address}"),
        }
    }
}

/// The lockout rule: so many failures in so long lock a key out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutRule {
    pub max_failures: u32,
    pub window: SignedDuration,
    /// The first lockout's length; each further one in a row doubles it.
    pub first_lockout: SignedDuration,
    pub max_lockout: SignedDuration,
}

impl Default for LockoutRule {
    fn default() -> LockoutRule {
        LockoutRule {
            max_failures: 5,
            window: SignedDuration::from_mins(15),
            first_lockout: SignedDuration::from_mins(1),
            max_lockout: SignedDuration::from_hours(1),
        }
    }
}

impl LockoutRule {
    /// How long the `n`th lockout in a row lasts (`n` from 1): doubling, capped.
    pub fn lockout_length(&self, n: u32) -> SignedDuration {
        let doublings = n.saturating_sub(1).min(30);
        let length = self.first_lockout.saturating_mul(1i32 << doublings);
        length.min(self.max_lockout)
    }

    /// Whether `failures` failed attempts within the window lock the key out.
    pub fn locks_out(&self, failures: u64) -> bool {
        failures >= u64::from(self.max_failures)
    }
}

/// A key's lockout as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockout {
    pub locked_until: Timestamp,
    /// Lockouts in a row, counting this one.
    pub lockouts: u32,
    pub locked_at: Timestamp,
}

impl Lockout {
    /// The seconds left at `now`, or `None` once it is over.
    pub fn remaining(&self, now: Timestamp) -> Option<SignedDuration> {
        (now < self.locked_until).then(|| self.locked_until.duration_since(now))
    }

    /// The next lockout after this one: in a row when this one ended within the rule's window
    /// (the attacker kept going), otherwise a fresh first lockout.
    pub fn next(previous: Option<&Lockout>, rule: &LockoutRule, now: Timestamp) -> Lockout {
        let in_a_row = previous.map_or(0, |previous| {
            let since_end = now.duration_since(previous.locked_until);
            if since_end <= rule.window {
                previous.lockouts
            } else {
                0
            }
        });
        let lockouts = in_a_row.saturating_add(1);
        let locked_until = now.saturating_add(rule.lockout_length(lockouts)).unwrap_or(now);
        Lockout { locked_until, lockouts, locked_at: now }
    }
}

/// What the audit entry of a sign-in records (a stored format).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SignInRecord {
    pub method: SignInMethod,
    /// The token a token sign-in used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenId>,
    pub expires_at: Timestamp,
}

/// What the audit entry of a lockout records (a stored format): the key and until when.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LockoutRecord {
    pub key: String,
    pub locked_until: Timestamp,
    pub lockouts: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).expect("in range")
    }

    fn session(last_seen: i64, expires: i64, ended: Option<i64>) -> WebSession {
        WebSession {
            user: UserName::parse("ana").expect("valid"),
            method: SignInMethod::Password,
            token: None,
            csrf: "c".to_owned(),
            created_at: at(0),
            last_seen_at: at(last_seen),
            expires_at: at(expires),
            ended_at: ended.map(at),
        }
    }

    fn check(session: &WebSession, now: i64, expected: Result<(), SessionRejection>) {
        assert_eq!(session.check_usable(SessionLifetime::default(), at(now)), expected, "at +{now}s");
    }

    #[test]
    fn a_session_ends_when_idle_expired_or_signed_out() {
        let twelve_hours = 12 * 3600;
        check(&session(0, twelve_hours, None), 29 * 60, Ok(()));
        check(&session(0, twelve_hours, None), 30 * 60, Err(SessionRejection::Idle));
        check(&session(11 * 3600, twelve_hours, None), twelve_hours, Err(SessionRejection::Expired));
        check(&session(0, twelve_hours, Some(5)), 10, Err(SessionRejection::SignedOut));
    }

    #[test]
    fn session_secrets_have_a_fixed_format() {
        let secret = SessionSecret::from_random_bytes([7; 32]);
        assert_eq!(SessionSecret::parse(secret.expose()), Some(secret.clone()));
        assert_eq!(SessionSecret::parse("tg_0707"), None);
        assert_eq!(SessionSecret::parse(&format!("{}x", secret.expose())), None);
        assert_eq!(format!("{secret:?}"), "SessionSecret(…)");
    }

    #[test]
    fn lockouts_in_a_row_double_up_to_the_cap() {
        let rule = LockoutRule::default();
        let lengths: Vec<i64> = (1..=8).map(|n| rule.lockout_length(n).as_secs()).collect();
        assert_eq!(lengths, [60, 120, 240, 480, 960, 1920, 3600, 3600]);
        let first = Lockout::next(None, &rule, at(0));
        assert_eq!((first.lockouts, first.locked_until), (1, at(60)));
        let second = Lockout::next(Some(&first), &rule, at(100));
        assert_eq!((second.lockouts, second.locked_until), (2, at(220)));
        let fresh = Lockout::next(Some(&second), &rule, at(220 + 16 * 60));
        assert_eq!(fresh.lockouts, 1);
        assert_eq!(first.remaining(at(30)), Some(SignedDuration::from_secs(30)));
        assert_eq!(first.remaining(at(60)), None);
    }

    #[test]
    fn passwords_are_checked_for_length() {
        assert!(check_new_password("correct horse battery").is_ok());
        assert!(check_new_password("short").is_err());
        assert!(check_new_password(&"x".repeat(MAX_PASSWORD_CHARS + 1)).is_err());
    }
}
