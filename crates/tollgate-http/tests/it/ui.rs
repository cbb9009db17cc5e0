//! The web UI through a real HTTP client: sign-in, sessions, form tokens, lockouts, security
//! headers, the separation of cookies and bearer tokens, actions and refusals, escaping.
//! (The browser tests in `crates/tollgate/tests/browser` drive the same pages in Chromium.)

use std::collections::BTreeMap;

use reqwest::header::{HeaderMap, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::json;
use tollgate_service::session::Password;
use tollgate_testkit::{spawn_app, SpawnedApp};

use crate::{release, with_catalog};

pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// A browser without JavaScript: keeps cookies, follows no redirects by itself.
pub(crate) struct Browser {
    client: reqwest::Client,
    base: String,
    cookies: BTreeMap<String, String>,
}

pub(crate) struct Page {
    pub(crate) status: u16,
    headers: HeaderMap,
    pub(crate) body: String,
}

impl Page {
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or("")
    }

    pub(crate) fn location(&self) -> &str {
        self.headers.get(LOCATION).and_then(|value| value.to_str().ok()).unwrap_or_default()
    }

    /// The value of the first hidden `csrf` field of the page.
    pub(crate) fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self.body.find(marker).expect("the page has a form token") + marker.len();
        self.body[start..].split('"').next().expect("a value").to_owned()
    }
}

