package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/memberd/memberd/internal/uuidform"
	"github.com/memberd/memberd/membership"
)

// Removals of every kind: a member from the organization (remove,
// offboard, restore), from a space or a group, space roles, and batches.
// A removal given effective_at is scheduled through the core instead of
// made now.

type removeMemberInput struct {
	MemberPath
	DryRunQuery
	EffectiveAtQuery
	ReportLimit int `query:"report_limit" minimum:"0" maximum:"100000" doc:"Items per list of the report (spaces, roles, groups, direct grants, group grants, bookings, remaining access); 100 when absent. Counts are exact whatever the limit."`
}

// removalRequestReachesCore tells a plain single removal: no query, no
// body, no Idempotency-Key, no If-Match (the form an offboarding script
// sends), and a member huma accepts. Nothing answers it before
// RemoveMember locks the member in the statement that confirms a cached
// credential (membership's parties), so it may authenticate deferred, one
// statement fewer. Any other form (a dry run, a schedule, a report limit,
// a malformed header or body) authenticates in full and so is refused for
// its credential first, as it always was.
func removalRequestReachesCore(ctx huma.Context, q url.Values) bool {
	r, _ := humago.Unwrap(ctx)
	_, idem := r.Header[http.CanonicalHeaderKey("Idempotency-Key")]
	_, ifMatch := r.Header[http.CanonicalHeaderKey("If-Match")]
	return len(q) == 0 && r.ContentLength == 0 && len(r.TransferEncoding) == 0 && !idem && !ifMatch &&
		len(ctx.Param("member")) <= maxMemberPath
}

func (h *handler) removeMember(ctx context.Context, a membership.Actor, in *removeMemberInput) (*removal, error) {
	req := membership.RemoveMemberRequest{Member: parseMemberRef(in.Member), DryRun: in.DryRun, ReportLimit: in.ReportLimit}
	if !in.EffectiveAt.IsZero() {
		return h.schedule(ctx, a, in.EffectiveAt, membership.OperationRequest{RemoveMember: &req})
	}
	rep, err := h.svc.RemoveMember(ctx, a, req)
	return h.offboardedNow(ctx, rep, err)
}

type offboardInput struct {
	MemberPath
	Prefer string `header:"Prefer" maxLength:"200" doc:"respond-async: offboard in the background, in chunks (each its own transaction): the answer is 202 with Preference-Applied: respond-async, the operation and its Location; poll it for progress and, when it succeeded, the report a synchronous offboarding gives. Ignored with dry_run or effective_at."`
	Body   *struct {
		DryRun      bool       `json:"dry_run,omitempty" doc:"Change nothing; answer what would be taken away and the access that would remain."`
		EffectiveAt *time.Time `json:"effective_at,omitempty" doc:"Schedule the removal for this time (RFC 3339, not in the past) instead of removing now: the answer is 202 with the scheduled operation and Location /api/v1/operations/{id}. Cannot be combined with dry_run."`
		ReportLimit int        `json:"report_limit,omitempty" minimum:"0" maximum:"100000" doc:"Items per list of the report (spaces, roles, groups, direct grants, group grants, bookings, remaining access); 100 when absent. Counts are exact whatever the limit; truncated says a list holds fewer items than its count."`
	}
}

func (h *handler) offboardMember(ctx context.Context, a membership.Actor, in *offboardInput) (*removal, error) {
	req := membership.RemoveMemberRequest{Member: parseMemberRef(in.Member)}
	if in.Body != nil {
		req.DryRun, req.ReportLimit = in.Body.DryRun, in.Body.ReportLimit
		if in.Body.EffectiveAt != nil {
			return h.schedule(ctx, a, *in.Body.EffectiveAt, membership.OperationRequest{RemoveMember: &req})
		}
	}
	if prefersAsync(in.Prefer) && !req.DryRun {
		op, err := h.svc.OffboardAsync(ctx, a, req)
		if err != nil {
			return nil, err
		}
		setHeader(ctx, "Preference-Applied", "respond-async")
		setHeader(ctx, "Location", location("operations", op.UUID))
		return &removal{Status: http.StatusAccepted, Body: op}, nil
	}
	rep, err := h.svc.RemoveMember(ctx, a, req)
	return h.offboardedNow(ctx, rep, err)
}

// prefersAsync reports whether a Prefer header (RFC 7240) asks for
// respond-async among its preferences.
func prefersAsync(prefer string) bool {
	for p := range strings.SplitSeq(prefer, ",") {
		name, _, _ := strings.Cut(p, ";")
		if strings.EqualFold(strings.TrimSpace(name), "respond-async") {
			return true
		}
	}
	return false
}

