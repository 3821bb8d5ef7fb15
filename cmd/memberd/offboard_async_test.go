package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/memberd/memberd/internal/pgtest"
	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/postgres"
	"github.com/memberd/memberd/store/sqlite"
)

// TestCrashDuringAsyncOffboarding kills the real binary with SIGKILL while
// a background offboarding (Prefer: respond-async) of a large member is
// half-way through its chunks, restarts it on the same database, and
// checks that the operation finishes where it stopped with the end state
// and report of a synchronous offboarding of an identical member.
func TestCrashDuringAsyncOffboarding(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) { crashDuringAsyncOffboarding(t, engine) })
	}
}

// Sizes of each of the two identical large members.
const (
	bigSpaces    = 600
	bigGroups    = 150
	bigResources = 300
)

func crashDuringAsyncOffboarding(t *testing.T, engine string) {
	var dsn string
	if engine == "sqlite" {
		dsn = "sqlite:" + filepath.Join(t.TempDir(), "async.db")
	} else {
		dsn = pgtest.NewDatabase(t)
	}
	flags := []string{"--offboard-chunk", "5", "--job-timeout", "3s", "--job-rescue-after", "4s"}
	srv := startServer(t, dsn, true, flags...)
	token := srv.token
	srv.kill()
	syncID, asyncID := seedBigMembers(t, dsn)
	srv = startServer(t, dsn, false, flags...)
	srv.token = token
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	status, body, _ := srv.send(ctx, http.MethodPost, fmt.Sprintf("/api/v1/members/%d/offboard", syncID), nil)
	if status != http.StatusOK {
		t.Fatalf("synchronous offboarding: %d %s", status, body)
	}
	var syncReport membership.Report
	if err := json.Unmarshal(body, &syncReport); err != nil {
		t.Fatal(err)
	}

	status, body, hdr := srv.send(ctx, http.MethodPost, fmt.Sprintf("/api/v1/members/%d/offboard", asyncID),
		map[string]string{"Prefer": "respond-async"})
	if status != http.StatusAccepted || hdr.Get("Preference-Applied") != "respond-async" {
		t.Fatalf("background offboarding: %d %v %s", status, hdr, body)
	}
	loc := hdr.Get("Location")
	if !strings.HasPrefix(loc, "/api/v1/operations/") {
		t.Fatalf("Location %q", loc)
	}
	total := bigSpaces + bigGroups + bigResources + 1
	var seen *membership.Operation
	for seen == nil || seen.Progress == nil || seen.Progress.Done < total/10 {
		if ctx.Err() != nil {
			t.Fatal("the operation made no progress")
		}
		seen = getOperation(t, ctx, srv, loc)
		if seen.Status.Done() {
			t.Fatalf("the operation finished (%s) before the kill; make the member larger", seen.Status)
		}
		time.Sleep(2 * time.Millisecond)
	}
	srv.kill()
	if seen.Progress.Done >= total {
		t.Fatalf("progress %+v at the kill", seen.Progress)
	}

	srv = startServer(t, dsn, false, flags...)
	srv.token = token
	after := getOperation(t, ctx, srv, loc)
	if after.Progress == nil || after.Progress.Done < seen.Progress.Done || after.Progress.Done >= total {
		t.Fatalf("after the restart the progress is %+v, before the kill %+v", after.Progress, seen.Progress)
	}
	t.Logf("killed at %d of %d; %d committed before the kill", seen.Progress.Done, total, after.Progress.Done)
	for !after.Status.Done() {
		if ctx.Err() != nil {
			t.Fatalf("the operation is still %s: %+v", after.Status, after.Progress)
		}
		time.Sleep(100 * time.Millisecond)
		after = getOperation(t, ctx, srv, loc)
	}
	if after.Status != membership.OperationSucceeded || after.Result == nil {
		t.Fatalf("operation %s: %+v", after.Status, after.Error)
	}
	if after.Progress.Done != total || after.Progress.RemovalID == "" || len(after.Progress.SpacesDone) != bigSpaces {
		t.Errorf("final progress %+v", after.Progress)
	}
	if diff := cmp.Diff(syncReport.Counts, after.Result.Counts); diff != "" {
		t.Errorf("report counts (-sync +async):\n%s", diff)
	}
	if diff := cmp.Diff(memberState(t, ctx, srv, syncID), memberState(t, ctx, srv, asyncID)); diff != "" {
		t.Errorf("end state (-sync +async):\n%s", diff)
	}
}

