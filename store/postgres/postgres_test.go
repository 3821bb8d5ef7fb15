package postgres_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/memberd/memberd/internal/pgtest"
	"github.com/memberd/memberd/store/postgres"
	"github.com/memberd/memberd/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestStore runs the conformance suite on a fresh database per test of a
// throwaway PostgreSQL cluster. Without PostgreSQL it skips, except under
// CI=true, where pgtest fails it instead. It runs with group commit (the
// default) and with a transaction per Update, which is how the Updates of
// several nodes meet: that mode exercises the row locks and deadlock
// retries that keep concurrent removals of one member apart.
func TestStore(t *testing.T) {
	newDatabase := templateDatabases(t)
	modes := []struct {
		name string
		opt  postgres.Option
	}{
		{"GroupCommit", postgres.WithGroupCommit(true)},
		{"TxPerUpdate", postgres.WithGroupCommit(false)},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			storetest.Run(t, opener(newDatabase, mode.opt))
		})
	}
}

var copies atomic.Int64

// templateDatabases migrates one database from pgtest and returns a
// function that hands out copies of it (CREATE DATABASE ... TEMPLATE), each
// dropped when its test ends. A copy costs what an empty database does,
// while migrating each test's database would cost most of the suite's time.
// postgres.Open still runs the migrations on every copy, and finds them done.
func templateDatabases(t *testing.T) func(tb testing.TB) string {
	t.Helper()
	ctx := context.Background()
	templateDSN := pgtest.NewDatabase(t)
	st, err := postgres.Open(ctx, templateDSN)
	if err != nil {
		t.Fatalf("migrate template database: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("close template database: %v", err)
	}
	u, err := url.Parse(templateDSN)
	if err != nil {
		t.Fatalf("template dsn: %v", err)
	}
	template := strings.TrimPrefix(u.Path, "/")
	dsn := func(db string) string {
		c := *u
		c.Path = "/" + db
		return c.String()
	}

	exec := func(sql string) error {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn("postgres"))
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(ctx, sql)
		return err
	}
	return func(tb testing.TB) string {
		tb.Helper()
		name := fmt.Sprintf("%s_copy%d", template, copies.Add(1))
		id := pgx.Identifier{name}.Sanitize()
		if err := exec("CREATE DATABASE " + id + " TEMPLATE " + pgx.Identifier{template}.Sanitize()); err != nil {
			tb.Fatalf("copy template database: %v", err)
		}
		tb.Cleanup(func() {
			// Whatever the test wrote, no member flagged as holding no
			// grant or booking holds one (migration 00023).
			if conn, err := pgx.Connect(ctx, dsn(name)); err != nil {
				tb.Errorf("check the flags of %s: %v", name, err)
			} else {
				if grants, bookings, err := heldUnflagged(ctx, conn); err != nil {
					tb.Errorf("check the flags of %s: %v", name, err)
				} else if grants != 0 || bookings != 0 {
					tb.Errorf("%d active direct grants and %d active bookings belong to members whose flag says none", grants, bookings)
				}
				conn.Close(ctx)
			}
			if err := exec("DROP DATABASE IF EXISTS " + id + " WITH (FORCE)"); err != nil {
				tb.Errorf("drop database %s: %v", name, err)
			}
		})
		return dsn(name)
	}
}
