package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlstore"
)

// openPlanStore opens a fresh store, closed when t ends.
func openPlanStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "plan.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// eventPlans runs fn in a transaction of a fresh store, recording the
// statements it runs, and returns SQLite's plan for each, one step a line.
// The store never runs ANALYZE, so these are the plans it runs with.
func eventPlans(t *testing.T, fn func(ctx context.Context, tx *sqlstore.Tx) error) []string {
	t.Helper()
	ctx := context.Background()
	s := openPlanStore(t)
	var rec sqlstore.Recorder
	err := s.Update(ctx, func(tx membership.Tx) error {
		mtx := tx.(*sqlstore.Tx)
		defer mtx.Record(&rec)()
		return fn(ctx, mtx)
	})
	if err != nil {
		t.Fatal(err)
	}
	var plans []string
	for _, st := range rec.Statements() {
		if !strings.Contains(st.Query, "events") {
			continue
		}
		plans = append(plans, explainQueryPlan(t, s.reader, st.Query, st.Args...))
	}
	return plans
}

// explainQueryPlan returns SQLite's plan for q, one step a line.
func explainQueryPlan(t *testing.T, db *sql.DB, q string, args ...any) string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+Rebind(q), args...)
	if err != nil {
		t.Fatalf("explain %s: %v", q, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}

// checkPlan fails t unless plan has every step of want, and reads no
// events without an index.
func checkPlan(t *testing.T, name, plan string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(plan, w) {
			t.Errorf("%s: plan\n%s\nwant a step %q", name, plan, w)
		}
	}
	for _, line := range strings.Split(plan, "\n") {
		if strings.HasPrefix(line, "SCAN events") && !strings.Contains(line, "INDEX") {
			t.Errorf("%s: plan\n%s\nreads events without an index", name, plan)
		}
	}
}

// TestEventListPlans pins the index each filter of EventList (GET
// /api/v1/events, the console's activity and member pages, audit export)
// reads, as docs/reliability.md lists them. Every filter pages by keyset
// from an index that leads with org_id; none needs the uuid (migration
// 00012 dropped its index).
func TestEventListPlans(t *testing.T) {
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		p    membership.EventListParams
		want []string
	}{
		{"none", membership.EventListParams{}, []string{"events_org (org_id=?)"}},
		{"before", membership.EventListParams{BeforeID: 9}, []string{"events_org (org_id=? AND id<?)"}},
		{"member", membership.EventListParams{MemberID: 5}, []string{
			"events_org_target_member (org_id=? AND target_member_id=?)", "events_org_actor_member (org_id=? AND actor_member_id=?)"}},
		{"member and action", membership.EventListParams{MemberID: 5, Action: membership.ActionMemberRemoved}, []string{
			"events_org_target_member (org_id=? AND target_member_id=?)", "events_org_actor_member (org_id=? AND actor_member_id=?)"}},
		{"actor", membership.EventListParams{ActorID: 5}, []string{"events_org_actor_member (org_id=? AND actor_member_id=?)"}},
		{"action", membership.EventListParams{Action: membership.ActionMemberRemoved}, []string{"events_org_action (org_id=? AND action=?)"}},
		{"action and outcome", membership.EventListParams{Action: membership.ActionMemberRemoved, Outcome: membership.OutcomeRefused},
			[]string{"events_org_action_outcome (org_id=? AND action=? AND outcome=?)"}},
		{"outcome", membership.EventListParams{Outcome: membership.OutcomeRefused}, []string{"events_org_outcome (org_id=? AND outcome=?)"}},
		{"interface", membership.EventListParams{Interface: "scim"}, []string{"events_org_interface (org_id=? AND interface=?)"}},
		{"request", membership.EventListParams{RequestID: "req_1"}, []string{"events_org_request (org_id=? AND request_id=?)"}},
		{"since and until", membership.EventListParams{Since: at, Until: at.Add(time.Second)}, []string{"events_org_at (org_id=? AND at>? AND at<?)"}},
		{"export page", membership.EventListParams{Ascending: true, AfterID: 9, Limit: membership.ExportPage}, []string{"events_org (org_id=? AND id>?)"}},
	} {
		p := tc.p
		p.OrgID = 1
		p.Limit = max(p.Limit, 100)
		plans := eventPlans(t, func(ctx context.Context, tx *sqlstore.Tx) error {
			_, err := tx.EventList(ctx, &p)
			return err
		})
		if len(plans) != 1 {
			t.Fatalf("%s: %d statements, want 1", tc.name, len(plans))
		}
		t.Logf("%s:\n%s", tc.name, plans[0])
		checkPlan(t, tc.name, plans[0], tc.want...)
	}
}

