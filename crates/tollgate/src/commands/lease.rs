//! `tollgate lease`: acquire, renew and report a lease, for tools that deploy by themselves; and
//! `tollgate quarantine`: the environments no deployment enters until a quarantine is lifted.

use reqwest::Method;
use tollgate_http::api::leases::{
    AcquireLeaseRequest, LeaseList, LeaseQuery, LeaseResponse, LeasedDeploymentResponse, RenewLeaseRequest,
    ReportLeaseRequest,
};

use tollgate_http::api::quarantines::{LiftQuarantineRequest, QuarantineList, QuarantineResponse};

use crate::args::{LeaseCommand, QuarantineCommand};
use crate::client::Answer;
use crate::commands::Context;
use crate::output::{fields, maybe_time, print, rows, time, Row, Tabular};

/// Runs a lease command. A refusal or a lost lease is an error answer, so it exits 1 with
/// every reason the server gave.
pub async fn lease(context: &Context, command: LeaseCommand) -> anyhow::Result<bool> {
    match command {
        LeaseCommand::Acquire { release, environment, ttl, override_window } => {
            let request = AcquireLeaseRequest { release, environment, ttl_seconds: ttl, override_window };
            let acquired: Answer<LeasedDeploymentResponse> = context.client.post("/leases", &request).await?;
            print(context.output, &acquired);
        }
        LeaseCommand::Renew { deployment, epoch, ttl } => {
            let request = RenewLeaseRequest { epoch, ttl_seconds: ttl };
            let path = format!("/leases/{deployment}/renew");
            let renewed: Answer<LeaseResponse> = context.client.post(&path, &request).await?;
            print(context.output, &renewed);
        }
        LeaseCommand::Report { deployment, epoch, status } => {
            let request = ReportLeaseRequest { epoch, status };
            let path = format!("/leases/{deployment}/report");
            let reported: Answer<LeasedDeploymentResponse> = context.client.post(&path, &request).await?;
            print(context.output, &reported);
        }
        LeaseCommand::Show { deployment } => {
            print(context.output, &context.client.get::<LeaseResponse>(&format!("/leases/{deployment}")).await?)
        }
        LeaseCommand::List { environment } => {
            let request = context.client.request(Method::GET, "/leases").query(&LeaseQuery { environment });
            print(context.output, &context.client.call::<LeaseList>(request).await?);
        }
    }
    Ok(true)
}

/// Runs a quarantine command.
pub async fn quarantine(context: &Context, command: QuarantineCommand) -> anyhow::Result<()> {
    match command {
        QuarantineCommand::List => print(context.output, &context.client.get::<QuarantineList>("/quarantines").await?),
        QuarantineCommand::Lift { environment, reason } => {
            let path = format!("/quarantines/{environment}/lift");
            let lifted: Answer<QuarantineResponse> =
                context.client.post(&path, &LiftQuarantineRequest { reason }).await?;
            print(context.output, &lifted);
        }
    }
    Ok(())
}

impl Row for QuarantineResponse {
    const HEADERS: &'static [&'static str] = &["environment", "deployment", "since", "reason"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.environment.clone(),
            self.deployment.map(|deployment| deployment.to_string()).unwrap_or_default(),
            time(self.since),
            self.reason.clone(),
        ]
    }
}

impl Tabular for QuarantineResponse {
    fn table(&self) -> String {
        fields(Self::HEADERS.iter().copied().zip(self.cells()))
    }
}

impl Tabular for QuarantineList {
    fn table(&self) -> String {
        rows(&self.items)
    }
}

impl Row for LeaseResponse {
    const HEADERS: &'static [&'static str] =
        &["deployment", "environment", "services", "holder", "epoch", "state", "expires", "released"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.deployment.to_string(),
            self.environment.clone(),
            self.services.join(" "),
            self.holder.clone(),
            self.epoch.to_string(),
            self.state.clone(),
            time(self.expires_at),
            maybe_time(self.released_at),
        ]
    }
}

impl Tabular for LeaseResponse {
    fn table(&self) -> String {
        let extra = [("ttl", format!("{}s", self.ttl_seconds)), ("acquired", time(self.acquired_at))];
        fields(Self::HEADERS.iter().copied().zip(self.cells()).chain(extra))
    }
}

impl Tabular for LeaseList {
    fn table(&self) -> String {
        rows(&self.items)
    }
}

impl Tabular for LeasedDeploymentResponse {
    fn table(&self) -> String {
        let lease = &self.lease;
        let deployment = &self.deployment;
        fields([
            ("deployment", deployment.id.to_string()),
            ("release", deployment.release_version.clone()),
            ("environment", deployment.environment.clone()),
            ("status", deployment.status.clone()),
            ("services", lease.services.join(" ")),
            ("epoch", lease.epoch.to_string()),
            ("lease", lease.state.clone()),
            ("expires", time(lease.expires_at)),
        ])
    }
}
