-- What an identity provider knows of members and groups beyond memberd's
-- own fields (SCIM 2.0, package scim). Kept beside members and user_groups
-- rather than in them so that memberd's own queries read no wider rows.
-- A profile row exists only once a provider wrote one.

-- +goose Up
CREATE TABLE member_profiles (
    member_id BIGINT PRIMARY KEY REFERENCES members (id),
    org_id BIGINT NOT NULL REFERENCES organizations (id),
    external_id TEXT,
    given_name TEXT NOT NULL DEFAULT '',
    family_name TEXT NOT NULL DEFAULT '',
    -- Set when the provider deleted the member: the membership is removed
    -- (history kept) and the provider no longer sees it until re-created.
    deleted_at BIGINT
);
-- userName lookups use users.email and members (org_id, user_id); this
-- makes externalId lookups, the other filter every provider sends, an
-- index read within one organization.
CREATE INDEX member_profiles_external ON member_profiles (org_id, external_id) WHERE external_id IS NOT NULL;
-- A provider's import pages through every member in id order, active or
-- not: without this each page would sort the whole organization.
CREATE INDEX members_org_id ON members (org_id, id);

CREATE TABLE group_profiles (
    group_id BIGINT PRIMARY KEY REFERENCES user_groups (id),
    org_id BIGINT NOT NULL REFERENCES organizations (id),
    external_id TEXT,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX group_profiles_external ON group_profiles (org_id, external_id) WHERE external_id IS NOT NULL;

-- +goose Down
DROP INDEX members_org_id;
DROP TABLE group_profiles;
DROP TABLE member_profiles;
