//! `tollgate`: the one binary. Server (`serve`), demo, and the client commands.
#![forbid(unsafe_code)]

mod args;
mod client;
mod commands;
mod demo;
mod keys;
mod output;
mod sample;
mod serve;
mod supervise;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use tracing_subscriber::EnvFilter;

use crate::args::{Cli, Command, LogFormat};
use crate::client::Client;
use crate::commands::Context;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::SuperviseStep(args) = cli.command {
        return supervise::run(args);
    }
    init_tracing(&cli.command);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the command; `Ok(false)` means it ran but found a failure (a chain that does not verify).
async fn run(cli: Cli) -> anyhow::Result<bool> {
    let context =
        Context { client: Client::new(&cli.global.server, cli.global.token.clone()), output: cli.global.output };
    match cli.command {
        Command::Serve(args) => serve::run(args).await?,
        Command::Demo(args) => demo::run(args).await?,
        Command::SuperviseStep(_) => unreachable!("supervise-step runs before the runtime starts"),
        Command::SampleService(args) => sample::run(args).await?,
        Command::Apply(args) => commands::apply::apply(&context, args).await?,
        Command::Team(command) => commands::catalog::team(&context, command).await?,
        Command::User(command) => commands::catalog::user(&context, command).await?,
        Command::Token(command) => commands::catalog::token(&context, command).await?,
        Command::Service(command) => commands::catalog::service(&context, command).await?,
        Command::Environment(command) => commands::catalog::environment(&context, command).await?,
        Command::Lifecycle(command) => commands::catalog::lifecycle(&context, command).await?,
        Command::Release(command) => commands::release::release(&context, command).await?,
        Command::Deployment(command) => return commands::release::deployment(&context, command).await,
        Command::Deploy { release, environment, override_window, wait_for_lock } => {
            let start =
                args::DeploymentCommand::Start { release, environment, override_window, wait: true, wait_for_lock };
            return commands::run::run(&context, start).await;
        }
        Command::Lease(command) => return commands::lease::lease(&context, command).await,
        Command::Quarantine(command) => commands::lease::quarantine(&context, command).await?,
        Command::Register(args) => commands::release::register(&context, args).await?,
        Command::Audit(command) => return commands::audit::audit(&context, command).await,
        Command::Artifact(command) => return commands::artifact::artifact(&context, command).await,
        Command::Key(command) => commands::artifact::key(&context, command).await?,
        Command::Evidence(command) => commands::evidence::evidence(&context, command).await?,
        Command::Retention(command) => commands::artifact::retention(&context, command).await?,
        Command::Gate(command) => return commands::gate::gate(&context, command).await,
        Command::Policy(command) => return commands::gate::policy(&context, command).await,
        Command::Authz(command) => return commands::authz::authz(&context, command).await,
        Command::Calendar(command) => commands::calendar::calendar(&context, command).await?,
        Command::Change(command) => commands::change::change(&context, command).await?,
        Command::Train(command) => commands::train::train(&context, command).await?,
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "tollgate", &mut std::io::stdout());
        }
    }
    Ok(true)
}

/// Logs go to standard error: `info` for the server, `warn` for client commands, unless
/// `TOLLGATE_LOG` says otherwise.
fn init_tracing(command: &Command) {
    let (default_level, format) = match command {
        Command::Serve(args) => ("info", args.log_format),
        Command::Demo(_) => ("warn", LogFormat::Text),
        _ => ("warn", LogFormat::Text),
    };
    let filter = EnvFilter::try_from_env("TOLLGATE_LOG").unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