func (h *handler) restoreMember(ctx context.Context, a membership.Actor, in *MemberPath) (*out[*membership.Report], error) {
	return result(h.svc.RestoreMember(ctx, a, membership.RestoreMemberRequest{Member: parseMemberRef(in.Member)}))
}

type removeSpaceMemberInput struct {
	SpacePath
	MemberPath
	DryRunQuery
	EffectiveAtQuery
}

func (h *handler) removeSpaceMember(ctx context.Context, a membership.Actor, in *removeSpaceMemberInput) (*removal, error) {
	sp, err := pathRef("space", in.Space)
	if err != nil {
		return nil, err
	}
	req := membership.RemoveSpaceMemberRequest{Space: sp, Member: parseMemberRef(in.Member), DryRun: in.DryRun}
	if !in.EffectiveAt.IsZero() {
		return h.schedule(ctx, a, in.EffectiveAt, membership.OperationRequest{RemoveSpaceMember: &req})
	}
	return removedNow(h.svc.RemoveSpaceMember(ctx, a, req))
}

type revokeRolesInput struct {
	IDPath
	Body struct {
		Roles       []string   `json:"roles" doc:"Every role to revoke; if any is not held, none is revoked."`
		DryRun      bool       `json:"dry_run,omitempty"`
		EffectiveAt *time.Time `json:"effective_at,omitempty" doc:"Schedule the removal for this time (RFC 3339, not in the past) instead of removing now: the answer is 202 with the scheduled operation and Location /api/v1/operations/{id}. Cannot be combined with dry_run."`
	}
}

func (h *handler) revokeSpaceRoles(ctx context.Context, a membership.Actor, in *revokeRolesInput) (*removal, error) {
	req := membership.RevokeRolesRequest{SpaceMemberID: in.ID, Roles: in.Body.Roles, DryRun: in.Body.DryRun}
	if in.Body.EffectiveAt != nil {
		return h.schedule(ctx, a, *in.Body.EffectiveAt, membership.OperationRequest{RevokeRoles: &req})
	}
	return removedNow(h.svc.RevokeRoles(ctx, a, req))
}

type removeGroupMemberInput struct {
	GroupPath
	MemberPath
	DryRunQuery
	EffectiveAtQuery
}

func (h *handler) removeGroupMember(ctx context.Context, a membership.Actor, in *removeGroupMemberInput) (*removal, error) {
	g, err := pathRef("group", in.Group)
	if err != nil {
		return nil, err
	}
	req := membership.RemoveGroupMemberRequest{Group: g, Member: parseMemberRef(in.Member), DryRun: in.DryRun}
	if !in.EffectiveAt.IsZero() {
		return h.schedule(ctx, a, in.EffectiveAt, membership.OperationRequest{RemoveGroupMember: &req})
	}
	return removedNow(h.svc.RemoveGroupMember(ctx, a, req))
}

type removalsInput struct {
	Body struct {
		Scope   membership.BatchScope `json:"scope" enum:"organization,space,group" doc:"What the members are removed from."`
		Space   *ref                  `json:"space,omitempty" doc:"The space, for scope space."`
		Group   *ref                  `json:"group,omitempty" doc:"The group, for scope group."`
		Members []batchItem           `json:"members" doc:"Members in the order they are removed; each gets its own outcome."`
		DryRun  bool                  `json:"dry_run,omitempty" doc:"Change nothing; answer each item's outcome as the batch would have it, with an ETag to execute it with If-Match."`
	}
}

func (h *handler) removeBatch(ctx context.Context, a membership.Actor, in *removalsInput) (*out[*membership.BatchResult], error) {
	req, err := batchRequest(in.Body.Scope, in.Body.Space, in.Body.Group, in.Body.Members)
	if err != nil {
		return nil, err
	}
	req.DryRun = in.Body.DryRun
	res, err := h.svc.RemoveBatch(ctx, a, req)
	if err != nil && len(req.Items) > h.svc.BatchLimit() {
		err = &limitError{err: err, limit: h.svc.BatchLimit()}
	}
	return result(res, err)
}

// batchItem is one member of a batch removal, named by exactly one of
// id, uuid or e-mail; it has the shape of the "ref" echoed in each result.
// An item naming none or several, or carrying a client's unreadable "raw"
// reference, is kept as written so the core reports that item invalid
// without failing the others.
type batchItem struct {
	ID    int64  `json:"id,omitempty"`
	UUID  string `json:"uuid,omitempty" maxLength:"36"`
	Email string `json:"email,omitempty" maxLength:"320"`
	Raw   string `json:"raw,omitempty" maxLength:"320" doc:"A reference the client could not read; answered as an invalid item."`
}

