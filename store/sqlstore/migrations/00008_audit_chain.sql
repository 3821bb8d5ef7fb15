-- The audit trail as evidence (issue 11).
--
-- Each organization's events form a hash chain: seq numbers them from 1
-- per organization, prev_hash and hash link them (membership/chain.go
-- defines the canonical content hashed). event_chain_heads holds each
-- chain's last seq and hash: a writer locks its row (FOR UPDATE on
-- PostgreSQL; SQLite has one writer) only when its transaction seals its
-- events, after every other lock. Organization 0 is the chain of events
-- of no organization. Events written before this migration keep no hash
-- and are reported as an unchained prefix by `memberd audit verify`.
--
-- event_checkpoints holds the signed record of a pruned prefix (memberd
-- audit prune), so that the first event kept still links to something.
--
-- target_ref keeps the reference a client sent for a target that names
-- nothing in its organization (an unknown id, another tenant's id).
--
-- The filter indexes lead with org_id and end with id, so that every
-- filter of GET /api/v1/events pages by keyset from an index
-- (docs/reliability.md shows the plans at 10M events).
--
-- Action names are rewritten to the one noun.verb vocabulary
-- (membership.LegacyActions; a test holds this table to it). Down keeps
-- the new names: several old names map to one new name.

-- +goose Up
ALTER TABLE events ADD COLUMN target_ref TEXT;
ALTER TABLE events ADD COLUMN seq BIGINT;
ALTER TABLE events ADD COLUMN prev_hash TEXT;
ALTER TABLE events ADD COLUMN hash TEXT;
CREATE UNIQUE INDEX events_chain ON events (org_id, seq);

CREATE TABLE event_chain_heads (
    org_id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);

CREATE TABLE event_checkpoints (
    org_id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    before_at BIGINT NOT NULL,
    pruned BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    public_key @BYTES@ NOT NULL,
    signature @BYTES@ NOT NULL
);

DROP INDEX events_target_member;
DROP INDEX events_actor_member;
CREATE INDEX events_org_target_member ON events (org_id, target_member_id, id);
CREATE INDEX events_org_actor_member ON events (org_id, actor_member_id, id);
CREATE INDEX events_org_action ON events (org_id, action, id);
CREATE INDEX events_org_action_outcome ON events (org_id, action, outcome, id);
CREATE INDEX events_org_outcome ON events (org_id, outcome, id);
CREATE INDEX events_org_interface ON events (org_id, interface, id);
CREATE INDEX events_org_request ON events (org_id, request_id, id);
CREATE INDEX events_org_at ON events (org_id, at);

UPDATE events SET action = CASE action
    WHEN 'add-group-member' THEN 'group_member.added'
    WHEN 'add-member' THEN 'member.added'
    WHEN 'add-space-member' THEN 'space_member.added'
    WHEN 'auth' THEN 'request.authenticated'
    WHEN 'batch.remove' THEN 'batch.removed'
    WHEN 'batch.remove.item' THEN 'member.removed'
    WHEN 'booking.create' THEN 'booking.created'
    WHEN 'cancel-operation' THEN 'operation.cancelled'
    WHEN 'cancel-schedule' THEN 'scheduled_removal.cancelled'
    WHEN 'check-access' THEN 'access.read'
    WHEN 'create-booking' THEN 'booking.created'
    WHEN 'create-credential' THEN 'credential.created'
    WHEN 'create-grant' THEN 'grant.created'
    WHEN 'create-group' THEN 'group.created'
    WHEN 'create-resource' THEN 'resource.created'
    WHEN 'create-schedule' THEN 'scheduled_removal.created'
    WHEN 'create-space' THEN 'space.created'
    WHEN 'create-webhook' THEN 'webhook_endpoint.created'
    WHEN 'credential.create' THEN 'credential.created'
    WHEN 'credential.revoke' THEN 'credential.revoked'
    WHEN 'disable-webhook' THEN 'webhook_endpoint.disabled'
    WHEN 'event.list' THEN 'event.read'
    WHEN 'export-events' THEN 'event.read'
    WHEN 'get-booking' THEN 'booking.read'
    WHEN 'get-credential' THEN 'credential.read'
    WHEN 'get-grant' THEN 'grant.read'
    WHEN 'get-group' THEN 'group.read'
    WHEN 'get-group-member' THEN 'group_member.read'
    WHEN 'get-member' THEN 'member.read'
    WHEN 'get-member-history' THEN 'member.read'
    WHEN 'get-operation' THEN 'operation.read'
    WHEN 'get-organization' THEN 'organization.read'
    WHEN 'get-resource' THEN 'resource.read'
    WHEN 'get-schedule' THEN 'scheduled_removal.read'
    WHEN 'get-space' THEN 'space.read'
    WHEN 'get-space-membership' THEN 'space_member.read'
    WHEN 'get-webhook' THEN 'webhook_endpoint.read'
    WHEN 'get-webhook-delivery' THEN 'webhook_delivery.read'
    WHEN 'grant.create' THEN 'grant.created'
    WHEN 'group.create' THEN 'group.created'
    WHEN 'group_member.add' THEN 'group_member.added'
    WHEN 'group_member.remove' THEN 'group_member.removed'
    WHEN 'highq.group_user.remove' THEN 'group_member.removed'
    WHEN 'highq.site_users.list' THEN 'space_member.read'
    WHEN 'highq.site_users.remove' THEN 'space_member.removed'
    WHEN 'highq.sites.list' THEN 'space.read'
    WHEN 'list-bookings' THEN 'booking.read'
    WHEN 'list-credentials' THEN 'credential.read'
    WHEN 'list-events' THEN 'event.read'
    WHEN 'list-grants' THEN 'grant.read'
    WHEN 'list-group-members' THEN 'group_member.read'
    WHEN 'list-groups' THEN 'group.read'
    WHEN 'list-member-access' THEN 'access.read'
    WHEN 'list-members' THEN 'member.read'
    WHEN 'list-operations' THEN 'operation.read'
    WHEN 'list-resources' THEN 'resource.read'
    WHEN 'list-schedules' THEN 'scheduled_removal.read'
    WHEN 'list-space-members' THEN 'space_member.read'
    WHEN 'list-spaces' THEN 'space.read'
    WHEN 'list-webhook-deliveries' THEN 'webhook_delivery.read'
    WHEN 'list-webhooks' THEN 'webhook_endpoint.read'
    WHEN 'member.add' THEN 'member.added'
    WHEN 'member.get' THEN 'member.read'
    WHEN 'member.list' THEN 'member.read'
    WHEN 'member.remove' THEN 'member.removed'
    WHEN 'member.restore' THEN 'member.restored'
    WHEN 'member.update' THEN 'member.updated'
    WHEN 'offboard-member' THEN 'member.removed'
    WHEN 'operation.cancel' THEN 'operation.cancelled'
    WHEN 'operation.list' THEN 'operation.read'
    WHEN 'operation.start' THEN 'operation.accepted'
    WHEN 'organization.create' THEN 'organization.created'
    WHEN 'preview-operation' THEN 'operation.read'
    WHEN 'preview-schedule' THEN 'scheduled_removal.read'
    WHEN 'redeliver-webhook' THEN 'webhook_delivery.redelivered'
    WHEN 'remove-batch' THEN 'batch.removed'
    WHEN 'remove-group-member' THEN 'group_member.removed'
    WHEN 'remove-member' THEN 'member.removed'
    WHEN 'remove-space-member' THEN 'space_member.removed'
    WHEN 'request' THEN 'request.routed'
    WHEN 'resource.create' THEN 'resource.created'
    WHEN 'restore-member' THEN 'member.restored'
    WHEN 'revoke-credential' THEN 'credential.revoked'
    WHEN 'revoke-space-roles' THEN 'roles.revoked'
    WHEN 'roles.revoke' THEN 'roles.revoked'
    WHEN 'scheduled_removal.create' THEN 'scheduled_removal.created'
    WHEN 'session.create' THEN 'session.created'
    WHEN 'session.end' THEN 'session.ended'
    WHEN 'session.list' THEN 'session.read'
    WHEN 'session.revoke' THEN 'session.revoked'
    WHEN 'signin_link.create' THEN 'signin_link.created'
    WHEN 'space.create' THEN 'space.created'
    WHEN 'space_member.add' THEN 'space_member.added'
    WHEN 'space_member.remove' THEN 'space_member.removed'
    WHEN 'tedee.group_members.remove' THEN 'group_member.removed'
    WHEN 'update-member' THEN 'member.updated'
    WHEN 'webhook_delivery.list' THEN 'webhook_delivery.read'
    WHEN 'webhook_delivery.redeliver' THEN 'webhook_delivery.redelivered'
    WHEN 'webhook_endpoint.create' THEN 'webhook_endpoint.created'
    WHEN 'webhook_endpoint.disable' THEN 'webhook_endpoint.disabled'
    WHEN 'workspace_membership.read' THEN 'space_member.read'
    ELSE action END;

-- +goose Down
DROP INDEX events_org_at;
DROP INDEX events_org_request;
DROP INDEX events_org_interface;
DROP INDEX events_org_outcome;
DROP INDEX events_org_action_outcome;
DROP INDEX events_org_action;
DROP INDEX events_org_actor_member;
DROP INDEX events_org_target_member;
CREATE INDEX events_target_member ON events (target_member_id, id);
CREATE INDEX events_actor_member ON events (actor_member_id, id);
DROP TABLE event_checkpoints;
DROP TABLE event_chain_heads;
DROP INDEX events_chain;
ALTER TABLE events DROP COLUMN hash;
ALTER TABLE events DROP COLUMN prev_hash;
ALTER TABLE events DROP COLUMN seq;
ALTER TABLE events DROP COLUMN target_ref;
