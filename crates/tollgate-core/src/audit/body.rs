//! The body of an audit entry read back from its canonical bytes, to show it to people.
//!
//! Verification never uses this reader: it hashes the bytes as stored. This only turns the
//! stored JSON (format `v: 1`, written by [`AuditRecord::canonical_bytes`]) into fields, and
//! says which fields of the object an entry changed.
//!
//! [`AuditRecord::canonical_bytes`]: crate::audit::AuditRecord::canonical_bytes

use serde::Deserialize;
use serde_json::Value;

use crate::Timestamp;

/// An entry's body (its canonical bytes), field by field.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EntryBody {
    /// The format version, 1.
    pub v: u32,
    pub seq: u64,
    pub at: Timestamp,
    /// A user name, or `@system`.
    pub actor: String,
    /// `<object kind>.<verb>`, such as `release.transition`.
    pub action: String,
    pub object: EntryObject,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub reason: Option<String>,
    pub request_id: Option<String>,
}

/// The object an entry is about: its kind (`release`) and its key (a name or a numeric id).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EntryObject {
    pub kind: String,
    pub id: String,
}

/// One top-level field of an object that an entry changed.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    pub field: String,
    /// Absent when the field was added.
    pub before: Option<Value>,
    /// Absent when the field was removed.
    pub after: Option<Value>,
}

impl EntryBody {
    /// The top-level fields whose value differs between `before` and `after`, by field name.
    /// Empty unless both are objects: a creation or a removal changes no field, it is whole.
    pub fn changes(&self) -> Vec<FieldChange> {
        let (Some(Value::Object(before)), Some(Value::Object(after))) = (&self.before, &self.after) else {
            return Vec::new();
        };
        let mut fields: Vec<&String> = before.keys().chain(after.keys()).collect();
        fields.sort();
        fields.dedup();
        fields
            .into_iter()
            .filter(|field| before.get(*field) != after.get(*field))
            .map(|field| FieldChange {
                field: field.clone(),
                before: before.get(field).cloned(),
                after: after.get(field).cloned(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::audit::{Actor, AuditAction, AuditRecord, ObjectKind, ObjectRef};
    use crate::name::UserName;

    fn record(before: Option<Value>, after: Option<Value>) -> AuditRecord {
        AuditRecord {
            at: "2026-03-01T12:00:00Z".parse().expect("timestamp"),
            actor: Actor::User(UserName::parse("ana").expect("name")),
            action: AuditAction::Transition,
            object: ObjectRef::new(ObjectKind::Release, "2.0.0"),
            before,
            after,
            reason: Some("scope creep".to_owned()),
            request_id: None,
        }
    }

    fn read(record: &AuditRecord) -> EntryBody {
        serde_json::from_slice(&record.canonical_bytes(7)).expect("canonical bytes read back")
    }

    #[test]
    fn canonical_bytes_read_back_field_by_field() {
        let entry = read(&record(None, Some(json!({"state": "draft"}))));
        assert_eq!(
            entry,
            EntryBody {
                v: 1,
                seq: 7,
                at: "2026-03-01T12:00:00Z".parse().expect("timestamp"),
                actor: "ana".to_owned(),
                action: "release.transition".to_owned(),
                object: EntryObject { kind: "release".to_owned(), id: "2.0.0".to_owned() },
                before: None,
                after: Some(json!({"state": "draft"})),
                reason: Some("scope creep".to_owned()),
                request_id: None,
            }
        );
    }

    #[test]
    fn changes_are_the_fields_that_differ_added_or_removed() {
        let entry = read(&record(
            Some(json!({"state": "planned", "revision": 1, "gone": true, "same": [1]})),
            Some(json!({"state": "scope_frozen", "revision": 1, "new": "x", "same": [1]})),
        ));
        let changes: Vec<(String, Option<Value>, Option<Value>)> =
            entry.changes().into_iter().map(|change| (change.field, change.before, change.after)).collect();
        assert_eq!(
            changes,
            [
                ("gone".to_owned(), Some(json!(true)), None),
                ("new".to_owned(), None, Some(json!("x"))),
                ("state".to_owned(), Some(json!("planned")), Some(json!("scope_frozen"))),
            ]
        );
    }

    #[test]
    fn a_creation_changes_no_field() {
        assert_eq!(read(&record(None, Some(json!({"state": "draft"})))).changes(), []);
    }
}
