//! Builders for valid records, so a test states only what it is about.

use tollgate_core::environment::{Environment, EnvironmentInput};
use tollgate_core::lifecycle::{Lifecycle, LifecycleInput};
use tollgate_core::release::{ArtifactRefInput, ReleaseContent, ReleaseInput};
use tollgate_core::service::{Service, ServiceInput};
use tollgate_core::team::{Team, TeamInput};
use tollgate_core::user::{User, UserInput};
use tollgate_core::Timestamp;

pub fn at(value: &str) -> Timestamp {
    value.parse().expect("a valid timestamp")
}

pub fn user(name: &str, role: &str) -> User {
    UserInput { name: name.to_owned(), display_name: None, roles: role.split(',').map(str::to_owned).collect() }
        .parse()
        .expect("a valid user")
}

pub fn team(name: &str, members: &[&str]) -> Team {
    TeamInput {
        name: name.to_owned(),
        display_name: None,
        members: members.iter().map(|m| m.to_string()).collect(),
        artifact_pattern: None,
    }
    .parse()
    .expect("a valid team")
}

pub fn service(name: &str, owner: &str, depends_on: &[&str]) -> Service {
    ServiceInput {
        name: name.to_owned(),
        owner: owner.to_owned(),
        criticality: Some("high".to_owned()),
        depends_on: depends_on.iter().map(|d| d.to_string()).collect(),
        description: None,
        labels: Vec::new(),
        deploy: None,
    }
    .parse()
    .expect("a valid service")
}

pub fn environment(name: &str, tier: &str) -> Environment {
    EnvironmentInput { name: name.to_owned(), tier: tier.to_owned(), region: None }
        .parse()
        .expect("a valid environment")
}

pub fn lifecycle(name: &str, environments: &[&str]) -> Lifecycle {
    LifecycleInput { name: name.to_owned(), environments: environments.iter().map(|e| e.to_string()).collect() }
        .parse()
        .expect("a valid lifecycle")
}

/// An artifact reference input whose digest is derived from its service and version.
pub fn artifact(service: &str, version: &str) -> ArtifactRefInput {
    let digest = tollgate_core::digest::Sha256Digest::of(format!("{service}@{version}").as_bytes());
    ArtifactRefInput {
        service: service.to_owned(),
        name: service.to_owned(),
        version: version.to_owned(),
        digest: digest.to_string(),
    }
}

pub fn release_input(version: &str, artifacts: &[(&str, &str)]) -> ReleaseInput {
    ReleaseInput {
        version: version.to_owned(),
        lifecycle: "default".to_owned(),
        release_type: "minor".to_owned(),
        artifacts: artifacts.iter().map(|(service, version)| artifact(service, version)).collect(),
        ..ReleaseInput::default()
    }
}

pub fn release(version: &str, artifacts: &[(&str, &str)]) -> ReleaseContent {
    release_input(version, artifacts).parse().expect("a valid release")
}
