use anyhow::Context;
use tollgate_core::deployment::{DeploymentInput, DeploymentStatus, Promotion};
use tollgate_core::name::{EnvironmentName, LifecycleName, ServiceName, TeamName, UserName};
use tollgate_core::release::ReleaseState;
use tollgate_core::token::TokenSecret;
use tollgate_core::{Entity, Page};
use tollgate_store::{tx::NewDeployment, StoreError};
use tollgate_testkit::fixtures::{at, environment, lifecycle, release, service, team, user};

use crate::on_every_backend;

#[tokio::test]
async fn records_round_trip_through_the_store() {
    on_every_backend(|store| async move {
        let now = at("2026-03-01T12:00:00Z");
        let mut tx = store.begin().await?;
        tx.insert_user(&user("ana", "admin"), now).await?;
        tx.insert_user(&user("bo", "member"), now).await?;
        tx.insert_team(&team("payments", &["ana", "bo"])).await?;
        tx.insert_service(&service("postgres-main", "payments", &[])).await?;
        tx.insert_service(&service("ledger", "payments", &["postgres-main"])).await?;
        for (name, tier) in [("dev", "dev"), ("staging", "staging"), ("prod", "prod")] {
            tx.insert_environment(&environment(name, tier)).await?;
        }
        tx.insert_lifecycle(&lifecycle("default", &["dev", "staging", "prod"])).await?;
        tx.commit().await?;

        let mut read = store.read().await?;
        let payments = read.find_team(&TeamName::parse("payments")?).await?.context("team")?;
        assert_eq!(payments, team("payments", &["ana", "bo"]));
        let ledger = read.find_service(&ServiceName::parse("ledger")?).await?.context("service")?;
        assert_eq!(ledger, service("ledger", "payments", &["postgres-main"]));
        assert_eq!(read.list_services().await?.len(), 2);
        let path = read.find_lifecycle(&LifecycleName::parse("default")?).await?.context("lifecycle")?;
        assert_eq!(path, lifecycle("default", &["dev", "staging", "prod"]));
        assert_eq!(read.list_environments().await?.len(), 3);
        assert!(read.find_user(&UserName::parse("nobody")?).await?.is_none());
        drop(read);

        // Updates replace members and dependencies.
        let mut tx = store.begin().await?;
        tx.update_team(&team("payments", &["bo"])).await?;
        tx.update_service(&service("ledger", "payments", &[])).await?;
        tx.update_lifecycle(&lifecycle("default", &["dev", "prod"])).await?;
        tx.commit().await?;
        let mut read = store.read().await?;
        assert_eq!(read.list_teams().await?, vec![team("payments", &["bo"])]);
        assert!(read.find_service(&ServiceName::parse("ledger")?).await?.context("service")?.depends_on.is_empty());
        assert_eq!(read.list_lifecycles().await?, vec![lifecycle("default", &["dev", "prod"])]);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn duplicate_keys_are_conflicts_and_roll_back_the_transaction() {
    on_every_backend(|store| async move {
        let now = at("2026-03-01T12:00:00Z");
        let mut tx = store.begin().await?;
        tx.insert_user(&user("ana", "admin"), now).await?;
        tx.commit().await?;

        let mut tx = store.begin().await?;
        tx.insert_team(&team("payments", &[])).await?;
        let duplicate = tx.insert_user(&user("ana", "member"), now).await;
        assert!(matches!(duplicate, Err(StoreError::Conflict { entity: Entity::User, .. })), "{duplicate:?}");
        drop(tx);

        let counts = store.read().await?.row_counts().await?;
        assert_eq!((counts["users"], counts["teams"]), (1, 0));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn tokens_are_found_by_digest_and_revoked_once() {
    on_every_backend(|store| async move {
        let now = at("2026-03-01T12:00:00Z");
        let secret = TokenSecret::from_random_bytes([9; 32]);
        let ana = UserName::parse("ana")?;
        let mut tx = store.begin().await?;
        tx.insert_user(&user("ana", "admin"), now).await?;
        let id = tx
            .insert_token(&tollgate_store::tx::NewToken {
                user: &ana,
                description: "ci",
                prefix: &secret.display_prefix(),
                secret_digest: secret.digest(),
                created_at: now,
                expires_at: Some(at("2026-04-01T00:00:00Z")),
                parent: None,
            })
            .await?;
        tx.commit().await?;

        let found = store.read().await?.find_token_by_digest(&secret.digest()).await?.context("token")?;
        assert_eq!((found.id, found.user.as_str(), found.revoked_at), (id, "ana", None));
        let mut tx = store.begin().await?;
        tx.revoke_token(id, now).await?;
        let again = tx.revoke_token(id, now).await;
        assert!(matches!(again, Err(StoreError::NotFound { .. })), "{again:?}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn releases_keep_their_content_and_refuse_stale_writes() {
    on_every_backend(|store| async move {
        let now = at("2026-03-01T12:00:00Z");
        let mut tx = store.begin().await?;
        tx.insert_user(&user("ana", "admin"), now).await?;
        tx.insert_team(&team("payments", &[])).await?;
        tx.insert_service(&service("ledger", "payments", &[])).await?;
        tx.insert_service(&service("api", "payments", &[])).await?;
        tx.insert_environment(&environment("dev", "dev")).await?;
        tx.insert_lifecycle(&lifecycle("default", &["dev"])).await?;
        let content = release("1.0.0", &[("ledger", "1.0.0"), ("api", "2.0.0")]);
        let id = tx.insert_release(&content, &UserName::parse("ana")?, now).await?;
        tx.commit().await?;

        let stored = store.read().await?.find_release(id).await?.context("release")?;
        assert_eq!((stored.content.clone(), stored.state, stored.revision), (content.clone(), ReleaseState::Draft, 1));
        let by_version = store.read().await?.find_release_by_version(&"1.0.0".parse()?).await?.context("release")?;
        assert_eq!(by_version.id, id);

        let mut changed = content.clone();
        changed.artifacts.pop();
        let mut tx = store.begin().await?;
        tx.update_release_content(id, &changed, 1, now).await?;
        let stale = tx.update_release_state(id, ReleaseState::Planned, 1, now).await;
        assert!(matches!(stale, Err(StoreError::Conflict { entity: Entity::Release, .. })), "{stale:?}");
        tx.update_release_state(id, ReleaseState::Planned, 2, now).await?;
        tx.commit().await?;
        let stored = store.read().await?.find_release(id).await?.context("release")?;
        assert_eq!((stored.content.artifacts.len(), stored.state, stored.revision), (1, ReleaseState::Planned, 3));
        assert_eq!(store.read().await?.list_releases(Page::first(10)).await?.len(), 1);

        let duplicate = store.begin().await?.insert_release(&content, &UserName::parse("ana")?, now).await;
        assert!(matches!(duplicate, Err(StoreError::Conflict { .. })), "{duplicate:?}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn deployments_feed_the_register() {
    on_every_backend(|store| async move {
        let now = at("2026-03-01T12:00:00Z");
        let ana = UserName::parse("ana")?;
        let dev = EnvironmentName::parse("dev")?;
        let mut tx = store.begin().await?;
        tx.insert_user(&user("ana", "admin"), now).await?;
        tx.insert_team(&team("payments", &[])).await?;
        tx.insert_service(&service("ledger", "payments", &[])).await?;
        tx.insert_environment(&environment("dev", "dev")).await?;
        tx.insert_lifecycle(&lifecycle("default", &["dev"])).await?;
        let content = release("1.0.0", &[("ledger", "1.0.0")]);
        let release_id = tx.insert_release(&content, &ana, now).await?;
        let times = DeploymentInput {
            status: Some("succeeded".to_owned()),
            started_at: Some("2026-03-01T10:00:00Z".to_owned()),
            finished_at: Some("2026-03-01T10:05:00Z".to_owned()),
            override_window: None,
        }
        .parse(now)?;
        let deployment_id = tx
            .insert_deployment(&NewDeployment {
                release: release_id,
                environment: &dev,
                manifest_digest: content.manifest_digest(),
                times,
                promotion: &Promotion::Followed,
                actor: &ana,
            })
            .await?;
        tx.commit().await?;

        let mut read = store.read().await?;
        let deployment = read.find_deployment(deployment_id).await?.context("deployment")?;
        assert_eq!(
            (deployment.status, deployment.release_version.to_string()),
            (DeploymentStatus::Succeeded, "1.0.0".to_owned())
        );
        let history = read.deployed_releases(&dev).await?;
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].artifacts, content.artifacts);
        assert_eq!(read.succeeded_environments(release_id).await?.into_iter().collect::<Vec<_>>(), vec![dev.clone()]);
        assert_eq!(read.list_deployments(Some(&dev), None, Page::first(10)).await?.len(), 1);
        drop(read);

        let rolled_back = deployment.finish(DeploymentStatus::RolledBack, now)?;
        let mut tx = store.begin().await?;
        tx.update_deployment(&rolled_back, DeploymentStatus::Succeeded).await?;
        let stale = tx.update_deployment(&rolled_back, DeploymentStatus::Succeeded).await;
        assert!(matches!(stale, Err(StoreError::Conflict { .. })), "{stale:?}");
        Ok(())
    })
    .await;
}

/// The database's choice of what runs (`live_releases_at`) agrees with choosing it from the
/// whole history (`running_at` over `deployed_releases`) at every instant of a history with
/// overlapping releases, a failed deployment and a rollback.
#[tokio::test]
async fn the_live_releases_the_database_picks_are_what_the_whole_history_says() {
    on_every_backend(|store| async move {
        let now = at("2026-03-01T12:00:00Z");
        let ana = UserName::parse("ana")?;
        let dev = EnvironmentName::parse("dev")?;
        let mut tx = store.begin().await?;
        tx.insert_user(&user("ana", "admin"), now).await?;
        tx.insert_team(&team("payments", &[])).await?;
        for name in ["ledger", "api", "web"] {
            tx.insert_service(&service(name, "payments", &[])).await?;
        }
        tx.insert_environment(&environment("dev", "dev")).await?;
        tx.insert_lifecycle(&lifecycle("default", &["dev"])).await?;
        let releases = [
            release("1.0.0", &[("ledger", "1.0.0"), ("api", "1.0.0")]),
            release("1.1.0", &[("api", "1.1.0"), ("web", "1.1.0")]),
            release("1.2.0", &[("ledger", "1.2.0")]),
            release("1.3.0", &[("web", "1.3.0")]),
            release("1.4.0", &[("api", "1.4.0")]),
        ];
        // (release, status, finished at hour): 1.2.0 fails, 1.3.0 succeeds and is rolled back,
        // 1.4.0 finishes at the same instant as 1.1.0 and, recorded later, wins the tie.
        let plan =
            [(0, "succeeded", 1), (1, "succeeded", 2), (2, "failed", 3), (3, "succeeded", 4), (4, "succeeded", 2)];
        let mut rolled_back = None;
        for (index, status, hour) in plan {
            let content = &releases[index];
            let id = tx.insert_release(content, &ana, now).await?;
            let times = DeploymentInput {
                status: Some(status.to_owned()),
                started_at: Some(format!("2026-03-01T0{hour}:00:00Z")),
                finished_at: Some(format!("2026-03-01T0{hour}:30:00Z")),
                override_window: None,
            }
            .parse(now)?;
            let new = NewDeployment {
                release: id,
                environment: &dev,
                manifest_digest: content.manifest_digest(),
                times,
                promotion: &Promotion::Followed,
                actor: &ana,
            };
            let deployment = tx.insert_deployment(&new).await?;
            if index == 3 {
                rolled_back = Some(deployment);
            }
            assert_current_register_is_live(&mut tx, &dev, now).await?;
        }
        let deployment = tx.find_deployment(rolled_back.context("1.3.0")?).await?.context("found")?;
        let after = deployment.finish(DeploymentStatus::RolledBack, at("2026-03-01T05:00:00Z"))?;
        tx.update_deployment(&after, DeploymentStatus::Succeeded).await?;
        assert_current_register_is_live(&mut tx, &dev, now).await?;
        let web = tollgate_core::deployment::running_at(&tx.current_releases(&dev).await?, now);
        let web: Vec<String> = web.iter().map(|r| format!("{}={}", r.service, r.release_version)).collect();
        assert_eq!(web, ["api=1.4.0", "ledger=1.0.0", "web=1.1.0"], "the rollback brings 1.1.0's web back");
        tx.commit().await?;

        let mut read = store.read().await?;
        let history = read.deployed_releases(&dev).await?;
        for instant in ["00:00", "01:30", "02:00", "02:30", "03:30", "04:30", "04:45", "05:00", "11:00"] {
            let instant = at(&format!("2026-03-01T{instant}:00Z"));
            let expected = tollgate_core::deployment::running_at(&history, instant);
            let live = read.live_releases_at(&dev, instant).await?;
            assert_eq!(tollgate_core::deployment::running_at(&live, instant), expected, "at {instant}");
        }
        let at_four_forty_five = tollgate_core::deployment::running_at(&history, at("2026-03-01T04:45:00Z"));
        let versions: Vec<String> =
            at_four_forty_five.iter().map(|r| format!("{}={}", r.service, r.release_version)).collect();
        assert_eq!(versions, ["api=1.4.0", "ledger=1.0.0", "web=1.3.0"], "the check is not vacuous");
        Ok(())
    })
    .await;
}

/// The current register the deployment writes keep says what the history says runs at `now`.
async fn assert_current_register_is_live(
    conn: &mut tollgate_store::Conn,
    environment: &EnvironmentName,
    now: tollgate_core::Timestamp,
) -> anyhow::Result<()> {
    use tollgate_core::deployment::running_at;
    let current = running_at(&conn.current_releases(environment).await?, now);
    let live = running_at(&conn.live_releases_at(environment, now).await?, now);
    assert_eq!(current, live, "the current register of {environment}");
    Ok(())
}

/// Writers that finish, fail and roll back deployments of the same services at once, each in
/// its own transaction, leave the current register equal to what the history says runs now.
#[tokio::test]
async fn concurrent_deployment_writers_keep_the_current_register_true() {
    on_every_backend(|store| async move {
        let now = at("2026-03-01T12:00:00Z");
        let ana = UserName::parse("ana")?;
        let dev = EnvironmentName::parse("dev")?;
        let mut tx = store.begin().await?;
        tx.insert_user(&user("ana", "admin"), now).await?;
        tx.insert_team(&team("payments", &[])).await?;
        for name in ["ledger", "api"] {
            tx.insert_service(&service(name, "payments", &[])).await?;
        }
        tx.insert_environment(&environment("dev", "dev")).await?;
        tx.insert_lifecycle(&lifecycle("default", &["dev"])).await?;
        // Twelve running deployments; each writer finishes three of them.
        let mut running = Vec::new();
        for n in 0..12 {
            let content = release(&format!("1.{n}.0"), &[("ledger", "1.0.0"), ("api", &format!("1.{n}.0"))]);
            let id = tx.insert_release(&content, &ana, now).await?;
            let times = DeploymentInput {
                status: None,
                started_at: Some("2026-03-01T01:00:00Z".to_owned()),
                finished_at: None,
                override_window: None,
            }
            .parse(now)?;
            let new = NewDeployment {
                release: id,
                environment: &dev,
                manifest_digest: content.manifest_digest(),
                times,
                promotion: &Promotion::Followed,
                actor: &ana,
            };
            running.push(tx.insert_deployment(&new).await?);
        }
        tx.commit().await?;

        let store = std::sync::Arc::new(store);
        let mut tasks = Vec::new();
        for (writer, ids) in running.chunks(3).enumerate() {
            let store = std::sync::Arc::clone(&store);
            let ids = ids.to_vec();
            tasks.push(tokio::spawn(async move {
                for (n, id) in ids.into_iter().enumerate() {
                    // Finish times repeat across writers, so ties are decided by id.
                    let finished = at(&format!("2026-03-01T0{}:00:00Z", 2 + n));
                    let mut tx = store.begin().await?;
                    let deployment = tx.find_deployment(id).await?.context("running")?;
                    let status =
                        if (writer + n) % 4 == 3 { DeploymentStatus::Failed } else { DeploymentStatus::Succeeded };
                    let finished = deployment.finish(status, finished)?;
                    tx.update_deployment(&finished, DeploymentStatus::Running).await?;
                    tx.commit().await?;
                    if writer % 2 == 0 && status == DeploymentStatus::Succeeded {
                        let mut tx = store.begin().await?;
                        let rolled_back = finished.finish(DeploymentStatus::RolledBack, at("2026-03-01T06:00:00Z"))?;
                        tx.update_deployment(&rolled_back, DeploymentStatus::Succeeded).await?;
                        tx.commit().await?;
                    }
                }
                Ok::<_, anyhow::Error>(())
            }));
        }
        for task in tasks {
            task.await??;
        }
        let mut read = store.read().await?;
        assert_current_register_is_live(&mut read, &dev, now).await?;
        let current = tollgate_core::deployment::running_at(&read.current_releases(&dev).await?, now);
        assert_eq!(current.len(), 2, "both services run something: {current:?}");
        Ok(())
    })
    .await;
}
