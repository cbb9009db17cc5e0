use tollgate_core::apply::ApplyInput;
use tollgate_core::service::ServiceInput;
use tollgate_service::apply::ApplyMode;
use tollgate_service::ServiceError;
use tollgate_testkit::TestApp;

use crate::release::catalog;

#[tokio::test]
async fn applying_the_same_document_twice_writes_nothing_the_second_time() {
    let app = TestApp::sqlite().await;
    catalog(&app).await;
    let before = app.row_counts().await;
    catalog(&app).await;
    assert_eq!(app.row_counts().await, before, "no row and no audit entry is written");
}

#[tokio::test]
async fn a_dry_run_and_a_failed_apply_change_nothing() {
    let app = TestApp::sqlite().await;
    catalog(&app).await;
    let before = app.row_counts().await;
    let new_service = ApplyInput {
        services: vec![ServiceInput {
            name: "search".to_owned(),
            owner: "payments".to_owned(),
            ..ServiceInput::default()
        }],
        ..ApplyInput::default()
    };
    let plan = app.tollgate.apply(&app.admin, new_service, ApplyMode::DryRun).await.expect("plan");
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(app.row_counts().await, before);

    let dangling = ApplyInput {
        services: vec![
            ServiceInput { name: "search".to_owned(), owner: "payments".to_owned(), ..ServiceInput::default() },
            ServiceInput { name: "index".to_owned(), owner: "nobody".to_owned(), ..ServiceInput::default() },
        ],
        ..ApplyInput::default()
    };
    let refused = app.tollgate.apply(&app.admin, dangling, ApplyMode::Apply).await;
    match refused {
        Err(ServiceError::Invalid(violations)) => {
            assert_eq!(violations.to_string(), "services[1].owner: team \"nobody\" does not exist")
        }
        other => panic!("expected invalid input, got {other:?}"),
    }
    assert_eq!(app.row_counts().await, before);
}
