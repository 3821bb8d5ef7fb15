-- A removal's UPDATE of members rewrites one index entry, not all five
-- (issue 16), on SQLite. members.removed_by referenced members itself, and
-- SQLite turns any UPDATE that sets a self-referencing foreign key column
-- into a delete and reinsert of the row and of every one of its index
-- entries (sqlite3FkRequired returns 2 for it), so every removal also
-- rewrote the entries of uuid, (org_id, user_id), (org_id, id) and
-- user_id, none of which it changes: measured on a 100k-member bench
-- database at concurrency 64, 15.1 WAL pages per removal before, 11.3
-- after.
--
-- SQLite keeps the guarantee with triggers instead, checked as the
-- constraint was: a removed_by that names no member is refused. Members
-- are never deleted (promise 3), so the parent side needs no trigger.
-- Removing a foreign key leaves the table's rows and indexes as they are,
-- so the definition is edited in place, SQLite's documented procedure for
-- it (lang_altertable.html, "make other kinds of table schema changes"):
-- no copy of the table. The triggers' creation moves the schema version
-- on, so every other connection reloads the definition.
-- PostgreSQL keeps its foreign key: it updates only the indexes whose
-- columns change, whatever the key.

-- +goose Up
@SQLITE@PRAGMA writable_schema = ON;
@SQLITE@UPDATE sqlite_schema SET sql = replace(sql, 'removed_by BIGINT REFERENCES members (id)', 'removed_by BIGINT') WHERE type = 'table' AND name = 'members';
@SQLITE@PRAGMA writable_schema = RESET;
@SQLITE@CREATE TRIGGER members_removed_by_insert BEFORE INSERT ON members WHEN NEW.removed_by IS NOT NULL AND NOT EXISTS (SELECT 1 FROM members WHERE id = NEW.removed_by) BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed'); END;
@SQLITE@CREATE TRIGGER members_removed_by_update BEFORE UPDATE OF removed_by ON members WHEN NEW.removed_by IS NOT NULL AND NOT EXISTS (SELECT 1 FROM members WHERE id = NEW.removed_by) BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed'); END;

-- +goose Down
@SQLITE@PRAGMA writable_schema = ON;
@SQLITE@UPDATE sqlite_schema SET sql = replace(sql, 'removed_by BIGINT,', 'removed_by BIGINT REFERENCES members (id),') WHERE type = 'table' AND name = 'members';
@SQLITE@PRAGMA writable_schema = RESET;
@SQLITE@DROP TRIGGER members_removed_by_update;
@SQLITE@DROP TRIGGER members_removed_by_insert;
