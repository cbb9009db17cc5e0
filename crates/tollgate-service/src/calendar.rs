//! The release calendar: the periods release managers keep (windows, maintenance windows,
//! freezes, blackouts), their occurrences over an interval, `.ics` import and export, and the
//! window state of an environment at an instant.
//!
//! A period is compiled by `tollgate-calendar` before it is written, so a stored period always
//! expands; its errors name the field. Import is all or nothing and idempotent by UID.
//! Enforcement (a deployment refused outside a window or inside a freeze) reads the same state
//! through [`Tollgate::window_state`]; this module decides what the state is, not what to do.

use std::collections::BTreeMap;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};
use tollgate_authz::{Action, Context, Resource};
use tollgate_calendar::{
    parse_ics, write_ics, ExportEvent, IntervalIndex, Period, PeriodLength, Recurrence, RecurrenceError,
};
use tollgate_core::audit::{AuditAction, ObjectKind, ObjectRef};
use tollgate_core::calendar::{CalendarPeriod, Occurrence, PeriodInput, PeriodKind, PeriodScope};
use tollgate_core::change::policy::WindowClose;
use tollgate_core::change::{ChangeConflict, ChangeRequest, ConflictKind};
use tollgate_core::environment::Environment;
use tollgate_core::name::{EnvironmentName, PeriodId, ServiceName};
use tollgate_core::{Entity, Problem, Timestamp, Violations};
use tollgate_store::{Conn, StoreError};

use crate::audit::Change;
use crate::catalog::{not_found, parse_key};
use crate::{Principal, ServiceError, ServiceResult, Tollgate};

/// The longest interval one calendar query may span, so a query's work is bounded.
pub const MAX_QUERY_SPAN_DAYS: i64 = 3 * 366;

/// How far ahead the next opening or closing of a window is looked for.
pub const LOOKAHEAD_DAYS: i64 = 400;

/// What writing a period did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    Created,
    Updated,
    Unchanged,
}

/// Which occurrences to list: those overlapping `[from, to)`, of the periods that apply to an
/// environment and/or a service (all periods when neither is given).
#[derive(Debug, Clone, Default)]
pub struct CalendarQuery {
    pub from: String,
    pub to: String,
    pub environment: Option<String>,
    pub service: Option<String>,
}

/// What an `.ics` import did, event by event (period ids in file order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub created: Vec<PeriodId>,
    pub updated: Vec<PeriodId>,
    pub unchanged: Vec<PeriodId>,
}

/// Whether deployments into an environment may happen at an instant, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowState {
    pub environment: EnvironmentName,
    pub at: Timestamp,
    /// Open when no deny period is in force and, if the environment has allow windows, one of
    /// them is open.
    pub open: bool,
    /// The deny occurrences in force at `at` (freezes and blackouts).
    pub denied_by: Vec<Occurrence>,
    /// The allow occurrence open at `at`, if any.
    pub allowed_by: Option<Occurrence>,
    /// Whether any allow window applies to the environment at all; without one it is open at
    /// any time no deny period covers.
    pub has_windows: bool,
    /// When the state next changes (within [`LOOKAHEAD_DAYS`]): the next opening when closed,
    /// the next closing when open.
    pub next_change: Option<Timestamp>,
    /// What a deployment still running when the window closes does (the change policy's
    /// `on_window_close` for the environment).
    pub on_close: WindowClose,
}

impl WindowState {
    /// One sentence a person reads for each reason the environment is closed.
    pub fn reasons(&self) -> Vec<String> {
        let mut reasons: Vec<String> = self.denied_by.iter().map(describe_denial).collect();
        if self.has_windows && self.allowed_by.is_none() {
            let next = match self.next_change {
                Some(at) => format!("; the next opens at {at}"),
                None => String::new(),
            };
            reasons.push(format!("no deployment window of {} is open at {}{next}", self.environment, self.at));
        }
        reasons
    }
}

