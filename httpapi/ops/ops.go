// Package ops is the native API's view of asynchronous work: operations
// (GET /api/v1/operations/{id}), scheduled removals (/api/v1/schedules)
// and webhooks (/api/v1/webhooks, /api/v1/webhook-deliveries). It is a
// plain http.Handler beside the main native API (package httpapi), with
// the same conventions: Bearer credentials, members:read for reads,
// members:write for changes, RFC 9457 problem+json errors through the one
// status table, Idempotency-Key on every change. Mount every pattern in
// Patterns on the server's mux.
package ops

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/membership"
)

// Interface names the native API in the audit trail.
const Interface = "native"

// Patterns are the mux patterns this handler answers; mount each of them.
var Patterns = []string{
	"/api/v1/operations", "/api/v1/operations/",
	"/api/v1/schedules", "/api/v1/schedules/",
	"/api/v1/webhooks", "/api/v1/webhooks/",
	"/api/v1/webhook-deliveries/",
}

// MaxBody bounds a request body.
const MaxBody = 64 << 10

type handler struct {
	svc   *membership.Service
	authn *auth.Authenticator
}

// NewHandler serves operations, schedules and webhooks.
func NewHandler(svc *membership.Service, authn *auth.Authenticator) http.Handler {
	h := &handler{svc: svc, authn: authn}
	mux := http.NewServeMux()
	read, write := membership.ScopeMembersRead, membership.ScopeMembersWrite
	mux.HandleFunc("GET /api/v1/operations", h.call(read, h.listOperations))
	mux.HandleFunc("GET /api/v1/operations/{id}", h.call(read, h.getOperation))
	mux.HandleFunc("POST /api/v1/operations/{id}/cancel", h.call(write, h.cancel))
	mux.HandleFunc("GET /api/v1/operations/{id}/preview", h.call(read, h.preview))
	mux.HandleFunc("GET /api/v1/schedules", h.call(read, h.listSchedules))
	mux.HandleFunc("POST /api/v1/schedules", h.call(write, h.schedule))
	mux.HandleFunc("GET /api/v1/schedules/{id}", h.call(read, h.getOperation))
	mux.HandleFunc("DELETE /api/v1/schedules/{id}", h.call(write, h.cancel))
	mux.HandleFunc("GET /api/v1/schedules/{id}/preview", h.call(read, h.preview))
	mux.HandleFunc("GET /api/v1/webhooks", h.call(read, h.listWebhooks))
	mux.HandleFunc("POST /api/v1/webhooks", h.call(write, h.createWebhook))
	mux.HandleFunc("GET /api/v1/webhooks/{id}", h.call(read, h.getWebhook))
	mux.HandleFunc("DELETE /api/v1/webhooks/{id}", h.call(write, h.disableWebhook))
	mux.HandleFunc("GET /api/v1/webhooks/{id}/deliveries", h.call(read, h.listDeliveries))
	mux.HandleFunc("GET /api/v1/webhook-deliveries/{id}", h.call(read, h.getDelivery))
	mux.HandleFunc("POST /api/v1/webhook-deliveries/{id}/redeliver", h.call(write, h.redeliver))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, membership.Errorf(membership.CodeNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	return respond.Recover(mux, writeProblem)
}

// problem is an RFC 9457 problem detail.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

func writeProblem(w http.ResponseWriter, r *http.Request, err error) {
	status := respond.Status(err)
	respond.SetRetryAfter(w, err)
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: respond.Message(r, err)})
}

// call authenticates, checks scope, applies an Idempotency-Key to changes,
// runs fn (decode, one core call) and encodes its answer.
func (h *handler) call(scope string, fn func(r *http.Request, a membership.Actor, body []byte) (int, any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := h.authn.Authenticate(r, Interface, auth.Bearer)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		a := auth.Actor(p, Interface, r)
		if err := auth.RequireScope(p, scope); err != nil {
			h.svc.AuditRefused(r.Context(), a, "scope", err)
			writeProblem(w, r, err)
			return
		}
		var body []byte
		if r.Method != http.MethodGet {
			if body, err = respond.ReadBody(r, MaxBody); err != nil {
				writeProblem(w, r, err)
				return
			}
			if key := r.Header.Get("Idempotency-Key"); key != "" {
				sum := sha256.Sum256(append([]byte(r.Method+" "+r.URL.Path+"\n"), body...))
				r = r.WithContext(membership.WithIdempotency(r.Context(), key, hex.EncodeToString(sum[:])))
			}
		}
		status, out, err := fn(r, a, body)
		if err != nil {
			writeProblem(w, r, err)
			return
		}
		if status == http.StatusNoContent {
			w.WriteHeader(status)
			return
		}
		respond.JSON(w, status, out)
	}
}

