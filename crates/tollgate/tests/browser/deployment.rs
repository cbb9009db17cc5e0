//! A deployment carried out by the demo server's engine, as its page shows it: each step with
//! its state and outcome, its rollback, what the steps printed, and the link from the
//! environment's history; the quarantine it left, shown on that history and lifted there; and a
//! rollback to an earlier release started from that history; a canary's two versions on the
//! register and its promotion from the deployment's page.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::Session;

#[tokio::test]
async fn a_deployment_page_shows_each_step_its_rollback_and_output_and_the_quarantine_is_lifted() -> anyhow::Result<()>
{
    let Some(session) = Session::start("deployment").await? else { return Ok(()) };
    let demo = &session.demo;
    let browser = &session.browser;
    // The demo's payments-api gets a plan: a step that prints, then one that fails, a rollback
    // step, and a quarantine after any failure.
    give_plan(demo, json!({ "tiers": [{ "name": "app", "steps": [
            { "name": "announce", "exec": ["sh", "-c", "echo deploying {{ release.version }} to {{ environment.name }}"] },
            { "name": "migrate", "exec": ["sh", "-c", "echo boom >&2; exit 3"] },
        ]}],
        "rollback": [{ "name": "undo", "exec": ["sh", "-c", "echo undoing {{ release.version }}"] }],
        "on_failure": { "quarantine": "always" }})).await?;
    let started = demo.api_post("/deployments/start", &json!({ "release": "1.2.0", "environment": "dev" })).await?;
    let id = started["deployment"]["id"].as_i64().unwrap_or_default();
    anyhow::ensure!(id > 0, "no deployment: {started}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let run = demo.api_get(&format!("/deployments/{id}/run")).await?;
        if run["run"]["state"] == "finished" {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "the run did not finish: {run}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    session.sign_in_with_password("admin", &demo.password).await?;
    browser.goto("/register/dev").await?;
    browser.click(&format!("a[href='/deployments/{id}']")).await?;
    anyhow::ensure!(browser.path().await? == format!("/deployments/{id}"), "the history links to the deployment");
    let status = browser.text_of("#deployment-status").await?;
    anyhow::ensure!(status == "rolled_back", "the deployment is {status}, not rolled back");
    anyhow::ensure!(browser.text_of("#run-state").await? == "finished", "the run is not finished");
    anyhow::ensure!(browser.text_of("#run-phase").await? == "rollback phase", "the phase is not shown");
    let steps = browser.text_of("#steps tbody").await?;
    for expected in ["announce", "succeeded", "migrate", "failed", "exit status 3", "rollback", "undo"] {
        anyhow::ensure!(steps.contains(expected), "the steps {steps:?} lack {expected:?}");
    }
    let logs = browser.text_of("#logs").await?;
    anyhow::ensure!(logs.contains("[step 0] deploying 1.2.0 to dev"), "the output is {logs:?}");
    anyhow::ensure!(logs.contains("[step 1] boom"), "the output is {logs:?}");
    anyhow::ensure!(logs.contains("[step 2] undoing 1.2.0"), "the output is {logs:?}");
    anyhow::ensure!(browser.count("form.decide").await? == 0, "a finished run offers decisions");
    browser.check_page("deployment").await?;

    // The environment's history shows the quarantine; a deployer lifts it there, with a reason.
    browser.goto("/register/dev").await?;
    let quarantine = browser.text_of("#quarantine").await?;
    anyhow::ensure!(quarantine.contains("step payments-api/app/migrate failed"), "the quarantine says {quarantine:?}");
    browser.check_page("environment-quarantined").await?;
    browser.fill("#lift-reason", "the migration is fixed in 1.2.1").await?;
    browser.submit("#quarantine form button").await?;
    anyhow::ensure!(browser.path().await? == "/register/dev", "the lift did not come back to the history");
    anyhow::ensure!(browser.count("#quarantine").await? == 0, "the quarantine is still shown");
    let quarantines = demo.api_get("/quarantines").await?;
    anyhow::ensure!(quarantines["items"].as_array().is_some_and(Vec::is_empty), "still quarantined: {quarantines}");

    // "Roll back to…" an earlier release of dev's history, with a reason: a deployment of its own kind.
    browser.click("#rollback-release option[value='1.1.0']").await?;
    browser.fill("#rollback-reason", "1.2.0 fails its migration").await?;
    browser.submit("#rollback button").await?;
    let path = browser.path().await?;
    anyhow::ensure!(path.starts_with("/deployments/"), "the rollback did not show its deployment but {path}");
    let cause = browser.text_of("#rollback-cause").await?;
    anyhow::ensure!(cause.contains("1.2.0 fails its migration"), "the cause shown is {cause:?}");
    let heading = browser.text_of("h1").await?;
    anyhow::ensure!(heading.contains("release 1.1.0 into dev"), "the heading is {heading:?}");
    session.finish().await
}

#[tokio::test]
async fn a_running_deployment_page_follows_its_steps_without_reloading_then_reloads_when_it_ends() -> anyhow::Result<()>
{
    let Some(session) = Session::start("deployment-live").await? else { return Ok(()) };
    let demo = &session.demo;
    let browser = &session.browser;
    give_plan(demo, json!({ "tiers": [{ "name": "app", "steps": [{ "name": "short", "wait": "1s" }, { "name": "long", "wait": "8s" }] }] })).await?;
    session.sign_in_with_password("admin", &demo.password).await?;
    let started = demo.api_post("/deployments/start", &json!({ "release": "1.2.0", "environment": "dev" })).await?;
    let id = started["deployment"]["id"].as_i64().unwrap_or_default();
    anyhow::ensure!(id > 0, "no deployment: {started}");
    browser.goto(&format!("/deployments/{id}")).await?;
    anyhow::ensure!(browser.text_of("#run-state").await? == "active", "the run is not active when the page opens");
    // A mark on the document survives a swap of the live part, not a reload.
    browser.client.execute("document.documentElement.dataset.tollgateMark = 'kept';", vec![]).await?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let steps = live_text(browser, "#steps tbody").await?;
        if steps.contains("waited 1s") {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "the steps never showed the first step's end: {steps:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The long step still runs (8 s): the page showed the news without reloading.
    anyhow::ensure!(browser.count("html[data-tollgate-mark='kept']").await? == 1, "the page reloaded");
    anyhow::ensure!(browser.text_of("#run-state").await? == "active", "the run ended before the check");
    // The page of a running deployment, with its decisions (pause, abort, roll back); the checks
    // hold its live part still, so it is drawn afresh afterwards.
    browser.check_page("deployment-running").await?;
    browser.goto(&format!("/deployments/{id}")).await?;
    // When the run ends, the page asks for itself again: the outcome and its decisions change.
    let deadline = Instant::now() + Duration::from_secs(30);
    while live_text(browser, "#deployment-status").await? != "succeeded" {
        anyhow::ensure!(Instant::now() < deadline, "the page never showed the deployment's end");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    anyhow::ensure!(browser.count("form.decide").await? == 0, "a finished run offers decisions");
    session.finish().await
}

/// The text of the element matched by `selector`, read in one step in the page (empty when there
/// is none): the live part may be swapped between finding an element and reading it.
async fn live_text(browser: &crate::browser::Browser, selector: &str) -> anyhow::Result<String> {
    let script = "const element = document.querySelector(arguments[0]); return element ? element.textContent : '';";
    let text = browser.client.execute(script, vec![json!(selector)]).await?;
    Ok(text.as_str().unwrap_or_default().trim().to_owned())
}

/// Gives the demo's payments-api the deployment plan `plan` (the API's JSON shape).
async fn give_plan(demo: &crate::demo::Demo, plan: serde_json::Value) -> anyhow::Result<()> {
    let mut service = demo.api_get("/services/payments-api").await?;
    let object = service.as_object_mut().ok_or_else(|| anyhow::anyhow!("a service object"))?;
    object.retain(|key, _| {
        ["name", "owner", "criticality", "depends_on", "description", "labels"].contains(&key.as_str())
    });
    object.insert("deploy".to_owned(), plan);
    demo.api_post("/apply", &json!({ "services": [service] })).await?;
    Ok(())
}

#[tokio::test]
async fn the_register_shows_both_versions_of_a_canary_and_its_page_promotes_it() -> anyhow::Result<()> {
    let Some(session) = Session::start("deployment-canary").await? else { return Ok(()) };
    let demo = &session.demo;
    let browser = &session.browser;
    // Two weight groups in dev; the traffic provider is a command that reads the shift.
    give_plan(demo, json!({
        "targets": [
            { "name": "blue-1", "environment": "dev", "address": "127.0.0.1:9081", "group": "blue" },
            { "name": "green-1", "environment": "dev", "address": "127.0.0.1:9091", "group": "green" },
        ],
        "strategy": { "canary": { "weights": [50, 100], "pause": "1h" } },
        "traffic": { "command": ["sh", "-c", "cat > /dev/null"] },
        "tiers": [{ "name": "app", "steps": [
            { "name": "start", "per_target": true, "exec": ["sh", "-c", "echo starting {{ release.version }} on {{ target.address }}"] },
        ]}],
    }))
    .await?;
    // 1.1.0 goes to blue (a first rollout switches at once), then 1.2.0 to green, held at 50%.
    let back = json!({ "release": "1.1.0", "environment": "dev", "reason": "a known version on blue first" });
    let first = demo.api_post("/deployments/rollback", &back).await?;
    wait_for_status(demo, first["deployment"]["id"].as_i64().unwrap_or_default(), "succeeded").await?;
    let started = demo.api_post("/deployments/start", &json!({ "release": "1.2.0", "environment": "dev" })).await?;
    let id = started["deployment"]["id"].as_i64().unwrap_or_default();
    anyhow::ensure!(id > 0, "no deployment: {started}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let run = demo.api_get(&format!("/deployments/{id}/run")).await?;
        let steps = run["steps"].as_array().cloned().unwrap_or_default();
        if steps.iter().any(|step| step["name"] == "pause" && step["state"] == "running") {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "the canary never paused at 50%: {run}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    session.sign_in_with_password("admin", &demo.password).await?;
    browser.goto("/register").await?;
    let traffic = browser.text_of("#traffic tbody").await?;
    for expected in ["payments-api", "green 50% (1.2.0)", "blue 50% (1.1.0)"] {
        anyhow::ensure!(traffic.contains(expected), "the traffic {traffic:?} lacks {expected:?}");
    }
    browser.check_page("register-traffic").await?;
    browser.goto("/register/dev").await?;
    let traffic = browser.text_of("#traffic tbody").await?;
    anyhow::ensure!(traffic.contains("green 50% (1.2.0)"), "dev's history shows the traffic {traffic:?}");
    browser.check_page("environment-traffic").await?;

    browser.goto(&format!("/deployments/{id}")).await?;
    let steps = live_text(browser, "#steps tbody").await?;
    anyhow::ensure!(steps.contains("green-1"), "the steps {steps:?} do not name their target");
    // The graph: the service, its tiers in order, each step with its state.
    let graph = live_text(browser, "#graph").await?;
    for expected in
        ["payments-api", "start@green-1: succeeded", "canary-50", "shift: succeeded", "pause: running", "canary-100"]
    {
        anyhow::ensure!(graph.contains(expected), "the graph {graph:?} lacks {expected:?}");
    }
    browser.check_page("deployment-canary").await?;
    browser.goto(&format!("/deployments/{id}")).await?;
    browser.fill("#decision-reason", "error rate flat at 50%").await?;
    browser.submit("button[value='promote']").await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while live_text(browser, "#deployment-status").await? != "succeeded" {
        anyhow::ensure!(Instant::now() < deadline, "the promoted canary never succeeded");
        tokio::time::sleep(Duration::from_millis(200)).await;
        browser.goto(&format!("/deployments/{id}")).await?;
    }
    let steps = live_text(browser, "#steps tbody").await?;
    anyhow::ensure!(steps.contains("promoted the rollout to all of the traffic"), "the steps are {steps:?}");
    browser.goto("/register").await?;
    let traffic = browser.text_of("#traffic tbody").await?;
    anyhow::ensure!(traffic.contains("green 100% (1.2.0)"), "after promoting, the traffic is {traffic:?}");
    session.finish().await
}

/// Waits until deployment `id` has `status` (at most 30 seconds).
async fn wait_for_status(demo: &crate::demo::Demo, id: i64, status: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let run = demo.api_get(&format!("/deployments/{id}/run")).await?;
        if run["deployment"]["status"] == status {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "deployment {id} is not {status}: {run}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