impl Browser {
    pub(crate) fn new(app: &SpawnedApp) -> Browser {
        let client = reqwest::Client::builder().redirect(Policy::none()).build().expect("a client");
        Browser { client, base: app.base_url.clone(), cookies: BTreeMap::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("; ")
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let response = request.header(COOKIE, self.cookie_header()).send().await.expect("the server answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        for value in headers.get_all(SET_COOKIE) {
            let text = value.to_str().expect("a cookie is text");
            let (pair, attributes) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').expect("name=value");
            if attributes.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let body = response.text().await.expect("a body");
        Page { status, headers, body }
    }

    pub(crate) async fn get(&mut self, path: &str) -> Page {
        let request = self.client.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    pub(crate) async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let request = self.client.post(format!("{}{path}", self.base)).form(form);
        self.send(request).await
    }

    pub(crate) async fn sign_in(&mut self, username: &str, password: &str) -> Page {
        let login = self.get("/login").await;
        assert_eq!(login.status, 200, "{}", login.body);
        let csrf = login.csrf();
        self.post("/login", &[("username", username), ("password", password), ("csrf", &csrf), ("next", "/")]).await
    }
}

pub(crate) async fn app_with_password() -> SpawnedApp {
    let app = spawn_app().await;
    app.app.tollgate.set_password(&app.app.admin, "admin", &Password(PASSWORD.to_owned())).await.expect("set");
    app
}

#[tokio::test]
async fn a_password_signs_in_and_the_session_cookie_is_http_only_and_lax() {
    let app = app_with_password().await;
    let mut browser = Browser::new(&app);
    let signed_in = browser.sign_in("admin", PASSWORD).await;
    assert_eq!((signed_in.status, signed_in.location()), (303, "/"), "{}", signed_in.body);
    let cookie = signed_in
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|value| value.to_str().expect("text").to_owned())
        .find(|value| value.starts_with("tollgate_session=tgs_"))
        .expect("a session cookie");
    assert!(cookie.ends_with("; Path=/; HttpOnly; SameSite=Lax"), "{cookie}");
    let dashboard = browser.get("/").await;
    assert_eq!(dashboard.status, 200, "{}", dashboard.body);
    assert!(dashboard.body.contains("Dashboard") && dashboard.body.contains(">admin<"), "{}", dashboard.body);
    let entries = app.get("/api/v1/audit?after=0&limit=1000").await;
    let actions: Vec<&str> =
        entries.body.as_array().expect("entries").iter().filter_map(|e| e["entry"]["action"].as_str()).collect();
    assert!(actions.contains(&"user.sign_in"), "{actions:?}");
}

#[tokio::test]
async fn a_wrong_password_shows_the_problem_and_makes_no_session() {
    let app = app_with_password().await;
    let before = app.app.row_counts().await;
    let mut browser = Browser::new(&app);
    let refused = browser.sign_in("admin", "not the password").await;
    assert_eq!(refused.status, 401);
    assert!(refused.body.contains("wrong user name or password"), "{}", refused.body);
    assert!(!browser.cookies.contains_key("tollgate_session"));
    let unknown = browser.sign_in("nobody", "not the password").await;
    assert_eq!(unknown.status, 401, "an unknown user gets the same answer");
    assert!(unknown.body.contains("wrong user name or password"));
    let after = app.app.row_counts().await;
    assert_eq!(before["web_sessions"], after["web_sessions"]);
    assert_eq!(before["audit_entries"], after["audit_entries"], "failed attempts are not audited");
}

#[tokio::test]
async fn five_failures_lock_the_user_out_and_the_lockout_is_audited_once() {
    let app = app_with_password().await;
    let mut browser = Browser::new(&app);
    let audit_before = app.app.row_counts().await["audit_entries"];
    for _ in 0..5 {
        assert_eq!(browser.sign_in("admin", "wrong guess").await.status, 401);
    }
    let locked = browser.sign_in("admin", PASSWORD).await;
    assert_eq!(locked.status, 429, "{}", locked.body);
    assert!(locked.headers.get("retry-after").is_some());
    assert!(locked.body.contains("too many failed sign-ins"), "{}", locked.body);
    for _ in 0..3 {
        assert_eq!(browser.sign_in("admin", "wrong guess").await.status, 429);
    }
    let audit_after = app.app.row_counts().await["audit_entries"];
    // One lockout of the user and one of the address, each audited once, however many
    // attempts follow (the checkpoint signing adds no entry).
    assert_eq!(audit_after - audit_before, 2);
    // A fresh browser from the same address is locked out too.
    let mut other = Browser::new(&app);
    assert_eq!(other.sign_in("someone-else", "x").await.status, 429);
}

#[tokio::test]
async fn a_form_without_or_with_a_wrong_token_is_refused() {
    let app = app_with_password().await;
    let mut browser = Browser::new(&app);
    // Sign-in itself needs the token of its pre-sign-in cookie.
    browser.get("/login").await;
    let no_token = browser.post("/login", &[("username", "admin"), ("password", PASSWORD)]).await;
    assert_eq!(no_token.status, 403, "{}", no_token.body);
    let wrong = browser.post("/login", &[("username", "admin"), ("password", PASSWORD), ("csrf", "00ff")]).await;
    assert_eq!(wrong.status, 403);
    assert!(!browser.cookies.contains_key("tollgate_session"));

    assert_eq!(browser.sign_in("admin", PASSWORD).await.status, 303);
    let before = app.app.row_counts().await;
    let missing = browser.post("/logout", &[]).await;
    assert_eq!(missing.status, 403, "{}", missing.body);
    let forged = browser.post("/logout", &[("csrf", "f00d")]).await;
    assert_eq!(forged.status, 403);
    assert_eq!(app.app.row_counts().await, before, "nothing changed");
    assert_eq!(browser.get("/").await.status, 200, "still signed in");
}

#[tokio::test]
async fn sign_out_ends_the_session_and_the_old_cookie_no_longer_works() {
    let app = app_with_password().await;
    let mut browser = Browser::new(&app);
    browser.sign_in("admin", PASSWORD).await;
    let session = browser.cookies["tollgate_session"].clone();
    let dashboard = browser.get("/").await;
    let signed_out = browser.post("/logout", &[("csrf", &dashboard.csrf())]).await;
    assert_eq!((signed_out.status, signed_out.location()), (303, "/login"));
    assert!(!browser.cookies.contains_key("tollgate_session"));
    browser.cookies.insert("tollgate_session".to_owned(), session);
    let again = browser.get("/releases").await;
    assert_eq!((again.status, again.location()), (303, "/login?next=%2Freleases"));
}

#[tokio::test]
async fn a_token_session_ends_with_its_token() {
    let app = spawn_app().await;
    let issued = app.post("/api/v1/tokens", json!({ "user": "admin", "description": "browser" })).await;
    let secret = issued.body["secret"].as_str().expect("a secret").to_owned();
    let mut browser = Browser::new(&app);
    let login = browser.get("/login").await;
    let signed_in = browser.post("/login/token", &[("token", &secret), ("csrf", &login.csrf())]).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    assert_eq!(browser.get("/").await.status, 200);
    let revoked =
        app.call(reqwest::Method::DELETE, &format!("/api/v1/tokens/{}", issued.body["token"]["id"]), None).await;
    assert!(revoked.status.is_success(), "{:?}", revoked.body);
    let after = browser.get("/").await;
    assert_eq!((after.status, after.location()), (303, "/login"));
}

#[tokio::test]
async fn a_session_cookie_is_no_api_credential_and_a_token_opens_no_page() {
    let app = app_with_password().await;
    let mut browser = Browser::new(&app);
    browser.sign_in("admin", PASSWORD).await;
    let cookie = browser.cookie_header();
    let api = app
        .client
        .get(format!("{}/api/v1/releases", app.base_url))
        .header(COOKIE, &cookie)
        .send()
        .await
        .expect("answers");
    assert_eq!(api.status(), 401);
    let page = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
        .get(format!("{}/releases", app.base_url))
        .bearer_auth(&app.app.admin_token)
        .send()
        .await
        .expect("answers");
    assert_eq!(page.status(), 303, "a bearer token opens no page");
}

#[tokio::test]
async fn pages_carry_security_headers_and_assets_are_cached_by_content() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app);
    let login = browser.get("/login").await;
    let csp = login.headers["content-security-policy"].to_str().expect("text");
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(login.headers["x-frame-options"], "DENY");
    assert_eq!(login.headers["x-content-type-options"], "nosniff");
    assert_eq!(login.headers["referrer-policy"], "same-origin");
    assert_eq!(login.headers["cache-control"], "no-store");
    assert!(!login.body.contains("<script>") && !login.body.contains(" style="), "no inline script or style");
    let htmx = login.body.split("src=\"").nth(1).and_then(|rest| rest.split('"').next()).expect("a script");
    assert!(htmx.starts_with("/assets/htmx-") && htmx.ends_with(".js"), "{htmx}");
    let asset = browser.get(htmx).await;
    assert_eq!(asset.status, 200);
    assert_eq!(asset.headers["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(browser.get("/assets/htmx-0000.js").await.status, 404);
    let missing = browser.get("/no/such/page").await;
    assert_eq!(missing.status, 404);
    assert!(missing.headers[CONTENT_TYPE].to_str().expect("text").starts_with("text/html"));
    let api_missing = browser.get("/api/v1/no-such-endpoint").await;
    assert_eq!(api_missing.headers[CONTENT_TYPE], "application/problem+json");
}

#[tokio::test]
async fn buttons_take_a_release_through_plan_and_freeze_and_a_refusal_is_shown_beside_its_button() {
    let app = app_with_password().await;
    with_catalog(&app).await;
    let mut draft = release("2.0.0");
    draft["scope"][0]["title"] = json!("<script>alert(1)</script> & more");
    let created = app.post("/api/v1/releases", draft).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let mut browser = Browser::new(&app);
    browser.sign_in("admin", PASSWORD).await;
    let page = browser.get("/releases/2.0.0").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more")
            || page.body.contains("&#60;script&#62;alert(1)&#60;/script&#62; &#38; more"),
        "user text is escaped: {}",
        page.body
    );
    assert!(!page.body.contains("<script>alert(1)"));
    for action in ["plan", "freeze_scope"] {
        let page = browser.get("/releases/2.0.0").await;
        assert!(page.body.contains(&format!("data-transition=\"{action}\"")), "{action} is offered");
        let moved = browser.post("/releases/2.0.0/transitions", &[("csrf", &page.csrf()), ("action", action)]).await;
        assert_eq!((moved.status, moved.location()), (303, "/releases/2.0.0"), "{}", moved.body);
    }
    // Marking ready is refused (the admin wrote this prod-bound release, and its artifacts were
    // never pushed): the page answers with the API's status and problem text.
    let page = browser.get("/releases/2.0.0").await;
    let refused =
        browser.post("/releases/2.0.0/transitions", &[("csrf", &page.csrf()), ("action", "mark_ready")]).await;
    let problem = app.post("/api/v1/releases/2.0.0/transitions", json!({ "action": "mark_ready" })).await;
    assert!(refused.status >= 400, "{}", refused.body);
    assert_eq!(refused.status, problem.status.as_u16(), "{}", refused.body);
    let api = app.get("/api/v1/releases/2.0.0").await;
    assert_eq!(api.body["state"], "scope_frozen");
    let detail = problem.body["detail"].as_str().expect("a detail");
    let escaped = detail.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&#34;");
    assert!(refused.body.contains(&escaped) || refused.body.contains(detail), "{}\n---\n{detail}", refused.body);
}

