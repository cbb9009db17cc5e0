//! Single sign-on with OpenID Connect: the `sso` section of `tollgate.yaml` validated, how a
//! provider's groups become roles, how a claim becomes a user name, and the pending sign-in
//! kept between sending a browser to the provider and its return.
//!
//! Talking to the provider (discovery, the token exchange, checking the ID token's signature)
//! is not done here: that is I/O, in the service. The client secret is not here either: the
//! configuration names the environment variable that holds it, and only the server reads it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::digest::Sha256Digest;
use crate::name::{check_no_nul, UserName, MAX_NAME_LEN};
use crate::user::{parse_roles, Role, MAX_ROLE_NAMES};
use crate::violation::{Problem, Violations};
use crate::Timestamp;

/// The path of the server's callback, which `redirect_url` must end with.
pub const SSO_CALLBACK_PATH: &str = "/login/sso/callback";

/// The claim read as the user name when `username_claim` is not given.
pub const DEFAULT_USERNAME_CLAIM: &str = "preferred_username";

/// The claim read as the user name when the username claim is absent from an ID token.
pub const FALLBACK_USERNAME_CLAIM: &str = "sub";

/// The claim read as the user's groups when `groups_claim` is not given.
pub const DEFAULT_GROUPS_CLAIM: &str = "groups";

/// The scopes asked for when `scopes` is not given. `openid` is always asked for.
pub const DEFAULT_SCOPES: &[&str] = &["openid", "profile"];

/// The longest issuer or redirect URL accepted.
pub const MAX_URL_LEN: usize = 2048;

/// The longest client id, variable name, claim name, scope or group name accepted.
pub const MAX_SSO_TEXT_LEN: usize = 255;

/// The most groups `roles` may map.
pub const MAX_MAPPED_GROUPS: usize = 1000;

/// The most scopes `scopes` may list.
pub const MAX_SCOPES: usize = 32;

/// The longest `return_to` path accepted.
pub const MAX_RETURN_TO_LEN: usize = 2048;

/// The `sso` section as typed, before validation.
#[derive(Debug, Clone, Default)]
pub struct SsoInput {
    pub issuer: String,
    pub client_id: String,
    pub client_secret_env: String,
    pub redirect_url: String,
    pub username_claim: Option<String>,
    pub groups_claim: Option<String>,
    pub roles: SsoRolesInput,
    pub scopes: Vec<String>,
}

/// The `roles` mapping as typed: each group with its role names, in the order written.
#[derive(Debug, Clone, Default)]
pub struct SsoRolesInput {
    pub groups: Vec<GroupRolesInput>,
}

/// One group of the `roles` mapping as typed.
#[derive(Debug, Clone, Default)]
pub struct GroupRolesInput {
    pub group: String,
    pub roles: Vec<String>,
}

/// The validated single sign-on settings. Holds no secret: `client_secret_env` is the name of
/// the environment variable that does. A stored format (the `sso` audit entries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoConfig {
    /// The provider's issuer identifier: https, or http on a loopback address.
    pub issuer: String,
    pub client_id: String,
    /// The environment variable holding the client secret on every server.
    pub client_secret_env: String,
    /// Where the provider sends the browser back: the server's `/login/sso/callback`.
    pub redirect_url: String,
    pub username_claim: String,
    pub groups_claim: String,
    /// The roles each group gives; a user gets the union over their groups.
    pub roles: BTreeMap<String, BTreeSet<Role>>,
    /// The scopes asked for, `openid` first, each once.
    pub scopes: Vec<String>,
}

impl SsoConfig {
    /// The SHA-256 of the settings' canonical JSON: a pending sign-in binds to it, so one
    /// begun under other settings is not finished under these.
    pub fn digest(&self) -> Sha256Digest {
        Sha256Digest::of(&crate::digest::canonical_json(self))
    }

