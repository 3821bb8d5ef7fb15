package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/memberd/memberd/store/sqlite"
	"github.com/memberd/memberd/store/storetest"
)

// BenchmarkChecks runs storetest.BenchChecks, a rough in-process
// comparison of an access check request before and after issue 16:
// go test -run - -bench Checks ./store/sqlite/
func BenchmarkChecks(b *testing.B) {
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	storetest.BenchChecks(b, st, 500)
}
