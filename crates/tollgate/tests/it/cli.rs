use std::os::unix::fs::PermissionsExt;

use crate::{run, tollgate, Server};

#[test]
fn apply_plans_then_applies_and_a_second_run_changes_nothing() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = Server::start(dir.path());
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/tollgate.yaml");
    std::fs::copy(example, dir.path().join("tollgate.yaml")).expect("the example copies");

    let dry = run(server.cli().args(["apply", "--dry-run"])).success();
    assert!(dry.stdout.contains("dry run: nothing was changed"), "{}", dry.stdout);
    let services = run(server.cli().args(["service", "list"])).success();
    assert!(!services.stdout.contains("ledger"), "a dry run creates nothing");

    let first = run(server.cli().args(["apply", "-f", "tollgate.yaml"])).success();
    assert!(first.stdout.contains("applied: 9 created, 0 updated, 0 unchanged"), "{}", first.stdout);
    let second = run(server.cli().arg("apply")).success();
    assert!(second.stdout.contains("nothing to change"), "{}", second.stdout);
    let audit = run(server.cli().args(["audit", "list", "--limit", "1000", "--output", "json"])).success();
    let entries: serde_json::Value = serde_json::from_str(&audit.stdout).expect("json");
    assert_eq!(
        entries.as_array().map(Vec::len),
        Some(13),
        "the root key's enrollment, bootstrap (3: the admin, its token, its web UI password) and 9 creations (8 objects, the gate policy); the second apply wrote nothing"
    );
}

