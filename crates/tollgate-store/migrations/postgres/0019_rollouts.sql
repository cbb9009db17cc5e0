-- Rollouts: a per-target step stores the target it runs for (as JSON; none for other steps).
ALTER TABLE deployment_steps ADD COLUMN target TEXT;

-- Traffic splits: each shift of traffic between a service's weight groups in an environment,
-- as the step of a blue-green or canary rollout that applied it recorded it. The register reads
-- the latest at an instant: both versions and their weights while a rollout runs.
CREATE TABLE traffic_splits (
    deployment_id BIGINT NOT NULL REFERENCES deployments(id),
    position BIGINT NOT NULL,
    environment TEXT NOT NULL REFERENCES environments(name),
    service TEXT NOT NULL,
    at BIGINT NOT NULL,
    shares TEXT NOT NULL,
    PRIMARY KEY (deployment_id, position)
);
CREATE INDEX traffic_splits_by_service ON traffic_splits (environment, service, at);
