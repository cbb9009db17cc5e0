//! RFC 5545 DATE and DATE-TIME values (`20261220`, `20261220T093000`), read and written
//! without a time zone: the caller knows whether a `Z` or a TZID goes with them.

use std::fmt::Write as _;

use jiff::civil::{Date, DateTime};

/// Reads `YYYYMMDD`.
pub(crate) fn parse_date(text: &str) -> Option<Date> {
    if text.len() != 8 || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let year = text[0..4].parse().ok()?;
    let month = text[4..6].parse().ok()?;
    let day = text[6..8].parse().ok()?;
    Date::new(year, month, day).ok()
}

/// Reads `YYYYMMDDTHHMMSS` (no `Z`; the caller strips it). A leap second (`60`) is refused.
pub(crate) fn parse_date_time(text: &str) -> Option<DateTime> {
    let (date, time) = text.split_once('T')?;
    let date = parse_date(date)?;
    if time.len() != 6 || !time.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let hour = time[0..2].parse().ok()?;
    let minute = time[2..4].parse().ok()?;
    let second = time[4..6].parse().ok()?;
    date.to_datetime(jiff::civil::Time::new(hour, minute, second, 0).ok()?).into()
}

/// Writes `YYYYMMDD`.
pub(crate) fn format_date(date: Date, out: &mut String) {
    let _ = write!(out, "{:04}{:02}{:02}", date.year(), date.month(), date.day());
}

/// Writes `YYYYMMDDTHHMMSS`.
pub(crate) fn format_date_time(date_time: DateTime, out: &mut String) {
    format_date(date_time.date(), out);
    let _ = write!(out, "T{:02}{:02}{:02}", date_time.hour(), date_time.minute(), date_time.second());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_date_times_read_and_write_back() {
        let date_time = parse_date_time("20261220T093005").expect("valid");
        assert_eq!(date_time, jiff::civil::date(2026, 12, 20).at(9, 30, 5, 0));
        let mut out = String::new();
        format_date_time(date_time, &mut out);
        assert_eq!(out, "20261220T093005");
        assert_eq!(parse_date("20240229"), Some(jiff::civil::date(2024, 2, 29)));
        for bad in ["20250229", "2026122", "2026-12-20", "20261220T0930", "20261220T246000", "20261220T093060"] {
            assert!(parse_date(bad).is_none() && parse_date_time(bad).is_none(), "{bad}");
        }
    }
}
