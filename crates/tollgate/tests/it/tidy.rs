//! Architecture guards: the dependency arrows of the workspace, and a pure core.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// Every workspace crate and the workspace crates it may depend on (normal dependencies).
const ALLOWED_ARROWS: &[(&str, &[&str])] = &[
    ("tollgate-core", &[]),
    ("tollgate-evidence", &["tollgate-core"]),
    ("tollgate-authz", &["tollgate-core"]),
    ("tollgate-calendar", &["tollgate-core"]),
    ("tollgate-config", &["tollgate-core"]),
    ("tollgate-policy", &["tollgate-core"]),
    ("tollgate-store", &["tollgate-core"]),
    (
        "tollgate-service",
        &[
            "tollgate-authz",
            "tollgate-calendar",
            "tollgate-core",
            "tollgate-evidence",
            "tollgate-policy",
            "tollgate-store",
        ],
    ),
    // Handlers see only core and service: no HTTP handler reaches into the store.
    ("tollgate-http", &["tollgate-core", "tollgate-service"]),
    // The engine, like the handlers, sees only core and service; it meets HTTP only in service.
    ("tollgate-worker", &["tollgate-core", "tollgate-service"]),
    (
        "tollgate",
        &[
            "tollgate-authz",
            "tollgate-calendar",
            "tollgate-config",
            "tollgate-core",
            "tollgate-evidence",
            "tollgate-http",
            "tollgate-policy",
            "tollgate-service",
            "tollgate-store",
            "tollgate-worker",
        ],
    ),
    ("tollgate-testkit", &["tollgate-core", "tollgate-store", "tollgate-service", "tollgate-http"]),
];

/// The only external crates the core may use: computation, no I/O, no clock, no randomness.
const CORE_DEPENDENCIES: &[&str] = &[
    "base64",
    "ed25519-dalek",
    "hex",
    "jiff",
    "regex",
    "semver",
    "serde",
    "serde_jcs",
    "serde_json",
    "sha2",
    "thiserror",
];

fn metadata() -> serde_json::Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON")
}

/// Normal (not dev) dependencies of each workspace package.
fn dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let metadata = metadata();
    let mut map = BTreeMap::new();
    for package in metadata["packages"].as_array().expect("packages") {
        let name = package["name"].as_str().expect("a name").to_owned();
        let deps = package["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            .filter(|dep| dep["kind"].is_null())
            .map(|dep| dep["name"].as_str().expect("a name").to_owned())
            .collect();
        map.insert(name, deps);
    }
    map
}

#[test]
fn workspace_arrows_point_only_downward() {
    let dependencies = dependencies();
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED_ARROWS.iter().copied().collect();
    for (package, deps) in &dependencies {
        let permitted = allowed
            .get(package.as_str())
            .unwrap_or_else(|| panic!("new crate {package}: add it to ALLOWED_ARROWS and ARCHITECTURE.md"));
        for dep in deps.iter().filter(|dep| dep.starts_with("tollgate")) {
            assert!(permitted.contains(&dep.as_str()), "{package} must not depend on {dep}");
        }
    }
}

#[test]
fn the_core_has_no_io_dependency() {
    let dependencies = dependencies();
    let core = &dependencies["tollgate-core"];
    let extra: Vec<&String> = core.iter().filter(|dep| !CORE_DEPENDENCIES.contains(&dep.as_str())).collect();
    assert!(extra.is_empty(), "tollgate-core gained dependencies {extra:?}; the core does no I/O");
}

/// The only external crates the authorization crate may use: Cedar, and miette for the
/// locations of Cedar's diagnostics.
const AUTHZ_DEPENDENCIES: &[&str] = &["cedar-policy", "miette", "tollgate-core"];

#[test]
fn the_authorization_crate_has_no_io_dependency() {
    let dependencies = dependencies();
    let authz = &dependencies["tollgate-authz"];
    let extra: Vec<&String> = authz.iter().filter(|dep| !AUTHZ_DEPENDENCIES.contains(&dep.as_str())).collect();
    assert!(extra.is_empty(), "tollgate-authz gained dependencies {extra:?}; it does no I/O");
}

#[test]
fn the_pure_crates_read_no_clock_files_network_environment_or_randomness() {
    let forbidden = [
        "std::fs",
        "std::net",
        "std::env",
        "std::time::SystemTime",
        "Timestamp::now",
        "thread_rng",
        "OsRng",
        "tokio",
        "println!",
    ];
    let mut offenders = Vec::new();
    // The pure crates: the core, the policy engine, the authorizer and the calendar, which must
    // stay deterministic.
    for krate in ["tollgate-core", "tollgate-policy", "tollgate-authz", "tollgate-calendar"] {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../{krate}/src"));
        visit(&source, &mut |path, text| {
            for needle in forbidden {
                if text.contains(needle) {
                    offenders.push(format!("{}: {needle}", path.display()));
                }
            }
        });
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}

fn visit(dir: &Path, check: &mut dyn FnMut(&Path, &str)) {
    for entry in std::fs::read_dir(dir).expect("a source directory") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            visit(&path, check);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            check(&path, &std::fs::read_to_string(&path).expect("a source file"));
        }
    }
}
