//! Single sign-on against a real OpenID Connect provider (`scripts/oidc-provider`, run by node on
//! loopback), on every backend: the whole authorization code flow with PKCE from
//! `begin_sso_login` through the provider's login and consent forms to `complete_sso_login`, and
//! the attacks on it (a used, expired or foreign state, a tampered or foreign code, a changed
//! nonce, an expired ID token, groups that give no role, a name that is taken), each refused
//! with nothing written.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use serde_json::json;
use tollgate_core::apply::{ApplyInput, PlanOp};
use tollgate_core::sso::{GroupRolesInput, SsoInput, SsoRolesInput};
use tollgate_core::user::Role;
use tollgate_service::apply::ApplyMode;
use tollgate_service::sso::{SecretSource, SsoOutcome, SsoSignIn};
use tollgate_service::{ServiceError, ServiceResult, Settings};
use tollgate_testkit::oidc::{Callback, OidcClient, OidcProvider};
use tollgate_testkit::{TestApp, TestDb};

const SECRET_VARIABLE: &str = "TOLLGATE_TEST_SSO_CLIENT_SECRET";

/// The mapping most stories apply.
const ROLES: &[(&str, &[&str])] =
    &[("tollgate-admins", &["admin"]), ("release-managers", &["release_manager", "viewer"]), ("staff", &["viewer"])];

/// One provider for the test, and an application per backend with single sign-on applied.
async fn on_every_backend<F, Fut>(id_token_ttl: Duration, settings: Settings, story: F)
where
    F: Fn(Arc<TestApp>, Arc<OidcProvider>) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(provider) = OidcProvider::start(OidcClient::default(), id_token_ttl).await else {
        return;
    };
    let provider = Arc::new(provider);
    for db in TestDb::every_backend().await {
        let app = Arc::new(TestApp::with_settings(db, settings.clone()).await);
        // ID tokens carry the provider's real time; the application's clock starts there too.
        app.clock.set(jiff::Timestamp::now());
        apply_sso(&app, sso_input(&provider, ROLES)).await.expect("the settings apply");
        story(app, provider.clone()).await;
    }
}

/// Settings whose secret source knows the client secret.
fn with_secret(secret: &str) -> Settings {
    let values = BTreeMap::from([(SECRET_VARIABLE.to_owned(), secret.to_owned())]);
    Settings { secret_source: SecretSource::Fixed(Arc::new(values)), ..Settings::default() }
}

fn settings() -> Settings {
    with_secret(&OidcClient::default().client_secret)
}

fn sso_input(provider: &OidcProvider, roles: &[(&str, &[&str])]) -> SsoInput {
    let groups = roles
        .iter()
        .map(|(group, roles)| GroupRolesInput {
            group: (*group).to_owned(),
            roles: roles.iter().map(|role| (*role).to_owned()).collect(),
        })
        .collect();
    SsoInput {
        issuer: provider.issuer.clone(),
        client_id: provider.client.client_id.clone(),
        client_secret_env: SECRET_VARIABLE.to_owned(),
        redirect_url: provider.client.redirect_uri.clone(),
        username_claim: None,
        groups_claim: None,
        roles: SsoRolesInput { groups },
        scopes: vec!["profile".to_owned(), "groups".to_owned()],
    }
}

async fn apply_sso(app: &TestApp, sso: SsoInput) -> ServiceResult<()> {
    let document = ApplyInput { sso: Some(sso), ..ApplyInput::default() };
    app.tollgate.apply(&app.admin, document, ApplyMode::Apply).await.map(drop)
}

/// Begins a sign-in and signs in as `login` at the provider; the callback it gets.
async fn at_provider(app: &TestApp, provider: &OidcProvider, login: &str) -> Callback {
    let redirect = app.tollgate.begin_sso_login(Some("/releases".to_owned())).await.expect("a sign-in begins");
    let callback = provider.sign_in(&redirect.authorization_url, login).await.expect("the provider signs in");
    assert_eq!(callback.state, redirect.state, "the provider returns the state it was given");
    callback
}

