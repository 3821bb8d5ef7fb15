package httpapi

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/memberd/memberd/membership"
)

// This file registers the native API's view of asynchronous work:
// operations (/operations), scheduled removals (/schedules), webhooks
// (/webhooks, /webhook-deliveries) and the effective_at form of the
// removal operations, which schedules instead of removing now.

type operationPage struct {
	Items      []*membership.Operation `json:"items"`
	NextBefore int64                   `json:"next_before,omitempty" doc:"Pass as before to get the next (older) page; absent on the last page."`
}

type deliveryPage struct {
	Items      []*membership.WebhookDelivery `json:"items"`
	NextBefore int64                         `json:"next_before,omitempty" doc:"Pass as before to get the next (older) page; absent on the last page."`
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

// schedule starts req at effective time at through the core and answers
// 202 with the operation. A dry run cannot be scheduled: the preview of a
// scheduled removal is GET /operations/{id}/preview, which shows what it
// would take away at the time of asking, not at the time it was scheduled.
func (h *handler) schedule(ctx context.Context, a membership.Actor, action string, dryRun bool, at time.Time, req membership.OperationRequest) (*removal, error) {
	if dryRun {
		err := membership.Errorf(membership.CodeInvalid,
			"dry_run and effective_at cannot be combined; preview a scheduled removal with GET %s/operations/{id}/preview", Prefix)
		h.svc.AuditRefused(ctx, a, action, err)
		return nil, err
	}
	op, err := h.svc.StartOperation(ctx, a, membership.StartOperationRequest{Request: req, EffectiveAt: &at})
	if err != nil {
		return nil, err
	}
	setHeader(ctx, "Location", location("operations", op.UUID))
	return &removal{Status: http.StatusAccepted, Body: op}, nil
}

// setHeader sets a response header from inside an operation, for answers
// whose headers depend on which of two documented responses is sent.
func setHeader(ctx context.Context, name, value string) {
	if c, ok := ctx.Value(callKey{}).(*call); ok {
		c.w.Header().Set(name, value)
	}
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
}

// webhookEvent is an event type a webhook endpoint subscribes to. Its
// schema lists the core's types without enforcing them, so an unknown
// type is refused by the core with the list of known ones (400).
type webhookEvent string

// Schema documents webhookEvent (huma.SchemaProvider).
func (webhookEvent) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeString, MaxLength: ptr(100),
		Description: "One of: " + strings.Join(membership.WebhookEventTypes(), ", ") + "."}
}

