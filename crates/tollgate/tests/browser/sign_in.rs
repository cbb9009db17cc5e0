//! Signing in (with a password, with a pasted token, with a wrong password) and signing out.

use crate::{Session, SESSION_COOKIE};

#[tokio::test]
async fn a_password_or_a_pasted_token_signs_in_and_a_wrong_password_shows_an_error_and_opens_no_session(
) -> anyhow::Result<()> {
    let Some(session) = Session::start("sign_in").await? else { return Ok(()) };
    let browser = &session.browser;

    // A page asked for without a session leads to the sign-in page.
    browser.goto("/releases").await?;
    anyhow::ensure!(browser.path().await?.starts_with("/login"), "not sent to sign in: {}", browser.path().await?);
    browser.check_page("login").await?;

    session.sign_in_with_password("admin", "not the password of admin").await?;
    let problem = browser.text_of("#password-problem").await?;
    anyhow::ensure!(!problem.is_empty(), "a wrong password shows no problem");
    anyhow::ensure!(browser.path().await?.starts_with("/login"), "a wrong password left the sign-in page");
    anyhow::ensure!(browser.cookie(SESSION_COOKIE).await?.is_none(), "a wrong password opened a session");
    browser.check_page("login-refused").await?;

    session.sign_in_with_password("admin", &session.demo.password).await?;
    anyhow::ensure!(browser.path().await? == "/releases", "signing in did not lead back: {}", browser.path().await?);
    anyhow::ensure!(browser.text_of("#logout .who").await? == "admin", "the header does not name admin");
    let (password_cookie, _) = session.credentials().await?;

    session.sign_out().await?;
    anyhow::ensure!(browser.path().await?.starts_with("/login"), "signing out did not lead to sign in");
    session.sign_in_with_token(&session.demo.token).await?;
    anyhow::ensure!(browser.path().await? == "/", "signing in with a token did not open the dashboard");
    anyhow::ensure!(browser.text_of("#logout .who").await? == "admin", "the token's user is not named");
    let (token_cookie, _) = session.credentials().await?;
    anyhow::ensure!(token_cookie != password_cookie, "the token's session reuses the password's cookie");
    browser.check_page("dashboard-after-token").await?;
    session.finish().await
}

#[tokio::test]
async fn signing_out_ends_the_session_and_a_cookie_and_a_token_do_not_stand_in_for_each_other() -> anyhow::Result<()> {
    let Some(session) = Session::start("sign_out").await? else { return Ok(()) };
    session.sign_in_with_password("admin", &session.demo.password).await?;
    let (cookie, _) = session.credentials().await?;
    let (status, _) = session.get_with_cookie("/releases", &cookie).await?;
    anyhow::ensure!(status == reqwest::StatusCode::OK, "the session cookie opens no page before sign-out: {status}");
    // A session cookie is no API credential, and an API token opens no page.
    let http = session.demo.http();
    let api = http.get(format!("{}/api/v1/releases", session.demo.url)).bearer_auth(&cookie).send().await?;
    anyhow::ensure!(api.status() == reqwest::StatusCode::UNAUTHORIZED, "the cookie as a token: {}", api.status());
    let page = http.get(format!("{}/releases", session.demo.url)).bearer_auth(&session.demo.token).send().await?;
    anyhow::ensure!(page.status().is_redirection(), "a bearer token opened a page: {}", page.status());

    session.sign_out().await?;
    let browser = &session.browser;
    anyhow::ensure!(browser.path().await?.starts_with("/login"), "signing out did not lead to sign in");
    anyhow::ensure!(browser.cookie(SESSION_COOKIE).await?.is_none(), "the browser kept the session cookie");

    let (status, location) = session.get_with_cookie("/releases", &cookie).await?;
    anyhow::ensure!(status.is_redirection(), "the old session cookie still opens a page: {status}");
    let location = location.unwrap_or_default();
    anyhow::ensure!(location.starts_with("/login"), "the old cookie is sent to {location}, not to sign in");
    session.finish().await
}
