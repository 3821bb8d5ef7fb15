package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlstore"
)

// Shape is the organization the harness generates. Every identifier, name
// and relation is a pure function of Seed and an entity's index, so the
// same Shape gives the same data set whatever order or chunking it is
// loaded in; only timestamps and credential secrets differ between runs.
type Shape struct {
	Seed      uint64
	Spaces    int // space 1 is the HighQ "site" every regular member is in
	Groups    int // regular groups; each regular member is in one
	Resources int // resources 1..Resources; four in five sit in a space
	// GroupGrants is how many resources each regular group is granted.
	GroupGrants int
	// DirectEvery gives every n-th regular member a direct grant.
	DirectEvery int
	// BookingEvery gives every n-th regular member a future booking.
	BookingEvery int
	// S4Members are members in every space, in all S4Groups groups and
	// with S4Direct direct grants: the offboard-everywhere subjects.
	S4Members     int
	S4Groups      int
	S4GroupGrants int // grants per S4 group
	S4Direct      int // direct grants per S4 member
	// ChunkMembers are the regular members of one loading transaction.
	// Past a million members each one dirties an index page per random
	// UUID it inserts, and a transaction writes each dirty page once:
	// with 250,000 a transaction (and sqliteLoadCacheKiB) SQLite grew
	// from 1M to 2M at 7,533 members/s, against 2,551 with 10,000 and a
	// 1 GiB cache (TestLoadRate, back to back on a busy machine).
	ChunkMembers   int
	BookingStartAt time.Time
}

// DefaultShape is the data set the scenarios describe: an S4
// member has 1,000 spaces, 200 groups and 5,000 + 200×25 = 10,000 grants.
func DefaultShape(seed uint64) Shape {
	return Shape{
		Seed: seed, Spaces: 1000, Groups: 1000, Resources: 10000, GroupGrants: 5,
		DirectEvery: 10, BookingEvery: 20,
		S4Members: 5, S4Groups: 200, S4GroupGrants: 25, S4Direct: 5000,
		ChunkMembers: 250000,
	}
}

// Dataset is a Shape loaded into a store: what the scenarios need to
// address it over HTTP.
type Dataset struct {
	Shape   Shape
	OrgID   int64
	OrgUUID string
	OwnerID int64
	Token   string // owner credential with every scope
	CredID  int64
	// Members is how many regular members are loaded.
	Members int
	// firstMember is the member id of regular member 0; regular member i
	// has id firstMember+i (checked while loading).
	firstMember int64
	// S4 are the member ids of the offboard-everywhere subjects.
	S4 []int64
	// siteID is the space every regular member is in (HighQ's site).
	siteID int64
}

// entity kinds keep the hash streams of different entities apart.
const (
	kindOrg uint64 = iota + 1
	kindMember
	kindUser
	kindSpace
	kindGroup
	kindResource
	kindGrant
	kindBooking
	kindSpaceMember
	kindPick
)

// mix is splitmix64: a fast, well-distributed hash of (seed, kind, i).
func mix(seed, kind, i uint64) uint64 {
	z := seed ^ kind*0x9e3779b97f4a7c15 ^ i*0xbf58476d1ce4e5b9
	z += 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// uuidFor is a version-4-shaped UUID derived from (seed, kind, i), so the
// harness can name any entity without asking the database.
func uuidFor(seed, kind, i uint64) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], mix(seed, kind, i))
	binary.BigEndian.PutUint64(b[8:], mix(seed, kind, i^0xffffffff00000000))
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return uuid.UUID(b).String() // encoded by hand: fmt cost more than the rest of a bulk-loaded row
}

// memberEmail is the e-mail address of regular member i, m%08d@bench.test.
func memberEmail(i int) string {
	digits := strconv.Itoa(i)
	if len(digits) < 8 {
		digits = "00000000"[len(digits):] + digits
	}
	return "m" + digits + "@bench.test"
}

// memberName is the name of regular member i.
func memberName(i int) string { return "Member " + strconv.Itoa(i) }

// MemberID is the member id of regular member i.
func (d *Dataset) MemberID(i int) int64 { return d.firstMember + int64(i) }

// MemberUUID is the UUID of regular member i.
func (d *Dataset) MemberUUID(i int) string { return uuidFor(d.Shape.Seed, kindMember, uint64(i)) }

// memberSpace is the space regular member i is in besides the site.
func (sh Shape) memberSpace(i int) int64 {
	return 2 + int64(mix(sh.Seed, kindSpaceMember, uint64(i))%uint64(sh.Spaces-1))
}

