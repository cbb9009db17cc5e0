//! `tollgate calendar` through the built binary against a real server: an `.ics` import that is
//! idempotent, `show --output json` with the documented fields, `--explain` naming the
//! daylight-saving rule and the adjustment it made, `export` that reads back, `window`.

use crate::{run, Server};

/// A weekly freeze at 02:30 Berlin time on Sundays: on 29 March 2026 that time does not exist.
const ICS: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n\
BEGIN:VEVENT\r\nUID:batch@example.com\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:Nightly batch\r\n\
DTSTART;TZID=Europe/Berlin:20260322T023000\r\nDURATION:PT1H\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";

#[test]
fn a_calendar_is_imported_once_shown_explained_exported_and_judged() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = Server::start(dir.path());
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/tollgate.yaml");
    run(server.cli().args(["apply", "-f", example])).success();
    std::fs::write(dir.path().join("batch.ics"), ICS).expect("written");

    let first = run(server.cli().args(["calendar", "import", "batch.ics", "--kind", "freeze", "--output", "json"]));
    let first: serde_json::Value = serde_json::from_str(&first.success().stdout).expect("json");
    assert_eq!(first["created"].as_array().map(Vec::len), Some(1), "{first}");
    let again = run(server.cli().args(["calendar", "import", "batch.ics", "--kind", "freeze"])).success();
    assert!(again.stdout.contains("unchanged"), "{}", again.stdout);

    let range = ["--from", "2026-03-20T00:00:00Z", "--to", "2026-04-10T00:00:00Z"];
    let shown = run(server.cli().args(["calendar", "show", "--output", "json"]).args(range)).success();
    let shown: serde_json::Value = serde_json::from_str(&shown.stdout).expect("json");
    let starts: Vec<(&str, &str)> = shown
        .as_array()
        .expect("a list")
        .iter()
        .map(|o| (o["start"].as_str().expect("start"), o["start_local"].as_str().expect("start_local")))
        .collect();
    // 22 March 02:30 CET; 29 March's 02:30 is in the gap and moves to 03:30 CEST; 5 April 02:30 CEST.
    assert_eq!(
        starts,
        [
            ("2026-03-22T01:30:00Z", "2026-03-22T02:30:00"),
            ("2026-03-29T01:30:00Z", "2026-03-29T03:30:00"),
            ("2026-04-05T00:30:00Z", "2026-04-05T02:30:00"),
        ]
    );
    let first_occurrence = &shown[0];
    for field in ["name", "kind", "start", "end", "start_local", "end_local", "tzid", "rule"] {
        assert!(first_occurrence.get(field).is_some(), "{field} is missing from {first_occurrence}");
    }
    assert_eq!(
        (&first_occurrence["tzid"], &first_occurrence["rule"]),
        (&"Europe/Berlin".into(), &"FREQ=WEEKLY;COUNT=3".into())
    );

    let explained = run(server.cli().args(["calendar", "show", "--explain"]).args(range)).success();
    assert!(explained.stdout.contains("read with the offset from before the gap"), "{}", explained.stdout);
    let gap_line = explained.stdout.lines().find(|line| line.contains("2026-03-29T01:30:00Z")).expect("the gap day");
    assert!(gap_line.contains("start:"), "the adjustment is shown: {gap_line}");

    run(server.cli().args(["calendar", "export", "--file", "out.ics"])).success();
    let exported = std::fs::read_to_string(dir.path().join("out.ics")).expect("exported");
    assert!(exported.contains("UID:batch@example.com") && exported.contains("BEGIN:VTIMEZONE"), "{exported}");

    let window = run(server.cli().args(["calendar", "window", "--env", "prod", "--output", "json"])).success();
    let window: serde_json::Value = serde_json::from_str(&window.stdout).expect("json");
    // The imported freeze ended in April 2026 and the example has no windows: prod is open.
    assert_eq!(window["environment"], "prod");
    assert_eq!((&window["open"], &window["reasons"]), (&true.into(), &serde_json::json!([])), "{window}");

    let refused = run(server.cli().args(["calendar", "show", "--from", "tomorrow", "--to", "2026-01-01T00:00:00Z"]));
    let refused = refused.failure();
    assert!(refused.stderr.contains("from:"), "the bad field is named: {}", refused.stderr);
}
