package admin_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/memberd/memberd/admin"
	"github.com/memberd/memberd/membership"
)

// TestScreenshots renders the main screens of a demo console on loopback
// into $MEMBERD_SCREENSHOTS (the README shows them from docs/):
//
//	MEMBERD_SCREENSHOTS=$PWD/docs go test -run TestScreenshots ./admin
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("MEMBERD_SCREENSHOTS")
	if dir == "" {
		t.Skip("set MEMBERD_SCREENSHOTS to a directory to write the console's screenshots")
	}
	c := newConsole(t, "sqlite", admin.DefaultConfig())
	// Some history to show: a removal and a restore, a bulk removal, a schedule.
	ctx := context.Background()
	if _, err := c.Svc.RemoveMember(ctx, c.Owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: 30}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Svc.RestoreMember(ctx, c.Owner, membership.RestoreMemberRequest{Member: membership.MemberRef{ID: 30}}); err != nil {
		t.Fatal(err)
	}
	b := tab(t)
	shot := func(name string, width, height int64, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		run(t, b, append([]chromedp.Action[chromedp.Void]{chromedp.EmulateViewport(width, height)}, steps...)...)
		png, err := chromedp.Run(b, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "admin-"+name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	base := c.Srv.URL + admin.Prefix
	shot("signin", 1100, 560, chromedp.Navigate(base+"/signin"), waitTitle("Sign in"))
	browserSignIn(t, b, c, c.Demo.OwnerToken)
	shot("members", 1280, 900,
		chromedp.Navigate(base+"/members?status=active"), waitTitle("Members"),
		chromedp.Click(chromedp.ID("pick-11")), chromedp.Click(chromedp.ID("pick-12")))
	shot("member", 1280, 900, chromedp.Navigate(base+"/members/12"), waitTitle("user0012"))
	shot("preview", 1280, 800, chromedp.Navigate(base+"/members/12/remove"), waitTitle("Remove"))
	shot("bulk", 1280, 640,
		chromedp.Navigate(base+"/removals?member=1&member=13&member=14"), waitTitle("Remove 3"),
		chromedp.Click(chromedp.CSS(`form[action="/admin/removals"] button[type=submit]`)), waitTitle("Bulk removal"))
	shot("audit", 1280, 900, chromedp.Navigate(base+"/audit"), waitTitle("Audit"))
	shot("phone", 390, 844, chromedp.Navigate(base+"/members/12"), waitTitle("user0012"))
}
