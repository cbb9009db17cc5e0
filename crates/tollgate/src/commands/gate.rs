//! `tollgate gate` and `tollgate policy`: evaluate an environment's gates for a release, read
//! decisions, override a failed one, replay one; show the installed gate policy; run the users'
//! Rego unit tests locally.

use std::path::Path;

use anyhow::{bail, Context as _};
use tollgate_http::api::gates::{
    DryRunRequest, EvaluateRequest, GateDecisionResponse, GateEvaluationResponse, GateOverrideResponse,
    GateResultResponse, OverrideRequest, PolicyResponse, PolicyVersionItem, ReplayResponse,
};
use tollgate_http::api::Paginated;

use crate::args::{GateCommand, OutputFormat, PolicyCommand};
use crate::client::{encode, Answer};
use crate::commands::apply::{gate_requests, read_modules};
use crate::commands::Context;
use crate::output::{fields, or_dash, print, print_json, rows, time, Row, Tabular};

/// Runs a `gate` command. `Ok(false)` when an evaluation did not pass, so scripts can stop.
pub async fn gate(context: &Context, command: GateCommand) -> anyhow::Result<bool> {
    match command {
        GateCommand::Evaluate { release, environment, explain, dry_run } => {
            let dry_run = match dry_run {
                Some(file) => Some(dry_run_request(&file, &environment)?),
                None => None,
            };
            let request = EvaluateRequest { release, environment, explain, dry_run };
            let answer: Answer<GateEvaluationResponse> = context.client.post("/gates/evaluate", &request).await?;
            match context.output {
                OutputFormat::Json => print_json(&answer.json),
                OutputFormat::Table => println!("{}", evaluation_table(&answer.value, explain)),
            }
            return Ok(answer.value.passed);
        }
        GateCommand::Decisions { release, environment, limit } => {
            let mut query = vec![("limit", limit.to_string())];
            query.extend(release.map(|release| ("release", release)));
            query.extend(environment.map(|environment| ("environment", environment)));
            let request = context.client.request(reqwest::Method::GET, "/gates/decisions").query(&query);
            print(context.output, &context.client.call::<Paginated<GateDecisionResponse>>(request).await?);
        }
        GateCommand::Show { id } => {
            let path = format!("/gates/decisions/{id}");
            print(context.output, &context.client.get::<GateDecisionResponse>(&path).await?);
        }
        GateCommand::Replay { id } => {
            let path = format!("/gates/decisions/{id}/replay");
            let answer: Answer<ReplayResponse> = context.client.post(&path, &serde_json::json!({})).await?;
            print(context.output, &answer);
            return Ok(answer.value.matches);
        }
        GateCommand::Override { release, environment, reason } => {
            let request = OverrideRequest { release, environment, reason };
            print(context.output, &context.client.post::<_, GateOverrideResponse>("/gates/overrides", &request).await?);
        }
    }
    Ok(true)
}

/// Runs a `policy` command. `Ok(false)` when a Rego unit test did not pass.
pub async fn policy(context: &Context, command: PolicyCommand) -> anyhow::Result<bool> {
    match command {
        PolicyCommand::Show => print(context.output, &context.client.get::<PolicyResponse>("/policy").await?),
        PolicyCommand::Versions { limit } => {
            let path = format!("/policy/versions?limit={}", encode(&limit.to_string()));
            print(context.output, &context.client.get::<Paginated<PolicyVersionItem>>(&path).await?);
        }
        PolicyCommand::Test { dir } => return run_policy_tests(context.output, &dir),
    }
    Ok(true)
}

/// The gates of `environment` in a tollgate.yaml, with the modules they name.
fn dry_run_request(file: &Path, environment: &str) -> anyhow::Result<DryRunRequest> {
    let file_name = file.display().to_string();
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {file_name}"))?;
    let config = match tollgate_config::load(&file_name, &text) {
        Ok(config) => config,
        Err(error) => bail!("{}", error.messages().join("\n")),
    };
    let base = file.parent().unwrap_or_else(|| Path::new("."));
    let modules = read_modules(&config.input, base)?;
    let mut gates = gate_requests(&config.input).unwrap_or_default();
    let Some(gates) = gates.remove(environment) else {
        bail!("{file_name} declares no gates for environment {environment}");
    };
    Ok(DryRunRequest { gates, modules })
}

