//! The bounds of `.ics` input and output. An input over a bound is refused with an
//! [`IcsError::Limit`](crate::IcsError::Limit) naming the line, never truncated.

/// The largest `.ics` text read, in bytes.
pub const MAX_ICS_BYTES: usize = 32 * 1024 * 1024;

/// The longest content line, unfolded, in bytes. Long enough for an EXDATE list of a few
/// thousand dates on one line.
pub const MAX_CONTENT_LINE_BYTES: usize = 256 * 1024;

/// The most VEVENTs one `.ics` file may hold.
pub const MAX_EVENTS: usize = 10_000;

/// The deepest nesting of components (VCALENDAR, VEVENT, VALARM, ...).
pub const MAX_COMPONENT_DEPTH: usize = 8;

/// How many years after the later of the DTSTAMP and the latest start an exported VTIMEZONE
/// covers when a period recurs without end.
pub const VTIMEZONE_YEARS_AHEAD: i16 = 10;