    /// The roles `groups` give: the union of the roles of every mapped group. Groups the
    /// mapping does not name give nothing.
    pub fn roles_for<'a>(&self, groups: impl IntoIterator<Item = &'a str>) -> BTreeSet<Role> {
        groups.into_iter().filter_map(|group| self.roles.get(group)).flatten().copied().collect()
    }

    /// The names of the fields that differ from `other`, for a plan.
    pub fn changed_fields(&self, other: &SsoConfig) -> Vec<&'static str> {
        [
            ("issuer", self.issuer == other.issuer),
            ("client_id", self.client_id == other.client_id),
            ("client_secret_env", self.client_secret_env == other.client_secret_env),
            ("redirect_url", self.redirect_url == other.redirect_url),
            ("username_claim", self.username_claim == other.username_claim),
            ("groups_claim", self.groups_claim == other.groups_claim),
            ("roles", self.roles == other.roles),
            ("scopes", self.scopes == other.scopes),
        ]
        .into_iter()
        .filter(|(_, same)| !same)
        .map(|(field, _)| field)
        .collect()
    }
}

impl SsoInput {
    /// Validates every field; violations name their field relative to the section (`issuer`,
    /// `roles.admins[0]`).
    pub fn parse(self) -> Result<SsoConfig, Violations> {
        let mut violations = Violations::new();
        violations.check("issuer", check_provider_url(&self.issuer, UrlUse::Issuer));
        violations.check("redirect_url", check_provider_url(&self.redirect_url, UrlUse::Redirect));
        violations.check("client_id", check_visible("a client id", &self.client_id));
        violations.check("client_secret_env", check_variable_name(&self.client_secret_env));
        let username_claim = self.username_claim.unwrap_or_else(|| DEFAULT_USERNAME_CLAIM.to_owned());
        violations.check("username_claim", check_visible("a claim name", &username_claim));
        let groups_claim = self.groups_claim.unwrap_or_else(|| DEFAULT_GROUPS_CLAIM.to_owned());
        violations.check("groups_claim", check_visible("a claim name", &groups_claim));
        let roles = parse_mapping(self.roles, &mut violations);
        let scopes = parse_scopes(self.scopes, &mut violations);
        violations.into_result(SsoConfig {
            issuer: self.issuer,
            client_id: self.client_id,
            client_secret_env: self.client_secret_env,
            redirect_url: self.redirect_url,
            username_claim,
            groups_claim,
            roles,
            scopes,
        })
    }
}

fn parse_mapping(input: SsoRolesInput, violations: &mut Violations) -> BTreeMap<String, BTreeSet<Role>> {
    let mut roles: BTreeMap<String, BTreeSet<Role>> = BTreeMap::new();
    if input.groups.is_empty() {
        let reason = "map at least one group to roles, or nobody can sign in".to_owned();
        violations.push("roles", Problem::Invalid { reason });
    }
    if input.groups.len() > MAX_MAPPED_GROUPS {
        let reason = format!("at most {MAX_MAPPED_GROUPS} groups");
        violations.push("roles", Problem::Invalid { reason });
    }
    for GroupRolesInput { group, roles: names } in input.groups {
        let field = format!("roles.{group}");
        if violations.check(&field, check_visible("a group name", &group)).is_none() {
            continue;
        }
        if names.is_empty() {
            violations.push(&field, Problem::Invalid { reason: "give the group at least one role".to_owned() });
        }
        if names.len() > MAX_ROLE_NAMES {
            violations.push(&field, Problem::Invalid { reason: format!("at most {MAX_ROLE_NAMES} role names") });
        }
        let mut group_roles = BTreeSet::new();
        for (index, name) in names.iter().enumerate() {
            if let Some(parsed) = violations.check(&format!("{field}[{index}]"), parse_roles(name)) {
                group_roles.extend(parsed);
            }
        }
        if roles.insert(group.clone(), group_roles).is_some() {
            violations.push(&field, Problem::Duplicate { value: group });
        }
    }
    roles
}

