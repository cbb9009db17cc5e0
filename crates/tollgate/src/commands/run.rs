//! `tollgate deployment start|steps|logs|pause|resume|promote|skip|abort|approve|reject|rollback`: deployments carried out by
//! Tollgate's engine.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::Method;
use tollgate_http::api::runs::{
    DecisionRequest, DeploymentRunResponse, LogLineResponse, LogPage, LogQuery, RollbackRequest,
    StartDeploymentRequest, StepResponse,
};

use crate::args::{DeploymentCommand, OutputFormat};
use crate::client::{Answer, ApiProblem};
use crate::commands::Context;
use crate::output::{fields, maybe_time, print, print_json, rows, Row, Tabular};

/// How often `--wait` and `--follow` ask the server for news.
const POLL_EVERY: Duration = Duration::from_millis(500);

/// Runs an orchestration command; `Ok(false)` when a followed deployment did not succeed.
pub async fn run(context: &Context, command: DeploymentCommand) -> anyhow::Result<bool> {
    match command {
        DeploymentCommand::Start { release, environment, override_window, wait, wait_for_lock } => {
            let request = StartDeploymentRequest { release, environment, override_window };
            let started = start_when_unlocked(context, &request, wait_for_lock).await?;
            let deployment = &started.value.deployment;
            let headline = format!("{} to {}", deployment.release_version, deployment.environment);
            show_started(context, started, wait, headline).await
        }
        DeploymentCommand::Steps { id } => {
            print(
                context.output,
                &context.client.get::<DeploymentRunResponse>(&format!("/deployments/{id}/run")).await?,
            );
            Ok(true)
        }
        DeploymentCommand::Logs { id, follow: true } => follow(context, id, false).await,
        DeploymentCommand::Logs { id, follow: false } => {
            let lines = read_logs(context, id, None).await?;
            match context.output {
                OutputFormat::Json => print_json(&serde_json::to_value(&lines)?),
                OutputFormat::Table => lines.iter().for_each(|line| println!("{}", log_line(line))),
            }
            Ok(true)
        }
        DeploymentCommand::Resume { id, reason } => decide(context, id, "resume", reason).await,
        DeploymentCommand::Skip { id, reason } => decide(context, id, "skip", reason).await,
        DeploymentCommand::Abort { id, reason } => decide(context, id, "abort", reason).await,
        DeploymentCommand::Pause { id, reason } => decide(context, id, "pause", reason).await,
        DeploymentCommand::Promote { id, reason } => decide(context, id, "promote", reason).await,
        DeploymentCommand::Approve { id, reason } => decide(context, id, "approve", reason).await,
        DeploymentCommand::Reject { id, reason } => decide(context, id, "reject", reason).await,
        DeploymentCommand::Rollback { id: Some(id), reason, .. } => decide(context, id, "roll_back", reason).await,
        DeploymentCommand::Rollback { id: None, to, environment, reason, wait } => {
            let (Some(release), Some(environment)) = (to, environment) else {
                anyhow::bail!("give the deployment to roll back, or --to RELEASE --environment E");
            };
            let Some(reason) = reason else {
                anyhow::bail!(
                    "--reason is required to roll an environment back to a release: it is kept with the deployment"
                );
            };
            let request = RollbackRequest { release, environment, reason };
            let started: Answer<DeploymentRunResponse> = context.client.post("/deployments/rollback", &request).await?;
            let deployment = &started.value.deployment;
            let headline = format!("rolling {} back to {}", deployment.environment, deployment.release_version);
            show_started(context, started, wait, headline).await
        }
        other => unreachable!("deployment command {other:?} is handled by commands::release"),
    }
}