func (h *handler) registerAsync() {
	// Inputs shared by several operations; see register for why they are
	// capitalized and declared here.
	type UUIDPath struct {
		ID string `path:"id" maxLength:"36" doc:"The UUID."`
	}

	type PageQuery struct {
		Before int64 `query:"before" minimum:"0" doc:"Only items older than this position: the previous page's next_before."`
		Limit  int   `query:"limit" minimum:"1" maximum:"1000" doc:"Page size; 100 when absent."`
	}

	type OperationsQuery struct {
		Status membership.OperationStatus `query:"status" enum:"scheduled,queued,running,succeeded,failed,cancelled" doc:"Only operations in this state."`
		PageQuery
	}

	const (
		read  = membership.ScopeMembersRead
		write = membership.ScopeMembersWrite
	)
	s := h.svc

	operations := func(ctx context.Context, a membership.Actor, in *OperationsQuery, scheduled bool) (*out[operationPage], error) {
		limit := membership.ListLimit(in.Limit)
		ops, err := s.Operations(ctx, a, membership.OperationListParams{Status: in.Status, Scheduled: scheduled, BeforeID: in.Before, Limit: limit})
		if err != nil {
			return nil, err
		}
		page := operationPage{Items: ops}
		if page.Items == nil {
			page.Items = []*membership.Operation{}
		}
		if len(ops) == limit {
			page.NextBefore = ops[len(ops)-1].ID
		}
		return ok(page)
	}
	getOperation := func(ctx context.Context, a membership.Actor, in *UUIDPath) (*out[*membership.Operation], error) {
		return result(s.Operation(ctx, a, in.ID))
	}
	cancel := func(ctx context.Context, a membership.Actor, in *UUIDPath) (*out[*membership.Operation], error) {
		return result(s.CancelOperation(ctx, a, in.ID))
	}
	preview := func(ctx context.Context, a membership.Actor, in *UUIDPath) (*out[*membership.Report], error) {
		return result(s.PreviewOperation(ctx, a, in.ID))
	}

	// Operations: every removal that runs after it is acknowledged.
	register(h, route{id: "list-operations", method: http.MethodGet, path: "/operations", tag: "Operations", scope: read,
		summary: "List operations (asynchronous and scheduled removals), newest first"},
		func(ctx context.Context, a membership.Actor, in *OperationsQuery) (*out[operationPage], error) {
			return operations(ctx, a, in, false)
		})
	register(h, route{id: "get-operation", method: http.MethodGet, path: "/operations/{id}", tag: "Operations", scope: read,
		summary: "Get an operation: poll it until its status is final"}, getOperation)
	register(h, route{id: "cancel-operation", method: http.MethodPost, path: "/operations/{id}/cancel", tag: "Operations", scope: write,
		summary: "Cancel an operation that has not started"}, cancel)
	register(h, route{id: "preview-operation", method: http.MethodGet, path: "/operations/{id}/preview", tag: "Operations", scope: read,
		summary: "What a waiting operation would take away if it ran now (a dry run)"}, preview)

	// Scheduled removals: operations with an effective time.
	register(h, route{id: "list-schedules", method: http.MethodGet, path: "/schedules", tag: "Schedules", scope: read,
		summary: "List scheduled removals, newest first"},
		func(ctx context.Context, a membership.Actor, in *OperationsQuery) (*out[operationPage], error) {
			return operations(ctx, a, in, true)
		})

	type scheduleInput struct {
		RawBody []byte
		Body    struct {
			Kind string `json:"kind" maxLength:"40" doc:"member.remove (offboarding; needs member), space_member.remove (member and space), group_member.remove (member and group) or roles.revoke (space_membership and roles)."`
			// Optional in the schema so that its absence is refused by the
			// core's rules (400) like every other missing part of a schedule.
			EffectiveAt     *time.Time `json:"effective_at,omitempty" doc:"When the removal happens (RFC 3339, not in the past). Required."`
			Member          *memberRef `json:"member,omitempty"`
			Space           *ref       `json:"space,omitempty" doc:"The space, for space_member.remove."`
			Group           *ref       `json:"group,omitempty" doc:"The group, for group_member.remove."`
			SpaceMembership int64      `json:"space_membership,omitempty" minimum:"0" doc:"The space membership's id, for roles.revoke."`
			Roles           []string   `json:"roles,omitempty" doc:"The roles to revoke, all or nothing, for roles.revoke."`
		}
	}
	register(h, route{id: "create-schedule", method: http.MethodPost, path: "/schedules", tag: "Schedules", scope: write, status: http.StatusCreated,
		summary: "Schedule a removal for a later time"},
		func(ctx context.Context, a membership.Actor, in *scheduleInput) (*created[*membership.Operation], error) {
			spec := membership.RemovalSpec{Kind: in.Body.Kind, SpaceMemberID: in.Body.SpaceMembership, Roles: in.Body.Roles}
			if in.Body.Member != nil {
				spec.Member = &in.Body.Member.MemberRef
			}
			if in.Body.Space != nil {
				spec.Space = &in.Body.Space.Ref
			}
			if in.Body.Group != nil {
				spec.Group = &in.Body.Group.Ref
			}
			op, err := s.Schedule(ctx, a, membership.ScheduleRequest{RemovalSpec: spec, EffectiveAt: in.Body.EffectiveAt, Original: in.RawBody})
			if err != nil {
				return nil, err
			}
			return &created[*membership.Operation]{Location: location("schedules", op.UUID), Body: op}, nil
		})
	register(h, route{id: "get-schedule", method: http.MethodGet, path: "/schedules/{id}", tag: "Schedules", scope: read,
		summary: "Get a scheduled removal"}, getOperation)
	register(h, route{id: "cancel-schedule", method: http.MethodDelete, path: "/schedules/{id}", tag: "Schedules", scope: write,
		summary: "Cancel a scheduled removal that is not yet due"}, cancel)
	register(h, route{id: "preview-schedule", method: http.MethodGet, path: "/schedules/{id}/preview", tag: "Schedules", scope: read,
		summary: "What a scheduled removal would take away if it ran now (a dry run)"}, preview)

	// Webhooks. An organization has at most a few endpoints, so their
	// list is the whole collection; deliveries page like events.
	register(h, route{id: "list-webhooks", method: http.MethodGet, path: "/webhooks", tag: "Webhooks", scope: read,
		summary: "List webhook endpoints (never their secrets)"},
		func(ctx context.Context, a membership.Actor, _ *struct{}) (*out[list[*membership.WebhookEndpoint]], error) {
			return listOf(s.WebhookEndpoints(ctx, a))
		})

	type createWebhookInput struct {
		Body struct {
			URL         string         `json:"url" maxLength:"2000" doc:"Absolute http or https URL that receives signed deliveries."`
			Description string         `json:"description,omitempty" maxLength:"200"`
			Events      []webhookEvent `json:"events" doc:"The event types to deliver."`
		}
	}
	register(h, route{id: "create-webhook", method: http.MethodPost, path: "/webhooks", tag: "Webhooks", scope: write, status: http.StatusCreated,
		summary: "Register a webhook endpoint; its signing secret is shown only in this answer"},
		func(ctx context.Context, a membership.Actor, in *createWebhookInput) (*created[*membership.NewWebhookEndpoint], error) {
			req := membership.CreateWebhookEndpointRequest{URL: in.Body.URL, Description: in.Body.Description}
			for _, ev := range in.Body.Events {
				req.Events = append(req.Events, string(ev))
			}
			ep, err := s.CreateWebhookEndpoint(ctx, a, req)
			if err != nil {
				return nil, err
			}
			return &created[*membership.NewWebhookEndpoint]{Location: location("webhooks", ep.Endpoint.UUID), Body: ep}, nil
		})
	register(h, route{id: "get-webhook", method: http.MethodGet, path: "/webhooks/{id}", tag: "Webhooks", scope: read,
		summary: "Get a webhook endpoint (never its secret)"},
		func(ctx context.Context, a membership.Actor, in *UUIDPath) (*out[*membership.WebhookEndpoint], error) {
			return result(s.WebhookEndpoint(ctx, a, in.ID))
		})
	register(h, route{id: "disable-webhook", method: http.MethodDelete, path: "/webhooks/{id}", tag: "Webhooks", scope: write,
		summary: "Disable a webhook endpoint: nothing more is delivered to it"},
		func(ctx context.Context, a membership.Actor, in *UUIDPath) (*out[*membership.WebhookEndpoint], error) {
			return result(s.DisableWebhookEndpoint(ctx, a, in.ID))
		})

	type listDeliveriesInput struct {
		UUIDPath
		Status string `query:"status" enum:"pending,delivered,failed" doc:"Only deliveries in this state."`
		PageQuery
	}
	register(h, route{id: "list-webhook-deliveries", method: http.MethodGet, path: "/webhooks/{id}/deliveries", tag: "Webhooks", scope: read,
		summary: "An endpoint's deliveries, newest first"},
		func(ctx context.Context, a membership.Actor, in *listDeliveriesInput) (*out[deliveryPage], error) {
			limit := membership.ListLimit(in.Limit)
			ds, err := s.WebhookDeliveries(ctx, a, in.ID, membership.WebhookDeliveryListParams{Status: in.Status, BeforeID: in.Before, Limit: limit})
			if err != nil {
				return nil, err
			}
			page := deliveryPage{Items: ds}
			if page.Items == nil {
				page.Items = []*membership.WebhookDelivery{}
			}
			if len(ds) == limit {
				page.NextBefore = ds[len(ds)-1].ID
			}
			return ok(page)
		})
	register(h, route{id: "get-webhook-delivery", method: http.MethodGet, path: "/webhook-deliveries/{id}", tag: "Webhooks", scope: read,
		summary: "A delivery with its message and every attempt made"},
		func(ctx context.Context, a membership.Actor, in *UUIDPath) (*out[*membership.WebhookDeliveryLog], error) {
			return result(s.WebhookDelivery(ctx, a, in.ID))
		})
	register(h, route{id: "redeliver-webhook", method: http.MethodPost, path: "/webhook-deliveries/{id}/redeliver", tag: "Webhooks", scope: write, status: http.StatusAccepted,
		summary: "Send a delivered or failed delivery's message again, as a new delivery"},
		func(ctx context.Context, a membership.Actor, in *UUIDPath) (*created[*membership.WebhookDelivery], error) {
			d, err := s.RedeliverWebhook(ctx, a, in.ID)
			if err != nil {
				return nil, err
			}
			return &created[*membership.WebhookDelivery]{Location: location("webhook-deliveries", d.UUID), Body: d}, nil
		})
}
