-- memberd schema, shared by both engines. @ID@ is the engine's
-- auto-incrementing primary key and @BYTES@ its binary type.
-- Nothing is ever deleted: removals are state changes (promise 3).

-- +goose Up
CREATE TABLE organizations (
    id @ID@,
    uuid TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id @ID@,
    uuid TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);

CREATE TABLE members (
    id @ID@,
    uuid TEXT NOT NULL UNIQUE,
    org_id BIGINT NOT NULL REFERENCES organizations (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    name TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    status TEXT NOT NULL CHECK (status IN ('active', 'removed')),
    added_by BIGINT REFERENCES members (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    removed_at BIGINT,
    removed_by BIGINT REFERENCES members (id),
    UNIQUE (org_id, user_id)
);
CREATE INDEX members_org_status ON members (org_id, status, id);
CREATE INDEX members_user ON members (user_id);

CREATE TABLE member_periods (
    id @ID@,
    member_id BIGINT NOT NULL REFERENCES members (id),
    started_at BIGINT NOT NULL,
    started_by BIGINT REFERENCES members (id),
    ended_at BIGINT,
    ended_by BIGINT REFERENCES members (id)
);
-- A membership has at most one open period, whatever races happen.
CREATE UNIQUE INDEX member_periods_open ON member_periods (member_id) WHERE ended_at IS NULL;
CREATE INDEX member_periods_member ON member_periods (member_id, id);

CREATE TABLE spaces (
    id @ID@,
    uuid TEXT NOT NULL UNIQUE,
    org_id BIGINT NOT NULL REFERENCES organizations (id),
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX spaces_org ON spaces (org_id, id);

CREATE TABLE space_members (
    id @ID@,
    uuid TEXT NOT NULL UNIQUE,
    org_id BIGINT NOT NULL REFERENCES organizations (id),
    space_id BIGINT NOT NULL REFERENCES spaces (id),
    member_id BIGINT NOT NULL REFERENCES members (id),
    status TEXT NOT NULL CHECK (status IN ('active', 'removed')),
    added_by BIGINT REFERENCES members (id),
    created_at BIGINT NOT NULL,
    removed_at BIGINT,
    cause TEXT,
    UNIQUE (space_id, member_id)
);
CREATE INDEX space_members_member ON space_members (member_id, status);

CREATE TABLE space_member_roles (
    id @ID@,
    space_member_id BIGINT NOT NULL REFERENCES space_members (id),
    role TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    granted_by BIGINT REFERENCES members (id),
    revoked_at BIGINT,
    revoked_by BIGINT REFERENCES members (id)
);
CREATE UNIQUE INDEX space_member_roles_held ON space_member_roles (space_member_id, role) WHERE revoked_at IS NULL;
CREATE INDEX space_member_roles_member ON space_member_roles (space_member_id);

CREATE TABLE user_groups (
    id @ID@,
    uuid TEXT NOT NULL UNIQUE,
    org_id BIGINT NOT NULL REFERENCES organizations (id),
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX user_groups_org ON user_groups (org_id, id);

CREATE TABLE group_members (
    id @ID@,
    org_id BIGINT NOT NULL REFERENCES organizations (id),
    group_id BIGINT NOT NULL REFERENCES user_groups (id),
    member_id BIGINT NOT NULL REFERENCES members (id),
    status TEXT NOT NULL CHECK (status IN ('active', 'removed')),
    added_by BIGINT REFERENCES members (id),
    created_at BIGINT NOT NULL,
    removed_at BIGINT,
    cause TEXT,
    UNIQUE (group_id, member_id)
);
CREATE INDEX group_members_member ON group_members (member_id, status);

CREATE TABLE resources (
    id @ID@,
    uuid TEXT NOT NULL UNIQUE,
    org_id BIGINT NOT NULL REFERENCES organizations (id),
    space_id BIGINT REFERENCES spaces (id),
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX resources_org ON resources (org_id, id);

CREATE TABLE grants (
    id @ID@,
    uuid TEXT NOT NULL UNIQUE,
    org_id BIGINT NOT NULL REFERENCES organizations (id),
    resource_id BIGINT NOT NULL REFERENCES resources (id),
    member_id BIGINT REFERENCES members (id),
    group_id BIGINT REFERENCES user_groups (id),
    status TEXT NOT NULL CHECK (status IN ('active', 'removed')),
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    cause TEXT,
    CHECK ((member_id IS NULL) <> (group_id IS NULL))
);
CREATE INDEX grants_member ON grants (member_id, status);
CREATE INDEX grants_group ON grants (group_id, status);
CREATE INDEX grants_resource ON grants (resource_id);

CREATE TABLE bookings (
    id @ID@,
    uuid TEXT NOT NULL UNIQUE,
    org_id BIGINT NOT NULL REFERENCES organizations (id),
    resource_id BIGINT NOT NULL REFERENCES resources (id),
    member_id BIGINT NOT NULL REFERENCES members (id),
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'cancelled')),
    created_at BIGINT NOT NULL,
    cancelled_at BIGINT,
    cancel_reason TEXT
);
CREATE INDEX bookings_member ON bookings (member_id, status, starts_at);
CREATE INDEX bookings_resource ON bookings (resource_id, status, starts_at);

CREATE TABLE events (
    id @ID@,
    uuid TEXT NOT NULL UNIQUE,
    org_id BIGINT REFERENCES organizations (id),
    at BIGINT NOT NULL,
    actor_member_id BIGINT,
    credential_id BIGINT,
    interface TEXT NOT NULL,
    request_id TEXT,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    target_type TEXT,
    target_id BIGINT,
    target_member_id BIGINT,
    message TEXT,
    before_state TEXT,
    after_state TEXT
);
CREATE INDEX events_org ON events (org_id, id);
CREATE INDEX events_target_member ON events (target_member_id, id);
CREATE INDEX events_actor_member ON events (actor_member_id, id);

CREATE TABLE credentials (
    id @ID@,
    uuid TEXT NOT NULL UNIQUE,
    org_id BIGINT NOT NULL REFERENCES organizations (id),
    member_id BIGINT NOT NULL REFERENCES members (id),
    name TEXT NOT NULL,
    prefix TEXT NOT NULL UNIQUE,
    hash @BYTES@ NOT NULL,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX credentials_org ON credentials (org_id, id);

CREATE TABLE idempotency_keys (
    credential_id BIGINT NOT NULL REFERENCES credentials (id),
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    result TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (credential_id, key)
);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE credentials;
DROP TABLE events;
DROP TABLE bookings;
DROP TABLE grants;
DROP TABLE resources;
DROP TABLE group_members;
DROP TABLE user_groups;
DROP TABLE space_member_roles;
DROP TABLE space_members;
DROP TABLE spaces;
DROP TABLE member_periods;
DROP TABLE members;
DROP TABLE users;
DROP TABLE organizations;
