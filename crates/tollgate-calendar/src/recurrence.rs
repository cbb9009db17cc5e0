//! A compiled period definition and its expansion into instances: the RRULE is expanded in
//! floating local time by the `rrule` crate, and each local start is turned into an instant here,
//! with the daylight-saving rule of the crate documentation.
//!
//! The rule is parsed and validated once, in [`Recurrence::new`]. A COUNT is turned into the
//! local start of its last occurrence there too, so every later expansion can begin near the
//! queried interval instead of at the first occurrence: the expansion starts at a copy of the
//! start moved forward by whole periods of the rule (see `expansion_start`).

use std::fmt;

use chrono::{Datelike, TimeZone as _, Timelike};
use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp};
use rrule::{Frequency, RRule, RRuleSet, RRuleSetIter, Tz, Unvalidated, Validated};

use crate::error::RecurrenceError;
use crate::length::PeriodLength;
use crate::value;

/// The first year a period may start in.
pub const MIN_YEAR: i16 = 1900;
/// The last year a period may start in.
pub const MAX_YEAR: i16 = 2999;
/// The most excluded (EXDATE) or added (RDATE) dates one period may have.
pub const MAX_DATES: usize = 10_000;
/// The largest COUNT a rule may have; it is expanded once when the period is built.
pub const MAX_COUNT: u32 = 10_000;

/// A period definition, checked and compiled: a time zone, a local start, a length, and an
/// optional RRULE with excluded and added local starts.
///
/// Every date-time in it is a civil (wall-clock) date-time in the period's time zone.
#[derive(Debug, Clone)]
pub struct Recurrence {
    tzid: String,
    zone: TimeZone,
    dtstart: DateTime,
    length: PeriodLength,
    rule: Option<Rule>,
    // Invariant: sorted and without duplicates, each in range; checked in `new`.
    exdates: Vec<DateTime>,
    rdates: Vec<DateTime>,
    /// The local starts that come from no rule: the RDATEs, and the start itself when there is
    /// no rule (RFC 5545: DTSTART is then the only occurrence besides the RDATEs). Sorted.
    fixed_starts: Vec<DateTime>,
}

/// One instance of a recurrence: its instants, the wall clock at them, and what the
/// daylight-saving rule did to get there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instance {
    /// The local start the rule or date list named (it may not exist on the wall clock).
    pub nominal_start: DateTime,
    /// When the instance begins.
    pub start: Timestamp,
    /// When the instance ends (exclusive).
    pub end: Timestamp,
    /// The wall clock at `start`: `nominal_start`, unless that fell in a gap.
    pub start_local: DateTime,
    /// The wall clock at `end`.
    pub end_local: DateTime,
    /// How the nominal start was adjusted, if it fell in a gap or an overlap.
    pub start_adjustment: Option<DstAdjustment>,
    /// How the nominal end date-time of a day-based length was adjusted, if it fell in a gap or
    /// an overlap. Always `None` for a length of elapsed time only.
    pub end_adjustment: Option<DstAdjustment>,
}

/// What the daylight-saving rule did to a local date-time that was not exactly one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DstAdjustment {
    /// The local time does not exist: clocks jumped forward by `skipped` across it. It was read
    /// with the UTC offset in force before the jump, so it happens `skipped` later on the clock.
    Gap { local: DateTime, skipped: SignedDuration },
    /// The local time happened twice: clocks went back by `repeated` across it. The earlier of
    /// the two instants was taken.
    Overlap { local: DateTime, repeated: SignedDuration },
}

/// The iterator [`Recurrence::instances`] returns.
#[derive(Debug)]
pub struct Instances<'a> {
    recurrence: &'a Recurrence,
    rule_starts: Option<RRuleSetIter>,
    next_rule_start: Option<DateTime>,
    fixed_starts: &'a [DateTime],
    lower: DateTime,
    upper: DateTime,
    from: Timestamp,
    to: Timestamp,
}

