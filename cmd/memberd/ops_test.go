package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/memberd/memberd/store/sqlite"
)

// startServe runs `serve args...` in-process on a free port and returns
// its base URL and its streams; the server stops when the test ends.
func startServe(t *testing.T, env map[string]string, args ...string) (string, *syncBuffer, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	m := testMain(stdout, stderr, env)
	m.Ready = ready
	done := make(chan error, 1)
	go func() {
		done <- m.Run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...))
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	select {
	case addr := <-ready:
		return "http://" + addr, stdout, stderr
	case err := <-done:
		t.Fatalf("serve stopped: %v\n%s", err, stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not start")
	}
	return "", nil, nil
}

// printed returns the value of a NAME=value line serve printed.
func printed(t *testing.T, out *syncBuffer, name string) string {
	t.Helper()
	for _, line := range strings.Split(out.String(), "\n") {
		if v, ok := strings.CutPrefix(line, name+"="); ok {
			return v
		}
	}
	t.Fatalf("no %s line in %q", name, out.String())
	return ""
}

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// commands are the subcommands this package's flag tests cover.
var commands = []string{"serve", "bootstrap", "signin-link", "config", "offboard",
	"members list", "members show", "members remove", "members restore"}

func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}, {"version"}, {"--version"},
		{"serve", "--help"}, {"bootstrap", "--help"}, {"signin-link", "-h"}, {"config", "--help"}, {"offboard", "--help"},
		{"members", "--help"}, {"members", "list", "--help"}, {"openapi", "--help"}} {
		var stdout, stderr syncBuffer
		if err := testMain(&stdout, &stderr, nil).Run(context.Background(), args); err != nil {
			t.Errorf("%v: %v, want nil (exit 0)", args, err)
		}
	}
	t.Run("ErrNoCommand", func(t *testing.T) {
		var stdout, stderr syncBuffer
		if err := testMain(&stdout, &stderr, nil).Run(context.Background(), nil); err == nil {
			t.Error("no command: nil error, want one (exit 1)")
		}
	})
}

func TestVersion(t *testing.T) {
	var stdout, stderr syncBuffer
	if err := testMain(&stdout, &stderr, nil).Run(context.Background(), []string{"version"}); err != nil {
		t.Fatal(err)
	}
	if got := stdout.String(); !strings.HasPrefix(got, "memberd ") || !strings.Contains(got, "go1.") {
		t.Errorf("version printed %q, want memberd VERSION [revision ...] GOVERSION", got)
	}
	info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "372f0da"}, {Key: "vcs.time", Value: "2026-12-06T00:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	if got, want := formatVersion(info), "memberd v1.2.3 revision 372f0da (modified) committed 2026-12-06T00:00:00Z go1.26.8"; got != want {
		t.Errorf("formatVersion: %q, want %q", got, want)
	}
}

