// Package demo owns the documented demo organization that `memberd serve
// --demo` loads. It is shaped so that every seed document's literal
// examples work against it unchanged: Tedee's organization 1, user group
// a4d5e6f7-8b9c-4d2e-9f1a-3b4c5d6e7f8a and organization users 11, 12 and
// 13; HighQ's user ids 900–903 and 990–992 in a site whose admin added
// them; WiggleDesk's EXAMPLE@EXAMPLE.COM. Member ids are their creation
// order, so Load needs an empty database and checks that it got one.
//
// The fixture is written through the store's transaction methods in one
// transaction (fast, and ids stay exact); one "demo.loaded" event records it.
package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/memberd/memberd/membership"
)

// Fixed identifiers of the demo organization.
const (
	OrgUUID        = "0d3f6a52-6c1e-4b8e-9f57-3c1d2e4f5a60"
	TedeeGroupUUID = "a4d5e6f7-8b9c-4d2e-9f1a-3b4c5d6e7f8a"
	Members        = 1000 // member ids run 1..Members
	OwnerEmail     = "owner@acme.test"
	AdminEmail     = "alice@acme.test"
	WiggleEmail    = "example@example.com"
)

// Demo describes what Load created.
type Demo struct {
	Org          *membership.Organization `json:"organization"`
	OwnerToken   string                   `json:"owner_token"`
	AdminToken   string                   `json:"admin_token"`
	MemberToken  string                   `json:"member_token"`
	Spaces       map[string]int64         `json:"spaces"`
	Groups       map[string]int64         `json:"groups"`
	Resources    map[string]int64         `json:"resources"`
	WorkivaSpace int64                    `json:"workiva_space_membership"` // a space membership holding editor, viewer and approver
}

// Space names.
const (
	SpaceLondon  = "London HQ"
	SpaceDeal    = "Client Deal Room" // HighQ's site: its admin is alice, who added 900–903 and 990–992
	SpaceFinance = "Finance Workspace"
)

// Group names.
const (
	GroupDoors = "Door access" // Tedee's user group
	GroupEng   = "Engineering"
)

// Email returns the e-mail of demo member id.
func Email(id int64) string {
	switch id {
	case 1:
		return OwnerEmail
	case 2:
		return AdminEmail
	case 3:
		return "sam@acme.test"
	case 4:
		return WiggleEmail
	}
	return fmt.Sprintf("user%04d@acme.test", id)
}

// Load writes the demo organization into an empty store.
func Load(ctx context.Context, store membership.Store, now time.Time) (*Demo, error) {
	now = now.UTC().Truncate(time.Microsecond)
	d := &Demo{Spaces: map[string]int64{}, Groups: map[string]int64{}, Resources: map[string]int64{}}
	err := store.Update(ctx, func(tx membership.Tx) error {
		if _, err := tx.OrganizationGet(ctx, 1); err == nil {
			return membership.Errorf(membership.CodeConflict, "the demo needs an empty database")
		}
		org := &membership.Organization{UUID: OrgUUID, Name: "Acme Corp (demo)", CreatedAt: now}
		if err := tx.OrganizationCreate(ctx, org); err != nil {
			return err
		}
		if org.ID != 1 {
			return fmt.Errorf("demo organization got id %d, want 1: the database is not empty", org.ID)
		}
		d.Org = org
		if err := loadMembers(ctx, tx, org.ID, now); err != nil {
			return err
		}
		if err := loadSpaces(ctx, tx, d, now); err != nil {
			return err
		}
		if err := loadGroupsAndResources(ctx, tx, d, now); err != nil {
			return err
		}
		if err := loadCredentials(ctx, tx, d, now); err != nil {
			return err
		}
		return tx.EventAppend(ctx, &membership.Event{UUID: membership.NewUUID(), OrgID: org.ID, At: now,
			Interface: "cli", Action: "demo.loaded", Outcome: membership.OutcomeOK})
	})
	if err != nil {
		return nil, fmt.Errorf("load demo: %w", err)
	}
	return d, nil
}