// TestEventChainPlans pins the plans of the statements that write and
// read the audit chain (sealing, memberd audit verify and prune, a
// receipt's event), for an organization and for the chain of no
// organization: each reads events through the primary key, events_chain
// or events_org_at, and sealing writes the events once, reading none.
// The trail holds an unchained event before chained ones, so that every
// statement runs.
func TestEventChainPlans(t *testing.T) {
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, org := range []int64{1, 0} {
		plans := eventPlans(t, func(ctx context.Context, tx *sqlstore.Tx) error {
			if _, err := tx.Conn().Exec(ctx, `INSERT INTO organizations (id, uuid, name, created_at) VALUES (1, 'o', 'O', 1)`); err != nil {
				return err
			}
			// Written before the chain existed.
			if _, err := tx.Conn().Exec(ctx, `INSERT INTO events (uuid, org_id, at, interface, action, outcome)
				VALUES ('unchained', $1, $2, 'cli', 'member.removed', 'ok')`, nullOrg(org), old.UnixMicro()); err != nil {
				return err
			}
			for range 2 {
				e := &membership.Event{UUID: membership.NewUUID(), OrgID: org, At: old, Interface: "cli", Action: "member.removed", Outcome: "ok"}
				if err := tx.EventAppend(ctx, e); err != nil {
					return err
				}
			}
			if err := tx.Seal(ctx); err != nil {
				return err
			}
			if _, err := tx.EventChainList(ctx, org, 0, 100); err != nil {
				return err
			}
			if _, _, err := tx.EventUnchained(ctx, org); err != nil {
				return err
			}
			if _, err := tx.EventGet(ctx, 1); err != nil {
				return err
			}
			_, n, err := tx.EventPrune(ctx, org, old.Add(time.Hour))
			if err == nil && n != 3 {
				t.Errorf("org %d: pruned %d events, want 3", org, n)
			}
			return err
		})
		// org_id IS NULL (org 0) is an equality on the index's first
		// column too, and seq IS NOT NULL a range.
		want := [][]string{
			{},                                    // the events' ids: the high-water mark in sqlite_sequence
			{},                                    // seal: write the events, chained
			{"events_chain (org_id=? AND seq>?)"}, // chain list, a page of verify
			{"COVERING INDEX events_chain (org_id=? AND seq=?)"}, // unchained events: count
			{"events_chain (org_id=? AND seq=? AND rowid>?)", "EXISTS USING COVERING INDEX events_chain (org_id=? AND seq>?)",
				"events_org (org_id=?)"}, // unchained events: the first after the chain began
			{"INTEGER PRIMARY KEY (rowid=?)"},     // event by id
			{"events_org_at (org_id=? AND at>?)"}, // prune: first event kept
			{"events_chain (org_id=? AND seq>?)"}, // prune: last event pruned
			{"events_chain (org_id=?"},            // prune: the delete
		}
		if len(plans) < len(want) {
			t.Fatalf("org %d: %d statements on events, want at least %d:\n%s", org, len(plans), len(want), strings.Join(plans, "\n--\n"))
		}
		for i, plan := range plans {
			t.Logf("org %d, statement %d:\n%s", org, i, plan)
			if i < len(want) {
				checkPlan(t, "chain statement", plan, want[i]...)
			} else {
				checkPlan(t, "chain statement", plan)
			}
		}
	}
}

// TestRemovalPlans pins the plans of the statements that read removals
// (undo, the console's receipt, the rolling-hour limit): none needs
// removals_org, which migration 00012 dropped.
func TestRemovalPlans(t *testing.T) {
	ctx := context.Background()
	s := openPlanStore(t)
	var rec sqlstore.Recorder
	err := s.View(ctx, func(tx membership.Tx) error {
		defer tx.(*sqlstore.Tx).Record(&rec)()
		if _, err := tx.RemovalGet(ctx, &membership.RemovalGetParams{OrgID: 1, UUID: "r"}); membership.ErrorCode(err) != membership.CodeNotFound {
			return err
		}
		_, err := tx.RemovalCount(ctx, 1, time.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sts := rec.Statements()
	if len(sts) != 2 {
		t.Fatalf("%d statements, want 2", len(sts))
	}
	for i, want := range []string{"sqlite_autoindex_removals_1 (uuid=?)", "removals_org_created (org_id=? AND created_at>?)"} {
		plan := explainQueryPlan(t, s.reader, sts[i].Query, sts[i].Args...)
		if !strings.Contains(plan, want) {
			t.Errorf("plan\n%s\nwant a step %q", plan, want)
		}
	}
}

// nullOrg is the org_id column of organization id: NULL for 0, the
// chain of no organization.
func nullOrg(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}
