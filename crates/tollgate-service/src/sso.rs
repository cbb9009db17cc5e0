//! Single sign-on with OpenID Connect (authorization code with PKCE): the two calls the web
//! sign-in needs, and the settings `tollgate apply` installs.
//!
//! `begin_sso_login` keeps the pending sign-in in the database (only the SHA-256 of its state),
//! so any replica on the same PostgreSQL database finishes it; `complete_sso_login` takes it
//! once, redeems the code, validates the ID token, maps the user's groups to roles, and creates
//! the user or updates their roles with an audit entry in the same transaction.
//! Session cookies, pages and routes are the HTTP layer's; the provider protocol is `provider`.
//!
//! The audit entries of a sign-in are by the actor `system`, not by the user: the roles come
//! from the mapping an administrator applied, not from anything the user may decide, and an
//! entry by the user would read as someone granting themselves roles. The reason names the
//! issuer and the mapped groups; the request id ties the entry to the callback request.

pub(crate) mod provider;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tollgate_core::audit::{Actor, AuditAction, ObjectKind, ObjectRef};
use tollgate_core::digest::Sha256Digest;
use tollgate_core::name::check_text;
use tollgate_core::sso::{check_return_to, user_name_from_claim, PendingSsoLogin, SsoConfig, FALLBACK_USERNAME_CLAIM};
use tollgate_core::team::MAX_DISPLAY_NAME_LEN;
use tollgate_core::user::{Role, User};
use tollgate_core::{Entity, Timestamp, Violations};
use tollgate_store::StoreTx;

use crate::audit::Change;
use crate::error::Busy;
use crate::sso::provider::VerifiedIdentity;
use crate::{ServiceError, ServiceResult, Tollgate};

/// How long a sign-in may take between the redirect to the provider and the return.
pub const SSO_LOGIN_TTL: jiff::SignedDuration = jiff::SignedDuration::from_secs(600);

/// The longest state and code accepted from a callback.
const MAX_STATE_LEN: usize = 256;
const MAX_CODE_LEN: usize = 4096;

/// The longest subject accepted (OpenID Connect Core: at most 255 ASCII characters).
const MAX_SUBJECT_LEN: usize = 255;

/// Groups named in an audit reason or an error, at most.
const MAX_GROUPS_SHOWN: usize = 20;

/// Where the server reads a secret that the configuration names by variable.
#[derive(Clone, Default)]
pub enum SecretSource {
    /// The process environment: the server reads the variable each time it needs the secret.
    #[default]
    Environment,
    /// Fixed values by variable name (tests, embedding).
    Fixed(Arc<BTreeMap<String, String>>),
}

impl std::fmt::Debug for SecretSource {
    // Written by hand: names the variables, never their values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::Environment => f.write_str("Environment"),
            SecretSource::Fixed(values) => f.debug_tuple("Fixed").field(&values.keys().collect::<Vec<_>>()).finish(),
        }
    }
}

impl SecretSource {
    /// The value of `variable`, when it is set and not empty.
    fn read(&self, variable: &str) -> Option<String> {
        let value = match self {
            SecretSource::Environment => std::env::var(variable).ok(),
            SecretSource::Fixed(values) => values.get(variable).cloned(),
        };
        value.filter(|value| !value.is_empty())
    }
}

