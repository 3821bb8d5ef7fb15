package client_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
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

func TestExportEvents(t *testing.T) {
	ctx := context.Background()
	c := serve(t, 0, auth.Limits{})
	if _, err := c.AddMember(ctx, client.AddMemberRequest{Email: "carol@acme.test", Name: "Carol"}); err != nil {
		t.Fatal(err)
	}
	stream, err := c.ExportEvents(ctx, client.ExportEventsParams{Action: membership.ActionMemberAdded})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	data, err := io.ReadAll(stream)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], `"carol@acme.test"`) {
		t.Fatalf("exported %q, want the one member.added event of carol", data)
	}
	if _, err := c.ExportEvents(ctx, client.ExportEventsParams{Format: "xml"}); err == nil {
		t.Fatal("an unknown format was not refused")
	} else if e, ok := err.(*client.Error); !ok || e.Status != 422 && e.Status != 400 {
		t.Fatalf("unknown format: %v, want a 4xx *client.Error", err)
	}
}

func TestConditional(t *testing.T) {
	ctx := context.Background()
	c := serve(t, 0, auth.Limits{})
	m, err := c.AddMember(ctx, client.AddMemberRequest{Email: "bob@acme.test", Name: "Bob"})
	if err != nil {
		t.Fatal(err)
	}
	var tag string
	if _, err := c.Member(client.WithETag(ctx, &tag), m.UUID); err != nil || tag == "" {
		t.Fatalf("Member: ETag %q, %v", tag, err)
	}
	var again string
	if _, err := c.Member(client.WithETag(client.WithIfNoneMatch(ctx, tag), &again), m.UUID); !client.NotModified(err) || again != tag {
		t.Fatalf("Member with If-None-Match: got %v and ETag %q, want 304 and %s", err, again, tag)
	}
	name := "Robert"
	if _, err := c.UpdateMember(client.WithIfMatch(ctx, `"stale"`), m.UUID, client.UpdateMemberRequest{Name: &name}); !client.PreconditionFailed(err) {
		t.Fatalf("UpdateMember with a stale If-Match: got %v, want 412", err)
	}
	var next string
	got, err := c.UpdateMember(client.WithETag(client.WithIfMatch(ctx, tag), &next), m.UUID, client.UpdateMemberRequest{Name: &name})
	if err != nil || got.Name != name || next == "" || next == tag {
		t.Fatalf("UpdateMember with the current If-Match: %+v, ETag %q, %v", got, next, err)
	}
	if _, err := c.RemoveMember(client.WithIfMatch(ctx, tag), m.UUID, client.RemoveMemberOptions{}); !client.PreconditionFailed(err) {
		t.Fatalf("RemoveMember with the tag from before the update: got %v, want 412", err)
	}
	if _, err := c.RemoveMember(client.WithIfMatch(ctx, next), m.UUID, client.RemoveMemberOptions{}); err != nil {
		t.Fatalf("RemoveMember with the current If-Match: %v", err)
	}
}
