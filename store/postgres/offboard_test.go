package postgres_test

import (
	"context"
	"testing"

	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/postgres"
	"github.com/memberd/memberd/store/storetest"
)

// Statements of a bounded offboarding (the bench's S4) on PostgreSQL,
// where each is a round trip: the lock with the acting member's role,
// the member's status and period, one statement each that ends the space
// memberships, the group memberships and the direct grants and returns
// the listed ones with their counts, one that lists the first grants of
// the groups left and counts them all, the bookings, the removal policy (the webhook
// endpoints come from the cache the lock proved current), the removal
// log and the event. The dry run writes neither the log nor the event
// but reads the keys of every grant for its plan tag: those of the
// direct grants in the statement that revokes them, those of the groups'
// grants in one more.
const (
	maxPostgresOffboardStatements       = 10
	maxPostgresOffboardDryRunStatements = 9
)

func TestOffboardStatements(t *testing.T) {
	newDatabase := templateDatabases(t)
	dry, removal := storetest.OffboardStatements(t, opener(newDatabase))
	if dry > maxPostgresOffboardDryRunStatements {
		t.Errorf("statements of one offboarding's dry run: got %d, want at most %d", dry, maxPostgresOffboardDryRunStatements)
	}
	if removal > maxPostgresOffboardStatements {
		t.Errorf("statements of one offboarding: got %d, want at most %d", removal, maxPostgresOffboardStatements)
	}
}

// opener opens a store on a fresh database from newDatabase for each
// test, closed when the test ends.
func opener(newDatabase func(testing.TB) string, opts ...postgres.Option) storetest.Opener {
	return func(tb testing.TB) membership.Store {
		tb.Helper()
		st, err := postgres.Open(context.Background(), newDatabase(tb), opts...)
		if err != nil {
			tb.Fatalf("open postgres: %v", err)
		}
		tb.Cleanup(func() {
			if err := st.Close(); err != nil {
				tb.Errorf("close postgres: %v", err)
			}
		})
		return st
	}
}
