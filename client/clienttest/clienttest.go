// Package clienttest runs memberd's native API in-process for the tests of
// its clients (package client, memberd offboard and members): a fresh
// SQLite store holding one generated organization, served on 127.0.0.1,
// with the batch and rate limits a test asks for.
package clienttest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/client"
	"github.com/memberd/memberd/httpapi"
	"github.com/memberd/memberd/jobs"
	"github.com/memberd/memberd/jobs/jobstest"
	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlite"
)

// Options shape the server.
type Options struct {
	// Members is how many members besides the owner the organization has;
	// member i has the e-mail Email(i).
	Members int
	// BatchLimit is the most members one batch removal may name; 0: the default.
	BatchLimit int
	// Limits are the per-credential rate limits; zero: none.
	Limits auth.Limits
	// AfterBatch, when set, runs after the n-th batch removal is served
	// (and committed) and before its answer is sent: a test that cancels
	// its client there loses an answer whose removals were made.
	AfterBatch func(n int64)
}

// Server is the running API and its owner's credential.
type Server struct {
	URL, Token string
	// Client calls the server as the organization's owner.
	Client *client.Client
	// TooMany counts the 429 answers sent; Batches the batch removals asked for.
	TooMany, Batches atomic.Int64
}

// Email is the e-mail of generated member i.
func Email(i int) string { return fmt.Sprintf("user%05d@gen.test", i) }

// Start serves a new organization until the test ends.
func Start(tb testing.TB, o Options) *Server {
	tb.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "memberd.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	cfg := membership.DefaultConfig()
	cfg.BatchLimit = o.BatchLimit
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	jcfg := jobs.DefaultConfig()
	jcfg.Logger = cfg.Logger
	// Scheduled removals need a connected job queue, not a running one.
	cfg.Queue = jobstest.NewQueue(tb, st, jcfg)
	svc := membership.NewService(st, cfg)
	b, err := svc.CreateOrganization(ctx, membership.BootstrapRequest{OrgName: "Gen", OwnerEmail: "owner@gen.test"})
	if err != nil {
		tb.Fatal(err)
	}
	if err := addMembers(ctx, st, b, o.Members); err != nil {
		tb.Fatal(err)
	}
	s := &Server{Token: b.Secret}
	api := httpapi.NewHandler(svc, auth.New(svc, o.Limits))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, r)
		if rec.Code == http.StatusTooManyRequests {
			s.TooMany.Add(1)
		}
		if r.URL.Path == httpapi.Prefix+"/removals" {
			if n := s.Batches.Add(1); o.AfterBatch != nil {
				o.AfterBatch(n)
			}
		}
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes()) // the client may have gone: that is what AfterBatch tests
	}))
	tb.Cleanup(srv.Close)
	s.URL = srv.URL
	s.Client = client.New(srv.URL, b.Secret)
	return s
}

// addMembers writes the members in one transaction: through the API,
// 10,000 of them would take longer than the test of their removal.
func addMembers(ctx context.Context, st membership.Store, b *membership.Bootstrap, n int) error {
	now := time.Now().UTC()
	return st.Update(ctx, func(tx membership.Tx) error {
		for i := 1; i <= n; i++ {
			u, err := tx.UserUpsert(ctx, Email(i), "")
			if err != nil {
				return err
			}
			m := &membership.Member{UUID: membership.NewUUID(), OrgID: b.Organization.ID, UserID: u.ID, Email: u.Email,
				Role: membership.RoleMember, Status: membership.StatusActive, AddedBy: b.Owner.ID, CreatedAt: now, UpdatedAt: now}
			if err := tx.MemberCreate(ctx, m); err != nil {
				return err
			}
		}
		return nil
	})
}
