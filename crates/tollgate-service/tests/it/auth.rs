use tollgate_core::team::TeamInput;
use tollgate_core::token::TokenId;
use tollgate_service::catalog::Upsert;
use tollgate_service::ServiceError;
use tollgate_testkit::fixtures::at;
use tollgate_testkit::TestApp;

#[tokio::test]
async fn a_viewer_reads_but_cannot_write_and_nothing_is_written() {
    let app = TestApp::sqlite().await;
    let (viewer, _) = app.user("carla", "viewer").await;
    let before = app.row_counts().await;
    let attempt = app
        .tollgate
        .put_team(&viewer, TeamInput { name: "ops".to_owned(), ..TeamInput::default() }, Upsert::Create)
        .await;
    assert!(matches!(attempt, Err(ServiceError::Forbidden { .. })), "{attempt:?}");
    assert_eq!(app.row_counts().await, before);
    assert!(app.tollgate.list_teams(&viewer).await.is_ok());
}

#[tokio::test]
async fn revoked_and_expired_tokens_stop_authenticating() {
    let app = TestApp::sqlite().await;
    let (member, token) = app.user("bo", "member").await;
    let expiring =
        app.tollgate.create_token(&member, "bo", "short", Some(at("2026-03-01T13:00:00Z"))).await.expect("issued");
    assert!(app.tollgate.authenticate(expiring.secret.expose(), None).await.is_ok());
    app.clock.set(at("2026-03-01T13:00:00Z"));
    let expired = app.tollgate.authenticate(expiring.secret.expose(), None).await;
    assert!(matches!(expired, Err(ServiceError::Unauthenticated { reason: "token expired" })), "{expired:?}");

    let tokens = app.tollgate.list_tokens(&member).await.expect("tokens");
    assert!(tokens.iter().all(|t| t.user == member.user.name), "a member sees only their own tokens");
    let own: TokenId = tokens[0].id;
    app.tollgate.revoke_token(&member, own).await.expect("revoked");
    let revoked = app.tollgate.authenticate(&token, None).await;
    assert!(matches!(revoked, Err(ServiceError::Unauthenticated { reason: "token revoked" })), "{revoked:?}");
    let again = app.tollgate.revoke_token(&app.admin, own).await;
    assert!(matches!(again, Err(ServiceError::Conflict { .. })), "{again:?}");
}

#[tokio::test]
async fn only_admins_issue_tokens_for_others() {
    let app = TestApp::sqlite().await;
    let (member, _) = app.user("bo", "member").await;
    let attempt = app.tollgate.create_token(&member, "admin", "steal", None).await;
    assert!(matches!(attempt, Err(ServiceError::Forbidden { .. })), "{attempt:?}");
    let unknown = app.tollgate.authenticate("tg_not-a-token", None).await;
    assert!(matches!(unknown, Err(ServiceError::Unauthenticated { reason: "malformed token" })), "{unknown:?}");
}

#[tokio::test]
async fn bootstrap_happens_once() {
    let app = TestApp::sqlite().await;
    let again = app.tollgate.bootstrap(|_| Ok::<(), std::convert::Infallible>(())).await.expect("bootstrap");
    assert!(again.expect("nothing to keep").is_none());
}
