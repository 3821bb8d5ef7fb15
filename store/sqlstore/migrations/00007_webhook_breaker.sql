-- Webhook endpoints that stop answering: a circuit breaker and a bound.
--
-- failures counts the endpoint's consecutive failed attempts since
-- failing_since; once they pass the retry policy's run over its period,
-- the endpoint is disabled with disabled_reason 'failing' and its pending
-- deliveries are held until it is enabled again. An endpoint holds at
-- most a bounded number of pending deliveries; messages beyond it are not
-- queued but counted in dropped (dropping_since opens a run of drops, the
-- one the audit trail notes).
--
-- Deliveries to one endpoint now go out as one stream in ID order, so
-- the line is found by (endpoint_id, status, id).

-- +goose Up
ALTER TABLE webhook_endpoints ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhook_endpoints ADD COLUMN failing_since BIGINT;
ALTER TABLE webhook_endpoints ADD COLUMN last_error TEXT;
ALTER TABLE webhook_endpoints ADD COLUMN disabled_reason TEXT;
ALTER TABLE webhook_endpoints ADD COLUMN disabled_at BIGINT;
ALTER TABLE webhook_endpoints ADD COLUMN dropped BIGINT NOT NULL DEFAULT 0;
ALTER TABLE webhook_endpoints ADD COLUMN dropping_since BIGINT;
ALTER TABLE webhook_endpoints ADD COLUMN last_dropped_at BIGINT;
CREATE INDEX webhook_deliveries_stream ON webhook_deliveries (endpoint_id, status, id);

-- +goose Down
DROP INDEX webhook_deliveries_stream;
ALTER TABLE webhook_endpoints DROP COLUMN last_dropped_at;
ALTER TABLE webhook_endpoints DROP COLUMN dropping_since;
ALTER TABLE webhook_endpoints DROP COLUMN dropped;
ALTER TABLE webhook_endpoints DROP COLUMN disabled_at;
ALTER TABLE webhook_endpoints DROP COLUMN disabled_reason;
ALTER TABLE webhook_endpoints DROP COLUMN last_error;
ALTER TABLE webhook_endpoints DROP COLUMN failing_since;
ALTER TABLE webhook_endpoints DROP COLUMN failures;
