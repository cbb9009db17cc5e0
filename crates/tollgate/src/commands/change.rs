//! `tollgate change`: change requests, their approvals and the CAB agenda.

use tollgate_http::api::changes::{
    ChangeDetailResponse, ChangeListQuery, ChangeRequestBody, ChangeResponse, EndRequest, ReviewRequest, VerdictRequest,
};
use tollgate_http::api::Paginated;

use crate::args::{ChangeCommand, OutputFormat};
use crate::client::Answer;
use crate::commands::Context;
use crate::output::{fields, list, maybe_time, or_dash, print, print_json, rows, time, yes_no, Row, Tabular};

pub async fn change(context: &Context, command: ChangeCommand) -> anyhow::Result<()> {
    let client = &context.client;
    let detail = |answer: Answer<ChangeDetailResponse>| print(context.output, &answer);
    match command {
        ChangeCommand::Request {
            release,
            environment,
            change_type,
            template,
            justification,
            implementation_plan,
            rollback_plan,
            rollback_minutes,
            tickets,
            links,
            planned_start,
            planned_end,
            submit,
        } => {
            let body = ChangeRequestBody {
                release,
                environment,
                change_type,
                template,
                justification,
                implementation_plan: Some(implementation_plan),
                rollback_plan,
                rollback_minutes,
                tickets,
                links,
                planned_start,
                planned_end,
            };
            let created: Answer<ChangeResponse> = client.post("/changes", &body).await?;
            if submit {
                detail(client.post(&format!("/changes/{}/submit", created.value.id), &serde_json::json!({})).await?);
            } else {
                print(context.output, &created);
            }
        }
        ChangeCommand::List { release, environment, state, requested_by } => {
            let query = ChangeListQuery { release, environment, state, requested_by, limit: None, cursor: None };
            let path = format!("/changes?{}", serde_urlencoded::to_string(&query)?);
            print(context.output, &client.get::<Paginated<ChangeResponse>>(&path).await?);
        }
        ChangeCommand::Show { id, explain } => {
            let answer: Answer<ChangeDetailResponse> = client.get(&format!("/changes/{id}")).await?;
            match context.output {
                OutputFormat::Json => print_json(&answer.json),
                OutputFormat::Table if explain => println!("{}\n{}", answer.value.table(), explained(&answer.value)),
                OutputFormat::Table => println!("{}", answer.value.table()),
            }
        }
        ChangeCommand::Submit { id } => {
            detail(client.post(&format!("/changes/{id}/submit"), &serde_json::json!({})).await?)
        }
        ChangeCommand::Approve { id, comment } => {
            detail(client.post(&format!("/changes/{id}/approve"), &VerdictRequest { comment: Some(comment) }).await?)
        }
        ChangeCommand::Reject { id, comment } => {
            detail(client.post(&format!("/changes/{id}/reject"), &VerdictRequest { comment: Some(comment) }).await?)
        }
        ChangeCommand::Schedule { id } => {
            detail(client.post(&format!("/changes/{id}/schedule"), &serde_json::json!({})).await?)
        }
        ChangeCommand::Review { id, summary } => {
            detail(client.post(&format!("/changes/{id}/review"), &ReviewRequest { summary }).await?)
        }
        ChangeCommand::Withdraw { id, reason } => {
            detail(client.post(&format!("/changes/{id}/withdraw"), &EndRequest { reason }).await?)
        }
        ChangeCommand::Close { id, reason } => {
            detail(client.post(&format!("/changes/{id}/close"), &EndRequest { reason }).await?)
        }
        ChangeCommand::Agenda => {
            let answer: Answer<Vec<ChangeDetailResponse>> = client.get("/changes/cab-agenda").await?;
            match context.output {
                OutputFormat::Json => print_json(&answer.json),
                OutputFormat::Table => {
                    let items: Vec<AgendaItem<'_>> = answer.value.iter().map(AgendaItem).collect();
                    println!("{}", rows(&items));
                }
            }
        }
        ChangeCommand::Overdue => {
            print(context.output, &client.get::<Vec<ChangeResponse>>("/changes/overdue-reviews").await?)
        }
    }
    Ok(())
}

