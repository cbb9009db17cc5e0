-- The audit index (SQLite): one row per audit entry, written in the entry's transaction, so the
-- log can be searched by actor, action, object and time without reading every body. It is not
-- part of the hash chain: verification reads only `audit_entries`. Append-only like the entries.
-- Also the results of the server's scheduled chain verifications (the last 100 are kept).

CREATE TABLE audit_index (
    -- The rowid: every index below carries it, so a lookup needs no second search.
    seq INTEGER PRIMARY KEY,
    -- The entry's time in microseconds since the epoch (UTC), or the time of the row before when
    -- that is later (a clock that stepped back): times never decrease along the log, so a time
    -- range is a range of positions, found with two seeks on `audit_index_by_time`.
    at BIGINT NOT NULL,
    -- A user name, or `@system`.
    actor TEXT NOT NULL,
    -- `<object kind>.<verb>`, as the entry names it.
    action TEXT NOT NULL,
    object_kind TEXT NOT NULL,
    object_id TEXT NOT NULL
);
CREATE INDEX audit_index_by_actor ON audit_index (actor, seq);
CREATE INDEX audit_index_by_action ON audit_index (action, seq);
CREATE INDEX audit_index_by_kind ON audit_index (object_kind, seq);
CREATE INDEX audit_index_by_object ON audit_index (object_kind, object_id, seq);
CREATE INDEX audit_index_by_time ON audit_index (at, seq);
CREATE TRIGGER audit_index_no_update BEFORE UPDATE ON audit_index
BEGIN SELECT RAISE(ABORT, 'the audit index is append-only'); END;
CREATE TRIGGER audit_index_no_delete BEFORE DELETE ON audit_index
BEGIN SELECT RAISE(ABORT, 'the audit index is append-only'); END;

-- Every entry stored so far, read from its canonical bytes (RFC 8785 JSON; `at` is always
-- written `YYYY-MM-DDTHH:MM:SS.ffffffZ`), its time raised to the latest time before it.
INSERT INTO audit_index (seq, at, actor, action, object_kind, object_id)
SELECT seq, MAX(at) OVER (ORDER BY seq ROWS UNBOUNDED PRECEDING), actor, action, object_kind, object_id
FROM (
    SELECT seq,
           CAST(strftime('%s', substr(json_extract(body, '$.at'), 1, 19)) AS INTEGER) * 1000000
               + CAST(substr(json_extract(body, '$.at'), 21, 6) AS INTEGER) AS at,
           json_extract(body, '$.actor') AS actor,
           json_extract(body, '$.action') AS action,
           json_extract(body, '$.object.kind') AS object_kind,
           json_extract(body, '$.object.id') AS object_id
    FROM (SELECT seq, CAST(body AS TEXT) AS body FROM audit_entries)
);

CREATE TABLE audit_verifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    verified_at BIGINT NOT NULL,
    ok INTEGER NOT NULL CHECK (ok IN (0, 1)),
    entries BIGINT NOT NULL,
    checkpoints_verified BIGINT NOT NULL,
    unsigned_tail BIGINT NOT NULL,
    -- The first entry that failed, if one did.
    failed_seq BIGINT,
    message TEXT NOT NULL,
    duration_micros BIGINT NOT NULL
);
