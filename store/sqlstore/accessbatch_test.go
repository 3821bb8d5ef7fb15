package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeRows are a batched statement's rows: (ordinal, kind, a, b, c, d).
type fakeRows struct {
	rows [][6]int64
	at   int
}

func (r *fakeRows) Next() bool { r.at++; return r.at <= len(r.rows) }
func (r *fakeRows) Err() error { return nil }
func (r *fakeRows) Close()     {}
func (r *fakeRows) Scan(dest ...any) error {
	row := r.rows[r.at-1]
	*dest[0].(*int), *dest[1].(*int) = int(row[0]), int(row[1])
	for k, v := range row[2:] {
		*dest[2+k].(*sql.NullInt64) = sql.NullInt64{Int64: v, Valid: true}
	}
	return nil
}

// TestAccessBatcher: checks that arrive while one is in flight wait for
// it and then go as one statement whose rows each of them gets its own
// of; a caller that stops waiting is dropped from the batch and fails no
// other; a failing batch fails each of its checks.
func TestAccessBatcher(t *testing.T) {
	sh := accessCheckShape{member: 'i', resource: 'i'}
	var mu sync.Mutex
	var queries []string
	fail := false
	b := NewAccessBatcher(func(_ context.Context, q string, args ...any) (Rows, error) {
		mu.Lock()
		defer mu.Unlock()
		queries = append(queries, q)
		if fail {
			return nil, errors.New("boom")
		}
		members := args[1].([]int64)
		r := &fakeRows{}
		for i, m := range members { // two rows each, as a check with one path
			r.rows = append(r.rows, [6]int64{int64(i + 1), 0, m, 0, 0, 0}, [6]int64{int64(i + 1), 1, m, 0, 0, 0})
		}
		return r, nil
	}, 1)
	idle := func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		l := b.lanes[sh]
		return l == nil || l.busy == 0 && len(l.queue) == 0
	}
	settle := func() {
		for deadline := time.Now().Add(5 * time.Second); !idle(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the batcher stays busy with nothing to do")
			}
		}
	}
	for round, wantErr := range []bool{false, true} {
		settle()
		mu.Lock()
		fail = wantErr
		mu.Unlock()
		inFlight, release := make(chan struct{}), make(chan struct{})
		lone := make(chan error)
		go func() {
			_, batched, err := b.check(context.Background(), sh, []any{int64(1), int64(100)}, func() error {
				close(inFlight)
				<-release
				return nil
			})
			if batched {
				err = errors.New("the lone check was batched")
			}
			lone <- err
		}()
		<-inFlight
		type result struct {
			rows []accessRow
			err  error
		}
		results := make([]chan result, 4)
		cancelled, cancel := context.WithCancel(context.Background())
		for i := range results {
			results[i] = make(chan result, 1)
			ctx := context.Background()
			if i == 2 {
				ctx = cancelled
			}
			go func() {
				rows, batched, err := b.check(ctx, sh, []any{int64(1), int64(i + 1)}, func() error {
					return errors.New("ran alone while another was in flight")
				})
				if !batched && err == nil {
					err = errors.New("not batched")
				}
				results[i] <- result{rows, err}
			}()
		}
		// All four wait behind the lone one; then one gives up.
		for {
			b.mu.Lock()
			n := len(b.lanes[sh].queue)
			b.mu.Unlock()
			if n == len(results) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		cancel()
		if r := <-results[2]; !errors.Is(r.err, context.Canceled) {
			t.Errorf("round %d: the cancelled check: %v, want its cancellation", round, r.err)
		}
		close(release)
		if err := <-lone; err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for i, ch := range results {
			if i == 2 {
				continue
			}
			r := <-ch
			switch {
			case wantErr:
				if r.err == nil || !strings.Contains(r.err.Error(), "boom") {
					t.Errorf("round %d, check %d: %v, want the batch's error", round, i, r.err)
				}
			case r.err != nil:
				t.Errorf("round %d, check %d: %v", round, i, r.err)
			case len(r.rows) != 2 || r.rows[0].a.Int64 != int64(i+1) || r.rows[1].a.Int64 != int64(i+1):
				t.Errorf("round %d, check %d: rows %+v, want two of member %d", round, i, r.rows, i+1)
			}
		}
		mu.Lock()
		if len(queries) != round+1 || !strings.Contains(queries[round], "unnest(") {
			t.Errorf("round %d: statements %q, want one batched statement a round", round, queries)
		}
		mu.Unlock()
	}
	settle()
}

