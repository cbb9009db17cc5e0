//! Teams, users, tokens, services, environments and lifecycles.

use serde_json::json;

use crate::args::{NamedCommand, TeamCommand, TokenCommand, UserCommand};
use crate::client::encode;
use crate::commands::Context;
use crate::output::{print_item, print_list, Column};

const TEAM: &[Column] = &[("name", "/name"), ("display name", "/display_name"), ("members", "/members")];
const USER: &[Column] = &[("name", "/name"), ("display name", "/display_name"), ("role", "/role")];
const TOKEN: &[Column] = &[
    ("id", "/id"),
    ("user", "/user"),
    ("prefix", "/prefix"),
    ("description", "/description"),
    ("created", "/created_at"),
    ("expires", "/expires_at"),
    ("revoked", "/revoked_at"),
];
const SERVICE: &[Column] =
    &[("name", "/name"), ("owner", "/owner"), ("criticality", "/criticality"), ("depends on", "/depends_on")];
const ENVIRONMENT: &[Column] = &[("name", "/name"), ("tier", "/tier"), ("region", "/region")];
const LIFECYCLE: &[Column] = &[("name", "/name"), ("environments", "/environments")];

pub async fn team(context: &Context, command: TeamCommand) -> anyhow::Result<()> {
    match command {
        TeamCommand::List => print_list(context.output, &context.client.get("/teams").await?, TEAM),
        TeamCommand::Show { name } => {
            print_item(context.output, &context.client.get(&format!("/teams/{}", encode(&name))).await?, TEAM)
        }
        TeamCommand::Create { name, display_name, members } => {
            let body = json!({ "name": name, "display_name": display_name, "members": members });
            print_item(context.output, &context.client.post("/teams", &body).await?, TEAM);
        }
    }
    Ok(())
}

pub async fn user(context: &Context, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::List => print_list(context.output, &context.client.get("/users").await?, USER),
        UserCommand::Me => print_item(context.output, &context.client.get("/users/me").await?, USER),
        UserCommand::Create { name, display_name, role } => {
            let body = json!({ "name": name, "display_name": display_name, "role": role });
            print_item(context.output, &context.client.post("/users", &body).await?, USER);
        }
    }
    Ok(())
}

pub async fn token(context: &Context, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::List => print_list(context.output, &context.client.get("/tokens").await?, TOKEN),
        TokenCommand::Create { user, description, expires_at } => {
            let body = json!({ "user": user, "description": description, "expires_at": expires_at });
            let issued = context.client.post("/tokens", &body).await?;
            match context.output {
                crate::args::OutputFormat::Json => crate::output::print_json(&issued),
                crate::args::OutputFormat::Table => {
                    print_item(context.output, &issued["token"], TOKEN);
                    println!("\nsecret (shown once, store it now): {}", issued["secret"].as_str().unwrap_or_default());
                }
            }
        }
        TokenCommand::Revoke { id } => {
            print_item(context.output, &context.client.delete(&format!("/tokens/{id}")).await?, TOKEN)
        }
    }
    Ok(())
}

/// Services, environments and lifecycles: list and show.
pub async fn named(context: &Context, collection: &str, command: NamedCommand) -> anyhow::Result<()> {
    let columns = match collection {
        "services" => SERVICE,
        "environments" => ENVIRONMENT,
        _ => LIFECYCLE,
    };
    match command {
        NamedCommand::List => {
            print_list(context.output, &context.client.get(&format!("/{collection}")).await?, columns)
        }
        NamedCommand::Show { name } => {
            print_item(context.output, &context.client.get(&format!("/{collection}/{}", encode(&name))).await?, columns)
        }
    }
    Ok(())
}
