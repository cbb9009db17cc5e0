//! `.ics` import and export: a realistic file read, errors with their lines, and write → parse
//! round trips.

use jiff::civil::DateTime;
use jiff::Timestamp;
use tollgate_calendar::{parse_ics, write_ics, ExportEvent, IcsEvent, Period, PeriodKind, PeriodLength, Recurrence};

use crate::rules::rule_set;

const CALENDAR: &str = "BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Example//Ops calendar//EN\r
X-WR-TIMEZONE:Europe/Berlin\r
BEGIN:VTIMEZONE\r
TZID:Europe/Berlin\r
BEGIN:DAYLIGHT\r
DTSTART:19810329T020000\r
TZOFFSETFROM:+0100\r
TZOFFSETTO:+0200\r
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r
END:DAYLIGHT\r
END:VTIMEZONE\r
BEGIN:VEVENT\r
UID:train-1@example.com\r
DTSTAMP:20260101T000000Z\r
SUMMARY:Release train\\, payments\\; every second Tuesday\r
CATEGORIES:Window,Payments\r
DTSTART;TZID=Europe/Berlin:20260106T100000\r
DTEND;TZID=Europe/Berlin:20260106T120000\r
RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU\r
EXDATE;TZID=Europe/Berlin:20260120T100000,20260203T100000\r
EXDATE:20260303T090000Z\r
RDATE;TZID=America/New_York:20260108T040000\r
X-UNKNOWN;FOO=bar:ignored\r
BEGIN:VALARM\r
ACTION:DISPLAY\r
TRIGGER:-PT15M\r
END:VALARM\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:freeze-2026\r
SUMMARY:Year-end \r
 freeze\r
CATEGORIES:FREEZE\r
DTSTART;VALUE=DATE:20261220\r
DTEND;VALUE=DATE:20270104\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:utc-maintenance\r
SUMMARY:DB maintenance\r
DTSTART:20260110T230000Z\r
DURATION:PT4H\r
RRULE:FREQ=MONTHLY;BYDAY=2SA;COUNT=12\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:floating\r
DTSTART:20260329T023000\r
DTEND:20260329T043000\r
END:VEVENT\r
END:VCALENDAR\r
";

fn local(text: &str) -> DateTime {
    text.parse().expect("a civil date-time")
}

fn at(text: &str) -> Timestamp {
    text.parse().expect("an instant")
}

#[test]
fn a_calendar_with_zones_dates_lists_and_folding_reads_into_recurrences() {
    let events = parse_ics(CALENDAR).expect("a valid calendar");
    assert_eq!(events.len(), 4);

    let train = &events[0];
    assert_eq!((train.line, train.uid.as_str()), (14, "train-1@example.com"));
    assert_eq!(train.summary, "Release train, payments; every second Tuesday");
    assert_eq!(
        (train.categories.clone(), train.kind),
        (vec!["Window".to_owned(), "Payments".to_owned()], Some(PeriodKind::Window))
    );
    let recurrence = &train.recurrence;
    assert_eq!((recurrence.tzid(), recurrence.dtstart()), ("Europe/Berlin", local("2026-01-06T10:00")));
    assert_eq!(recurrence.length().to_string(), "PT2H");
    assert_eq!(recurrence.rule(), Some("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU"));
    // 09:00 UTC is 10:00 in Berlin; 04:00 in New York is 10:00 in Berlin.
    assert_eq!(recurrence.exdates(), [local("2026-01-20T10:00"), local("2026-02-03T10:00"), local("2026-03-03T10:00")]);
    assert_eq!(recurrence.rdates(), [local("2026-01-08T10:00")]);
    let starts: Vec<String> = recurrence
        .instances(at("2026-01-01T00:00Z"), at("2026-04-01T00:00Z"))
        .map(|instance| instance.start_local.to_string())
        .collect();
    assert_eq!(
        starts,
        [
            "2026-01-06T10:00:00",
            "2026-01-08T10:00:00",
            "2026-02-17T10:00:00",
            "2026-03-17T10:00:00",
            "2026-03-31T10:00:00"
        ]
    );

    let freeze = &events[1];
    assert_eq!((freeze.summary.as_str(), freeze.kind), ("Year-end freeze", Some(PeriodKind::Freeze)));
    assert_eq!(freeze.recurrence.tzid(), "Europe/Berlin", "a date is in the calendar's X-WR-TIMEZONE");
    assert_eq!(
        (freeze.recurrence.dtstart(), freeze.recurrence.length().to_string()),
        (local("2026-12-20T00:00"), "P15D".to_owned())
    );

    let maintenance = &events[2];
    assert_eq!((maintenance.recurrence.tzid(), maintenance.recurrence.dtstart()), ("UTC", local("2026-01-10T23:00")));
    assert_eq!((maintenance.kind, maintenance.recurrence.length().to_string()), (None, "PT4H".to_owned()));

    // A floating DTEND across the spring gap: 02:30 (read as 03:30 CEST) to 04:30 is one hour.
    let floating = &events[3];
    assert_eq!(
        (floating.recurrence.tzid(), floating.recurrence.length().to_string()),
        ("Europe/Berlin", "PT1H".to_owned())
    );
}

