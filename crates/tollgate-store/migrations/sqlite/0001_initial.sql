-- Tollgate schema, version 1 (SQLite). Times are microseconds since the Unix epoch, UTC.
CREATE TABLE users (
    name TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE teams (
    name TEXT PRIMARY KEY,
    display_name TEXT NOT NULL
);

CREATE TABLE team_members (
    team TEXT NOT NULL REFERENCES teams(name),
    user_name TEXT NOT NULL REFERENCES users(name),
    PRIMARY KEY (team, user_name)
);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_name TEXT NOT NULL REFERENCES users(name),
    description TEXT NOT NULL,
    prefix TEXT NOT NULL,
    secret_hash BLOB NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);

CREATE TABLE services (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL REFERENCES teams(name),
    criticality TEXT NOT NULL,
    description TEXT NOT NULL
);

CREATE TABLE service_dependencies (
    service TEXT NOT NULL REFERENCES services(name),
    depends_on TEXT NOT NULL REFERENCES services(name),
    PRIMARY KEY (service, depends_on)
);

CREATE TABLE environments (
    name TEXT PRIMARY KEY,
    tier TEXT NOT NULL,
    region TEXT
);

CREATE TABLE lifecycles (
    name TEXT PRIMARY KEY
);

CREATE TABLE lifecycle_environments (
    lifecycle TEXT NOT NULL REFERENCES lifecycles(name),
    position BIGINT NOT NULL,
    environment TEXT NOT NULL REFERENCES environments(name),
    PRIMARY KEY (lifecycle, position)
);

CREATE TABLE releases (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    version TEXT NOT NULL UNIQUE,
    lifecycle TEXT NOT NULL REFERENCES lifecycles(name),
    release_type TEXT NOT NULL,
    strategy TEXT NOT NULL,
    planned_start BIGINT,
    planned_end BIGINT,
    scope_freeze_at BIGINT,
    rollback_criteria TEXT NOT NULL,
    state TEXT NOT NULL,
    manifest_digest TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    revision BIGINT NOT NULL
);

CREATE TABLE release_artifacts (
    release_id BIGINT NOT NULL REFERENCES releases(id),
    service TEXT NOT NULL REFERENCES services(name),
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    digest TEXT NOT NULL,
    PRIMARY KEY (release_id, service)
);

CREATE TABLE release_scope_items (
    release_id BIGINT NOT NULL REFERENCES releases(id),
    position BIGINT NOT NULL,
    ticket TEXT NOT NULL,
    title TEXT NOT NULL,
    excluded_reason TEXT,
    PRIMARY KEY (release_id, position)
);

CREATE TABLE deployments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    release_id BIGINT NOT NULL REFERENCES releases(id),
    environment TEXT NOT NULL REFERENCES environments(name),
    manifest_digest TEXT NOT NULL,
    status TEXT NOT NULL,
    skipped_environment TEXT,
    actor TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    rolled_back_at BIGINT
);
CREATE INDEX deployments_by_environment ON deployments (environment, id);
CREATE INDEX deployments_by_release ON deployments (release_id, id);

-- The audit log. `body` holds the exact canonical bytes that were hashed.
CREATE TABLE audit_entries (
    seq BIGINT PRIMARY KEY,
    hash BLOB NOT NULL,
    body BLOB NOT NULL
);
CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;

-- One row: the position and hash of the last entry. Appenders serialize on it.
CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash BLOB NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, zeroblob(32));

CREATE TABLE audit_checkpoints (
    tree_size BIGINT NOT NULL,
    key_id TEXT NOT NULL,
    head BLOB NOT NULL,
    signed_at BIGINT NOT NULL,
    signature BLOB NOT NULL,
    PRIMARY KEY (tree_size, key_id)
);

CREATE TABLE signing_keys (
    key_id TEXT PRIMARY KEY,
    public_key BLOB NOT NULL,
    created_at BIGINT NOT NULL
);
