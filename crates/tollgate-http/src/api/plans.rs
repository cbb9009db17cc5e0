//! The JSON shape of a service's deployment plan (`deploy` in tollgate.yaml), as `POST /apply`
//! and the service endpoints take it: the YAML keys, one for one, so a problem's path names the
//! same key in both.

use serde::{Deserialize, Serialize};
use tollgate_core::change::policy::Scalar;
use tollgate_core::plan::{
    DeployInput, HealthStepInput, HttpStepInput, ManualStepInput, OnFailureInput, SecretInput, StepInput, TierInput,
};
use tollgate_core::rollout::{
    CanaryInput, EnvironmentStrategyInput, NginxInput, RollingInput, StrategyInput, TargetInput, TrafficInput,
};
use utoipa::ToSchema;

use crate::api::schema;

/// How Tollgate deploys a service: tiers of steps, per-environment variables, secret references
/// (`docs/deployments.md`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployRequest {
    #[serde(default)]
    pub tiers: Vec<TierRequest>,
    /// Per environment name, a mapping of variable names to text, numbers or booleans.
    #[schema(value_type = Option<std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>>>)]
    pub variables: Option<serde_json::Value>,
    #[serde(default)]
    pub secrets: Vec<SecretRequest>,
    /// Steps that undo the service's deployment, run when a deployment of it rolls back.
    #[serde(default)]
    pub rollback: Vec<StepRequest>,
    pub on_failure: Option<OnFailureRequest>,
    /// Where the service's instances run, per environment.
    #[serde(default)]
    pub targets: Vec<TargetRequest>,
    /// How a new release reaches the targets: exactly one key.
    pub strategy: Option<StrategyRequest>,
    /// Strategies for some environments, overriding `strategy` there.
    #[serde(default)]
    pub strategies: Vec<EnvironmentStrategyRequest>,
    /// How traffic moves between the targets: exactly one of `nginx` and `command`.
    pub traffic: Option<TrafficRequest>,
    /// Steps run at each verification point of the strategy.
    #[serde(default)]
    pub verify: Vec<StepRequest>,
}

/// One place the service's instance runs in an environment.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetRequest {
    #[schema(value_type = schema::Name)]
    pub name: String,
    #[schema(value_type = schema::Name)]
    pub environment: String,
    /// `host:port`.
    #[schema(value_type = schema::StepText)]
    pub address: String,
    /// The weight group (blue-green and canary move traffic between two).
    #[schema(value_type = Option<schema::Name>)]
    pub group: Option<String>,
    #[schema(value_type = Option<std::collections::BTreeMap<String, String>>)]
    pub labels: Option<serde_json::Value>,
}

/// Exactly one of the strategies; `all_at_once` and `blue_green` take an empty object.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StrategyRequest {
    #[schema(value_type = Option<Object>)]
    pub all_at_once: Option<serde_json::Value>,
    pub rolling: Option<RollingRequest>,
    #[schema(value_type = Option<Object>)]
    pub blue_green: Option<serde_json::Value>,
    pub canary: Option<CanaryRequest>,
}

/// A strategy for one environment: `environment` and exactly one of the strategy keys.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentStrategyRequest {
    #[schema(value_type = schema::Name)]
    pub environment: String,
    #[schema(value_type = Option<Object>)]
    pub all_at_once: Option<serde_json::Value>,
    pub rolling: Option<RollingRequest>,
    #[schema(value_type = Option<Object>)]
    pub blue_green: Option<serde_json::Value>,
    pub canary: Option<CanaryRequest>,
}

