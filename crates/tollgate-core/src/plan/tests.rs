use super::*;

fn scalar(text: &str) -> Option<Scalar> {
    Some(Scalar(text.to_owned()))
}

fn exec(args: &[&str]) -> StepInput {
    StepInput { exec: args.iter().map(|arg| (*arg).to_owned()).collect(), ..StepInput::default() }
}

fn plan(steps: Vec<StepInput>) -> DeployInput {
    DeployInput { tiers: vec![TierInput { name: "app".to_owned(), steps }], ..DeployInput::default() }
}

/// Parses `input` and returns the violations as text, one per line, or "ok".
fn check(input: DeployInput, expected: &str) {
    let found = match input.parse() {
        Ok(_) => "ok".to_owned(),
        Err(violations) => violations.0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"),
    };
    assert_eq!(found, expected);
}

#[test]
fn a_plan_of_each_step_kind_parses_with_its_defaults() {
    let input = DeployInput {
        tiers: vec![
            TierInput {
                name: "migrate".to_owned(),
                steps: vec![exec(&["./migrate", "--to", "{{ release.version }}"])],
            },
            TierInput {
                name: "app".to_owned(),
                steps: vec![
                    StepInput {
                        health: Some(HealthStepInput { tcp: Some("127.0.0.1:8080".to_owned()), ..Default::default() }),
                        ..StepInput::default()
                    },
                    StepInput {
                        http: Some(HttpStepInput {
                            method: Some("POST".to_owned()),
                            url: "http://x".to_owned(),
                            ..Default::default()
                        }),
                        ..StepInput::default()
                    },
                    StepInput { wait: Some("2m".to_owned()), ..StepInput::default() },
                ],
            },
        ],
        ..DeployInput::default()
    };
    let plan = input.parse().expect("valid");
    let summary: Vec<String> = plan
        .steps()
        .map(|(tier, step)| {
            format!(
                "{}/{} {} timeout={} retries={} idempotent={}",
                tier.name,
                step.name,
                step.action.kind(),
                step.timeout,
                step.retries,
                step.idempotent
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            "migrate/exec-1 exec timeout=10m retries=0 idempotent=false",
            "app/health-1 health timeout=10m retries=0 idempotent=true",
            "app/http-2 http timeout=30s retries=0 idempotent=false",
            "app/wait-3 wait timeout=3m retries=0 idempotent=true",
        ]
    );
}

#[test]
fn every_problem_of_a_plan_is_reported_with_its_path() {
    check(DeployInput::default(), "tiers: is required");
    check(
        plan(vec![StepInput::default()]),
        "tiers[0].steps[0]: a step needs one of exec, http, health, wait or manual",
    );
    check(
        plan(vec![StepInput { wait: Some("1s".to_owned()), ..exec(&["true"]) }]),
        "tiers[0].steps[0]: a step does one thing, but exec and wait are given",
    );
    check(
        plan(vec![StepInput {
            timeout: Some("ten".to_owned()),
            retries: scalar("11"),
            idempotent: scalar("yes"),
            ..exec(&["true"])
        }]),
        "tiers[0].steps[0].timeout: \"ten\" is not a duration (a whole number followed by ms, s, m or h, at most 24h)\n\
         tiers[0].steps[0].retries: \"11\" is not a whole number from 0 to 10\n\
         tiers[0].steps[0].idempotent: \"yes\" is not true or false",
    );
    check(
        plan(vec![
            StepInput { name: Some("a".to_owned()), ..exec(&["true"]) },
            StepInput { name: Some("a".to_owned()), ..exec(&["false"]) },
        ]),
        "tiers[0].steps[1].name: \"a\" appears more than once",
    );
    check(
        plan(vec![StepInput { env: Some(serde_json::json!({"1BAD": "x"})), ..exec(&["true"]) }]),
        "tiers[0].steps[0].env.1BAD: \"1BAD\" is not an environment variable name",
    );
    check(
        plan(vec![StepInput {
            wait: Some("25h".to_owned()),
            working_dir: Some("/tmp".to_owned()),
            ..StepInput::default()
        }]),
        "tiers[0].steps[0].working_dir: only an exec step takes working_dir\n\
         tiers[0].steps[0].wait: \"25h\" is not a duration (a whole number followed by ms, s, m or h, at most 24h)",
    );
    check(
        plan(vec![StepInput { health: Some(HealthStepInput::default()), ..StepInput::default() }]),
        "tiers[0].steps[0].health: a health step probes one of http (a URL) or tcp (host:port)",
    );
    check(
        DeployInput {
            secrets: vec![SecretInput { name: "token".to_owned(), ..SecretInput::default() }],
            variables: Some(serde_json::json!({"Prod": {"port": 1}})),
            ..plan(vec![exec(&["true"])])
        },
        "variables.Prod: \"Prod\" is not a valid name (1 to 63 lower-case letters, digits or dashes, starting with a letter or digit)\n\
         secrets[0]: a secret comes from one of env (a variable of the server) or file (a path)",
    );
    check(
        plan(vec![
            StepInput {
                manual: Some(ManualStepInput { prompt: " ".to_owned(), default: Some("maybe".to_owned()) }),
                ..StepInput::default()
            },
            StepInput {
                manual: Some(ManualStepInput { prompt: "Canary healthy?".to_owned(), default: None }),
                retries: scalar("1"),
                ..StepInput::default()
            },
        ]),
        "tiers[0].steps[0].manual.prompt: is required\n\
         tiers[0].steps[0].manual.default: \"maybe\" is not one of approve, reject\n\
         tiers[0].steps[1].retries: a manual step is judged once, not retried",
    );
    check(
        DeployInput {
            rollback: vec![StepInput { reversible: scalar("maybe"), ..exec(&["./restore"]) }, StepInput::default()],
            on_failure: Some(OnFailureInput {
                rollback: Some("later".to_owned()),
                quarantine: Some("sometimes".to_owned()),
            }),
            ..plan(vec![exec(&["true"])])
        },
        "rollback[0].reversible: \"maybe\" is not true or false\n\
         rollback[1]: a step needs one of exec, http, health, wait or manual\n\
         on_failure.rollback: \"later\" is not one of automatic, manual\n\
         on_failure.quarantine: \"sometimes\" is not one of always, on_rollback_failure, never",
    );
}

#[test]
fn durations_parse_whole_units_up_to_a_day() {
    let parse = |value: &str| StepDuration::parse(value).map(|duration| duration.millis()).ok();
    assert_eq!(parse("500ms"), Some(500));
    assert_eq!(parse("30s"), Some(30_000));
    assert_eq!(parse("2m"), Some(120_000));
    assert_eq!(parse("24h"), Some(86_400_000));
    assert_eq!(parse("25h"), None);
    assert_eq!(parse("1.5s"), None);
    assert_eq!(parse("-1s"), None);
    assert_eq!(parse("s"), None);
    assert_eq!(parse("99999999999999999999h"), None);
    assert_eq!(StepDuration::from_millis(90_000).to_string(), "90s");
}

#[test]
fn variables_accept_numbers_and_booleans_as_text() {
    let input = DeployInput {
        variables: Some(serde_json::json!({"staging": {"port": 8081, "debug": true, "host": "127.0.0.1"}})),
        ..plan(vec![exec(&["true"])])
    };
    let plan = input.parse().expect("valid");
    let staging = plan.variables_for(&EnvironmentName::parse("staging").expect("name"));
    assert_eq!(staging.get("port").map(String::as_str), Some("8081"));
    assert_eq!(staging.get("debug").map(String::as_str), Some("true"));
}

#[test]
fn a_stored_plan_typed_again_parses_to_itself() {
    let input = DeployInput {
        tiers: vec![
            TierInput {
                name: "migrate".to_owned(),
                steps: vec![StepInput {
                    env: Some(serde_json::json!({"DB": "{{ secrets.db }}"})),
                    working_dir: Some("/srv".to_owned()),
                    retries: scalar("2"),
                    backoff: Some("500ms".to_owned()),
                    ..exec(&["./migrate", "--to", "{{ release.version }}"])
                }],
            },
            TierInput {
                name: "app".to_owned(),
                steps: vec![
                    StepInput {
                        health: Some(HealthStepInput {
                            http: Some("http://127.0.0.1:{{ vars.port }}/health".to_owned()),
                            interval: Some("250ms".to_owned()),
                            successes: scalar("2"),
                            ..Default::default()
                        }),
                        ..StepInput::default()
                    },
                    StepInput {
                        http: Some(HttpStepInput {
                            method: Some("PUT".to_owned()),
                            url: "http://x/y".to_owned(),
                            body: Some("{}".to_owned()),
                            expect_status: scalar("204"),
                            expect_body: None,
                        }),
                        idempotent: scalar("true"),
                        ..StepInput::default()
                    },
                    StepInput { wait: Some("90s".to_owned()), ..StepInput::default() },
                    StepInput {
                        manual: Some(ManualStepInput { prompt: "Go?".to_owned(), default: Some("approve".to_owned()) }),
                        timeout: Some("15m".to_owned()),
                        ..StepInput::default()
                    },
                ],
            },
        ],
        variables: Some(serde_json::json!({"staging": {"port": 8081}})),
        secrets: vec![
            SecretInput { name: "db".to_owned(), env: Some("DB_PASSWORD".to_owned()), file: None },
            SecretInput { name: "key".to_owned(), env: None, file: Some("/run/key".to_owned()) },
        ],
        rollback: vec![StepInput { reversible: scalar("false"), ..exec(&["./restore", "{{ deployment.id }}"]) }],
        on_failure: Some(OnFailureInput { rollback: Some("manual".to_owned()), quarantine: Some("never".to_owned()) }),
        ..DeployInput::default()
    };
    let plan = input.parse().expect("valid");
    let again = DeployInput::from(plan.clone()).parse().expect("still valid");
    assert_eq!(again, plan);
}