// TestEveryFlagHasEnv holds every flag of every command to an
// environment variable that the README's settings table documents.
func TestEveryFlagHasEnv(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]bool{}
	for _, line := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(line, "| `--") {
			cells := strings.Split(line, "|")
			if len(cells) > 3 {
				rows[strings.TrimSpace(cells[1])+" "+strings.TrimSpace(cells[2])] = true
			}
		}
	}
	for _, cmd := range commands {
		var stdout, stderr syncBuffer
		m := testMain(&stdout, &stderr, nil)
		var fs *flag.FlagSet
		m.flagSets = func(f *flag.FlagSet) { fs = f }
		if err := m.Run(context.Background(), append(strings.Fields(cmd), "--help")); err != nil {
			t.Fatalf("%s --help: %v", cmd, err)
		}
		if fs == nil {
			t.Fatalf("%s registered no flags through parseFlags", cmd)
		}
		fs.VisitAll(func(f *flag.Flag) {
			env := envName(fs.Name(), f.Name)
			if !strings.Contains(stderr.String(), env) {
				t.Errorf("%s --help does not name %s", cmd, env)
			}
			if cmd != "config" && !rows["`--"+f.Name+"` `"+env+"`"] {
				t.Errorf("README's settings table has no row | `--%s` | `%s` | (%s)", f.Name, env, cmd)
			}
		})
	}
	t.Run("EnvSetsFlag", func(t *testing.T) {
		var stdout, stderr syncBuffer
		env := map[string]string{"MEMBERD_RATE_LIMIT": "5", "MEMBERD_DB": "postgres://memberd:hunter2@db.internal/memberd",
			"MEMBERD_LOG_FORMAT": "json"}
		if err := testMain(&stdout, &stderr, env).Run(context.Background(), []string{"config", "--log-format", "text"}); err != nil {
			t.Fatal(err)
		}
		out := stdout.String()
		for _, want := range []string{`rate-limit +5 +env MEMBERD_RATE_LIMIT\n`, `log-format +text +flag\n`,
			`db +postgres://memberd:xxxxx@db.internal/memberd +env MEMBERD_DB\n`, `batch-limit +100 +default\n`} {
			if !regexp.MustCompile(want).MatchString(out) {
				t.Errorf("config printed\n%s\nwant a line with %q", out, want)
			}
		}
		if strings.Contains(out, "hunter2") {
			t.Errorf("config printed the database password:\n%s", out)
		}
	})
	t.Run("ErrBadEnv", func(t *testing.T) {
		var stdout, stderr syncBuffer
		err := testMain(&stdout, &stderr, map[string]string{"MEMBERD_RATE_BURST": "many"}).Run(context.Background(), []string{"config"})
		if err == nil || !strings.Contains(err.Error(), "MEMBERD_RATE_BURST") {
			t.Errorf("got %v, want an error naming MEMBERD_RATE_BURST", err)
		}
	})
}

// TestMetrics scrapes /metrics after a few calls and checks the names
// follow Prometheus conventions and no label carries an id or e-mail.
func TestMetrics(t *testing.T) {
	base, stdout, stderr := startServe(t, nil, "--demo", "--log-format", "json", "--rate-limit", "0",
		"--db", "sqlite:"+filepath.Join(t.TempDir(), "demo.db"))
	token := printed(t, stdout, "MEMBERD_TOKEN")
	if code, body := get(t, base+"/api/v1/members/12", token); code != 200 {
		t.Fatalf("GET member 12: %d %s", code, body)
	}
	req, _ := http.NewRequest(http.MethodDelete, base+"/api/v1/members/12", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if code, _ := get(t, base+"/api/3/sites", "mbd_0123456789abcdef_wrongsecret"); code != 401 {
		t.Fatalf("bad credential answered %d, want 401", code)
	}
	code, body := get(t, base+"/metrics", "")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`memberd_http_requests_total{code="200",interface="native",method="DELETE",route="DELETE /api/v1/members/{member}"} 1`,
		`memberd_http_request_duration_seconds_bucket{interface="native",route="GET /api/v1/members/{member}",le="+Inf"} 1`,
		`memberd_removals_total{interface="native",kind="member",outcome="ok"} 1`,
		`memberd_changes_total{action="member.removed",interface="native",outcome="ok"} 1`,
		`memberd_auth_failures_total{interface="highq"} 1`,
		`memberd_refusals_total{action="request.authenticated",reason="unauthorized"} 1`,
		"memberd_group_commit_calls_bucket", "memberd_group_commit_duration_seconds_bucket",
		`memberd_jobs{state="available"}`, `memberd_db_connections_max{pool="writer"} 1`,
		"go_goroutines", "process_resident_memory_bytes",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
	idLike := regexp.MustCompile(`="[^"]*(@|\b\d{2,}\b|[0-9a-f]{8}-[0-9a-f]{4})[^"]*"`)
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# TYPE ") {
			f := strings.Fields(line)
			name, kind := f[2], f[3]
			if !strings.HasPrefix(name, "memberd_") && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") &&
				!strings.HasPrefix(name, "promhttp_") {
				t.Errorf("metric %s has no memberd_ prefix", name)
			}
			if kind == "counter" && !strings.HasSuffix(name, "_total") {
				t.Errorf("counter %s does not end in _total", name)
			}
			continue
		}
		if strings.HasPrefix(line, "memberd_") {
			labels := regexp.MustCompile(`code="\d+"|le="[^"]*"`).ReplaceAllString(line, "")
			if m := idLike.FindString(labels); m != "" {
				t.Errorf("label %s looks like an id or e-mail: %s", m, line)
			}
		}
	}

	// The access log: one JSON line per request, with the route pattern
	// and the credential's prefix, never its secret.
	var found bool
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(line, token) || strings.Contains(line, "wrongsecret") {
			t.Errorf("a log line holds a secret: %s", line)
		}
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] != "request" || rec["method"] != "DELETE" {
			continue
		}
		found = true
		prefix := strings.Split(token, "_")[1]
		if rec["route"] != "DELETE /api/v1/members/{member}" || rec["status"] != 200.0 || rec["interface"] != "native" ||
			rec["credential"] != prefix || rec["request_id"] == "" || rec["duration"] == nil {
			t.Errorf("access line %s", line)
		}
	}
	if !found {
		t.Errorf("no access line for the DELETE in\n%s", stderr.String())
	}
}

