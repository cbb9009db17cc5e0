//! Tollgate's deployment engine: workers that claim runs of orchestrated deployments from the
//! database and carry out their steps.
//!
//! `Engine::run_once` claims one run that needs a worker and drives it until it finishes, needs
//! an operator, or the claim is lost; `Engine::run` loops it and sleeps only when there was
//! nothing to do. While a step runs, the worker renews its claim and stores the step's output
//! (secrets redacted) every so often; every write presents the claim, so a worker that stalled
//! past its claim (stopped, or cut off from the database) changes nothing once it wakes, and
//! the process it was running is killed when it notices.
//!
//! The engine decides nothing about preconditions, order or state: `tollgate-service` does, in
//! the transaction of each write. This crate runs programs, requests and probes, and renders
//! templates.

#![forbid(unsafe_code)]

pub mod redact;
mod step;
pub mod template;
mod traffic;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::SignedDuration;
use tokio::sync::mpsc;
use tollgate_core::plan::SecretSource;
use tollgate_core::run::{Claim, RunState, WorkerName, MAX_STEP_LOG_BYTES};
use tollgate_core::Timestamp;
use tollgate_service::run::{Assignment, StepReport, StepWork};
use tollgate_service::{ServiceError, Tollgate};

use crate::redact::Redactor;
use crate::step::humanize;

/// How a worker paces itself.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// How long a claim lasts unless renewed; a run whose worker died is taken over this long
    /// after its last renewal.
    pub claim_ttl: Duration,
    /// How often output is stored while a step runs (and the claim checked).
    pub flush_every: Duration,
    /// How long `run` sleeps when there is nothing to do.
    pub poll_every: Duration,
    /// Where the `tollgate` binary is, to run `exec` steps under `tollgate supervise-step`, which
    /// kills a step (and its children) once its worker stops sending heartbeats: half the claim's
    /// ttl after the last renewal, or at once when the worker dies. Without it (tests of this
    /// crate), a step is killed when its attempt is dropped, and a crashed worker's step runs on.
    pub supervisor: Option<std::path::PathBuf>,
}

impl Default for EngineSettings {
    fn default() -> EngineSettings {
        EngineSettings {
            claim_ttl: Duration::from_secs(15),
            flush_every: Duration::from_millis(500),
            poll_every: Duration::from_millis(500),
            supervisor: None,
        }
    }
}

/// What one `run_once` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// No run needed a worker.
    Idle,
    /// A run was claimed and moved on.
    Progressed,
}

/// One worker.
#[derive(Debug, Clone)]
pub struct Engine {
    tollgate: Tollgate,
    worker: WorkerName,
    settings: EngineSettings,
    http: reqwest::Client,
    timings: Arc<Mutex<VecDeque<StepTiming>>>,
}

/// How long one step took, split into the step's own attempts (the process, request, probes or
/// pause, retries' pauses included) and the engine's part (asking for it, rendering, recording
/// its end and output), for the last [`KEPT_TIMINGS`] steps a worker ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepTiming {
    pub engine: Duration,
    pub attempts: Duration,
}

/// How many step timings a worker keeps.
pub const KEPT_TIMINGS: usize = 4096;

/// Why a worker stopped working on a run before it was done with it.
#[derive(Debug)]
enum Stop {
    /// Its claim was taken over or expired, or the run was finished by someone else.
    Lost(ServiceError),
    /// The database failed; the claim lapses and a worker takes the run over later.
    Failed(ServiceError),
}

impl From<ServiceError> for Stop {
    fn from(error: ServiceError) -> Stop {
        match error {
            ServiceError::ClaimLost(_) => Stop::Lost(error),
            other => Stop::Failed(other),
        }
    }
}

impl Engine {
    pub fn new(tollgate: Tollgate, worker: WorkerName, settings: EngineSettings) -> Engine {
        let http = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .expect("an HTTP client with no TLS settings of its own builds");
        Engine { tollgate, worker, settings, http, timings: Arc::default() }
    }

    /// The timings of the last steps this worker ran, oldest first.
    pub fn recent_timings(&self) -> Vec<StepTiming> {
        self.timings.lock().map(|timings| timings.iter().copied().collect()).unwrap_or_default()
    }

    pub fn worker(&self) -> &WorkerName {
        &self.worker
    }

