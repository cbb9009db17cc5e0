//! The release calendar through the service: periods written, refused with every problem named
//! and nothing changed, expanded in their zone, imported from `.ics` idempotently, exported,
//! and the window state of an environment. On every backend.

use std::future::Future;

use tollgate_core::calendar::{PeriodInput, PeriodKind};
use tollgate_core::environment::EnvironmentInput;
use tollgate_core::Timestamp;
use tollgate_service::calendar::{CalendarQuery, PutOutcome};
use tollgate_service::catalog::Upsert;
use tollgate_service::ServiceError;
use tollgate_testkit::{TestApp, TestDb};

async fn on_every_backend<F, Fut>(story: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    for db in TestDb::every_backend().await {
        story(TestApp::on(db, 1000).await).await;
    }
}

pub(crate) fn at(text: &str) -> Timestamp {
    text.parse().expect("a timestamp")
}

pub(crate) fn window() -> PeriodInput {
    PeriodInput {
        name: "Weekday release window".into(),
        kind: "window".into(),
        scope: Some("environment:prod".into()),
        tzid: "Europe/Berlin".into(),
        start: "2026-03-02T10:00".into(),
        length: "PT6H".into(),
        rule: Some("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH".into()),
        exdates: vec![],
        rdates: vec![],
    }
}

pub(crate) fn freeze() -> PeriodInput {
    PeriodInput {
        name: "Quarter close".into(),
        kind: "freeze".into(),
        scope: None,
        tzid: "America/New_York".into(),
        start: "2026-03-30".into(),
        length: "P3D".into(),
        rule: None,
        exdates: vec![],
        rdates: vec![],
    }
}

async fn prod(app: &TestApp) {
    let input = EnvironmentInput { name: "prod".into(), tier: "prod".into(), region: Some("eu".into()) };
    app.tollgate.put_environment(&app.admin, input, Upsert::Create).await.expect("prod is created");
}

