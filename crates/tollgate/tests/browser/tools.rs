//! What the browser tests need besides the built binary: Debian's Chromium and chromedriver, and
//! axe-core from `node_modules` beside this file (`npm ci`). `.ci/run` installs all three. When
//! one is missing a test is skipped with a message saying how to install it, except in CI
//! (`CI=true`), where that is a failure.

use std::path::{Path, PathBuf};

/// Paths of the tools, all present.
pub struct Tools {
    pub chromium: PathBuf,
    pub chromedriver: PathBuf,
    /// The source of `axe.min.js`, injected into each page.
    pub axe_source: String,
}

impl Tools {
    /// The tools, or `None` (with a message on stderr) when one is missing outside CI.
    ///
    /// # Panics
    /// When one is missing and `CI=true`.
    pub fn find(test: &str) -> Option<Tools> {
        match Tools::locate() {
            Ok(tools) => Some(tools),
            Err(missing) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("the browser tests need {missing}; with CI=true they do not skip")
            }
            Err(missing) => {
                eprintln!("skipping browser test {test}: it needs {missing}; bash .ci/run installs it");
                None
            }
        }
    }

    fn locate() -> Result<Tools, String> {
        let chromium = executable(&["chromium", "chromium-browser"])
            .ok_or("Chromium (apt-get install chromium chromium-driver)")?;
        let chromedriver =
            executable(&["chromedriver"]).ok_or("chromedriver (apt-get install chromium chromium-driver)")?;
        let axe_path = axe_path();
        let axe_source = std::fs::read_to_string(&axe_path)
            .map_err(|_| format!("axe-core at {} (npm ci --prefix {})", axe_path.display(), package_dir().display()))?;
        Ok(Tools { chromium, chromedriver, axe_source })
    }
}

/// The npm package that pins axe-core.
fn package_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

fn axe_path() -> PathBuf {
    package_dir().join("node_modules/axe-core/axe.min.js")
}

/// The first of `names` found as an executable file in `/usr/bin` or on `PATH`.
fn executable(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let directories: Vec<PathBuf> =
        std::iter::once(PathBuf::from("/usr/bin")).chain(std::env::split_paths(&path)).collect();
    names.iter().flat_map(|name| directories.iter().map(move |directory| directory.join(name))).find(|candidate| {
        use std::os::unix::fs::PermissionsExt as _;
        candidate.metadata().is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
    })
}