/// A compiled RRULE.
#[derive(Debug, Clone)]
struct Rule {
    /// The text as given, without an `RRULE:` prefix.
    text: String,
    freq: Frequency,
    interval: u16,
    /// The local start after which the rule has no occurrence (its UNTIL, or its last counted
    /// start); `None` when it recurs without end.
    last: Option<DateTime>,
    /// The rule without COUNT, its end (UNTIL, or the last counted start) as a local UNTIL,
    /// validated against the start, which makes the defaults taken from the start (the weekday
    /// of a weekly rule, the day of a monthly one, the time of day) explicit.
    expansion: RRule<Validated>,
}

impl Recurrence {
    /// Checks and compiles a period definition.
    ///
    /// `tzid` is an IANA time zone name; `dtstart` the local start (an all-day period starts at
    /// 00:00); `rule` an RRULE value such as `FREQ=WEEKLY;BYDAY=TU` (an `RRULE:` prefix is
    /// allowed); `exdates` remove the occurrences with exactly these local starts; `rdates` add
    /// local starts. Fails, naming the field and the value, when the zone is unknown, a
    /// date-time is outside the years [`MIN_YEAR`] to [`MAX_YEAR`] or has fractional seconds,
    /// the rule does not parse, is more frequent than hourly, has a COUNT above [`MAX_COUNT`]
    /// or no occurrence at all, or there are more than [`MAX_DATES`] dates.
    pub fn new(
        tzid: &str,
        dtstart: DateTime,
        length: PeriodLength,
        rule: Option<&str>,
        exdates: Vec<DateTime>,
        rdates: Vec<DateTime>,
    ) -> Result<Recurrence, RecurrenceError> {
        let zone = TimeZone::get(tzid).map_err(|_| RecurrenceError::UnknownTimeZone { tzid: tzid.to_owned() })?;
        if let Some(reason) = out_of_range(dtstart) {
            return Err(RecurrenceError::Start { value: dtstart, reason });
        }
        let exdates = checked_dates(exdates, "exdate", |value, reason| RecurrenceError::Exdate { value, reason })?;
        let rdates = checked_dates(rdates, "rdate", |value, reason| RecurrenceError::Rdate { value, reason })?;
        let rule = rule.map(|text| Rule::compile(text, dtstart, &zone)).transpose()?;
        let mut fixed_starts = rdates.clone();
        if rule.is_none() {
            fixed_starts.push(dtstart);
            fixed_starts.sort_unstable();
            fixed_starts.dedup();
        }
        Ok(Recurrence { tzid: tzid.to_owned(), zone, dtstart, length, rule, exdates, rdates, fixed_starts })
    }

    /// The IANA time zone name.
    pub fn tzid(&self) -> &str {
        &self.tzid
    }

    /// The time zone.
    pub fn time_zone(&self) -> &TimeZone {
        &self.zone
    }

    /// The local start.
    pub fn dtstart(&self) -> DateTime {
        self.dtstart
    }

    /// How long each occurrence lasts.
    pub fn length(&self) -> PeriodLength {
        self.length
    }

    /// The RRULE text as given (without an `RRULE:` prefix), if there is one.
    pub fn rule(&self) -> Option<&str> {
        self.rule.as_ref().map(|rule| rule.text.as_str())
    }

    /// The excluded local starts, sorted.
    pub fn exdates(&self) -> &[DateTime] {
        &self.exdates
    }

    /// The added local starts, sorted.
    pub fn rdates(&self) -> &[DateTime] {
        &self.rdates
    }

