//! Releases, deployments and the register.

use anyhow::{bail, Context as _};
use tollgate_http::api::deployments::{
    DeploymentCheckRequest, DeploymentCheckResponse, DeploymentQuery, DeploymentRequest, DeploymentResponse,
    EnvironmentRegisterResponse, FinishRequest, RegisterQuery, RegisterResponse, RunningServiceResponse,
};
use tollgate_http::api::releases::{
    ArtifactRefBody, ReleaseRequest, ReleaseResponse, ScopeItemBody, TransitionRequest,
};
use tollgate_http::api::trains::{BoardRequest, BoardResponse};
use tollgate_http::api::{PageQuery, Paginated};

use crate::args::{DeploymentCommand, RegisterArgs, ReleaseCommand, ReleaseCreateArgs};
use crate::client::{encode, Answer};
use crate::commands::Context;
use crate::output::{fields, list, maybe_time, or_dash, print, rows, time, Row, Tabular};

pub async fn release(context: &Context, command: ReleaseCommand) -> anyhow::Result<()> {
    let transition = |release: String, action: &'static str, reason: Option<String>| (release, action, reason);
    let (release, action, reason) = match command {
        ReleaseCommand::List { limit } => {
            let query = PageQuery { limit: Some(limit), cursor: None };
            let request = context.client.request(reqwest::Method::GET, "/releases").query(&query);
            print(context.output, &context.client.call::<Paginated<ReleaseResponse>>(request).await?);
            return Ok(());
        }
        ReleaseCommand::Board { release, train } => {
            let path = format!("/releases/{}/board", encode(&release));
            let boarded: Answer<BoardResponse> = context.client.post(&path, &BoardRequest { train }).await?;
            print(context.output, &boarded);
            return Ok(());
        }
        ReleaseCommand::Show { release } => {
            let shown: Answer<ReleaseResponse> = context.client.get(&format!("/releases/{}", encode(&release))).await?;
            print(context.output, &shown);
            return Ok(());
        }
        ReleaseCommand::Create(args) => {
            let created: Answer<ReleaseResponse> = context.client.post("/releases", &create_request(args)?).await?;
            print(context.output, &created);
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
    let request = TransitionRequest { action: action.to_owned(), reason };
    let path = format!("/releases/{}/transitions", encode(&release));
    let moved: Answer<ReleaseResponse> = context.client.post(&path, &request).await?;
    print(context.output, &moved);
    Ok(())
}

/// The request of `release create`, from a file or from flags.
fn create_request(args: ReleaseCreateArgs) -> anyhow::Result<ReleaseRequest> {
    if let Some(file) = args.file {
        let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
        return serde_json::from_str(&text).with_context(|| format!("{} is not a release request", file.display()));
    }
    let artifacts = args.artifacts.iter().map(|spec| parse_artifact(spec)).collect::<anyhow::Result<Vec<_>>>()?;
    let scope = args
        .included
        .iter()
        .map(|spec| match spec.split_once('=') {
            Some((ticket, title)) => {
                Ok(ScopeItemBody { ticket: ticket.to_owned(), title: title.to_owned(), included: true, reason: None })
            }
            None => bail!("--include {spec:?}: expected TICKET=TITLE"),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(ReleaseRequest {
        version: args.version.context("--version is required without --file")?,
        lifecycle: args.lifecycle,
        release_type: args.release_type,
        strategy: args.strategy,
        artifacts,
        scope,
        planned_start: None,
        planned_end: None,
        scope_freeze_at: None,
        rollback_criteria: args.rollback_criteria,
        revision: None,
    })
}

/// `SERVICE=NAME@VERSION@sha256:DIGEST`.
fn parse_artifact(spec: &str) -> anyhow::Result<ArtifactRefBody> {
    let parsed = spec.split_once('=').and_then(|(service, rest)| {
        let mut parts = rest.splitn(3, '@');
        Some((service, parts.next()?, parts.next()?, parts.next()?))
    });
    match parsed {
        Some((service, name, version, digest)) => Ok(ArtifactRefBody {
            service: service.to_owned(),
            name: name.to_owned(),
            version: version.to_owned(),
            digest: digest.to_owned(),
        }),
        None => bail!("--artifact {spec:?}: expected SERVICE=NAME@VERSION@sha256:DIGEST"),
    }
}

/// Runs a `deployment` command; `Ok(false)` when a check refused, so CI jobs stop.
pub async fn deployment(context: &Context, command: DeploymentCommand) -> anyhow::Result<bool> {
    match command {
        DeploymentCommand::Check { release, environment } => {
            let request = DeploymentCheckRequest { release, environment };
            let checked: Answer<DeploymentCheckResponse> = context.client.post("/deployments/check", &request).await?;
            print(context.output, &checked);
            return Ok(checked.value.allowed);
        }
        DeploymentCommand::List { environment, release, limit } => {
            let query = DeploymentQuery { environment, release, limit: Some(limit), cursor: None };
            let request = context.client.request(reqwest::Method::GET, "/deployments").query(&query);
            print(context.output, &context.client.call::<Paginated<DeploymentResponse>>(request).await?);
        }
        DeploymentCommand::Show { id } => {
            print(context.output, &context.client.get::<DeploymentResponse>(&format!("/deployments/{id}")).await?)
        }
        DeploymentCommand::Record { release, environment, status, started_at, finished_at, override_window } => {
            let request = DeploymentRequest { release, environment, status, started_at, finished_at, override_window };
            let recorded: Answer<DeploymentResponse> = context.client.post("/deployments", &request).await?;
            print(context.output, &recorded);
        }
        DeploymentCommand::Finish { id, status } => {
            let path = format!("/deployments/{id}/finish");
            let finished: Answer<DeploymentResponse> = context.client.post(&path, &FinishRequest { status }).await?;
            print(context.output, &finished);
        }
        other => return crate::commands::run::run(context, other).await,
    }
    Ok(true)
}

pub async fn register(context: &Context, args: RegisterArgs) -> anyhow::Result<()> {
    let query = RegisterQuery { environment: args.environment, at: args.at };
    let request = context.client.request(reqwest::Method::GET, "/register").query(&query);
    print(context.output, &context.client.call::<RegisterResponse>(request).await?);
    Ok(())
}

impl Row for ReleaseResponse {
    const HEADERS: &'static [&'static str] = &["id", "version", "type", "state", "lifecycle", "artifacts", "updated"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.version.clone(),
            self.release_type.clone(),
            self.state.clone(),
            self.lifecycle.clone(),
            self.artifacts.len().to_string(),
            time(self.updated_at),
        ]
    }
}

impl Tabular for ReleaseResponse {
    /// The release's fields, then its artifacts and its scope.
    fn table(&self) -> String {
        let window = match (self.planned_start, self.planned_end) {
            (Some(start), Some(end)) => format!("{} to {}", time(start), time(end)),
            _ => "-".to_owned(),
        };
        let mut text = fields([
            ("id", self.id.to_string()),
            ("version", self.version.clone()),
            ("type", self.release_type.clone()),
            ("strategy", self.strategy.clone()),
            ("state", self.state.clone()),
            ("next states", list(&self.allowed_next_states)),
            ("lifecycle", self.lifecycle.clone()),
            ("manifest digest", self.manifest_digest.clone()),
            ("planned window", window),
            ("scope freeze", maybe_time(self.scope_freeze_at)),
            ("rollback criteria", or_dash(Some(&self.rollback_criteria))),
            ("revision", self.revision.to_string()),
            ("created", format!("{} by {}", time(self.created_at), self.created_by)),
        ]);
        text.push_str(&format!("\n\nartifacts:\n{}", rows(&self.artifacts)));
        if !self.scope.is_empty() {
            text.push_str(&format!("\n\nscope:\n{}", rows(&self.scope)));
        }
        text
    }
}

impl Row for ArtifactRefBody {
    const HEADERS: &'static [&'static str] = &["service", "artifact", "version", "digest"];

    fn cells(&self) -> Vec<String> {
        vec![self.service.clone(), self.name.clone(), self.version.clone(), self.digest.clone()]
    }
}

impl Row for ScopeItemBody {
    const HEADERS: &'static [&'static str] = &["ticket", "title", "ships"];

    fn cells(&self) -> Vec<String> {
        let ships = match (self.included, &self.reason) {
            (true, _) => "yes".to_owned(),
            (false, Some(reason)) => format!("no: {reason}"),
            (false, None) => "no".to_owned(),
        };
        vec![self.ticket.clone(), self.title.clone(), ships]
    }
}

