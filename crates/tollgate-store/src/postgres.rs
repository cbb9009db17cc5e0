//! The PostgreSQL backend: one pool shared by readers and writers. Several Tollgate replicas
//! may share one database; writers serialize on the audit head row, which every mutation
//! updates in its transaction.

use std::time::Duration;

use sqlx::any::AnyPoolOptions;

use crate::error::StoreError;
use crate::{Backend, DatabaseConfig, Store};

pub(crate) async fn open(url: &str) -> Result<Store, StoreError> {
    let pool = AnyPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(30))
        .connect(url)
        .await
        .map_err(StoreError::from_sqlx)?;
    Ok(Store {
        backend: Backend::Postgres,
        writer: pool.clone(),
        reader: pool,
        config: DatabaseConfig::Postgres { url: url.to_owned() },
    })
}
