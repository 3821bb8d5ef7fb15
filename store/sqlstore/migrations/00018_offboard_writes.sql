-- An offboarding rewrites every row of a member's space and group
-- memberships, which were written together and fill their pages, in one
-- statement: each page then needs room for a new version of all its rows
-- at once, and a new version is larger than the old (removed_at and cause
-- are set). At fillfactor 50 (00004, 00013) a page of 30 space memberships
-- has room for about 26 new versions, so roughly one update in five was
-- not HOT and inserted into all four of the table's indexes, among them
-- the random uuid index (at 1M members a buffer miss and a full-page image
-- each): measured on a 100k-member bench database, removing a fresh S4
-- member's 1,000 space memberships made 776 HOT updates of 1,000 and 2.4 MB
-- of WAL after a checkpoint; group memberships 356 of 400. At 40 every
-- update is HOT: 1,000 space memberships cost 1.6-1.7 ms of backend CPU
-- against 2.5 (median of 7, alternating rewrites), and the table is a
-- quarter larger. grants is at 40 already (00003).
-- A fillfactor shapes only pages written after it is set: tables loaded
-- before keep their packing until rewritten (VACUUM FULL, pg_repack).

-- +goose Up
@PG@ALTER TABLE space_members SET (fillfactor = 40);
@PG@ALTER TABLE group_members SET (fillfactor = 40);

-- +goose Down
@PG@ALTER TABLE space_members SET (fillfactor = 50);
@PG@ALTER TABLE group_members SET (fillfactor = 50);
