//! One attempt at a rendered step: a process, a request, probes or a pause. Each attempt sends
//! what it prints (or observes) line by line to the engine, which redacts and stores it, and
//! ends with an outcome. Dropping an attempt stops it: a process it started is killed.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use crate::template::{Rendered, RenderedProbe};

/// The longest line kept from a step's output, in bytes; the rest of a longer line is cut.
pub const MAX_LINE_LEN: usize = 4096;
/// The most of an HTTP answer's body read to compare with `expect_body`.
const MAX_BODY_LEN: usize = 64 * 1024;

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub succeeded: bool,
    pub outcome: String,
}

impl Attempt {
    pub(crate) fn new(succeeded: bool, outcome: impl Into<String>) -> Attempt {
        Attempt { succeeded, outcome: outcome.into() }
    }
}

/// What every process a step starts is given from the server's environment; nothing else of it
/// (least of all the server's own secrets) reaches a step unless the plan passes it.
pub(crate) const INHERITED: &[&str] = &["PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ"];

/// How an `exec` step's program is tied to its worker: through `tollgate supervise-step`,
/// which kills it when the worker's heartbeats stop for `deadline`.
#[derive(Debug, Clone)]
pub struct Supervisor {
    /// The `tollgate` binary.
    pub program: std::path::PathBuf,
    pub deadline: Duration,
}