/// Prints a deployment just started, or, with `wait`, its headline and then its progress until
/// it ends; `Ok(false)` when a followed deployment did not succeed.
async fn show_started(
    context: &Context,
    started: Answer<DeploymentRunResponse>,
    wait: bool,
    headline: String,
) -> anyhow::Result<bool> {
    if !wait {
        print(context.output, &started);
        return Ok(true);
    }
    let id = started.value.deployment.id;
    if context.output == OutputFormat::Table {
        let n_rollback = started.value.steps.iter().filter(|step| step.phase == "rollback").count();
        let n_steps = started.value.steps.len() - n_rollback;
        let rollback = match n_rollback {
            0 => String::new(),
            1 => " (and 1 rollback step)".to_owned(),
            n => format!(" (and {n} rollback steps)"),
        };
        println!("deployment {id}: {headline}, {n_steps} steps{rollback}");
    }
    follow(context, id, true).await
}

async fn decide(context: &Context, id: i64, decision: &str, reason: Option<String>) -> anyhow::Result<bool> {
    let request = DecisionRequest { decision: decision.to_owned(), reason };
    let path = format!("/deployments/{id}/decision");
    let decided: Answer<DeploymentRunResponse> = context.client.post(&path, &request).await?;
    print(context.output, &decided);
    Ok(true)
}

