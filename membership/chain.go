package membership

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// The audit trail as evidence. Each organization's events form a hash
// chain: event n stores Seq n, the Hash of event n-1 as PrevHash, and the
// SHA-256 of its own canonical content (which includes PrevHash) as Hash.
// The store assigns Seq and the hashes when the writing transaction seals
// its events (Tx.EventSeal) just before its commit, after every other lock
// the change takes, so concurrent writers of one organization queue on its
// chain head only for the last moment of their transactions and never
// deadlock on it. A group commit seals once for all its callers. Events
// of no organization (requests refused before any credential was
// accepted) form one chain of their own, organization 0.
//
// Events written before the chain existed (migration 00008) keep no hash;
// VerifyChain counts them as an unchained prefix, and any such event
// after the first chained one is a break.

// Receipt identifies a change's audit event and its chain hash, so that a
// client can later prove the event is still in the chain, unchanged.
//
// The hash exists only once the store has sealed the transaction's events,
// just before its commit (a group commit seals all its callers' events at
// once), so a receipt is completed after the commit: the live answer from
// the event's row once committed (completeReceipts), a stored copy of the
// answer (idempotent replay, removal log, operation result), written before
// the seal with the event id alone, when it is read (storedReceipts).
type Receipt struct {
	EventID int64  `json:"event_id"`
	Hash    string `json:"hash,omitempty"`
}

// receiptOf returns the receipt of e, or nil if there is no event.
func receiptOf(e *Event) *Receipt {
	if e == nil {
		return nil
	}
	return &Receipt{EventID: e.ID, Hash: e.Hash}
}

// receipted is a result that carries receipts.
type receipted interface{ receipts() []*Receipt }

func (r *Report) receipts() []*Receipt {
	if r == nil || r.Receipt == nil {
		return nil
	}
	return []*Receipt{r.Receipt}
}

func (b *BatchResult) receipts() []*Receipt {
	var rs []*Receipt
	for _, it := range b.Items {
		if it.Receipt != nil {
			rs = append(rs, it.Receipt)
		}
	}
	return rs
}

// completeReceipts gives result's receipts the hashes of their events,
// read in tx; tx nil reads them in a transaction of their own, after the
// commit that sealed them. An interface that discards the report (Jicoo's
// 204, HighQ's per-id statuses) never shows a receipt, so nothing is read
// for it: after a commit that read was a read transaction per change, and
// for a HighQ batch one statement per id. After the commit (tx nil), a
// guarded call's removal kept its event (Guard.sealed, which mutate clears
// before each run of the call), whose hash the seal set in this process:
// its receipt reads nothing either.
func (s *Service) completeReceipts(ctx context.Context, tx Tx, result any) error {
	r, ok := result.(receipted)
	if !ok || reportDiscarded(ctx) {
		return nil
	}
	var sealed *Event
	if g := guardOf(ctx); g != nil && tx == nil {
		sealed = g.sealed
	}
	var open []*Receipt
	for _, rc := range r.receipts() {
		switch {
		case rc.Hash != "":
		case sealed != nil && sealed.ID == rc.EventID && sealed.Hash != "":
			// Sealed by the transaction that made this answer: each run
			// of a call records a new event, whose hash only the seal sets.
			rc.Hash = sealed.Hash
		default:
			open = append(open, rc)
		}
	}
	if len(open) == 0 {
		return nil
	}
	fill := func(tx Tx) error {
		for _, rc := range open {
			e, err := tx.EventGet(ctx, rc.EventID)
			if err != nil {
				return fmt.Errorf("complete receipt of event %d: %w", rc.EventID, err)
			}
			rc.Hash = e.Hash
		}
		return nil
	}
	if tx != nil {
		return fill(tx)
	}
	return s.store.View(ctx, fill)
}

// storedReceipt matches a receipt in a stored answer that was encoded
// before its event was sealed.
var storedReceipt = regexp.MustCompile(`"receipt":\{"event_id":([0-9]+)\}`)

// storedReceipts completes the receipts of a stored answer's JSON with
// their events' hashes, read in tx.
func storedReceipts(ctx context.Context, tx Tx, data []byte) ([]byte, error) {
	var err error
	out := storedReceipt.ReplaceAllFunc(data, func(m []byte) []byte {
		id, perr := strconv.ParseInt(string(storedReceipt.FindSubmatch(m)[1]), 10, 64)
		if perr != nil || err != nil {
			err = errors.Join(err, perr)
			return m
		}
		var e *Event
		if e, err = tx.EventGet(ctx, id); err != nil {
			return m
		}
		return append([]byte(`"receipt":`), canonicalJSON(receiptOf(e))...)
	})
	if err != nil {
		return nil, fmt.Errorf("complete stored receipts: %w", err)
	}
	return out, nil
}

// ChainHead is the last event of an organization's chain.
type ChainHead struct {
	OrgID int64
	Seq   int64
	Hash  string
}

