//! The calendar API: periods written and refused, occurrences with their zone, `.ics` import
//! (idempotent) and a subscribable export a calendar application reaches with Basic
//! credentials, the window state of an environment, and a deployment refused by a freeze.

use reqwest::Method;
use serde_json::json;
use tollgate_testkit::spawn_app;

use crate::{ready_release, with_catalog};

fn freeze() -> serde_json::Value {
    json!({
        "name": "Quarter close",
        "kind": "freeze",
        "scope": "environment:prod",
        "tzid": "America/New_York",
        "start": "2026-03-30",
        "length": "P3D"
    })
}

fn window() -> serde_json::Value {
    json!({
        "name": "Weekday release window",
        "kind": "window",
        "scope": "environment:prod",
        "tzid": "Europe/Berlin",
        "start": "2026-03-02T10:00",
        "length": "PT6H",
        "rule": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH"
    })
}

#[tokio::test]
async fn periods_are_written_once_listed_and_expanded_in_their_zone() {
    let app = spawn_app().await;
    with_catalog(&app).await;
    let created = app.put("/api/v1/calendar/periods/weekdays", window()).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let again = app.put("/api/v1/calendar/periods/weekdays", window()).await;
    assert_eq!(again.status, 200);
    let listed = app.get("/api/v1/calendar/periods").await;
    assert_eq!(listed.body.as_array().map(Vec::len), Some(1));

    // Across the spring change in Berlin (29 March): 10:00 local is 09:00Z, then 08:00Z.
    let occurrences = app
        .get("/api/v1/calendar/occurrences?from=2026-03-26T00:00:00Z&to=2026-03-31T00:00:00Z&environment=prod")
        .await;
    insta::assert_json_snapshot!(occurrences.body, @r#"
    [
      {
        "name": "Weekday release window",
        "kind": "window",
        "start": "2026-03-26T09:00:00Z",
        "end": "2026-03-26T15:00:00Z",
        "start_local": "2026-03-26T10:00:00",
        "end_local": "2026-03-26T16:00:00",
        "tzid": "Europe/Berlin",
        "rule": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH"
      },
      {
        "name": "Weekday release window",
        "kind": "window",
        "start": "2026-03-30T08:00:00Z",
        "end": "2026-03-30T14:00:00Z",
        "start_local": "2026-03-30T10:00:00",
        "end_local": "2026-03-30T16:00:00",
        "tzid": "Europe/Berlin",
        "rule": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH"
      }
    ]
    "#);

    let deleted = app.call(Method::DELETE, "/api/v1/calendar/periods/weekdays", None).await;
    assert_eq!((deleted.status.as_u16(), &deleted.body["id"]), (200, &json!("weekdays")));
    let gone = app.call(Method::DELETE, "/api/v1/calendar/periods/weekdays", None).await;
    assert_eq!((gone.status.as_u16(), &gone.body["code"]), (404, &json!("calendar_period_not_found")));
}

#[tokio::test]
async fn a_bad_period_names_every_field_and_changes_nothing() {
    let app = spawn_app().await;
    with_catalog(&app).await;
    let before = app.app.row_counts().await;
    let mut bad = window();
    bad["kind"] = json!("sometimes");
    bad["start"] = json!("next tuesday");
    let refused = app.put("/api/v1/calendar/periods/weekdays", bad).await;
    assert_eq!(refused.status, 422);
    let fields: Vec<&str> =
        refused.body["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
    assert_eq!(fields, ["kind", "start"], "{:?}", refused.body);
    let mut unknown_zone = window();
    unknown_zone["tzid"] = json!("Mars/Olympus_Mons");
    let refused = app.put("/api/v1/calendar/periods/weekdays", unknown_zone).await;
    assert_eq!((refused.status.as_u16(), &refused.body["errors"][0]["field"]), (422, &json!("tzid")));
    assert_eq!(app.app.row_counts().await, before, "nothing was written");
}

#[tokio::test]
async fn an_ics_import_is_idempotent_and_the_export_is_subscribable_with_basic_credentials() {
    let app = spawn_app().await;
    with_catalog(&app).await;
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:sale@example.com\r\n\
               DTSTAMP:20260101T000000Z\r\nSUMMARY:Spring sale\r\nDTSTART;TZID=Europe/Berlin:20260401T000000\r\n\
               DTEND;TZID=Europe/Berlin:20260403T000000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let first = app.call_raw(Method::POST, "/api/v1/calendar/import?kind=freeze", "text/calendar", ics.into()).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(first.body["created"].as_array().map(Vec::len), Some(1));
    let before = app.app.row_counts().await;
    let second = app.call_raw(Method::POST, "/api/v1/calendar/import?kind=freeze", "text/calendar", ics.into()).await;
    assert_eq!(second.body["unchanged"], first.body["created"]);
    assert_eq!(app.app.row_counts().await, before, "the same file again changes nothing");

    // No body is no calendar: refused, nothing written.
    let empty = app.call_raw(Method::POST, "/api/v1/calendar/import", "text/calendar", Vec::new()).await;
    assert_eq!((empty.status.as_u16(), &empty.body["errors"][0]["field"]), (422, &json!("file")));
    assert_eq!(app.app.row_counts().await, before);

    // A calendar application subscribes with a user name and a token as the password.
    let url = format!("{}/api/v1/calendar/export.ics", app.base_url);
    let anonymous = app.client.get(&url).send().await.expect("an answer");
    assert_eq!(anonymous.status(), 401);
    let challenge = anonymous.headers()["www-authenticate"].to_str().expect("ascii");
    assert!(challenge.contains("Basic"), "{challenge}");
    let subscribed =
        app.client.get(&url).basic_auth("calendar", Some(&app.app.admin_token)).send().await.expect("an answer");
    assert_eq!(subscribed.status(), 200);
    assert!(subscribed.headers()["content-type"].to_str().expect("ascii").starts_with("text/calendar"));
    let text = subscribed.text().await.expect("text");
    assert!(text.contains("UID:sale@example.com") && text.contains("SUMMARY:Spring sale"), "{text}");
    let wrong = app.client.get(&url).basic_auth("calendar", Some("tg_not-a-token")).send().await.expect("an answer");
    assert_eq!(wrong.status(), 401);
}

#[tokio::test]
async fn a_freeze_refuses_a_deployment_with_its_reason_and_the_window_says_when_it_opens() {
    let app = spawn_app().await;
    with_catalog(&app).await;
    assert_eq!(app.put("/api/v1/calendar/periods/quarter-close", freeze()).await.status, 201);
    // Tuesday 31 March 2026, inside the freeze.
    app.app.clock.set("2026-03-31T12:00:00Z".parse().expect("a time"));
    ready_release(&app, "1.0.0").await;
    for environment in ["dev", "staging"] {
        let body = json!({ "release": "1.0.0", "environment": environment, "status": "succeeded" });
        assert_eq!(app.post("/api/v1/deployments", body).await.status, 201);
    }
    let window = app.get("/api/v1/environments/prod/window").await;
    assert_eq!(window.body["open"], false);
    assert_eq!(window.body["next_change"], "2026-04-02T04:00:00Z");
    assert_eq!(window.body["on_close"], "finish");
    // Asking first answers 200 with every precondition; the window's refusal is the deployment's.
    let before = app.app.row_counts().await;
    let check = app.post("/api/v1/deployments/check", json!({ "release": "1.0.0", "environment": "prod" })).await;
    assert_eq!(check.status, 200, "{}", check.body);
    assert_eq!(check.body["allowed"], false);
    let refused: Vec<&str> = check.body["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|result| result["passed"] == false)
        .map(|result| result["precondition"].as_str().expect("a name"))
        .collect();
    assert_eq!(refused, ["window", "change"], "{}", check.body);
    assert_eq!(app.app.row_counts().await, before, "asking writes nothing");
    let unknown = app.post("/api/v1/deployments/check", json!({ "release": "9.9.9", "environment": "prod" })).await;
    assert_eq!((unknown.status.as_u16(), unknown.body["code"].as_str()), (404, Some("release_not_found")));
    let bad = app.post("/api/v1/deployments/check", json!({ "release": "1.0.0" })).await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    let refused = app
        .post("/api/v1/deployments", json!({ "release": "1.0.0", "environment": "prod", "status": "succeeded" }))
        .await;
    insta::assert_json_snapshot!(refused.body, @r#"
    {
      "type": "urn:tollgate:problem:window_closed",
      "title": "Conflict",
      "status": 409,
      "detail": "prod is closed for deployments at 2026-03-31T12:00:00Z: freeze \"Quarter close\" is in force from 2026-03-30T00:00:00 to 2026-04-02T00:00:00 America/New_York (2026-03-30T04:00:00Z to 2026-04-02T04:00:00Z UTC); an emergency release, or an override of the window with a reason (`override.window`), may deploy anyway",
      "code": "window_closed",
      "errors": [
        {
          "field": "",
          "message": "freeze \"Quarter close\" is in force from 2026-03-30T00:00:00 to 2026-04-02T00:00:00 America/New_York (2026-03-30T04:00:00Z to 2026-04-02T04:00:00Z UTC)"
        }
      ]
    }
    "#);
    let glass = json!({
        "release": "1.0.0", "environment": "prod", "status": "succeeded",
        "override_window": "hotfix for the quarter-close report"
    });
    let release = app.get("/api/v1/releases/1.0.0").await;
    let id = tollgate_core::release::ReleaseId(release.body["id"].as_i64().expect("an id"));
    app.app.approved_change(&tollgate_service::release::ReleaseRef::Id(id), "prod").await;
    let deployed = app.post("/api/v1/deployments", glass).await;
    assert_eq!(deployed.status, 201, "{:?}", deployed.body);
}

#[tokio::test]
async fn a_train_is_kept_its_departures_listed_and_a_release_boards_it_over_http() {
    let app = spawn_app().await;
    crate::with_catalog(&app).await;
    let train = json!({
        "tzid": "Europe/Berlin", "first_departure": "2026-03-03T10:00", "rule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
        "length": "PT4H", "cutoff": "P3D", "freeze": "P1D"
    });
    let mut early = train.clone();
    early["freeze"] = json!("P4D");
    let refused = app.put("/api/v1/trains/fortnightly", early).await;
    assert_eq!((refused.status.as_u16(), refused.body["errors"][0]["field"].as_str()), (422, Some("freeze")));
    let put = app.put("/api/v1/trains/fortnightly", train.clone()).await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    let departures = app.get("/api/v1/trains/departures?from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z").await;
    let departs: Vec<&str> =
        departures.body.as_array().expect("a list").iter().map(|d| d["departs"].as_str().expect("a time")).collect();
    assert_eq!(departs, ["2026-03-03T09:00:00Z", "2026-03-17T09:00:00Z", "2026-03-31T08:00:00Z"]);
    assert_eq!(app.post("/api/v1/releases", crate::release("1.0.0")).await.status, 201);
    let boarded = app.post("/api/v1/releases/1.0.0/board", json!({ "train": "fortnightly" })).await;
    assert_eq!(boarded.status, 200, "{:?}", boarded.body);
    assert_eq!(boarded.body["departure"]["departs"], "2026-03-17T09:00:00Z");
    assert_eq!(boarded.body["release"]["scope_freeze_at"], "2026-03-16T09:00:00Z");
    let unknown = app.post("/api/v1/releases/1.0.0/board", json!({ "train": "weekly" })).await;
    assert_eq!((unknown.status.as_u16(), unknown.body["code"].as_str()), (404, Some("train_not_found")));
}