func (it batchItem) ref() membership.MemberRef {
	n := 0
	for _, set := range []bool{it.ID != 0, it.UUID != "", it.Email != "", it.Raw != ""} {
		if set {
			n++
		}
	}
	switch {
	case n == 1 && it.ID > 0:
		return membership.MemberRef{ID: it.ID}
	case n == 1 && it.UUID != "" && uuidform.Canonical(it.UUID):
		return membership.MemberRef{UUID: it.UUID}
	case n == 1 && it.Email != "":
		return membership.MemberRef{Email: it.Email}
	case n == 1 && it.Raw != "":
		return membership.MemberRef{Raw: it.Raw}
	case n == 0:
		return membership.MemberRef{Raw: "{}"}
	}
	raw, _ := json.Marshal(it) // a struct of plain fields always encodes
	return membership.MemberRef{Raw: string(raw)}
}

// removal is the answer of a removal that can be scheduled: 200 with the
// core's Report when it happened now, 202 with the Operation (and
// Location) when effective_at scheduled it. documentSchedulable writes
// both answers into the operation's document.
type removal struct {
	Status int
	Body   any
}

// removedNow answers a removal that was made (or previewed) now.
func removedNow(rep *membership.Report, err error) (*removal, error) {
	if err != nil {
		return nil, err
	}
	return &removal{Status: http.StatusOK, Body: rep}, nil
}

// offboardedNow answers an offboarding that was made (or previewed) now.
// A real one answered in JSON is the JSON the removal log stored, with
// its receipt completed (membership.ReportJSON), byte for byte what
// encoding rep writes: an S4 report is 80 KB, encoded once, not twice.
func (h *handler) offboardedNow(ctx context.Context, rep *membership.Report, err error) (*removal, error) {
	if err != nil {
		return nil, err
	}
	if c, ok := ctx.Value(callKey{}).(*call); ok {
		if ct, err := h.api.Negotiate(c.r.Header.Get("Accept")); err == nil && ct == "application/json" {
			if b, ok := membership.ReportJSON(c.pre, rep); ok {
				c.w.Header().Set("Content-Type", ct)
				return &removal{Status: http.StatusOK, Body: append(b, '\n')}, nil // as json.Encoder ends a value
			}
		}
	}
	return removedNow(rep, nil)
}

// schedule starts req at effective time at through the core and answers
// 202 with the operation.
func (h *handler) schedule(ctx context.Context, a membership.Actor, at time.Time, req membership.OperationRequest) (*removal, error) {
	op, err := h.svc.StartOperation(ctx, a, membership.StartOperationRequest{Request: req, EffectiveAt: &at})
	if err != nil {
		return nil, err
	}
	setHeader(ctx, "Location", location("operations", op.UUID))
	return &removal{Status: http.StatusAccepted, Body: op}, nil
}

// documentSchedulable documents both answers of a removal that takes
// effective_at: 200 with a Report, 202 with an Operation and Location.
func (h *handler) documentSchedulable(op *huma.Operation) {
	reg := h.api.OpenAPI().Components.Schemas
	report := reg.Schema(reflect.TypeFor[membership.Report](), true, "Report")
	operation := reg.Schema(reflect.TypeFor[membership.Operation](), true, "Operation")
	op.Responses = map[string]*huma.Response{
		"200": {
			Description: "Removed now (or, with dry_run, what would be removed).",
			Content:     map[string]*huma.MediaType{"application/json": {Schema: report}},
		},
		"202": {
			Description: "Scheduled with effective_at: the operation that will run the removal.",
			Headers: map[string]*huma.Param{"Location": {
				Description: "URL of the operation: poll it, preview it or cancel it.",
				Schema:      &huma.Schema{Type: huma.TypeString},
			}},
			Content: map[string]*huma.MediaType{"application/json": {Schema: operation}},
		},
	}
	if op.OperationID == "offboard-member" {
		accepted := op.Responses["202"]
		accepted.Description = "Scheduled with effective_at, or running in the background with Prefer: respond-async: the operation that runs the removal."
		accepted.Headers["Preference-Applied"] = &huma.Param{
			Description: "respond-async when the offboarding runs in the background, in chunks.",
			Schema:      &huma.Schema{Type: huma.TypeString},
		}
	}
}
