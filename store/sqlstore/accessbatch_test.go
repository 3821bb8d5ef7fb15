package sqlstore

import (
	"context"
	"database/sql"
	"errors"
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