type list[T any] struct {
	Items []T `json:"items"`
}

// limit reads ?limit=; lists are newest first and capped by the core.
func limit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, membership.Errorf(membership.CodeInvalid, "limit must be a positive integer")
	}
	return n, nil
}

func (h *handler) operations(r *http.Request, a membership.Actor, scheduled bool) (int, any, error) {
	n, err := limit(r)
	if err != nil {
		return 0, nil, err
	}
	status := membership.OperationStatus(r.URL.Query().Get("status"))
	ops, err := h.svc.Operations(r.Context(), a, membership.OperationListParams{Status: status, Scheduled: scheduled, Limit: n})
	return http.StatusOK, list[*membership.Operation]{Items: ops}, err
}

func (h *handler) listOperations(r *http.Request, a membership.Actor, _ []byte) (int, any, error) {
	return h.operations(r, a, false)
}

func (h *handler) listSchedules(r *http.Request, a membership.Actor, _ []byte) (int, any, error) {
	return h.operations(r, a, true)
}

func (h *handler) getOperation(r *http.Request, a membership.Actor, _ []byte) (int, any, error) {
	op, err := h.svc.Operation(r.Context(), a, r.PathValue("id"))
	return http.StatusOK, op, err
}

func (h *handler) cancel(r *http.Request, a membership.Actor, _ []byte) (int, any, error) {
	op, err := h.svc.CancelOperation(r.Context(), a, r.PathValue("id"))
	return http.StatusOK, op, err
}

func (h *handler) preview(r *http.Request, a membership.Actor, _ []byte) (int, any, error) {
	rep, err := h.svc.PreviewOperation(r.Context(), a, r.PathValue("id"))
	return http.StatusOK, rep, err
}

// memberRef reads a member as a number (id) or a string (UUID or e-mail).
type memberRef membership.MemberRef

func (m *memberRef) UnmarshalJSON(data []byte) error {
	var id int64
	if err := json.Unmarshal(data, &id); err == nil {
		*m = memberRef{ID: id}
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return membership.Errorf(membership.CodeInvalid, "member must be an id, a UUID or an e-mail address")
	}
	if strings.Contains(s, "@") {
		*m = memberRef{Email: s}
	} else if id, err := strconv.ParseInt(s, 10, 64); err == nil {
		*m = memberRef{ID: id}
	} else {
		*m = memberRef{UUID: s}
	}
	return nil
}

// ref reads a space or group as a number (id) or a string (UUID).
type ref membership.Ref

func (x *ref) UnmarshalJSON(data []byte) error {
	var id int64
	if err := json.Unmarshal(data, &id); err == nil {
		*x = ref{ID: id}
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return membership.Errorf(membership.CodeInvalid, "space and group must be an id or a UUID")
	}
	if id, err := strconv.ParseInt(s, 10, 64); err == nil {
		*x = ref{ID: id}
	} else {
		*x = ref{UUID: s}
	}
	return nil
}

// scheduleBody is POST /api/v1/schedules: one removal and when it happens.
// kind "member.remove" (offboarding) needs member; "space_member.remove"
// member and space; "group_member.remove" member and group;
// "roles.revoke" space_membership and roles.
type scheduleBody struct {
	Kind            string     `json:"kind"`
	EffectiveAt     *time.Time `json:"effective_at"`
	Member          *memberRef `json:"member"`
	Space           *ref       `json:"space"`
	Group           *ref       `json:"group"`
	SpaceMembership int64      `json:"space_membership"`
	Roles           []string   `json:"roles"`
}

