-- A removal ends the member's direct grants and cancels its future
-- bookings, and on PostgreSQL each is a probe of grants_member and
-- bookings_member even for the members that have none (nine in ten and
-- nineteen in twenty of the bench's): at 10M members each probe is a page
-- from outside shared buffers (issue 16, S5). members now says whether the
-- member may have an active direct grant (holds_grants) or an active
-- booking (holds_bookings); the statement that locks a removal's member
-- reads them from the member's row, which it reads anyway, and the
-- removal skips the UPDATE of what the member cannot have.
--
-- The flags are conservative: a flag may say "may have" when there is
-- none, never "none" when there is one. Triggers set them in the very
-- statement that writes an active grant or booking for a member, whichever
-- writer (the store's calls, restores, imports, SCIM, any dialect, or SQL
-- by hand), so no writer can forget; nothing clears them. A member that
-- once held a direct grant so probes on every later removal, as all did
-- before. The removal reads the flags under its FOR UPDATE of the member:
-- a write that set one before holds the member's row until it commits, so
-- the removal waits and reads it set; a write after waits for the
-- removal, which would not have seen its grant or booking either. The
-- triggers' WHEN leaves the removal's own UPDATEs (to removed, to
-- cancelled) without a call. A bulk load that skips triggers
-- (session_replication_role = replica, as the bench's loader and
-- pg_restore --disable-triggers do) must write the flags itself; the
-- bench's TestGrowData checks it did.
--
-- SQLite counts both in the statement that locks the member
-- (sqlstore.Dialect.CountOnLock) and needs no flag.

-- +goose Up
@PG@ALTER TABLE members ADD COLUMN holds_grants BOOLEAN NOT NULL DEFAULT false, ADD COLUMN holds_bookings BOOLEAN NOT NULL DEFAULT false;
@PG@UPDATE members m SET holds_grants = true WHERE EXISTS (SELECT 1 FROM grants g WHERE g.member_id = m.id AND g.status = 'active');
@PG@UPDATE members m SET holds_bookings = true WHERE EXISTS (SELECT 1 FROM bookings b WHERE b.member_id = m.id AND b.status = 'active');
@PG@-- +goose StatementBegin
@PG@CREATE FUNCTION member_holds() RETURNS trigger LANGUAGE plpgsql AS $$
@PG@BEGIN
@PG@	IF TG_TABLE_NAME = 'grants' THEN
@PG@		UPDATE members SET holds_grants = true WHERE id = NEW.member_id AND NOT holds_grants;
@PG@	ELSE
@PG@		UPDATE members SET holds_bookings = true WHERE id = NEW.member_id AND NOT holds_bookings;
@PG@	END IF;
@PG@	RETURN NULL;
@PG@END
@PG@$$;
@PG@-- +goose StatementEnd
@PG@CREATE TRIGGER grants_member_holds AFTER INSERT OR UPDATE OF status, member_id ON grants
@PG@	FOR EACH ROW WHEN (NEW.status = 'active' AND NEW.member_id IS NOT NULL) EXECUTE FUNCTION member_holds();
@PG@CREATE TRIGGER bookings_member_holds AFTER INSERT OR UPDATE OF status, member_id ON bookings
@PG@	FOR EACH ROW WHEN (NEW.status = 'active') EXECUTE FUNCTION member_holds();

-- +goose Down
@PG@DROP TRIGGER bookings_member_holds ON bookings;
@PG@DROP TRIGGER grants_member_holds ON grants;
@PG@DROP FUNCTION member_holds();
@PG@ALTER TABLE members DROP COLUMN holds_bookings, DROP COLUMN holds_grants;
