//! A readable diff of an entry's `before` and `after`: every value that was added, removed or
//! changed, located by a JSON pointer (RFC 6901).
//!
//! This is for showing an entry to people; verification never uses it. It judges nothing about
//! what a change means, and it reads no rows.

use serde_json::{Map, Value};

/// One difference between two JSON values, at a JSON pointer (`/artifacts/0/version`; the
/// empty pointer is the whole value).
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// The value is only in `after`.
    Added { path: String, after: Value },
    /// The value is only in `before`.
    Removed { path: String, before: Value },
    /// The value is in both, and differs.
    Changed { path: String, before: Value, after: Value },
}

/// Whether a value was added, removed or changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

crate::keyword_enum!(ChangeKind { Added => "added", Removed => "removed", Changed => "changed" });

impl Change {
    /// The JSON pointer of the value.
    pub fn path(&self) -> &str {
        match self {
            Change::Added { path, .. } | Change::Removed { path, .. } | Change::Changed { path, .. } => path,
        }
    }

    pub fn kind(&self) -> ChangeKind {
        match self {
            Change::Added { .. } => ChangeKind::Added,
            Change::Removed { .. } => ChangeKind::Removed,
            Change::Changed { .. } => ChangeKind::Changed,
        }
    }

    /// The value before the change; absent when it was added.
    pub fn before(&self) -> Option<&Value> {
        match self {
            Change::Added { .. } => None,
            Change::Removed { before, .. } | Change::Changed { before, .. } => Some(before),
        }
    }

    /// The value after the change; absent when it was removed.
    pub fn after(&self) -> Option<&Value> {
        match self {
            Change::Removed { .. } => None,
            Change::Added { after, .. } | Change::Changed { after, .. } => Some(after),
        }
    }
}

/// Every difference between `before` and `after`, in document order (object keys sorted).
///
/// Objects present on both sides are walked key by key, nested objects too; a key on one side
/// only is one change carrying its whole value. Arrays present on both sides are compared
/// element by element, by index: an element inserted at the front shows as every later element
/// changed and one added at the end, because nothing here guesses which elements correspond.
/// Values of different types (an object and an array, a string and a number) are one change.
/// An absent side (`None`: no `before` on a creation, no `after` on a removal) counts as an empty
/// object when the other side is an object, so each field shows as added or removed; any other
/// value against an absent side is one change at the empty pointer.
pub fn diff(before: Option<&Value>, after: Option<&Value>) -> Vec<Change> {
    let empty = Value::Object(Map::new());
    let mut changes = Vec::new();
    match (before, after) {
        (None, None) => {}
        (None, Some(after @ Value::Object(_))) => walk(&mut changes, String::new(), &empty, after),
        (Some(before @ Value::Object(_)), None) => walk(&mut changes, String::new(), before, &empty),
        (None, Some(after)) => changes.push(Change::Added { path: String::new(), after: after.clone() }),
        (Some(before), None) => changes.push(Change::Removed { path: String::new(), before: before.clone() }),
        (Some(before), Some(after)) => walk(&mut changes, String::new(), before, after),
    }
    changes
}

