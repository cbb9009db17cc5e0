-- Deployment plans: how Tollgate deploys a service, declared in tollgate.yaml; the plan as JSON
-- (core's stored format), NULL for a service deployed by other tools.
ALTER TABLE services ADD COLUMN deploy_plan TEXT;

-- Runs: the engine's state of an orchestrated deployment. A worker claims a run until
-- `claim_expires_at`; `epoch` grows by one with every claim and every write of a worker presents
-- it (fencing). `plans` holds the plans of the release's services as they were at the start.
CREATE TABLE deployment_runs (
    deployment_id BIGINT PRIMARY KEY REFERENCES deployments(id),
    state TEXT NOT NULL,
    worker TEXT,
    epoch BIGINT NOT NULL,
    claim_expires_at BIGINT,
    reason TEXT,
    plans TEXT NOT NULL
);
CREATE INDEX deployment_runs_by_state ON deployment_runs (state, claim_expires_at);

-- The steps of a run, in the order they run; `spec` is the step as its plan declared it.
CREATE TABLE deployment_steps (
    deployment_id BIGINT NOT NULL REFERENCES deployment_runs(deployment_id),
    position BIGINT NOT NULL,
    service TEXT NOT NULL,
    tier TEXT NOT NULL,
    spec TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    outcome TEXT,
    PRIMARY KEY (deployment_id, position)
);

-- What the steps printed, secrets redacted, numbered per step.
CREATE TABLE deployment_logs (
    deployment_id BIGINT NOT NULL,
    position BIGINT NOT NULL,
    line BIGINT NOT NULL,
    at BIGINT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (deployment_id, position, line),
    FOREIGN KEY (deployment_id, position) REFERENCES deployment_steps(deployment_id, position)
);
