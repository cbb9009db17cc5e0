//! How long each occurrence of a period lasts: whole calendar days, elapsed time, or both, as
//! RFC 5545 durations (`P15D`, `PT6H`, `P1DT12H`) distinguish them.
//!
//! Days are nominal: a day-based period ends at the same wall-clock time some days later, even
//! across a daylight-saving change (a freeze from 2026-12-20 for `P15D` ends on 2027-01-04 at
//! midnight). Hours, minutes and seconds are elapsed time: a `PT6H` window lasts six real hours,
//! also on the night the clocks change. Months and years are not accepted: RFC 5545 has none.

use std::fmt;
use std::str::FromStr;

use jiff::SignedDuration;

use crate::error::RecurrenceError;

/// The longest period Tollgate accepts, in days (about ten years).
pub const MAX_DAYS: u32 = 3_660;

/// How long each occurrence lasts: `days` calendar days, then `elapsed` more time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeriodLength {
    // Invariant: days <= MAX_DAYS; 0 <= elapsed <= MAX_DAYS days; not both zero. Checked in `new`.
    days: u32,
    elapsed: SignedDuration,
}

impl PeriodLength {
    /// A length of `days` calendar days followed by `elapsed` time. Fails when the length is
    /// zero, `elapsed` is negative, or either part is longer than [`MAX_DAYS`] days.
    pub fn new(days: u32, elapsed: SignedDuration) -> Result<PeriodLength, RecurrenceError> {
        let length = PeriodLength { days, elapsed };
        let problem = if elapsed.is_negative() {
            Some("must not be negative")
        } else if days == 0 && elapsed.is_zero() {
            Some("must be longer than zero")
        } else if days > MAX_DAYS || elapsed > SignedDuration::from_hours(24 * i64::from(MAX_DAYS)) {
            Some("must be at most 3660 days")
        } else if elapsed.subsec_nanos() != 0 {
            Some("must be a whole number of seconds")
        } else {
            None
        };
        match problem {
            Some(reason) => Err(RecurrenceError::Length { value: length.to_string(), reason }),
            None => Ok(length),
        }
    }

    /// A length of whole calendar days (an all-day or multi-day period).
    pub fn days(days: u32) -> Result<PeriodLength, RecurrenceError> {
        PeriodLength::new(days, SignedDuration::ZERO)
    }

    /// A length of elapsed time (a window of six hours).
    pub fn elapsed(elapsed: SignedDuration) -> Result<PeriodLength, RecurrenceError> {
        PeriodLength::new(0, elapsed)
    }

    /// The calendar days.
    pub fn calendar_days(&self) -> u32 {
        self.days
    }

    /// The elapsed time after the calendar days.
    pub fn elapsed_time(&self) -> SignedDuration {
        self.elapsed
    }

    /// An upper bound of the real time an occurrence can last: the elapsed time, plus for
    /// calendar days 24 hours each and 26 hours more (the largest change of a zone's UTC offset
    /// in the time zone database, Kiritimati's 24h40m in 1994, with room to spare).
    pub(crate) fn upper_bound(&self) -> SignedDuration {
        match self.days {
            0 => self.elapsed,
            days => SignedDuration::from_hours(24 * i64::from(days) + 26) + self.elapsed,
        }
    }
}

/// Reads an RFC 5545 duration (`P15D`, `P2W`, `PT6H30M`, `P1DT12H`). A leading `+` is allowed;
/// a negative duration is refused, and so are months and years, which RFC 5545 does not have.
impl FromStr for PeriodLength {
    type Err = RecurrenceError;

    fn from_str(text: &str) -> Result<PeriodLength, RecurrenceError> {
        let invalid = |reason| RecurrenceError::Length { value: text.to_owned(), reason };
        let rest = text.strip_prefix('+').unwrap_or(text);
        if rest.starts_with('-') {
            return Err(invalid("must not be negative"));
        }
        let rest = rest.strip_prefix('P').ok_or_else(|| invalid("is not an RFC 5545 duration such as PT6H or P1D"))?;
        let (date_part, time_part) = match rest.split_once('T') {
            Some((date_part, time_part)) if !time_part.is_empty() => (date_part, Some(time_part)),
            Some(_) => return Err(invalid("has a T without hours, minutes or seconds")),
            None => (rest, None),
        };
        let mut days: u64 = 0;
        for (number, unit) in units(date_part).map_err(invalid)? {
            days += match unit {
                'W' => number * 7,
                'D' => number,
                _ => return Err(invalid("has a unit other than W or D before T")),
            };
        }
        let mut seconds: u64 = 0;
        for (number, unit) in units(time_part.unwrap_or("")).map_err(invalid)? {
            seconds += match unit {
                'H' => number * 3600,
                'M' => number * 60,
                'S' => number,
                _ => return Err(invalid("has a unit other than H, M or S after T")),
            };
        }
        if date_part.is_empty() && time_part.is_none() {
            return Err(invalid("is not an RFC 5545 duration such as PT6H or P1D"));
        }
        let days = u32::try_from(days).map_err(|_| invalid("must be at most 3660 days"))?;
        let seconds = i64::try_from(seconds).map_err(|_| invalid("must be at most 3660 days"))?;
        PeriodLength::new(days, SignedDuration::from_secs(seconds)).map_err(|_| invalid_length(text, days, seconds))
    }
}

