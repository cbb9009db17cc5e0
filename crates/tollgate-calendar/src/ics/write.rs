//! Writing periods as a VCALENDAR, with a VTIMEZONE for each zone built from jiff's transitions.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};

use crate::ics::content::{escape_text, push_folded};
use crate::ics::ExportEvent;
use crate::limits::VTIMEZONE_YEARS_AHEAD;
use crate::recurrence::Recurrence;
use crate::value;

/// The product identifier written into every calendar.
const PRODID: &str = "-//Tollgate//Release calendar//EN";

/// Writes the periods as one VCALENDAR: CRLF line ends, lines folded at 75 octets, text escaped.
///
/// Each period is a VEVENT with UID, DTSTAMP, SUMMARY (the name), CATEGORIES (the kind),
/// DTSTART with its TZID (or in UTC, `Z`, for the zone `UTC`), DURATION (nominal days and exact
/// time, as [`crate::PeriodLength`] means them), and RRULE, EXDATE and RDATE when it has them.
/// Every zone but UTC gets a VTIMEZONE listing each of its UTC offset changes from the one in
/// force at the zone's earliest start to its latest possible occurrence, or, for periods that
/// recur without end, [`VTIMEZONE_YEARS_AHEAD`] years past the later of the DTSTAMP and the
/// start. [`crate::parse_ics`] reads the result back into the same recurrences.
pub fn write_ics(events: &[ExportEvent<'_>]) -> String {
    let mut out = String::new();
    for line in ["BEGIN:VCALENDAR", "VERSION:2.0", &format!("PRODID:{PRODID}"), "CALSCALE:GREGORIAN"] {
        push_folded(&mut out, line);
    }
    for (tzid, (zone, first, last)) in zone_ranges(events) {
        write_vtimezone(&mut out, tzid, zone, first, last);
    }
    for event in events {
        write_event(&mut out, event);
    }
    push_folded(&mut out, "END:VCALENDAR");
    out
}

fn write_event(out: &mut String, event: &ExportEvent<'_>) {
    let period = event.period;
    let recurrence = &period.recurrence;
    push_folded(out, "BEGIN:VEVENT");
    push_folded(out, &format!("UID:{}", escape_text(event.uid)));
    let mut dtstamp = String::from("DTSTAMP:");
    value::format_date_time(event.dtstamp.to_zoned(TimeZone::UTC).datetime(), &mut dtstamp);
    dtstamp.push('Z');
    push_folded(out, &dtstamp);
    push_folded(out, &format!("SUMMARY:{}", escape_text(&period.name)));
    push_folded(out, &format!("CATEGORIES:{}", period.kind));
    push_folded(out, &dated_line("DTSTART", recurrence, &[recurrence.dtstart()]));
    push_folded(out, &format!("DURATION:{}", recurrence.length()));
    if let Some(rule) = recurrence.rule() {
        push_folded(out, &format!("RRULE:{rule}"));
    }
    if !recurrence.exdates().is_empty() {
        push_folded(out, &dated_line("EXDATE", recurrence, recurrence.exdates()));
    }
    if !recurrence.rdates().is_empty() {
        push_folded(out, &dated_line("RDATE", recurrence, recurrence.rdates()));
    }
    push_folded(out, "END:VEVENT");
}

/// `NAME;TZID=zone:date-time,...`, or `NAME:date-timeZ,...` in UTC.
fn dated_line(name: &str, recurrence: &Recurrence, dates: &[DateTime]) -> String {
    let utc = recurrence.tzid() == "UTC";
    let mut line = if utc { format!("{name}:") } else { format!("{name};TZID={}:", recurrence.tzid()) };
    for (index, date) in dates.iter().enumerate() {
        if index > 0 {
            line.push(',');
        }
        value::format_date_time(*date, &mut line);
        if utc {
            line.push('Z');
        }
    }
    line
}

/// For each zone but UTC: the zone, the earliest start and the latest end to cover.
fn zone_ranges<'a>(events: &'a [ExportEvent<'a>]) -> BTreeMap<&'a str, (&'a TimeZone, Timestamp, Timestamp)> {
    let mut ranges: BTreeMap<&str, (&TimeZone, Timestamp, Timestamp)> = BTreeMap::new();
    for event in events {
        let recurrence = &event.period.recurrence;
        if recurrence.tzid() == "UTC" {
            continue;
        }
        let zone = recurrence.time_zone();
        let first = to_instant(zone, recurrence.dtstart());
        let last_start = recurrence.last_start().unwrap_or_else(|| {
            let year = event.dtstamp.to_zoned(zone.clone()).year().max(recurrence.dtstart().year());
            let year = year.saturating_add(VTIMEZONE_YEARS_AHEAD).min(9998);
            jiff::civil::date(year, 12, 31).at(23, 59, 59, 0)
        });
        let last =
            to_instant(zone, last_start).checked_add(recurrence.length().upper_bound()).unwrap_or(Timestamp::MAX);
        let range = ranges.entry(recurrence.tzid()).or_insert((zone, first, last));
        range.1 = range.1.min(first);
        range.2 = range.2.max(last);
    }
    ranges
}

/// A VTIMEZONE with one STANDARD or DAYLIGHT component per offset change in `[first, last]`,
/// starting with the change in force at `first`.
fn write_vtimezone(out: &mut String, tzid: &str, zone: &TimeZone, first: Timestamp, last: Timestamp) {
    push_folded(out, "BEGIN:VTIMEZONE");
    push_folded(out, &format!("TZID:{tzid}"));
    let in_force = zone.preceding(first.checked_add(SignedDuration::from_secs(1)).unwrap_or(first)).next();
    let start = in_force.as_ref().map_or(first, |transition| transition.timestamp());
    let mut written = 0;
    for transition in zone.following(start.checked_sub(SignedDuration::from_secs(1)).unwrap_or(start)) {
        if transition.timestamp() > last {
            break;
        }
        let before = zone.to_offset(transition.timestamp().checked_sub(SignedDuration::from_secs(1)).unwrap_or(start));
        let kind = if transition.dst().is_dst() { "DAYLIGHT" } else { "STANDARD" };
        write_observance(
            out,
            kind,
            before.to_datetime(transition.timestamp()),
            before,
            transition.offset(),
            transition.abbreviation(),
        );
        written += 1;
    }
    if written == 0 {
        // A zone without changes in the range: its one offset, from any date before it.
        let info = zone.to_offset_info(first);
        let offset = info.offset();
        let kind = if info.dst().is_dst() { "DAYLIGHT" } else { "STANDARD" };
        write_observance(out, kind, jiff::civil::date(1970, 1, 1).at(0, 0, 0, 0), offset, offset, info.abbreviation());
    }
    push_folded(out, "END:VTIMEZONE");
}

fn write_observance(out: &mut String, kind: &str, local: DateTime, from: Offset, to: Offset, abbreviation: &str) {
    push_folded(out, &format!("BEGIN:{kind}"));
    let mut dtstart = String::from("DTSTART:");
    value::format_date_time(local, &mut dtstart);
    push_folded(out, &dtstart);
    push_folded(out, &format!("TZOFFSETFROM:{}", utc_offset(from)));
    push_folded(out, &format!("TZOFFSETTO:{}", utc_offset(to)));
    if !abbreviation.is_empty() {
        push_folded(out, &format!("TZNAME:{}", escape_text(abbreviation)));
    }
    push_folded(out, &format!("END:{kind}"));
}

/// `+0100`, `-0330`, or `+003412` with seconds.
fn utc_offset(offset: Offset) -> String {
    let seconds = offset.seconds();
    let sign = if seconds < 0 { '-' } else { '+' };
    let seconds = seconds.unsigned_abs();
    let mut text = format!("{sign}{:02}{:02}", seconds / 3600, seconds / 60 % 60);
    if seconds % 60 != 0 {
        let _ = write!(text, "{:02}", seconds % 60);
    }
    text
}

fn to_instant(zone: &TimeZone, local: DateTime) -> Timestamp {
    zone.to_ambiguous_timestamp(local).compatible().unwrap_or(Timestamp::MAX)
}