// memberGroup is the regular group of regular member i.
func (sh Shape) memberGroup(i int) int64 {
	return 1 + int64(mix(sh.Seed, kindGroup, uint64(i))%uint64(sh.Groups))
}

// resourceSpace is the space of resource r (1-based), 0 for none.
func (sh Shape) resourceSpace(r int) int64 {
	if r%5 == 0 {
		return 0
	}
	return 2 + int64(r%(sh.Spaces-1))
}

// Setup creates the organization, its owner and credential, spaces,
// groups, resources, group grants and the S4 members in one transaction.
// It needs an empty database, like internal/demo, so that ids are known.
func Setup(ctx context.Context, store membership.Store, sh Shape) (*Dataset, error) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	if sh.BookingStartAt.IsZero() {
		sh.BookingStartAt = now.Add(30 * 24 * time.Hour).Truncate(time.Hour)
	}
	d := &Dataset{Shape: sh}
	seed := sh.Seed
	err := store.Update(ctx, func(tx membership.Tx) error {
		if _, err := tx.OrganizationGet(ctx, 1); err == nil {
			return fmt.Errorf("the bench needs an empty database")
		}
		org := &membership.Organization{UUID: uuidFor(seed, kindOrg, 0), Name: "Bench Corp", CreatedAt: now}
		if err := tx.OrganizationCreate(ctx, org); err != nil {
			return err
		}
		d.OrgID, d.OrgUUID = org.ID, org.UUID
		owner, err := addMember(ctx, tx, org.ID, "owner@bench.test", "Bench Owner", uuidFor(seed, kindMember, 1<<62), membership.RoleOwner, 0, now)
		if err != nil {
			return err
		}
		d.OwnerID = owner.ID
		cred, token := membership.NewCredential(org.ID, owner.ID, "bench", membership.AllScopes(), nil, now)
		if err := tx.CredentialCreate(ctx, cred); err != nil {
			return err
		}
		d.Token, d.CredID = token, cred.ID

		spaces := make([]int64, sh.Spaces)
		for i := range sh.Spaces {
			s := &membership.Space{UUID: uuidFor(seed, kindSpace, uint64(i)), OrgID: org.ID, Name: fmt.Sprintf("Space %d", i+1), CreatedAt: now}
			if i == 0 {
				s.Name = "Site (all staff)"
			}
			if err := tx.SpaceCreate(ctx, s); err != nil {
				return err
			}
			if s.ID != int64(i+1) {
				return fmt.Errorf("space %d got id %d: the database is not empty", i+1, s.ID)
			}
			spaces[i] = s.ID
		}
		d.siteID = spaces[0]
		groups := make([]int64, sh.Groups+sh.S4Groups)
		for i := range groups {
			g := &membership.Group{UUID: uuidFor(seed, kindGroup, uint64(i)), OrgID: org.ID, Name: fmt.Sprintf("Group %d", i+1), CreatedAt: now}
			if err := tx.GroupCreate(ctx, g); err != nil {
				return err
			}
			if g.ID != int64(i+1) {
				return fmt.Errorf("group %d got id %d: the database is not empty", i+1, g.ID)
			}
			groups[i] = g.ID
		}
		for r := 1; r <= sh.Resources; r++ {
			res := &membership.Resource{UUID: uuidFor(seed, kindResource, uint64(r)), OrgID: org.ID, SpaceID: sh.resourceSpace(r),
				Kind: "desk", Name: fmt.Sprintf("Desk %d", r), CreatedAt: now}
			if err := tx.ResourceCreate(ctx, res); err != nil {
				return err
			}
			if res.ID != int64(r) {
				return fmt.Errorf("resource %d got id %d: the database is not empty", r, res.ID)
			}
		}
		grant := func(resource, member, group int64) error {
			g := &membership.Grant{UUID: uuidFor(seed, kindGrant, mix(uint64(resource), uint64(member), uint64(group))),
				OrgID: org.ID, ResourceID: resource, MemberID: member, GroupID: group, Status: membership.StatusActive, CreatedAt: now}
			return tx.GrantCreate(ctx, g)
		}
		for g := 1; g <= sh.Groups; g++ {
			for k := range sh.GroupGrants {
				if err := grant(1+int64((g*sh.GroupGrants+k)%sh.Resources), 0, int64(g)); err != nil {
					return err
				}
			}
		}
		for j := range sh.S4Groups {
			for k := range sh.S4GroupGrants {
				if err := grant(1+int64((j*sh.S4GroupGrants+k)%sh.Resources), 0, int64(sh.Groups+1+j)); err != nil {
					return err
				}
			}
		}
		for k := range sh.S4Members {
			m, err := addMember(ctx, tx, org.ID, fmt.Sprintf("offboard%d@bench.test", k), fmt.Sprintf("Offboard %d", k),
				uuidFor(seed, kindMember, 1<<62+1+uint64(k)), membership.RoleMember, owner.ID, now)
			if err != nil {
				return err
			}
			d.S4 = append(d.S4, m.ID)
			for _, s := range spaces {
				if err := tx.SpaceMemberAdd(ctx, &membership.SpaceMember{UUID: uuidFor(seed, kindSpaceMember, mix(uint64(m.ID), uint64(s), 1)),
					OrgID: org.ID, SpaceID: s, MemberID: m.ID, Roles: []string{"member"}, Status: membership.StatusActive,
					AddedBy: owner.ID, CreatedAt: now}); err != nil {
					return err
				}
			}
			for _, g := range groups[sh.Groups:] {
				if err := tx.GroupMemberAdd(ctx, &membership.GroupMember{OrgID: org.ID, GroupID: g, MemberID: m.ID,
					Status: membership.StatusActive, AddedBy: owner.ID, CreatedAt: now}); err != nil {
					return err
				}
			}
			for r := 1; r <= sh.S4Direct; r++ {
				if err := grant(int64(r), m.ID, 0); err != nil {
					return err
				}
			}
		}
		d.firstMember = owner.ID + int64(sh.S4Members) + 1
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("set up bench organization: %w", err)
	}
	return d, nil
}

