package admin

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/memberd/memberd/internal/ids"
	"github.com/memberd/memberd/membership"
)

// This file serves removals: one member with its preview, many at once
// with a result per member, scheduling, and restoring.

type reportView struct {
	Report *membership.Report
	Names  *names
	// Done says the report is of a change made, not a preview.
	Done     bool
	Restored bool
}

// removePreview shows the dry run of removing a member: what would be
// taken away and what access would remain and why, with the form that
// confirms it.
func (h *handler) removePreview(w http.ResponseWriter, r *http.Request, c *call) {
	h.removal(w, r, c, true)
}

// remove removes a member after the preview was confirmed.
func (h *handler) remove(w http.ResponseWriter, r *http.Request, c *call) {
	h.removal(w, r, c, false)
}

func (h *handler) removal(w http.ResponseWriter, r *http.Request, c *call, dryRun bool) {
	id, err := memberID(r)
	if err != nil {
		h.fail(w, r, c, err, Prefix+"/members")
		return
	}
	back := Prefix + "/members/" + strconv.FormatInt(id, 10)
	rep, err := h.svc.RemoveMember(r.Context(), c.Actor, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: id}, DryRun: dryRun})
	if err != nil {
		h.fail(w, r, c, err, back)
		return
	}
	n, _, _, err := h.names(r, c.Actor, true)
	if err != nil {
		h.fail(w, r, c, err, back)
		return
	}
	title := "Remove " + rep.Member.Email + "?"
	if !dryRun {
		title = "Removed " + rep.Member.Email
	}
	h.render(w, r, http.StatusOK, "report", &view{Title: title, Nav: "members", Me: c.Principal.Member, CSRF: c.csrf,
		Data: &reportView{Report: rep, Names: n, Done: !dryRun}})
}

// restore makes a removed member active again with what the removal took.
func (h *handler) restore(w http.ResponseWriter, r *http.Request, c *call) {
	id, err := memberID(r)
	if err != nil {
		h.fail(w, r, c, err, Prefix+"/members")
		return
	}
	back := Prefix + "/members/" + strconv.FormatInt(id, 10)
	rep, err := h.svc.RestoreMember(r.Context(), c.Actor, membership.RestoreMemberRequest{Member: membership.MemberRef{ID: id}})
	if err != nil {
		h.fail(w, r, c, err, back)
		return
	}
	n, _, _, err := h.names(r, c.Actor, true)
	if err != nil {
		h.fail(w, r, c, err, back)
		return
	}
	h.render(w, r, http.StatusOK, "report", &view{Title: "Restored " + rep.Member.Email, Nav: "members", Me: c.Principal.Member, CSRF: c.csrf,
		Data: &reportView{Report: rep, Names: n, Done: true, Restored: true}})
}

// scheduleLayout is what a datetime-local control sends; the page says
// the time is UTC.
const scheduleLayout = "2006-01-02T15:04"

// schedule schedules a member's removal for a date and time (UTC).
func (h *handler) schedule(w http.ResponseWriter, r *http.Request, c *call) {
	id, err := memberID(r)
	if err != nil {
		h.fail(w, r, c, err, Prefix+"/members")
		return
	}
	back := Prefix + "/members/" + strconv.FormatInt(id, 10)
	raw := strings.TrimSpace(r.PostFormValue("effective_at"))
	at, perr := time.Parse(scheduleLayout, raw)
	if perr != nil {
		if at, perr = time.Parse(scheduleLayout+":05", raw); perr != nil {
			h.fail(w, r, c, c.Refuse(membership.Errorf(membership.CodeInvalid, "give the date and time of the removal, like 2030-01-31T17:00 (UTC)")), back)
			return
		}
	}
	req := membership.RemoveMemberRequest{Member: membership.MemberRef{ID: id}}
	op, err := h.svc.StartOperation(r.Context(), c.Actor, membership.StartOperationRequest{
		Request: membership.OperationRequest{Kind: membership.KindRemoveMember, RemoveMember: &req}, EffectiveAt: &at,
	})
	if err != nil {
		h.fail(w, r, c, err, back)
		return
	}
	http.Redirect(w, r, back+"?scheduled="+url.QueryEscape(op.UUID), http.StatusSeeOther)
}

