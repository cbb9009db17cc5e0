//! Releases, deployments and the register.

use anyhow::{bail, Context as _};
use serde_json::{json, Value};

use crate::args::{DeploymentCommand, OutputFormat, RegisterArgs, ReleaseCommand, ReleaseCreateArgs};
use crate::client::encode;
use crate::commands::Context;
use crate::output::{print_item, print_list, table, Column};

pub const RELEASE_LIST: &[Column] = &[
    ("id", "/id"),
    ("version", "/version"),
    ("type", "/release_type"),
    ("state", "/state"),
    ("lifecycle", "/lifecycle"),
    ("manifest", "/manifest_digest"),
];
const RELEASE: &[Column] = &[
    ("id", "/id"),
    ("version", "/version"),
    ("type", "/release_type"),
    ("strategy", "/strategy"),
    ("state", "/state"),
    ("next states", "/allowed_next_states"),
    ("lifecycle", "/lifecycle"),
    ("manifest digest", "/manifest_digest"),
    ("planned start", "/planned_start"),
    ("planned end", "/planned_end"),
    ("scope freeze", "/scope_freeze_at"),
    ("rollback criteria", "/rollback_criteria"),
    ("revision", "/revision"),
    ("created by", "/created_by"),
];
const ARTIFACT: &[Column] =
    &[("service", "/service"), ("artifact", "/name"), ("version", "/version"), ("digest", "/digest")];
const SCOPE: &[Column] =
    &[("ticket", "/ticket"), ("title", "/title"), ("included", "/included"), ("reason", "/reason")];
pub const DEPLOYMENT: &[Column] = &[
    ("id", "/id"),
    ("release", "/release_version"),
    ("environment", "/environment"),
    ("status", "/status"),
    ("actor", "/actor"),
    ("started", "/started_at"),
    ("finished", "/finished_at"),
    ("emergency skip", "/emergency_skipped"),
];
pub const REGISTER: &[Column] = &[
    ("environment", "/environment"),
    ("service", "/service"),
    ("version", "/version"),
    ("release", "/release_version"),
    ("deployed", "/deployed_at"),
    ("emergency skip", "/emergency_skipped"),
];

pub async fn release(context: &Context, command: ReleaseCommand) -> anyhow::Result<()> {
    let transition = |release: String, action: &'static str, reason: Option<String>| (release, action, reason);
    let (release, action, reason) = match command {
        ReleaseCommand::List { limit } => {
            let page = context.client.get(&format!("/releases?limit={limit}")).await?;
            print_list(context.output, &page["items"], RELEASE_LIST);
            return Ok(());
        }
        ReleaseCommand::Show { release } => {
            show_release(context, &context.client.get(&format!("/releases/{}", encode(&release))).await?);
            return Ok(());
        }
        ReleaseCommand::Create(args) => {
            let body = create_body(args)?;
            show_release(context, &context.client.post("/releases", &body).await?);
            return Ok(());
        }
        ReleaseCommand::Plan { release } => transition(release, "plan", None),
        ReleaseCommand::Freeze { release } => transition(release, "freeze_scope", None),
        ReleaseCommand::Unfreeze { release, reason } => transition(release, "unfreeze_scope", Some(reason)),
        ReleaseCommand::Ready { release } => transition(release, "mark_ready", None),
        ReleaseCommand::Close { release } => transition(release, "close", None),
        ReleaseCommand::Rollback { release, reason } => transition(release, "roll_back", Some(reason)),
        ReleaseCommand::Cancel { release, reason } => transition(release, "cancel", Some(reason)),
    };
    let body = json!({ "action": action, "reason": reason });
    let moved = context.client.post(&format!("/releases/{}/transitions", encode(&release)), &body).await?;
    show_release(context, &moved);
    Ok(())
}

fn show_release(context: &Context, release: &Value) {
    print_item(context.output, release, RELEASE);
    if context.output == OutputFormat::Table {
        println!(
            "\nartifacts:\n{}",
            table(release["artifacts"].as_array().map(Vec::as_slice).unwrap_or_default(), ARTIFACT)
        );
        if release["scope"].as_array().is_some_and(|scope| !scope.is_empty()) {
            println!("\nscope:\n{}", table(release["scope"].as_array().map(Vec::as_slice).unwrap_or_default(), SCOPE));
        }
    }
}

