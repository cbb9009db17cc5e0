//! A deployment run by another tool under a lease, as the register shows it: held on the
//! environment's page and on the register while it runs, gone once its outcome is reported.

use serde_json::json;

use crate::Session;

#[tokio::test]
async fn a_lease_is_shown_on_the_register_while_held_and_gone_once_reported() -> anyhow::Result<()> {
    let Some(session) = Session::start("lease").await? else { return Ok(()) };
    let demo = &session.demo;
    let browser = &session.browser;
    // The demo's 1.2.0 stopped before prod; a CI job redeploys it to dev under a lease.
    let acquire = json!({ "release": "1.2.0", "environment": "dev", "ttl_seconds": 600 });
    let leased = demo.api_post("/leases", &acquire).await?;
    let deployment = leased["deployment"]["id"].as_i64().unwrap_or_default();
    let epoch = leased["lease"]["epoch"].as_u64().unwrap_or_default();
    anyhow::ensure!(deployment > 0 && epoch > 0, "no lease: {leased}");
    session.sign_in_with_password("admin", &demo.password).await?;

    browser.goto("/register/dev").await?;
    let row = browser.text_of("#leases tbody tr").await?;
    for expected in [deployment.to_string(), "payments-api".to_owned(), "admin".to_owned(), "held".to_owned()] {
        anyhow::ensure!(row.contains(&expected), "the lease row {row:?} lacks {expected:?}");
    }
    browser.check_page("register-environment-lease").await?;
    browser.goto("/register").await?;
    let listed = browser.text_of("#leases tbody tr").await?;
    anyhow::ensure!(listed.contains(&deployment.to_string()), "the register lists {listed:?}");
    browser.check_page("register-lease").await?;

    let report = json!({ "epoch": epoch, "status": "succeeded" });
    demo.api_post(&format!("/leases/{deployment}/report"), &report).await?;
    browser.goto("/register/dev").await?;
    anyhow::ensure!(browser.count("#leases").await? == 0, "a released lease is still shown");
    let history = browser.text_of("main table tbody tr").await?;
    anyhow::ensure!(
        history.contains(&deployment.to_string()) && history.contains("succeeded"),
        "the newest deployment in dev is {history:?}"
    );
    session.finish().await
}