/// Prints new log lines and step changes until the run stops (finished, or waiting for an
/// operator); true when the deployment succeeded. With `show_steps`, a terminal also gets a live
/// progress bar (steps done of all, the step running) below the printed lines; output that is not
/// a terminal gets the lines alone.
async fn follow(context: &Context, id: i64, show_steps: bool) -> anyhow::Result<bool> {
    let mut cursor: Option<String> = None;
    let mut seen_states: Vec<String> = Vec::new();
    let text_output = context.output == OutputFormat::Table;
    let progress = (show_steps && text_output).then(progress_bar);
    // Lines go above the bar (or straight out when there is none).
    let say = |line: String| match &progress {
        Some(bar) => bar.suspend(|| println!("{line}")),
        None => println!("{line}"),
    };
    loop {
        let run = context.client.get::<DeploymentRunResponse>(&format!("/deployments/{id}/run")).await?.value;
        let request = context
            .client
            .request(Method::GET, &format!("/deployments/{id}/logs"))
            .query(&LogQuery { after: cursor.clone(), limit: None });
        let page = context.client.call::<LogPage>(request).await?.value;
        cursor = page.next.clone();
        if text_output {
            page.items.iter().for_each(|line| say(log_line(line)));
        }
        if show_steps && text_output {
            for step in &run.steps {
                let index = step.position as usize;
                if seen_states.len() <= index {
                    seen_states.resize(index + 1, String::new());
                }
                if seen_states[index] != step.state && step.state != "pending" {
                    seen_states[index] = step.state.clone();
                    let outcome = step.outcome.as_deref().map(|outcome| format!(": {outcome}")).unwrap_or_default();
                    let rollback = if step.phase == "rollback" { "rollback " } else { "" };
                    say(format!("{rollback}step {} {} {}{outcome}", step.position, step.path(), step.state));
                }
            }
        }
        if let Some(bar) = &progress {
            show_progress(bar, &run);
        }
        // A paused deployment is followed on: someone resumes it (or aborts it) later.
        if !matches!(run.run.state.as_str(), "active" | "paused") {
            if let Some(bar) = &progress {
                bar.finish_and_clear();
            }
            let succeeded = run.deployment.status == "succeeded";
            match context.output {
                OutputFormat::Json => print_json(&serde_json::to_value(&run)?),
                // A finished run's reason starts with the deployment's status already.
                OutputFormat::Table => match (run.run.state.as_str(), run.run.reason.as_deref()) {
                    ("needs_operator", reason) => {
                        println!("deployment {id} needs an operator: {}", reason.unwrap_or_default())
                    }
                    (_, Some(reason)) if reason.starts_with(&run.deployment.status) => {
                        println!("deployment {id} {reason}")
                    }
                    (_, reason) => println!(
                        "deployment {id} {}{}",
                        run.deployment.status,
                        reason.map(|reason| format!(": {reason}")).unwrap_or_default()
                    ),
                },
            }
            return Ok(succeeded);
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// A bar on standard error, drawn only when it is a terminal.
fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} steps {elapsed} · {msg}")
        .expect("the template is valid")
        .progress_chars("=> ");
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// The bar as `run` stands: the steps done (succeeded, failed or skipped) of the steps of the
/// run's phase, and the step running.
fn show_progress(bar: &ProgressBar, run: &DeploymentRunResponse) {
    let phase: Vec<&StepResponse> = run.steps.iter().filter(|step| step.phase == run.run.phase).collect();
    let done = phase.iter().filter(|step| matches!(step.state.as_str(), "succeeded" | "failed" | "skipped")).count();
    bar.set_length(phase.len() as u64);
    bar.set_position(done as u64);
    let running = phase.iter().find(|step| step.state == "running");
    let message = match running {
        Some(step) => format!("{}{}", if run.run.phase == "rollback" { "rolling back: " } else { "" }, step.path()),
        None => run.run.state.clone(),
    };
    bar.set_message(message);
}

/// Starts the deployment; with `wait_for_lock`, a refusal whose only reason is another
/// deployment's lock is tried again (every two seconds) until the lock is free or the time is up.
async fn start_when_unlocked(
    context: &Context,
    request: &StartDeploymentRequest,
    wait_for_lock: Option<Duration>,
) -> anyhow::Result<Answer<DeploymentRunResponse>> {
    let deadline = wait_for_lock.map(|wait| std::time::Instant::now() + wait);
    let mut told = false;
    loop {
        let error = match context.client.post("/deployments/start", request).await {
            Ok(started) => return Ok(started),
            Err(error) => error,
        };
        let Some(deadline) = deadline.filter(|deadline| std::time::Instant::now() < *deadline) else {
            return Err(error);
        };
        let Some(problem) = error.downcast_ref::<ApiProblem>().map(|problem| &problem.problem) else {
            return Err(error);
        };
        // The lock alone: `lease_held` (met in the write), or a refusal whose every reason is it.
        let only_locked = problem.code == "lease_held"
            || (problem.code == "deployment_refused"
                && !problem.errors.is_empty()
                && problem.errors.iter().all(|error| error.message.starts_with("lock: ")));
        if !only_locked {
            return Err(error);
        }
        if !told {
            let reason = problem.errors.first().map_or(problem.detail.as_str(), |error| error.message.as_str());
            eprintln!("waiting for the lock: {reason}");
            told = true;
        }
        tokio::time::sleep(Duration::from_secs(2).min(deadline.saturating_duration_since(std::time::Instant::now())))
            .await;
    }
}

async fn read_logs(context: &Context, id: i64, after: Option<String>) -> anyhow::Result<Vec<LogLineResponse>> {
    let mut lines = Vec::new();
    let mut cursor = after;
    loop {
        let request = context
            .client
            .request(Method::GET, &format!("/deployments/{id}/logs"))
            .query(&LogQuery { after: cursor.clone(), limit: None });
        let page = context.client.call::<LogPage>(request).await?.value;
        if page.items.is_empty() {
            return Ok(lines);
        }
        cursor = page.next;
        lines.extend(page.items);
    }
}

fn log_line(line: &LogLineResponse) -> String {
    format!("[step {}] {}", line.step, line.text)
}

impl Row for StepResponse {
    const HEADERS: &'static [&'static str] =
        &["step", "service", "tier", "name", "target", "kind", "state", "attempts", "finished", "outcome"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.position.to_string(),
            self.service.clone(),
            self.tier.clone(),
            self.name.clone(),
            self.target.clone().unwrap_or_default(),
            self.kind.clone(),
            self.state.clone(),
            self.attempts.to_string(),
            maybe_time(self.finished_at),
            self.outcome.clone().unwrap_or_default(),
        ]
    }
}

impl Tabular for DeploymentRunResponse {
    fn table(&self) -> String {
        let deployment = &self.deployment;
        let summary = fields([
            ("deployment", deployment.id.to_string()),
            ("release", deployment.release_version.clone()),
            ("environment", deployment.environment.clone()),
            ("status", deployment.status.clone()),
            ("run", self.run.state.clone()),
            ("phase", self.run.phase.clone()),
            ("worker", self.run.worker.clone().unwrap_or_default()),
            ("reason", self.run.reason.clone().unwrap_or_default()),
        ]);
        format!("{summary}\n{}", rows(&self.steps))
    }
}