#[test]
fn audit_search_filters_pages_and_names_every_bad_filter() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = Server::start(dir.path());
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/tollgate.yaml");
    run(server.cli().args(["apply", "-f", example])).success();

    let first = run(server.cli().args(["audit", "search", "--action", "service.create", "--limit", "2"])).success();
    let next = run(server.cli().args(["audit", "search", "--action", "service.create", "--before", "11"])).success();
    let one = run(server.cli().args(["audit", "search", "--object", "service/ledger", "--output", "json"])).success();
    let one: serde_json::Value = serde_json::from_str(&one.stdout).expect("json");
    let objects: Vec<&serde_json::Value> =
        one["items"].as_array().expect("items").iter().map(|i| &i["entry"]["object"]).collect();
    assert_eq!(objects, [&serde_json::json!({ "kind": "service", "id": "ledger" })], "{one}");
    assert_eq!(one["next_before"], serde_json::Value::Null);
    let refused =
        run(server.cli().args(["audit", "search", "--actor", "Ana", "--object", "rocket", "--to", "now"])).failure();
    let out_of_range = run(server.cli().args(["audit", "search", "--limit", "101"])).failure();

    redacted(|| {
        insta::assert_snapshot!(first.stdout, @r#"
         SEQ  AT                    ACTOR  ACTION          OBJECT        CHANGE
         12   [time]  admin  service.create  checkout-web  -
         11   [time]  admin  service.create  payments-api  -
        more entries: --before 11
        "#);
        insta::assert_snapshot!(next.stdout, @r#"
        SEQ  AT                    ACTOR  ACTION          OBJECT  CHANGE
        10   [time]  admin  service.create  ledger  -
        "#);
        insta::assert_snapshot!(refused.stderr, @r#"
        error: validation_failed (422):
          actor: "Ana" is neither a user name nor @system
          object_kind: "rocket" is not one of team, user, token, service, environment, lifecycle, release, deployment, artifact, trusted_key, evidence, retention_policy, legal_hold, signing_key, policy, gate_decision, gate_override, jit_grant, authz_policy, authz_decision, login, sso, calendar_period, change_request, change_policy, train, lease, run, deployment_step, quarantine
          to: "now" is not an RFC 3339 timestamp
        "#);
        insta::assert_snapshot!(out_of_range.stderr, @r#"
        error: invalid_query (400): Failed to deserialize query string: limit: 101 is out of range: it must be from 1 to 100
        "#);
    });
}

#[test]
fn apply_names_file_line_and_key_of_every_problem_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = Server::start(dir.path());
    std::fs::write(
        dir.path().join("tollgate.yaml"),
        "teams:\n  - name: payments\nservices:\n  - name: ledger\n    ownr: payments\n  - name: api\n    owner: 12\n",
    )
    .expect("written");
    let bad_keys = run(server.cli().arg("apply")).failure();
    insta::assert_snapshot!(bad_keys.stderr, @r#"
    error: tollgate.yaml:4:5: services[0]: missing key "owner"
    tollgate.yaml:5:5: services[0]: unknown key "ownr" (expected one of: name, owner, criticality, depends_on, description, labels, deploy)
    tollgate.yaml:7:12: services[1].owner: expected a string, found a number (quote it to use it as text)
    "#);

    std::fs::write(
        dir.path().join("tollgate.yaml"),
        "teams:\n  - name: payments\nservices:\n  - name: ledger\n    owner: payments\n    depends_on: [postgres]\n  - name: api\n    owner: checkout\n",
    )
    .expect("written");
    let dangling = run(server.cli().arg("apply")).failure();
    insta::assert_snapshot!(dangling.stderr, @r#"
    error: tollgate.yaml:6:18: services[0].depends_on[0]: service "postgres" does not exist
    tollgate.yaml:8:12: services[1].owner: team "checkout" does not exist
    "#);
    let teams = run(server.cli().args(["team", "list", "--output", "json"])).success();
    assert_eq!(teams.stdout.trim(), "[]", "a refused apply writes nothing");
}

#[test]
fn apply_locates_every_problem_of_an_sso_section_then_installs_it() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = Server::start(dir.path());
    let section = "sso:\n  issuer: http://login.example.com\n  client_id: tollgate\n  client_secret_env: TOLLGATE_SSO_SECRET\n  redirect_url: https://tollgate.example.com/login/sso/callback\n  roles:\n    admins: [admin, root]\n";
    std::fs::write(dir.path().join("tollgate.yaml"), section).expect("written");
    let refused = run(server.cli().arg("apply")).failure();
    insta::assert_snapshot!(refused.stderr, @r#"
    error: tollgate.yaml:2:11: sso.issuer: "http://login.example.com" is plain http on a host that is not loopback; use https
    tollgate.yaml:7:21: sso.roles.admins[1]: "root" is not one of viewer, auditor, developer, release_manager, approver, deployer, admin, member
    "#);
    let fixed = section.replace("http://login", "https://login").replace(", root", "");
    std::fs::write(dir.path().join("tollgate.yaml"), fixed).expect("written");
    let applied = run(server.cli().arg("apply")).success();
    insta::assert_snapshot!(applied.stdout, @"
     OP      KIND  NAME  CHANGES
     create  sso   sso   -
    applied: 1 created, 0 updated, 0 unchanged
    ");
}

#[test]
fn a_release_goes_from_the_cli_to_the_register_and_the_export_verifies_offline() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut server = Server::start(dir.path());
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/tollgate.yaml");
    run(server.cli().args(["apply", "-f", example])).success();
    // A build output, signed offline with a freshly generated key the server is told to trust.
    std::fs::write(dir.path().join("ledger.tar"), b"ledger 4.0.0 build output\n".repeat(1000)).expect("written");
    run(server.cli().args(["key", "generate", "--out", "ci"])).success();
    let mode = std::fs::metadata(dir.path().join("ci.key")).expect("the private key exists").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    run(server.cli().args(["key", "add", "--name", "ci", "--team", "payments", "--public-key", "ci.pub"])).success();
    run(server.cli().args([
        "artifact",
        "sign",
        "ledger.tar",
        "--name",
        "ledger",
        "--key",
        "ci.key",
        "--commit",
        "abc123",
    ]))
    .success();
    let offline = run(server.cli().args([
        "artifact",
        "verify",
        "ledger.tar",
        "--name",
        "ledger",
        "--signature",
        "ledger.tar.dsse.json",
        "--public-key",
        "ci.pub",
    ]))
    .success();
    assert!(offline.stdout.starts_with("ok: ledger (sha256:"), "{}", offline.stdout);
    let pushed = run(server.cli().args([
        "artifact",
        "push",
        "ledger.tar",
        "--name",
        "ledger",
        "--version",
        "4.0.0",
        "--team",
        "payments",
        "--signature",
        "ledger.tar.dsse.json",
        "--output",
        "json",
    ]))
    .success();
    let pushed: serde_json::Value = serde_json::from_str(
        pushed.stdout.lines().take_while(|l| !l.starts_with("signature")).collect::<Vec<_>>().join("\n").as_str(),
    )
    .unwrap_or_else(|error| panic!("{error}: {}", pushed.stdout));
    let digest = pushed["digest"].as_str().expect("a digest").to_owned();
    run(server.cli().args(["artifact", "pull", "--name", "ledger", "--version", "4.0.0", "--file", "pulled.tar"]))
        .success();
    assert_eq!(
        std::fs::read(dir.path().join("pulled.tar")).expect("pulled"),
        std::fs::read(dir.path().join("ledger.tar")).expect("original")
    );
    // A member (developer and deployer) authors the release; the admin ships it.
    run(server.cli().args(["user", "create", "rita", "--role", "member"])).success();
    let issued = run(server.cli().args(["token", "create", "--user", "rita", "--output", "json"])).success();
    let issued: serde_json::Value = serde_json::from_str(&issued.stdout).expect("a token as JSON");
    let rita = issued["secret"].as_str().expect("a secret").to_owned();
    run(server
        .cli()
        .env("TOLLGATE_TOKEN", &rita)
        .args(["release", "create", "--version", "2.0.0", "--type", "major"])
        .args(["--artifact", &format!("ledger=ledger@4.0.0@{digest}"), "--include", "PAY-7=New fee model"]))
    .success();
    for verb in ["plan", "freeze"] {
        run(server.cli().args(["release", verb, "2.0.0"])).success();
    }
    // Why the author may not mark it ready, and who may.
    let check =
        ["authz", "check", "--principal", "rita", "--action", "release.mark_ready", "--resource", "2.0.0", "--explain"];
    let denied = run(server.cli().args(check)).failure();
    assert!(denied.stdout.starts_with("denied\n"), "{}", denied.stdout);
    assert!(
        denied.stdout.contains("forbid sod.author_does_not_ship_to_prod: the author of a release"),
        "{}",
        denied.stdout
    );
    let own = run(server.cli().env("TOLLGATE_TOKEN", &rita).args(["release", "ready", "2.0.0"])).failure();
    assert!(
        own.stderr.contains("forbidden (403)") && own.stderr.contains("sod.author_does_not_ship_to_prod"),
        "{}",
        own.stderr
    );
    run(server.cli().args(["release", "ready", "2.0.0"])).success();
    // A policy that does not match the schema is refused with its location; nothing is applied.
    std::fs::write(
        dir.path().join("bad.cedar"),
        "@id(\"x\")\npermit (principal, action, resource)\n  when { resource.colour };\n",
    )
    .expect("a policy file");
    let refused = run(server.cli().args(["authz", "policy", "apply", "bad.cedar"])).failure();
    assert!(refused.stderr.contains("bad.cedar:3:"), "{}", refused.stderr);
    let skipped =
        run(server.cli().args(["deployment", "record", "--release", "2.0.0", "--environment", "prod"])).failure();
    assert!(skipped.stderr.contains("release 2.0.0 has not succeeded in staging"), "{}", skipped.stderr);
    let record = |environment: &str| {
        let mut command = server.cli();
        command.args(["deployment", "record", "--release", "2.0.0", "--env", environment, "--status", "succeeded"]);
        command
    };
    // Staging's only gate warns: nothing to evaluate before deploying there.
    for environment in ["dev", "staging"] {
        run(&mut record(environment)).success();
    }
    // Prod's gates block until a decision passes for the release as it is.
    let unevaluated = run(&mut record("prod")).failure();
    assert!(
        unevaluated.stderr.contains("the gates of prod have not been evaluated for release 2.0.0"),
        "{}",
        unevaluated.stderr
    );
    let failing = run(server.cli().args(["gate", "evaluate", "--release", "2.0.0", "--env", "prod"])).failure();
    assert!(failing.stdout.contains("release 2.0.0 did not pass the gates of prod"), "{}", failing.stdout);
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../tollgate-evidence/tests/fixtures");
    for (kind, file) in [("junit", "nextest-tollgate-core.junit.xml"), ("cyclonedx", "tollgate.cdx.json")] {
        let path = format!("{fixtures}/{file}");
        run(server.cli().args(["evidence", "upload", &path, "--release", "2.0.0", "--kind", kind])).success();
    }
    let still = run(&mut record("prod")).failure();
    assert!(still.stderr.contains("no longer holds"), "{}", still.stderr);
    let passing =
        run(server.cli().args(["gate", "evaluate", "--release", "2.0.0", "--env", "prod", "--explain"])).success();
    assert!(passing.stdout.contains("release 2.0.0 passed the gates of prod"), "{}", passing.stdout);
    assert!(passing.stdout.contains("\"manifest_digest\""), "--explain shows the input: {}", passing.stdout);
    // Prod also needs an approved change request for exactly this content.
    let no_change = run(&mut record("prod")).failure();
    assert!(no_change.stderr.contains("change_required (409)"), "{}", no_change.stderr);
    // A CI job that deploys by itself asks first: refused, exit 1, every precondition shown.
    let asked = run(server.cli().args(["deployment", "check", "--release", "2.0.0", "--env", "prod"])).failure();
    assert!(asked.stdout.starts_with("release 2.0.0 into prod at "), "{}", asked.stdout);
    for line in ["  gates          ok", "  window         ok", "  change         REFUSED"] {
        assert!(asked.stdout.contains(line), "{line}: {}", asked.stdout);
    }
    assert!(asked.stdout.contains("needs an approved change request"), "{}", asked.stdout);
    let now = jiff::Timestamp::now();
    let (start, end) = (now - jiff::SignedDuration::from_hours(1), now + jiff::SignedDuration::from_hours(2));
    let requested = run(server
        .cli()
        .env("TOLLGATE_TOKEN", &rita)
        .args(["change", "request", "--release", "2.0.0", "--env", "prod", "--submit", "--output", "json"])
        .args(["--justification", "the new fee model", "--rollback-plan", "redeploy 1.x", "--ticket", "PAY-7"])
        .args(["--planned-start", &start.to_string(), "--planned-end", &end.to_string()]))
    .success();
    let requested: serde_json::Value = serde_json::from_str(&requested.stdout).expect("a change as JSON");
    assert_eq!(requested["change"]["state"], "assessing", "{requested}");
    let id = requested["change"]["id"].to_string();
    let own = run(server.cli().env("TOLLGATE_TOKEN", &rita).args(["change", "approve", &id])).failure();
    assert!(own.stderr.contains("sod.no_self_approval"), "{}", own.stderr);
    run(server.cli().args(["user", "create", "ana", "--role", "approver"])).success();
    let issued = run(server.cli().args(["token", "create", "--user", "ana", "--output", "json"])).success();
    let issued: serde_json::Value = serde_json::from_str(&issued.stdout).expect("a token as JSON");
    let ana = issued["secret"].as_str().expect("a secret").to_owned();
    let approved =
        run(server.cli().env("TOLLGATE_TOKEN", &ana).args(["change", "approve", &id, "--comment", "ok"])).success();
    assert!(approved.stdout.contains("approved"), "{}", approved.stdout);
    let explained = run(server.cli().args(["change", "show", &id, "--explain"])).success();
    for factor in ["blast_radius", "failure_rate", "environment_tier", "score = round(100"] {
        assert!(explained.stdout.contains(factor), "{factor}: {}", explained.stdout);
    }
    let asked =
        run(server.cli().args(["deployment", "check", "--release", "2.0.0", "--env", "prod", "--output", "json"]))
            .success();
    let asked: serde_json::Value = serde_json::from_str(&asked.stdout).expect("a check as JSON");
    assert_eq!(asked["allowed"], true, "{asked}");
    // It then holds prod under a lease while it deploys, and reports the outcome.
    let acquire = ["lease", "acquire", "--release", "2.0.0", "--env", "prod", "--ttl", "120"];
    let leased = run(server.cli().args(acquire).args(["--output", "json"])).success();
    let leased: serde_json::Value = serde_json::from_str(&leased.stdout).expect("a lease as JSON");
    assert_eq!(leased["deployment"]["status"], "running", "{leased}");
    let deployment = leased["deployment"]["id"].to_string();
    let epoch = leased["lease"]["epoch"].to_string();
    let held = run(server.cli().args(acquire)).failure();
    assert!(held.stderr.contains("lock: ledger in prod is locked"), "{}", held.stderr);
    assert!(held.stderr.contains(&format!("locked by deployment {deployment} of admin")), "{}", held.stderr);
    let wrong = run(server.cli().args(["lease", "renew", &deployment, "--epoch", "99"])).failure();
    assert!(wrong.stderr.contains("lease_lost (409)"), "{}", wrong.stderr);
    let renewed = run(server.cli().args(["lease", "renew", &deployment, "--epoch", &epoch])).success();
    assert!(renewed.stdout.contains("held"), "{}", renewed.stdout);
    let listed = run(server.cli().args(["lease", "list", "--env", "prod"])).success();
    assert!(listed.stdout.contains("api") || listed.stdout.contains("ledger"), "{}", listed.stdout);
    let reported =
        run(server.cli().args(["lease", "report", &deployment, "--epoch", &epoch, "--status", "succeeded"])).success();
    assert!(reported.stdout.contains("succeeded") && reported.stdout.contains("released"), "{}", reported.stdout);
    let listed = run(server.cli().args(["change", "list", "--env", "prod", "--output", "json"])).success();
    let listed: serde_json::Value = serde_json::from_str(&listed.stdout).expect("changes as JSON");
    assert_eq!(listed["items"][0]["state"], "implemented", "{listed}");
    let decisions = run(server.cli().args(["gate", "decisions", "--release", "2.0.0"])).success();
    assert_eq!(decisions.stdout.lines().filter(|line| line.contains(" prod ")).count(), 2, "{}", decisions.stdout);
    let register = run(server.cli().args(["register", "--environment", "prod", "--output", "json"])).success();
    let register: serde_json::Value = serde_json::from_str(&register.stdout).expect("json");
    assert_eq!(register["environments"][0]["services"][0]["version"], "4.0.0");
    let earlier = run(server.cli().args([
        "register",
        "--environment",
        "prod",
        "--at",
        "2020-01-01T00:00:00Z",
        "--output",
        "json",
    ]))
    .success();
    assert!(earlier.stdout.contains("\"services\": []"), "nothing ran in prod in 2020: {}", earlier.stdout);
    let show = run(server.cli().args(["release", "show", "2.0.0"])).success();
    assert!(show.stdout.contains("deployed"), "{}", show.stdout);

    let export = run(server.cli().args(["audit", "export"])).success();
    std::fs::write(dir.path().join("audit.jsonl"), &export.stdout).expect("written");
    let public_key = server.data_dir.join("audit-signing.pub");
    let offline =
        run(tollgate(dir.path()).args(["audit", "verify", "--file", "audit.jsonl", "--public-key"]).arg(&public_key))
            .success();
    assert!(offline.stdout.starts_with("ok: "), "{}", offline.stdout);
    let online = run(server.cli().args(["audit", "verify"])).success();
    assert!(online.stdout.starts_with("ok: "), "{}", online.stdout);

    // The bootstrap token file is private; the server verifies its own database after stopping.
    let mode =
        std::fs::metadata(server.data_dir.join("admin-token")).expect("the token file exists").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    server.stop();
    let local = run(tollgate(dir.path()).args(["audit", "verify", "--data-dir"]).arg(&server.data_dir)).success();
    // The shutdown checkpoint covers the head: no unsigned tail is reported.
    assert!(
        local.stdout.starts_with("ok: ") && local.stdout.contains(", 0 entries after the last checkpoint"),
        "{}",
        local.stdout
    );
}

#[test]
fn a_wrong_token_and_an_unreachable_server_are_clear_errors() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = Server::start(dir.path());
    let wrong =
        run(server.cli().env("TOLLGATE_TOKEN", format!("tg_{}", "1".repeat(64))).args(["team", "list"])).failure();
    assert_eq!(wrong.stderr.trim(), "error: unauthenticated (401): unknown token");
    let unreachable = run(tollgate(dir.path()).args(["--server", "http://127.0.0.1:9", "team", "list"])).failure();
    assert!(
        unreachable.stderr.starts_with("error: cannot reach the Tollgate server at http://127.0.0.1:9"),
        "{}",
        unreachable.stderr
    );
}

#[test]
fn completions_are_printed_for_bash() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let ran = run(tollgate(dir.path()).args(["completions", "bash"])).success();
    assert!(ran.stdout.contains("_tollgate()"), "{}", &ran.stdout[..200.min(ran.stdout.len())]);
}

#[test]
fn an_artifact_over_the_size_limit_is_refused_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = Server::start_with(dir.path(), &["--max-artifact-bytes", "1000"]);
    run(server.cli().args(["team", "create", "payments"])).success();
    std::fs::write(dir.path().join("small.bin"), vec![1u8; 1000]).expect("written");
    std::fs::write(dir.path().join("big.bin"), vec![2u8; 1001]).expect("written");
    run(server.cli().args([
        "artifact",
        "push",
        "small.bin",
        "--name",
        "small",
        "--version",
        "1",
        "--team",
        "payments",
    ]))
    .success();
    let refused = run(server.cli().args([
        "artifact",
        "push",
        "big.bin",
        "--name",
        "big",
        "--version",
        "1",
        "--team",
        "payments",
    ]))
    .failure();
    assert_eq!(
        refused.stderr.trim(),
        "error: content_too_large (413): the content is larger than the limit of 1000 bytes"
    );
    let listed = run(server.cli().args(["artifact", "list", "--output", "json"])).success();
    let listed: serde_json::Value = serde_json::from_str(&listed.stdout).expect("json");
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    let leftovers = std::fs::read_dir(server.data_dir.join("blobs/tmp")).expect("the temporary directory").count();
    assert_eq!(leftovers, 0, "the partial upload was removed");
}

/// Runs snapshot assertions with what changes from run to run redacted: digests, times, key ids.
fn redacted(assertions: impl FnOnce()) {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"sha256:[0-9a-f]{64}", "[digest]");
    settings.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[time]");
    settings.add_filter(r"\b[0-9a-f]{16}\b", "[key id]");
    settings.bind(assertions);
}