    /// Every instance whose `[start, end)` overlaps `[from, to)`, in the order of their nominal
    /// local starts (which is the order of their starts, except that an instance moved out of a
    /// spring-forward gap can start after one whose nominal start was later on the same night).
    ///
    /// Allocates only the rule iterator's state, once per call; the expansion begins near
    /// `from`, not at the first occurrence.
    pub fn instances(&self, from: Timestamp, to: Timestamp) -> Instances<'_> {
        let lower = self.lower_bound(from, to);
        let upper = self.zone.to_datetime(to).checked_add(SignedDuration::from_hours(48)).unwrap_or(DateTime::MAX);
        let rule_starts = match &self.rule {
            Some(rule) if from < to => {
                let start = rule.expansion_start(self.dtstart, lower);
                let set = RRuleSet::new(to_chrono(start)).rrule(rule.expansion.clone()).limit();
                Some((&set).into_iter())
            }
            _ => None,
        };
        let first_fixed = self.fixed_starts.partition_point(|start| *start < lower);
        let fixed_starts = if from < to { &self.fixed_starts[first_fixed..] } else { &[] };
        Instances { recurrence: self, rule_starts, next_rule_start: None, fixed_starts, lower, upper, from, to }
    }

    /// A local date-time before which no nominal start can give an instance ending after
    /// `from`. An instance's start instant is its nominal start minus an offset the zone uses at
    /// or just before that instant (the offset before a gap, for a start in one), so with
    /// `min_offset` the smallest offset the zone uses from a day before the earliest such start
    /// to `to`: an instance ending after `from` starts after `from - upper_bound`, and so its
    /// nominal start is at least `from - upper_bound + min_offset` on the UTC clock.
    fn lower_bound(&self, from: Timestamp, to: Timestamp) -> DateTime {
        let earliest = from.checked_sub(self.length.upper_bound()).unwrap_or(Timestamp::MIN);
        let window_start = earliest.checked_sub(SignedDuration::from_hours(24)).unwrap_or(Timestamp::MIN);
        let window_end = to.checked_add(SignedDuration::from_hours(48)).unwrap_or(Timestamp::MAX);
        let mut min_offset = self.zone.to_offset(window_start);
        for transition in self.zone.following(window_start) {
            if transition.timestamp() > window_end {
                break;
            }
            min_offset = min_offset.min(transition.offset());
        }
        min_offset.to_datetime(earliest)
    }

    /// The instance starting at the nominal local start `nominal_start`, with the
    /// daylight-saving rule applied to its start and end. `None` only beyond the year 9999.
    pub fn instance_at(&self, nominal_start: DateTime) -> Option<Instance> {
        let (start, start_adjustment) = resolve(&self.zone, nominal_start)?;
        let elapsed = self.length.elapsed_time();
        let (end, end_adjustment) = match self.length.calendar_days() {
            0 => (start.checked_add(elapsed).ok()?, None),
            days => {
                let nominal_end = nominal_start.checked_add(SignedDuration::from_hours(24 * i64::from(days))).ok()?;
                let (end, adjustment) = resolve(&self.zone, nominal_end)?;
                (end.checked_add(elapsed).ok()?, adjustment)
            }
        };
        let start_local = match start_adjustment {
            Some(DstAdjustment::Gap { .. }) => self.zone.to_datetime(start),
            _ => nominal_start,
        };
        let end_local = self.zone.to_datetime(end);
        Some(Instance { nominal_start, start, end, start_local, end_local, start_adjustment, end_adjustment })
    }

    /// The latest local start an occurrence can have, or `None` when the rule recurs without end.
    pub fn last_start(&self) -> Option<DateTime> {
        let fixed_last = self.fixed_starts.last().copied();
        match &self.rule {
            Some(rule) => rule.last.map(|last| fixed_last.map_or(last, |fixed| fixed.max(last))),
            None => fixed_last,
        }
    }

    fn is_excluded(&self, local: DateTime) -> bool {
        self.exdates.binary_search(&local).is_ok()
    }
}

/// Compares the definitions: zone name, start, length, rule text and both date lists.
impl PartialEq for Recurrence {
    fn eq(&self, other: &Recurrence) -> bool {
        self.tzid == other.tzid
            && self.dtstart == other.dtstart
            && self.length == other.length
            && self.rule() == other.rule()
            && self.exdates == other.exdates
            && self.rdates == other.rdates
    }
}