fn walk(changes: &mut Vec<Change>, path: String, before: &Value, after: &Value) {
    match (before, after) {
        (Value::Object(before), Value::Object(after)) => {
            let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let path = format!("{path}/{}", escape(key));
                match (before.get(key), after.get(key)) {
                    (Some(before), Some(after)) => walk(changes, path, before, after),
                    (Some(before), None) => changes.push(Change::Removed { path, before: before.clone() }),
                    (None, Some(after)) => changes.push(Change::Added { path, after: after.clone() }),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(before), Value::Array(after)) => {
            for index in 0..before.len().max(after.len()) {
                let path = format!("{path}/{index}");
                match (before.get(index), after.get(index)) {
                    (Some(before), Some(after)) => walk(changes, path, before, after),
                    (Some(before), None) => changes.push(Change::Removed { path, before: before.clone() }),
                    (None, Some(after)) => changes.push(Change::Added { path, after: after.clone() }),
                    (None, None) => {}
                }
            }
        }
        (before, after) if before != after => {
            changes.push(Change::Changed { path, before: before.clone(), after: after.clone() })
        }
        _ => {}
    }
}

/// A key as one JSON pointer reference token: `~` becomes `~0` and `/` becomes `~1`.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::ChangeKind::{Added, Changed, Removed};
    use super::*;

    /// Diffs `before` and `after` and compares the changes as `(kind, path, before, after)`.
    fn check(
        before: Option<Value>,
        after: Option<Value>,
        expected: &[(ChangeKind, &str, Option<Value>, Option<Value>)],
    ) {
        let found: Vec<(ChangeKind, String, Option<Value>, Option<Value>)> = diff(before.as_ref(), after.as_ref())
            .iter()
            .map(|change| (change.kind(), change.path().to_owned(), change.before().cloned(), change.after().cloned()))
            .collect();
        let expected: Vec<(ChangeKind, String, Option<Value>, Option<Value>)> = expected
            .iter()
            .map(|(kind, path, before, after)| (*kind, (*path).to_owned(), before.clone(), after.clone()))
            .collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn nothing_against_nothing_is_no_change() {
        check(None, None, &[]);
    }

    #[test]
    fn equal_values_are_no_change() {
        let value = json!({"name": "payments", "members": ["ana", "bo"], "nested": {"a": [1, {"b": null}]}});
        check(Some(value.clone()), Some(value), &[]);
    }

    #[test]
    fn a_creation_lists_every_field_added() {
        check(
            None,
            Some(json!({"name": "payments", "members": ["ana"]})),
            &[(Added, "/members", None, Some(json!(["ana"]))), (Added, "/name", None, Some(json!("payments")))],
        );
    }

    #[test]
    fn a_removal_lists_every_field_removed() {
        check(Some(json!({"name": "payments"})), None, &[(Removed, "/name", Some(json!("payments")), None)]);
    }

    #[test]
    fn a_value_that_is_not_an_object_against_nothing_is_one_change_at_the_root() {
        check(None, Some(json!(["a"])), &[(Added, "", None, Some(json!(["a"])))]);
        check(Some(json!("x")), None, &[(Removed, "", Some(json!("x")), None)]);
    }

    #[test]
    fn changed_added_and_removed_fields_come_in_key_order() {
        check(
            Some(json!({"state": "planned", "revision": 1, "gone": true})),
            Some(json!({"state": "scope_frozen", "revision": 1, "new": "x"})),
            &[
                (Removed, "/gone", Some(json!(true)), None),
                (Added, "/new", None, Some(json!("x"))),
                (Changed, "/state", Some(json!("planned")), Some(json!("scope_frozen"))),
            ],
        );
    }

    #[test]
    fn nested_objects_are_walked() {
        check(
            Some(json!({"window": {"start": "a", "end": "b"}, "owner": {"team": "core"}})),
            Some(json!({"window": {"start": "a", "end": "c"}, "owner": {}})),
            &[
                (Removed, "/owner/team", Some(json!("core")), None),
                (Changed, "/window/end", Some(json!("b")), Some(json!("c"))),
            ],
        );
    }

    #[test]
    fn a_key_on_one_side_only_is_one_change_with_its_whole_value() {
        check(
            Some(json!({})),
            Some(json!({"window": {"start": "a", "end": "b"}})),
            &[(Added, "/window", None, Some(json!({"start": "a", "end": "b"})))],
        );
    }

    #[test]
    fn arrays_are_compared_by_index() {
        check(
            Some(json!({"members": ["ana", "bo"]})),
            Some(json!({"members": ["ana", "cy", "dee"]})),
            &[
                (Changed, "/members/1", Some(json!("bo")), Some(json!("cy"))),
                (Added, "/members/2", None, Some(json!("dee"))),
            ],
        );
        check(
            Some(json!([1, 2, 3])),
            Some(json!([1])),
            &[(Removed, "/1", Some(json!(2)), None), (Removed, "/2", Some(json!(3)), None)],
        );
    }

    #[test]
    fn an_element_inserted_at_the_front_changes_every_later_index() {
        check(
            Some(json!(["b", "c"])),
            Some(json!(["a", "b", "c"])),
            &[
                (Changed, "/0", Some(json!("b")), Some(json!("a"))),
                (Changed, "/1", Some(json!("c")), Some(json!("b"))),
                (Added, "/2", None, Some(json!("c"))),
            ],
        );
    }

    #[test]
    fn objects_inside_arrays_are_walked() {
        check(
            Some(json!({"artifacts": [{"service": "api", "version": "1.0.0"}]})),
            Some(json!({"artifacts": [{"service": "api", "version": "1.1.0"}]})),
            &[(Changed, "/artifacts/0/version", Some(json!("1.0.0")), Some(json!("1.1.0")))],
        );
    }

    #[test]
    fn values_of_different_types_are_one_change() {
        check(
            Some(json!({"a": {"b": 1}, "c": 1, "d": null})),
            Some(json!({"a": [1], "c": "1", "d": false})),
            &[
                (Changed, "/a", Some(json!({"b": 1})), Some(json!([1]))),
                (Changed, "/c", Some(json!(1)), Some(json!("1"))),
                (Changed, "/d", Some(json!(null)), Some(json!(false))),
            ],
        );
        check(Some(json!(1)), Some(json!(2)), &[(Changed, "", Some(json!(1)), Some(json!(2)))]);
    }

    #[test]
    fn a_null_value_differs_from_an_absent_key() {
        check(Some(json!({"a": null})), Some(json!({})), &[(Removed, "/a", Some(json!(null)), None)]);
    }

    #[test]
    fn keys_are_escaped_as_json_pointer_tokens() {
        check(
            Some(json!({"a/b": 1, "m~n": {"x": 1}})),
            Some(json!({"a/b": 2, "m~n": {"x": 2}})),
            &[(Changed, "/a~1b", Some(json!(1)), Some(json!(2))), (Changed, "/m~0n/x", Some(json!(1)), Some(json!(2)))],
        );
    }
}
