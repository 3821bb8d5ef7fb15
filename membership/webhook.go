package membership

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/memberd/memberd/internal/netguard"
)

// Webhook event types an endpoint can subscribe to. The first five are
// the audit actions of the changes themselves.
const (
	WebhookMemberRemoved             = "member.removed"
	WebhookMemberRestored            = "member.restored"
	WebhookSpaceMemberRemoved        = "space_member.removed"
	WebhookGroupMemberRemoved        = "group_member.removed"
	WebhookRolesRevoked              = "roles.revoked"
	WebhookScheduledRemovalCreated   = "scheduled_removal.created"
	WebhookScheduledRemovalCancelled = "scheduled_removal.cancelled"
	WebhookScheduledRemovalExecuted  = "scheduled_removal.executed"
)

// WebhookEventTypes lists every event type, in documentation order.
func WebhookEventTypes() []string {
	return []string{WebhookMemberRemoved, WebhookMemberRestored, WebhookSpaceMemberRemoved,
		WebhookGroupMemberRemoved, WebhookRolesRevoked, WebhookScheduledRemovalCreated,
		WebhookScheduledRemovalCancelled, WebhookScheduledRemovalExecuted}
}

func isWebhookEvent(action string) bool {
	for _, t := range WebhookEventTypes() {
		if t == action {
			return true
		}
	}
	return false
}

// Webhook endpoint states.
const (
	WebhookActive   = "active"
	WebhookDisabled = "disabled"
)

// Why an endpoint is disabled (WebhookEndpoint.DisabledReason).
const (
	// DisabledByCall: an owner or admin disabled it; what was queued is
	// dropped and nothing new is queued.
	DisabledByCall = "disabled_by_call"
	// DisabledFailing: the circuit breaker opened after a run of failed
	// attempts; pending deliveries are held (up to the bound) and go out
	// when it is enabled again.
	DisabledFailing = "failing"
)

// DefaultWebhookMaxPending is how many pending deliveries one endpoint may
// hold unless Config.WebhookMaxPending says otherwise.
const DefaultWebhookMaxPending = 1000

// WebhookEndpoint is where an organization wants to hear about changes.
// Secret ("whsec_" + base64) signs every delivery (Standard Webhooks); it
// is kept in the clear because signing needs it, and shown once.
type WebhookEndpoint struct {
	ID          int64     `json:"-"`
	UUID        string    `json:"id"`
	OrgID       int64     `json:"organization_id"`
	URL         string    `json:"url"`
	Description string    `json:"description"`
	Events      []string  `json:"events"`
	Secret      string    `json:"-"`
	Status      string    `json:"status"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`

	// DisabledReason says why a disabled endpoint is (DisabledByCall,
	// DisabledFailing), DisabledAt since when.
	DisabledReason string     `json:"disabled_reason,omitempty"`
	DisabledAt     *time.Time `json:"disabled_at,omitempty"`
	// Failures counts consecutive failed attempts since FailingSince;
	// LastError is the last one's error or status.
	Failures     int        `json:"consecutive_failures"`
	FailingSince *time.Time `json:"failing_since,omitempty"`
	LastError    string     `json:"last_error,omitempty"`
	// Dropped counts messages never queued because the endpoint already
	// held its bound of pending deliveries; DroppingSince is when the
	// current run of drops began (cleared by a delivery or enabling),
	// LastDroppedAt the latest. The audit trail has every event dropped.
	Dropped       int64      `json:"dropped_deliveries"`
	DroppingSince *time.Time `json:"dropping_since,omitempty"`
	LastDroppedAt *time.Time `json:"last_dropped_at,omitempty"`
}

// held reports whether the breaker holds e's deliveries.
func (e *WebhookEndpoint) held() bool {
	return e.Status == WebhookDisabled && e.DisabledReason == DisabledFailing
}

// Subscribed reports whether e wants events of type t.
func (e *WebhookEndpoint) Subscribed(t string) bool {
	for _, ev := range e.Events {
		if ev == t {
			return true
		}
	}
	return false
}

// WebhookMessage is one event in the outbox: written in the transaction of
// the change it reports, so there is no event without its change and no
// change without its event. UUID is the webhook-id receivers deduplicate on.
type WebhookMessage struct {
	ID        int64           `json:"-"`
	UUID      string          `json:"id"`
	OrgID     int64           `json:"organization_id"`
	Type      string          `json:"type"`
	EventID   int64           `json:"event_id"`
	OrderKey  string          `json:"order_key"`
	Payload   json.RawMessage `json:"payload"`
	CreatedAt time.Time       `json:"created_at"`
}

