//! Headless Chromium through chromedriver (fantoccini), with what every page is checked for:
//! a full-page screenshot, axe-core, a `<main>` landmark, a label on every form control, and
//! every link, button and field reachable with the Tab key.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context as _;
use fantoccini::actions::{InputSource as _, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::process::Process;
use crate::tools::Tools;

/// The laptop screen the issue names.
const WIDTH: u32 = 1366;
const HEIGHT: u32 = 768;
/// Tab presses sent in one WebDriver request.
const TAB_BATCH: u64 = 20;
/// A screenshot stops at this height; longer pages are cut.
const MAX_SCREENSHOT_HEIGHT: u32 = 8000;

/// One Chromium, driven by its own chromedriver.
pub struct Browser {
    pub client: Client,
    pub driver: Process,
    /// The server the paths of [`Browser::goto`] are on.
    pub base_url: String,
    screenshots: PathBuf,
    axe_source: String,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and a headless Chromium session through it,
    /// with its profile under `dir`. Screenshots go to the directory for `test`.
    pub async fn start(tools: &Tools, dir: &Path, test: &str) -> anyhow::Result<Browser> {
        let mut command = Command::new(&tools.chromedriver);
        command.arg("--port=0").env("TMPDIR", dir).env("HOME", dir);
        let mut driver = Process::spawn(command)?;
        let port: u16 = driver.wait_for_line(Duration::from_secs(30), |line| {
            line.strip_prefix("ChromeDriver was started successfully on port ")?.trim_end_matches('.').parse().ok()
        })?;
        let profile = dir.join("chromium-profile");
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": tools.chromium,
                "args": [
                    "--headless=new",
                    // The tests run as root in a container, where Chromium's sandbox cannot start.
                    "--no-sandbox",
                    "--disable-dev-shm-usage",
                    "--disable-gpu",
                    "--no-first-run",
                    "--disable-extensions",
                    "--lang=en-US",
                    format!("--window-size={WIDTH},{HEIGHT}"),
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        });
        let Value::Object(capabilities) = capabilities else { unreachable!("a JSON object literal") };
        // Last run's screenshots of this test would pass for this run's.
        let screenshots = screenshot_dir(test);
        if screenshots.exists() {
            std::fs::remove_dir_all(&screenshots).with_context(|| format!("clearing {}", screenshots.display()))?;
        }
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .context("starting a Chromium session")?;
        Ok(Browser { client, driver, base_url: String::new(), screenshots, axe_source: tools.axe_source.clone() })
    }

    /// Ends the session and Chromium; the test finished.
    pub async fn close(mut self) -> anyhow::Result<()> {
        self.driver.finish();
        self.client.close().await.context("closing the browser session")
    }

    /// Opens `path` (`/releases`) on the server.
    pub async fn goto(&self, path: &str) -> anyhow::Result<()> {
        self.client.goto(&format!("{}{path}", self.base_url)).await.with_context(|| format!("opening {path}"))
    }

    /// The path (and query) of the current page.
    pub async fn path(&self) -> anyhow::Result<String> {
        let url = self.client.current_url().await.context("reading the current address")?;
        Ok(match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        })
    }

    /// The visible text of the page.
    pub async fn text(&self) -> anyhow::Result<String> {
        self.client.find(Locator::Css("body")).await.context("finding the body")?.text().await.context("reading text")
    }

    /// Types `value` into the field matched by the CSS `selector`.
    pub async fn fill(&self, selector: &str, value: &str) -> anyhow::Result<()> {
        let field = self.client.find(Locator::Css(selector)).await.with_context(|| format!("finding {selector}"))?;
        field.clear().await.with_context(|| format!("clearing {selector}"))?;
        field.send_keys(value).await.with_context(|| format!("typing into {selector}"))
    }

    /// Clicks the element matched by the CSS `selector`.
    pub async fn click(&self, selector: &str) -> anyhow::Result<()> {
        let element = self.client.find(Locator::Css(selector)).await.with_context(|| format!("finding {selector}"))?;
        element.click().await.with_context(|| format!("clicking {selector}"))
    }

    /// The attribute `name` of the element matched by the CSS `selector` (empty when unset).
    pub async fn attribute(&self, selector: &str, name: &str) -> anyhow::Result<String> {
        let element = self.client.find(Locator::Css(selector)).await.with_context(|| format!("finding {selector}"))?;
        let value = element.attr(name).await.with_context(|| format!("reading {name} of {selector}"))?;
        Ok(value.unwrap_or_default())
    }

    /// The text of the element matched by the CSS `selector`.
    pub async fn text_of(&self, selector: &str) -> anyhow::Result<String> {
        let element = self.client.find(Locator::Css(selector)).await.with_context(|| format!("finding {selector}"))?;
        element.text().await.with_context(|| format!("reading the text of {selector}"))
    }

    /// Clicks the submit button matched by the CSS `selector` and waits for the page the
    /// server answers with (the same address too, for a refusal).
    pub async fn submit(&self, selector: &str) -> anyhow::Result<()> {
        // The old document is marked; the answer is a new document without the mark.
        self.client
            .execute("document.documentElement.dataset.tollgateSubmitted = 'yes';", vec![])
            .await
            .context("marking the page")?;
        self.click(selector).await?;
        self.client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css("html:not([data-tollgate-submitted])"))
            .await
            .with_context(|| format!("waiting for the answer to {selector}"))?;
        Ok(())
    }

    /// How many elements match the CSS `selector`.
    pub async fn count(&self, selector: &str) -> anyhow::Result<usize> {
        let found =
            self.client.find_all(Locator::Css(selector)).await.with_context(|| format!("finding {selector}"))?;
        Ok(found.len())
    }

    /// The value of the named cookie, if the browser holds it.
    pub async fn cookie(&self, name: &str) -> anyhow::Result<Option<String>> {
        let cookies = self.client.get_all_cookies().await.context("reading cookies")?;
        Ok(cookies.into_iter().find(|cookie| cookie.name() == name).map(|cookie| cookie.value().to_owned()))
    }

    /// Every check a page gets, after a screenshot named `page`: axe-core, landmarks and labels,
    /// and keyboard reach. All problems are reported together.
    pub async fn check_page(&self, page: &str) -> anyhow::Result<()> {
        // A live region swapped in the middle of the checks would replace elements already
        // judged; the page is held still while it is looked at.
        self.client.execute(HOLD_STILL, vec![]).await.context("pausing live updates")?;
        self.screenshot(page).await?;
        let mut problems = self.axe(page).await?;
        problems.extend(self.structure().await?);
        problems.extend(self.keyboard().await?);
        anyhow::ensure!(problems.is_empty(), "page {page} ({}):\n{}", self.path().await?, problems.join("\n"));
        Ok(())
    }

    /// Saves a screenshot of the whole page as `<page>.png`.
    pub async fn screenshot(&self, page: &str) -> anyhow::Result<PathBuf> {
        let height = self.client.execute(PAGE_HEIGHT, vec![]).await.context("measuring the page")?;
        let height = height.as_u64().and_then(|height| u32::try_from(height).ok()).unwrap_or(HEIGHT);
        let height = height.clamp(HEIGHT, MAX_SCREENSHOT_HEIGHT);
        self.client.set_window_size(WIDTH, height).await.context("growing the window to the page")?;
        let png = self.client.screenshot().await.context("taking a screenshot");
        self.client.set_window_size(WIDTH, HEIGHT).await.context("restoring the window")?;
        std::fs::create_dir_all(&self.screenshots)
            .with_context(|| format!("creating {}", self.screenshots.display()))?;
        let path = self.screenshots.join(format!("{page}.png"));
        std::fs::write(&path, png?).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    /// Runs axe-core on the page: its serious and critical violations, one line each.
    pub async fn axe(&self, page: &str) -> anyhow::Result<Vec<String>> {
        let loaded = self.client.execute("return typeof window.axe === 'object';", vec![]).await?;
        if loaded != Value::Bool(true) {
            self.client.execute(&self.axe_source, vec![]).await.context("injecting axe-core")?;
        }
        let answer = self.client.execute_async(AXE_RUN, vec![]).await.context("running axe-core")?;
        let violations: Vec<Value> = match answer {
            Value::Array(violations) => violations,
            other => anyhow::bail!("axe-core failed on {page}: {other}"),
        };
        let mut problems = Vec::new();
        for violation in &violations {
            let impact = violation["impact"].as_str().unwrap_or("unknown");
            let line = format!(
                "axe {} ({impact}): {}; nodes: {}",
                violation["id"].as_str().unwrap_or("?"),
                violation["help"].as_str().unwrap_or("?"),
                violation["nodes"]
                    .as_array()
                    .map(|nodes| nodes.iter().map(|node| node["target"].to_string()).collect::<Vec<_>>().join(", "))
                    .unwrap_or_default(),
            );
            if matches!(impact, "serious" | "critical") {
                problems.push(line);
            } else {
                eprintln!("note on {page}: {line}");
            }
        }
        Ok(problems)
    }

    /// A `<main>` landmark, and a label for every form control.
    async fn structure(&self) -> anyhow::Result<Vec<String>> {
        let answer = self.client.execute(STRUCTURE, vec![]).await.context("checking landmarks and labels")?;
        Ok(strings(answer))
    }

    /// Presses Tab through the page and lists every link, button or field focus never reached,
    /// and every one taken out of the tab order.
    pub async fn keyboard(&self) -> anyhow::Result<Vec<String>> {
        let n_targets = self.client.execute(FOCUS_TRACK, vec![]).await.context("tracking focus")?;
        let n_targets = n_targets.as_u64().unwrap_or(0);
        // Some fields take several presses (a date input stops at day, month and year), and the
        // browser has stops of its own; a page whose targets are all reachable is done long
        // before this bound.
        let max_presses = 3 * n_targets + 30;
        let mut pressed = 0;
        loop {
            let mut keys = KeyActions::new("keyboard".to_owned());
            for _ in 0..TAB_BATCH {
                keys = keys
                    .then(KeyAction::Down { value: Key::Tab.into() })
                    .then(KeyAction::Up { value: Key::Tab.into() });
            }
            self.client.perform_actions(keys).await.context("pressing Tab")?;
            pressed += TAB_BATCH;
            let answer = self.client.execute(FOCUS_MISSED, vec![]).await.context("reading what focus reached")?;
            let missed = strings(answer);
            if missed.is_empty() || pressed >= max_presses {
                return Ok(missed);
            }
        }
    }
}

