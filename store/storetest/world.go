package storetest

import (
	"testing"
	"time"

	"github.com/memberd/memberd/membership"
)

// world is the organization most tests remove things from: Bob, the
// member removals aim at, reaches resources by every path there is, and
// Carol shares his spaces and groups so that tests can see that a removal
// touches nobody else. A second organization, Globex, holds Bob's user too.
type world struct {
	*env
	admin      *membership.Member // org admin, added by the owner
	adminActor membership.Actor
	bob        *membership.Member // plain member, added by the owner
	carol      *membership.Member // plain member, added by the owner

	hq, lab  *membership.Space
	bobHQ    *membership.SpaceMember // roles editor, viewer
	bobLab   *membership.SpaceMember // role viewer
	eng, ops *membership.Group

	deskHQ  *membership.Resource // in hq, through group eng
	parkHQ  *membership.Resource // in hq, direct to bob
	roomLab *membership.Resource // in lab, direct to bob
	printer *membership.Resource // org-wide, direct to bob
	lockOps *membership.Resource // org-wide, through group ops; direct to carol
	shared  *membership.Resource // org-wide, direct to bob and through eng and ops

	pastPrinter, futurePrinter, futureDesk, futureRoom, futureLock *membership.Booking

	globex      *membership.Organization
	globexOwner membership.Actor
	globexBob   *membership.Member // bob's user, member of Globex
}

// resources lists every resource of the world.
func (w *world) resources() []*membership.Resource {
	return []*membership.Resource{w.deskHQ, w.parkHQ, w.roomLab, w.printer, w.lockOps, w.shared}
}

func newWorld(tb testing.TB, open Opener, opts ...envOption) *world {
	tb.Helper()
	w := &world{env: newEnv(tb, open, opts...)}
	o := w.owner
	w.admin = w.addMember(o, "admin@acme.test", membership.RoleAdmin)
	w.adminActor = w.actorFor(o, w.admin)
	w.bob = w.addMember(o, "Bob@Acme.test", membership.RoleMember)
	w.carol = w.addMember(o, "carol@acme.test", membership.RoleMember)

	w.hq, w.lab = w.createSpace("HQ"), w.createSpace("Lab")
	w.bobHQ = w.addToSpace(o, w.hq, w.bob, "viewer", "editor")
	w.bobLab = w.addToSpace(o, w.lab, w.bob, "viewer")
	w.addToSpace(o, w.hq, w.carol, "viewer")
	w.eng, w.ops = w.createGroup("Eng"), w.createGroup("Ops")
	w.addToGroup(o, w.eng, w.bob)
	w.addToGroup(o, w.ops, w.bob)
	w.addToGroup(o, w.eng, w.carol)

	w.deskHQ = w.createResource("desk", "Desk HQ-1", w.hq)
	w.grantGroup(w.deskHQ, w.eng)
	w.parkHQ = w.createResource("parking", "Parking HQ-7", w.hq)
	w.grantMember(w.parkHQ, w.bob)
	w.roomLab = w.createResource("room", "Lab room", w.lab)
	w.grantMember(w.roomLab, w.bob)
	w.printer = w.createResource("device", "Printer", nil)
	w.grantMember(w.printer, w.bob)
	w.lockOps = w.createResource("lock", "Ops door", nil)
	w.grantGroup(w.lockOps, w.ops)
	w.grantMember(w.lockOps, w.carol)
	w.shared = w.createResource("room", "Shared room", nil)
	w.grantMember(w.shared, w.bob)
	w.grantGroup(w.shared, w.eng)
	w.grantGroup(w.shared, w.ops)

	w.pastPrinter = w.book(w.printer, w.bob, T0.Add(-48*time.Hour))
	w.futurePrinter = w.book(w.printer, w.bob, T0.Add(24*time.Hour))
	w.futureDesk = w.book(w.deskHQ, w.bob, T0.Add(25*time.Hour))
	w.futureRoom = w.book(w.roomLab, w.bob, T0.Add(26*time.Hour))
	w.futureLock = w.book(w.lockOps, w.bob, T0.Add(27*time.Hour))

	w.globex, w.globexOwner, _ = w.bootstrap("Globex", "owner@globex.test")
	w.globexBob = w.addMember(w.globexOwner, "bob@acme.test", membership.RoleMember)

	for _, r := range w.resources() {
		if acc := w.access(w.bob, r); !acc.Allowed {
			tb.Fatalf("world: bob cannot use %s before any removal", r.Name)
		}
	}
	// Setup happened "before"; the tests' changes happen an hour later.
	w.clock.Advance(time.Hour)
	return w
}

// state snapshots both organizations.
func (w *world) state() map[int64]*Snapshot { return w.snapshot(w.org.ID, w.globex.ID) }

func bobRef(w *world) membership.MemberRef { return membership.MemberRef{ID: w.bob.ID} }
