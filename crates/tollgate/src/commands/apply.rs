//! `tollgate apply`: read tollgate.yaml, show the plan, apply it. Errors name file, line and key.

use anyhow::{bail, Context as _};
use serde_json::{json, Value};
use tollgate_core::apply::ApplyInput;

use crate::args::{ApplyArgs, OutputFormat};
use crate::client::ApiProblem;
use crate::commands::Context;
use crate::output::{print_json, table};

pub async fn apply(context: &Context, args: ApplyArgs) -> anyhow::Result<()> {
    let file_name = args.file.display().to_string();
    let text = std::fs::read_to_string(&args.file).with_context(|| format!("reading {file_name}"))?;
    let config = match tollgate_config::load(&file_name, &text) {
        Ok(config) => config,
        Err(error) => bail!("{}", error.messages().join("\n")),
    };
    let body = request_body(&config.input);
    let located = |error: anyhow::Error| match error.downcast::<ApiProblem>() {
        Ok(problem) if !problem.errors.is_empty() => {
            let lines: Vec<String> = problem
                .errors
                .iter()
                .map(|(field, message)| format!("{}: {message}", config.source_map.describe(field)))
                .collect();
            anyhow::anyhow!("{}", lines.join("\n"))
        }
        Ok(problem) => problem.into(),
        Err(other) => other,
    };
    let plan = context.client.post("/apply?dry_run=true", &body).await.map_err(located)?;
    if context.output == OutputFormat::Table {
        print_plan(&plan);
    }
    let has_changes = plan["changes"].as_array().is_some_and(|changes| changes.iter().any(|c| c["op"] != "unchanged"));
    if args.dry_run || !has_changes {
        if context.output == OutputFormat::Json {
            print_json(&plan);
        } else {
            println!("{}", if has_changes { "dry run: nothing was changed" } else { "nothing to change" });
        }
        return Ok(());
    }
    let applied = context.client.post("/apply", &body).await.map_err(located)?;
    match context.output {
        OutputFormat::Json => print_json(&applied),
        OutputFormat::Table => {
            let count =
                |op: &str| applied["changes"].as_array().map_or(0, |c| c.iter().filter(|c| c["op"] == op).count());
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

fn print_plan(plan: &Value) {
    let rows: Vec<Value> = plan["changes"].as_array().cloned().unwrap_or_default();
    println!("{}", table(&rows, &[("op", "/op"), ("kind", "/kind"), ("name", "/name"), ("changes", "/fields")]));
}

/// The `POST /apply` body for a loaded configuration.
pub fn request_body(input: &ApplyInput) -> Value {
    json!({
        "teams": input.teams.iter().map(|t| json!({ "name": t.name, "display_name": t.display_name, "members": t.members, "artifact_pattern": t.artifact_pattern })).collect::<Vec<_>>(),
        "environments": input.environments.iter().map(|e| json!({ "name": e.name, "tier": e.tier, "region": e.region })).collect::<Vec<_>>(),
        "lifecycles": input.lifecycles.iter().map(|l| json!({ "name": l.name, "environments": l.environments })).collect::<Vec<_>>(),
        "services": input.services.iter().map(|s| json!({
            "name": s.name,
            "owner": s.owner,
            "criticality": s.criticality,
            "depends_on": s.depends_on,
            "description": s.description,
        })).collect::<Vec<_>>(),
    })
}
