//! The command line: `tollgate <noun> <verb>`, parsed by clap.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "tollgate", version, about = "Release, change and deployment management", propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The Tollgate server to talk to.
    #[arg(long, global = true, env = "TOLLGATE_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// API token (Bearer).
    #[arg(long, global = true, env = "TOLLGATE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Output format.
    #[arg(long, short, global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct SuperviseArgs {
    /// How long without a heartbeat on standard input before the program is killed.
    #[arg(long, value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub deadline_ms: u64,
    /// The program and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// `tollgate sample-service`.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// The loopback address to listen on (`127.0.0.1:8081`).
    #[arg(long)]
    pub listen: std::net::SocketAddr,
    /// The version it reports.
    #[arg(long)]
    pub version: String,
    /// The name it reports (`sample` by default).
    #[arg(long)]
    pub name: Option<String>,
    /// The share of answers at `/` that are a 500, from 0 to 1.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Answer 503 at `/health`: a release with a fault.
    #[arg(long)]
    pub unhealthy: bool,
    /// Where to write its process id once it listens.
    #[arg(long)]
    pub pid_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: API, workers and (later) the web UI.
    Serve(ServeArgs),
    /// Run the demo on a throw-away embedded database and keep serving it.
    Demo(DemoArgs),
    /// Run one step's program for a deployment worker, killing it (and its children) when the
    /// worker's heartbeats stop. Started by `tollgate serve`; not for people.
    #[command(hide = true)]
    SuperviseStep(SuperviseArgs),
    /// Run a small HTTP service with /health and /metrics, for the demo and tests of rollouts
    /// to deploy; not for production.
    #[command(hide = true, disable_version_flag = true)]
    SampleService(SampleArgs),
    /// Create or update teams, services, environments and lifecycles from tollgate.yaml.
    Apply(ApplyArgs),
    /// Teams.
    #[command(subcommand)]
    Team(TeamCommand),
    /// Users.
    #[command(subcommand)]
    User(UserCommand),
    /// API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Services.
    #[command(subcommand)]
    Service(NamedCommand),
    /// Environments.
    #[command(subcommand, alias = "env")]
    Environment(NamedCommand),
    /// Lifecycles (promotion paths).
    #[command(subcommand)]
    Lifecycle(NamedCommand),
    /// Releases.
    #[command(subcommand)]
    Release(ReleaseCommand),
    /// Deployments: recorded, checked, or carried out by Tollgate's engine.
    #[command(subcommand)]
    Deployment(DeploymentCommand),
    /// Deploy a release with Tollgate's engine and follow it to its end (`deployment start
    /// --wait`); exits 1 unless it succeeded.
    Deploy {
        #[arg(long)]
        release: String,
        #[arg(long, visible_alias = "env")]
        environment: String,
        /// Deploy although the environment's deployment window is closed, for this reason.
        #[arg(long, value_name = "REASON")]
        override_window: Option<String>,
        /// Wait up to this long for another deployment's lock rather than being refused at once.
        #[arg(long, value_name = "DURATION", value_parser = parse_wait)]
        wait_for_lock: Option<std::time::Duration>,
    },
    /// Leases, for tools that deploy by themselves: acquire one (every precondition judged, the
    /// deployment recorded, the release's services locked in the environment), renew it, report
    /// the outcome.
    #[command(subcommand)]
    Lease(LeaseCommand),
    /// Environments quarantined after a failed deployment: list them, lift a quarantine.
    #[command(subcommand)]
    Quarantine(QuarantineCommand),
    /// What runs where: per environment, the version of each service.
    Register(RegisterArgs),
    /// The tamper-evident audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Artifacts: push, pull, sign, verify, garbage-collect.
    #[command(subcommand)]
    Artifact(ArtifactCommand),
    /// Signing keys: generate a pair offline; register, list and revoke trusted keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Evidence from CI (JUnit, Cobertura, LCOV, SARIF, CycloneDX, k6, JMeter) for a release.
    #[command(subcommand)]
    Evidence(EvidenceCommand),
    /// Retention policies and legal holds.
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// Quality gates: evaluate an environment's gates for a release, decisions, overrides.
    #[command(subcommand)]
    Gate(GateCommand),
    /// The installed gate policy, its versions, and the users' Rego unit tests.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Authorization: why a request is allowed or denied, Cedar policies, just-in-time grants.
    #[command(subcommand)]
    Authz(AuthzCommand),
    /// The release calendar: windows, freezes and blackouts, their occurrences, `.ics` import
    /// and export, and whether an environment's window is open.
    #[command(subcommand)]
    Calendar(CalendarCommand),
    /// Release trains: a cadence of departures with a cut-off and a scope freeze that
    /// releases board.
    #[command(subcommand)]
    Train(TrainCommand),
    /// Change requests: request a release into an environment, submit it for risk assessment
    /// and approval, approve or reject, schedule, review; the CAB agenda.
    #[command(subcommand)]
    Change(ChangeCommand),
    /// Print shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args, Clone)]
