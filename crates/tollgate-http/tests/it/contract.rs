//! The OpenAPI document's promises: every operation lists the problems it can answer, as
//! `application/problem+json`, and every input the server checks states its rule.
//! `.ci/schemathesis.sh` checks the same document against the running server.

use std::collections::BTreeSet;

use serde_json::Value;
use tollgate_http::ERROR_CODES;

/// Inputs the server takes as they come, so their schema has no rule to state, and why.
const UNCHECKED_INPUTS: &[(&str, &str)] = &[
    ("transition_release: reason", "ignored by actions that need no reason"),
    ("release_hold: reason", "any text, kept in the audit log"),
    ("sign_artifact: signatures[].keyid", "a hint only; every trusted key is tried"),
    ("put_period: name", "free text, trimmed; control characters are refused"),
    ("put_period: tzid", "an IANA time zone name: the zone database decides"),
    ("put_period: start", "a local date or date-time, in the period's zone"),
    ("put_period: length", "an RFC 5545 duration: the calendar compiles it"),
    ("put_period: rule", "an RFC 5545 RRULE: the calendar compiles it"),
    ("put_period: exdates[]", "local date-times, in the period's zone"),
    ("put_period: rdates[]", "local date-times, in the period's zone"),
    ("window: services", "service names separated by commas, each checked"),
    ("put_train: tzid", "an IANA time zone name: the zone database decides"),
    ("put_train: first_departure", "a local date-time, in the train's zone"),
    ("put_train: rule", "an RFC 5545 RRULE: the calendar compiles it"),
    ("put_train: length", "an RFC 5545 duration: the calendar compiles it"),
    ("put_train: cutoff", "an ISO 8601 duration of days, hours and minutes, up to 90 days"),
    ("put_train: freeze", "an ISO 8601 duration, not before the cut-off"),
];

fn document() -> Value {
    serde_json::to_value(tollgate_http::openapi()).expect("the document serializes")
}

/// Every operation: its id, and the operation object.
fn operations(document: &Value) -> Vec<(String, &Value)> {
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            let id = operation["operationId"].as_str().map_or_else(|| format!("{method} {path}"), str::to_owned);
            operations.push((id, operation));
        }
    }
    operations
}

/// The schema a `$ref` points at, followed to the end.
fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.strip_prefix("#/components/schemas/").expect("a schema reference");
            resolve(document, &document["components"]["schemas"][name])
        }
        None => schema,
    }
}

fn codes(response: &Value) -> Vec<&str> {
    response["x-problem-codes"]
        .as_array()
        .map_or_else(Vec::new, |codes| codes.iter().filter_map(Value::as_str).collect())
}

fn all_codes(operation: &Value) -> BTreeSet<&str> {
    operation["responses"].as_object().expect("responses").values().flat_map(codes).collect()
}

#[test]
fn no_operation_has_a_default_response_and_ids_are_unique() {
    let document = document();
    let mut ids = BTreeSet::new();
    for (id, operation) in operations(&document) {
        assert!(operation["responses"].get("default").is_none(), "{id} has a default response");
        assert!(ids.insert(id.clone()), "{id} twice");
    }
    // Every route of the API is an operation here; one that went missing shows.
    assert_eq!(ids.len(), 109);
}

#[test]
fn every_error_response_is_a_problem_document_naming_its_codes() {
    let document = document();
    for (id, operation) in operations(&document) {
        for status in ["401", "500", "503"] {
            assert!(operation["responses"].get(status).is_some(), "{id} does not document {status}");
        }
        for (status, response) in operation["responses"].as_object().expect("responses") {
            let status: u16 = status.parse().expect("a status");
            if status < 400 {
                continue;
            }
            let content = response["content"].as_object().expect("content");
            let media_types: Vec<&String> = content.keys().collect();
            assert_eq!(media_types, ["application/problem+json"], "{id} {status}");
            assert_eq!(content["application/problem+json"]["schema"]["$ref"], "#/components/schemas/Problem");
            let codes = codes(response);
            assert!(!codes.is_empty(), "{id} {status} names no code");
            for code in codes {
                let known = ERROR_CODES.iter().find(|(known, ..)| *known == code);
                assert_eq!(known.map(|(_, status, _)| *status), Some(status), "{id}: {code} is not a {status}");
            }
        }
    }
}

