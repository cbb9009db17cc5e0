//! Authorization records: roles migrated from `member`, grants revoked once and never deleted,
//! policy versions append-only.

use anyhow::Context;
use tollgate_core::authz::{GrantId, NewGrant, PolicyFileRecord};
use tollgate_core::name::{EnvironmentName, UserName};
use tollgate_core::user::Role;
use tollgate_store::{DatabaseConfig, StoreError};
use tollgate_testkit::fixtures::{at, environment, user};
use tollgate_testkit::TestDb;

use crate::{on_every_backend, raw_pool};

#[tokio::test]
async fn grants_are_revoked_once_and_never_deleted_and_policy_versions_only_grow() {
    on_every_backend(|store| async move {
        let now = at("2026-03-01T12:00:00Z");
        let mut tx = store.begin().await?;
        tx.insert_user(&user("ana", "admin"), now).await?;
        tx.insert_user(&user("olli", "developer,approver"), now).await?;
        tx.insert_environment(&environment("prod", "prod")).await?;
        let new = NewGrant {
            user: UserName::parse("olli")?,
            role: Role::Deployer,
            environment: EnvironmentName::parse("prod")?,
            reason: "incident 42".into(),
            seconds: 4 * 3600,
        };
        let id = tx.insert_grant(&new, &UserName::parse("ana")?, now, at("2026-03-01T16:00:00Z")).await?;
        let files = vec![PolicyFileRecord { name: "ops.cedar".into(), text: "// none".into() }];
        let first = tx.insert_authz_policy_version(&"a".repeat(64), &files, &UserName::parse("ana")?, now).await?;
        let second = tx.insert_authz_policy_version(&"b".repeat(64), &[], &UserName::parse("ana")?, now).await?;
        tx.commit().await?;
        assert!(second > first);

        let mut read = store.read().await?;
        let olli = read.find_user(&UserName::parse("olli")?).await?.context("olli")?;
        assert_eq!(olli.roles.into_iter().collect::<Vec<_>>(), [Role::Developer, Role::Approver]);
        let grant = read.find_grant(id).await?.context("grant")?;
        assert!(grant.is_active(at("2026-03-01T15:59:59Z")) && !grant.is_active(at("2026-03-01T16:00:00Z")));
        assert_eq!(read.list_grants(None, at("2026-03-01T15:00:00Z")).await?.len(), 1);
        assert!(read.list_grants(None, at("2026-03-01T16:00:00Z")).await?.is_empty(), "expired");
        let latest = read.latest_authz_policy_version().await?.context("a version")?;
        assert_eq!((latest.sequence, latest.files.len()), (second, 0));
        assert_eq!(read.latest_authz_policy_sequence().await?, second);
        drop(read);

        let mut tx = store.begin().await?;
        tx.revoke_grant(id, &UserName::parse("ana")?, at("2026-03-01T13:00:00Z")).await?;
        let again = tx.revoke_grant(id, &UserName::parse("ana")?, at("2026-03-01T13:00:01Z")).await;
        assert!(matches!(again, Err(StoreError::NotFound { .. })), "{again:?}");
        tx.commit().await?;
        assert!(matches!(
            store.begin().await?.revoke_grant(GrantId(999), &UserName::parse("ana")?, now).await,
            Err(StoreError::NotFound { .. })
        ));

        // With the database's credentials: no deleting, extending or rewriting.
        let pool = raw_pool(&store).await?;
        for attack in [
            "DELETE FROM jit_grants",
            "UPDATE jit_grants SET expires_at = expires_at + 1000000000",
            "UPDATE jit_grants SET revoked_at = NULL",
            "UPDATE authz_policy_versions SET files = '[]'",
            "DELETE FROM authz_policy_versions",
        ] {
            assert!(sqlx::query(attack).execute(&pool).await.is_err(), "{attack} must be refused");
        }
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn members_become_developers_and_deployers_and_other_roles_stay() {
    let migrations = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
    for database in TestDb::every_backend().await {
        let (url, backend) = match database.config() {
            DatabaseConfig::Sqlite { path } => (format!("sqlite://{}?mode=rwc", path.display()), "sqlite"),
            DatabaseConfig::Postgres { url } => (url.clone(), "postgres"),
        };
        sqlx::any::install_default_drivers();
        let pool = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(&url).await.expect("connects");
        for file in ["0001_initial.sql", "0002_artifacts.sql", "0003_trust_anchors.sql"] {
            let sql = std::fs::read_to_string(format!("{migrations}/{backend}/{file}")).expect("a migration");
            sqlx::raw_sql(&sql).execute(&pool).await.expect(file);
        }
        for (name, role) in [("ana", "admin"), ("bo", "member"), ("cy", "viewer"), ("di", "auditor")] {
            sqlx::query("INSERT INTO users (name, display_name, role, created_at) VALUES ($1, $1, $2, 0)")
                .bind(name)
                .bind(role)
                .execute(&pool)
                .await
                .expect("a user");
        }
        let sql = std::fs::read_to_string(format!("{migrations}/{backend}/0005_authorization.sql")).expect("0005");
        sqlx::raw_sql(&sql).execute(&pool).await.expect("0005 applies");
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT user_name, role FROM user_roles ORDER BY user_name, role")
                .fetch_all(&pool)
                .await
                .expect("roles");
        let rows: Vec<(&str, &str)> = rows.iter().map(|(u, r)| (u.as_str(), r.as_str())).collect();
        assert_eq!(
            rows,
            [("ana", "admin"), ("bo", "deployer"), ("bo", "developer"), ("cy", "viewer"), ("di", "auditor")],
            "{backend}"
        );
        pool.close().await;
    }
}