impl Row for DeploymentResponse {
    const HEADERS: &'static [&'static str] =
        &["id", "release", "environment", "status", "actor", "started", "finished", "emergency skip"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.release_version.clone(),
            self.environment.clone(),
            self.status.clone(),
            self.actor.clone(),
            time(self.started_at),
            maybe_time(self.finished_at),
            or_dash(self.emergency_skipped.as_deref()),
        ]
    }
}

impl Tabular for DeploymentCheckResponse {
    fn table(&self) -> String {
        let verdict = if self.allowed { "allowed" } else { "refused" };
        let mut lines =
            vec![format!("release {} into {} at {}: {verdict}", self.release, self.environment, time(self.at))];
        for result in &self.results {
            let mark = if result.passed { "ok" } else { "REFUSED" };
            lines.push(format!("  {:<14} {mark}", result.precondition));
            lines.extend(result.reasons.iter().map(|reason| format!("      {reason}")));
        }
        lines.join("\n")
    }
}

impl Tabular for DeploymentResponse {
    fn table(&self) -> String {
        let extra =
            [("rolled back", maybe_time(self.rolled_back_at)), ("manifest digest", self.manifest_digest.clone())];
        fields(Self::HEADERS.iter().copied().zip(self.cells()).chain(extra))
    }
}

