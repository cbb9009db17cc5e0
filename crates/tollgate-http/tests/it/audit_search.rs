//! `GET /api/v1/audit/entries`: the audit log searched by actor, action, object and time,
//! newest first, a page at a time; bad filters are refused naming every field, and change nothing.

use reqwest::Method;
use serde_json::{json, Value};
use tollgate_testkit::{spawn_app, SpawnedApp};

use crate::with_catalog;

/// Searches with `query` and returns the page, after checking it was answered 200.
async fn search(app: &SpawnedApp, query: &str) -> Value {
    let reply = app.get(&format!("/api/v1/audit/entries?{query}")).await;
    assert_eq!(reply.status, 200, "{query}: {:?}", reply.body);
    reply.body
}

/// The positions of a page's entries.
fn positions(page: &Value) -> Vec<u64> {
    page["items"].as_array().expect("items").iter().map(|item| item["seq"].as_u64().expect("a seq")).collect()
}

/// Whether an entry's body is one a search should find.
type Wanted = fn(&Value) -> bool;

/// Every entry of the log as `GET /audit` lists it, oldest first.
async fn whole_log(app: &SpawnedApp) -> Vec<Value> {
    app.get("/api/v1/audit?limit=1000").await.body.as_array().expect("entries").clone()
}

#[tokio::test]
async fn a_search_pages_through_matching_entries_newest_first() {
    let app = spawn_app().await;
    with_catalog(&app).await;
    let created = app.post("/api/v1/teams", json!({ "name": "ops" })).await;
    assert_eq!(created.status, 201, "{:?}", created.body);

    let first = search(&app, "action=service.create&limit=2").await;
    insta::assert_json_snapshot!(first, {
        ".items[].hash" => "[hash]",
        ".items[].entry.at" => "[at]",
        ".items[].entry.request_id" => "[request_id]",
    }, @r#"
    {
      "items": [
        {
          "seq": 12,
          "hash": "[hash]",
          "entry": {
            "action": "service.create",
            "actor": "admin",
            "after": {
              "criticality": "medium",
              "depends_on": [
                "ledger"
              ],
              "description": "",
              "labels": [],
              "name": "api",
              "owner": "payments"
            },
            "at": "[at]",
            "before": null,
            "object": {
              "id": "api",
              "kind": "service"
            },
            "reason": null,
            "request_id": "[request_id]",
            "seq": 12,
            "v": 1
          }
        },
        {
          "seq": 11,
          "hash": "[hash]",
          "entry": {
            "action": "service.create",
            "actor": "admin",
            "after": {
              "criticality": "high",
              "depends_on": [
                "postgres-main"
              ],
              "description": "",
              "labels": [],
              "name": "ledger",
              "owner": "payments"
            },
            "at": "[at]",
            "before": null,
            "object": {
              "id": "ledger",
              "kind": "service"
            },
            "reason": null,
            "request_id": "[request_id]",
            "seq": 11,
            "v": 1
          }
        }
      ],
      "next_before": 11
    }
    "#);

    // Every filter against what the whole log says, page after page.
    let log = whole_log(&app).await;
    let cases: [(&str, Wanted); 5] = [
        ("action=service.create", |entry| entry["action"] == "service.create"),
        ("actor=admin&object_kind=team", |entry| entry["actor"] == "admin" && entry["object"]["kind"] == "team"),
        ("object_kind=service&object_id=ledger", |entry| {
            entry["object"] == json!({ "kind": "service", "id": "ledger" })
        }),
        ("actor=%40system", |entry| entry["actor"] == "@system"),
        ("from=2026-03-01T12:00:00Z&to=2026-03-01T12:00:00.000001Z", |_| true),
    ];
    for (query, wanted) in cases {
        let expected: Vec<u64> = log
            .iter()
            .rev()
            .filter(|item| wanted(&item["entry"]))
            .map(|item| item["seq"].as_u64().expect("a seq"))
            .collect();
        let mut found = Vec::new();
        let mut page = search(&app, &format!("{query}&limit=2")).await;
        loop {
            found.extend(positions(&page));
            match page["next_before"].as_u64() {
                Some(before) => page = search(&app, &format!("{query}&limit=2&before={before}")).await,
                None => break,
            }
        }
        assert_eq!(found, expected, "{query}");
        assert!(!found.is_empty(), "{query} finds something");
    }
    for query in ["actor=nobody", "to=2026-03-01T12:00:00Z"] {
        assert_eq!(search(&app, query).await, json!({ "items": [], "next_before": null }), "{query}");
    }
}

/// Sends the search and returns the problem, after checking nothing was written.
async fn refused(app: &SpawnedApp, query: &str) -> (u16, Value) {
    let before = app.app.row_counts().await;
    let reply = app.call(Method::GET, &format!("/api/v1/audit/entries?{query}"), None).await;
    assert_eq!(reply.content_type, "application/problem+json", "{query}");
    assert_eq!(app.app.row_counts().await, before, "{query} wrote something");
    (reply.status.as_u16(), reply.body)
}

#[tokio::test]
async fn bad_filters_are_refused_naming_every_field_and_change_nothing() {
    let app = spawn_app().await;
    with_catalog(&app).await;
    let (status, problem) = refused(
        &app,
        "actor=Ana&action=release.fly&object_kind=rocket&object_id=x&from=yesterday&to=2026-13-01T00:00:00Z",
    )
    .await;
    assert_eq!(status, 422);
    insta::assert_json_snapshot!(problem, @r#"
    {
      "type": "urn:tollgate:problem:validation_failed",
      "title": "Unprocessable Entity",
      "status": 422,
      "detail": "actor: \"Ana\" is neither a user name nor @system; action: \"fly\" is not one of create, update, revoke, transition, record, finish, refuse, sign, remove, enroll, rotate, evaluate, override, approve, reject, apply, allow, deny, sign_in, sign_out, set_password, lock_out, acquire, renew, release, resume, skip, abort, roll_back, quarantine, lift, pause, promote; object_kind: \"rocket\" is not one of team, user, token, service, environment, lifecycle, release, deployment, artifact, trusted_key, evidence, retention_policy, legal_hold, signing_key, policy, gate_decision, gate_override, jit_grant, authz_policy, authz_decision, login, sso, calendar_period, change_request, change_policy, train, lease, run, deployment_step, quarantine; from: \"yesterday\" is not an RFC 3339 timestamp; to: \"2026-13-01T00:00:00Z\" is not an RFC 3339 timestamp",
      "code": "validation_failed",
      "errors": [
        {
          "field": "actor",
          "message": "\"Ana\" is neither a user name nor @system"
        },
        {
          "field": "action",
          "message": "\"fly\" is not one of create, update, revoke, transition, record, finish, refuse, sign, remove, enroll, rotate, evaluate, override, approve, reject, apply, allow, deny, sign_in, sign_out, set_password, lock_out, acquire, renew, release, resume, skip, abort, roll_back, quarantine, lift, pause, promote"
        },
        {
          "field": "object_kind",
          "message": "\"rocket\" is not one of team, user, token, service, environment, lifecycle, release, deployment, artifact, trusted_key, evidence, retention_policy, legal_hold, signing_key, policy, gate_decision, gate_override, jit_grant, authz_policy, authz_decision, login, sso, calendar_period, change_request, change_policy, train, lease, run, deployment_step, quarantine"
        },
        {
          "field": "from",
          "message": "\"yesterday\" is not an RFC 3339 timestamp"
        },
        {
          "field": "to",
          "message": "\"2026-13-01T00:00:00Z\" is not an RFC 3339 timestamp"
        }
      ]
    }
    "#);

    let (status, problem) = refused(&app, "object_id=ledger&from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z").await;
    assert_eq!(status, 422);
    let errors: Vec<(&str, &str)> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|error| (error["field"].as_str().expect("field"), error["message"].as_str().expect("message")))
        .collect();
    assert_eq!(errors, [("object_id", "an object id needs an object kind"), ("to", "end must be after start")]);

    for query in ["limit=0", "limit=101", "before=0", "before=9223372036854775808", "limit=ten", "colour=red"] {
        let (status, problem) = refused(&app, query).await;
        assert_eq!((status, problem["code"].as_str()), (400, Some("invalid_query")), "{query}: {problem}");
    }
    for query in ["limit=100", "limit=1&before=9223372036854775807"] {
        search(&app, query).await;
    }
}