#[test]
fn tables_summarize_evidence_checks_audit_entries_and_garbage_collection() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = Server::start(dir.path());
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/tollgate.yaml");
    run(server.cli().args(["apply", "-f", example])).success();
    std::fs::write(dir.path().join("ledger.tar"), b"ledger 4.1.0\n".repeat(100)).expect("written");
    run(server.cli().args(["key", "generate", "--out", "ci"])).success();
    run(server.cli().args(["key", "add", "--name", "ci", "--team", "payments", "--public-key", "ci.pub"])).success();
    run(server.cli().args(["artifact", "sign", "ledger.tar", "--name", "ledger", "--key", "ci.key"])).success();
    let push = ["artifact", "push", "ledger.tar", "--name", "ledger", "--version", "4.1.0", "--team", "payments"];
    let pushed = run(server.cli().args(push).args(["--signature", "ledger.tar.dsse.json"])).success();
    let check = run(server.cli().args(["artifact", "check", "--name", "ledger", "--version", "4.1.0"])).success();
    run(server.cli().args(["release", "create", "--version", "2.1.0", "--type", "minor"]).args([
        "--artifact",
        &format!("ledger=ledger@4.1.0@{}", ledger_digest(&dir)),
        "--include",
        "PAY-8=Refund reasons",
    ]))
    .success();
    run(server.cli().args(["release", "plan", "2.1.0"])).success();
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../tollgate-evidence/tests/fixtures/");
    let mut uploads = Vec::new();
    for (kind, file) in [
        ("junit", "pytest-demo.junit.xml"),
        ("cobertura", "coveragepy-demo.cobertura.xml"),
        ("sarif", "demo.clippy.sarif"),
        ("cyclonedx", "tollgate.cdx.json"),
    ] {
        let path = format!("{fixtures}{file}");
        let args = ["evidence", "upload", &path, "--release", "2.1.0", "--kind", kind, "--service", "ledger"];
        uploads.push(run(server.cli().args(args)).success().stdout);
    }
    let evidence = run(server.cli().args(["evidence", "list", "--release", "2.1.0"])).success();
    let release = run(server.cli().args(["release", "show", "2.1.0"])).success();
    let audit = run(server.cli().args(["audit", "list", "--after", "10"])).success();
    let gc = run(server.cli().args(["artifact", "gc", "--dry-run"])).success();
    // The JSON output is the API's body: the stored facts, not their summary.
    let json = run(server.cli().args(["evidence", "list", "--release", "2.1.0", "--output", "json"])).success();
    let json: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!((&json[0]["facts"]["format_version"], &json[0]["facts"]["kind"]), (&1.into(), &"tests".into()));

    redacted(|| {
        insta::assert_snapshot!(pushed.stdout, @r"
         id          1
         name        ledger
         version     4.1.0
         team        payments
         digest      [digest]
         size        1.3 KiB (1300 bytes)
         media type  application/octet-stream
         repository  -
         commit      -
         build id    -
         builder     -
         tags        -
         created     [time] by admin
        signature by key [key id] (ci) attached
        ");
        insta::assert_snapshot!(check.stdout, @r"
        ledger@4.1.0 ([digest]): ok
        content: matches its digest
        signatures:
         KEY ID            VALID  SIGNER OR REASON
         [key id]  yes    ci
        ");
        insta::assert_snapshot!(uploads[0], @r"
        id       1
        release  1
        kind     junit
        service  ledger
        digest   [digest]
        size     1.1 KiB
        created  [time] by admin
        summary  5 tests: 3 passed, 1 failed, 1 skipped (98 ms)
        ");
        insta::assert_snapshot!(evidence.stdout, @r"
        ID  KIND       SERVICE  SUMMARY
        1   junit      ledger   5 tests: 3 passed, 1 failed, 1 skipped (98 ms)
        2   cobertura  ledger   lines 81.4% (22/27), branches 62.5% (5/8), 2 files
        3   sarif      ledger   6 findings: 1 error, 5 warnings (clippy)
        4   cyclonedx  ledger   274 components, no vulnerabilities, licenses: MIT OR Apache-2.0 (149), MIT (44), Apache-2.0 OR MIT (28) and 18 more
        ");
        insta::assert_snapshot!(release.stdout, @r"
         id                 1
         version            2.1.0
         type               minor
         strategy           big_bang
         state              planned
         next states        scope_frozen, cancelled
         lifecycle          default
         manifest digest    [digest]
         planned window     -
         scope freeze       -
         rollback criteria  -
         revision           2
         created            [time] by admin

        artifacts:
         SERVICE  ARTIFACT  VERSION  DIGEST
         ledger   ledger    4.1.0    [digest]

        scope:
         TICKET  TITLE           SHIPS
         PAY-8   Refund reasons  yes
        ");
        insta::assert_snapshot!(audit.stdout, @"
        SEQ  AT                    ACTOR  ACTION              OBJECT            CHANGE
        11   [time]  admin  service.create      payments-api      -
        12   [time]  admin  service.create      checkout-web      -
        13   [time]  admin  policy.create       gates             -
        14   [time]  admin  trusted_key.create  [key id]  -
        15   [time]  admin  artifact.create     ledger@4.1.0      -
        16   [time]  admin  artifact.sign       ledger@4.1.0      -
        17   [time]  admin  release.create      1                 -
        18   [time]  admin  release.transition  1                 revision: 1 -> 2; state: draft -> planned; updated_at changed
        19   [time]  admin  evidence.create     1                 -
        20   [time]  admin  evidence.create     2                 -
        21   [time]  admin  evidence.create     3                 -
        22   [time]  admin  evidence.create     4                 -
        ");
        insta::assert_snapshot!(gc.stdout, @r"
         ARTIFACT  VERSION  OUTCOME  REASONS
         ledger    4.1.0    keep     no retention policy covers it; referenced by open release 2.1.0

        1 kept, 0 to remove (dry run: nothing was changed)
        ");
    });
}

fn ledger_digest(dir: &tempfile::TempDir) -> String {
    let content = std::fs::read(dir.path().join("ledger.tar")).expect("the artifact exists");
    tollgate_core::digest::Sha256Digest::of(&content).to_string()
}

#[test]
fn policy_test_runs_the_users_rego_unit_tests_and_fails_when_one_fails() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).expect("created");
    std::fs::write(
        policies.join("owners.rego"),
        "package tollgate.gates.owners\n\nviolations contains {\"msg\": \"no owner\", \"data\": a.name} if {\n  some a in input.release.artifacts\n  not a.service\n}\n",
    )
    .expect("written");
    std::fs::write(
        policies.join("owners_test.rego"),
        "package tollgate.gates.owners_test\n\nimport data.tollgate.gates.owners\n\ntest_an_artifact_without_service_is_flagged if {\n  count(owners.violations) == 1 with input as {\"release\": {\"artifacts\": [{\"name\": \"x\"}]}}\n}\n\ntest_a_served_artifact_passes if {\n  count(owners.violations) == 0 with input as {\"release\": {\"artifacts\": [{\"name\": \"x\", \"service\": \"api\"}]}}\n}\n",
    )
    .expect("written");
    let passed = run(tollgate(dir.path()).args(["policy", "test", "policies"])).success();
    assert!(passed.stdout.contains("2 passed, 0 failed, 0 errored"), "{}", passed.stdout);
    std::fs::write(
        policies.join("wrong_test.rego"),
        "package tollgate.gates.wrong_test\n\nimport data.tollgate.gates.owners\n\ntest_wrong if {\n  count(owners.violations) == 5 with input as {\"release\": {\"artifacts\": []}}\n}\n",
    )
    .expect("written");
    let failed = run(tollgate(dir.path()).args(["policy", "test", "policies"])).failure();
    assert!(failed.stdout.contains("tollgate.gates.wrong_test.test_wrong: FAIL"), "{}", failed.stdout);
    std::fs::write(policies.join("broken.rego"), "package broken\n\nx := {\n").expect("written");
    let broken = run(tollgate(dir.path()).args(["policy", "test", "policies"])).failure();
    assert!(broken.stderr.contains("broken.rego:"), "a syntax error names its file and line: {}", broken.stderr);
}
