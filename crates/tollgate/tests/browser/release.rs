//! A release taken through its states with the buttons of its page, and a refusal shown where
//! it happened, in the API's words.

use serde_json::{json, Value};

use crate::Session;

#[tokio::test]
async fn a_release_goes_through_plan_freeze_and_ready_with_the_buttons_and_a_refusal_shows_the_api_problem(
) -> anyhow::Result<()> {
    let Some(session) = Session::start("release").await? else { return Ok(()) };
    let demo = &session.demo;
    let browser = &session.browser;
    // Fresh releases, so that the demo's stay as they are: one with the demo's stored, signed
    // artifacts, one whose artifact was never pushed. The demo's developer writes them: the
    // admin, who marks them ready, may not do that for a release of its own that reaches prod.
    let author = demo.token_of("dev").await?;
    let shipped = demo.api_get("/releases/1.1.0").await?;
    demo.api_post_as(&author, "/releases", &release("2.0.0", shipped["artifacts"].clone())).await?;
    let missing = json!([{
        "service": "payments-api",
        "name": "payments-api",
        "version": "9.9.9",
        "digest": format!("sha256:{}", "0".repeat(64)),
    }]);
    demo.api_post_as(&author, "/releases", &release("2.0.1", missing)).await?;
    session.sign_in_with_password("admin", &demo.password).await?;

    browser.goto("/releases/2.0.0").await?;
    // A title is shown as text, never as markup.
    anyhow::ensure!(browser.count("#injected").await? == 0, "a scope title was rendered as HTML");
    anyhow::ensure!(browser.text().await?.contains(INJECTED_TITLE), "the scope title is not shown as written");
    browser.check_page("release-draft").await?;
    for (action, state) in [("plan", "planned"), ("freeze_scope", "scope_frozen"), ("mark_ready", "ready")] {
        press(&session, action).await?;
        anyhow::ensure!(browser.path().await? == "/releases/2.0.0", "{action} led to {}", browser.path().await?);
        let now = demo.api_get("/releases/2.0.0").await?;
        anyhow::ensure!(now["state"] == state, "after {action} the release is {}, not {state}", now["state"]);
        browser.screenshot(&format!("release-{state}")).await?;
    }
    browser.check_page("release-ready").await?;

    browser.goto("/releases/2.0.1").await?;
    press(&session, "plan").await?;
    press(&session, "freeze_scope").await?;
    let before = demo.api_get("/releases/2.0.1").await?;
    press(&session, "mark_ready").await?;
    let shown = browser.text_of("form[data-transition=mark_ready] .problem").await?;
    browser.check_page("release-refused").await?;
    let after = demo.api_get("/releases/2.0.1").await?;
    anyhow::ensure!(after == before, "a refused transition changed the release:\n{before}\n{after}");

    let transition = json!({ "action": "mark_ready" });
    let (status, problem) = demo.api_post_any("/releases/2.0.1/transitions", &transition).await?;
    anyhow::ensure!(status.is_client_error(), "the API let the release be marked ready: {status}");
    let detail = problem["detail"].as_str().unwrap_or_default();
    anyhow::ensure!(!detail.is_empty() && shown.contains(detail), "the page says {shown:?}, the API {detail:?}");
    session.finish().await
}

const INJECTED_TITLE: &str = "Escape <img src=x id=injected> & check";

/// Presses the button of the transition `action` on the release page shown.
async fn press(session: &Session, action: &str) -> anyhow::Result<()> {
    session.browser.submit(&format!("form[data-transition={action}] button[type=submit]")).await
}

fn release(version: &str, artifacts: Value) -> Value {
    json!({
        "version": version,
        "lifecycle": "default",
        "release_type": "minor",
        "artifacts": artifacts,
        "scope": [{ "ticket": "PAY-200", "title": INJECTED_TITLE, "included": true }],
    })
}
