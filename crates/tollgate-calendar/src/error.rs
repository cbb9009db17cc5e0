//! What can be wrong with a period definition or an `.ics` file. Each error names the field
//! (or the line and property) and the value as it was given.

use jiff::civil::DateTime;

/// Why a period definition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecurrenceError {
    /// The time zone is not an IANA name jiff's time zone database knows.
    #[error("unknown time zone {tzid:?}")]
    UnknownTimeZone { tzid: String },
    /// The start is out of the supported range or has fractional seconds.
    #[error("start {value}: {reason}")]
    Start { value: DateTime, reason: &'static str },
    /// The length is zero, negative, too long or not an RFC 5545 duration.
    #[error("duration {value:?}: {reason}")]
    Length { value: String, reason: &'static str },
    /// The recurrence rule does not parse, is not supported, or has no occurrence.
    #[error("rule {rule:?}: {reason}")]
    Rule { rule: String, reason: String },
    /// An excluded date (EXDATE) is out of range or has fractional seconds.
    #[error("exdate {value}: {reason}")]
    Exdate { value: DateTime, reason: &'static str },
    /// An added date (RDATE) is out of range or has fractional seconds.
    #[error("rdate {value}: {reason}")]
    Rdate { value: DateTime, reason: &'static str },
    /// More excluded or added dates than a period may have.
    #[error("{field}: {count} dates, more than the {max} allowed")]
    TooManyDates { field: &'static str, count: usize, max: usize },
}

/// Why an `.ics` file was refused: the line (1-based, the first physical line of a folded
/// content line) and, where there is one, the property.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IcsError {
    /// The text is not a well-formed iCalendar stream at this line.
    #[error("line {line}: {reason}")]
    Syntax { line: usize, reason: String },
    /// A property's value or parameters are wrong.
    #[error("line {line}: {property}: {reason}")]
    Property { line: usize, property: String, reason: String },
    /// An event's properties do not make a valid period (the event starts at `line`).
    #[error("line {line}: event {uid:?}: {source}")]
    Event {
        line: usize,
        uid: String,
        #[source]
        source: RecurrenceError,
    },
    /// The file exceeds one of the limits in [`crate::limits`].
    #[error("line {line}: {reason}")]
    Limit { line: usize, reason: String },
}