impl Iterator for Instances<'_> {
    type Item = Instance;

    fn next(&mut self) -> Option<Instance> {
        loop {
            if self.next_rule_start.is_none() {
                self.next_rule_start = self.pull_rule_start();
            }
            let fixed = self.fixed_starts.first().copied().filter(|start| *start <= self.upper);
            let local = match (self.next_rule_start, fixed) {
                (None, None) => return None,
                (Some(from_rule), Some(fixed)) if fixed < from_rule => {
                    self.fixed_starts = &self.fixed_starts[1..];
                    fixed
                }
                (Some(from_rule), fixed) => {
                    // The same start from the rule and from an RDATE is one occurrence.
                    if fixed == Some(from_rule) {
                        self.fixed_starts = &self.fixed_starts[1..];
                    }
                    self.next_rule_start = None;
                    from_rule
                }
                (None, Some(fixed)) => {
                    self.fixed_starts = &self.fixed_starts[1..];
                    fixed
                }
            };
            if self.recurrence.is_excluded(local) {
                continue;
            }
            let Some(instance) = self.recurrence.instance_at(local) else {
                // Beyond the last representable instant: nothing later exists either.
                self.rule_starts = None;
                self.fixed_starts = &[];
                return None;
            };
            if instance.start < self.to && instance.end > self.from {
                return Some(instance);
            }
        }
    }
}

impl Instances<'_> {
    /// The next local start of the rule within `[lower, upper]`, if any.
    fn pull_rule_start(&mut self) -> Option<DateTime> {
        let rule_starts = self.rule_starts.as_mut()?;
        for start in rule_starts.by_ref() {
            let Some(local) = from_chrono(&start) else { break };
            if local > self.upper {
                break;
            }
            if local >= self.lower {
                return Some(local);
            }
        }
        self.rule_starts = None;
        None
    }
}

impl fmt::Display for DstAdjustment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DstAdjustment::Gap { local, skipped } => write!(
                f,
                "{local} does not exist (clocks go forward {}): read with the earlier offset, so {} on the clock",
                hours(*skipped),
                local.checked_add(*skipped).map_or_else(|_| "later".to_owned(), |moved| moved.to_string())
            ),
            DstAdjustment::Overlap { local, repeated } => {
                write!(f, "{local} happens twice (clocks go back {}): the earlier one is taken", hours(*repeated))
            }
        }
    }
}

impl Rule {
    fn compile(given: &str, dtstart: DateTime, zone: &TimeZone) -> Result<Rule, RecurrenceError> {
        let trimmed = given.trim();
        let text = match trimmed.get(..6) {
            Some(prefix) if prefix.eq_ignore_ascii_case("RRULE:") => &trimmed[6..],
            _ => trimmed,
        };
        let invalid = |reason: String| RecurrenceError::Rule { rule: text.to_owned(), reason };
        let upper = text.to_ascii_uppercase();
        let mut until = None;
        let mut kept_parts = Vec::new();
        for part in upper.split(';').filter(|part| !part.is_empty()) {
            match part.split_once('=') {
                Some(("UNTIL", value)) => until = Some(parse_until(value, zone).map_err(invalid)?),
                Some(("COUNT", _)) => {}
                _ => kept_parts.push(part),
            }
        }
        // Parsed whole as well, so that the rrule crate's own errors reach the user.
        let parsed: RRule<Unvalidated> =
            upper.parse().map_err(|error: rrule::RRuleError| invalid(error.to_string()))?;
        let (freq, interval, count) = (parsed.get_freq(), parsed.get_interval(), parsed.get_count());
        if matches!(freq, Frequency::Minutely | Frequency::Secondly) {
            return Err(invalid(
                "FREQ=MINUTELY and FREQ=SECONDLY are not supported: a period recurs hourly at most".into(),
            ));
        }
        let base: RRule<Unvalidated> =
            kept_parts.join(";").parse().map_err(|error: rrule::RRuleError| invalid(error.to_string()))?;
        let start = to_chrono(dtstart);
        let last = match count {
            Some(count) if count > MAX_COUNT => {
                return Err(invalid(format!("COUNT above {MAX_COUNT} is not supported")))
            }
            Some(count) => {
                let counted = base.clone().count(count).validate(start).map_err(|error| invalid(error.to_string()))?;
                let set = RRuleSet::new(start).rrule(counted).limit();
                let last = (&set).into_iter().last().and_then(|last| from_chrono(&last));
                Some(last.ok_or_else(|| invalid("it has no occurrence".into()))?)
            }
            None => until,
        };
        if let Some(last) = last.filter(|last| *last < dtstart) {
            return Err(invalid(format!("UNTIL {last} is before the start {dtstart}")));
        }
        let bounded = match last {
            Some(last) => base.until(to_chrono(last)),
            None => base,
        };
        let expansion = bounded.validate(start).map_err(|error| invalid(error.to_string()))?;
        let set = RRuleSet::new(start).rrule(expansion.clone()).limit();
        if (&set).into_iter().next().is_none() {
            return Err(invalid("it has no occurrence".into()));
        }
        Ok(Rule { text: text.to_owned(), freq, interval, last, expansion })
    }