/// Writes the RFC 5545 form: weeks when the days are whole weeks, then days, then the time.
impl fmt::Display for PeriodLength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only a length refused by `new` can be negative; it is written so the error shows it.
        f.write_str(if self.elapsed.is_negative() { "-P" } else { "P" })?;
        if self.days > 0 && self.days % 7 == 0 && self.elapsed.is_zero() {
            return write!(f, "{}W", self.days / 7);
        }
        if self.days > 0 {
            write!(f, "{}D", self.days)?;
        }
        let seconds = self.elapsed.as_secs().abs();
        if seconds != 0 || self.days == 0 {
            f.write_str("T")?;
            let (hours, minutes, seconds) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
            if hours > 0 {
                write!(f, "{hours}H")?;
            }
            if minutes > 0 {
                write!(f, "{minutes}M")?;
            }
            if seconds > 0 || (hours == 0 && minutes == 0) {
                write!(f, "{seconds}S")?;
            }
        }
        Ok(())
    }
}

/// The error for a duration that reads but is out of range, naming the text as written.
fn invalid_length(text: &str, days: u32, seconds: i64) -> RecurrenceError {
    let reason = if days == 0 && seconds == 0 { "must be longer than zero" } else { "must be at most 3660 days" };
    RecurrenceError::Length { value: text.to_owned(), reason }
}

/// Splits `15D` or `6H30M` into (number, unit) pairs; fails on anything else.
fn units(text: &str) -> Result<Vec<(u64, char)>, &'static str> {
    let mut pairs = Vec::new();
    let mut number: Option<u64> = None;
    for character in text.chars() {
        if let Some(digit) = character.to_digit(10) {
            let so_far = number.unwrap_or(0);
            number = Some(so_far.checked_mul(10).and_then(|n| n.checked_add(u64::from(digit))).ok_or("is too long")?);
        } else {
            let value = number.take().ok_or("has a unit without a number")?;
            if pairs.iter().any(|(_, unit)| *unit == character) {
                return Err("names a unit twice");
            }
            pairs.push((value, character));
        }
    }
    if number.is_some() {
        return Err("has a number without a unit");
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Result<(u32, i64), &str>) {
        let parsed = text.parse::<PeriodLength>();
        match (parsed, expected) {
            (Ok(length), Ok((days, seconds))) => {
                assert_eq!((length.calendar_days(), length.elapsed_time().as_secs()), (days, seconds), "{text}");
            }
            (Err(error), Err(message)) => assert_eq!(error.to_string(), message, "{text}"),
            (parsed, expected) => panic!("{text}: got {parsed:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn rfc_5545_durations_read_as_days_and_elapsed_time() {
        check("PT6H", Ok((0, 6 * 3600)));
        check("P15D", Ok((15, 0)));
        check("P2W", Ok((14, 0)));
        check("P1DT12H", Ok((1, 12 * 3600)));
        check("+PT1H30M15S", Ok((0, 5415)));
        check("PT0S", Err(r#"duration "PT0S": must be longer than zero"#));
        check("-PT1H", Err(r#"duration "-PT1H": must not be negative"#));
        check("P1M", Err(r#"duration "P1M": has a unit other than W or D before T"#));
        check("6h", Err(r#"duration "6h": is not an RFC 5545 duration such as PT6H or P1D"#));
        check("P", Err(r#"duration "P": is not an RFC 5545 duration such as PT6H or P1D"#));
        check("PT", Err(r#"duration "PT": has a T without hours, minutes or seconds"#));
        check("P1D1D", Err(r#"duration "P1D1D": names a unit twice"#));
        check("PT5", Err(r#"duration "PT5": has a number without a unit"#));
        check("P4000D", Err(r#"duration "P4000D": must be at most 3660 days"#));
    }

    #[test]
    fn lengths_write_back_as_they_read() {
        for text in ["PT6H", "P15D", "P2W", "P1DT12H", "PT1H30M15S", "PT45M", "PT30S", "P1DT1S"] {
            assert_eq!(text.parse::<PeriodLength>().expect("valid").to_string(), text);
        }
    }
}
