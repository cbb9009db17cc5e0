//! Reading VEVENTs into recurrences.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use tollgate_core::calendar::PeriodKind;

use crate::error::IcsError;
use crate::ics::content::{content_lines, split_text_list, unescape_text, ContentLine};
use crate::ics::IcsEvent;
use crate::length::PeriodLength;
use crate::limits::{MAX_COMPONENT_DEPTH, MAX_EVENTS};
use crate::recurrence::Recurrence;
use crate::value;

/// Reads every VEVENT of an iCalendar stream into an [`IcsEvent`].
///
/// DTSTART may carry a TZID (an IANA name), be in UTC (`Z`, zone `UTC`), be floating, or be a
/// date (`VALUE=DATE`, a period from 00:00); floating and date values are in the calendar's
/// X-WR-TIMEZONE, or in UTC when it has none. The length comes from DURATION or from DTEND (a
/// date DTEND gives whole days; a date-time DTEND the exact time between the two instants, as
/// RFC 5545 says); an event with neither lasts one day if it starts on a date and is refused
/// otherwise. EXDATE and RDATE may repeat and hold comma lists; values in another zone or in
/// UTC are converted to the event's wall clock; a date stands for the start's time of day on
/// that date.
///
/// Fails on the first problem, naming its line and property: a malformed line, components that
/// do not nest, a missing UID or DTSTART, a non-IANA TZID, an unsupported feature (RECURRENCE-ID,
/// EXRULE, RDATE periods, several RRULEs), an invalid period, or a [`crate::limits`] bound.
pub fn parse_ics(text: &str) -> Result<Vec<IcsEvent>, IcsError> {
    let lines = content_lines(text)?;
    let default_tzid = default_tzid(&lines)?;
    let mut events = Vec::new();
    let mut stack: Vec<(&str, usize)> = Vec::new();
    let mut event: Option<EventLines<'_>> = None;
    for line in &lines {
        match line.name.as_str() {
            "BEGIN" => {
                if stack.len() >= MAX_COMPONENT_DEPTH {
                    let reason = format!("components nest deeper than {MAX_COMPONENT_DEPTH}");
                    return Err(IcsError::Limit { line: line.line, reason });
                }
                let component = line.value.trim();
                if stack.is_empty() && !component.eq_ignore_ascii_case("VCALENDAR") {
                    return Err(IcsError::Syntax {
                        line: line.line,
                        reason: format!("{component} outside a VCALENDAR"),
                    });
                }
                if component.eq_ignore_ascii_case("VEVENT") && stack.len() == 1 {
                    if events.len() >= MAX_EVENTS {
                        let reason = format!("more than {MAX_EVENTS} events");
                        return Err(IcsError::Limit { line: line.line, reason });
                    }
                    event = Some(EventLines { begin: line.line, lines: Vec::new() });
                }
                stack.push((component, line.line));
            }
            "END" => {
                let component = line.value.trim();
                match stack.pop() {
                    Some((open, _)) if open.eq_ignore_ascii_case(component) => {}
                    Some((open, opened)) => {
                        let reason = format!("END:{component} closes {open}, opened on line {opened}");
                        return Err(IcsError::Syntax { line: line.line, reason });
                    }
                    None => {
                        let reason = format!("END:{component} without a BEGIN");
                        return Err(IcsError::Syntax { line: line.line, reason });
                    }
                }
                if component.eq_ignore_ascii_case("VEVENT") && stack.len() == 1 {
                    if let Some(lines) = event.take() {
                        events.push(lines.event(&default_tzid)?);
                    }
                }
            }
            _ if stack.len() == 2 => {
                if let Some(event) = event.as_mut() {
                    event.lines.push(line);
                }
            }
            _ => {}
        }
    }
    if let Some((open, opened)) = stack.pop() {
        return Err(IcsError::Syntax { line: opened, reason: format!("{open} is not closed") });
    }
    Ok(events)
}

/// The lines of one VEVENT (its own properties, not those of a nested VALARM).
struct EventLines<'a> {
    begin: usize,
    lines: Vec<&'a ContentLine>,
}

