use super::*;

/// A period definition in test shorthand: zone, local start, length, rule, exdates, rdates.
#[derive(Clone, Copy)]
struct Definition<'a> {
    tzid: &'a str,
    dtstart: &'a str,
    length: &'a str,
    rule: Option<&'a str>,
    exdates: &'a [&'a str],
    rdates: &'a [&'a str],
}

const fn daily_at(tzid: &'static str, dtstart: &'static str, rule: &'static str) -> Definition<'static> {
    Definition { tzid, dtstart, length: "PT1H", rule: Some(rule), exdates: &[], rdates: &[] }
}

fn local(text: &str) -> DateTime {
    text.parse().expect("a civil date-time")
}

fn at(text: &str) -> Timestamp {
    text.parse().expect("an RFC 3339 instant")
}

fn build(definition: &Definition<'_>) -> Result<Recurrence, RecurrenceError> {
    Recurrence::new(
        definition.tzid,
        local(definition.dtstart),
        definition.length.parse().expect("a length"),
        definition.rule,
        definition.exdates.iter().map(|text| local(text)).collect(),
        definition.rdates.iter().map(|text| local(text)).collect(),
    )
}

/// Expands `definition` over `[from, to)` (RFC 3339) and compares each instance, written as
/// `start/end start_local [adjustment]`, with `expected`.
fn check(definition: Definition<'_>, from: &str, to: &str, expected: &[&str]) {
    let recurrence = build(&definition).expect("a valid definition");
    let got: Vec<String> = recurrence
        .instances(at(from), at(to))
        .map(|instance| {
            let adjustment = match instance.start_adjustment {
                Some(DstAdjustment::Gap { skipped, .. }) => format!(" gap {skipped:#}"),
                Some(DstAdjustment::Overlap { repeated, .. }) => format!(" overlap {repeated:#}"),
                None => String::new(),
            };
            format!("{}/{} {}{adjustment}", instance.start, instance.end, instance.start_local)
        })
        .collect();
    assert_eq!(got, expected, "{:?} {:?}", definition.tzid, definition.rule);
}

#[test]
fn berlin_spring_gap_is_read_with_the_winter_offset_and_kept() {
    check(
        daily_at("Europe/Berlin", "2026-03-27T02:30", "FREQ=DAILY"),
        "2026-03-27T00:00Z",
        "2026-03-31T00:00Z",
        &[
            "2026-03-27T01:30:00Z/2026-03-27T02:30:00Z 2026-03-27T02:30:00",
            "2026-03-28T01:30:00Z/2026-03-28T02:30:00Z 2026-03-28T02:30:00",
            "2026-03-29T01:30:00Z/2026-03-29T02:30:00Z 2026-03-29T03:30:00 gap 1h",
            "2026-03-30T00:30:00Z/2026-03-30T01:30:00Z 2026-03-30T02:30:00",
        ],
    );
}

#[test]
fn an_occurrence_in_a_gap_counts_toward_count() {
    check(
        daily_at("Europe/Berlin", "2026-03-28T02:30", "FREQ=DAILY;COUNT=2"),
        "2026-01-01T00:00Z",
        "2027-01-01T00:00Z",
        &[
            "2026-03-28T01:30:00Z/2026-03-28T02:30:00Z 2026-03-28T02:30:00",
            "2026-03-29T01:30:00Z/2026-03-29T02:30:00Z 2026-03-29T03:30:00 gap 1h",
        ],
    );
    check(
        daily_at("America/New_York", "2026-03-07T02:30", "FREQ=DAILY;COUNT=2"),
        "2026-01-01T00:00Z",
        "2027-01-01T00:00Z",
        &[
            "2026-03-07T07:30:00Z/2026-03-07T08:30:00Z 2026-03-07T02:30:00",
            "2026-03-08T07:30:00Z/2026-03-08T08:30:00Z 2026-03-08T03:30:00 gap 1h",
        ],
    );
}

#[test]
fn berlin_autumn_overlap_takes_the_earlier_instant() {
    check(
        daily_at("Europe/Berlin", "2026-10-24T02:30", "FREQ=DAILY"),
        "2026-10-24T00:00Z",
        "2026-10-27T00:00Z",
        &[
            "2026-10-24T00:30:00Z/2026-10-24T01:30:00Z 2026-10-24T02:30:00",
            "2026-10-25T00:30:00Z/2026-10-25T01:30:00Z 2026-10-25T02:30:00 overlap 1h",
            "2026-10-26T01:30:00Z/2026-10-26T02:30:00Z 2026-10-26T02:30:00",
        ],
    );
}

#[test]
fn new_york_gap_and_overlap() {
    check(
        daily_at("America/New_York", "2026-03-07T02:30", "FREQ=DAILY;COUNT=3"),
        "2026-01-01T00:00Z",
        "2027-01-01T00:00Z",
        &[
            "2026-03-07T07:30:00Z/2026-03-07T08:30:00Z 2026-03-07T02:30:00",
            "2026-03-08T07:30:00Z/2026-03-08T08:30:00Z 2026-03-08T03:30:00 gap 1h",
            "2026-03-09T06:30:00Z/2026-03-09T07:30:00Z 2026-03-09T02:30:00",
        ],
    );
    // New York repeats 01:00 to 02:00, so 02:30 is plain on 2026-11-01 and 01:30 is doubled.
    check(
        daily_at("America/New_York", "2026-10-31T02:30", "FREQ=DAILY;COUNT=3"),
        "2026-01-01T00:00Z",
        "2027-01-01T00:00Z",
        &[
            "2026-10-31T06:30:00Z/2026-10-31T07:30:00Z 2026-10-31T02:30:00",
            "2026-11-01T07:30:00Z/2026-11-01T08:30:00Z 2026-11-01T02:30:00",
            "2026-11-02T07:30:00Z/2026-11-02T08:30:00Z 2026-11-02T02:30:00",
        ],
    );
    check(
        daily_at("America/New_York", "2026-10-31T01:30", "FREQ=DAILY;COUNT=3"),
        "2026-01-01T00:00Z",
        "2027-01-01T00:00Z",
        &[
            "2026-10-31T05:30:00Z/2026-10-31T06:30:00Z 2026-10-31T01:30:00",
            "2026-11-01T05:30:00Z/2026-11-01T06:30:00Z 2026-11-01T01:30:00 overlap 1h",
            "2026-11-02T06:30:00Z/2026-11-02T07:30:00Z 2026-11-02T01:30:00",
        ],
    );
}

#[test]
fn sydney_overlap_in_april_and_gap_in_october() {
    check(
        daily_at("Australia/Sydney", "2026-04-04T02:30", "FREQ=DAILY;COUNT=3"),
        "2026-01-01T00:00Z",
        "2027-01-01T00:00Z",
        &[
            "2026-04-03T15:30:00Z/2026-04-03T16:30:00Z 2026-04-04T02:30:00",
            "2026-04-04T15:30:00Z/2026-04-04T16:30:00Z 2026-04-05T02:30:00 overlap 1h",
            "2026-04-05T16:30:00Z/2026-04-05T17:30:00Z 2026-04-06T02:30:00",
        ],
    );
    check(
        daily_at("Australia/Sydney", "2026-10-03T02:30", "FREQ=DAILY;COUNT=3"),
        "2026-01-01T00:00Z",
        "2027-01-01T00:00Z",
        &[
            "2026-10-02T16:30:00Z/2026-10-02T17:30:00Z 2026-10-03T02:30:00",
            "2026-10-03T16:30:00Z/2026-10-03T17:30:00Z 2026-10-04T03:30:00 gap 1h",
            "2026-10-04T15:30:00Z/2026-10-04T16:30:00Z 2026-10-05T02:30:00",
        ],
    );
}

#[test]
fn elapsed_lengths_last_real_time_and_day_lengths_end_at_local_midnight() {
    // Six real hours across the Berlin spring change: 22:00 CET to 05:00 CEST on the clock.
    let window = Definition {
        tzid: "Europe/Berlin",
        dtstart: "2026-03-28T22:00",
        length: "PT6H",
        rule: None,
        exdates: &[],
        rdates: &[],
    };
    check(
        window,
        "2026-01-01T00:00Z",
        "2027-01-01T00:00Z",
        &["2026-03-28T21:00:00Z/2026-03-29T03:00:00Z 2026-03-28T22:00:00"],
    );
    // A freeze of whole days across the autumn change ends at local midnight, 25 hours later.
    let freeze = Definition { length: "P1D", dtstart: "2026-10-25T00:00", ..window };
    let recurrence = build(&freeze).expect("valid");
    let instance = recurrence.instances(at("2026-01-01T00:00Z"), at("2027-01-01T00:00Z")).next().expect("one");
    assert_eq!((instance.start, instance.end), (at("2026-10-24T22:00Z"), at("2026-10-25T23:00Z")));
    assert_eq!(instance.end_local, local("2026-10-26T00:00"));
}

#[test]
fn a_yearly_freeze_of_local_dates() {
    let freeze = Definition {
        tzid: "Europe/Berlin",
        dtstart: "2026-12-20T00:00",
        length: "P15D",
        rule: Some("FREQ=YEARLY"),
        exdates: &[],
        rdates: &[],
    };
    check(
        freeze,
        "2026-06-01T00:00Z",
        "2028-06-01T00:00Z",
        &[
            "2026-12-19T23:00:00Z/2027-01-03T23:00:00Z 2026-12-20T00:00:00",
            "2027-12-19T23:00:00Z/2028-01-03T23:00:00Z 2027-12-20T00:00:00",
        ],
    );
}

#[test]
fn rrule_edge_cases() {
    let utc = |dtstart: &'static str, rule: &'static str| daily_at("UTC", dtstart, rule);
    let starts = |definition: Definition<'_>, from: &str, to: &str| -> Vec<String> {
        build(&definition)
            .expect("valid")
            .instances(at(from), at(to))
            .map(|instance| instance.start_local.to_string())
            .collect()
    };
    let year = ("2026-01-01T00:00Z", "2026-07-01T00:00Z");
    // The last weekday of each month.
    assert_eq!(
        starts(utc("2026-01-01T18:00", "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"), year.0, year.1),
        [
            "2026-01-30T18:00:00",
            "2026-02-27T18:00:00",
            "2026-03-31T18:00:00",
            "2026-04-30T18:00:00",
            "2026-05-29T18:00:00",
            "2026-06-30T18:00:00",
        ]
    );
    // The last Friday of each month.
    assert_eq!(
        starts(utc("2026-01-01T18:00", "FREQ=MONTHLY;BYDAY=-1FR"), year.0, year.1),
        [
            "2026-01-30T18:00:00",
            "2026-02-27T18:00:00",
            "2026-03-27T18:00:00",
            "2026-04-24T18:00:00",
            "2026-05-29T18:00:00",
            "2026-06-26T18:00:00",
        ]
    );
    // The last day of each month.
    assert_eq!(
        starts(utc("2026-01-31T09:00", "FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=4"), year.0, year.1),
        ["2026-01-31T09:00:00", "2026-02-28T09:00:00", "2026-03-31T09:00:00", "2026-04-30T09:00:00",]
    );
    // A release train every second Tuesday.
    assert_eq!(
        starts(utc("2026-01-06T10:00", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;COUNT=4"), year.0, year.1),
        ["2026-01-06T10:00:00", "2026-01-20T10:00:00", "2026-02-03T10:00:00", "2026-02-17T10:00:00",]
    );
    // UNTIL is inclusive; a date UNTIL includes its whole day; COUNT stops after its number.
    assert_eq!(
        starts(utc("2026-01-05T10:00", "FREQ=WEEKLY;UNTIL=20260119T100000Z"), year.0, year.1),
        ["2026-01-05T10:00:00", "2026-01-12T10:00:00", "2026-01-19T10:00:00",]
    );
    assert_eq!(starts(utc("2026-01-05T10:00", "FREQ=WEEKLY;UNTIL=20260119"), year.0, year.1).len(), 3);
    assert_eq!(starts(utc("2026-01-05T10:00", "FREQ=WEEKLY;COUNT=2"), year.0, year.1).len(), 2);
    // Yearly on the start's month and day.
    assert_eq!(
        starts(utc("2026-03-01T00:00", "FREQ=YEARLY"), "2026-01-01T00:00Z", "2029-01-01T00:00Z"),
        ["2026-03-01T00:00:00", "2027-03-01T00:00:00", "2028-03-01T00:00:00",]
    );
    // EXDATE removes a start, RDATE adds one; a start given twice is one occurrence.
    let with_dates = Definition {
        exdates: &["2026-01-12T10:00"],
        rdates: &["2026-01-14T15:00", "2026-01-19T10:00"],
        ..utc("2026-01-05T10:00", "FREQ=WEEKLY;COUNT=3")
    };
    assert_eq!(
        starts(with_dates, year.0, year.1),
        ["2026-01-05T10:00:00", "2026-01-14T15:00:00", "2026-01-19T10:00:00"]
    );
    // Without a rule, the start is the one occurrence besides the RDATEs.
    let once = Definition { rule: None, rdates: &["2026-02-01T10:00"], ..utc("2026-01-05T10:00", "") };
    assert_eq!(starts(once, year.0, year.1), ["2026-01-05T10:00:00", "2026-02-01T10:00:00"]);
}

#[test]
fn an_exdate_removes_the_occurrence_by_its_nominal_local_start_even_in_a_gap() {
    let definition = Definition {
        exdates: &["2026-03-29T02:30"],
        ..daily_at("Europe/Berlin", "2026-03-28T02:30", "FREQ=DAILY;COUNT=3")
    };
    check(
        definition,
        "2026-01-01T00:00Z",
        "2027-01-01T00:00Z",
        &[
            "2026-03-28T01:30:00Z/2026-03-28T02:30:00Z 2026-03-28T02:30:00",
            "2026-03-30T00:30:00Z/2026-03-30T01:30:00Z 2026-03-30T02:30:00",
        ],
    );
}

#[test]
fn only_instances_overlapping_the_interval_are_returned() {
    let definition = Definition { length: "PT2H", ..daily_at("UTC", "2026-01-01T10:00", "FREQ=DAILY") };
    // [from, to) cuts into the first and ends exactly at the start of the third.
    check(
        definition,
        "2026-01-01T11:00Z",
        "2026-01-03T10:00Z",
        &[
            "2026-01-01T10:00:00Z/2026-01-01T12:00:00Z 2026-01-01T10:00:00",
            "2026-01-02T10:00:00Z/2026-01-02T12:00:00Z 2026-01-02T10:00:00",
        ],
    );
    let empty = build(&daily_at("UTC", "2026-01-01T10:00", "FREQ=DAILY")).expect("valid");
    assert_eq!(empty.instances(at("2026-01-02T00:00Z"), at("2026-01-02T00:00Z")).count(), 0);
    assert_eq!(empty.instances(at("2026-01-01T00:00Z"), at("2025-01-01T00:00Z")).count(), 0);
}

#[test]
fn expanding_from_far_after_the_start_gives_what_expanding_from_the_start_gives() {
    let rules = [
        ("2020-01-31T09:00", "FREQ=MONTHLY"),
        ("2020-02-29T09:00", "FREQ=YEARLY"),
        ("2020-01-06T10:00", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;WKST=SU"),
        ("2020-01-01T18:00", "FREQ=MONTHLY;INTERVAL=3;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"),
        ("2020-01-01T18:00", "FREQ=MONTHLY;BYDAY=-1FR;COUNT=70"),
        ("2020-01-01T00:30", "FREQ=HOURLY;INTERVAL=7;BYHOUR=1,8,15,22"),
        ("2020-01-03T02:30", "FREQ=DAILY;INTERVAL=3"),
        ("2020-01-01T00:00", "FREQ=YEARLY;BYWEEKNO=1,26;BYDAY=MO"),
        ("2020-01-01T00:00", "FREQ=YEARLY;INTERVAL=2;BYMONTH=3,10;BYDAY=-1SU;UNTIL=20300101T000000Z"),
    ];
    for (dtstart, rule) in rules {
        let definition = Definition { length: "P2D", ..daily_at("Europe/Berlin", dtstart, rule) };
        let recurrence = build(&definition).expect("valid");
        let everything: Vec<Instance> =
            recurrence.instances(at("2019-01-01T00:00Z"), at("2031-01-01T00:00Z")).collect();
        for from in ["2023-05-17T13:00Z", "2025-12-31T23:00Z", "2026-03-29T01:00Z", "2028-02-29T12:00Z"] {
            let (from, to) = (at(from), at(from) + SignedDuration::from_hours(24 * 200));
            let expected: Vec<Instance> =
                everything.iter().filter(|instance| instance.start < to && instance.end > from).copied().collect();
            let got: Vec<Instance> = recurrence.instances(from, to).collect();
            assert_eq!(got, expected, "{rule} from {from}");
        }
    }
}

#[test]
fn bad_definitions_are_refused_naming_the_field_and_value() {
    let cases: &[(Definition<'_>, &str)] = &[
        (daily_at("Europe/Berln", "2026-01-01T10:00", "FREQ=DAILY"), r#"unknown time zone "Europe/Berln""#),
        (
            daily_at("UTC", "1800-01-01T10:00", "FREQ=DAILY"),
            "start 1800-01-01T10:00:00: must be in the years 1900 to 2999",
        ),
        (
            daily_at("UTC", "2026-01-01T10:00", "FREQ=MINUTELY"),
            r#"rule "FREQ=MINUTELY": FREQ=MINUTELY and FREQ=SECONDLY are not supported: a period recurs hourly at most"#,
        ),
        (
            daily_at("UTC", "2026-01-01T10:00", "FREQ=DAILY;COUNT=10001"),
            r#"rule "FREQ=DAILY;COUNT=10001": COUNT above 10000 is not supported"#,
        ),
        (
            daily_at("UTC", "2026-01-01T10:00", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"),
            r#"rule "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30": it has no occurrence"#,
        ),
        (
            daily_at("UTC", "2026-01-01T10:00", "FREQ=DAILY;UNTIL=20251231T000000Z"),
            r#"rule "FREQ=DAILY;UNTIL=20251231T000000Z": UNTIL 2025-12-31T00:00:00 is before the start 2026-01-01T10:00:00"#,
        ),
        (
            daily_at("UTC", "2026-01-01T10:00", "FREQ=DAILY;UNTIL=2026"),
            r#"rule "FREQ=DAILY;UNTIL=2026": UNTIL "2026" is not a date (YYYYMMDD) or a date-time (YYYYMMDDTHHMMSS, with Z for UTC)"#,
        ),
        (
            Definition { exdates: &["2026-01-02T10:00:00.5"], ..daily_at("UTC", "2026-01-01T10:00", "FREQ=DAILY") },
            "exdate 2026-01-02T10:00:00.5: must be a whole second",
        ),
    ];
    for (definition, message) in cases {
        assert_eq!(build(definition).expect_err(message).to_string(), *message);
    }
    let unparsable = build(&daily_at("UTC", "2026-01-01T10:00", "FREQ=WEEKLY;BYDAY=XX")).expect_err("invalid");
    assert!(unparsable.to_string().starts_with(r#"rule "FREQ=WEEKLY;BYDAY=XX": "#), "{unparsable}");
}

#[test]
fn an_rrule_prefix_and_lower_case_are_accepted_and_the_text_is_kept() {
    let recurrence = build(&daily_at("UTC", "2026-01-01T10:00", "RRULE:freq=daily;count=2")).expect("valid");
    assert_eq!(recurrence.rule(), Some("freq=daily;count=2"));
    assert_eq!(recurrence.instances(at("2026-01-01T00:00Z"), at("2027-01-01T00:00Z")).count(), 2);
}

#[test]
fn adjustments_are_said_in_words() {
    let gap = DstAdjustment::Gap { local: local("2026-03-29T02:30"), skipped: SignedDuration::from_hours(1) };
    assert_eq!(
        gap.to_string(),
        "2026-03-29T02:30:00 does not exist (clocks go forward 1h): read with the earlier offset, so 2026-03-29T03:30:00 on the clock"
    );
    let overlap = DstAdjustment::Overlap { local: local("2026-10-25T02:30"), repeated: SignedDuration::from_mins(30) };
    assert_eq!(overlap.to_string(), "2026-10-25T02:30:00 happens twice (clocks go back 30m): the earlier one is taken");
}
