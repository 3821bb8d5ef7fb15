package bench

import (
	"slices"
	"testing"
)

// eventInsert is a recorded chained-event INSERT of rows (id, seq) pairs,
// with the store's argument layout; withHead adds the chain head's
// modifying CTE as PostgreSQL writes it.
func eventInsert(withHead bool, rows ...[2]int64) Stmt {
	var args []any
	for _, r := range rows {
		row := make([]any, eventColumns)
		row[0], row[seqColumn] = r[0], r[1]
		args = append(args, row...)
	}
	q := "INSERT INTO events (id, uuid, org_id) VALUES (...)"
	if withHead {
		q = "WITH chained AS (" + q + ") UPDATE event_chain_heads SET seq = $61"
		args = append(args, rows[len(rows)-1][1], "hash", int64(1))
	}
	return Stmt{Query: q, Args: args}
}

func idsAndSeqs(s Stmt) (ids, seqs []int64) {
	for k := 0; k+eventColumns <= len(s.Args); k += eventColumns {
		ids, seqs = append(ids, s.Args[k].(int64)), append(seqs, s.Args[k+seqColumn].(int64))
	}
	return ids, seqs
}

// Recordings made from the same state number their events alike; replayed
// in order, each must come after the ones before it, in ids where they
// collide (SQLite) and in chain positions always, without touching ids
// that are already distinct (PostgreSQL's sequence).
func TestRechain(t *testing.T) {
	head := Stmt{Query: "UPDATE event_chain_heads SET seq = $1, hash = $2 WHERE org_id = $3", Args: []any{int64(12), "h", int64(1)}}
	sqlite := [][]Stmt{
		{{Query: "SELECT 1", Rows: true}, eventInsert(false, [2]int64{101, 11}, [2]int64{102, 12}), head},
		{eventInsert(false, [2]int64{101, 11}, [2]int64{102, 12}), head},
		{eventInsert(false, [2]int64{101, 11}), {Query: head.Query, Args: []any{int64(11), "h", int64(1)}}},
	}
	got := rechain(sqlite)
	for i, want := range []struct{ ids, seqs []int64 }{{[]int64{101, 102}, []int64{11, 12}}, {[]int64{103, 104}, []int64{13, 14}}, {[]int64{105}, []int64{15}}} {
		var ins, adv Stmt
		for _, s := range got[i] {
			switch s.Query {
			case head.Query:
				adv = s
			case "SELECT 1":
			default:
				ins = s
			}
		}
		ids, seqs := idsAndSeqs(ins)
		if !slices.Equal(ids, want.ids) || !slices.Equal(seqs, want.seqs) {
			t.Errorf("op %d: ids %v seqs %v, want %v %v", i, ids, seqs, want.ids, want.seqs)
		}
		if adv.Args[0].(int64) != want.seqs[len(want.seqs)-1] {
			t.Errorf("op %d: chain head moved to %v, want %d", i, adv.Args[0], want.seqs[len(want.seqs)-1])
		}
	}
	if sqlite[1][0].Args[0].(int64) != 101 {
		t.Error("rechain changed the recording it was given")
	}

	pg := rechain([][]Stmt{
		{eventInsert(true, [2]int64{500, 7})},
		{eventInsert(true, [2]int64{501, 7}, [2]int64{502, 8})},
	})
	ids, seqs := idsAndSeqs(Stmt{Args: pg[1][0].Args[:2*eventColumns]})
	if !slices.Equal(ids, []int64{501, 502}) || !slices.Equal(seqs, []int64{8, 9}) {
		t.Errorf("postgres op 1: ids %v seqs %v, want [501 502] [8 9]", ids, seqs)
	}
	if h := pg[1][0].Args[2*eventColumns].(int64); h != 9 {
		t.Errorf("postgres op 1: chain head %d, want 9", h)
	}
}
