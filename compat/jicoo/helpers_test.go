package jicoo

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/internal/dialecttest"
	"github.com/memberd/memberd/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// bundle is a demo organization served by a Jicoo handler on loopback,
// mounted as cmd/memberd mounts it, taking keys in Jicoo's header.
type bundle struct {
	*dialecttest.Env
	dialecttest.Requester
}

// newBundle loads the demo into a fresh database on engine ("sqlite" or
// "postgres"); the demo's ids are the same on both.
func newBundle(tb testing.TB, engine string, limits auth.Limits) *bundle {
	tb.Helper()
	b := &bundle{Env: dialecttest.Load(tb, engine, time.Time{})}
	b.Srv = dialecttest.Serve(tb, Prefix, NewHandler(b.Svc, auth.New(b.Svc, limits)))
	b.Authorize = func(req *http.Request, key string) { req.Header.Set("X-Jicoo-Api-Key", key) }
	return b
}

// golden compares got with testdata/name.golden.
func golden(tb testing.TB, name, got string) {
	tb.Helper()
	dialecttest.Golden(tb, filepath.Join("testdata", name+".golden"), []byte(got))
}