// EventCanonical returns the canonical content EventHash hashes: the
// keys of appendCanonicalEvent, in its order, every key present, no
// whitespace, strings escaped as JSON with no HTML escaping, times as Unix
// microseconds, before and after as the JSON strings of their stored text
// (null when absent). The OpenAPI document's AuditEvent schema describes
// the same fields.
func EventCanonical(e *Event) []byte {
	return appendCanonicalEvent(nil, e)
}

func canonicalJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("encode canonical content: %v", err)) // plain structs always encode
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// EventHash is the hex SHA-256 of e's canonical content.
func EventHash(e *Event) string {
	var buf [1024]byte // most events fit: no allocation
	sum := sha256.Sum256(appendCanonicalEvent(buf[:0], e))
	var h [2 * sha256.Size]byte
	hex.Encode(h[:], sum[:])
	return string(h[:])
}

// ChainEvent links e after head: it sets e's Seq, PrevHash and Hash and
// advances head to e. Stores call it when they seal a transaction's events.
func ChainEvent(head *ChainHead, e *Event) {
	e.Seq, e.PrevHash = head.Seq+1, head.Hash
	e.Hash = EventHash(e)
	head.Seq, head.Hash = e.Seq, e.Hash
}

// Checkpoint is the signed record of a pruned prefix of an organization's
// chain: the last pruned event's Seq and Hash, so that the first event
// kept still links to something that can be checked.
type Checkpoint struct {
	OrgID     int64     `json:"organization_id"`
	Seq       int64     `json:"seq"`
	Hash      string    `json:"hash"`
	Before    time.Time `json:"before"`
	Pruned    int64     `json:"pruned"`
	CreatedAt time.Time `json:"created_at"`
	PublicKey []byte    `json:"public_key"`
	Signature []byte    `json:"signature"`
}

// signed is the content a checkpoint's signature covers.
func (c *Checkpoint) signed() []byte {
	return canonicalJSON(struct {
		V         int    `json:"v"`
		OrgID     int64  `json:"organization_id"`
		Seq       int64  `json:"seq"`
		Hash      string `json:"hash"`
		Before    int64  `json:"before"`
		Pruned    int64  `json:"pruned"`
		CreatedAt int64  `json:"created_at"`
	}{1, c.OrgID, c.Seq, c.Hash, c.Before.UnixMicro(), c.Pruned, c.CreatedAt.UnixMicro()})
}

// ChainBreak is the first place an organization's chain does not hold.
type ChainBreak struct {
	OrgID   int64  `json:"organization_id"`
	EventID int64  `json:"event_id,omitempty"`
	Seq     int64  `json:"seq,omitempty"`
	Reason  string `json:"reason"`
}

func (b *ChainBreak) Error() string {
	return fmt.Sprintf("organization %d: event %d (seq %d): %s", b.OrgID, b.EventID, b.Seq, b.Reason)
}

// ChainReport is what VerifyChain found for one organization.
type ChainReport struct {
	OrgID      int64       `json:"organization_id"`
	Events     int64       `json:"events"`
	Unchained  int64       `json:"unchained,omitempty"`
	Head       ChainHead   `json:"-"`
	Checkpoint *Checkpoint `json:"checkpoint,omitempty"`
	// KeyTrusted says the checkpoint was signed by one of the keys the
	// caller trusts; without trusted keys only its own key is checked.
	KeyTrusted bool        `json:"key_trusted,omitempty"`
	Break      *ChainBreak `json:"break,omitempty"`
}

// verifyPage is how many events VerifyChain reads per transaction.
const verifyPage = 1000

