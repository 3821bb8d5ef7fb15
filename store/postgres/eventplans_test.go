package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/memberd/memberd/internal/pgtest"
	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/postgres"
	"github.com/memberd/memberd/store/sqlstore"
)

// eventPlansEnv names the number of events TestEventPlans loads.
const eventPlansEnv = "MEMBERD_EVENT_PLANS"

// TestEventPlans records the PostgreSQL plans and timings of the filters of
// GET /api/v1/events (docs/reliability.md, "Query plans for the event
// filters"). It is an on-demand measurement, not a check: it skips unless
// MEMBERD_EVENT_PLANS names a number of events, also under CI=true, since
// loading millions of rows has no place in CI:
//
//	MEMBERD_EVENT_PLANS=10000000 CI=true go test -count=1 -run TestEventPlans -v -timeout 90m ./store/postgres/
//
// It migrates a database of a throwaway cluster, creates one organization
// of 1,000 members, drops the event indexes but the primary key, loads the
// events with INSERT ... SELECT FROM generate_series (chained: seq, prev_hash
// and hash link them), recreates the indexes from the definitions the
// migrations gave them, runs VACUUM (ANALYZE), and then EXPLAIN (ANALYZE,
// BUFFERS) on the very statement the store's EventList ran for each filter.
// Last it explains the statements of the audit chain's reads (verify's
// page and unchained count, a prune, rolled back), as the store ran them.
func TestEventPlans(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv(eventPlansEnv))
	if n <= 0 {
		t.Skipf("on-demand measurement: set %s to a number of events to run it", eventPlansEnv)
	}
	ctx := context.Background()
	st, err := postgres.Open(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	defer st.Close()
	pool := st.Pool()

	start := time.Now()
	ev := loadEvents(t, ctx, pool, n)
	t.Logf("loaded %d events in %s", n, time.Since(start).Round(time.Second))

	for _, f := range eventFilters(ev) {
		explainEventList(t, ctx, st, pool, f.name, f.p)
	}
	explainChain(t, ctx, st, pool, ev)
}

// errRollBack ends explainChain's transaction without keeping its prune.
var errRollBack = errors.New("roll back")

// explainChain records the statements of the audit chain's reads (a page
// of memberd audit verify, its count of unchained events, and a prune of
// the first tenth of the trail, rolled back) and the plan of each.
func explainChain(t *testing.T, ctx context.Context, st *postgres.Store, pool *pgxpool.Pool, ev loadedEvents) {
	t.Helper()
	var rec sqlstore.Recorder
	err := st.Update(ctx, func(tx membership.Tx) error {
		defer tx.(*sqlstore.Tx).Record(&rec)()
		if _, err := tx.EventChainList(ctx, ev.org, ev.n/2, 1000); err != nil {
			return err
		}
		if _, _, err := tx.EventUnchained(ctx, ev.org); err != nil {
			return err
		}
		if _, _, err := tx.EventPrune(ctx, ev.org, time.UnixMicro(ev.t0+ev.span/10)); err != nil {
			return err
		}
		return errRollBack
	})
	if !errors.Is(err, errRollBack) {
		t.Fatalf("chain statements: %v", err)
	}
	for _, s := range rec.Statements() {
		rows, err := pool.Query(ctx, `EXPLAIN `+s.Query, s.Args...)
		if err != nil {
			t.Fatalf("explain %s: %v", s.Query, err)
		}
		plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("explain %s: %v", s.Query, err)
		}
		t.Logf("%s\n%s", s.Query, strings.Join(plan, "\n"))
		fmt.Printf("CHAIN | %.70s | %s\n", strings.Join(strings.Fields(s.Query), " "), planNodes(plan))
	}
}

// loadedEvents says what loadEvents created, for the filters to aim at.
type loadedEvents struct {
	org, firstMember, n int64
	t0, span            int64 // microseconds: first event's at, and the trail's length
}

// plansActions are the actions the loaded events cycle through: reads and
// changes, as an organization's trail mixes them.
var plansActions = []string{
	"member.read", "member.removed", "member.added", "space_member.removed",
	"member.read", "event.read", "request.authenticated", "member.restored", "space_member.added",
	"member.read", "roles.revoked", "group_member.removed", "member.updated", "member.read",
	"access.read", "space.read", "member.removed", "credential.created", "member.read", "batch.removed",
}

