//! Signing in and out: `/login` (a password, or an API token pasted once), `/logout`.
//!
//! The sign-in forms carry a form token derived from a random pre-sign-in cookie (login CSRF:
//! nobody can sign a browser in to another account); a session's forms carry the session's own.
//! A wrong password and an unknown user get the same answer; repeated failures lock the user
//! and the address out (429 with `Retry-After`), as the service decides.

use askama::Template;
use axum::extract::{FromRequest, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use rand::RngCore;
use serde::Deserialize;
use tollgate_service::session::{IssuedSession, Password};
use tollgate_service::ServiceError;

use crate::error::ApiError;
use crate::ui::error::{is_local_path, UiError, UiResult};
use crate::ui::session::{client, cookie, set_cookie, Chrome, CsrfForm, LOGIN_COOKIE, SESSION_COOKIE};
use crate::ui::{render, WebUser};
use crate::AppState;

#[derive(Template)]
#[template(path = "login.html")]
pub(crate) struct LoginPage {
    pub chrome: Chrome,
    pub csrf: String,
    pub next: String,
    pub username: String,
    /// Which form the problem is about: `password` or `token`.
    pub problem_form: &'static str,
    pub problem: Option<String>,
    /// Whether single sign-on is configured (the page offers it then).
    pub sso: bool,
}

#[derive(Debug, Deserialize)]
pub(crate) struct LoginQuery {
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct PasswordForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: String,
}

#[derive(Deserialize)]
pub(crate) struct TokenForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: String,
}

#[derive(Deserialize)]
pub(crate) struct SignOutForm {}

