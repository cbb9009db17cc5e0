//! A real OpenID Connect provider for single sign-on tests: `scripts/oidc-provider/provider.mjs`
//! (the `oidc-provider` npm package) run by node on a loopback port, and a browser stand-in that
//! signs in on its login and consent forms.
//!
//! The provider needs `npm ci --prefix scripts/oidc-provider`. Without its `node_modules`, tests
//! skip with a message; in CI (`CI=true`) they fail instead.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context as _};
use reqwest::{StatusCode, Url};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The client the provider knows: its id, secret and callback.
#[derive(Debug, Clone)]
pub struct OidcClient {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
}

impl Default for OidcClient {
    fn default() -> OidcClient {
        OidcClient {
            client_id: "tollgate".to_owned(),
            client_secret: "tollgate-test-secret".to_owned(),
            redirect_uri: "http://127.0.0.1:9/login/sso/callback".to_owned(),
        }
    }
}

/// A running provider. Killed when dropped.
pub struct OidcProvider {
    /// `http://127.0.0.1:<port>`, as the provider names itself.
    pub issuer: String,
    pub client: OidcClient,
    id_token_ttl: Duration,
    child: Child,
}

/// What the provider sent the browser back to the callback with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    pub code: String,
    pub state: String,
}

impl OidcProvider {
    /// Starts the provider for `client`, its ID tokens valid for `id_token_ttl`. `None` (after
    /// saying why on standard error) when node or the provider's `node_modules` is missing
    /// outside CI; panics in CI, where the single sign-on tests are mandatory.
    pub async fn start(client: OidcClient, id_token_ttl: Duration) -> Option<OidcProvider> {
        let directory = provider_directory();
        if !directory.join("node_modules").join("oidc-provider").is_dir() {
            let message =
                format!("the OpenID Connect provider is not installed: run `npm ci --prefix {}`", directory.display());
            if std::env::var("CI").is_ok_and(|ci| ci == "true") {
                panic!("{message}; the single sign-on tests are mandatory in CI");
            }
            eprintln!("skipping: {message}");
            return None;
        }
        let (issuer, child) = spawn(&directory, &client, id_token_ttl, 0).await;
        Some(OidcProvider { issuer, client, id_token_ttl, child })
    }

    /// Stops the provider and starts a new one on the same port: same issuer and client, a
    /// new signing key, nothing remembered (a provider that rotated its keys).
    pub async fn restart(&mut self) {
        self.stop().await;
        let port = Url::parse(&self.issuer).ok().and_then(|url| url.port()).expect("the issuer names its port");
        let (issuer, child) = spawn(&provider_directory(), &self.client, self.id_token_ttl, port).await;
        assert_eq!(issuer, self.issuer, "the restarted provider has the same issuer");
        self.child = child;
    }

    /// Signs in as `login` (any password) the way a browser would: follows the redirects from
    /// `authorization_url` by hand, posts the login form and the consent form, and returns the
    /// code and state the provider sends to the callback. Fails when the provider answers with
    /// an error or something else than its forms and redirects.
    pub async fn sign_in(&self, authorization_url: &str, login: &str) -> anyhow::Result<Callback> {
        let browser = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()?;
        let mut url = Url::parse(authorization_url)?;
        let mut form: Option<Vec<(&str, &str)>> = None;
        for _ in 0..20 {
            if url.as_str().starts_with(&self.client.redirect_uri) {
                return callback(&url);
            }
            let request = match form.take() {
                Some(fields) => browser.post(url.clone()).form(&fields),
                None => browser.get(url.clone()),
            };
            let response = request.send().await.with_context(|| format!("requesting {url}"))?;
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get("location")
                    .and_then(|value| value.to_str().ok())
                    .context("a redirect without a location")?;
                url = url.join(location)?;
                continue;
            }
            let page = response.text().await?;
            if status != StatusCode::OK {
                bail!("{url} answered {status}: {page}");
            }
            let (action, prompt) = form_of(&page).with_context(|| format!("no sign-in form at {url}: {page}"))?;
            url = url.join(&action)?;
            form = Some(match prompt.as_str() {
                "login" => vec![("prompt", "login"), ("login", login), ("password", "any password")],
                "consent" => vec![("prompt", "consent")],
                other => bail!("an unknown prompt {other:?} at {url}"),
            });
        }
        bail!("no callback after 20 steps from {authorization_url}")
    }

    /// Stops the provider and waits until it has ended, for tests of one that cannot be reached.
    pub async fn stop(&mut self) {
        // Ignored: the process may have ended already.
        let _ = self.child.kill().await;
    }
}

/// Runs `provider.mjs` on `port` (0: any free one) and reads the issuer it prints first. A
/// start that prints nothing for 20 seconds (seen rarely on a loaded machine) is killed and
/// tried again, three times in all.
async fn spawn(directory: &Path, client: &OidcClient, id_token_ttl: Duration, port: u16) -> (String, Child) {
    for attempt in 1..=3 {
        let mut child = Command::new("node")
            .arg(directory.join("provider.mjs"))
            .args(["--port", &port.to_string(), "--client-id", &client.client_id])
            .args(["--client-secret", &client.client_secret, "--redirect-uri", &client.redirect_uri])
            .args(["--id-token-ttl", &id_token_ttl.as_secs().to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("node cannot be started for the OpenID Connect provider: {error}"));
        let stdout = child.stdout.take().expect("standard output is piped");
        let mut reader = BufReader::new(stdout);
        let mut first_line = String::new();
        match tokio::time::timeout(Duration::from_secs(20), reader.read_line(&mut first_line)).await {
            Ok(Ok(n)) if n > 0 => {
                // Whatever else it prints goes to the test's standard error; a closed pipe
                // would end it.
                tokio::spawn(async move { tokio::io::copy(&mut reader, &mut tokio::io::stderr()).await });
                return (first_line.trim().to_owned(), child);
            }
            outcome => {
                eprintln!("the OpenID Connect provider printed no issuer (attempt {attempt}): {outcome:?}");
                // Ignored: it may have ended already.
                let _ = child.kill().await;
            }
        }
    }
    panic!("the OpenID Connect provider did not start in three attempts")
}

/// `scripts/oidc-provider` of the repository.
fn provider_directory() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/oidc-provider")
}

/// The code and state of a callback URL; an `error` the provider sent fails.
fn callback(url: &Url) -> anyhow::Result<Callback> {
    let query = |name: &str| url.query_pairs().find(|(key, _)| key == name).map(|(_, value)| value.into_owned());
    if let Some(error) = query("error") {
        bail!("the provider sent the browser back with {error}: {}", query("error_description").unwrap_or_default());
    }
    Ok(Callback {
        code: query("code").context("a callback without a code")?,
        state: query("state").context("a callback without a state")?,
    })
}

/// The `action` of the page's form and the value of its hidden `prompt` field.
fn form_of(page: &str) -> Option<(String, String)> {
    let form = &page[page.find("<form")?..];
    let action = attribute(form, "action")?;
    let prompt_input = &form[form.find("name=\"prompt\"")?..];
    let prompt = attribute(prompt_input, "value")?;
    Some((action.replace("&amp;", "&"), prompt))
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
    let end = start + tag[start..].find('"')?;
    Some(tag[start..end].to_owned())
}