/// Every `.rego` file under `dir`, read and tested with the policy engine.
fn run_policy_tests(output: OutputFormat, dir: &Path) -> anyhow::Result<bool> {
    let mut modules = Vec::new();
    collect_rego(dir, dir, &mut modules)?;
    if modules.is_empty() {
        bail!("no .rego files under {}", dir.display());
    }
    let report = match tollgate_policy::run_tests(modules, &tollgate_policy::Limits::default()) {
        Ok(report) => report,
        Err(errors) => bail!("{}", errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")),
    };
    match output {
        OutputFormat::Json => print_json(&serde_json::to_value(&report).expect("a test report converts to JSON")),
        OutputFormat::Table => {
            for result in &report.results {
                let outcome = match &result.outcome {
                    tollgate_policy::Outcome::Pass => "PASS".to_owned(),
                    tollgate_policy::Outcome::Fail => "FAIL".to_owned(),
                    tollgate_policy::Outcome::Error { reason } => format!("ERROR: {reason}"),
                };
                println!("{}.{}: {outcome}", result.package, result.name);
            }
            println!("{} passed, {} failed, {} errored", report.passed, report.failed, report.errored);
        }
    }
    Ok(report.all_passed())
}

/// Reads the `.rego` files under `dir` (sorted, recursively), named by their path below `root`.
fn collect_rego(root: &Path, dir: &Path, modules: &mut Vec<tollgate_core::gate::PolicyModule>) -> anyhow::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("reading {}", dir.display()))?;
    entries.sort_by_key(|entry| entry.path());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            collect_rego(root, &path, modules)?;
        } else if path.extension().is_some_and(|extension| extension == "rego") {
            let source = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            let name = path.strip_prefix(root).unwrap_or(&path).display().to_string();
            modules.push(tollgate_core::gate::PolicyModule { path: name, source });
        }
    }
    Ok(())
}

fn evaluation_table(evaluation: &GateEvaluationResponse, explain: bool) -> String {
    let verdict = if evaluation.passed { "passed" } else { "did not pass" };
    let decision = match evaluation.decision {
        Some(id) => format!("decision {id}"),
        None => "not recorded".to_owned(),
    };
    let policy = match &evaluation.policy {
        Some(policy) => format!("policy version {}", policy.seq),
        None if evaluation.gates.is_empty() => "no gate policy installed".to_owned(),
        None => "dry run".to_owned(),
    };
    let mut text = format!(
        "release {} {verdict} the gates of {} ({decision}, {policy})\n{}",
        evaluation.release,
        evaluation.environment,
        rows(&evaluation.gates)
    );
    let worth_explaining = |result: &&GateResultResponse| {
        !result.violations.is_empty() || result.reason.is_some() || !result.notes.is_empty()
    };
    for result in evaluation.gates.iter().filter(worth_explaining) {
        text.push_str(&format!("\n{} ({}):", result.gate, result.outcome));
        if let Some(reason) = &result.reason {
            text.push_str(&format!("\n  {reason}"));
        }
        for note in &result.notes {
            text.push_str(&format!("\n  note: {note}"));
        }
        for violation in &result.violations {
            text.push_str(&format!("\n  - {}", violation.message));
            if explain && !violation.data.is_null() {
                text.push_str(&format!("\n    data: {}", violation.data));
            }
        }
    }
    if let (true, Some(input)) = (explain, &evaluation.input) {
        let input = serde_json::to_string_pretty(input).expect("JSON values print");
        text.push_str(&format!("\n\ninput ({}):\n{input}", evaluation.input_digest));
    }
    text
}

