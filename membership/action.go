package membership

import "slices"

// The audit trail's one vocabulary of action names: noun.verb, the verb
// in the past tense for a change. A refused attempt is recorded under the
// name of the action it attempted, with OutcomeRefused, so that one action
// filter finds both what happened and what was refused. Every adapter
// (native API, dialects, console, CLI) records under these names; the
// interface column says which one a request came through.
const (
	ActionOrganizationCreated = "organization.created"
	ActionOrganizationRead    = "organization.read"

	ActionMemberAdded    = "member.added"
	ActionMemberUpdated  = "member.updated"
	ActionMemberRemoved  = "member.removed"
	ActionMemberRestored = "member.restored"
	ActionMemberRead     = "member.read"
	ActionAccessRead     = "access.read"
	// ActionBatchRemoved is a batch removal refused as a whole (empty, too
	// large); each item's own removal or refusal is recorded under its
	// kind's action.
	ActionBatchRemoved = "batch.removed"

	ActionSpaceCreated       = "space.created"
	ActionSpaceRead          = "space.read"
	ActionSpaceMemberAdded   = "space_member.added"
	ActionSpaceMemberRemoved = "space_member.removed"
	ActionSpaceMemberRead    = "space_member.read"
	ActionRolesRevoked       = "roles.revoked"

	ActionGroupCreated       = "group.created"
	ActionGroupRead          = "group.read"
	ActionGroupMemberAdded   = "group_member.added"
	ActionGroupMemberRemoved = "group_member.removed"
	ActionGroupMemberRead    = "group_member.read"

	ActionResourceCreated = "resource.created"
	ActionResourceRead    = "resource.read"
	ActionGrantCreated    = "grant.created"
	ActionGrantRead       = "grant.read"
	ActionBookingCreated  = "booking.created"
	ActionBookingRead     = "booking.read"

	ActionOperationAccepted = "operation.accepted"
	// ActionOperationProgressed is one committed chunk of a background
	// offboarding or undo: access it took away or gave back is in force
	// from that commit, so the event (and the access epoch it advances)
	// is written with it.
	ActionOperationProgressed       = "operation.progressed"
	ActionOperationCancelled        = "operation.cancelled"
	ActionOperationRead             = "operation.read"
	ActionScheduledRemovalCreated   = "scheduled_removal.created"
	ActionScheduledRemovalCancelled = "scheduled_removal.cancelled"
	ActionScheduledRemovalExecuted  = "scheduled_removal.executed"
	ActionScheduledRemovalRead      = "scheduled_removal.read"

	ActionCredentialCreated = "credential.created"
	ActionCredentialRevoked = "credential.revoked"
	ActionCredentialRead    = "credential.read"

	ActionSessionCreated    = "session.created"
	ActionSessionRevoked    = "session.revoked"
	ActionSessionEnded      = "session.ended"
	ActionSessionRead       = "session.read"
	ActionSigninLinkCreated = "signin_link.created"

	ActionWebhookEndpointCreated     = "webhook_endpoint.created"
	ActionWebhookEndpointDisabled    = "webhook_endpoint.disabled"
	ActionWebhookEndpointRead        = "webhook_endpoint.read"
	ActionWebhookDeliveryRedelivered = "webhook_delivery.redelivered"
	ActionWebhookDeliveryRead        = "webhook_delivery.read"

	ActionOAuthClientCreated = "oauth_client.created"
	ActionOAuthClientRotated = "oauth_client.rotated"
	ActionOAuthClientRevoked = "oauth_client.revoked"
	ActionOAuthClientRead    = "oauth_client.read"
	// ActionOAuthAuthorized is a user's consent decision at the
	// authorization endpoint.
	ActionOAuthAuthorized   = "oauth.authorized"
	ActionOAuthTokenIssued  = "oauth.token_issued"
	ActionOAuthTokenRevoked = "oauth.token_revoked"
	// ActionOAuthTokenRead is a token introspection (RFC 7662).
	ActionOAuthTokenRead = "oauth.token_read"
	// ActionOAuthChainRevoked records a refresh token presented again:
	// every token of its grant is revoked.
	ActionOAuthChainRevoked = "oauth.chain_revoked"

	ActionEventRead = "event.read"
	// ActionEventsPruned records a retention prune: the events before a
	// checkpoint were deleted (see PruneEvents).
	ActionEventsPruned = "events.pruned"

	// ActionRequestAuthenticated is a request refused before any
	// credential was accepted.
	ActionRequestAuthenticated = "request.authenticated"
	// ActionRequestRouted is a request no route of an interface serves
	// (an unknown path or method).
	ActionRequestRouted = "request.routed"
)

