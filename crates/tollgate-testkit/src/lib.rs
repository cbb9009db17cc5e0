//! Test support: fresh databases on both backends and fixtures.
//!
//! Every test gets its own database: a SQLite file in a fresh temporary directory, or a
//! PostgreSQL database created for it and dropped after (kept when `TOLLGATE_TEST_KEEP_DB=1`).
//! PostgreSQL runs when `TOLLGATE_TEST_POSTGRES_URL` is set; in CI (`CI=true`) it must be.
#![forbid(unsafe_code)]

pub mod fixtures;
pub mod oidc;
pub mod seed;

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
        TestDb { config: DatabaseConfig::in_data_dir(dir.path()), dir, postgres: None }
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
        connection.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("the test database can be created");
        connection.close().await.expect("the admin connection closes");
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

    /// Runs `statements` in order through a plain connection, outside the store: what someone
    /// holding the database file or its credentials does. For tests that tamper with rows.
    pub async fn execute_raw(&self, statements: &[&str]) -> anyhow::Result<()> {
        let url = match &self.config {
            DatabaseConfig::Sqlite { path } => format!("sqlite://{}", path.display()),
            DatabaseConfig::Postgres { url } => url.clone(),
        };
        sqlx::any::install_default_drivers();
        let mut connection = sqlx::AnyConnection::connect(&url).await?;
        for statement in statements {
            connection.execute(*statement).await?;
        }
        connection.close().await?;
        Ok(())
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
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime can be built");
            runtime.block_on(async {
                let mut connection = sqlx::PgConnection::connect(&postgres.server_url).await?;
                connection.execute(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", postgres.name).as_str()).await?;
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
        assert_eq!(database_url("postgres://postgres@127.0.0.1:5432", "t1"), "postgres://postgres@127.0.0.1:5432/t1");
        assert_eq!(database_url("postgres://u@h/db?sslmode=disable", "t1"), "postgres://u@h/t1?sslmode=disable");
    }
}

pub use crate::app::{admin, audit_key, envelope_for, provenance_envelope, signer, ManualClock, TestApp};

mod app {
    //! A `Tollgate` on a fresh database with a clock the test moves.

    use std::sync::{Arc, Mutex};

    use ed25519_dalek::SigningKey;
    use tollgate_core::artifact::{Artifact, ArtifactInput};
    use tollgate_core::attestation::{sign, Provenance, Statement, Subject};
    use tollgate_core::Timestamp;
    use tollgate_service::{Clock, Principal, Settings, Tollgate};
    use tollgate_store::blob::BlobStore;
    use tollgate_store::Store;

    use crate::TestDb;

    /// A clock that stands still until told to move.
    #[derive(Debug)]
    pub struct ManualClock {
        now: Mutex<Timestamp>,
    }

    impl ManualClock {
        pub fn new(start: Timestamp) -> Arc<ManualClock> {
            Arc::new(ManualClock { now: Mutex::new(start) })
        }

        pub fn set(&self, at: Timestamp) {
            *self.now.lock().expect("the clock lock is not poisoned") = at;
        }

        pub fn advance(&self, by: jiff::SignedDuration) {
            let mut now = self.now.lock().expect("the clock lock is not poisoned");
            *now = now.checked_add(by).expect("the clock stays in range");
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> Timestamp {
            *self.now.lock().expect("the clock lock is not poisoned")
        }
    }

    /// The application on a fresh database, with its bootstrap admin.
    pub struct TestApp {
        pub tollgate: Tollgate,
        /// The application's store, for tests that look at rows directly.
        pub store: Store,
        /// The application's blob store, for tests that look at (or tamper with) content.
        pub blobs: BlobStore,
        pub clock: Arc<ManualClock>,
        pub admin: Principal,
        pub admin_token: String,
        pub db: TestDb,
    }

    impl TestApp {
        /// On a fresh SQLite database, at 2026-03-01T12:00:00Z, checkpointing every `interval` entries.
        pub async fn sqlite_with_interval(interval: u64) -> TestApp {
            TestApp::on(TestDb::sqlite(), interval).await
        }

        pub async fn sqlite() -> TestApp {
            TestApp::sqlite_with_interval(1000).await
        }

        pub async fn on(db: TestDb, interval: u64) -> TestApp {
            let settings = Settings { checkpoint_interval: interval, ..Settings::default() };
            TestApp::with_settings(db, settings).await
        }

        pub async fn with_settings(db: TestDb, settings: Settings) -> TestApp {
            let store = Store::open(db.config()).await.expect("the store opens");
            let blobs = BlobStore::open(&db.dir().join("blobs")).await.expect("the blob store opens");
            let clock = ManualClock::new("2026-03-01T12:00:00Z".parse().expect("timestamp"));
            let tollgate = Tollgate::open(store.clone(), blobs.clone(), audit_key(), None, clock.clone(), settings)
                .await
                .expect("the app starts");
            let bootstrapped = tollgate.bootstrap(|_| Ok::<(), std::convert::Infallible>(())).await;
            let issued = bootstrapped.expect("bootstrap works").expect("nothing fails to keep the token");
            let issued = issued.expect("a fresh database bootstraps");
            let admin_token = issued.token.secret.expose().to_owned();
            let admin = admin(&tollgate, &admin_token).await;
            TestApp { tollgate, store, blobs, clock, admin, admin_token, db }
        }

        /// A release manager who is also a deployer, created on first use: who marks releases
        /// ready and deploys them when the admin authored them (segregation of duties forbids
        /// the author to ship to prod).
        pub async fn shipper(&self) -> Principal {
            let name = tollgate_core::name::UserName::parse("shipper").expect("a valid name");
            let exists =
                self.tollgate.list_users(&self.admin).await.expect("users").iter().any(|user| user.name == name);
            if !exists {
                return self.user("shipper", "release_manager,deployer").await.0;
            }
            let issued =
                self.tollgate.create_token(&self.admin, "shipper", "test", None).await.expect("the token is issued");
            admin(&self.tollgate, issued.secret.expose()).await
        }

        /// Creates a user with `role` and returns it as a principal, with its token.
        pub async fn user(&self, name: &str, role: &str) -> (Principal, String) {
            let input = tollgate_core::user::UserInput {
                name: name.to_owned(),
                display_name: None,
                roles: role.split(',').map(str::to_owned).collect(),
            };
            self.tollgate.create_user(&self.admin, input).await.expect("the user is created");
            let issued =
                self.tollgate.create_token(&self.admin, name, "test", None).await.expect("the token is issued");
            let token = issued.secret.expose().to_owned();
            (admin(&self.tollgate, &token).await, token)
        }

        /// Pushes `content` as artifact `name@version` of `team`.
        pub async fn push_artifact(&self, name: &str, version: &str, team: &str, content: &[u8]) -> Artifact {
            let input = ArtifactInput {
                name: name.to_owned(),
                version: version.to_owned(),
                team: team.to_owned(),
                ..ArtifactInput::default()
            };
            let mut reader = content;
            let pushed = self
                .tollgate
                .push_artifact(
                    &self.admin,
                    input,
                    tollgate_service::artifact::AnnouncedDigest::Before(None),
                    &mut reader,
                )
                .await;
            pushed.expect("the artifact is recorded").artifact
        }

        /// Registers the test signer as trusted, once.
        pub async fn trust_signer(&self) {
            let keys = self.tollgate.list_keys(&self.admin).await.expect("keys");
            let public = tollgate_core::attestation::public_key_pem(&signer().verifying_key());
            if keys.iter().all(|key| key.public_key != signer().verifying_key()) {
                self.tollgate
                    .register_key(&self.admin, "test-ci", None, None, &public)
                    .await
                    .expect("the key is registered");
            }
        }

        /// Signs an artifact with the test signer (a SLSA provenance statement) and attaches it.
        pub async fn sign_artifact(&self, artifact: &Artifact) {
            self.trust_signer().await;
            let envelope = provenance_envelope(artifact);
            self.tollgate
                .attach_signature(&self.admin, artifact.id, &envelope)
                .await
                .expect("the signature is accepted");
        }

        /// Pushes and signs the artifacts the fixtures' releases refer to: `service@version` as
        /// content, so the fixture digests match.
        pub async fn stock(&self, team: &str, artifacts: &[(&str, &str)]) {
            for (service, version) in artifacts {
                let artifact =
                    self.push_artifact(service, version, team, format!("{service}@{version}").as_bytes()).await;
                self.sign_artifact(&artifact).await;
            }
        }

        /// An approved change request for `release` into `environment`, planned from ten days
        /// before the test clock's now to twenty days after (the longest interval allowed, 31
        /// days, holds every instant a test deploys at): requested and submitted by the admin, then approved by
        /// fresh approvers (who also hold the deployer role, for emergency changes) until the
        /// route the policy chose is satisfied. What a prod deployment needs.
        pub async fn approved_change(
            &self,
            release: &tollgate_service::release::ReleaseRef,
            environment: &str,
        ) -> tollgate_core::change::ChangeRequest {
            use tollgate_core::change::approval::Verdict;
            use tollgate_core::change::{ChangeId, ChangeInput, ChangeState};
            use tollgate_service::Clock as _;
            let now = self.clock.now();
            let input = ChangeInput {
                environment: environment.to_owned(),
                justification: "the test ships it".to_owned(),
                rollback_plan: "deploy the previous release".to_owned(),
                planned_start: Some((now - jiff::SignedDuration::from_hours(10 * 24)).to_string()),
                planned_end: Some((now + jiff::SignedDuration::from_hours(20 * 24)).to_string()),
                ..ChangeInput::default()
            };
            let created =
                self.tollgate.create_change(&self.admin, release, input).await.expect("the change is requested");
            let mut view = self.tollgate.submit_change(&self.admin, created.id).await.expect("the change is submitted");
            let ChangeId(id) = created.id;
            for index in 1..=3 {
                if view.change.state != ChangeState::Assessing {
                    break;
                }
                let (approver, _) = self.user(&format!("cab-{id}-{index}"), "approver,deployer").await;
                view = self
                    .tollgate
                    .decide_change(&approver, created.id, Verdict::Approve, "")
                    .await
                    .expect("the approval is recorded");
            }
            assert_eq!(view.change.state, ChangeState::Approved, "{:?}", view.status);
            view.change
        }

        /// Every table's row count.
        pub async fn row_counts(&self) -> std::collections::BTreeMap<&'static str, i64> {
            self.store.read().await.expect("a read").row_counts().await.expect("counts")
        }
    }

    /// The key the test application signs audit checkpoints with.
    pub fn audit_key() -> SigningKey {
        SigningKey::from_bytes(&[11; 32])
    }

    /// The key the tests sign artifacts with.
    pub fn signer() -> SigningKey {
        SigningKey::from_bytes(&[23; 32])
    }

    /// A DSSE envelope (JSON) with a SLSA provenance statement about `artifact`, by `signer()`.
    pub fn provenance_envelope(artifact: &Artifact) -> String {
        envelope_for(artifact.name.as_str(), artifact.digest)
    }

    /// A DSSE envelope (JSON) with a SLSA provenance statement about `name` with `digest`.
    pub fn envelope_for(name: &str, digest: tollgate_core::digest::Sha256Digest) -> String {
        let subject = Subject { name: name.to_owned(), digest };
        let provenance = Provenance {
            build_type: "https://tollgate.dev/test-build/v1".to_owned(),
            builder_id: "https://ci.example/test".to_owned(),
            repository: Some("https://git.example/payments".to_owned()),
            commit: Some("0123456789abcdef0123456789abcdef01234567".to_owned()),
            invocation_id: None,
            started_on: None,
            finished_on: None,
        };
        sign(&Statement::provenance(subject, &provenance), &signer()).to_json()
    }

    /// The principal a token authenticates.
    pub async fn admin(tollgate: &Tollgate, token: &str) -> Principal {
        tollgate.authenticate(token, None).await.expect("the token authenticates")
    }
}

pub use crate::spawn::{spawn_app, spawn_app_on, Reply, SpawnedApp, BACKEND_VAR};

mod spawn {
    //! The real router, served on a random loopback port, with a client that authenticates.

    use reqwest::{Method, StatusCode};
    use serde_json::Value;

    use crate::{TestApp, TestDb};

    /// A running server on a fresh SQLite database.
    pub struct SpawnedApp {
        pub base_url: String,
        pub app: TestApp,
        pub client: reqwest::Client,
    }

    /// The variable choosing the database `spawn_app` uses: `sqlite` (the default) or `postgres`,
    /// so the whole HTTP suite runs once per backend.
    pub const BACKEND_VAR: &str = "TOLLGATE_TEST_BACKEND";

    /// Starts the HTTP application on `127.0.0.1:0`, on a fresh database of the backend
    /// `TOLLGATE_TEST_BACKEND` names.
    pub async fn spawn_app() -> SpawnedApp {
        let db = match std::env::var(BACKEND_VAR).as_deref() {
            Ok("postgres") => TestDb::postgres()
                .await
                .unwrap_or_else(|| panic!("{BACKEND_VAR}=postgres needs {}", crate::POSTGRES_URL_VAR)),
            Ok("sqlite") | Err(_) => TestDb::sqlite(),
            Ok(other) => panic!("{BACKEND_VAR} is sqlite or postgres, not {other}"),
        };
        spawn_app_on(TestApp::on(db, 1000).await).await
    }

    /// Serves `app` on `127.0.0.1:0`.
    pub async fn spawn_app_on(app: TestApp) -> SpawnedApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port is free");
        let address = listener.local_addr().expect("the listener has an address");
        let router = tollgate_http::router(app.tollgate.clone());
        tokio::spawn(async move { axum_serve(listener, router).await });
        SpawnedApp { base_url: format!("http://{address}"), app, client: reqwest::Client::new() }
    }

    async fn axum_serve(listener: tokio::net::TcpListener, router: axum::Router) {
        let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
        axum::serve(listener, service).await.expect("the test server runs");
    }

    /// A response's status and JSON body (`Null` when the body is empty or not JSON).
    #[derive(Debug)]
    pub struct Reply {
        pub status: StatusCode,
        pub content_type: String,
        pub body: Value,
    }

    impl SpawnedApp {
        /// Sends a request as the admin.
        pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
            self.call_as(&self.app.admin_token, method, path, body).await
        }

        /// Sends a request with `token` as bearer (none when empty).
        pub async fn call_as(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> Reply {
            let mut request = self.client.request(method, format!("{}{path}", self.base_url));
            if !token.is_empty() {
                request = request.bearer_auth(token);
            }
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.expect("the server answers");
            reply(response).await
        }

        /// Sends a raw body with a content type, as the admin.
        pub async fn call_raw(&self, method: Method, path: &str, content_type: &str, body: Vec<u8>) -> Reply {
            let response = self
                .client
                .request(method, format!("{}{path}", self.base_url))
                .bearer_auth(&self.app.admin_token)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .expect("the server answers");
            reply(response).await
        }

        pub async fn get(&self, path: &str) -> Reply {
            self.call(Method::GET, path, None).await
        }

        pub async fn post(&self, path: &str, body: Value) -> Reply {
            self.call(Method::POST, path, Some(body)).await
        }

        pub async fn put(&self, path: &str, body: Value) -> Reply {
            self.call(Method::PUT, path, Some(body)).await
        }
    }

    async fn reply(response: reqwest::Response) -> Reply {
        let status = response.status();
        let content_type =
            response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let bytes = response.bytes().await.expect("the body arrives");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply { status, content_type, body }
    }
}
