//! Leases and the environment locks they hold: one `deployment_leases` row per lease, kept after
//! it ends, and one `environment_locks` row per locked service.
//!
//! Invariant: a lock row points at the lease that holds the service or, once that lease has
//! expired, at the lease a later one may take over; releasing a lease deletes its lock rows in
//! the same transaction. Lease writes run in audited transactions, which the backends serialize
//! (see `Store::begin`), so reading the locks and taking them cannot interleave with another
//! writer; the unique `(environment, epoch)` key is the second line of defence.

use tollgate_core::deployment::DeploymentId;
use tollgate_core::lease::{Lease, LeaseTtl};
use tollgate_core::name::{EnvironmentName, ServiceName, UserName};
use tollgate_core::Entity;

use crate::conn::Conn;
use crate::error::StoreError;
use crate::rows::{micros, parse, timestamp};
use crate::tx::StoreTx;

#[derive(sqlx::FromRow)]
struct LeaseRow {
    deployment_id: i64,
    environment: String,
    services: String,
    holder: String,
    epoch: i64,
    ttl_seconds: i64,
    acquired_at: i64,
    expires_at: i64,
    released_at: Option<i64>,
}

impl TryFrom<LeaseRow> for Lease {
    type Error = StoreError;

    fn try_from(row: LeaseRow) -> Result<Lease, StoreError> {
        const ENTITY: Entity = Entity::Lease;
        let key = row.deployment_id;
        let epoch = u64::try_from(row.epoch).map_err(|error| StoreError::corrupt(ENTITY, key.to_string(), error))?;
        Ok(Lease {
            deployment: DeploymentId(row.deployment_id),
            environment: parse(ENTITY, &key, EnvironmentName::parse(&row.environment))?,
            services: row
                .services
                .split_whitespace()
                .map(|service| parse(ENTITY, &key, ServiceName::parse(service)))
                .collect::<Result<_, _>>()?,
            holder: parse(ENTITY, &key, UserName::parse(&row.holder))?,
            epoch,
            ttl: parse(ENTITY, &key, LeaseTtl::from_seconds(row.ttl_seconds))?,
            acquired_at: timestamp(ENTITY, &key, row.acquired_at)?,
            expires_at: timestamp(ENTITY, &key, row.expires_at)?,
            released_at: row.released_at.map(|at| timestamp(ENTITY, &key, at)).transpose()?,
        })
    }
}

const COLUMNS: &str = "l.deployment_id, l.environment, l.services, l.holder, l.epoch, l.ttl_seconds, l.acquired_at, \
                       l.expires_at, l.released_at";

/// A lease to grant: everything but its epoch, which the store draws.
#[derive(Debug, Clone)]
pub struct NewLease<'a> {
    pub deployment: DeploymentId,
    pub environment: &'a EnvironmentName,
    pub services: &'a [ServiceName],
    pub holder: &'a UserName,
    pub ttl: LeaseTtl,
    pub acquired_at: tollgate_core::Timestamp,
    pub expires_at: tollgate_core::Timestamp,
}

impl Conn {
    /// The lease acquired for `deployment`, if any.
    pub async fn find_lease(&mut self, deployment: DeploymentId) -> Result<Option<Lease>, StoreError> {
        let row: Option<LeaseRow> =
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM deployment_leases l WHERE l.deployment_id = $1"))
                .bind(deployment.0)
                .fetch_optional(self.executor())
                .await
                .map_err(StoreError::from_sqlx)?;
        row.map(Lease::try_from).transpose()
    }

    /// Leases that still lock services (held, or expired and not yet taken over), optionally of
    /// one environment, by environment and epoch.
    pub async fn list_locking_leases(
        &mut self,
        environment: Option<&EnvironmentName>,
    ) -> Result<Vec<Lease>, StoreError> {
        let rows: Vec<LeaseRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM deployment_leases l \
             WHERE l.released_at IS NULL AND ($1 IS NULL OR l.environment = $1) \
             AND EXISTS (SELECT 1 FROM environment_locks k WHERE k.deployment_id = l.deployment_id) \
             ORDER BY l.environment, l.epoch"
        ))
        .bind(environment.map(ToString::to_string))
        .fetch_all(self.executor())
        .await
        .map_err(StoreError::from_sqlx)?;
        rows.into_iter().map(Lease::try_from).collect()
    }

    /// The lease each of `services` is locked by in `environment`, for those that are locked.
    pub async fn find_locks(
        &mut self,
        environment: &EnvironmentName,
        services: &[ServiceName],
    ) -> Result<Vec<(ServiceName, Lease)>, StoreError> {
        let mut locks = Vec::new();
        for service in services {
            let row: Option<LeaseRow> = sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM environment_locks k JOIN deployment_leases l ON l.deployment_id = k.deployment_id \
                 WHERE k.environment = $1 AND k.service = $2"
            ))
            .bind(environment.as_str())
            .bind(service.as_str())
            .fetch_optional(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
            if let Some(row) = row {
                locks.push((service.clone(), Lease::try_from(row)?));
            }
        }
        Ok(locks)
    }
}

