package membership

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/memberd/memberd/internal/netguard"
)

// Defaults for Config.
const (
	DefaultBatchLimit = 100
	DefaultListLimit  = 100
	MaxListLimit      = 1000
)

// Config holds the Service's optional settings.
type Config struct {
	// BatchLimit caps the items of one batch removal.
	BatchLimit int
	// KeepFutureBookings leaves a removed member's future bookings in
	// place; by default they are cancelled with the removal.
	KeepFutureBookings bool
	// Now is the clock; tests inject one.
	Now func() time.Time
	// Logger receives failures that cannot reach a client.
	Logger *slog.Logger
	// Queue runs operations and webhook deliveries later. Without one they
	// are refused with CodeUnavailable rather than accepted and never run.
	Queue Queue
	// WebhookGuard decides which webhook URLs may be registered; nil
	// refuses every special-purpose address (loopback, private, ...).
	WebhookGuard *netguard.Guard
	// WebhookMaxPending bounds one endpoint's pending deliveries; 0 is
	// DefaultWebhookMaxPending.
	WebhookMaxPending int
	// Observer, when set, is told the outcome of every change attempted.
	Observer Observer
	// AccessIndex is how many answered access checks the service keeps
	// to answer again while their organization's access epoch stands;
	// 0 is DefaultAccessIndex, negative turns the index off, and with
	// it the store's copy in memory (AccessMemory): every check then
	// reads the database.
	AccessIndex int
	// OffboardChunk is how many things one chunk of a background
	// offboarding removes, and how many items one chunk of a background
	// undo restores; 0 is DefaultOffboardChunk (offboarding) and 200 (undo).
	OffboardChunk int
}

// Observer is told how each attempted change ended, once its transaction
// has: action names the change as its audit event does ("member.remove",
// "batch.remove", ...), iface the interface it came through, outcome is
// "ok" or the Code it ended with, and refused says it was refused (and
// audited as such) rather than failed. Dry runs are not changes and are
// not reported. It lets the wiring count removals and
// refusals without the core importing a metrics library; it must not
// block.
type Observer interface {
	ChangeAttempted(action, iface, outcome string, refused bool)
}

// DefaultConfig returns the settings memberd runs with unless told otherwise.
func DefaultConfig() Config {
	return Config{BatchLimit: DefaultBatchLimit, Now: time.Now, Logger: slog.Default()}
}

// Service is the core: every adapter calls it, and it alone decides what a
// change means and whether the actor may make it.
type Service struct {
	store Store
	cfg   Config
	queue Queue // Config.Queue; nil without a job queue

	authRefusals authRefusals
	access       *accessIndex
	creds        *credentialCache
	memory       AccessMemory // nil: the store keeps no copy of access
}