impl Tollgate {
    /// Creates or replaces the period `id`. The period is compiled first: a time zone, rule or
    /// duration that means nothing is refused, naming the field, and nothing is written.
    pub async fn put_calendar_period(
        &self,
        principal: &Principal,
        id: &str,
        input: PeriodInput,
    ) -> ServiceResult<(CalendarPeriod, PutOutcome)> {
        let id = parse_key(id, PeriodId::parse)?;
        let period = input.parse(id, None)?;
        compile(&period)?;
        self.authorize_calendar(principal).await?;
        let mut tx = self.store.begin().await?;
        let outcome = self.write_period(&mut tx, principal, &period).await?;
        tx.commit().await?;
        Ok((period, outcome))
    }

    /// Deletes the period `id`.
    pub async fn delete_calendar_period(&self, principal: &Principal, id: &str) -> ServiceResult<CalendarPeriod> {
        let id = parse_key(id, PeriodId::parse)?;
        self.authorize_calendar(principal).await?;
        let mut tx = self.store.begin().await?;
        let before = tx.find_calendar_period(&id).await?.ok_or_else(|| not_found(Entity::CalendarPeriod, &id))?;
        tx.delete_calendar_period(&id).await?;
        let object = ObjectRef::new(ObjectKind::CalendarPeriod, &id);
        let change = Change::<CalendarPeriod> {
            action: AuditAction::Remove,
            object,
            before: Some(&before),
            after: None,
            reason: None,
        };
        self.record_for(&mut tx, principal, change).await?;
        tx.commit().await?;
        Ok(before)
    }

    /// Every period, by id.
    pub async fn list_calendar_periods(&self, principal: &Principal) -> ServiceResult<Vec<CalendarPeriod>> {
        self.authorize_read(principal).await?;
        Ok(self.store.read().await?.list_calendar_periods().await?)
    }

    /// The occurrences overlapping `[from, to)` of the periods that apply, ordered by start.
    /// With an environment, the periods of that environment, its region and global ones; with
    /// a service, the periods of that service and global ones; with both, all of those.
    pub async fn calendar_occurrences(
        &self,
        principal: &Principal,
        query: CalendarQuery,
    ) -> ServiceResult<Vec<(Occurrence, String)>> {
        let mut violations = Violations::new();
        let from = violations.check("from", parse_instant(&query.from));
        let to = violations.check("to", parse_instant(&query.to));
        let environment =
            query.environment.as_deref().and_then(|name| violations.check("environment", EnvironmentName::parse(name)));
        let service = query.service.as_deref().and_then(|name| violations.check("service", ServiceName::parse(name)));
        if let (Some(from), Some(to)) = (from, to) {
            if to <= from {
                violations.push("to", Problem::EmptyRange);
            } else if to.duration_since(from).as_hours() > MAX_QUERY_SPAN_DAYS * 24 {
                violations.push(
                    "to",
                    Problem::Invalid { reason: format!("spans more than {MAX_QUERY_SPAN_DAYS} days after from") },
                );
            }
        }
        let (from, to) = match (from, to) {
            (Some(from), Some(to)) if violations.is_empty() => (from, to),
            _ => return Err(violations.into()),
        };
        self.authorize_read(principal).await?;
        let selected = self.selected_periods(environment, service).await?;
        let mut occurrences = Vec::new();
        for stored in &selected {
            let period = compiled(stored)?;
            for expanded in period.expand(from, to) {
                let note = match (&expanded.start_adjustment, &expanded.end_adjustment) {
                    (Some(start), _) => format!("start: {start}"),
                    (None, Some(end)) => format!("end: {end}"),
                    (None, None) => String::new(),
                };
                occurrences.push((expanded.occurrence, note));
            }
        }
        occurrences.sort_by(|a, b| (a.0.start, a.0.end, &a.0.name).cmp(&(b.0.start, b.0.end, &b.0.name)));
        Ok(occurrences)
    }

