package membership

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file holds organizations: how an installation starts, and the
// rules every stored name follows.

// Bootstrap is the result of creating an organization with its owner.
type Bootstrap struct {
	Organization *Organization `json:"organization"`
	Owner        *Member       `json:"owner"`
	Credential   *Credential   `json:"credential"`
	Secret       string        `json:"secret"`
}

// BootstrapRequest names a new organization and its first owner.
type BootstrapRequest struct {
	OrgName    string
	OwnerEmail string
	OwnerName  string
	// Force creates the organization even if the owner already owns one
	// of that name; without it that is CodeConflict, so that running
	// bootstrap twice does not make two.
	Force bool
}

// CreateOrganization creates an organization, its owner and an owner
// credential holding every scope. It is how an installation starts, so it
// takes no actor.
func (s *Service) CreateOrganization(ctx context.Context, req BootstrapRequest) (*Bootstrap, error) {
	if err := checkName("organization name", req.OrgName); err != nil {
		return nil, err
	}
	email := NormalizeEmail(req.OwnerEmail)
	if err := ValidEmail(email); err != nil {
		return nil, err
	}
	return mutate(ctx, s, Actor{Interface: "cli"}, "organization.create", func(tx Tx) (*Bootstrap, error) {
		if !req.Force {
			existing, err := tx.OrganizationGetByOwner(ctx, req.OrgName, email)
			if err == nil {
				return nil, Errorf(CodeConflict, "%s already owns an organization named %q (id %d, uuid %s)",
					email, req.OrgName, existing.ID, existing.UUID)
			}
			if ErrorCode(err) != CodeNotFound {
				return nil, err
			}
		}
		now := s.now()
		org := &Organization{UUID: NewUUID(), Name: req.OrgName, CreatedAt: now}
		if err := tx.OrganizationCreate(ctx, org); err != nil {
			return nil, err
		}
		user, err := tx.UserUpsert(ctx, email, req.OwnerName)
		if err != nil {
			return nil, err
		}
		owner := &Member{UUID: NewUUID(), OrgID: org.ID, Email: user.Email, Name: req.OwnerName,
			Role: RoleOwner, Status: StatusActive, CreatedAt: now, UpdatedAt: now}
		if err := tx.MemberCreate(ctx, user.ID, owner); err != nil {
			return nil, err
		}
		cred, secret := NewCredential(org.ID, owner.ID, "bootstrap", AllScopes(), nil, now)
		if err := tx.CredentialCreate(ctx, cred); err != nil {
			return nil, err
		}
		a := Actor{OrgID: org.ID, MemberID: owner.ID, Interface: "cli"}
		if _, err := s.record(ctx, tx, a, ActionOrganizationCreated, owner, nil, org); err != nil {
			return nil, err
		}
		return &Bootstrap{Organization: org, Owner: owner, Credential: cred, Secret: secret}, nil
	})
}

// Organization returns the actor's organization.
func (s *Service) Organization(ctx context.Context, a Actor) (*Organization, error) {
	return view(ctx, s, func(tx Tx) (*Organization, error) { return tx.OrganizationGet(ctx, a.OrgID) })
}

// OrganizationByUUID returns the organization with that UUID if it is the
// actor's, and CodeNotFound otherwise (promise 6).
func (s *Service) OrganizationByUUID(ctx context.Context, a Actor, uuid string) (*Organization, error) {
	org, err := s.Organization(ctx, a)
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(org.UUID, uuid) {
		return nil, Errorf(CodeNotFound, "organization not found")
	}
	return org, nil
}

// maxNameLen bounds every free-text name the service stores.
const maxNameLen = 200

func checkName(what, name string) error {
	if strings.TrimSpace(name) == "" {
		return Errorf(CodeInvalid, "%s is required", what)
	}
	return checkOptionalName(what, name)
}

// checkOptionalName bounds a name and refuses what no engine can store
// faithfully (PostgreSQL text cannot hold NUL) or no screen can show.
func checkOptionalName(what, name string) error {
	if len(name) > maxNameLen {
		return Errorf(CodeInvalid, "%s is longer than %d characters", what, maxNameLen)
	}
	if !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl) {
		return Errorf(CodeInvalid, "%s must be valid text without control characters", what)
	}
	return nil
}
