package membership

import (
	"context"
	"errors"
	"slices"
)

// BatchScope says what a batch removes members from.
type BatchScope string

// Batch scopes.
const (
	ScopeOrganization BatchScope = "organization"
	ScopeSpace        BatchScope = "space"
	ScopeGroup        BatchScope = "group"
)

// Item outcomes of a batch removal.
const (
	OutcomeRemoved        = "removed"
	OutcomeAlreadyRemoved = "already_removed"
	OutcomeNotFound       = "not_found"  // no such member in the organization
	OutcomeNotMember      = "not_member" // not in the space or group
	OutcomeForbidden      = "forbidden"
	OutcomeInvalid        = "invalid"
	OutcomeConflict       = "conflict"
)

// BatchRequest removes many members at once, each with its own outcome.
type BatchRequest struct {
	Scope BatchScope  `json:"scope"`
	Space Ref         `json:"space,omitzero"` // ScopeSpace
	Group Ref         `json:"group,omitzero"` // ScopeGroup
	Items []MemberRef `json:"items"`
	Rule  RemovalRule `json:"rule,omitempty"`
	// DryRun previews the batch: every item is removed and reported as it
	// would be, and then nothing is kept.
	DryRun bool `json:"dry_run,omitempty"`
}

// ItemResult is one item's outcome, in request order.
type ItemResult struct {
	Index    int       `json:"index"`
	Ref      MemberRef `json:"ref"`
	MemberID int64     `json:"member_id,omitempty"`
	Outcome  string    `json:"outcome"`
	Message  string    `json:"message,omitempty"`
	// Receipt is a removed item's audit event and chain hash, as a single
	// removal's report carries it.
	Receipt *Receipt `json:"receipt,omitempty" doc:"A removed item's audit event and its chain hash: memberd audit verify --receipt checks it later."`
}

// BatchResult holds every item's outcome in request order.
type BatchResult struct {
	DryRun  bool          `json:"dry_run,omitempty"`
	Items   []*ItemResult `json:"items"`
	Removed int           `json:"removed"`
	Failed  int           `json:"failed"`
}

// RemoveBatch removes each item in order, in one transaction, each item in
// its own savepoint: a refused item changes nothing and takes no other item
// down with it. A repeated item is removed the first time and reported
// already removed after. More items than the batch limit refuse the whole
// request before anything changes.
func (s *Service) RemoveBatch(ctx context.Context, a Actor, req BatchRequest) (*BatchResult, error) {
	ctx = guarded(ctx)
	if err := s.checkBatch(req); err != nil {
		return nil, s.refuse(ctx, a, ActionBatchRemoved, err)
	}
	fn := tagged(ctx, batchWhat(req), req.DryRun, func(tx Tx) (*BatchResult, error) {
		return s.removeBatch(ctx, tx, a, req)
	})
	if req.DryRun {
		return previewed(ctx, s, func(tx Tx) (*BatchResult, error) {
			res, err := fn(tx)
			if err == nil {
				res.DryRun = true
			}
			return res, err
		})
	}
	res, err := mutate(ctx, s, a, ActionBatchRemoved, logged(ctx, s, a, KindRemoveBatch, fn))
	if err != nil {
		return nil, s.held(ctx, a, ActionBatchRemoved, PlanRequest{Batch: &req}, err)
	}
	return res, nil
}

// checkBatch refuses a batch naming no member or more than the limit,
// before anything is looked up.
func (s *Service) checkBatch(req BatchRequest) error {
	if len(req.Items) == 0 {
		return Errorf(CodeInvalid, "no members given")
	}
	if len(req.Items) > s.cfg.BatchLimit {
		return Errorf(CodeInvalid,
			"too many members: at most %d can be removed in one request, got %d", s.cfg.BatchLimit, len(req.Items))
	}
	return nil
}

