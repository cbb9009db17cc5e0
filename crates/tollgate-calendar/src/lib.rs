//! Tollgate's release calendar, the pure layer: recurring periods (release windows, maintenance
//! windows, freezes, blackouts) expanded into occurrences, and `.ics` import and export.
//!
//! A [`Recurrence`] is a checked period definition: an IANA time zone, a local start, a
//! [`PeriodLength`], an optional RFC 5545 RRULE, and excluded (EXDATE) and added (RDATE) local
//! starts. A [`Period`] gives it a name and a [`PeriodKind`] and expands it into core's
//! [`Occurrence`]s over an interval. [`parse_ics`] reads VEVENTs into recurrences;
//! [`write_ics`] writes periods as a VCALENDAR.
//!
//! # The daylight-saving rule
//!
//! A recurrence is expanded in floating local time: the rule is applied to wall-clock
//! date-times, with no time zone involved (the `rrule` crate is given UTC holding the local
//! fields, so its own time-zone handling never runs). Each local start is then turned into an
//! instant here, by one rule (jiff's "compatible" disambiguation, the rule of RFC 5545 section
//! 3.3.5 and of Python's `fold=0`):
//!
//! - a local time inside a spring-forward gap (02:30 on 2026-03-29 in Europe/Berlin) is read
//!   with the UTC offset in force before the gap, so it happens the gap's length later on the
//!   clock (03:30 CEST, 01:30 UTC); the occurrence is kept and counts toward COUNT;
//! - a local time inside an autumn overlap (02:30 on 2026-10-25 in Europe/Berlin) is the
//!   earlier of its two instants (02:30 CEST, 00:30 UTC).
//!
//! EXDATE removes the occurrence whose nominal local start equals it; RDATE adds nominal local
//! starts. UNTIL is compared in local time too: a UTC UNTIL is first converted to the zone's wall
//! clock, and a date UNTIL includes that whole local day.
//!
//! An occurrence ends after its length: the elapsed part (`PT6H`) is real time added to the start
//! instant; the calendar-day part (`P15D`) is added to the nominal local start, and the result is
//! turned into an instant by the same rule (then any elapsed part is added). So a six-hour window
//! lasts six hours on the night the clocks change, and a freeze ends at local midnight.
//!
//! [`Expanded`] and [`Period::describe`] say which occurrences were adjusted and how.
//!
//! This crate reads no files but the system time zone database (through jiff's
//! `TimeZone::get`), reads no clock (a DTSTAMP is an argument), and bounds its work: see
//! [`MAX_DATES`], [`MAX_COUNT`] and [`limits`]. The supported RRULE subset and the `.ics`
//! behaviour are described in `docs/calendar.md`.
#![forbid(unsafe_code)]

mod error;
mod ics;
mod index;
mod length;
pub mod limits;
mod period;
mod recurrence;
mod value;

pub use crate::error::{IcsError, RecurrenceError};
pub use crate::ics::{parse_ics, write_ics, ExportEvent, IcsEvent};
pub use crate::index::{index_occurrences, IntervalIndex};
pub use crate::length::{PeriodLength, MAX_DAYS};
pub use crate::period::{Expanded, Period};
pub use crate::recurrence::{DstAdjustment, Instance, Instances, Recurrence, MAX_COUNT, MAX_DATES, MAX_YEAR, MIN_YEAR};

/// The period kinds and occurrences (defined in core, where stored and served values live).
pub use tollgate_core::calendar::{Occurrence, PeriodKind};
