//! Searching the audit log: which entries to show (actor, action, object, time range) and which
//! page of them, newest first. Filters arrive as raw strings and are parsed here once, with
//! every bad field reported.
//!
//! This module only describes a search; the store answers it from its audit index, which is
//! not part of the hash chain and so never used by verification.

use std::fmt;

use crate::audit::{Actor, AuditAction, ObjectKind, ObjectRef, StoredEntry};
use crate::name::UserName;
use crate::release::parse_timestamp;
use crate::violation::{Problem, Violations};
use crate::Timestamp;

/// The most entries one page of a search holds.
pub const MAX_SEARCH_LIMIT: u32 = 100;
/// The entries a page holds when the caller does not say.
pub const DEFAULT_SEARCH_LIMIT: u32 = 50;
/// The longest object id a filter accepts (names, versions and numeric ids are all shorter).
pub const MAX_OBJECT_ID_LEN: usize = 256;
/// How the system actor is written in entries and filters. A user name never contains `@`.
pub const SYSTEM_ACTOR: &str = "@system";

/// A search's filters as they arrive (query parameters, form fields, CLI flags); absent means
/// "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilterInput {
    /// A user name, or `@system`.
    pub actor: Option<String>,
    /// `<object kind>.<verb>`, such as `release.transition`.
    pub action: Option<String>,
    pub object_kind: Option<String>,
    /// Needs `object_kind`.
    pub object_id: Option<String>,
    /// RFC 3339; entries at or after it.
    pub from: Option<String>,
    /// RFC 3339; entries before it.
    pub to: Option<String>,
}

/// An action as the log names it: `<object kind>.<verb>` (`release.transition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ActionName {
    pub kind: ObjectKind,
    pub action: AuditAction,
}

/// Which object entries are about: every object of a kind, or one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectFilter {
    Kind(ObjectKind),
    One(ObjectRef),
}

/// Which entries a search shows: those matching every filter that is set. The time range is
/// half-open: `from` is included, `to` is not. It is judged on the log's time, which never
/// decreases: an entry's own time, or an earlier entry's when that is later (written by a
/// clock that stepped back), so the range is one run of positions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor: Option<Actor>,
    pub action: Option<ActionName>,
    pub object: Option<ObjectFilter>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
}

/// Which page of a search to read: up to `limit` entries older than position `before` (from the
/// newest entry when absent), newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditPage {
    before: Option<u64>,
    // Invariant: 1 ..= MAX_SEARCH_LIMIT.
    limit: u32,
}

/// One page of a search: entries newest first, and the `before` of the next (older) page when
/// there may be one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSearchPage {
    pub entries: Vec<StoredEntry>,
    pub next_before: Option<u64>,
}

impl ActionName {
    /// Parses `<object kind>.<verb>`; an unknown kind or verb is reported with the accepted ones.
    pub fn parse(value: &str) -> Result<ActionName, Problem> {
        let Some((kind, action)) = value.split_once('.') else {
            return Err(Problem::Invalid {
                reason: format!("{value:?} is not an action: <object kind>.<verb>, such as release.transition"),
            });
        };
        Ok(ActionName { kind: kind.parse()?, action: action.parse()? })
    }
}

impl fmt::Display for ActionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.kind, self.action)
    }
}

/// Parses an actor as entries write it: a user name, or `@system`.
pub fn parse_actor(value: &str) -> Result<Actor, Problem> {
    if value == SYSTEM_ACTOR {
        return Ok(Actor::System);
    }
    UserName::parse(value)
        .map(Actor::User)
        .map_err(|_| Problem::Invalid { reason: format!("{value:?} is neither a user name nor {SYSTEM_ACTOR}") })
}

