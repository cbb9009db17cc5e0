//! Leases: the lock a deployer holds on an environment's services while it deploys.
//!
//! One deployment per environment and service at a time. A tool that deploys by itself (a CI
//! job, Argo CD) asks Tollgate first; when every precondition holds it acquires a lease, which
//! records its deployment as running and locks the release's services in the environment. The
//! holder renews the lease before it expires and reports the outcome, which releases it. A
//! lease that is not renewed expires, and a later deployment may take the services over.
//!
//! Every lease carries an epoch: a number that grows, per environment, with every lease granted
//! there. It is a fencing token: a renewal or report must present it, and a system downstream
//! that remembers the highest epoch it saw can refuse a holder that woke up late.
//!
//! This module decides; it does not store, and it never reads the clock.

use std::fmt;

use jiff::SignedDuration;
use serde::Serialize;

use crate::deployment::DeploymentId;
use crate::name::{EnvironmentName, ServiceName, UserName};
use crate::violation::Problem;
use crate::Timestamp;

/// How long a lease lasts from its acquisition or last renewal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct LeaseTtl(u32);

impl LeaseTtl {
    /// Shorter leases would need renewals more often than a CI job can promise.
    pub const MIN_SECONDS: u32 = 10;
    /// A lease is a lock, not a reservation: a day is the longest a deployer may hold one
    /// without renewing.
    pub const MAX_SECONDS: u32 = 86_400;
    /// Fifteen minutes, when the deployer does not say.
    pub const DEFAULT: LeaseTtl = LeaseTtl(900);
    /// A day: the lease Tollgate's own engine holds while it deploys, renewed as the run goes
    /// on (the run's short claims are what survive a crash).
    pub const ENGINE: LeaseTtl = LeaseTtl(Self::MAX_SECONDS);

    /// A duration in seconds, within [`LeaseTtl::MIN_SECONDS`]..=[`LeaseTtl::MAX_SECONDS`].
    pub fn from_seconds(seconds: i64) -> Result<LeaseTtl, Problem> {
        let range = i64::from(Self::MIN_SECONDS)..=i64::from(Self::MAX_SECONDS);
        if !range.contains(&seconds) {
            return Err(Problem::Invalid {
                reason: format!("{seconds} seconds is outside {}..={} seconds", Self::MIN_SECONDS, Self::MAX_SECONDS),
            });
        }
        Ok(LeaseTtl(u32::try_from(seconds).expect("checked to lie in the range above")))
    }

    pub fn seconds(self) -> u32 {
        self.0
    }

    pub fn duration(self) -> SignedDuration {
        SignedDuration::from_secs(i64::from(self.0))
    }
}

impl fmt::Display for LeaseTtl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}s", self.0)
    }
}

/// A lease on an environment's services, held for one deployment. Stored, and written into the
/// audit log when acquired, renewed and released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lease {
    /// The deployment the lease was acquired for; it identifies the lease.
    pub deployment: DeploymentId,
    pub environment: EnvironmentName,
    /// The services it locks in the environment: those of the release, sorted.
    pub services: Vec<ServiceName>,
    /// Who acquired it.
    pub holder: UserName,
    /// The fencing token: greater than the epoch of every lease granted before it in the environment.
    pub epoch: u64,
    pub ttl: LeaseTtl,
    pub acquired_at: Timestamp,
    /// When it expires unless renewed before.
    pub expires_at: Timestamp,
    /// When its outcome was reported, an operator finished its deployment, or a later
    /// deployment took over after it expired.
    pub released_at: Option<Timestamp>,
}

/// Where a lease stands at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaseState {
    /// It locks its services.
    Held,
    /// It was not renewed in time; a later deployment may take its services over.
    Expired,
    /// It ended.
    Released,
}

crate::keyword_enum!(LeaseState { Held => "held", Expired => "expired", Released => "released" });

