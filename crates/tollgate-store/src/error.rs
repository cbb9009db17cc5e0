//! The store's errors: only the cases callers act on. Driver errors are mapped here, once.

use std::error::Error as StdError;

use sqlx::error::ErrorKind;
use tollgate_core::Entity;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The object does not exist.
    #[error("{entity} {key} not found")]
    NotFound { entity: Entity, key: String },
    /// A unique key is taken, a referenced row is missing, or a revision is stale.
    #[error("{entity} {key} conflicts with an existing record")]
    Conflict { entity: Entity, key: String },
    /// The database cannot be reached or failed.
    #[error("the database is unavailable")]
    Unavailable(#[source] Box<dyn StdError + Send + Sync>),
    /// A stored value does not decode into a valid record.
    #[error("stored {entity} {key} is corrupt: {reason}")]
    Corrupt { entity: Entity, key: String, reason: String },
}

impl StoreError {
    pub(crate) fn from_sqlx(error: sqlx::Error) -> StoreError {
        StoreError::Unavailable(Box::new(error))
    }

    /// Maps a write error, turning key violations into `Conflict` on `entity key`.
    pub(crate) fn on_write(entity: Entity, key: impl ToString) -> impl FnOnce(sqlx::Error) -> StoreError {
        move |error| match &error {
            sqlx::Error::Database(database_error)
                if matches!(database_error.kind(), ErrorKind::UniqueViolation | ErrorKind::ForeignKeyViolation) =>
            {
                StoreError::Conflict { entity, key: key.to_string() }
            }
            _ => StoreError::from_sqlx(error),
        }
    }

    pub(crate) fn corrupt(entity: Entity, key: impl ToString, reason: impl ToString) -> StoreError {
        StoreError::Corrupt { entity, key: key.to_string(), reason: reason.to_string() }
    }
}