impl AuditFilter {
    /// Parses every filter of `input`, or returns every field that is wrong: an actor that is
    /// neither a user name nor `@system`, an unknown action or object kind, an object id that is
    /// empty, too long, holds NUL or comes without an object kind, a time that is not RFC 3339,
    /// and a `to` that is not after `from`.
    pub fn parse(input: &AuditFilterInput) -> Result<AuditFilter, Violations> {
        let mut violations = Violations::new();
        let actor = input.actor.as_deref().and_then(|actor| violations.check("actor", parse_actor(actor)));
        let action = input.action.as_deref().and_then(|action| violations.check("action", ActionName::parse(action)));
        let kind =
            input.object_kind.as_deref().and_then(|kind| violations.check("object_kind", kind.parse::<ObjectKind>()));
        let id = input.object_id.as_deref().and_then(|id| violations.check("object_id", check_object_id(id)));
        if input.object_id.is_some() && input.object_kind.is_none() {
            violations.push("object_id", Problem::Invalid { reason: "an object id needs an object kind".to_owned() });
        }
        let from = input.from.as_deref().and_then(|from| violations.check("from", parse_timestamp(from)));
        let to = input.to.as_deref().and_then(|to| violations.check("to", parse_timestamp(to)));
        if let (Some(from), Some(to)) = (from, to) {
            if to <= from {
                violations.push("to", Problem::EmptyRange);
            }
        }
        let object = match (kind, id) {
            (Some(kind), Some(id)) => Some(ObjectFilter::One(ObjectRef { kind, id })),
            (Some(kind), None) => Some(ObjectFilter::Kind(kind)),
            (None, _) => None,
        };
        violations.into_result(AuditFilter { actor, action, object, from, to })
    }

    /// Whether no filter is set: the search shows every entry.
    pub fn is_empty(&self) -> bool {
        self == &AuditFilter::default()
    }
}

fn check_object_id(id: &str) -> Result<String, Problem> {
    if id.is_empty() {
        return Err(Problem::Required);
    }
    if id.chars().count() > MAX_OBJECT_ID_LEN {
        return Err(Problem::TooLong { max: MAX_OBJECT_ID_LEN });
    }
    if id.contains('\0') {
        return Err(Problem::Invalid { reason: "an object id never contains NUL".to_owned() });
    }
    Ok(id.to_owned())
}

impl AuditPage {
    /// A page of `limit` entries before `before`. A limit outside 1 ..= [`MAX_SEARCH_LIMIT`] is
    /// refused, not clamped.
    pub fn new(before: Option<u64>, limit: u32) -> Result<AuditPage, Violations> {
        let mut violations = Violations::new();
        if !(1..=MAX_SEARCH_LIMIT).contains(&limit) {
            violations.push("limit", Problem::Invalid { reason: format!("must be from 1 to {MAX_SEARCH_LIMIT}") });
        }
        violations.into_result(AuditPage { before, limit })
    }

    /// The first page of `limit` entries: the newest.
    pub fn newest(limit: u32) -> Result<AuditPage, Violations> {
        AuditPage::new(None, limit)
    }

