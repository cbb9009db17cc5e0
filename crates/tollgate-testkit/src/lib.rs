//! Test support: fresh databases on both backends and fixtures.
//!
//! Every test gets its own database: a SQLite file in a fresh temporary directory, or a
//! PostgreSQL database created for it and dropped after (kept when `TOLLGATE_TEST_KEEP_DB=1`).
//! PostgreSQL runs when `TOLLGATE_TEST_POSTGRES_URL` is set; in CI (`CI=true`) it must be.
#![forbid(unsafe_code)]

pub mod fixtures;

use std::path::{Path, PathBuf};

use sqlx::{Connection, Executor};
use tollgate_store::DatabaseConfig;

/// The variable naming the PostgreSQL server tests create their databases on.
pub const POSTGRES_URL_VAR: &str = "TOLLGATE_TEST_POSTGRES_URL";

/// A database that exists for one test.
pub struct TestDb {
    config: DatabaseConfig,
    // Kept alive so the SQLite file's directory outlives the test.
    dir: tempfile::TempDir,
    postgres: Option<PostgresDb>,
}

struct PostgresDb {
    server_url: String,
    name: String,
}

impl TestDb {
    /// A fresh SQLite database in a temporary directory.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("a temporary directory can be created");
        TestDb {
            config: DatabaseConfig::in_data_dir(dir.path()),
            dir,
            postgres: None,
        }
    }

    /// A fresh PostgreSQL database, or `None` when no server is configured outside CI.
    ///
    /// Panics in CI when `TOLLGATE_TEST_POSTGRES_URL` is missing: the PostgreSQL run is
    /// mandatory there and must not be skipped silently.
    pub async fn postgres() -> Option<TestDb> {
        let server_url = match std::env::var(POSTGRES_URL_VAR) {
            Ok(url) if !url.is_empty() => url,
            _ if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
                panic!("{POSTGRES_URL_VAR} must be set in CI: the PostgreSQL tests are mandatory there")
            }
            _ => return None,
        };
        let name = format!("tollgate_test_{}", uuid::Uuid::new_v4().simple());
        let mut connection = sqlx::PgConnection::connect(&server_url)
            .await
            .unwrap_or_else(|error| panic!("cannot connect to {POSTGRES_URL_VAR}: {error}"));
        connection
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("the test database can be created");
        connection
            .close()
            .await
            .expect("the admin connection closes");
        let url = database_url(&server_url, &name);
        Some(TestDb {
            config: DatabaseConfig::Postgres { url },
            dir: tempfile::tempdir().expect("a temporary directory can be created"),
            postgres: Some(PostgresDb { server_url, name }),
        })
    }

    /// SQLite always, and PostgreSQL when it is configured.
    pub async fn every_backend() -> Vec<TestDb> {
        let mut databases = vec![TestDb::sqlite()];
        databases.extend(TestDb::postgres().await);
        databases
    }

    pub fn config(&self) -> &DatabaseConfig {
        &self.config
    }

    /// A directory that lives as long as the database: a data directory for the test.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The SQLite file, when this is a SQLite database.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        match &self.config {
            DatabaseConfig::Sqlite { path } => Some(path.clone()),
            DatabaseConfig::Postgres { .. } => None,
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self.config {
            DatabaseConfig::Sqlite { .. } => "sqlite",
            DatabaseConfig::Postgres { .. } => "postgres",
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(postgres) = self.postgres.take() else {
            return;
        };
        if std::env::var("TOLLGATE_TEST_KEEP_DB").is_ok_and(|keep| keep == "1") {
            eprintln!("keeping test database {}", postgres.name);
            return;
        }
        // Drop may run inside a runtime; a separate thread with its own runtime can block.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime can be built");
            runtime.block_on(async {
                let mut connection = sqlx::PgConnection::connect(&postgres.server_url).await?;
                connection
                    .execute(
                        format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", postgres.name).as_str(),
                    )
                    .await?;
                Ok::<_, sqlx::Error>(())
            })
        })
        .join();
        if let Ok(Err(error)) = dropped {
            eprintln!("could not drop a test database: {error}");
        }
    }
}

/// The server URL with its database path replaced by `name`.
fn database_url(server_url: &str, name: &str) -> String {
    let (base, query) = match server_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (server_url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_replaces_the_path() {
        assert_eq!(
            database_url("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            database_url("postgres://postgres@127.0.0.1:5432", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            database_url("postgres://u@h/db?sslmode=disable", "t1"),
            "postgres://u@h/t1?sslmode=disable"
        );
    }
}
