use super::*;
use crate::plan::{DeployInput, StepInput, TierInput};

fn scalar(text: &str) -> Scalar {
    Scalar(text.to_owned())
}

fn exec_per_target(name: &str) -> StepInput {
    StepInput {
        name: Some(name.to_owned()),
        exec: vec!["./deploy".to_owned(), "{{ target.address }}".to_owned()],
        per_target: Some(scalar("true")),
        ..StepInput::default()
    }
}

fn once(name: &str) -> StepInput {
    StepInput { name: Some(name.to_owned()), exec: vec!["./migrate".to_owned()], ..StepInput::default() }
}

fn target(name: &str, environment: &str, port: u16, group: Option<&str>) -> TargetInput {
    TargetInput {
        name: name.to_owned(),
        environment: environment.to_owned(),
        address: format!("127.0.0.1:{port}"),
        group: group.map(str::to_owned),
        labels: None,
    }
}

fn nginx() -> TrafficInput {
    TrafficInput {
        nginx: Some(NginxInput {
            upstream: "web".to_owned(),
            file: "/etc/nginx/web.conf".to_owned(),
            ..NginxInput::default()
        }),
        command: Vec::new(),
    }
}

fn two_groups() -> Vec<TargetInput> {
    vec![
        target("blue-1", "prod", 8081, Some("blue")),
        target("blue-2", "prod", 8082, Some("blue")),
        target("green-1", "prod", 8091, Some("green")),
        target("green-2", "prod", 8092, Some("green")),
    ]
}

fn input(strategy: StrategyInput, targets: Vec<TargetInput>, traffic: Option<TrafficInput>) -> DeployInput {
    DeployInput {
        tiers: vec![
            TierInput { name: "migrate".to_owned(), steps: vec![once("schema")] },
            TierInput { name: "app".to_owned(), steps: vec![exec_per_target("install")] },
        ],
        rollback: vec![StepInput { name: Some("stop".to_owned()), ..exec_per_target("stop") }],
        verify: vec![StepInput { name: Some("probe".to_owned()), wait: Some("1s".to_owned()), ..StepInput::default() }],
        targets,
        strategy: Some(strategy),
        traffic,
        ..DeployInput::default()
    }
}

/// Expands `plan` for prod, with `live` as the service's last traffic split there, and prints
/// each step as `phase tier/name@target` plus a traffic shift's weights.
fn check(plan: DeployInput, live: Option<(&str, u32)>, expected: &str) {
    let plan = plan.parse().expect("a valid plan");
    let service = ServiceName::parse("web").expect("valid");
    let environment = EnvironmentName::parse("prod").expect("valid");
    let version = semver::Version::new(2, 0, 0);
    let mut splits = BTreeMap::new();
    if let Some((group, weight)) = live {
        let share = GroupShare {
            group: GroupName::parse(group).expect("valid"),
            weight,
            release: Some(ReleaseId(1)),
            version: Some(semver::Version::new(1, 0, 0)),
        };
        splits.insert(service.clone(), vec![share]);
    }
    let rollout = Rollout { environment: &environment, release: ReleaseId(2), version: &version, live: &splits };
    let found = match expand_plan(&service, &plan, &rollout) {
        Ok((deploy, rollback)) => deploy.iter().chain(&rollback).map(describe).collect::<Vec<_>>().join("\n"),
        Err(error) => error.to_string(),
    };
    assert_eq!(found, expected.trim());
}

fn describe(step: &NewStep) -> String {
    let target = step.target.as_ref().map(|target| format!("@{}", target.name)).unwrap_or_default();
    let mut line = format!("{} {}/{}{target}", step.phase, step.tier, step.spec.name);
    if let StepAction::Traffic(shift) = &step.spec.action {
        let servers: Vec<String> =
            shift.servers.iter().map(|server| format!("{}={}", server.target, server.weight)).collect();
        let shares: Vec<String> = shift
            .shares
            .iter()
            .map(|share| {
                let version = share.version.as_ref().map_or("-".to_owned(), ToString::to_string);
                format!("{}:{}%:{version}", share.group, share.weight)
            })
            .collect();
        line.push_str(&format!(" [{}] {}", servers.join(" "), shares.join(" ")));
    }
    line
}

fn violations(plan: DeployInput) -> String {
    match plan.parse() {
        Ok(_) => "ok".to_owned(),
        Err(violations) => violations.0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"),
    }
}

