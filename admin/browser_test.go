package admin_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/memberd/memberd/admin"
	"github.com/memberd/memberd/internal/browsertest"
	"github.com/memberd/memberd/internal/dialecttest"
	"github.com/memberd/memberd/membership"
)

// The browser tests drive Debian's Chromium headless through chromedp
// (internal/browsertest): one browser process for the whole test binary,
// one fresh browser context (its own cookies) per test. Each flow checks
// the page the administrator sees and the state through the core.

func TestMain(m *testing.M) {
	code := m.Run()
	browsertest.Close()
	os.Exit(code)
}

var (
	tab       = browsertest.Tab
	run       = browsertest.Run
	waitTitle = browsertest.WaitTitle
	poll      = browsertest.Poll
)

// eval evaluates a JavaScript expression in the page.
func eval[T any](t *testing.T, ctx context.Context, expression string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expression))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expression, err)
	}
	return v
}

// text returns the visible text of the first element matching sel.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func wantText(t *testing.T, ctx context.Context, sel string, wants ...string) {
	t.Helper()
	got := text(t, ctx, sel)
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s: %q does not contain %q", sel, got, w)
		}
	}
}

// browserSignIn signs in through the form, the way a person does, after
// being sent there from the members page.
func browserSignIn(t *testing.T, ctx context.Context, c *console, secret string) {
	t.Helper()
	run(t, ctx,
		chromedp.Navigate(c.Srv.URL+admin.Prefix+"/members"),
		waitTitle("Sign in"),
		chromedp.SendKeys(chromedp.ID("credential"), secret),
		chromedp.Submit(chromedp.ID("credential")),
		waitTitle("Members"),
	)
}

