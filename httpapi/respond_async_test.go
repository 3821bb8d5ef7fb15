package httpapi

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/memberd/memberd/membership"
)

// TestRespondAsync: Prefer: respond-async on offboarding and on undo
// answers 202 with Preference-Applied, the operation and its Location;
// polled, the operation ends with the synchronous answers' results.
func TestRespondAsync(t *testing.T) {
	e := newEnv(t, runJobs)
	bob := e.addMember("bob@acme.test", membership.RoleMember)
	r := e.must(202, "POST", "/api/v1/members/bob@acme.test/offboard", e.owner, nil, "Prefer", "respond-async")
	if r.Header.Get("Preference-Applied") != "respond-async" || !strings.HasPrefix(r.Header.Get("Location"), "/api/v1/operations/") {
		t.Fatalf("headers %v", r.Header)
	}
	op := poll(t, e, r.Header.Get("Location"))
	if op.Status != membership.OperationSucceeded || op.Result == nil || op.Result.Member.ID != bob.ID || op.Progress == nil || op.Progress.RemovalID == "" {
		t.Fatalf("operation %+v", op)
	}
	if e.memberStatus(bob.ID) != membership.StatusRemoved {
		t.Fatal("bob is not removed")
	}
	r = e.must(202, "POST", "/api/v1/removals/"+op.Progress.RemovalID+"/undo", e.owner, nil, "Prefer", "respond-async")
	if r.Header.Get("Preference-Applied") != "respond-async" {
		t.Fatalf("headers %v", r.Header)
	}
	if undo := poll(t, e, r.Header.Get("Location")); undo.Status != membership.OperationSucceeded {
		t.Fatalf("undo operation %+v", undo)
	}
	if e.memberStatus(bob.ID) != membership.StatusActive {
		t.Fatal("bob is not back")
	}
	var rm membership.Removal
	if err := json.Unmarshal(e.must(200, "GET", "/api/v1/removals/"+op.Progress.RemovalID, e.owner, nil).Body, &rm); err != nil {
		t.Fatal(err)
	}
	if rm.Undo == nil || rm.Undo.Restored != 1 {
		t.Fatalf("removal %+v", rm)
	}
	// A dry run answers at once, whatever the preference.
	e.must(200, "POST", "/api/v1/members/bob@acme.test/offboard", e.owner, map[string]any{"dry_run": true}, "Prefer", "respond-async")
}

func poll(t *testing.T, e *env, loc string) *membership.Operation {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var op membership.Operation
		if err := json.Unmarshal(e.must(200, "GET", loc, e.owner, nil).Body, &op); err != nil {
			t.Fatal(err)
		}
		if op.Status.Done() || time.Now().After(deadline) {
			return &op
		}
		time.Sleep(20 * time.Millisecond)
	}
}
