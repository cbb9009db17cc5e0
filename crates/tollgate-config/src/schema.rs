//! The shape of `tollgate.yaml`: which keys each mapping accepts, in the order messages list them.
//!
//! Each line names the fields of one core input struct; the YAML keys are the field names, and
//! each field's type says whether it is required (`String`) or may be left out (`Option`, `Vec`).
//! A new section or key is a new field in core and its name here (plus one line for a new struct).
//! Values are only checked for shape here; their meaning is checked by `tollgate_core::apply`.

use tollgate_core::apply::ApplyInput;
use tollgate_core::change::policy::{
    ApprovalSettingsInput, ChangePolicyInput, ChangeTemplateInput, EnvironmentChangeRulesInput, LabelTeamsInput,
    RiskClassesInput, RiskPolicyInput, RiskWeightsInput,
};
use tollgate_core::environment::EnvironmentInput;
use tollgate_core::gate::GateInput;
use tollgate_core::lifecycle::LifecycleInput;
use tollgate_core::plan::{
    DeployInput, HealthStepInput, HttpStepInput, ManualStepInput, OnFailureInput, SecretInput, StepInput, TierInput,
};
use tollgate_core::rollout::{
    CanaryInput, EnvironmentStrategyInput, NginxInput, RollingInput, StrategyInput, TargetInput, TrafficInput,
};
use tollgate_core::service::ServiceInput;
use tollgate_core::sso::SsoInput;
use tollgate_core::team::TeamInput;

use crate::decode::decode_mapping;

decode_mapping!(ApplyInput { teams, environments, lifecycles, services, gates, sso, changes });

decode_mapping!(TeamInput { name, display_name, members, artifact_pattern });

decode_mapping!(EnvironmentInput { name, tier, region });

decode_mapping!(LifecycleInput { name, environments });

decode_mapping!(ServiceInput { name, owner, criticality, depends_on, description, labels, deploy });

decode_mapping!(DeployInput {
    tiers,
    variables,
    secrets,
    rollback,
    on_failure,
    targets,
    strategy,
    strategies,
    traffic,
    verify,
});

decode_mapping!(EnvironmentStrategyInput { environment, all_at_once, rolling, blue_green, canary });

decode_mapping!(TargetInput { name, environment, address, group, labels });

decode_mapping!(StrategyInput { all_at_once, rolling, blue_green, canary });

decode_mapping!(RollingInput { batch, max_unavailable });

decode_mapping!(CanaryInput { weights, pause });

decode_mapping!(TrafficInput { nginx, command });

decode_mapping!(NginxInput { upstream, file, prefix, conf, binary });

decode_mapping!(OnFailureInput { rollback, quarantine });

decode_mapping!(TierInput { name, steps });

decode_mapping!(StepInput {
    name,
    exec,
    http,
    health,
    wait,
    manual,
    env,
    working_dir,
    timeout,
    retries,
    backoff,
    idempotent,
    reversible,
    per_target,
});

decode_mapping!(HttpStepInput { method, url, body, expect_status, expect_body });

decode_mapping!(ManualStepInput { prompt, default });

decode_mapping!(HealthStepInput { http, tcp, interval, successes, failures });

decode_mapping!(SecretInput { name, env, file });

decode_mapping!(GateInput { name, builtin, rego, with, enforcement });

decode_mapping!(SsoInput {
    issuer,
    client_id,
    client_secret_env,
    redirect_url,
    username_claim,
    groups_claim,
    roles,
    scopes,
});

decode_mapping!(ChangePolicyInput { risk, approvals, stabilization_gap_minutes, environments, templates });

decode_mapping!(ChangeTemplateInput { name, description, services, environments });

decode_mapping!(RiskPolicyInput { weights, classes, failure_window_days, prior_rate, prior_weight });

decode_mapping!(RiskWeightsInput { blast_radius, size, failure_rate, environment_tier, schedule, emergency, evidence });

decode_mapping!(RiskClassesInput { medium, high, critical });

decode_mapping!(ApprovalSettingsInput { cab_quorum, cab_required_teams, cab_label_teams, review_days });

decode_mapping!(LabelTeamsInput { label, teams });

decode_mapping!(EnvironmentChangeRulesInput {
    name,
    requires_change,
    stabilization_gap_minutes,
    on_window_close,
    requires_rollback_tested_in,
});