// VerifyChain re-walks organization orgID's chain (0: the events of no
// organization) from its checkpoint, if any, to its head, recomputing
// every hash. The report's Break names the first event that was edited,
// deleted, inserted or reordered; a nil Break means the chain holds.
// trusted, when given, are the public keys a checkpoint may be signed by.
func (s *Service) VerifyChain(ctx context.Context, orgID int64, trusted ...ed25519.PublicKey) (*ChainReport, error) {
	rep := &ChainReport{OrgID: orgID}
	brk := func(e *Event, format string, args ...any) (*ChainReport, error) {
		rep.Break = &ChainBreak{OrgID: orgID, Reason: fmt.Sprintf(format, args...)}
		if e != nil {
			rep.Break.EventID, rep.Break.Seq = e.ID, e.Seq
		}
		return rep, nil
	}
	var stray int64
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		if rep.Checkpoint, err = tx.EventCheckpointGet(ctx, orgID); err != nil && ErrorCode(err) != CodeNotFound {
			return err
		}
		h, err := tx.EventChainHead(ctx, orgID, false)
		if err != nil {
			return err
		}
		rep.Head = *h
		if rep.Unchained, stray, err = tx.EventUnchained(ctx, orgID); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read chain of organization %d: %w", orgID, err)
	}
	if stray != 0 {
		return brk(&Event{ID: stray}, "an event without a hash after the chain began (inserted, or its chain fields erased)")
	}
	expect := ChainHead{OrgID: orgID}
	if cp := rep.Checkpoint; cp != nil {
		if len(cp.PublicKey) != ed25519.PublicKeySize || !ed25519.Verify(cp.PublicKey, cp.signed(), cp.Signature) {
			return brk(nil, "the retention checkpoint's signature does not verify")
		}
		for _, k := range trusted {
			if bytes.Equal(k, cp.PublicKey) {
				rep.KeyTrusted = true
			}
		}
		if len(trusted) > 0 && !rep.KeyTrusted {
			return brk(nil, "the retention checkpoint is signed by a key that is not trusted")
		}
		expect.Seq, expect.Hash = cp.Seq, cp.Hash
	}
	for {
		var page []*Event
		if err := s.store.View(ctx, func(tx Tx) error {
			var err error
			page, err = tx.EventChainList(ctx, orgID, expect.Seq, verifyPage)
			return err
		}); err != nil {
			return nil, fmt.Errorf("read chain of organization %d: %w", orgID, err)
		}
		for _, e := range page {
			switch {
			case e.Seq > expect.Seq+1:
				return brk(e, "events %d to %d of the chain are missing (deleted)", expect.Seq+1, e.Seq-1)
			case e.Seq == expect.Seq:
				return brk(e, "a second event with seq %d (inserted)", e.Seq)
			case e.PrevHash != expect.Hash:
				return brk(e, "prev_hash does not match the previous event's hash (an event before it was replaced, or the events were reordered)")
			case EventHash(e) != e.Hash:
				return brk(e, "the content does not match its hash (edited)")
			}
			expect.Seq, expect.Hash = e.Seq, e.Hash
			rep.Events++
		}
		if len(page) < verifyPage {
			break
		}
	}
	if rep.Head.Seq != expect.Seq || rep.Head.Hash != expect.Hash {
		return brk(&Event{Seq: expect.Seq}, "the chain ends at seq %d but its head was at seq %d (events at the end deleted)", expect.Seq, rep.Head.Seq)
	}
	return rep, nil
}

// VerifyReceipt checks that the event a receipt names is in the store
// with the receipt's hash. Together with VerifyChain it proves the event
// is unchanged since the receipt was issued.
func (s *Service) VerifyReceipt(ctx context.Context, r Receipt) error {
	e, err := view(ctx, s, func(tx Tx) (*Event, error) { return tx.EventGet(ctx, r.EventID) })
	if ErrorCode(err) == CodeNotFound {
		return &ChainBreak{EventID: r.EventID, Reason: "the receipt's event is gone (deleted or pruned)"}
	}
	if err != nil {
		return fmt.Errorf("read event %d: %w", r.EventID, err)
	}
	if e.Hash != r.Hash {
		return &ChainBreak{OrgID: e.OrgID, EventID: e.ID, Seq: e.Seq, Reason: "the event's hash is not the receipt's"}
	}
	return nil
}

// ChainOrgs lists the organizations that have a chain (0 for the events
// of no organization).
func (s *Service) ChainOrgs(ctx context.Context) ([]int64, error) {
	return view(ctx, s, func(tx Tx) ([]int64, error) { return tx.EventChainOrgs(ctx) })
}

// PruneEvents deletes organization orgID's events older than before and
// keeps the chain verifiable: in the same transaction it stores a
// checkpoint with the last pruned event's seq and hash, signed with key,
// and records the prune as an event of the chain. Only a prefix of the
// chain is pruned: it stops at the first event at or after before.
func (s *Service) PruneEvents(ctx context.Context, orgID int64, before time.Time, key ed25519.PrivateKey) (*Checkpoint, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, errors.New("prune events: a signing key is required")
	}
	var cp *Checkpoint
	err := s.store.Update(ctx, func(tx Tx) error {
		// Lock the head first, so that no writer of the organization
		// chains an event while its prefix is cut.
		if _, err := tx.EventChainHead(ctx, orgID, true); err != nil {
			return err
		}
		last, n, err := tx.EventPrune(ctx, orgID, before.UTC().Truncate(time.Microsecond))
		if err != nil {
			return err
		}
		if last == nil {
			return nil // nothing to prune
		}
		cp = &Checkpoint{OrgID: orgID, Seq: last.Seq, Hash: last.Hash, Before: before.UTC().Truncate(time.Microsecond),
			Pruned: n, CreatedAt: s.now(), PublicKey: key.Public().(ed25519.PublicKey)}
		if old, err := tx.EventCheckpointGet(ctx, orgID); err == nil {
			cp.Pruned += old.Pruned
		} else if ErrorCode(err) != CodeNotFound {
			return err
		}
		cp.Signature = ed25519.Sign(key, cp.signed())
		if err := tx.EventCheckpointPut(ctx, cp); err != nil {
			return err
		}
		e := s.newEvent(Actor{OrgID: orgID, Interface: "cli"}, ActionEventsPruned, OutcomeOK)
		if e.After, err = json.Marshal(map[string]any{"through_seq": cp.Seq, "before": cp.Before, "pruned": n}); err != nil {
			return fmt.Errorf("encode event: %w", err)
		}
		return tx.EventAppend(ctx, e)
	})
	if err != nil {
		return nil, fmt.Errorf("prune events of organization %d: %w", orgID, err)
	}
	return cp, nil
}