    /// Imports the VEVENTs of an `.ics` file as periods of `kind` (when given; otherwise the
    /// kind its CATEGORIES name, else blackout), applying to `scope` (default global). Each
    /// event's SUMMARY becomes the period's name; its id is `ics-` and 16 hex digits of the
    /// SHA-256 of its UID, so importing the same file again changes nothing. All or nothing.
    pub async fn import_calendar(
        &self,
        principal: &Principal,
        text: &str,
        kind: Option<&str>,
        scope: Option<&str>,
    ) -> ServiceResult<ImportReport> {
        let mut violations = Violations::new();
        let kind = kind.and_then(|kind| violations.check("kind", kind.parse::<PeriodKind>()));
        let scope = violations.check("scope", PeriodScope::parse(scope.unwrap_or("global")));
        let events = match parse_ics(text) {
            // An empty file is no calendar (and importing nothing from it would look like success).
            _ if text.trim().is_empty() => {
                let reason = "is empty: an RFC 5545 calendar (BEGIN:VCALENDAR ... END:VCALENDAR) is expected";
                violations.push("file", Problem::Invalid { reason: reason.to_owned() });
                None
            }
            Ok(events) => Some(events),
            Err(error) => {
                violations.push("file", Problem::Invalid { reason: error.to_string() });
                None
            }
        };
        let (scope, events) = match (scope, events) {
            (Some(scope), Some(events)) if violations.is_empty() => (scope, events),
            _ => return Err(violations.into()),
        };
        let periods: Vec<CalendarPeriod> = events
            .into_iter()
            .map(|event| {
                let recurrence = &event.recurrence;
                let name = if event.summary.trim().is_empty() { event.uid.clone() } else { event.summary.clone() };
                CalendarPeriod {
                    id: imported_id(&event.uid),
                    name: name.chars().take(tollgate_core::calendar::MAX_PERIOD_NAME_LEN).collect(),
                    kind: kind.or(event.kind).unwrap_or(PeriodKind::Blackout),
                    scope: scope.clone(),
                    tzid: recurrence.tzid().to_owned(),
                    start: recurrence.dtstart(),
                    length: recurrence.length().to_string(),
                    rule: recurrence.rule().map(str::to_owned),
                    exdates: recurrence.exdates().to_vec(),
                    rdates: recurrence.rdates().to_vec(),
                    uid: Some(event.uid),
                }
            })
            .collect();
        self.authorize_calendar(principal).await?;
        let mut report = ImportReport::default();
        let mut tx = self.store.begin().await?;
        for period in &periods {
            match self.write_period(&mut tx, principal, period).await? {
                PutOutcome::Created => report.created.push(period.id.clone()),
                PutOutcome::Updated => report.updated.push(period.id.clone()),
                PutOutcome::Unchanged => report.unchanged.push(period.id.clone()),
            }
        }
        tx.commit().await?;
        Ok(report)
    }

    /// The periods that apply to an environment and/or a service (all, when neither is given)
    /// as an `.ics` calendar.
    pub async fn export_calendar(
        &self,
        principal: &Principal,
        environment: Option<&str>,
        service: Option<&str>,
    ) -> ServiceResult<String> {
        let environment = environment.map(|name| parse_key(name, EnvironmentName::parse)).transpose()?;
        let service = service.map(|name| parse_key(name, ServiceName::parse)).transpose()?;
        self.authorize_read(principal).await?;
        let selected = self.selected_periods(environment, service).await?;
        let periods = selected.iter().map(compiled).collect::<ServiceResult<Vec<Period>>>()?;
        let uids: Vec<String> =
            selected.iter().map(|p| p.uid.clone().unwrap_or_else(|| format!("{}@tollgate", p.id))).collect();
        let dtstamp = self.now();
        let events: Vec<ExportEvent<'_>> =
            periods.iter().zip(&uids).map(|(period, uid)| ExportEvent { uid, dtstamp, period }).collect();
        Ok(write_ics(&events))
    }

    /// Whether deployments of `services` into `environment` may happen at `at` (now when not
    /// given), and when that next changes.
    pub async fn window_state(
        &self,
        principal: &Principal,
        environment: &str,
        services: &[ServiceName],
        at: Option<Timestamp>,
    ) -> ServiceResult<WindowState> {
        let environment = parse_key(environment, EnvironmentName::parse)?;
        self.authorize_read(principal).await?;
        let mut read = self.store.read().await?;
        let target =
            read.find_environment(&environment).await?.ok_or_else(|| not_found(Entity::Environment, &environment))?;
        self.window_state_in(&mut read, &target, services, at.unwrap_or_else(|| self.now())).await
    }