func loadEvents(t *testing.T, ctx context.Context, pool *pgxpool.Pool, n int) loadedEvents {
	t.Helper()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	exec := func(q string, args ...any) {
		t.Helper()
		start := time.Now()
		if _, err := conn.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", strings.Fields(q)[0:2], err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Logf("%.60s... %s", strings.Join(strings.Fields(q), " "), d.Round(100*time.Millisecond))
		}
	}
	// A bulk load's settings, for this session and cluster only: fewer
	// checkpoints, more memory for the index builds, and no foreign key
	// triggers (every row names the one organization).
	exec(`ALTER SYSTEM SET max_wal_size = '16GB'`)
	exec(`ALTER SYSTEM SET checkpoint_timeout = '30min'`)
	exec(`SELECT pg_reload_conf()`)
	exec(`SET maintenance_work_mem = '1GB'`)
	exec(`SET synchronous_commit = off`)
	exec(`SET session_replication_role = replica`)

	var ev loadedEvents
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	ev.t0, ev.span, ev.n = now.AddDate(-1, 0, 0).UnixMicro(), now.Sub(now.AddDate(-1, 0, 0)).Microseconds(), int64(n)
	if err := conn.QueryRow(ctx, `INSERT INTO organizations (uuid, name, created_at) VALUES ('org-plans', 'Plans', $1) RETURNING id`,
		ev.t0).Scan(&ev.org); err != nil {
		t.Fatal(err)
	}
	exec(`INSERT INTO users (uuid, email, name, created_at)
		SELECT 'user-' || i, 'u' || i || '@example.com', 'User ' || i, $1 FROM generate_series(1, 1000) i`, ev.t0)
	exec(`INSERT INTO members (uuid, org_id, user_id, name, role, status, created_at, updated_at)
		SELECT 'member-' || u.id, $1, u.id, u.name, CASE WHEN u.id <= (SELECT MIN(id) + 19 FROM users) THEN 'admin' ELSE 'member' END,
		'active', $2, $2 FROM users u ORDER BY u.id`, ev.org, ev.t0)
	if err := conn.QueryRow(ctx, `SELECT MIN(id) FROM members WHERE org_id = $1`, ev.org).Scan(&ev.firstMember); err != nil {
		t.Fatal(err)
	}

	// The indexes exactly as the migrations made them, primary key aside;
	// the constraints' (events_uuid_key) are dropped and added back as
	// constraints.
	type index struct{ name, def, constraint string }
	var indexes []index
	rows, err := conn.Query(ctx, `SELECT i.relname, pg_get_indexdef(i.oid), COALESCE(pg_get_constraintdef(c.oid), '')
		FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid
		WHERE x.indrelid = 'events'::regclass AND NOT x.indisprimary ORDER BY i.relname`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var ix index
		if err := rows.Scan(&ix.name, &ix.def, &ix.constraint); err != nil {
			t.Fatal(err)
		}
		indexes = append(indexes, ix)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, ix := range indexes {
		t.Logf("index %s: %s", ix.name, ix.def)
		if ix.constraint != "" {
			exec(`ALTER TABLE events DROP CONSTRAINT ` + pgx.Identifier{ix.name}.Sanitize())
		} else {
			exec(`DROP INDEX ` + pgx.Identifier{ix.name}.Sanitize())
		}
	}

	// Events in time order over a year, in chunks so that progress shows.
	// Admins (the first 20 members) act in 90% of them; changes target one
	// of the 1,000 members; one in 25 changes is refused; two events share
	// a request id.
	const chunk = 1_000_000
	for lo := 1; lo <= n; lo += chunk {
		hi := min(lo+chunk-1, n)
		start := time.Now()
		exec(`INSERT INTO events (id, uuid, org_id, at, actor_member_id, interface, request_id, action, outcome,
			target_type, target_id, target_member_id, after_state, seq, prev_hash, hash)
		SELECT i, md5('event' || i)::uuid::text, $1, $2 + (i - 1) * ($3::bigint / $4::bigint),
			CASE WHEN i % 10 = 0 THEN NULL ELSE $5 + (i * 7 + i / 20) % 20 END,
			(ARRAY['native', 'native', 'native', 'admin', 'scim', 'cli', 'jicoo', 'highq', 'tedee', 'workiva'])[1 + (i * 3 + i / 7) % 10],
			'req_' || (i / 2), a.action,
			CASE WHEN a.change AND i % 25 = 0 THEN 'refused' ELSE 'ok' END,
			CASE WHEN a.change THEN 'member' END, CASE WHEN a.change THEN $5 + (i * 7919 / 20) % 1000 END,
			CASE WHEN a.change THEN $5 + (i * 7919 / 20) % 1000 END,
			CASE WHEN a.change THEN '{"status":"removed"}' END,
			i, CASE WHEN i > 1 THEN md5('h' || (i - 1)) || md5('g' || (i - 1)) END, md5('h' || i) || md5('g' || i)
		FROM generate_series($6::bigint, $7::bigint) i
		CROSS JOIN LATERAL (SELECT ($8::text[])[1 + (i * 17) % 20] AS action) x
		CROSS JOIN LATERAL (SELECT x.action, x.action NOT LIKE '%.read' AND x.action <> 'request.authenticated' AS change) a`,
			ev.org, ev.t0, ev.span, n, ev.firstMember, lo, hi, plansActions)
		t.Logf("events %d-%d: %s", lo, hi, time.Since(start).Round(100*time.Millisecond))
	}
	exec(`SELECT setval(pg_get_serial_sequence('events', 'id'), (SELECT MAX(id) FROM events))`)
	exec(`INSERT INTO event_chain_heads (org_id, seq, hash) VALUES ($1, $2, md5('h' || $3) || md5('g' || $3))`, ev.org, n, strconv.Itoa(n))

	start := time.Now()
	for _, ix := range indexes {
		if ix.constraint != "" {
			exec(`ALTER TABLE events ADD CONSTRAINT ` + pgx.Identifier{ix.name}.Sanitize() + ` ` + ix.constraint)
		} else {
			exec(ix.def)
		}
	}
	t.Logf("indexes: %s", time.Since(start).Round(time.Second))
	start = time.Now()
	exec(`VACUUM (ANALYZE) events`)
	t.Logf("vacuum analyze: %s", time.Since(start).Round(time.Second))
	var size string
	if err := conn.QueryRow(ctx, `SELECT pg_size_pretty(pg_total_relation_size('events'))`).Scan(&size); err != nil {
		t.Fatal(err)
	}
	t.Logf("events: %s with indexes", size)
	return ev
}

