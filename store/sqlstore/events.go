package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/memberd/memberd/membership"
)

const eventCols = `id, uuid, org_id, at, actor_member_id, credential_id, interface, request_id, action, outcome,
	target_type, target_id, target_member_id, target_ref, message, before_state, after_state, seq, prev_hash, hash`

func scanEvent(r Row) (*membership.Event, error) {
	var e membership.Event
	var org, actor, cred, targetID, targetMember, seq sql.NullInt64
	var requestID, targetType, targetRef, message, before, after, prev, hash sql.NullString
	var at int64
	if err := r.Scan(&e.ID, &e.UUID, &org, &at, &actor, &cred, &e.Interface, &requestID, &e.Action, &e.Outcome,
		&targetType, &targetID, &targetMember, &targetRef, &message, &before, &after, &seq, &prev, &hash); err != nil {
		return nil, err
	}
	e.OrgID, e.At, e.ActorMemberID, e.CredentialID = org.Int64, fromTS(at), actor.Int64, cred.Int64
	e.RequestID, e.TargetType, e.TargetID, e.TargetMemberID, e.Message = requestID.String, targetType.String, targetID.Int64, targetMember.Int64, message.String
	e.TargetRef, e.Seq, e.PrevHash, e.Hash = targetRef.String, seq.Int64, prev.String, hash.String
	if before.Valid {
		e.Before = []byte(before.String)
	}
	if after.Valid {
		e.After = []byte(after.String)
	}
	return &e, nil
}

