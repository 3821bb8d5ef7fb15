-- Two changes make an offboarding's rows cheaper to end on PostgreSQL.
--
-- First, an offboarding rewrites every row of a member's space and group
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
--
-- Second, PostgreSQL's foreign keys cost every one of those rows a check
-- although an offboarding changes no key: after each updated row the
-- executor asks each key's trigger whether the key changed (the
-- constraint's cache looked up by hash, the key columns read from both
-- versions), 20% of a bare UPDATE of the S4 member's 5,000 grants in a
-- perf profile. The foreign keys of grants, space_members, group_members
-- and space_member_roles are kept by triggers instead, which hold the
-- same rule for every writer and do no work on a row whose keys an
-- UPDATE does not name: a statement-level check over the inserted rows
-- (one anti-join per key, so a bulk load no longer checks row by row),
-- a row-level one on an UPDATE that names a key column (UPDATE OF), and
-- on the referenced tables a check on DELETE, TRUNCATE and a change of
-- id, which memberd never makes (promise 3: rows are never deleted).
-- Each child table has its own function with its keys written out, not
-- one function taking them as arguments: that one's dynamic SQL is planned
-- on every call and cost a single-row grant insert 0.50 ms against 0.28.
-- The referenced side, which memberd never exercises, shares one.
-- Each check locks the row it finds FOR KEY SHARE, as the constraint's
-- did, so that a concurrent delete of it waits and then finds the
-- reference. Measured on a 100k-member bench database, backend CPU per
-- statement, median of 9 alternating turns: the S4 member's grants
-- revoked 9.9 -> 8.4 ms, space memberships ended 5.4 -> 5.1 ms; a
-- single-row grant insert 0.28 -> 0.29 ms; 20,000 grants inserted in one
-- statement 459 -> about 300 ms (3 turns). A whole offboarding of the S4
-- member, each on a fresh connection as a server's first of its kind
-- (fillfactor, these triggers and the new space statement of
-- spaceMembersDeactivateSummed together): 23.1 -> 20.8 ms of backend CPU,
-- median of 12 alternating pairs. SQLite keeps its foreign keys: it
-- checks one only when an UPDATE changes its columns.

