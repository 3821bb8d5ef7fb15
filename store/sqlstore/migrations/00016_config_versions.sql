-- Every removal reads its organization's removal policy and webhook
-- endpoints, which hardly ever change: two round trips of a single
-- removal's nine on PostgreSQL. A node may keep them only if it can prove
-- its copy current, since other nodes change them too. config_versions
-- holds a version per organization that triggers move in the very
-- transaction of every row change of removal_policies or
-- webhook_endpoints, whichever node (or operator) makes it; a removal
-- reads it in the statement that locks its member, and a copy kept at
-- that version is current. Versions come from a sequence, so that a
-- version a rolled-back change took is never taken again for another
-- state. SQLite has one writer, which caches these without a version
-- (sqlstore.WriterCache), so all of this is PostgreSQL's alone.

-- +goose Up
@PG@CREATE SEQUENCE config_versions_seq;
@PG@CREATE TABLE config_versions (
@PG@	org_id BIGINT PRIMARY KEY,
@PG@	version BIGINT NOT NULL
@PG@);
@PG@INSERT INTO config_versions (org_id, version)
@PG@	SELECT org_id, nextval('config_versions_seq') FROM (SELECT org_id FROM removal_policies UNION SELECT org_id FROM webhook_endpoints) o;
@PG@-- +goose StatementBegin
@PG@CREATE FUNCTION config_changed() RETURNS trigger LANGUAGE plpgsql AS $$
@PG@BEGIN
@PG@	IF TG_OP = 'TRUNCATE' THEN
@PG@		UPDATE config_versions SET version = nextval('config_versions_seq');
@PG@		RETURN NULL;
@PG@	END IF;
@PG@	IF TG_OP <> 'DELETE' THEN
@PG@		INSERT INTO config_versions (org_id, version) VALUES (NEW.org_id, nextval('config_versions_seq'))
@PG@			ON CONFLICT (org_id) DO UPDATE SET version = excluded.version;
@PG@	END IF;
@PG@	IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.org_id <> NEW.org_id) THEN
@PG@		INSERT INTO config_versions (org_id, version) VALUES (OLD.org_id, nextval('config_versions_seq'))
@PG@			ON CONFLICT (org_id) DO UPDATE SET version = excluded.version;
@PG@	END IF;
@PG@	RETURN NULL;
@PG@END
@PG@$$;
@PG@-- +goose StatementEnd
@PG@CREATE TRIGGER removal_policies_config AFTER INSERT OR UPDATE OR DELETE ON removal_policies
@PG@	FOR EACH ROW EXECUTE FUNCTION config_changed();
@PG@CREATE TRIGGER removal_policies_config_truncate AFTER TRUNCATE ON removal_policies
@PG@	FOR EACH STATEMENT EXECUTE FUNCTION config_changed();
@PG@CREATE TRIGGER webhook_endpoints_config AFTER INSERT OR UPDATE OR DELETE ON webhook_endpoints
@PG@	FOR EACH ROW EXECUTE FUNCTION config_changed();
@PG@CREATE TRIGGER webhook_endpoints_config_truncate AFTER TRUNCATE ON webhook_endpoints
@PG@	FOR EACH STATEMENT EXECUTE FUNCTION config_changed();

-- +goose Down
@PG@DROP TRIGGER webhook_endpoints_config_truncate ON webhook_endpoints;
@PG@DROP TRIGGER webhook_endpoints_config ON webhook_endpoints;
@PG@DROP TRIGGER removal_policies_config_truncate ON removal_policies;
@PG@DROP TRIGGER removal_policies_config ON removal_policies;
@PG@DROP FUNCTION config_changed();
@PG@DROP TABLE config_versions;
@PG@DROP SEQUENCE config_versions_seq;
