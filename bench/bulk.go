package bench

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlite"
	"github.com/memberd/memberd/store/sqlstore"
)

// bulkTable is the rows of one table in column order, made one at a time
// as the writer asks for them, so that a loading transaction of a million
// members never holds its rows in memory.
type bulkTable struct {
	name string
	cols []string
	n    int
	// row fills dst (len(cols) long) with row k, 0 <= k < n.
	row func(k int, dst []any)
}

// Loading through the store's Tx methods costs a dozen statements per
// member, each parsed and (on PostgreSQL) a network round trip: about an
// hour for 1M members on PostgreSQL. So the harness loads the first
// TxMembers regular members through the Tx methods and every later one as
// the same rows written in bulk (multi-row INSERT on SQLite, COPY on
// PostgreSQL). Check compares a member of each kind through the core, so
// the two cannot drift apart unnoticed.

// TxMembers is how many regular members Grow loads through the Tx methods
// before it switches to bulk loading.
const TxMembers = 2000

// bulkRows returns the rows regular members from..to-1 consist of, exactly
// as the Tx methods would write them, with ids following the tables'
// current maxima (read through c, inside the loading transaction). With
// triggered, members' rows carry what PostgreSQL's triggers would write
// into them and loading skips (migration 00023): the flags of their
// grants and bookings, and their e-mail address.
func (d *Dataset) bulkRows(ctx context.Context, c sqlstore.Conn, from, to int, now time.Time, triggered bool) ([]bulkTable, error) {
	sh, seed, org, owner := d.Shape, d.Shape.Seed, d.OrgID, d.OwnerID
	next := map[string]int64{}
	for _, t := range []string{"users", "members", "member_periods", "space_members", "space_member_roles", "group_members", "grants", "bookings"} {
		var n int64
		if err := c.QueryRow(ctx, `SELECT COALESCE(MAX(id), 0) + 1 FROM `+t).Scan(&n); err != nil {
			return nil, fmt.Errorf("next id of %s: %w", t, err)
		}
		next[t] = n
	}
	if next["members"] != d.MemberID(from) {
		return nil, fmt.Errorf("next member id is %d, want %d: the database was changed outside the bench", next["members"], d.MemberID(from))
	}
	ts := now.UnixMicro()
	n := to - from
	// Every table's ids run on from its maximum in member order, so row k
	// of a table is a pure function of k: members i = from+k, two space
	// memberships (the site, then the member's space) per member, and the
	// grants and bookings of every DirectEvery-th and BookingEvery-th one.
	uid, mid, pid, smid, rid, gmid := next["users"], next["members"], next["member_periods"], next["space_members"], next["space_member_roles"], next["group_members"]
	every := func(e int) (first, count int) {
		if e <= 0 {
			return 0, 0
		}
		first = (from + e - 1) / e * e
		if first >= to {
			return first, 0
		}
		return first, (to-1-first)/e + 1
	}
	firstGrant, grantCount := every(sh.DirectEvery)
	firstBooking, bookingCount := every(sh.BookingEvery)
	members := bulkTable{name: "members", cols: []string{"id", "uuid", "org_id", "user_id", "name", "role", "status", "added_by", "created_at", "updated_at"}, n: n, row: func(k int, r []any) {
		i := from + k
		r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9] = mid+int64(k), d.MemberUUID(i), org, uid+int64(k), memberName(i), "member", "active", owner, ts, ts
	}}
	if triggered {
		plain := members.row
		members.cols = append(members.cols, "holds_grants", "holds_bookings", "email")
		members.row = func(k int, r []any) {
			plain(k, r)
			i := from + k
			r[10], r[11], r[12] = sh.DirectEvery > 0 && i%sh.DirectEvery == 0, sh.BookingEvery > 0 && i%sh.BookingEvery == 0, memberEmail(i)
		}
	}
	return []bulkTable{
		{name: "users", cols: []string{"id", "uuid", "email", "name", "created_at"}, n: n, row: func(k int, r []any) {
			i := from + k
			r[0], r[1], r[2], r[3], r[4] = uid+int64(k), uuidFor(seed, kindUser, uint64(i)), memberEmail(i), memberName(i), ts
		}},
		members,
		{name: "member_periods", cols: []string{"id", "member_id", "started_at", "started_by"}, n: n, row: func(k int, r []any) {
			r[0], r[1], r[2], r[3] = pid+int64(k), mid+int64(k), ts, owner
		}},
		{name: "space_members", cols: []string{"id", "uuid", "org_id", "space_id", "member_id", "status", "added_by", "created_at"}, n: 2 * n, row: func(k int, r []any) {
			i, m := from+k/2, mid+int64(k/2)
			space := d.siteID
			if k%2 == 1 {
				space = sh.memberSpace(i)
			}
			r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7] = smid+int64(k), uuidFor(seed, kindSpaceMember, mix(uint64(m), uint64(space), 0)), org, space, m, "active", owner, ts
		}},
		{name: "space_member_roles", cols: []string{"id", "space_member_id", "role", "granted_at", "granted_by"}, n: 2 * n, row: func(k int, r []any) {
			r[0], r[1], r[2], r[3], r[4] = rid+int64(k), smid+int64(k), "member", ts, owner
		}},
		{name: "group_members", cols: []string{"id", "org_id", "group_id", "member_id", "status", "added_by", "created_at"}, n: n, row: func(k int, r []any) {
			r[0], r[1], r[2], r[3], r[4], r[5], r[6] = gmid+int64(k), org, sh.memberGroup(from+k), mid+int64(k), "active", owner, ts
		}},
		{name: "grants", cols: []string{"id", "uuid", "org_id", "resource_id", "member_id", "status", "created_at"}, n: grantCount, row: func(k int, r []any) {
			i := firstGrant + k*sh.DirectEvery
			res := 1 + int64(mix(seed, kindGrant, uint64(i))%uint64(sh.Resources))
			r[0], r[1], r[2], r[3], r[4], r[5], r[6] = next["grants"]+int64(k), uuidFor(seed, kindGrant, uint64(i)), org, res, mid+int64(i-from), "active", ts
		}},
		{name: "bookings", cols: []string{"id", "uuid", "org_id", "resource_id", "member_id", "starts_at", "ends_at", "status", "created_at"}, n: bookingCount, row: func(k int, r []any) {
			i := firstBooking + k*sh.BookingEvery
			b := i / sh.BookingEvery
			res, slot := 1+b%sh.Resources, b/sh.Resources
			start := sh.BookingStartAt.Add(time.Duration(slot) * time.Hour)
			r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8] = next["bookings"]+int64(k), uuidFor(seed, kindBooking, uint64(i)), org, int64(res), mid+int64(i-from),
				start.UnixMicro(), start.Add(time.Hour).UnixMicro(), "active", ts
		}},
	}, nil
}

