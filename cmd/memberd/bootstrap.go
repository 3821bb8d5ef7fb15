package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/memberd/memberd/membership"
)

// bootstrap creates an organization, its owner and an owner credential,
// and prints them once as JSON: the secret is not stored anywhere else.
func (m *Main) bootstrap(ctx context.Context, args []string) error {
	cfg := DefaultConfig()
	fs := m.newFlagSet("bootstrap", "bootstrap --org NAME --owner EMAIL [--db DSN]   create an organization and print its owner's credential")
	storeFlags(fs, &cfg)
	org := fs.String("org", "", "organization name (required)")
	owner := fs.String("owner", "", "owner's e-mail (required)")
	name := fs.String("name", "", "owner's name")
	force := fs.Bool("force", false, "create the organization even if the owner already owns one of that name")
	if err := m.parseFlags(fs, args); err != nil {
		return err
	}
	if *org == "" || *owner == "" {
		return errors.New("bootstrap needs --org NAME and --owner EMAIL")
	}
	if _, err := prepareSQLiteDir(cfg.DB); err != nil {
		return err
	}
	store, err := openStore(ctx, cfg.DB, cfg.GroupCommit, nil)
	if err != nil {
		return err
	}
	defer store.Close()
	svc := membership.NewService(store, membership.DefaultConfig())
	b, err := svc.CreateOrganization(ctx, membership.BootstrapRequest{OrgName: *org, OwnerEmail: *owner, OwnerName: *name, Force: *force})
	if membership.ErrorCode(err) == membership.CodeConflict {
		return fmt.Errorf("bootstrap: %s; --force creates another", membership.ErrorMessage(err))
	}
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	enc := json.NewEncoder(m.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(b)
}
