-- What runs in each environment now: per environment and service, the live deployment that
-- finished last (succeeded, not rolled back; the highest id among equal finishes). Maintained by
-- the store in the transaction of every deployment write, so the register "now" is one indexed
-- read; the register at an earlier instant is computed from `deployments`.
-- Invariant: each row equals what `deployments` says runs now; the store tests check it.
CREATE TABLE current_register (
    environment TEXT NOT NULL REFERENCES environments(name),
    service TEXT NOT NULL REFERENCES services(name),
    deployment_id BIGINT NOT NULL REFERENCES deployments(id),
    finished_at BIGINT NOT NULL,
    PRIMARY KEY (environment, service)
);
CREATE INDEX current_register_by_deployment ON current_register (deployment_id);

INSERT INTO current_register (environment, service, deployment_id, finished_at)
SELECT d.environment, a.service, d.id, d.finished_at
FROM deployments d JOIN release_artifacts a ON a.release_id = d.release_id
WHERE d.status = 'succeeded'
  AND NOT EXISTS (
    SELECT 1 FROM deployments n JOIN release_artifacts b ON b.release_id = n.release_id
    WHERE n.environment = d.environment AND b.service = a.service AND n.status = 'succeeded'
      AND (n.finished_at > d.finished_at OR (n.finished_at = d.finished_at AND n.id > d.id))
  );
