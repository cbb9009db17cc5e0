//! Deployment plans: how a service is deployed, as tiers of steps, declared in `tollgate.yaml`
//! under a service's `deploy` key.
//!
//! A plan is a list of tiers run in order (`migrate`, then `app`); each tier is a list of steps
//! run in order. The tiers of a release's services form one DAG: a service's tiers run after
//! those of the services it depends on. A step is one of `exec` (a program with arguments),
//! `http` (a request with an expected answer), `health` (a probe repeated until it passes or
//! fails enough times in a row) and `wait`. A plan may also declare `rollback` steps, which undo
//! the service's deployment when it fails (`on_failure` says whether that happens by itself or
//! waits for an operator, and when the environment is quarantined), and mark steps that cannot
//! be undone (`reversible: false`, a migration that drops a column). Step fields that name things to act on (program,
//! arguments, environment values, URLs, addresses) are templates over the deployment's
//! variables; rendering them is the engine's job, not this module's.
//!
//! This module validates and stores plans; it runs nothing and never reads the clock.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::change::policy::Scalar;
use crate::name::{EnvironmentName, StepName};
use crate::rollout::{
    check_rollout, parse_strategies, parse_strategy, parse_targets, parse_traffic, Batch, EnvironmentStrategyInput,
    Strategy, StrategyInput, Target, TargetInput, TrafficInput, TrafficProvider, TrafficShift,
};
use crate::violation::{Problem, Violations};

/// The most tiers one plan holds.
pub const MAX_TIERS: usize = 32;
/// The most steps one plan holds, over all its tiers.
pub const MAX_STEPS: usize = 1000;
/// The most arguments, environment variables or plan variables one list holds.
pub const MAX_ITEMS: usize = 256;
/// The longest template or value accepted in a step, in bytes.
pub const MAX_TEXT_LEN: usize = 4096;
/// The most retries a step may ask for.
pub const MAX_RETRIES: u32 = 10;

/// How a service is deployed: its tiers, its per-environment variables and the secrets its
/// steps may reference. Stored with the service and written into the audit log with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentPlan {
    pub tiers: Vec<Tier>,
    /// Values per environment, available to templates as `vars.NAME`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<EnvironmentName, BTreeMap<String, String>>,
    /// Secrets, available to templates as `secrets.NAME`; their values never reach a log.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretRef>,
    /// Steps that undo this service's deployment, run in order when a deployment of the release
    /// rolls back after this service's steps began.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollback: Vec<StepSpec>,
    /// What a failed deployment does.
    #[serde(default, skip_serializing_if = "OnFailure::is_default")]
    pub on_failure: OnFailure,
    /// Where the service's instances run, per environment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<Target>,
    /// How a new release reaches the targets.
    #[serde(default, skip_serializing_if = "Strategy::is_default")]
    pub strategy: Strategy,
    /// Strategies for some environments, overriding `strategy` there (blue-green in staging, a
    /// canary in prod).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub strategies: BTreeMap<EnvironmentName, Strategy>,
    /// How traffic moves between targets, for strategies that move it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<Box<TrafficProvider>>,
    /// Steps run at each verification point of the strategy: after each canary weight (and its
    /// pause), after a blue-green switch, after each rolling batch, after the tiers otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verify: Vec<StepSpec>,
}

/// What a failed deployment of the plan's service does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnFailure {
    pub rollback: RollbackMode,
    pub quarantine: QuarantineMode,
}

impl OnFailure {
    pub fn is_default(&self) -> bool {
        *self == OnFailure::default()
    }
}

/// Whether a failed deployment rolls back by itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RollbackMode {
    /// The rollback steps start as soon as a step fails.
    #[default]
    Automatic,
    /// The deployment waits for an operator to confirm the rollback (or abort without one).
    Manual,
}

crate::keyword_enum!(RollbackMode { Automatic => "automatic", Manual => "manual" });

/// When a failed deployment quarantines its environment: no further deployment there until an
/// authorized user lifts the quarantine with a reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuarantineMode {
    /// After every failed deployment, rolled back or not.
    Always,
    /// When a rollback was needed and did not succeed (it failed, was refused or aborted): the
    /// environment is in a state nobody vouches for.
    #[default]
    OnRollbackFailure,
    Never,
}

crate::keyword_enum!(QuarantineMode { Always => "always", OnRollbackFailure => "on_rollback_failure", Never => "never" });

/// Steps run one after the other; a tier starts when the one before it succeeded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tier {
    pub name: StepName,
    pub steps: Vec<StepSpec>,
}