    /// Where to begin expanding so that every start at or after `lower` comes out exactly as
    /// from `dtstart`: `dtstart` moved forward by the most whole intervals of the rule that keep
    /// it at or before `lower` (and never before `dtstart`). Moving by whole intervals keeps the periods (days,
    /// weeks from WKST, months, years) aligned; the defaults a start gives a rule (weekday,
    /// day of month, month, time of day) are already explicit in `expansion`. A monthly or
    /// yearly start moves to the first day of its month or year, which exists in every month.
    /// Starts before the new start are skipped, which is right because they are before `lower`;
    /// a COUNT would need them, which is why COUNT was turned into UNTIL in `compile`.
    fn expansion_start(&self, dtstart: DateTime, lower: DateTime) -> DateTime {
        if lower <= dtstart {
            return dtstart;
        }
        let interval = i64::from(self.interval.max(1));
        // The start moved forward by `intervals` whole intervals of the rule.
        let moved_by = |intervals: i64| -> Option<DateTime> {
            let units = intervals * interval;
            let (hour, minute, second) = (dtstart.hour(), dtstart.minute(), dtstart.second());
            match self.freq {
                Frequency::Yearly => {
                    let year = i16::try_from(units).ok().and_then(|years| dtstart.year().checked_add(years))?;
                    DateTime::new(year, 1, 1, hour, minute, second, 0).ok()
                }
                Frequency::Monthly => {
                    let index = i64::from(dtstart.year()) * 12 + i64::from(dtstart.month()) - 1 + units;
                    let year = i16::try_from(index.div_euclid(12)).ok()?;
                    let month = i8::try_from(index.rem_euclid(12) + 1).expect("a month is 1 to 12");
                    DateTime::new(year, month, 1, hour, minute, second, 0).ok()
                }
                Frequency::Weekly => dtstart.checked_add(SignedDuration::from_hours(24 * 7 * units)).ok(),
                Frequency::Daily => dtstart.checked_add(SignedDuration::from_hours(24 * units)).ok(),
                _ => dtstart.checked_add(SignedDuration::from_hours(units)).ok(),
            }
        };
        // An estimate of the whole intervals from the start to `lower`, at most one too many.
        let days = lower.date().since(dtstart.date()).map_or(0, |span| i64::from(span.get_days()));
        let units = match self.freq {
            Frequency::Yearly => i64::from(lower.year()) - i64::from(dtstart.year()),
            Frequency::Monthly => {
                (i64::from(lower.year()) - i64::from(dtstart.year())) * 12 + i64::from(lower.month())
                    - i64::from(dtstart.month())
            }
            Frequency::Weekly => days / 7,
            Frequency::Daily => days,
            _ => lower.duration_since(dtstart).as_hours(),
        };
        let intervals = units / interval;
        let moved = moved_by(intervals)
            .filter(|moved| *moved <= lower)
            .or_else(|| moved_by(intervals - 1).filter(|moved| *moved <= lower));
        // Never before the start: what comes before it is not part of the recurrence.
        moved.filter(|moved| *moved >= dtstart).unwrap_or(dtstart)
    }
}

