//! Gate policy versions, decisions and overrides on every backend: versions count up and read
//! back with their bundle, decisions and overrides are append-only, a decision is overridden at
//! most once.

use anyhow::Context;
use serde_json::json;
use tollgate_core::digest::Sha256Digest;
use tollgate_core::gate::{parse_policy, EnvironmentGatesInput, GateBinding, GateInput, PolicyModule};
use tollgate_core::name::{EnvironmentName, UserName};
use tollgate_core::{Entity, Page};
use tollgate_store::{NewGateDecision, StoreError};
use tollgate_testkit::fixtures::{at, environment, lifecycle, release, service, team, user};

use crate::{on_every_backend, raw_pool};

fn policy(min: f64) -> tollgate_core::gate::GatePolicy {
    let gates = vec![EnvironmentGatesInput {
        environment: "prod".into(),
        gates: vec![
            GateInput {
                builtin: Some("test_pass_rate".into()),
                with: Some(json!({"min": min})),
                ..GateInput::default()
            },
            GateInput {
                rego: Some("policies/owners.rego".into()),
                enforcement: Some("warn".into()),
                ..GateInput::default()
            },
        ],
    }];
    let modules =
        vec![PolicyModule { path: "policies/owners.rego".into(), source: "package tollgate.gates.owners\n".into() }];
    parse_policy(gates, modules).expect("a valid policy")
}

/// A user, a team, a service, prod, and release 1.0.0.
async fn catalog(tx: &mut tollgate_store::StoreTx) -> anyhow::Result<tollgate_core::release::ReleaseId> {
    let now = at("2026-03-01T12:00:00Z");
    tx.insert_user(&user("ana", "admin"), now).await?;
    tx.insert_team(&team("payments", &["ana"])).await?;
    tx.insert_service(&service("api", "payments", &[])).await?;
    tx.insert_environment(&environment("prod", "prod")).await?;
    tx.insert_lifecycle(&lifecycle("default", &["prod"])).await?;
    Ok(tx.insert_release(&release("1.0.0", &[("api", "1.0.0")]), &UserName::parse("ana")?, now).await?)
}