/// The whole flow for `login`.
async fn sign_in(app: &TestApp, provider: &OidcProvider, login: &str) -> ServiceResult<SsoSignIn> {
    let callback = at_provider(app, provider, login).await;
    app.tollgate.complete_sso_login(&callback.state, &callback.code, Some("req-sso".to_owned())).await
}

/// What a refused sign-in must not change: users, their roles and identities, the audit log.
async fn written(app: &TestApp) -> BTreeMap<&'static str, i64> {
    let mut counts = app.row_counts().await;
    counts.retain(|table, _| ["users", "user_roles", "sso_identities", "audit_entries"].contains(table));
    counts
}

async fn pending(app: &TestApp) -> i64 {
    app.row_counts().await["sso_logins"]
}

/// The last audit entry, as JSON without its time.
async fn last_entry(app: &TestApp) -> serde_json::Value {
    let (head, _) = app.store.read().await.expect("a read").audit_head().await.expect("the head");
    let entries = app.tollgate.list_audit(&app.admin, head - 1, 1).await.expect("entries");
    let mut entry: serde_json::Value = serde_json::from_slice(&entries[0].body).expect("an entry is JSON");
    entry.as_object_mut().expect("an object").remove("at");
    entry
}

fn query_value(url: &str, name: &str) -> Option<String> {
    let url = Url::parse(url).expect("a URL");
    url.query_pairs().find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
}

