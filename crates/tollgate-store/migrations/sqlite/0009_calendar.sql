-- The release calendar: periods (release windows, maintenance windows, freezes, blackouts), each
-- with where it applies and its recurrence as written (time zone, local start, RFC 5545 duration
-- and rule, excluded and added local starts). Occurrences are computed, never stored. The
-- history of every period is in the audit log.
CREATE TABLE calendar_periods (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    scope_kind TEXT NOT NULL,
    scope_name TEXT,
    tzid TEXT NOT NULL,
    start_local TEXT NOT NULL,
    length TEXT NOT NULL,
    rule TEXT,
    -- Local date-times (ISO 8601), separated by spaces; empty for none.
    exdates TEXT NOT NULL,
    rdates TEXT NOT NULL,
    -- The UID of the .ics event the period was imported from.
    uid TEXT,
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX calendar_periods_by_scope ON calendar_periods (scope_kind, scope_name);