// seedBigMembers adds two identical members to the database's demo
// organization: each in bigSpaces spaces, bigGroups groups (each with a
// grant) and with bigResources direct grants.
func seedBigMembers(t *testing.T, dsn string) (int64, int64) {
	t.Helper()
	ctx := context.Background()
	var st membership.Store
	var err error
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		st, err = sqlite.Open(ctx, path)
	} else {
		st, err = postgres.Open(ctx, dsn)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC().Truncate(time.Microsecond)
	var ids [2]int64
	err = st.Update(ctx, func(tx membership.Tx) error {
		for i := range ids {
			u, err := tx.UserUpsert(ctx, fmt.Sprintf("big%d@acme.test", i), "Big")
			if err != nil {
				return err
			}
			m := &membership.Member{UUID: membership.NewUUID(), OrgID: 1, Email: u.Email, Name: u.Name, Role: membership.RoleMember,
				Status: membership.StatusActive, AddedBy: 1, CreatedAt: now, UpdatedAt: now}
			if err := tx.MemberCreate(ctx, u.ID, m); err != nil {
				return err
			}
			ids[i] = m.ID
		}
		for i := range bigSpaces {
			sp := &membership.Space{UUID: membership.NewUUID(), OrgID: 1, Name: fmt.Sprintf("Big space %d", i), CreatedAt: now}
			if err := tx.SpaceCreate(ctx, sp); err != nil {
				return err
			}
			for _, id := range ids {
				if err := tx.SpaceMemberAdd(ctx, &membership.SpaceMember{UUID: membership.NewUUID(), OrgID: 1, SpaceID: sp.ID, MemberID: id,
					Roles: []string{"viewer"}, Status: membership.StatusActive, AddedBy: 1, CreatedAt: now}); err != nil {
					return err
				}
			}
		}
		for i := range bigResources {
			r := &membership.Resource{UUID: membership.NewUUID(), OrgID: 1, Kind: "desk", Name: fmt.Sprintf("Big desk %d", i), CreatedAt: now}
			if err := tx.ResourceCreate(ctx, r); err != nil {
				return err
			}
			for _, id := range ids {
				if err := tx.GrantCreate(ctx, &membership.Grant{UUID: membership.NewUUID(), OrgID: 1, ResourceID: r.ID, MemberID: id,
					Status: membership.StatusActive, CreatedAt: now}); err != nil {
					return err
				}
			}
			if i >= bigGroups {
				continue
			}
			g := &membership.Group{UUID: membership.NewUUID(), OrgID: 1, Name: fmt.Sprintf("Big group %d", i), CreatedAt: now}
			if err := tx.GroupCreate(ctx, g); err != nil {
				return err
			}
			if err := tx.GrantCreate(ctx, &membership.Grant{UUID: membership.NewUUID(), OrgID: 1, ResourceID: r.ID, GroupID: g.ID,
				Status: membership.StatusActive, CreatedAt: now}); err != nil {
				return err
			}
			for _, id := range ids {
				if err := tx.GroupMemberAdd(ctx, &membership.GroupMember{OrgID: 1, GroupID: g.ID, MemberID: id,
					Status: membership.StatusActive, AddedBy: 1, CreatedAt: now}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	return ids[0], ids[1]
}

// send makes a request with the server's token and extra headers.
func (s *server) send(ctx context.Context, method, path string, header map[string]string) (int, []byte, http.Header) {
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, nil)
	if err != nil {
		panic(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, []byte(err.Error()), nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return resp.StatusCode, body, resp.Header
}

func getOperation(t *testing.T, ctx context.Context, s *server, loc string) *membership.Operation {
	t.Helper()
	status, body, _ := s.send(ctx, http.MethodGet, loc, nil)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", loc, status, body)
	}
	var op membership.Operation
	if err := json.Unmarshal(body, &op); err != nil {
		t.Fatal(err)
	}
	return &op
}

// memberState is a member's end state in terms two identical members
// share: statuses by space and group, access left, roles left.
func memberState(t *testing.T, ctx context.Context, s *server, id int64) map[string]int {
	t.Helper()
	status, body, _ := s.send(ctx, http.MethodGet, fmt.Sprintf("/api/v1/members/%d/history", id), nil)
	if status != http.StatusOK {
		t.Fatalf("history of %d: %d %s", id, status, body)
	}
	var h membership.MemberHistory
	if err := json.Unmarshal(body, &h); err != nil {
		t.Fatal(err)
	}
	st := map[string]int{"member " + string(h.Member.Status): 1}
	for _, sm := range h.Spaces {
		st[fmt.Sprintf("space %d %s %v", sm.SpaceID, sm.Status, sm.Roles)]++
	}
	for _, gm := range h.Groups {
		st[fmt.Sprintf("group %d %s", gm.GroupID, gm.Status)]++
	}
	status, body, _ = s.send(ctx, http.MethodGet, fmt.Sprintf("/api/v1/members/%d/access", id), nil)
	if status != http.StatusOK {
		t.Fatalf("access of %d: %d %s", id, status, body)
	}
	var access struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(body, &access); err != nil {
		t.Fatal(err)
	}
	st["access"] = len(access.Items)
	return st
}