#[tokio::test]
async fn a_viewer_sees_no_buttons_and_a_forged_post_is_refused_and_changes_nothing() {
    let app = app_with_password().await;
    with_catalog(&app).await;
    assert_eq!(app.post("/api/v1/releases", release("3.0.0")).await.status, 201);
    app.post("/api/v1/users", json!({ "name": "vera", "roles": ["viewer"] })).await;
    let token = app.post("/api/v1/tokens", json!({ "user": "vera", "description": "browser" })).await;
    let secret = token.body["secret"].as_str().expect("a secret").to_owned();
    let mut browser = Browser::new(&app);
    let login = browser.get("/login").await;
    assert_eq!(browser.post("/login/token", &[("token", &secret), ("csrf", &login.csrf())]).await.status, 303);
    let page = browser.get("/releases/3.0.0").await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("data-transition="), "a viewer sees no action buttons");
    let before = app.app.row_counts().await;
    let forged = browser.post("/releases/3.0.0/transitions", &[("csrf", &page.csrf()), ("action", "plan")]).await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert_eq!(app.get("/api/v1/releases/3.0.0").await.body["state"], "draft");
    let after = app.app.row_counts().await;
    let unchanged = |counts: &BTreeMap<&'static str, i64>| -> Vec<(&'static str, i64)> {
        counts.iter().filter(|(table, _)| !table.starts_with("audit")).map(|(t, n)| (*t, *n)).collect()
    };
    assert_eq!(unchanged(&before), unchanged(&after), "nothing but the audited denial changed");
}

