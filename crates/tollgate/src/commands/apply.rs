//! `tollgate apply`: read tollgate.yaml, show the plan, apply it. Errors name file, line and key.

use std::collections::BTreeMap;

use anyhow::{bail, Context as _};
use tollgate_core::apply::ApplyInput;
use tollgate_core::change::policy::{ChangePolicyInput, Scalar};
use tollgate_core::plan::{DeployInput, StepInput};
use tollgate_core::rollout::StrategyInput;
use tollgate_http::api::apply::{
    ApplyQuery, ApplyRequest, ApprovalSettingsRequest, ChangePolicyRequest, ChangeTemplateRequest,
    EnvironmentChangeRulesRequest, LabelTeamsRequest, PlanResponse, PlannedChangeResponse, RiskPolicyRequest,
    SsoRequest,
};
use tollgate_http::api::catalog::{EnvironmentRequest, LifecycleRequest, ServiceRequest, TeamRequest};
use tollgate_http::api::gates::{GateRequest, ModuleRequest};
use tollgate_http::api::plans::{
    CanaryRequest, DeployRequest, EnvironmentStrategyRequest, HealthStepRequest, HttpStepRequest, ManualStepRequest,
    NginxRequest, OnFailureRequest, RollingRequest, SecretRequest, StepRequest, StrategyRequest, TargetRequest,
    TierRequest, TrafficRequest,
};

use crate::args::{ApplyArgs, OutputFormat};
use crate::client::{Answer, ApiProblem};
use crate::commands::Context;
use crate::output::{list, print_json, rows, Row, Tabular};

pub async fn apply(context: &Context, args: ApplyArgs) -> anyhow::Result<()> {
    let file_name = args.file.display().to_string();
    let text = std::fs::read_to_string(&args.file).with_context(|| format!("reading {file_name}"))?;
    let config = match tollgate_config::load(&file_name, &text) {
        Ok(config) => config,
        Err(error) => bail!("{}", error.messages().join("\n")),
    };
    let base = args.file.parent().unwrap_or_else(|| std::path::Path::new("."));
    let modules = read_modules(&config.input, base)?;
    let request = apply_request(&config.input, modules)?;
    let located = |error: anyhow::Error| match error.downcast::<ApiProblem>() {
        Ok(problem) if !problem.problem.errors.is_empty() => {
            let lines: Vec<String> = problem
                .problem
                .errors
                .iter()
                .map(|error| format!("{}: {}", config.source_map.describe(&error.field), error.message))
                .collect();
            anyhow::anyhow!("{}", lines.join("\n"))
        }
        Ok(problem) => problem.into(),
        Err(other) => other,
    };
    let send = |dry_run: bool| {
        let request =
            context.client.request(reqwest::Method::POST, "/apply").query(&ApplyQuery { dry_run }).json(&request);
        context.client.call::<PlanResponse>(request)
    };
    let plan: Answer<PlanResponse> = send(true).await.map_err(located)?;
    if context.output == OutputFormat::Table {
        println!("{}", plan.value.table());
    }
    let has_changes = plan.value.changes.iter().any(|change| change.op != "unchanged");
    if args.dry_run || !has_changes {
        if context.output == OutputFormat::Json {
            print_json(&plan.json);
        } else {
            println!("{}", if has_changes { "dry run: nothing was changed" } else { "nothing to change" });
        }
        return Ok(());
    }
    let applied: Answer<PlanResponse> = send(false).await.map_err(located)?;
    match context.output {
        OutputFormat::Json => print_json(&applied.json),
        OutputFormat::Table => {
            let count = |op: &str| applied.value.changes.iter().filter(|change| change.op == op).count();
            println!(
                "applied: {} created, {} updated, {} unchanged",
                count("create"),
                count("update"),
                count("unchanged")
            );
        }
    }
    Ok(())
}

/// The Rego modules the gates of `input` name, read from paths relative to `base` (the
/// directory of tollgate.yaml). Each module is sent under the path the gate names.
pub fn read_modules(input: &ApplyInput, base: &std::path::Path) -> anyhow::Result<Vec<ModuleRequest>> {
    let mut modules: Vec<ModuleRequest> = Vec::new();
    let environments = input.gates.iter().flat_map(|gates| &gates.environments);
    for path in environments.flat_map(|entry| &entry.gates).filter_map(|gate| gate.rego.as_ref()) {
        if modules.iter().any(|module| &module.path == path) {
            continue;
        }
        let file = base.join(path);
        let source = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
        modules.push(ModuleRequest { path: path.clone(), source });
    }
    Ok(modules)
}

