package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

// TestPlanStable checks that every connection the store opens, writer and
// readers, runs with the query planner stability guarantee, so that its
// cached statements are never compiled again because of a bound value.
func TestPlanStable(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "plan.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for name, db := range map[string]*sql.DB{"writer": s.writer, "reader": s.reader} {
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		err = conn.Raw(func(dc any) error {
			on, err := connPlanStable(dc)
			if err != nil {
				return err
			}
			if on != 1 {
				t.Errorf("%s: ENABLE_QPSG = %d, want 1", name, on)
			}
			return nil
		})
		conn.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
}
