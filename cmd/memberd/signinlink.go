package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/memberd/memberd/admin"
	"github.com/memberd/memberd/membership"
)

// signInLink prints a one-time link that signs an owner or admin in to the
// admin console, for the first sign-in or when no credential is at hand:
// whoever can run it already holds the database.
func (m *Main) signInLink(ctx context.Context, args []string) error {
	cfg := DefaultConfig()
	fs := m.newFlagSet("signin-link", "signin-link --member EMAIL [--org ID] [--db DSN]   print a one-time sign-in link to the admin console")
	storeFlags(fs, &cfg)
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "the server's listen address, for the link when --url is not given")
	org := fs.Int64("org", 1, "organization id")
	member := fs.String("member", "", "the owner's or admin's e-mail or member id (required)")
	base := fs.String("url", "", "the console's base URL as browsers reach it (default http://ADDR)")
	if err := m.parseFlags(fs, args); err != nil {
		return err
	}
	if *member == "" {
		return errors.New("signin-link needs --member EMAIL")
	}
	ref := membership.MemberRef{Email: *member}
	if id, err := strconv.ParseInt(*member, 10, 64); err == nil {
		ref = membership.MemberRef{ID: id}
	}
	store, err := openStore(ctx, cfg.DB, false, nil)
	if err != nil {
		return err
	}
	defer store.Close()
	svc := membership.NewService(store, membership.DefaultConfig())
	token, link, err := svc.CreateSignInLink(ctx, *org, ref)
	if err != nil {
		return fmt.Errorf("signin-link: %w", err)
	}
	u := strings.TrimSuffix(*base, "/")
	if u == "" {
		u = "http://" + cfg.Addr
	}
	fmt.Fprintf(m.Stdout, "%s%s/signin/link?token=%s\n", u, admin.Prefix, token)
	fmt.Fprintf(m.Stderr, "one-time link for member %d; it works once, until %s\n", link.MemberID, link.ExpiresAt.Format("2006-01-02 15:04 UTC"))
	return nil
}
