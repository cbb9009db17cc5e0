-- Quality gates (SQLite): gate policy versions, gate decisions and their overrides, all
-- append-only. A decision keeps the input it judged, so it can be replayed under its version.

-- One row per installed gate policy: every environment's gates and the user's Rego modules,
-- as one bundle. `seq` counts versions from 1; `digest` is the bundle's SHA-256.
CREATE TABLE policy_versions (
    seq BIGINT PRIMARY KEY,
    digest TEXT NOT NULL,
    bundle TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TRIGGER policy_versions_no_update BEFORE UPDATE ON policy_versions
BEGIN SELECT RAISE(ABORT, 'policy versions are append-only'); END;
CREATE TRIGGER policy_versions_no_delete BEFORE DELETE ON policy_versions
BEGIN SELECT RAISE(ABORT, 'policy versions are append-only'); END;

-- One evaluation of an environment's gates for a release. It binds to the manifest digest, the
-- evidence-set digest and the policy version it judged.
CREATE TABLE gate_decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    release_id BIGINT NOT NULL REFERENCES releases(id),
    environment TEXT NOT NULL REFERENCES environments(name),
    manifest_digest TEXT NOT NULL,
    evidence_digest TEXT NOT NULL,
    policy_seq BIGINT NOT NULL REFERENCES policy_versions(seq),
    input TEXT NOT NULL,
    input_digest TEXT NOT NULL,
    passed INTEGER NOT NULL CHECK (passed IN (0, 1)),
    results TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX gate_decisions_by_release ON gate_decisions (release_id, environment, id);
CREATE TRIGGER gate_decisions_no_update BEFORE UPDATE ON gate_decisions
BEGIN SELECT RAISE(ABORT, 'gate decisions are append-only'); END;
CREATE TRIGGER gate_decisions_no_delete BEFORE DELETE ON gate_decisions
BEGIN SELECT RAISE(ABORT, 'gate decisions are append-only'); END;

-- An authorized person's decision to let a failed gate decision pass, with the reason.
CREATE TABLE gate_overrides (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    decision_id BIGINT NOT NULL UNIQUE REFERENCES gate_decisions(id),
    reason TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TRIGGER gate_overrides_no_update BEFORE UPDATE ON gate_overrides
BEGIN SELECT RAISE(ABORT, 'gate overrides are append-only'); END;
CREATE TRIGGER gate_overrides_no_delete BEFORE DELETE ON gate_overrides
BEGIN SELECT RAISE(ABORT, 'gate overrides are append-only'); END;
