//! A child process the tests start (`tollgate demo`, chromedriver): its output is collected while
//! it runs, it is killed with its process group when dropped, and a test that did not finish
//! prints its command, stdout and stderr.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;

/// A running child process in a process group of its own. Its output is printed when it is
/// dropped before [`Process::finish`], so errors about it need not repeat it.
pub struct Process {
    child: Child,
    description: String,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    lines: mpsc::Receiver<String>,
    finished: bool,
}

impl Process {
    /// Starts `command` with piped output. Its process group lets drop end what it started too
    /// (chromedriver's Chromium).
    pub fn spawn(mut command: Command) -> anyhow::Result<Process> {
        let description = format!("{command:?}");
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {description}"))?;
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (sender, lines) = mpsc::channel();
        // The readers are not joined: a grandchild may hold a pipe open after the child is gone.
        collect(child.stdout.take().expect("stdout is piped"), Arc::clone(&stdout), Some(sender));
        collect(child.stderr.take().expect("stderr is piped"), Arc::clone(&stderr), None);
        Ok(Process { child, description, stdout, stderr, lines, finished: false })
    }

    /// Waits for the next stdout line for which `pick` gives a value, within `timeout`.
    pub fn wait_for_line<T>(&mut self, timeout: Duration, pick: impl Fn(&str) -> Option<T>) -> anyhow::Result<T> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = match self.lines.recv_timeout(left) {
                Ok(line) => line,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    anyhow::bail!("no expected line within {timeout:?} from {}", self.description)
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().context("waiting for the process")?;
                    anyhow::bail!("{} ended ({status}) before the expected line", self.description)
                }
            };
            if let Some(value) = pick(&line) {
                return Ok(value);
            }
        }
    }

    /// The whole stdout so far.
    fn stdout(&self) -> String {
        self.stdout.lock().expect("a reader never panics holding the lock").clone()
    }

    /// The command, its stdout and its stderr, for a failure message.
    fn report(&self) -> String {
        let stderr = self.stderr.lock().expect("a reader never panics holding the lock").clone();
        format!("command: {}\n--- stdout\n{}\n--- stderr\n{stderr}", self.description, self.stdout())
    }

    /// Marks the test as finished: dropping the process prints nothing.
    pub fn finish(&mut self) {
        self.finished = true;
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // The group id is the child's id (`process_group(0)`): this ends the child and whatever it
        // started, and nothing else.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.finished || std::thread::panicking() {
            eprintln!("\n=== a test did not finish; this process was part of it\n{}", self.report());
        }
    }
}

/// Copies `source` into `buffer` line by line on a thread, sending each line on `lines` too.
fn collect(source: impl Read + Send + 'static, buffer: Arc<Mutex<String>>, lines: Option<mpsc::Sender<String>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(source).lines() {
            let Ok(line) = line else { break };
            if let Ok(mut buffer) = buffer.lock() {
                buffer.push_str(&line);
                buffer.push('\n');
            }
            if let Some(lines) = &lines {
                let _ = lines.send(line);
            }
        }
    });
}