/// A DTSTART, DTEND or date list value read in its zone.
#[derive(Debug, Clone, Copy)]
enum When<'a> {
    /// A date: a period from 00:00 (DTSTART), whole days (DTEND).
    Date(jiff::civil::Date),
    /// A date-time in the named zone.
    Zoned(DateTime, &'a str),
}

impl<'a> EventLines<'a> {
    fn event(&self, default_tzid: &'a str) -> Result<IcsEvent, IcsError> {
        let missing = |property: &str| IcsError::Property {
            line: self.begin,
            property: property.to_owned(),
            reason: "a VEVENT needs one".into(),
        };
        let mut rule: Option<&ContentLine> = None;
        let (mut uid, mut summary, mut categories) = (None, String::new(), Vec::new());
        let (mut dtstart, mut dtend, mut duration) = (None, None, None);
        let (mut exdates, mut rdates) = (Vec::new(), Vec::new());
        for line in &self.lines {
            match line.name.as_str() {
                "UID" => uid = Some(unescape_text(&line.value)),
                "SUMMARY" => summary = unescape_text(&line.value),
                "CATEGORIES" => categories.extend(split_text_list(&line.value).into_iter().map(unescape_text)),
                "DTSTART" => dtstart = Some(*line),
                "DTEND" => dtend = Some(*line),
                "DURATION" => duration = Some(*line),
                "RRULE" if rule.is_some() => return Err(line.error("more than one RRULE is not supported")),
                "RRULE" => rule = Some(*line),
                "EXDATE" => exdates.push(*line),
                "RDATE" => rdates.push(*line),
                "RECURRENCE-ID" => return Err(line.error("a changed single occurrence is not supported")),
                "EXRULE" => return Err(line.error("EXRULE is not supported (RFC 5545 dropped it)")),
                _ => {}
            }
        }
        let uid = uid.ok_or_else(|| missing("UID"))?;
        let dtstart_line = dtstart.ok_or_else(|| missing("DTSTART"))?;
        let start = read_when(dtstart_line, &dtstart_line.value, default_tzid)?;
        let (tzid, local_start) = match start {
            When::Date(date) => (default_tzid, date.to_datetime(jiff::civil::Time::midnight())),
            When::Zoned(date_time, tzid) => (tzid, date_time),
        };
        let length = match (dtend, duration) {
            (Some(_), Some(line)) => return Err(line.error("an event has DTEND or DURATION, not both")),
            (None, Some(line)) => {
                line.value.trim().parse::<PeriodLength>().map_err(|error| line.error(error.to_string()))?
            }
            (Some(line), None) => length_until(start, line, default_tzid)?,
            (None, None) if matches!(start, When::Date(_)) => {
                PeriodLength::days(1).map_err(|error| line_error(dtstart_line, error))?
            }
            (None, None) => return Err(missing("DTEND or DURATION")),
        };
        let zone = TimeZone::get(tzid).map_err(|_| unknown_zone(dtstart_line, tzid))?;
        let exdates = date_list(&exdates, local_start, tzid, &zone, default_tzid)?;
        let rdates = date_list(&rdates, local_start, tzid, &zone, default_tzid)?;
        let recurrence =
            Recurrence::new(tzid, local_start, length, rule.map(|line| line.value.as_str()), exdates, rdates)
                .map_err(|source| IcsError::Event { line: self.begin, uid: uid.clone(), source })?;
        let kind = categories.iter().find_map(|category| category.to_ascii_lowercase().parse::<PeriodKind>().ok());
        Ok(IcsEvent { line: self.begin, uid, summary, categories, kind, recurrence })
    }
}

/// The calendar's X-WR-TIMEZONE, the zone of floating and date values; UTC without one.
fn default_tzid(lines: &[ContentLine]) -> Result<String, IcsError> {
    let mut depth = 0usize;
    for line in lines {
        match line.name.as_str() {
            "BEGIN" => depth += 1,
            "END" => depth = depth.saturating_sub(1),
            "X-WR-TIMEZONE" if depth == 1 => {
                let tzid = unescape_text(line.value.trim());
                TimeZone::get(&tzid).map_err(|_| unknown_zone(line, &tzid))?;
                return Ok(tzid);
            }
            _ => {}
        }
    }
    Ok("UTC".to_owned())
}

