//! End-to-end tests: the built `tollgate` binary, run in a temporary directory with a clean
//! environment. A failure prints the command, its directory, exit code, stdout and stderr.

mod calendar;
mod cli;
mod demo;
mod deploy;
mod keys;
mod rollout;
mod tamper;
mod tidy;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The binary under test, with a clean environment, run in `dir`.
pub fn tollgate(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("TMPDIR", dir);
    command
}

/// What a finished command did, for assertions and failure messages.
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    description: String,
}

impl Ran {
    pub fn success(self) -> Ran {
        assert_eq!(self.code, Some(0), "expected success\n{}", self.description);
        self
    }

    pub fn failure(self) -> Ran {
        assert_ne!(self.code, Some(0), "expected failure\n{}", self.description);
        self
    }
}

/// Runs `command` to completion.
pub fn run(command: &mut Command) -> Ran {
    let output: Output = command.output().expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let description = format!(
        "command: {:?}\ncwd: {:?}\nexit: {:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        command,
        command.get_current_dir(),
        output.status.code()
    );
    Ran { code: output.status.code(), stdout, stderr, description }
}

/// A `tollgate serve` process on a random loopback port. Stopped with SIGTERM on drop.
pub struct Server {
    child: Child,
    pub url: String,
    pub token: String,
    pub data_dir: PathBuf,
    pub dir: PathBuf,
}

impl Server {
    pub fn start(dir: &Path) -> Server {
        Server::start_with(dir, &[])
    }

    /// A server with extra `serve` flags.
    pub fn start_with(dir: &Path, flags: &[&str]) -> Server {
        let (child, url, mut lines) = Server::spawn(dir, flags);
        let mut next = || lines.next().expect("the server prints its token").expect("stdout is text");
        assert!(next().starts_with("created user admin"), "the second line announces the token");
        let token = next();
        // The rest (the web UI password) is drained, so the pipe stays open while the server runs.
        std::thread::spawn(move || lines.for_each(drop));
        Server { child, url, token, data_dir: dir.join("data"), dir: dir.to_owned() }
    }

    /// Starts `tollgate serve` in `dir` and reads the address it prints first.
    fn spawn(dir: &Path, flags: &[&str]) -> (Child, String, std::io::Lines<BufReader<std::process::ChildStdout>>) {
        let mut child = tollgate(dir)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.join("data"))
            .args(["--checkpoint-interval", "5"])
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the server starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
        let first = lines.next().expect("the server prints its address").expect("stdout is text");
        let url = first.strip_prefix("tollgate listening on ").expect("the first line is the address").to_owned();
        (child, url, lines)
    }

    /// Starts a server again on the data of one that ran before (it prints no new admin).
    pub fn restart(dir: &Path, token: &str, flags: &[&str]) -> Server {
        let (child, url, lines) = Server::spawn(dir, flags);
        std::thread::spawn(move || lines.for_each(drop));
        Server { child, url, token: token.to_owned(), data_dir: dir.join("data"), dir: dir.to_owned() }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`STOP`, `CONT`) to the server.
    pub fn signal(&self, signal: &str) {
        let status =
            Command::new("kill").args([format!("-{signal}"), self.child.id().to_string()]).status().expect("kill runs");
        assert!(status.success());
    }

    /// Kills the server with SIGKILL, as a crash would, and reaps it.
    pub fn kill(&mut self) {
        let status = Command::new("kill").args(["-KILL", &self.child.id().to_string()]).status().expect("kill runs");
        assert!(status.success());
        let _ = self.child.wait();
    }

    /// A command of the binary against this server.
    pub fn cli(&self) -> Command {
        let mut command = tollgate(&self.dir);
        command.env("TOLLGATE_SERVER", &self.url).env("TOLLGATE_TOKEN", &self.token);
        command
    }

    /// Sends SIGTERM and waits: the server signs a final checkpoint and exits cleanly.
    pub fn stop(&mut self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill runs");
        assert!(status.success());
        let exit = self.child.wait().expect("the server exits");
        assert!(exit.success(), "the server exits cleanly on SIGTERM: {exit:?}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
