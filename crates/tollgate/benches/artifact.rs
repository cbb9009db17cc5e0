//! Push and pull of a 1 GiB artifact through the real binaries (server and CLI, on loopback),
//! against `openssl dgst -sha256` plus `cp` of the same file in the same run (the target), with
//! `sha256sum` plus `cp`, the copy plus an fsync, and one in-process SHA-256 pass as references
//! that show where the time goes; and the server's peak resident memory during the upload
//! (VmHWM from /proc).
//!
//! Run with `cargo bench -p tollgate --bench artifact`. Medians of 3 runs.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};

const SIZE: u64 = 1024 * 1024 * 1024;
const RUNS: usize = 3;

fn main() -> anyhow::Result<()> {
    let binary = env!("CARGO_BIN_EXE_tollgate");
    let dir = tempfile::tempdir().context("a temporary directory")?;
    let file = dir.path().join("artifact.bin");
    write_file(&file)?;
    println!("artifact bench: {} MiB file, {RUNS} runs each, median reported", SIZE / 1024 / 1024);

    let hash_and_copy = |hasher: &[&str]| {
        median(RUNS, |run| {
            let copy = dir.path().join(format!("copy-{run}.bin"));
            let started = Instant::now();
            run_ok(Command::new(hasher[0]).args(&hasher[1..]).arg(&file))?;
            run_ok(Command::new("cp").arg(&file).arg(&copy))?;
            let elapsed = started.elapsed();
            std::fs::remove_file(&copy)?;
            Ok(elapsed)
        })
    };
    let baseline = hash_and_copy(&["openssl", "dgst", "-sha256"])?;
    let sha256sum = hash_and_copy(&["sha256sum"])?;
    let copy_fsync = median(RUNS, |run| {
        let copy = dir.path().join(format!("synced-{run}.bin"));
        let started = Instant::now();
        run_ok(Command::new("cp").arg(&file).arg(&copy))?;
        std::fs::File::open(&copy)?.sync_all()?;
        let elapsed = started.elapsed();
        std::fs::remove_file(&copy)?;
        Ok(elapsed)
    })?;
    let in_process_sha256 = median(RUNS, |_| {
        use sha2::Digest as _;
        let mut reader = std::fs::File::open(&file)?;
        let mut hasher = sha2::Sha256::new();
        let mut buffer = vec![0u8; 1 << 20];
        let started = Instant::now();
        loop {
            let n = std::io::Read::read(&mut reader, &mut buffer)?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
        }
        let _ = hasher.finalize();
        Ok(started.elapsed())
    })?;

    let mut server = Server::start(binary, &dir.path().join("data"))?;
    let cli = |args: &[&str]| {
        let mut command = Command::new(binary);
        command
            .current_dir(dir.path())
            .env("TOLLGATE_SERVER", &server.url)
            .env("TOLLGATE_TOKEN", &server.token)
            .args(args);
        command
    };
    run_ok(&mut cli(&["team", "create", "bench"]))?;
    let mut rss_after_push = Vec::new();
    let push = median(RUNS, |run| {
        let version = format!("1.0.{run}");
        let started = Instant::now();
        run_ok(&mut cli(&[
            "artifact",
            "push",
            "artifact.bin",
            "--name",
            "big",
            "--version",
            &version,
            "--team",
            "bench",
        ]))?;
        let elapsed = started.elapsed();
        rss_after_push.push(server.peak_rss_kib()?);
        Ok(elapsed)
    })?;
    let pull = median(RUNS, |run| {
        let target = format!("pulled-{run}.bin");
        let started = Instant::now();
        run_ok(&mut cli(&["artifact", "pull", "--name", "big", "--version", "1.0.0", "--file", &target]))?;
        let elapsed = started.elapsed();
        std::fs::remove_file(dir.path().join(&target))?;
        Ok(elapsed)
    })?;
    server.stop();

    let mib = SIZE as f64 / 1024.0 / 1024.0;
    let rate = |d: Duration| mib / d.as_secs_f64();
    let peak = rss_after_push.iter().max().copied().unwrap_or(0);
    println!(
        "openssl dgst -sha256 + cp : {:>8.3} s  {:>8.1} MiB/s  (the target's peer)",
        baseline.as_secs_f64(),
        rate(baseline)
    );
    println!("sha256sum + cp            : {:>8.3} s  {:>8.1} MiB/s", sha256sum.as_secs_f64(), rate(sha256sum));
    println!("cp + fsync of the copy    : {:>8.3} s  {:>8.1} MiB/s", copy_fsync.as_secs_f64(), rate(copy_fsync));
    println!(
        "sha2 crate, one pass      : {:>8.3} s  {:>8.1} MiB/s  (in process, page cache warm)",
        in_process_sha256.as_secs_f64(),
        rate(in_process_sha256)
    );
    println!(
        "push (CLI)                : {:>8.3} s  {:>8.1} MiB/s  = {:>5.1}% of openssl + cp",
        push.as_secs_f64(),
        rate(push),
        100.0 * baseline.as_secs_f64() / push.as_secs_f64()
    );
    println!(
        "pull (CLI)                : {:>8.3} s  {:>8.1} MiB/s  = {:>5.1}% of openssl + cp",
        pull.as_secs_f64(),
        rate(pull),
        100.0 * baseline.as_secs_f64() / pull.as_secs_f64()
    );
    println!("server peak RSS (VmHWM) after the pushes: {:.1} MiB (target < 32 MiB)", peak as f64 / 1024.0);
    println!(
        "targets: push >= 70%: {}, pull >= 70%: {}, RSS < 32 MiB: {}",
        met(baseline.as_secs_f64() / push.as_secs_f64() >= 0.7),
        met(baseline.as_secs_f64() / pull.as_secs_f64() >= 0.7),
        met(peak < 32 * 1024)
    );
    Ok(())
}

fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

/// Writes SIZE bytes of varied (not compressible, not zero) content.
fn write_file(path: &Path) -> anyhow::Result<()> {
    let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..(SIZE / block.len() as u64) {
        for chunk in block.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
        file.write_all(&block)?;
    }
    file.flush()?;
    Ok(())
}

fn median(runs: usize, mut measure: impl FnMut(usize) -> anyhow::Result<Duration>) -> anyhow::Result<Duration> {
    let mut times = (0..runs).map(&mut measure).collect::<anyhow::Result<Vec<_>>>()?;
    times.sort();
    Ok(times[times.len() / 2])
}

fn run_ok(command: &mut Command) -> anyhow::Result<()> {
    let output = command.stdout(Stdio::null()).stderr(Stdio::piped()).output().context("running a command")?;
    ensure!(output.status.success(), "{command:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    Ok(())
}

struct Server {
    child: Child,
    url: String,
    token: String,
}

impl Server {
    fn start(binary: &str, data_dir: &Path) -> anyhow::Result<Server> {
        let mut child = Command::new(binary)
            .args(["serve", "--listen", "127.0.0.1:0", "--max-artifact-bytes", &(2 * SIZE).to_string(), "--data-dir"])
            .arg(data_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting the server")?;
        let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
        let url = lines.next().context("an address line")??.trim_start_matches("tollgate listening on ").to_owned();
        lines.next().context("a token announcement")??;
        let token = lines.next().context("a token")??;
        Ok(Server { child, url, token })
    }

    /// The server's peak resident set size so far, in KiB.
    fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).context("VmHWM in /proc status")?;
        line.split_whitespace().nth(1).context("a value")?.parse().context("a number")
    }

    fn stop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}