// Webhook delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed" // every attempt failed; redeliver by hand
)

// WebhookDelivery is one message on its way to one endpoint. Deliveries
// of one endpoint with one order key (the member concerned) go out one at
// a time in ID order, so a receiver sees a member's events in order.
type WebhookDelivery struct {
	ID          int64      `json:"-"`
	UUID        string     `json:"id"`
	OrgID       int64      `json:"organization_id"`
	EndpointID  int64      `json:"-"`
	Endpoint    string     `json:"endpoint_id"`
	MessageID   int64      `json:"-"`
	Message     string     `json:"message_id"`
	Type        string     `json:"type"`
	OrderKey    string     `json:"order_key"`
	Status      string     `json:"status"`
	Attempts    int        `json:"attempts"`
	NextAt      *time.Time `json:"next_attempt_at,omitempty"`
	LastStatus  int        `json:"last_status_code,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
	// Redelivers names the delivery this one repeats by hand.
	Redelivers string `json:"redelivers,omitempty"`
}

// WebhookAttempt is one try of a delivery, kept for the delivery log.
type WebhookAttempt struct {
	ID         int64     `json:"-"`
	DeliveryID int64     `json:"-"`
	At         time.Time `json:"at"`
	StatusCode int       `json:"status_code,omitempty"`
	Error      string    `json:"error,omitempty"`
	DurationMS int64     `json:"duration_ms"`
	Response   string    `json:"response,omitempty"`
}

// WebhookDeliveryListParams filters WebhookDeliveryList.
type WebhookDeliveryListParams struct {
	OrgID      int64
	EndpointID int64
	Status     string
	BeforeID   int64
	Limit      int
}

// WebhookRetryPolicy says how often and how far apart a failing endpoint
// is tried: Backoff(n) is the wait after its n-th consecutive failed
// attempt, whichever delivery made it, so one dead endpoint sees one
// paced stream, not a storm per delivery. A delivery is given up after
// MaxAttempts. The breaker opens (the endpoint is disabled, its
// deliveries held) after BreakerFailures consecutive failures spanning at
// least BreakerPeriod.
type WebhookRetryPolicy struct {
	MaxAttempts     int
	Backoff         func(attempt int) time.Duration
	BreakerFailures int
	BreakerPeriod   time.Duration
}

// Defaults of the circuit breaker.
const (
	DefaultBreakerFailures = 10
	DefaultBreakerPeriod   = time.Hour
)

// DefaultWebhookRetryPolicy doubles the wait from 5 s up to an hour, for 12
// attempts (about four hours in all), and opens the breaker after 10
// failures over at least an hour (the 11th, about 85 minutes in).
func DefaultWebhookRetryPolicy() WebhookRetryPolicy {
	return WebhookRetryPolicy{MaxAttempts: 12, Backoff: func(n int) time.Duration {
		d := 5 * time.Second << min(n-1, 20)
		return min(d, time.Hour)
	}, BreakerFailures: DefaultBreakerFailures, BreakerPeriod: DefaultBreakerPeriod}
}

// publish writes the outbox message of an audited change and a delivery to
// every active endpoint subscribed to it, in the change's transaction. It
// runs for every event record() appends.
func (s *Service) publish(ctx context.Context, tx Tx, e *Event) error {
	if e.Outcome != OutcomeOK || e.OrgID == 0 || !isWebhookEvent(e.Action) {
		return nil
	}
	endpoints, err := tx.WebhookEndpointList(ctx, e.OrgID)
	if err != nil {
		return fmt.Errorf("list webhook endpoints: %w", err)
	}
	var to []*WebhookEndpoint
	for _, ep := range endpoints {
		if !ep.Subscribed(e.Action) || (ep.Status != WebhookActive && !ep.held()) {
			continue
		}
		full, err := s.endpointFull(ctx, tx, ep, e)
		if err != nil {
			return err
		}
		if !full {
			to = append(to, ep)
		}
	}
	if len(to) == 0 {
		return nil
	}
	if err := s.needQueue(); err != nil {
		return err
	}
	data := map[string]any{
		"event_id": e.UUID, "organization_id": e.OrgID, "interface": e.Interface,
		"actor_member_id": e.ActorMemberID, "request_id": e.RequestID,
	}
	if e.TargetMemberID != 0 {
		data["member_id"] = e.TargetMemberID
	}
	if len(e.Before) > 0 {
		data["before"] = e.Before
	}
	if len(e.After) > 0 {
		data["after"] = e.After
	}
	payload, err := json.Marshal(map[string]any{
		"type": e.Action, "timestamp": e.At.Format(time.RFC3339Nano), "data": data,
	})
	if err != nil {
		return fmt.Errorf("encode webhook payload: %w", err)
	}
	key := fmt.Sprintf("org:%d", e.OrgID)
	if e.TargetMemberID != 0 {
		key = fmt.Sprintf("member:%d", e.TargetMemberID)
	}
	msg := &WebhookMessage{UUID: "msg_" + strings.ReplaceAll(NewUUID(), "-", ""), OrgID: e.OrgID, Type: e.Action,
		EventID: e.ID, OrderKey: key, Payload: payload, CreatedAt: e.At}
	if err := tx.WebhookMessageCreate(ctx, msg); err != nil {
		return fmt.Errorf("append webhook message: %w", err)
	}
	for _, ep := range to {
		if _, err := s.queueDelivery(ctx, tx, ep, msg, ""); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) maxPending() int {
	if s.cfg.WebhookMaxPending > 0 {
		return s.cfg.WebhookMaxPending
	}
	return DefaultWebhookMaxPending
}

// endpointFull reports whether ep already holds its bound of pending
// deliveries. If so, the message of e is dropped for it: counted on the
// endpoint, and the first drop of a run is audited, so a dead endpoint
// costs one row per event in the audit trail, which keeps it anyway, and
// nothing more.
func (s *Service) endpointFull(ctx context.Context, tx Tx, ep *WebhookEndpoint, e *Event) (bool, error) {
	n, err := tx.WebhookDeliveryCountPending(ctx, ep.ID, s.maxPending())
	if err != nil || n < s.maxPending() {
		return false, err
	}
	opened, err := tx.WebhookEndpointDropped(ctx, ep.ID, e.At)
	if err != nil || !opened {
		return true, err
	}
	a := Actor{OrgID: ep.OrgID, Interface: e.Interface, RequestID: e.RequestID}
	_, err = s.record(ctx, tx, a, "webhook_endpoint.dropping", nil, nil, map[string]any{
		"endpoint_id": ep.UUID, "max_pending": s.maxPending(), "first_dropped_event_id": e.UUID, "first_dropped_type": e.Action,
	})
	return true, err
}

// queueDelivery adds a delivery of msg to the end of ep's line: only the
// first in line has a job, and each finished delivery starts the next
// (see FinishDeliveryAttempt), so one endpoint sees one request at a time,
// in order, and a member's events in particular arrive in order.
func (s *Service) queueDelivery(ctx context.Context, tx Tx, ep *WebhookEndpoint, msg *WebhookMessage, redelivers string) (*WebhookDelivery, error) {
	now := s.now()
	// Lock the last one in line first: a delivery finishing concurrently
	// then either sees this one as its successor or has already finished
	// and this one goes first.
	prev, err := tx.WebhookDeliveryPrev(ctx, ep.ID, "", 0)
	if err != nil && ErrorCode(err) != CodeNotFound {
		return nil, err
	}
	d := &WebhookDelivery{UUID: NewUUID(), OrgID: ep.OrgID, EndpointID: ep.ID, Endpoint: ep.UUID,
		MessageID: msg.ID, Message: msg.UUID, Type: msg.Type, OrderKey: msg.OrderKey, Status: DeliveryPending,
		CreatedAt: now, UpdatedAt: now, Redelivers: redelivers}
	if err := tx.WebhookDeliveryCreate(ctx, d); err != nil {
		return nil, fmt.Errorf("create webhook delivery: %w", err)
	}
	if prev != nil {
		return d, nil // queued behind prev
	}
	if err := s.queue.EnqueueDelivery(ctx, tx, d.ID, now); err != nil {
		return nil, fmt.Errorf("enqueue webhook delivery: %w", err)
	}
	return d, nil
}

// NewWebhookEndpoint is a created endpoint with its signing secret, shown
// once: a replay of the creating call (same Idempotency-Key) answers with
// the endpoint and SecretShown instead, as for credentials.
type NewWebhookEndpoint struct {
	Endpoint    *WebhookEndpoint `json:"endpoint"`
	Secret      string           `json:"secret"`
	SecretShown bool             `json:"secret_already_shown,omitempty"`
}

func (e *NewWebhookEndpoint) withoutSecret() any {
	return &NewWebhookEndpoint{Endpoint: e.Endpoint, SecretShown: true}
}

// CreateWebhookEndpointRequest registers an endpoint.
type CreateWebhookEndpointRequest struct {
	URL         string
	Description string
	Events      []string
}

// maxWebhookEndpoints bounds one organization's endpoints, and so the
// deliveries one change can fan out to.
const maxWebhookEndpoints = 20

func (s *Service) checkWebhook(ctx context.Context, rawURL string, events []string) error {
	if len(rawURL) > 2000 {
		return Errorf(CodeInvalid, "url is longer than 2000 characters")
	}
	guard := s.cfg.WebhookGuard
	if guard == nil {
		guard = &netguard.Guard{}
	}
	if _, err := guard.CheckURL(ctx, rawURL); err != nil {
		return &Error{Code: CodeInvalid, Message: err.Error(), Err: err}
	}
	if len(events) == 0 {
		return Errorf(CodeInvalid, "at least one event type is required")
	}
	for _, ev := range events {
		if !isWebhookEvent(ev) {
			return Errorf(CodeInvalid, "unknown event type %q; known types: %s", ev, strings.Join(WebhookEventTypes(), ", "))
		}
	}
	return nil
}

// CreateWebhookEndpoint registers an endpoint for the organization and
// returns its signing secret. Only owners and admins may.
func (s *Service) CreateWebhookEndpoint(ctx context.Context, a Actor, req CreateWebhookEndpointRequest) (*NewWebhookEndpoint, error) {
	if err := s.checkWebhook(ctx, req.URL, req.Events); err != nil {
		return nil, err
	}
	if len(req.Description) > maxNameLen {
		return nil, Errorf(CodeInvalid, "description is longer than %d characters", maxNameLen)
	}
	return mutate(ctx, s, a, "webhook_endpoint.create", func(tx Tx) (*NewWebhookEndpoint, error) {
		if _, err := s.manager(ctx, tx, a); err != nil {
			return nil, err
		}
		existing, err := tx.WebhookEndpointList(ctx, a.OrgID)
		if err != nil {
			return nil, err
		}
		if len(existing) >= maxWebhookEndpoints {
			return nil, Errorf(CodeTooLarge, "an organization can have at most %d webhook endpoints", maxWebhookEndpoints)
		}
		var key [24]byte
		_, _ = rand.Read(key[:]) // crypto/rand.Read never fails (Go 1.24+)
		now := s.now()
		ep := &WebhookEndpoint{UUID: NewUUID(), OrgID: a.OrgID, URL: req.URL, Description: req.Description,
			Events: dedupe(req.Events), Secret: "whsec_" + base64.StdEncoding.EncodeToString(key[:]),
			Status: WebhookActive, CreatedAt: now, UpdatedAt: now}
		if err := tx.WebhookEndpointCreate(ctx, ep); err != nil {
			return nil, err
		}
		if _, err := s.record(ctx, tx, a, "webhook_endpoint.created", nil, nil, ep); err != nil {
			return nil, err
		}
		return &NewWebhookEndpoint{Endpoint: ep, Secret: ep.Secret}, nil
	})
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, v := range in {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// WebhookEndpoints lists the organization's endpoints (never their secrets).
func (s *Service) WebhookEndpoints(ctx context.Context, a Actor) ([]*WebhookEndpoint, error) {
	return view(ctx, s, func(tx Tx) ([]*WebhookEndpoint, error) {
		return tx.WebhookEndpointList(ctx, a.OrgID)
	})
}

// WebhookEndpoint returns one of the organization's endpoints.
func (s *Service) WebhookEndpoint(ctx context.Context, a Actor, id string) (*WebhookEndpoint, error) {
	return view(ctx, s, func(tx Tx) (*WebhookEndpoint, error) {
		return tx.WebhookEndpointGet(ctx, a.OrgID, 0, id)
	})
}

// DisableWebhookEndpoint stops deliveries to an endpoint: nothing new is
// queued for it, and what is queued is dropped when its turn comes.
func (s *Service) DisableWebhookEndpoint(ctx context.Context, a Actor, id string) (*WebhookEndpoint, error) {
	return mutate(ctx, s, a, "webhook_endpoint.disable", func(tx Tx) (*WebhookEndpoint, error) {
		ep, err := s.managedEndpoint(ctx, tx, a, id)
		if err != nil {
			return nil, err
		}
		if ep.Status == WebhookDisabled {
			return nil, ErrAlreadyRemoved
		}
		now := s.now()
		ep.Status, ep.DisabledReason, ep.DisabledAt, ep.UpdatedAt = WebhookDisabled, DisabledByCall, &now, now
		if err := tx.WebhookEndpointUpdate(ctx, ep); err != nil {
			return nil, err
		}
		_, err = s.record(ctx, tx, a, "webhook_endpoint.disabled", nil, nil, ep)
		return ep, err
	})
}

// managedEndpoint returns the organization's endpoint id if a may manage it.
func (s *Service) managedEndpoint(ctx context.Context, tx Tx, a Actor, id string) (*WebhookEndpoint, error) {
	if _, err := s.manager(ctx, tx, a); err != nil {
		return nil, err
	}
	return tx.WebhookEndpointGet(ctx, a.OrgID, 0, id)
}

// EnableWebhookEndpoint makes a disabled endpoint active again with a
// clean record. If the breaker had disabled it, what it held is sent
// again, oldest first. An active endpoint is a conflict.
func (s *Service) EnableWebhookEndpoint(ctx context.Context, a Actor, id string) (*WebhookEndpoint, error) {
	if err := s.needQueue(); err != nil {
		return nil, err
	}
	return mutate(ctx, s, a, "webhook_endpoint.enable", func(tx Tx) (*WebhookEndpoint, error) {
		ep, err := s.managedEndpoint(ctx, tx, a, id)
		if err != nil {
			return nil, err
		}
		if ep.Status == WebhookActive {
			return nil, Errorf(CodeConflict, "the endpoint is already active")
		}
		before := *ep
		now := s.now()
		ep.Status, ep.DisabledReason, ep.DisabledAt, ep.UpdatedAt = WebhookActive, "", nil, now
		ep.Failures, ep.FailingSince, ep.LastError, ep.DroppingSince = 0, nil, "", nil
		if err := tx.WebhookEndpointUpdate(ctx, ep); err != nil {
			return nil, err
		}
		// Held deliveries have no job; one disabled by a call is still
		// draining its line through the jobs it has, which now send.
		if before.held() {
			head, err := tx.WebhookDeliveryNext(ctx, ep.ID, "", 0)
			if err != nil && ErrorCode(err) != CodeNotFound {
				return nil, err
			}
			if head != nil {
				if err := s.queue.EnqueueDelivery(ctx, tx, head.ID, now); err != nil {
					return nil, fmt.Errorf("enqueue webhook delivery: %w", err)
				}
			}
		}
		_, err = s.record(ctx, tx, a, "webhook_endpoint.enabled", nil, &before, ep)
		return ep, err
	})
}

// WebhookDeliveries lists the organization's deliveries, newest first;
// endpoint (a UUID) narrows them to one endpoint.
func (s *Service) WebhookDeliveries(ctx context.Context, a Actor, endpoint string, p WebhookDeliveryListParams) ([]*WebhookDelivery, error) {
	p.OrgID, p.Limit = a.OrgID, ListLimit(p.Limit)
	return view(ctx, s, func(tx Tx) ([]*WebhookDelivery, error) {
		if endpoint != "" {
			ep, err := tx.WebhookEndpointGet(ctx, a.OrgID, 0, endpoint)
			if err != nil {
				return nil, err
			}
			p.EndpointID = ep.ID
		}
		return tx.WebhookDeliveryList(ctx, &p)
	})
}

// WebhookDeliveryLog is a delivery with every attempt made.
type WebhookDeliveryLog struct {
	Delivery *WebhookDelivery  `json:"delivery"`
	Attempts []*WebhookAttempt `json:"attempts"`
	Message  *WebhookMessage   `json:"message"`
}

// WebhookDelivery returns one delivery with its attempts and message.
func (s *Service) WebhookDelivery(ctx context.Context, a Actor, id string) (*WebhookDeliveryLog, error) {
	return view(ctx, s, func(tx Tx) (*WebhookDeliveryLog, error) {
		d, err := tx.WebhookDeliveryGet(ctx, a.OrgID, 0, id)
		if err != nil {
			return nil, err
		}
		log := &WebhookDeliveryLog{Delivery: d}
		if log.Attempts, err = tx.WebhookAttemptList(ctx, d.ID); err != nil {
			return nil, err
		}
		log.Message, err = tx.WebhookMessageGet(ctx, d.MessageID)
		return log, err
	})
}

// RedeliverWebhook sends a delivered or failed delivery's message again,
// as a new delivery at the end of its member's line. A pending one is
// already on its way: CodeConflict.
func (s *Service) RedeliverWebhook(ctx context.Context, a Actor, id string) (*WebhookDelivery, error) {
	if err := s.needQueue(); err != nil {
		return nil, err
	}
	return mutate(ctx, s, a, "webhook_delivery.redeliver", func(tx Tx) (*WebhookDelivery, error) {
		if _, err := s.manager(ctx, tx, a); err != nil {
			return nil, err
		}
		d, err := tx.WebhookDeliveryGet(ctx, a.OrgID, 0, id)
		if err != nil {
			return nil, err
		}
		if d.Status == DeliveryPending {
			return nil, Errorf(CodeConflict, "the delivery is still pending")
		}
		ep, err := tx.WebhookEndpointGet(ctx, a.OrgID, d.EndpointID, "")
		if err != nil {
			return nil, err
		}
		if ep.Status != WebhookActive {
			return nil, Errorf(CodeConflict, "the endpoint is disabled")
		}
		msg, err := tx.WebhookMessageGet(ctx, d.MessageID)
		if err != nil {
			return nil, err
		}
		nd, err := s.queueDelivery(ctx, tx, ep, msg, d.UUID)
		if err != nil {
			return nil, err
		}
		_, err = s.record(ctx, tx, a, "webhook_delivery.redelivered", nil, d, nd)
		return nd, err
	})
}

// Delivery is what the job queue needs to send one webhook delivery.
type Delivery struct {
	Delivery *WebhookDelivery
	Endpoint *WebhookEndpoint
	Message  *WebhookMessage
}

// DeliveryOutcome is the result of one attempt to send a delivery.
type DeliveryOutcome struct {
	At         time.Time
	StatusCode int
	Err        string // transport error, empty when a response came
	Duration   time.Duration
	Response   string // the start of the response body
}

// OK reports whether the receiver accepted the delivery (any 2xx).
func (o *DeliveryOutcome) OK() bool { return o.Err == "" && o.StatusCode >= 200 && o.StatusCode < 300 }

func (o *DeliveryOutcome) failure() string {
	if o.Err != "" {
		return o.Err
	}
	return fmt.Sprintf("status %d", o.StatusCode)
}

// PendingDelivery returns what to send for a delivery, or nil when there
// is nothing to send (delivered already, or its endpoint disabled).
func (s *Service) PendingDelivery(ctx context.Context, id int64) (*Delivery, error) {
	return view(ctx, s, func(tx Tx) (*Delivery, error) {
		d, err := tx.WebhookDeliveryGet(ctx, 0, id, "")
		if err != nil || d.Status != DeliveryPending {
			return nil, err
		}
		ep, err := tx.WebhookEndpointGet(ctx, 0, d.EndpointID, "")
		if err != nil {
			return nil, err
		}
		msg, err := tx.WebhookMessageGet(ctx, d.MessageID)
		if err != nil {
			return nil, err
		}
		return &Delivery{Delivery: d, Endpoint: ep, Message: msg}, nil
	})
}

// FinishDeliveryAttempt records an attempt's outcome. On success the
// delivery is done and its endpoint's failures are forgotten. On failure
// the endpoint's run of failures grows: the delivery is retried after
// policy's backoff for that run, or marked failed once policy's attempts
// are used up; and once the run is long enough the breaker disables the
// endpoint and holds the delivery (see EnableWebhookEndpoint). When a
// delivery is done either way, the next in its endpoint's line is queued,
// after the backoff if it failed. out nil means the endpoint is disabled:
// the delivery is dropped as failed, or, if the breaker disabled it,
// held. finish is the queue's bookkeeping, called in the same
// transaction.
func (s *Service) FinishDeliveryAttempt(ctx context.Context, id int64, out *DeliveryOutcome, policy WebhookRetryPolicy, finish func(tx Tx) error) (*WebhookDelivery, error) {
	var d *WebhookDelivery
	err := s.store.Update(ctx, func(tx Tx) error {
		var err error
		if d, err = tx.WebhookDeliveryGet(ctx, 0, id, ""); err != nil {
			return err
		}
		if d.Status != DeliveryPending {
			return finish(tx)
		}
		ep, err := tx.WebhookEndpointGet(ctx, 0, d.EndpointID, "")
		if err != nil {
			return err
		}
		if out == nil && ep.held() {
			return finish(tx)
		}
		now := s.now()
		d.UpdatedAt, d.NextAt = now, nil
		var wait time.Duration // before the next attempt at this endpoint
		if out == nil {
			d.Status, d.LastError = DeliveryFailed, "endpoint disabled"
		} else {
			d.Attempts++
			d.LastStatus, d.LastError = out.StatusCode, out.Err
			if err := tx.WebhookAttemptAppend(ctx, &WebhookAttempt{DeliveryID: d.ID, At: out.At.UTC().Truncate(time.Microsecond),
				StatusCode: out.StatusCode, Error: out.Err, DurationMS: out.Duration.Milliseconds(), Response: out.Response}); err != nil {
				return err
			}
			if out.OK() {
				d.Status, d.DeliveredAt = DeliveryDelivered, &now
			} else if d.Attempts >= policy.MaxAttempts {
				d.Status = DeliveryFailed
			}
			if wait, err = s.endpointAttempted(ctx, tx, ep, out, policy, now); err != nil {
				return err
			}
			if d.Status == DeliveryPending && !ep.held() {
				next := now.Add(wait)
				d.NextAt = &next
			}
		}
		if err := tx.WebhookDeliveryUpdate(ctx, d); err != nil {
			return err
		}
		switch {
		case ep.held():
			// The breaker opened: the line waits, without a job, for
			// EnableWebhookEndpoint.
		case d.Status == DeliveryPending:
			if err := s.queue.EnqueueDelivery(ctx, tx, d.ID, *d.NextAt); err != nil {
				return err
			}
		default:
			next, err := tx.WebhookDeliveryNext(ctx, d.EndpointID, "", d.ID)
			if err != nil && ErrorCode(err) != CodeNotFound {
				return err
			}
			if next != nil {
				if err := s.queue.EnqueueDelivery(ctx, tx, next.ID, now.Add(wait)); err != nil {
					return err
				}
			}
		}
		return finish(tx)
	})
	return d, err
}

// endpointAttempted keeps ep's run of failures after an attempt at it,
// opens the breaker when the run is long enough, and returns how long the
// endpoint should rest before its next attempt.
func (s *Service) endpointAttempted(ctx context.Context, tx Tx, ep *WebhookEndpoint, out *DeliveryOutcome, policy WebhookRetryPolicy, now time.Time) (time.Duration, error) {
	if out.OK() {
		if ep.Failures == 0 && ep.DroppingSince == nil {
			return 0, nil
		}
		ep.Failures, ep.FailingSince, ep.LastError, ep.DroppingSince, ep.UpdatedAt = 0, nil, "", nil, now
		return 0, tx.WebhookEndpointUpdate(ctx, ep)
	}
	ep.Failures++
	if ep.FailingSince == nil {
		ep.FailingSince = &now
	}
	ep.LastError, ep.UpdatedAt = out.failure(), now
	wait := policy.Backoff(min(ep.Failures, 24)) // past 24 doublings every sane policy has reached its cap
	opens := ep.Status == WebhookActive && policy.BreakerFailures > 0 &&
		ep.Failures >= policy.BreakerFailures && now.Sub(*ep.FailingSince) >= policy.BreakerPeriod
	if !opens {
		return wait, tx.WebhookEndpointUpdate(ctx, ep)
	}
	before := *ep
	ep.Status, ep.DisabledReason, ep.DisabledAt = WebhookDisabled, DisabledFailing, &now
	if err := tx.WebhookEndpointUpdate(ctx, ep); err != nil {
		return 0, err
	}
	_, err := s.record(ctx, tx, Actor{OrgID: ep.OrgID, Interface: "webhooks"}, "webhook_endpoint.disabled", nil, &before, ep)
	return wait, err
}