type eventFilter struct {
	name string
	p    membership.EventListParams
}

// eventFilters are the filters of docs/reliability.md's SQLite table, each
// a 100-event page as GET /api/v1/events asks for, and an export page.
func eventFilters(ev loadedEvents) []eventFilter {
	org, at := ev.org, func(frac float64) time.Time { return time.UnixMicro(ev.t0 + int64(frac*float64(ev.span))) }
	page := func(p membership.EventListParams) membership.EventListParams {
		p.OrgID, p.Limit = org, 100
		return p
	}
	return []eventFilter{
		{"member (about or by; a member)", page(membership.EventListParams{MemberID: ev.firstMember + 500})},
		{"member (about or by; an admin)", page(membership.EventListParams{MemberID: ev.firstMember + 3})},
		{"actor", page(membership.EventListParams{ActorID: ev.firstMember + 3})},
		{"action", page(membership.EventListParams{Action: "member.removed"})},
		{"action + outcome (no match)", page(membership.EventListParams{Action: "event.read", Outcome: membership.OutcomeRefused})},
		{"outcome", page(membership.EventListParams{Outcome: membership.OutcomeRefused})},
		{"interface", page(membership.EventListParams{Interface: "scim"})},
		{"request_id", page(membership.EventListParams{RequestID: "req_" + strconv.FormatInt(ev.n/3, 10)})},
		{"since + until (1 s window)", page(membership.EventListParams{Since: at(0.5), Until: at(0.5).Add(time.Second)})},
		{"since (most of the trail)", page(membership.EventListParams{Since: at(0.1)})},
		{"export page (after)", membership.EventListParams{OrgID: org, Ascending: true, AfterID: ev.n / 2, Limit: membership.ExportPage}},
	}
}

// eventListArgs are the arguments of the statement EventList builds for
// p, in its placeholders' order (store/sqlstore/events.go): the recorder
// keeps statements, not arguments.
func eventListArgs(p membership.EventListParams) []any {
	args := []any{p.OrgID}
	if p.MemberID != 0 {
		args = append(args, p.MemberID)
	}
	if p.ActorID != 0 {
		args = append(args, p.ActorID)
	}
	if p.Action != "" {
		for _, n := range membership.ActionNames(p.Action) {
			args = append(args, n)
		}
	}
	for _, v := range []string{p.Outcome, p.Interface, p.RequestID} {
		if v != "" {
			args = append(args, v)
		}
	}
	if !p.Since.IsZero() {
		args = append(args, p.Since.UnixMicro())
	}
	if !p.Until.IsZero() {
		args = append(args, p.Until.UnixMicro())
	}
	if p.Ascending {
		args = append(args, p.AfterID)
	} else if p.BeforeID != 0 {
		args = append(args, p.BeforeID)
	}
	return append(args, max(p.Limit, 1))
}

