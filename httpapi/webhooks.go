package httpapi

import (
	"context"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/memberd/memberd/membership"
)

// Webhook endpoints and their deliveries. An organization has at most a
// few endpoints, so their list is the whole collection; deliveries page
// like events.

// webhookEvent is an event type a webhook endpoint subscribes to. Its
// schema lists the core's types without enforcing them, so an unknown
// type is refused by the core with the list of known ones (400).
type webhookEvent string

// Schema documents webhookEvent (huma.SchemaProvider).
func (webhookEvent) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeString, MaxLength: ptr(100),
		Description: "One of: " + strings.Join(membership.WebhookEventTypes(), ", ") + "."}
}

func (h *handler) listWebhooks(ctx context.Context, a membership.Actor, _ *struct{}) (*out[list[*membership.WebhookEndpoint]], error) {
	return listOf(h.svc.WebhookEndpoints(ctx, a))
}

type createWebhookInput struct {
	Body struct {
		URL         string         `json:"url" maxLength:"2000" doc:"Absolute http or https URL that receives signed deliveries. Loopback, private, link-local, shared (CGNAT), multicast and reserved addresses, names resolving to them and non-canonical address spellings are refused unless the operator allows them (--webhook-allow-cidr)."`
		Description string         `json:"description,omitempty" maxLength:"200"`
		Events      []webhookEvent `json:"events" doc:"The event types to deliver."`
	}
}

func (h *handler) createWebhook(ctx context.Context, a membership.Actor, in *createWebhookInput) (*created[*membership.NewWebhookEndpoint], error) {
	req := membership.CreateWebhookEndpointRequest{URL: in.Body.URL, Description: in.Body.Description}
	for _, ev := range in.Body.Events {
		req.Events = append(req.Events, string(ev))
	}
	ep, err := h.svc.CreateWebhookEndpoint(ctx, a, req)
	if err != nil {
		return nil, err
	}
	return &created[*membership.NewWebhookEndpoint]{Location: location("webhooks", ep.Endpoint.UUID), Body: ep}, nil
}

func (h *handler) getWebhook(ctx context.Context, a membership.Actor, in *UUIDPath) (*out[*membership.WebhookEndpoint], error) {
	return result(h.svc.WebhookEndpoint(ctx, a, in.ID))
}

func (h *handler) disableWebhook(ctx context.Context, a membership.Actor, in *UUIDPath) (*out[*membership.WebhookEndpoint], error) {
	return result(h.svc.DisableWebhookEndpoint(ctx, a, in.ID))
}

func (h *handler) enableWebhook(ctx context.Context, a membership.Actor, in *UUIDPath) (*out[*membership.WebhookEndpoint], error) {
	return result(h.svc.EnableWebhookEndpoint(ctx, a, in.ID))
}

type deliveryPage struct {
	Items      []*membership.WebhookDelivery `json:"items"`
	NextBefore int64                         `json:"next_before,omitempty" doc:"Pass as before to get the next (older) page; absent on the last page."`
}

type listDeliveriesInput struct {
	UUIDPath
	Status string `query:"status" enum:"pending,delivered,failed" doc:"Only deliveries in this state."`
	PageQuery
}

func (h *handler) listWebhookDeliveries(ctx context.Context, a membership.Actor, in *listDeliveriesInput) (*out[deliveryPage], error) {
	limit := membership.ListLimit(in.Limit)
	ds, err := h.svc.WebhookDeliveries(ctx, a, in.ID, membership.WebhookDeliveryListParams{Status: in.Status, BeforeID: in.Before, Limit: limit})
	if err != nil {
		return nil, err
	}
	var page deliveryPage
	page.Items, page.NextBefore = pageOf(ds, limit, func(d *membership.WebhookDelivery) int64 { return d.ID })
	return ok(page)
}

func (h *handler) getWebhookDelivery(ctx context.Context, a membership.Actor, in *UUIDPath) (*out[*membership.WebhookDeliveryLog], error) {
	return result(h.svc.WebhookDelivery(ctx, a, in.ID))
}

func (h *handler) redeliverWebhook(ctx context.Context, a membership.Actor, in *UUIDPath) (*created[*membership.WebhookDelivery], error) {
	d, err := h.svc.RedeliverWebhook(ctx, a, in.ID)
	if err != nil {
		return nil, err
	}
	return &created[*membership.WebhookDelivery]{Location: location("webhook-deliveries", d.UUID), Body: d}, nil
}
