-- Revoking grants touches no index, so offboarding a member with thousands
-- of direct grants rewrites rows, not index entries. With status in both
-- grant indexes every revocation rewrote two index entries (a direct grant
-- sat in the group index under NULL). Each index now holds only the rows of
-- its kind, keyed without status: every reader of them fetches the row for
-- resource_id anyway and filters status there.
--
-- On PostgreSQL that alone is not enough: an UPDATE that changes no
-- indexed column is HOT (adds no index entries) only if the new row version
-- fits on the same page, and a member's grants fill their pages. Leaving
-- 60% of each page free makes revoking 5,000 grants about 6 times faster
-- (66 ms to 11 ms); the table is small next to the membership tables. It
-- applies to pages written from now on (VACUUM FULL grants rewrites the rest).

-- +goose Up
DROP INDEX grants_member;
DROP INDEX grants_group;
CREATE INDEX grants_member ON grants (member_id) WHERE member_id IS NOT NULL;
CREATE INDEX grants_group ON grants (group_id) WHERE group_id IS NOT NULL;
@PG@ALTER TABLE grants SET (fillfactor = 40);

-- +goose Down
@PG@ALTER TABLE grants RESET (fillfactor);
DROP INDEX grants_member;
DROP INDEX grants_group;
CREATE INDEX grants_member ON grants (member_id, status);
CREATE INDEX grants_group ON grants (group_id, status);