var (
	placeholder = regexp.MustCompile(`\$(\d+)`)
	execTime    = regexp.MustCompile(`Execution Time: ([0-9.]+) ms`)
	limitRows   = regexp.MustCompile(`^Limit .*actual time=\S+ rows=(\d+)`)
)

// explainEventList runs EventList for p through the store, takes the
// statement it ran, and explains that statement with p's arguments. The
// time reported is the median of three runs' Execution Time, after one
// warming run; the custom plan is the one a statement's first executions
// get, and the generic plan's top node is logged beside it.
func explainEventList(t *testing.T, ctx context.Context, st *postgres.Store, pool *pgxpool.Pool, name string, p membership.EventListParams) {
	t.Helper()
	var rec sqlstore.Recorder
	var got int
	start := time.Now()
	err := st.View(ctx, func(tx membership.Tx) error {
		defer tx.(*sqlstore.Tx).Record(&rec)()
		evs, err := tx.EventList(ctx, &p)
		got = len(evs)
		return err
	})
	wall := time.Since(start)
	if err != nil {
		t.Fatalf("%s: event list: %v", name, err)
	}
	qs := rec.Queries()
	if len(qs) != 1 {
		t.Fatalf("%s: EventList ran %d statements, want 1: %q", name, len(qs), qs)
	}
	q, args := qs[0], eventListArgs(p)
	var maxPH int
	for _, m := range placeholder.FindAllStringSubmatch(q, -1) {
		v, _ := strconv.Atoi(m[1])
		maxPH = max(maxPH, v)
	}
	if maxPH != len(args) {
		t.Fatalf("%s: statement has %d placeholders, %d arguments: %s", name, maxPH, len(args), q)
	}

	explain := func(settings ...string) []string {
		t.Helper()
		var lines []string
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			for _, set := range settings {
				if _, err := tx.Exec(ctx, `SET LOCAL `+set); err != nil {
					return err
				}
			}
			rows, err := tx.Query(ctx, `EXPLAIN (ANALYZE, BUFFERS) `+q, args...)
			if err != nil {
				return err
			}
			lines, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
		if err != nil {
			t.Fatalf("%s: explain: %v", name, err)
		}
		return lines
	}
	explain()
	var times []float64
	var plan []string
	for range 3 {
		plan = explain()
		m := execTime.FindStringSubmatch(plan[len(plan)-1])
		if m == nil {
			t.Fatalf("%s: no execution time in %q", name, plan)
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		times = append(times, v)
	}
	slices.Sort(times)
	if m := limitRows.FindStringSubmatch(strings.TrimSpace(plan[0])); m == nil || m[1] != strconv.Itoa(got) {
		t.Errorf("%s: plan's Limit node %q, EventList returned %d events", name, plan[0], got)
	}
	generic := explain(`plan_cache_mode = force_generic_plan`)

	t.Logf("%s: %s\n%s\n%s", name, q, strings.Join(plan, "\n"), strings.Join(generic[:min(3, len(generic))], "\n"))
	fmt.Printf("PLAN | %s | %s | %.2f ms (%d rows; generic plan: %s; EventList wall %s)\n",
		name, planNodes(plan), times[1], got, planNodes(generic), wall.Round(10*time.Microsecond))
	if times[1] > 50 {
		// A slow page: what the planner's next choice, without plain
		// index scans, would have cost.
		alt := explain(`enable_indexscan = off`)
		t.Logf("%s without index scans:\n%s", name, strings.Join(alt, "\n"))
		fmt.Printf("ALT | %s | %s | %s\n", name, planNodes(alt), alt[len(alt)-1])
	}
}

// planNodes shortens a text plan to its nodes, outermost first, without
// costs and timings.
func planNodes(plan []string) string {
	var nodes []string
	for _, l := range plan {
		l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "->"))
		if i := strings.Index(l, "  ("); i >= 0 {
			l = l[:i]
		}
		if l == "" || strings.Contains(l, ":") || strings.HasPrefix(l, "Planning") || strings.HasPrefix(l, "Execution") {
			continue
		}
		nodes = append(nodes, l)
	}
	return strings.Join(nodes, " > ")
}
