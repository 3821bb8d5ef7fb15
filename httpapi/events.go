package httpapi

import (
	"context"
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/memberd/memberd/membership"
)

// The audit trail.

type eventPage struct {
	Items      []*membership.Event `json:"items"`
	NextBefore int64               `json:"next_before,omitempty" doc:"Pass as before to get the next (older) page; absent on the last page."`
}

// EventFilters are the query filters the event list and the export share
// (exported only so that huma reads the embedded fields as parameters).
type EventFilters struct {
	Member    int64     `query:"member" minimum:"0" doc:"Only events about or by this member id (refused attempts included)."`
	Actor     int64     `query:"actor" minimum:"0" doc:"Only events by this acting member id."`
	Action    string    `query:"action" maxLength:"100" doc:"Only events with this action, e.g. member.removed (a refused attempt has its action's name and outcome refused)."`
	Outcome   string    `query:"outcome" enum:"ok,refused" doc:"Only changes (ok) or refused attempts (refused)."`
	Interface string    `query:"interface" maxLength:"100" doc:"Only events of requests through this interface: native, scim, cli, console or a dialect (wiggledesk, highq, workiva, jicoo, tedee)."`
	RequestID string    `query:"request_id" maxLength:"200" doc:"Only events of the request with this X-Request-Id."`
	Since     time.Time `query:"since" doc:"Only events at or after this time (RFC 3339)."`
	Until     time.Time `query:"until" doc:"Only events before this time (RFC 3339)."`
}

func (f *EventFilters) params() membership.EventListParams {
	return membership.EventListParams{MemberID: f.Member, ActorID: f.Actor, Action: f.Action, Outcome: f.Outcome,
		Interface: f.Interface, RequestID: f.RequestID, Since: f.Since, Until: f.Until}
}

type listEventsInput struct {
	EventFilters
	Before int64 `query:"before" minimum:"0" doc:"Only events older than this id: the previous page's next_before."`
	Limit  int   `query:"limit" minimum:"1" maximum:"1000" doc:"Page size; 100 when absent."`
}

func (h *handler) listEvents(ctx context.Context, a membership.Actor, in *listEventsInput) (*out[eventPage], error) {
	limit := membership.ListLimit(in.Limit)
	p := in.params()
	p.BeforeID, p.Limit = in.Before, limit
	es, err := h.svc.Events(ctx, a, p)
	if err != nil {
		return nil, err
	}
	var page eventPage
	page.Items, page.NextBefore = pageOf(es, limit, func(e *membership.Event) int64 { return e.ID })
	return ok(page)
}

type exportEventsInput struct {
	EventFilters
	After  int64  `query:"after" minimum:"0" doc:"Resume an export: only events after this id, the last one a previous export delivered."`
	Format string `query:"format" enum:"jsonl,csv" default:"jsonl" doc:"jsonl: one AuditEvent JSON object a line; csv: a header line, then one line an event with the AuditEvent fields as columns."`
}

// exportEvents streams the organization's events, oldest first, reading
// one page per transaction so that memory stays flat however many there
// are. An export cut short resumes with after set to the last id received.
func (h *handler) exportEvents(ctx context.Context, a membership.Actor, in *exportEventsInput) (*huma.StreamResponse, error) {
	p := in.params()
	p.Ascending, p.AfterID, p.Limit = true, in.After, membership.ExportPage
	// The first page is read before the answer starts, so that a refusal
	// (or a broken store) still gets its own status.
	first, err := h.svc.Events(ctx, a, p)
	if err != nil {
		return nil, err
	}
	return &huma.StreamResponse{Body: func(hc huma.Context) {
		contentType := "application/jsonl"
		if in.Format == membership.ExportCSV {
			contentType = "text/csv; charset=utf-8"
		}
		hc.SetHeader("Content-Type", contentType)
		hc.SetHeader("Cache-Control", "no-store")
		hc.SetStatus(http.StatusOK)
		w := hc.BodyWriter()
		x, err := membership.NewEventWriter(w, in.Format)
		for page := first; err == nil; {
			if err = x.Write(page); err != nil {
				return // the client went away
			}
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			if len(page) < membership.ExportPage {
				return
			}
			p.AfterID = page[len(page)-1].ID
			// A failure now cannot change the status that was sent: the
			// export ends early, and the client resumes from the last id
			// it received.
			page, err = h.svc.Events(ctx, a, p)
		}
	}}, nil
}

// documentExport writes the export's two media types into the document:
// both carry AuditEvent, the JSON Lines schema being one object a line.
func (h *handler) documentExport(op *huma.Operation) {
	reg := h.api.OpenAPI().Components.Schemas
	event := reg.Schema(reflect.TypeFor[membership.Event](), true, "Event")
	op.Description = "Streams every event matching the filters, oldest first, in constant memory. " +
		"format=jsonl answers application/jsonl: one Event object a line (the schema below), ending with a newline. " +
		"format=csv answers text/csv with a header line naming the Event fields. " +
		"An export cut short resumes with after set to the last id received. " +
		"seq, prev_hash and hash link each organization's events in a hash chain: hash is the hex SHA-256 of the " +
		"canonical content, the JSON object {v:1, organization_id, seq, prev_hash, uuid, at (Unix microseconds), " +
		"actor_member_id, credential_id, interface, request_id, action, outcome, target_type, target_id, target_member_id, " +
		"target_ref, message, before, after} with every key present in this order, absent numbers 0 and strings \"\", " +
		"before and after as JSON strings of the stored JSON text (null when absent), no whitespace and no HTML escaping. " +
		"memberd audit verify re-walks the chain."
	op.Responses = map[string]*huma.Response{
		"200": {
			Description: "The events, oldest first.",
			Content: map[string]*huma.MediaType{
				"application/jsonl":       {Schema: event},
				"text/csv; charset=utf-8": {Schema: &huma.Schema{Type: huma.TypeString}},
			},
		},
	}
}
