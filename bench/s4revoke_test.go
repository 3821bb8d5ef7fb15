package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// s4RevokeEnv names the organization size TestS4RevokeShapes loads.
const s4RevokeEnv = "MEMBERD_S4_REVOKE"

// TestS4RevokeShapes measures the backend CPU of the statement that
// revokes an S4 member's 5,000 direct grants on PostgreSQL, the largest
// part of an offboarding (TestS4BackendCPU), against other shapes of the
// same work and against parts of it, to show where its time goes and
// which shape is cheapest. On-CPU time of the one backend, each shape in
// a transaction that is rolled back after a VACUUM of grants, the shapes
// taking turns; the medians are printed. An on-demand measurement, not a
// check:
//
//	cd bench && MEMBERD_S4_REVOKE=100000 CI=true go test -count=1 -run TestS4RevokeShapes -v -timeout 30m .
//
// At 100k members (medians of 11 turns, two runs on a shared 2-core
// machine) the store's statement took 8.6 and 9.9 ms, the bare UPDATE
// without its rows 7.4 and 7.9 ms (about 1.5 us a row: a HOT update,
// three buffer hits and one WAL record of about 108 bytes a row; no
// index entry changes), and the bare UPDATE with the table's triggers
// disabled 0.7-1.15 ms less than with them: PostgreSQL does not queue
// the foreign keys' checks of an update that leaves the keys alone, but
// still asks each of the four constraints so for each row. Counting the
// UPDATE's rows in WITH costs 0.7-1.0 ms, listing the first 100 of them
// 0.3-1.3 ms more (a third run). A bitmap scan already visits the rows in page order
// (forcing it changed nothing), and the shapes tried instead measured
// no cheaper: the rows' ctids sorted first +0.8-1.1 ms over the bare
// UPDATE (a TID scan re-reads each row), a window count as dear as the
// store's, all columns returned from the UPDATE +1.7 ms, and the first
// 100 read before a bare UPDATE 1.8-1.95 ms, as much as WITH costs,
// since no index gives a member's grants in id order.
func TestS4RevokeShapes(t *testing.T) {
	ctx := context.Background()
	e, d := onDemandPostgres(t, s4RevokeEnv)
	st, onCPU := oneBackend(t, e)
	pool := st.Pool()
	member := d.S4[0]
	var org int64
	if err := pool.QueryRow(ctx, "SELECT org_id FROM members WHERE id = $1", member).Scan(&org); err != nil {
		t.Fatal(err)
	}
	const cols = `g.id, g.uuid, g.org_id, g.resource_id, g.member_id, g.group_id, g.status, g.created_at, g.revoked_at, g.cause`
	// $1 and $2 are what the revocation writes, $3 and $4 whose grants.
	const revoke = `UPDATE grants SET status = 'removed', revoked_at = $1, cause = $2 WHERE org_id = $3 AND member_id = $4 AND status = 'active'`
	shapes := []struct{ name, before, query string }{
		{"store (sqlstore grantsCountedStmt)", "", `WITH revoked AS (` + revoke + ` RETURNING id) SELECT ` + cols +
			`, (SELECT count(*) FROM revoked) FROM grants g WHERE id IN (SELECT id FROM revoked ORDER BY id LIMIT 100) ORDER BY id`},
		{"bare UPDATE", "", revoke},
		{"bare UPDATE, triggers disabled", "ALTER TABLE grants DISABLE TRIGGER ALL", revoke},
		{"UPDATE counted in WITH", "", `WITH revoked AS (` + revoke + ` RETURNING 1) SELECT count(*) FROM revoked`},
		{"first 100 read alone", "", `SELECT ` + cols + ` FROM grants g WHERE org_id = $3 AND member_id = $4 AND status = 'active'
			AND $1::bigint IS NOT NULL AND $2::text IS NOT NULL ORDER BY id LIMIT 100`},
		{"by sorted ctids", "", `UPDATE grants SET status = 'removed', revoked_at = $1, cause = $2 WHERE ctid = ANY (ARRAY(
			SELECT ctid FROM grants WHERE org_id = $3 AND member_id = $4 AND status = 'active' ORDER BY ctid))`},
		{"window count", "", `WITH revoked AS (` + revoke + ` RETURNING id) SELECT ` + cols +
			`, r.n FROM (SELECT id, count(*) OVER () AS n FROM revoked ORDER BY id LIMIT 100) r JOIN grants g USING (id) ORDER BY id`},
	}
	at := time.Now().UnixNano()
	per := make([][]time.Duration, len(shapes))
	for round := range 11 {
		for k := range shapes {
			i := (k + round) % len(shapes)
			s := shapes[i]
			if _, err := pool.Exec(ctx, "VACUUM grants"); err != nil {
				t.Fatal(err)
			}
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if s.before != "" {
				if _, err := tx.Exec(ctx, s.before); err != nil {
					t.Fatal(err)
				}
			}
			start := onCPU()
			rows, err := tx.Query(ctx, s.query, at, "member_removed", org, member)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for rows.Next() {
				n++
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			per[i] = append(per[i], onCPU()-start)
			if tag := rows.CommandTag(); s.query == revoke && tag.RowsAffected() == 0 {
				t.Fatalf("%s revoked nothing", s.name)
			}
			if err := tx.Rollback(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	var lines []string
	for i, s := range shapes {
		slices.Sort(per[i])
		lines = append(lines, fmt.Sprintf("%7.2f ms (least %.2f)  %s", float64(per[i][len(per[i])/2].Microseconds())/1000, float64(per[i][0].Microseconds())/1000, s.name))
	}
	t.Logf("backend CPU revoking member %d's grants, medians of %d turns:\n%s", member, len(per[0]), strings.Join(lines, "\n"))
}
