//! `/calendar`: the release calendar as a month (`?month=2026-03`) or a week
//! (`?week=2026-03-30`, the week holding that date), of every period or of those that apply to
//! one environment (`&environment=prod`): windows, maintenance windows, freezes and blackouts,
//! and the open change requests (highlighted where they conflict), each occurrence with its wall-clock times in its own zone and, on hover and in the week view,
//! its rule and UTC times. Above it, whether each environment is open for deployments now and
//! when that changes; below it, the `.ics` address to subscribe to.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::Deserialize;
use tollgate_core::calendar::Occurrence;
use tollgate_core::train::Departure;
use tollgate_service::calendar::CalendarQuery;
use tollgate_service::change::ChangeView;

use crate::ui::format::when;
use crate::ui::{render, Chrome, UiError, UiResult, WebUser};
use crate::AppState;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct CalendarQueryForm {
    #[serde(default)]
    month: Option<String>,
    #[serde(default)]
    week: Option<String>,
    #[serde(default)]
    environment: Option<String>,
}

#[derive(Template)]
#[template(path = "calendar.html")]
pub(crate) struct CalendarPage {
    pub chrome: Chrome,
    /// "March 2026" or "Week of 2026-03-30".
    pub heading: String,
    pub week_view: bool,
    /// The month the form shows (`2026-03`).
    pub month: String,
    pub environment: String,
    pub environments: Vec<String>,
    pub previous: String,
    pub next: String,
    /// Rows of seven days, Monday first.
    pub weeks: Vec<Vec<Day>>,
    pub states: Vec<WindowRow>,
    pub ics: String,
    pub problem: Option<String>,
}

pub(crate) struct Day {
    pub date: String,
    pub label: String,
    /// Outside the month shown (the grid's leading and trailing days).
    pub outside: bool,
    pub week_href: String,
    pub entries: Vec<Entry>,
}

pub(crate) struct Entry {
    pub name: String,
    pub kind: &'static str,
    /// The wall-clock times in the period's zone: `10:00–16:00 Europe/Berlin`.
    pub times: String,
    /// The rule, the UTC times and any daylight-saving adjustment, in words; for a change, its
    /// conflicts.
    pub explanation: String,
    /// The change's page, for a change; empty for a period.
    pub href: String,
}

pub(crate) struct WindowRow {
    pub environment: String,
    pub open: bool,
    pub reasons: Vec<String>,
    pub next_change: String,
    /// What a running deployment does when the window closes: `finish` or `pause`.
    pub on_close: &'static str,
}

/// `GET /calendar`.
pub(crate) async fn page(
    State(state): State<AppState>,
    user: WebUser,
    Query(query): Query<CalendarQueryForm>,
) -> UiResult<Response> {
    let today = state.tollgate.now().to_zoned(TimeZone::UTC).date();
    let (range, problem) = match Range::of(&query, today) {
        Ok(range) => (range, None),
        Err(problem) => (Range::month(today.first_of_month()), Some(problem)),
    };
    let environment = query.environment.clone().filter(|name| !name.is_empty());
    let chrome = || Some(user.chrome("calendar"));
    let environments = state
        .tollgate
        .list_environments(&user.principal)
        .await
        .map_err(|error| UiError::from_service(error, chrome()))?;
    let calendar_query = CalendarQuery {
        from: utc(range.first).to_string(),
        to: utc(range.after).to_string(),
        environment: environment.clone(),
        service: None,
    };
    let occurrences = state
        .tollgate
        .calendar_occurrences(&user.principal, calendar_query)
        .await
        .map_err(|error| UiError::from_service(error, chrome()))?;
    let changes = state
        .tollgate
        .changes_between(&user.principal, environment.as_deref(), utc(range.start), utc(range.after))
        .await
        .map_err(|error| UiError::from_service(error, chrome()))?;
    let departures = state
        .tollgate
        .train_departures(&user.principal, None, utc(range.start), utc(range.after))
        .await
        .map_err(|error| UiError::from_service(error, chrome()))?;
    let mut states = Vec::new();
    for candidate in &environments {
        let name = candidate.name.to_string();
        if environment.as_ref().is_some_and(|wanted| *wanted != name) {
            continue;
        }
        let window = state
            .tollgate
            .window_state(&user.principal, &name, &[], None)
            .await
            .map_err(|error| UiError::from_service(error, chrome()))?;
        states.push(WindowRow {
            environment: name,
            open: window.open,
            reasons: window.reasons(),
            next_change: window.next_change.map(when).unwrap_or_default(),
            on_close: window.on_close.as_str(),
        });
    }
    let filter = environment.as_ref().map(|name| format!("&environment={name}")).unwrap_or_default();
    let ics = match &environment {
        Some(name) => format!("/api/v1/calendar/export.ics?environment={name}"),
        None => "/api/v1/calendar/export.ics".to_owned(),
    };
    let page = CalendarPage {
        chrome: user.chrome("calendar"),
        heading: range.heading.clone(),
        week_view: range.week,
        month: range.first.strftime("%Y-%m").to_string(),
        environment: environment.unwrap_or_default(),
        environments: environments.iter().map(|e| e.name.to_string()).collect(),
        previous: format!("{}{filter}", range.previous),
        next: format!("{}{filter}", range.next),
        weeks: grid(&range, &occurrences, &changes, &departures, &filter),
        states,
        ics,
        problem: problem.clone(),
    };
    let status = if problem.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok((status, render(&page)?).into_response())
}