#[test]
fn operations_list_the_problems_of_their_inputs() {
    let document = document();
    for (id, operation) in operations(&document) {
        let codes = all_codes(operation);
        let parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
        let has = |place: &str| parameters.iter().any(|parameter| parameter["in"] == place);
        if has("path") {
            assert!(codes.contains("validation_failed"), "{id}: a path parameter is parsed");
        }
        if has("query") {
            assert!(codes.contains("invalid_query"), "{id}: query parameters are parsed");
        }
        if let Some(body) = operation["requestBody"]["content"].get("application/json") {
            for code in ["malformed_json", "unsupported_media_type", "payload_too_large"] {
                assert!(codes.contains(code), "{id}: a JSON body can be answered {code}");
            }
            // The signature envelope is read as any JSON value, which cannot fail to deserialize.
            let any_json = id == "sign_artifact";
            assert!(body["schema"].is_object());
            assert_eq!(codes.contains("invalid_body"), !any_json, "{id}: invalid_body");
        }
    }
}

#[test]
fn every_reference_resolves() {
    fn walk(document: &Value, value: &Value, path: &str) {
        match value {
            Value::Object(object) => {
                if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
                    let pointer = reference.strip_prefix('#').expect("a local reference");
                    assert!(document.pointer(pointer).is_some(), "{path}: {reference} does not resolve");
                }
                for (key, value) in object {
                    walk(document, value, &format!("{path}/{key}"));
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(document, item, path)),
            _ => {}
        }
    }
    let document = document();
    walk(&document, &document, "");
}

/// Names every string or integer input under `schema` that states no rule.
fn unstated<'a>(document: &'a Value, schema: &'a Value, at: &str, found: &mut Vec<String>) {
    let schema = resolve(document, schema);
    for combinator in ["oneOf", "anyOf", "allOf"] {
        for branch in schema[combinator].as_array().into_iter().flatten() {
            unstated(document, branch, at, found);
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(single) => vec![single.as_str()],
        Value::Array(several) => several.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if types.contains(&"string") {
        let stated = ["pattern", "enum", "maxLength", "format"].iter().any(|rule| schema.get(rule).is_some());
        if !stated {
            found.push(at.to_owned());
        }
    }
    if types.contains(&"integer") && (schema.get("minimum").is_none() || schema.get("maximum").is_none()) {
        found.push(at.to_owned());
    }
    for (name, property) in schema["properties"].as_object().into_iter().flatten() {
        let at = if at.ends_with(": ") { format!("{at}{name}") } else { format!("{at}.{name}") };
        unstated(document, property, &at, found);
    }
    if let Some(items) = schema.get("items") {
        unstated(document, items, &format!("{at}[]"), found);
    }
}

#[test]
fn every_input_the_server_checks_states_its_rule() {
    let document = document();
    let mut found = Vec::new();
    for (id, operation) in operations(&document) {
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            let at = format!("{id}: {}", parameter["name"].as_str().expect("a name"));
            unstated(&document, &parameter["schema"], &at, &mut found);
        }
        if let Some(body) = operation["requestBody"]["content"].get("application/json") {
            unstated(&document, &body["schema"], &format!("{id}: "), &mut found);
        }
    }
    found.sort();
    found.dedup();
    let mut unchecked: Vec<&str> = UNCHECKED_INPUTS.iter().map(|(input, _)| *input).collect();
    unchecked.sort_unstable();
    assert_eq!(found, unchecked);
}

#[test]
fn the_document_is_stable() {
    insta::assert_json_snapshot!("openapi", document());
}
