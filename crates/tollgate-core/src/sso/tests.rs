use super::*;

fn input() -> SsoInput {
    SsoInput {
        issuer: "https://login.example.com/realms/main".into(),
        client_id: "tollgate".into(),
        client_secret_env: "TOLLGATE_SSO_SECRET".into(),
        redirect_url: "https://tollgate.example.com/login/sso/callback".into(),
        username_claim: None,
        groups_claim: None,
        roles: SsoRolesInput {
            groups: vec![
                GroupRolesInput { group: "tollgate-admins".into(), roles: vec!["admin".into()] },
                GroupRolesInput { group: "staff".into(), roles: vec!["viewer".into(), "member".into()] },
            ],
        },
        scopes: Vec::new(),
    }
}

/// Parses `input` changed by `edit`, as the one-line messages of its violations or `ok`.
fn check(edit: impl FnOnce(&mut SsoInput), expected: &str) {
    let mut changed = input();
    edit(&mut changed);
    let outcome = match changed.parse() {
        Ok(_) => "ok".to_owned(),
        Err(violations) => violations.to_string(),
    };
    assert_eq!(outcome, expected);
}

#[test]
fn defaults_fill_the_claims_and_scopes_and_member_stands_for_two_roles() {
    let config = input().parse().expect("valid");
    assert_eq!(config.username_claim, "preferred_username");
    assert_eq!(config.groups_claim, "groups");
    assert_eq!(config.scopes, ["openid", "profile"]);
    assert_eq!(config.roles_for(["staff"]), BTreeSet::from([Role::Viewer, Role::Developer, Role::Deployer]));
    assert_eq!(
        config.roles_for(["tollgate-admins", "staff", "unknown"]),
        BTreeSet::from([Role::Viewer, Role::Developer, Role::Deployer, Role::Admin])
    );
    assert_eq!(config.roles_for(["unknown"]), BTreeSet::new());
}

#[test]
fn urls_are_https_or_loopback_http_and_the_redirect_is_the_callback() {
    check(|i| i.issuer = "http://127.0.0.1:4000".into(), "ok");
    check(|i| i.issuer = "http://localhost:4000/oidc".into(), "ok");
    check(|i| i.issuer = "http://[::1]:4000".into(), "ok");
    check(|i| i.issuer = "http://127.9.9.9".into(), "ok");
    check(
        |i| i.issuer = "http://login.example.com".into(),
        "issuer: \"http://login.example.com\" is plain http on a host that is not loopback; use https",
    );
    check(
        |i| i.issuer = "http://127.0.0.1.example.com".into(),
        "issuer: \"http://127.0.0.1.example.com\" is plain http on a host that is not loopback; use https",
    );
    check(|i| i.issuer = "ftp://x".into(), "issuer: \"ftp://x\" is not an https:// URL");
    check(|i| i.issuer = String::new(), "issuer: is required");
    check(
        |i| i.issuer = "https://login.example.com?tenant=1".into(),
        "issuer: \"https://login.example.com?tenant=1\" has a query; an issuer has none",
    );
    check(
        |i| i.issuer = "https://user:pw@login.example.com".into(),
        "issuer: \"https://user:pw@login.example.com\" has a user name or password; leave them out",
    );
    check(|i| i.issuer = "https://:443".into(), "issuer: \"https://:443\" has no valid host and port");
    check(|i| i.issuer = "https://h:99999".into(), "issuer: \"https://h:99999\" has no valid host and port");
    check(
        |i| i.issuer = "https://login example.com".into(),
        "issuer: \"https://login example.com\" is not a URL: spaces, control and non-ASCII characters must be escaped",
    );
    check(
        |i| i.redirect_url = "https://tollgate.example.com/callback".into(),
        "redirect_url: \"https://tollgate.example.com/callback\" is not the server's callback: its path ends with /login/sso/callback",
    );
    check(|i| i.redirect_url = "https://tollgate.example.com/tg/login/sso/callback".into(), "ok");
    check(
        |i| i.redirect_url = "https://tollgate.example.com/login/sso/callback#x".into(),
        "redirect_url: \"https://tollgate.example.com/login/sso/callback#x\" has a fragment (#...); leave it out",
    );
}

#[test]
fn every_field_is_checked_and_every_problem_reported() {
    check(
        |i| {
            i.client_id = " ".into();
            i.client_secret_env = "s3cr3t value".into();
            i.username_claim = Some(String::new());
            i.roles.groups[0].roles = vec!["root".into()];
            i.roles.groups[1].roles = Vec::new();
            i.scopes = vec!["profile".into(), "profile".into(), "a b".into()];
        },
        "client_id: is required; client_secret_env: \"s3cr3t value\" is not the name of an environment variable (letters, digits and '_', not starting with a digit); name the variable that holds the secret, never the secret itself; username_claim: is required; roles.tollgate-admins[0]: \"root\" is not one of viewer, auditor, developer, release_manager, approver, deployer, admin, member; roles.staff: give the group at least one role; scopes[1]: \"profile\" appears more than once; scopes[2]: \"a b\" is not a scope (1 to 255 visible ASCII characters)",
    );
    check(|i| i.roles.groups.clear(), "roles: map at least one group to roles, or nobody can sign in");
    check(|i| i.client_secret_env = "1ST".into(), "client_secret_env: \"1ST\" is not the name of an environment variable (letters, digits and '_', not starting with a digit); name the variable that holds the secret, never the secret itself");
}

#[test]
fn openid_is_asked_for_once_and_first() {
    let mut with_scopes = input();
    with_scopes.scopes = vec!["groups".into(), "openid".into(), "email".into()];
    assert_eq!(with_scopes.parse().expect("valid").scopes, ["openid", "groups", "email"]);
}

#[test]
fn claim_values_become_user_names_or_a_clear_refusal() {
    let name = |value: &str| user_name_from_claim(value).map(|n| n.to_string()).map_err(|p| p.to_string());
    assert_eq!(name("alice"), Ok("alice".to_owned()));
    assert_eq!(name("Dave.Smith@Example.COM"), Ok("dave-smith-example-com".to_owned()));
    assert_eq!(name("  -x--y- "), Ok("x-y".to_owned()));
    assert_eq!(
        name("★★★"),
        Err("\"★★★\" does not make a user name (1 to 63 letters and digits once lower-cased, other characters becoming '-')".to_owned())
    );
    assert!(name(&"a".repeat(64)).is_err());
}

#[test]
fn return_to_is_a_path_on_this_server() {
    for good in ["/", "/releases/1.4.0", "/audit?actor=ana&page=2"] {
        assert_eq!(check_return_to(good), Ok(()), "{good}");
    }
    for bad in ["https://evil.example", "//evil.example", "/\\evil.example", "releases", "/a b", "/a\\b", "/\n"] {
        assert!(check_return_to(bad).is_err(), "{bad}");
    }
    assert_eq!(check_return_to(&format!("/{}", "a".repeat(2048))), Err(Problem::TooLong { max: 2048 }));
}

#[test]
fn the_digest_changes_with_any_field_and_changed_fields_names_them() {
    let config = input().parse().expect("valid");
    let mut other = config.clone();
    other.roles.insert("ops".into(), BTreeSet::from([Role::Deployer]));
    other.client_id = "tollgate-2".into();
    assert_ne!(config.digest(), other.digest());
    assert_eq!(config.changed_fields(&other), ["client_id", "roles"]);
    assert_eq!(config.digest(), input().parse().expect("valid").digest());
}