func addMember(ctx context.Context, tx membership.Tx, orgID int64, email, name, uuid string, role membership.Role, addedBy int64, now time.Time) (*membership.Member, error) {
	u, err := tx.UserUpsert(ctx, email, name)
	if err != nil {
		return nil, err
	}
	m := &membership.Member{UUID: uuid, OrgID: orgID, Email: u.Email, Name: name, Role: role,
		Status: membership.StatusActive, AddedBy: addedBy, CreatedAt: now, UpdatedAt: now}
	return m, tx.MemberCreate(ctx, u.ID, m)
}

// Grow loads regular members until there are n, ChunkMembers per
// transaction: the first TxMembers through the store's Tx methods, the
// rest in bulk (see TxMembers). progress is called after each chunk.
func (d *Dataset) Grow(ctx context.Context, e *Engine, n int, progress func(loaded int)) (err error) {
	if e.endBulk != nil {
		defer func() { err = errors.Join(err, e.endBulk(ctx)) }()
	}
	sh := d.Shape
	for d.Members < n {
		from := d.Members
		now := time.Now().UTC().Truncate(time.Microsecond)
		var err error
		if from < TxMembers {
			to := min(n, TxMembers)
			err = e.Store.Update(ctx, func(tx membership.Tx) error {
				for i := from; i < to; i++ {
					if err := d.loadMember(ctx, tx, i, now); err != nil {
						return fmt.Errorf("member %d: %w", i, err)
					}
				}
				return nil
			})
			if err == nil {
				d.Members = to
			}
		} else {
			to := min(n, from+sh.ChunkMembers)
			err = e.bulk(ctx, func(c sqlstore.Conn) ([]bulkTable, error) {
				return d.bulkRows(ctx, c, from, to, now, e.Name == "postgres")
			})
			if err == nil {
				d.Members = to
			}
		}
		if err != nil {
			return fmt.Errorf("load members from %d: %w", from, err)
		}
		if progress != nil {
			progress(d.Members)
		}
	}
	return nil
}

// Actor is the owner acting through the bench credential.
func (d *Dataset) Actor(iface string) membership.Actor {
	// Member as authentication hands it over: the core then reads only
	// the owner's current role, as it does behind every interface.
	return membership.Actor{OrgID: d.OrgID, MemberID: d.OwnerID, CredentialID: d.CredID,
		Scopes: membership.AllScopes(), Interface: iface,
		Member: &membership.Member{ID: d.OwnerID, OrgID: d.OrgID, Role: membership.RoleOwner, Status: membership.StatusActive}}
}

