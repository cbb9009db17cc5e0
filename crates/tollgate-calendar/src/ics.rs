//! iCalendar (RFC 5545) files: VEVENTs read into recurrences ([`parse_ics`]) and periods written
//! as a VCALENDAR ([`write_ics`]).
//!
//! The reader is a small content-line reader of its own (unfolding, parameters, escaped text),
//! so that every error names its line; the `icalendar` crate's parser does not keep line
//! numbers. Only what a period needs is read: UID, SUMMARY, CATEGORIES, DTSTART, DTEND,
//! DURATION, RRULE, EXDATE and RDATE of each VEVENT, and the calendar's X-WR-TIMEZONE. Other
//! properties and components (VTODO, VALARM, VTIMEZONE) are skipped; a TZID must be an IANA name,
//! since VTIMEZONE definitions are not read.

mod content;
mod read;
mod write;

use jiff::Timestamp;
use tollgate_core::calendar::PeriodKind;

use crate::period::Period;
use crate::recurrence::Recurrence;

pub use crate::ics::read::parse_ics;
pub use crate::ics::write::write_ics;

/// One VEVENT read from an `.ics` file.
#[derive(Debug, Clone, PartialEq)]
pub struct IcsEvent {
    /// The line of its `BEGIN:VEVENT`.
    pub line: usize,
    /// Its UID.
    pub uid: String,
    /// Its SUMMARY, unescaped; empty when it has none. A period's name.
    pub summary: String,
    /// Its CATEGORIES, unescaped, in order.
    pub categories: Vec<String>,
    /// The first category that names a period kind (`window`, `maintenance`, `freeze`,
    /// `blackout`, in any case), as [`write_ics`] writes it.
    pub kind: Option<PeriodKind>,
    /// When it happens.
    pub recurrence: Recurrence,
}

/// A period to write as a VEVENT.
#[derive(Debug, Clone, Copy)]
pub struct ExportEvent<'a> {
    /// The event's UID, stable across exports of the same period.
    pub uid: &'a str,
    /// When this export was made (DTSTAMP); the caller's clock, never read here.
    pub dtstamp: Timestamp,
    /// The period: SUMMARY from its name, CATEGORIES from its kind.
    pub period: &'a Period,
}
