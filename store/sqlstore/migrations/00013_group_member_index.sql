-- Removing a member from their groups (an offboarding of someone in 200
-- groups, or every single removal) should rewrite rows, not index entries,
-- as 00004 does for space_members: the member index no longer holds status
-- (every reader filters the member's few rows anyway), so an UPDATE of
-- status changes no indexed column, and on PostgreSQL group_members keeps
-- half of each page free so that those updates are HOT. Measured on a
-- bench database of 1M members, removing the S4 member's 200 group
-- memberships wrote 1,004 WAL records (81 KB) before and 236 (23 KB) after.
-- The cost is disk: the table's pages hold half as many rows.

-- +goose Up
DROP INDEX group_members_member;
CREATE INDEX group_members_member ON group_members (member_id);
@PG@ALTER TABLE group_members SET (fillfactor = 50);

-- +goose Down
@PG@ALTER TABLE group_members RESET (fillfactor);
DROP INDEX group_members_member;
CREATE INDEX group_members_member ON group_members (member_id, status);