// TestAccessBatcherEarly: accessBatchEarly checks waiting behind a
// statement in flight go at once as a statement of their own, each with
// its own rows; with that one in flight too, further checks wait, however
// many: one statement above the bound at most.
func TestAccessBatcherEarly(t *testing.T) {
	sh := accessCheckShape{member: 'i', resource: 'i'}
	gate := make(chan struct{})
	var mu sync.Mutex
	statements := 0
	b := NewAccessBatcher(func(_ context.Context, _ string, args ...any) (Rows, error) {
		mu.Lock()
		statements++
		n := statements
		mu.Unlock()
		if n > 1 {
			<-gate // the second batch waits, holding the lane's last slot
		}
		r := &fakeRows{}
		for i, m := range args[1].([]int64) {
			r.rows = append(r.rows, [6]int64{int64(i + 1), 0, m, 0, 0, 0})
		}
		return r, nil
	}, 1)
	inFlight, release, lone := make(chan struct{}), make(chan struct{}), make(chan error)
	go func() {
		_, _, err := b.check(context.Background(), sh, []any{int64(1), int64(100)}, func() error {
			close(inFlight)
			<-release
			return nil
		})
		lone <- err
	}()
	<-inFlight
	run := func(first, n int) []chan error {
		done := make([]chan error, n)
		for i := range done {
			done[i] = make(chan error, 1)
			m := int64(first + i)
			go func() {
				rows, batched, err := b.check(context.Background(), sh, []any{int64(1), m}, func() error {
					return errors.New("ran alone while another was in flight")
				})
				if err == nil && (!batched || len(rows) != 1 || rows[0].a.Int64 != m) {
					err = errors.New("not its own batched row")
				}
				done[i] <- err
			}()
		}
		return done
	}
	for i, ch := range run(1, accessBatchEarly) { // while the lone one is held
		select {
		case err := <-ch:
			if err != nil {
				t.Fatalf("early check %d: %v", i, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("early check %d waits for the statement in flight", i)
		}
	}
	// The lone one still held: the first early batch of these holds the
	// gate, and the rest must wait behind the two.
	more := run(1000, 2*accessBatchEarly)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		b.mu.Lock()
		busy, waiting := b.lanes[sh].busy, len(b.lanes[sh].queue)
		b.mu.Unlock()
		mu.Lock()
		n := statements
		mu.Unlock()
		if waiting == accessBatchEarly && n == 2 {
			if busy != 2 {
				t.Fatalf("%d statements in flight, want 2", busy)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d checks wait, want %d", waiting, accessBatchEarly)
		}
	}
	time.Sleep(10 * time.Millisecond) // room for a third statement, which must not start
	mu.Lock()
	if statements != 2 {
		t.Errorf("%d statements, want 2 (one early batch each time)", statements)
	}
	mu.Unlock()
	close(gate)
	close(release)
	if err := <-lone; err != nil {
		t.Fatal(err)
	}
	for i, ch := range more {
		if err := <-ch; err != nil {
			t.Errorf("check %d: %v", i, err)
		}
	}
}

// TestAccessBatchShared: a batch's context (organization, the credential
// and its epoch) goes once only when every check has the same,
// and the statement then names it as a scalar and the rest as arrays.
func TestAccessBatchShared(t *testing.T) {
	calls := func(args ...[]any) []*accessCall {
		var out []*accessCall
		for _, a := range args {
			out = append(out, &accessCall{args: a})
		}
		return out
	}
	cred := accessCheckShape{member: 'i', resource: 'u', credential: true}
	since := accessCheckShape{member: 'u', resource: 'i', since: true}
	for _, c := range []struct {
		name  string
		sh    accessCheckShape
		calls []*accessCall
		want  []bool
	}{
		{"one context", cred, calls([]any{int64(1), int64(5), "r1", int64(9), int64(40)}, []any{int64(1), int64(6), "r2", int64(9), int64(40)}),
			[]bool{true, false, false, true, true}},
		{"the same member and resource", cred, calls([]any{int64(1), int64(5), "r1", int64(9), int64(40)}, []any{int64(1), int64(5), "r1", int64(9), int64(40)}),
			[]bool{true, false, false, true, true}},
		{"two organizations", cred, calls([]any{int64(1), int64(5), "r1", int64(9), int64(40)}, []any{int64(2), int64(6), "r2", int64(9), int64(40)}), nil},
		{"two credentials", cred, calls([]any{int64(1), int64(5), "r1", int64(9), int64(40)}, []any{int64(1), int64(6), "r2", int64(8), int64(40)}), nil},
		{"two credential epochs", cred, calls([]any{int64(1), int64(5), "r1", int64(9), int64(40)}, []any{int64(1), int64(6), "r2", int64(9), int64(41)}), nil},
		{"one Since", since, calls([]any{int64(1), "m1", int64(3), int64(40)}, []any{int64(1), "m2", int64(4), int64(40)}), []bool{true, false, false, false}},
		{"two Since", since, calls([]any{int64(1), "m1", int64(3), int64(40)}, []any{int64(1), "m2", int64(4), int64(41)}), []bool{true, false, false, false}},
		{"Since and credential", accessCheckShape{member: 'i', resource: 'i', since: true, credential: true},
			calls([]any{int64(1), int64(5), int64(3), int64(-1), int64(9), int64(40)}, []any{int64(1), int64(6), int64(4), int64(40), int64(9), int64(40)}),
			[]bool{true, false, false, false, true, true}},
		{"nothing checked", accessCheckShape{since: true}, calls([]any{int64(1), int64(40)}, []any{int64(1), int64(40)}), nil},
	} {
		got := accessBatchShared(c.sh, c.calls)
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: shared %v, want %v", c.name, got, c.want)
			continue
		}
		q, args := accessBatchQuery(c.sh, c.calls)
		for k, a := range args {
			_, array := a.([]int64)
			if _, ok := a.([]string); ok {
				array = true
			}
			n := fmt.Sprint("$", k+1)
			scalar := c.want != nil && c.want[k]
			switch {
			case array == scalar:
				t.Errorf("%s: argument %d is %v", c.name, k+1, a)
			case scalar && (!strings.Contains(q, "CAST("+n+" AS ") || strings.Contains(q, n+"::")):
				t.Errorf("%s: %s is not passed once in %s", c.name, n, q)
			case !scalar && !strings.Contains(q, n+"::"+argType(c.calls[0].args[k])+"[]"):
				t.Errorf("%s: %s is not an array in %s", c.name, n, q)
			}
		}
	}
}
