package httpapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/memberd/memberd/membership"
)

// TestRoutes drives every route's happy path in one story and then checks
// that the story reached every route the mux serves, so a route added
// without a happy-path test fails here.
func TestRoutes(t *testing.T) {
	// The job runner runs, so that webhook deliveries are made and can be
	// redelivered.
	e := newEnv(t, runJobs)
	covered := map[string]bool{}
	// step calls method path as the owner, expects want and marks pattern covered.
	step := func(want int, method, pattern, path string, body any) *response {
		t.Helper()
		r := e.must(want, method, path, e.owner, body)
		covered[method+" "+Prefix+pattern] = true
		return r
	}
	id := func(v int64) string { return fmt.Sprint(v) }

	org := decode[membership.Organization](t, step(200, "GET", "/organization", "/api/v1/organization", nil))
	if org.ID != e.org.Organization.ID || org.Name != "Acme" {
		t.Fatalf("organization %+v, want Acme #%d", org, e.org.Organization.ID)
	}

	// Members.
	r := step(201, "POST", "/members", "/api/v1/members", map[string]any{"email": "Bob@Acme.test", "name": "Bob", "role": "member"})
	bob := decode[membership.Member](t, r)
	if bob.Email != "bob@acme.test" || bob.Role != membership.RoleMember || bob.Status != membership.StatusActive {
		t.Fatalf("added %+v", bob)
	}
	if loc := r.Header.Get("Location"); loc != "/api/v1/members/"+id(bob.ID) {
		t.Fatalf("Location %q", loc)
	}
	for _, ref := range []string{id(bob.ID), bob.UUID, "BOB@acme.test", url.PathEscape("bob@acme.test")} {
		got := decode[membership.Member](t, step(200, "GET", "/members/{member}", "/api/v1/members/"+ref, nil))
		if got.ID != bob.ID {
			t.Fatalf("GET member %s: got #%d, want #%d", ref, got.ID, bob.ID)
		}
	}
	page := decode[memberPage](t, step(200, "GET", "/members", "/api/v1/members?status=active&limit=1", nil))
	if len(page.Items) != 1 || page.NextAfter != page.Items[0].ID {
		t.Fatalf("first page %+v: want one member and next_after", page)
	}
	page = decode[memberPage](t, step(200, "GET", "/members", fmt.Sprintf("/api/v1/members?after=%d&limit=1", page.NextAfter), nil))
	if len(page.Items) != 1 || page.Items[0].ID != bob.ID {
		t.Fatalf("second page %+v: want bob", page)
	}
	page = decode[memberPage](t, step(200, "GET", "/members", "/api/v1/members?q=bob", nil))
	if len(page.Items) != 1 || page.NextAfter != 0 {
		t.Fatalf("q=bob %+v: want bob alone and no next page", page)
	}
	upd := decode[membership.Member](t, step(200, "PATCH", "/members/{member}", "/api/v1/members/"+id(bob.ID), map[string]any{"name": "Robert", "role": "admin"}))
	if upd.Name != "Robert" || upd.Role != membership.RoleAdmin {
		t.Fatalf("updated %+v", upd)
	}
	step(200, "PATCH", "/members/{member}", "/api/v1/members/"+bob.UUID, map[string]any{"role": "member"})

	// Spaces.
	r = step(201, "POST", "/spaces", "/api/v1/spaces", map[string]any{"name": "HQ"})
	space := decode[membership.Space](t, r)
	if r.Header.Get("Location") != "/api/v1/spaces/"+id(space.ID) {
		t.Fatalf("space Location %q", r.Header.Get("Location"))
	}
	if l := decode[list[*membership.Space]](t, step(200, "GET", "/spaces", "/api/v1/spaces", nil)); len(l.Items) != 1 {
		t.Fatalf("spaces %+v", l)
	}
	if got := decode[membership.Space](t, step(200, "GET", "/spaces/{space}", "/api/v1/spaces/"+space.UUID, nil)); got.ID != space.ID {
		t.Fatalf("space by uuid %+v", got)
	}
	r = step(201, "POST", "/spaces/{space}/members", "/api/v1/spaces/"+id(space.ID)+"/members", map[string]any{"member": bob.ID, "roles": []string{"editor", "viewer"}})
	sm := decode[membership.SpaceMember](t, r)
	if r.Header.Get("Location") != "/api/v1/space-memberships/"+id(sm.ID) {
		t.Fatalf("space membership Location %q", r.Header.Get("Location"))
	}
	if l := decode[list[*membership.SpaceMember]](t, step(200, "GET", "/spaces/{space}/members", "/api/v1/spaces/"+id(space.ID)+"/members?status=active", nil)); len(l.Items) != 1 || l.Items[0].MemberID != bob.ID {
		t.Fatalf("space members %+v", l)
	}
	if got := decode[membership.SpaceMember](t, step(200, "GET", "/space-memberships/{id}", r.Header.Get("Location"), nil)); !cmp.Equal(got.Roles, []string{"editor", "viewer"}) {
		t.Fatalf("space membership roles %v", got.Roles)
	}

	// Groups.
	r = step(201, "POST", "/groups", "/api/v1/groups", map[string]any{"name": "Eng"})
	group := decode[membership.Group](t, r)
	if r.Header.Get("Location") != "/api/v1/groups/"+id(group.ID) {
		t.Fatalf("group Location %q", r.Header.Get("Location"))
	}
	step(200, "GET", "/groups", "/api/v1/groups", nil)
	step(200, "GET", "/groups/{group}", r.Header.Get("Location"), nil)
	r = step(201, "POST", "/groups/{group}/members", "/api/v1/groups/"+group.UUID+"/members", map[string]any{"member": "bob@acme.test"})
	if want := fmt.Sprintf("/api/v1/groups/%d/members/%d", group.ID, bob.ID); r.Header.Get("Location") != want {
		t.Fatalf("group membership Location %q, want %q", r.Header.Get("Location"), want)
	}
	if gm := decode[membership.GroupMember](t, step(200, "GET", "/groups/{group}/members/{member}", r.Header.Get("Location"), nil)); gm.MemberID != bob.ID || gm.Status != membership.StatusActive {
		t.Fatalf("group membership %+v", gm)
	}
	if l := decode[list[*membership.GroupMember]](t, step(200, "GET", "/groups/{group}/members", "/api/v1/groups/"+id(group.ID)+"/members", nil)); len(l.Items) != 1 {
		t.Fatalf("group members %+v", l)
	}

	// Resources, grants, access.
	r = step(201, "POST", "/resources", "/api/v1/resources", map[string]any{"kind": "desk", "name": "D1", "space": space.UUID})
	desk := decode[membership.Resource](t, r)
	if desk.SpaceID != space.ID {
		t.Fatalf("desk %+v: want space %d", desk, space.ID)
	}
	room := decode[membership.Resource](t, step(201, "POST", "/resources", "/api/v1/resources", map[string]any{"kind": "room", "name": "R1"}))
	step(200, "GET", "/resources", "/api/v1/resources", nil)
	step(200, "GET", "/resources/{resource}", r.Header.Get("Location"), nil)
	step(200, "GET", "/resources/{resource}", "/api/v1/resources/"+room.UUID, nil)
	r = step(201, "POST", "/grants", "/api/v1/grants", map[string]any{"resource": desk.ID, "group": group.UUID})
	if g := decode[membership.Grant](t, step(200, "GET", "/grants/{id}", r.Header.Get("Location"), nil)); g.GroupID != group.ID {
		t.Fatalf("group grant %+v", g)
	}
	step(201, "POST", "/grants", "/api/v1/grants", map[string]any{"resource": room.UUID, "member": id(bob.ID)})
	if l := decode[list[*membership.Grant]](t, step(200, "GET", "/grants", "/api/v1/grants?member="+id(bob.ID), nil)); len(l.Items) != 1 || l.Items[0].ResourceID != room.ID {
		t.Fatalf("bob's direct grants %+v", l)
	}
	if l := decode[list[*membership.Grant]](t, step(200, "GET", "/grants", "/api/v1/grants?group="+id(group.ID)+"&status=active", nil)); len(l.Items) != 1 {
		t.Fatalf("group grants %+v", l)
	}
	acc := decode[membership.Access](t, step(200, "GET", "/access", "/api/v1/access?member=bob@acme.test&resource="+id(desk.ID), nil))
	if !acc.Allowed || acc.Direct || !cmp.Equal(acc.GroupIDs, []int64{group.ID}) {
		t.Fatalf("access to desk %+v: want through group %d only", acc, group.ID)
	}
	if l := decode[list[*membership.Access]](t, step(200, "GET", "/members/{member}/access", "/api/v1/members/"+id(bob.ID)+"/access", nil)); len(l.Items) != 2 {
		t.Fatalf("bob's access %+v: want desk and room", l)
	}

	// Bookings.
	start := e.clock.Now().Add(48 * time.Hour)
	r = step(201, "POST", "/bookings", "/api/v1/bookings", map[string]any{"resource": desk.ID, "member": bob.ID, "starts_at": start, "ends_at": start.Add(time.Hour)})
	booking := decode[membership.Booking](t, r)
	step(200, "GET", "/bookings/{id}", r.Header.Get("Location"), nil)
	if l := decode[list[*membership.Booking]](t, step(200, "GET", "/bookings", "/api/v1/bookings?member="+id(bob.ID)+"&status=active", nil)); len(l.Items) != 1 || l.Items[0].ID != booking.ID {
		t.Fatalf("bookings %+v", l)
	}

	// Removal of roles, space and group memberships.
	rep := decode[membership.Report](t, step(200, "POST", "/space-memberships/{id}/roles/revocation", fmt.Sprintf("/api/v1/space-memberships/%d/roles/revocation", sm.ID), map[string]any{"roles": []string{"viewer"}}))
	if len(rep.Roles) != 1 || !cmp.Equal(rep.Roles[0].Roles, []string{"viewer"}) {
		t.Fatalf("revocation report roles %+v", rep.Roles)
	}
	rep = decode[membership.Report](t, step(200, "DELETE", "/groups/{group}/members/{member}", fmt.Sprintf("/api/v1/groups/%d/members/%d", group.ID, bob.ID), nil))
	if len(rep.Groups) != 1 || len(rep.Grants) != 1 || rep.Grants[0].Origin != "group" {
		t.Fatalf("group removal report %+v", rep)
	}
	rep = decode[membership.Report](t, step(200, "DELETE", "/spaces/{space}/members/{member}", fmt.Sprintf("/api/v1/spaces/%d/members/%s", space.ID, bob.UUID), nil))
	if len(rep.Spaces) != 1 || rep.Spaces[0].SpaceID != space.ID {
		t.Fatalf("space removal report %+v", rep)
	}

	// Offboarding, restore, history.
	rep = decode[membership.Report](t, step(200, "POST", "/members/{member}/offboard", "/api/v1/members/"+id(bob.ID)+"/offboard", map[string]any{"dry_run": true}))
	if !rep.DryRun || rep.Member.Status != membership.StatusRemoved {
		t.Fatalf("offboard preview %+v", rep)
	}
	rep = decode[membership.Report](t, step(200, "DELETE", "/members/{member}", "/api/v1/members/bob@acme.test", nil))
	if rep.DryRun || rep.Member.Status != membership.StatusRemoved || rep.EventID == 0 {
		t.Fatalf("removal report %+v", rep)
	}
	rep = decode[membership.Report](t, step(200, "POST", "/members/{member}/restore", "/api/v1/members/"+id(bob.ID)+"/restore", nil))
	if rep.Member.Status != membership.StatusActive {
		t.Fatalf("restore report %+v", rep)
	}
	rep = decode[membership.Report](t, step(200, "POST", "/members/{member}/offboard", "/api/v1/members/"+id(bob.ID)+"/offboard", nil))
	if rep.DryRun || rep.Member.Status != membership.StatusRemoved {
		t.Fatalf("offboard %+v", rep)
	}
	hist := decode[membership.MemberHistory](t, step(200, "GET", "/members/{member}/history", "/api/v1/members/"+id(bob.ID)+"/history", nil))
	if len(hist.Periods) != 2 || hist.Periods[0].EndedAt == nil || hist.Periods[1].EndedAt == nil {
		t.Fatalf("history periods %+v: want two closed periods", hist.Periods)
	}

	// Batch removal.
	carol := e.addMember("carol@acme.test", membership.RoleMember)
	batch := decode[membership.BatchResult](t, step(200, "POST", "/removals", "/api/v1/removals", map[string]any{
		"scope": "organization", "members": []map[string]any{{"email": "carol@acme.test"}, {"id": bob.ID}}}))
	if batch.Removed != 1 || batch.Items[0].MemberID != carol.ID || batch.Items[1].Outcome != membership.OutcomeAlreadyRemoved {
		t.Fatalf("batch %+v", batch)
	}

	// Events.
	events := decode[eventPage](t, step(200, "GET", "/events", "/api/v1/events?member="+id(bob.ID)+"&action=member.removed&outcome=ok", nil))
	if len(events.Items) != 2 {
		t.Fatalf("bob's member.removed events: got %d, want 2", len(events.Items))
	}
	export := step(200, "GET", "/events/export", "/api/v1/events/export?member="+id(bob.ID)+"&format=jsonl", nil)
	if lines := strings.Count(string(export.Body), "\n"); lines < 2 {
		t.Fatalf("export of bob's events: %d lines, want one an event", lines)
	}

	// Credentials.
	r = step(201, "POST", "/credentials", "/api/v1/credentials", map[string]any{"name": "ci", "scopes": []string{"members:read"}})
	cred := decode[membership.IssuedCredential](t, r)
	if cred.Secret == "" || r.Header.Get("Location") != "/api/v1/credentials/"+id(cred.Credential.ID) {
		t.Fatalf("credential %+v at %q", cred.Credential, r.Header.Get("Location"))
	}
	e.must(200, "GET", "/api/v1/organization", cred.Secret, nil)
	if l := decode[list[*membership.Credential]](t, step(200, "GET", "/credentials", "/api/v1/credentials", nil)); len(l.Items) != 2 {
		t.Fatalf("credentials %+v", l)
	}
	if strings.Contains(string(step(200, "GET", "/credentials/{id}", r.Header.Get("Location"), nil).Body), cred.Secret) {
		t.Fatal("a read credential shows its secret")
	}
	revoked := decode[membership.Credential](t, step(200, "DELETE", "/credentials/{id}", r.Header.Get("Location"), nil))
	if revoked.RevokedAt == nil {
		t.Fatalf("revoked credential %+v", revoked)
	}
	wantProblem(t, e.call("GET", "/api/v1/organization", cred.Secret, nil), http.StatusUnauthorized)

	// OAuth clients.
	r = step(201, "POST", "/oauth-clients", "/api/v1/oauth-clients", map[string]any{"name": "sync", "scopes": []string{"members:read"},
		"redirect_uris": []string{"https://app.example/cb"}})
	oc := decode[membership.IssuedOAuthClient](t, r)
	if oc.Secret == "" || oc.Client.ClientID == "" || r.Header.Get("Location") != "/api/v1/oauth-clients/"+oc.Client.UUID {
		t.Fatalf("OAuth client %+v at %q", oc.Client, r.Header.Get("Location"))
	}
	if l := decode[list[*membership.OAuthClient]](t, step(200, "GET", "/oauth-clients", "/api/v1/oauth-clients", nil)); len(l.Items) != 1 {
		t.Fatalf("OAuth clients %+v", l)
	}
	if strings.Contains(string(step(200, "GET", "/oauth-clients/{id}", r.Header.Get("Location"), nil).Body), oc.Secret) {
		t.Fatal("a read OAuth client shows its secret")
	}
	rotated := decode[membership.IssuedOAuthClient](t, step(200, "POST", "/oauth-clients/{id}/rotate", r.Header.Get("Location")+"/rotate", nil))
	if rotated.Secret == "" || rotated.Secret == oc.Secret || rotated.Client.RotatedAt == nil {
		t.Fatalf("rotated %+v", rotated)
	}
	if gone := decode[membership.OAuthClient](t, step(200, "DELETE", "/oauth-clients/{id}", r.Header.Get("Location"), nil)); gone.RevokedAt == nil {
		t.Fatalf("revoked OAuth client %+v", gone)
	}

	// Webhooks, scheduled removals and operations.
	var hooks atomic.Int32
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hooks.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(receiver.Close)
	r = step(201, "POST", "/webhooks", "/api/v1/webhooks", map[string]any{"url": receiver.URL + "/hook", "events": []string{"scheduled_removal.created"}})
	hook := decode[membership.NewWebhookEndpoint](t, r)
	if !strings.HasPrefix(hook.Secret, "whsec_") || r.Header.Get("Location") != "/api/v1/webhooks/"+hook.Endpoint.UUID {
		t.Fatalf("webhook %+v at %q", hook, r.Header.Get("Location"))
	}
	if l := decode[list[*membership.WebhookEndpoint]](t, step(200, "GET", "/webhooks", "/api/v1/webhooks", nil)); len(l.Items) != 1 || l.Items[0].UUID != hook.Endpoint.UUID {
		t.Fatalf("webhooks %+v", l)
	}
	if got := step(200, "GET", "/webhooks/{id}", r.Header.Get("Location"), nil); strings.Contains(string(got.Body), hook.Secret) {
		t.Fatal("a read webhook endpoint shows its secret")
	}
	dave := e.addMember("dave@acme.test", membership.RoleMember)
	at := e.clock.Now().Add(time.Hour).Format(time.RFC3339)
	r = step(201, "POST", "/schedules", "/api/v1/schedules", map[string]any{"kind": "member.remove", "member": "dave@acme.test", "effective_at": at})
	sched := decode[membership.Operation](t, r)
	if sched.Status != membership.OperationScheduled || sched.TargetMemberID != dave.ID || r.Header.Get("Location") != "/api/v1/schedules/"+sched.UUID {
		t.Fatalf("schedule %+v at %q", sched, r.Header.Get("Location"))
	}
	if got := decode[membership.Operation](t, step(200, "GET", "/schedules/{id}", r.Header.Get("Location"), nil)); got.UUID != sched.UUID {
		t.Fatalf("schedule by id %+v", got)
	}
	if l := decode[operationPage](t, step(200, "GET", "/schedules", "/api/v1/schedules?status=scheduled", nil)); len(l.Items) != 1 || l.Items[0].UUID != sched.UUID {
		t.Fatalf("schedules %+v", l)
	}
	if rep := decode[membership.Report](t, step(200, "GET", "/schedules/{id}/preview", "/api/v1/schedules/"+sched.UUID+"/preview", nil)); !rep.DryRun || rep.Member.ID != dave.ID {
		t.Fatalf("schedule preview %+v", rep)
	}
	if l := decode[operationPage](t, step(200, "GET", "/operations", "/api/v1/operations?status=scheduled&limit=1000", nil)); len(l.Items) != 1 || l.Items[0].UUID != sched.UUID || l.NextBefore != 0 {
		t.Fatalf("operations %+v", l)
	}
	if got := decode[membership.Operation](t, step(200, "GET", "/operations/{id}", "/api/v1/operations/"+sched.UUID, nil)); got.UUID != sched.UUID {
		t.Fatalf("operation %+v", got)
	}
	if rep := decode[membership.Report](t, step(200, "GET", "/operations/{id}/preview", "/api/v1/operations/"+sched.UUID+"/preview", nil)); !rep.DryRun {
		t.Fatalf("operation preview %+v", rep)
	}
	if got := decode[membership.Operation](t, step(200, "POST", "/operations/{id}/cancel", "/api/v1/operations/"+sched.UUID+"/cancel", nil)); got.Status != membership.OperationCancelled {
		t.Fatalf("cancelled operation %+v", got)
	}
	r = e.must(202, "DELETE", "/api/v1/members/"+id(dave.ID)+"?effective_at="+url.QueryEscape(at), e.owner, nil)
	sched = decode[membership.Operation](t, r)
	if got := decode[membership.Operation](t, step(200, "DELETE", "/schedules/{id}", "/api/v1/schedules/"+sched.UUID, nil)); got.Status != membership.OperationCancelled {
		t.Fatalf("cancelled schedule %+v", got)
	}
	if st := e.memberStatus(dave.ID); st != membership.StatusActive {
		t.Fatalf("dave is %s after both schedules were cancelled", st)
	}
	// Each schedule was announced to the webhook; wait for the first delivery.
	var delivered *membership.WebhookDelivery
	for deadline := time.Now().Add(10 * time.Second); delivered == nil; time.Sleep(20 * time.Millisecond) {
		page := decode[deliveryPage](t, e.must(200, "GET", "/api/v1/webhooks/"+hook.Endpoint.UUID+"/deliveries?status=delivered", e.owner, nil))
		if len(page.Items) > 0 {
			delivered = page.Items[len(page.Items)-1]
		} else if time.Now().After(deadline) {
			t.Fatal("no webhook delivery was delivered")
		}
	}
	if page := decode[deliveryPage](t, step(200, "GET", "/webhooks/{id}/deliveries", "/api/v1/webhooks/"+hook.Endpoint.UUID+"/deliveries?limit=1", nil)); len(page.Items) != 1 || page.NextBefore == 0 {
		t.Fatalf("first page of deliveries %+v: want one and next_before", page)
	}
	dlog := decode[membership.WebhookDeliveryLog](t, step(200, "GET", "/webhook-deliveries/{id}", "/api/v1/webhook-deliveries/"+delivered.UUID, nil))
	if len(dlog.Attempts) == 0 || dlog.Message == nil || dlog.Message.Type != "scheduled_removal.created" {
		t.Fatalf("delivery log %+v", dlog)
	}
	r = step(202, "POST", "/webhook-deliveries/{id}/redeliver", "/api/v1/webhook-deliveries/"+delivered.UUID+"/redeliver", nil)
	if again := decode[membership.WebhookDelivery](t, r); again.Redelivers != delivered.UUID || r.Header.Get("Location") != "/api/v1/webhook-deliveries/"+again.UUID {
		t.Fatalf("redelivery %+v at %q", again, r.Header.Get("Location"))
	}
	if ep := decode[membership.WebhookEndpoint](t, step(200, "DELETE", "/webhooks/{id}", "/api/v1/webhooks/"+hook.Endpoint.UUID, nil)); ep.Status != membership.WebhookDisabled {
		t.Fatalf("disabled webhook %+v", ep)
	}
	if ep := decode[membership.WebhookEndpoint](t, step(200, "POST", "/webhooks/{id}/enable", "/api/v1/webhooks/"+hook.Endpoint.UUID+"/enable", nil)); ep.Status != membership.WebhookActive || ep.DisabledReason != "" {
		t.Fatalf("enabled webhook %+v", ep)
	}
	if hooks.Load() == 0 {
		t.Fatal("the receiver was never called")
	}

	// Saved plans.
	carl := decode[membership.Member](t, step(201, "POST", "/members", "/api/v1/members", map[string]any{"email": "carl@acme.test", "role": "member"}))
	plan := decode[membership.Plan](t, step(201, "POST", "/plans", "/api/v1/plans", map[string]any{"kind": "member.remove", "member": carl.ID}))
	step(200, "GET", "/plans/{id}", "/api/v1/plans/"+plan.UUID, nil)
	r = step(200, "POST", "/plans/{id}/execute", "/api/v1/plans/"+plan.UUID+"/execute", nil)
	if done := decode[membership.Plan](t, r); done.Status != membership.PlanExecuted || r.Header.Get("Removal-Id") != done.RemovalID {
		t.Fatalf("executed plan %+v, Removal-Id %q", done, r.Header.Get("Removal-Id"))
	}
	// Blast-radius policy: a second owner approves what goes above it.
	step(200, "PUT", "/policy", "/api/v1/policy", map[string]any{"max_per_call": 1, "max_per_hour": 0})
	if p := decode[membership.Policy](t, step(200, "GET", "/policy", "/api/v1/policy", nil)); p.MaxPerCall != 1 {
		t.Fatalf("policy %+v", p)
	}
	dora := decode[membership.Member](t, step(201, "POST", "/members", "/api/v1/members", map[string]any{"email": "dora@acme.test", "role": "member"}))
	step(201, "POST", "/members", "/api/v1/members", map[string]any{"email": "eve@acme.test", "role": "member"})
	held := decode[membership.Plan](t, step(201, "POST", "/plans", "/api/v1/plans", map[string]any{"scope": "organization",
		"members": []map[string]any{{"id": dora.ID}, {"email": "eve@acme.test"}}}))
	wantProblem(t, e.call("POST", "/api/v1/plans/"+held.UUID+"/execute", e.owner, nil), http.StatusConflict)
	second := e.addMember("second@acme.test", membership.RoleOwner)
	secret := e.owner
	e.owner = e.credential(second, nil, membership.ScopeMembersRead, membership.ScopeMembersWrite)
	if p := decode[membership.Plan](t, step(200, "POST", "/plans/{id}/approve", "/api/v1/plans/"+held.UUID+"/approve", nil)); p.Status != membership.PlanExecuted {
		t.Fatalf("approved plan %+v", p)
	}
	e.owner = secret
	step(200, "PUT", "/policy", "/api/v1/policy", map[string]any{"max_per_call": 0, "max_per_hour": 0})

	removalID := r.Header.Get("Removal-Id")
	if rm := decode[membership.Removal](t, step(200, "GET", "/removals/{id}", "/api/v1/removals/"+removalID, nil)); rm.Kind != membership.KindRemoveMember {
		t.Fatalf("removal %+v", rm)
	}
	if rm := decode[membership.Removal](t, step(200, "POST", "/removals/{id}/undo", "/api/v1/removals/"+removalID+"/undo", nil)); rm.Undo == nil || rm.Undo.Restored != 1 {
		t.Fatalf("undone removal %+v", rm)
	}

	var missing []string
	for _, p := range e.h.routes {
		if strings.Contains(p, Prefix+"/") && !covered[p] {
			missing = append(missing, p)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("routes without a happy path in this test: %v", missing)
	}
	t.Logf("%d routes under %s, all covered", len(covered), Prefix)
}