/// The gates section of a loaded configuration, as the API takes it.
pub fn gate_requests(input: &ApplyInput) -> Option<BTreeMap<String, Vec<GateRequest>>> {
    let gates = input.gates.as_ref()?;
    let requests = gates
        .environments
        .iter()
        .map(|entry| {
            let gates = entry
                .gates
                .iter()
                .map(|gate| GateRequest {
                    name: gate.name.clone(),
                    builtin: gate.builtin.clone(),
                    rego: gate.rego.clone(),
                    with: gate.with.clone(),
                    enforcement: gate.enforcement.clone(),
                })
                .collect();
            (entry.environment.clone(), gates)
        })
        .collect();
    Some(requests)
}

/// The `POST /apply` request for a loaded configuration and the modules its gates name.
pub fn apply_request(input: &ApplyInput, modules: Vec<ModuleRequest>) -> anyhow::Result<ApplyRequest> {
    Ok(ApplyRequest {
        changes: input.changes.as_ref().map(change_policy_request).transpose()?,
        gates: gate_requests(input),
        modules,
        sso: input.sso.as_ref().map(|sso| SsoRequest {
            issuer: sso.issuer.clone(),
            client_id: sso.client_id.clone(),
            client_secret_env: sso.client_secret_env.clone(),
            redirect_url: sso.redirect_url.clone(),
            username_claim: sso.username_claim.clone(),
            groups_claim: sso.groups_claim.clone(),
            roles: sso.roles.groups.iter().map(|entry| (entry.group.clone(), entry.roles.clone())).collect(),
            scopes: sso.scopes.clone(),
        }),
        teams: input
            .teams
            .iter()
            .map(|team| TeamRequest {
                name: team.name.clone(),
                display_name: team.display_name.clone(),
                members: team.members.clone(),
                artifact_pattern: team.artifact_pattern.clone(),
            })
            .collect(),
        environments: input
            .environments
            .iter()
            .map(|environment| EnvironmentRequest {
                name: environment.name.clone(),
                tier: environment.tier.clone(),
                region: environment.region.clone(),
            })
            .collect(),
        lifecycles: input
            .lifecycles
            .iter()
            .map(|lifecycle| LifecycleRequest {
                name: lifecycle.name.clone(),
                environments: lifecycle.environments.clone(),
            })
            .collect(),
        services: input
            .services
            .iter()
            .enumerate()
            .map(|(index, service)| {
                Ok(ServiceRequest {
                    name: service.name.clone(),
                    owner: service.owner.clone(),
                    criticality: service.criticality.clone(),
                    depends_on: service.depends_on.clone(),
                    description: service.description.clone(),
                    labels: service.labels.clone(),
                    deploy: service
                        .deploy
                        .as_ref()
                        .map(|deploy| deploy_request(&format!("services[{index}].deploy"), deploy))
                        .transpose()?,
                })
            })
            .collect::<anyhow::Result<_>>()?,
    })
}