func loadMembers(ctx context.Context, tx membership.Tx, orgID int64, now time.Time) error {
	for id := int64(1); id <= Members; id++ {
		u, err := tx.UserUpsert(ctx, Email(id), fmt.Sprintf("Member %04d", id))
		if err != nil {
			return err
		}
		m := &membership.Member{UUID: membership.NewUUID(), OrgID: orgID, Email: u.Email, Name: u.Name,
			Role: membership.RoleMember, Status: membership.StatusActive, AddedBy: 1, CreatedAt: now, UpdatedAt: now}
		switch id {
		case 1:
			m.Role, m.AddedBy, m.Name = membership.RoleOwner, 0, "Olivia Owner"
		case 2:
			m.Role, m.Name = membership.RoleAdmin, "Alice Admin"
		case 3:
			m.Role, m.Name = membership.RoleAdmin, "Sam Admin"
		}
		// HighQ's ids were added by alice, so she may remove them.
		if (id >= 900 && id <= 903) || (id >= 990 && id <= 992) {
			m.AddedBy = 2
		}
		if err := tx.MemberCreate(ctx, u.ID, m); err != nil {
			return err
		}
		if m.ID != id {
			return fmt.Errorf("demo member got id %d, want %d: the database is not empty", m.ID, id)
		}
	}
	return nil
}

func addToSpace(ctx context.Context, tx membership.Tx, spaceID, memberID, addedBy int64, roles []string, now time.Time) (*membership.SpaceMember, error) {
	sm := &membership.SpaceMember{UUID: membership.NewUUID(), OrgID: 1, SpaceID: spaceID, MemberID: memberID,
		Roles: roles, Status: membership.StatusActive, AddedBy: addedBy, CreatedAt: now}
	return sm, tx.SpaceMemberAdd(ctx, sm)
}

func loadSpaces(ctx context.Context, tx membership.Tx, d *Demo, now time.Time) error {
	for _, name := range []string{SpaceLondon, SpaceDeal, SpaceFinance} {
		s := &membership.Space{UUID: membership.NewUUID(), OrgID: 1, Name: name, CreatedAt: now}
		if err := tx.SpaceCreate(ctx, s); err != nil {
			return err
		}
		d.Spaces[name] = s.ID
	}
	// London: everyone below 100, added by the owner.
	for id := int64(1); id < 100; id++ {
		roles := []string{"member"}
		if id <= 3 {
			roles = []string{"admin", "member"}
		}
		if _, err := addToSpace(ctx, tx, d.Spaces[SpaceLondon], id, 1, roles, now); err != nil {
			return err
		}
	}
	// The deal room: alice is its admin and added HighQ's ids; 950–952
	// were added by the owner, so alice may not remove them.
	deal := d.Spaces[SpaceDeal]
	if _, err := addToSpace(ctx, tx, deal, 2, 1, []string{"admin"}, now); err != nil {
		return err
	}
	for _, id := range []int64{900, 901, 902, 903, 990, 991, 992} {
		if _, err := addToSpace(ctx, tx, deal, id, 2, []string{"participant"}, now); err != nil {
			return err
		}
	}
	for _, id := range []int64{950, 951, 952} {
		if _, err := addToSpace(ctx, tx, deal, id, 1, []string{"participant"}, now); err != nil {
			return err
		}
	}
	// Finance: role sets for Workiva's revocation.
	for id := int64(20); id < 30; id++ {
		sm, err := addToSpace(ctx, tx, d.Spaces[SpaceFinance], id, 1, []string{"approver", "editor", "viewer"}, now)
		if err != nil {
			return err
		}
		if id == 20 {
			d.WorkivaSpace = sm.ID
		}
	}
	return nil
}

