-- The admin console's sign-in state. A session is found by the SHA-256
-- of its cookie's token; the token itself is stored nowhere. A session
-- made with a credential stops with it (the credential is joined on every
-- request), and every session stops with its member. One-time sign-in
-- links, printed by `memberd signin-link`, are kept the same way.
--
-- The console's member list pages by keyset in id order with or without a
-- state filter. members_org_status (org_id, status, id) serves it only with
-- one: without, SQLite read and sorted the organization (1M members: 0.3 s
-- for the first page, 1.4 s for a page backwards). members_org_id serves
-- every unfiltered page from the index in order; migration 00005 creates it
-- (SCIM pages through members the same way).

-- +goose Up

CREATE TABLE admin_sessions (
    id @ID@,
    uuid TEXT NOT NULL UNIQUE,
    org_id BIGINT NOT NULL REFERENCES organizations (id),
    member_id BIGINT NOT NULL REFERENCES members (id),
    credential_id BIGINT REFERENCES credentials (id),
    hash @BYTES@ NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    via TEXT NOT NULL CHECK (via IN ('credential', 'link')),
    user_agent TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX admin_sessions_org ON admin_sessions (org_id, id);

CREATE TABLE admin_signin_links (
    id @ID@,
    uuid TEXT NOT NULL UNIQUE,
    org_id BIGINT NOT NULL REFERENCES organizations (id),
    member_id BIGINT NOT NULL REFERENCES members (id),
    hash @BYTES@ NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

-- +goose Down
DROP TABLE admin_signin_links;
DROP TABLE admin_sessions;