    /// Claims a run that needs a worker, if any, and drives it as far as it goes.
    pub async fn run_once(&self) -> Result<Progress, ServiceError> {
        let Some(claim) = self.tollgate.claim_run(&self.worker, self.ttl()).await? else {
            return Ok(Progress::Idle);
        };
        tracing::info!(deployment = %claim.deployment, worker = %self.worker, epoch = claim.epoch, "claimed a run");
        match self.drive(claim.clone()).await {
            Ok(state) => tracing::info!(deployment = %claim.deployment, %state, "run handed back"),
            Err(Stop::Lost(error)) => tracing::warn!(deployment = %claim.deployment, %error, "stopped: claim lost"),
            Err(Stop::Failed(error)) => {
                tracing::error!(deployment = %claim.deployment, error = %error, "stopped: the run will be taken over");
                return Err(error);
            }
        }
        Ok(Progress::Progressed)
    }

    /// Runs `run_once` until `shutdown` resolves, sleeping only when there was nothing to do.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let pause = match self.run_once().await {
                Ok(Progress::Progressed) => Duration::ZERO,
                Ok(Progress::Idle) => self.settings.poll_every,
                Err(_) => self.settings.poll_every * 4,
            };
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    async fn drive(&self, mut claim: Claim) -> Result<RunState, Stop> {
        let mut began = Instant::now();
        let context = self.tollgate.run_context(&claim).await?;
        let mut assignment = self.tollgate.next_assignment(&claim).await?;
        loop {
            match assignment {
                Assignment::Done(state) => return Ok(state),
                Assignment::Run(step) => {
                    let path = step.path();
                    let Some(work) = context.work(*step) else {
                        let error = ServiceError::NotFound { entity: tollgate_core::Entity::Run, key: path };
                        return Err(Stop::Failed(error));
                    };
                    let position = work.step.position;
                    tracing::info!(deployment = %claim.deployment, step = %work.step.path(), "step starts");
                    let (report, attempts) = self.carry_out(&mut claim, &work).await?;
                    // Finishing a step and starting the next is one transaction.
                    let (step, next) = self.tollgate.finish_step(&claim, position, report).await?;
                    tracing::info!(deployment = %claim.deployment, step = %step.path(), state = %step.state, "step ends");
                    self.record_timing(StepTiming { engine: began.elapsed().saturating_sub(attempts), attempts });
                    began = Instant::now();
                    assignment = next;
                }
            }
        }
    }

    fn record_timing(&self, timing: StepTiming) {
        if let Ok(mut timings) = self.timings.lock() {
            if timings.len() == KEPT_TIMINGS {
                timings.pop_front();
            }
            timings.push_back(timing);
        }
    }

    /// Carries out one step, retries included, renewing the claim and storing output as it goes;
    /// also says how long its attempts (and the pauses between them) took.
    async fn carry_out(&self, claim: &mut Claim, work: &StepWork) -> Result<(StepReport, Duration), Stop> {
        let spec = &work.step.spec;
        let secrets = match resolve_secrets(work) {
            Ok(secrets) => secrets,
            Err(outcome) => {
                return Ok((StepReport { succeeded: false, outcome, retries: 0, logs: Vec::new() }, Duration::ZERO))
            }
        };
        let redactor = Redactor::new(secrets.iter().map(|(name, value)| (name.as_str(), value.as_str())));
        let context = template::context(work, &secrets);
        let rendered = match template::render(&spec.action, &context) {
            Ok(rendered) => rendered,
            Err(error) => {
                let outcome = redactor.redact(&format!("a template could not be rendered: {error}"));
                return Ok((StepReport { succeeded: false, outcome, retries: 0, logs: Vec::new() }, Duration::ZERO));
            }
        };
        let base_env = vec![
            ("TOLLGATE_DEPLOYMENT_ID".to_owned(), work.deployment.id.to_string()),
            ("TOLLGATE_RELEASE_VERSION".to_owned(), work.deployment.release_version.to_string()),
            ("TOLLGATE_ENVIRONMENT".to_owned(), work.deployment.environment.to_string()),
            ("TOLLGATE_SERVICE".to_owned(), work.step.service.to_string()),
            ("TOLLGATE_STEP".to_owned(), work.step.path()),
        ];
        let shift_of = traffic::ShiftOf {
            deployment: work.deployment.id.0,
            environment: work.deployment.environment.to_string(),
            service: work.step.service.to_string(),
        };
        let mut output = Output::new(redactor, work.step.position);
        let supervisor = self
            .settings
            .supervisor
            .clone()
            .map(|program| step::Supervisor { program, deadline: self.settings.claim_ttl / 2 });
        let mut retries = 0;
        let mut attempts = Duration::ZERO;
        loop {
            let (sender, receiver) = mpsc::unbounded_channel();
            let (beat, heartbeats) = mpsc::unbounded_channel();
            let supervision = supervisor.as_ref().map(|supervisor| (supervisor, heartbeats));
            let attempt =
                step::attempt(&rendered, &shift_of, &base_env, spec.timeout.as_std(), &self.http, sender, supervision);
            let attempt_began = Instant::now();
            let attempt = self.supervise(claim, &mut output, receiver, Some(beat), attempt).await?;
            attempts += attempt_began.elapsed();
            if attempt.succeeded || retries >= spec.retries {
                let outcome = match retries {
                    0 => output.redactor.redact(&attempt.outcome),
                    n => output.redactor.redact(&format!("{} (after {n} retries)", attempt.outcome)),
                };
                let logs = output.take(self.tollgate.now());
                return Ok((StepReport { succeeded: attempt.succeeded, outcome, retries, logs }, attempts));
            }
            let pause = spec.backoff.as_std().saturating_mul(1 << retries.min(16));
            retries += 1;
            output.push(format!("attempt {retries} failed ({}); retrying in {}", attempt.outcome, humanize(pause)));
            let (_sender, receiver) = mpsc::unbounded_channel::<String>();
            let pause_began = Instant::now();
            self.supervise(claim, &mut output, receiver, None, tokio::time::sleep(pause)).await?;
            attempts += pause_began.elapsed();
        }
    }

    /// Awaits `work` while renewing the claim and storing output every `flush_every`, and sends
    /// a heartbeat on `beat` at each tick while the claim was renewed within half its ttl; when
    /// the claim is lost, `work` is dropped (a process it started is killed) and the loss returned.
    async fn supervise<T>(
        &self,
        claim: &mut Claim,
        output: &mut Output,
        mut lines: mpsc::UnboundedReceiver<String>,
        beat: Option<mpsc::UnboundedSender<()>>,
        work: impl std::future::Future<Output = T>,
    ) -> Result<T, Stop> {
        tokio::pin!(work);
        let mut ticks = tokio::time::interval(self.settings.flush_every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        let renew_after = self.settings.claim_ttl / 3;
        let mut renewed_at = tokio::time::Instant::now();
        loop {
            tokio::select! {
                biased;
                result = &mut work => {
                    while let Ok(line) = lines.try_recv() {
                        output.push(line);
                    }
                    return Ok(result);
                }
                Some(line) = lines.recv() => output.push(line),
                _ = ticks.tick() => {
                    if renewed_at.elapsed() < self.settings.claim_ttl / 2 {
                        if let Some(beat) = &beat {
                            let _ = beat.send(());
                        }
                    }
                    let pending = output.take(self.tollgate.now());
                    if !pending.is_empty() {
                        self.tollgate.append_step_logs(claim, output.position, &pending).await?;
                    }
                    if renewed_at.elapsed() >= renew_after {
                        *claim = self.tollgate.renew_claim(claim, self.ttl()).await?;
                        renewed_at = tokio::time::Instant::now();
                    }
                }
            }
        }
    }

    fn ttl(&self) -> SignedDuration {
        SignedDuration::try_from(self.settings.claim_ttl).expect("a claim ttl of seconds fits")
    }
}

