-- A removal reads its member's e-mail (the audit event's before and
-- after, the report, the removal log) by the member's user_id: through
-- users_pkey, then the user's row in users, two pages that at 10M members
-- are mostly outside the caches. This index holds the e-mail with the id,
-- so PostgreSQL reads it alone (an index-only scan: users' rows never
-- change once written, so their pages stay all-visible), one page a
-- removal fewer. The statement that locks the member reads the e-mail in
-- a subquery for it (store/sqlstore/members.go): joined, users' row would
-- be fetched for FOR UPDATE's recheck. SQLite reads the row by its rowid,
-- the table's own key, and needs no index for it.

-- +goose Up
@PG@CREATE INDEX users_id_email ON users (id) INCLUDE (email);

-- +goose Down
@PG@DROP INDEX users_id_email;