func nullText(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// EventAppend implements membership.Tx. The event is chained when the
// transaction seals its events (EventSeal), which every commit does; an
// engine that reserves event ids (Dialect.EventIDs, LastEventID) writes
// its row then.
func (t *Tx) EventAppend(ctx context.Context, e *membership.Event) error {
	e.Seq, e.PrevHash, e.Hash = 0, "", ""
	if t.reservesEventIDs() {
		if e.ID, t.eventID = t.eventID, 0; e.ID == 0 {
			if err := t.reserveEventID(ctx, e); err != nil {
				return fmt.Errorf("reserve event id: %w", err)
			}
		}
		t.pending = append(t.pending, e)
		return nil
	}
	err := t.c.QueryRow(ctx, `INSERT INTO events (uuid, org_id, at, actor_member_id, credential_id, interface, request_id,
		action, outcome, target_type, target_id, target_member_id, target_ref, message, before_state, after_state)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id`,
		e.UUID, nullID(e.OrgID), ts(e.At), nullID(e.ActorMemberID), nullID(e.CredentialID), e.Interface, nullString(e.RequestID),
		e.Action, e.Outcome, nullString(e.TargetType), nullID(e.TargetID), nullID(e.TargetMemberID), nullString(e.TargetRef),
		nullString(e.Message), nullText(e.Before), nullText(e.After)).Scan(&e.ID)
	if err != nil {
		return err
	}
	t.pending = append(t.pending, e)
	return nil
}

// reservesEventIDs reports whether events get their ids when appended
// and are written once, chained, when sealed.
func (t *Tx) reservesEventIDs() bool { return t.d.EventIDs != "" || t.d.LastEventID != "" }

// reserveEventID gives e the engine's next event id. With LastEventID,
// ids a rolled-back savepoint took are not handed out again; those of a
// rolled-back transaction are, by the next, since none was ever written.
func (t *Tx) reserveEventID(ctx context.Context, e *membership.Event) error {
	if t.d.EventIDs != "" {
		return t.c.QueryRow(ctx, `SELECT `+t.d.EventIDs).Scan(&e.ID)
	}
	if t.lastEventID == 0 {
		if err := t.c.QueryRow(ctx, t.d.LastEventID).Scan(&t.lastEventID); err != nil {
			return err
		}
	}
	t.lastEventID++
	e.ID = t.lastEventID
	return nil
}

// EventSeal implements membership.Tx. Organizations are sealed in id
// order, so two transactions holding events of the same organizations
// lock their heads in the same order. A group commit seals once for all
// its callers (Group), so each organization's head is locked, read and
// advanced once per group and its events are written in a few statements.
func (t *Tx) EventSeal(ctx context.Context) error { return t.eventSeal(ctx, nil) }

// eventSeal is EventSeal that also runs carry, statements whose results
// nothing waits for, before the first chain head is locked: on a Batcher
// in the same round trip.
func (t *Tx) eventSeal(ctx context.Context, carry []Queued) error {
	if len(t.pending) == 0 {
		return t.run(ctx, carry...)
	}
	pending := t.pending
	orgs := make([]int64, 0, 1)
	for _, e := range pending {
		orgs = append(orgs, e.OrgID)
	}
	slices.Sort(orgs)
	for _, org := range slices.Compact(orgs) {
		head, err := t.lockChainHead(ctx, org, carry)
		if err != nil {
			return err
		}
		carry = nil
		var chained []*membership.Event
		for _, e := range pending {
			if e.OrgID == org {
				membership.ChainEvent(head, e)
				chained = append(chained, e)
			}
		}
		if t.reservesEventIDs() {
			if err := t.insertChained(ctx, chained, head); err != nil {
				return err
			}
			continue
		}
		if err := t.writeChained(ctx, chained); err != nil {
			return err
		}
		if _, err := t.c.Exec(ctx, advanceHead, head.Seq, head.Hash, org); err != nil {
			return fmt.Errorf("advance chain head: %w", err)
		}
	}
	t.pending = t.pending[:0]
	return nil
}

// lockChainHead locks and reads org's chain head after running carry,
// in one batch where the connection sends statements together.
func (t *Tx) lockChainHead(ctx context.Context, org int64, carry []Queued) (*membership.ChainHead, error) {
	if _, ok := t.Conn().(Batcher); ok && len(carry) > 0 && t.d.LockRows {
		head := &membership.ChainHead{OrgID: org}
		found := false
		lock := Queued{Query: chainHeadLock, Args: []any{org}, Read: func(r Rows) error {
			if !r.Next() {
				return nil
			}
			found = true
			return r.Scan(&head.Seq, &head.Hash)
		}}
		if err := t.run(ctx, append(carry, lock)...); err != nil {
			return nil, fmt.Errorf("lock chain head: %w", err)
		}
		if found {
			return head, nil
		}
	} else if err := t.run(ctx, carry...); err != nil {
		return nil, err
	}
	head, err := t.EventChainHead(ctx, org, true)
	if err != nil {
		return nil, fmt.Errorf("lock chain head: %w", err)
	}
	return head, nil
}

const advanceHead = `UPDATE event_chain_heads SET seq = $1, hash = $2 WHERE org_id = $3`

// insertChained writes events, chained, in as few statements as possible
// (chunked), and advances their organization's chain head to head: on an
// engine with modifying CTEs in the statement that writes the last rows,
// so that sealing a group of one is two round trips (lock the head, write).
func (t *Tx) insertChained(ctx context.Context, events []*membership.Event, head *membership.ChainHead) error {
	return chunked(events, func(chunk []*membership.Event, last bool) error {
		cte := last && t.d.ModifyingCTE
		args := make([]any, 0, chainedCols*len(chunk)+3)
		for _, e := range chunk {
			args = append(args, e.ID, e.UUID, nullID(e.OrgID), ts(e.At), nullID(e.ActorMemberID),
				nullID(e.CredentialID), e.Interface, nullString(e.RequestID), e.Action, e.Outcome, nullString(e.TargetType),
				nullID(e.TargetID), nullID(e.TargetMemberID), nullString(e.TargetRef), nullString(e.Message), nullText(e.Before),
				nullText(e.After), e.Seq, nullString(e.PrevHash), e.Hash)
		}
		if cte {
			args = append(args, head.Seq, head.Hash, head.OrgID)
		}
		if _, err := t.c.Exec(ctx, chainedInsert(len(chunk), cte), args...); err != nil {
			return fmt.Errorf("write chained events %d to %d: %w", chunk[0].ID, chunk[len(chunk)-1].ID, err)
		}
		if last && !t.d.ModifyingCTE {
			if _, err := t.c.Exec(ctx, advanceHead, head.Seq, head.Hash, head.OrgID); err != nil {
				return fmt.Errorf("advance chain head: %w", err)
			}
		}
		return nil
	})
}

// chainedCols is how many arguments insertChained passes per event.
const chainedCols = 20

// chainedInserts are insertChained's statements, built once per shape: a
// statement's text depends only on its number of rows (a power of two,
// see chunked) and whether it advances the head too, and building it
// anew on every seal cost SQLite's single writer its time.
var chainedInserts [2][maxChainedShift + 1]struct {
	once sync.Once
	q    string
}

// maxChainedShift is log2(maxChainedRows).
const maxChainedShift = 6

// chainedInsert returns insertChained's statement for rows events (a
// power of two up to maxChainedRows); with cte, it also advances the
// head, whose seq, hash and organization follow the events' arguments.
func chainedInsert(rows int, cte bool) string {
	c := 0
	if cte {
		c = 1
	}
	s := &chainedInserts[c][bits.TrailingZeros(uint(rows))]
	s.once.Do(func() {
		q := `INSERT INTO events (id, uuid, org_id, at, actor_member_id, credential_id, interface, request_id,
			action, outcome, target_type, target_id, target_member_id, target_ref, message, before_state, after_state,
			seq, prev_hash, hash) VALUES ` + valueRows(rows, chainedCols)
		if cte {
			n := rows * chainedCols
			q = `WITH chained AS (` + q + `) UPDATE event_chain_heads SET seq = $` + strconv.Itoa(n+1) +
				`, hash = $` + strconv.Itoa(n+2) + ` WHERE org_id = $` + strconv.Itoa(n+3)
		}
		s.q = q
	})
	return s.q
}

// maxChainedRows is the most events one statement of writeChained or
// insertChained writes.
const maxChainedRows = 1 << maxChainedShift

// chunked hands fn rows (events, removals) in chunks of a power-of-two
// size, largest first, so that the statements a cache prepares for them
// are a handful of shapes, not one per group size; last marks the final
// chunk.
func chunked[T any](rows []T, fn func(chunk []T, last bool) error) error {
	for len(rows) > 0 {
		n := maxChainedRows
		for n > len(rows) {
			n /= 2
		}
		if err := fn(rows[:n], n == len(rows)); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// writeChained stores the chain fields of events, as few statements as
// possible (chunked).
func (t *Tx) writeChained(ctx context.Context, events []*membership.Event) error {
	return chunked(events, func(chunk []*membership.Event, _ bool) error {
		n := len(chunk)
		args := make([]any, 0, 4*n)
		var rows strings.Builder
		for i, e := range chunk {
			if i > 0 {
				rows.WriteString(", ")
			}
			// Typed, so that PostgreSQL knows the VALUES columns' types.
			rows.WriteString("(CAST(" + arg(&args, e.ID) + " AS BIGINT), CAST(" + arg(&args, e.Seq) + " AS BIGINT), CAST(" +
				arg(&args, nullString(e.PrevHash)) + " AS TEXT), CAST(" + arg(&args, e.Hash) + " AS TEXT))")
		}
		got, err := t.c.Exec(ctx, `UPDATE events SET seq = v.column2, prev_hash = v.column3, hash = v.column4
			FROM (VALUES `+rows.String()+`) AS v WHERE events.id = v.column1`, args...)
		if err != nil {
			return fmt.Errorf("chain events %d to %d: %w", chunk[0].ID, chunk[n-1].ID, err)
		}
		if got != int64(n) {
			return fmt.Errorf("chain events %d to %d: %d rows, want %d", chunk[0].ID, chunk[n-1].ID, got, n)
		}
		return nil
	})
}

const (
	chainHead     = `SELECT seq, hash FROM event_chain_heads WHERE org_id = $1`
	chainHeadLock = chainHead + ` FOR UPDATE`
)

// EventChainHead implements membership.Tx.
func (t *Tx) EventChainHead(ctx context.Context, orgID int64, lock bool) (*membership.ChainHead, error) {
	q := chainHead
	if lock && t.d.LockRows {
		q = chainHeadLock
	}
	h := &membership.ChainHead{OrgID: orgID}
	err := t.c.QueryRow(ctx, q, orgID).Scan(&h.Seq, &h.Hash)
	if err == nil || !t.d.IsNoRows(err) {
		return h, err
	}
	if !lock {
		return h, nil
	}
	if _, err := t.c.Exec(ctx, `INSERT INTO event_chain_heads (org_id, seq, hash) VALUES ($1, 0, '') ON CONFLICT (org_id) DO NOTHING`, orgID); err != nil {
		return nil, err
	}
	return h, t.c.QueryRow(ctx, q, orgID).Scan(&h.Seq, &h.Hash)
}

// orgIs matches the events of chain orgID: organization 0 is the events
// of no organization.
func orgIs(args *[]any, orgID int64) string {
	if orgID == 0 {
		return "org_id IS NULL"
	}
	return "org_id = " + arg(args, orgID)
}

// EventChainList implements membership.Tx.
func (t *Tx) EventChainList(ctx context.Context, orgID, afterSeq int64, limit int) ([]*membership.Event, error) {
	args := []any{}
	q := `SELECT ` + eventCols + ` FROM events WHERE ` + orgIs(&args, orgID) + ` AND seq > ` + arg(&args, afterSeq) +
		` ORDER BY seq LIMIT ` + arg(&args, max(limit, 1))
	return collect(ctx, t, scanEvent, q, args...)
}

// EventChainOrgs implements membership.Tx.
func (t *Tx) EventChainOrgs(ctx context.Context) ([]int64, error) {
	rows, err := t.c.Query(ctx, `SELECT org_id FROM event_chain_heads ORDER BY org_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var orgs []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		orgs = append(orgs, id)
	}
	return orgs, rows.Err()
}

// EventUnchained implements membership.Tx.
func (t *Tx) EventUnchained(ctx context.Context, orgID int64) (count, stray int64, err error) {
	args := []any{}
	where := orgIs(&args, orgID)
	if err := t.c.QueryRow(ctx, `SELECT COUNT(*) FROM events WHERE `+where+` AND seq IS NULL`, args...).Scan(&count); err != nil {
		return 0, 0, err
	}
	if count == 0 {
		return 0, 0, nil
	}
	var id sql.NullInt64
	err = t.c.QueryRow(ctx, `SELECT MIN(id) FROM events WHERE `+where+` AND seq IS NULL AND id >
		(SELECT COALESCE(MIN(id), 0) FROM events WHERE `+where+` AND seq IS NOT NULL)
		AND EXISTS (SELECT 1 FROM events WHERE `+where+` AND seq IS NOT NULL)`, args...).Scan(&id)
	return count, id.Int64, err
}

// EventGet implements membership.Tx.
func (t *Tx) EventGet(ctx context.Context, id int64) (*membership.Event, error) {
	e, err := scanEvent(t.c.QueryRow(ctx, `SELECT `+eventCols+` FROM events WHERE id = $1`, id))
	return e, t.notFound(err, "event")
}

// EventPrune implements membership.Tx.
func (t *Tx) EventPrune(ctx context.Context, orgID int64, before time.Time) (*membership.Event, int64, error) {
	args := []any{}
	where := orgIs(&args, orgID)
	// The prefix ends before the first chained event that is not older
	// than before, or at the head if there is none.
	var stop sql.NullInt64
	if err := t.c.QueryRow(ctx, `SELECT MIN(seq) FROM events WHERE `+where+` AND seq IS NOT NULL AND at >= `+arg(&args, ts(before)), args...).Scan(&stop); err != nil {
		return nil, 0, err
	}
	args = args[:len(args)-1]
	var last *membership.Event
	var err error
	if stop.Valid {
		last, err = scanEvent(t.c.QueryRow(ctx, `SELECT `+eventCols+` FROM events WHERE `+where+` AND seq = `+arg(&args, stop.Int64-1), args...))
	} else {
		last, err = scanEvent(t.c.QueryRow(ctx, `SELECT `+eventCols+` FROM events WHERE `+where+` AND seq IS NOT NULL ORDER BY seq DESC LIMIT 1`, args...))
	}
	if err != nil && t.d.IsNoRows(err) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	args = []any{}
	where = orgIs(&args, orgID)
	n, err := t.c.Exec(ctx, `DELETE FROM events WHERE `+where+` AND (seq <= `+arg(&args, last.Seq)+
		` OR (seq IS NULL AND id <= `+arg(&args, last.ID)+`))`, args...)
	return last, n, err
}

// EventCheckpointGet implements membership.Tx.
func (t *Tx) EventCheckpointGet(ctx context.Context, orgID int64) (*membership.Checkpoint, error) {
	cp := &membership.Checkpoint{OrgID: orgID}
	var before, created int64
	err := t.c.QueryRow(ctx, `SELECT seq, hash, before_at, pruned, created_at, public_key, signature
		FROM event_checkpoints WHERE org_id = $1`, orgID).Scan(&cp.Seq, &cp.Hash, &before, &cp.Pruned, &created, &cp.PublicKey, &cp.Signature)
	if err != nil {
		return nil, t.notFound(err, "checkpoint")
	}
	cp.Before, cp.CreatedAt = fromTS(before), fromTS(created)
	return cp, nil
}

// EventCheckpointPut implements membership.Tx.
func (t *Tx) EventCheckpointPut(ctx context.Context, cp *membership.Checkpoint) error {
	if _, err := t.c.Exec(ctx, `DELETE FROM event_checkpoints WHERE org_id = $1`, cp.OrgID); err != nil {
		return err
	}
	_, err := t.c.Exec(ctx, `INSERT INTO event_checkpoints (org_id, seq, hash, before_at, pruned, created_at, public_key, signature)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, cp.OrgID, cp.Seq, cp.Hash, ts(cp.Before), cp.Pruned, ts(cp.CreatedAt), cp.PublicKey, cp.Signature)
	return err
}

// EventList implements membership.Tx.
func (t *Tx) EventList(ctx context.Context, p *membership.EventListParams) ([]*membership.Event, error) {
	args := []any{p.OrgID}
	var member string
	if p.MemberID != 0 {
		member = arg(&args, p.MemberID)
	}
	var where string // every filter but the member, and the cursor
	if p.ActorID != 0 {
		where += " AND actor_member_id = " + arg(&args, p.ActorID)
	}
	if p.Action != "" {
		// Events keep the action name they were hashed with, so an older
		// name of the action is matched too.
		names := membership.ActionNames(p.Action)
		if len(names) == 1 {
			where += " AND action = " + arg(&args, names[0])
		} else {
			ph := make([]string, len(names))
			for i, n := range names {
				ph[i] = arg(&args, n)
			}
			where += " AND action IN (" + strings.Join(ph, ", ") + ")"
		}
	}
	for _, f := range [...]struct{ col, v string }{{"outcome", p.Outcome}, {"interface", p.Interface}, {"request_id", p.RequestID}} {
		if f.v != "" {
			where += " AND " + f.col + " = " + arg(&args, f.v)
		}
	}
	if !p.Since.IsZero() {
		where += " AND at >= " + arg(&args, ts(p.Since))
	}
	if !p.Until.IsZero() {
		where += " AND at < " + arg(&args, ts(p.Until))
	}
	order := " ORDER BY id DESC"
	if p.Ascending {
		where += " AND id > " + arg(&args, p.AfterID)
		order = " ORDER BY id"
	} else if p.BeforeID != 0 {
		where += " AND id < " + arg(&args, p.BeforeID)
	}
	page := order + " LIMIT " + arg(&args, max(p.Limit, 1))
	if member == "" {
		return collect(ctx, t, scanEvent, `SELECT `+eventCols+` FROM events WHERE org_id = $1`+where+page, args...)
	}
	// Events about or by a member: one keyset page from each member
	// index, the page of the two kept. As one OR, PostgreSQL can walk
	// neither index in id order and read 340,000 rows of a 10M-event
	// trail for one page (78 ms, docs/reliability.md).
	side := func(col string) string {
		return `SELECT id FROM (SELECT id FROM events WHERE org_id = $1 AND ` + col + ` = ` + member + where + page + `) AS ` + col
	}
	return collect(ctx, t, scanEvent, `SELECT `+eventCols+` FROM events WHERE id IN (`+side("target_member_id")+
		` UNION ALL `+side("actor_member_id")+`)`+page, args...)
}

// valueRows is the VALUES list of a multi-row INSERT: rows rows of cols
// arguments each, numbered from $1.
func valueRows(rows, cols int) string {
	var b strings.Builder
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(")
		for j := range cols {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(argName(i*cols + j + 1))
		}
		b.WriteString(")")
	}
	return b.String()
}
