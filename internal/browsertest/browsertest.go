// Package browsertest owns the headless Chromium the browser tests share:
// one browser process per test binary, driven through chromedp, and a
// fresh browser context (its own cookies) per test. It is imported only
// by tests (the console's, and the OAuth flows that go through it).
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

var browser struct {
	once   sync.Once
	ctx    context.Context // the browser; tests open contexts inside it
	err    error
	cancel func()
}

// chromiumPath finds Chromium: $CHROMIUM, then Debian's binary names.
func chromiumPath() (string, error) {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no chromium on PATH (.ci/install-deps installs Debian's chromium)")
}

func startBrowser() {
	path, err := chromiumPath()
	if err != nil {
		browser.err = err
		return
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // containers and CI run as root, where Chromium's sandbox cannot start
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.WindowSize(1280, 900),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	// The first call starts the browser and must have no timeout of its
	// own (it would stop the browser with it); a hung start is bounded by
	// the test binary's -timeout.
	start := ctx
	if err := chromedp.Do(start); err != nil {
		cancelCtx()
		cancelAlloc()
		browser.err = fmt.Errorf("start chromium %s: %w", path, err)
		return
	}
	browser.ctx = ctx
	browser.cancel = func() { cancelCtx(); cancelAlloc() }
}

// Close stops the browser, if a test started it; TestMain calls it.
func Close() {
	if browser.cancel != nil {
		browser.cancel()
	}
}

// Tab returns a fresh browser context (no cookies) in the shared browser,
// closed when the test ends. Without a working Chromium the test fails
// under CI=true and is skipped, with the reason, elsewhere.
func Tab(t *testing.T) context.Context {
	t.Helper()
	browser.once.Do(startBrowser)
	if browser.err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("browser tests need Chromium under CI: %v", browser.err)
		}
		t.Skipf("browser tests skipped: %v", browser.err)
	}
	ctx, cancel := chromedp.NewContext(browser.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // opens the tab
		t.Fatalf("open a browser tab: %v", err)
	}
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancelTimeout)
	return ctx
}

// Run runs browser actions and fails the test on the first error.
func Run(t *testing.T, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// WaitTitle waits until the page's title starts with prefix: the page a
// click or a form led to has loaded.
func WaitTitle(prefix string) chromedp.Action[chromedp.Void] {
	return Poll(fmt.Sprintf("document.readyState === 'complete' && document.title.startsWith(%q)", prefix))
}

// Poll waits until a JavaScript expression is true in the page. A click
// that submits a form replaces the page while it is being asked, which
// the browser answers with an error about the old page: Poll asks again.
func Poll(expression string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		deadline := time.Now().Add(20 * time.Second)
		var last error
		for time.Now().Before(deadline) {
			ok, err := chromedp.Evaluate[bool](expression)(ctx, t)
			if err == nil && ok {
				return chromedp.Void{}, nil
			}
			if err != nil {
				if ctx.Err() != nil {
					return chromedp.Void{}, err
				}
				last = err
			}
			time.Sleep(50 * time.Millisecond)
		}
		return chromedp.Void{}, fmt.Errorf("waited 20s for %s (last error: %v)", expression, last)
	}
}
