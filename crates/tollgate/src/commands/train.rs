//! `tollgate train`: release trains and their departures; `tollgate release board` boards one.

use reqwest::Method;
use tollgate_http::api::trains::{BoardResponse, DepartureResponse, DeparturesQuery, TrainRequest, TrainResponse};

use crate::args::TrainCommand;
use crate::client::{encode, Answer};
use crate::commands::Context;
use crate::output::{fields, print, time, Row, Tabular};

pub async fn train(context: &Context, command: TrainCommand) -> anyhow::Result<()> {
    match command {
        TrainCommand::List => print(context.output, &context.client.get::<Vec<TrainResponse>>("/trains").await?),
        TrainCommand::Put { name, tzid, first_departure, rule, length, cutoff, freeze } => {
            let body = TrainRequest { tzid, first_departure, rule, length, cutoff, freeze };
            let request = context.client.request(Method::PUT, &format!("/trains/{}", encode(&name))).json(&body);
            let answer: Answer<TrainResponse> = context.client.call(request).await?;
            print(context.output, &answer);
        }
        TrainCommand::Delete { name } => {
            let request = context.client.request(Method::DELETE, &format!("/trains/{}", encode(&name)));
            let answer: Answer<TrainResponse> = context.client.call(request).await?;
            print(context.output, &answer);
        }
        TrainCommand::Departures { from, to, train } => {
            let query = serde_urlencoded::to_string(DeparturesQuery { from, to, train })?;
            let path = format!("/trains/departures?{query}");
            print(context.output, &context.client.get::<Vec<DepartureResponse>>(&path).await?);
        }
    }
    Ok(())
}

impl Row for TrainResponse {
    const HEADERS: &'static [&'static str] = &["name", "first departure", "tzid", "rule", "length", "cutoff", "freeze"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.first_departure.clone(),
            self.tzid.clone(),
            self.rule.clone(),
            self.length.clone(),
            self.cutoff.clone(),
            self.freeze.clone(),
        ]
    }
}

impl Tabular for TrainResponse {
    fn table(&self) -> String {
        let headers = <TrainResponse as Row>::HEADERS;
        fields(headers.iter().copied().zip(self.cells()))
    }
}

impl Row for DepartureResponse {
    const HEADERS: &'static [&'static str] =
        &["train", "departs", "local", "window end", "boarding closes", "scope freezes"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.train.clone(),
            time(self.departs),
            format!("{} {}", self.departs_local, self.tzid),
            time(self.window_end),
            time(self.cutoff_at),
            time(self.freeze_at),
        ]
    }
}

impl Tabular for BoardResponse {
    fn table(&self) -> String {
        fields([
            ("release", self.release.version.clone()),
            ("train", self.departure.train.clone()),
            (
                "departs",
                format!("{} ({} {})", time(self.departure.departs), self.departure.departs_local, self.departure.tzid),
            ),
            ("window end", time(self.departure.window_end)),
            ("boarding closes", time(self.departure.cutoff_at)),
            ("scope freezes", time(self.departure.freeze_at)),
        ])
    }
}
