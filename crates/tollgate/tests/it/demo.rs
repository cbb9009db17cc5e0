use crate::{run, tollgate};

#[test]
fn the_demo_rolls_out_for_real_records_releases_through_every_environment_stops_at_a_freeze_and_verifies_the_audit_log()
{
    let dir = tempfile::tempdir().expect("a temporary directory");
    let ran = run(tollgate(dir.path()).args(["demo", "--exit"])).success();
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"http://127\.0\.0\.1:\d+", "http://[address]");
    settings.add_filter(r"data in \S+", "data in [dir]");
    settings.add_filter(r"tg_[0-9a-f]{64}", "[token]");
    settings.add_filter(r"password [A-Za-z0-9]{16,}\)", "password [password])");
    settings.add_filter(r"signing key [0-9a-f]{16}", "signing key [key id]");
    settings.add_filter(r"sha256:[0-9a-f]{64}", "[digest]");
    settings.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[time]");
    settings.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?", "[local time]");
    settings.add_filter(r"three hours from \d\d:\d\d UTC", "three hours from [hh:mm] UTC");
    // How nginx spread a canary's requests is its own business; that both versions answered is
    // the demo's promise.
    settings.add_filter(r"\d+ × ", "[n] × ");
    for weight in ["10", "50"] {
        let line =
            ran.stdout.lines().find(|line| line.contains(&format!("prod canary at {weight}%"))).unwrap_or_default();
        assert!(line.contains("storefront 2.0.0") && line.contains("storefront 2.1.0"), "{}", ran.stdout);
    }
    settings.bind(|| insta::assert_snapshot!(ran.stdout));
}
