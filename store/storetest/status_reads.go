package storetest

import (
	"context"

	"github.com/memberd/memberd/membership"
)

// StatusRead is one way memberd lists members by status, for the engines'
// tests of its query plans.
type StatusRead struct {
	Name string
	// Removed says the read lists removed members; the others list active
	// ones.
	Removed bool
	Run     func(ctx context.Context, tx membership.Tx, orgID int64) error
}

// StatusReads are every list by status: the console's keyset pages
// forwards and backwards (before is an id past the middle of the
// organization), the native list and its count, and SCIM's active filter.
func StatusReads(before int64) []StatusRead {
	var reads []StatusRead
	for _, removed := range []bool{true, false} {
		status := membership.StatusActive
		if removed {
			status = membership.StatusRemoved
		}
		filter := &membership.Filter{Op: membership.FilterEq, Field: membership.FieldActive, Value: !removed}
		reads = append(reads,
			StatusRead{"console " + string(status), removed, func(ctx context.Context, tx membership.Tx, org int64) error {
				_, err := tx.MemberSearch(ctx, &membership.MemberSearchParams{OrgID: org, Status: status, AfterID: 5, Limit: 50})
				return err
			}},
			StatusRead{"console " + string(status) + " backwards", removed, func(ctx context.Context, tx membership.Tx, org int64) error {
				_, err := tx.MemberSearch(ctx, &membership.MemberSearchParams{OrgID: org, Status: status, BeforeID: before, Limit: 50})
				return err
			}},
			StatusRead{"list and count " + string(status), removed, func(ctx context.Context, tx membership.Tx, org int64) error {
				p := &membership.MemberListParams{OrgID: org, Status: status, Limit: 50}
				if _, err := tx.MemberList(ctx, p); err != nil {
					return err
				}
				_, err := tx.MemberCount(ctx, p)
				return err
			}},
			StatusRead{"scim " + string(status), removed, func(ctx context.Context, tx membership.Tx, org int64) error {
				_, _, err := tx.DirectoryUserList(ctx, &membership.DirectoryQuery{OrgID: org, Limit: 50, Offset: 20, Filter: filter})
				return err
			}},
		)
	}
	return reads
}