#[tokio::test]
async fn policy_versions_count_up_and_decisions_bind_to_them() {
    on_every_backend(|store| async move {
        let now = at("2026-03-01T12:00:00Z");
        let ana = UserName::parse("ana")?;
        let prod = EnvironmentName::parse("prod")?;
        let mut tx = store.begin().await?;
        let release_id = catalog(&mut tx).await?;
        assert!(tx.find_current_policy().await?.is_none());
        let first = tx.insert_policy_version(&policy(1.0), &ana, now).await?;
        let second = tx.insert_policy_version(&policy(0.9), &ana, now).await?;
        tx.commit().await?;
        assert_eq!((first.seq, second.seq), (1, 2));
        assert_eq!(first.digest, policy(1.0).digest());

        let mut read = store.read().await?;
        let current = read.find_current_policy().await?.context("a policy")?;
        assert_eq!((current.version, &current.policy), (second, &policy(0.9)));
        assert_eq!(read.find_policy_version(1).await?.context("version 1")?.policy, policy(1.0));
        let versions: Vec<i64> =
            read.list_policy_versions(Page::first(10)).await?.iter().map(|v| v.version.seq).collect();
        assert_eq!(versions, vec![2, 1]);
        drop(read);

        let binding = GateBinding {
            manifest_digest: Sha256Digest::of(b"manifest"),
            evidence_digest: Sha256Digest::of(b"evidence"),
            policy: second,
            library: Some(Sha256Digest::of(b"library")),
        };
        let input = json!({"release": {"version": "1.0.0"}});
        let results = json!([{"gate": "test_pass_rate", "outcome": "fail"}]);
        let new = NewGateDecision {
            release: release_id,
            environment: &prod,
            binding: &binding,
            input: &input,
            input_digest: &Sha256Digest::of(b"input"),
            passed: false,
            results: &results,
            created_by: &ana,
            created_at: now,
        };
        let mut tx = store.begin().await?;
        let decision = tx.insert_gate_decision(&new).await?;
        tx.insert_gate_override(decision, "hotfix for INC-7", &ana, now).await?;
        let twice = tx.insert_gate_override(decision, "again", &ana, now).await;
        assert!(matches!(twice, Err(StoreError::Conflict { entity: Entity::GateOverride, .. })), "{twice:?}");
        drop(tx);
        let mut tx = store.begin().await?;
        let decision = tx.insert_gate_decision(&new).await?;
        tx.insert_gate_override(decision, "hotfix for INC-7", &ana, now).await?;
        tx.commit().await?;

        let mut read = store.read().await?;
        let stored = read.find_gate_decision(decision).await?.context("stored")?;
        assert_eq!(
            (&stored.binding, &stored.input, &stored.results, stored.passed),
            (&binding, &input, &results, false)
        );
        let latest = read.find_latest_gate_decision(release_id, &prod).await?.context("latest")?;
        assert_eq!(latest.id, decision);
        assert_eq!(read.list_gate_decisions(Some(release_id), Some(&prod), Page::first(10)).await?.len(), 1);
        let overridden = read.find_gate_override(decision).await?.context("override")?;
        assert_eq!(
            (overridden.reason.as_str(), &overridden.binding, overridden.release.to_string()),
            ("hotfix for INC-7", &binding, "1.0.0".to_owned())
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn gate_records_refuse_update_and_delete() {
    on_every_backend(|store| async move {
        let now = at("2026-03-01T12:00:00Z");
        let ana = UserName::parse("ana")?;
        let prod = EnvironmentName::parse("prod")?;
        let mut tx = store.begin().await?;
        let release_id = catalog(&mut tx).await?;
        let version = tx.insert_policy_version(&policy(1.0), &ana, now).await?;
        let binding = GateBinding {
            manifest_digest: Sha256Digest::of(b"m"),
            evidence_digest: Sha256Digest::of(b"e"),
            policy: version,
            library: None,
        };
        let new = NewGateDecision {
            release: release_id,
            environment: &prod,
            binding: &binding,
            input: &json!({}),
            input_digest: &Sha256Digest::of(b"{}"),
            passed: false,
            results: &json!([]),
            created_by: &ana,
            created_at: now,
        };
        let decision = tx.insert_gate_decision(&new).await?;
        tx.insert_gate_override(decision, "accepted risk", &ana, now).await?;
        tx.commit().await?;
        let pool = raw_pool(&store).await?;
        for statement in [
            "UPDATE policy_versions SET bundle = '{}'",
            "DELETE FROM policy_versions",
            "UPDATE gate_decisions SET passed = 1",
            "DELETE FROM gate_decisions",
            "UPDATE gate_overrides SET reason = 'x'",
            "DELETE FROM gate_overrides",
        ] {
            let error = sqlx::query(statement).execute(&pool).await.expect_err(statement).to_string();
            assert!(error.contains("append-only"), "{statement}: {error}");
        }
        if matches!(store.config(), tollgate_store::DatabaseConfig::Postgres { .. }) {
            for table in ["policy_versions", "gate_decisions", "gate_overrides"] {
                let error = sqlx::query(&format!("TRUNCATE {table} CASCADE")).execute(&pool).await.expect_err(table);
                assert!(error.to_string().contains("append-only"), "{table}: {error}");
            }
        }
        let mut read = store.read().await?;
        assert_eq!(read.find_current_policy().await?.context("kept")?.policy, policy(1.0));
        let kept = read.find_gate_decision(decision).await?.context("kept")?;
        assert_eq!((kept.passed, kept.binding), (false, binding));
        assert_eq!(read.find_gate_override(decision).await?.context("kept")?.reason, "accepted risk");
        Ok(())
    })
    .await;
}
