//! The store conformance suite: one story per capability, run on SQLite always and on
//! PostgreSQL when `TOLLGATE_TEST_POSTGRES_URL` is set (mandatory in CI).

mod audit;
mod audit_index;
mod authz;
mod gates;
mod records;
mod runs;
mod supply_chain;

use tollgate_store::{DatabaseConfig, Store};
use tollgate_testkit::TestDb;

/// Runs `story` once per backend, on a fresh database each time.
async fn on_every_backend<F, Fut>(story: F)
where
    F: Fn(Store) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    for database in TestDb::every_backend().await {
        let backend = database.backend_name();
        let store = Store::open(database.config()).await.expect("the store opens");
        if let Err(error) = story(store.clone()).await {
            panic!("on {backend}: {error:?}");
        }
        store.close().await;
        drop(database);
    }
}

/// A plain connection pool to the store's database, outside the store: what someone with the
/// database's credentials (or its file) uses.
pub async fn raw_pool(store: &Store) -> anyhow::Result<sqlx::AnyPool> {
    let url = match store.config() {
        DatabaseConfig::Sqlite { path } => format!("sqlite://{}", path.display()),
        DatabaseConfig::Postgres { url } => url.clone(),
    };
    sqlx::any::install_default_drivers();
    Ok(sqlx::any::AnyPoolOptions::new().max_connections(1).connect(&url).await?)
}