/// Why a holder may no longer act under a lease: it must stop deploying.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeaseError {
    #[error("the lease of deployment {deployment} expired at {expired_at}; stop deploying, the environment may have been taken over")]
    Expired { deployment: DeploymentId, expired_at: Timestamp },
    #[error("the lease of deployment {deployment} was released at {released_at}")]
    Released { deployment: DeploymentId, released_at: Timestamp },
    #[error("epoch {presented} is not the epoch of the lease of deployment {deployment} ({current})")]
    WrongEpoch { deployment: DeploymentId, presented: u64, current: u64 },
}

impl Lease {
    /// Where the lease stands at `at`: a lease is held until the instant it expires, exclusive.
    pub fn state(&self, at: Timestamp) -> LeaseState {
        match self.released_at {
            Some(_) => LeaseState::Released,
            None if at >= self.expires_at => LeaseState::Expired,
            None => LeaseState::Held,
        }
    }

    /// Checks that whoever presents `epoch` at `at` still holds this lease.
    pub fn check_holder(&self, epoch: u64, at: Timestamp) -> Result<(), LeaseError> {
        if epoch != self.epoch {
            return Err(LeaseError::WrongEpoch { deployment: self.deployment, presented: epoch, current: self.epoch });
        }
        match (self.state(at), self.released_at) {
            (LeaseState::Held, _) => Ok(()),
            (LeaseState::Released, Some(released_at)) => {
                Err(LeaseError::Released { deployment: self.deployment, released_at })
            }
            _ => Err(LeaseError::Expired { deployment: self.deployment, expired_at: self.expires_at }),
        }
    }

    /// The lease renewed at `at` by the holder of `epoch`, for `ttl` from now (or its own ttl).
    pub fn renewed(&self, epoch: u64, ttl: Option<LeaseTtl>, at: Timestamp) -> Result<Lease, LeaseError> {
        self.check_holder(epoch, at)?;
        let ttl = ttl.unwrap_or(self.ttl);
        Ok(Lease { ttl, expires_at: expiry(at, ttl), ..self.clone() })
    }

    /// The lease released at `at`.
    pub fn released(&self, at: Timestamp) -> Lease {
        Lease { released_at: Some(self.released_at.unwrap_or(at)), ..self.clone() }
    }
}

/// When a lease granted or renewed at `at` for `ttl` expires.
pub fn expiry(at: Timestamp, ttl: LeaseTtl) -> Timestamp {
    at.checked_add(ttl.duration()).expect("a day after a stored timestamp is representable")
}

/// A service of an environment that a lease held by another deployment locks at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockConflict {
    pub service: ServiceName,
    pub lease: Lease,
}

impl fmt::Display for LockConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lease = &self.lease;
        write!(
            f,
            "{} in {} is locked by deployment {} of {} (epoch {}) until {}",
            self.service, lease.environment, lease.deployment, lease.holder, lease.epoch, lease.expires_at
        )
    }
}

