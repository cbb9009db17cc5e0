//! Web sign-in: passwords (argon2id), sessions, lockouts, and the form-token secret.
//!
//! A session is a server-side record found by the SHA-256 of its cookie's secret, so it works
//! across PostgreSQL replicas and survives restarts. Sign-in, sign-out, password changes and
//! lockouts are audited; failed attempts are counted without an audit entry (a lockout is
//! audited once when it begins), so anonymous requests cannot grow the audit log.
//!
//! This module does not know about cookies or HTML: the HTTP layer carries the secret.

use std::net::IpAddr;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use tollgate_authz::{Action, Context, Resource};
use tollgate_core::audit::{Actor, AuditAction, ObjectKind, ObjectRef};
use tollgate_core::name::UserName;
use tollgate_core::session::{
    check_new_password, Lockout, LockoutKey, LockoutRecord, LockoutRule, SessionSecret, SignInMethod, SignInRecord,
    WebSession,
};
use tollgate_core::token::TokenRejection;
use tollgate_core::user::User;
use tollgate_core::{Problem, Violations};

use crate::audit::Change;
use crate::{Busy, Principal, PrincipalKind, ServiceError, ServiceResult, Tollgate};

/// A session just signed in: the only time its secret is available.
#[derive(Debug, Clone)]
pub struct IssuedSession {
    pub secret: SessionSecret,
    pub session: WebSession,
    pub user: User,
}

/// Who is signing in, as far as the HTTP layer can tell.
#[derive(Debug, Clone, Default)]
pub struct Client {
    /// The client's address (the trusted proxy's `X-Forwarded-For` when one is configured).
    pub address: Option<IpAddr>,
    pub request_id: Option<String>,
}

/// A password as typed. Its `Debug` never shows it.
#[derive(Clone)]
pub struct Password(pub String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(…)")
    }
}

const UNKNOWN_CREDENTIALS: &str = "wrong user name or password";

impl Tollgate {
    /// Signs in with a user name and password. Refused while the user or the address is locked
    /// out; a failure counts towards both lockouts. Each failure says the same thing, whether the
    /// user exists or not.
    pub async fn sign_in_with_password(
        &self,
        username: &str,
        password: &Password,
        client: &Client,
    ) -> ServiceResult<IssuedSession> {
        let keys = lockout_keys(Some(username), client);
        self.check_not_locked_out(&keys).await?;
        let user_name = UserName::parse(username).ok();
        let (user, stored_hash) = match &user_name {
            Some(name) => {
                let mut read = self.store.read().await?;
                let user = read.find_user(name).await?;
                let hash = if user.is_some() { read.find_password_hash(name).await? } else { None };
                (user, hash)
            }
            None => (None, None),
        };
        let verified = self.verify_password(stored_hash, password).await?;
        match user {
            Some(user) if verified => {
                self.forget_failures(&keys).await?;
                self.start_session(user, SignInMethod::Password, None, client).await
            }
            _ => {
                self.count_failure(&keys, user_name.as_ref(), client).await?;
                Err(ServiceError::Unauthenticated { reason: UNKNOWN_CREDENTIALS })
            }
        }
    }

    /// Signs in with an API token pasted once; the session ends with the token. A failure counts
    /// towards the address's lockout.
    pub async fn sign_in_with_token(&self, presented: &str, client: &Client) -> ServiceResult<IssuedSession> {
        let keys = lockout_keys(None, client);
        self.check_not_locked_out(&keys).await?;
        match self.authenticate(presented.trim(), client.request_id.clone()).await {
            Ok(principal) => {
                let token = principal.token.map(|token| token.id);
                self.start_session(principal.user, SignInMethod::Token, token, client).await
            }
            Err(ServiceError::Unauthenticated { reason }) => {
                self.count_failure(&keys, None, client).await?;
                Err(ServiceError::Unauthenticated { reason })
            }
            Err(other) => Err(other),
        }
    }

    /// Signs in a user whose identity another provider vouched for (single sign-on).
    pub async fn sign_in_with_sso(&self, user: User, client: &Client) -> ServiceResult<IssuedSession> {
        self.start_session(user, SignInMethod::Sso, None, client).await
    }

    /// The principal of a session cookie, with its session; `Unauthenticated` when it is unknown,
    /// signed out, idle too long, past its lifetime, or made from a token that is no longer usable.
    pub async fn session(&self, presented: &str, request_id: Option<String>) -> ServiceResult<(Principal, WebSession)> {
        let secret = SessionSecret::parse(presented)
            .ok_or(ServiceError::Unauthenticated { reason: "malformed session cookie" })?;
        let digest = secret.digest();
        let now = self.now();
        let mut read = self.store.read().await?;
        let session =
            read.find_session(&digest).await?.ok_or(ServiceError::Unauthenticated { reason: "unknown session" })?;
        session
            .check_usable(self.settings.sessions, now)
            .map_err(|rejection| ServiceError::Unauthenticated { reason: rejection.describe() })?;
        let token = match session.token {
            Some(id) => {
                let token =
                    read.find_token(id).await?.ok_or(ServiceError::Unauthenticated { reason: "unknown session" })?;
                token.check_usable(now).map_err(|rejection| ServiceError::Unauthenticated {
                    reason: match rejection {
                        TokenRejection::Revoked => "the token this session was made from was revoked",
                        TokenRejection::Expired => "the token this session was made from expired",
                    },
                })?;
                Some(token)
            }
            None => None,
        };
        let user =
            read.find_user(&session.user).await?.ok_or(ServiceError::Unauthenticated { reason: "unknown session" })?;
        drop(read);
        if session.needs_touch(now) {
            let mut tx = self.store.begin_unaudited().await?;
            tx.touch_session(&digest, now).await?;
            tx.commit().await?;
        }
        Ok((Principal { user, token, request_id, kind: PrincipalKind::User }, session))
    }