/// A deployment plan as the API takes it; a number or boolean YAML gave where the other is
/// expected is named by its path.
fn deploy_request(path: &str, input: &DeployInput) -> anyhow::Result<DeployRequest> {
    let mut tiers = Vec::with_capacity(input.tiers.len());
    for (tier_index, tier) in input.tiers.iter().enumerate() {
        let steps = tier
            .steps
            .iter()
            .enumerate()
            .map(|(step_index, step)| step_request(&format!("{path}.tiers[{tier_index}].steps[{step_index}]"), step))
            .collect::<anyhow::Result<Vec<_>>>()?;
        tiers.push(TierRequest { name: tier.name.clone(), steps });
    }
    let rollback = input
        .rollback
        .iter()
        .enumerate()
        .map(|(index, step)| step_request(&format!("{path}.rollback[{index}]"), step))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let secrets = input
        .secrets
        .iter()
        .map(|secret| SecretRequest { name: secret.name.clone(), env: secret.env.clone(), file: secret.file.clone() })
        .collect();
    let on_failure = input.on_failure.as_ref().map(|on_failure| OnFailureRequest {
        rollback: on_failure.rollback.clone(),
        quarantine: on_failure.quarantine.clone(),
    });
    let verify = input
        .verify
        .iter()
        .enumerate()
        .map(|(index, step)| step_request(&format!("{path}.verify[{index}]"), step))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let targets = input
        .targets
        .iter()
        .map(|target| TargetRequest {
            name: target.name.clone(),
            environment: target.environment.clone(),
            address: target.address.clone(),
            group: target.group.clone(),
            labels: target.labels.clone(),
        })
        .collect();
    let strategy = input.strategy.as_ref().map(|strategy| strategy_request(path, strategy)).transpose()?;
    let strategies = input
        .strategies
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let strategy = StrategyInput {
                all_at_once: entry.all_at_once.clone(),
                rolling: entry.rolling.clone(),
                blue_green: entry.blue_green.clone(),
                canary: entry.canary.clone(),
            };
            let strategy = strategy_request(&format!("{path}.strategies[{index}]"), &strategy)?;
            Ok(EnvironmentStrategyRequest {
                environment: entry.environment.clone(),
                all_at_once: strategy.all_at_once,
                rolling: strategy.rolling,
                blue_green: strategy.blue_green,
                canary: strategy.canary,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let traffic = input.traffic.as_ref().map(|traffic| TrafficRequest {
        nginx: traffic.nginx.as_ref().map(|nginx| NginxRequest {
            upstream: nginx.upstream.clone(),
            file: nginx.file.clone(),
            prefix: nginx.prefix.clone(),
            conf: nginx.conf.clone(),
            binary: nginx.binary.clone(),
        }),
        command: traffic.command.clone(),
    });
    Ok(DeployRequest {
        tiers,
        variables: input.variables.clone(),
        secrets,
        rollback,
        on_failure,
        targets,
        strategy,
        strategies,
        traffic,
        verify,
    })
}

/// A strategy as the API takes it: YAML's canary weights as JSON numbers.
fn strategy_request(path: &str, strategy: &StrategyInput) -> anyhow::Result<StrategyRequest> {
    Ok(StrategyRequest {
        all_at_once: strategy.all_at_once.clone(),
        rolling: strategy.rolling.as_ref().map(|rolling| RollingRequest {
            batch: rolling.batch.as_ref().map(|Scalar(text)| text.clone()),
            max_unavailable: rolling.max_unavailable.as_ref().map(|Scalar(text)| text.clone()),
        }),
        blue_green: strategy.blue_green.clone(),
        canary: match &strategy.canary {
            Some(canary) => Some(CanaryRequest {
                weights: canary
                    .weights
                    .iter()
                    .enumerate()
                    .map(|(index, Scalar(text))| {
                        json_number(text).with_context(|| format!("{path}.strategy.canary.weights[{index}]"))
                    })
                    .collect::<anyhow::Result<_>>()?,
                pause: canary.pause.clone(),
            }),
            None => None,
        },
    })
}

/// One step as the API takes it; `path` names it in messages.
fn step_request(path: &str, step: &StepInput) -> anyhow::Result<StepRequest> {
    let field = |name: &str| format!("{path}.{name}");
    let number = |field: String, scalar: &Option<Scalar>| -> anyhow::Result<Option<serde_json::Number>> {
        scalar.as_ref().map(|Scalar(text)| json_number(text).with_context(|| field)).transpose()
    };
    let boolean = |name: &str, scalar: &Option<Scalar>| -> anyhow::Result<Option<bool>> {
        match scalar.as_ref().map(|Scalar(text)| text.as_str()) {
            None => Ok(None),
            Some("true" | "True" | "TRUE") => Ok(Some(true)),
            Some("false" | "False" | "FALSE") => Ok(Some(false)),
            Some(other) => bail!("{}: {other} is not true or false", field(name)),
        }
    };
    let http = match &step.http {
        Some(http) => Some(HttpStepRequest {
            method: http.method.clone(),
            url: http.url.clone(),
            body: http.body.clone(),
            expect_status: number(field("http.expect_status"), &http.expect_status)?,
            expect_body: http.expect_body.clone(),
        }),
        None => None,
    };
    let health = match &step.health {
        Some(health) => Some(HealthStepRequest {
            http: health.http.clone(),
            tcp: health.tcp.clone(),
            interval: health.interval.clone(),
            successes: number(field("health.successes"), &health.successes)?,
            failures: number(field("health.failures"), &health.failures)?,
        }),
        None => None,
    };
    Ok(StepRequest {
        name: step.name.clone(),
        exec: step.exec.clone(),
        http,
        health,
        wait: step.wait.clone(),
        manual: step
            .manual
            .as_ref()
            .map(|manual| ManualStepRequest { prompt: manual.prompt.clone(), default: manual.default.clone() }),
        env: step.env.clone(),
        working_dir: step.working_dir.clone(),
        timeout: step.timeout.clone(),
        retries: number(field("retries"), &step.retries)?,
        backoff: step.backoff.clone(),
        idempotent: boolean("idempotent", &step.idempotent)?,
        reversible: boolean("reversible", &step.reversible)?,
        per_target: boolean("per_target", &step.per_target)?,
    })
}

impl Tabular for PlanResponse {
    fn table(&self) -> String {
        rows(&self.changes)
    }
}

impl Row for PlannedChangeResponse {
    const HEADERS: &'static [&'static str] = &["op", "kind", "name", "changes"];

    fn cells(&self) -> Vec<String> {
        vec![self.op.clone(), self.kind.clone(), self.name.clone(), list(&self.fields)]
    }
}

/// The `changes` section as the API takes it: YAML's numbers as JSON numbers.
fn change_policy_request(input: &ChangePolicyInput) -> anyhow::Result<ChangePolicyRequest> {
    let number = |field: &str, scalar: &Option<Scalar>| -> anyhow::Result<Option<serde_json::Number>> {
        scalar.as_ref().map(|Scalar(text)| json_number(text).with_context(|| format!("changes.{field}"))).transpose()
    };
    let risk = match &input.risk {
        Some(risk) => {
            let mut weights = BTreeMap::new();
            if let Some(given) = &risk.weights {
                let fields = [
                    ("blast_radius", &given.blast_radius),
                    ("size", &given.size),
                    ("failure_rate", &given.failure_rate),
                    ("environment_tier", &given.environment_tier),
                    ("schedule", &given.schedule),
                    ("emergency", &given.emergency),
                    ("evidence", &given.evidence),
                ];
                for (name, value) in fields {
                    if let Some(value) = number(&format!("risk.weights.{name}"), value)? {
                        weights.insert(name.to_owned(), value);
                    }
                }
            }
            let mut classes = BTreeMap::new();
            if let Some(given) = &risk.classes {
                for (name, value) in [("medium", &given.medium), ("high", &given.high), ("critical", &given.critical)] {
                    if let Some(value) = number(&format!("risk.classes.{name}"), value)? {
                        classes.insert(name.to_owned(), value);
                    }
                }
            }
            Some(RiskPolicyRequest {
                weights: (!weights.is_empty()).then_some(weights),
                classes: (!classes.is_empty()).then_some(classes),
                failure_window_days: number("risk.failure_window_days", &risk.failure_window_days)?,
                prior_rate: number("risk.prior_rate", &risk.prior_rate)?,
                prior_weight: number("risk.prior_weight", &risk.prior_weight)?,
            })
        }
        None => None,
    };
    let approvals = match &input.approvals {
        Some(approvals) => Some(ApprovalSettingsRequest {
            cab_quorum: number("approvals.cab_quorum", &approvals.cab_quorum)?,
            cab_required_teams: approvals.cab_required_teams.clone(),
            cab_label_teams: approvals
                .cab_label_teams
                .iter()
                .map(|entry| LabelTeamsRequest { label: entry.label.clone(), teams: entry.teams.clone() })
                .collect(),
            review_days: number("approvals.review_days", &approvals.review_days)?,
        }),
        None => None,
    };
    let mut environments = Vec::new();
    for (index, rules) in input.environments.iter().enumerate() {
        let requires_change = match &rules.requires_change {
            Some(Scalar(text)) => match text.as_str() {
                "true" | "True" | "TRUE" => Some(true),
                "false" | "False" | "FALSE" => Some(false),
                _ => bail!("changes.environments[{index}].requires_change: {text} is not true or false"),
            },
            None => None,
        };
        environments.push(EnvironmentChangeRulesRequest {
            name: rules.name.clone(),
            requires_change,
            stabilization_gap_minutes: number(
                &format!("environments[{index}].stabilization_gap_minutes"),
                &rules.stabilization_gap_minutes,
            )?,
            on_window_close: rules.on_window_close.clone(),
            requires_rollback_tested_in: rules.requires_rollback_tested_in.clone(),
        });
    }
    Ok(ChangePolicyRequest {
        risk,
        approvals,
        stabilization_gap_minutes: number("stabilization_gap_minutes", &input.stabilization_gap_minutes)?,
        environments,
        templates: input
            .templates
            .iter()
            .map(|template| ChangeTemplateRequest {
                name: template.name.clone(),
                description: template.description.clone(),
                services: template.services.clone(),
                environments: template.environments.clone(),
            })
            .collect(),
    })
}

/// A YAML 1.2 number as a JSON number: decimal, `0x` and `0o` integers, floats (`.5`, `+1e3`).
fn json_number(text: &str) -> anyhow::Result<serde_json::Number> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let radix =
        [("0x", 16), ("0o", 8)].into_iter().find_map(|(prefix, radix)| digits.strip_prefix(prefix).map(|d| (d, radix)));
    if let Some((digits, radix)) = radix {
        let value = i64::from_str_radix(digits, radix).with_context(|| format!("{text} is too large"))?;
        return Ok(serde_json::Number::from(if negative { -value } else { value }));
    }
    let decimal = if digits.starts_with('.') { format!("0{digits}") } else { digits.to_owned() };
    let decimal = if negative { format!("-{decimal}") } else { decimal };
    decimal.parse::<serde_json::Number>().map_err(|_| anyhow::anyhow!("{text} is not a finite number"))
}
