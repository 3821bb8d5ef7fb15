package admin

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/memberd/memberd/membership"
)

// This file serves what happened and what is pending: schedules,
// operations, the audit trail, webhook deliveries and console sessions.

type operationsView struct {
	Status     string
	Operations []*membership.Operation
	Next       string
	Notice     string
	Scheduled  bool
	Statuses   []string
}

var operationStatuses = []string{"scheduled", "queued", "running", "succeeded", "failed", "cancelled"}

// operationPage lists operations newest first, paged by before=ID.
func (h *handler) operationPage(w http.ResponseWriter, r *http.Request, c *call, scheduled bool, defaultStatus string) {
	q := r.URL.Query()
	v := &operationsView{Status: defaultStatus, Scheduled: scheduled, Statuses: operationStatuses}
	if _, ok := q["status"]; ok {
		v.Status = q.Get("status")
	}
	if v.Status != "" && !strings.Contains(" "+strings.Join(operationStatuses, " ")+" ", " "+v.Status+" ") {
		h.fail(w, r, c, c.Refuse(membership.Errorf(membership.CodeInvalid, "unknown status %q", v.Status)), "")
		return
	}
	before, err := queryID(q, "before")
	if err != nil {
		h.fail(w, r, c, c.Refuse(err), "")
		return
	}
	ops, err := h.svc.Operations(r.Context(), c.Actor, membership.OperationListParams{
		Status: membership.OperationStatus(v.Status), Scheduled: scheduled, BeforeID: before, Limit: PageSize})
	if err != nil {
		h.fail(w, r, c, err, "")
		return
	}
	v.Operations = ops
	if len(ops) == PageSize {
		lq := url.Values{"status": {v.Status}, "before": {strconv.FormatInt(ops[len(ops)-1].ID, 10)}}
		v.Next = r.URL.Path + "?" + lq.Encode()
	}
	if id := q.Get("cancelled"); id != "" {
		v.Notice = "Cancelled " + id + "; nothing will be removed by it."
	}
	page := &view{Title: "Operations", Nav: "operations", Me: c.Principal.Member, CSRF: c.csrf, Data: v}
	if scheduled {
		page.Title, page.Nav = "Scheduled removals", "schedules"
	}
	for _, op := range ops {
		if op.Status == membership.OperationQueued || op.Status == membership.OperationRunning {
			page.Refresh = 5 // live status without script
		}
	}
	h.render(w, r, http.StatusOK, "operations", page)
}

func (h *handler) schedules(w http.ResponseWriter, r *http.Request, c *call) {
	h.operationPage(w, r, c, true, string(membership.OperationScheduled))
}

func (h *handler) operations(w http.ResponseWriter, r *http.Request, c *call) {
	h.operationPage(w, r, c, false, "")
}

// cancelOperation cancels a waiting operation and goes back to the list
// the form came from.
func (h *handler) cancelOperation(w http.ResponseWriter, r *http.Request, c *call) {
	op, err := h.svc.CancelOperation(r.Context(), c.Actor, r.PathValue("id"))
	back := Prefix + "/schedules"
	if r.PostFormValue("back") == "operations" {
		back = Prefix + "/operations"
	}
	if err != nil {
		h.fail(w, r, c, err, back)
		return
	}
	http.Redirect(w, r, back+"?status=&cancelled="+url.QueryEscape(op.UUID), http.StatusSeeOther)
}

type auditView struct {
	Member int64
	Action string
	Events []*membership.Event
	Next   string
}

// audit shows the audit trail newest first, filtered by member and action.
func (h *handler) audit(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	v := &auditView{Action: strings.TrimSpace(q.Get("action"))}
	var before int64
	var err error
	if v.Member, err = queryID(q, "member"); err == nil {
		before, err = queryID(q, "before")
	}
	if err == nil && len(v.Action) > 100 {
		err = membership.Errorf(membership.CodeInvalid, "action is longer than 100 characters")
	}
	if err != nil {
		h.fail(w, r, c, c.Refuse(err), Prefix+"/audit")
		return
	}
	v.Events, err = h.svc.Events(r.Context(), c.Actor, membership.EventListParams{MemberID: v.Member, Action: v.Action, BeforeID: before, Limit: PageSize})
	if err != nil {
		h.fail(w, r, c, err, "")
		return
	}
	if len(v.Events) == PageSize {
		lq := url.Values{"before": {strconv.FormatInt(v.Events[len(v.Events)-1].ID, 10)}}
		if v.Member != 0 {
			lq.Set("member", strconv.FormatInt(v.Member, 10))
		}
		if v.Action != "" {
			lq.Set("action", v.Action)
		}
		v.Next = Prefix + "/audit?" + lq.Encode()
	}
	h.render(w, r, http.StatusOK, "audit", &view{Title: "Audit trail", Nav: "audit", Me: c.Principal.Member, CSRF: c.csrf, Data: v})
}

type webhooksView struct {
	Status     string
	Deliveries []*membership.WebhookDelivery
	Next       string
}

// webhooks shows webhook deliveries and their status, newest first.
func (h *handler) webhooks(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	v := &webhooksView{Status: q.Get("status")}
	before, err := queryID(q, "before")
	if err != nil {
		h.fail(w, r, c, c.Refuse(err), "")
		return
	}
	v.Deliveries, err = h.svc.WebhookDeliveries(r.Context(), c.Actor, "", membership.WebhookDeliveryListParams{Status: v.Status, BeforeID: before, Limit: PageSize})
	if err != nil {
		h.fail(w, r, c, err, "")
		return
	}
	if len(v.Deliveries) == PageSize {
		v.Next = Prefix + "/webhooks?" + url.Values{"status": {v.Status}, "before": {strconv.FormatInt(v.Deliveries[len(v.Deliveries)-1].ID, 10)}}.Encode()
	}
	page := &view{Title: "Webhook deliveries", Nav: "webhooks", Me: c.Principal.Member, CSRF: c.csrf, Data: v}
	for _, d := range v.Deliveries {
		if d.Status == "pending" {
			page.Refresh = 10
		}
	}
	h.render(w, r, http.StatusOK, "webhooks", page)
}

type sessionsView struct {
	Sessions []*membership.Session
	Current  string
}

// sessions lists live console sessions: an owner's shows everyone's.
func (h *handler) sessions(w http.ResponseWriter, r *http.Request, c *call) {
	ss, err := h.svc.Sessions(r.Context(), c.Actor)
	if err != nil {
		h.fail(w, r, c, err, "")
		return
	}
	h.render(w, r, http.StatusOK, "sessions", &view{Title: "Console sessions", Nav: "sessions", Me: c.Principal.Member, CSRF: c.csrf,
		Data: &sessionsView{Sessions: ss, Current: c.session.UUID}})
}

// revokeSession ends a session; ending one's own signs out.
func (h *handler) revokeSession(w http.ResponseWriter, r *http.Request, c *call) {
	if _, err := h.svc.RevokeSession(r.Context(), c.Actor, r.PathValue("id")); err != nil {
		h.fail(w, r, c, err, Prefix+"/sessions")
		return
	}
	if r.PathValue("id") == c.session.UUID {
		http.SetCookie(w, h.cookie(r, SessionCookie, "", time.Time{}))
		h.toSignIn(w, r, "You ended this session.")
		return
	}
	http.Redirect(w, r, Prefix+"/sessions", http.StatusSeeOther)
}