    /// The periods a query for an environment and/or a service selects (all when neither is
    /// given); a named environment or service must exist.
    async fn selected_periods(
        &self,
        environment: Option<EnvironmentName>,
        service: Option<ServiceName>,
    ) -> ServiceResult<Vec<CalendarPeriod>> {
        let mut read = self.store.read().await?;
        let environment = match environment {
            Some(name) => {
                Some(read.find_environment(&name).await?.ok_or_else(|| not_found(Entity::Environment, &name))?)
            }
            None => None,
        };
        if let Some(service) = &service {
            read.find_service(service).await?.ok_or_else(|| not_found(Entity::Service, service))?;
        }
        let mut periods = read.list_calendar_periods().await?;
        periods.retain(|period| in_query(&period.scope, environment.as_ref(), service.as_ref()));
        Ok(periods)
    }

    pub(crate) async fn authorize_calendar(&self, principal: &Principal) -> ServiceResult<()> {
        self.authorize(principal, Action::CalendarEdit, Resource::System, Context::default()).await.map(drop)
    }

    /// Inserts or replaces `period` with its audit entry; writes nothing when it is unchanged.
    async fn write_period(
        &self,
        tx: &mut tollgate_store::StoreTx,
        principal: &Principal,
        period: &CalendarPeriod,
    ) -> ServiceResult<PutOutcome> {
        let before = tx.find_calendar_period(&period.id).await?;
        let (action, outcome) = match &before {
            Some(before) if before == period => return Ok(PutOutcome::Unchanged),
            Some(_) => {
                tx.update_calendar_period(period, &principal.user.name, self.now()).await?;
                (AuditAction::Update, PutOutcome::Updated)
            }
            None => {
                tx.insert_calendar_period(period, &principal.user.name, self.now()).await?;
                (AuditAction::Create, PutOutcome::Created)
            }
        };
        let object = ObjectRef::new(ObjectKind::CalendarPeriod, &period.id);
        let change = Change { action, object, before: before.as_ref(), after: Some(period), reason: None };
        self.record_for(tx, principal, change).await?;
        Ok(outcome)
    }
}

/// The calendar's periods compiled for one revision of the calendar. Compiling a period
/// (parsing its rule, resolving its zone) costs far more than expanding it over a change's
/// interval, so a server compiles each revision once and every check reads it from here.
#[derive(Debug)]
pub(crate) struct CompiledCalendar {
    revision: i64,
    /// Each stored period with its compiled form, or why it does not compile (a corrupt row,
    /// reported only when a check needs the period).
    periods: Vec<(CalendarPeriod, Result<Period, String>)>,
    /// The interval the occurrence index covers: from [`INDEX_DAYS_BEFORE`] days before the
    /// revision was compiled to [`INDEX_DAYS_AFTER`] days after.
    horizon: (Timestamp, Timestamp),
    /// Every occurrence of every compiled period over `horizon`, by interval, with the
    /// position of its period; built on the first conflict check of the revision.
    index: std::sync::OnceLock<IntervalIndex<usize>>,
}

/// How far back the occurrence index of a revision reaches (a change may have begun up to 31
/// days before it is checked).
const INDEX_DAYS_BEFORE: i64 = 40;
/// How far ahead it reaches; a change planned later is checked by expanding each period.
const INDEX_DAYS_AFTER: i64 = 2 * 366;

impl CompiledCalendar {
    fn new(revision: i64, stored: Vec<CalendarPeriod>, now: Timestamp) -> CompiledCalendar {
        let periods = stored
            .into_iter()
            .map(|period| {
                let compiled = compile(&period).map_err(|violations| violations.to_string());
                (period, compiled)
            })
            .collect();
        let horizon = (
            now - jiff::SignedDuration::from_hours(INDEX_DAYS_BEFORE * 24),
            now + jiff::SignedDuration::from_hours(INDEX_DAYS_AFTER * 24),
        );
        CompiledCalendar { revision, periods, horizon, index: std::sync::OnceLock::new() }
    }

    /// The occurrence index, built on first use (CPU work: call it off the async runtime).
    fn index(&self) -> &IntervalIndex<usize> {
        self.index.get_or_init(|| {
            let (from, to) = self.horizon;
            let entries = self
                .periods
                .iter()
                .enumerate()
                .filter_map(|(position, (_, compiled))| compiled.as_ref().ok().map(|period| (position, period)))
                .flat_map(|(position, period)| {
                    period.recurrence.instances(from, to).map(move |instance| (instance.start, instance.end, position))
                })
                .collect();
            IntervalIndex::new(entries)
        })
    }

