//! Step templates: the fields of a step rendered with minijinja over the deployment's variables.
//!
//! The variables, documented in `docs/deployments.md`:
//! `release.version`, `release.id`, `deployment.id`, `environment.name`, `service.name`,
//! `artifact.name`, `artifact.version`, `artifact.digest`, `vars.NAME` (the plan's variables of
//! the environment), `secrets.NAME` (read when the step runs) and, for a per-target step,
//! `target.name`, `target.address`, `target.host`, `target.port`, `target.group` and
//! `target.labels.NAME`. An unknown variable is an
//! error, not an empty string: a deployment that would run `./deploy --to ` is stopped first.

use std::collections::BTreeMap;

use minijinja::{Environment, UndefinedBehavior};
use serde_json::{json, Value};
use tollgate_core::plan::{Probe, StepAction};
use tollgate_core::rollout::{TrafficProvider, TrafficShift};
use tollgate_service::run::StepWork;

/// A step's action with every template rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rendered {
    Exec {
        program: String,
        args: Vec<String>,
        env: BTreeMap<String, String>,
        working_dir: Option<String>,
    },
    Http {
        method: String,
        url: String,
        body: Option<String>,
        expect_status: u16,
        expect_body: Option<String>,
    },
    Health {
        probe: RenderedProbe,
        interval: std::time::Duration,
        successes: u32,
        failures: u32,
    },
    Wait {
        duration: std::time::Duration,
    },
    /// Judged by a person; nothing to run.
    Manual,
    /// A traffic shift, applied through its provider; it has no templates.
    Traffic(Box<TrafficShift>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderedProbe {
    Http(String),
    Tcp(String),
}

/// What went wrong rendering a field, named by the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct TemplateError {
    pub field: String,
    pub reason: String,
}

/// The variables a step's templates see, secrets included.
pub fn context(work: &StepWork, secrets: &BTreeMap<String, String>) -> Value {
    let deployment = &work.deployment;
    let artifact = work.artifact.as_ref().map_or(Value::Null, |artifact| {
        json!({
            "name": artifact.name.to_string(),
            "version": artifact.version.to_string(),
            "digest": artifact.digest.to_string(),
        })
    });
    let target = work.step.target.as_ref().map_or(Value::Null, |target| {
        let (host, port) =
            target.host_port().map_or((Value::Null, Value::Null), |(host, port)| (json!(host), json!(port)));
        json!({
            "name": target.name.to_string(),
            "address": target.address,
            "host": host,
            "port": port,
            "group": target.group.as_ref().map(ToString::to_string),
            "labels": target.labels,
        })
    });
    json!({
        "target": target,
        "release": { "version": deployment.release_version.to_string(), "id": deployment.release.0 },
        "deployment": { "id": deployment.id.0 },
        "environment": { "name": deployment.environment.to_string() },
        "service": { "name": work.step.service.to_string() },
        "artifact": artifact,
        "vars": work.plan.variables_for(&deployment.environment),
        "secrets": secrets,
    })
}

/// Renders every template of `action` over `context`.
pub fn render(action: &StepAction, context: &Value) -> Result<Rendered, TemplateError> {
    let mut environment = Environment::new();
    environment.set_undefined_behavior(UndefinedBehavior::Strict);
    let context = minijinja::Value::from(minijinja::value::Serde(context));
    let render = |field: &str, template: &str| -> Result<String, TemplateError> {
        environment
            .render_str(template, context.clone())
            .map_err(|error| TemplateError { field: field.to_owned(), reason: describe(&error) })
    };
    Ok(match action {
        StepAction::Exec { program, args, env, working_dir } => Rendered::Exec {
            program: render("exec[0]", program)?,
            args: args
                .iter()
                .enumerate()
                .map(|(index, arg)| render(&format!("exec[{}]", index + 1), arg))
                .collect::<Result<_, _>>()?,
            env: env
                .iter()
                .map(|(name, value)| Ok((name.clone(), render(&format!("env.{name}"), value)?)))
                .collect::<Result<_, TemplateError>>()?,
            working_dir: working_dir.as_deref().map(|dir| render("working_dir", dir)).transpose()?,
        },
        StepAction::Http { method, url, body, expect_status, expect_body } => Rendered::Http {
            method: method.to_string(),
            url: render("http.url", url)?,
            body: body.as_deref().map(|body| render("http.body", body)).transpose()?,
            expect_status: *expect_status,
            expect_body: expect_body.as_deref().map(|body| render("http.expect_body", body)).transpose()?,
        },
        StepAction::Health { probe, interval, successes, failures } => Rendered::Health {
            probe: match probe {
                Probe::Http { url } => RenderedProbe::Http(render("health.http", url)?),
                Probe::Tcp { address } => RenderedProbe::Tcp(render("health.tcp", address)?),
            },
            interval: interval.as_std(),
            successes: *successes,
            failures: *failures,
        },
        StepAction::Wait { duration } => Rendered::Wait { duration: duration.as_std() },
        StepAction::Manual { .. } => Rendered::Manual,
        StepAction::Traffic(shift) => {
            // The provider's paths and program may differ per environment (`{{ environment.name }}`).
            let provider = match &shift.provider {
                TrafficProvider::Nginx { upstream, file, prefix, conf, binary } => TrafficProvider::Nginx {
                    upstream: upstream.clone(),
                    file: render("traffic.nginx.file", file)?,
                    prefix: prefix.as_deref().map(|prefix| render("traffic.nginx.prefix", prefix)).transpose()?,
                    conf: conf.as_deref().map(|conf| render("traffic.nginx.conf", conf)).transpose()?,
                    binary: render("traffic.nginx.binary", binary)?,
                },
                TrafficProvider::Command { program, args } => TrafficProvider::Command {
                    program: render("traffic.command[0]", program)?,
                    args: args
                        .iter()
                        .enumerate()
                        .map(|(index, arg)| render(&format!("traffic.command[{}]", index + 1), arg))
                        .collect::<Result<_, _>>()?,
                },
            };
            Rendered::Traffic(Box::new(TrafficShift { provider, ..TrafficShift::clone(shift) }))
        }
    })
}

/// minijinja's message without its debug dump of the context (which would hold the secrets).
fn describe(error: &minijinja::Error) -> String {
    match error.detail() {
        Some(detail) => format!("{}: {detail}", error.kind()),
        None => error.kind().to_string(),
    }
}
