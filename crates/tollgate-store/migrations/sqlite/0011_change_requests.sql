-- Change requests: the request to put one release into one environment, with its plans, its
-- planned interval, the services it impacts, its risk assessment and approval route (JSON, as
-- core's stored formats), and the post-implementation review. Every write bumps `revision`.
CREATE TABLE change_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    release_id BIGINT NOT NULL REFERENCES releases(id),
    environment TEXT NOT NULL REFERENCES environments(name),
    change_type TEXT NOT NULL,
    -- The pre-approved template of a standard change.
    template TEXT,
    state TEXT NOT NULL,
    justification TEXT NOT NULL,
    implementation_plan TEXT NOT NULL,
    rollback_plan TEXT NOT NULL,
    rollback_minutes BIGINT NOT NULL,
    -- JSON arrays of strings.
    tickets TEXT NOT NULL,
    links TEXT NOT NULL,
    planned_start BIGINT NOT NULL,
    planned_end BIGINT NOT NULL,
    manifest_digest TEXT NOT NULL,
    -- Service names separated by spaces.
    impacted_services TEXT NOT NULL,
    risk TEXT,
    route TEXT,
    requested_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deployment_id BIGINT REFERENCES deployments(id),
    review_due_at BIGINT,
    reviewed_by TEXT,
    reviewed_at BIGINT,
    review_summary TEXT,
    revision BIGINT NOT NULL
);
CREATE INDEX change_requests_by_release ON change_requests (release_id, environment);
CREATE INDEX change_requests_by_state ON change_requests (state, planned_start);
CREATE INDEX change_requests_by_requester ON change_requests (requested_by, state);

-- Each approver's verdict, for the manifest digest it was given for. Verdicts are never
-- changed or deleted: a new verdict of the same approver supersedes the older ones.
CREATE TABLE change_approvals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    change_id BIGINT NOT NULL REFERENCES change_requests(id),
    approver TEXT NOT NULL,
    verdict TEXT NOT NULL,
    comment TEXT NOT NULL,
    manifest_digest TEXT NOT NULL,
    -- Team names separated by spaces.
    approver_teams TEXT NOT NULL,
    -- 1 when the approver held the deployer role (or a just-in-time deployer grant), else 0.
    deployer BIGINT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX change_approvals_by_change ON change_approvals (change_id, id);

-- The change policy in force (the `changes` section of tollgate.yaml): one row, as the JSON of
-- core's `ChangePolicy`; its history is in the audit log. Without a row the defaults hold.
CREATE TABLE change_policy (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    policy TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Release trains: a cadence of departures (zone, first local departure, RRULE), each with a
-- release window length, a boarding cut-off and a scope freeze before it. Departures are
-- computed, never stored; boarding is recorded on the release (its planned window and
-- scope-freeze time) and in the audit log.
CREATE TABLE release_trains (
    name TEXT PRIMARY KEY,
    tzid TEXT NOT NULL,
    first_departure TEXT NOT NULL,
    rule TEXT NOT NULL,
    length TEXT NOT NULL,
    cutoff_offset TEXT NOT NULL,
    freeze_offset TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