    /// Whether `[from, to)` lies within the horizon of the occurrence index.
    fn covers(&self, from: Timestamp, to: Timestamp) -> bool {
        self.horizon.0 <= from && to <= self.horizon.1
    }

    /// The compiled periods that apply to `environment` and `services`, with their positions.
    fn applying(
        &self,
        environment: &Environment,
        services: &[ServiceName],
    ) -> ServiceResult<Vec<(usize, &CalendarPeriod, &Period)>> {
        self.periods
            .iter()
            .enumerate()
            .filter(|(_, (stored, _))| stored.scope.applies_to(environment, services))
            .map(|(position, (stored, compiled))| match compiled {
                Ok(period) => Ok((position, stored, period)),
                Err(reason) => Err(ServiceError::Corrupt(StoreError::Corrupt {
                    entity: Entity::CalendarPeriod,
                    key: stored.id.to_string(),
                    reason: reason.clone(),
                })),
            })
            .collect()
    }
}

/// The newest compiled calendar this server has read.
#[derive(Debug, Default)]
pub(crate) struct CalendarCache(std::sync::Mutex<Option<Arc<CompiledCalendar>>>);

impl CalendarCache {
    fn get(&self, revision: i64) -> Option<Arc<CompiledCalendar>> {
        let cached = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        cached.as_ref().filter(|calendar| calendar.revision == revision).cloned()
    }

    /// Keeps `calendar` unless a newer revision is kept already (a transaction that began
    /// earlier reads an older one).
    fn put(&self, calendar: Arc<CompiledCalendar>) {
        let mut cached = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if cached.as_ref().is_none_or(|kept| kept.revision < calendar.revision) {
            *cached = Some(calendar);
        }
    }
}

impl Tollgate {
    /// The calendar as `conn` sees it, compiled: the revision is read on `conn` first, so the
    /// periods used are never older than the snapshot (or transaction) that acts on them.
    pub(crate) async fn calendar_in(&self, conn: &mut Conn) -> ServiceResult<Arc<CompiledCalendar>> {
        let revision = conn.calendar_revision().await?;
        if let Some(calendar) = self.calendar_cache.get(revision) {
            return Ok(calendar);
        }
        let calendar = Arc::new(CompiledCalendar::new(revision, conn.list_calendar_periods().await?, self.now()));
        self.calendar_cache.put(Arc::clone(&calendar));
        Ok(calendar)
    }

    /// The window state of `environment` for `services` at `at`, read on `conn` (a read
    /// snapshot or the transaction that acts on it).
    pub(crate) async fn window_state_in(
        &self,
        conn: &mut Conn,
        environment: &Environment,
        services: &[ServiceName],
        at: Timestamp,
    ) -> ServiceResult<WindowState> {
        let calendar = self.calendar_in(conn).await?;
        let applying: Vec<&Period> =
            calendar.applying(environment, services)?.into_iter().map(|(_, _, period)| period).collect();
        let on_close = conn.find_change_policy().await?.unwrap_or_default().on_window_close(&environment.name);
        Ok(decide_window(environment.name.clone(), &applying, at, on_close))
    }

    /// The calendar conflicts of `change`'s planned interval with its rollback time after it,
    /// for an environment and the release's services: every freeze or blackout overlapping it,
    /// and, when the environment has deployment windows, no window holding the planned
    /// interval or the one holding it closing before the rollback time is over.
    pub(crate) async fn calendar_conflicts_in(
        &self,
        conn: &mut Conn,
        environment: &Environment,
        services: &[ServiceName],
        change: &ChangeRequest,
    ) -> ServiceResult<Vec<ChangeConflict>> {
        let calendar = self.calendar_in(conn).await?;
        let (start, deadline) = (change.content.planned.start(), change.content.rollback_deadline());
        if calendar.covers(start, deadline) && calendar.index.get().is_none() {
            let building = Arc::clone(&calendar);
            tokio::task::spawn_blocking(move || {
                building.index();
            })
            .await
            .map_err(|error| ServiceError::Unavailable(StoreError::Unavailable(Box::new(error))))?;
        }
        Ok(calendar_conflicts(&calendar, &calendar.applying(environment, services)?, environment, change))
    }
}

