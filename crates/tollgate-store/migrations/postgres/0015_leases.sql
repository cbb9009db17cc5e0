-- Leases: a deployer's lock on an environment's services while it deploys. One row per lease,
-- kept after it ends; `epoch` grows per environment with every lease granted there (the
-- fencing token), which the unique key guards.
CREATE TABLE deployment_leases (
    deployment_id BIGINT PRIMARY KEY REFERENCES deployments(id),
    environment TEXT NOT NULL REFERENCES environments(name),
    services TEXT NOT NULL,
    holder TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    ttl_seconds BIGINT NOT NULL,
    acquired_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    released_at BIGINT,
    UNIQUE (environment, epoch)
);

-- Which lease locks each service of an environment now; a row goes when its lease is released
-- and is replaced when a later lease takes an expired one over.
CREATE TABLE environment_locks (
    environment TEXT NOT NULL REFERENCES environments(name),
    service TEXT NOT NULL,
    deployment_id BIGINT NOT NULL REFERENCES deployment_leases(deployment_id),
    PRIMARY KEY (environment, service)
);
CREATE INDEX environment_locks_by_deployment ON environment_locks (deployment_id);