    /// Ends the session of this cookie (audited); ending one that has ended already is a no-op.
    pub async fn sign_out(&self, presented: &str, principal: &Principal) -> ServiceResult<()> {
        let Some(secret) = SessionSecret::parse(presented) else {
            return Ok(());
        };
        let mut tx = self.store.begin().await?;
        if tx.end_session(&secret.digest(), self.now()).await? {
            let object = ObjectRef::new(ObjectKind::User, &principal.user.name);
            let change: Change<'_, ()> =
                Change { action: AuditAction::SignOut, object, before: None, after: None, reason: None };
            self.record_for(&mut tx, principal, change).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Sets a password: your own, or anyone's as an admin (`user.edit`). The hash is argon2id; the
    /// audit entry says that it was set, never what to.
    pub async fn set_password(&self, principal: &Principal, user: &str, password: &Password) -> ServiceResult<()> {
        let mut violations = Violations::new();
        let user = violations.check("user", UserName::parse(user));
        violations.check("password", check_new_password(&password.0));
        let user = violations
            .into_result(user)
            .map_err(ServiceError::Invalid)?
            .expect("a user name when there is no violation");
        if principal.user.name != user {
            self.authorize(principal, Action::UserEdit, Resource::System, Context::default()).await?;
        }
        let hash = self.hash_password(password).await?;
        let mut tx = self.store.begin().await?;
        tx.set_password_hash(&user, &hash).await?;
        let object = ObjectRef::new(ObjectKind::User, &user);
        let change: Change<'_, ()> =
            Change { action: AuditAction::SetPassword, object, before: None, after: None, reason: None };
        self.record_for(&mut tx, principal, change).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The form token of the sign-in forms shown to a browser holding the pre-sign-in `nonce`:
    /// HMAC-SHA256 of the nonce under the installation's secret, so any replica can check it and
    /// an anonymous visit writes nothing.
    pub async fn sign_in_form_token(&self, nonce: &str) -> ServiceResult<String> {
        let mac = self.sign_in_mac(nonce).await?;
        Ok(hex::encode(mac.finalize().into_bytes()))
    }

    /// Whether `token` is the sign-in form token for `nonce` (compared in constant time).
    pub async fn check_sign_in_form_token(&self, nonce: &str, token: &str) -> ServiceResult<bool> {
        let Ok(token) = hex::decode(token) else {
            return Ok(false);
        };
        let mac = self.sign_in_mac(nonce).await?;
        Ok(mac.verify_slice(&token).is_ok())
    }

    async fn sign_in_mac(&self, nonce: &str) -> ServiceResult<Hmac<Sha256>> {
        let secret = self.web_secret.get_or_try_init(|| self.load_web_secret()).await?;
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
        mac.update(b"tollgate sign-in form\0");
        mac.update(nonce.as_bytes());
        Ok(mac)
    }

    /// The secret sign-in form tokens are derived from, made on first use and shared by replicas.
    async fn load_web_secret(&self) -> ServiceResult<Vec<u8>> {
        if let Some(secret) = self.store.read().await?.find_web_secret().await? {
            return Ok(secret);
        }
        let mut candidate = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut candidate);
        let mut tx = self.store.begin_unaudited().await?;
        let secret = tx.ensure_web_secret(&candidate).await?;
        tx.commit().await?;
        Ok(secret)
    }

    /// Hashes a password with argon2id on a blocking thread (it takes tens of milliseconds on
    /// purpose), at most one per core at a time.
    pub(crate) async fn hash_password(&self, password: &Password) -> ServiceResult<String> {
        let _permit = crate::Limits::try_acquire(&self.limits.password_checks, Busy::PasswordCheck)?;
        let password = password.0.clone();
        let mut salt = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt length");
            Argon2::default().hash_password(password.as_bytes(), &salt).map(|hash| hash.to_string())
        })
        .await
        .expect("hashing a password does not panic")
        .map_err(|_| {
            let mut violations = Violations::new();
            violations.push("password", Problem::Invalid { reason: "cannot be hashed".to_owned() });
            ServiceError::Invalid(violations)
        })
    }