fn parse_scopes(input: Vec<String>, violations: &mut Violations) -> Vec<String> {
    let written = if input.is_empty() { DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect() } else { input };
    if written.len() > MAX_SCOPES {
        violations.push("scopes", Problem::Invalid { reason: format!("at most {MAX_SCOPES} scopes") });
    }
    let mut scopes = vec!["openid".to_owned()];
    for (index, scope) in written.into_iter().enumerate() {
        // A scope token is visible ASCII other than `"` and `\` (RFC 6749, section 3.3).
        let well_formed = !scope.is_empty()
            && scope.len() <= MAX_SSO_TEXT_LEN
            && scope.bytes().all(|byte| byte.is_ascii_graphic() && byte != b'"' && byte != b'\\');
        if !well_formed {
            let reason = format!("{scope:?} is not a scope (1 to {MAX_SSO_TEXT_LEN} visible ASCII characters)");
            violations.push(format!("scopes[{index}]"), Problem::Invalid { reason });
        } else if scopes[1..].contains(&scope) {
            violations.push(format!("scopes[{index}]"), Problem::Duplicate { value: scope });
        } else if scope != "openid" {
            scopes.push(scope);
        }
    }
    scopes
}

/// What a URL in the settings is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UrlUse {
    Issuer,
    Redirect,
}

/// Checks an issuer or redirect URL: `https://`, or `http://` on a loopback host (localhost,
/// 127.0.0.0/8, [::1]), with a host, no user name or password, and no fragment; an issuer has
/// no query either (OpenID Connect Discovery), and a redirect URL ends with the callback path.
fn check_provider_url(value: &str, use_: UrlUse) -> Result<(), Problem> {
    let invalid = |reason: String| Err(Problem::Invalid { reason });
    if value.is_empty() {
        return Err(Problem::Required);
    }
    if value.len() > MAX_URL_LEN {
        return Err(Problem::TooLong { max: MAX_URL_LEN });
    }
    if !value.bytes().all(|byte| byte.is_ascii_graphic()) {
        return invalid(format!("{value:?} is not a URL: spaces, control and non-ASCII characters must be escaped"));
    }
    let (secure, rest) = match (value.strip_prefix("https://"), value.strip_prefix("http://")) {
        (Some(rest), _) => (true, rest),
        (None, Some(rest)) => (false, rest),
        (None, None) => return invalid(format!("{value:?} is not an https:// URL")),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path_and_more) = rest.split_at(authority_end);
    if authority.contains('@') {
        return invalid(format!("{value:?} has a user name or password; leave them out"));
    }
    let Some(host) = host_of(authority) else {
        return invalid(format!("{value:?} has no valid host and port"));
    };
    if !secure && !is_loopback(host) {
        return invalid(format!("{value:?} is plain http on a host that is not loopback; use https"));
    }
    if path_and_more.contains('#') {
        return invalid(format!("{value:?} has a fragment (#...); leave it out"));
    }
    match use_ {
        UrlUse::Issuer if path_and_more.contains('?') => invalid(format!("{value:?} has a query; an issuer has none")),
        UrlUse::Redirect if !path_and_more.split('?').next().unwrap_or_default().ends_with(SSO_CALLBACK_PATH) => {
            invalid(format!("{value:?} is not the server's callback: its path ends with {SSO_CALLBACK_PATH}"))
        }
        _ => Ok(()),
    }
}

/// The host of an authority (`host`, `host:port`, `[v6]:port`), or `None` when it is malformed.
fn host_of(authority: &str) -> Option<&str> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let (host, after) = bracketed.split_once(']')?;
            host.parse::<core::net::Ipv6Addr>().ok()?;
            (host, after.strip_prefix(':'))
        }
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let host_ok = !host.is_empty()
        && host.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b':' | b'_'));
    let port_ok = port.is_none_or(|port| port.parse::<u16>().is_ok_and(|port| port > 0));
    (host_ok && port_ok).then_some(host)
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<core::net::Ipv4Addr>().is_ok_and(|address| address.is_loopback())
        || host.parse::<core::net::Ipv6Addr>().is_ok_and(|address| address.is_loopback())
}

