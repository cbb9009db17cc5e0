//! Runs of orchestrated deployments: a claim is taken by compare-and-swap on the epoch, and
//! only while the run's claim has lapsed at that instant, so a claimant who read the run before
//! its holder renewed (or before another claimant won) takes nothing. Each step keeps its phase,
//! and the next step is found within the run's phase. An environment has one quarantine at a
//! time, and a lift removes only the quarantine it read.

use std::collections::BTreeMap;

use jiff::SignedDuration;
use tollgate_core::deployment::{DeploymentInput, Promotion};
use tollgate_core::name::{EnvironmentName, GroupName, ServiceName, StepName, TargetName, UserName};
use tollgate_core::plan::{StepAction, StepDuration, StepSpec};
use tollgate_core::quarantine::Quarantine;
use tollgate_core::release::ReleaseId;
use tollgate_core::rollout::{GroupShare, Target, TrafficSplit};
use tollgate_core::run::{Claim, NewStep, Phase, RunState, StepState, WorkerName};
use tollgate_store::tx::NewDeployment;
use tollgate_store::StoreError;
use tollgate_testkit::fixtures::{at, environment, lifecycle, release, service, team, user};

use crate::on_every_backend;

fn claim(deployment: tollgate_core::deployment::DeploymentId, worker: &str, epoch: u64, expires_at: &str) -> Claim {
    Claim { deployment, worker: WorkerName::parse(worker).expect("a worker name"), epoch, expires_at: at(expires_at) }
}