/// Reads an UNTIL value as a local date-time in the period's zone: a floating date-time as it
/// is, a UTC date-time (`Z`) as the zone's wall clock at that instant, and a date as the last
/// second of that local day (the whole day is included).
fn parse_until(value: &str, zone: &TimeZone) -> Result<DateTime, String> {
    let error = || format!("UNTIL {value:?} is not a date (YYYYMMDD) or a date-time (YYYYMMDDTHHMMSS, with Z for UTC)");
    if let Some(text) = value.strip_suffix('Z') {
        let utc = value::parse_date_time(text).ok_or_else(error)?;
        let instant = utc.to_zoned(TimeZone::UTC).map_err(|_| error())?.timestamp();
        return Ok(zone.to_datetime(instant));
    }
    if let Some(date_time) = value::parse_date_time(value) {
        return Ok(date_time);
    }
    let date = value::parse_date(value).ok_or_else(error)?;
    Ok(date.to_datetime(jiff::civil::time(23, 59, 59, 0)))
}

/// Converts a local date-time to an instant by the crate's daylight-saving rule (jiff's
/// "compatible" disambiguation): a time in a gap is read with the offset before the gap, a time
/// in an overlap is the earlier instant. `None` beyond the representable range.
fn resolve(zone: &TimeZone, local: DateTime) -> Option<(Timestamp, Option<DstAdjustment>)> {
    let ambiguous = zone.to_ambiguous_timestamp(local);
    let adjustment = match ambiguous.offset() {
        AmbiguousOffset::Unambiguous { .. } => None,
        AmbiguousOffset::Gap { before, after } => {
            Some(DstAdjustment::Gap { local, skipped: after.duration_since(before) })
        }
        AmbiguousOffset::Fold { before, after } => {
            Some(DstAdjustment::Overlap { local, repeated: before.duration_since(after) })
        }
    };
    Some((ambiguous.compatible().ok()?, adjustment))
}

/// Why a date-time cannot be part of a period, if it cannot.
fn out_of_range(value: DateTime) -> Option<&'static str> {
    if !(MIN_YEAR..=MAX_YEAR).contains(&value.year()) {
        Some("must be in the years 1900 to 2999")
    } else if value.subsec_nanosecond() != 0 {
        Some("must be a whole second")
    } else {
        None
    }
}

/// Checks, sorts and deduplicates a list of dates.
fn checked_dates(
    mut dates: Vec<DateTime>,
    field: &'static str,
    error: impl Fn(DateTime, &'static str) -> RecurrenceError,
) -> Result<Vec<DateTime>, RecurrenceError> {
    if dates.len() > MAX_DATES {
        return Err(RecurrenceError::TooManyDates { field, count: dates.len(), max: MAX_DATES });
    }
    if let Some((value, reason)) = dates.iter().find_map(|date| out_of_range(*date).map(|reason| (*date, reason))) {
        return Err(error(value, reason));
    }
    dates.sort_unstable();
    dates.dedup();
    Ok(dates)
}

/// A local date-time as the floating time the rrule crate expands: UTC holding the wall-clock
/// fields, so the crate never applies a time zone of its own.
fn to_chrono(local: DateTime) -> chrono::DateTime<Tz> {
    let field = |value: i8| u32::try_from(value).expect("civil date-time fields are not negative");
    Tz::UTC
        .with_ymd_and_hms(
            i32::from(local.year()),
            field(local.month()),
            field(local.day()),
            field(local.hour()),
            field(local.minute()),
            field(local.second()),
        )
        .single()
        .expect("a valid civil date-time has exactly one reading in UTC")
}

/// The wall-clock fields of the rrule crate's floating time; `None` past jiff's range.
fn from_chrono(at: &chrono::DateTime<Tz>) -> Option<DateTime> {
    let field = |value: u32| i8::try_from(value).expect("a month, day, hour, minute or second fits in i8");
    let year = i16::try_from(at.year()).ok()?;
    DateTime::new(year, field(at.month()), field(at.day()), field(at.hour()), field(at.minute()), field(at.second()), 0)
        .ok()
}

/// `1h`, `30m`, `1h30m`.
fn hours(duration: SignedDuration) -> String {
    let minutes = duration.as_mins();
    match (minutes / 60, minutes % 60) {
        (0, minutes) => format!("{minutes}m"),
        (hours, 0) => format!("{hours}h"),
        (hours, minutes) => format!("{hours}h{minutes}m"),
    }
}

#[cfg(test)]
mod tests;