#[test]
fn all_at_once_runs_each_per_target_step_for_every_target_of_the_environment() {
    let targets = vec![
        target("web-1", "prod", 8081, None),
        target("web-2", "prod", 8082, None),
        target("web-9", "staging", 9, None),
    ];
    let strategy = StrategyInput { all_at_once: Some(serde_json::json!({})), ..StrategyInput::default() };
    check(
        input(strategy, targets, None),
        None,
        "
deploy migrate/schema
deploy app/install@web-1
deploy app/install@web-2
deploy verify/probe
rollback rollback/stop@web-1
rollback rollback/stop@web-2",
    );
}

#[test]
fn a_per_target_step_with_no_target_in_the_environment_is_refused() {
    let targets = vec![target("web-9", "staging", 9, None)];
    check(
        input(StrategyInput::default(), targets, None).with_strategy(None),
        None,
        "service web runs steps per target, but its plan declares no targets in environment prod",
    );
}

#[test]
fn rolling_takes_each_batch_out_of_traffic_while_it_is_updated() {
    let targets = (1..=5).map(|n| target(&format!("web-{n}"), "prod", 8080 + n, None)).collect();
    let strategy = StrategyInput {
        rolling: Some(RollingInput { batch: Some(scalar("40%")), max_unavailable: Some(scalar("3")) }),
        ..StrategyInput::default()
    };
    check(
        input(strategy, targets, Some(nginx())),
        None,
        "
deploy migrate/schema
deploy batch-1/drain [web-1=0 web-2=0 web-3=1 web-4=1 web-5=1] 
deploy app/install@web-1
deploy app/install@web-2
deploy batch-1/probe
deploy batch-1/restore [web-1=1 web-2=1 web-3=1 web-4=1 web-5=1] 
deploy batch-2/drain [web-1=1 web-2=1 web-3=0 web-4=0 web-5=1] 
deploy app/install@web-3
deploy app/install@web-4
deploy batch-2/probe
deploy batch-2/restore [web-1=1 web-2=1 web-3=1 web-4=1 web-5=1] 
deploy batch-3/drain [web-1=1 web-2=1 web-3=1 web-4=1 web-5=0] 
deploy app/install@web-5
deploy batch-3/probe
deploy batch-3/restore [web-1=1 web-2=1 web-3=1 web-4=1 web-5=1] 
rollback rollback/restore [web-1=1 web-2=1 web-3=1 web-4=1 web-5=1] 
rollback rollback/stop@web-1
rollback rollback/stop@web-2
rollback rollback/stop@web-3
rollback rollback/stop@web-4
rollback rollback/stop@web-5",
    );
}

#[test]
fn max_unavailable_caps_the_batch() {
    let targets = (1..=3).map(|n| target(&format!("web-{n}"), "prod", 8080 + n, None)).collect();
    let strategy = StrategyInput {
        rolling: Some(RollingInput { batch: Some(scalar("100%")), max_unavailable: Some(scalar("1")) }),
        ..StrategyInput::default()
    };
    let plan = input(strategy, targets, None);
    check(
        plan,
        None,
        "
deploy migrate/schema
deploy app/install@web-1
deploy batch-1/probe
deploy app/install@web-2
deploy batch-2/probe
deploy app/install@web-3
deploy batch-3/probe
rollback rollback/stop@web-1
rollback rollback/stop@web-2
rollback rollback/stop@web-3",
    );
}

#[test]
fn a_first_blue_green_deployment_goes_to_the_first_group_and_has_nothing_to_switch_back_to() {
    let strategy = StrategyInput { blue_green: Some(serde_json::json!({})), ..StrategyInput::default() };
    check(
        input(strategy, two_groups(), Some(nginx())),
        None,
        "
deploy migrate/schema
deploy app/install@blue-1
deploy app/install@blue-2
deploy switch/shift [blue-1=1 blue-2=1 green-1=0 green-2=0] blue:100%:2.0.0 green:0%:-
deploy switch/probe
rollback rollback/stop@blue-1
rollback rollback/stop@blue-2",
    );
}

#[test]
fn blue_green_deploys_to_the_idle_group_and_switches_back_on_rollback() {
    let strategy = StrategyInput { blue_green: Some(serde_json::json!({})), ..StrategyInput::default() };
    check(
        input(strategy, two_groups(), Some(nginx())),
        Some(("blue", 100)),
        "
deploy migrate/schema
deploy app/install@green-1
deploy app/install@green-2
deploy switch/shift [blue-1=0 blue-2=0 green-1=1 green-2=1] green:100%:2.0.0 blue:0%:1.0.0
deploy switch/probe
rollback rollback/switch-back [blue-1=1 blue-2=1 green-1=0 green-2=0] green:0%:- blue:100%:1.0.0
rollback rollback/stop@green-1
rollback rollback/stop@green-2",
    );
}

