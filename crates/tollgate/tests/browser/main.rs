//! Browser tests: the built `tollgate demo` driven through its web UI in a real headless Chromium
//! (Debian's `chromium` and `chromium-driver`, through WebDriver), with axe-core checking each
//! page. Screenshots of each page go to `<target dir>/browser-screenshots/<test>/` (or
//! `$TOLLGATE_TEST_SCREENSHOTS/<test>/`). Without Chromium, chromedriver or axe-core a test is
//! skipped with a message, except with `CI=true`, where it fails. A test that fails prints the
//! commands of the demo and of chromedriver with their output.

mod browser;
mod checks;
mod demo;
mod process;
mod tools;

use crate::browser::Browser;
use crate::demo::Demo;
use crate::tools::Tools;

/// One test's world: the demo server, a browser, and the temporary directory both live in.
pub struct Session {
    pub demo: Demo,
    pub browser: Browser,
    // Dropped last: the processes above are gone before their directory is removed.
    _dir: tempfile::TempDir,
}

impl Session {
    /// Starts the demo and a browser for `test`, or `None` when the tools are missing (outside CI).
    pub async fn start(test: &str) -> anyhow::Result<Option<Session>> {
        let Some(tools) = Tools::find(test) else { return Ok(None) };
        let dir = tempfile::Builder::new().prefix("tollgate-browser-").tempdir()?;
        // Chromium starts while the demo records its data.
        let starting_demo = Demo::spawn(dir.path())?;
        let mut browser = Browser::start(&tools, dir.path(), test).await?;
        let demo = starting_demo.ready()?;
        browser.base_url = demo.url.clone();
        Ok(Some(Session { demo, browser, _dir: dir }))
    }

    /// Ends the browser and the demo quietly: the test passed.
    pub async fn finish(mut self) -> anyhow::Result<()> {
        self.demo.process.finish();
        self.browser.close().await
    }
}