/// A client id, claim or group name: 1 to `MAX_SSO_TEXT_LEN` characters, none of them control
/// characters, not blank.
fn check_visible(what: &str, value: &str) -> Result<(), Problem> {
    if value.trim().is_empty() {
        return Err(Problem::Required);
    }
    if value.chars().count() > MAX_SSO_TEXT_LEN {
        return Err(Problem::TooLong { max: MAX_SSO_TEXT_LEN });
    }
    check_no_nul(value)?;
    if value.chars().any(char::is_control) {
        return Err(Problem::Invalid { reason: format!("{value:?} is not {what}: it has control characters") });
    }
    Ok(())
}

/// The name of an environment variable: letters, digits and `_`, not starting with a digit.
fn check_variable_name(value: &str) -> Result<(), Problem> {
    let bytes = value.as_bytes();
    let well_formed = !bytes.is_empty()
        && bytes.len() <= MAX_SSO_TEXT_LEN
        && !bytes[0].is_ascii_digit()
        && bytes.iter().all(|byte| byte.is_ascii_alphanumeric() || *byte == b'_');
    if well_formed {
        Ok(())
    } else {
        Err(Problem::Invalid {
            reason: format!(
                "{value:?} is not the name of an environment variable (letters, digits and '_', not starting with a digit); name the variable that holds the secret, never the secret itself"
            ),
        })
    }
}

/// The Tollgate user name for a username claim's value: lower-cased, every run of characters
/// other than ASCII letters and digits made one `-`, with no `-` at either end
/// (`Dave.Smith@Example.COM` becomes `dave-smith-example-com`). Fails when nothing is left or
/// the result is longer than a name may be.
pub fn user_name_from_claim(value: &str) -> Result<UserName, Problem> {
    let mut name = String::with_capacity(value.len());
    for character in value.chars() {
        if character.is_ascii_alphanumeric() {
            name.push(character.to_ascii_lowercase());
        } else if !name.is_empty() && !name.ends_with('-') {
            name.push('-');
        }
    }
    let name = name.trim_end_matches('-');
    UserName::parse(name).map_err(|_| Problem::Invalid {
        reason: format!(
            "{value:?} does not make a user name (1 to {MAX_NAME_LEN} letters and digits once lower-cased, other characters becoming '-')"
        ),
    })
}

/// Checks where to send the browser after signing in: a path on this server (`/releases/1.4.0`),
/// never another site. Refuses `//host` and `/\host`, which browsers read as another site,
/// and control characters.
pub fn check_return_to(value: &str) -> Result<(), Problem> {
    if value.len() > MAX_RETURN_TO_LEN {
        return Err(Problem::TooLong { max: MAX_RETURN_TO_LEN });
    }
    let local = value.starts_with('/') && !value.starts_with("//") && !value.starts_with("/\\");
    if !local || value.contains('\\') || !value.bytes().all(|byte| byte.is_ascii_graphic()) {
        return Err(Problem::Invalid {
            reason: format!("{value:?} is not a path on this server (it starts with one '/' and has no spaces, backslashes or control characters)"),
        });
    }
    Ok(())
}

/// A sign-in between the redirect to the provider and the browser's return: what the callback
/// needs to finish it. The state itself is not kept, only its SHA-256.
#[derive(Clone, PartialEq, Eq)]
pub struct PendingSsoLogin {
    pub state_digest: Sha256Digest,
    /// The PKCE code verifier: secret until the token exchange.
    pub verifier: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// The path to return to after signing in.
    pub return_to: Option<String>,
    /// The digest of the settings the sign-in began under.
    pub config_digest: Sha256Digest,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl fmt::Debug for PendingSsoLogin {
    // Written by hand: the verifier and the nonce never reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingSsoLogin")
            .field("state_digest", &self.state_digest)
            .field("verifier", &"<redacted>")
            .field("nonce", &"<redacted>")
            .field("return_to", &self.return_to)
            .field("config_digest", &self.config_digest)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[cfg(test)]
mod tests;
