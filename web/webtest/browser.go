package webtest

import (
	"context"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// InstallHint is what a test without a browser tells the developer.
const InstallHint = "Chromium not found; install it with: apt-get update && apt-get install -y chromium"

// ExecPath returns the Chromium to run: $CHROMIUM if set, else the first of
// chromium, chromium-browser and google-chrome on $PATH (Debian installs
// /usr/bin/chromium). It returns "" if there is none.
func ExecPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// NewBrowser starts a fresh headless Chromium for t, with its own profile
// under t.TempDir(), and returns a chromedp context for one tab. The browser
// stops when the test ends. The page's console errors and uncaught exceptions
// are logged with t.Log. If Chromium is missing, t skips (t fails when
// CI=true).
func NewBrowser(t testing.TB) context.Context {
	t.Helper()
	path := ExecPath()
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(InstallHint)
		}
		t.Skip(InstallHint)
	}
	profile := t.TempDir()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), allocatorOptions(path, profile)...)
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	var mu sync.Mutex
	ended := false
	t.Cleanup(func() {
		mu.Lock()
		ended = true // no t.Log once the test is over
		mu.Unlock()
		cancel()
		cancelAlloc() // waits for the browser to exit, before TempDir removes its profile
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser, opens the tab
		t.Fatalf("starting %s: %v", path, err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleWarning && !m.IsException() {
				continue
			}
			mu.Lock()
			if !ended {
				t.Logf("browser console: %s (%s:%d)", m, m.URL, m.Line+1)
			}
			mu.Unlock()
		}
	}()
	return ctx
}

// allocatorOptions are the flags for a quiet, reproducible headless browser
// that talks only to loopback servers.
func allocatorOptions(path, profile string) []chromedp.ExecAllocatorOption {
	return append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.WindowSize(1280, 900),
	)
}
