//! The web UI: server-rendered HTML pages at `/`, from askama templates compiled into the
//! binary (`templates/`), progressively enhanced with htmx (vendored in `assets/`, served with
//! a content hash in its URL). Every page reads with JavaScript off.
//!
//! A page is one handler (in the module of its domain noun), one template, one view model
//! (`*Page`) and a browser test. Handlers see a [`WebUser`] (the session's principal) and call
//! the same service use case as the API, with the same authorization and audit entry; a form
//! post goes through [`CsrfForm`], which checks the session's form token before the handler
//! runs. A refusal renders the API's problem text next to the action that caused it.
//!
//! This module holds no business rules: what a user may do is what the service allows.

mod artifacts;
mod assets;
mod audit;
mod calendar;
mod catalog;
mod changes;
mod dashboard;
mod deployments;
mod error;
mod format;
mod headers;
mod login;
mod policy;
mod register;
mod releases;
mod session;

use axum::routing::{get, post};
use axum::Router;

use crate::AppState;

pub(crate) use crate::ui::error::{UiError, UiResult};
pub(crate) use crate::ui::headers::security_headers;
pub(crate) use crate::ui::session::{Chrome, CsrfForm, WebUser};

/// The routes of the web UI.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(dashboard::page))
        .route("/fragments/dashboard", get(dashboard::fragment))
        .route("/releases", get(releases::list))
        .route("/releases/{version}", get(releases::detail))
        .route("/releases/{version}/transitions", post(releases::transition))
        .route("/releases/{version}/gates/override", post(releases::override_gates))
        .route("/fragments/releases/{version}", get(releases::fragment))
        .route("/artifacts", get(artifacts::list))
        .route("/artifacts/{id}", get(artifacts::detail))
        .route("/audit", get(audit::page))
        .route("/audit/verify", post(audit::verify))
        .route("/catalog", get(catalog::page))
        .route("/policy", get(policy::page))
        .route("/register", get(register::page))
        .route("/calendar", get(calendar::page))
        .route("/changes", get(changes::list))
        .route("/changes/agenda", get(changes::agenda))
        .route("/changes/{id}", get(changes::detail))
        .route("/changes/{id}/actions", post(changes::act))
        .route("/register/{environment}", get(register::history))
        .route("/register/{environment}/quarantine/lift", post(register::lift_quarantine))
        .route("/register/{environment}/rollback", post(register::roll_back))
        .route("/deployments/{id}", get(deployments::detail))
        .route("/deployments/{id}/decision", post(deployments::decide))
        .route("/fragments/deployments/{id}", get(deployments::fragment))
        .route("/login", get(login::page).post(login::with_password))
        .route("/login/token", post(login::with_token))
        .route("/login/sso", get(login::sso_begin))
        .route("/login/sso/callback", get(login::sso_callback))
        .route("/logout", post(login::sign_out))
        .route("/assets/{file}", get(assets::serve))
}

/// What answers a path nothing else serves: the API's problem document under `/api/`, the
/// "not found" page everywhere else.
pub(crate) async fn fallback(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
) -> axum::response::Response {
    use axum::extract::FromRequestParts;
    use axum::response::IntoResponse;
    let (mut parts, _) = request.into_parts();
    let path = parts.uri.path().to_owned();
    if path.starts_with("/api/") {
        return crate::api::not_found().await.into_response();
    }
    // A signed-in reader keeps the navigation on the 404 page.
    let chrome = WebUser::from_request_parts(&mut parts, &state).await.ok().map(|user| user.chrome(""));
    UiError::not_found(chrome, &format!("there is no page at {path}")).into_response()
}

/// Renders a template into a response, or the 500 page when it fails to render.
pub(crate) fn render(template: &impl askama::Template) -> UiResult<axum::response::Html<String>> {
    template.render().map(axum::response::Html).map_err(|error| UiError::internal(&error))
}
