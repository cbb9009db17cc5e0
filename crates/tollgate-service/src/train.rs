//! Release trains: kept with the calendar (authorized as `calendar.edit`), their departures,
//! and boarding: a release takes its planned window and scope-freeze time from the next
//! departure whose cut-off has not passed.

use jiff::tz::TimeZone;
use jiff::Span;
use tollgate_authz::Action;
use tollgate_calendar::{Period, PeriodKind, PeriodLength, Recurrence, RecurrenceError};
use tollgate_core::audit::{AuditAction, ObjectKind, ObjectRef};
use tollgate_core::name::TrainName;
use tollgate_core::release::{PlannedWindow, Release};
use tollgate_core::train::{Departure, ReleaseTrain, TrainInput};
use tollgate_core::{Entity, Problem, Timestamp, Violations};
use tollgate_store::StoreError;

use crate::audit::Change;
use crate::catalog::{not_found, parse_key};
use crate::release::{get_in, ReleaseRef};
use crate::{Principal, ServiceError, ServiceResult, Tollgate};

/// How far ahead boarding looks for a departure.
pub const BOARDING_LOOKAHEAD_DAYS: i64 = 400;

impl Tollgate {
    /// Creates or replaces the train `name`; it is compiled first, and a zone, rule, length or
    /// offset that means nothing is refused, naming the field.
    pub async fn put_train(&self, principal: &Principal, name: &str, input: TrainInput) -> ServiceResult<ReleaseTrain> {
        let name = parse_key(name, TrainName::parse)?;
        let train = input.parse(name)?;
        compile(&train)?;
        self.authorize_calendar(principal).await?;
        let mut tx = self.store.begin().await?;
        let before = tx.find_train(&train.name).await?;
        if before.as_ref() != Some(&train) {
            tx.put_train(&train, &principal.user.name, self.now()).await?;
            let action = if before.is_some() { AuditAction::Update } else { AuditAction::Create };
            let object = ObjectRef::new(ObjectKind::Train, &train.name);
            let change = Change { action, object, before: before.as_ref(), after: Some(&train), reason: None };
            self.record_for(&mut tx, principal, change).await?;
        }
        tx.commit().await?;
        Ok(train)
    }