#[tokio::test]
async fn the_release_list_filters_and_pages_in_the_database_and_reports_bad_filters() {
    let app = app_with_password().await;
    with_catalog(&app).await;
    for minor in 0..3 {
        assert_eq!(app.post("/api/v1/releases", release(&format!("4.{minor}.0"))).await.status, 201);
    }
    let mut browser = Browser::new(&app);
    browser.sign_in("admin", PASSWORD).await;
    let all = browser.get("/releases").await;
    assert!(["4.0.0", "4.1.0", "4.2.0"].iter().all(|version| all.body.contains(version)));
    let text = browser.get("/releases?text=4.1").await;
    assert!(text.body.contains("4.1.0") && !text.body.contains("4.2.0"), "{}", text.body);
    let ticket = browser.get("/releases?text=pay-1&state=draft&service=api&team=payments").await;
    assert!(ticket.body.contains("4.0.0"), "case-insensitive ticket search");
    let bad = browser.get("/releases?state=almost&service=Bad%20Name").await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("id=\"state-problem\"") && bad.body.contains("id=\"service-problem\""), "{}", bad.body);
    let like = browser.get("/releases?text=%25").await;
    assert!(!like.body.contains("4.0.0"), "a % in the text is a character, not a wildcard");
}

#[tokio::test]
async fn the_audit_log_filters_reports_bad_filters_and_verifies_for_admins_only() {
    let app = app_with_password().await;
    let mut browser = Browser::new(&app);
    browser.sign_in("admin", PASSWORD).await;
    let mine = browser.get("/audit?actor=admin&action=user.sign_in").await;
    assert_eq!(mine.status, 200, "{}", mine.body);
    assert!(mine.body.contains("user.sign_in") && !mine.body.contains("signing_key.enroll"), "{}", mine.body);
    let bad = browser.get("/audit?action=nonsense&from=yesterday").await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("id=\"action-problem\"") && bad.body.contains("id=\"from-problem\""), "{}", bad.body);
    let page = browser.get("/audit").await;
    assert!(page.body.contains("id=\"verify-chain\""), "an admin may verify");
    let verified = browser.post("/audit/verify", &[("csrf", &page.csrf())]).await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert!(verified.body.contains("id=\"verify-result\"") && verified.body.contains("badge-ok"), "{}", verified.body);
    let forged = browser.post("/audit/verify", &[("csrf", "wrong")]).await;
    assert_eq!(forged.status, 403);

    app.post("/api/v1/users", json!({ "name": "vera", "roles": ["viewer"] })).await;
    let token = app.post("/api/v1/tokens", json!({ "user": "vera", "description": "browser" })).await;
    let secret = token.body["secret"].as_str().expect("a secret").to_owned();
    let mut viewer = Browser::new(&app);
    let login = viewer.get("/login").await;
    viewer.post("/login/token", &[("token", &secret), ("csrf", &login.csrf())]).await;
    let page = viewer.get("/audit").await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("id=\"verify-chain\""), "a viewer is offered no verification");
    let refused = viewer.post("/audit/verify", &[("csrf", &page.csrf())]).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
}