impl StoreTx {
    /// Grants a lease: draws the environment's next epoch, stores the lease and points the lock
    /// of each of its services at it (replacing the lock of a lease it takes over). The caller
    /// has judged the existing locks in this transaction.
    pub async fn insert_lease(&mut self, new: &NewLease<'_>) -> Result<Lease, StoreError> {
        assert!(self.is_audited(), "leases are written only in transactions started with Store::begin");
        let key = new.deployment.to_string();
        let (last,): (Option<i64>,) = sqlx::query_as("SELECT MAX(epoch) FROM deployment_leases WHERE environment = $1")
            .bind(new.environment.as_str())
            .fetch_one(self.executor())
            .await
            .map_err(StoreError::from_sqlx)?;
        let epoch = last.unwrap_or(0) + 1;
        let services = new.services.iter().map(ServiceName::as_str).collect::<Vec<_>>().join(" ");
        let insert = sqlx::query(
            "INSERT INTO deployment_leases (deployment_id, environment, services, holder, epoch, ttl_seconds, \
             acquired_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(new.deployment.0)
        .bind(new.environment.as_str())
        .bind(services)
        .bind(new.holder.as_str())
        .bind(epoch)
        .bind(i64::from(new.ttl.seconds()))
        .bind(micros(new.acquired_at))
        .bind(micros(new.expires_at));
        self.execute(insert, Entity::Lease, &key).await?;
        for service in new.services {
            let lock = sqlx::query(
                "INSERT INTO environment_locks (environment, service, deployment_id) VALUES ($1, $2, $3) \
                 ON CONFLICT (environment, service) DO UPDATE SET deployment_id = excluded.deployment_id",
            )
            .bind(new.environment.as_str())
            .bind(service.as_str())
            .bind(new.deployment.0);
            self.execute(lock, Entity::Lease, &key).await?;
        }
        self.find_lease(new.deployment).await?.ok_or(StoreError::NotFound { entity: Entity::Lease, key })
    }

    /// Stores a lease's new expiry (a renewal), if it was not released meanwhile.
    pub async fn renew_lease(&mut self, lease: &Lease) -> Result<(), StoreError> {
        assert!(self.is_audited(), "leases are written only in transactions started with Store::begin");
        let key = lease.deployment.to_string();
        let query = sqlx::query(
            "UPDATE deployment_leases SET ttl_seconds = $2, expires_at = $3 \
             WHERE deployment_id = $1 AND released_at IS NULL",
        )
        .bind(lease.deployment.0)
        .bind(i64::from(lease.ttl.seconds()))
        .bind(micros(lease.expires_at));
        let affected = self.execute(query, Entity::Lease, &key).await?;
        StoreTx::expect_one(affected, Entity::Lease, &key)
    }

    /// Ends a lease at `lease.released_at` and frees the services it still locks.
    pub async fn release_lease(&mut self, lease: &Lease) -> Result<(), StoreError> {
        assert!(self.is_audited(), "leases are written only in transactions started with Store::begin");
        let key = lease.deployment.to_string();
        let released_at = lease.released_at.expect("a released lease has its release time");
        let query = sqlx::query(
            "UPDATE deployment_leases SET released_at = $2 WHERE deployment_id = $1 AND released_at IS NULL",
        )
        .bind(lease.deployment.0)
        .bind(micros(released_at));
        let affected = self.execute(query, Entity::Lease, &key).await?;
        StoreTx::expect_one(affected, Entity::Lease, &key)?;
        let unlock = sqlx::query("DELETE FROM environment_locks WHERE deployment_id = $1").bind(lease.deployment.0);
        self.execute(unlock, Entity::Lease, &key).await.map(drop)
    }
}