/// Every risk factor and conflict, as `--explain` shows them.
fn explained(view: &ChangeDetailResponse) -> String {
    let mut text = String::new();
    if let Some(risk) = &view.change.risk {
        let factors: Vec<Factor<'_>> = risk.factors.iter().map(Factor).collect();
        text.push_str(&format!("risk {} ({}):\n{}\n", risk.score, risk.class, rows(&factors)));
        text.push_str("score = round(100 × Σ value × weight / Σ weight); classes at the configured cut-offs\n");
    }
    if view.conflicts.is_empty() {
        text.push_str("no conflicts");
    } else {
        let conflicts: Vec<String> =
            view.conflicts.iter().map(|conflict| format!("{}: {}", conflict.kind, conflict.explanation)).collect();
        text.push_str(&format!("conflicts:\n{}", conflicts.join("\n")));
    }
    text
}

struct Factor<'a>(&'a tollgate_http::api::changes::RiskFactorResponse);

impl Row for Factor<'_> {
    const HEADERS: &'static [&'static str] = &["factor", "value", "weight", "points", "explanation"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.0.kind.clone(),
            format!("{:.2}", self.0.value),
            self.0.weight.to_string(),
            format!("{:.2}", self.0.points),
            self.0.explanation.clone(),
        ]
    }
}

fn risk_cell(change: &ChangeResponse) -> String {
    change.risk.as_ref().map_or_else(|| "-".to_owned(), |risk| format!("{} {}", risk.score, risk.class))
}

impl Row for ChangeResponse {
    const HEADERS: &'static [&'static str] =
        &["id", "release", "environment", "type", "state", "risk", "route", "planned start", "requested by"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.release.to_string(),
            self.environment.clone(),
            self.change_type.clone(),
            self.state.clone(),
            risk_cell(self),
            or_dash(self.route.as_ref().map(|route| route.kind.as_str())),
            time(self.planned_start),
            self.requested_by.clone(),
        ]
    }
}

impl Tabular for ChangeResponse {
    fn table(&self) -> String {
        fields([
            ("id", self.id.to_string()),
            ("release", self.release.to_string()),
            ("environment", self.environment.clone()),
            ("type", self.change_type.clone()),
            ("state", self.state.clone()),
            ("planned", format!("{} to {}", time(self.planned_start), time(self.planned_end))),
            ("rollback minutes", self.rollback_minutes.to_string()),
            ("impacted services", list(&self.impacted_services)),
            ("risk", risk_cell(self)),
            ("route", or_dash(self.route.as_ref().map(|route| route.kind.as_str()))),
            ("requested by", self.requested_by.clone()),
            ("review due", maybe_time(self.review_due_at)),
        ])
    }
}

impl Tabular for ChangeDetailResponse {
    fn table(&self) -> String {
        let change = &self.change;
        let approvals: Vec<String> = self
            .approvals
            .iter()
            .map(|approval| {
                let stale = if approval.current { "" } else { " (for another digest)" };
                format!("{} {} at {}{stale}", approval.approver, approval.verdict, time(approval.at))
            })
            .collect();
        let status = self.approval_status.as_ref();
        fields([
            ("id", change.id.to_string()),
            ("release", format!("{} ({})", self.release_version, change.release)),
            ("environment", change.environment.clone()),
            ("type", change.change_type.clone()),
            ("state", change.state.clone()),
            ("planned", format!("{} to {}", time(change.planned_start), time(change.planned_end))),
            ("impacted services", list(&change.impacted_services)),
            ("risk", risk_cell(change)),
            ("route", or_dash(change.route.as_ref().map(|route| route.kind.as_str()))),
            ("release unchanged", yes_no(self.release_unchanged)),
            ("approvals", list(&approvals)),
            ("approved", status.map_or_else(|| "-".to_owned(), |status| yes_no(status.complete))),
            ("missing", status.map_or_else(|| "-".to_owned(), |status| list(&status.missing))),
            ("conflicts", self.conflicts.len().to_string()),
            ("requested by", change.requested_by.clone()),
            ("review due", maybe_time(change.review_due_at)),
        ])
    }
}

/// One row of the CAB agenda.
struct AgendaItem<'a>(&'a ChangeDetailResponse);

impl Row for AgendaItem<'_> {
    const HEADERS: &'static [&'static str] =
        &["id", "release", "environment", "risk", "planned start", "approvals", "missing", "conflicts"];

    fn cells(&self) -> Vec<String> {
        let view = self.0;
        let n_current = view.approvals.iter().filter(|approval| approval.current).count();
        vec![
            view.change.id.to_string(),
            view.release_version.clone(),
            view.change.environment.clone(),
            risk_cell(&view.change),
            time(view.change.planned_start),
            n_current.to_string(),
            view.approval_status.as_ref().map_or_else(|| "-".to_owned(), |status| list(&status.missing)),
            view.conflicts.len().to_string(),
        ]
    }
}
