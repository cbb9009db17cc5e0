//! A change request on its pages: the risk and the conflict with the demo's incident freeze are
//! shown, on the change and highlighted on the calendar; an approver's verdict is a form; the
//! author's own approval is refused beside the form, in the API's words.

use serde_json::json;

use crate::Session;

#[tokio::test]
async fn a_change_is_approved_with_its_form_and_its_conflict_is_highlighted_on_the_calendar() -> anyhow::Result<()> {
    let Some(session) = Session::start("change").await? else { return Ok(()) };
    let demo = &session.demo;
    let browser = &session.browser;
    // The demo's 1.2.0 was refused in prod by a freeze; its developer asks for a change anyway.
    let author = demo.token_of("dev").await?;
    let now = jiff::Timestamp::now();
    let change = json!({
        "release": "1.2.0",
        "environment": "prod",
        "justification": "the fee fix <b>cannot</b> wait",
        "rollback_plan": "redeploy 1.1.0",
        "planned_start": now.to_string(),
        "planned_end": (now + jiff::SignedDuration::from_hours(1)).to_string(),
    });
    let created = demo.api_post_as(&author, "/changes", &change).await?;
    let id = created["id"].as_i64().expect("a change number");
    demo.api_post_as(&author, &format!("/changes/{id}/submit"), &json!({})).await?;

    // The author may not approve their own change: the page says why, as the API does.
    session.sign_in_with_token(&author).await?;
    browser.goto(&format!("/changes/{id}")).await?;
    browser.submit("form.decide button[value=approve]").await?;
    let shown = browser.text_of("form.decide .problem").await?;
    anyhow::ensure!(shown.contains("sod.no_self_approval"), "the page says {shown:?}");
    browser.check_page("change-refused").await?;
    let (status, problem) = demo.api_post_any_as(&author, &format!("/changes/{id}/approve"), &json!({})).await?;
    anyhow::ensure!(status.as_u16() == 403, "the API let the author approve: {status}");
    let detail = problem["detail"].as_str().unwrap_or_default();
    anyhow::ensure!(!detail.is_empty() && shown.contains(detail), "the page says {shown:?}, the API {detail:?}");
    session.sign_out().await?;

    session.sign_in_with_password("admin", &demo.password).await?;
    browser.goto(&format!("/changes/{id}")).await?;
    anyhow::ensure!(browser.count("#risk-factors tbody tr").await? == 7, "every risk factor is shown");
    let conflicts = browser.text_of("#conflicts").await?;
    anyhow::ensure!(conflicts.contains("Incident freeze"), "the freeze conflict is explained: {conflicts}");
    browser.check_page("change-assessing").await?;
    browser.fill("#decision-comment", "fix verified in staging").await?;
    browser.submit("form.decide button[value=approve]").await?;
    let verdicts = browser.text_of("#verdicts").await?;
    anyhow::ensure!(verdicts.contains("admin approves") && verdicts.contains("fix verified in staging"), "{verdicts}");
    let stored = demo.api_get(&format!("/changes/{id}")).await?;
    anyhow::ensure!(stored["approvals"][0]["approver"] == "admin", "the API shows the verdict: {stored}");

    browser.goto("/calendar").await?;
    anyhow::ensure!(browser.count(".period-conflict").await? >= 1, "the conflicting change is highlighted");
    browser.check_page("calendar-with-changes").await?;
    browser.goto("/changes/agenda").await?;
    browser.check_page("cab-agenda").await?;
    browser.goto("/changes").await?;
    browser.check_page("changes").await?;

    session.finish().await
}
