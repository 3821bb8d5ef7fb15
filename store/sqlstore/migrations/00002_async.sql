-- Asynchronous work: operations (async and scheduled removals) and the
-- webhook outbox. The job queue's own tables are River's, migrated by
-- River (jobs package); these hold what memberd promises about the work.

-- +goose Up
CREATE TABLE operations (
    id @ID@,
    uuid TEXT NOT NULL UNIQUE,
    org_id BIGINT NOT NULL REFERENCES organizations (id),
    kind TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('scheduled', 'queued', 'running', 'succeeded', 'failed', 'cancelled')),
    interface TEXT NOT NULL,
    request_id TEXT NOT NULL DEFAULT '',
    actor_member_id BIGINT NOT NULL REFERENCES members (id),
    credential_id BIGINT,
    target_member_id BIGINT,
    space_id BIGINT,
    lock_key TEXT NOT NULL,
    request TEXT NOT NULL,
    original TEXT,
    effective_at BIGINT,
    result TEXT,
    error_code TEXT,
    error_message TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT
);
-- One waiting or running operation per target, whatever races happen:
-- a second revocation of the same membership is a conflict (409).
CREATE UNIQUE INDEX operations_pending ON operations (lock_key) WHERE status IN ('scheduled', 'queued', 'running');
CREATE INDEX operations_org ON operations (org_id, id);

CREATE TABLE webhook_endpoints (
    id @ID@,
    uuid TEXT NOT NULL UNIQUE,
    org_id BIGINT NOT NULL REFERENCES organizations (id),
    url TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints (org_id, id);

-- The outbox: one row per event, written with the change it reports.
CREATE TABLE webhook_messages (
    id @ID@,
    uuid TEXT NOT NULL UNIQUE,
    org_id BIGINT NOT NULL REFERENCES organizations (id),
    type TEXT NOT NULL,
    event_id BIGINT,
    order_key TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id @ID@,
    uuid TEXT NOT NULL UNIQUE,
    org_id BIGINT NOT NULL REFERENCES organizations (id),
    endpoint_id BIGINT NOT NULL REFERENCES webhook_endpoints (id),
    message_id BIGINT NOT NULL REFERENCES webhook_messages (id),
    order_key TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    last_status INTEGER,
    last_error TEXT,
    redelivers TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    delivered_at BIGINT
);
-- Each member's line of deliveries to an endpoint, in order.
CREATE INDEX webhook_deliveries_line ON webhook_deliveries (endpoint_id, order_key, status, id);
CREATE INDEX webhook_deliveries_org ON webhook_deliveries (org_id, id);

CREATE TABLE webhook_attempts (
    id @ID@,
    delivery_id BIGINT NOT NULL REFERENCES webhook_deliveries (id),
    at BIGINT NOT NULL,
    status_code INTEGER,
    error TEXT,
    duration_ms BIGINT NOT NULL,
    response TEXT
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);

-- +goose Down
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_messages;
DROP TABLE webhook_endpoints;
DROP TABLE operations;