func loadGroupsAndResources(ctx context.Context, tx membership.Tx, d *Demo, now time.Time) error {
	doors := &membership.Group{UUID: TedeeGroupUUID, OrgID: 1, Name: GroupDoors, CreatedAt: now}
	eng := &membership.Group{UUID: membership.NewUUID(), OrgID: 1, Name: GroupEng, CreatedAt: now}
	for _, g := range []*membership.Group{doors, eng} {
		if err := tx.GroupCreate(ctx, g); err != nil {
			return err
		}
		d.Groups[g.Name] = g.ID
	}
	for id := int64(10); id <= 15; id++ {
		if err := tx.GroupMemberAdd(ctx, &membership.GroupMember{OrgID: 1, GroupID: doors.ID, MemberID: id,
			Status: membership.StatusActive, AddedBy: 1, CreatedAt: now}); err != nil {
			return err
		}
	}
	for id := int64(12); id <= 40; id++ {
		if err := tx.GroupMemberAdd(ctx, &membership.GroupMember{OrgID: 1, GroupID: eng.ID, MemberID: id,
			Status: membership.StatusActive, AddedBy: 2, CreatedAt: now}); err != nil {
			return err
		}
	}
	resources := []*membership.Resource{
		{Kind: "lock", Name: "Front door lock"},
		{Kind: "lock", Name: "Server room lock"},
		{Kind: "desk", Name: "Desk L-101", SpaceID: d.Spaces[SpaceLondon]},
		{Kind: "desk", Name: "Desk L-102", SpaceID: d.Spaces[SpaceLondon]},
		{Kind: "room", Name: "Deal room 1", SpaceID: d.Spaces[SpaceDeal]},
	}
	for _, r := range resources {
		r.UUID, r.OrgID, r.CreatedAt = membership.NewUUID(), 1, now
		if err := tx.ResourceCreate(ctx, r); err != nil {
			return err
		}
		d.Resources[r.Name] = r.ID
	}
	grants := []*membership.Grant{
		{ResourceID: d.Resources["Front door lock"], GroupID: doors.ID},
		{ResourceID: d.Resources["Server room lock"], GroupID: eng.ID},
		// Member 12 also holds the front door directly: removing them
		// from the door group must leave that access in place (Tedee).
		{ResourceID: d.Resources["Front door lock"], MemberID: 12},
		{ResourceID: d.Resources["Desk L-101"], GroupID: eng.ID},
		{ResourceID: d.Resources["Desk L-102"], MemberID: 4},
		{ResourceID: d.Resources["Deal room 1"], MemberID: 900},
	}
	for _, g := range grants {
		g.UUID, g.OrgID, g.Status, g.CreatedAt = membership.NewUUID(), 1, membership.StatusActive, now
		if err := tx.GrantCreate(ctx, g); err != nil {
			return err
		}
	}
	day := 24 * time.Hour
	bookings := []*membership.Booking{
		{ResourceID: d.Resources["Desk L-102"], MemberID: 4, StartsAt: now.Add(-7 * day), EndsAt: now.Add(-7*day + 8*time.Hour)},
		{ResourceID: d.Resources["Desk L-102"], MemberID: 4, StartsAt: now.Add(2 * day), EndsAt: now.Add(2*day + 8*time.Hour)},
		{ResourceID: d.Resources["Desk L-101"], MemberID: 12, StartsAt: now.Add(3 * day), EndsAt: now.Add(3*day + 8*time.Hour)},
		{ResourceID: d.Resources["Deal room 1"], MemberID: 900, StartsAt: now.Add(day), EndsAt: now.Add(day + 2*time.Hour)},
	}
	for _, b := range bookings {
		b.UUID, b.OrgID, b.Status, b.CreatedAt = membership.NewUUID(), 1, membership.BookingActive, now
		if err := tx.BookingCreate(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

func loadCredentials(ctx context.Context, tx membership.Tx, d *Demo, now time.Time) error {
	for _, c := range []struct {
		member int64
		name   string
		token  *string
	}{{1, "demo owner", &d.OwnerToken}, {2, "demo admin", &d.AdminToken}, {5, "demo member", &d.MemberToken}} {
		cred, secret := membership.NewCredential(1, c.member, c.name, membership.AllScopes(), nil, now)
		if err := tx.CredentialCreate(ctx, cred); err != nil {
			return err
		}
		*c.token = secret
	}
	return nil
}