// Check compares a member loaded through the Tx methods with one loaded
// in bulk, through the core: their histories and the dry run of their
// removal must have the same shape (ids, names and times aside).
func (d *Dataset) Check(ctx context.Context, svc *membership.Service) error {
	if d.Members <= TxMembers {
		return nil
	}
	a := d.Actor("bench")
	shape := func(i int) (string, error) {
		h, err := svc.History(ctx, a, membership.MemberRef{ID: d.MemberID(i)})
		if err != nil {
			return "", err
		}
		r, err := svc.RemoveMember(ctx, a, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: d.MemberID(i)}, DryRun: true})
		if err != nil {
			return "", err
		}
		m := h.Member
		var b strings.Builder
		fmt.Fprintf(&b, "member role=%s status=%s added_by=%d email=%v removed=%v periods=%d",
			m.Role, m.Status, m.AddedBy, strings.HasSuffix(m.Email, "@bench.test"), m.RemovedAt != nil, len(h.Periods))
		for _, p := range h.Periods {
			fmt.Fprintf(&b, " [period by=%d open=%v at=created:%v]", p.StartedBy, p.EndedAt == nil, p.StartedAt.Equal(m.CreatedAt))
		}
		for _, sm := range h.Spaces {
			fmt.Fprintf(&b, " [space %s roles=%v by=%d uuid=%v]", sm.Status, sm.Roles, sm.AddedBy, len(sm.UUID) == 36)
		}
		for _, gm := range h.Groups {
			fmt.Fprintf(&b, " [group %s by=%d]", gm.Status, gm.AddedBy)
		}
		for _, bk := range h.Bookings {
			fmt.Fprintf(&b, " [booking %s %v]", bk.Status, bk.EndsAt.Sub(bk.StartsAt))
		}
		fmt.Fprintf(&b, " | dry run: spaces=%d roles=%d groups=%d bookings=%d remaining=%d grants:",
			len(r.Spaces), len(r.Roles), len(r.Groups), len(r.Bookings), len(r.RemainingAccess))
		for _, g := range r.Grants {
			fmt.Fprintf(&b, " %s/%s", g.Origin, g.Grant.Status)
		}
		return b.String(), nil
	}
	// Member 0 and member TxMembers share every i%n pattern of the Shape.
	tx, err := shape(0)
	if err != nil {
		return fmt.Errorf("check member 0: %w", err)
	}
	bulk, err := shape(TxMembers)
	if err != nil {
		return fmt.Errorf("check member %d: %w", TxMembers, err)
	}
	if tx != bulk {
		return fmt.Errorf("bulk-loaded member differs from one loaded through the store:\n tx:   %s\n bulk: %s", tx, bulk)
	}
	return nil
}

func (d *Dataset) loadMember(ctx context.Context, tx membership.Tx, i int, now time.Time) error {
	sh, seed, org := d.Shape, d.Shape.Seed, d.OrgID
	m, err := addMember(ctx, tx, org, memberEmail(i), memberName(i),
		d.MemberUUID(i), membership.RoleMember, d.OwnerID, now)
	if err != nil {
		return err
	}
	if m.ID != d.MemberID(i) {
		return fmt.Errorf("got member id %d, want %d: the database was changed outside the bench", m.ID, d.MemberID(i))
	}
	for _, space := range []int64{d.siteID, sh.memberSpace(i)} {
		if err := tx.SpaceMemberAdd(ctx, &membership.SpaceMember{UUID: uuidFor(seed, kindSpaceMember, mix(uint64(m.ID), uint64(space), 0)),
			OrgID: org, SpaceID: space, MemberID: m.ID, Roles: []string{"member"}, Status: membership.StatusActive,
			AddedBy: d.OwnerID, CreatedAt: now}); err != nil {
			return err
		}
	}
	if err := tx.GroupMemberAdd(ctx, &membership.GroupMember{OrgID: org, GroupID: sh.memberGroup(i), MemberID: m.ID,
		Status: membership.StatusActive, AddedBy: d.OwnerID, CreatedAt: now}); err != nil {
		return err
	}
	if sh.DirectEvery > 0 && i%sh.DirectEvery == 0 {
		r := 1 + int64(mix(seed, kindGrant, uint64(i))%uint64(sh.Resources))
		if err := tx.GrantCreate(ctx, &membership.Grant{UUID: uuidFor(seed, kindGrant, uint64(i)), OrgID: org, ResourceID: r,
			MemberID: m.ID, Status: membership.StatusActive, CreatedAt: now}); err != nil {
			return err
		}
	}
	if sh.BookingEvery > 0 && i%sh.BookingEvery == 0 {
		// (resource, slot) pairs are unique, so bookings never overlap.
		k := i / sh.BookingEvery
		r, slot := 1+k%sh.Resources, k/sh.Resources
		start := sh.BookingStartAt.Add(time.Duration(slot) * time.Hour)
		if err := tx.BookingCreate(ctx, &membership.Booking{UUID: uuidFor(seed, kindBooking, uint64(i)), OrgID: org,
			ResourceID: int64(r), MemberID: m.ID, StartsAt: start, EndsAt: start.Add(time.Hour),
			Status: membership.BookingActive, CreatedAt: now}); err != nil {
			return err
		}
	}
	return nil
}