/// `GET /login`: the sign-in forms; a signed-in user goes on to `next`.
pub(crate) async fn page(State(state): State<AppState>, Query(query): Query<LoginQuery>, request: Request) -> Response {
    let (mut parts, _) = request.into_parts();
    let next = local_or_root(query.next.as_deref());
    if WebUser::from_request_parts(&mut parts, &state).await.is_ok() {
        return Redirect::to(&next).into_response();
    }
    let problem = None;
    match login_page(&state, &parts, next, String::new(), "", problem).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

/// `POST /login`: signs in with a user name and password.
pub(crate) async fn with_password(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(Form(form)) = Form::<PasswordForm>::from_request(Request::from_parts(parts.clone(), body), &state).await
    else {
        return UiError::bad_request("the sign-in form is malformed").into_response();
    };
    let next = local_or_root(Some(&form.next));
    if let Err(error) = check_form_token(&state, &parts, &form.csrf).await {
        return error.into_response();
    }
    let (client, https) = client(&parts, &state);
    let signed_in = state.tollgate.sign_in_with_password(&form.username, &Password(form.password), &client).await;
    finish(&state, &parts, signed_in, https, next, form.username, "password").await
}

/// `POST /login/token`: signs in with an API token pasted once; the session ends with it.
pub(crate) async fn with_token(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(Form(form)) = Form::<TokenForm>::from_request(Request::from_parts(parts.clone(), body), &state).await else {
        return UiError::bad_request("the sign-in form is malformed").into_response();
    };
    let next = local_or_root(Some(&form.next));
    if let Err(error) = check_form_token(&state, &parts, &form.csrf).await {
        return error.into_response();
    }
    let (client, https) = client(&parts, &state);
    let signed_in = state.tollgate.sign_in_with_token(&form.token, &client).await;
    finish(&state, &parts, signed_in, https, next, String::new(), "token").await
}

/// `POST /logout`: ends the session and forgets the cookie.
pub(crate) async fn sign_out(State(state): State<AppState>, form: CsrfForm<SignOutForm>) -> UiResult<Response> {
    let CsrfForm(user, SignOutForm {}) = form;
    let chrome = user.chrome("");
    state
        .tollgate
        .sign_out(&user.secret, &user.principal)
        .await
        .map_err(|error| UiError::from_service(error, Some(chrome)))?;
    let mut response = Redirect::to("/login").into_response();
    append_cookie(&mut response, &set_cookie(SESSION_COOKIE, None, false));
    Ok(response)
}

/// The cookie binding a single sign-on to the browser that began it.
const SSO_COOKIE: &str = "tollgate_sso";

/// `GET /login/sso`: starts single sign-on (authorization code with PKCE) and sends the browser
/// to the identity provider. The sign-in's state also goes into a short-lived cookie, so only
/// the browser that began it can finish it.
pub(crate) async fn sso_begin(
    State(state): State<AppState>,
    Query(query): Query<LoginQuery>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    let next = Some(local_or_root(query.next.as_deref()));
    match state.tollgate.begin_sso_login(next.clone()).await {
        Ok(redirect) => {
            let (_, https) = client(&parts, &state);
            let mut response = Redirect::to(&redirect.authorization_url).into_response();
            let cookie = format!("{}; Max-Age=600", set_cookie(SSO_COOKIE, Some(&redirect.state), https));
            append_cookie(&mut response, &cookie);
            response
        }
        Err(error) => sso_refused(&state, &parts, error).await,
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct CallbackQuery {
    #[serde(default)]
    state: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

/// `GET /login/sso/callback`: the provider sends the browser back here with a code; the
/// service checks it and the ID token, the user gets a session.
pub(crate) async fn sso_callback(
    State(state): State<AppState>,
    Query(query): Query<CallbackQuery>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    let (client, https) = client(&parts, &state);
    if let Some(error) = &query.error {
        let detail = format!(
            "the identity provider refused the sign-in: {error}{}",
            query.error_description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()
        );
        return problem_page(&state, &parts, StatusCode::UNAUTHORIZED, detail).await;
    }
    let bound = cookie(&parts.headers, SSO_COOKIE)
        .is_some_and(|expected| crate::ui::session::constant_time_eq(expected.as_bytes(), query.state.as_bytes()));
    if !bound {
        let detail = "this sign-in was not started in this browser; start signing in again".to_owned();
        return problem_page(&state, &parts, StatusCode::BAD_REQUEST, detail).await;
    }
    let signed_in = match state.tollgate.complete_sso_login(&query.state, &query.code, client.request_id.clone()).await
    {
        Ok(sso) => state.tollgate.sign_in_with_sso(sso.user, &client).await.map(|issued| (issued, sso.return_to)),
        Err(error) => Err(error),
    };
    match signed_in {
        Ok((issued, return_to)) => {
            let next = local_or_root(return_to.as_deref());
            let mut response = Redirect::to(&next).into_response();
            append_cookie(&mut response, &set_cookie(SESSION_COOKIE, Some(issued.secret.expose()), https));
            append_cookie(&mut response, &set_cookie(SSO_COOKIE, None, https));
            response
        }
        Err(error) => sso_refused(&state, &parts, error).await,
    }
}

async fn sso_refused(state: &AppState, parts: &Parts, error: ServiceError) -> Response {
    let problem = ApiError::from(error).into_page_parts();
    problem_page(state, parts, problem.status, problem.detail).await
}

/// The sign-in page with a problem about single sign-on, under `status`.
async fn problem_page(state: &AppState, parts: &Parts, status: StatusCode, detail: String) -> Response {
    match login_page(state, parts, "/".to_owned(), String::new(), "sso", Some(detail)).await {
        Ok(mut response) => {
            *response.status_mut() = status;
            response
        }
        Err(error) => error.into_response(),
    }
}

async fn finish(
    state: &AppState,
    parts: &Parts,
    signed_in: Result<IssuedSession, ServiceError>,
    https: bool,
    next: String,
    username: String,
    form: &'static str,
) -> Response {
    match signed_in {
        Ok(issued) => {
            let mut response = Redirect::to(&next).into_response();
            append_cookie(&mut response, &set_cookie(SESSION_COOKIE, Some(issued.secret.expose()), https));
            append_cookie(&mut response, &set_cookie(LOGIN_COOKIE, None, https));
            response
        }
        Err(
            error @ (ServiceError::Unauthenticated { .. } | ServiceError::LockedOut { .. } | ServiceError::Busy(_)),
        ) => {
            let problem = ApiError::from(error).into_page_parts();
            let status =
                if problem.status == StatusCode::UNAUTHORIZED { StatusCode::UNAUTHORIZED } else { problem.status };
            let retry_after = problem.retry_after;
            match login_page(state, parts, next, username, form, Some(problem.detail)).await {
                Ok(mut response) => {
                    *response.status_mut() = status;
                    if let Some(seconds) = retry_after {
                        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
                    }
                    response
                }
                Err(error) => error.into_response(),
            }
        }
        Err(error) => UiError::from_service(error, None).into_response(),
    }
}

/// Renders the sign-in page, setting a pre-sign-in cookie when the browser has none.
async fn login_page(
    state: &AppState,
    parts: &Parts,
    next: String,
    username: String,
    problem_form: &'static str,
    problem: Option<String>,
) -> UiResult<Response> {
    let (_, https) = client(parts, state);
    let existing = cookie(&parts.headers, LOGIN_COOKIE).filter(|nonce| is_nonce(nonce));
    let nonce = existing.clone().unwrap_or_else(new_nonce);
    let csrf = state.tollgate.sign_in_form_token(&nonce).await.map_err(|error| UiError::from_service(error, None))?;
    let sso = state.tollgate.sso_configured().await.map_err(|error| UiError::from_service(error, None))?;
    let page = LoginPage { chrome: Chrome::anonymous(), csrf, next, username, problem_form, problem, sso };
    let mut response = render(&page)?.into_response();
    if existing.is_none() {
        append_cookie(&mut response, &set_cookie(LOGIN_COOKIE, Some(&nonce), https));
    }
    Ok(response)
}

/// Checks a sign-in form's token against the browser's pre-sign-in cookie.
async fn check_form_token(state: &AppState, parts: &Parts, token: &str) -> UiResult<()> {
    let refused = || UiError::forbidden_form("the sign-in form token is missing or wrong; reload the sign-in page");
    let nonce = cookie(&parts.headers, LOGIN_COOKIE).filter(|nonce| is_nonce(nonce)).ok_or_else(refused)?;
    let valid = state
        .tollgate
        .check_sign_in_form_token(&nonce, token)
        .await
        .map_err(|error| UiError::from_service(error, None))?;
    if valid {
        Ok(())
    } else {
        Err(refused())
    }
}

fn new_nonce() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn is_nonce(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|byte| byte.is_ascii_hexdigit())
}

fn local_or_root(next: Option<&str>) -> String {
    next.filter(|next| is_local_path(next)).unwrap_or("/").to_owned()
}

fn append_cookie(response: &mut Response, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}