// LegacyActions maps every action name written before the one vocabulary
// to its name now. Migration 00008_audit_chain rewrites stored events
// with exactly this table (a test holds the two together).
var LegacyActions = map[string]string{
	"auth":                       ActionRequestAuthenticated,
	"request":                    ActionRequestRouted,
	"organization.create":        ActionOrganizationCreated,
	"member.add":                 ActionMemberAdded,
	"member.update":              ActionMemberUpdated,
	"member.remove":              ActionMemberRemoved,
	"member.restore":             ActionMemberRestored,
	"member.list":                ActionMemberRead,
	"member.get":                 ActionMemberRead,
	"batch.remove":               ActionBatchRemoved,
	"batch.remove.item":          ActionMemberRemoved,
	"space.create":               ActionSpaceCreated,
	"space_member.add":           ActionSpaceMemberAdded,
	"space_member.remove":        ActionSpaceMemberRemoved,
	"roles.revoke":               ActionRolesRevoked,
	"group.create":               ActionGroupCreated,
	"group_member.add":           ActionGroupMemberAdded,
	"group_member.remove":        ActionGroupMemberRemoved,
	"resource.create":            ActionResourceCreated,
	"grant.create":               ActionGrantCreated,
	"booking.create":             ActionBookingCreated,
	"operation.start":            ActionOperationAccepted,
	"operation.cancel":           ActionOperationCancelled,
	"operation.list":             ActionOperationRead,
	"scheduled_removal.create":   ActionScheduledRemovalCreated,
	"credential.create":          ActionCredentialCreated,
	"credential.revoke":          ActionCredentialRevoked,
	"session.create":             ActionSessionCreated,
	"session.revoke":             ActionSessionRevoked,
	"session.end":                ActionSessionEnded,
	"session.list":               ActionSessionRead,
	"signin_link.create":         ActionSigninLinkCreated,
	"event.list":                 ActionEventRead,
	"webhook_endpoint.create":    ActionWebhookEndpointCreated,
	"webhook_endpoint.disable":   ActionWebhookEndpointDisabled,
	"webhook_delivery.redeliver": ActionWebhookDeliveryRedelivered,
	"webhook_delivery.list":      ActionWebhookDeliveryRead,
	"workspace_membership.read":  ActionSpaceMemberRead,
	"highq.site_users.remove":    ActionSpaceMemberRemoved,
	"highq.group_user.remove":    ActionGroupMemberRemoved,
	"highq.sites.list":           ActionSpaceRead,
	"highq.site_users.list":      ActionSpaceMemberRead,
	"tedee.group_members.remove": ActionGroupMemberRemoved,
	// The native API's operation ids, which its refusals were recorded
	// under.
	"get-organization":        ActionOrganizationRead,
	"list-members":            ActionMemberRead,
	"add-member":              ActionMemberAdded,
	"get-member":              ActionMemberRead,
	"update-member":           ActionMemberUpdated,
	"remove-member":           ActionMemberRemoved,
	"offboard-member":         ActionMemberRemoved,
	"restore-member":          ActionMemberRestored,
	"get-member-history":      ActionMemberRead,
	"list-member-access":      ActionAccessRead,
	"remove-batch":            ActionBatchRemoved,
	"list-spaces":             ActionSpaceRead,
	"create-space":            ActionSpaceCreated,
	"get-space":               ActionSpaceRead,
	"list-space-members":      ActionSpaceMemberRead,
	"add-space-member":        ActionSpaceMemberAdded,
	"remove-space-member":     ActionSpaceMemberRemoved,
	"get-space-membership":    ActionSpaceMemberRead,
	"revoke-space-roles":      ActionRolesRevoked,
	"list-groups":             ActionGroupRead,
	"create-group":            ActionGroupCreated,
	"get-group":               ActionGroupRead,
	"list-group-members":      ActionGroupMemberRead,
	"add-group-member":        ActionGroupMemberAdded,
	"get-group-member":        ActionGroupMemberRead,
	"remove-group-member":     ActionGroupMemberRemoved,
	"list-resources":          ActionResourceRead,
	"create-resource":         ActionResourceCreated,
	"get-resource":            ActionResourceRead,
	"list-grants":             ActionGrantRead,
	"create-grant":            ActionGrantCreated,
	"get-grant":               ActionGrantRead,
	"list-bookings":           ActionBookingRead,
	"create-booking":          ActionBookingCreated,
	"get-booking":             ActionBookingRead,
	"check-access":            ActionAccessRead,
	"list-events":             ActionEventRead,
	"export-events":           ActionEventRead,
	"list-credentials":        ActionCredentialRead,
	"create-credential":       ActionCredentialCreated,
	"get-credential":          ActionCredentialRead,
	"revoke-credential":       ActionCredentialRevoked,
	"list-operations":         ActionOperationRead,
	"get-operation":           ActionOperationRead,
	"cancel-operation":        ActionOperationCancelled,
	"preview-operation":       ActionOperationRead,
	"list-schedules":          ActionScheduledRemovalRead,
	"create-schedule":         ActionScheduledRemovalCreated,
	"get-schedule":            ActionScheduledRemovalRead,
	"cancel-schedule":         ActionScheduledRemovalCancelled,
	"preview-schedule":        ActionScheduledRemovalRead,
	"list-webhooks":           ActionWebhookEndpointRead,
	"create-webhook":          ActionWebhookEndpointCreated,
	"get-webhook":             ActionWebhookEndpointRead,
	"disable-webhook":         ActionWebhookEndpointDisabled,
	"list-webhook-deliveries": ActionWebhookDeliveryRead,
	"get-webhook-delivery":    ActionWebhookDeliveryRead,
	"redeliver-webhook":       ActionWebhookDeliveryRedelivered,
}

