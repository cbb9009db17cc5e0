-- A deployment that rolls an environment back to a release that ran there before carries why
-- (an operator's reason); NULL for a deployment that follows the lifecycle.
ALTER TABLE deployments ADD COLUMN rollback_cause TEXT;