    /// Checks `password` against `stored`; with no stored hash it checks against a fixed one, so
    /// an unknown user takes as long as a wrong password.
    async fn verify_password(&self, stored: Option<String>, password: &Password) -> ServiceResult<bool> {
        let _permit = crate::Limits::try_acquire(&self.limits.password_checks, Busy::PasswordCheck)?;
        let password = password.0.clone();
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let verified = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&stored)
                .map(|hash| Argon2::default().verify_password(password.as_bytes(), &hash).is_ok())
                .unwrap_or(false)
        })
        .await
        .expect("checking a password does not panic");
        Ok(known && verified)
    }

    async fn start_session(
        &self,
        user: User,
        method: SignInMethod,
        token: Option<tollgate_core::token::TokenId>,
        client: &Client,
    ) -> ServiceResult<IssuedSession> {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let secret = SessionSecret::from_random_bytes(bytes);
        let mut csrf = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut csrf);
        let now = self.now();
        let expires_at = now.saturating_add(self.settings.sessions.absolute).unwrap_or(now);
        let session = WebSession {
            user: user.name.clone(),
            method,
            token,
            csrf: hex::encode(csrf),
            created_at: now,
            last_seen_at: now,
            expires_at,
            ended_at: None,
        };
        let mut tx = self.store.begin().await?;
        tx.delete_stale_sessions(now).await?;
        tx.insert_session(&secret.digest(), &session).await?;
        let object = ObjectRef::new(ObjectKind::User, &user.name);
        let record = SignInRecord { method, token, expires_at };
        let change = Change { action: AuditAction::SignIn, object, before: None, after: Some(&record), reason: None };
        self.record(&mut tx, Actor::User(user.name.clone()), client.request_id.as_deref(), change).await?;
        tx.commit().await?;
        Ok(IssuedSession { secret, session, user })
    }

    async fn check_not_locked_out(&self, keys: &[LockoutKey]) -> ServiceResult<()> {
        let now = self.now();
        let mut read = self.store.read().await?;
        let mut longest = None;
        for key in keys {
            if let Some(remaining) = read.find_lockout(&key.stored()).await?.and_then(|lockout| lockout.remaining(now))
            {
                longest = longest.max(Some(remaining));
            }
        }
        match longest {
            Some(remaining) => Err(ServiceError::LockedOut {
                retry_after_seconds: u64::try_from(remaining.as_secs()).unwrap_or(0).max(1),
            }),
            None => Ok(()),
        }
    }

    /// Counts a failure for each key; a key reaching the limit is locked out, and that lockout is
    /// audited once. The user's key is counted only for a user that exists.
    async fn count_failure(&self, keys: &[LockoutKey], user: Option<&UserName>, client: &Client) -> ServiceResult<()> {
        let rule = LockoutRule::default();
        let now = self.now();
        let since = now.checked_sub(rule.window).unwrap_or(now);
        let exists = match user {
            Some(name) => self.store.read().await?.find_user(name).await?.is_some(),
            None => false,
        };
        let counted: Vec<&LockoutKey> =
            keys.iter().filter(|key| !matches!(key, LockoutKey::User(_)) || exists).collect();
        let mut reached = Vec::new();
        {
            let mut tx = self.store.begin_unaudited().await?;
            for key in &counted {
                let stored = key.stored();
                tx.insert_login_failure(&stored, now, since).await?;
                if rule.locks_out(tx.count_login_failures(&stored, since).await?) {
                    reached.push(stored);
                }
            }
            tx.commit().await?;
        }
        for key in reached {
            let mut tx = self.store.begin().await?;
            let previous = tx.find_lockout(&key).await?;
            if previous.is_some_and(|lockout| lockout.remaining(now).is_some()) {
                continue;
            }
            let lockout = Lockout::next(previous.as_ref(), &rule, now);
            tx.put_lockout(&key, &lockout).await?;
            tx.clear_login_failures(&key).await?;
            let object = ObjectRef::new(ObjectKind::Login, &key);
            let record =
                LockoutRecord { key: key.clone(), locked_until: lockout.locked_until, lockouts: lockout.lockouts };
            let change =
                Change { action: AuditAction::LockOut, object, before: None, after: Some(&record), reason: None };
            self.record(&mut tx, Actor::System, client.request_id.as_deref(), change).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    async fn forget_failures(&self, keys: &[LockoutKey]) -> ServiceResult<()> {
        let mut tx = self.store.begin_unaudited().await?;
        for key in keys {
            tx.clear_login_failures(&key.stored()).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// The keys a sign-in counts against: the user (when one is named) and the address.
fn lockout_keys(username: Option<&str>, client: &Client) -> Vec<LockoutKey> {
    let mut keys = Vec::new();
    if let Some(name) = username.and_then(|name| UserName::parse(name).ok()) {
        keys.push(LockoutKey::User(name.to_string()));
    }
    if let Some(address) = client.address {
        keys.push(LockoutKey::Address(address.to_string()));
    }
    keys
}

/// A valid argon2id hash of a random password nobody knows, checked when a user has none.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Hg4yB1l1ZxvTQ3ECE1rb1FzZMuCTGSkHfCJ6gv+Y0XE";

/// A password for the bootstrap admin: 24 random letters and digits (about 142 bits).
pub(crate) fn random_password() -> Password {
    use rand::Rng;
    Password(rand::rngs::OsRng.sample_iter(&rand::distributions::Alphanumeric).take(24).map(char::from).collect())
}
