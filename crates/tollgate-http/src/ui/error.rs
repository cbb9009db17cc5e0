//! Error pages: 404, 403, 500 and the others, each saying what to do next; and the redirect to
//! the sign-in page for a request without a usable session.
//!
//! A service error becomes the same status, code and text the API gives (through `ApiError`),
//! so the browser and the API say the same thing about the same refusal.

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use tollgate_service::ServiceError;

use crate::error::{ApiError, FieldError};
use crate::ui::session::Chrome;

pub(crate) type UiResult<T> = Result<T, UiError>;

/// Why a page cannot be shown.
#[derive(Debug)]
pub(crate) enum UiError {
    /// Not signed in: go to `/login`, then back to `next`.
    SignIn { next: Option<String> },
    /// A page that explains the problem.
    Page(Box<ErrorPage>),
}

#[derive(Debug, Template)]
#[template(path = "error.html")]
pub(crate) struct ErrorPage {
    pub chrome: Chrome,
    pub status: StatusCode,
    pub title: String,
    pub code: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
    /// What the reader can do about it.
    pub next_step: &'static str,
    pub retry_after: Option<u64>,
}

impl std::fmt::Debug for Chrome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chrome").field("user", &self.user).finish_non_exhaustive()
    }
}

impl UiError {
    pub fn sign_in(next: Option<String>) -> UiError {
        UiError::SignIn { next }
    }

    /// The page for a service error, with the signed-in user's chrome when there is one.
    pub fn from_service(error: ServiceError, chrome: Option<Chrome>) -> UiError {
        let problem = ApiError::from(error).into_page_parts();
        UiError::Page(Box::new(ErrorPage {
            chrome: chrome.unwrap_or_else(Chrome::anonymous),
            status: problem.status,
            title: title(problem.status).to_owned(),
            code: problem.code,
            next_step: next_step(problem.status),
            detail: problem.detail,
            errors: problem.errors,
            retry_after: problem.retry_after,
        }))
    }

    pub fn not_found(chrome: Option<Chrome>, what: &str) -> UiError {
        UiError::page(StatusCode::NOT_FOUND, "not_found", chrome, what.to_owned())
    }

    pub fn bad_request(detail: &str) -> UiError {
        UiError::page(StatusCode::BAD_REQUEST, "invalid_form", None, detail.to_owned())
    }

    /// A form without the right form token (CSRF): refused before anything ran.
    pub fn forbidden_form(detail: &str) -> UiError {
        UiError::page(StatusCode::FORBIDDEN, "invalid_form_token", None, detail.to_owned())
    }

    pub fn internal(error: &dyn std::fmt::Display) -> UiError {
        tracing::error!(cause = %error, "a page failed to render");
        UiError::page(StatusCode::INTERNAL_SERVER_ERROR, "internal", None, "internal error".to_owned())
    }

    fn page(status: StatusCode, code: &'static str, chrome: Option<Chrome>, detail: String) -> UiError {
        UiError::Page(Box::new(ErrorPage {
            chrome: chrome.unwrap_or_else(Chrome::anonymous),
            status,
            title: title(status).to_owned(),
            code,
            detail,
            errors: Vec::new(),
            next_step: next_step(status),
            retry_after: None,
        }))
    }
}

fn title(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 413 | 422 => "That request was not valid",
        401 => "Sign in first",
        403 => "You may not do that",
        404 => "Not found",
        409 => "That cannot be done now",
        429 => "Too many attempts",
        503 => "The database is unavailable",
        _ => "Something went wrong",
    }
}

fn next_step(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 413 | 422 => "Go back, correct the fields named above and send the form again.",
        401 => "Sign in, then open this address again.",
        403 => "If you need this, ask an administrator for the role, or for a just-in-time grant in the environment. \
                If the form token was refused, reload the page and try again.",
        404 => "Check the address, or find the object from the dashboard or the lists in the menu.",
        409 => "Reload the page to see the current state, then decide again.",
        429 => "Wait the time named above, then try again.",
        503 => "Try again in a minute; if it persists, tell the operators of this Tollgate.",
        _ => "Try again; if it happens again, tell the operators of this Tollgate and quote the request id from the response headers.",
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        match self {
            UiError::SignIn { next } => {
                let target = match next.filter(|next| is_local_path(next)) {
                    Some(next) if next != "/" => format!("/login?next={}", urlencoding(&next)),
                    _ => "/login".to_owned(),
                };
                Redirect::to(&target).into_response()
            }
            UiError::Page(page) => {
                let status = page.status;
                let retry_after = page.retry_after;
                let body = page.render().unwrap_or_else(|_| "error".to_owned());
                let mut response = (status, axum::response::Html(body)).into_response();
                if let Some(seconds) = retry_after {
                    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
                }
                response
            }
        }
    }
}

/// Whether `next` is a path on this server (so a sign-in link cannot send anyone elsewhere).
pub(crate) fn is_local_path(next: &str) -> bool {
    next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\") && !next.contains("://")
}

pub(crate) fn urlencoding(value: &str) -> String {
    serde_urlencoded::to_string([("", value)]).map(|pair| pair[1..].to_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert!(is_local_path("/releases/1.2.3"));
        assert!(!is_local_path("//evil.example/"));
        assert!(!is_local_path("/\\evil.example/"));
        assert!(!is_local_path("https://evil.example/"));
        assert_eq!(urlencoding("/releases?state=ready&x=1"), "%2Freleases%3Fstate%3Dready%26x%3D1");
    }
}
