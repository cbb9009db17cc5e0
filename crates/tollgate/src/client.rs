//! A small client of the REST API, for the CLI. It speaks JSON and turns problem documents into
//! errors that say what went wrong, field by field.

use std::fmt;

use anyhow::Context;
use reqwest::Method;
use serde_json::Value;

/// A connection to one server with one token.
#[derive(Clone)]
pub struct Client {
    base_url: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl fmt::Debug for Client {
    // Written by hand: never print the token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

/// A problem the server answered with.
#[derive(Debug)]
pub struct ApiProblem {
    pub status: u16,
    pub code: String,
    pub detail: String,
    pub errors: Vec<(String, String)>,
}

impl fmt::Display for ApiProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.errors.len() > 1 {
            write!(f, "{} ({}):", self.code, self.status)?;
            for (field, message) in &self.errors {
                if field.is_empty() {
                    write!(f, "\n  {message}")?;
                } else {
                    write!(f, "\n  {field}: {message}")?;
                }
            }
            Ok(())
        } else {
            write!(f, "{} ({}): {}", self.code, self.status, self.detail)
        }
    }
}

impl std::error::Error for ApiProblem {}

impl Client {
    pub fn new(base_url: &str, token: Option<String>) -> Client {
        Client { base_url: base_url.trim_end_matches('/').to_owned(), token, http: reqwest::Client::new() }
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<Value> {
        self.send(Method::DELETE, path, None).await
    }

    /// Sends a request to `/api/v1{path}` and returns the JSON body, or the problem as an error.
    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        let response = self.request(method, path, body).await?;
        self.read(response).await
    }

    /// Sends a JSON request whose success has no body.
    pub async fn send_no_content(&self, method: Method, path: &str, body: &Value) -> anyhow::Result<()> {
        let response = self.request(method, path, Some(body)).await?;
        if response.status().is_success() {
            return Ok(());
        }
        self.read(response).await.map(drop)
    }

    /// Sends a raw (streamed) body.
    pub async fn request_body(
        &self,
        method: Method,
        path: &str,
        body: reqwest::Body,
    ) -> anyhow::Result<reqwest::Response> {
        let url = format!("{}/api/v1{path}", self.base_url);
        let mut request = self.http.request(method, &url).header("content-type", "application/octet-stream").body(body);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        request.send().await.with_context(|| format!("cannot reach the Tollgate server at {}", self.base_url))
    }

    /// The JSON body of a response, or its problem as an error.
    pub async fn read(&self, response: reqwest::Response) -> anyhow::Result<Value> {
        let status = response.status();
        let bytes = response.bytes().await.context("reading the response")?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).context("the server answered with something other than JSON");
        }
        let problem: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
        Err(ApiProblem {
            status: status.as_u16(),
            code: text(&problem["code"]),
            detail: problem["detail"]
                .as_str()
                .map_or_else(|| String::from_utf8_lossy(&bytes).into_owned(), str::to_owned),
            errors: problem["errors"]
                .as_array()
                .map(|errors| errors.iter().map(|e| (text(&e["field"]), text(&e["message"]))).collect())
                .unwrap_or_default(),
        }
        .into())
    }

    /// Sends a request and returns the raw response, for streams.
    pub async fn request(&self, method: Method, path: &str, body: Option<&Value>) -> anyhow::Result<reqwest::Response> {
        let url = format!("{}/api/v1{path}", self.base_url);
        let mut request = self.http.request(method, &url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.with_context(|| format!("cannot reach the Tollgate server at {}", self.base_url))
    }
}

/// Percent-encodes a path segment or query value.
pub fn encode(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}