#[tokio::test]
async fn a_single_sign_on_callback_not_begun_in_this_browser_is_refused() {
    let app = spawn_app().await;
    let before = app.app.row_counts().await;
    let mut browser = Browser::new(&app);
    let callback = browser.get("/login/sso/callback?state=forged&code=stolen").await;
    assert_eq!(callback.status, 400, "{}", callback.body);
    assert!(callback.body.contains("not started in this browser"), "{}", callback.body);
    assert!(!browser.cookies.contains_key("tollgate_session"));
    let unconfigured = browser.get("/login/sso").await;
    assert_eq!(unconfigured.status, 404, "{}", unconfigured.body);
    assert_eq!(app.app.row_counts().await, before, "nothing changed");
}

#[tokio::test]
async fn the_calendar_shows_a_month_and_a_week_explains_each_period_and_escapes_names() {
    let app = app_with_password().await;
    with_catalog(&app).await;
    let window = json!({
        "name": "Weekday <b>window</b>", "kind": "window", "scope": "environment:prod", "tzid": "Europe/Berlin",
        "start": "2026-03-02T10:00", "length": "PT6H", "rule": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH"
    });
    let freeze = json!({
        "name": "Quarter close", "kind": "freeze", "scope": "environment:prod", "tzid": "America/New_York",
        "start": "2026-03-30", "length": "P3D"
    });
    assert_eq!(app.put("/api/v1/calendar/periods/weekdays", window).await.status, 201);
    assert_eq!(app.put("/api/v1/calendar/periods/quarter-close", freeze).await.status, 201);
    // Tuesday 31 March 2026, inside the freeze.
    app.app.clock.set("2026-03-31T12:00:00Z".parse().expect("a time"));
    let mut browser = Browser::new(&app);
    browser.sign_in("admin", PASSWORD).await;

    let month = browser.get("/calendar").await;
    assert_eq!(month.status, 200, "{}", month.body);
    assert!(month.body.contains("March 2026"), "the month of now");
    assert!(month.body.contains("Weekday &#60;b&#62;window&#60;/b&#62;"), "the name is escaped");
    assert!(!month.body.contains("<b>window</b>"));
    assert!(month.body.contains("10:00–16:00 Europe/Berlin"), "wall-clock times in the period's zone");
    assert!(month.body.contains("Mar 30 00:00 – Apr 02 00:00 America/New_York"), "{}", month.body);
    let prod = month.body.split("<th scope=\"row\">prod</th>").nth(1).expect("prod's window state");
    let prod = prod.split("</tr>").next().expect("its row");
    assert!(prod.contains("closed") && prod.contains("Quarter close"), "{prod}");
    assert!(month.body.contains("/api/v1/calendar/export.ics"), "the subscription address");

    let week = browser.get("/calendar?week=2026-03-25&environment=prod").await;
    assert_eq!(week.status, 200);
    assert!(week.body.contains("Week of 2026-03-23"), "the week holding the date, from its Monday");
    // 29 March is the spring change in Berlin: the window's UTC hours move, its wall clock does not.
    assert!(
        week.body.contains("RRULE FREQ=WEEKLY;BYDAY=MO,TU,WE,TH, in Europe/Berlin; 2026-03-26 09:00:00 UTC"),
        "{}",
        week.body
    );
    assert!(week.body.contains("/api/v1/calendar/export.ics?environment=prod"));

    let bad = browser.get("/calendar?month=March").await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("month: &#34;March&#34; is not a month like 2026-03"), "{}", bad.body);
    let unknown = browser.get("/calendar?environment=moon").await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn change_pages_show_risk_and_conflicts_and_a_verdict_is_a_form_the_author_cannot_use() {
    let app = app_with_password().await;
    with_catalog(&app).await;
    app.app.clock.set("2026-03-02T09:00:00Z".parse().expect("a time"));
    crate::ready_release(&app, "1.0.0").await;
    for environment in ["dev", "staging"] {
        let body = json!({ "release": "1.0.0", "environment": environment, "status": "succeeded" });
        assert_eq!(app.post("/api/v1/deployments", body).await.status, 201);
    }
    let freeze = json!({
        "name": "Close <of> quarter", "kind": "freeze", "scope": "environment:prod",
        "tzid": "Europe/Berlin", "start": "2026-03-02T14:00", "length": "PT2H"
    });
    assert_eq!(app.put("/api/v1/calendar/periods/quarter-close", freeze).await.status, 201);
    let author = crate::author_token(&app).await;
    let change = json!({
        "release": "1.0.0", "environment": "prod", "justification": "ship <b>it</b>",
        "rollback_plan": "redeploy", "planned_start": "2026-03-02T10:00:00Z", "planned_end": "2026-03-02T14:00:00Z"
    });
    let created = app.call_as(&author, reqwest::Method::POST, "/api/v1/changes", Some(change)).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let submitted = app.call_as(&author, reqwest::Method::POST, "/api/v1/changes/1/submit", None).await;
    assert_eq!(submitted.status, 200, "{:?}", submitted.body);

    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in("admin", PASSWORD).await.status, 303);
    let list = browser.get("/changes").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("<a href=\"/changes/1\">1</a>"), "{}", list.body);
    let page = browser.get("/changes/1").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"risk-factors\""), "every factor is shown");
    assert!(page.body.contains("ship &#60;b&#62;it&#60;/b&#62;"), "text is escaped: {}", page.body);
    assert!(page.body.contains("deny_period</span> freeze &#34;Close &#60;of&#62; quarter&#34;"), "{}", page.body);
    let train = json!({
        "tzid": "Europe/Berlin", "first_departure": "2026-03-03T10:00", "rule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
        "length": "PT4H", "cutoff": "P3D", "freeze": "P1D"
    });
    assert_eq!(app.put("/api/v1/trains/fortnightly", train).await.status, 200);
    let calendar = browser.get("/calendar?month=2026-03&environment=prod").await;
    assert!(calendar.body.contains("period-train"), "the train's departures are on the calendar");
    assert!(calendar.body.contains("Train fortnightly departs"), "{}", calendar.body);
    assert!(calendar.body.contains("period-conflict"), "the conflicting change is highlighted");
    assert!(calendar.body.contains("<a href=\"/changes/1\">Change 1: 1.0.0 into prod</a>"), "{}", calendar.body);

    // A forged form changes nothing; the admin's verdict is recorded through the form.
    let before = app.app.row_counts().await;
    let forged = browser.post("/changes/1/actions", &[("csrf", "f00d"), ("action", "approve")]).await;
    assert_eq!(forged.status, 403);
    assert_eq!(app.app.row_counts().await, before);
    let approved =
        browser.post("/changes/1/actions", &[("csrf", &page.csrf()), ("action", "approve"), ("comment", "fine")]).await;
    assert_eq!((approved.status, approved.location()), (303, "/changes/1"), "{}", approved.body);
    let page = browser.get("/changes/1").await;
    assert!(page.body.contains("admin approves at 2026-03-02 09:00:00 UTC: fine"), "{}", page.body);

    // The author signs in and may not approve: the refusal is shown beside the form.
    let mut rita = Browser::new(&app);
    let login = rita.get("/login").await;
    assert_eq!(rita.post("/login/token", &[("token", &author), ("csrf", &login.csrf())]).await.status, 303);
    let own = rita.get("/changes/1").await;
    // The change still waits for a verdict, so the form is there; the service refuses it.
    assert!(own.body.contains("name=\"action\" value=\"approve\""), "{}", own.body);
    let refused = rita.post("/changes/1/actions", &[("csrf", &own.csrf()), ("action", "approve")]).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("sod.no_self_approval"), "{}", refused.body);
    let agenda = browser.get("/changes/agenda").await;
    assert_eq!(agenda.status, 200);
    let on_agenda = agenda.body.contains("href=\"/changes/1\"");
    assert_eq!(on_agenda, page.body.contains("route cab"), "the agenda lists exactly the CAB's changes");
}
