//! `tollgate demo` as the browser tests' server: the built binary on a free loopback port with a
//! fresh data directory, filled with the demo data, plus a small client of its JSON API (with the
//! admin token) for what a test sets up or checks behind the browser's back.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::Value;

use crate::process::Process;

/// How long the demo may take to record its data (a debug build on a busy machine).
const DEMO_START: Duration = Duration::from_secs(180);

/// A running `tollgate demo`.
pub struct Demo {
    pub process: Process,
    /// The server's address, `http://127.0.0.1:PORT`.
    pub url: String,
    /// The admin's API token.
    pub token: String,
    /// The admin's password for the web UI.
    pub password: String,
    http: reqwest::Client,
}

impl Demo {
    /// Starts the demo in `dir` (its data directory is made under `dir`, which is also its home);
    /// [`StartingDemo::ready`] waits until it serves.
    pub fn spawn(dir: &Path) -> anyhow::Result<StartingDemo> {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tollgate"));
        command
            .args(["demo", "--listen", "127.0.0.1:0", "--no-rollouts"])
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", dir)
            .env("TMPDIR", dir);
        Ok(StartingDemo { process: Process::spawn(command)? })
    }

    /// `GET /api/v1{path}` as the admin; fails unless the answer is a success.
    pub async fn api_get(&self, path: &str) -> anyhow::Result<Value> {
        let request = self.http.get(format!("{}/api/v1{path}", self.url)).bearer_auth(&self.token);
        answer(request, &format!("GET {path}")).await
    }

    /// `POST /api/v1{path}` with a JSON body as the admin; fails unless the answer is a success.
    pub async fn api_post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.api_post_as(&self.token, path, body).await
    }

    /// `POST /api/v1{path}` with a JSON body as the holder of `token`; fails unless the answer is
    /// a success.
    pub async fn api_post_as(&self, token: &str, path: &str, body: &Value) -> anyhow::Result<Value> {
        let request = self.http.post(format!("{}/api/v1{path}", self.url)).bearer_auth(token).json(body);
        answer(request, &format!("POST {path}")).await
    }

    /// A new API token of the demo's user `user`, issued by the admin.
    pub async fn token_of(&self, user: &str) -> anyhow::Result<String> {
        let issued =
            self.api_post("/tokens", &serde_json::json!({ "user": user, "description": "browser test" })).await?;
        issued["secret"].as_str().map(str::to_owned).context("an issued token has a secret")
    }

    /// `POST /api/v1{path}` with a JSON body as the admin: the status and the body, whatever the
    /// status (a refusal's problem document).
    pub async fn api_post_any(&self, path: &str, body: &Value) -> anyhow::Result<(reqwest::StatusCode, Value)> {
        self.api_post_any_as(&self.token, path, body).await
    }

    /// `POST /api/v1{path}` with a JSON body as the holder of `token`: the status and the body,
    /// whatever the status.
    pub async fn api_post_any_as(
        &self,
        token: &str,
        path: &str,
        body: &Value,
    ) -> anyhow::Result<(reqwest::StatusCode, Value)> {
        let request = self.http.post(format!("{}/api/v1{path}", self.url)).bearer_auth(token).json(body);
        let response = request.send().await.with_context(|| format!("sending POST {path}"))?;
        let status = response.status();
        let body = response.text().await.with_context(|| format!("reading the answer to POST {path}"))?;
        let body =
            serde_json::from_str(&body).with_context(|| format!("the answer to POST {path} is not JSON: {body}"))?;
        Ok((status, body))
    }

    /// An HTTP client that follows no redirects, to look at answers as the server gives them.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }
}

/// The demo process before it serves.
pub struct StartingDemo {
    process: Process,
}

impl StartingDemo {
    /// Waits until the demo has recorded its data and serves.
    pub fn ready(self) -> anyhow::Result<Demo> {
        let mut process = self.process;
        let url = process
            .wait_for_line(DEMO_START, |line| line.strip_prefix("Tollgate is running at ").map(str::to_owned))?;
        // "web UI: http://127.0.0.1:PORT/login  (user admin, password PASSWORD)"
        let password = process.wait_for_line(Duration::from_secs(10), |line| {
            let (_, password) = line.strip_prefix("web UI: ")?.rsplit_once("password ")?;
            Some(password.trim_end_matches(')').to_owned())
        })?;
        let token = process.wait_for_line(Duration::from_secs(10), |line| {
            line.strip_prefix("token: ").map(|token| token.trim().to_owned())
        })?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("building an HTTP client")?;
        Ok(Demo { process, url, token, password, http })
    }
}

async fn answer(request: reqwest::RequestBuilder, what: &str) -> anyhow::Result<Value> {
    let response = request.send().await.with_context(|| format!("sending {what}"))?;
    let status = response.status();
    let body = response.text().await.with_context(|| format!("reading the answer to {what}"))?;
    anyhow::ensure!(status.is_success(), "{what}: {status}\n{body}");
    serde_json::from_str(&body).with_context(|| format!("the answer to {what} is not JSON: {body}"))
}
