-- A removal keeps its call's whole answer (removals.result), which for an
-- offboarding is the report: 80 KB of JSON for the bench's S4 member,
-- compressed into TOAST on every offboarding. PostgreSQL's default pglz
-- took 1.03 ms of backend CPU to store it, lz4 0.51 ms and no compression
-- (STORAGE EXTERNAL) 0.62 ms at five times the size (median of 60
-- alternating inserts of that report), so the column is lz4 where the
-- server was built with it (PostgreSQL 14 and later, as packaged); a
-- server without it keeps pglz. Only values written after this are lz4.

-- +goose Up
@PG@-- +goose StatementBegin
@PG@DO $$
@PG@BEGIN
@PG@	IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
@PG@		ALTER TABLE removals ALTER COLUMN result SET COMPRESSION lz4;
@PG@	END IF;
@PG@END
@PG@$$;
@PG@-- +goose StatementEnd

-- +goose Down
@PG@-- +goose StatementBegin
@PG@DO $$
@PG@BEGIN
@PG@	IF current_setting('server_version_num')::int >= 140000 THEN
@PG@		ALTER TABLE removals ALTER COLUMN result SET COMPRESSION default;
@PG@	END IF;
@PG@END
@PG@$$;
@PG@-- +goose StatementEnd
