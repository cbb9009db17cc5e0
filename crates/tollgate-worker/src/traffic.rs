//! Traffic providers: applying a traffic shift of a rollout.
//!
//! `nginx` writes the service's upstream block to the file the user's nginx configuration
//! includes, has nginx check the whole configuration (`nginx -t`), and reloads it; a
//! configuration nginx refuses is put back as it was, so a bad shift never reaches a running
//! nginx. `command` runs the user's program with the shift as JSON on its standard input.
//! Both send what the programs print to the step's log.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc::UnboundedSender;
use tollgate_core::rollout::{nginx_upstream, TrafficProvider, TrafficShift};

use crate::step::{Attempt, INHERITED};

/// What a shift is about, for the provider and the step's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShiftOf {
    pub deployment: i64,
    pub environment: String,
    pub service: String,
}

/// Applies `shift` through its provider.
pub async fn apply(shift: &TrafficShift, of: &ShiftOf, lines: &UnboundedSender<String>) -> Attempt {
    let summary = summarize(shift);
    let _ = lines.send(format!("shifting traffic of {}: {summary}", of.service));
    match &shift.provider {
        TrafficProvider::Nginx { upstream, file, prefix, conf, binary } => {
            let comment = format!(
                "written by tollgate: deployment {} of {} to {}; do not edit",
                of.deployment, of.service, of.environment
            );
            let text = nginx_upstream(upstream, shift, &comment);
            let nginx = Nginx { binary, prefix: prefix.as_deref(), conf: conf.as_deref() };
            match nginx.apply(Path::new(file), &text, lines).await {
                Ok(()) => Attempt::new(true, format!("nginx reloaded with {summary}")),
                Err(reason) => Attempt::new(false, reason),
            }
        }
        TrafficProvider::Command { program, args } => {
            let input = json!({
                "deployment": of.deployment,
                "environment": of.environment,
                "service": of.service,
                "servers": shift.servers,
                "shares": shift.shares,
            });
            match run(program, args, Some(input.to_string().into_bytes()), lines).await {
                Ok(()) => Attempt::new(true, format!("{program} applied {summary}")),
                Err(reason) => Attempt::new(false, reason),
            }
        }
    }
}

/// `green 25% (2.0.0), blue 75% (1.0.0)`, or the servers' weights when no group moves.
fn summarize(shift: &TrafficShift) -> String {
    if shift.shares.is_empty() {
        let servers: Vec<String> = shift
            .servers
            .iter()
            .map(|server| match server.weight {
                0 => format!("{} out", server.target),
                _ => format!("{} in", server.target),
            })
            .collect();
        return servers.join(", ");
    }
    let shares: Vec<String> = shift
        .shares
        .iter()
        .map(|share| match &share.version {
            Some(version) => format!("{} {}% ({version})", share.group, share.weight),
            None => format!("{} {}%", share.group, share.weight),
        })
        .collect();
    shares.join(", ")
}

struct Nginx<'a> {
    binary: &'a str,
    prefix: Option<&'a str>,
    conf: Option<&'a str>,
}

impl Nginx<'_> {
    /// Writes `text` to `file`, checks the configuration and reloads; puts the file back as it
    /// was when the check or the reload fails.
    async fn apply(&self, file: &Path, text: &str, lines: &UnboundedSender<String>) -> Result<(), String> {
        let previous = match tokio::fs::read(file).await {
            Ok(previous) => Some(previous),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => return Err(format!("{} could not be read: {error}", file.display())),
        };
        write_atomically(file, text.as_bytes()).await?;
        let checked = run(self.binary, &self.args(&["-t"]), None, lines).await;
        let reloaded = match checked {
            Ok(()) => run(self.binary, &self.args(&["-s", "reload"]), None, lines).await,
            Err(reason) => Err(format!("nginx -t refused the new upstream ({reason}); the previous one is kept")),
        };
        if let Err(reason) = reloaded {
            let restored = match &previous {
                Some(previous) => write_atomically(file, previous).await,
                None => tokio::fs::remove_file(file).await.map_err(|error| error.to_string()),
            };
            return Err(match restored {
                Ok(()) => reason,
                Err(error) => format!("{reason}; putting {} back failed too: {error}", file.display()),
            });
        }
        Ok(())
    }

    /// nginx's arguments: its prefix and configuration when given, errors to standard error
    /// (rather than a log file an unprivileged nginx may not open), then `extra`.
    fn args(&self, extra: &[&str]) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(prefix) = self.prefix {
            args.extend(["-p".to_owned(), prefix.to_owned()]);
        }
        if let Some(conf) = self.conf {
            args.extend(["-c".to_owned(), conf.to_owned()]);
        }
        args.extend(["-e".to_owned(), "stderr".to_owned()]);
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        args
    }
}

/// Replaces `file` with `bytes` so that a reader sees the old or the new content, never half.
async fn write_atomically(file: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut temporary = PathBuf::from(file);
    temporary.as_mut_os_string().push(".tollgate-new");
    tokio::fs::write(&temporary, bytes)
        .await
        .map_err(|error| format!("{} could not be written: {error}", temporary.display()))?;
    tokio::fs::rename(&temporary, file)
        .await
        .map_err(|error| format!("{} could not be replaced: {error}", file.display()))
}

/// Runs `program` to its end (at most a minute), sending its output to `lines`; `Err` with the
/// reason unless it exits with status 0.
async fn run(
    program: &str,
    args: &[String],
    stdin: Option<Vec<u8>>,
    lines: &UnboundedSender<String>,
) -> Result<(), String> {
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .env_clear()
        .envs(INHERITED.iter().filter_map(|name| std::env::var(name).ok().map(|value| (*name, value))))
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|error| format!("{program} could not be started: {error}"))?;
    if let (Some(mut pipe), Some(input)) = (child.stdin.take(), stdin) {
        // A program that does not read its input is not an error: it may not need it.
        let _ = pipe.write_all(&input).await;
        drop(pipe);
    }
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let (status, out, err) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(child.wait(), read_all(stdout), read_all(stderr))
    })
    .await
    .map_err(|_| format!("{program} did not end within a minute"))?;
    let mut last = String::new();
    for text in [out, err] {
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            let _ = lines.send(line.to_owned());
            last = line.to_owned();
        }
    }
    match status {
        Ok(status) if status.success() => Ok(()),
        Ok(status) if last.is_empty() => Err(format!("{program} ended with {status}")),
        Ok(status) => Err(format!("{program} ended with {status}: {last}")),
        Err(error) => Err(format!("{program} could not be waited for: {error}")),
    }
}

async fn read_all(reader: Option<impl AsyncRead + Unpin>) -> String {
    let mut text = Vec::new();
    if let Some(mut reader) = reader {
        let _ = reader.read_to_end(&mut text).await;
    }
    String::from_utf8_lossy(&text).into_owned()
}