/// A step's output not yet stored, redacted, bounded by [`MAX_STEP_LOG_BYTES`] per attempt run.
struct Output {
    redactor: Redactor,
    position: u32,
    pending: Vec<String>,
    kept_bytes: usize,
    cut: bool,
}

impl Output {
    fn new(redactor: Redactor, position: u32) -> Output {
        Output { redactor, position, pending: Vec::new(), kept_bytes: 0, cut: false }
    }

    fn push(&mut self, line: String) {
        if self.kept_bytes >= MAX_STEP_LOG_BYTES {
            if !self.cut {
                self.cut = true;
                self.pending.push(format!("[output beyond {} KiB not stored]", MAX_STEP_LOG_BYTES / 1024));
            }
            return;
        }
        let line = self.redactor.redact(&line);
        self.kept_bytes += line.len();
        self.pending.push(line);
    }

    fn take(&mut self, at: Timestamp) -> Vec<(Timestamp, String)> {
        self.pending.drain(..).map(|line| (at, line)).collect()
    }
}

/// Reads the values of the secrets of the step's plan; a missing one fails the step, named.
fn resolve_secrets(work: &StepWork) -> Result<BTreeMap<String, String>, String> {
    let mut secrets = BTreeMap::new();
    for secret in &work.plan.secrets {
        let value = match &secret.source {
            SecretSource::Env(variable) => std::env::var(variable)
                .map_err(|_| format!("secret {}: the server's environment has no variable {variable}", secret.name))?,
            SecretSource::File(path) => std::fs::read_to_string(path)
                .map(|text| text.trim_end_matches(['\n', '\r']).to_owned())
                .map_err(|error| format!("secret {}: {path} cannot be read: {error}", secret.name))?,
        };
        secrets.insert(secret.name.clone(), value);
    }
    Ok(secrets)
}