// ChainedLegacyActions maps the action names that events were written
// under after the hash chain began (migration 00008) to their names now.
// Unlike LegacyActions, no migration rewrites them: an event's hash
// covers its action, so a stored event keeps the name it was hashed with
// (rewriting it would make verify report every such event as edited, and
// re-hashing the chain would erase the evidence the chain exists for).
// New events are written under the new names, and filters match both
// (ActionNames).
var ChainedLegacyActions = map[string]string{
	"oauth_client.create": ActionOAuthClientCreated,
	"oauth_client.rotate": ActionOAuthClientRotated,
	"oauth_client.revoke": ActionOAuthClientRevoked,
	"oauth.authorize":     ActionOAuthAuthorized,
	"oauth.token":         ActionOAuthTokenIssued,
	"oauth.revoke":        ActionOAuthTokenRevoked,
	"oauth.introspect":    ActionOAuthTokenRead,
	"oauth.request":       ActionRequestRouted,
}

// ActionFor returns the action a legacy name or a native API operation id
// stands for, and any other name unchanged.
func ActionFor(name string) string {
	if a, ok := LegacyActions[name]; ok {
		return a
	}
	if a, ok := ChainedLegacyActions[name]; ok {
		return a
	}
	return name
}

// ActionNames returns the stored names an action filter for name matches:
// the action name stands for (ActionFor) and the names of
// ChainedLegacyActions that stored events may still carry for it, sorted.
func ActionNames(name string) []string {
	a := ActionFor(name)
	names := []string{a}
	for old, now := range ChainedLegacyActions {
		if now == a {
			names = append(names, old)
		}
	}
	slices.Sort(names)
	return names
}