// removeBatch removes req's items in tx, each in its own savepoint.
func (s *Service) removeBatch(ctx context.Context, tx Tx, a Actor, req BatchRequest) (*BatchResult, error) {
	removal, err := req.removal()
	if err != nil {
		return nil, err
	}
	held := &bookingHolders{}
	ctx = context.WithValue(ctx, bookingHoldersKey{}, held)
	remove, err := removal.remover(ctx, s, tx, a)
	if err != nil {
		return nil, err
	}
	ids, err := lockItems(ctx, tx, a.OrgID, req.Items)
	if err != nil {
		return nil, err
	}
	if !s.cfg.KeepFutureBookings && len(ids) > 0 {
		// Read once for the batch, after the locks: a booking names its
		// member by a foreign key, whose check waits for the lock, so no
		// booking of these members appears before the commit.
		holders, err := tx.BookingHolders(ctx, a.OrgID, ids, s.now())
		if err != nil {
			return nil, err
		}
		held.known, held.ids = true, holders
	}
	p := guardOf(ctx)
	result := &BatchResult{Items: make([]*ItemResult, 0, len(req.Items))}
	for i, ref := range req.Items {
		item := &ItemResult{Index: i, Ref: ref, Outcome: OutcomeRemoved}
		var report *Report
		err := tx.Savepoint(ctx, func() error {
			var err error
			report, err = remove(ref)
			return err
		})
		switch {
		case err == nil:
			item.MemberID = report.Member.ID
			item.Receipt = report.Receipt
			result.Removed++
		case isRefusal(err):
			item.Outcome, item.Message = outcomeOf(err), ErrorMessage(err)
			result.Failed++
			// The item's refusal is a refused removal of its member.
			e := s.newEvent(a, ActionFor(removal.kind()), OutcomeRefused)
			e.Message = item.Message
			if err := s.resolveTarget(ctx, tx, a.OrgID, MemberTarget(ref), e); err != nil {
				return nil, err
			}
			if err := tx.EventAppend(ctx, e); err != nil {
				return nil, err
			}
		default:
			return nil, err
		}
		if tagging(ctx) {
			p.item(i, item.Outcome, item.MemberID)
		}
		result.Items = append(result.Items, item)
	}
	return result, nil
}

// bookingHolders are the members of a batch that hold future bookings,
// when known: a removal of any other member of the batch has none to
// cancel and skips the statement, whose plan PostgreSQL makes anew each
// time (half the server's CPU of a HighQ batch, measured at 100k members).
type bookingHolders struct {
	known bool
	ids   []int64 // ascending
}

type bookingHoldersKey struct{}

// holdsNoBooking reports that member is known to hold no future booking.
func holdsNoBooking(ctx context.Context, member int64) bool {
	h, _ := ctx.Value(bookingHoldersKey{}).(*bookingHolders)
	if h == nil || !h.known {
		return false
	}
	_, found := slices.BinarySearch(h.ids, member)
	return !found
}

// lockItems locks the members a batch names in ID order before any item is
// removed. Locking them item by item in request order would let two batches
// naming the same members in different orders each hold a lock the other
// waits for. One statement locks them all: a read and a lock per item were
// a fifth of a batch's round trips. Items that name no member are left to
// get their own outcome. It returns the ids it locked, ascending.
func lockItems(ctx context.Context, tx Tx, orgID int64, refs []MemberRef) ([]int64, error) {
	ids := make([]int64, 0, len(refs))
	for _, ref := range refs {
		if ref.Raw == "" && ref.ID != 0 {
			// The lock passes over an id of no member, as findMember would.
			ids = append(ids, ref.ID)
			continue
		}
		m, err := findMember(ctx, tx, orgID, ref)
		if errors.Is(err, ErrMemberNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		ids = append(ids, m.ID)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	return ids, tx.MembersLock(ctx, orgID, ids)
}

// removal returns the member removal req's scope runs per item.
func (req BatchRequest) removal() (memberRemoval, error) {
	for _, newKind := range removalKinds {
		if r, ok := newKind().(memberRemoval); ok && r.scope() == req.Scope {
			r.fromBatch(req)
			return r, nil
		}
	}
	return nil, Errorf(CodeInvalid, "unknown batch scope %q", req.Scope)
}

func outcomeOf(err error) string {
	switch {
	case errors.Is(err, ErrAlreadyRemoved):
		return OutcomeAlreadyRemoved
	case errors.Is(err, ErrNotMember):
		return OutcomeNotMember
	case errors.Is(err, ErrMemberNotFound):
		return OutcomeNotFound
	}
	switch ErrorCode(err) {
	case CodeForbidden:
		return OutcomeForbidden
	case CodeInvalid:
		return OutcomeInvalid
	case CodeNotFound:
		return OutcomeNotFound
	}
	return OutcomeConflict
}
