package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberd/memberd/membership"
)

var concurrencyTests = []test{
	{"RemoveRestoreInvariants", testConcurrentRemoveRestore},
	{"IdempotentTwins", testConcurrentIdempotentTwins},
	{"OwnersRemovingEachOther", testConcurrentOwners},
}

// Workers and iterations of the concurrency tests: enough goroutines to
// overlap every pair of operations, few enough iterations to stay fast
// under -race.
const (
	workers    = 16
	iterations = 12
)

// tally counts one worker's successful calls per member.
type tally struct {
	removed  map[int64]int
	restored map[int64]int
}

func newTally() *tally { return &tally{removed: map[int64]int{}, restored: map[int64]int{}} }

func testConcurrentRemoveRestore(t *testing.T, open Opener) {
	e := newEnv(t, open)
	space := e.createSpace("Floor")
	group := e.createGroup("Team")
	desk := e.createResource("desk", "Desk", space)
	room := e.createResource("room", "Room", nil)
	e.grantGroup(room, group)
	var members []*membership.Member
	for i := range 4 {
		m := e.addMember(e.owner, fmt.Sprintf("m%d@acme.test", i), membership.RoleMember)
		e.addToSpace(e.owner, space, m, "viewer", "editor")
		e.addToGroup(e.owner, group, m)
		e.grantMember(desk, m)
		members = append(members, m)
	}

	tallies := make([]*tally, workers)
	errs := make(chan error, workers*iterations)
	var wg sync.WaitGroup
	for w := range workers {
		tallies[w] = newTally()
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			tl := tallies[w]
			for i := range iterations {
				m := members[rng.IntN(len(members))]
				ref := membership.MemberRef{ID: m.ID}
				switch k := rng.IntN(10); {
				case k < 4:
					_, err := e.svc.RemoveMember(e.ctx, e.owner, membership.RemoveMemberRequest{Member: ref})
					switch {
					case err == nil:
						tl.removed[m.ID]++
					case !errors.Is(err, membership.ErrAlreadyRemoved):
						errs <- fmt.Errorf("worker %d step %d: remove %d: %w", w, i, m.ID, err)
					}
				case k < 8:
					_, err := e.svc.RestoreMember(e.ctx, e.owner, membership.RestoreMemberRequest{Member: ref})
					switch {
					case err == nil:
						tl.restored[m.ID]++
					case membership.ErrorCode(err) != membership.CodeConflict:
						errs <- fmt.Errorf("worker %d step %d: restore %d: %w", w, i, m.ID, err)
					}
				default:
					// A batch of up to three members in random order, perhaps
					// repeating one, overlapping everyone else's calls.
					refs := make([]membership.MemberRef, 1+rng.IntN(3))
					for j := range refs {
						refs[j] = membership.MemberRef{ID: members[rng.IntN(len(members))].ID}
					}
					res, err := e.svc.RemoveBatch(e.ctx, e.owner, membership.BatchRequest{Scope: membership.ScopeOrganization, Items: refs})
					if err != nil {
						errs <- fmt.Errorf("worker %d step %d: batch %v: %w", w, i, refs, err)
						continue
					}
					for j, it := range res.Items {
						switch it.Outcome {
						case membership.OutcomeRemoved:
							tl.removed[refs[j].ID]++
						case membership.OutcomeAlreadyRemoved:
						default:
							errs <- fmt.Errorf("worker %d step %d: batch item %d (member %d): %s %s", w, i, j, refs[j].ID, it.Outcome, it.Message)
						}
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	total := newTally()
	for _, tl := range tallies {
		for id, n := range tl.removed {
			total.removed[id] += n
		}
		for id, n := range tl.restored {
			total.restored[id] += n
		}
	}
	events := e.events(e.org.ID)
	changes := 0
	for _, m := range members {
		changes += total.removed[m.ID] + total.restored[m.ID]
		checkMemberInvariants(t, e, m, total.removed[m.ID], total.restored[m.ID], events)
		acc := e.access(m, desk)
		if got := e.member(m.ID); acc.Allowed != got.Active() {
			t.Errorf("member %d: status %s but desk access %v", m.ID, got.Status, acc.Allowed)
		}
	}
	if changes == 0 {
		t.Fatal("no call succeeded: the test exercised nothing")
	}
	t.Logf("%d removals and restores succeeded out of %d calls", changes, workers*iterations)
}

// checkMemberInvariants checks what must hold for member m however the
// removals and restores interleaved: one open period at most, and only
// while active; one event per successful call, alternating.
func checkMemberInvariants(t *testing.T, e *env, m *membership.Member, removed, restored int, events []*membership.Event) {
	t.Helper()
	cur := e.member(m.ID)
	var periods []*membership.MemberPeriod
	if err := e.store.View(e.ctx, func(tx membership.Tx) error {
		var err error
		periods, err = tx.MemberPeriodList(e.ctx, m.ID)
		return err
	}); err != nil {
		t.Fatalf("periods of %d: %v", m.ID, err)
	}
	open := 0
	for i, p := range periods {
		if p.EndedAt == nil {
			open++
			if i != len(periods)-1 {
				t.Errorf("member %d: period %d of %d is open but not the last", m.ID, i, len(periods))
			}
		} else if p.EndedAt.Before(p.StartedAt) {
			t.Errorf("member %d: period %d ends before it starts", m.ID, i)
		}
	}
	if open > 1 {
		t.Errorf("member %d: %d open periods, want at most one", m.ID, open)
	}
	if (open == 1) != cur.Active() {
		t.Errorf("member %d: status %s with %d open periods", m.ID, cur.Status, open)
	}
	if len(periods) != restored+1 {
		t.Errorf("member %d: %d periods after %d restores, want %d", m.ID, len(periods), restored, restored+1)
	}
	if wantActive := removed == restored; cur.Active() != wantActive {
		t.Errorf("member %d: status %s after %d removals and %d restores", m.ID, cur.Status, removed, restored)
	}
	var seq []string
	for _, ev := range events {
		if ev.TargetMemberID == m.ID && ev.Outcome == membership.OutcomeOK && (ev.Action == "member.removed" || ev.Action == "member.restored") {
			seq = append(seq, ev.Action)
		}
	}
	if got := countStrings(seq, "member.removed"); got != removed {
		t.Errorf("member %d: %d member.removed events, want %d (successful calls)", m.ID, got, removed)
	}
	if got := countStrings(seq, "member.restored"); got != restored {
		t.Errorf("member %d: %d member.restored events, want %d (successful calls)", m.ID, got, restored)
	}
	for i, a := range seq {
		want := "member.removed"
		if i%2 == 1 {
			want = "member.restored"
		}
		if a != want {
			t.Errorf("member %d: event %d is %s, want %s (removals and restores alternate): %v", m.ID, i, a, want, seq)
			break
		}
	}
	// Space and group memberships follow the member.
	want := membership.StatusRemoved
	if cur.Active() {
		want = membership.StatusActive
	}
	h := e.history(m.ID)
	for _, sm := range h.Spaces {
		if sm.Status != want || !slices.Equal(sm.Roles, []string{"editor", "viewer"}) {
			t.Errorf("member %d (%s): space membership %s with roles %v", m.ID, cur.Status, sm.Status, sm.Roles)
		}
	}
	for _, gm := range h.Groups {
		if gm.Status != want {
			t.Errorf("member %d (%s): group membership %s", m.ID, cur.Status, gm.Status)
		}
	}
}

func countStrings(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

func testConcurrentIdempotentTwins(t *testing.T, open Opener) {
	w := newWorld(t, open)
	ctx := membership.WithIdempotency(w.ctx, "twins", "hash")
	reports := make([]*membership.Report, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			reports[i], errs[i] = w.svc.RemoveMember(ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w)})
		})
	}
	wg.Wait()
	for i := range workers {
		if errs[i] != nil {
			t.Errorf("twin %d: %v, want the shared result", i, errs[i])
			continue
		}
		if diff := cmp.Diff(reports[i], reports[0]); diff != "" && errs[0] == nil {
			t.Errorf("twin %d's result differs from twin 0's (-got +want):\n%s", i, diff)
		}
	}
	if n := countEvents(w.events(w.org.ID), "member.removed", membership.OutcomeOK); n != 1 {
		t.Errorf("member.removed events: got %d, want 1", n)
	}
}

// Two owners removing each other (or themselves) at the same time must
// never leave the organization without an owner.
func testConcurrentOwners(t *testing.T, open Opener) {
	e := newEnv(t, open)
	second := e.addMember(e.owner, "second@acme.test", membership.RoleOwner)
	secondActor := e.actorFor(e.owner, second)
	owners := []struct {
		m *membership.Member
		a membership.Actor
	}{{e.ownerMember, e.owner}, {second, secondActor}}
	const rounds = 8
	for round := range rounds {
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i := range 2 {
			target := owners[1-i].m
			if round%2 == 1 {
				target = owners[i].m // each removes themself
			}
			wg.Go(func() {
				_, errs[i] = e.svc.RemoveMember(e.ctx, owners[i].a, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: target.ID}})
			})
		}
		wg.Wait()
		ok := 0
		for i, err := range errs {
			switch code := membership.ErrorCode(err); {
			case err == nil:
				ok++
			case errors.Is(err, membership.ErrLastOwner), code == membership.CodeUnauthorized, errors.Is(err, membership.ErrAlreadyRemoved):
			default:
				t.Errorf("round %d: owner %d: %v", round, i, err)
			}
		}
		var survivors []membership.Actor
		if err := e.store.View(e.ctx, func(tx membership.Tx) error {
			list, err := tx.MemberList(e.ctx, &membership.MemberListParams{OrgID: e.org.ID, Role: membership.RoleOwner, Status: membership.StatusActive, Limit: 10})
			for _, m := range list {
				for _, o := range owners {
					if o.m.ID == m.ID {
						survivors = append(survivors, o.a)
					}
				}
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if len(survivors) != 2-ok || len(survivors) == 0 {
			t.Fatalf("round %d: %d removals succeeded and %d owners remain; want one removal and one owner left", round, ok, len(survivors))
		}
		for _, o := range owners {
			if _, err := e.svc.RestoreMember(e.ctx, survivors[0], membership.RestoreMemberRequest{Member: membership.MemberRef{ID: o.m.ID}}); err != nil && membership.ErrorCode(err) != membership.CodeConflict {
				t.Fatalf("round %d: restore %d: %v", round, o.m.ID, err)
			}
		}
	}
}
