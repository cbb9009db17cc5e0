-- Authorization (SQLite): a user holds a set of roles; `member` becomes developer and deployer.
-- Versions of the user Cedar policies (append-only) and just-in-time grants (never deleted;
-- revocation sets `revoked_at` once).

CREATE TABLE user_roles (
    user_name TEXT NOT NULL REFERENCES users(name),
    role TEXT NOT NULL,
    PRIMARY KEY (user_name, role)
);
INSERT INTO user_roles (user_name, role) SELECT name, 'developer' FROM users WHERE role = 'member';
INSERT INTO user_roles (user_name, role) SELECT name, 'deployer' FROM users WHERE role = 'member';
INSERT INTO user_roles (user_name, role) SELECT name, role FROM users WHERE role <> 'member';
ALTER TABLE users DROP COLUMN role;

-- Each version is the whole set of policy files in force from then on (JSON [{name, text}]).
CREATE TABLE authz_policy_versions (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256 TEXT NOT NULL,
    files TEXT NOT NULL,
    applied_by TEXT NOT NULL REFERENCES users(name),
    applied_at BIGINT NOT NULL
);
CREATE TRIGGER authz_policy_versions_no_update BEFORE UPDATE ON authz_policy_versions
BEGIN SELECT RAISE(ABORT, 'authorization policy versions are append-only'); END;
CREATE TRIGGER authz_policy_versions_no_delete BEFORE DELETE ON authz_policy_versions
BEGIN SELECT RAISE(ABORT, 'authorization policy versions are append-only'); END;

CREATE TABLE jit_grants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_name TEXT NOT NULL REFERENCES users(name),
    role TEXT NOT NULL,
    environment TEXT NOT NULL REFERENCES environments(name),
    reason TEXT NOT NULL,
    granted_by TEXT NOT NULL REFERENCES users(name),
    not_before BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoked_by TEXT REFERENCES users(name),
    CHECK (not_before < expires_at)
);
CREATE INDEX jit_grants_by_user ON jit_grants (user_name, expires_at);
CREATE TRIGGER jit_grants_no_delete BEFORE DELETE ON jit_grants
BEGIN SELECT RAISE(ABORT, 'just-in-time grants are never deleted'); END;
CREATE TRIGGER jit_grants_revoke_only BEFORE UPDATE ON jit_grants
WHEN OLD.revoked_at IS NOT NULL
  OR NEW.user_name IS NOT OLD.user_name OR NEW.role IS NOT OLD.role
  OR NEW.environment IS NOT OLD.environment OR NEW.reason IS NOT OLD.reason
  OR NEW.granted_by IS NOT OLD.granted_by OR NEW.not_before IS NOT OLD.not_before
  OR NEW.expires_at IS NOT OLD.expires_at
BEGIN SELECT RAISE(ABORT, 'a just-in-time grant only changes by being revoked, once'); END;
