-- OAuth 2.0: the clients owners register, the authorization codes a
-- consent hands out, and the access and refresh tokens the token endpoint
-- issues. Secrets, codes and tokens are kept only as SHA-256 hashes, like
-- credentials. A client acts through a credential of its own (the row
-- events and rate limits name), so revoking either ends the client's
-- tokens; nothing about a token is cached, since every request joins the
-- token to its client, credential and members.

--
-- credentials.last_used_at is what the console's profile page shows for
-- each API key; it is written at most once a minute per credential.

-- +goose Up
ALTER TABLE credentials ADD COLUMN last_used_at BIGINT;

CREATE TABLE oauth_clients (
    id @ID@,
    uuid TEXT NOT NULL UNIQUE,
    org_id BIGINT NOT NULL REFERENCES organizations (id),
    client_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    secret_hash @BYTES@,
    member_id BIGINT NOT NULL REFERENCES members (id),
    credential_id BIGINT NOT NULL REFERENCES credentials (id),
    scopes TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    token_ttl BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    rotated_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX oauth_clients_org ON oauth_clients (org_id, id);

CREATE TABLE oauth_codes (
    id @ID@,
    org_id BIGINT NOT NULL REFERENCES organizations (id),
    client_id BIGINT NOT NULL REFERENCES oauth_clients (id),
    member_id BIGINT NOT NULL REFERENCES members (id),
    hash @BYTES@ NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    chain TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

CREATE TABLE oauth_tokens (
    id @ID@,
    org_id BIGINT NOT NULL REFERENCES organizations (id),
    client_id BIGINT NOT NULL REFERENCES oauth_clients (id),
    member_id BIGINT NOT NULL REFERENCES members (id),
    kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    hash @BYTES@ NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    chain TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX oauth_tokens_chain ON oauth_tokens (chain);
CREATE INDEX oauth_tokens_client ON oauth_tokens (client_id);

-- +goose Down
DROP TABLE oauth_tokens;
DROP TABLE oauth_codes;
DROP TABLE oauth_clients;
ALTER TABLE credentials DROP COLUMN last_used_at;
