-- Rollback: a run deploys, then may roll back; each step belongs to one phase. Runs and steps
-- stored before rollback existed are deploy steps of a run that is deploying.
ALTER TABLE deployment_runs ADD COLUMN phase TEXT NOT NULL DEFAULT 'deploy';
ALTER TABLE deployment_steps ADD COLUMN phase TEXT NOT NULL DEFAULT 'deploy';

-- Environments in quarantine: no further deployment there until an authorized user lifts it.
-- Lifting deletes the row; the audit log keeps the history.
CREATE TABLE quarantines (
    environment TEXT PRIMARY KEY REFERENCES environments(name),
    deployment_id BIGINT REFERENCES deployments(id),
    reason TEXT NOT NULL,
    since BIGINT NOT NULL
);