    pub async fn delete_train(&self, principal: &Principal, name: &str) -> ServiceResult<ReleaseTrain> {
        let name = parse_key(name, TrainName::parse)?;
        self.authorize_calendar(principal).await?;
        let mut tx = self.store.begin().await?;
        let before = tx.find_train(&name).await?.ok_or_else(|| not_found(Entity::Train, &name))?;
        tx.delete_train(&name).await?;
        let object = ObjectRef::new(ObjectKind::Train, &name);
        let change = Change::<ReleaseTrain> {
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

    pub async fn list_trains(&self, principal: &Principal) -> ServiceResult<Vec<ReleaseTrain>> {
        self.authorize_read(principal).await?;
        Ok(self.store.read().await?.list_trains().await?)
    }

    /// The departures of every train (or one) whose release window overlaps `[from, to)`,
    /// by departure. At most [`crate::calendar::MAX_QUERY_SPAN_DAYS`] days.
    pub async fn train_departures(
        &self,
        principal: &Principal,
        train: Option<&str>,
        from: Timestamp,
        to: Timestamp,
    ) -> ServiceResult<Vec<Departure>> {
        let span = jiff::SignedDuration::from_hours(crate::calendar::MAX_QUERY_SPAN_DAYS * 24);
        if to <= from || to.duration_since(from) > span {
            let reason = format!("must be after from and at most {} days later", crate::calendar::MAX_QUERY_SPAN_DAYS);
            return Err(ServiceError::invalid("to", Problem::Invalid { reason }));
        }
        let train = train.map(|name| parse_key(name, TrainName::parse)).transpose()?;
        self.authorize_read(principal).await?;
        let mut read = self.store.read().await?;
        let trains = match train {
            Some(name) => vec![read.find_train(&name).await?.ok_or_else(|| not_found(Entity::Train, &name))?],
            None => read.list_trains().await?,
        };
        let mut departures = Vec::new();
        for train in &trains {
            departures.extend(departures_of(train, from, to)?);
        }
        departures.sort_by_key(|departure| (departure.departs, departure.train.clone()));
        Ok(departures)
    }

    /// Boards `release` (draft or planned) on the next departure of `train` whose cut-off is
    /// after now: its planned window becomes the departure's, its scope freezes at the
    /// departure's freeze time. Audited as an update of the release, the reason naming the
    /// departure.
    pub async fn board_train(
        &self,
        principal: &Principal,
        release: &ReleaseRef,
        train: &str,
    ) -> ServiceResult<(Release, Departure)> {
        let train = parse_key(train, TrainName::parse)
            .map_err(|_| ServiceError::invalid("train", Problem::InvalidName { value: train.to_owned() }))?;
        self.authorize_release(principal, Action::ReleaseEdit, release).await?;
        let mut tx = self.store.begin().await?;
        let before = get_in(&mut tx, release).await?;
        before.check_content_editable()?;
        let boarded = tx.find_train(&train).await?.ok_or_else(|| not_found(Entity::Train, &train))?;
        let now = self.now();
        let lookahead = now + jiff::SignedDuration::from_hours(BOARDING_LOOKAHEAD_DAYS * 24);
        let departure = departures_of(&boarded, now, lookahead)?
            .into_iter()
            .find(|departure| departure.cutoff_at > now)
            .ok_or_else(|| {
                let reason =
                    format!("has no departure whose cut-off is after {now} within {BOARDING_LOOKAHEAD_DAYS} days");
                ServiceError::invalid("train", Problem::Invalid { reason })
            })?;
        let mut content = before.content.clone();
        content.planned_window = Some(
            PlannedWindow::new(departure.departs, departure.window_end)
                .map_err(|problem| ServiceError::invalid("train", problem))?,
        );
        content.scope_freeze_at = Some(departure.freeze_at);
        tx.update_release_content(before.id, &content, before.revision, now).await?;
        let after = get_in(&mut tx, &ReleaseRef::Id(before.id)).await?;
        let reason = format!(
            "boarded train {} departing {} ({} {}); boarding closed at {}, scope freezes at {}",
            departure.train,
            departure.departs,
            departure.departs_local,
            departure.tzid,
            departure.cutoff_at,
            departure.freeze_at
        );
        let object = ObjectRef::new(ObjectKind::Release, before.id);
        let change = Change {
            action: AuditAction::Update,
            object,
            before: Some(&before),
            after: Some(&after),
            reason: Some(&reason),
        };
        self.record_for(&mut tx, principal, change).await?;
        tx.commit().await?;
        Ok((after, departure))
    }
}

/// The departures of `train` whose release window overlaps `[from, to)`.
fn departures_of(train: &ReleaseTrain, from: Timestamp, to: Timestamp) -> ServiceResult<Vec<Departure>> {
    let corrupt = |violations: Violations| {
        ServiceError::Corrupt(StoreError::Corrupt {
            entity: Entity::Train,
            key: train.name.to_string(),
            reason: violations.to_string(),
        })
    };
    let compiled = compile(train).map_err(corrupt)?;
    let zone = TimeZone::get(&train.tzid).map_err(|error| corrupt(violation("tzid", error)))?;
    let cutoff: Span = train.cutoff.parse().map_err(|error: jiff::Error| corrupt(violation("cutoff", error)))?;
    let freeze: Span = train.freeze.parse().map_err(|error: jiff::Error| corrupt(violation("freeze", error)))?;
    let mut departures = Vec::new();
    for occurrence in compiled.occurrences(from, to) {
        let departs = occurrence.start.to_zoned(zone.clone());
        let before =
            |offset: Span| departs.checked_sub(offset).map(|zoned| zoned.timestamp()).unwrap_or(occurrence.start);
        departures.push(Departure {
            train: train.name.clone(),
            departs: occurrence.start,
            window_end: occurrence.end,
            cutoff_at: before(cutoff),
            freeze_at: before(freeze),
            departs_local: occurrence.start_local,
            tzid: train.tzid.clone(),
        });
    }
    Ok(departures)
}

fn violation(field: &str, error: impl std::fmt::Display) -> Violations {
    let mut violations = Violations::new();
    violations.push(field, Problem::Invalid { reason: error.to_string() });
    violations
}

/// Compiles a train's cadence, naming the field of each problem; the scope may not freeze
/// before boarding closes.
fn compile(train: &ReleaseTrain) -> Result<Period, Violations> {
    let located = |error: RecurrenceError| {
        let field = match &error {
            RecurrenceError::UnknownTimeZone { .. } => "tzid",
            RecurrenceError::Start { .. } => "first_departure",
            RecurrenceError::Length { .. } => "length",
            _ => "rule",
        };
        violation(field, error)
    };
    let length: PeriodLength = train.length.parse().map_err(located)?;
    let recurrence =
        Recurrence::new(&train.tzid, train.first_departure, length, Some(&train.rule), Vec::new(), Vec::new())
            .map_err(located)?;
    let zone = TimeZone::get(&train.tzid).map_err(|error| violation("tzid", error))?;
    let first = train.first_departure.to_zoned(zone).map_err(|error| violation("first_departure", error))?;
    let cutoff: Span = train.cutoff.parse().map_err(|error: jiff::Error| violation("cutoff", error))?;
    let freeze: Span = train.freeze.parse().map_err(|error: jiff::Error| violation("freeze", error))?;
    let (Ok(cutoff_at), Ok(freeze_at)) = (first.checked_sub(cutoff), first.checked_sub(freeze)) else {
        return Err(violation("cutoff", "is out of range"));
    };
    if freeze_at < cutoff_at {
        return Err(violation(
            "freeze",
            format!(
                "{} comes before the cut-off {}: the scope cannot freeze before boarding closes",
                train.freeze, train.cutoff
            ),
        ));
    }
    Ok(Period { name: train.name.to_string(), kind: PeriodKind::Window, recurrence })
}