#[test]
fn lf_line_ends_and_a_calendar_without_x_wr_timezone_read_floating_times_as_utc() {
    let text =
        "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nDTSTART:20260101T100000\nDURATION:P1D\nEND:VEVENT\nEND:VCALENDAR\n";
    let events = parse_ics(text).expect("valid");
    assert_eq!((events[0].recurrence.tzid(), events[0].summary.as_str()), ("UTC", ""));
    let all_day = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:b\nDTSTART;VALUE=DATE:20260101\nEND:VEVENT\nEND:VCALENDAR\n";
    assert_eq!(parse_ics(all_day).expect("valid")[0].recurrence.length().to_string(), "P1D");
}

#[test]
fn errors_name_their_line_and_property() {
    let event = |lines: &str| format!("BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:e1\n{lines}\nEND:VEVENT\nEND:VCALENDAR\n");
    let cases = [
        (
            event("DTSTART;TZID=W. Europe Standard Time:20260101T100000\nDURATION:PT1H"),
            r#"line 4: DTSTART: unknown time zone "W. Europe Standard Time" (only IANA names are supported; VTIMEZONE is not read)"#,
        ),
        (event("DURATION:PT1H"), "line 2: DTSTART: a VEVENT needs one"),
        (event("DTSTART:20260101T100000Z"), "line 2: DTEND or DURATION: a VEVENT needs one"),
        (event("DTSTART:20260101T100000Z\nDURATION:6h"), r#"line 5: DURATION: duration "6h": is not an RFC 5545 duration such as PT6H or P1D"#),
        (event("DTSTART:2026-01-01\nDURATION:PT1H"), r#"line 4: DTSTART: "2026-01-01" is not a date (YYYYMMDD) or a date-time (YYYYMMDDTHHMMSS)"#),
        (
            event("DTSTART:20260101T100000Z\nDURATION:PT1H\nRRULE:FREQ=WEEKLY;BYDAY=XX"),
            "line 2: event \"e1\": rule \"FREQ=WEEKLY;BYDAY=XX\": ",
        ),
        (event("DTSTART:20260101T100000Z\nDTEND:20260101T090000Z"), "line 5: DTEND: DTEND must be after DTSTART"),
        (event("DTSTART:20260101T100000Z\nDURATION:PT1H\nRECURRENCE-ID:20260108T100000Z"), "line 6: RECURRENCE-ID: a changed single occurrence is not supported"),
        (event("DTSTART:20260101T100000Z\nDURATION:PT1H\nRDATE;VALUE=PERIOD:20260108T100000Z/PT1H"), "line 6: RDATE: VALUE=PERIOD is not supported"),
        ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\n".to_owned(), "line 2: VEVENT is not closed"),
        ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nEND:VTODO\n".to_owned(), "line 3: END:VTODO closes VEVENT, opened on line 2"),
        ("BEGIN:VEVENT\nEND:VEVENT\n".to_owned(), "line 1: VEVENT outside a VCALENDAR"),
        ("BEGIN:VCALENDAR\nX-WR-TIMEZONE:Mars/Olympus\nEND:VCALENDAR\n".to_owned(), "line 2: X-WR-TIMEZONE: unknown time zone \"Mars/Olympus\" (only IANA names are supported; VTIMEZONE is not read)"),
    ];
    for (text, message) in cases {
        let error = parse_ics(&text).expect_err(message).to_string();
        assert!(error.starts_with(message), "{error}\n  expected {message}");
    }
}

#[test]
fn more_events_or_longer_lines_than_the_limits_are_refused() {
    let event = "BEGIN:VEVENT\r\nUID:u\r\nDTSTART:20260101T100000Z\r\nDURATION:PT1H\r\nEND:VEVENT\r\n";
    let many =
        format!("BEGIN:VCALENDAR\r\n{}END:VCALENDAR\r\n", event.repeat(tollgate_calendar::limits::MAX_EVENTS + 1));
    let error = parse_ics(&many).expect_err("too many events").to_string();
    assert_eq!(error, format!("line {}: more than 10000 events", 10_000 * 5 + 2));
    let long = format!(
        "BEGIN:VCALENDAR\r\nX-LONG:{}\r\nEND:VCALENDAR\r\n",
        "a".repeat(tollgate_calendar::limits::MAX_CONTENT_LINE_BYTES)
    );
    assert_eq!(
        parse_ics(&long).expect_err("too long").to_string(),
        "line 2: a content line is longer than 262144 bytes"
    );
}

fn period(name: &str, kind: PeriodKind, recurrence: Recurrence) -> Period {
    Period { name: name.to_owned(), kind, recurrence }
}

#[test]
fn written_calendars_are_folded_crlf_text_that_reads_back_into_the_same_periods() {
    let mut periods: Vec<Period> = rule_set()
        .iter()
        .enumerate()
        .map(|(index, case)| {
            period(
                &format!("rule {index}; \"{}\", with\\escapes\nand lines", case.tzid),
                PeriodKind::Window,
                case.recurrence(),
            )
        })
        .collect();
    let freeze = Recurrence::new(
        "Europe/Berlin",
        local("2026-12-20T00:00"),
        PeriodLength::days(15).expect("valid"),
        Some("FREQ=YEARLY"),
        vec![],
        vec![],
    )
    .expect("valid");
    periods.push(period("Year-end freeze", PeriodKind::Freeze, freeze));
    let uids: Vec<String> = (0..periods.len()).map(|index| format!("period-{index}@tollgate")).collect();
    let dtstamp = at("2026-05-01T12:00:00Z");
    let events: Vec<ExportEvent<'_>> =
        periods.iter().zip(&uids).map(|(period, uid)| ExportEvent { uid, dtstamp, period }).collect();
    let text = write_ics(&events);

    assert!(text.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Tollgate//Release calendar//EN\r\n"));
    assert!(text.ends_with("END:VCALENDAR\r\n"));
    for line in text.split("\r\n") {
        assert!(line.len() <= 75 && !line.contains('\n'), "{line:?}");
    }
    for tzid in ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"] {
        assert!(text.contains(&format!("BEGIN:VTIMEZONE\r\nTZID:{tzid}\r\n")), "no VTIMEZONE for {tzid}");
    }
    assert!(!text.contains("TZID:UTC"), "UTC is written with Z, without a VTIMEZONE");

    let read: Vec<IcsEvent> = parse_ics(&text).expect("the export reads back");
    assert_eq!(read.len(), periods.len());
    for ((event, period), uid) in read.iter().zip(&periods).zip(&uids) {
        assert_eq!(&event.uid, uid);
        assert_eq!((&event.summary, event.kind), (&period.name, Some(period.kind)));
        assert_eq!(event.recurrence, period.recurrence, "{uid}");
    }
}

#[test]
fn an_export_reads_as_rfc_5545_says() {
    let once = Recurrence::new("UTC", local("2026-07-01T22:00"), "PT2H".parse().expect("valid"), None, vec![], vec![])
        .expect("valid");
    let weekly = Recurrence::new(
        "Europe/Berlin",
        local("2026-03-24T10:00"),
        "PT1H30M".parse().expect("valid"),
        Some("FREQ=WEEKLY;COUNT=2"),
        vec![],
        vec![local("2026-04-01T09:00")],
    )
    .expect("valid");
    let (once, weekly) =
        (period("Upgrade, phase 1", PeriodKind::Maintenance, once), period("CAB", PeriodKind::Window, weekly));
    let dtstamp = at("2026-03-01T08:00:00Z");
    let text = write_ics(&[
        ExportEvent { uid: "a", dtstamp, period: &once },
        ExportEvent { uid: "b", dtstamp, period: &weekly },
    ]);
    let expected = "BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Tollgate//Release calendar//EN
CALSCALE:GREGORIAN
BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:STANDARD
DTSTART:20251026T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:20260329T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
UID:a
DTSTAMP:20260301T080000Z
SUMMARY:Upgrade\\, phase 1
CATEGORIES:maintenance
DTSTART:20260701T220000Z
DURATION:PT2H
END:VEVENT
BEGIN:VEVENT
UID:b
DTSTAMP:20260301T080000Z
SUMMARY:CAB
CATEGORIES:window
DTSTART;TZID=Europe/Berlin:20260324T100000
DURATION:PT1H30M
RRULE:FREQ=WEEKLY;COUNT=2
RDATE;TZID=Europe/Berlin:20260401T090000
END:VEVENT
END:VCALENDAR
";
    assert_eq!(text, expected.replace('\n', "\r\n"));
}
