package admin

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/memberd/memberd/internal/ids"
	"github.com/memberd/memberd/membership"
)

// This file serves the member list and a member's page.

// names maps the organization's spaces, groups and resources to their
// names, for pages that show ids.
type names struct {
	Spaces    map[int64]string
	Groups    map[int64]string
	Resources map[int64]string
}

func (h *handler) names(r *http.Request, a membership.Actor, resources bool) (*names, []*membership.Space, []*membership.Group, error) {
	ctx := r.Context()
	spaces, err := h.svc.Spaces(ctx, a)
	if err != nil {
		return nil, nil, nil, err
	}
	groups, err := h.svc.Groups(ctx, a)
	if err != nil {
		return nil, nil, nil, err
	}
	n := &names{Spaces: map[int64]string{}, Groups: map[int64]string{}, Resources: map[int64]string{}}
	for _, s := range spaces {
		n.Spaces[s.ID] = s.Name
	}
	for _, g := range groups {
		n.Groups[g.ID] = g.Name
	}
	if resources {
		rs, err := h.svc.Resources(ctx, a)
		if err != nil {
			return nil, nil, nil, err
		}
		for _, res := range rs {
			n.Resources[res.ID] = res.Kind + " · " + res.Name
		}
	}
	return n, spaces, groups, nil
}

// queryID reads an optional positive id from the query; a malformed one
// is a refusal in words.
func queryID(q url.Values, name string) (int64, error) {
	v := strings.TrimSpace(q.Get(name))
	if v == "" {
		return 0, nil
	}
	id, ok := ids.Parse(v)
	if !ok {
		return 0, membership.Errorf(membership.CodeInvalid, "%s must be a number", name)
	}
	return id, nil
}

type membersView struct {
	Q, Status, Role string
	Space, Group    int64
	Spaces          []*membership.Space
	Groups          []*membership.Group
	Members         []*membership.Member
	Prev, Next      string // links to the neighbouring pages, "" at an end
	BatchLimit      int
}

// members lists members by keyset: after=ID pages forwards, before=ID
// backwards, so page 20,000 of a million members costs what page 1 does.
func (h *handler) members(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	v := &membersView{Q: strings.TrimSpace(q.Get("q")), Status: q.Get("status"), Role: q.Get("role"), BatchLimit: h.svc.BatchLimit()}
	p := membership.MemberSearchParams{Query: v.Q, Limit: PageSize + 1}
	var err error
	switch v.Status {
	case "", "active", "removed":
		p.Status = membership.Status(v.Status)
	default:
		err = membership.Errorf(membership.CodeInvalid, "status must be active or removed")
	}
	if v.Role != "" && !membership.Role(v.Role).Valid() {
		err = membership.Errorf(membership.CodeInvalid, "role must be owner, admin or member")
	}
	p.Role = membership.Role(v.Role)
	if len(v.Q) > 200 {
		err = membership.Errorf(membership.CodeInvalid, "the search is longer than 200 characters")
	}
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"space", &p.SpaceID}, {"group", &p.GroupID}, {"after", &p.AfterID}, {"before", &p.BeforeID}} {
		if err == nil {
			*f.dst, err = queryID(q, f.name)
		}
	}
	if err != nil {
		h.fail(w, r, c, c.Refuse(err), Prefix+"/members")
		return
	}
	v.Space, v.Group = p.SpaceID, p.GroupID
	_, v.Spaces, v.Groups, err = h.names(r, c.Actor, false)
	if err != nil {
		h.fail(w, r, c, err, "")
		return
	}
	ms, err := h.svc.MemberDirectory(r.Context(), c.Actor, p)
	if err != nil {
		h.fail(w, r, c, err, Prefix+"/members")
		return
	}
	more := len(ms) > PageSize
	if more {
		if p.BeforeID != 0 {
			ms = ms[1:]
		} else {
			ms = ms[:PageSize]
		}
	}
	v.Members = ms
	link := func(key string, id int64) string {
		lq := url.Values{}
		for _, k := range []string{"q", "status", "role", "space", "group"} {
			if val := q.Get(k); val != "" {
				lq.Set(k, val)
			}
		}
		lq.Set(key, strconv.FormatInt(id, 10))
		return Prefix + "/members?" + lq.Encode()
	}
	if len(ms) > 0 {
		if (p.BeforeID == 0 && more) || p.BeforeID != 0 {
			v.Next = link("after", ms[len(ms)-1].ID)
		}
		if (p.BeforeID != 0 && more) || p.AfterID != 0 {
			v.Prev = link("before", ms[0].ID)
		}
	}
	h.render(w, r, http.StatusOK, "members", &view{Title: "Members", Nav: "members", Me: c.Principal.Member, CSRF: c.csrf, Data: v})
}