/// `$CARGO_TARGET_DIR/browser-screenshots/<test>`, or `$TOLLGATE_TEST_SCREENSHOTS/<test>`.
fn screenshot_dir(test: &str) -> PathBuf {
    let root = match std::env::var_os("TOLLGATE_TEST_SCREENSHOTS") {
        Some(root) => PathBuf::from(root),
        None => {
            // The binary is `<target dir>/<profile>/tollgate`.
            let binary = Path::new(env!("CARGO_BIN_EXE_tollgate"));
            let target = binary.ancestors().nth(2).unwrap_or(Path::new("."));
            target.join("browser-screenshots")
        }
    };
    root.join(test)
}

fn strings(answer: Value) -> Vec<String> {
    match answer {
        Value::Array(values) => values.into_iter().map(|value| value.as_str().unwrap_or_default().to_owned()).collect(),
        other => vec![format!("unexpected answer from the page: {other}")],
    }
}

const PAGE_HEIGHT: &str = "return Math.ceil(Math.max(document.documentElement.scrollHeight, \
     document.body ? document.body.scrollHeight : 0) + (window.outerHeight - window.innerHeight));";

/// Cancels every htmx request from now on (live updates) until the next page load.
const HOLD_STILL: &str =
    r##"document.addEventListener("htmx:beforeRequest", (event) => event.preventDefault(), true);"##;

