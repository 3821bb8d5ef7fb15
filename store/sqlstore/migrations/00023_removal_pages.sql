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
--
-- The removal also reads the member's e-mail address (the audit event,
-- the removal log), from users_id_email (00022): one more page outside
-- shared buffers at 10M members. members.email now holds a copy of the
-- member's user's address, so the statements that lock and end the
-- membership read it from the member's row. users' rows never change once
-- written, and a member's address changes only with its user_id, so a
-- trigger that fills email on every INSERT and every UPDATE of user_id or
-- email keeps the copy exact whatever the writer (its value is the user's,
-- whatever the writer sent); the removal's UPDATE of status does not fire
-- it. NOT NULL makes a loader that skips triggers write it; the bench's
-- TestGrowData checks the copy. The copy costs members about 24 bytes a
-- row.
--
-- Three indexes go, each read by no statement, so that more of what a
-- removal reads stays in memory at 10M members (bytes per member at 1M,
-- TestS5Pages): users_id_email (00022, 49.5), which only the removal's
-- e-mail read used, now served by members.email; members_user (22.5):
-- no statement finds members by user_id alone (by e-mail they go through
-- users_email_key and (org_id, user_id)), and users' rows are never
-- deleted, so its foreign key needs no index either; and
-- space_member_roles_member (45.1): every statement that reads roles
-- reads the held ones (revoked_at IS NULL), which the partial
-- space_member_roles_held (space_member_id, role) serves. SQLite keeps
-- its indexes: its plans use space_member_roles_member.

-- +goose Up
@PG@ALTER TABLE members ADD COLUMN holds_grants BOOLEAN NOT NULL DEFAULT false, ADD COLUMN holds_bookings BOOLEAN NOT NULL DEFAULT false,
@PG@	ADD COLUMN email TEXT;
@PG@-- One pass over members, which rewrites every row.
@PG@UPDATE members m SET email = (SELECT u.email FROM users u WHERE u.id = m.user_id),
@PG@	holds_grants = EXISTS (SELECT 1 FROM grants g WHERE g.member_id = m.id AND g.status = 'active'),
@PG@	holds_bookings = EXISTS (SELECT 1 FROM bookings b WHERE b.member_id = m.id AND b.status = 'active');
@PG@ALTER TABLE members ALTER COLUMN email SET NOT NULL;
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
@PG@-- +goose StatementBegin
@PG@CREATE FUNCTION member_email() RETURNS trigger LANGUAGE plpgsql AS $$
@PG@BEGIN
@PG@	NEW.email := (SELECT email FROM users WHERE id = NEW.user_id);
@PG@	RETURN NEW;
@PG@END
@PG@$$;
@PG@-- +goose StatementEnd
@PG@CREATE TRIGGER members_email BEFORE INSERT OR UPDATE OF user_id, email ON members
@PG@	FOR EACH ROW EXECUTE FUNCTION member_email();
@PG@DROP INDEX users_id_email;
@PG@DROP INDEX members_user;
@PG@DROP INDEX space_member_roles_member;

-- +goose Down
@PG@CREATE INDEX space_member_roles_member ON space_member_roles (space_member_id);
@PG@CREATE INDEX members_user ON members (user_id);
@PG@CREATE INDEX users_id_email ON users (id) INCLUDE (email);
@PG@DROP TRIGGER members_email ON members;
@PG@DROP FUNCTION member_email();
@PG@DROP TRIGGER bookings_member_holds ON bookings;
@PG@DROP TRIGGER grants_member_holds ON grants;
@PG@DROP FUNCTION member_holds();
@PG@ALTER TABLE members DROP COLUMN email, DROP COLUMN holds_bookings, DROP COLUMN holds_grants;
