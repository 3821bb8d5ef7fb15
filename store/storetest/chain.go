package storetest

import (
	"crypto/ed25519"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memberd/memberd/membership"
)

var chainTests = []test{
	{"Intact", testChainIntact},
	{"EditedEvent", testChainEdited},
	{"DeletedEvent", testChainDeleted},
	{"DeletedLastEvent", testChainDeletedLast},
	{"InsertedEvent", testChainInserted},
	{"ReorderedEvents", testChainReordered},
	{"RefusalNamesTarget", testChainRefusalTarget},
	{"ConcurrentReceipts", testChainConcurrentReceipts},
	{"RenamedActionKeptInChain", testChainRenamedAction},
	{"PruneKeepsChain", testChainPrune},
	{"Filters", testEventFilters},
}

// chainWorld is a world with a removal, a refused removal and a restore
// on top of its setup, so that its chain has events before and after
// the one a test tampers with.
func chainWorld(t *testing.T, open Opener) (*world, *membership.Report) {
	w := newWorld(t, open)
	carol := w.actorFor(w.owner, w.carol)
	if _, err := w.svc.RemoveMember(w.ctx, carol, membership.RemoveMemberRequest{Member: bobRef(w)}); err == nil {
		t.Fatal("carol removed bob")
	}
	rep, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := restore(w, w.owner, w.bob); err != nil {
		t.Fatal(err)
	}
	return w, rep
}

// verify runs VerifyChain on w's organization.
func verify(t *testing.T, w *world) *membership.ChainReport {
	t.Helper()
	rep, err := w.svc.VerifyChain(w.ctx, w.org.ID)
	if err != nil {
		t.Fatalf("VerifyChain: %v", err)
	}
	return rep
}

// wantBreak fails unless rep breaks at event id for a reason containing why.
func wantBreak(t *testing.T, rep *membership.ChainReport, id int64, why string) {
	t.Helper()
	if rep.Break == nil {
		t.Fatalf("chain holds after tampering (%d events), want a break at event %d", rep.Events, id)
	}
	if rep.Break.EventID != id || !strings.Contains(rep.Break.Reason, why) {
		t.Fatalf("break: got %v, want event %d: %s", rep.Break, id, why)
	}
}

