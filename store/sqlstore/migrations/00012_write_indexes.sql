-- A removal no longer pays for indexes that no query reads (issue 16):
-- every index entry a removal's INSERTs add is work the one SQLite writer
-- does while every other writer waits.
--
-- events: every statement that reads events finds them by id, by
-- (org_id, seq) or through an index leading with org_id (events.go; the
-- plan tests in store/sqlite and store/postgres pin which); none looks an
-- event up by its uuid. The uuid's UNIQUE index was the one event index
-- keyed at random (version 4 UUIDs), so each new event dirtied its own
-- leaf page of it, where the org-prefixed indexes append next to the
-- previous event. The uuid stays a column (webhooks and exports carry it)
-- and stays unique by construction: 122 random bits.
--
-- SQLite cannot drop a column's UNIQUE constraint, so it rebuilds the
-- table (the documented "make other kinds of table schema changes"
-- procedure): one copy of the trail, measured at about 1 minute per
-- million events on this project's 2-core VM, while the migration holds
-- the writer. The AUTOINCREMENT high-water mark is carried over so that
-- no id is ever used twice, also after a prune removed the newest events.
-- PostgreSQL drops the constraint in place.
--
-- removals: read by uuid (its unique index), by id, and summed over the
-- last hour by (org_id, created_at) (removals_org_created); nothing reads
-- them in (org_id, id) order, so removals_org goes.
--
-- Down adds the uuid's uniqueness back as an index (same guarantee, no
-- rebuild) and removals_org as it was.

-- +goose Up
DROP INDEX removals_org;
@PG@ALTER TABLE events DROP CONSTRAINT events_uuid_key;
@SQLITE@CREATE TABLE events_rebuilt (
@SQLITE@    id INTEGER PRIMARY KEY AUTOINCREMENT,
@SQLITE@    uuid TEXT NOT NULL,
@SQLITE@    org_id BIGINT REFERENCES organizations (id),
@SQLITE@    at BIGINT NOT NULL,
@SQLITE@    actor_member_id BIGINT,
@SQLITE@    credential_id BIGINT,
@SQLITE@    interface TEXT NOT NULL,
@SQLITE@    request_id TEXT,
@SQLITE@    action TEXT NOT NULL,
@SQLITE@    outcome TEXT NOT NULL,
@SQLITE@    target_type TEXT,
@SQLITE@    target_id BIGINT,
@SQLITE@    target_member_id BIGINT,
@SQLITE@    message TEXT,
@SQLITE@    before_state TEXT,
@SQLITE@    after_state TEXT,
@SQLITE@    target_ref TEXT,
@SQLITE@    seq BIGINT,
@SQLITE@    prev_hash TEXT,
@SQLITE@    hash TEXT
@SQLITE@);
@SQLITE@INSERT INTO events_rebuilt (id, uuid, org_id, at, actor_member_id, credential_id, interface, request_id, action, outcome,
@SQLITE@    target_type, target_id, target_member_id, message, before_state, after_state, target_ref, seq, prev_hash, hash)
@SQLITE@SELECT id, uuid, org_id, at, actor_member_id, credential_id, interface, request_id, action, outcome,
@SQLITE@    target_type, target_id, target_member_id, message, before_state, after_state, target_ref, seq, prev_hash, hash
@SQLITE@FROM events ORDER BY id;
@SQLITE@DELETE FROM sqlite_sequence WHERE name = 'events_rebuilt';
@SQLITE@INSERT INTO sqlite_sequence (name, seq) SELECT 'events_rebuilt', seq FROM sqlite_sequence WHERE name = 'events';
@SQLITE@DROP TABLE events;
@SQLITE@ALTER TABLE events_rebuilt RENAME TO events;
@SQLITE@CREATE INDEX events_org ON events (org_id, id);
@SQLITE@CREATE UNIQUE INDEX events_chain ON events (org_id, seq);
@SQLITE@CREATE INDEX events_org_target_member ON events (org_id, target_member_id, id);
@SQLITE@CREATE INDEX events_org_actor_member ON events (org_id, actor_member_id, id);
@SQLITE@CREATE INDEX events_org_action ON events (org_id, action, id);
@SQLITE@CREATE INDEX events_org_action_outcome ON events (org_id, action, outcome, id);
@SQLITE@CREATE INDEX events_org_outcome ON events (org_id, outcome, id);
@SQLITE@CREATE INDEX events_org_interface ON events (org_id, interface, id);
@SQLITE@CREATE INDEX events_org_request ON events (org_id, request_id, id);
@SQLITE@CREATE INDEX events_org_at ON events (org_id, at);

-- +goose Down
CREATE INDEX removals_org ON removals (org_id, id);
@PG@ALTER TABLE events ADD CONSTRAINT events_uuid_key UNIQUE (uuid);
@SQLITE@CREATE UNIQUE INDEX events_uuid ON events (uuid);
