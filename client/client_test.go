package client

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/httpapi"
	"github.com/memberd/memberd/jobs"
	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlite"
)

// serve runs the native API on a fresh SQLite store and returns a client
// of it as the organization's owner.
func serve(tb testing.TB, batchLimit int, limits auth.Limits) *Client {
	tb.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "memberd.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	cfg := membership.DefaultConfig()
	cfg.BatchLimit = batchLimit
	svc := membership.NewService(st, cfg)
	// Scheduling needs a connected job queue; it need not run.
	jcfg := jobs.DefaultConfig()
	jcfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err := jobs.New(ctx, svc, jcfg); err != nil {
		tb.Fatal(err)
	}
	b, err := svc.CreateOrganization(ctx, membership.BootstrapRequest{OrgName: "Acme", OwnerEmail: "owner@acme.test"})
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.NewHandler(svc, auth.New(svc, limits)))
	tb.Cleanup(srv.Close)
	return New(srv.URL, b.Secret)
}

func TestMembers(t *testing.T) {
	ctx := context.Background()
	c := serve(t, 0, auth.Limits{})
	m, err := c.AddMember(ctx, AddMemberRequest{Email: "Bob@Acme.Test", Name: "Bob"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Email != "bob@acme.test" {
		t.Fatalf("added %+v", m)
	}
	got, err := c.Member(ctx, "bob@acme.test")
	if err != nil || got.ID != m.ID {
		t.Fatalf("Member: %+v, %v", got, err)
	}
	page, err := c.ListMembers(ctx, ListMembersParams{Q: "bob"})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("ListMembers: %+v, %v", page, err)
	}
	preview, err := c.RemoveMember(ctx, m.UUID, RemoveMemberOptions{DryRun: true})
	if err != nil || preview.Report == nil || !preview.Report.DryRun {
		t.Fatalf("dry run: %+v, %v", preview, err)
	}
	at := time.Now().Add(time.Hour)
	sched, err := c.OffboardMember(ctx, m.UUID, OffboardRequest{EffectiveAt: &at})
	if err != nil || sched.Operation == nil || sched.Operation.Status != membership.OperationScheduled {
		t.Fatalf("scheduled offboarding: %+v, %v", sched, err)
	}
	if _, err := c.CancelOperation(ctx, sched.Operation.UUID); err != nil {
		t.Fatal(err)
	}
	removed, err := c.RemoveMember(ctx, m.UUID, RemoveMemberOptions{})
	if err != nil || removed.Report == nil || removed.Report.Member.Status != membership.StatusRemoved {
		t.Fatalf("remove: %+v, %v", removed, err)
	}
	restored, err := c.RestoreMember(ctx, m.UUID)
	if err != nil || restored.Member.Status != membership.StatusActive {
		t.Fatalf("restore: %+v, %v", restored, err)
	}

	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := c.Member(ctx, "nobody@acme.test")
		var e *Error
		if !errors.As(err, &e) || e.Status != http.StatusNotFound || e.Detail == "" || e.RequestID == "" {
			t.Fatalf("got %#v, want a 404 *Error with detail and request id", err)
		}
	})
	t.Run("IdempotencyKey", func(t *testing.T) {
		kctx := WithIdempotencyKey(ctx, "add-carol")
		first, err := c.AddMember(kctx, AddMemberRequest{Email: "carol@acme.test"})
		if err != nil {
			t.Fatal(err)
		}
		again, err := c.AddMember(kctx, AddMemberRequest{Email: "carol@acme.test"})
		if err != nil || again.ID != first.ID {
			t.Fatalf("retry with the same key: %+v, %v; want member %d again", again, err, first.ID)
		}
		if _, err := c.AddMember(ctx, AddMemberRequest{Email: "carol@acme.test"}); StatusOf(err) != http.StatusConflict {
			t.Fatalf("a new key: %v, want 409", err)
		}
	})
}

func TestRemoveBatchLimit(t *testing.T) {
	ctx := context.Background()
	c := serve(t, 3, auth.Limits{})
	refs := make([]membership.MemberRef, 4)
	for i := range refs {
		refs[i] = membership.MemberRef{Email: string(rune('a'+i)) + "@acme.test"}
	}
	_, err := c.RemoveBatch(ctx, BatchRemoval{Scope: membership.ScopeOrganization, Members: refs})
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Limit != 3 {
		t.Fatalf("got %v, want 400 with limit 3", err)
	}
	res, err := c.RemoveBatch(ctx, BatchRemoval{Scope: membership.ScopeOrganization, Members: refs[:3]})
	if err != nil || len(res.Items) != 3 || res.Items[0].Outcome != membership.OutcomeNotFound {
		t.Fatalf("batch of 3: %+v, %v", res, err)
	}
}

func TestRetry(t *testing.T) {
	ctx := context.Background()
	c := serve(t, 0, auth.Limits{Rate: 5, Burst: 1})
	var mu sync.Mutex
	var waits []time.Duration
	c.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
		return sleep(ctx, d)
	}
	for range 2 {
		if _, err := c.Organization(ctx); err != nil {
			t.Fatalf("a rate-limited call was not retried: %v", err)
		}
	}
	// The server says whole seconds, at least 1; the client adds up to a quarter.
	if len(waits) != 1 || waits[0] < time.Second || waits[0] > 1250*time.Millisecond {
		t.Fatalf("waits %v, want one of 1s to 1.25s", waits)
	}

	t.Run("ErrBeyondMaxWait", func(t *testing.T) {
		c.Retry = Retry{Attempts: 5, MaxWait: 10 * time.Millisecond}
		var err error
		for range 3 {
			if _, err = c.Organization(ctx); err != nil {
				break
			}
		}
		var e *Error
		if !errors.As(err, &e) || e.Status != http.StatusTooManyRequests || e.RetryAfter < time.Second {
			t.Fatalf("got %v, want 429 with its Retry-After", err)
		}
	})
}