// batchIDs reads the members a bulk form names, in order. Anything but a
// positive number is kept as an unreadable reference so it gets its own
// "invalid" result instead of failing the others.
func batchIDs(vals []string) []membership.MemberRef {
	refs := make([]membership.MemberRef, 0, len(vals))
	for _, v := range vals {
		if id, ok := ids.Positive(strings.TrimSpace(v)); ok {
			refs = append(refs, membership.MemberRef{ID: id})
		} else {
			refs = append(refs, membership.MemberRef{Raw: v})
		}
	}
	return refs
}

type batchRow struct {
	Ref    membership.MemberRef
	Member *membership.Member
	Item   *membership.ItemResult
	Error  string
}

type batchView struct {
	Rows   []batchRow
	Result *membership.BatchResult
}

// batchPreview lists the selected members with the form that removes
// them all; the member list's "Remove selected" button leads here.
func (h *handler) batchPreview(w http.ResponseWriter, r *http.Request, c *call) {
	refs := batchIDs(r.URL.Query()["member"])
	if err := h.batchSize(refs); err != nil {
		h.fail(w, r, c, c.Refuse(err), Prefix+"/members")
		return
	}
	v := &batchView{}
	for _, ref := range refs {
		row := batchRow{Ref: ref}
		if ref.Raw == "" {
			m, err := h.svc.Member(r.Context(), c.Actor, ref)
			switch {
			case err == nil:
				row.Member = m
			case membership.ErrorCode(err) == membership.CodeNotFound:
				row.Error = membership.ErrorMessage(err)
			default:
				h.fail(w, r, c, err, Prefix+"/members")
				return
			}
		} else {
			row.Error = "not a member id"
		}
		v.Rows = append(v.Rows, row)
	}
	h.render(w, r, http.StatusOK, "batch", &view{Title: "Remove " + strconv.Itoa(len(refs)) + " members?", Nav: "members",
		Me: c.Principal.Member, CSRF: c.csrf, Data: v})
}

// batchSize refuses an empty selection or one above the batch limit with
// the core's own words, before anything is read.
func (h *handler) batchSize(refs []membership.MemberRef) error {
	switch {
	case len(refs) == 0:
		return membership.Errorf(membership.CodeInvalid, "no members given: select the members to remove first")
	case len(refs) > h.svc.BatchLimit():
		return membership.Errorf(membership.CodeInvalid, "too many members: at most %d can be removed in one request, got %d",
			h.svc.BatchLimit(), len(refs))
	}
	return nil
}

// batchRemove removes the confirmed members, each with its own result.
func (h *handler) batchRemove(w http.ResponseWriter, r *http.Request, c *call) {
	refs := batchIDs(r.PostForm["member"])
	res, err := h.svc.RemoveBatch(r.Context(), c.Actor, membership.BatchRequest{Scope: membership.ScopeOrganization, Items: refs})
	if err != nil {
		h.fail(w, r, c, err, Prefix+"/members")
		return
	}
	v := &batchView{Result: res}
	for _, it := range res.Items {
		row := batchRow{Ref: it.Ref, Item: it}
		if it.MemberID != 0 {
			row.Member, _ = h.svc.Member(r.Context(), c.Actor, membership.MemberRef{ID: it.MemberID})
		} else if it.Ref.ID != 0 {
			row.Member, _ = h.svc.Member(r.Context(), c.Actor, it.Ref)
		}
		v.Rows = append(v.Rows, row)
	}
	h.render(w, r, http.StatusOK, "batch", &view{Title: "Bulk removal: " + strconv.Itoa(res.Removed) + " removed, " +
		strconv.Itoa(res.Failed) + " not removed", Nav: "members", Me: c.Principal.Member, CSRF: c.csrf, Data: v})
}