#[tokio::test]
async fn a_claim_is_taken_once_per_epoch_and_never_from_a_live_holder() {
    on_every_backend(|store| async move {
        let now = at("2026-03-01T12:00:00Z");
        let ana = UserName::parse("ana")?;
        let dev = EnvironmentName::parse("dev")?;
        let mut tx = store.begin().await?;
        tx.insert_user(&user("ana", "admin"), now).await?;
        tx.insert_team(&team("payments", &["ana"])).await?;
        tx.insert_service(&service("api", "payments", &[])).await?;
        tx.insert_environment(&environment("dev", "dev")).await?;
        tx.insert_lifecycle(&lifecycle("default", &["dev"])).await?;
        let content = release("1.0.0", &[("api", "1.0.0")]);
        let release_id = tx.insert_release(&content, &ana, now).await?;
        let times = DeploymentInput::default().parse(now)?;
        let new = NewDeployment {
            release: release_id,
            environment: &dev,
            manifest_digest: content.manifest_digest(),
            times,
            promotion: &Promotion::Followed,
            actor: &ana,
        };
        let deployment = tx.insert_deployment(&new).await?;
        let web_1 = Target {
            name: TargetName::parse("web-1")?,
            environment: dev.clone(),
            address: "127.0.0.1:8081".to_owned(),
            group: Some(GroupName::parse("blue")?),
            labels: BTreeMap::from([("zone".to_owned(), "a".to_owned())]),
        };
        let step = |phase: Phase, name: &str| -> anyhow::Result<NewStep> {
            Ok(NewStep {
                phase,
                service: tollgate_core::name::ServiceName::parse("api")
                    .map_err(|problem| anyhow::anyhow!("{problem}"))?,
                tier: StepName::parse("app").map_err(|problem| anyhow::anyhow!("{problem}"))?,
                spec: StepSpec {
                    name: StepName::parse(name).map_err(|problem| anyhow::anyhow!("{problem}"))?,
                    action: StepAction::Wait { duration: StepDuration::from_millis(10) },
                    timeout: StepDuration::from_millis(1_000),
                    retries: 0,
                    backoff: StepDuration::from_millis(1_000),
                    idempotent: true,
                    reversible: true,
                    per_target: phase == Phase::Rollback,
                },
                target: (phase == Phase::Rollback).then(|| web_1.clone()),
            })
        };
        let steps = [step(Phase::Deploy, "wait-1")?, step(Phase::Rollback, "undo-1")?];
        tx.insert_run(deployment, &BTreeMap::new(), &steps).await?;
        tx.commit().await?;

        // Each phase has its own next step; the run starts deploying.
        let mut read = store.read().await?;
        let run = read.find_run(deployment).await?.expect("the run");
        assert_eq!(run.phase, Phase::Deploy);
        let deploy = read.next_unfinished_step(deployment, Phase::Deploy).await?.expect("a deploy step");
        let rollback = read.next_unfinished_step(deployment, Phase::Rollback).await?.expect("a rollback step");
        assert_eq!(
            (deploy.position, deploy.phase, rollback.position, rollback.phase),
            (0, Phase::Deploy, 1, Phase::Rollback)
        );
        // A per-target step keeps its target.
        assert_eq!((deploy.target.as_ref(), rollback.target.as_ref()), (None, Some(&web_1)));
        drop(read);
        let mut tx = store.begin_unaudited().await?;
        tx.update_step(&tollgate_core::run::DeploymentStep { state: StepState::Succeeded, ..deploy }).await?;
        tx.commit().await?;
        let mut read = store.read().await?;
        assert_eq!(read.next_unfinished_step(deployment, Phase::Deploy).await?, None);
        drop(read);

        // Two workers read the unclaimed run (epoch 0) and race: one claim per epoch.
        let mut tx = store.begin_unaudited().await?;
        assert!(tx.claim_run(&claim(deployment, "worker-a", 1, "2026-03-01T12:00:10Z"), now).await?);
        assert!(!tx.claim_run(&claim(deployment, "worker-b", 1, "2026-03-01T12:00:10Z"), now).await?);
        tx.commit().await?;

        // B read the run when A's claim had lapsed, but A renewed before B's write: B takes
        // nothing, even with the epoch it read.
        let later = now + SignedDuration::from_secs(11);
        let mut tx = store.begin_unaudited().await?;
        let mut run = tx.lock_run(deployment).await?;
        run.claim_expires_at = Some(later + SignedDuration::from_secs(10));
        tx.update_run(&run).await?;
        assert!(!tx.claim_run(&claim(deployment, "worker-b", 2, "2026-03-01T12:00:21Z"), later).await?);
        tx.commit().await?;
        let mut read = store.read().await?;
        let held = read.find_run(deployment).await?.expect("the run");
        assert_eq!((held.worker.as_ref().map(WorkerName::as_str), held.epoch), (Some("worker-a"), 1));
        assert_eq!(held.state, RunState::Active);
        drop(read);

        // Once it lapses for real, B takes it with the next epoch.
        let lapsed = later + SignedDuration::from_secs(10);
        let mut tx = store.begin_unaudited().await?;
        assert!(tx.claim_run(&claim(deployment, "worker-b", 2, "2026-03-01T12:00:41Z"), lapsed).await?);
        tx.commit().await?;
        let held = store.read().await?.find_run(deployment).await?.expect("the run");
        assert_eq!((held.worker.as_ref().map(WorkerName::as_str), held.epoch), (Some("worker-b"), 2));
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn an_environment_has_one_quarantine_and_a_lift_removes_only_the_one_it_read() {
    on_every_backend(|store| async move {
        let now = at("2026-03-01T12:00:00Z");
        let dev = EnvironmentName::parse("dev")?;
        let mut tx = store.begin().await?;
        tx.insert_environment(&environment("dev", "dev")).await?;
        let first = Quarantine { environment: dev.clone(), deployment: None, reason: "by hand".to_owned(), since: now };
        tx.insert_quarantine(&first).await?;
        tx.commit().await?;
        let second = Quarantine { since: at("2026-03-01T12:05:00Z"), reason: "again".to_owned(), ..first.clone() };
        let mut tx = store.begin().await?;
        let twice = tx.insert_quarantine(&second).await;
        assert!(matches!(twice, Err(StoreError::Conflict { .. })), "{twice:?}");
        drop(tx);
        let mut read = store.read().await?;
        assert_eq!(read.find_quarantine(&dev).await?, Some(first.clone()));
        assert_eq!(read.list_quarantines().await?, std::slice::from_ref(&first));
        drop(read);
        // A lift that read another quarantine (lifted and replaced meanwhile) removes nothing.
        let mut tx = store.begin().await?;
        let stale = tx.delete_quarantine(&second).await;
        assert!(matches!(stale, Err(StoreError::Conflict { .. })), "{stale:?}");
        drop(tx);
        let mut tx = store.begin().await?;
        tx.delete_quarantine(&first).await?;
        tx.commit().await?;
        assert_eq!(store.read().await?.find_quarantine(&dev).await?, None);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn the_register_reads_each_services_latest_traffic_split_at_an_instant() {
    on_every_backend(|store| async move {
        let now = at("2026-03-01T12:00:00Z");
        let ana = UserName::parse("ana")?;
        let dev = EnvironmentName::parse("dev")?;
        let mut tx = store.begin().await?;
        tx.insert_user(&user("ana", "admin"), now).await?;
        tx.insert_team(&team("payments", &["ana"])).await?;
        tx.insert_service(&service("api", "payments", &[])).await?;
        tx.insert_service(&service("web", "payments", &[])).await?;
        tx.insert_environment(&environment("dev", "dev")).await?;
        tx.insert_lifecycle(&lifecycle("default", &["dev"])).await?;
        let content = release("1.0.0", &[("api", "1.0.0")]);
        let release_id = tx.insert_release(&content, &ana, now).await?;
        let new = NewDeployment {
            release: release_id,
            environment: &dev,
            manifest_digest: content.manifest_digest(),
            times: DeploymentInput::default().parse(now)?,
            promotion: &Promotion::Followed,
            actor: &ana,
        };
        let deployment = tx.insert_deployment(&new).await?;
        let share = |group: &str, weight: u32, release: Option<i64>| -> anyhow::Result<GroupShare> {
            Ok(GroupShare {
                group: GroupName::parse(group)?,
                weight,
                release: release.map(ReleaseId),
                version: release.map(|n| semver::Version::new(n as u64, 0, 0)),
            })
        };
        let split =
            |service: &str, position: u32, at_: &str, shares: Vec<GroupShare>| -> anyhow::Result<TrafficSplit> {
                Ok(TrafficSplit {
                    environment: dev.clone(),
                    service: ServiceName::parse(service)?,
                    deployment,
                    position,
                    at: at(at_),
                    shares,
                })
            };
        let api_10 =
            split("api", 1, "2026-03-01T12:01:00Z", vec![share("green", 10, Some(2))?, share("blue", 90, Some(1))?])?;
        let api_50 =
            split("api", 3, "2026-03-01T12:02:00Z", vec![share("green", 50, Some(2))?, share("blue", 50, Some(1))?])?;
        let web =
            split("web", 2, "2026-03-01T12:01:30Z", vec![share("blue", 100, Some(1))?, share("green", 0, None)?])?;
        for split in [&api_10, &api_50, &web] {
            tx.upsert_traffic_split(split).await?;
        }
        // A step run again after a crash replaces its own split.
        let api_50_again = TrafficSplit { at: at("2026-03-01T12:02:30Z"), ..api_50.clone() };
        tx.upsert_traffic_split(&api_50_again).await?;
        tx.commit().await?;
        let mut read = store.read().await?;
        assert_eq!(read.traffic_splits_at(&dev, at("2026-03-01T12:00:59Z")).await?, Vec::<TrafficSplit>::new());
        assert_eq!(read.traffic_splits_at(&dev, at("2026-03-01T12:01:45Z")).await?, vec![api_10.clone(), web.clone()]);
        assert_eq!(read.traffic_splits_at(&dev, at("2026-03-01T12:02:10Z")).await?, vec![api_10, web.clone()]);
        assert_eq!(read.traffic_splits_at(&dev, at("2026-03-01T13:00:00Z")).await?, vec![api_50_again, web]);
        Ok(())
    })
    .await;
}