#[test]
fn a_canary_moves_traffic_by_its_weights_with_a_pause_and_verification_after_each() {
    let strategy = StrategyInput {
        canary: Some(CanaryInput {
            weights: vec![scalar("10"), scalar("50"), scalar("100")],
            pause: Some("30s".to_owned()),
        }),
        ..StrategyInput::default()
    };
    let targets = vec![
        target("stable-1", "prod", 8081, Some("stable")),
        target("stable-2", "prod", 8082, Some("stable")),
        target("stable-3", "prod", 8083, Some("stable")),
        target("canary-1", "prod", 8091, Some("canary")),
    ];
    check(
        input(strategy, targets, Some(nginx())),
        Some(("stable", 100)),
        "
deploy migrate/schema
deploy app/install@canary-1
deploy canary-10/shift [stable-1=3 stable-2=3 stable-3=3 canary-1=1] canary:10%:2.0.0 stable:90%:1.0.0
deploy canary-10/pause
deploy canary-10/probe
deploy canary-50/shift [stable-1=1 stable-2=1 stable-3=1 canary-1=3] canary:50%:2.0.0 stable:50%:1.0.0
deploy canary-50/pause
deploy canary-50/probe
deploy canary-100/shift [stable-1=0 stable-2=0 stable-3=0 canary-1=1] canary:100%:2.0.0 stable:0%:1.0.0
deploy canary-100/probe
rollback rollback/switch-back [stable-1=1 stable-2=1 stable-3=1 canary-1=0] canary:0%:- stable:100%:1.0.0
rollback rollback/stop@canary-1",
    );
}

#[test]
fn a_first_canary_has_nothing_to_compare_with_and_switches_at_once() {
    let strategy = StrategyInput {
        canary: Some(CanaryInput { weights: vec![scalar("10"), scalar("100")], pause: None }),
        ..StrategyInput::default()
    };
    check(
        input(strategy, two_groups(), Some(nginx())),
        None,
        "
deploy migrate/schema
deploy app/install@blue-1
deploy app/install@blue-2
deploy switch/shift [blue-1=1 blue-2=1 green-1=0 green-2=0] blue:100%:2.0.0 green:0%:-
deploy switch/probe
rollback rollback/stop@blue-1
rollback rollback/stop@blue-2",
    );
}

