//! Teams, users, tokens, services, environments and lifecycles.

use anyhow::Context as _;
use serde::de::DeserializeOwned;
use tollgate_http::api::catalog::{EnvironmentResponse, LifecycleResponse, ServiceResponse, TeamRequest, TeamResponse};
use tollgate_http::api::people::{
    IssuedTokenResponse, PasswordRequest, TokenRequest, TokenResponse, UserRequest, UserResponse,
};

use crate::args::{NamedCommand, TeamCommand, TokenCommand, UserCommand};
use crate::client::{encode, Answer};
use crate::commands::Context;
use crate::output::{fields, item, list, maybe_time, or_dash, print, time, Row, Tabular};

pub async fn team(context: &Context, command: TeamCommand) -> anyhow::Result<()> {
    match command {
        TeamCommand::List => print(context.output, &context.client.get::<Vec<TeamResponse>>("/teams").await?),
        TeamCommand::Show { name } => {
            print(context.output, &context.client.get::<TeamResponse>(&format!("/teams/{}", encode(&name))).await?)
        }
        TeamCommand::Create { name, display_name, members } => {
            let request = TeamRequest { name, display_name, members, artifact_pattern: None };
            let created: Answer<TeamResponse> = context.client.post("/teams", &request).await?;
            print(context.output, &created);
        }
    }
    Ok(())
}

pub async fn user(context: &Context, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::List => print(context.output, &context.client.get::<Vec<UserResponse>>("/users").await?),
        UserCommand::Me => print(context.output, &context.client.get::<UserResponse>("/users/me").await?),
        UserCommand::Create { name, display_name, roles } => {
            let request = UserRequest { name, display_name, role: None, roles: Some(roles) };
            let created: Answer<UserResponse> = context.client.post("/users", &request).await?;
            print(context.output, &created);
        }
        UserCommand::SetPassword { name } => {
            if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                eprint!("new password for {name} (shown as you type; or pipe it in): ");
            }
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).context("reading the password from standard input")?;
            let password = line.trim_end_matches(['\n', '\r']).to_owned();
            let request = PasswordRequest { password };
            let path = format!("/users/{}/password", encode(&name));
            context.client.call_no_content(context.client.request(reqwest::Method::PUT, &path).json(&request)).await?;
            println!("password of {name} set");
        }
    }
    Ok(())
}

pub async fn token(context: &Context, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::List => print(context.output, &context.client.get::<Vec<TokenResponse>>("/tokens").await?),
        TokenCommand::Create { user, description, expires_at } => {
            let request = TokenRequest { user, description: Some(description), expires_at };
            let issued: Answer<IssuedTokenResponse> = context.client.post("/tokens", &request).await?;
            print(context.output, &issued);
        }
        TokenCommand::Revoke { id } => {
            let request = context.client.request(reqwest::Method::DELETE, &format!("/tokens/{id}"));
            print(context.output, &context.client.call::<TokenResponse>(request).await?);
        }
    }
    Ok(())
}

pub async fn service(context: &Context, command: NamedCommand) -> anyhow::Result<()> {
    named::<ServiceResponse>(context, "services", command).await
}

pub async fn environment(context: &Context, command: NamedCommand) -> anyhow::Result<()> {
    named::<EnvironmentResponse>(context, "environments", command).await
}

pub async fn lifecycle(context: &Context, command: NamedCommand) -> anyhow::Result<()> {
    named::<LifecycleResponse>(context, "lifecycles", command).await
}

/// Lists or shows one kind of named object.
async fn named<T>(context: &Context, collection: &str, command: NamedCommand) -> anyhow::Result<()>
where
    T: Row + Tabular + DeserializeOwned,
{
    match command {
        NamedCommand::List => print(context.output, &context.client.get::<Vec<T>>(&format!("/{collection}")).await?),
        NamedCommand::Show { name } => {
            print(context.output, &context.client.get::<T>(&format!("/{collection}/{}", encode(&name))).await?)
        }
    }
    Ok(())
}

impl Row for TeamResponse {
    const HEADERS: &'static [&'static str] = &["name", "display name", "members", "artifact pattern"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.display_name.clone(),
            list(&self.members),
            or_dash(self.artifact_pattern.as_deref()),
        ]
    }
}

impl Tabular for TeamResponse {
    fn table(&self) -> String {
        item(self)
    }
}

impl Row for UserResponse {
    const HEADERS: &'static [&'static str] = &["name", "display name", "roles"];

    fn cells(&self) -> Vec<String> {
        vec![self.name.clone(), self.display_name.clone(), self.roles.join(", ")]
    }
}

impl Tabular for UserResponse {
    fn table(&self) -> String {
        item(self)
    }
}

impl Row for TokenResponse {
    const HEADERS: &'static [&'static str] = &["id", "user", "prefix", "description", "created", "expires", "revoked"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.user.clone(),
            self.prefix.clone(),
            or_dash(Some(&self.description)),
            time(self.created_at),
            maybe_time(self.expires_at),
            maybe_time(self.revoked_at),
        ]
    }
}

impl Tabular for TokenResponse {
    fn table(&self) -> String {
        item(self)
    }
}

impl Tabular for IssuedTokenResponse {
    fn table(&self) -> String {
        format!("{}\n\nsecret (shown once, store it now): {}", item(&self.token), self.secret)
    }
}

impl Row for ServiceResponse {
    const HEADERS: &'static [&'static str] = &["name", "owner", "criticality", "depends on", "labels"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.owner.clone(),
            self.criticality.clone(),
            list(&self.depends_on),
            list(&self.labels),
        ]
    }
}

impl Tabular for ServiceResponse {
    fn table(&self) -> String {
        let description = ("description", or_dash(Some(&self.description)));
        fields(Self::HEADERS.iter().copied().zip(self.cells()).chain([description]))
    }
}

impl Row for EnvironmentResponse {
    const HEADERS: &'static [&'static str] = &["name", "tier", "region"];

    fn cells(&self) -> Vec<String> {
        vec![self.name.clone(), self.tier.clone(), or_dash(self.region.as_deref())]
    }
}

impl Tabular for EnvironmentResponse {
    fn table(&self) -> String {
        item(self)
    }
}

impl Row for LifecycleResponse {
    const HEADERS: &'static [&'static str] = &["name", "environments"];

    fn cells(&self) -> Vec<String> {
        vec![self.name.clone(), self.environments.join(" -> ")]
    }
}

impl Tabular for LifecycleResponse {
    fn table(&self) -> String {
        item(self)
    }
}