/// The calendar conflicts of `change` among the `applying` periods of `calendar`: from its
/// occurrence index when the interval lies within the index's horizon, by expanding each
/// period otherwise; the same conflicts either way, ordered by period, then start.
fn calendar_conflicts(
    calendar: &CompiledCalendar,
    applying: &[(usize, &CalendarPeriod, &Period)],
    environment: &Environment,
    change: &ChangeRequest,
) -> Vec<ChangeConflict> {
    let planned = change.content.planned;
    let (start, end, deadline) = (planned.start(), planned.end(), change.content.rollback_deadline());
    let mut conflicts = Vec::new();
    let has_windows = applying.iter().any(|(_, _, period)| !period.kind.is_deny());
    let mut holding: Option<Occurrence> = None;
    let overlapping: Vec<(usize, &CalendarPeriod, &Period, Occurrence)> = match calendar.index.get() {
        Some(index) if calendar.covers(start, deadline) => {
            let by_position: BTreeMap<usize, (&CalendarPeriod, &Period)> =
                applying.iter().map(|(position, stored, period)| (*position, (*stored, *period))).collect();
            let mut found: Vec<(usize, &CalendarPeriod, &Period, Occurrence)> = index
                .overlapping(start, deadline)
                .filter_map(|(from, to, position)| {
                    by_position.get(position).map(|&(s, p)| (*position, s, p, *from, *to))
                })
                .flat_map(|(position, stored, period, from, to)| {
                    period
                        .occurrences(from, to)
                        .into_iter()
                        .filter(move |occurrence| occurrence.start == from && occurrence.end == to)
                        .map(move |occurrence| (position, stored, period, occurrence))
                })
                .collect();
            found.sort_by_key(|(position, _, _, occurrence)| (*position, occurrence.start, occurrence.end));
            found
        }
        _ => applying
            .iter()
            .flat_map(|&(position, stored, period)| {
                period
                    .occurrences(start, deadline)
                    .into_iter()
                    .map(move |occurrence| (position, stored, period, occurrence))
            })
            .collect(),
    };
    for (_, stored, period, occurrence) in overlapping {
        if period.kind.is_deny() {
            conflicts.push(ChangeConflict {
                kind: ConflictKind::DenyPeriod,
                with: stored.id.to_string(),
                explanation: format!(
                    "{}, overlapping the planned interval and its rollback time (until {deadline})",
                    describe_denial(&occurrence)
                ),
            });
        } else if occurrence.start <= start
            && end <= occurrence.end
            && holding.as_ref().is_none_or(|held| occurrence.end > held.end)
        {
            holding = Some(occurrence);
        }
    }
    if has_windows {
        match holding {
            None => conflicts.push(ChangeConflict {
                kind: ConflictKind::OutsideWindow,
                with: environment.name.to_string(),
                explanation: format!("no deployment window of {} holds the planned interval {start} to {end}", environment.name),
            }),
            Some(window) if window.end < deadline => conflicts.push(ChangeConflict {
                kind: ConflictKind::RollbackOutsideWindow,
                with: window.name.clone(),
                explanation: format!(
                    "window {:?} closes at {} {} ({} UTC), before the rollback time of {} minutes after the planned end is over ({deadline})",
                    window.name, window.end_local, window.tzid, window.end, change.content.rollback_minutes
                ),
            }),
            Some(_) => {}
        }
    }
    conflicts
}

