//! A viewer reads every page but is offered no action, and a transition forged with the viewer's
//! own session and form token is refused and changes nothing; so is an admin's without its form
//! token.

use serde_json::json;

use crate::Session;

#[tokio::test]
async fn a_viewer_sees_no_action_buttons_and_a_forged_transition_with_its_session_is_refused() -> anyhow::Result<()> {
    let Some(session) = Session::start("viewer").await? else { return Ok(()) };
    let demo = &session.demo;
    let browser = &session.browser;
    demo.api_post("/users", &json!({ "name": "vera", "role": "viewer" })).await?;
    let token = demo.token_of("vera").await?;
    let shipped = demo.api_get("/releases/1.1.0").await?;
    let draft = json!({
        "version": "3.0.0",
        "lifecycle": "default",
        "release_type": "minor",
        "artifacts": shipped["artifacts"],
    });
    demo.api_post("/releases", &draft).await?;

    session.sign_in_with_token(&token).await?;
    anyhow::ensure!(browser.text_of("#logout .who").await? == "vera", "not signed in as vera");
    for path in [
        "/",
        "/register",
        "/releases",
        "/releases/3.0.0",
        "/releases/1.1.0",
        "/artifacts",
        "/catalog",
        "/audit",
        "/policy",
    ] {
        browser.goto(path).await?;
        let n_forms = browser.count("form[method=post]:not(#logout)").await?;
        anyhow::ensure!(n_forms == 0, "{path} offers a viewer {n_forms} action forms");
    }
    browser.goto("/releases/3.0.0").await?;
    browser.check_page("release-as-viewer").await?;

    let (cookie, csrf) = session.credentials().await?;
    let before = demo.api_get("/releases/3.0.0").await?;
    let forged = [("csrf", csrf.as_str()), ("action", "plan")];
    let status = session.post_form_with_cookie("/releases/3.0.0/transitions", &cookie, &forged).await?;
    anyhow::ensure!(status == reqwest::StatusCode::FORBIDDEN, "a viewer's forged transition answered {status}");
    let after = demo.api_get("/releases/3.0.0").await?;
    anyhow::ensure!(after == before, "a viewer's forged transition changed the release:\n{before}\n{after}");

    // The same request from an admin's session plans the release: what the viewer was refused is
    // a request the server takes from someone allowed.
    session.sign_out().await?;
    session.sign_in_with_password("admin", &demo.password).await?;
    let (cookie, csrf) = session.credentials().await?;
    let wrong_token = [("csrf", "0123456789abcdef"), ("action", "plan")];
    let status = session.post_form_with_cookie("/releases/3.0.0/transitions", &cookie, &wrong_token).await?;
    anyhow::ensure!(status == reqwest::StatusCode::FORBIDDEN, "a wrong form token answered {status}");
    let status = session.post_form_with_cookie("/releases/3.0.0/transitions", &cookie, &[("action", "plan")]).await?;
    anyhow::ensure!(status == reqwest::StatusCode::FORBIDDEN, "a missing form token answered {status}");
    let unchanged = demo.api_get("/releases/3.0.0").await?;
    anyhow::ensure!(unchanged == before, "a transition without its form token changed the release");
    let allowed = [("csrf", csrf.as_str()), ("action", "plan")];
    let status = session.post_form_with_cookie("/releases/3.0.0/transitions", &cookie, &allowed).await?;
    anyhow::ensure!(status.is_redirection(), "the admin's transition answered {status}");
    let planned = demo.api_get("/releases/3.0.0").await?;
    anyhow::ensure!(planned["state"] == "planned", "the admin's transition left {}", planned["state"]);
    session.finish().await
}