func TestMetricsAddr(t *testing.T) {
	base, _, stderr := startServe(t, nil, "--metrics-addr", "127.0.0.1:0", "--db", "sqlite:"+filepath.Join(t.TempDir(), "m.db"))
	if code, _ := get(t, base+"/metrics", ""); code != http.StatusNotFound {
		t.Errorf("/metrics on the main listener answered %d with --metrics-addr, want 404", code)
	}
	m := regexp.MustCompile(`"?url"?[=:]"?(http://[0-9.:]+/metrics)`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no metrics url logged:\n%s", stderr.String())
	}
	if code, body := get(t, m[1], ""); code != 200 || !strings.Contains(body, "memberd_http_requests_total") {
		t.Errorf("metrics listener: %d\n%.300s", code, body)
	}
}

func TestReadyz(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	running := true
	rd := &readiness{store: st, running: func() bool { return running }}
	probe := func(wantStatus int, wantReason string) {
		t.Helper()
		rec := httptest.NewRecorder()
		rd.serveReady(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		var got struct{ Status, Reason string }
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatalf("readyz body %q: %v", rec.Body.String(), err)
		}
		if rec.Code != wantStatus || !strings.Contains(got.Reason, wantReason) {
			t.Errorf("readyz: %d %+v, want %d with reason %q", rec.Code, got, wantStatus, wantReason)
		}
	}
	probe(http.StatusOK, "")
	running = false
	probe(http.StatusServiceUnavailable, "job workers are not running")
	running = true
	if _, err := st.Writer().ExecContext(ctx, "DELETE FROM goose_db_version WHERE version_id = (SELECT max(version_id) FROM goose_db_version)"); err != nil {
		t.Fatal(err)
	}
	probe(http.StatusServiceUnavailable, "this build needs")
	rd.draining.Store(true)
	probe(http.StatusServiceUnavailable, "shutting down")
	rd.draining.Store(false)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	probe(http.StatusServiceUnavailable, "database unreachable")
}

func TestServeEmptyDatabase(t *testing.T) {
	db := filepath.Join(t.TempDir(), "new", "dir", "memberd.db")
	base, _, stderr := startServe(t, nil, "--db", "sqlite:"+db)
	if code, body := get(t, base+"/readyz", ""); code != 200 {
		t.Errorf("readyz %d %s", code, body)
	}
	if code, _ := get(t, base+"/livez", ""); code != 200 {
		t.Errorf("livez %d", code)
	}
	if _, err := os.Stat(db); err != nil {
		t.Errorf("database in a new directory: %v", err)
	}
	if !strings.Contains(stderr.String(), "memberd bootstrap --org NAME --owner EMAIL") {
		t.Errorf("serve on an empty database did not say how to get a first credential:\n%s", stderr.String())
	}
	t.Run("ErrNotADirectory", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(file, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr syncBuffer
		err := testMain(&stdout, &stderr, nil).Run(context.Background(), []string{"serve", "--db", "sqlite:" + file + "/x.db"})
		if err == nil || !strings.Contains(err.Error(), "is not a directory") {
			t.Errorf("got %v, want a not-a-directory error", err)
		}
	})
}