pub struct StorageArgs {
    /// Where the embedded database, the audit signing key and the admin token live.
    #[arg(long, env = "TOLLGATE_DATA_DIR", default_value = "tollgate-data")]
    pub data_dir: PathBuf,
    /// A PostgreSQL URL (postgres://...) to use instead of the embedded SQLite database.
    #[arg(long, env = "TOLLGATE_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "TOLLGATE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Sign an audit checkpoint every this many entries (verification allows at most this many
    /// after the last checkpoint).
    #[arg(long, default_value_t = 1000)]
    pub checkpoint_interval: u64,
    /// Also sign one this often (seconds) when entries came after the last checkpoint.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub checkpoint_every: u64,
    /// Verify the whole audit chain this often (seconds), first a minute after start, and keep
    /// the result for the dashboard (one replica at a time).
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub verify_every: u64,
    /// The audit signing key (PKCS#8 PEM): one file shared by replicas, or each replica's own
    /// key, enrolled first (`tollgate audit key enroll`). Default: audit-signing.key in the data
    /// directory, created only for an empty log.
    #[arg(long, env = "TOLLGATE_SIGNING_KEY")]
    pub signing_key: Option<PathBuf>,
    /// The largest artifact accepted, in bytes.
    #[arg(long, env = "TOLLGATE_MAX_ARTIFACT_BYTES", default_value_t = 10 * 1024 * 1024 * 1024)]
    pub max_artifact_bytes: u64,
    /// The largest evidence file accepted, in bytes.
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    pub max_evidence_bytes: u64,
    /// Let the author of a release mark it ready for prod and deploy it there (segregation of
    /// duties forbids it by default).
    #[arg(long, env = "TOLLGATE_SEGREGATION_AUTHOR_MAY_SHIP")]
    pub segregation_author_may_ship: bool,
    /// Count a team-mate of the author as the approver that completes a prod change (by
    /// default one approver must come from outside the author's teams).
    #[arg(long, env = "TOLLGATE_SEGREGATION_TEAM_APPROVALS")]
    pub segregation_team_approvals: bool,
    /// A reverse proxy whose `X-Forwarded-Proto` and `X-Forwarded-For` headers are believed
    /// (repeatable): session cookies are marked `Secure` when it says the browser used HTTPS, and
    /// sign-in lockouts count the address it names.
    #[arg(long = "trusted-proxy", env = "TOLLGATE_TRUSTED_PROXY", value_delimiter = ',')]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// End a web session unused for this many seconds.
    #[arg(long, default_value_t = 30 * 60, value_parser = clap::value_parser!(u64).range(60..))]
    pub session_idle: u64,
    /// End every web session this many seconds after sign-in.
    #[arg(long, default_value_t = 12 * 3600, value_parser = clap::value_parser!(u64).range(60..))]
    pub session_lifetime: u64,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// How many deployment workers this server runs (0: it carries out no deployments, another
    /// replica does).
    #[arg(long, env = "TOLLGATE_WORKERS", default_value_t = 2, value_parser = clap::value_parser!(u64).range(0..=32))]
    pub workers: u64,
    /// How long a worker's claim on a deployment lasts unless renewed, in seconds: a deployment
    /// whose worker died is taken over this long after its last renewal.
    #[arg(long, env = "TOLLGATE_CLAIM_TTL", default_value_t = 15, value_parser = clap::value_parser!(u64).range(3..=600))]
    pub claim_ttl: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Stop after printing the results instead of serving.
    #[arg(long)]
    pub exit: bool,
    /// Address to serve the demo on.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Skip the rollouts of real processes (blue-green, canary, a faulty release rolled back):
    /// a faster demo with the recorded deployments only.
    #[arg(long)]
    pub no_rollouts: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The configuration file.
    #[arg(long, short = 'f', default_value = "tollgate.yaml")]
    pub file: PathBuf,
    /// Show the plan only.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum TeamCommand {
    List,
    Show {
        name: String,
    },
    Create {
        name: String,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long = "member")]
        members: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    List,
    /// The user of the token in use.
    Me,
    Create {
        name: String,
        #[arg(long)]
        display_name: Option<String>,
        /// viewer, auditor, developer, release_manager, approver, deployer or admin; `member`
        /// stands for developer and deployer. Repeat it (or separate with commas) for several.
        #[arg(long = "role", value_delimiter = ',', default_value = "member")]
        roles: Vec<String>,
    },
    /// Set the password a user signs in to the web UI with (your own, or anyone's as an admin).
    /// The password is read from the first line of standard input.
    SetPassword {
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    List,
    /// Issue a token; its secret is printed once.
    Create {
        /// Whose token (default: yourself).
        #[arg(long)]
        user: Option<String>,
        #[arg(long, default_value = "")]
        description: String,
        /// RFC 3339 expiry.
        #[arg(long)]
        expires_at: Option<String>,
    },
    Revoke {
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum NamedCommand {
    List,
    Show { name: String },
}

#[derive(Debug, Subcommand)]
pub enum ReleaseCommand {
    List {
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Show a release by id or version.
    Show { release: String },
    /// Board a draft or planned release on the next departure of a train whose cut-off has not
    /// passed: it takes the departure's window and scope-freeze time.
    Board {
        release: String,
        #[arg(long)]
        train: String,
    },
    /// Create a release from flags, or from a JSON file with -f.
    #[command(disable_version_flag = true)]
    Create(ReleaseCreateArgs),
    /// draft → planned.
    Plan { release: String },
    /// planned → scope_frozen: the scope and artifacts can no longer change.
    Freeze { release: String },
    /// scope_frozen or ready → planned (audited, needs a reason).
    Unfreeze {
        release: String,
        #[arg(long)]
        reason: String,
    },
    /// scope_frozen → ready (or draft → ready for an emergency release).
    Ready { release: String },
    /// deployed or rolled_back → closed.
    Close { release: String },
    /// deploying or deployed → rolled_back.
    Rollback {
        release: String,
        #[arg(long)]
        reason: String,
    },
    /// Cancel a release that has not started deploying.
    Cancel {
        release: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Args)]
pub struct ReleaseCreateArgs {
    /// A JSON file holding the whole release request.
    #[arg(long, short = 'f', conflicts_with_all = ["version", "artifacts"])]
    pub file: Option<PathBuf>,
    #[arg(long, required_unless_present = "file")]
    pub version: Option<String>,
    #[arg(long, default_value = "default")]
    pub lifecycle: String,
    /// major, minor, patch or emergency.
    #[arg(long = "type", default_value = "minor")]
    pub release_type: String,
    /// big_bang, phased, pilot or parallel.
    #[arg(long)]
    pub strategy: Option<String>,
    /// SERVICE=NAME@VERSION@sha256:DIGEST, once per service.
    #[arg(long = "artifact")]
    pub artifacts: Vec<String>,
    /// TICKET=TITLE, an included scope item.
    #[arg(long = "include")]
    pub included: Vec<String>,
    #[arg(long)]
    pub rollback_criteria: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum DeploymentCommand {
    List {
        #[arg(long, visible_alias = "env")]
        environment: Option<String>,
        #[arg(long)]
        release: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    Show {
        id: i64,
    },
    /// Record a deployment of a release to an environment.
    Record {
        #[arg(long)]
        release: String,
        #[arg(long, visible_alias = "env")]
        environment: String,
        /// running, succeeded or failed.
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        started_at: Option<String>,
        #[arg(long)]
        finished_at: Option<String>,
        /// Deploy although the environment's deployment window is closed, for this reason
        /// (breaking glass; needs the `override.window` permission; audited).
        #[arg(long, value_name = "REASON")]
        override_window: Option<String>,
    },
    /// Move a deployment to succeeded, failed or rolled_back.
    Finish {
        id: i64,
        #[arg(long)]
        status: String,
    },
    /// Whether a release may be deployed into an environment now: every precondition (caller
    /// authorization, promotion, artifacts and signatures, gates, window, change request)
    /// judged and each refusal explained. Exits 1 when refused, for CI jobs that deploy by
    /// themselves; records nothing.
    Check {
        #[arg(long)]
        release: String,
        #[arg(long, visible_alias = "env")]
        environment: String,
    },
    /// Deploy a release with Tollgate's engine: every precondition judged, then the deployment
    /// plans of the release's services carried out by the server's workers.
    Start {
        #[arg(long)]
        release: String,
        #[arg(long, visible_alias = "env")]
        environment: String,
        /// Deploy although the environment's deployment window is closed, for this reason
        /// (breaking glass; needs the `override.window` permission; audited).
        #[arg(long, value_name = "REASON")]
        override_window: Option<String>,
        /// Follow the deployment until it ends, printing each step and its output; exit 1 when
        /// it fails or needs an operator.
        #[arg(long)]
        wait: bool,
        /// When another deployment holds the environment's lock on one of the release's services
        /// (and nothing else refuses it), wait up to this long for the lock, trying again, rather
        /// than being refused at once (`30s`, `10m`).
        #[arg(long, value_name = "DURATION", value_parser = parse_wait)]
        wait_for_lock: Option<std::time::Duration>,
    },
    /// The steps of an orchestrated deployment and where each stands.
    Steps {
        id: i64,
    },
    /// What the steps of an orchestrated deployment printed (secrets redacted).
    Logs {
        id: i64,
        /// Keep printing new lines until the deployment ends.
        #[arg(long)]
        follow: bool,
    },
    /// Run again the step a stopped worker left unfinished (a run that needs an operator), or go
    /// on with a paused deployment.
    Resume {
        id: i64,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Go on without the step a stopped worker left unfinished.
    Skip {
        id: i64,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Stop an orchestrated deployment (one that needs an operator, or one still running: its
    /// worker stops the step it runs) and roll it back as its plans say; while it rolls back,
    /// stop the rollback and end the deployment as failed.
    Abort {
        id: i64,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Pause an orchestrated deployment: the step running goes on to its end, and no further
    /// step starts until `resume`.
    Pause {
        id: i64,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Promote a canary rollout at once to all of the traffic: its remaining lower weights,
    /// pauses and their verification steps are skipped.
    Promote {
        id: i64,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Approve the manual step an orchestrated deployment waits on: it succeeds.
    Approve {
        id: i64,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Reject the manual step an orchestrated deployment waits on: it fails (and the deployment
    /// rolls back as its plans say).
    Reject {
        id: i64,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Roll back. With a deployment id: confirm a rollback that waits for an operator, or stop a
    /// deployment and run its plans' rollback steps at once (across irreversible steps too). With
    /// `--to RELEASE --environment E`: put back a release that ran there before (deployed or
    /// closed), as a deployment of its own kind; `--reason` is required then.
    Rollback {
        /// The deployment to roll back.
        #[arg(required_unless_present = "to")]
        id: Option<i64>,
        /// The earlier release to put back into the environment.
        #[arg(long, conflicts_with = "id", requires = "environment")]
        to: Option<String>,
        #[arg(long, visible_alias = "env", requires = "to")]
        environment: Option<String>,
        #[arg(long)]
        reason: Option<String>,
        /// With `--to`: follow the rollback until it ends; exit 1 unless it succeeded.
        #[arg(long, requires = "to")]
        wait: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum QuarantineCommand {
    /// Environments in quarantine: no deployment starts there until the quarantine is lifted.
    List,
    /// Lift an environment's quarantine, so deployments start there again (audited, with a reason).
    Lift {
        #[arg(long, visible_alias = "env")]
        environment: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum LeaseCommand {
    /// Judge every precondition and, when all hold, record the deployment as running and lock the
    /// release's services in the environment until the lease expires. Prints the deployment id
    /// and the epoch that renewing and reporting need. Exits 1, with every reason, when refused.
    Acquire {
        #[arg(long)]
        release: String,
        #[arg(long, visible_alias = "env")]
        environment: String,
        /// How long the lease lasts unless renewed, in seconds (10 to 86400; 900 when absent).
        #[arg(long, value_name = "SECONDS")]
        ttl: Option<i64>,
        /// Deploy although the environment's deployment window is closed, for this reason
        /// (breaking glass; needs the `override.window` permission; audited).
        #[arg(long, value_name = "REASON")]
        override_window: Option<String>,
    },
    /// Extend a lease from now by its ttl (or --ttl). Exits 1 when the lease was lost.
    Renew {
        /// The deployment the lease was acquired for.
        deployment: i64,
        #[arg(long)]
        epoch: u64,
        #[arg(long, value_name = "SECONDS")]
        ttl: Option<i64>,
    },
    /// Report how the deployment ended (succeeded or failed) and release the lease. Exits 1
    /// when the lease was lost.
    Report {
        /// The deployment the lease was acquired for.
        deployment: i64,
        #[arg(long)]
        epoch: u64,
        /// succeeded or failed.
        #[arg(long)]
        status: String,
    },
    /// One lease.
    Show {
        /// The deployment the lease was acquired for.
        deployment: i64,
    },
    /// Leases that lock services now: held, or expired and not yet taken over.
    List {
        #[arg(long, visible_alias = "env")]
        environment: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    #[arg(long, visible_alias = "env")]
    pub environment: Option<String>,
    /// The instant to answer for (RFC 3339, e.g. 2026-03-01T12:00:00Z).
    #[arg(long)]
    pub at: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    List {
        #[arg(long, default_value_t = 0)]
        after: u64,
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Search entries by actor, action, object and time, newest first, a page at a time.
    Search(AuditSearchArgs),
    /// Verify the chain: in an exported file (--file, offline), in a database (--data-dir or
    /// --database-url, read-only), or through the server.
    Verify(VerifyArgs),
    /// Write every entry and signed checkpoint as JSON lines to standard output.
    Export,
    /// Print the latest signed checkpoint, to keep as a witness (`audit verify --witness`).
    Checkpoint,
    /// The keys that sign checkpoints.
    #[command(subcommand)]
    Key(AuditKeyCommand),
}

#[derive(Debug, Subcommand)]
pub enum AuditKeyCommand {
    /// List the checkpoint signing keys, enrolled and retired.
    List,
    /// Enroll a replica's public key (PEM) to sign checkpoints; audited.
    Enroll {
        #[arg(long)]
        public_key: PathBuf,
        /// A name for the replica.
        #[arg(long)]
        label: String,
    },
    /// Replace the server's signing key with a new one; audited, endorsed by the old key.
    Rotate,
}

#[derive(Debug, Args)]
pub struct AuditSearchArgs {
    /// Only entries by this user, or by Tollgate itself (@system).
    #[arg(long)]
    pub actor: Option<String>,
    /// Only entries of this action, as entries name it (release.transition).
    #[arg(long)]
    pub action: Option<String>,
    /// Only entries about this object: KIND (release) or KIND/ID (release/2.0.0).
    #[arg(long, value_name = "KIND[/ID]")]
    pub object: Option<String>,
    /// Only entries at or after this instant (RFC 3339, e.g. 2026-03-01T00:00:00Z).
    #[arg(long)]
    pub from: Option<String>,
    /// Only entries before this instant (RFC 3339).
    #[arg(long)]
    pub to: Option<String>,
    /// Entries before this position: the next page of an earlier search.
    #[arg(long)]
    pub before: Option<u64>,
    /// Entries per page, 1 to 100.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// An export made by `tollgate audit export`.
    #[arg(long, requires = "public_keys")]
    pub file: Option<PathBuf>,
    /// A trusted checkpoint signing key (PEM), repeatable. Required with --file.
    #[arg(long = "public-key")]
    pub public_keys: Vec<PathBuf>,
    /// Verify the embedded database in this data directory.
    #[arg(long, conflicts_with = "file")]
    pub data_dir: Option<PathBuf>,
    /// Verify this database.
    #[arg(long, conflicts_with_all = ["file", "data_dir"], hide_env_values = true)]
    pub database_url: Option<String>,
    /// A checkpoint saved earlier with `tollgate audit checkpoint`, repeatable: the log must
    /// still hold its entry with its hash, and extend it.
    #[arg(long = "witness")]
    pub witnesses: Vec<PathBuf>,
    /// With --data-dir or --database-url: the most entries allowed after the last trusted
    /// checkpoint (the server's --checkpoint-interval).
    #[arg(long, default_value_t = 1000)]
    pub max_unsigned: u64,
}

#[derive(Debug, Args)]
pub struct ArtifactRef {
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub version: String,
}

#[derive(Debug, Args)]
pub struct ProvenanceArgs {
    /// Source repository (URI).
    #[arg(long)]
    pub repository: Option<String>,
    /// Git commit the build used.
    #[arg(long)]
    pub commit: Option<String>,
    /// The CI run that built it.
    #[arg(long)]
    pub build_id: Option<String>,
    /// The builder (URI), e.g. https://ci.example/runner.
    #[arg(long)]
    pub builder: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ArtifactCommand {
    /// Upload a file (streamed); name + version is immutable.
    #[command(disable_version_flag = true)]
    Push {
        file: PathBuf,
        #[command(flatten)]
        artifact: ArtifactRef,
        #[arg(long)]
        team: String,
        #[arg(long)]
        media_type: Option<String>,
        #[command(flatten)]
        provenance: ProvenanceArgs,
        /// A tag (for legal holds), repeatable.
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// A DSSE envelope (from `artifact sign`) to attach after the upload.
        #[arg(long)]
        signature: Option<PathBuf>,
    },
    /// Download an artifact to a file, checking its digest.
    #[command(disable_version_flag = true)]
    Pull {
        #[command(flatten)]
        artifact: ArtifactRef,
        /// Where to write the content.
        #[arg(long = "file")]
        file: PathBuf,
    },
    /// Sign a file offline: a DSSE envelope over an in-toto statement with SLSA provenance.
    Sign {
        file: PathBuf,
        /// The artifact name the statement is about.
        #[arg(long)]
        name: String,
        /// The private key (PKCS#8 PEM, from `key generate`).
        #[arg(long)]
        key: PathBuf,
        #[command(flatten)]
        provenance: ProvenanceArgs,
        /// Where to write the envelope (default FILE.dsse.json).
        #[arg(long)]
        envelope: Option<PathBuf>,
    },
    /// Verify a file's signature offline, against a public key.
    Verify {
        file: PathBuf,
        #[arg(long)]
        name: String,
        #[arg(long)]
        signature: PathBuf,
        #[arg(long = "public-key")]
        public_key: PathBuf,
    },
    /// Attach a signature envelope to a pushed artifact.
    #[command(disable_version_flag = true)]
    Attach {
        #[command(flatten)]
        artifact: ArtifactRef,
        #[arg(long)]
        signature: PathBuf,
    },
    List {
        #[arg(long)]
        name: Option<String>,
    },
    /// Re-verify a pushed artifact on the server: content and signatures.
    #[command(disable_version_flag = true)]
    Check {
        #[command(flatten)]
        artifact: ArtifactRef,
    },
    /// Apply the retention policies: list what is kept and removed and why; remove unless --dry-run.
    Gc {
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Write a new ed25519 key pair: PREFIX.key (0600) and PREFIX.pub.
    Generate {
        #[arg(long, default_value = "tollgate-signing")]
        out: PathBuf,
    },
    /// Trust a public key for artifact signatures (of a team or a builder).
    Add {
        #[arg(long)]
        name: String,
        #[arg(long = "public-key")]
        public_key: PathBuf,
        #[arg(long)]
        team: Option<String>,
        #[arg(long)]
        builder: Option<String>,
    },
    List,
    Revoke {
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum CalendarCommand {
    /// The concrete occurrences of the periods between two instants.
    Show {
        /// The start of the range (RFC 3339).
        #[arg(long)]
        from: String,
        /// The end of the range (RFC 3339); at most three years after --from.
        #[arg(long)]
        to: String,
        /// Only the periods that apply to this environment (its own, its region's, global).
        #[arg(long, visible_alias = "env")]
        environment: Option<String>,
        /// Only the periods that apply to this service (its own, global).
        #[arg(long)]
        service: Option<String>,
        /// Show each occurrence's rule and zone, how a daylight-saving change moved it, and the
        /// rule Tollgate reads such times by.
        #[arg(long)]
        explain: bool,
    },
    /// The periods as written.
    List,
    /// Create or replace a period.
    Put {
        /// The period's key (`year-end-freeze`).
        id: String,
        #[arg(long)]
        name: String,
        /// window, maintenance, freeze or blackout.
        #[arg(long)]
        kind: String,
        /// global (default), environment:NAME, service:NAME or region:NAME.
        #[arg(long)]
        scope: Option<String>,
        /// The IANA time zone of the local times (Europe/Berlin).
        #[arg(long, visible_alias = "tz")]
        tzid: String,
        /// The local start of the first occurrence: 2026-12-20T10:00 or 2026-12-20.
        #[arg(long)]
        start: String,
        /// How long each occurrence lasts, as an RFC 5545 duration (PT6H, P15D).
        #[arg(long)]
        length: String,
        /// An RFC 5545 RRULE (FREQ=WEEKLY;BYDAY=TU,WE,TH).
        #[arg(long)]
        rule: Option<String>,
        /// A local start the rule produces that does not happen (repeatable).
        #[arg(long = "exdate")]
        exdates: Vec<String>,
        /// A local start added to the rule's (repeatable).
        #[arg(long = "rdate")]
        rdates: Vec<String>,
    },
    /// Delete a period.
    Delete { id: String },
    /// Read an `.ics` file's events, recurrences included, as periods; importing the same file
    /// again changes nothing.
    Import {
        file: PathBuf,
        /// The kind of every imported period: blackout (default), freeze, window or maintenance.
        #[arg(long)]
        kind: Option<String>,
        /// Where they apply: global (default), environment:NAME, service:NAME or region:NAME.
        #[arg(long)]
        scope: Option<String>,
    },
    /// Write the periods that apply (all, or an environment's and/or a service's) as `.ics`.
    Export {
        #[arg(long, visible_alias = "env")]
        environment: Option<String>,
        #[arg(long)]
        service: Option<String>,
        /// Write to this file instead of standard output.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Whether deployments into an environment may happen now (or at an instant), and why.
    Window {
        #[arg(long, visible_alias = "env")]
        environment: String,
        /// The instant to judge (RFC 3339); now when absent.
        #[arg(long)]
        at: Option<String>,
        /// A service the deployment carries: its own periods apply too (repeatable).
        #[arg(long = "service")]
        services: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TrainCommand {
    /// The trains as written.
    List,
    /// Create or replace a train.
    Put {
        name: String,
        /// The IANA time zone of the departures (Europe/Berlin).
        #[arg(long, visible_alias = "tz")]
        tzid: String,
        /// The first departure, local: 2026-12-01T10:00.
        #[arg(long)]
        first_departure: String,
        /// The cadence, an RRULE (FREQ=WEEKLY;INTERVAL=2;BYDAY=TU).
        #[arg(long)]
        rule: String,
        /// How long each departure's release window lasts (PT4H).
        #[arg(long)]
        length: String,
        /// How long before a departure boarding closes (P3D).
        #[arg(long)]
        cutoff: String,
        /// How long before a departure the scope freezes (P1D).
        #[arg(long)]
        freeze: String,
    },
    /// Delete a train.
    Delete { name: String },
    /// The departures between two instants.
    Departures {
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        #[arg(long)]
        train: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ChangeCommand {
    /// Request a change (state draft): a release into an environment.
    Request {
        #[arg(long)]
        release: String,
        #[arg(long, visible_alias = "env")]
        environment: String,
        /// standard, normal or emergency; emergency for an emergency release, normal otherwise.
        #[arg(long = "type")]
        change_type: Option<String>,
        /// For a standard change: the pre-approved template it follows.
        #[arg(long)]
        template: Option<String>,
        #[arg(long)]
        justification: String,
        #[arg(long, default_value = "")]
        implementation_plan: String,
        /// How the change is undone (required).
        #[arg(long)]
        rollback_plan: String,
        /// How long undoing it takes, in minutes; the window must hold it after the planned end.
        #[arg(long)]
        rollback_minutes: Option<u32>,
        /// A ticket (repeatable).
        #[arg(long = "ticket")]
        tickets: Vec<String>,
        /// A link to evidence, a runbook or a dashboard (repeatable).
        #[arg(long = "link")]
        links: Vec<String>,
        /// The planned start (RFC 3339); the release's planned window when absent.
        #[arg(long)]
        planned_start: Option<String>,
        #[arg(long)]
        planned_end: Option<String>,
        /// Submit it at once (risk assessment and approval route).
        #[arg(long)]
        submit: bool,
    },
    /// Change requests, newest first.
    List {
        #[arg(long)]
        release: Option<String>,
        #[arg(long, visible_alias = "env")]
        environment: Option<String>,
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        requested_by: Option<String>,
    },
    /// One change request: its risk, route, approvals and conflicts.
    Show {
        id: i64,
        /// Show every risk factor with its weight and what it saw, and every conflict.
        #[arg(long)]
        explain: bool,
    },
    /// Submit a draft, or resubmit a change for the release as it is now.
    Submit { id: i64 },
    /// Approve a change being assessed.
    Approve {
        id: i64,
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// Reject a change being assessed, with a comment.
    Reject {
        id: i64,
        #[arg(long)]
        comment: String,
    },
    /// Schedule an approved change (refused with every conflict).
    Schedule { id: i64 },
    /// Record the post-implementation review.
    Review {
        id: i64,
        #[arg(long)]
        summary: String,
    },
    /// Withdraw a change that has not started.
    Withdraw {
        id: i64,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Close a change that is done.
    Close {
        id: i64,
        #[arg(long)]
        reason: Option<String>,
    },
    /// The CAB agenda: changes waiting for the change advisory board.
    Agenda,
    /// Emergency changes whose post-implementation review is overdue.
    Overdue,
}

#[derive(Debug, Subcommand)]
pub enum EvidenceCommand {
    /// Upload a CI report for a release; it is parsed, and stored only if it parses.
    Upload {
        file: PathBuf,
        #[arg(long)]
        release: String,
        #[arg(long)]
        service: Option<String>,
        /// junit, cobertura, lcov, sarif, cyclonedx, k6 (JSON summary) or jmeter (CSV results).
        #[arg(long)]
        kind: String,
    },
    List {
        #[arg(long)]
        release: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    List,
    /// Create or replace the policy for name:<artifact> or team:<team>.
    Set {
        selector: String,
        #[arg(long)]
        keep_last: Option<u32>,
        #[arg(long)]
        keep_deployed_days: Option<u32>,
    },
    /// Keep every artifact with this tag until the hold is released.
    Hold {
        tag: String,
        #[arg(long)]
        reason: String,
    },
    Unhold {
        tag: String,
        #[arg(long)]
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}

#[derive(Debug, Subcommand)]
pub enum GateCommand {
    /// Evaluate the gates of an environment for a release and record the decision.
    Evaluate {
        #[arg(long)]
        release: String,
        #[arg(long, visible_alias = "env")]
        environment: String,
        /// Also show the input document the gates judged and every violation's data.
        #[arg(long)]
        explain: bool,
        /// Judge with the gates of this tollgate.yaml (its `gates` section for the environment)
        /// instead of the installed ones; nothing is recorded.
        #[arg(long, value_name = "TOLLGATE_YAML")]
        dry_run: Option<PathBuf>,
    },
    /// Recorded decisions, newest first.
    Decisions {
        #[arg(long)]
        release: Option<String>,
        #[arg(long, visible_alias = "env")]
        environment: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// One decision, with each gate's result.
    Show { id: i64 },
    /// Judge a decision's stored input again under its own policy version.
    Replay { id: i64 },
    /// Let the current failed decision of an environment pass (admins; audited, with a reason).
    Override {
        #[arg(long)]
        release: String,
        #[arg(long, visible_alias = "env")]
        environment: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// The installed gate policy: each environment's gates, the modules, the built-in library.
    Show,
    /// Installed policy versions, newest first.
    Versions {
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Run the Rego unit tests (rules named `test_*`) of every `.rego` file under DIR, as
    /// `opa test` does. Runs locally; needs no server.
    Test { dir: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum AuthzCommand {
    /// Whether a request would be allowed, and which policies decide.
    Check {
        /// Whose request (default: yourself).
        #[arg(long)]
        principal: Option<String>,
        /// An action of docs/authorization.md, e.g. deploy, release.mark_ready, team.edit.
        #[arg(long)]
        action: String,
        /// The resource's name (a release's id or version); its type follows from the action.
        #[arg(long)]
        resource: Option<String>,
        /// For deploy: the release to deploy.
        #[arg(long)]
        release: Option<String>,
        /// For overrides: the reason that would be given.
        #[arg(long)]
        reason: Option<String>,
        /// Print every policy that decided and its reason.
        #[arg(long)]
        explain: bool,
    },
    /// Cedar policies of this installation.
    #[command(subcommand)]
    Policy(AuthzPolicyCommand),
    /// Grant a user a role in an environment for a while (e.g. --for 4h), with a reason.
    Grant {
        #[arg(long)]
        user: String,
        #[arg(long)]
        role: String,
        #[arg(long, alias = "env")]
        environment: String,
        /// How long: 90s, 30m, 4h (at most 24h).
        #[arg(long = "for")]
        duration: String,
        #[arg(long)]
        reason: String,
    },
    /// Grants not yet expired.
    Grants,
    /// Revoke a grant before it expires.
    Revoke { id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum AuthzPolicyCommand {
    /// Replace the user policies with these files (validated against the schema first).
    Apply {
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
    /// The policies in force, built-in and applied.
    List,
}

/// A duration as plans write them (`500ms`, `30s`, `10m`, `1h`), at most a day.
fn parse_wait(value: &str) -> Result<std::time::Duration, String> {
    tollgate_core::plan::StepDuration::parse(value)
        .map(|duration| duration.as_std())
        .map_err(|problem| problem.to_string())
}