// raw runs a statement on the store directly, as someone with database
// access would.
func raw(t *testing.T, w *world, query string, args ...any) {
	t.Helper()
	if err := w.store.Update(w.ctx, func(tx membership.Tx) error { return exec(w.ctx, tx, query, args...) }); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func testChainIntact(t *testing.T, open Opener) {
	w, rep := chainWorld(t, open)
	if rep.Receipt == nil || rep.Receipt.EventID != rep.EventID || len(rep.Receipt.Hash) != 64 {
		t.Fatalf("receipt: got %+v, want the event %d and its hash", rep.Receipt, rep.EventID)
	}
	got := verify(t, w)
	if got.Break != nil || got.Events < 10 || got.Unchained != 0 {
		t.Fatalf("VerifyChain: got %+v, want an intact chain of every event", got)
	}
	if err := w.svc.VerifyReceipt(w.ctx, *rep.Receipt); err != nil {
		t.Fatalf("VerifyReceipt: %v", err)
	}
	bad := *rep.Receipt
	bad.Hash = strings.Repeat("0", 64)
	if err := w.svc.VerifyReceipt(w.ctx, bad); err == nil {
		t.Fatal("a receipt with another hash verified")
	}
	// The other organization's chain and the chain of no organization
	// hold too.
	for _, org := range []int64{w.globex.ID, 0} {
		if rep, err := w.svc.VerifyChain(w.ctx, org); err != nil || rep.Break != nil {
			t.Fatalf("VerifyChain(%d): %+v, %v", org, rep, err)
		}
	}
}

func testChainEdited(t *testing.T, open Opener) {
	w, rep := chainWorld(t, open)
	raw(t, w, `UPDATE events SET message = 'nothing to see' WHERE id = $1`, rep.EventID)
	wantBreak(t, verify(t, w), rep.EventID, "edited")
	// The receipt's hash is still stored, but the content is not what
	// was hashed: only both checks together prove the event.
}

func testChainDeleted(t *testing.T, open Opener) {
	w, rep := chainWorld(t, open)
	next := w.eventsAfter(w.org.ID, rep.EventID)[0]
	raw(t, w, `DELETE FROM events WHERE id = $1`, rep.EventID)
	wantBreak(t, verify(t, w), next.ID, "missing")
	if err := w.svc.VerifyReceipt(w.ctx, *rep.Receipt); err == nil {
		t.Fatal("the receipt of a deleted event verified")
	}
}

func testChainDeletedLast(t *testing.T, open Opener) {
	w, _ := chainWorld(t, open)
	last := w.lastEventID(w.org.ID)
	raw(t, w, `DELETE FROM events WHERE id = $1`, last)
	rep := verify(t, w)
	if rep.Break == nil || !strings.Contains(rep.Break.Reason, "at the end deleted") {
		t.Fatalf("break: got %+v, want events at the end deleted", rep.Break)
	}
}

func testChainInserted(t *testing.T, open Opener) {
	w, rep := chainWorld(t, open)
	raw(t, w, `INSERT INTO events (uuid, org_id, at, interface, action, outcome) VALUES ('forged', $1, $2, 'native', 'member.removed', 'ok')`,
		w.org.ID, w.clock.Now().UnixMicro())
	forged := w.lastEventID(w.org.ID)
	wantBreak(t, verify(t, w), forged, "without a hash")
	// A forged event given a place in the chain is found too.
	raw(t, w, `UPDATE events SET seq = (SELECT seq FROM events WHERE id = $1) + 1000, hash = 'x' WHERE id = $2`, rep.EventID, forged)
	got := verify(t, w)
	if got.Break == nil {
		t.Fatal("chain holds with a forged event in it")
	}
}

func testChainReordered(t *testing.T, open Opener) {
	w, rep := chainWorld(t, open)
	evs := w.eventsAfter(w.org.ID, rep.EventID-1)
	a, b := evs[0], evs[1] // the removal, then the restore
	if a.ID != rep.EventID {
		t.Fatalf("events after %d: got %s", rep.EventID-1, describeEvents(evs))
	}
	// Swap the two events' places in the chain.
	raw(t, w, `UPDATE events SET seq = -seq WHERE id IN ($1, $2)`, a.ID, b.ID)
	raw(t, w, `UPDATE events SET seq = $1 WHERE id = $2`, b.Seq, a.ID)
	raw(t, w, `UPDATE events SET seq = $1 WHERE id = $2`, a.Seq, b.ID)
	wantBreak(t, verify(t, w), b.ID, "prev_hash")
}

// A refused removal names its target: the member when it is in the
// organization, the reference as sent when it is not, and never another
// organization's member.
func testChainRefusalTarget(t *testing.T, open Opener) {
	w := newWorld(t, open)
	carol := w.actorFor(w.owner, w.carol)
	if _, err := w.svc.RemoveMember(w.ctx, carol, membership.RemoveMemberRequest{Member: bobRef(w)}); err == nil {
		t.Fatal("carol removed bob")
	}
	evs, err := w.svc.Events(w.ctx, w.owner, membership.EventListParams{MemberID: w.bob.ID, Outcome: membership.OutcomeRefused})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Action != membership.ActionMemberRemoved || evs[0].TargetMemberID != w.bob.ID || evs[0].TargetType != "member" {
		t.Fatalf("refusals about bob: got %s, want carol's refused removal", describeEvents(evs))
	}
	// Globex's bob, named by id in Acme: recorded as sent, unresolved.
	if _, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: w.globexBob.ID}}); err == nil {
		t.Fatal("removed another organization's member")
	}
	last, err := w.svc.Events(w.ctx, w.owner, membership.EventListParams{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if e := last[0]; e.Outcome != membership.OutcomeRefused || e.TargetMemberID != 0 || e.TargetID != 0 ||
		e.TargetRef != "member:"+jsonString(w.globexBob.ID) {
		t.Fatalf("refusal naming another organization's member: got %s", jsonString(e))
	}
}

// Receipts are completed after the commit that sealed their events (a
// group commit seals all its callers' at once): a single removal's and
// every removed batch item's receipt names its event and that event's
// hash, also when the two run at once.
func testChainConcurrentReceipts(t *testing.T, open Opener) {
	w := newWorld(t, open)
	var single *membership.Report
	var batch *membership.BatchResult
	var errs [2]error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		single, errs[0] = w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w)})
	}()
	go func() {
		defer wg.Done()
		batch, errs[1] = w.svc.RemoveBatch(w.ctx, w.owner, membership.BatchRequest{Scope: membership.ScopeOrganization,
			Items: []membership.MemberRef{{ID: w.carol.ID}, {ID: 987654}}})
	}()
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("removals: %v", errs)
	}
	if len(batch.Items) != 2 || batch.Items[1].Receipt != nil {
		t.Fatalf("batch items: got %s, want a receipt for the removed item only", jsonString(batch.Items))
	}
	for _, r := range []*membership.Receipt{single.Receipt, batch.Items[0].Receipt} {
		if r == nil || len(r.Hash) != 64 {
			t.Fatalf("receipt: got %+v, want an event and its hash", r)
		}
		if err := w.svc.VerifyReceipt(w.ctx, *r); err != nil {
			t.Fatalf("VerifyReceipt(%+v): %v", r, err)
		}
	}
	if single.Receipt.EventID != single.EventID {
		t.Fatalf("receipt of event %d in the report of event %d", single.Receipt.EventID, single.EventID)
	}
	if got := verify(t, w); got.Break != nil {
		t.Fatalf("VerifyChain: %+v", got.Break)
	}
}