func (h *handler) schedule(r *http.Request, a membership.Actor, body []byte) (int, any, error) {
	var in scheduleBody
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return 0, nil, membership.Errorf(membership.CodeInvalid, "invalid JSON body: %v", err)
	}
	if in.EffectiveAt == nil {
		return 0, nil, membership.Errorf(membership.CodeInvalid, "effective_at is required (RFC 3339)")
	}
	need := func(ok bool, what string) error {
		if !ok {
			return membership.Errorf(membership.CodeInvalid, "%s needs %s", in.Kind, what)
		}
		return nil
	}
	var req membership.OperationRequest
	var err error
	switch in.Kind {
	case membership.KindRemoveMember:
		if err = need(in.Member != nil, "member"); err == nil {
			req.RemoveMember = &membership.RemoveMemberRequest{Member: membership.MemberRef(*in.Member)}
		}
	case membership.KindRemoveSpaceMember:
		if err = need(in.Member != nil && in.Space != nil, "member and space"); err == nil {
			req.RemoveSpaceMember = &membership.RemoveSpaceMemberRequest{Space: membership.Ref(*in.Space), Member: membership.MemberRef(*in.Member)}
		}
	case membership.KindRemoveGroupMember:
		if err = need(in.Member != nil && in.Group != nil, "member and group"); err == nil {
			req.RemoveGroupMember = &membership.RemoveGroupMemberRequest{Group: membership.Ref(*in.Group), Member: membership.MemberRef(*in.Member)}
		}
	case membership.KindRevokeRoles:
		if err = need(in.SpaceMembership > 0 && len(in.Roles) > 0, "space_membership and roles"); err == nil {
			req.RevokeRoles = &membership.RevokeRolesRequest{SpaceMemberID: in.SpaceMembership, Roles: in.Roles}
		}
	default:
		err = membership.Errorf(membership.CodeInvalid, "kind must be one of %s, %s, %s, %s", membership.KindRemoveMember,
			membership.KindRemoveSpaceMember, membership.KindRemoveGroupMember, membership.KindRevokeRoles)
	}
	if err != nil {
		return 0, nil, err
	}
	op, err := h.svc.StartOperation(r.Context(), a, membership.StartOperationRequest{Request: req, EffectiveAt: in.EffectiveAt, Original: body})
	return http.StatusCreated, op, err
}

func (h *handler) listWebhooks(r *http.Request, a membership.Actor, _ []byte) (int, any, error) {
	eps, err := h.svc.WebhookEndpoints(r.Context(), a)
	return http.StatusOK, list[*membership.WebhookEndpoint]{Items: eps}, err
}

type webhookBody struct {
	URL         string   `json:"url"`
	Description string   `json:"description"`
	Events      []string `json:"events"`
}

func (h *handler) createWebhook(r *http.Request, a membership.Actor, body []byte) (int, any, error) {
	var in webhookBody
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return 0, nil, membership.Errorf(membership.CodeInvalid, "invalid JSON body: %v", err)
	}
	ep, err := h.svc.CreateWebhookEndpoint(r.Context(), a, membership.CreateWebhookEndpointRequest{URL: in.URL, Description: in.Description, Events: in.Events})
	return http.StatusCreated, ep, err
}

func (h *handler) getWebhook(r *http.Request, a membership.Actor, _ []byte) (int, any, error) {
	ep, err := h.svc.WebhookEndpoint(r.Context(), a, r.PathValue("id"))
	return http.StatusOK, ep, err
}

func (h *handler) disableWebhook(r *http.Request, a membership.Actor, _ []byte) (int, any, error) {
	ep, err := h.svc.DisableWebhookEndpoint(r.Context(), a, r.PathValue("id"))
	return http.StatusOK, ep, err
}

func (h *handler) listDeliveries(r *http.Request, a membership.Actor, _ []byte) (int, any, error) {
	n, err := limit(r)
	if err != nil {
		return 0, nil, err
	}
	ds, err := h.svc.WebhookDeliveries(r.Context(), a, r.PathValue("id"), membership.WebhookDeliveryListParams{
		Status: r.URL.Query().Get("status"), Limit: n,
	})
	return http.StatusOK, list[*membership.WebhookDelivery]{Items: ds}, err
}

func (h *handler) getDelivery(r *http.Request, a membership.Actor, _ []byte) (int, any, error) {
	log, err := h.svc.WebhookDelivery(r.Context(), a, r.PathValue("id"))
	return http.StatusOK, log, err
}

func (h *handler) redeliver(r *http.Request, a membership.Actor, _ []byte) (int, any, error) {
	d, err := h.svc.RedeliverWebhook(r.Context(), a, r.PathValue("id"))
	return http.StatusAccepted, d, err
}