// NewService returns a Service over store.
func NewService(store Store, cfg Config) *Service {
	if cfg.BatchLimit <= 0 {
		cfg.BatchLimit = DefaultBatchLimit
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	var memory AccessMemory
	if cfg.AccessIndex >= 0 { // off, every check reads the database
		memory, _ = store.(AccessMemory)
	}
	return &Service{store: store, cfg: cfg, queue: cfg.Queue, authRefusals: authRefusals{sources: map[refusalSource]*refusalCount{}},
		access: newAccessIndex(cfg.AccessIndex), creds: newCredentialCache(cfg.AccessIndex), memory: memory}
}

// Store returns the store the service runs on, for wiring jobs and tests.
func (s *Service) Store() Store { return s.store }

// BatchLimit is the most items one batch removal may name.
func (s *Service) BatchLimit() int { return s.cfg.BatchLimit }

// now is truncated to microseconds, the precision both engines keep, so a
// value read back equals the value written.
func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// Actor is who makes a call and through which interface; every event
// records it.
type Actor struct {
	OrgID        int64
	MemberID     int64
	CredentialID int64
	Scopes       []string
	Interface    string // "native", "scim", "wiggledesk", "highq", ...
	RequestID    string
	// AccessEpoch is the organization's access epoch when this request's
	// credential was authenticated (Principal.AccessEpoch), nil if not
	// read. A read made after the request arrived sees every change
	// acknowledged before it, so CheckAccess may answer at this epoch.
	// Never keep an Actor beyond its request with it set.
	AccessEpoch *int64
	// Member is the acting membership as authentication read it, so that
	// the call's transaction need not read it again; nil makes it read it.
	Member *Member `json:"-"`
	// Unconfirmed is set when the credential was not read for this
	// request (Principal.Unconfirmed): only CheckAccess and RemoveMember,
	// which confirm it in their own statement, accept such an actor, and
	// every other change refuses it.
	Unconfirmed *UnconfirmedCredential `json:"-"`
}

type idempotencyKey struct{}

type idempotency struct {
	key         string
	requestHash string
}

// WithIdempotency marks ctx's call as carrying an Idempotency-Key: the
// first call with the key stores its result in the same transaction as its
// change, a repeat with the same requestHash gets that result back with no
// second effect, and a repeat with another requestHash is refused.
func WithIdempotency(ctx context.Context, key, requestHash string) context.Context {
	return context.WithValue(ctx, idempotencyKey{}, idempotency{key: key, requestHash: requestHash})
}

// mutate runs fn in one transaction on behalf of a, applying the
// Idempotency-Key carried by ctx and auditing a refusal as a refused
// attempt. action names the attempt in that audit event.
func mutate[T any](ctx context.Context, s *Service, a Actor, action string, fn func(tx Tx) (T, error)) (T, error) {
	var result T
	if a.Unconfirmed != nil && !confirming(ctx) {
		// An adapter bug, not the client's: a deferred authentication
		// admits an access check and a single removal, nothing else.
		return result, errors.New("a change was asked with an unconfirmed credential")
	}
	idem, hasIdem := ctx.Value(idempotencyKey{}).(idempotency)
	hasIdem = hasIdem && a.CredentialID != 0
	replay := func(tx Tx) (bool, error) {
		rec, err := tx.IdempotencyGet(ctx, a.CredentialID, idem.key)
		if ErrorCode(err) == CodeNotFound {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if rec.RequestHash != idem.requestHash {
			return false, Errorf(CodeUnprocessable, "Idempotency-Key %q was already used with a different request", idem.key)
		}
		if err := replayedHeld(rec.Result); err != nil {
			return true, err
		}
		if err := json.Unmarshal(rec.Result, &result); err != nil {
			return true, err
		}
		return true, s.completeReceipts(ctx, tx, result)
	}
	if hasIdem {
		// A retry is answered from a read, without waiting for the writer
		// (SQLite's single connection, a group commit); the check in the
		// change's transaction below still decides between concurrent twins.
		var done bool
		verr := s.store.View(ctx, func(tx Tx) error {
			var rerr error
			done, rerr = replay(tx)
			return rerr
		})
		switch {
		case done && verr == nil:
			s.observe(action, a.Interface, "ok", false)
			return result, nil
		case ErrorCode(verr) == CodeUnprocessable:
			s.auditRefusal(ctx, a, action, verr)
			return result, verr
		}
	}
	guard := guardOf(ctx)
	err := s.store.Update(ctx, func(tx Tx) error {
		if guard != nil {
			// An event an earlier run recorded (and maybe sealed, in a
			// transaction that did not commit) is not this answer's.
			guard.sealed = nil
		}
		if hasIdem {
			if done, err := replay(tx); done || err != nil {
				return err
			}
		}
		r, err := fn(tx)
		if err != nil {
			return err
		}
		result = r
		if !hasIdem {
			return nil
		}
		var stored any = r
		if sec, ok := stored.(secretBearer); ok {
			stored = sec.withoutSecret()
		}
		data, err := json.Marshal(stored)
		if err != nil {
			return fmt.Errorf("encode idempotent result: %w", err)
		}
		return tx.IdempotencyPut(ctx, &IdempotencyRecord{
			CredentialID: a.CredentialID, Key: idem.key, RequestHash: idem.requestHash,
			Result: data, CreatedAt: s.now(),
		})
	})
	if err == nil {
		s.observe(action, a.Interface, "ok", false)
		if err := s.completeReceipts(ctx, nil, result); err != nil {
			// Committed: the change stands even if its receipt cannot be
			// read now; GET /api/v1/events has the event.
			s.cfg.Logger.WarnContext(ctx, "read receipt after commit", "error", err)
		}
		return result, nil
	}
	if hasIdem {
		// A concurrent twin may have committed first; answer with its result.
		var done bool
		if verr := s.store.View(ctx, func(tx Tx) error {
			var rerr error
			done, rerr = replay(tx)
			return rerr
		}); done && verr == nil {
			return result, nil
		} else if ErrorCode(verr) == CodeUnprocessable {
			s.auditRefusal(ctx, a, action, verr)
			return result, verr
		}
	}
	// A credential whose member was removed after the request was
	// authenticated is refused inside the transaction: audit that too.
	if isRefusal(err) || ErrorCode(err) == CodeUnauthorized {
		s.auditRefusal(ctx, a, action, err)
	} else {
		s.observe(action, a.Interface, string(ErrorCode(err)), false)
	}
	var zero T
	return zero, err
}

// secretBearer is a result holding a secret that must never be stored:
// its idempotency record keeps the result without it, so a replay says the
// secret was already shown instead of showing it again.
type secretBearer interface {
	withoutSecret() any
}

// view runs fn in a read-only transaction.
func view[T any](ctx context.Context, s *Service, fn func(tx Tx) (T, error)) (T, error) {
	var result T
	err := s.store.View(ctx, func(tx Tx) error {
		r, err := fn(tx)
		result = r
		return err
	})
	return result, err
}

// auditRefusal records a refused attempt in its own transaction, after the
// attempt's own transaction was rolled back, so that nothing of the attempt
// is kept but the record that it was made. The event names the target the
// request named (WithEventTarget), resolved within the actor's
// organization only.
func (s *Service) auditRefusal(ctx context.Context, a Actor, action string, cause error) {
	s.observe(ActionFor(action), a.Interface, string(ErrorCode(cause)), true)
	e := s.newEvent(a, ActionFor(action), OutcomeRefused)
	e.Message = ErrorMessage(cause)
	// The refusal has already been decided; a failure to record it must
	// not turn the client's answer into a 500, so it is logged instead.
	ctx = context.WithoutCancel(ctx)
	t, hasTarget := ctx.Value(targetKey{}).(EventTarget)
	if err := s.store.Update(ctx, func(tx Tx) error {
		if hasTarget {
			if err := s.resolveTarget(ctx, tx, a.OrgID, t, e); err != nil {
				return err
			}
		}
		return tx.EventAppend(ctx, e)
	}); err != nil {
		s.cfg.Logger.Error("audit refused attempt", "action", action, "err", err)
	}
}

// observe tells the Observer, if any, how a change ended.
func (s *Service) observe(action, iface, outcome string, refused bool) {
	if s.cfg.Observer != nil {
		s.cfg.Observer.ChangeAttempted(action, iface, outcome, refused)
	}
}

// refuse audits a refusal decided before the call's transaction began (a
// malformed request) and returns it, so that it is recorded like any other.
func (s *Service) refuse(ctx context.Context, a Actor, action string, err error) error {
	s.auditRefusal(ctx, a, action, err)
	return err
}

// AuditRefusedAuth records a request refused before any credential was
// accepted (no credential, a wrong, expired or revoked one). It costs no
// write per request: attempts are counted per client address and per
// credential they name, and written as at most one row per source and
// AuthRefusalWindow (see FlushAuthRefusals); attempts on an
// organization's real credential show in that organization's trail.
func (s *Service) AuditRefusedAuth(ctx context.Context, iface, requestID, credentialPrefix, reason string) {
	src := refusalSource{Interface: iface}
	if credentialPrefix != "" {
		if c, err := view(ctx, s, func(tx Tx) (*Credential, error) { return tx.CredentialGetByPrefix(ctx, credentialPrefix) }); err == nil {
			src.OrgID, src.CredentialID = c.OrgID, c.ID
		}
	}
	s.refuseAuth(ctx, src, requestID, reason)
}

// AuditRefused records a request that an adapter refused before it reached
// a core call (a missing scope, a malformed body). action is one of the
// Action names (a legacy name or native operation id is translated by
// ActionFor); the target comes from WithEventTarget on ctx.
func (s *Service) AuditRefused(ctx context.Context, a Actor, action string, cause error) {
	s.auditRefusal(ctx, a, action, cause)
}

func (s *Service) newEvent(a Actor, action, outcome string) *Event {
	return &Event{
		UUID: NewUUID(), OrgID: a.OrgID, At: s.now(), ActorMemberID: a.MemberID,
		CredentialID: a.CredentialID, Interface: a.Interface, RequestID: a.RequestID,
		Action: action, Outcome: outcome,
	}
}

// record appends the event of a change in the change's own transaction.
func (s *Service) record(ctx context.Context, tx Tx, a Actor, action string, target *Member, before, after any) (*Event, error) {
	e := s.newEvent(a, action, OutcomeOK)
	if target != nil {
		e.TargetType, e.TargetID, e.TargetMemberID = "member", target.ID, target.ID
	}
	var err error
	if before != nil {
		if e.Before, err = eventJSON(before); err != nil {
			return nil, fmt.Errorf("encode event: %w", err)
		}
	}
	if after != nil {
		if e.After, err = eventJSON(after); err != nil {
			return nil, fmt.Errorf("encode event: %w", err)
		}
	}
	if err := tx.EventAppend(ctx, e); err != nil {
		return nil, fmt.Errorf("append event %s: %w", action, err)
	}
	if err := s.publish(ctx, tx, e); err != nil {
		return nil, fmt.Errorf("publish event %s: %w", action, err)
	}
	return e, nil
}

// NewUUID returns a random (version 4) UUID.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return formatUUID(b, 0x40)
}

// NewTimeUUID returns a time-ordered (version 7, RFC 9562) UUID: the
// time in milliseconds, then 74 random bits. Rows keyed by it are added
// at the right edge of their unique index, next to the previous one,
// instead of dirtying a page at random: a removal receipt's random uuid
// cost each removal one more page of the single SQLite writer's commit
// once 15,000 receipts were stored (issue 16).
func NewTimeUUID(now time.Time) string {
	var b [16]byte
	_, _ = rand.Read(b[6:])
	ms := uint64(now.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	return formatUUID(b, 0x70)
}

// formatUUID sets b's version and RFC 9562 variant and formats it
// (uuid.UUID.String encodes by hand: fmt's reflection cost every change's
// event and removal receipt a measurable part of SQLite's single writer).
func formatUUID(b [16]byte, version byte) string {
	b[6] = b[6]&0x0f | version
	b[8] = b[8]&0x3f | 0x80
	return uuid.UUID(b).String()
}