// memberID reads the {id} of a member path. Anything but a positive
// number names no member: the 404 page, like another organization's id.
func memberID(r *http.Request) (int64, error) {
	id, ok := ids.Positive(r.PathValue("id"))
	if !ok {
		return 0, membership.ErrMemberNotFound
	}
	return id, nil
}

type grantView struct {
	Resource string
	Origin   string // "direct" or the group's name
	Status   membership.Status
}

type memberView struct {
	*membership.MemberHistory
	Names          *names
	Access         []*membership.Access
	Grants         []grantView
	FutureBookings []*membership.Booking
	PastBookings   int
	Events         []*membership.Event
	Schedules      []*membership.Operation
	Scheduled      string // the operation just scheduled, to confirm it
}

// member shows what a member holds and why: spaces with roles, groups,
// grants by origin, future bookings, membership periods, pending
// schedules and the latest audit events about them.
func (h *handler) member(w http.ResponseWriter, r *http.Request, c *call) {
	id, err := memberID(r)
	if err != nil {
		h.fail(w, r, c, err, Prefix+"/members")
		return
	}
	ctx, a := r.Context(), c.Actor
	hist, err := h.svc.History(ctx, a, membership.MemberRef{ID: id})
	if err != nil {
		h.fail(w, r, c, err, Prefix+"/members")
		return
	}
	v := &memberView{MemberHistory: hist, Scheduled: r.URL.Query().Get("scheduled")}
	if v.Names, _, _, err = h.names(r, a, true); err != nil {
		h.fail(w, r, c, err, "")
		return
	}
	if v.Access, err = h.svc.MemberAccess(ctx, a, membership.MemberRef{ID: id}); err != nil {
		h.fail(w, r, c, err, "")
		return
	}
	direct, err := h.svc.Grants(ctx, a, membership.GrantListParams{MemberID: id})
	if err != nil {
		h.fail(w, r, c, err, "")
		return
	}
	for _, g := range direct {
		v.Grants = append(v.Grants, grantView{Resource: v.Names.Resources[g.ResourceID], Origin: "direct", Status: g.Status})
	}
	var groupIDs []int64
	for _, gm := range hist.Groups {
		if gm.Status == membership.StatusActive {
			groupIDs = append(groupIDs, gm.GroupID)
		}
	}
	if len(groupIDs) > 0 {
		through, err := h.svc.Grants(ctx, a, membership.GrantListParams{GroupIDs: groupIDs, Status: membership.StatusActive})
		if err != nil {
			h.fail(w, r, c, err, "")
			return
		}
		for _, g := range through {
			v.Grants = append(v.Grants, grantView{Resource: v.Names.Resources[g.ResourceID], Origin: "group " + v.Names.Groups[g.GroupID], Status: g.Status})
		}
	}
	now := c.session.LastSeenAt
	for _, b := range hist.Bookings {
		if b.Status == membership.BookingActive && b.EndsAt.After(now) {
			v.FutureBookings = append(v.FutureBookings, b)
		} else {
			v.PastBookings++
		}
	}
	if c.Principal.Credential.HasScope(membership.ScopeAuditRead) {
		if v.Events, err = h.svc.Events(ctx, a, membership.EventListParams{MemberID: id, Limit: 20}); err != nil {
			h.fail(w, r, c, err, "")
			return
		}
	}
	ops, err := h.svc.Operations(ctx, a, membership.OperationListParams{Scheduled: true, Status: membership.OperationScheduled, Limit: membership.MaxListLimit})
	if err != nil && membership.ErrorCode(err) != membership.CodeUnavailable {
		h.fail(w, r, c, err, "")
		return
	}
	for _, op := range ops {
		if op.TargetMemberID == id {
			v.Schedules = append(v.Schedules, op)
		}
	}
	h.render(w, r, http.StatusOK, "member", &view{Title: hist.Member.Email, Nav: "members", Me: c.Principal.Member, CSRF: c.csrf, Data: v})
}