-- +goose Up
@PG@ALTER TABLE space_members SET (fillfactor = 40);
@PG@ALTER TABLE group_members SET (fillfactor = 40);
@PG@ALTER TABLE grants DROP CONSTRAINT grants_org_id_fkey, DROP CONSTRAINT grants_resource_id_fkey, DROP CONSTRAINT grants_member_id_fkey, DROP CONSTRAINT grants_group_id_fkey;
@PG@ALTER TABLE space_members DROP CONSTRAINT space_members_org_id_fkey, DROP CONSTRAINT space_members_space_id_fkey, DROP CONSTRAINT space_members_member_id_fkey, DROP CONSTRAINT space_members_added_by_fkey;
@PG@ALTER TABLE space_member_roles DROP CONSTRAINT space_member_roles_space_member_id_fkey;
@PG@ALTER TABLE group_members DROP CONSTRAINT group_members_org_id_fkey, DROP CONSTRAINT group_members_group_id_fkey, DROP CONSTRAINT group_members_member_id_fkey, DROP CONSTRAINT group_members_added_by_fkey;
@PG@-- +goose StatementBegin
@PG@CREATE FUNCTION grants_keys() RETURNS trigger LANGUAGE plpgsql AS $$
@PG@BEGIN
@PG@	IF TG_LEVEL = 'ROW' THEN
@PG@		IF NOT EXISTS (SELECT 1 FROM organizations p WHERE p.id = NEW.org_id FOR KEY SHARE)
@PG@			OR NOT EXISTS (SELECT 1 FROM resources p WHERE p.id = NEW.resource_id FOR KEY SHARE)
@PG@			OR (NEW.member_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM members p WHERE p.id = NEW.member_id FOR KEY SHARE))
@PG@			OR (NEW.group_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM user_groups p WHERE p.id = NEW.group_id FOR KEY SHARE)) THEN
@PG@			RAISE EXCEPTION 'insert or update on table "grants" violates a foreign key' USING ERRCODE = 'foreign_key_violation';
@PG@		END IF;
@PG@	ELSIF EXISTS (SELECT 1 FROM new_rows n WHERE NOT EXISTS (SELECT 1 FROM organizations p WHERE p.id = n.org_id FOR KEY SHARE))
@PG@		OR EXISTS (SELECT 1 FROM new_rows n WHERE NOT EXISTS (SELECT 1 FROM resources p WHERE p.id = n.resource_id FOR KEY SHARE))
@PG@		OR EXISTS (SELECT 1 FROM new_rows n WHERE (n.member_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM members p WHERE p.id = n.member_id FOR KEY SHARE)))
@PG@		OR EXISTS (SELECT 1 FROM new_rows n WHERE (n.group_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM user_groups p WHERE p.id = n.group_id FOR KEY SHARE))) THEN
@PG@		RAISE EXCEPTION 'insert on table "grants" violates a foreign key' USING ERRCODE = 'foreign_key_violation';
@PG@	END IF;
@PG@	RETURN NULL;
@PG@END
@PG@$$;
@PG@-- +goose StatementEnd
@PG@CREATE TRIGGER grants_keys_insert AFTER INSERT ON grants REFERENCING NEW TABLE AS new_rows
@PG@	FOR EACH STATEMENT EXECUTE FUNCTION grants_keys();
@PG@CREATE TRIGGER grants_keys_update AFTER UPDATE OF org_id, resource_id, member_id, group_id ON grants
@PG@	FOR EACH ROW EXECUTE FUNCTION grants_keys();
@PG@-- +goose StatementBegin
@PG@CREATE FUNCTION space_members_keys() RETURNS trigger LANGUAGE plpgsql AS $$
@PG@BEGIN
@PG@	IF TG_LEVEL = 'ROW' THEN
@PG@		IF NOT EXISTS (SELECT 1 FROM organizations p WHERE p.id = NEW.org_id FOR KEY SHARE)
@PG@			OR NOT EXISTS (SELECT 1 FROM spaces p WHERE p.id = NEW.space_id FOR KEY SHARE)
@PG@			OR NOT EXISTS (SELECT 1 FROM members p WHERE p.id = NEW.member_id FOR KEY SHARE)
@PG@			OR (NEW.added_by IS NOT NULL AND NOT EXISTS (SELECT 1 FROM members p WHERE p.id = NEW.added_by FOR KEY SHARE)) THEN
@PG@			RAISE EXCEPTION 'insert or update on table "space_members" violates a foreign key' USING ERRCODE = 'foreign_key_violation';
@PG@		END IF;
@PG@	ELSIF EXISTS (SELECT 1 FROM new_rows n WHERE NOT EXISTS (SELECT 1 FROM organizations p WHERE p.id = n.org_id FOR KEY SHARE))
@PG@		OR EXISTS (SELECT 1 FROM new_rows n WHERE NOT EXISTS (SELECT 1 FROM spaces p WHERE p.id = n.space_id FOR KEY SHARE))
@PG@		OR EXISTS (SELECT 1 FROM new_rows n WHERE NOT EXISTS (SELECT 1 FROM members p WHERE p.id = n.member_id FOR KEY SHARE))
@PG@		OR EXISTS (SELECT 1 FROM new_rows n WHERE (n.added_by IS NOT NULL AND NOT EXISTS (SELECT 1 FROM members p WHERE p.id = n.added_by FOR KEY SHARE))) THEN
@PG@		RAISE EXCEPTION 'insert on table "space_members" violates a foreign key' USING ERRCODE = 'foreign_key_violation';
@PG@	END IF;
@PG@	RETURN NULL;
@PG@END
@PG@$$;
@PG@-- +goose StatementEnd
@PG@CREATE TRIGGER space_members_keys_insert AFTER INSERT ON space_members REFERENCING NEW TABLE AS new_rows
@PG@	FOR EACH STATEMENT EXECUTE FUNCTION space_members_keys();
@PG@CREATE TRIGGER space_members_keys_update AFTER UPDATE OF org_id, space_id, member_id, added_by ON space_members
@PG@	FOR EACH ROW EXECUTE FUNCTION space_members_keys();
@PG@-- +goose StatementBegin
@PG@CREATE FUNCTION space_member_roles_keys() RETURNS trigger LANGUAGE plpgsql AS $$
@PG@BEGIN
@PG@	IF TG_LEVEL = 'ROW' THEN
@PG@		IF NOT EXISTS (SELECT 1 FROM space_members p WHERE p.id = NEW.space_member_id FOR KEY SHARE) THEN
@PG@			RAISE EXCEPTION 'insert or update on table "space_member_roles" violates a foreign key' USING ERRCODE = 'foreign_key_violation';
@PG@		END IF;
@PG@	ELSIF EXISTS (SELECT 1 FROM new_rows n WHERE NOT EXISTS (SELECT 1 FROM space_members p WHERE p.id = n.space_member_id FOR KEY SHARE)) THEN
@PG@		RAISE EXCEPTION 'insert on table "space_member_roles" violates a foreign key' USING ERRCODE = 'foreign_key_violation';
@PG@	END IF;
@PG@	RETURN NULL;
@PG@END
@PG@$$;
@PG@-- +goose StatementEnd
@PG@CREATE TRIGGER space_member_roles_keys_insert AFTER INSERT ON space_member_roles REFERENCING NEW TABLE AS new_rows
@PG@	FOR EACH STATEMENT EXECUTE FUNCTION space_member_roles_keys();
@PG@CREATE TRIGGER space_member_roles_keys_update AFTER UPDATE OF space_member_id ON space_member_roles
@PG@	FOR EACH ROW EXECUTE FUNCTION space_member_roles_keys();
@PG@-- +goose StatementBegin
@PG@CREATE FUNCTION group_members_keys() RETURNS trigger LANGUAGE plpgsql AS $$
@PG@BEGIN
@PG@	IF TG_LEVEL = 'ROW' THEN
@PG@		IF NOT EXISTS (SELECT 1 FROM organizations p WHERE p.id = NEW.org_id FOR KEY SHARE)
@PG@			OR NOT EXISTS (SELECT 1 FROM user_groups p WHERE p.id = NEW.group_id FOR KEY SHARE)
@PG@			OR NOT EXISTS (SELECT 1 FROM members p WHERE p.id = NEW.member_id FOR KEY SHARE)
@PG@			OR (NEW.added_by IS NOT NULL AND NOT EXISTS (SELECT 1 FROM members p WHERE p.id = NEW.added_by FOR KEY SHARE)) THEN
@PG@			RAISE EXCEPTION 'insert or update on table "group_members" violates a foreign key' USING ERRCODE = 'foreign_key_violation';
@PG@		END IF;
@PG@	ELSIF EXISTS (SELECT 1 FROM new_rows n WHERE NOT EXISTS (SELECT 1 FROM organizations p WHERE p.id = n.org_id FOR KEY SHARE))
@PG@		OR EXISTS (SELECT 1 FROM new_rows n WHERE NOT EXISTS (SELECT 1 FROM user_groups p WHERE p.id = n.group_id FOR KEY SHARE))
@PG@		OR EXISTS (SELECT 1 FROM new_rows n WHERE NOT EXISTS (SELECT 1 FROM members p WHERE p.id = n.member_id FOR KEY SHARE))
@PG@		OR EXISTS (SELECT 1 FROM new_rows n WHERE (n.added_by IS NOT NULL AND NOT EXISTS (SELECT 1 FROM members p WHERE p.id = n.added_by FOR KEY SHARE))) THEN
@PG@		RAISE EXCEPTION 'insert on table "group_members" violates a foreign key' USING ERRCODE = 'foreign_key_violation';
@PG@	END IF;
@PG@	RETURN NULL;
@PG@END
@PG@$$;
@PG@-- +goose StatementEnd
@PG@CREATE TRIGGER group_members_keys_insert AFTER INSERT ON group_members REFERENCING NEW TABLE AS new_rows
@PG@	FOR EACH STATEMENT EXECUTE FUNCTION group_members_keys();
@PG@CREATE TRIGGER group_members_keys_update AFTER UPDATE OF org_id, group_id, member_id, added_by ON group_members
@PG@	FOR EACH ROW EXECUTE FUNCTION group_members_keys();
@PG@-- +goose StatementBegin
@PG@CREATE FUNCTION keys_kept() RETURNS trigger LANGUAGE plpgsql AS $$
@PG@DECLARE
@PG@	i int := 0;
@PG@	used boolean;
@PG@BEGIN
@PG@	IF TG_OP = 'UPDATE' THEN
@PG@		IF OLD.id = NEW.id THEN
@PG@			RETURN NULL;
@PG@		END IF;
@PG@	END IF;
@PG@	WHILE i < TG_NARGS LOOP
@PG@		IF TG_OP = 'TRUNCATE' THEN
@PG@			EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE %I IS NOT NULL)', TG_ARGV[i], TG_ARGV[i + 1]) INTO used;
@PG@		ELSE
@PG@			EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE %I = $1)', TG_ARGV[i], TG_ARGV[i + 1]) USING OLD.id INTO used;
@PG@		END IF;
@PG@		IF used THEN
@PG@			RAISE EXCEPTION 'update or delete on table "%" violates a foreign key of table "%"', TG_TABLE_NAME, TG_ARGV[i]
@PG@				USING ERRCODE = 'foreign_key_violation';
@PG@		END IF;
@PG@		i := i + 2;
@PG@	END LOOP;
@PG@	RETURN NULL;
@PG@END
@PG@$$;
@PG@-- +goose StatementEnd
@PG@CREATE TRIGGER organizations_keys_kept AFTER UPDATE OF id OR DELETE ON organizations
@PG@	FOR EACH ROW EXECUTE FUNCTION keys_kept('grants', 'org_id', 'space_members', 'org_id', 'group_members', 'org_id');
@PG@CREATE TRIGGER organizations_keys_kept_truncate BEFORE TRUNCATE ON organizations
@PG@	FOR EACH STATEMENT EXECUTE FUNCTION keys_kept('grants', 'org_id', 'space_members', 'org_id', 'group_members', 'org_id');
@PG@CREATE TRIGGER resources_keys_kept AFTER UPDATE OF id OR DELETE ON resources
@PG@	FOR EACH ROW EXECUTE FUNCTION keys_kept('grants', 'resource_id');
@PG@CREATE TRIGGER resources_keys_kept_truncate BEFORE TRUNCATE ON resources
@PG@	FOR EACH STATEMENT EXECUTE FUNCTION keys_kept('grants', 'resource_id');
@PG@CREATE TRIGGER members_keys_kept AFTER UPDATE OF id OR DELETE ON members
@PG@	FOR EACH ROW EXECUTE FUNCTION keys_kept('grants', 'member_id', 'space_members', 'member_id', 'space_members', 'added_by', 'group_members', 'member_id', 'group_members', 'added_by');
@PG@CREATE TRIGGER members_keys_kept_truncate BEFORE TRUNCATE ON members
@PG@	FOR EACH STATEMENT EXECUTE FUNCTION keys_kept('grants', 'member_id', 'space_members', 'member_id', 'space_members', 'added_by', 'group_members', 'member_id', 'group_members', 'added_by');
@PG@CREATE TRIGGER user_groups_keys_kept AFTER UPDATE OF id OR DELETE ON user_groups
@PG@	FOR EACH ROW EXECUTE FUNCTION keys_kept('grants', 'group_id', 'group_members', 'group_id');
@PG@CREATE TRIGGER user_groups_keys_kept_truncate BEFORE TRUNCATE ON user_groups
@PG@	FOR EACH STATEMENT EXECUTE FUNCTION keys_kept('grants', 'group_id', 'group_members', 'group_id');
@PG@CREATE TRIGGER spaces_keys_kept AFTER UPDATE OF id OR DELETE ON spaces
@PG@	FOR EACH ROW EXECUTE FUNCTION keys_kept('space_members', 'space_id');
@PG@CREATE TRIGGER spaces_keys_kept_truncate BEFORE TRUNCATE ON spaces
@PG@	FOR EACH STATEMENT EXECUTE FUNCTION keys_kept('space_members', 'space_id');
@PG@CREATE TRIGGER space_members_keys_kept AFTER UPDATE OF id OR DELETE ON space_members
@PG@	FOR EACH ROW EXECUTE FUNCTION keys_kept('space_member_roles', 'space_member_id');
@PG@CREATE TRIGGER space_members_keys_kept_truncate BEFORE TRUNCATE ON space_members
@PG@	FOR EACH STATEMENT EXECUTE FUNCTION keys_kept('space_member_roles', 'space_member_id');

