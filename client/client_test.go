package client_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/client"
	"github.com/memberd/memberd/client/clienttest"
	"github.com/memberd/memberd/membership"
)

// serve runs the native API with an empty organization and returns a
// client of it as the owner.
func serve(tb testing.TB, batchLimit int, limits auth.Limits) *client.Client {
	tb.Helper()
	return clienttest.Start(tb, clienttest.Options{BatchLimit: batchLimit, Limits: limits}).Client
}

func TestMembers(t *testing.T) {
	ctx := context.Background()
	c := serve(t, 0, auth.Limits{})
	m, err := c.AddMember(ctx, client.AddMemberRequest{Email: "Bob@Acme.Test", Name: "Bob"})
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
	page, err := c.ListMembers(ctx, client.ListMembersParams{Q: "bob"})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("ListMembers: %+v, %v", page, err)
	}
	preview, err := c.RemoveMember(ctx, m.UUID, client.RemoveMemberOptions{DryRun: true})
	if err != nil || preview.Report == nil || !preview.Report.DryRun {
		t.Fatalf("dry run: %+v, %v", preview, err)
	}
	at := time.Now().Add(time.Hour)
	sched, err := c.OffboardMember(ctx, m.UUID, client.OffboardRequest{EffectiveAt: &at})
	if err != nil || sched.Operation == nil || sched.Operation.Status != membership.OperationScheduled {
		t.Fatalf("scheduled offboarding: %+v, %v", sched, err)
	}
	if _, err := c.CancelOperation(ctx, sched.Operation.UUID); err != nil {
		t.Fatal(err)
	}
	removed, err := c.RemoveMember(ctx, m.UUID, client.RemoveMemberOptions{})
	if err != nil || removed.Report == nil || removed.Report.Member.Status != membership.StatusRemoved {
		t.Fatalf("remove: %+v, %v", removed, err)
	}
	restored, err := c.RestoreMember(ctx, m.UUID)
	if err != nil || restored.Member.Status != membership.StatusActive {
		t.Fatalf("restore: %+v, %v", restored, err)
	}

	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := c.Member(ctx, "nobody@acme.test")
		var e *client.Error
		if !errors.As(err, &e) || e.Status != http.StatusNotFound || e.Detail == "" || e.RequestID == "" {
			t.Fatalf("got %#v, want a 404 *Error with detail and request id", err)
		}
	})
	t.Run("IdempotencyKey", func(t *testing.T) {
		kctx := client.WithIdempotencyKey(ctx, "add-carol")
		first, err := c.AddMember(kctx, client.AddMemberRequest{Email: "carol@acme.test"})
		if err != nil {
			t.Fatal(err)
		}
		again, err := c.AddMember(kctx, client.AddMemberRequest{Email: "carol@acme.test"})
		if err != nil || again.ID != first.ID {
			t.Fatalf("retry with the same key: %+v, %v; want member %d again", again, err, first.ID)
		}
		if _, err := c.AddMember(ctx, client.AddMemberRequest{Email: "carol@acme.test"}); client.StatusOf(err) != http.StatusConflict {
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
	_, err := c.RemoveBatch(ctx, client.BatchRemoval{Scope: membership.ScopeOrganization, Members: refs})
	var e *client.Error
	if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Limit != 3 {
		t.Fatalf("got %v, want 400 with limit 3", err)
	}
	res, err := c.RemoveBatch(ctx, client.BatchRemoval{Scope: membership.ScopeOrganization, Members: refs[:3]})
	if err != nil || len(res.Items) != 3 || res.Items[0].Outcome != membership.OutcomeNotFound {
		t.Fatalf("batch of 3: %+v, %v", res, err)
	}
}

func TestRetry(t *testing.T) {
	ctx := context.Background()
	c := serve(t, 0, auth.Limits{Rate: 5, Burst: 1})
	start := time.Now()
	for range 2 {
		if _, err := c.Organization(ctx); err != nil {
			t.Fatalf("a rate-limited call was not retried: %v", err)
		}
	}
	// The server says whole seconds, at least 1; the client adds up to a quarter.
	if d := time.Since(start); d < time.Second || d > 2*time.Second {
		t.Fatalf("two calls took %v, want one wait of 1s to 1.25s", d)
	}

	t.Run("ErrBeyondMaxWait", func(t *testing.T) {
		c.Retry = client.Retry{Attempts: 5, MaxWait: 10 * time.Millisecond}
		var err error
		for range 3 {
			if _, err = c.Organization(ctx); err != nil {
				break
			}
		}
		var e *client.Error
		if !errors.As(err, &e) || e.Status != http.StatusTooManyRequests || e.RetryAfter < time.Second {
			t.Fatalf("got %v, want 429 with its Retry-After", err)
		}
	})
}
