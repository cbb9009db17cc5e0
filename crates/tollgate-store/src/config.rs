//! Where the database is.

use std::fmt;
use std::path::{Path, PathBuf};

/// The database a store opens: a SQLite file, or a PostgreSQL URL.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseConfig {
    Sqlite { path: PathBuf },
    Postgres { url: String },
}

impl DatabaseConfig {
    /// The embedded default: `tollgate.db` in the data directory.
    pub fn in_data_dir(data_dir: &Path) -> DatabaseConfig {
        DatabaseConfig::Sqlite { path: data_dir.join("tollgate.db") }
    }

    /// Reads a `postgres://`, `postgresql://` or `sqlite://` URL.
    pub fn parse_url(url: &str) -> Result<DatabaseConfig, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DatabaseConfig::Postgres { url: url.to_owned() })
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            Ok(DatabaseConfig::Sqlite { path: PathBuf::from(path) })
        } else {
            Err("the database URL must start with postgres://, postgresql:// or sqlite://".to_owned())
        }
    }
}

impl fmt::Debug for DatabaseConfig {
    // Written by hand: a PostgreSQL URL may hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseConfig::Sqlite { path } => write!(f, "sqlite://{}", path.display()),
            DatabaseConfig::Postgres { url } => write!(f, "{}", redact_password(url)),
        }
    }
}

impl fmt::Display for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The URL with any password replaced by `***`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((credentials, host)) => match credentials.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_a_password() {
        let config = DatabaseConfig::parse_url("postgres://tollgate:s3cret@db:5432/tollgate").expect("valid");
        assert_eq!(format!("{config:?}"), "postgres://tollgate:***@db:5432/tollgate");
        let no_password = DatabaseConfig::parse_url("postgres://postgres@127.0.0.1/x").expect("valid");
        assert_eq!(format!("{no_password}"), "postgres://postgres@127.0.0.1/x");
    }

    #[test]
    fn unknown_schemes_are_refused() {
        assert!(DatabaseConfig::parse_url("mysql://x").is_err());
    }
}