// sqliteMaxVars is SQLite's default SQLITE_MAX_VARIABLE_NUMBER (since
// 3.32), which every driver the bench builds with keeps.
const sqliteMaxVars = 32766

// sqliteRowsPerInsert caps the rows of one multi-row INSERT; past a few
// hundred rows a longer statement saves nothing measurable.
var sqliteRowsPerInsert = 500

// sqliteLoadCacheKiB is the page cache of SQLite's loading connection:
// 4 GiB holds the unique indexes of 10M members.
var sqliteLoadCacheKiB = 4 << 20

// insertSQLite writes tables with prepared multi-row INSERTs.
func insertSQLite(ctx context.Context, tx *sql.Tx, tables []bulkTable) error {
	for _, t := range tables {
		per := min(sqliteRowsPerInsert, sqliteMaxVars/len(t.cols))
		one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(t.cols)), ", ") + ")"
		stmt := func(n int) string {
			return "INSERT INTO " + t.name + " (" + strings.Join(t.cols, ", ") + ") VALUES " +
				strings.TrimSuffix(strings.Repeat(one+", ", n), ", ")
		}
		full, err := tx.PrepareContext(ctx, stmt(per))
		if err != nil {
			return fmt.Errorf("prepare insert into %s: %w", t.name, err)
		}
		args := make([]any, per*len(t.cols))
		for start := 0; start < t.n; start += per {
			end := min(start+per, t.n)
			for k := start; k < end; k++ {
				o := (k - start) * len(t.cols)
				t.row(k, args[o:o+len(t.cols)])
			}
			if end-start == per {
				_, err = full.ExecContext(ctx, args...)
			} else {
				_, err = tx.ExecContext(ctx, stmt(end-start), args[:(end-start)*len(t.cols)]...)
			}
			if err != nil {
				full.Close()
				return fmt.Errorf("insert into %s: %w", t.name, err)
			}
		}
		if err := full.Close(); err != nil {
			return err
		}
	}
	return nil
}

