-- Single sign-on with OpenID Connect (SQLite): the settings `tollgate apply` installs, the
-- sign-ins under way between the redirect to the provider and the browser's return, and which
-- provider identity each signed-in user is.

-- The settings in force: one row at most, as canonical JSON (no secret: only the name of the
-- environment variable that holds the client secret). Their history is in the audit log.
CREATE TABLE sso_config (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    config TEXT NOT NULL,
    digest TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- A sign-in under way, keyed by the SHA-256 of its state (the state itself is not kept). Each
-- is deleted when it is used or found expired; expired rows are also deleted by every insert.
CREATE TABLE sso_logins (
    state_digest TEXT PRIMARY KEY,
    verifier TEXT NOT NULL,
    nonce TEXT NOT NULL,
    return_to TEXT,
    config_digest TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sso_logins_by_expiry ON sso_logins (expires_at);

-- The provider identity (issuer and subject) of each user single sign-on created: the same
-- person signs in as the same user whatever their username claim says later, and a user
-- Tollgate already had is never taken over by a provider account of the same name.
CREATE TABLE sso_identities (
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    user_name TEXT NOT NULL UNIQUE REFERENCES users(name),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE TRIGGER sso_identities_no_update BEFORE UPDATE ON sso_identities
BEGIN SELECT RAISE(ABORT, 'single sign-on identities are never changed'); END;
CREATE TRIGGER sso_identities_no_delete BEFORE DELETE ON sso_identities
BEGIN SELECT RAISE(ABORT, 'single sign-on identities are never deleted'); END;