    pub fn before(&self) -> Option<u64> {
        self.before
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(fields: &[(&str, &str)]) -> AuditFilterInput {
        let mut input = AuditFilterInput::default();
        for (field, value) in fields {
            let value = Some((*value).to_owned());
            match *field {
                "actor" => input.actor = value,
                "action" => input.action = value,
                "object_kind" => input.object_kind = value,
                "object_id" => input.object_id = value,
                "from" => input.from = value,
                "to" => input.to = value,
                other => panic!("no field {other}"),
            }
        }
        input
    }

    /// Parses `fields` and compares the outcome: the filter, or every violation as `field: message`.
    fn check(fields: &[(&str, &str)], expected: Result<AuditFilter, &[&str]>) {
        let parsed = AuditFilter::parse(&input(fields))
            .map_err(|violations| violations.0.iter().map(ToString::to_string).collect::<Vec<_>>());
        let expected = expected.map_err(|messages| messages.iter().map(|m| (*m).to_owned()).collect::<Vec<_>>());
        assert_eq!(parsed, expected);
    }

    fn at(value: &str) -> Timestamp {
        value.parse().expect("a timestamp")
    }

    #[test]
    fn no_field_is_no_filter() {
        check(&[], Ok(AuditFilter::default()));
        assert!(AuditFilter::default().is_empty());
    }

    #[test]
    fn every_field_parses() {
        check(
            &[
                ("actor", "ana"),
                ("action", "release.transition"),
                ("object_kind", "release"),
                ("object_id", "2.0.0"),
                ("from", "2026-03-01T00:00:00Z"),
                ("to", "2026-03-02T00:00:00+01:00"),
            ],
            Ok(AuditFilter {
                actor: Some(Actor::User(UserName::parse("ana").expect("name"))),
                action: Some(ActionName { kind: ObjectKind::Release, action: AuditAction::Transition }),
                object: Some(ObjectFilter::One(ObjectRef::new(ObjectKind::Release, "2.0.0"))),
                from: Some(at("2026-03-01T00:00:00Z")),
                to: Some(at("2026-03-01T23:00:00Z")),
            }),
        );
    }

    #[test]
    fn the_system_actor_and_an_object_kind_alone_parse() {
        check(
            &[("actor", "@system"), ("object_kind", "signing_key")],
            Ok(AuditFilter {
                actor: Some(Actor::System),
                object: Some(ObjectFilter::Kind(ObjectKind::SigningKey)),
                ..AuditFilter::default()
            }),
        );
    }

    #[test]
    fn every_bad_field_is_reported_by_name() {
        check(
            &[
                ("actor", "Ana!"),
                ("action", "release.fly"),
                ("object_kind", "spaceship"),
                ("object_id", ""),
                ("from", "yesterday"),
                ("to", "2026-13-01T00:00:00Z"),
            ],
            Err(&[
                "actor: \"Ana!\" is neither a user name nor @system",
                "action: \"fly\" is not one of create, update, revoke, transition, record, finish, refuse, sign, \
                 remove, enroll, rotate, evaluate, override, approve, reject, apply, allow, deny, sign_in, sign_out, set_password, lock_out, acquire, renew, release, resume, skip, abort, roll_back, quarantine, lift, pause, promote",
                "object_kind: \"spaceship\" is not one of team, user, token, service, environment, lifecycle, \
                 release, deployment, artifact, trusted_key, evidence, retention_policy, legal_hold, signing_key, \
                 policy, gate_decision, gate_override, jit_grant, authz_policy, authz_decision, login, sso, calendar_period, change_request, change_policy, train, lease, run, deployment_step, quarantine",
                "object_id: is required",
                "from: \"yesterday\" is not an RFC 3339 timestamp",
                "to: \"2026-13-01T00:00:00Z\" is not an RFC 3339 timestamp",
            ]),
        );
    }

    #[test]
    fn an_action_needs_a_kind_and_a_verb() {
        check(
            &[("action", "transition")],
            Err(&["action: \"transition\" is not an action: <object kind>.<verb>, such as release.transition"]),
        );
        check(
            &[("action", "rocket.create")],
            Err(&["action: \"rocket\" is not one of team, user, token, service, environment, lifecycle, release, \
             deployment, artifact, trusted_key, evidence, retention_policy, legal_hold, signing_key, policy, \
             gate_decision, gate_override, jit_grant, authz_policy, authz_decision, login, sso, calendar_period, \
             change_request, change_policy, train, lease, run, deployment_step, quarantine"]),
        );
    }

    #[test]
    fn an_object_id_needs_a_kind_and_is_bounded() {
        check(&[("object_id", "2.0.0")], Err(&["object_id: an object id needs an object kind"]));
        let long = "x".repeat(MAX_OBJECT_ID_LEN + 1);
        check(&[("object_kind", "release"), ("object_id", &long)], Err(&["object_id: is longer than 256 characters"]));
        check(
            &[("object_kind", "release"), ("object_id", "a\0b")],
            Err(&["object_id: an object id never contains NUL"]),
        );
    }

    #[test]
    fn the_time_range_must_not_be_empty() {
        check(
            &[("from", "2026-03-02T00:00:00Z"), ("to", "2026-03-02T00:00:00Z")],
            Err(&["to: end must be after start"]),
        );
        check(&[("to", "99999-01-01T00:00:00Z")], Err(&["to: \"99999-01-01T00:00:00Z\" is not an RFC 3339 timestamp"]));
    }

    #[test]
    fn action_names_read_back_as_written() {
        for kind in ObjectKind::ALL {
            for verb in AuditAction::ALL {
                let written = format!("{kind}.{verb}");
                assert_eq!(ActionName::parse(&written).map(|name| name.to_string()), Ok(written));
            }
        }
    }

    #[test]
    fn a_page_limit_outside_its_range_is_refused() {
        assert_eq!(AuditPage::new(Some(9), 100).map(|page| (page.before(), page.limit())), Ok((Some(9), 100)));
        for limit in [0, MAX_SEARCH_LIMIT + 1] {
            let refused = AuditPage::new(None, limit).map_err(|violations| violations.to_string());
            assert_eq!(refused, Err("limit: must be from 1 to 100".to_owned()));
        }
    }
}