/// The days a page shows: whole weeks, Monday first.
struct Range {
    week: bool,
    heading: String,
    /// The month shown (month view) or the week's Monday.
    first: Date,
    /// The grid's first Monday and the day after its last Sunday.
    start: Date,
    after: Date,
    previous: String,
    next: String,
}

impl Range {
    fn of(query: &CalendarQueryForm, today: Date) -> Result<Range, String> {
        let given =
            |value: &Option<String>| value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        if let Some(week) = given(&query.week) {
            let date: Date = week.parse().map_err(|_| format!("week: {week:?} is not a date like 2026-03-30"))?;
            return Ok(Range::week(monday_of(date)));
        }
        match given(&query.month) {
            Some(month) => {
                let date: Date = format!("{month}-01")
                    .parse()
                    .map_err(|_| format!("month: {month:?} is not a month like 2026-03"))?;
                Ok(Range::month(date))
            }
            None => Ok(Range::month(today.first_of_month())),
        }
    }

    fn month(first: Date) -> Range {
        let start = monday_of(first);
        let last = first.last_of_month();
        let after = monday_of(last).saturating_add(7.days());
        let previous = first.saturating_sub(1.month()).strftime("?month=%Y-%m").to_string();
        let next = first.saturating_add(1.month()).strftime("?month=%Y-%m").to_string();
        Range { week: false, heading: first.strftime("%B %Y").to_string(), first, start, after, previous, next }
    }

    fn week(monday: Date) -> Range {
        let previous = monday.saturating_sub(7.days()).strftime("?week=%Y-%m-%d").to_string();
        let next = monday.saturating_add(7.days()).strftime("?week=%Y-%m-%d").to_string();
        let heading = monday.strftime("Week of %Y-%m-%d").to_string();
        Range {
            week: true,
            heading,
            first: monday,
            start: monday,
            after: monday.saturating_add(7.days()),
            previous,
            next,
        }
    }
}

fn monday_of(date: Date) -> Date {
    date.saturating_sub(i64::from(date.weekday().to_monday_zero_offset()).days())
}

/// Midnight UTC at the start of `date`.
fn utc(date: Date) -> Timestamp {
    date.to_zoned(TimeZone::UTC).map(|zoned| zoned.timestamp()).unwrap_or(Timestamp::MAX)
}