func member(t *testing.T, c *console, id int64) *membership.Member {
	t.Helper()
	m, err := c.Svc.Member(context.Background(), c.Owner, membership.MemberRef{ID: id})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestBrowserRemoveRestore: sign in, search, open a member, preview the
// removal, confirm it, restore the member, read the audit trail, sign out.
func TestBrowserRemoveRestore(t *testing.T) {
	dialecttest.EachEngine(t, func(t *testing.T, engine string) {
		c := newConsole(t, engine, admin.DefaultConfig())
		ctx := tab(t)
		browserSignIn(t, ctx, c, c.Demo.OwnerToken)

		// Search by e-mail.
		run(t, ctx,
			chromedp.SetValue(chromedp.ID("q"), "user0042"),
			chromedp.Submit(chromedp.ID("q")),
			poll(`location.search.includes("q=user0042")`),
			waitTitle("Members"),
		)
		rows := eval[int](t, ctx, `document.querySelectorAll("table.list tbody tr").length`)
		if rows != 1 {
			t.Fatalf("search user0042: %d rows, want 1", rows)
		}
		run(t, ctx, chromedp.Click(chromedp.CSS(`a[href="/admin/members/42"]`)), waitTitle("user0042@acme.test"))
		wantText(t, ctx, "#spaces-h + table", "London HQ")

		// Preview: nothing changes yet.
		run(t, ctx, chromedp.Click(chromedp.CSS(`a[href="/admin/members/42/remove"]`)), waitTitle("Remove user0042@acme.test?"))
		wantText(t, ctx, "main", "This is a preview", "Will be taken away", "London HQ", "Access that will remain")
		if !member(t, c, 42).Active() {
			t.Fatal("the preview removed the member")
		}
		// Confirm.
		run(t, ctx, chromedp.Click(chromedp.CSS(`form.confirm button[type=submit]`)), waitTitle("Removed user0042@acme.test"))
		wantText(t, ctx, "main", "was removed", "Taken away")
		if m := member(t, c, 42); m.Active() {
			t.Fatal("member 42 is still active after the confirmed removal")
		}

		// Restore from the member's page.
		run(t, ctx,
			chromedp.Navigate(c.Srv.URL+admin.Prefix+"/members/42"), waitTitle("user0042@acme.test"),
			chromedp.Click(chromedp.CSS(`form[action="/admin/members/42/restore"] button`)),
			waitTitle("Restored user0042@acme.test"),
		)
		wantText(t, ctx, "main", "is a member again")
		hist, err := c.Svc.History(context.Background(), c.Owner, membership.MemberRef{ID: 42})
		if err != nil {
			t.Fatal(err)
		}
		if !hist.Member.Active() || len(hist.Periods) != 2 || hist.Spaces[0].Status != membership.StatusActive {
			t.Errorf("after restore: member %s, %d periods, space %s; want active, 2 periods, active space",
				hist.Member.Status, len(hist.Periods), hist.Spaces[0].Status)
		}

		// The audit trail shows both, done through the console.
		run(t, ctx,
			chromedp.Click(chromedp.CSS(`nav a[href="/admin/audit"]`)), waitTitle("Audit trail"),
			chromedp.SetValue(chromedp.ID("member"), "42"),
			chromedp.Submit(chromedp.ID("member")),
			poll(`location.search.includes("member=42")`),
			waitTitle("Audit trail"),
		)
		wantText(t, ctx, "table.list", "member.removed", "member.restored", "admin")

		// Sign out: the session ends, and the console asks to sign in.
		run(t, ctx, chromedp.Click(chromedp.CSS(`.signout button`)), waitTitle("Sign in"))
		wantText(t, ctx, "main", "You are signed out.")
		run(t, ctx, chromedp.Navigate(c.Srv.URL+admin.Prefix+"/members"), waitTitle("Sign in"))
		ss, err := c.Svc.Sessions(context.Background(), c.Owner)
		if err != nil {
			t.Fatal(err)
		}
		if len(ss) != 0 {
			t.Errorf("after sign-out: %d live sessions, want 0", len(ss))
		}
	})
}

// TestBrowserBulk: select members on the list (with the select-all script
// loaded under the CSP), confirm, and read one result per member.
func TestBrowserBulk(t *testing.T) {
	dialecttest.EachEngine(t, func(t *testing.T, engine string) {
		c := newConsole(t, engine, admin.DefaultConfig())
		ctx := tab(t)
		// Alice is an admin: the owner on the list is refused to her.
		browserSignIn(t, ctx, c, c.Demo.AdminToken)
		scriptRan := eval[bool](t, ctx, `!document.getElementById("select-all").hidden`)
		if !scriptRan {
			t.Error("the console's script did not run: the select-all box is still hidden")
		}
		run(t, ctx,
			chromedp.Click(chromedp.ID("pick-1")),
			chromedp.Click(chromedp.ID("pick-11")),
			chromedp.Click(chromedp.ID("pick-12")),
			chromedp.Click(chromedp.CSS(`button[form="bulk"]`)),
			waitTitle("Remove 3 members?"),
		)
		wantText(t, ctx, "main", "Nothing has changed yet", "owner@acme.test", "user0011@acme.test", "user0012@acme.test")
		if !member(t, c, 11).Active() {
			t.Fatal("the bulk preview removed a member")
		}
		run(t, ctx, chromedp.Click(chromedp.CSS(`form[action="/admin/removals"] button[type=submit]`)), waitTitle("Bulk removal"))
		wantText(t, ctx, "h1", "2 removed, 1 not removed")
		results := eval[[]string](t, ctx, `Array.from(document.querySelectorAll("#results tbody tr")).map(r => r.innerText.replace(/\s+/g, " ").trim())`)
		if len(results) != 3 || !strings.Contains(results[0], "owner@acme.test forbidden only an owner can remove an owner") ||
			!strings.Contains(results[1], "user0011@acme.test removed") || !strings.Contains(results[2], "user0012@acme.test removed") {
			t.Errorf("results: got %q", results)
		}
		if !member(t, c, 1).Active() || member(t, c, 11).Active() || member(t, c, 12).Active() {
			t.Error("state: want the owner active and 11, 12 removed")
		}
	})
}

// TestBrowserSchedule: schedule a removal for a date and time, see it
// pending, cancel it.
func TestBrowserSchedule(t *testing.T) {
	dialecttest.EachEngine(t, func(t *testing.T, engine string) {
		c := newConsole(t, engine, admin.DefaultConfig())
		ctx := tab(t)
		browserSignIn(t, ctx, c, c.Demo.OwnerToken)
		at := time.Now().UTC().Add(48 * time.Hour).Truncate(time.Minute)
		run(t, ctx,
			chromedp.Navigate(c.Srv.URL+admin.Prefix+"/members/20"), waitTitle("user0020@acme.test"),
			chromedp.SetValue(chromedp.ID("effective_at"), at.Format("2006-01-02T15:04")),
			chromedp.Click(chromedp.CSS(`form[action="/admin/members/20/schedule"] button`)),
			poll(`location.search.includes("scheduled=")`),
			waitTitle("user0020@acme.test"),
		)
		wantText(t, ctx, "main", "Removal scheduled", "Pending scheduled removals", at.Format("2006-01-02 15:04 UTC"))
		ops, err := c.Svc.Operations(context.Background(), c.Owner, membership.OperationListParams{Scheduled: true, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(ops) != 1 || ops[0].TargetMemberID != 20 || ops[0].Status != membership.OperationScheduled || !ops[0].EffectiveAt.Equal(at) {
			t.Fatalf("scheduled operations: %+v", ops)
		}
		run(t, ctx,
			chromedp.Click(chromedp.CSS(`nav a[href="/admin/schedules"]`)), waitTitle("Scheduled removals"),
		)
		wantText(t, ctx, "#operations", ops[0].UUID, "scheduled", "#20")
		run(t, ctx,
			chromedp.Click(chromedp.CSS(`#operations button[type=submit]`)),
			poll(`location.search.includes("cancelled=")`),
			waitTitle("Scheduled removals"),
		)
		wantText(t, ctx, "main", "Cancelled "+ops[0].UUID)
		op, err := c.Svc.Operation(context.Background(), c.Owner, ops[0].UUID)
		if err != nil {
			t.Fatal(err)
		}
		if op.Status != membership.OperationCancelled || !member(t, c, 20).Active() {
			t.Errorf("after cancel: operation %s, member active %v; want cancelled and active", op.Status, member(t, c, 20).Active())
		}
	})
}
