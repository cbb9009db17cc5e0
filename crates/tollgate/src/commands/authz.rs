//! `tollgate authz`: check (why a request is allowed or denied), policy apply and list, and
//! just-in-time grants.

use anyhow::{bail, Context as _};
use tollgate_http::api::authz::{
    AuthzPoliciesRequest, AuthzPoliciesResponse, AuthzPolicyFile, CheckRequest, CheckResponse, GrantRequest,
    GrantResponse,
};

use crate::args::{AuthzCommand, AuthzPolicyCommand, OutputFormat};
use crate::client::Answer;
use crate::commands::Context;
use crate::output::{item, or_dash, print, print_json, time, Row, Tabular};

/// Runs an authz command; `check` fails (exit code 1) when the request would be denied.
pub async fn authz(context: &Context, command: AuthzCommand) -> anyhow::Result<bool> {
    match command {
        AuthzCommand::Check { principal, action, resource, release, reason, explain } => {
            let request = CheckRequest { principal, action, resource, release, reason };
            let answer: Answer<CheckResponse> = context.client.post("/authz/check", &request).await?;
            match context.output {
                OutputFormat::Json => print_json(&answer.json),
                OutputFormat::Table => {
                    let decision = &answer.value;
                    println!("{}", if decision.allowed { "allowed" } else { "denied" });
                    if explain {
                        println!("{}", decision.reason);
                        for policy in &decision.policies {
                            println!("  {} {}: {}", policy.effect, policy.id, policy.reason);
                        }
                        for grant in &decision.grants {
                            println!("  just-in-time grant {grant}");
                        }
                        for error in &decision.errors {
                            println!("  error: {error}");
                        }
                    }
                }
            }
            Ok(answer.value.allowed)
        }
        AuthzCommand::Policy(AuthzPolicyCommand::Apply { files }) => {
            let mut bodies = Vec::with_capacity(files.len());
            for path in &files {
                let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
                bodies.push(AuthzPolicyFile { name: path.display().to_string(), text });
            }
            let answer: Answer<AuthzPoliciesResponse> =
                context.client.post("/authz/policies", &AuthzPoliciesRequest { files: bodies }).await?;
            print(context.output, &answer);
            Ok(true)
        }
        AuthzCommand::Policy(AuthzPolicyCommand::List) => {
            print(context.output, &context.client.get::<AuthzPoliciesResponse>("/authz/policies").await?);
            Ok(true)
        }
        AuthzCommand::Grant { user, role, environment, duration, reason } => {
            let duration_seconds = parse_duration(&duration)?;
            let request = GrantRequest { user, role, environment, duration_seconds, reason };
            let answer: Answer<GrantResponse> = context.client.post("/authz/grants", &request).await?;
            print(context.output, &answer);
            Ok(true)
        }
        AuthzCommand::Grants => {
            print(context.output, &context.client.get::<Vec<GrantResponse>>("/authz/grants").await?);
            Ok(true)
        }
        AuthzCommand::Revoke { id } => {
            let request = context.client.request(reqwest::Method::DELETE, &format!("/authz/grants/{id}"));
            print(context.output, &context.client.call::<GrantResponse>(request).await?);
            Ok(true)
        }
    }
}

/// `90s`, `30m`, `4h` or `1d` in seconds.
fn parse_duration(text: &str) -> anyhow::Result<i64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().with_context(|| format!("{text:?} is not a duration such as 30m or 4h"))?;
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => bail!("{text:?} is not a duration such as 30m or 4h"),
    };
    number.checked_mul(factor).with_context(|| format!("{text:?} is too long"))
}

impl Row for GrantResponse {
    const HEADERS: &'static [&'static str] =
        &["id", "user", "role", "environment", "expires at", "revoked at", "granted by", "reason"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.user.clone(),
            self.role.clone(),
            self.environment.clone(),
            time(self.expires_at),
            or_dash(self.revoked_at.map(time).as_deref()),
            self.granted_by.clone(),
            self.reason.clone(),
        ]
    }
}

impl Tabular for GrantResponse {
    fn table(&self) -> String {
        item(self)
    }
}

impl Tabular for AuthzPoliciesResponse {
    fn table(&self) -> String {
        let mut lines = Vec::new();
        match &self.version {
            Some(version) => lines.push(format!(
                "version {} (sha256 {}), applied by {} at {}",
                version.sequence,
                version.sha256,
                version.applied_by,
                time(version.applied_at)
            )),
            None => lines.push("no user policies applied".to_owned()),
        }
        if self.changed == Some(false) {
            lines.push("unchanged: these files were in force already".to_owned());
        }
        for policy in &self.policies {
            let origin = policy.file.clone().unwrap_or_else(|| "built-in".to_owned());
            lines.push(format!("{:<6} {:<40} {:<14} {}", policy.effect, policy.id, origin, policy.reason));
        }
        lines.join("\n")
    }
}