/// The grid's weeks of days, each day with the occurrences that overlap it (UTC days).
fn grid(
    range: &Range,
    occurrences: &[(Occurrence, String)],
    changes: &[ChangeView],
    departures: &[Departure],
    filter: &str,
) -> Vec<Vec<Day>> {
    let mut weeks: Vec<Vec<Day>> = Vec::new();
    let mut date = range.start;
    while date < range.after {
        let (from, to) = (utc(date), utc(date.saturating_add(1.day())));
        let mut entries: Vec<Entry> = occurrences
            .iter()
            .filter(|(occurrence, _)| occurrence.overlaps(from, to))
            .map(|(occurrence, adjustment)| entry(occurrence, adjustment))
            .collect();
        entries.extend(
            changes
                .iter()
                .filter(|view| {
                    let planned = view.change.content.planned;
                    planned.start() < to && view.change.content.rollback_deadline() > from
                })
                .map(change_entry),
        );
        entries.extend(
            departures
                .iter()
                .filter(|departure| departure.departs < to && departure.window_end > from)
                .map(departure_entry),
        );
        let day = Day {
            date: date.to_string(),
            label: if range.week { date.strftime("%a %d %b").to_string() } else { date.day().to_string() },
            outside: !range.week && date.month() != range.first.month(),
            week_href: format!("{}{filter}", monday_of(date).strftime("?week=%Y-%m-%d")),
            entries,
        };
        match weeks.last_mut() {
            Some(week) if week.len() < 7 => week.push(day),
            _ => weeks.push(vec![day]),
        }
        date = date.saturating_add(1.day());
    }
    weeks
}

/// A train's departure as the calendar shows it: its window, when boarding closes and when the
/// scope freezes.
fn departure_entry(departure: &Departure) -> Entry {
    Entry {
        name: format!("Train {} departs", departure.train),
        kind: "train",
        times: format!("{} {}", departure.departs_local.strftime("%b %d %H:%M"), departure.tzid),
        explanation: format!(
            "window {} to {}; boarding closes {}, scope freezes {}",
            when(departure.departs),
            when(departure.window_end),
            when(departure.cutoff_at),
            when(departure.freeze_at)
        ),
        href: String::new(),
    }
}

/// A scheduled (or requested) change as the calendar shows it: highlighted when it conflicts.
fn change_entry(view: &ChangeView) -> Entry {
    let change = &view.change;
    let (start, end) = (change.content.planned.start(), change.content.planned.end());
    let explanation = if view.conflicts.is_empty() {
        format!(
            "{} change, {}; rollback within {} minutes; no conflicts",
            change.content.change_type, change.state, change.content.rollback_minutes
        )
    } else {
        let conflicts: Vec<&str> = view.conflicts.iter().map(|conflict| conflict.explanation.as_str()).collect();
        format!("{} change, {}; conflicts: {}", change.content.change_type, change.state, conflicts.join("; "))
    };
    Entry {
        name: format!("Change {}: {} into {}", change.id, view.release_version, change.content.environment),
        kind: if view.conflicts.is_empty() { "change" } else { "conflict" },
        times: format!("{} – {} UTC", start.strftime("%b %d %H:%M"), end.strftime("%b %d %H:%M")),
        explanation,
        href: format!("/changes/{}", change.id),
    }
}

fn entry(occurrence: &Occurrence, adjustment: &str) -> Entry {
    let (start, end) = (occurrence.start_local, occurrence.end_local);
    let times = if start.date() == end.date() {
        format!("{}–{} {}", start.strftime("%H:%M"), end.strftime("%H:%M"), occurrence.tzid)
    } else {
        format!("{} – {} {}", start.strftime("%b %d %H:%M"), end.strftime("%b %d %H:%M"), occurrence.tzid)
    };
    let rule = if occurrence.rule.is_empty() { "once".to_owned() } else { format!("RRULE {}", occurrence.rule) };
    let moved = if adjustment.is_empty() { String::new() } else { format!("; daylight saving: {adjustment}") };
    Entry {
        name: occurrence.name.clone(),
        kind: occurrence.kind.as_str(),
        times,
        explanation: format!(
            "{rule}, in {}; {} to {}{moved}",
            occurrence.tzid,
            when(occurrence.start),
            when(occurrence.end)
        ),
        href: String::new(),
    }
}
