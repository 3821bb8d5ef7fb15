package wiggledesk

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

// bundle is a demo organization served by a WiggleDesk handler on
// loopback, mounted as cmd/memberd mounts it, taking DRF's token header.
type bundle struct {
	*dialecttest.Env
	dialecttest.Requester
}

func newBundle(tb testing.TB, engine string, limits auth.Limits) *bundle {
	tb.Helper()
	b := &bundle{Env: dialecttest.Load(tb, engine, time.Time{})}
	b.Srv = dialecttest.Serve(tb, Path, NewHandler(b.Svc, auth.New(b.Svc, limits)))
	b.Authorize = func(req *http.Request, token string) { req.Header.Set("Authorization", "token "+token) }
	return b
}

// golden compares got with testdata/name.golden, a response dump.
func golden(tb testing.TB, name, got string) {
	tb.Helper()
	dialecttest.Golden(tb, filepath.Join("testdata", name+".golden"), []byte(got))
}