// insertPostgres writes tables with COPY and moves each table's identity
// past the ids it wrote, so that the store's own inserts continue after.
func insertPostgres(ctx context.Context, tx pgx.Tx, tables []bulkTable) error {
	for _, t := range tables {
		if t.n == 0 {
			continue
		}
		// pgx encodes each row before asking for the next, so one slice
		// serves every row.
		row, k := make([]any, len(t.cols)), 0
		src := pgx.CopyFromFunc(func() ([]any, error) {
			if k == t.n {
				return nil, nil
			}
			t.row(k, row)
			k++
			return row, nil
		})
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{t.name}, t.cols, src); err != nil {
			return fmt.Errorf("copy into %s: %w", t.name, err)
		}
		if _, err := tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence('`+t.name+`', 'id'), (SELECT MAX(id) FROM `+t.name+`))`); err != nil {
			return fmt.Errorf("move identity of %s: %w", t.name, err)
		}
	}
	return nil
}

// sqliteLoader runs SQLite's loading transactions on the store's writer
// connection with a page cache sized for loading, which end gives back.
type sqliteLoader struct {
	saved   int64 // the writer's cache_size before loading
	loading bool
}

// bulk runs one loading transaction: build reads the next ids through the
// transaction and returns the rows to write.
func (l *sqliteLoader) bulk(ctx context.Context, st *sqlite.Store, build func(sqlstore.Conn) ([]bulkTable, error)) error {
	return st.UpdateSQL(ctx, func(tx *sql.Tx, _ membership.Tx) error {
		// The random UUIDs land all over their unique indexes (about 3 GB
		// of them at 10M members); once those no longer fit the writer's
		// cache every insert reads a page back and dirties one more page
		// for the WAL. The cache stays across chunks (a PRAGMA outlives
		// the transaction) until end.
		if !l.loading {
			if err := tx.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&l.saved); err != nil {
				return fmt.Errorf("cache size before loading: %w", err)
			}
			if _, err := tx.ExecContext(ctx, "PRAGMA cache_size = -"+strconv.Itoa(sqliteLoadCacheKiB)); err != nil {
				return fmt.Errorf("cache size for loading: %w", err)
			}
			l.loading = true
		}
		tables, err := build(sqlConn{tx})
		if err != nil {
			return err
		}
		return insertSQLite(ctx, tx, tables)
	})
}

// end gives the writer its own cache back, so that the scenarios and
// floors after loading run with the store's settings.
func (l *sqliteLoader) end(ctx context.Context, st *sqlite.Store) error {
	if !l.loading {
		return nil
	}
	if _, err := st.Writer().ExecContext(ctx, "PRAGMA cache_size = "+strconv.FormatInt(l.saved, 10)); err != nil {
		return fmt.Errorf("cache size after loading: %w", err)
	}
	l.loading = false
	return nil
}

// bulkPostgres runs one loading transaction, like sqliteLoader.bulk.
func bulkPostgres(st interface {
	UpdatePgx(context.Context, func(pgx.Tx, membership.Tx) error) error
}) func(ctx context.Context, build func(sqlstore.Conn) ([]bulkTable, error)) error {
	return func(ctx context.Context, build func(sqlstore.Conn) ([]bulkTable, error)) error {
		return st.UpdatePgx(ctx, func(tx pgx.Tx, _ membership.Tx) error {
			// Each copied row fires a foreign-key trigger per reference
			// (a lookup and a row lock in the server). The rows refer only
			// to rows already there or written before them, which
			// TestGrowData and Check confirm, so the loading transaction
			// skips the checks, as pg_restore --disable-triggers does;
			// TestGrowData also fails if the schema gains other triggers
			// (but removed_members_on_insert, which no loaded, active
			// member fires).
			if _, err := tx.Exec(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
				return fmt.Errorf("skip foreign-key checks for loading: %w", err)
			}
			// The load rate postgresSettings cites was measured with the
			// WAL compressed; the server leaves it off for the scenarios.
			if _, err := tx.Exec(ctx, "SET LOCAL wal_compression = lz4"); err != nil {
				return fmt.Errorf("compress the loading WAL: %w", err)
			}
			tables, err := build(pgConn{tx})
			if err != nil {
				return err
			}
			return insertPostgres(ctx, tx, tables)
		})
	}
}