/// The state at `at` from the periods that apply, and when it next changes.
fn decide_window(
    environment: EnvironmentName,
    periods: &[&Period],
    at: Timestamp,
    on_close: WindowClose,
) -> WindowState {
    let just_after = at + jiff::SignedDuration::from_nanos(1);
    let lookahead = at + jiff::SignedDuration::from_hours(LOOKAHEAD_DAYS * 24);
    let has_windows = periods.iter().any(|p| !p.kind.is_deny());
    let mut denied_by = Vec::new();
    let mut allowed_by: Option<Occurrence> = None;
    // Every boundary within the lookahead, to find the next change of state.
    let mut boundaries: Vec<Timestamp> = Vec::new();
    for period in periods {
        for occurrence in period.occurrences(at, lookahead) {
            if occurrence.overlaps(at, just_after) {
                if period.kind.is_deny() {
                    denied_by.push(occurrence.clone());
                } else if allowed_by.as_ref().is_none_or(|open| occurrence.end > open.end) {
                    allowed_by = Some(occurrence.clone());
                }
            }
            boundaries.extend([occurrence.start, occurrence.end].into_iter().filter(|b| *b > at));
        }
    }
    boundaries.sort();
    boundaries.dedup();
    let open_at = |instant: Timestamp| -> bool {
        let after = instant + jiff::SignedDuration::from_nanos(1);
        let mut allowed = !has_windows;
        for period in periods {
            for occurrence in period.occurrences(instant, after) {
                if period.kind.is_deny() {
                    return false;
                }
                allowed |= occurrence.overlaps(instant, after);
            }
        }
        allowed
    };
    let open = denied_by.is_empty() && (!has_windows || allowed_by.is_some());
    let next_change = boundaries.into_iter().find(|boundary| open_at(*boundary) != open);
    WindowState { environment, at, open, denied_by, allowed_by, has_windows, next_change, on_close }
}

fn describe_denial(occurrence: &Occurrence) -> String {
    let rule = if occurrence.rule.is_empty() { String::new() } else { format!(" (RRULE {})", occurrence.rule) };
    format!(
        "{} {:?}{rule} is in force from {} to {} {} ({} to {} UTC)",
        occurrence.kind,
        occurrence.name,
        occurrence.start_local,
        occurrence.end_local,
        occurrence.tzid,
        occurrence.start,
        occurrence.end
    )
}

/// Whether a period of `scope` belongs to a query for `environment` and/or `service`.
fn in_query(scope: &PeriodScope, environment: Option<&Environment>, service: Option<&ServiceName>) -> bool {
    if environment.is_none() && service.is_none() {
        return true;
    }
    match scope {
        PeriodScope::Global => true,
        PeriodScope::Environment(name) => environment.is_some_and(|e| e.name == *name),
        PeriodScope::Region(region) => environment.is_some_and(|e| e.region.as_ref() == Some(region)),
        PeriodScope::Service(name) => service == Some(name),
    }
}

/// Compiles a period as typed, naming the field of each problem.
fn compile(period: &CalendarPeriod) -> Result<Period, Violations> {
    let located = |error: RecurrenceError| {
        let field = match &error {
            RecurrenceError::UnknownTimeZone { .. } => "tzid",
            RecurrenceError::Start { .. } => "start",
            RecurrenceError::Length { .. } => "length",
            RecurrenceError::Rule { .. } => "rule",
            RecurrenceError::Exdate { .. } => "exdates",
            RecurrenceError::Rdate { .. } => "rdates",
            RecurrenceError::TooManyDates { field, .. } => field,
        };
        let mut violations = Violations::new();
        violations.push(field, Problem::Invalid { reason: error.to_string() });
        violations
    };
    let length: PeriodLength = period.length.parse().map_err(located)?;
    let recurrence = Recurrence::new(
        &period.tzid,
        period.start,
        length,
        period.rule.as_deref(),
        period.exdates.clone(),
        period.rdates.clone(),
    )
    .map_err(located)?;
    Ok(Period { name: period.name.clone(), kind: period.kind, recurrence })
}

/// Compiles a stored period; one that no longer compiles (a time zone removed from the system
/// database) is reported as corrupt rather than skipped, since skipping a freeze would open it.
fn compiled(period: &CalendarPeriod) -> ServiceResult<Period> {
    compile(period).map_err(|violations| {
        ServiceError::Corrupt(StoreError::Corrupt {
            entity: Entity::CalendarPeriod,
            key: period.id.to_string(),
            reason: violations.to_string(),
        })
    })
}

fn parse_instant(value: &str) -> Result<Timestamp, Problem> {
    value.trim().parse::<Timestamp>().map_err(|_| Problem::InvalidTimestamp { value: value.to_owned() })
}

/// `ics-` and the first 16 hex digits of the SHA-256 of an `.ics` UID.
fn imported_id(uid: &str) -> PeriodId {
    let digest = hex::encode(Sha256::digest(uid.as_bytes()));
    PeriodId::parse(&format!("ics-{}", &digest[..16])).expect("ics- and hex digits make a valid id")
}