// An event written under an action's name from before its rename keeps
// that name, which its hash covers: the chain still holds, and a filter
// for the action, by its new name or its old one, finds it beside the
// events written under the new name.
func testChainRenamedAction(t *testing.T, open Opener) {
	w := newWorld(t, open)
	old := &membership.Event{UUID: membership.NewUUID(), OrgID: w.org.ID, At: w.clock.Now(), Interface: "native",
		Action: "oauth_client.create", Outcome: membership.OutcomeRefused, Message: "written before the rename"}
	if err := w.store.Update(w.ctx, func(tx membership.Tx) error { return tx.EventAppend(w.ctx, old) }); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.CreateOAuthClient(w.ctx, w.owner, membership.CreateOAuthClientRequest{}); err == nil {
		t.Fatal("created an OAuth client with no name")
	}
	for _, name := range []string{membership.ActionOAuthClientCreated, "oauth_client.create"} {
		evs, err := w.svc.Events(w.ctx, w.owner, membership.EventListParams{Action: name})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 2 || evs[0].Action != membership.ActionOAuthClientCreated || evs[1].ID != old.ID || evs[1].Action != "oauth_client.create" {
			t.Fatalf("events for action %q: got %s, want the new refusal and the old one under its own name", name, describeEvents(evs))
		}
	}
	if got := verify(t, w); got.Break != nil {
		t.Fatalf("VerifyChain: %+v", got.Break)
	}
}

func testChainPrune(t *testing.T, open Opener) {
	w, _ := chainWorld(t, open)
	w.clock.Advance(time.Hour)
	cut := w.clock.Now()
	w.clock.Advance(time.Hour)
	rep, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: w.carol.ID}})
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	cp, err := w.svc.PruneEvents(w.ctx, w.org.ID, cut, key)
	if err != nil {
		t.Fatal(err)
	}
	if cp == nil || cp.Pruned < 10 {
		t.Fatalf("checkpoint: got %+v, want the setup's events pruned", cp)
	}
	evs := w.eventsAfter(w.org.ID, 0)
	if len(evs) != 2 || evs[0].ID != rep.EventID || evs[1].Action != membership.ActionEventsPruned {
		t.Fatalf("events after the prune: got %s, want the removal after the cut and the prune", describeEvents(evs))
	}
	got, err := w.svc.VerifyChain(w.ctx, w.org.ID, key.Public().(ed25519.PublicKey))
	if err != nil || got.Break != nil || got.Events != 2 || !got.KeyTrusted {
		t.Fatalf("VerifyChain after the prune: %+v, %v", got, err)
	}
	if err := w.svc.VerifyReceipt(w.ctx, *rep.Receipt); err != nil {
		t.Fatalf("receipt after the prune: %v", err)
	}
	other, _, _ := ed25519.GenerateKey(nil)
	if got, err := w.svc.VerifyChain(w.ctx, w.org.ID, other); err != nil || got.Break == nil {
		t.Fatalf("VerifyChain trusting another key: %+v, %v; want a break", got, err)
	}
	// A checkpoint moved to hide more events no longer verifies.
	raw(t, w, `UPDATE event_checkpoints SET seq = seq + 1 WHERE org_id = $1`, w.org.ID)
	if got := verify(t, w); got.Break == nil || !strings.Contains(got.Break.Reason, "signature") {
		t.Fatalf("VerifyChain with an edited checkpoint: %+v", got.Break)
	}
}

func testEventFilters(t *testing.T, open Opener) {
	w, rep := chainWorld(t, open)
	list := func(p membership.EventListParams) []*membership.Event {
		t.Helper()
		evs, err := w.svc.Events(w.ctx, w.owner, p)
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	removal := list(membership.EventListParams{MemberID: w.bob.ID, Action: membership.ActionMemberRemoved})
	if len(removal) != 2 || removal[0].ID != rep.EventID || removal[1].Outcome != membership.OutcomeRefused {
		t.Fatalf("bob's removals: got %s, want the removal and carol's refused one", describeEvents(removal))
	}
	if evs := list(membership.EventListParams{ActorID: w.carol.ID}); len(evs) != 1 || evs[0].Outcome != membership.OutcomeRefused {
		t.Fatalf("carol's events: got %s", describeEvents(evs))
	}
	if evs := list(membership.EventListParams{Outcome: membership.OutcomeRefused, Interface: w.owner.Interface}); len(evs) != 1 {
		t.Fatalf("refused events: got %s", describeEvents(evs))
	}
	at := removal[0].At
	if evs := list(membership.EventListParams{Since: at, Until: at.Add(time.Microsecond), Action: membership.ActionMemberRemoved, Outcome: membership.OutcomeOK}); len(evs) != 1 || evs[0].ID != rep.EventID {
		t.Fatalf("events at the removal's time: got %s", describeEvents(evs))
	}
	if evs := list(membership.EventListParams{Until: at}); len(evs) == 0 || evs[0].At.After(at) || !evs[0].At.Before(at) {
		t.Fatalf("events before the removal: got %s", describeEvents(evs))
	}
	asc := list(membership.EventListParams{Ascending: true, AfterID: rep.EventID - 1, Limit: 2})
	if len(asc) != 2 || asc[0].ID != rep.EventID || asc[1].ID <= asc[0].ID {
		t.Fatalf("ascending from the removal: got %s", describeEvents(asc))
	}
}
