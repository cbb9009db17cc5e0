//! Browser tests: the built `tollgate demo` driven through its web UI in a real headless Chromium
//! (Debian's `chromium` and `chromium-driver`, through WebDriver), with axe-core checking each
//! page. Screenshots of each page go to `<target dir>/browser-screenshots/<test>/` (or
//! `$TOLLGATE_TEST_SCREENSHOTS/<test>/`). Without Chromium, chromedriver or axe-core a test is
//! skipped with a message, except with `CI=true`, where it fails. A test that fails prints the
//! commands of the demo and of chromedriver with their output.

mod browser;
mod change;
mod checks;
mod demo;
mod deployment;
mod gates;
mod lease;
mod pages;
mod process;
mod release;
mod sign_in;
mod tools;
mod viewer;

use anyhow::Context as _;

use crate::browser::Browser;
use crate::demo::Demo;
use crate::tools::Tools;

/// The cookie that carries a web session.
pub const SESSION_COOKIE: &str = "tollgate_session";

/// One test's world: the demo server, a browser, and the temporary directory both live in.
pub struct Session {
    pub demo: Demo,
    pub browser: Browser,
    // Dropped last: the processes above are gone before their directory is removed.
    _dir: tempfile::TempDir,
}

impl Session {
    /// Starts the demo and a browser for `test`, or `None` when the tools are missing (outside CI).
    pub async fn start(test: &str) -> anyhow::Result<Option<Session>> {
        let Some(tools) = Tools::find(test) else { return Ok(None) };
        let dir = tempfile::Builder::new().prefix("tollgate-browser-").tempdir()?;
        // Chromium starts while the demo records its data.
        let starting_demo = Demo::spawn(dir.path())?;
        let mut browser = Browser::start(&tools, dir.path(), test).await?;
        let demo = starting_demo.ready()?;
        browser.base_url = demo.url.clone();
        Ok(Some(Session { demo, browser, _dir: dir }))
    }

    /// Ends the browser and the demo quietly: the test passed.
    pub async fn finish(mut self) -> anyhow::Result<()> {
        self.demo.process.finish();
        self.browser.close().await
    }

    /// Signs in on `/login` with a user name and password, as a person would (on the sign-in
    /// page already shown, which may carry where to go next).
    pub async fn sign_in_with_password(&self, user: &str, password: &str) -> anyhow::Result<()> {
        self.open_sign_in().await?;
        self.browser.fill("#username", user).await?;
        self.browser.fill("#password", password).await?;
        self.browser.submit("#password-form button[type=submit]").await
    }

    /// Signs in on `/login` by pasting an API token.
    pub async fn sign_in_with_token(&self, token: &str) -> anyhow::Result<()> {
        self.open_sign_in().await?;
        self.browser.fill("#token", token).await?;
        self.browser.submit("#token-form button[type=submit]").await
    }

    async fn open_sign_in(&self) -> anyhow::Result<()> {
        if self.browser.path().await?.starts_with("/login") {
            return Ok(());
        }
        self.browser.goto("/login").await
    }

    /// Signs out with the button in the page header.
    pub async fn sign_out(&self) -> anyhow::Result<()> {
        self.browser.submit("#logout button[type=submit]").await
    }

    /// The browser's session cookie and the session's form token (from the sign-out form).
    pub async fn credentials(&self) -> anyhow::Result<(String, String)> {
        let cookie = self.browser.cookie(SESSION_COOKIE).await?.context("the browser holds no session cookie")?;
        let csrf = self.browser.attribute("#logout input[name=csrf]", "value").await?;
        Ok((cookie, csrf))
    }

    /// `GET path` outside the browser with only the session cookie `cookie`: the status and
    /// where a redirect points.
    pub async fn get_with_cookie(
        &self,
        path: &str,
        cookie: &str,
    ) -> anyhow::Result<(reqwest::StatusCode, Option<String>)> {
        let response = self
            .demo
            .http()
            .get(format!("{}{path}", self.demo.url))
            .header(reqwest::header::COOKIE, format!("{SESSION_COOKIE}={cookie}"))
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|location| location.to_str().ok())
            .map(str::to_owned);
        Ok((response.status(), location))
    }

    /// `POST path` outside the browser, a form with the session cookie `cookie`: the status.
    pub async fn post_form_with_cookie(
        &self,
        path: &str,
        cookie: &str,
        form: &[(&str, &str)],
    ) -> anyhow::Result<reqwest::StatusCode> {
        let response = self
            .demo
            .http()
            .post(format!("{}{path}", self.demo.url))
            .header(reqwest::header::COOKIE, format!("{SESSION_COOKIE}={cookie}"))
            .form(form)
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        Ok(response.status())
    }
}