/// One line of the register: a service running in an environment, or an environment running
/// nothing.
struct RegisterRow<'a> {
    environment: &'a EnvironmentRegisterResponse,
    running: Option<&'a RunningServiceResponse>,
}

impl Tabular for RegisterResponse {
    fn table(&self) -> String {
        let register_rows: Vec<RegisterRow<'_>> = self
            .environments
            .iter()
            .flat_map(|environment| {
                let running: Vec<Option<&RunningServiceResponse>> = if environment.services.is_empty() {
                    vec![None]
                } else {
                    environment.services.iter().map(Some).collect()
                };
                running.into_iter().map(move |running| RegisterRow { environment, running })
            })
            .collect();
        let mut text = format!("register at {}\n{}", time(self.at), rows(&register_rows));
        let splits: Vec<String> = self
            .environments
            .iter()
            .flat_map(|environment| environment.traffic.iter().map(move |split| (environment, split)))
            .map(|(environment, split)| {
                let mut shares: Vec<_> = split.shares.iter().collect();
                shares.sort_by(|a, b| b.weight.cmp(&a.weight).then(a.group.cmp(&b.group)));
                let shares: Vec<String> = shares
                    .into_iter()
                    .map(|share| {
                        let version = share.release_version.as_deref().unwrap_or("nothing");
                        format!("{} {}% ({version})", share.group, share.weight)
                    })
                    .collect();
                format!("  {} {}: {}", environment.environment, split.service, shares.join(", "))
            })
            .collect();
        if !splits.is_empty() {
            text.push_str("\ntraffic\n");
            text.push_str(&splits.join("\n"));
        }
        text
    }
}

impl Row for RegisterRow<'_> {
    const HEADERS: &'static [&'static str] =
        &["environment", "service", "version", "release", "deployed", "emergency skip"];

    fn cells(&self) -> Vec<String> {
        let environment = self.environment.environment.clone();
        match self.running {
            None => vec![environment, "(nothing deployed)".to_owned()],
            Some(running) => vec![
                environment,
                running.service.clone(),
                running.version.clone(),
                running.release_version.clone(),
                time(running.deployed_at),
                or_dash(running.emergency_skipped.as_deref()),
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_artifact_flag_names_service_artifact_version_and_digest() {
        let parsed = parse_artifact("api=payments-api@1.2.0@sha256:abc").expect("a valid flag");
        assert_eq!(
            (parsed.service.as_str(), parsed.name.as_str(), parsed.version.as_str(), parsed.digest.as_str()),
            ("api", "payments-api", "1.2.0", "sha256:abc")
        );
        assert!(parse_artifact("api=payments-api@1.2.0").is_err());
    }
}