/// One step of a plan, as declared (its templates not yet rendered).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepSpec {
    /// Unique within its tier.
    pub name: StepName,
    pub action: StepAction,
    /// The longest one attempt may run before it is stopped and counted as failed.
    #[serde(rename = "timeout_ms")]
    pub timeout: StepDuration,
    /// How many times a failed attempt is tried again.
    pub retries: u32,
    /// The pause before the first retry; it doubles for each later one.
    #[serde(rename = "backoff_ms")]
    pub backoff: StepDuration,
    /// Whether running the step twice does no harm. After a crash mid-step, an idempotent step
    /// runs again; any other step waits for an operator.
    pub idempotent: bool,
    /// Whether the plan's rollback steps can undo what the step did. Rolling back across an
    /// irreversible step that ran needs an operator's confirmation, and is refused when the
    /// plan declares no rollback steps to recover with.
    #[serde(default = "reversible_by_default")]
    pub reversible: bool,
    /// Whether the step runs once for each target the strategy hands it (with the target's
    /// variables), rather than once.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub per_target: bool,
}

fn reversible_by_default() -> bool {
    true
}

impl StepSpec {
    /// A step the engine adds to a run (a traffic shift, a canary's pause): run once, harmless
    /// to repeat, not retried, given a minute.
    pub fn generated(name: &str, action: StepAction) -> StepSpec {
        let timeout = match &action {
            StepAction::Wait { duration } => StepDuration(duration.0.saturating_add(60_000).min(StepDuration::MAX.0)),
            _ => StepDuration(60_000),
        };
        StepSpec {
            name: StepName::parse(name).expect("generated step names are valid"),
            action,
            timeout,
            retries: 0,
            backoff: StepDuration(1_000),
            idempotent: true,
            reversible: true,
            per_target: false,
        }
    }
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepAction {
    /// Runs a program (looked up on `PATH` when it has no slash) with arguments; success is exit
    /// status 0.
    Exec { program: String, args: Vec<String>, env: BTreeMap<String, String>, working_dir: Option<String> },
    /// Sends one request; success is the expected status (and body text, when given).
    Http { method: HttpMethod, url: String, body: Option<String>, expect_status: u16, expect_body: Option<String> },
    /// Probes until `successes` probes in a row pass (success) or `failures` in a row fail.
    Health {
        probe: Probe,
        #[serde(rename = "interval_ms")]
        interval: StepDuration,
        successes: u32,
        failures: u32,
    },
    /// Waits.
    Wait {
        #[serde(rename = "duration_ms")]
        duration: StepDuration,
    },
    /// Waits for a person's judgment (approve or reject), for at most the step's timeout; then
    /// `default` decides. No worker is held while it waits.
    Manual { prompt: String, default: Judgment },
    /// Moves traffic between the service's targets through its traffic provider. Added by the
    /// engine's strategies; a plan does not declare it.
    Traffic(Box<TrafficShift>),
}

/// A person's judgment of a manual step, or its default when nobody judged in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Judgment {
    /// The step succeeds.
    Approve,
    /// The step fails (and the deployment rolls back as its plans say).
    Reject,
}

crate::keyword_enum!(Judgment { Approve => "approve", Reject => "reject" });

/// What a health step probes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Probe {
    /// An HTTP GET answered with a 2xx status.
    Http { url: String },
    /// A TCP connection accepted at `host:port`.
    Tcp { address: String },
}

/// The methods an `http` step sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
}

crate::keyword_enum!(HttpMethod {
    Get => "GET", Head => "HEAD", Post => "POST", Put => "PUT", Patch => "PATCH", Delete => "DELETE",
});

/// Where a secret's value comes from when a step runs: the server's environment or a file it
/// can read. Only the reference is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRef {
    /// The name templates use (`secrets.db_password`).
    pub name: String,
    pub source: SecretSource,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretSource {
    Env(String),
    File(String),
}

/// A duration written in a plan (`500ms`, `30s`, `2m`, `1h`), stored in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StepDuration(u64);

impl StepDuration {
    /// A day: no single step or pause of a deployment lasts longer.
    pub const MAX: StepDuration = StepDuration(86_400_000);

    pub const fn from_millis(millis: u64) -> StepDuration {
        StepDuration(millis)
    }

    /// Parses a whole number followed by `ms`, `s`, `m` or `h`, at most a day.
    pub fn parse(value: &str) -> Result<StepDuration, Problem> {
        let invalid = || Problem::Invalid {
            reason: format!("{value:?} is not a duration (a whole number followed by ms, s, m or h, at most 24h)"),
        };
        let digits = value.bytes().take_while(u8::is_ascii_digit).count();
        let (number, unit) = value.split_at(digits);
        let number: u64 = number.parse().map_err(|_| invalid())?;
        let factor = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            _ => return Err(invalid()),
        };
        match number.checked_mul(factor) {
            Some(millis) if millis <= Self::MAX.0 => Ok(StepDuration(millis)),
            _ => Err(invalid()),
        }
    }

    pub fn millis(self) -> u64 {
        self.0
    }

    pub fn as_std(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.0)
    }
}