#[test]
fn the_nginx_upstream_gives_each_server_its_weight_and_marks_those_out_of_traffic_down() {
    let shift = TrafficShift {
        provider: TrafficProvider::Command { program: "x".to_owned(), args: Vec::new() },
        servers: vec![
            TrafficServer {
                target: TargetName::parse("blue-1").expect("valid"),
                address: "127.0.0.1:8081".to_owned(),
                group: None,
                weight: 3,
            },
            TrafficServer {
                target: TargetName::parse("green-1").expect("valid"),
                address: "127.0.0.1:8091".to_owned(),
                group: None,
                weight: 0,
            },
        ],
        shares: Vec::new(),
    };
    insta::assert_snapshot!(nginx_upstream("web", &shift, "deployment 7"), @r"
    # deployment 7
    upstream web {
        server 127.0.0.1:8081 weight=3; # blue-1
        server 127.0.0.1:8091 down; # green-1
    }
    ");
}

#[test]
fn server_weights_keep_each_groups_share_whatever_its_size() {
    for (a, n_a, b, n_b, expected) in [
        (100, 2, 0, 2, (1, 0)),
        (0, 2, 100, 2, (0, 1)),
        (10, 1, 90, 3, (1, 3)),
        (50, 1, 50, 3, (3, 1)),
        (25, 2, 75, 2, (1, 3)),
        (5, 1, 95, 1, (1, 19)),
    ] {
        assert_eq!(server_weights(a, n_a, b, n_b), expected, "{a}% over {n_a}, {b}% over {n_b}");
    }
}

#[test]
fn a_plan_that_cannot_be_rolled_out_is_refused_with_every_reason() {
    let strategy = StrategyInput {
        canary: Some(CanaryInput { weights: vec![scalar("10"), scalar("50")], pause: Some("forever".to_owned()) }),
        ..StrategyInput::default()
    };
    let mut targets = two_groups();
    targets.push(target("red-1", "prod", 8071, Some("red")));
    targets.push(target("blue-1", "prod", 8072, Some("blue")));
    targets.push(target("bad", "prod", 0, None));
    assert_eq!(
        violations(input(strategy, targets, None)),
        "\
targets[5].name: \"blue-1\" appears more than once
targets[6].address: \"127.0.0.1:0\" is not an address (host:port)
strategy.canary.weights: from 1 to 20 rising percentages, the last of them 100"
    );
    let strategy = StrategyInput { blue_green: Some(serde_json::json!({})), ..StrategyInput::default() };
    let targets = vec![target("web-1", "prod", 8081, Some("blue")), target("web-2", "prod", 8082, None)];
    assert_eq!(
        violations(input(strategy, targets, None)),
        "\
traffic: a blue_green strategy moves traffic, so the plan needs a traffic provider
targets: a blue_green strategy moves traffic between two weight groups, but the targets in prod are in no group, blue"
    );
    let two = StrategyInput {
        rolling: Some(RollingInput { batch: Some(scalar("0")), max_unavailable: None }),
        blue_green: Some(serde_json::json!({})),
        ..StrategyInput::default()
    };
    assert_eq!(
        violations(input(two, Vec::new(), None)),
        "strategy: a plan has one strategy, but rolling and blue_green are given"
    );
}

#[test]
fn a_plan_with_a_rollout_survives_the_round_trip_through_its_input() {
    let strategy = StrategyInput {
        canary: Some(CanaryInput { weights: vec![scalar("5"), scalar("100")], pause: Some("2m".to_owned()) }),
        ..StrategyInput::default()
    };
    let plan = input(strategy, two_groups(), Some(nginx())).parse().expect("valid");
    let again = DeployInput::from(plan.clone()).parse().expect("valid again");
    assert_eq!(again, plan);
}

#[test]
fn the_live_group_is_the_one_with_most_traffic() {
    let share = |group: &str, weight| GroupShare {
        group: GroupName::parse(group).expect("valid"),
        weight,
        release: None,
        version: None,
    };
    let shares = vec![share("blue", 25), share("green", 75)];
    assert_eq!(live_group(&shares).map(|share| share.group.as_str()), Some("green"));
    let even = vec![share("blue", 50), share("green", 50)];
    assert_eq!(live_group(&even).map(|share| share.group.as_str()), Some("blue"));
    assert_eq!(live_group(&[share("blue", 0)]), None);
}

impl DeployInput {
    fn with_strategy(self, strategy: Option<StrategyInput>) -> DeployInput {
        DeployInput { strategy, ..self }
    }
}

#[test]
fn an_environment_may_have_a_strategy_of_its_own() {
    let canary = StrategyInput {
        canary: Some(CanaryInput { weights: vec![scalar("50"), scalar("100")], pause: None }),
        ..StrategyInput::default()
    };
    let mut plan = input(canary, two_groups(), Some(nginx()));
    plan.strategies = vec![EnvironmentStrategyInput {
        environment: "prod".to_owned(),
        blue_green: Some(serde_json::json!({})),
        ..EnvironmentStrategyInput::default()
    }];
    check(
        plan,
        Some(("blue", 100)),
        "
deploy migrate/schema
deploy app/install@green-1
deploy app/install@green-2
deploy switch/shift [blue-1=0 blue-2=0 green-1=1 green-2=1] green:100%:2.0.0 blue:0%:1.0.0
deploy switch/probe
rollback rollback/switch-back [blue-1=1 blue-2=1 green-1=0 green-2=0] green:0%:- blue:100%:1.0.0
rollback rollback/stop@green-1
rollback rollback/stop@green-2",
    );
    let mut twice = input(StrategyInput::default(), two_groups(), None).with_strategy(None);
    twice.strategies = vec![
        EnvironmentStrategyInput {
            environment: "prod".to_owned(),
            blue_green: Some(serde_json::json!({})),
            ..Default::default()
        },
        EnvironmentStrategyInput {
            environment: "prod".to_owned(),
            all_at_once: Some(serde_json::json!({})),
            ..Default::default()
        },
    ];
    assert_eq!(
        violations(twice),
        "strategies[1].environment: \"prod\" appears more than once
traffic: a blue_green strategy moves traffic, so the plan needs a traffic provider"
    );
}