/// Sorts the locks on `services` into those that refuse a new deployment (held at `at`) and the
/// leases a new lease takes over (expired, not released).
pub fn judge_locks(locks: Vec<(ServiceName, Lease)>, at: Timestamp) -> (Vec<LockConflict>, Vec<Lease>) {
    let mut conflicts = Vec::new();
    let mut expired: Vec<Lease> = Vec::new();
    for (service, lease) in locks {
        match lease.state(at) {
            LeaseState::Held => conflicts.push(LockConflict { service, lease }),
            LeaseState::Expired if !expired.iter().any(|seen| seen.deployment == lease.deployment) => {
                expired.push(lease)
            }
            LeaseState::Expired | LeaseState::Released => {}
        }
    }
    (conflicts, expired)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(value: &str) -> Timestamp {
        value.parse().expect("a timestamp")
    }

    fn lease() -> Lease {
        Lease {
            deployment: DeploymentId(12),
            environment: EnvironmentName::parse("prod").expect("name"),
            services: vec![ServiceName::parse("ledger").expect("name")],
            holder: UserName::parse("ci").expect("name"),
            epoch: 7,
            ttl: LeaseTtl::from_seconds(60).expect("ttl"),
            acquired_at: at("2026-03-01T12:00:00Z"),
            expires_at: at("2026-03-01T12:01:00Z"),
            released_at: None,
        }
    }

    #[test]
    fn a_lease_is_held_until_the_instant_it_expires() {
        let lease = lease();
        assert_eq!(lease.state(at("2026-03-01T12:00:59Z")), LeaseState::Held);
        assert_eq!(lease.state(at("2026-03-01T12:01:00Z")), LeaseState::Expired);
        assert_eq!(lease.released(at("2026-03-01T12:00:30Z")).state(at("2026-03-01T12:00:31Z")), LeaseState::Released);
    }

    #[test]
    fn renewal_extends_from_now_and_needs_the_epoch_and_a_live_lease() {
        let lease = lease();
        let renewed = lease.renewed(7, None, at("2026-03-01T12:00:50Z")).expect("held");
        assert_eq!(renewed.expires_at, at("2026-03-01T12:01:50Z"));
        assert_eq!(renewed.epoch, 7);
        let longer = lease.renewed(7, LeaseTtl::from_seconds(600).ok(), at("2026-03-01T12:00:50Z")).expect("held");
        assert_eq!(longer.expires_at, at("2026-03-01T12:10:50Z"));
        assert_eq!(
            lease.renewed(6, None, at("2026-03-01T12:00:50Z")),
            Err(LeaseError::WrongEpoch { deployment: DeploymentId(12), presented: 6, current: 7 })
        );
        assert_eq!(
            lease.renewed(7, None, at("2026-03-01T12:01:00Z")),
            Err(LeaseError::Expired { deployment: DeploymentId(12), expired_at: at("2026-03-01T12:01:00Z") })
        );
        let released = lease.released(at("2026-03-01T12:00:10Z"));
        assert_eq!(
            released.renewed(7, None, at("2026-03-01T12:00:20Z")),
            Err(LeaseError::Released { deployment: DeploymentId(12), released_at: at("2026-03-01T12:00:10Z") })
        );
    }

    #[test]
    fn releasing_twice_keeps_the_first_release() {
        let once = lease().released(at("2026-03-01T12:00:10Z"));
        assert_eq!(once.released(at("2026-03-01T12:00:20Z")).released_at, Some(at("2026-03-01T12:00:10Z")));
    }

    #[test]
    fn ttls_outside_ten_seconds_to_a_day_are_refused() {
        for (seconds, valid) in [(9, false), (10, true), (900, true), (86_400, true), (86_401, false), (-1, false)] {
            assert_eq!(LeaseTtl::from_seconds(seconds).is_ok(), valid, "{seconds}");
        }
    }

    #[test]
    fn held_locks_refuse_and_expired_ones_are_taken_over_once() {
        let service = |name: &str| ServiceName::parse(name).expect("name");
        let held = lease();
        let expired = Lease { deployment: DeploymentId(9), epoch: 5, ..lease() };
        let released = Lease { deployment: DeploymentId(8), ..lease() }.released(at("2026-03-01T12:00:00Z"));
        let now = at("2026-03-01T12:00:30Z");
        let expired = Lease { expires_at: at("2026-03-01T12:00:20Z"), ..expired };
        let locks = vec![
            (service("ledger"), held.clone()),
            (service("api"), expired.clone()),
            (service("web"), expired.clone()),
            (service("docs"), released),
        ];
        let (conflicts, taken_over) = judge_locks(locks, now);
        assert_eq!(conflicts, vec![LockConflict { service: service("ledger"), lease: held }]);
        assert_eq!(taken_over, vec![expired]);
        assert_eq!(
            conflicts[0].to_string(),
            "ledger in prod is locked by deployment 12 of ci (epoch 7) until 2026-03-01T12:01:00Z"
        );
    }
}
