//! `tollgate calendar`: periods, their occurrences, `.ics` import and export, and the window
//! state of an environment.

use anyhow::Context as _;
use reqwest::Method;
use tollgate_http::api::calendar::{
    ExportQuery, ImportQuery, ImportResponse, OccurrenceResponse, OccurrencesQuery, PeriodRequest, PeriodResponse,
    WindowQuery, WindowResponse,
};

use crate::args::{CalendarCommand, OutputFormat};
use crate::client::{encode, Answer};
use crate::commands::Context;
use crate::output::{fields, list, maybe_time, or_dash, print, print_json, rows, time, yes_no, Row, Tabular};

/// How Tollgate reads a local time a daylight-saving change skips or repeats, as `--explain`
/// states it.
pub const DST_RULE: &str = "A local time that does not exist (a spring-forward gap) is read with the offset from \
     before the gap, so the occurrence starts later by the gap's length; it is kept and counts toward COUNT. \
     A local time that exists twice (an autumn overlap) is the earlier of the two instants.";

pub async fn calendar(context: &Context, command: CalendarCommand) -> anyhow::Result<()> {
    match command {
        CalendarCommand::Show { from, to, environment, service, explain } => {
            let query = OccurrencesQuery { from, to, environment, service };
            let path = format!("/calendar/occurrences?{}", serde_urlencoded::to_string(&query)?);
            let answer: Answer<Vec<OccurrenceResponse>> = context.client.get(&path).await?;
            match context.output {
                OutputFormat::Json => print_json(&answer.json),
                OutputFormat::Table if explain => println!("{}", explained(&answer.value)),
                OutputFormat::Table => println!("{}", answer.value.table()),
            }
        }
        CalendarCommand::List => {
            print(context.output, &context.client.get::<Vec<PeriodResponse>>("/calendar/periods").await?);
        }
        CalendarCommand::Put { id, name, kind, scope, tzid, start, length, rule, exdates, rdates } => {
            let body = PeriodRequest { name, kind, scope, tzid, start, length, rule, exdates, rdates };
            let request =
                context.client.request(Method::PUT, &format!("/calendar/periods/{}", encode(&id))).json(&body);
            let answer: Answer<PeriodResponse> = context.client.call(request).await?;
            print(context.output, &answer);
        }
        CalendarCommand::Delete { id } => {
            let request = context.client.request(Method::DELETE, &format!("/calendar/periods/{}", encode(&id)));
            let answer: Answer<PeriodResponse> = context.client.call(request).await?;
            print(context.output, &answer);
        }
        CalendarCommand::Import { file, kind, scope } => {
            let content = tokio::fs::read(&file).await.with_context(|| format!("reading {}", file.display()))?;
            let request = context
                .client
                .request(Method::POST, "/calendar/import")
                .query(&ImportQuery { kind, scope })
                .header(reqwest::header::CONTENT_TYPE, "text/calendar")
                .body(content);
            let answer: Answer<ImportResponse> =
                context.client.call(request).await.with_context(|| format!("importing {}", file.display()))?;
            print(context.output, &answer);
        }
        CalendarCommand::Export { environment, service, file } => {
            let query = serde_urlencoded::to_string(ExportQuery { environment, service })?;
            let response = context.client.download(&format!("/calendar/export.ics?{query}")).await?;
            let text = response.text().await.context("reading the calendar")?;
            match file {
                Some(path) => {
                    tokio::fs::write(&path, text).await.with_context(|| format!("writing {}", path.display()))?
                }
                None => print!("{text}"),
            }
        }
        CalendarCommand::Window { environment, at, services } => {
            let query = WindowQuery { at, services: (!services.is_empty()).then(|| services.join(",")) };
            let path =
                format!("/environments/{}/window?{}", encode(&environment), serde_urlencoded::to_string(&query)?);
            print(context.output, &context.client.get::<WindowResponse>(&path).await?);
        }
    }
    Ok(())
}

/// The occurrences with their rule, zone and any daylight-saving adjustment, then the rule.
fn explained(occurrences: &[OccurrenceResponse]) -> String {
    let explained: Vec<Explained<'_>> = occurrences.iter().map(Explained).collect();
    format!("{}\n{DST_RULE}", rows(&explained))
}

impl Row for OccurrenceResponse {
    const HEADERS: &'static [&'static str] = &["name", "kind", "start", "end", "local", "tzid"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.kind.clone(),
            time(self.start),
            time(self.end),
            format!("{} to {}", self.start_local, self.end_local),
            self.tzid.clone(),
        ]
    }
}

/// An occurrence as `--explain` shows it.
struct Explained<'a>(&'a OccurrenceResponse);

impl Row for Explained<'_> {
    const HEADERS: &'static [&'static str] = &["name", "kind", "start", "end", "local", "tzid", "rule", "adjustment"];

    fn cells(&self) -> Vec<String> {
        let mut cells = self.0.cells();
        cells.push(or_dash(Some(&self.0.rule)));
        cells.push(or_dash(Some(&self.0.adjustment)));
        cells
    }
}

impl Row for PeriodResponse {
    const HEADERS: &'static [&'static str] = &["id", "name", "kind", "scope", "start", "length", "tzid", "rule"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.name.clone(),
            self.kind.clone(),
            self.scope.clone(),
            self.start.clone(),
            self.length.clone(),
            self.tzid.clone(),
            or_dash(self.rule.as_deref()),
        ]
    }
}

impl Tabular for PeriodResponse {
    fn table(&self) -> String {
        fields([
            ("id", self.id.clone()),
            ("name", self.name.clone()),
            ("kind", self.kind.clone()),
            ("scope", self.scope.clone()),
            ("start", format!("{} {}", self.start, self.tzid)),
            ("length", self.length.clone()),
            ("rule", or_dash(self.rule.as_deref())),
            ("exdates", list(&self.exdates)),
            ("rdates", list(&self.rdates)),
            ("uid", or_dash(self.uid.as_deref())),
        ])
    }
}

impl Tabular for ImportResponse {
    fn table(&self) -> String {
        fields([
            ("created", list(&self.created)),
            ("updated", list(&self.updated)),
            ("unchanged", list(&self.unchanged)),
        ])
    }
}

impl Tabular for WindowResponse {
    fn table(&self) -> String {
        let next = if self.open { "closes" } else { "opens" };
        fields([
            ("environment", self.environment.clone()),
            ("at", time(self.at)),
            ("open", yes_no(self.open)),
            ("why closed", list(&self.reasons)),
            ("window", or_dash(self.allowed_by.as_ref().map(|o| o.name.as_str()))),
            ("has windows", yes_no(self.has_windows)),
            (next, maybe_time(self.next_change)),
            ("when it closes", format!("a running deployment will {}", self.on_close)),
        ])
    }
}
