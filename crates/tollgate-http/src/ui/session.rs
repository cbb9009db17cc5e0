//! The session cookie, the signed-in user of a page, form tokens (CSRF), and the page chrome.
//!
//! The session cookie (`tollgate_session`) is `HttpOnly`, `SameSite=Lax`, and `Secure` when a
//! trusted proxy says the browser used HTTPS. It is accepted only by the UI's routes, never as
//! an API credential; API bearer tokens are never accepted by the UI's routes.
//! Every state-changing form carries the session's form token, checked by [`CsrfForm`] before
//! the handler runs; the sign-in forms carry one derived from a pre-sign-in cookie instead.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Form, FromRequest, FromRequestParts, OriginalUri, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use tollgate_core::session::WebSession;
use tollgate_service::session::Client;
use tollgate_service::Principal;

use crate::ui::assets::{HTMX, STYLESHEET};
use crate::ui::error::UiError;
use crate::AppState;

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "tollgate_session";
/// The pre-sign-in cookie's name: a random nonce the sign-in form token is derived from.
pub(crate) const LOGIN_COOKIE: &str = "tollgate_login";

/// The signed-in user of a page, from the session cookie. A request without a usable session
/// is sent to `/login` (and back here after signing in).
pub(crate) struct WebUser {
    pub principal: Principal,
    pub session: WebSession,
    /// The cookie's secret, to end the session on sign-out.
    pub secret: String,
}

impl WebUser {
    /// The page chrome for this user, with `current` marked in the navigation.
    pub fn chrome(&self, current: &'static str) -> Chrome {
        Chrome::signed_in(self, current)
    }
}

impl FromRequestParts<AppState> for WebUser {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<WebUser, UiError> {
        let next = parts.extensions.get::<OriginalUri>().map_or_else(|| parts.uri.clone(), |uri| uri.0.clone());
        let sign_in = || UiError::sign_in(if parts.method == Method::GET { Some(next.to_string()) } else { None });
        let Some(secret) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(sign_in());
        };
        let request_id = request_id(&parts.headers);
        match state.tollgate.session(&secret, request_id).await {
            Ok((principal, session)) => Ok(WebUser { principal, session, secret }),
            Err(tollgate_service::ServiceError::Unauthenticated { .. }) => Err(sign_in()),
            Err(error) => Err(UiError::from_service(error, None)),
        }
    }
}

/// A form posted by a signed-in user, with the session's form token checked: a missing or
/// wrong `csrf` field is refused (403) before the handler runs.
pub(crate) struct CsrfForm<T>(pub WebUser, pub T);

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = UiError;

    async fn from_request(request: Request, state: &AppState) -> Result<CsrfForm<T>, UiError> {
        let (mut parts, body) = request.into_parts();
        let user = WebUser::from_request_parts(&mut parts, state).await?;
        let bytes = axum::body::to_bytes(body, crate::MAX_BODY_BYTES)
            .await
            .map_err(|_| UiError::bad_request("the form is larger than the limit"))?;
        let token: CsrfField = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| UiError::forbidden_form("the form carries no valid form token"))?;
        if !constant_time_eq(token.csrf.as_bytes(), user.session.csrf.as_bytes()) {
            return Err(UiError::forbidden_form(
                "the form token does not match this session; reload the page and try again",
            ));
        }
        let request = Request::from_parts(parts, axum::body::Body::from(bytes));
        let Form(form) = Form::<T>::from_request(request, state)
            .await
            .map_err(|rejection| UiError::bad_request(&rejection.body_text()))?;
        Ok(CsrfForm(user, form))
    }
}

/// What the layout shows around every page.
pub(crate) struct Chrome {
    /// The signed-in user's name, or `None` on the sign-in and error pages.
    pub user: Option<String>,
    pub roles: String,
    pub csrf: String,
    /// Which navigation entry is the current page.
    pub current: &'static str,
    pub stylesheet: &'static str,
    pub htmx: &'static str,
}

impl Chrome {
    fn signed_in(user: &WebUser, current: &'static str) -> Chrome {
        let roles = user.principal.user.roles.iter().map(|role| role.as_str()).collect::<Vec<_>>().join(", ");
        Chrome {
            user: Some(user.principal.user.name.to_string()),
            roles,
            csrf: user.session.csrf.clone(),
            current,
            stylesheet: &STYLESHEET.url,
            htmx: &HTMX.url,
        }
    }

    /// The chrome of a page shown to someone not signed in.
    pub fn anonymous() -> Chrome {
        Chrome {
            user: None,
            roles: String::new(),
            csrf: String::new(),
            current: "",
            stylesheet: &STYLESHEET.url,
            htmx: &HTMX.url,
        }
    }

    /// The navigation entries: (path, label, key).
    pub fn nav(&self) -> &'static [(&'static str, &'static str, &'static str)] {
        &[
            ("/", "Dashboard", "dashboard"),
            ("/register", "Register", "register"),
            ("/releases", "Releases", "releases"),
            ("/calendar", "Calendar", "calendar"),
            ("/changes", "Changes", "changes"),
            ("/artifacts", "Artifacts", "artifacts"),
            ("/catalog", "Catalog", "catalog"),
            ("/audit", "Audit log", "audit"),
            ("/policy", "Policy", "policy"),
        ]
    }
}

/// The value of one cookie of the request.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// A `Set-Cookie` value for a UI cookie: `HttpOnly`, `SameSite=Lax`, path `/`, `Secure` when
/// the browser is known to use HTTPS; `None` as the value removes the cookie.
pub(crate) fn set_cookie(name: &str, value: Option<&str>, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match value {
        Some(value) => format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax{secure}"),
        None => format!("{name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
    }
}

/// Who is asking, as far as this server can tell: the peer address, or, when the peer is a
/// trusted proxy, the last address its `X-Forwarded-For` names. Also whether the browser used
/// HTTPS (only a trusted proxy can say so: this server speaks plain HTTP itself).
pub(crate) fn client(parts: &Parts, state: &AppState) -> (Client, bool) {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
    let trusted = peer.is_some_and(|peer| state.web.trusted_proxies.contains(&peer));
    let forwarded_for = || {
        parts
            .headers
            .get("x-forwarded-for")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.rsplit(',').next())
            .and_then(|last| last.trim().parse::<IpAddr>().ok())
    };
    let address = if trusted { forwarded_for().or(peer) } else { peer };
    let https = trusted
        && parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|value| value.to_str().ok())
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"));
    (Client { address, request_id: request_id(&parts.headers) }, https)
}

pub(crate) fn request_id(headers: &HeaderMap) -> Option<String> {
    headers.get("x-request-id").and_then(|value| value.to_str().ok()).map(str::to_owned)
}

/// Compares two byte strings in time that depends only on their lengths.
pub(crate) fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len() && left.iter().zip(right).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, "a=1; tollgate_session_x=2; tollgate_session=tgs_3".parse().expect("valid"));
        assert_eq!(cookie(&headers, SESSION_COOKIE).as_deref(), Some("tgs_3"));
        assert_eq!(cookie(&headers, "missing"), None);
    }

    #[test]
    fn cookies_are_http_only_and_lax() {
        assert_eq!(set_cookie("n", Some("v"), false), "n=v; Path=/; HttpOnly; SameSite=Lax");
        assert_eq!(set_cookie("n", Some("v"), true), "n=v; Path=/; HttpOnly; SameSite=Lax; Secure");
        assert_eq!(set_cookie("n", None, false), "n=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