// TestJobMetrics follows a removal's webhook to a receiver that fails:
// the delivery job's outcome, the failed delivery and its warning show.
func TestJobMetrics(t *testing.T) {
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(receiver.Close)
	base, stdout, stderr := startServe(t, nil, "--demo", "--rate-limit", "0", "--webhook-allow-cidr", "127.0.0.1/32",
		"--db", "sqlite:"+filepath.Join(t.TempDir(), "demo.db"))
	token := printed(t, stdout, "MEMBERD_TOKEN")
	call := func(method, path, body string) int {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := call(http.MethodPost, "/api/v1/webhooks", `{"url":"`+receiver.URL+`/hook","events":["member.removed"]}`); code != http.StatusCreated {
		t.Fatalf("create webhook: %d", code)
	}
	if code := call(http.MethodDelete, "/api/v1/members/40", ""); code != http.StatusOK {
		t.Fatalf("remove member 40: %d", code)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, body := get(t, base+"/metrics", "")
		if strings.Contains(body, `memberd_webhook_deliveries_total{endpoint_status="active",outcome="failed"} 1`) &&
			regexp.MustCompile(`memberd_jobs_finished_total\{kind="[a-z_]+",outcome="completed"\} [1-9]`).MatchString(body) &&
			strings.Contains(body, "memberd_job_duration_seconds_bucket") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failed delivery and completed job in /metrics:\n%s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(stderr.String(), "webhook delivery failed") {
		t.Errorf("no warning for the failed delivery:\n%s", stderr.String())
	}
}

// TestShutdownLogged stops a server and reads what it logged: requests,
// then jobs, drained within the timeout, and a 429 warned about before.
func TestShutdownLogged(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	var stdout, stderr syncBuffer
	m := testMain(&stdout, &stderr, map[string]string{"MEMBERD_SHUTDOWN_TIMEOUT": "5s", "MEMBERD_LOG_FORMAT": "json"})
	m.Ready = ready
	done := make(chan error, 1)
	go func() {
		done <- m.Run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--demo", "--rate-limit", "0.001", "--rate-burst", "1",
			"--db", "sqlite:" + filepath.Join(t.TempDir(), "demo.db")})
	}()
	var base string
	select {
	case addr := <-ready:
		base = "http://" + addr
	case err := <-done:
		t.Fatalf("serve stopped: %v\n%s", err, stderr.String())
	}
	token := printed(t, &stdout, "MEMBERD_TOKEN")
	get(t, base+"/api/v1/members/3", token)
	if code, _ := get(t, base+"/api/v1/members/3", token); code != http.StatusTooManyRequests {
		t.Fatalf("second call answered %d, want 429", code)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop within its shutdown timeout")
	}
	logs := stderr.String()
	for _, want := range []string{`"level":"WARN","msg":"request","method":"GET","route":"GET /api/v1/members/{member}","status":429`,
		`"msg":"shutting down: draining requests, then jobs","timeout":5000000000`, `"msg":"requests drained"`,
		`"msg":"jobs drained"`, `"msg":"stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("no %s in the log:\n%s", want, logs)
		}
	}
}

// TestClientCommandsFromEnv checks that the client commands read their
// flags from the environment too: the CSV named only by
// MEMBERD_OFFBOARD_CSV is the one offboard tries to open.
func TestClientCommandsFromEnv(t *testing.T) {
	var stdout, stderr syncBuffer
	missing := filepath.Join(t.TempDir(), "leavers-from-env.csv")
	env := map[string]string{"MEMBERD_OFFBOARD_CSV": missing, "MEMBERD_TOKEN": "mbd_x", "MEMBERD_SERVER": "http://127.0.0.1:1"}
	err := testMain(&stdout, &stderr, env).Run(context.Background(), []string{"offboard"})
	if err == nil || !strings.Contains(err.Error()+stderr.String(), "leavers-from-env.csv") {
		t.Fatalf("offboard with MEMBERD_OFFBOARD_CSV: %v\n%s", err, stderr.String())
	}
	err = testMain(&stdout, &stderr, map[string]string{"MEMBERD_MEMBERS_LIST_LIMIT": "many"}).Run(context.Background(), []string{"members", "list"})
	if err == nil || !strings.Contains(err.Error(), "MEMBERD_MEMBERS_LIST_LIMIT") {
		t.Fatalf("members list with a bad MEMBERD_MEMBERS_LIST_LIMIT: %v", err)
	}
}
