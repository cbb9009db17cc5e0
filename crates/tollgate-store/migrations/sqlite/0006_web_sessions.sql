-- Web sign-in (SQLite): password hashes (argon2id, PHC strings), server-side sessions, failed
-- sign-ins and lockouts, and the installation's secret for sign-in form tokens.

ALTER TABLE users ADD COLUMN password_hash TEXT;

-- A session is found by the SHA-256 of its cookie's secret; the secret itself is never stored.
-- A session made from an API token names it and ends with it.
CREATE TABLE web_sessions (
    id_digest BLOB PRIMARY KEY,
    user_name TEXT NOT NULL REFERENCES users(name),
    token_id INTEGER REFERENCES api_tokens(id),
    method TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at BIGINT
);
CREATE INDEX web_sessions_user ON web_sessions (user_name);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);

-- Failed sign-ins by key (`user:NAME` or `address:IP`), kept for the counting window only.
CREATE TABLE login_failures (
    key TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX login_failures_key_at ON login_failures (key, at);

-- A key locked out until `locked_until`; `lockouts` counts the lockouts in a row, for back-off.
CREATE TABLE login_lockouts (
    key TEXT PRIMARY KEY,
    locked_until BIGINT NOT NULL,
    lockouts BIGINT NOT NULL,
    locked_at BIGINT NOT NULL
);

-- One row: the random secret sign-in form tokens are derived from, shared by every replica.
CREATE TABLE web_secret (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    secret BLOB NOT NULL
);

-- The release list pages by state, service and owning team in the database.
CREATE INDEX releases_by_state ON releases (state, id);
CREATE INDEX release_artifacts_by_service ON release_artifacts (service, release_id);
CREATE INDEX services_by_owner ON services (owner);
-- The dashboard counts unsigned artifacts; the artifact list counts each one's signatures.
CREATE INDEX artifact_signatures_by_artifact ON artifact_signatures (artifact_id);
