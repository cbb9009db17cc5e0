-- Artifacts and the supply chain (SQLite).
ALTER TABLE teams ADD COLUMN artifact_pattern TEXT;

CREATE TABLE artifacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    team TEXT NOT NULL REFERENCES teams(name),
    digest TEXT NOT NULL,
    size BIGINT NOT NULL,
    media_type TEXT NOT NULL,
    repository TEXT,
    commit_sha TEXT,
    build_id TEXT,
    builder TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (name, version)
);
CREATE INDEX artifacts_by_digest ON artifacts (digest);

CREATE TABLE artifact_tags (
    artifact_id BIGINT NOT NULL REFERENCES artifacts(id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (artifact_id, tag)
);

-- Public keys trusted to sign artifacts, per team or builder.
CREATE TABLE trusted_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    team TEXT REFERENCES teams(name),
    builder TEXT,
    public_key BLOB NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE artifact_signatures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    artifact_id BIGINT NOT NULL REFERENCES artifacts(id) ON DELETE CASCADE,
    key_id TEXT NOT NULL,
    envelope TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE evidence (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    release_id BIGINT NOT NULL REFERENCES releases(id),
    service TEXT REFERENCES services(name),
    kind TEXT NOT NULL,
    digest TEXT NOT NULL,
    size BIGINT NOT NULL,
    facts TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX evidence_by_release ON evidence (release_id, id);

CREATE TABLE retention_policies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    selector_kind TEXT NOT NULL,
    selector TEXT NOT NULL,
    keep_last BIGINT,
    keep_deployed_days BIGINT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (selector_kind, selector)
);

CREATE TABLE legal_holds (
    tag TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