#[tokio::test]
async fn a_window_is_expanded_in_its_zone_across_the_spring_gap_and_written_once() {
    on_every_backend(|app| async move {
        prod(&app).await;
        let (_, outcome) = app.tollgate.put_calendar_period(&app.admin, "weekdays", window()).await.expect("put");
        assert_eq!(outcome, PutOutcome::Created);
        let entries = app.row_counts().await["audit_entries"];
        let (_, again) = app.tollgate.put_calendar_period(&app.admin, "weekdays", window()).await.expect("again");
        assert_eq!(again, PutOutcome::Unchanged);
        assert_eq!(app.row_counts().await["audit_entries"], entries, "an unchanged period writes no entry");

        let query = CalendarQuery {
            from: "2026-03-25T00:00:00Z".into(),
            to: "2026-04-01T00:00:00Z".into(),
            environment: Some("prod".into()),
            service: None,
        };
        let occurrences = app.tollgate.calendar_occurrences(&app.admin, query).await.expect("occurrences");
        let starts: Vec<String> =
            occurrences.iter().map(|(o, _)| format!("{} {} {}", o.start, o.start_local, o.end)).collect();
        // 10:00 in Berlin is 09:00 UTC before 29 March and 08:00 UTC after it.
        assert_eq!(
            starts,
            [
                "2026-03-25T09:00:00Z 2026-03-25T10:00:00 2026-03-25T15:00:00Z",
                "2026-03-26T09:00:00Z 2026-03-26T10:00:00 2026-03-26T15:00:00Z",
                "2026-03-30T08:00:00Z 2026-03-30T10:00:00 2026-03-30T14:00:00Z",
                "2026-03-31T08:00:00Z 2026-03-31T10:00:00 2026-03-31T14:00:00Z",
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn a_bad_period_names_every_field_and_changes_nothing() {
    on_every_backend(|app| async move {
        let before = app.row_counts().await;
        let bad = PeriodInput {
            name: String::new(),
            kind: "holiday".into(),
            scope: Some("planet:mars".into()),
            start: "next tuesday".into(),
            ..window()
        };
        let Err(ServiceError::Invalid(violations)) = app.tollgate.put_calendar_period(&app.admin, "w", bad).await
        else {
            panic!("a bad period is refused as invalid");
        };
        let fields: Vec<&str> = violations.0.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["name", "kind", "scope", "start"], "{violations}");

        // Shape fine, meaning not: the zone, then the rule, each named.
        let zone = PeriodInput { tzid: "Europe/Berln".into(), ..window() };
        let error = app.tollgate.put_calendar_period(&app.admin, "w", zone).await.expect_err("refused");
        assert_eq!(error.to_string(), "invalid input: tzid: unknown time zone \"Europe/Berln\"");
        let rule = PeriodInput { rule: Some("FREQ=WEEKLY;BYDAY=XX".into()), ..window() };
        let error = app.tollgate.put_calendar_period(&app.admin, "w", rule).await.expect_err("refused");
        assert!(error.to_string().starts_with("invalid input: rule: rule \"FREQ=WEEKLY;BYDAY=XX\""), "{error}");
        let bad_id = app.tollgate.put_calendar_period(&app.admin, "Bad Id", window()).await.expect_err("refused");
        assert!(matches!(bad_id, ServiceError::Invalid(_)), "{bad_id}");
        assert_eq!(app.row_counts().await, before, "nothing was written");
    })
    .await;
}

#[tokio::test]
async fn only_release_managers_and_admins_keep_the_calendar() {
    on_every_backend(|app| async move {
        let (developer, _) = app.user("dev", "developer").await;
        let before = app.row_counts().await["calendar_periods"];
        let refused = app.tollgate.put_calendar_period(&developer, "weekdays", window()).await.expect_err("denied");
        assert!(matches!(refused, ServiceError::Forbidden { .. }), "{refused:?}");
        assert_eq!(app.row_counts().await["calendar_periods"], before);
        let (manager, _) = app.user("rm", "release_manager").await;
        prod(&app).await;
        app.tollgate.put_calendar_period(&manager, "weekdays", window()).await.expect("a release manager may");
        app.tollgate.delete_calendar_period(&manager, "weekdays").await.expect("and delete it");
        let missing = app.tollgate.delete_calendar_period(&manager, "weekdays").await.expect_err("gone");
        assert!(matches!(missing, ServiceError::NotFound { .. }), "{missing:?}");
    })
    .await;
}

const ICS: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//example//holidays//EN\r\n\
BEGIN:VEVENT\r\nUID:xmas@example.com\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:Christmas blackout\r\n\
DTSTART;VALUE=DATE:20261224\r\nDTEND;VALUE=DATE:20261227\r\nRRULE:FREQ=YEARLY\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:close@example.com\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:Month-end close\r\n\
DTSTART;TZID=America/New_York:20260130T180000\r\nDURATION:PT12H\r\n\
RRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

#[tokio::test]
async fn importing_the_same_file_twice_changes_nothing_and_export_reads_back() {
    on_every_backend(|app| async move {
        let first = app.tollgate.import_calendar(&app.admin, ICS, None, None).await.expect("imported");
        assert_eq!((first.created.len(), first.updated.len(), first.unchanged.len()), (2, 0, 0));
        let counts = app.row_counts().await;
        let second = app.tollgate.import_calendar(&app.admin, ICS, None, None).await.expect("imported again");
        assert_eq!((second.created.len(), second.updated.len(), second.unchanged.len()), (0, 0, 2));
        assert_eq!(app.row_counts().await, counts, "the second import wrote nothing");
        let as_freeze = app.tollgate.import_calendar(&app.admin, ICS, Some("freeze"), None).await.expect("kind");
        assert_eq!(as_freeze.updated, first.created, "the kind changed, so both were updated in place");

        let periods = app.tollgate.list_calendar_periods(&app.admin).await.expect("periods");
        let names: Vec<(&str, PeriodKind, Option<&str>)> =
            periods.iter().map(|p| (p.name.as_str(), p.kind, p.uid.as_deref())).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names.contains(&("Christmas blackout", PeriodKind::Freeze, Some("xmas@example.com"))), "{names:?}");

        // The export parses back into the same recurrences, under the same UIDs.
        let exported = app.tollgate.export_calendar(&app.admin, None, None).await.expect("exported");
        let events = tollgate_calendar::parse_ics(&exported).expect("the export parses");
        let mut uids: Vec<&str> = events.iter().map(|e| e.uid.as_str()).collect();
        uids.sort_unstable();
        assert_eq!(uids, ["close@example.com", "xmas@example.com"]);

        // A file with a bad event is refused whole, naming its line.
        let broken = ICS.replace("RRULE:FREQ=YEARLY", "RRULE:FREQ=SOMETIMES");
        let before = app.row_counts().await;
        let error = app.tollgate.import_calendar(&app.admin, &broken, None, None).await.expect_err("refused");
        assert!(
            error.to_string().starts_with("invalid input: file: line 4: event \"xmas@example.com\": rule"),
            "{error}"
        );
        assert_eq!(app.row_counts().await, before, "nothing was imported");
    })
    .await;
}

#[tokio::test]
async fn an_environment_is_closed_outside_its_windows_and_inside_a_freeze_and_says_when_it_opens() {
    on_every_backend(|app| async move {
        prod(&app).await;
        // No period at all: open at any time.
        let state = app.tollgate.window_state(&app.admin, "prod", &[], Some(at("2026-03-28T12:00:00Z"))).await;
        let state = state.expect("a state");
        assert!(state.open && !state.has_windows && state.next_change.is_none(), "{state:?}");

        app.tollgate.put_calendar_period(&app.admin, "weekdays", window()).await.expect("window");
        app.tollgate.put_calendar_period(&app.admin, "quarter-close", freeze()).await.expect("freeze");
        // Saturday: closed, and the next window opens Monday 30 March... inside the freeze,
        // which ends at midnight New York time on 2 April; Thursday's window opens at 10:00.
        let saturday = app.tollgate.window_state(&app.admin, "prod", &[], Some(at("2026-03-28T12:00:00Z"))).await;
        let saturday = saturday.expect("a state");
        assert!(!saturday.open);
        assert_eq!(saturday.next_change, Some(at("2026-04-02T08:00:00Z")), "{saturday:?}");
        assert_eq!(
            saturday.reasons(),
            ["no deployment window of prod is open at 2026-03-28T12:00:00Z; the next opens at 2026-04-02T08:00:00Z"]
        );
        // Tuesday 31 March at 10:30 Berlin: the window is open, but the freeze wins.
        let tuesday = app.tollgate.window_state(&app.admin, "prod", &[], Some(at("2026-03-31T08:30:00Z"))).await;
        let tuesday = tuesday.expect("a state");
        assert!(!tuesday.open && tuesday.allowed_by.is_some());
        assert_eq!(
            tuesday.reasons(),
            ["freeze \"Quarter close\" is in force from 2026-03-30T00:00:00 to 2026-04-02T00:00:00 America/New_York \
              (2026-03-30T04:00:00Z to 2026-04-02T04:00:00Z UTC)"]
        );
        // Thursday 2 April at 11:00 Berlin: open until 16:00 Berlin.
        let thursday = app.tollgate.window_state(&app.admin, "prod", &[], Some(at("2026-04-02T09:00:00Z"))).await;
        let thursday = thursday.expect("a state");
        assert!(thursday.open, "{thursday:?}");
        assert_eq!(thursday.next_change, Some(at("2026-04-02T14:00:00Z")));
    })
    .await;
}

/// Each server compiles the calendar once per revision: a period another replica writes (or
/// deletes) is seen by the next check here, not after some expiry.
#[tokio::test]
async fn a_period_another_replica_writes_or_deletes_counts_at_the_next_check() {
    on_every_backend(|app| async move {
        prod(&app).await;
        let other = tollgate_service::Tollgate::open(
            tollgate_store::Store::open(app.db.config()).await.expect("a second pool"),
            app.blobs.clone(),
            tollgate_testkit::audit_key(),
            None,
            app.clock.clone(),
            tollgate_service::Settings::default(),
        )
        .await
        .expect("a second replica");
        let tuesday = Some(at("2026-03-31T08:30:00Z"));
        let state = app.tollgate.window_state(&app.admin, "prod", &[], tuesday).await.expect("a state");
        assert!(state.open, "no periods yet: {state:?}");

        other.put_calendar_period(&app.admin, "quarter-close", freeze()).await.expect("the other replica writes");
        let state = app.tollgate.window_state(&app.admin, "prod", &[], tuesday).await.expect("a state");
        assert!(!state.open && state.denied_by.len() == 1, "{state:?}");

        other.delete_calendar_period(&app.admin, "quarter-close").await.expect("the other replica deletes");
        let state = app.tollgate.window_state(&app.admin, "prod", &[], tuesday).await.expect("a state");
        assert!(state.open, "{state:?}");
    })
    .await;
}