/// Reads one DATE or DATE-TIME value of `line` (DTSTART, DTEND, or an item of a date list).
fn read_when<'a>(line: &'a ContentLine, text: &str, default_tzid: &'a str) -> Result<When<'a>, IcsError> {
    let text = text.trim();
    let value_type = line.param("VALUE").map(str::to_ascii_uppercase);
    if value_type.as_deref() == Some("PERIOD") {
        return Err(line.error("VALUE=PERIOD is not supported"));
    }
    let bad = || line.error(format!("{text:?} is not a date (YYYYMMDD) or a date-time (YYYYMMDDTHHMMSS)"));
    if value_type.as_deref() == Some("DATE") || (value_type.is_none() && text.len() == 8) {
        return value::parse_date(text).map(When::Date).ok_or_else(bad);
    }
    if let Some(utc) = text.strip_suffix('Z') {
        if line.param("TZID").is_some() {
            return Err(line.error("a UTC value (Z) must not have a TZID"));
        }
        return value::parse_date_time(utc).map(|date_time| When::Zoned(date_time, "UTC")).ok_or_else(bad);
    }
    let tzid = line.param("TZID").unwrap_or(default_tzid);
    value::parse_date_time(text).map(|date_time| When::Zoned(date_time, tzid)).ok_or_else(bad)
}

/// The length from DTSTART to DTEND: whole days between two dates, or the exact time between two
/// instants.
fn length_until(start: When<'_>, line: &ContentLine, default_tzid: &str) -> Result<PeriodLength, IcsError> {
    let end = read_when(line, &line.value, default_tzid)?;
    let length = match (start, end) {
        (When::Date(start), When::Date(end)) => {
            if end <= start {
                return Err(line.error("DTEND must be after DTSTART"));
            }
            let days = end.since(start).map(|span| span.get_days()).unwrap_or(0);
            PeriodLength::days(u32::try_from(days).unwrap_or(0))
        }
        (When::Zoned(start, start_tzid), When::Zoned(end, end_tzid)) => {
            let start = instant(line, start, start_tzid)?;
            let end = instant(line, end, end_tzid)?;
            if end <= start {
                return Err(line.error("DTEND must be after DTSTART"));
            }
            PeriodLength::elapsed(end.duration_since(start))
        }
        _ => return Err(line.error("DTEND must be a date when DTSTART is a date, and a date-time otherwise")),
    };
    length.map_err(|error| line_error(line, error))
}

/// Reads the EXDATE or RDATE lines into the event's local date-times.
fn date_list(
    lines: &[&ContentLine],
    start: DateTime,
    tzid: &str,
    zone: &TimeZone,
    default_tzid: &str,
) -> Result<Vec<DateTime>, IcsError> {
    let mut dates = Vec::new();
    for line in lines {
        for item in line.value.split(',') {
            let local = match read_when(line, item, default_tzid)? {
                When::Date(date) => date.to_datetime(start.time()),
                When::Zoned(date_time, item_tzid) if item_tzid == tzid => date_time,
                When::Zoned(date_time, item_tzid) => zone.to_datetime(instant(line, date_time, item_tzid)?),
            };
            dates.push(local);
        }
    }
    Ok(dates)
}

/// The instant of a local date-time in the named zone, by the crate's daylight-saving rule.
fn instant(line: &ContentLine, local: DateTime, tzid: &str) -> Result<Timestamp, IcsError> {
    let zone = TimeZone::get(tzid).map_err(|_| unknown_zone(line, tzid))?;
    zone.to_ambiguous_timestamp(local).compatible().map_err(|error| line.error(error.to_string()))
}

fn unknown_zone(line: &ContentLine, tzid: &str) -> IcsError {
    line.error(format!("unknown time zone {tzid:?} (only IANA names are supported; VTIMEZONE is not read)"))
}

fn line_error(line: &ContentLine, error: crate::error::RecurrenceError) -> IcsError {
    line.error(error.to_string())
}
