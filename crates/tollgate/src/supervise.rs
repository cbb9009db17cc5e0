//! `tollgate supervise-step`: the process between a deployment worker and a step's program, so
//! the program never outlives its worker's claim.
//!
//! The worker sends a heartbeat (one byte on standard input) while its claim is fresh. The
//! program runs in its own process group; when the heartbeats stop for longer than the deadline
//! (the worker was stopped, or its claim could not be renewed) or standard input ends (the worker
//! died, was killed with -9, or dropped the step), the whole group is killed. The deadline is
//! shorter than the claim, so a step is never running when another worker takes its run over.
//! Standard output and error are the program's own (inherited), so the worker reads them as
//! before; the exit status is the program's, or 137 when it was killed.

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::args::SuperviseArgs;

/// How often the program's end is checked between heartbeats.
const POLL: Duration = Duration::from_millis(50);

pub fn run(args: SuperviseArgs) -> ExitCode {
    let deadline = Duration::from_millis(args.deadline_ms);
    let Some((program, program_args)) = args.command.split_first() else {
        eprintln!("supervise-step: no program given");
        return ExitCode::from(2);
    };
    let mut child = match Command::new(program).args(program_args).stdin(Stdio::null()).process_group(0).spawn() {
        Ok(child) => child,
        Err(error) => {
            eprintln!("{program} could not be started: {error}");
            return ExitCode::from(127);
        }
    };
    let (beats, heard) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut byte = [0u8; 1];
        while let Ok(1) = stdin.read(&mut byte) {
            if beats.send(()).is_err() {
                return;
            }
        }
        // End of input: the sender is dropped, which the loop below sees as disconnected.
    });
    let mut last_beat = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let code = status.code().or_else(|| status.signal().map(|signal| 128 + signal)).unwrap_or(1);
                return ExitCode::from(u8::try_from(code).unwrap_or(1));
            }
            Ok(None) => {}
            Err(error) => {
                eprintln!("{program} could not be waited for: {error}");
                kill_group(child.id());
                return ExitCode::from(1);
            }
        }
        match heard.recv_timeout(POLL) {
            Ok(()) => last_beat = Instant::now(),
            Err(RecvTimeoutError::Timeout) if last_beat.elapsed() < deadline => {}
            Err(RecvTimeoutError::Timeout) => {
                eprintln!("[tollgate] no heartbeat from the worker for {} ms: the step is stopped", args.deadline_ms);
                kill_group(child.id());
                let _ = child.wait();
                return ExitCode::from(137);
            }
            Err(RecvTimeoutError::Disconnected) => {
                kill_group(child.id());
                let _ = child.wait();
                return ExitCode::from(137);
            }
        }
    }
}

/// Kills the program's process group (its id is the program's pid), children included. The
/// system's `kill` does it, since signalling a group needs no more than that.
fn kill_group(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}
