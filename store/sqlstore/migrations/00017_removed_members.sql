-- A removal's UPDATE of members is a HOT update on PostgreSQL (issue 16):
-- it adds no index entry. PostgreSQL 15 updates a row in place of its page
-- only if no indexed column changes (predicates and expressions of partial
-- and expression indexes included) and the new version fits on the page.
-- members_org_status (org_id, status, id) indexed the status, so every
-- removal wrote a new entry in each of members' six indexes, each a random
-- leaf page at a million members and, after a checkpoint, a full-page image
-- in the WAL: measured in steady state, 49 buffer hits and 1.1 KB of WAL
-- for the UPDATE, against 29 and 457 bytes without the index.
--
-- The status lists keep an index of their own: removed_members holds the
-- removed members of each organization, so a list of removed members walks
-- it in member id order (forwards or backwards) and joins each member by
-- its key, however few or many an organization has. A list of active
-- members walks members_org_id and skips the removed rows.
--
-- The statement that changes a status changes removed_members too, so the
-- two never disagree, not even inside a transaction. On SQLite triggers do
-- it: they run inside the statement, no extra statement for the one
-- writer. On PostgreSQL the removal's and the restore's statements do it
-- in a CTE (store/sqlstore), since a PL/pgSQL update trigger measured
-- 30-60 us of backend CPU a removal, more than the index entries it saves;
-- a trigger covers only the rare insert of a member already removed (its
-- WHEN costs a bulk load of active members nothing). A member is never
-- deleted (promise 3) and never changes organization. No foreign key: rows
-- are written from the members row itself, and a key would read members
-- again on every removal.
--
-- members keeps a fifth of each page free on PostgreSQL, so that the
-- removal's new row version fits beside the old one; it applies to pages
-- written from now on, COPY included (VACUUM FULL members rewrites the
-- rest). SQLite updates only the indexes whose columns change, so for it
-- the change is one index entry written instead of two (the status entry's
-- delete and insert).

-- +goose Up
@PG@CREATE TABLE removed_members (org_id BIGINT NOT NULL, member_id BIGINT NOT NULL, PRIMARY KEY (org_id, member_id));
@SQLITE@CREATE TABLE removed_members (org_id BIGINT NOT NULL, member_id BIGINT NOT NULL, PRIMARY KEY (org_id, member_id)) WITHOUT ROWID;
INSERT INTO removed_members (org_id, member_id) SELECT org_id, id FROM members WHERE status = 'removed';
DROP INDEX members_org_status;
@PG@CREATE FUNCTION removed_members_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO removed_members (org_id, member_id) VALUES (NEW.org_id, NEW.id); RETURN NULL; END $$;
@PG@CREATE TRIGGER removed_members_on_insert AFTER INSERT ON members FOR EACH ROW WHEN (NEW.status = 'removed') EXECUTE FUNCTION removed_members_insert();
@PG@ALTER TABLE members SET (fillfactor = 80);
@SQLITE@CREATE TRIGGER removed_members_on_insert AFTER INSERT ON members WHEN NEW.status = 'removed' BEGIN INSERT INTO removed_members (org_id, member_id) VALUES (NEW.org_id, NEW.id); END;
@SQLITE@CREATE TRIGGER removed_members_on_update AFTER UPDATE OF status, org_id ON members WHEN OLD.status <> NEW.status OR OLD.org_id <> NEW.org_id BEGIN DELETE FROM removed_members WHERE OLD.status = 'removed' AND org_id = OLD.org_id AND member_id = OLD.id; INSERT INTO removed_members (org_id, member_id) SELECT NEW.org_id, NEW.id WHERE NEW.status = 'removed'; END;

-- +goose Down
@PG@ALTER TABLE members RESET (fillfactor);
@PG@DROP TRIGGER removed_members_on_insert ON members;
@SQLITE@DROP TRIGGER removed_members_on_update;
@SQLITE@DROP TRIGGER removed_members_on_insert;
@PG@DROP FUNCTION removed_members_insert();
CREATE INDEX members_org_status ON members (org_id, status, id);
DROP TABLE removed_members;