const AXE_RUN: &str = r##"
const done = arguments[arguments.length - 1];
axe.run(document, { resultTypes: ["violations"] })
  .then((results) => done(results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((node) => ({ target: node.target })) }))))
  .catch((error) => done({ error: String(error) }));
"##;

/// What Tab should reach: visible, enabled links, buttons and fields.
macro_rules! focus_targets {
    () => {
        r##"
const native = "a[href], button, input:not([type=hidden]), select, textarea, summary, [contenteditable=true]";
const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
const targets = [...document.querySelectorAll(native)].filter((el) => visible(el) && !el.disabled && !el.closest("[inert]"));
"##
    };
}

/// Records every element that gets focus from now on; answers how many targets there are.
const FOCUS_TRACK: &str = concat!(
    focus_targets!(),
    r##"
window.__tollgateFocused = new Set();
document.addEventListener("focusin", (event) => window.__tollgateFocused.add(event.target), true);
if (document.activeElement) document.activeElement.blur();
return targets.length;
"##
);

/// Every target focus has not reached (a radio group counts once), and every one taken out of the
/// tab order.
const FOCUS_MISSED: &str = concat!(
    focus_targets!(),
    r##"
const describe = (el) => {
  const text = (el.getAttribute("aria-label") || el.textContent || el.value || "").trim().replace(/\s+/g, " ");
  return `<${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}${el.name ? " name=" + el.name : ""}> ${text.slice(0, 60)}`;
};
const focused = window.__tollgateFocused || new Set();
const radioKey = (el) => (el.form ? el.form.action : "") + "|" + el.name;
const radioGroupsReached = new Set([...focused].filter((el) => el.type === "radio").map(radioKey));
const problems = [];
for (const el of targets) {
  if (el.tabIndex < 0) { problems.push(`taken out of the tab order (tabindex ${el.tabIndex}): ${describe(el)}`); continue; }
  if (focused.has(el)) continue;
  if (el.type === "radio" && radioGroupsReached.has(radioKey(el))) continue;
  problems.push(`not reached with Tab: ${describe(el)}`);
}
return problems;
"##
);

const STRUCTURE: &str = r##"
const problems = [];
const mains = document.querySelectorAll("main, [role=main]");
if (mains.length !== 1) problems.push(`expected one <main> landmark, found ${mains.length}`);
for (const el of document.querySelectorAll("input:not([type=hidden]):not([type=submit]):not([type=button]):not([type=reset]), select, textarea")) {
  const labelled = el.labels.length > 0 || el.hasAttribute("aria-label") || el.hasAttribute("aria-labelledby") || el.title;
  if (!labelled) problems.push(`form control without a label: <${el.tagName.toLowerCase()} name=${el.name}>`);
}
return problems;
"##;