impl fmt::Display for StepDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            millis if millis % 3_600_000 == 0 && millis > 0 => write!(f, "{}h", millis / 3_600_000),
            millis if millis % 60_000 == 0 && millis > 0 => write!(f, "{}m", millis / 60_000),
            millis if millis % 1_000 == 0 => write!(f, "{}s", millis / 1_000),
            millis => write!(f, "{millis}ms"),
        }
    }
}

impl DeploymentPlan {
    /// Every step with its tier, in the order they run.
    pub fn steps(&self) -> impl Iterator<Item = (&Tier, &StepSpec)> {
        self.tiers.iter().flat_map(|tier| tier.steps.iter().map(move |step| (tier, step)))
    }

    /// The strategy of `environment`: its own, or the plan's.
    pub fn strategy_for(&self, environment: &EnvironmentName) -> &Strategy {
        self.strategies.get(environment).unwrap_or(&self.strategy)
    }

    /// The variables of `environment`, empty when the plan declares none for it.
    pub fn variables_for(&self, environment: &EnvironmentName) -> BTreeMap<String, String> {
        self.variables.get(environment).cloned().unwrap_or_default()
    }
}

impl StepAction {
    /// `exec`, `http`, `health` or `wait`.
    pub fn kind(&self) -> &'static str {
        match self {
            StepAction::Exec { .. } => "exec",
            StepAction::Http { .. } => "http",
            StepAction::Health { .. } => "health",
            StepAction::Wait { .. } => "wait",
            StepAction::Manual { .. } => "manual",
            StepAction::Traffic(_) => "traffic",
        }
    }
}

/// The `deploy` key of a service, as typed.
#[derive(Debug, Clone, Default)]
pub struct DeployInput {
    pub tiers: Vec<TierInput>,
    /// A mapping from environment names to mappings of variable names to text.
    pub variables: Option<serde_json::Value>,
    pub secrets: Vec<SecretInput>,
    /// Steps that undo the service's deployment.
    pub rollback: Vec<StepInput>,
    pub on_failure: Option<OnFailureInput>,
    pub targets: Vec<TargetInput>,
    pub strategy: Option<StrategyInput>,
    /// Strategies for some environments, overriding `strategy` there.
    pub strategies: Vec<EnvironmentStrategyInput>,
    pub traffic: Option<TrafficInput>,
    /// Steps run at each verification point of the strategy.
    pub verify: Vec<StepInput>,
}

