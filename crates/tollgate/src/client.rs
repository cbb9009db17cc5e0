//! A small client of the REST API, for the CLI. It writes the API's `*Request` types, reads its
//! `*Response` types, and turns problem documents into errors that say what went wrong, field by
//! field.

use std::fmt;

use anyhow::Context;
use reqwest::{Method, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tollgate_http::error::Problem;

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

/// A successful answer: the response type it decodes to, and the JSON it was decoded from.
///
/// `--output json` prints `json`, so it shows exactly what the server sent: a field this build
/// does not know, or a null the type would spell differently, is not lost.
#[derive(Debug)]
pub struct Answer<T> {
    pub value: T,
    pub json: Value,
}

/// A problem the server answered with.
#[derive(Debug)]
pub struct ApiProblem {
    pub problem: Problem,
}

impl fmt::Display for ApiProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let problem = &self.problem;
        if problem.code.is_empty() {
            write!(f, "status {}", problem.status)?;
        } else {
            write!(f, "{} ({})", problem.code, problem.status)?;
        }
        if problem.errors.len() > 1 {
            f.write_str(":")?;
            for error in &problem.errors {
                if error.field.is_empty() {
                    write!(f, "\n  {}", error.message)?;
                } else {
                    write!(f, "\n  {}: {}", error.field, error.message)?;
                }
            }
            Ok(())
        } else {
            write!(f, ": {}", problem.detail)
        }
    }
}

impl std::error::Error for ApiProblem {}

impl Client {
    pub fn new(base_url: &str, token: Option<String>) -> Client {
        Client { base_url: base_url.trim_end_matches('/').to_owned(), token, http: reqwest::Client::new() }
    }

    /// A request to `/api/v1{path}` carrying the token; add a query or a body, then [`Client::call`] it.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.http.request(method, format!("{}/api/v1{path}", self.base_url));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<Answer<T>> {
        self.call(self.request(Method::GET, path)).await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> anyhow::Result<Answer<T>> {
        self.call(self.request(Method::POST, path).json(body)).await
    }

    /// Sends `content` as the raw body of a POST with a query, as artifacts and evidence are sent.
    pub async fn upload<Q: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        query: &Q,
        content: reqwest::Body,
    ) -> anyhow::Result<Answer<T>> {
        self.call(self.upload_request(path, query, content)).await
    }

    fn upload_request<Q: Serialize>(&self, path: &str, query: &Q, content: reqwest::Body) -> RequestBuilder {
        self.request(Method::POST, path)
            .query(query)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(content)
    }

    /// POSTs a streamed body whose SHA-256 follows it as an RFC 9530 `Content-Digest` trailer,
    /// so the file is read once: hashed as it is sent.
    pub async fn upload_with_trailer<Q: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        query: &Q,
        content: reqwest::Body,
    ) -> anyhow::Result<Answer<T>> {
        let request = self.upload_request(path, query, content).header(reqwest::header::TRAILER, "content-digest");
        self.call(request).await
    }

    /// GETs a stream: the successful response, unread, or the problem as an error.
    pub async fn download(&self, path: &str) -> anyhow::Result<Response> {
        let response = self.send(self.request(Method::GET, path)).await?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(problem(response).await.into())
        }
    }

    /// Sends a request and decodes the answer, or returns the problem as an error.
    pub async fn call<T: DeserializeOwned>(&self, request: RequestBuilder) -> anyhow::Result<Answer<T>> {
        let response = self.send(request).await?;
        if !response.status().is_success() {
            return Err(problem(response).await.into());
        }
        let bytes = response.bytes().await.context("reading the response")?;
        let json = serde_json::from_slice(&bytes).context("the server answered with something other than JSON")?;
        let value =
            serde_json::from_slice(&bytes).context("the server's answer does not fit this version of tollgate")?;
        Ok(Answer { value, json })
    }

    /// Sends a request whose success has no body.
    pub async fn call_no_content(&self, request: RequestBuilder) -> anyhow::Result<()> {
        let response = self.send(request).await?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(problem(response).await.into())
        }
    }

    async fn send(&self, request: RequestBuilder) -> anyhow::Result<Response> {
        request.send().await.with_context(|| format!("cannot reach the Tollgate server at {}", self.base_url))
    }
}

/// The problem document of a failed response; a body that is not one (from a proxy, say) becomes
/// the detail of a problem without a code.
async fn problem(response: Response) -> ApiProblem {
    let status = response.status();
    let bytes = response.bytes().await.unwrap_or_default();
    let problem = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        let title = status.canonical_reason().unwrap_or_default().to_owned();
        let text = String::from_utf8_lossy(&bytes).trim().to_owned();
        Problem {
            problem_type: "about:blank".to_owned(),
            detail: if text.is_empty() { title.clone() } else { text },
            title,
            status: status.as_u16(),
            code: String::new(),
            errors: Vec::new(),
        }
    });
    ApiProblem { problem }
}

/// Percent-encodes a path segment.
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
