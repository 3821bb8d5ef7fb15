// Package sqlstore owns the SQL that implements membership.Tx. Both
// engines (store/sqlite and store/postgres) run this one implementation
// over a thin Conn adapter, so a query is written, reviewed and tuned once
// and the conformance suite exercises the same code on both.
//
// Queries use PostgreSQL's $N placeholders; the SQLite engine rewrites
// them to SQLite's identical ?N form. Times are stored as Unix
// microseconds in BIGINT columns, the precision both engines keep.
package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/memberd/memberd/membership"
)

// Conn is one open transaction of an engine's driver.
type Conn interface {
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// Rows is a driver's result set.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Row is a driver's single-row result.
type Row interface {
	Scan(dest ...any) error
}

// Dialect is what differs between engines.
type Dialect struct {
	// LockRows says SELECTs must lock the rows a change depends on
	// (FOR UPDATE). Engines whose write transactions are already
	// exclusive leave it false.
	LockRows bool
	// ModifyingCTE says the engine runs an UPDATE ... RETURNING inside
	// WITH and reads its rows (PostgreSQL), so that one statement can
	// change a member's rows and return a summary of them.
	ModifyingCTE bool
	// EventIDs, when set, is the expression that reserves one event id
	// (PostgreSQL's sequence): events are then written once, already
	// chained, when the transaction seals them, instead of inserted and
	// later updated with their chain fields, which on an indexed chain
	// column writes every index of the event a second time.
	EventIDs string
	// LastEventID, when set, is the query that reads the highest event id
	// ever used (SQLite's AUTOINCREMENT high-water mark). A transaction
	// then numbers its events on from it, one query per transaction, and
	// writes them once when sealing, as with EventIDs. It suits only an
	// engine whose writer holds the database's write lock for the whole
	// transaction, so that no other transaction numbers events meanwhile.
	LastEventID string
	// IDArrays says the engine takes a list of ids as one array argument
	// (PostgreSQL's bigint[]). A list of placeholders, one per id, is a
	// statement of its own for each length, and in the generic plan that
	// PostgreSQL settles on after a few runs of a prepared statement it is
	// an array built and searched one element at a time for every row the
	// scan visits (measured: the first 100 grants of a member's 200
	// groups, 28 ms against 2 ms with one array argument).
	IDArrays bool
	// ConfigVersions says the engine keeps a version of each
	// organization's removal policy and webhook endpoints, moved by
	// every change of them (PostgreSQL's config_versions), for a
	// ConfigCache.
	ConfigVersions bool
	// CountOnLock says the statement that locks a removal's member
	// (MemberGetActing) counts the member's active space memberships and
	// direct grants, up to one more than a report lists, and whether it
	// has an active booking, so that the UPDATEs of space memberships and
	// grants may be the plain ones that return every row (fewSpaces,
	// fewGrants) instead of picking the lowest ids first in a subquery,
	// whose ORDER BY on grants is a sort, and so that those of grants and
	// bookings are not run at all for a member that has none (most of
	// the bench's S2 members: one in ten has a direct grant, one in
	// twenty a booking). For SQLite's one writer, per removal in one
	// process, alternating blocks: the counts cost the locking read 1.0
	// µs, the plain UPDATEs save 2.0 (space memberships) and 1.8
	// (grants). PostgreSQL counts space memberships along with the event
	// id it reserves (EventIDs), and sends the UPDATEs in one round trip.
	CountOnLock bool
	// HoldFlags says members holds whether each member may have an active
	// direct grant and an active booking (PostgreSQL's holds_grants and
	// holds_bookings, set by triggers on every write of either, migration
	// 00023), which the statement that locks a removal's member reads from
	// the member's row, so that a removal skips the UPDATEs of grants and
	// bookings, each an index probe, for a member that has neither (one
	// page each from outside the caches at 10M members, S5). A flag never
	// says "none" while one exists; it may say "may have" when none does.
	HoldFlags bool
	// EmailOnMember says members holds a copy of its user's e-mail
	// address (PostgreSQL's members.email, written by a trigger whenever
	// a member's user_id is, migration 00023; users never change), which
	// a removal's statements read from the member's row they lock instead
	// of from users_id_email: one page fewer a removal, outside the
	// caches at 10M members (S5).
	EmailOnMember bool
	// MultiStatement says the engine runs several statements sent in one
	// Exec without arguments in one round trip (PostgreSQL's simple query
	// protocol): a savepoint's release then goes out with the next
	// savepoint, and a rollback to one with its release.
	MultiStatement bool
	// IsNoRows reports the driver's "no rows" error.
	IsNoRows func(error) bool
	// IsUniqueViolation reports a unique-constraint violation.
	IsUniqueViolation func(error) bool
}

// Tx implements membership.Tx over a Conn.
type Tx struct {
	c         Conn
	d         *Dialect
	savepoint int
	// pending are the events appended and not yet chained (EventSeal).
	pending []*membership.Event
	// removals are the removal log's rows kept and not yet written: a
	// Batcher writes them with the seal's first round trip (Seal).
	removals []pendingRemoval
	// eventID is an event id reserved ahead (Dialect.EventIDs) by the
	// statement that opened a removal, for the next EventAppend.
	eventID int64
	// lastEventID is the last event id this transaction numbered
	// (Dialect.LastEventID), 0 before its first event.
	lastEventID int64
	// cache, when set, keeps endpoints and policies across the writer's
	// transactions; cacheDirty says t changed some and must not fill it.
	cache      *WriterCache
	cacheDirty bool
	// release names the last savepoint whose fn succeeded, when its
	// release waits to go out with the next savepoint's statement
	// (Dialect.MultiStatement). Leaving it set is harmless: the commit,
	// or the release of or rollback to an enclosing savepoint, ends it.
	release string
	// configs, when set, keeps endpoints and policies across the
	// transactions of every engine's node at the version config names.
	configs *ConfigCache
	config  configRead
	// spaces is how many active space memberships the member that the
	// caller's removal locked had (MemberGetActing), when read; grants
	// and bookings likewise its direct grants and (up to 1) active
	// bookings (Dialect.CountOnLock), which the writes that add either
	// forget.
	spaces, grants, bookings spacesRead
}

// spacesRead is a member's count of active space memberships (or of
// direct grants, or bookings), read up to membership.DefaultReportLimit+1.
type spacesRead struct {
	member int64
	n      int
	ok     bool
}

// none says member's count was read and found none: the UPDATE that
// would end its rows of that kind changes nothing.
func (c spacesRead) none(member int64) bool {
	return c.ok && c.member == member && c.n == 0
}

var _ membership.Tx = (*Tx)(nil)

// NewTx wraps an engine's open transaction.
func NewTx(c Conn, d *Dialect) *Tx { return &Tx{c: c, d: d} }

// Conn returns the transaction's connection, for engine-specific work.
func (t *Tx) Conn() Conn {
	c := t.c
	for { // recording: the engine wants its own
		r, ok := c.(recConn)
		if !ok {
			return c
		}
		c = r.c
	}
}

func ts(t time.Time) int64 { return t.UnixMicro() }

func fromTS(v int64) time.Time { return time.UnixMicro(v).UTC() }

func nullTS(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

func fromNullTS(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromTS(v.Int64)
	return &t
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// notFound turns a driver's "no rows" into the core's CodeNotFound.
func (t *Tx) notFound(err error, what string) error {
	if err == nil {
		return nil
	}
	if t.d.IsNoRows(err) {
		return membership.Errorf(membership.CodeNotFound, "%s not found", what)
	}
	return err
}

func (t *Tx) conflict(err error, format string, args ...any) error {
	if err != nil && t.d.IsUniqueViolation(err) {
		return &membership.Error{Code: membership.CodeConflict, Message: fmt.Sprintf(format, args...), Err: err}
	}
	return err
}

// placeholders appends vals to args and returns their "$n, $m" list.
func placeholders[T any](args *[]any, vals []T) string {
	var b strings.Builder
	for i, v := range vals {
		if i > 0 {
			b.WriteString(", ")
		}
		*args = append(*args, v)
		b.WriteString(argName(len(*args)))
	}
	return b.String()
}

// argNames are $1 to $128, made once: the queries built per call
// take several each, every one an allocation inside SQLite's single
// writer when made anew.
var argNames = func() (names [129]string) {
	for n := 1; n < len(names); n++ {
		names[n] = "$" + strconv.Itoa(n)
	}
	return names
}()

// argName returns the placeholder of argument n, $n.
func argName(n int) string {
	if n > 0 && n < len(argNames) {
		return argNames[n]
	}
	return "$" + strconv.Itoa(n)
}

// inIDs is the condition that col is one of ids, a non-empty list.
func (t *Tx) inIDs(args *[]any, col string, ids []int64) string {
	if t.d.IDArrays {
		return col + " = ANY(" + arg(args, ids) + ")"
	}
	return col + " IN (" + placeholders(args, ids) + ")"
}

// arg appends v to args and returns its placeholder.
func arg(args *[]any, v any) string {
	*args = append(*args, v)
	return argName(len(*args))
}

// collect runs a query and scans every row with scan.
func collect[T any](ctx context.Context, t *Tx, scan func(Row) (*T, error), query string, args ...any) ([]*T, error) {
	rows, err := t.c.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out, err := scanAll(rows, scan)
	if err != nil {
		return nil, err
	}
	return out, rows.Err()
}

// scanAll scans every row of rows with scan; the caller closes rows and
// checks rows.Err.
func scanAll[T any](rows Rows, scan func(Row) (*T, error)) ([]*T, error) {
	out := []*T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Savepoint implements membership.Tx. Where the engine takes several
// statements in one round trip, one Exec releases the previous savepoint
// and sets the next: a batch's items then cost one round trip of
// savepoints each, not two.
func (t *Tx) Savepoint(ctx context.Context, fn func() error) error {
	t.savepoint++
	name := "sp" + strconv.Itoa(t.savepoint)
	q := "SAVEPOINT " + name
	if t.release != "" {
		q = "RELEASE SAVEPOINT " + t.release + "; " + q
		t.release = ""
	}
	if _, err := t.c.Exec(ctx, q); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	pending := t.mark()
	if err := fn(); err != nil {
		t.Discard(pending)
		t.release = "" // set inside this one, it goes with it
		if t.d.MultiStatement {
			if _, rerr := t.c.Exec(ctx, "ROLLBACK TO SAVEPOINT "+name+"; RELEASE SAVEPOINT "+name); rerr != nil {
				return errors.Join(err, fmt.Errorf("roll back to savepoint: %w", rerr))
			}
			return err
		}
		if _, rerr := t.c.Exec(ctx, "ROLLBACK TO SAVEPOINT "+name); rerr != nil {
			return errors.Join(err, fmt.Errorf("rollback to savepoint: %w", rerr))
		}
		if _, rerr := t.c.Exec(ctx, "RELEASE SAVEPOINT "+name); rerr != nil {
			return errors.Join(err, fmt.Errorf("release savepoint: %w", rerr))
		}
		return err
	}
	if t.d.MultiStatement {
		// Any savepoint still waiting was set inside this one and goes
		// with its release.
		t.release = name
		return nil
	}
	if _, err := t.c.Exec(ctx, "RELEASE SAVEPOINT "+name); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}

// Discard forgets the events appended and the removals kept since mark
// n, whose rows a rollback (to a savepoint) took away, so that they are
// neither chained nor written, and any event id reserved and not used
// since.
func (t *Tx) Discard(n int) {
	events, removals := n&markMask, n>>markShift
	t.pending = t.pending[:min(events, len(t.pending))]
	t.removals = t.removals[:min(removals, len(t.removals))]
	t.eventID = 0
}

// A mark holds how many events are pending in its low markShift bits and
// how many removals above them.
const (
	markShift = bits.UintSize / 2
	markMask  = 1<<markShift - 1
)

// mark is what Discard takes to forget whatever comes after now.
func (t *Tx) mark() int { return len(t.pending) | len(t.removals)<<markShift }

// CallStart begins one caller's work in a transaction that several share
// (group commit) and returns the mark Discard takes. It forgets an event
// id that an earlier caller reserved and did not use: reserved before
// this caller's locks, it would sort this caller's event before changes
// that committed ahead of it.
func (t *Tx) CallStart() int {
	t.eventID = 0
	// An earlier caller's savepoint waiting for its release went with
	// that caller's own savepoint.
	t.release = ""
	// Likewise a configuration version read by an earlier caller, maybe
	// before a change that this caller's request followed.
	t.config, t.spaces, t.grants, t.bookings = configRead{}, spacesRead{}, spacesRead{}, spacesRead{}
	return t.mark()
}

// Seal chains the transaction's appended events and writes the removals
// it kept; engines call it before every commit.
func (t *Tx) Seal(ctx context.Context) error {
	carry := t.removalWrites()
	if err := t.eventSeal(ctx, carry); err != nil {
		return fmt.Errorf("seal audit events: %w", err)
	}
	return nil
}

// refWhere addresses a row of table alias by ID or UUID within org $1.
func refWhere(args *[]any, p *membership.RefParams) (string, bool) {
	switch {
	case p.ID != 0:
		return "id = " + arg(args, p.ID), true
	case p.UUID != "":
		return "uuid = " + arg(args, strings.ToLower(p.UUID)), true
	}
	return "", false
}

func getByRef[T any](ctx context.Context, t *Tx, p *membership.RefParams, table, cols, what string, scan func(Row) (*T, error)) (*T, error) {
	args := []any{p.OrgID}
	where, ok := refWhere(&args, p)
	if !ok {
		return nil, membership.Errorf(membership.CodeNotFound, "%s not found", what)
	}
	q := `SELECT ` + cols + ` FROM ` + table + ` WHERE org_id = $1 AND ` + where
	if p.Lock && t.d.LockRows {
		q += " FOR UPDATE"
	}
	v, err := scan(t.c.QueryRow(ctx, q, args...))
	return v, t.notFound(err, what)
}

// deactivated marks a member's active rows of table (one scope's, when
// scopeID is set) removed in one UPDATE and returns them in id order as
// they were before it: asActive restores a row's active state, which
// every active row has alike, and returns its id.
func deactivated[T any](ctx context.Context, t *Tx, p *membership.DeactivateParams, table, removedAt, scopeCol string, scopeID int64,
	returning string, scan func(Row) (*T, error), asActive func(*T) int64) ([]*T, error) {
	var rows []*T
	if err := t.run(ctx, deactivatedStmt(p, table, removedAt, scopeCol, scopeID, returning, scan, asActive, &rows)); err != nil {
		return nil, err
	}
	return rows, nil
}

// deactivatedStmt is deactivated's statement, whose rows it leaves in out.
func deactivatedStmt[T any](p *membership.DeactivateParams, table, removedAt, scopeCol string, scopeID int64,
	returning string, scan func(Row) (*T, error), asActive func(*T) int64, out *[]*T) Queued {
	args := []any{ts(p.At), p.Cause}
	q := `UPDATE ` + table + ` SET status = 'removed', ` + removedAt + ` = $1, cause = $2 WHERE ` +
		deactivateWhere(&args, "", scopeCol, p, scopeID) + ` RETURNING ` + returning
	return Queued{Query: q, Args: args, Read: func(r Rows) error {
		rows, err := scanAll(r, scan)
		if err != nil {
			return err
		}
		*out = byActiveID(rows, asActive)
		return nil
	}}
}

// byActiveID restores rows' active state with asActive, once per row, and
// sorts them by the ids it returns. A slice of pairs, not a map of ids
// and sort.Slice's reflection: this runs for every removal's space and
// group memberships inside SQLite's single writer.
func byActiveID[T any](rows []*T, asActive func(*T) int64) []*T {
	if len(rows) < 2 {
		for _, r := range rows {
			asActive(r)
		}
		return rows
	}
	type keyed struct {
		id  int64
		row *T
	}
	byID := make([]keyed, len(rows))
	for i, r := range rows {
		byID[i] = keyed{asActive(r), r}
	}
	slices.SortFunc(byID, func(a, b keyed) int { return cmp.Compare(a.id, b.id) })
	for i, k := range byID {
		rows[i] = k.row
	}
	return rows
}

// deactivateWhere selects a member's active rows, optionally one scope's.
func deactivateWhere(args *[]any, alias, scopeCol string, p *membership.DeactivateParams, scopeID int64) string {
	w := alias + "org_id = " + arg(args, p.OrgID) + " AND " + alias + "member_id = " + arg(args, p.MemberID) + " AND " + alias + "status = 'active'"
	if scopeID != 0 {
		w += " AND " + alias + scopeCol + " = " + arg(args, scopeID)
	}
	return w
}
