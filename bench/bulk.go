package bench

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlite"
	"github.com/memberd/memberd/store/sqlstore"
)

// bulkTable is rows for one table, in column order.
type bulkTable struct {
	name string
	cols []string
	rows [][]any
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
// current maxima (read through c, inside the loading transaction).
func (d *Dataset) bulkRows(ctx context.Context, c sqlstore.Conn, from, to int, now time.Time) ([]bulkTable, error) {
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
	id := func(t string) int64 { n := next[t]; next[t]++; return n }
	ts := now.UnixMicro()
	users := bulkTable{name: "users", cols: []string{"id", "uuid", "email", "name", "created_at"}}
	members := bulkTable{name: "members", cols: []string{"id", "uuid", "org_id", "user_id", "name", "role", "status", "added_by", "created_at", "updated_at"}}
	periods := bulkTable{name: "member_periods", cols: []string{"id", "member_id", "started_at", "started_by"}}
	spaceMembers := bulkTable{name: "space_members", cols: []string{"id", "uuid", "org_id", "space_id", "member_id", "status", "added_by", "created_at"}}
	roles := bulkTable{name: "space_member_roles", cols: []string{"id", "space_member_id", "role", "granted_at", "granted_by"}}
	groupMembers := bulkTable{name: "group_members", cols: []string{"id", "org_id", "group_id", "member_id", "status", "added_by", "created_at"}}
	grants := bulkTable{name: "grants", cols: []string{"id", "uuid", "org_id", "resource_id", "member_id", "status", "created_at"}}
	bookings := bulkTable{name: "bookings", cols: []string{"id", "uuid", "org_id", "resource_id", "member_id", "starts_at", "ends_at", "status", "created_at"}}
	for i := from; i < to; i++ {
		uid, mid := id("users"), id("members")
		name := fmt.Sprintf("Member %d", i)
		users.rows = append(users.rows, []any{uid, uuidFor(seed, kindUser, uint64(i)), fmt.Sprintf("m%08d@bench.test", i), name, ts})
		members.rows = append(members.rows, []any{mid, d.MemberUUID(i), org, uid, name, "member", "active", owner, ts, ts})
		periods.rows = append(periods.rows, []any{id("member_periods"), mid, ts, owner})
		for _, space := range []int64{d.siteID, sh.memberSpace(i)} {
			smid := id("space_members")
			spaceMembers.rows = append(spaceMembers.rows, []any{smid, uuidFor(seed, kindSpaceMember, mix(uint64(mid), uint64(space), 0)), org, space, mid, "active", owner, ts})
			roles.rows = append(roles.rows, []any{id("space_member_roles"), smid, "member", ts, owner})
		}
		groupMembers.rows = append(groupMembers.rows, []any{id("group_members"), org, sh.memberGroup(i), mid, "active", owner, ts})
		if sh.DirectEvery > 0 && i%sh.DirectEvery == 0 {
			r := 1 + int64(mix(seed, kindGrant, uint64(i))%uint64(sh.Resources))
			grants.rows = append(grants.rows, []any{id("grants"), uuidFor(seed, kindGrant, uint64(i)), org, r, mid, "active", ts})
		}
		if sh.BookingEvery > 0 && i%sh.BookingEvery == 0 {
			k := i / sh.BookingEvery
			r, slot := 1+k%sh.Resources, k/sh.Resources
			start := sh.BookingStartAt.Add(time.Duration(slot) * time.Hour)
			bookings.rows = append(bookings.rows, []any{id("bookings"), uuidFor(seed, kindBooking, uint64(i)), org, int64(r), mid,
				start.UnixMicro(), start.Add(time.Hour).UnixMicro(), "active", ts})
		}
	}
	return []bulkTable{users, members, periods, spaceMembers, roles, groupMembers, grants, bookings}, nil
}

// insertSQLite writes tables with multi-row INSERTs of up to 100 rows.
func insertSQLite(ctx context.Context, tx *sql.Tx, tables []bulkTable) error {
	for _, t := range tables {
		const per = 100
		one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(t.cols)), ", ") + ")"
		stmt := func(n int) string {
			return "INSERT INTO " + t.name + " (" + strings.Join(t.cols, ", ") + ") VALUES " +
				strings.TrimSuffix(strings.Repeat(one+", ", n), ", ")
		}
		full, err := tx.PrepareContext(ctx, stmt(per))
		if err != nil {
			return fmt.Errorf("prepare insert into %s: %w", t.name, err)
		}
		args := make([]any, 0, per*len(t.cols))
		for start := 0; start < len(t.rows); start += per {
			end := min(start+per, len(t.rows))
			args = args[:0]
			for _, r := range t.rows[start:end] {
				args = append(args, r...)
			}
			if end-start == per {
				_, err = full.ExecContext(ctx, args...)
			} else {
				_, err = tx.ExecContext(ctx, stmt(end-start), args...)
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
		if len(t.rows) == 0 {
			continue
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{t.name}, t.cols, pgx.CopyFromRows(t.rows)); err != nil {
			return fmt.Errorf("copy into %s: %w", t.name, err)
		}
		if _, err := tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence('`+t.name+`', 'id'), (SELECT MAX(id) FROM `+t.name+`))`); err != nil {
			return fmt.Errorf("move identity of %s: %w", t.name, err)
		}
	}
	return nil
}

// bulkSQLite and bulkPostgres run one loading transaction: build reads
// the next ids through the transaction and returns the rows to write.
func bulkSQLite(st *sqlite.Store) func(ctx context.Context, build func(sqlstore.Conn) ([]bulkTable, error)) error {
	return func(ctx context.Context, build func(sqlstore.Conn) ([]bulkTable, error)) error {
		return st.UpdateSQL(ctx, func(tx *sql.Tx, _ membership.Tx) error {
			// The random UUIDs and e-mails land all over their unique
			// indexes; past a few million members those no longer fit the
			// store's 64 MiB writer cache and every insert reads pages back.
			// The loading connection gets 1 GiB (the server keeps its own).
			if _, err := tx.ExecContext(ctx, "PRAGMA cache_size = -1048576"); err != nil {
				return fmt.Errorf("cache size for loading: %w", err)
			}
			tables, err := build(sqlConn{tx})
			if err != nil {
				return err
			}
			return insertSQLite(ctx, tx, tables)
		})
	}
}

func bulkPostgres(st interface {
	UpdatePgx(context.Context, func(pgx.Tx, membership.Tx) error) error
}) func(ctx context.Context, build func(sqlstore.Conn) ([]bulkTable, error)) error {
	return func(ctx context.Context, build func(sqlstore.Conn) ([]bulkTable, error)) error {
		return st.UpdatePgx(ctx, func(tx pgx.Tx, _ membership.Tx) error {
			tables, err := build(pgConn{tx})
			if err != nil {
				return err
			}
			return insertPostgres(ctx, tx, tables)
		})
	}
}
