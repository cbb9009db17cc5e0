//! `tollgate apply`: read tollgate.yaml, show the plan, apply it. Errors name file, line and key.

use anyhow::{bail, Context as _};
use tollgate_core::apply::ApplyInput;
use tollgate_http::api::apply::{ApplyQuery, ApplyRequest, PlanResponse, PlannedChangeResponse};
use tollgate_http::api::catalog::{EnvironmentRequest, LifecycleRequest, ServiceRequest, TeamRequest};

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
    let request = apply_request(&config.input);
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

/// The `POST /apply` request for a loaded configuration.
pub fn apply_request(input: &ApplyInput) -> ApplyRequest {
    ApplyRequest {
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
            .map(|service| ServiceRequest {
                name: service.name.clone(),
                owner: service.owner.clone(),
                criticality: service.criticality.clone(),
                depends_on: service.depends_on.clone(),
                description: service.description.clone(),
            })
            .collect(),
    }
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