/// Where to send the browser to sign in.
#[derive(Clone)]
pub struct SsoRedirect {
    /// The provider's authorization URL, with the state, the nonce and the PKCE challenge.
    pub authorization_url: String,
    /// The state in that URL. Keep it in a short-lived, HttpOnly, SameSite=Lax cookie and
    /// finish only a callback whose `state` equals it: that binds the sign-in to the browser
    /// that began it, so nobody can sign a victim in with their own code.
    pub state: String,
    /// When the pending sign-in expires (`SSO_LOGIN_TTL` after it began).
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for SsoRedirect {
    // Written by hand: the state is a secret until the callback.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoRedirect")
            .field("authorization_url", &"<redacted>")
            .field("state", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A finished single sign-on: who signed in and where they were going.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoSignIn {
    /// The user, with the roles their groups give now.
    pub user: User,
    /// The path `begin_sso_login` was given, checked to be on this server.
    pub return_to: Option<String>,
    pub outcome: SsoOutcome,
}

/// What signing in did to the user record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SsoOutcome {
    /// First sign-in: the user was created (audited).
    Created,
    /// The groups give other roles than last time: the roles were replaced (audited).
    RolesUpdated,
    /// Nothing changed; nothing was written.
    Unchanged,
}

impl Tollgate {
    /// Whether single sign-on settings are applied, for a sign-in page to offer it only then.
    /// Reads the database; talks to no provider.
    pub async fn sso_configured(&self) -> ServiceResult<bool> {
        Ok(self.store.read().await?.find_sso_config().await?.is_some())
    }

    /// Begins a sign-in with the identity provider: returns its authorization URL, and keeps
    /// the pending sign-in (the state's SHA-256, the PKCE verifier, the nonce, `return_to`) in
    /// the database for `SSO_LOGIN_TTL`.
    ///
    /// Fails with `Invalid` when `return_to` is not a path on this server, `SsoNotConfigured`
    /// without settings, `SsoUnavailable` when the provider's discovery document cannot be
    /// fetched, and `Busy` when `Settings::sso_max_pending_logins` sign-ins are under way.
    /// Needs no principal: it is how one is made. It appends nothing to the audit log.
    pub async fn begin_sso_login(&self, return_to: Option<String>) -> ServiceResult<SsoRedirect> {
        if let Some(path) = &return_to {
            let mut violations = Violations::new();
            violations.check("return_to", check_return_to(path));
            violations.into_result(())?;
        }
        let config = self.sso_config().await?;
        let now = self.now();
        let authorization = self.sso.authorize(&config, now).await?;
        let expires_at = now.checked_add(SSO_LOGIN_TTL).expect("ten minutes from now is a valid time");
        let pending = PendingSsoLogin {
            state_digest: Sha256Digest::of(authorization.state.as_bytes()),
            verifier: authorization.verifier,
            nonce: authorization.nonce,
            return_to,
            config_digest: config.digest(),
            created_at: now,
            expires_at,
        };
        let mut tx = self.store.begin_unaudited().await?;
        tx.delete_expired_sso_logins(now).await?;
        if tx.count_sso_logins().await? >= self.settings.sso_max_pending_logins {
            return Err(ServiceError::Busy(Busy::SsoLogins));
        }
        tx.insert_sso_login(&pending).await?;
        tx.commit().await?;
        Ok(SsoRedirect { authorization_url: authorization.url, state: authorization.state, expires_at })
    }

    /// Finishes a sign-in from the provider's callback: takes the pending sign-in for `state`
    /// (once: a second callback with the same state fails), redeems `code` with its PKCE
    /// verifier, validates the ID token, maps the user's groups to roles, and creates the user
    /// or replaces their roles when the mapping gives others, with the audit entry in the same
    /// transaction.
    ///
    /// Fails, with nothing written but the used-up pending sign-in, with `SsoLoginExpired`
    /// (unknown, used or expired state, or settings changed since), `SsoUnavailable` (provider
    /// unreachable, client secret variable not set, client credentials refused),
    /// `SsoRejected` (code refused, ID token invalid, unusable username, subject or groups
    /// claim, a name taken by a user single sign-on did not create) and `SsoNoRole`.
    pub async fn complete_sso_login(
        &self,
        state: &str,
        code: &str,
        request_id: Option<String>,
    ) -> ServiceResult<SsoSignIn> {
        if state.is_empty() || state.len() > MAX_STATE_LEN {
            return Err(ServiceError::SsoLoginExpired { reason: "is unknown" });
        }
        if code.is_empty() || code.len() > MAX_CODE_LEN || !code.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err(ServiceError::SsoRejected { reason: "the authorization code is malformed".to_owned() });
        }
        let pending = self.take_pending_login(state).await?;
        let config = self.sso_config().await?;
        if config.digest() != pending.config_digest {
            return Err(ServiceError::SsoLoginExpired { reason: "began under single sign-on settings since replaced" });
        }
        let Some(secret) = self.settings.secret_source.read(&config.client_secret_env) else {
            let variable = &config.client_secret_env;
            return Err(ServiceError::SsoUnavailable {
                reason: format!(
                    "the client secret variable {variable} (sso.client_secret_env) is not set on this server"
                ),
            });
        };
        let secret = openidconnect::ClientSecret::new(secret);
        let signed_in = self.redeem_and_sign_in(&config, secret, code, &pending, request_id.as_deref()).await;
        // A refusal is logged for the operator (the HTTP layer logs only what it cannot answer).
        let (user, outcome) = signed_in.inspect_err(|error| {
            if matches!(error, ServiceError::SsoRejected { .. } | ServiceError::SsoNoRole { .. }) {
                tracing::warn!(%error, "single sign-on refused");
            }
        })?;
        Ok(SsoSignIn { user, return_to: pending.return_to, outcome })
    }

    /// Redeems the code of `pending`, reads the claims, maps the groups and signs the user in.
    async fn redeem_and_sign_in(
        &self,
        config: &SsoConfig,
        secret: openidconnect::ClientSecret,
        code: &str,
        pending: &PendingSsoLogin,
        request_id: Option<&str>,
    ) -> ServiceResult<(User, SsoOutcome)> {
        let now = self.now();
        let identity = self.sso.redeem(config, secret, code, &pending.verifier, &pending.nonce, now).await?;
        let claims = SignInClaims::read(config, &identity)?;
        let roles = config.roles_for(claims.groups.iter().map(String::as_str));
        if roles.is_empty() {
            let mut groups: Vec<String> = claims.groups.iter().take(MAX_GROUPS_SHOWN).cloned().collect();
            if claims.groups.len() > MAX_GROUPS_SHOWN {
                groups.push(format!("and {} more", claims.groups.len() - MAX_GROUPS_SHOWN));
            }
            return Err(ServiceError::SsoNoRole { user: claims.username, groups });
        }
        self.sign_in(config, &identity, &claims, roles, request_id).await
    }

    /// The single sign-on settings in force.
    async fn sso_config(&self) -> ServiceResult<SsoConfig> {
        self.store.read().await?.find_sso_config().await?.ok_or(ServiceError::SsoNotConfigured)
    }

    /// Deletes and returns the pending sign-in of `state`, if it has not expired.
    async fn take_pending_login(&self, state: &str) -> ServiceResult<PendingSsoLogin> {
        let mut tx = self.store.begin_unaudited().await?;
        let pending = tx.take_sso_login(&Sha256Digest::of(state.as_bytes())).await?;
        tx.commit().await?;
        let pending = pending.ok_or(ServiceError::SsoLoginExpired { reason: "is unknown or was used already" })?;
        if pending.expires_at <= self.now() {
            return Err(ServiceError::SsoLoginExpired { reason: "expired" });
        }
        Ok(pending)
    }

    /// Creates the user of `identity` or brings their roles to `roles`, in one audited
    /// transaction; returns the user as it is now.
    async fn sign_in(
        &self,
        config: &SsoConfig,
        identity: &VerifiedIdentity,
        claims: &SignInClaims,
        roles: BTreeSet<Role>,
        request_id: Option<&str>,
    ) -> ServiceResult<(User, SsoOutcome)> {
        // The usual sign-in changes nothing: found on a snapshot, it takes no write transaction.
        {
            let mut read = self.store.read().await?;
            if let Some(name) = read.find_sso_identity(&identity.issuer, &identity.subject).await? {
                if let Some(user) = read.find_user(&name).await?.filter(|user| user.roles == roles) {
                    return Ok((user, SsoOutcome::Unchanged));
                }
            }
        }
        let mapped: Vec<&str> = claims
            .groups
            .iter()
            .map(String::as_str)
            .filter(|group| config.roles.contains_key(*group))
            .take(MAX_GROUPS_SHOWN)
            .collect();
        let mapped = mapped.join(", ");
        // Decided again inside the write: another replica may have signed them in meanwhile.
        let mut tx = self.store.begin().await?;
        let (before, after, outcome, reason) = match tx.find_sso_identity(&identity.issuer, &identity.subject).await? {
            Some(name) => {
                let before = tx
                    .find_user(&name)
                    .await?
                    .ok_or(ServiceError::NotFound { entity: Entity::User, key: name.to_string() })?;
                if before.roles == roles {
                    return Ok((before, SsoOutcome::Unchanged));
                }
                let after = User { roles, ..before.clone() };
                tx.update_user(&after).await?;
                let reason = format!("roles from the groups {mapped} by single sign-on from {}", identity.issuer);
                (Some(before), after, SsoOutcome::RolesUpdated, reason)
            }
            None => {
                let user = self.new_sso_user(&mut tx, identity, claims, roles).await?;
                let (issuer, subject) = (&identity.issuer, &identity.subject);
                let reason = format!(
                    "first sign-in by single sign-on from {issuer} (subject {subject}); roles from the groups {mapped}"
                );
                (None, user, SsoOutcome::Created, reason)
            }
        };
        let action = if before.is_some() { AuditAction::Update } else { AuditAction::Create };
        let object = ObjectRef::new(ObjectKind::User, &after.name);
        let change = Change { action, object, before: before.as_ref(), after: Some(&after), reason: Some(&reason) };
        self.record(&mut tx, Actor::System, request_id, change).await?;
        tx.commit().await?;
        Ok((after, outcome))
    }

    /// Inserts the user a first sign-in makes, and the identity it is for. Refuses a name that
    /// a user single sign-on did not create already has: a provider account never takes over
    /// an account of the same name.
    async fn new_sso_user(
        &self,
        tx: &mut StoreTx,
        identity: &VerifiedIdentity,
        claims: &SignInClaims,
        roles: BTreeSet<Role>,
    ) -> ServiceResult<User> {
        let name = user_name_from_claim(&claims.username).map_err(|problem| ServiceError::SsoRejected {
            reason: format!("the {} claim {problem}", claims.username_claim),
        })?;
        if tx.find_user(&name).await?.is_some() {
            let linked = tx.find_sso_identity_of(&name).await?;
            let how = match linked {
                Some((issuer, _)) => format!("was created by single sign-on for another account of {issuer}"),
                None => "exists and was not created by single sign-on".to_owned(),
            };
            return Err(ServiceError::SsoRejected {
                reason: format!(
                    "user {name} {how}; an administrator can map another claim to user names (sso.username_claim)"
                ),
            });
        }
        let display_name = claims.display_name.clone().unwrap_or_else(|| name.to_string());
        let user = User { name, display_name, roles };
        let now = self.now();
        tx.insert_user(&user, now).await?;
        tx.insert_sso_identity(&identity.issuer, &identity.subject, &user.name, now).await?;
        Ok(user)
    }
}

/// The claims a sign-in uses, read from a validated ID token.
#[derive(Debug)]
struct SignInClaims {
    /// Which claim the username came from (the configured one, or `sub`).
    username_claim: String,
    username: String,
    /// The `name` claim, when it makes a display name.
    display_name: Option<String>,
    groups: Vec<String>,
}

impl SignInClaims {
    /// Reads the username claim (falling back to `sub` when it is absent), the groups claim
    /// (absent is no groups; one string is one group) and `name` for the display name (the
    /// user name when it is absent or unusable).
    fn read(config: &SsoConfig, identity: &VerifiedIdentity) -> ServiceResult<SignInClaims> {
        let rejected = |reason: String| ServiceError::SsoRejected { reason };
        if identity.subject.is_empty() || identity.subject.len() > MAX_SUBJECT_LEN {
            return Err(rejected(format!("the sub claim has to have 1 to {MAX_SUBJECT_LEN} characters")));
        }
        let (username_claim, username) = match identity.claims.get(&config.username_claim) {
            None | Some(serde_json::Value::Null) => (FALLBACK_USERNAME_CLAIM.to_owned(), identity.subject.clone()),
            Some(serde_json::Value::String(value)) => (config.username_claim.clone(), value.clone()),
            Some(_) => return Err(rejected(format!("the {} claim is not a string", config.username_claim))),
        };
        let groups = match identity.claims.get(&config.groups_claim) {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(serde_json::Value::String(group)) => vec![group.clone()],
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect::<Option<Vec<String>>>()
                .ok_or_else(|| rejected(format!("the {} claim is not a list of strings", config.groups_claim)))?,
            Some(_) => return Err(rejected(format!("the {} claim is not a list of strings", config.groups_claim))),
        };
        let display_name = identity
            .claims
            .get("name")
            .and_then(serde_json::Value::as_str)
            .filter(|name| check_text(name, MAX_DISPLAY_NAME_LEN, true).is_ok())
            .map(str::to_owned);
        Ok(SignInClaims { username_claim, username, display_name, groups })
    }
}