impl Row for GateResultResponse {
    const HEADERS: &'static [&'static str] = &["gate", "enforcement", "outcome", "violations"];

    fn cells(&self) -> Vec<String> {
        vec![self.gate.clone(), self.enforcement.clone(), self.outcome.clone(), self.violations.len().to_string()]
    }
}

impl Row for GateDecisionResponse {
    const HEADERS: &'static [&'static str] = &["id", "release", "environment", "passed", "policy", "at", "by"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.release.to_string(),
            self.environment.clone(),
            if self.passed { "yes" } else { "no" }.to_owned(),
            self.policy.seq.to_string(),
            time(self.created_at),
            self.created_by.clone(),
        ]
    }
}

impl Tabular for GateDecisionResponse {
    fn table(&self) -> String {
        let head = fields([
            ("decision", self.id.to_string()),
            ("release", self.release.to_string()),
            ("environment", self.environment.clone()),
            ("passed", if self.passed { "yes" } else { "no" }.to_owned()),
            ("policy", format!("{} ({})", self.policy.seq, self.policy.digest)),
            ("manifest", self.manifest_digest.clone()),
            ("evidence", self.evidence_digest.clone()),
            ("input", self.input_digest.clone()),
            ("created", format!("{} by {}", time(self.created_at), self.created_by)),
        ]);
        format!("{head}\n{}", rows(&self.gates))
    }
}

impl Tabular for GateOverrideResponse {
    fn table(&self) -> String {
        fields([
            ("override", self.id.to_string()),
            ("decision", self.decision.to_string()),
            ("release", self.release.clone()),
            ("environment", self.environment.clone()),
            ("policy", self.policy.seq.to_string()),
            ("reason", self.reason.clone()),
            ("created", format!("{} by {}", time(self.created_at), self.created_by)),
        ])
    }
}

impl Tabular for ReplayResponse {
    fn table(&self) -> String {
        let verdict = if self.matches { "gives the recorded results" } else { "DIFFERS from the recorded results" };
        format!("decision {}: replaying {verdict}\n{}", self.decision, rows(&self.replayed))
    }
}

impl Tabular for PolicyResponse {
    fn table(&self) -> String {
        let version = match &self.version {
            Some(version) => format!(
                "gate policy version {} ({}), installed {} by {}",
                version.seq,
                version.digest,
                self.installed_at.map(time).unwrap_or_default(),
                or_dash(self.installed_by.as_deref())
            ),
            None => "no gate policy installed".to_owned(),
        };
        let lines: Vec<PolicyGateLine> = self
            .gates
            .iter()
            .flat_map(|(environment, gates)| {
                gates.iter().map(move |gate| {
                    let source = match (&gate.builtin, &gate.rego) {
                        (Some(builtin), _) => format!(
                            "builtin {builtin} {}",
                            gate.with.as_ref().map(ToString::to_string).unwrap_or_default()
                        ),
                        (_, Some(rego)) => format!("rego {rego}"),
                        _ => "-".to_owned(),
                    };
                    PolicyGateLine([environment.clone(), gate.name.clone(), source, gate.enforcement.clone()])
                })
            })
            .collect();
        let mut table = rows(&lines);
        table.push_str("\nbuilt-in gates: ");
        let builtins: Vec<String> = self
            .builtins
            .iter()
            .map(|builtin| match &builtin.unavailable {
                Some(_) => format!("{} (not yet available)", builtin.name),
                None => builtin.name.clone(),
            })
            .collect();
        table.push_str(&builtins.join(", "));
        format!("{version}\n{table}")
    }
}

impl Row for PolicyVersionItem {
    const HEADERS: &'static [&'static str] = &["version", "digest", "installed", "by"];

    fn cells(&self) -> Vec<String> {
        vec![self.seq.to_string(), self.digest.clone(), time(self.installed_at), self.installed_by.clone()]
    }
}

/// One gate of the installed policy, as a table line.
struct PolicyGateLine([String; 4]);

impl Row for PolicyGateLine {
    const HEADERS: &'static [&'static str] = &["environment", "gate", "source", "enforcement"];

    fn cells(&self) -> Vec<String> {
        self.0.to_vec()
    }
}