/// Runs one attempt of `step` for at most `timeout`, sending output lines to `lines`. With a
/// supervisor, each message on `heartbeats` is passed on to it.
pub async fn attempt(
    step: &Rendered,
    of: &crate::traffic::ShiftOf,
    base_env: &[(String, String)],
    timeout: Duration,
    http: &reqwest::Client,
    lines: UnboundedSender<String>,
    supervision: Option<(&Supervisor, UnboundedReceiver<()>)>,
) -> Attempt {
    let attempt = async {
        match step {
            Rendered::Exec { program, args, env, working_dir } => {
                exec(program, args, base_env, env, working_dir.as_deref(), lines, supervision).await
            }
            Rendered::Http { method, url, body, expect_status, expect_body } => {
                request(http, method, url, body.as_deref(), *expect_status, expect_body.as_deref(), &lines).await
            }
            Rendered::Health { probe, interval, successes, failures } => {
                health(http, probe, *interval, *successes, *failures, &lines).await
            }
            Rendered::Wait { duration } => {
                tokio::time::sleep(*duration).await;
                Attempt::new(true, format!("waited {}", humanize(*duration)))
            }
            // The service never hands a worker a manual step: a person judges it. A worker that
            // got one anyway fails it rather than deciding for that person.
            Rendered::Manual => Attempt::new(false, "a manual step is judged by a person, not run".to_owned()),
            Rendered::Traffic(shift) => crate::traffic::apply(shift, of, &lines).await,
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(attempt) => attempt,
        Err(_) => Attempt::new(false, format!("timed out after {}", humanize(timeout))),
    }
}

async fn exec(
    program: &str,
    args: &[String],
    base_env: &[(String, String)],
    env: &std::collections::BTreeMap<String, String>,
    working_dir: Option<&str>,
    lines: UnboundedSender<String>,
    supervision: Option<(&Supervisor, UnboundedReceiver<()>)>,
) -> Attempt {
    let (mut command, heartbeats) = match supervision {
        Some((supervisor, heartbeats)) => {
            let mut command = tokio::process::Command::new(&supervisor.program);
            command
                .arg("supervise-step")
                .arg(format!("--deadline-ms={}", supervisor.deadline.as_millis()))
                .arg("--")
                .arg(program)
                .stdin(Stdio::piped());
            (command, Some(heartbeats))
        }
        None => {
            let mut command = tokio::process::Command::new(program);
            // Unsupervised, dropping the attempt kills the program itself (not its children).
            command.stdin(Stdio::null()).kill_on_drop(true);
            (command, None)
        }
    };
    command
        .args(args)
        .env_clear()
        .envs(INHERITED.iter().filter_map(|name| std::env::var(name).ok().map(|value| (*name, value))))
        .envs(base_env.iter().map(|(name, value)| (name.as_str(), value.as_str())))
        .envs(env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(dir) = working_dir {
        command.current_dir(dir);
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) => return Attempt::new(false, format!("{program} could not be started: {error}")),
    };
    // The supervisor's standard input carries the heartbeats; when this attempt is dropped
    // (timeout, lost claim) the pipe closes and the supervisor kills the program's group.
    let _heartbeat = match (child.stdin.take(), heartbeats) {
        (Some(stdin), Some(heartbeats)) => Some(AbortOnDrop(tokio::spawn(forward_heartbeats(stdin, heartbeats)))),
        _ => None,
    };
    let stdout = child.stdout.take().map(|out| tokio::spawn(forward_lines(out, lines.clone())));
    let stderr = child.stderr.take().map(|err| tokio::spawn(forward_lines(err, lines)));
    let status = child.wait().await;
    // The output is read to its end before the outcome, so the last lines come before it; a
    // program that left a process behind holding its output (a daemon it started) is not waited
    // for beyond a second.
    for reader in [stdout, stderr].into_iter().flatten() {
        let _ = tokio::time::timeout(Duration::from_secs(1), reader).await;
    }
    match status {
        Ok(status) if status.success() => Attempt::new(true, "exit status 0"),
        Ok(status) => match status.code() {
            Some(code) => Attempt::new(false, format!("exit status {code}")),
            None => Attempt::new(false, format!("ended by a signal ({status})")),
        },
        Err(error) => Attempt::new(false, format!("{program} could not be waited for: {error}")),
    }
}

/// A task aborted when its handle is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Writes one byte to the supervisor per heartbeat, until either side ends.
async fn forward_heartbeats(mut stdin: tokio::process::ChildStdin, mut heartbeats: UnboundedReceiver<()>) {
    use tokio::io::AsyncWriteExt;
    while heartbeats.recv().await.is_some() {
        if stdin.write_all(b".").await.is_err() || stdin.flush().await.is_err() {
            return;
        }
    }
}

/// Sends each line read from `reader` (without its newline; over-long lines cut at
/// [`MAX_LINE_LEN`] bytes), until its end.
async fn forward_lines(mut reader: impl AsyncRead + Unpin, lines: UnboundedSender<String>) {
    let mut buffer = [0u8; 8192];
    let mut line: Vec<u8> = Vec::new();
    let mut cut = false;
    loop {
        let n = match reader.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for &byte in &buffer[..n] {
            if byte == b'\n' {
                let _ = lines.send(finish_line(&mut line, cut));
                cut = false;
            } else if line.len() < MAX_LINE_LEN {
                line.push(byte);
            } else {
                cut = true;
            }
        }
    }
    if !line.is_empty() {
        let _ = lines.send(finish_line(&mut line, cut));
    }
}

fn finish_line(line: &mut Vec<u8>, cut: bool) -> String {
    let mut text = String::from_utf8_lossy(line).trim_end_matches('\r').to_owned();
    if cut {
        text.push_str(" [line cut]");
    }
    line.clear();
    text
}

async fn request(
    http: &reqwest::Client,
    method: &str,
    url: &str,
    body: Option<&str>,
    expect_status: u16,
    expect_body: Option<&str>,
    lines: &UnboundedSender<String>,
) -> Attempt {
    let method = match reqwest::Method::from_bytes(method.as_bytes()) {
        Ok(method) => method,
        Err(_) => return Attempt::new(false, format!("{method} is not an HTTP method")),
    };
    let mut request = http.request(method.clone(), url);
    if let Some(body) = body {
        request = request.body(body.to_owned());
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => return Attempt::new(false, format!("{method} {url} failed: {}", without_url(&error))),
    };
    let status = response.status().as_u16();
    let text = read_body(response).await;
    let _ = lines.send(format!("{method} {url} answered {status}"));
    if status != expect_status {
        return Attempt::new(false, format!("{method} {url} answered {status}, not {expect_status}"));
    }
    match expect_body {
        Some(expected) if !text.contains(expected) => {
            Attempt::new(false, format!("{method} {url} answered {status} without {expected:?} in its body"))
        }
        _ => Attempt::new(true, format!("{method} {url} answered {status}")),
    }
}

async fn health(
    http: &reqwest::Client,
    probe: &RenderedProbe,
    interval: Duration,
    successes: u32,
    failures: u32,
    lines: &UnboundedSender<String>,
) -> Attempt {
    let (mut passed, mut failed, mut n_probes) = (0u32, 0u32, 0u32);
    // A probe waits at most an interval (and at least a second) for its answer.
    let probe_timeout = interval.max(Duration::from_secs(1));
    loop {
        n_probes += 1;
        let result = tokio::time::timeout(probe_timeout, probe_once(http, probe)).await;
        let result = result.unwrap_or_else(|_| Err(format!("no answer within {}", humanize(probe_timeout))));
        match &result {
            Ok(detail) => {
                passed += 1;
                failed = 0;
                let _ = lines.send(format!("probe {n_probes}: healthy ({detail})"));
            }
            Err(reason) => {
                failed += 1;
                passed = 0;
                let _ = lines.send(format!("probe {n_probes}: unhealthy ({reason})"));
            }
        }
        if passed >= successes {
            return Attempt::new(true, format!("{} healthy after {n_probes} probes", describe(probe)));
        }
        if failed >= failures {
            let reason = result.err().unwrap_or_default();
            let outcome = format!("{} unhealthy: {failed} probes in a row failed, the last: {reason}", describe(probe));
            return Attempt::new(false, outcome);
        }
        tokio::time::sleep(interval).await;
    }
}

async fn probe_once(http: &reqwest::Client, probe: &RenderedProbe) -> Result<String, String> {
    match probe {
        RenderedProbe::Http(url) => match http.get(url).send().await {
            Ok(response) if response.status().is_success() => Ok(format!("{}", response.status().as_u16())),
            Ok(response) => Err(format!("answered {}", response.status().as_u16())),
            Err(error) => Err(without_url(&error)),
        },
        RenderedProbe::Tcp(address) => match tokio::net::TcpStream::connect(address.as_str()).await {
            Ok(_) => Ok("connected".to_owned()),
            Err(error) => Err(error.to_string()),
        },
    }
}

fn describe(probe: &RenderedProbe) -> String {
    match probe {
        RenderedProbe::Http(url) => url.clone(),
        RenderedProbe::Tcp(address) => format!("tcp {address}"),
    }
}

async fn read_body(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = MAX_BODY_LEN.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_BODY_LEN {
            break;
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// A request error without the URL reqwest puts in its message (the caller names it once).
fn without_url(error: &reqwest::Error) -> String {
    let mut error = std::error::Error::source(error).map_or_else(|| error.to_string(), |source| source.to_string());
    if error.is_empty() {
        error = "request failed".to_owned();
    }
    error
}

/// `1.5s`, `2m 30s`, `250ms`.
pub fn humanize(duration: Duration) -> String {
    let millis = duration.as_millis();
    match millis {
        0..=999 => format!("{millis}ms"),
        1_000..=59_999 if millis % 1_000 == 0 => format!("{}s", millis / 1_000),
        1_000..=59_999 => format!("{:.1}s", millis as f64 / 1_000.0),
        _ => {
            let seconds = millis / 1_000;
            match seconds % 60 {
                0 => format!("{}m", seconds / 60),
                rest => format!("{}m {rest}s", seconds / 60),
            }
        }
    }
}