/// `on_failure` as typed: `rollback: automatic|manual`, `quarantine: always|on_rollback_failure|never`.
#[derive(Debug, Clone, Default)]
pub struct OnFailureInput {
    pub rollback: Option<String>,
    pub quarantine: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct TierInput {
    pub name: String,
    pub steps: Vec<StepInput>,
}

/// One step as typed: exactly one of `exec`, `http`, `health`, `wait` and `manual` is given.
#[derive(Debug, Clone, Default)]
pub struct StepInput {
    pub name: Option<String>,
    pub exec: Vec<String>,
    pub http: Option<HttpStepInput>,
    pub health: Option<HealthStepInput>,
    pub wait: Option<String>,
    pub manual: Option<ManualStepInput>,
    /// For `exec`: a mapping of variable names to text.
    pub env: Option<serde_json::Value>,
    pub working_dir: Option<String>,
    pub timeout: Option<String>,
    pub retries: Option<Scalar>,
    pub backoff: Option<String>,
    pub idempotent: Option<Scalar>,
    pub reversible: Option<Scalar>,
    pub per_target: Option<Scalar>,
}

#[derive(Debug, Clone, Default)]
pub struct HttpStepInput {
    pub method: Option<String>,
    pub url: String,
    pub body: Option<String>,
    pub expect_status: Option<Scalar>,
    pub expect_body: Option<String>,
}

/// A manual step as typed: what to ask, and what happens when nobody answers in time.
#[derive(Debug, Clone, Default)]
pub struct ManualStepInput {
    pub prompt: String,
    /// `approve` or `reject` (the default).
    pub default: Option<String>,
}

/// A health probe as typed: exactly one of `http` (a URL) and `tcp` (`host:port`).
#[derive(Debug, Clone, Default)]
pub struct HealthStepInput {
    pub http: Option<String>,
    pub tcp: Option<String>,
    pub interval: Option<String>,
    pub successes: Option<Scalar>,
    pub failures: Option<Scalar>,
}

/// A secret as typed: exactly one of `env` and `file`.
#[derive(Debug, Clone, Default)]
pub struct SecretInput {
    pub name: String,
    pub env: Option<String>,
    pub file: Option<String>,
}

impl DeployInput {
    /// Validates the plan, reporting every problem with its path (`tiers[0].steps[1].timeout`).
    /// Template syntax is checked by the engine's renderer at apply time, not here.
    pub fn parse(self) -> Result<DeploymentPlan, Violations> {
        let mut violations = Violations::new();
        if self.tiers.is_empty() {
            violations.push("tiers", Problem::Required);
        }
        if self.tiers.len() > MAX_TIERS {
            violations.push("tiers", Problem::Invalid { reason: format!("at most {MAX_TIERS} tiers") });
        }
        let n_steps: usize = self.tiers.iter().map(|tier| tier.steps.len()).sum();
        if n_steps > MAX_STEPS {
            violations.push("tiers", Problem::Invalid { reason: format!("at most {MAX_STEPS} steps in all") });
        }
        let mut tiers = Vec::with_capacity(self.tiers.len());
        let mut tier_names = BTreeSet::new();
        for (index, tier) in self.tiers.into_iter().enumerate() {
            let mut tier_violations = Violations::new();
            if let Some(tier) = parse_tier(tier, &mut tier_violations) {
                if !tier_names.insert(tier.name.clone()) {
                    tier_violations.push("name", Problem::Duplicate { value: tier.name.to_string() });
                }
                tiers.push(tier);
            }
            violations.extend_within(&format!("tiers[{index}]"), tier_violations);
        }
        let variables = parse_variables(self.variables, &mut violations);
        let mut secrets = Vec::with_capacity(self.secrets.len());
        let mut secret_names = BTreeSet::new();
        for (index, secret) in self.secrets.into_iter().enumerate() {
            let field = format!("secrets[{index}]");
            if !secret_names.insert(secret.name.clone()) {
                violations.push(format!("{field}.name"), Problem::Duplicate { value: secret.name.clone() });
            }
            if let Some(secret) = parse_secret(secret, &field, &mut violations) {
                secrets.push(secret);
            }
        }
        if self.rollback.len() > MAX_STEPS {
            violations.push("rollback", Problem::Invalid { reason: format!("at most {MAX_STEPS} steps") });
        }
        let rollback = parse_steps(self.rollback, "rollback", &mut violations);
        let on_failure = match self.on_failure {
            None => Some(OnFailure::default()),
            Some(input) => {
                let rollback = optional(
                    &mut violations,
                    "on_failure.rollback",
                    input.rollback.as_deref(),
                    str::parse,
                    RollbackMode::default(),
                );
                let quarantine = optional(
                    &mut violations,
                    "on_failure.quarantine",
                    input.quarantine.as_deref(),
                    str::parse,
                    QuarantineMode::default(),
                );
                rollback.zip(quarantine).map(|(rollback, quarantine)| OnFailure { rollback, quarantine })
            }
        };
        let on_failure = on_failure.unwrap_or_default();
        if self.verify.len() > MAX_ITEMS {
            violations.push("verify", Problem::Invalid { reason: format!("at most {MAX_ITEMS} steps") });
        }
        let verify = parse_steps(self.verify, "verify", &mut violations);
        let targets = parse_targets(self.targets, &mut violations);
        let strategy = parse_strategy(self.strategy, "strategy", &mut violations);
        let strategies = parse_strategies(self.strategies, &mut violations);
        let traffic = parse_traffic(self.traffic, &mut violations);
        let parsed = strategy.is_some() && traffic.is_some();
        let plan = DeploymentPlan {
            tiers,
            variables,
            secrets,
            rollback,
            on_failure,
            targets,
            strategy: strategy.unwrap_or_default(),
            strategies,
            traffic: traffic.flatten().map(Box::new),
            verify,
        };
        if parsed {
            check_rollout(&plan, &mut violations);
        }
        violations.into_result(plan)
    }
}

/// A stored plan as typed input again, so an edit that does not mention the plan (a service
/// changed through the API) keeps it: parsing the result gives the same plan back.
impl From<DeploymentPlan> for DeployInput {
    fn from(plan: DeploymentPlan) -> DeployInput {
        let variables = (!plan.variables.is_empty()).then(|| {
            let environments = plan.variables.into_iter().map(|(environment, values)| {
                let values = values.into_iter().map(|(name, value)| (name, serde_json::Value::String(value)));
                (environment.to_string(), serde_json::Value::Object(values.collect()))
            });
            serde_json::Value::Object(environments.collect())
        });
        let secrets = plan
            .secrets
            .into_iter()
            .map(|secret| match secret.source {
                SecretSource::Env(variable) => SecretInput { name: secret.name, env: Some(variable), file: None },
                SecretSource::File(path) => SecretInput { name: secret.name, env: None, file: Some(path) },
            })
            .collect();
        let tiers = plan
            .tiers
            .into_iter()
            .map(|tier| TierInput {
                name: tier.name.to_string(),
                steps: tier.steps.into_iter().map(step_input).collect(),
            })
            .collect();
        let on_failure = (!plan.on_failure.is_default()).then(|| OnFailureInput {
            rollback: Some(plan.on_failure.rollback.to_string()),
            quarantine: Some(plan.on_failure.quarantine.to_string()),
        });
        let rollback = plan.rollback.into_iter().map(step_input).collect();
        let verify = plan.verify.into_iter().map(step_input).collect();
        let targets = plan.targets.into_iter().map(target_input).collect();
        let strategy = (!plan.strategy.is_default()).then(|| strategy_input(plan.strategy));
        let strategies = plan
            .strategies
            .into_iter()
            .map(|(environment, strategy)| {
                let input = strategy_input(strategy);
                EnvironmentStrategyInput {
                    environment: environment.to_string(),
                    all_at_once: input.all_at_once,
                    rolling: input.rolling,
                    blue_green: input.blue_green,
                    canary: input.canary,
                }
            })
            .collect();
        let traffic = plan.traffic.map(|provider| traffic_input(*provider));
        DeployInput { tiers, variables, secrets, rollback, on_failure, targets, strategy, strategies, traffic, verify }
    }
}

fn target_input(target: Target) -> TargetInput {
    let labels = (!target.labels.is_empty()).then(|| {
        let labels = target.labels.into_iter().map(|(name, value)| (name, serde_json::Value::String(value)));
        serde_json::Value::Object(labels.collect())
    });
    TargetInput {
        name: target.name.to_string(),
        environment: target.environment.to_string(),
        address: target.address,
        group: target.group.map(|group| group.to_string()),
        labels,
    }
}

fn strategy_input(strategy: Strategy) -> StrategyInput {
    let batch = |batch: Batch| {
        Scalar(match batch {
            Batch::Count(count) => count.to_string(),
            Batch::Percent(percent) => format!("{percent}%"),
        })
    };
    let empty = || Some(serde_json::Value::Object(serde_json::Map::new()));
    match strategy {
        Strategy::AllAtOnce => StrategyInput { all_at_once: empty(), ..StrategyInput::default() },
        Strategy::BlueGreen => StrategyInput { blue_green: empty(), ..StrategyInput::default() },
        Strategy::Rolling { batch: size, max_unavailable } => StrategyInput {
            rolling: Some(crate::rollout::RollingInput {
                batch: Some(batch(size)),
                max_unavailable: Some(batch(max_unavailable)),
            }),
            ..StrategyInput::default()
        },
        Strategy::Canary { weights, pause } => StrategyInput {
            canary: Some(crate::rollout::CanaryInput {
                weights: weights.into_iter().map(|weight| Scalar(weight.to_string())).collect(),
                pause: Some(pause.to_string()),
            }),
            ..StrategyInput::default()
        },
    }
}

fn traffic_input(provider: TrafficProvider) -> TrafficInput {
    match provider {
        TrafficProvider::Nginx { upstream, file, prefix, conf, binary } => TrafficInput {
            nginx: Some(crate::rollout::NginxInput { upstream, file, prefix, conf, binary: Some(binary) }),
            command: Vec::new(),
        },
        TrafficProvider::Command { program, args } => {
            TrafficInput { nginx: None, command: std::iter::once(program).chain(args).collect() }
        }
    }
}

fn step_input(step: StepSpec) -> StepInput {
    let scalar = |value: String| Some(Scalar(value));
    let mut input = StepInput {
        name: Some(step.name.to_string()),
        timeout: Some(step.timeout.to_string()),
        retries: scalar(step.retries.to_string()),
        backoff: Some(step.backoff.to_string()),
        idempotent: scalar(step.idempotent.to_string()),
        reversible: scalar(step.reversible.to_string()),
        per_target: step.per_target.then(|| Scalar("true".to_owned())),
        ..StepInput::default()
    };
    match step.action {
        StepAction::Exec { program, args, env, working_dir } => {
            input.exec = std::iter::once(program).chain(args).collect();
            let env = env.into_iter().map(|(name, value)| (name, serde_json::Value::String(value)));
            input.env = Some(serde_json::Value::Object(env.collect()));
            input.working_dir = working_dir;
        }
        StepAction::Http { method, url, body, expect_status, expect_body } => {
            input.http = Some(HttpStepInput {
                method: Some(method.to_string()),
                url,
                body,
                expect_status: scalar(expect_status.to_string()),
                expect_body,
            });
        }
        StepAction::Health { probe, interval, successes, failures } => {
            let (http, tcp) = match probe {
                Probe::Http { url } => (Some(url), None),
                Probe::Tcp { address } => (None, Some(address)),
            };
            input.health = Some(HealthStepInput {
                http,
                tcp,
                interval: Some(interval.to_string()),
                successes: scalar(successes.to_string()),
                failures: scalar(failures.to_string()),
            });
        }
        StepAction::Wait { duration } => input.wait = Some(duration.to_string()),
        StepAction::Manual { prompt, default } => {
            input.manual = Some(ManualStepInput { prompt, default: Some(default.to_string()) });
        }
        // Invariant: a parsed plan holds no traffic step (only runs do), so there is nothing to
        // give back.
        StepAction::Traffic(_) => {}
    }
    input
}

fn parse_tier(input: TierInput, violations: &mut Violations) -> Option<Tier> {
    let name = violations.check("name", StepName::parse(&input.name));
    if input.steps.is_empty() {
        violations.push("steps", Problem::Required);
    }
    let steps = parse_steps(input.steps, "steps", violations);
    Some(Tier { name: name?, steps })
}

/// A list of steps, each name unique in it; problems are reported under `field[index]`.
fn parse_steps(inputs: Vec<StepInput>, field: &str, violations: &mut Violations) -> Vec<StepSpec> {
    let mut steps = Vec::with_capacity(inputs.len());
    let mut step_names = BTreeSet::new();
    for (index, step) in inputs.into_iter().enumerate() {
        let mut step_violations = Violations::new();
        if let Some(step) = parse_step(step, index, &mut step_violations) {
            if !step_names.insert(step.name.clone()) {
                step_violations.push("name", Problem::Duplicate { value: step.name.to_string() });
            }
            steps.push(step);
        }
        violations.extend_within(&format!("{field}[{index}]"), step_violations);
    }
    steps
}

fn parse_step(input: StepInput, index: usize, violations: &mut Violations) -> Option<StepSpec> {
    let given: Vec<&str> = [
        (!input.exec.is_empty()).then_some("exec"),
        input.http.is_some().then_some("http"),
        input.health.is_some().then_some("health"),
        input.wait.is_some().then_some("wait"),
        input.manual.is_some().then_some("manual"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let kind = match given.as_slice() {
        [kind] => *kind,
        [] => {
            let reason = "a step needs one of exec, http, health, wait or manual".to_owned();
            violations.push("", Problem::Invalid { reason });
            return None;
        }
        several => {
            let reason = format!("a step does one thing, but {} are given", several.join(" and "));
            violations.push("", Problem::Invalid { reason });
            return None;
        }
    };
    let name = match &input.name {
        Some(name) => violations.check("name", StepName::parse(name)),
        None => Some(StepName::parse(&format!("{kind}-{}", index + 1)).expect("a kind and a number form a name")),
    };
    if kind != "exec" {
        for (field, given) in [("env", input.env.is_some()), ("working_dir", input.working_dir.is_some())] {
            if given {
                violations.push(field, Problem::Invalid { reason: format!("only an exec step takes {field}") });
            }
        }
    }
    let action = match kind {
        "exec" => parse_exec(input.exec, input.env, input.working_dir, violations),
        "http" => parse_http(input.http.expect("given"), violations),
        "health" => parse_health(input.health.expect("given"), violations),
        "manual" => parse_manual(input.manual.expect("given"), violations),
        _ => violations
            .check("wait", StepDuration::parse(input.wait.as_deref().expect("given")))
            .map(|duration| StepAction::Wait { duration }),
    };
    let default_timeout = match &action {
        Some(StepAction::Wait { duration }) => StepDuration(duration.0.saturating_add(60_000).min(StepDuration::MAX.0)),
        Some(StepAction::Manual { .. }) => StepDuration(3_600_000),
        Some(StepAction::Http { .. }) => StepDuration(30_000),
        _ => StepDuration(600_000),
    };
    let timeout = optional(violations, "timeout", input.timeout.as_deref(), StepDuration::parse, default_timeout);
    let backoff = optional(violations, "backoff", input.backoff.as_deref(), StepDuration::parse, StepDuration(1_000));
    let mut retries = optional(violations, "retries", input.retries.as_ref(), |value| count(value, 0, MAX_RETRIES), 0);
    if matches!(action, Some(StepAction::Manual { .. })) && retries.is_some_and(|retries| retries > 0) {
        violations.push("retries", Problem::Invalid { reason: "a manual step is judged once, not retried".to_owned() });
        retries = None;
    }
    // Probes and pauses are harmless to repeat; a GET or HEAD should be. Anything else is the
    // author's to vouch for.
    let default_idempotent = match &action {
        Some(StepAction::Exec { .. }) => false,
        Some(StepAction::Http { method, .. }) => matches!(method, HttpMethod::Get | HttpMethod::Head),
        _ => true,
    };
    let idempotent = optional(violations, "idempotent", input.idempotent.as_ref(), boolean, default_idempotent);
    let reversible = optional(violations, "reversible", input.reversible.as_ref(), boolean, true);
    let per_target = optional(violations, "per_target", input.per_target.as_ref(), boolean, false);
    Some(StepSpec {
        name: name?,
        action: action?,
        timeout: timeout?,
        retries: retries?,
        backoff: backoff?,
        idempotent: idempotent?,
        reversible: reversible?,
        per_target: per_target?,
    })
}

fn parse_exec(
    exec: Vec<String>,
    env: Option<serde_json::Value>,
    working_dir: Option<String>,
    violations: &mut Violations,
) -> Option<StepAction> {
    let mut ok = true;
    if exec.len() > MAX_ITEMS {
        violations.push("exec", Problem::Invalid { reason: format!("at most {MAX_ITEMS} arguments") });
        ok = false;
    }
    for (index, argument) in exec.iter().enumerate() {
        ok &= text(violations, &format!("exec[{index}]"), argument, index == 0);
    }
    let env = string_map(violations, "env", env, is_env_name, "an environment variable name");
    if let Some(working_dir) = &working_dir {
        ok &= text(violations, "working_dir", working_dir, true);
    }
    let mut exec = exec.into_iter();
    let program = exec.next().expect("exec is not empty");
    (ok && env.is_some()).then(|| StepAction::Exec {
        program,
        args: exec.collect(),
        env: env.expect("checked"),
        working_dir,
    })
}

fn parse_http(input: HttpStepInput, violations: &mut Violations) -> Option<StepAction> {
    let method = match &input.method {
        Some(method) => violations.check("http.method", method.parse()),
        None => Some(HttpMethod::Get),
    };
    let url_ok = text(violations, "http.url", &input.url, true);
    let body_ok = input.body.as_ref().is_none_or(|body| text(violations, "http.body", body, false));
    let expect_body_ok =
        input.expect_body.as_ref().is_none_or(|body| text(violations, "http.expect_body", body, false));
    let expect_status = optional(
        violations,
        "http.expect_status",
        input.expect_status.as_ref(),
        |value| count(value, 100, 599).map(|status| status as u16),
        200,
    );
    let (method, expect_status) = (method?, expect_status?);
    (url_ok && body_ok && expect_body_ok).then_some(StepAction::Http {
        method,
        url: input.url,
        body: input.body,
        expect_status,
        expect_body: input.expect_body,
    })
}

fn parse_manual(input: ManualStepInput, violations: &mut Violations) -> Option<StepAction> {
    let prompt_ok = text(violations, "manual.prompt", &input.prompt, true);
    let default =
        optional(violations, "manual.default", input.default.as_deref(), str::parse::<Judgment>, Judgment::Reject);
    prompt_ok.then_some(StepAction::Manual { prompt: input.prompt, default: default? })
}

fn parse_health(input: HealthStepInput, violations: &mut Violations) -> Option<StepAction> {
    let probe = match (input.http, input.tcp) {
        (Some(url), None) => text(violations, "health.http", &url, true).then_some(Probe::Http { url }),
        (None, Some(address)) => text(violations, "health.tcp", &address, true).then_some(Probe::Tcp { address }),
        _ => {
            let reason = "a health step probes one of http (a URL) or tcp (host:port)".to_owned();
            violations.push("health", Problem::Invalid { reason });
            None
        }
    };
    let interval =
        optional(violations, "health.interval", input.interval.as_deref(), StepDuration::parse, StepDuration(2_000));
    let successes = optional(violations, "health.successes", input.successes.as_ref(), |value| count(value, 1, 100), 1);
    let failures = optional(violations, "health.failures", input.failures.as_ref(), |value| count(value, 1, 100), 3);
    Some(StepAction::Health { probe: probe?, interval: interval?, successes: successes?, failures: failures? })
}

fn parse_variables(
    value: Option<serde_json::Value>,
    violations: &mut Violations,
) -> BTreeMap<EnvironmentName, BTreeMap<String, String>> {
    let mut variables = BTreeMap::new();
    let Some(value) = value else { return variables };
    let serde_json::Value::Object(environments) = value else {
        let reason = "a mapping from environment names to variables".to_owned();
        violations.push("variables", Problem::Invalid { reason });
        return variables;
    };
    for (environment, values) in environments {
        let field = format!("variables.{environment}");
        let Some(name) = violations.check(&field, EnvironmentName::parse(&environment)) else { continue };
        if let Some(values) = string_map(violations, &field, Some(values), is_identifier, "a variable name") {
            variables.insert(name, values);
        }
    }
    variables
}

fn parse_secret(input: SecretInput, field: &str, violations: &mut Violations) -> Option<SecretRef> {
    let name_ok = is_identifier(&input.name);
    if !name_ok {
        let reason =
            format!("{:?} is not a secret name (letters, digits and '_', not starting with a digit)", input.name);
        violations.push(format!("{field}.name"), Problem::Invalid { reason });
    }
    let source = match (input.env, input.file) {
        (Some(variable), None) if is_env_name(&variable) => Some(SecretSource::Env(variable)),
        (Some(variable), None) => {
            let reason = format!("{variable:?} is not an environment variable name");
            violations.push(format!("{field}.env"), Problem::Invalid { reason });
            None
        }
        (None, Some(path)) => {
            text(violations, &format!("{field}.file"), &path, true).then_some(SecretSource::File(path))
        }
        _ => {
            let reason = "a secret comes from one of env (a variable of the server) or file (a path)".to_owned();
            violations.push(field, Problem::Invalid { reason });
            None
        }
    };
    if !name_ok {
        return None;
    }
    Some(SecretRef { name: input.name, source: source? })
}

/// A mapping of names to text, each name accepted by `valid_name`.
fn string_map(
    violations: &mut Violations,
    field: &str,
    value: Option<serde_json::Value>,
    valid_name: fn(&str) -> bool,
    what: &str,
) -> Option<BTreeMap<String, String>> {
    let Some(value) = value else { return Some(BTreeMap::new()) };
    let serde_json::Value::Object(entries) = value else {
        violations.push(field, Problem::Invalid { reason: "a mapping of names to text".to_owned() });
        return None;
    };
    if entries.len() > MAX_ITEMS {
        violations.push(field, Problem::Invalid { reason: format!("at most {MAX_ITEMS} entries") });
        return None;
    }
    let mut map = BTreeMap::new();
    let mut ok = true;
    for (name, value) in entries {
        let entry = format!("{field}.{name}");
        if !valid_name(&name) {
            violations.push(&*entry, Problem::Invalid { reason: format!("{name:?} is not {what}") });
            ok = false;
            continue;
        }
        // Numbers and booleans are written as YAML gives them; quoting is not needed for a port.
        let text_value = match value {
            serde_json::Value::String(text) => text,
            serde_json::Value::Number(number) => number.to_string(),
            serde_json::Value::Bool(flag) => flag.to_string(),
            _ => {
                violations.push(&*entry, Problem::Invalid { reason: "a text, number or boolean".to_owned() });
                ok = false;
                continue;
            }
        };
        ok &= text(violations, &entry, &text_value, false);
        map.insert(name, text_value);
    }
    ok.then_some(map)
}

/// Checks a text field as [`text`] does, for the other parts of a plan.
pub(crate) fn check_text(violations: &mut Violations, field: &str, value: &str, required: bool) -> bool {
    text(violations, field, value, required)
}

/// A mapping of identifiers to text, as the plan's variables are.
pub(crate) fn parse_string_map(
    violations: &mut Violations,
    field: &str,
    value: Option<serde_json::Value>,
) -> Option<BTreeMap<String, String>> {
    string_map(violations, field, value, is_identifier, "a label name")
}

/// Checks a text field: at most [`MAX_TEXT_LEN`] bytes, no NUL, and not empty when `required`.
fn text(violations: &mut Violations, field: &str, value: &str, required: bool) -> bool {
    if required && value.trim().is_empty() {
        violations.push(field, Problem::Required);
        return false;
    }
    if value.len() > MAX_TEXT_LEN {
        violations.push(field, Problem::TooLong { max: MAX_TEXT_LEN });
        return false;
    }
    if value.contains('\0') {
        violations.push(field, Problem::Invalid { reason: "contains a NUL character".to_owned() });
        return false;
    }
    true
}

fn optional<I: ?Sized, T>(
    violations: &mut Violations,
    field: &str,
    value: Option<&I>,
    parse: impl FnOnce(&I) -> Result<T, Problem>,
    default: T,
) -> Option<T> {
    match value {
        Some(value) => violations.check(field, parse(value)),
        None => Some(default),
    }
}

fn count(value: &Scalar, min: u32, max: u32) -> Result<u32, Problem> {
    match value.0.parse::<u32>() {
        Ok(number) if (min..=max).contains(&number) => Ok(number),
        _ => Err(Problem::Invalid { reason: format!("{:?} is not a whole number from {min} to {max}", value.0) }),
    }
}

fn boolean(value: &Scalar) -> Result<bool, Problem> {
    match value.0.as_str() {
        "true" | "True" | "TRUE" => Ok(true),
        "false" | "False" | "FALSE" => Ok(false),
        other => Err(Problem::Invalid { reason: format!("{other:?} is not true or false") }),
    }
}

fn is_identifier(value: &str) -> bool {
    let mut bytes = value.bytes();
    matches!(bytes.next(), Some(first) if first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
        && value.len() <= 64
}

fn is_env_name(value: &str) -> bool {
    is_identifier(value) && value.len() <= 128
}

#[cfg(test)]
mod tests;
