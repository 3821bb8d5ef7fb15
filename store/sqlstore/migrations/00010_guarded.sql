-- Guarded removals (issue 15). A saved plan is a previewed removal (the
-- request, the exact report and the tag of the state it read) that can be
-- executed by id while that tag still holds. The request and report are
-- the core's JSON; the plan's state is the only column that changes.

-- +goose Up
CREATE TABLE plans (
    id @ID@,
    uuid TEXT NOT NULL UNIQUE,
    org_id BIGINT NOT NULL REFERENCES organizations (id),
    status TEXT NOT NULL CHECK (status IN ('pending', 'awaiting_approval', 'executed')),
    etag TEXT NOT NULL,
    request TEXT NOT NULL,
    report TEXT,
    batch TEXT,
    created_by BIGINT NOT NULL REFERENCES members (id),
    credential_id BIGINT REFERENCES credentials (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    executed_at BIGINT,
    executed_by BIGINT REFERENCES members (id),
    executed_event_id BIGINT,
    removal_id TEXT,
    approved_by BIGINT REFERENCES members (id),
    forced BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX plans_org ON plans (org_id, id);

-- Every removal call that removed for real, with what it took away item
-- by item and the state it left, so that it can be read and undone later.
CREATE TABLE removals (
    id @ID@,
    uuid TEXT NOT NULL UNIQUE,
    org_id BIGINT NOT NULL REFERENCES organizations (id),
    kind TEXT NOT NULL,
    interface TEXT NOT NULL,
    actor_member_id BIGINT NOT NULL,
    credential_id BIGINT,
    request_id TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    item_count INTEGER NOT NULL,
    items TEXT NOT NULL,
    result TEXT NOT NULL,
    undone_at BIGINT,
    undone_by BIGINT,
    undo TEXT
);
CREATE INDEX removals_org ON removals (org_id, id);
-- The rolling-hour limit sums the members of the last hour's removals.
CREATE INDEX removals_org_created ON removals (org_id, created_at);

-- Blast-radius limits per organization; 0 is no limit.
CREATE TABLE removal_policies (
    org_id BIGINT PRIMARY KEY REFERENCES organizations (id),
    max_per_call INTEGER NOT NULL,
    max_per_hour INTEGER NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by BIGINT REFERENCES members (id)
);

-- +goose Down
DROP TABLE removal_policies;
DROP TABLE removals;
DROP TABLE plans;
