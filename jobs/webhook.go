package jobs

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"

	"github.com/memberd/memberd/internal/netguard"
	"github.com/memberd/memberd/membership"
)

// DeliveryArgs is the job that makes one attempt at a webhook delivery.
type DeliveryArgs struct {
	Delivery int64 `json:"delivery"`
}

// Kind implements river.JobArgs.
func (DeliveryArgs) Kind() string { return "memberd_webhook_delivery" }

// Hooks implements river.JobArgsWithHooks.
func (DeliveryArgs) Hooks() []rivertype.Hook { return []rivertype.Hook{dueHook} }

type deliveryWorker[TTx any, TDriver riverdriver.Driver[TTx]] struct {
	river.WorkerDefaults[DeliveryArgs]
	e *engine[TTx, TDriver]
}

// maxResponseLog bounds how much of a receiver's answer the delivery log
// keeps: enough to see why it refused, too little to read a page through.
const maxResponseLog = 256

func (w *deliveryWorker[TTx, TDriver]) Work(ctx context.Context, job *river.Job[DeliveryArgs]) error {
	d, err := w.e.svc.PendingDelivery(ctx, job.Args.Delivery)
	if err != nil {
		return err
	}
	if d == nil {
		return nil // delivered or given up already: a repeated job
	}
	var out *membership.DeliveryOutcome
	if d.Endpoint.Status == membership.WebhookActive {
		out = w.send(ctx, d)
	}
	// An HTTP failure is the delivery's own business (recorded, retried on
	// the policy's schedule as a new job); only storage errors fail the job.
	_, err = w.e.svc.FinishDeliveryAttempt(ctx, d.Delivery.ID, out, w.e.cfg.Webhook, finisher(ctx, w.e, job))
	return err
}

func (w *deliveryWorker[TTx, TDriver]) send(ctx context.Context, d *membership.Delivery) *membership.DeliveryOutcome {
	start := time.Now()
	out := &membership.DeliveryOutcome{At: start}
	req, err := NewWebhookRequest(ctx, d.Endpoint.URL, d.Endpoint.Secret, d.Message.UUID, start, d.Message.Payload)
	if err != nil {
		out.Err = err.Error()
		return out
	}
	resp, err := w.e.cfg.HTTPClient.Do(req)
	out.Duration = time.Since(start)
	if netguard.IsNotAllowed(err) {
		// Nothing about the address or the port's state: last_error must
		// not tell a tenant what lies behind memberd.
		out.Err = netguard.ErrNotAllowed.Error()
		return out
	}
	if err != nil {
		out.Err = err.Error()
		return out
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseLog)) // the log keeps what arrived
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))    // let the connection be reused
	out.StatusCode = resp.StatusCode
	if utf8.Valid(body) {
		out.Response = string(body)
	}
	return out
}

// NewWebhookRequest builds a signed Standard Webhooks POST of body to url:
// webhook-id is the message id (the same on every retry, for receivers to
// deduplicate), webhook-timestamp the attempt's Unix time, and
// webhook-signature "v1," + base64(HMAC-SHA256(key, id.timestamp.body)),
// where key is the base64 part of the "whsec_" secret.
func NewWebhookRequest(ctx context.Context, url, secret, id string, at time.Time, body []byte) (*http.Request, error) {
	sig, err := SignWebhook(secret, id, at, body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "memberd-webhooks/1")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	return req, nil
}

func secretKey(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(key) == 0 {
		return nil, errors.New("webhook secret is not whsec_ followed by base64")
	}
	return key, nil
}

// SignWebhook returns the webhook-signature header value ("v1,<base64>")
// for message id sent at at with body.
func SignWebhook(secret, id string, at time.Time, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", id, at.Unix())
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// DefaultWebhookTolerance is how far a webhook's timestamp may be from the
// receiver's clock before VerifyWebhook refuses it as a possible replay.
const DefaultWebhookTolerance = 5 * time.Minute

// VerifyWebhook checks a received webhook the way a receiver should: the
// signature over webhook-id, webhook-timestamp and the raw body must match
// one of the space-separated signatures in webhook-signature, and the
// timestamp must be within tolerance of now.
func VerifyWebhook(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, stamp, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || stamp == "" || sigs == "" {
		return errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	}
	secs, err := strconv.ParseInt(stamp, 10, 64)
	if err != nil {
		return errors.New("webhook-timestamp is not a Unix time")
	}
	at := time.Unix(secs, 0)
	if math.Abs(float64(now.Sub(at))) > float64(tolerance) {
		return errors.New("webhook-timestamp is too far from now")
	}
	want, err := SignWebhook(secret, id, at, body)
	if err != nil {
		return err
	}
	for _, sig := range strings.Fields(sigs) {
		if subtle.ConstantTimeCompare([]byte(sig), []byte(want)) == 1 {
			return nil
		}
	}
	return errors.New("no webhook-signature matches")
}