#[cfg(test)]
mod tests {
    use tollgate_core::change::{ChangeContent, ChangeId, ChangeState, ChangeType};
    use tollgate_core::digest::Sha256Digest;
    use tollgate_core::name::UserName;
    use tollgate_core::release::{PlannedWindow, ReleaseId};

    use super::*;

    fn period(id: &str, kind: &str, tzid: &str, start: &str, length: &str, rule: Option<&str>) -> CalendarPeriod {
        let input = PeriodInput {
            name: id.to_owned(),
            kind: kind.to_owned(),
            scope: Some("environment:prod".to_owned()),
            tzid: tzid.to_owned(),
            start: start.to_owned(),
            length: length.to_owned(),
            rule: rule.map(str::to_owned),
            exdates: vec![],
            rdates: vec![],
        };
        input.parse(PeriodId::parse(id).expect("an id"), None).expect("a valid period")
    }

    fn change(start: Timestamp, minutes: i64, rollback_minutes: u32) -> ChangeRequest {
        let end = start + jiff::SignedDuration::from_mins(minutes);
        ChangeRequest {
            id: ChangeId(1),
            release: ReleaseId(1),
            content: ChangeContent {
                environment: EnvironmentName::parse("prod").expect("a name"),
                change_type: ChangeType::Normal,
                template: None,
                justification: "j".to_owned(),
                implementation_plan: String::new(),
                rollback_plan: "r".to_owned(),
                rollback_minutes,
                tickets: vec![],
                links: vec![],
                planned: PlannedWindow::new(start, end).expect("a window"),
            },
            state: ChangeState::Submitted,
            manifest_digest: Sha256Digest::of(b"m"),
            impacted_services: vec![],
            risk: None,
            route: None,
            requested_by: UserName::parse("ana").expect("a name"),
            created_at: start,
            updated_at: start,
            deployment: None,
            review_due_at: None,
            review: None,
            revision: 1,
        }
    }

    /// The index answers exactly what expanding every period answers, across the spring and
    /// autumn changes of three zones and for intervals that begin inside occurrences.
    #[test]
    fn the_occurrence_index_finds_the_same_conflicts_as_expanding_each_period() {
        let stored = vec![
            period(
                "weekdays",
                "window",
                "Europe/Berlin",
                "2026-03-02T10:00",
                "PT6H",
                Some("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH"),
            ),
            period("nights", "window", "America/New_York", "2026-01-01T01:30", "PT3H", Some("FREQ=DAILY")),
            period("sydney", "window", "Australia/Sydney", "2026-01-05T09:00", "P1D", Some("FREQ=WEEKLY;BYDAY=MO")),
            period("close", "freeze", "America/New_York", "2026-03-30", "P3D", None),
            period(
                "monthly",
                "blackout",
                "Europe/Berlin",
                "2026-01-31T22:00",
                "PT4H",
                Some("FREQ=MONTHLY;BYMONTHDAY=-1"),
            ),
        ];
        let now: Timestamp = "2026-03-01T00:00:00Z".parse().expect("a time");
        let expanded = CompiledCalendar::new(1, stored.clone(), now);
        let indexed = CompiledCalendar::new(1, stored, now);
        indexed.index();
        let prod = Environment {
            name: EnvironmentName::parse("prod").expect("a name"),
            tier: tollgate_core::environment::Tier::Prod,
            region: None,
        };
        let applying_expanded = expanded.applying(&prod, &[]).expect("compiled");
        let applying_indexed = indexed.applying(&prod, &[]).expect("compiled");
        let mut n_conflicts = 0;
        for step in 0..600_i64 {
            // Every 7 hours 13 minutes from the start of March to mid-November.
            let start = now + jiff::SignedDuration::from_mins(step * 433);
            let change = change(start, 30 + (step % 5) * 45, u32::try_from(step % 4 * 30).expect("small"));
            assert!(indexed.covers(start, change.content.rollback_deadline()));
            let direct = calendar_conflicts(&expanded, &applying_expanded, &prod, &change);
            let from_index = calendar_conflicts(&indexed, &applying_indexed, &prod, &change);
            assert_eq!(direct, from_index, "a change at {start}");
            n_conflicts += direct.len();
        }
        assert!(n_conflicts > 100, "the changes meet conflicts of every kind: {n_conflicts}");
    }
}
