-- Trust anchors (SQLite): append-only checkpoints and signing keys, a head that only moves
-- forward, key enrollment and retirement, artifact tombstones, token parents.

-- A checkpoint is signed at most once per tree size, whichever key signs it.
CREATE UNIQUE INDEX audit_checkpoints_one_per_tree_size ON audit_checkpoints (tree_size);
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;

-- The audit entry that enrolled a key (NULL for a key recorded before enrollment existed).
ALTER TABLE signing_keys ADD COLUMN enrolled_seq BIGINT;
CREATE TRIGGER signing_keys_no_update BEFORE UPDATE ON signing_keys
BEGIN SELECT RAISE(ABORT, 'signing keys are append-only'); END;
CREATE TRIGGER signing_keys_no_delete BEFORE DELETE ON signing_keys
BEGIN SELECT RAISE(ABORT, 'signing keys are append-only'); END;

-- A key retired by a rotation signs nothing after the checkpoint that endorsed its successor.
CREATE TABLE signing_key_retirements (
    key_id TEXT PRIMARY KEY REFERENCES signing_keys(key_id),
    retired_seq BIGINT NOT NULL,
    retired_at BIGINT NOT NULL
);
CREATE TRIGGER signing_key_retirements_no_update BEFORE UPDATE ON signing_key_retirements
BEGIN SELECT RAISE(ABORT, 'signing key retirements are append-only'); END;
CREATE TRIGGER signing_key_retirements_no_delete BEFORE DELETE ON signing_key_retirements
BEGIN SELECT RAISE(ABORT, 'signing key retirements are append-only'); END;

-- An entry is appended right after the head, and the head moves to the entry just appended.
CREATE TRIGGER audit_entries_append_at_head BEFORE INSERT ON audit_entries
WHEN NEW.seq IS NOT (SELECT seq + 1 FROM audit_head WHERE id = 1)
BEGIN SELECT RAISE(ABORT, 'an audit entry is appended right after the head'); END;
CREATE TRIGGER audit_head_forward_only BEFORE UPDATE ON audit_head
WHEN NEW.id IS NOT OLD.id OR NEW.seq IS NOT OLD.seq + 1
    OR NEW.hash IS NOT (SELECT hash FROM audit_entries WHERE seq = NEW.seq)
BEGIN SELECT RAISE(ABORT, 'the audit head only moves forward, to the entry just appended'); END;
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
BEGIN SELECT RAISE(ABORT, 'the audit head cannot be removed'); END;
CREATE TRIGGER audit_head_no_insert BEFORE INSERT ON audit_head
BEGIN SELECT RAISE(ABORT, 'there is one audit head'); END;

-- A removed artifact's name and version keep pointing at its digest, so they can never come
-- back with other content.
CREATE TABLE artifact_tombstones (
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    digest TEXT NOT NULL,
    removed_at BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);

-- The token a token was created with, if any; revoking a token revokes its children.
ALTER TABLE api_tokens ADD COLUMN parent_id BIGINT REFERENCES api_tokens(id);
CREATE INDEX api_tokens_by_parent ON api_tokens (parent_id);
