-- The calendar's revision: one row, moved forward by the store in the transaction of every
-- period insert, update and delete. A server keeps the periods compiled for the revision it
-- last read and compiles again only when a read finds a newer one (see service/calendar.rs).
CREATE TABLE calendar_revision (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    revision BIGINT NOT NULL
);
INSERT INTO calendar_revision (id, revision) VALUES (1, 0);

-- Open changes overlapping an interval in one environment: a bounded range of planned starts
-- (a change lasts at most 31 days plus a week of rollback time).
CREATE INDEX change_requests_by_environment ON change_requests (environment, planned_start);