#[tokio::test]
async fn a_first_sign_in_creates_the_user_with_their_groups_roles_and_later_ones_follow_the_mapping() {
    on_every_backend(Duration::from_secs(3600), settings(), |app, provider| async move {
        let redirect = app.tollgate.begin_sso_login(Some("/releases/1.4.0".to_owned())).await.expect("begins");
        let url = &redirect.authorization_url;
        assert!(url.starts_with(&format!("{}/auth?", provider.issuer)), "{url}");
        assert_eq!(query_value(url, "code_challenge_method").as_deref(), Some("S256"));
        assert_eq!(query_value(url, "response_type").as_deref(), Some("code"));
        assert_eq!(query_value(url, "scope").as_deref(), Some("openid profile groups"));
        assert!(query_value(url, "nonce").is_some_and(|nonce| nonce.len() >= 16));
        assert_eq!(pending(&app).await, 1);

        let callback = provider.sign_in(url, "alice").await.expect("alice signs in at the provider");
        let signed_in = app
            .tollgate
            .complete_sso_login(&callback.state, &callback.code, Some("req-1".to_owned()))
            .await
            .expect("alice signs in");
        assert_eq!(signed_in.outcome, SsoOutcome::Created);
        assert_eq!(signed_in.return_to.as_deref(), Some("/releases/1.4.0"));
        assert_eq!(signed_in.user.display_name, "Alice Admin");
        assert_eq!(signed_in.user.roles, BTreeSet::from([Role::Viewer, Role::Admin]));
        assert_eq!(pending(&app).await, 0, "a finished sign-in is deleted");
        let issuer = provider.issuer.clone();
        let created = last_entry(&app).await;
        insta::allow_duplicates! {
            insta::assert_json_snapshot!(created, {
                ".reason" => insta::dynamic_redaction(move |value, _| {
                    value.as_str().expect("a reason").replace(&issuer, "[issuer]")
                }),
            }, @r#"
            {
              "action": "user.create",
              "actor": "@system",
              "after": {
                "display_name": "Alice Admin",
                "name": "alice",
                "roles": [
                  "viewer",
                  "admin"
                ]
              },
              "v": 1,
              "before": null,
              "object": {
                "id": "alice",
                "kind": "user"
              },
              "reason": "first sign-in by single sign-on from [issuer] (subject alice); roles from the groups tollgate-admins, staff",
              "request_id": "req-1",
              "seq": 6
            }
            "#);
        }

        let again = sign_in(&app, &provider, "alice").await.expect("alice signs in again");
        assert_eq!(again.outcome, SsoOutcome::Unchanged);
        let before = written(&app).await;
        assert_eq!(sign_in(&app, &provider, "alice").await.expect("once more").outcome, SsoOutcome::Unchanged);
        assert_eq!(written(&app).await, before, "an unchanged sign-in writes nothing");

        let remapped = [("tollgate-admins", &["auditor"][..]), ("staff", &["viewer"][..])];
        apply_sso(&app, sso_input(&provider, &remapped)).await.expect("the mapping changes");
        let updated = sign_in(&app, &provider, "alice").await.expect("alice signs in after the change");
        assert_eq!(updated.outcome, SsoOutcome::RolesUpdated);
        assert_eq!(updated.user.roles, BTreeSet::from([Role::Viewer, Role::Auditor]));
        let entry = last_entry(&app).await;
        assert_eq!(entry["action"], "user.update");
        assert_eq!(entry["actor"], "@system");
        assert_eq!(entry["before"]["roles"], serde_json::json!(["viewer", "admin"]));
        assert_eq!(entry["after"]["roles"], serde_json::json!(["viewer", "auditor"]));
    })
    .await;
}

#[tokio::test]
async fn the_username_falls_back_to_the_subject_and_claims_are_made_user_names() {
    on_every_backend(Duration::from_secs(3600), settings(), |app, provider| async move {
        let erin = sign_in(&app, &provider, "erin").await.expect("erin has no preferred_username");
        assert_eq!(erin.user.name.as_str(), "erin");
        let dave = sign_in(&app, &provider, "dave").await.expect("dave's name is made a user name");
        assert_eq!(dave.user.name.as_str(), "dave-smith-example-com");
        assert_eq!(dave.user.roles, BTreeSet::from([Role::Viewer]));
    })
    .await;
}

#[tokio::test]
async fn a_user_whose_groups_give_no_role_is_refused_and_nothing_is_written() {
    on_every_backend(Duration::from_secs(3600), settings(), |app, provider| async move {
        let before = written(&app).await;
        let refused = sign_in(&app, &provider, "bob").await;
        match &refused {
            Err(error @ ServiceError::SsoNoRole { user, groups }) => {
                assert_eq!((user.as_str(), groups.as_slice()), ("bob", &["contractors".to_owned()][..]));
                insta::allow_duplicates! {
                    insta::assert_snapshot!(error.to_string(), @"bob signed in with the identity provider, but none of their groups (contractors) is given a Tollgate role in sso.roles; ask an administrator to map one");
                }
            }
            other => panic!("expected no role, got {other:?}"),
        }
        assert_eq!(written(&app).await, before);
    })
    .await;
}

#[tokio::test]
async fn a_provider_account_never_takes_over_a_user_of_the_same_name() {
    on_every_backend(Duration::from_secs(3600), settings(), |app, provider| async move {
        let before = written(&app).await;
        let refused = sign_in(&app, &provider, "mallory").await;
        assert!(
            matches!(&refused, Err(ServiceError::SsoRejected { reason }) if reason.starts_with("user admin exists and was not created by single sign-on")),
            "{refused:?}"
        );
        assert_eq!(written(&app).await, before);
    })
    .await;
}

#[tokio::test]
async fn a_state_is_used_once_and_not_after_it_expires() {
    on_every_backend(Duration::from_secs(3600), settings(), |app, provider| async move {
        let callback = at_provider(&app, &provider, "carol").await;
        app.tollgate.complete_sso_login(&callback.state, &callback.code, None).await.expect("carol signs in");
        let before = written(&app).await;
        let replayed = app.tollgate.complete_sso_login(&callback.state, &callback.code, None).await;
        assert!(matches!(replayed, Err(ServiceError::SsoLoginExpired { .. })), "{replayed:?}");
        let unknown = app.tollgate.complete_sso_login("never-issued", &callback.code, None).await;
        assert!(matches!(unknown, Err(ServiceError::SsoLoginExpired { .. })), "{unknown:?}");

        let late = at_provider(&app, &provider, "alice").await;
        app.clock.advance(jiff::SignedDuration::from_mins(11));
        let expired = app.tollgate.complete_sso_login(&late.state, &late.code, None).await;
        assert!(matches!(expired, Err(ServiceError::SsoLoginExpired { reason: "expired" })), "{expired:?}");
        assert_eq!(pending(&app).await, 0, "an expired sign-in is deleted when it is presented");
        assert_eq!(written(&app).await, before);
    })
    .await;
}

#[tokio::test]
async fn a_code_with_another_sign_ins_state_a_tampered_code_and_another_clients_code_are_refused() {
    on_every_backend(Duration::from_secs(3600), settings(), |app, provider| async move {
        let before = written(&app).await;
        // A code obtained in one sign-in, presented with the state of another: its PKCE
        // verifier does not match the challenge the code was issued for.
        let other = app.tollgate.begin_sso_login(None).await.expect("a second sign-in begins");
        let callback = at_provider(&app, &provider, "alice").await;
        let swapped = app.tollgate.complete_sso_login(&other.state, &callback.code, None).await;
        assert!(
            matches!(&swapped, Err(ServiceError::SsoRejected { reason }) if reason.contains("invalid_grant")),
            "{swapped:?}"
        );

        let callback = at_provider(&app, &provider, "alice").await;
        let mut tampered = callback.code.clone();
        let last = tampered.pop().expect("a code is not empty");
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        let refused = app.tollgate.complete_sso_login(&callback.state, &tampered, None).await;
        assert!(
            matches!(&refused, Err(ServiceError::SsoRejected { reason }) if reason.contains("invalid_grant")),
            "{refused:?}"
        );

        // The same authorization request sent as another client of the provider: the code is
        // that client's, and redeeming it as Tollgate's fails.
        let redirect = app.tollgate.begin_sso_login(None).await.expect("begins");
        let foreign = redirect.authorization_url.replace("client_id=tollgate&", "client_id=tollgate-other&");
        assert_ne!(foreign, redirect.authorization_url);
        let callback = provider.sign_in(&foreign, "alice").await.expect("the other client gets a code");
        let refused = app.tollgate.complete_sso_login(&callback.state, &callback.code, None).await;
        assert!(
            matches!(&refused, Err(ServiceError::SsoRejected { reason }) if reason.contains("invalid_grant")),
            "{refused:?}"
        );
        assert_eq!(written(&app).await, before);
    })
    .await;
}

#[tokio::test]
async fn an_id_token_with_another_nonce_or_past_its_expiry_is_refused() {
    on_every_backend(Duration::from_secs(120), settings(), |app, provider| async move {
        let before = written(&app).await;
        // The authorization request's nonce changed on its way to the provider: the ID token
        // carries that nonce, not the one the sign-in keeps.
        let redirect = app.tollgate.begin_sso_login(None).await.expect("begins");
        let nonce = query_value(&redirect.authorization_url, "nonce").expect("a nonce");
        let forged = redirect.authorization_url.replace(&format!("nonce={nonce}"), "nonce=chosen-by-an-attacker");
        let callback = provider.sign_in(&forged, "alice").await.expect("the provider signs in");
        let refused = app.tollgate.complete_sso_login(&callback.state, &callback.code, None).await;
        assert!(
            matches!(&refused, Err(ServiceError::SsoRejected { reason }) if reason.contains("nonce")),
            "{refused:?}"
        );

        // The ID token lives two minutes; five pass before the callback (the sign-in itself
        // lives ten).
        let callback = at_provider(&app, &provider, "alice").await;
        app.clock.advance(jiff::SignedDuration::from_mins(5));
        let expired = app.tollgate.complete_sso_login(&callback.state, &callback.code, None).await;
        assert!(
            matches!(&expired, Err(ServiceError::SsoRejected { reason }) if reason.contains("expired")),
            "{expired:?}"
        );
        assert_eq!(written(&app).await, before);
    })
    .await;
}

#[tokio::test]
async fn a_missing_or_wrong_client_secret_makes_the_provider_unavailable_and_writes_nothing() {
    for (settings, expected) in [
        (Settings::default(), "the client secret variable TOLLGATE_TEST_SSO_CLIENT_SECRET"),
        (with_secret("not-the-secret"), "the provider refused this server's client credentials"),
    ] {
        on_every_backend(Duration::from_secs(3600), settings, |app, provider| async move {
            let before = written(&app).await;
            let refused = sign_in(&app, &provider, "alice").await;
            assert!(
                matches!(&refused, Err(ServiceError::SsoUnavailable { reason }) if reason.starts_with(expected)),
                "{refused:?}"
            );
            assert!(!format!("{refused:?}").contains(&OidcClient::default().client_secret), "no secret in errors");
            assert_eq!(written(&app).await, before);
        })
        .await;
    }
}

#[tokio::test]
async fn sign_in_settings_that_changed_since_a_sign_in_began_refuse_it() {
    on_every_backend(Duration::from_secs(3600), settings(), |app, provider| async move {
        let callback = at_provider(&app, &provider, "alice").await;
        apply_sso(&app, sso_input(&provider, &[("staff", &["viewer"])])).await.expect("the mapping changes");
        let before = written(&app).await;
        let refused = app.tollgate.complete_sso_login(&callback.state, &callback.code, None).await;
        assert!(matches!(refused, Err(ServiceError::SsoLoginExpired { .. })), "{refused:?}");
        assert_eq!(written(&app).await, before);
    })
    .await;
}

#[tokio::test]
async fn pending_sign_ins_are_bounded_and_expired_ones_make_room() {
    let settings = Settings { sso_max_pending_logins: 3, ..settings() };
    on_every_backend(Duration::from_secs(3600), settings, |app, _provider| async move {
        for _ in 0..3 {
            app.tollgate.begin_sso_login(None).await.expect("begins");
        }
        let busy = app.tollgate.begin_sso_login(None).await;
        assert!(matches!(busy, Err(ServiceError::Busy(tollgate_service::Busy::SsoLogins))), "{busy:?}");
        assert_eq!(pending(&app).await, 3);
        app.clock.advance(jiff::SignedDuration::from_mins(10));
        app.tollgate.begin_sso_login(None).await.expect("expired sign-ins make room");
        assert_eq!(pending(&app).await, 1);
    })
    .await;
}

#[tokio::test]
async fn return_to_is_a_path_on_this_server() {
    on_every_backend(Duration::from_secs(3600), settings(), |app, _provider| async move {
        for outside in ["https://evil.example/", "//evil.example/x", "/\\evil.example"] {
            let refused = app.tollgate.begin_sso_login(Some(outside.to_owned())).await;
            match refused {
                Err(ServiceError::Invalid(violations)) => assert_eq!(violations.0[0].field, "return_to"),
                other => panic!("expected {outside} to be refused, got {other:?}"),
            }
        }
        assert_eq!(pending(&app).await, 0);
    })
    .await;
}

#[tokio::test]
async fn a_provider_that_cannot_be_used_is_unavailable_and_nothing_is_kept() {
    let Some(mut provider) = OidcProvider::start(OidcClient::default(), Duration::from_secs(3600)).await else {
        return;
    };
    for db in TestDb::every_backend().await {
        let app = TestApp::with_settings(db, settings()).await;
        // The provider calls itself 127.0.0.1; a configured `localhost` is another issuer.
        let mut sso = sso_input(&provider, ROLES);
        sso.issuer = provider.issuer.replace("127.0.0.1", "localhost");
        apply_sso(&app, sso).await.expect("applies");
        let refused = app.tollgate.begin_sso_login(None).await;
        assert!(
            matches!(&refused, Err(ServiceError::SsoUnavailable { reason }) if reason.contains("issuer")),
            "{refused:?}"
        );
        assert_eq!(pending(&app).await, 0);
    }
    provider.stop().await;
    for db in TestDb::every_backend().await {
        let app = TestApp::with_settings(db, settings()).await;
        apply_sso(&app, sso_input(&provider, ROLES)).await.expect("applies");
        let refused = app.tollgate.begin_sso_login(None).await;
        assert!(matches!(refused, Err(ServiceError::SsoUnavailable { .. })), "{refused:?}");
        assert_eq!(pending(&app).await, 0);
    }
}

#[tokio::test]
async fn without_settings_single_sign_on_is_not_configured() {
    let app = TestApp::sqlite().await;
    assert!(!app.tollgate.sso_configured().await.expect("a read"));
    let refused = app.tollgate.begin_sso_login(None).await;
    assert!(matches!(refused, Err(ServiceError::SsoNotConfigured)), "{refused:?}");
    let refused = app.tollgate.complete_sso_login("state", "code", None).await;
    assert!(matches!(refused, Err(ServiceError::SsoLoginExpired { .. })), "{refused:?}");
}

#[tokio::test]
async fn invalid_settings_are_refused_with_every_field_named_and_only_admins_apply_them() {
    for db in TestDb::every_backend().await {
        let app = TestApp::on(db, 1000).await;
        let mut bad = SsoInput {
            issuer: "http://login.example.com".to_owned(),
            client_id: "tollgate".to_owned(),
            client_secret_env: "the secret itself".to_owned(),
            redirect_url: "https://tollgate.example.com/callback".to_owned(),
            roles: SsoRolesInput {
                groups: vec![GroupRolesInput { group: "staff".to_owned(), roles: vec!["superuser".to_owned()] }],
            },
            ..SsoInput::default()
        };
        let before = app.row_counts().await;
        let refused = apply_sso(&app, bad.clone()).await;
        match refused {
            Err(ServiceError::Invalid(violations)) => {
                let fields: Vec<&str> = violations.0.iter().map(|violation| violation.field.as_str()).collect();
                assert_eq!(fields, ["sso.issuer", "sso.redirect_url", "sso.client_secret_env", "sso.roles.staff[0]"]);
            }
            other => panic!("expected invalid settings, got {other:?}"),
        }
        assert_eq!(app.row_counts().await, before);

        bad.issuer = "https://login.example.com".to_owned();
        bad.client_secret_env = SECRET_VARIABLE.to_owned();
        bad.redirect_url = "https://tollgate.example.com/login/sso/callback".to_owned();
        bad.roles.groups[0].roles = vec!["viewer".to_owned()];
        let (developer, _) = app.user("dev", "developer").await;
        let document = ApplyInput { sso: Some(bad), ..ApplyInput::default() };
        let forbidden = app.tollgate.apply(&developer, document.clone(), ApplyMode::Apply).await;
        assert!(matches!(forbidden, Err(ServiceError::Forbidden { .. })), "{forbidden:?}");
        assert_eq!(app.row_counts().await["sso_config"], 0, "a developer's settings are not installed");
        let planned = app.tollgate.apply(&app.admin, document.clone(), ApplyMode::DryRun).await.expect("a plan");
        let ops: Vec<(&str, &PlanOp)> = planned.changes.iter().map(|c| (c.desired.kind(), &c.op)).collect();
        assert_eq!(ops, [("sso", &PlanOp::Create)]);
        app.tollgate.apply(&app.admin, document, ApplyMode::Apply).await.expect("an admin's are");
        assert_eq!(app.row_counts().await["sso_config"], 1);
        assert!(app.tollgate.sso_configured().await.expect("a read"));
        let entry = last_entry(&app).await;
        assert_eq!((&entry["action"], &entry["actor"]), (&json!("sso.create"), &json!("admin")));
        assert_eq!(entry["after"]["client_secret_env"], SECRET_VARIABLE);
    }
}

#[tokio::test]
async fn an_id_token_signed_by_a_key_the_cached_document_lacks_is_checked_against_a_fresh_one() {
    let Some(mut provider) = OidcProvider::start(OidcClient::default(), Duration::from_secs(3600)).await else {
        return;
    };
    for db in TestDb::every_backend().await {
        let app = TestApp::with_settings(db, settings()).await;
        app.clock.set(jiff::Timestamp::now());
        apply_sso(&app, sso_input(&provider, ROLES)).await.expect("applies");
        // Beginning caches the discovery document with the first key; the provider then starts
        // anew with another key, which signs the ID token.
        let redirect = app.tollgate.begin_sso_login(None).await.expect("begins");
        provider.restart().await;
        let callback = provider.sign_in(&redirect.authorization_url, "carol").await.expect("signs in");
        let signed_in = app.tollgate.complete_sso_login(&callback.state, &callback.code, None).await;
        let user = signed_in.expect("the new key is fetched and the token accepted").user;
        assert_eq!(user.roles, BTreeSet::from([Role::Viewer, Role::ReleaseManager]));
    }
}
