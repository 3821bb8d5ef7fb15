package sqlstore

import (
	"strconv"
	"strings"
	"testing"
)

// TestChainedInsertText holds insertChained's cached statements to the
// text it built per call before they were cached, argument for argument:
// the statement caches and the recorded statement counts key on it.
func TestChainedInsertText(t *testing.T) {
	for rows := 1; rows <= maxChainedRows; rows *= 2 {
		for _, cte := range []bool{false, true} {
			var args []any
			var list strings.Builder
			for i := range rows {
				if i > 0 {
					list.WriteString(", ")
				}
				list.WriteString("(" + placeholders(&args, make([]any, chainedCols)) + ")")
			}
			want := `INSERT INTO events (id, uuid, org_id, at, actor_member_id, credential_id, interface, request_id,
			action, outcome, target_type, target_id, target_member_id, target_ref, message, before_state, after_state,
			seq, prev_hash, hash) VALUES ` + list.String()
			if cte {
				want = `WITH chained AS (` + want + `) UPDATE event_chain_heads SET seq = ` + arg(&args, 0) +
					`, hash = ` + arg(&args, "") + ` WHERE org_id = ` + arg(&args, 0)
			}
			if got := chainedInsert(rows, cte); got != want {
				t.Errorf("chainedInsert(%d, %v) =\n%s\nwant\n%s", rows, cte, got, want)
			}
		}
	}
}

func TestArgName(t *testing.T) {
	for n := 1; n <= 300; n++ {
		if got, want := argName(n), "$"+strconv.Itoa(n); got != want {
			t.Fatalf("argName(%d) = %q, want %q", n, got, want)
		}
	}
}

// byActiveID restores every row once and orders the rows by the ids that
// returns, as the map and sort.Slice it replaced did.
func TestByActiveID(t *testing.T) {
	type row struct {
		id       int64
		restored int
	}
	for n := range 6 {
		var rows []*row
		for i := range n {
			rows = append(rows, &row{id: int64((i*7 + 3) % 11)})
		}
		got := byActiveID(rows, func(r *row) int64 { r.restored++; return r.id })
		if len(got) != n {
			t.Fatalf("%d rows back, want %d", len(got), n)
		}
		for i, r := range got {
			if r.restored != 1 {
				t.Errorf("row %d restored %d times", r.id, r.restored)
			}
			if i > 0 && got[i-1].id > r.id {
				t.Errorf("rows out of order: %d before %d", got[i-1].id, r.id)
			}
		}
	}
}
