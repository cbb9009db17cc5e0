-- Trust anchors (PostgreSQL): append-only checkpoints and signing keys, a head that only moves
-- forward, key enrollment and retirement, artifact tombstones, token parents; TRUNCATE refused.

CREATE FUNCTION tollgate_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;

CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
FOR EACH STATEMENT EXECUTE FUNCTION tollgate_append_only();

-- A checkpoint is signed at most once per tree size, whichever key signs it.
CREATE UNIQUE INDEX audit_checkpoints_one_per_tree_size ON audit_checkpoints (tree_size);
CREATE TRIGGER audit_checkpoints_no_change BEFORE UPDATE OR DELETE ON audit_checkpoints
FOR EACH ROW EXECUTE FUNCTION tollgate_append_only();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
FOR EACH STATEMENT EXECUTE FUNCTION tollgate_append_only();

-- The audit entry that enrolled a key (NULL for a key recorded before enrollment existed).
ALTER TABLE signing_keys ADD COLUMN enrolled_seq BIGINT;
CREATE TRIGGER signing_keys_no_change BEFORE UPDATE OR DELETE ON signing_keys
FOR EACH ROW EXECUTE FUNCTION tollgate_append_only();
CREATE TRIGGER signing_keys_no_truncate BEFORE TRUNCATE ON signing_keys
FOR EACH STATEMENT EXECUTE FUNCTION tollgate_append_only();

-- A key retired by a rotation signs nothing after the checkpoint that endorsed its successor.
CREATE TABLE signing_key_retirements (
    key_id TEXT PRIMARY KEY REFERENCES signing_keys(key_id),
    retired_seq BIGINT NOT NULL,
    retired_at BIGINT NOT NULL
);
CREATE TRIGGER signing_key_retirements_no_change BEFORE UPDATE OR DELETE ON signing_key_retirements
FOR EACH ROW EXECUTE FUNCTION tollgate_append_only();
CREATE TRIGGER signing_key_retirements_no_truncate BEFORE TRUNCATE ON signing_key_retirements
FOR EACH STATEMENT EXECUTE FUNCTION tollgate_append_only();

-- An entry is appended right after the head, and the head moves to the entry just appended.
CREATE FUNCTION audit_entries_append_at_head() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.seq IS DISTINCT FROM (SELECT seq + 1 FROM audit_head WHERE id = 1) THEN
        RAISE EXCEPTION 'an audit entry is appended right after the head';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER audit_entries_append_at_head BEFORE INSERT ON audit_entries
FOR EACH ROW EXECUTE FUNCTION audit_entries_append_at_head();

CREATE FUNCTION audit_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' THEN
        RAISE EXCEPTION 'the audit head cannot be inserted or removed';
    END IF;
    IF NEW.id IS DISTINCT FROM OLD.id OR NEW.seq IS DISTINCT FROM OLD.seq + 1
        OR NEW.hash IS DISTINCT FROM (SELECT hash FROM audit_entries WHERE seq = NEW.seq) THEN
        RAISE EXCEPTION 'the audit head only moves forward, to the entry just appended';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER audit_head_forward_only BEFORE INSERT OR UPDATE OR DELETE ON audit_head
FOR EACH ROW EXECUTE FUNCTION audit_head_forward_only();
CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head
FOR EACH STATEMENT EXECUTE FUNCTION tollgate_append_only();

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