/// The request body of `release create`, from a file or from flags.
fn create_body(args: ReleaseCreateArgs) -> anyhow::Result<Value> {
    if let Some(file) = args.file {
        let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
        return serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", file.display()));
    }
    let artifacts = args.artifacts.iter().map(|spec| parse_artifact(spec)).collect::<anyhow::Result<Vec<_>>>()?;
    let scope = args
        .included
        .iter()
        .map(|spec| match spec.split_once('=') {
            Some((ticket, title)) => Ok(json!({ "ticket": ticket, "title": title })),
            None => bail!("--include {spec:?}: expected TICKET=TITLE"),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(json!({
        "version": args.version,
        "lifecycle": args.lifecycle,
        "release_type": args.release_type,
        "strategy": args.strategy,
        "artifacts": artifacts,
        "scope": scope,
        "rollback_criteria": args.rollback_criteria,
    }))
}

/// `SERVICE=NAME@VERSION@sha256:DIGEST`.
fn parse_artifact(spec: &str) -> anyhow::Result<Value> {
    let parsed = spec.split_once('=').and_then(|(service, rest)| {
        let mut parts = rest.splitn(3, '@');
        Some((service, parts.next()?, parts.next()?, parts.next()?))
    });
    match parsed {
        Some((service, name, version, digest)) => {
            Ok(json!({ "service": service, "name": name, "version": version, "digest": digest }))
        }
        None => bail!("--artifact {spec:?}: expected SERVICE=NAME@VERSION@sha256:DIGEST"),
    }
}

pub async fn deployment(context: &Context, command: DeploymentCommand) -> anyhow::Result<()> {
    match command {
        DeploymentCommand::List { environment, release, limit } => {
            let mut query = format!("/deployments?limit={limit}");
            if let Some(environment) = environment {
                query.push_str(&format!("&environment={}", encode(&environment)));
            }
            if let Some(release) = release {
                query.push_str(&format!("&release={}", encode(&release)));
            }
            print_list(context.output, &context.client.get(&query).await?["items"], DEPLOYMENT);
        }
        DeploymentCommand::Show { id } => {
            print_item(context.output, &context.client.get(&format!("/deployments/{id}")).await?, DEPLOYMENT)
        }
        DeploymentCommand::Record { release, environment, status, started_at, finished_at } => {
            let body = json!({ "release": release, "environment": environment, "status": status, "started_at": started_at, "finished_at": finished_at });
            print_item(context.output, &context.client.post("/deployments", &body).await?, DEPLOYMENT);
        }
        DeploymentCommand::Finish { id, status } => {
            let finished =
                context.client.post(&format!("/deployments/{id}/finish"), &json!({ "status": status })).await?;
            print_item(context.output, &finished, DEPLOYMENT);
        }
    }
    Ok(())
}

pub async fn register(context: &Context, args: RegisterArgs) -> anyhow::Result<()> {
    let mut query = String::from("/register?");
    if let Some(environment) = &args.environment {
        query.push_str(&format!("environment={}&", encode(environment)));
    }
    if let Some(at) = &args.at {
        query.push_str(&format!("at={}", encode(at)));
    }
    let register = context.client.get(query.trim_end_matches(['&', '?'])).await?;
    match context.output {
        OutputFormat::Json => crate::output::print_json(&register),
        OutputFormat::Table => {
            println!("register at {}", register["at"].as_str().unwrap_or_default());
            println!("{}", table(&register_rows(&register), REGISTER));
        }
    }
    Ok(())
}

/// One row per environment and service; an environment with nothing deployed gets one row.
pub fn register_rows(register: &Value) -> Vec<Value> {
    let mut rows = Vec::new();
    for environment in register["environments"].as_array().into_iter().flatten() {
        let services = environment["services"].as_array().cloned().unwrap_or_default();
        if services.is_empty() {
            rows.push(json!({ "environment": environment["environment"], "service": "(nothing deployed)" }));
        }
        for mut service in services {
            service["environment"] = environment["environment"].clone();
            rows.push(service);
        }
    }
    rows
}