impl From<StrategyRequest> for StrategyInput {
    fn from(strategy: StrategyRequest) -> StrategyInput {
        StrategyInput {
            all_at_once: strategy.all_at_once,
            rolling: strategy.rolling.map(|rolling| RollingInput {
                batch: scalar(rolling.batch),
                max_unavailable: scalar(rolling.max_unavailable),
            }),
            blue_green: strategy.blue_green,
            canary: strategy.canary.map(|canary| CanaryInput {
                weights: canary.weights.into_iter().map(|weight| Scalar(weight.to_string())).collect(),
                pause: canary.pause,
            }),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollingRequest {
    /// A count (`2`) or a percentage (`25%`) of the targets.
    #[schema(value_type = Option<schema::StepText>)]
    pub batch: Option<String>,
    /// Never more targets out of traffic at once; the batch unless told.
    #[schema(value_type = Option<schema::StepText>)]
    pub max_unavailable: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CanaryRequest {
    /// Rising percentages of traffic for the new version, the last 100.
    #[schema(value_type = Vec<schema::CanaryWeight>)]
    pub weights: Vec<serde_json::Number>,
    /// How long each weight below 100 holds before its verification.
    #[schema(value_type = Option<schema::PlanDuration>)]
    pub pause: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrafficRequest {
    pub nginx: Option<NginxRequest>,
    /// A program and its arguments, given the shift as JSON on its standard input.
    #[serde(default)]
    #[schema(value_type = Vec<schema::StepText>)]
    pub command: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NginxRequest {
    /// The upstream's name in the nginx configuration.
    #[schema(value_type = schema::StepText)]
    pub upstream: String,
    /// The file the upstream block is written to (the nginx configuration includes it).
    #[schema(value_type = schema::StepText)]
    pub file: String,
    #[schema(value_type = Option<schema::StepText>)]
    pub prefix: Option<String>,
    #[schema(value_type = Option<schema::StepText>)]
    pub conf: Option<String>,
    #[schema(value_type = Option<schema::StepText>)]
    pub binary: Option<String>,
}

/// What a failed deployment does.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OnFailureRequest {
    /// `automatic` (the default) or `manual` (an operator confirms).
    #[schema(value_type = Option<schema::RollbackMode>)]
    pub rollback: Option<String>,
    /// `always`, `on_rollback_failure` (the default) or `never`.
    #[schema(value_type = Option<schema::QuarantineMode>)]
    pub quarantine: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierRequest {
    #[schema(value_type = schema::Name)]
    pub name: String,
    #[serde(default)]
    pub steps: Vec<StepRequest>,
}

/// One step: exactly one of `exec`, `http`, `health`, `wait` and `manual`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepRequest {
    #[schema(value_type = Option<schema::Name>)]
    pub name: Option<String>,
    /// The program and its arguments (templates).
    #[serde(default)]
    #[schema(value_type = Vec<schema::StepText>)]
    pub exec: Vec<String>,
    pub http: Option<HttpStepRequest>,
    pub health: Option<HealthStepRequest>,
    #[schema(value_type = Option<schema::PlanDuration>)]
    pub wait: Option<String>,
    pub manual: Option<ManualStepRequest>,
    /// For `exec`: environment variables (templates).
    #[schema(value_type = Option<std::collections::BTreeMap<String, String>>)]
    pub env: Option<serde_json::Value>,
    #[schema(value_type = Option<schema::StepText>)]
    pub working_dir: Option<String>,
    /// Per attempt.
    #[schema(value_type = Option<schema::PlanDuration>)]
    pub timeout: Option<String>,
    #[schema(value_type = Option<schema::StepRetries>)]
    pub retries: Option<serde_json::Number>,
    /// The pause before the first retry; doubled for each later one.
    #[schema(value_type = Option<schema::PlanDuration>)]
    pub backoff: Option<String>,
    pub idempotent: Option<bool>,
    /// Whether the plan's rollback steps can undo it (true unless told).
    pub reversible: Option<bool>,
    /// Whether it runs once per target the strategy hands it (false unless told).
    pub per_target: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpStepRequest {
    #[schema(value_type = Option<schema::HttpMethod>)]
    pub method: Option<String>,
    #[schema(value_type = schema::StepText)]
    pub url: String,
    #[schema(value_type = Option<schema::StepText>)]
    pub body: Option<String>,
    #[schema(value_type = Option<schema::ExpectedStatus>)]
    pub expect_status: Option<serde_json::Number>,
    #[schema(value_type = Option<schema::StepText>)]
    pub expect_body: Option<String>,
}

/// A step that waits for a person's judgment for at most its `timeout` (an hour unless told).
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManualStepRequest {
    /// What to ask (plain text).
    #[schema(value_type = schema::StepText)]
    pub prompt: String,
    /// `approve` or `reject` (the default): what happens when nobody judges in time.
    #[schema(value_type = Option<schema::Judgment>)]
    pub default: Option<String>,
}

/// A probe of exactly one of `http` (a URL) and `tcp` (`host:port`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthStepRequest {
    #[schema(value_type = Option<schema::StepText>)]
    pub http: Option<String>,
    #[schema(value_type = Option<schema::StepText>)]
    pub tcp: Option<String>,
    #[schema(value_type = Option<schema::PlanDuration>)]
    pub interval: Option<String>,
    #[schema(value_type = Option<schema::ProbeCount>)]
    pub successes: Option<serde_json::Number>,
    #[schema(value_type = Option<schema::ProbeCount>)]
    pub failures: Option<serde_json::Number>,
}

/// Where a secret's value is read when a step runs: exactly one of `env` and `file`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretRequest {
    #[schema(value_type = schema::PlanIdentifier)]
    pub name: String,
    /// A variable of the server's environment.
    #[schema(value_type = Option<schema::PlanIdentifier>)]
    pub env: Option<String>,
    /// A file the server can read.
    #[schema(value_type = Option<schema::StepText>)]
    pub file: Option<String>,
}

fn scalar(value: Option<impl ToString>) -> Option<Scalar> {
    value.map(|value| Scalar(value.to_string()))
}

impl From<DeployRequest> for DeployInput {
    fn from(request: DeployRequest) -> DeployInput {
        DeployInput {
            tiers: request
                .tiers
                .into_iter()
                .map(|tier| TierInput { name: tier.name, steps: tier.steps.into_iter().map(Into::into).collect() })
                .collect(),
            variables: request.variables,
            secrets: request
                .secrets
                .into_iter()
                .map(|secret| SecretInput { name: secret.name, env: secret.env, file: secret.file })
                .collect(),
            rollback: request.rollback.into_iter().map(Into::into).collect(),
            on_failure: request
                .on_failure
                .map(|on_failure| OnFailureInput { rollback: on_failure.rollback, quarantine: on_failure.quarantine }),
            targets: request
                .targets
                .into_iter()
                .map(|target| TargetInput {
                    name: target.name,
                    environment: target.environment,
                    address: target.address,
                    group: target.group,
                    labels: target.labels,
                })
                .collect(),
            strategy: request.strategy.map(StrategyInput::from),
            strategies: request
                .strategies
                .into_iter()
                .map(|entry| {
                    let strategy = StrategyInput::from(StrategyRequest {
                        all_at_once: entry.all_at_once,
                        rolling: entry.rolling,
                        blue_green: entry.blue_green,
                        canary: entry.canary,
                    });
                    EnvironmentStrategyInput {
                        environment: entry.environment,
                        all_at_once: strategy.all_at_once,
                        rolling: strategy.rolling,
                        blue_green: strategy.blue_green,
                        canary: strategy.canary,
                    }
                })
                .collect(),
            traffic: request.traffic.map(|traffic| TrafficInput {
                nginx: traffic.nginx.map(|nginx| NginxInput {
                    upstream: nginx.upstream,
                    file: nginx.file,
                    prefix: nginx.prefix,
                    conf: nginx.conf,
                    binary: nginx.binary,
                }),
                command: traffic.command,
            }),
            verify: request.verify.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<StepRequest> for StepInput {
    fn from(step: StepRequest) -> StepInput {
        StepInput {
            name: step.name,
            exec: step.exec,
            http: step.http.map(|http| HttpStepInput {
                method: http.method,
                url: http.url,
                body: http.body,
                expect_status: scalar(http.expect_status),
                expect_body: http.expect_body,
            }),
            health: step.health.map(|health| HealthStepInput {
                http: health.http,
                tcp: health.tcp,
                interval: health.interval,
                successes: scalar(health.successes),
                failures: scalar(health.failures),
            }),
            wait: step.wait,
            manual: step.manual.map(|manual| ManualStepInput { prompt: manual.prompt, default: manual.default }),
            env: step.env,
            working_dir: step.working_dir,
            timeout: step.timeout,
            retries: scalar(step.retries),
            backoff: step.backoff,
            idempotent: scalar(step.idempotent),
            reversible: scalar(step.reversible),
            per_target: scalar(step.per_target),
        }
    }
}