-- +goose Down
@PG@DROP TRIGGER space_members_keys_kept_truncate ON space_members;
@PG@DROP TRIGGER space_members_keys_kept ON space_members;
@PG@DROP TRIGGER spaces_keys_kept_truncate ON spaces;
@PG@DROP TRIGGER spaces_keys_kept ON spaces;
@PG@DROP TRIGGER user_groups_keys_kept_truncate ON user_groups;
@PG@DROP TRIGGER user_groups_keys_kept ON user_groups;
@PG@DROP TRIGGER members_keys_kept_truncate ON members;
@PG@DROP TRIGGER members_keys_kept ON members;
@PG@DROP TRIGGER resources_keys_kept_truncate ON resources;
@PG@DROP TRIGGER resources_keys_kept ON resources;
@PG@DROP TRIGGER organizations_keys_kept_truncate ON organizations;
@PG@DROP TRIGGER organizations_keys_kept ON organizations;
@PG@DROP FUNCTION keys_kept();
@PG@DROP TRIGGER group_members_keys_update ON group_members;
@PG@DROP TRIGGER group_members_keys_insert ON group_members;
@PG@DROP FUNCTION group_members_keys();
@PG@ALTER TABLE group_members ADD CONSTRAINT group_members_org_id_fkey FOREIGN KEY (org_id) REFERENCES organizations (id), ADD CONSTRAINT group_members_group_id_fkey FOREIGN KEY (group_id) REFERENCES user_groups (id), ADD CONSTRAINT group_members_member_id_fkey FOREIGN KEY (member_id) REFERENCES members (id), ADD CONSTRAINT group_members_added_by_fkey FOREIGN KEY (added_by) REFERENCES members (id);
@PG@DROP TRIGGER space_member_roles_keys_update ON space_member_roles;
@PG@DROP TRIGGER space_member_roles_keys_insert ON space_member_roles;
@PG@DROP FUNCTION space_member_roles_keys();
@PG@ALTER TABLE space_member_roles ADD CONSTRAINT space_member_roles_space_member_id_fkey FOREIGN KEY (space_member_id) REFERENCES space_members (id);
@PG@DROP TRIGGER space_members_keys_update ON space_members;
@PG@DROP TRIGGER space_members_keys_insert ON space_members;
@PG@DROP FUNCTION space_members_keys();
@PG@ALTER TABLE space_members ADD CONSTRAINT space_members_org_id_fkey FOREIGN KEY (org_id) REFERENCES organizations (id), ADD CONSTRAINT space_members_space_id_fkey FOREIGN KEY (space_id) REFERENCES spaces (id), ADD CONSTRAINT space_members_member_id_fkey FOREIGN KEY (member_id) REFERENCES members (id), ADD CONSTRAINT space_members_added_by_fkey FOREIGN KEY (added_by) REFERENCES members (id);
@PG@DROP TRIGGER grants_keys_update ON grants;
@PG@DROP TRIGGER grants_keys_insert ON grants;
@PG@DROP FUNCTION grants_keys();
@PG@ALTER TABLE grants ADD CONSTRAINT grants_org_id_fkey FOREIGN KEY (org_id) REFERENCES organizations (id), ADD CONSTRAINT grants_resource_id_fkey FOREIGN KEY (resource_id) REFERENCES resources (id), ADD CONSTRAINT grants_member_id_fkey FOREIGN KEY (member_id) REFERENCES members (id), ADD CONSTRAINT grants_group_id_fkey FOREIGN KEY (group_id) REFERENCES user_groups (id);
@PG@ALTER TABLE space_members SET (fillfactor = 50);
@PG@ALTER TABLE group_members SET (fillfactor = 50);
