package httpapi

import (
	"time"

	"github.com/memberd/memberd/membership"
)

// Inputs shared by several operations. The ones other inputs embed have
// capitalized names because huma reads parameters only from exported
// fields, and an embedded field is exported only if its type name is.
// An input type's name is also part of the document: huma names a body
// schema after its input ("addMemberInput" gives "AddMemberInputBody"),
// so renaming an input changes the document.

// noInput is the input of an operation that takes none.
type noInput struct{}

// maxMemberPath is MemberPath's maxLength, which a struct tag cannot name.
const maxMemberPath = 320

// MemberPath is a member named in the path.
type MemberPath struct {
	Member string `path:"member" maxLength:"320" doc:"The member's numeric id, UUID or e-mail address."`
}

// SpacePath is a space named in the path.
type SpacePath struct {
	Space string `path:"space" maxLength:"36" doc:"The space's numeric id or UUID."`
}

// GroupPath is a group named in the path.
type GroupPath struct {
	Group string `path:"group" maxLength:"36" doc:"The group's numeric id or UUID."`
}

// IDPath is an entity named by its numeric id in the path.
type IDPath struct {
	ID int64 `path:"id" minimum:"1" doc:"Numeric id."`
}

// UUIDPath is an operation, webhook endpoint or delivery named by its UUID
// in the path.
type UUIDPath struct {
	ID string `path:"id" maxLength:"36" doc:"The UUID."`
}

// DryRunQuery asks a removal for a preview.
type DryRunQuery struct {
	DryRun bool `query:"dry_run" doc:"Change nothing; answer what would be taken away and the access that would remain."`
}

// StatusQuery filters memberships by state.
type StatusQuery struct {
	Status membership.Status `query:"status" enum:"active,removed" doc:"Only memberships in this state."`
}

// EffectiveAtQuery schedules a DELETE removal; POST removals take
// effective_at in their body.
type EffectiveAtQuery struct {
	EffectiveAt time.Time `query:"effective_at" doc:"Schedule the removal for this time (RFC 3339, not in the past) instead of removing now: the answer is 202 with the scheduled operation and Location /api/v1/operations/{id}. Cannot be combined with dry_run."`
}

// PageQuery pages a list newest first.
type PageQuery struct {
	Before int64 `query:"before" minimum:"0" doc:"Only items older than this position: the previous page's next_before."`
	Limit  int   `query:"limit" minimum:"1" maximum:"1000" doc:"Page size; 100 when absent."`
}

// nameInput is the body of creating a space or a group.
type nameInput struct {
	Body struct {
		Name string `json:"name" maxLength:"200"`
	}
}
