//! Every page on the demo data: each renders (with the status it should have), passes axe-core,
//! has a `<main>` landmark and a label on every form control, and is usable with the keyboard
//! alone. A screenshot of each is saved.

use crate::Session;

#[tokio::test]
async fn every_page_on_the_demo_data_renders_passes_axe_and_is_reachable_by_keyboard() -> anyhow::Result<()> {
    let Some(session) = Session::start("pages").await? else { return Ok(()) };
    session.sign_in_with_password("admin", &session.demo.password).await?;
    let (cookie, _) = session.credentials().await?;

    // Detail pages are found as a reader finds them: through their lists.
    let release = first_link(&session, "/releases", "main a[href^='/releases/']").await?;
    let artifact = first_link(&session, "/artifacts", "main a[href^='/artifacts/']").await?;
    let environment = first_link(&session, "/register", "main a[href^='/register/']").await?;
    let change = first_link(&session, "/changes", "main a[href^='/changes/']:not([href='/changes/agenda'])").await?;
    let pages = [
        ("dashboard", "/", 200),
        ("register", "/register", 200),
        ("register-environment", environment.as_str(), 200),
        ("calendar", "/calendar", 200),
        ("changes", "/changes", 200),
        ("change", change.as_str(), 200),
        ("cab-agenda", "/changes/agenda", 200),
        ("releases", "/releases", 200),
        ("release", release.as_str(), 200),
        ("artifacts", "/artifacts", 200),
        ("artifact", artifact.as_str(), 200),
        ("catalog", "/catalog", 200),
        ("audit", "/audit", 200),
        ("policy", "/policy", 200),
        ("not-found", "/no/such/page", 404),
    ];
    let mut problems = Vec::new();
    for (name, path, expected) in pages {
        let (status, _) = session.get_with_cookie(path, &cookie).await?;
        if status.as_u16() != expected {
            problems.push(format!("{path} answers {status}, not {expected}"));
        }
        session.browser.goto(path).await?;
        let shown = session.browser.path().await?;
        if shown != path {
            problems.push(format!("{path} led to {shown}"));
            continue;
        }
        if let Err(problem) = session.browser.check_page(name).await {
            problems.push(format!("{problem:#}"));
        }
    }
    anyhow::ensure!(problems.is_empty(), "{}", problems.join("\n\n"));
    session.finish().await
}

/// The address of the first link matching `selector` on the page at `path`.
async fn first_link(session: &Session, path: &str, selector: &str) -> anyhow::Result<String> {
    session.browser.goto(path).await?;
    let href = session.browser.attribute(selector, "href").await?;
    // WebDriver may answer the resolved address.
    let href = href.strip_prefix(&session.demo.url).unwrap_or(&href).to_owned();
    anyhow::ensure!(href.starts_with('/'), "{path}: the link {selector} points to {href:?}");
    Ok(href)
}
