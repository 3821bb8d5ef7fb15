-- Guarded removals (issue 15). A saved plan is a previewed removal (the
-- request, the exact report and the tag of the state it read) that can be
-- executed by id while that tag still holds. The request and report are
-- the core's JSON; the plan's state is the only column that changes.

-- +goose Up
CREATE TABLE plans (
    id @ID@,
    uuid TEXT NOT NULL UNIQUE,
    org_id BIGINT NOT NULL REFERENCES organizations (id),
    status TEXT NOT NULL CHECK (status IN ('pending', 'executed')),
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
    executed_event_id BIGINT
);
CREATE INDEX plans_org ON plans (org_id, id);

-- +goose Down
DROP TABLE plans;
