//! The release page's gate panel: a failed decision shown with every gate's reasons, the
//! override form refusing a blank reason (as a forged post would send it) without a write, and
//! an override with a reason that lets the gates pass, as the deployment check then says.

use serde_json::{json, Value};

use crate::Session;

#[tokio::test]
async fn a_failed_gate_decision_is_explained_and_overridden_only_with_a_reason() -> anyhow::Result<()> {
    let Some(session) = Session::start("gates").await? else { return Ok(()) };
    let demo = &session.demo;
    let browser = &session.browser;
    // A release of the demo's signed artifacts without any evidence: prod's test gate fails.
    let author = demo.token_of("dev").await?;
    let shipped = demo.api_get("/releases/1.1.0").await?;
    let release = json!({
        "version": "2.0.0",
        "lifecycle": "default",
        "release_type": "minor",
        "artifacts": shipped["artifacts"].clone(),
    });
    demo.api_post_as(&author, "/releases", &release).await?;
    for action in ["plan", "freeze_scope", "mark_ready"] {
        demo.api_post("/releases/2.0.0/transitions", &json!({ "action": action })).await?;
    }
    let evaluated = demo.api_post("/gates/evaluate", &json!({ "release": "2.0.0", "environment": "prod" })).await?;
    anyhow::ensure!(evaluated["passed"] == false, "prod's gates passed without evidence: {evaluated}");
    session.sign_in_with_password("admin", &demo.password).await?;

    browser.goto("/releases/2.0.0").await?;
    let panel = browser.text_of("#release-live").await?;
    for expected in ["prod: failed", "test_pass_rate", "block"] {
        anyhow::ensure!(panel.contains(expected), "the gate panel lacks {expected:?}: {panel}");
    }
    anyhow::ensure!(browser.count("form.override").await? == 1, "no override form for the failed decision");
    browser.check_page("release-gates-failed").await?;

    // A blank reason, as a forged post sends it past the browser's `required`: refused, nothing written.
    let (cookie, csrf) = session.credentials().await?;
    let before = gates_of_prod(demo).await?;
    let form = [("csrf", csrf.as_str()), ("environment", "prod"), ("reason", "   ")];
    let status = session.post_form_with_cookie("/releases/2.0.0/gates/override", &cookie, &form).await?;
    anyhow::ensure!(status.as_u16() == 422, "a blank reason was answered {status}");
    anyhow::ensure!(gates_of_prod(demo).await? == before, "a refused override changed the gates' verdict");
    anyhow::ensure!(before["passed"] == false, "the gates passed before any override: {before}");

    browser.fill("#override-reason-prod", "hotfix verified by hand on staging").await?;
    browser.submit("form.override button[type=submit]").await?;
    anyhow::ensure!(browser.path().await? == "/releases/2.0.0", "the override led to {}", browser.path().await?);
    let after = gates_of_prod(demo).await?;
    anyhow::ensure!(after["passed"] == true, "the override did not let the gates pass: {after}");
    let panel = browser.text_of("#release-live").await?;
    for expected in ["prod: failed, overridden", "Overridden by admin", "hotfix verified by hand on staging"] {
        anyhow::ensure!(panel.contains(expected), "the gate panel lacks {expected:?}: {panel}");
    }
    anyhow::ensure!(browser.count("form.override").await? == 0, "an overridden decision still offers the override");
    browser.check_page("release-gates-overridden").await?;
    session.finish().await
}

/// The gates precondition of deploying 2.0.0 into prod, as the deployment check judges it now.
async fn gates_of_prod(demo: &crate::demo::Demo) -> anyhow::Result<Value> {
    let check = demo.api_post("/deployments/check", &json!({ "release": "2.0.0", "environment": "prod" })).await?;
    let results = check["results"].as_array().cloned().unwrap_or_default();
    let gates = results.into_iter().find(|result| result["precondition"] == "gates");
    gates.ok_or_else(|| anyhow::anyhow!("no gates precondition in {check}"))
}
