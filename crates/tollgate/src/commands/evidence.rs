//! `tollgate evidence`: CI reports attached to a release, shown as one-line summaries of their
//! facts.

use anyhow::Context as _;
use tollgate_evidence::Facts;
use tollgate_http::api::evidence::{EvidenceQuery, EvidenceResponse};

use crate::args::EvidenceCommand;
use crate::client::{encode, Answer, ApiProblem};
use crate::commands::Context;
use crate::output::{fields, or_dash, print, size, time, Row, Tabular};

pub async fn evidence(context: &Context, command: EvidenceCommand) -> anyhow::Result<()> {
    match command {
        EvidenceCommand::Upload { file, release, service, kind } => {
            let path = format!("/releases/{}/evidence", encode(&release));
            let content = tokio::fs::read(&file).await.with_context(|| format!("reading {}", file.display()))?;
            let query = EvidenceQuery { kind, service };
            let uploaded: Answer<EvidenceResponse> =
                context.client.upload(&path, &query, reqwest::Body::from(content)).await.map_err(|error| {
                    match error.downcast::<ApiProblem>() {
                        Ok(problem) => anyhow::anyhow!("{}: {}", file.display(), problem.problem.detail),
                        Err(other) => other,
                    }
                })?;
            print(context.output, &uploaded);
        }
        EvidenceCommand::List { release } => {
            let path = format!("/releases/{}/evidence", encode(&release));
            print(context.output, &context.client.get::<Vec<EvidenceResponse>>(&path).await?);
        }
    }
    Ok(())
}

/// The summary of stored facts; facts in a format this build does not read are named as such.
fn summary(evidence: &EvidenceResponse) -> String {
    match serde_json::from_value::<Facts>(evidence.facts.clone()) {
        Ok(facts) => facts.summary(),
        Err(error) => format!("(facts not summarized: {error})"),
    }
}

impl Row for EvidenceResponse {
    const HEADERS: &'static [&'static str] = &["id", "kind", "service", "summary"];

    fn cells(&self) -> Vec<String> {
        vec![self.id.to_string(), self.kind.clone(), or_dash(self.service.as_deref()), summary(self)]
    }
}

impl Tabular for EvidenceResponse {
    fn table(&self) -> String {
        fields([
            ("id", self.id.to_string()),
            ("release", self.release.to_string()),
            ("kind", self.kind.clone()),
            ("service", or_dash(self.service.as_deref())),
            ("digest", self.digest.clone()),
            ("size", size(self.size)),
            ("created", format!("{} by {}", time(self.created_at), self.created_by)),
            ("summary", summary(self)),
        ])
    }
}
