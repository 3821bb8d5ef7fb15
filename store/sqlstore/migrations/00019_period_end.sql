-- A removal no longer writes member_periods (issue 16, S5): the period a
-- removal ends stays open in member_periods, and its end is the removal
-- the member row records (members.removed_at, removed_by), which the same
-- statement writes. MemberPeriodList reads the two together; a restore
-- writes the end into the period before it opens the next one, so a
-- member still has at most one open row (member_periods_open) and every
-- closed period keeps its own end.
--
-- The period's row sits on its own random page at any size, as do its
-- three index entries (its UPDATE could not be HOT: ended_at is in
-- member_periods_open's predicate). Measured right after a checkpoint on
-- a 1M-member PostgreSQL bench database, those pages were 3 of a
-- removal's 6.4 full-page images in the WAL and 3.4 of its 7.2 blocks
-- read. Keeping member_periods_open was the condition: the alternatives
-- that make the UPDATE HOT drop the index or guard the one open period
-- with a trigger.
--
-- Nothing changes in the schema, so Up has nothing to do. Down writes
-- the ends into the periods of the members removed since, as the code
-- before this migration expects.

-- +goose Up

-- +goose Down
UPDATE member_periods SET
    ended_at = (SELECT removed_at FROM members WHERE members.id = member_periods.member_id),
    ended_by = (SELECT removed_by FROM members WHERE members.id = member_periods.member_id)
WHERE ended_at IS NULL AND member_id IN (SELECT id FROM members WHERE status = 'removed');
