package webtest

import (
	"testing"

	"github.com/chromedp/chromedp"
)

func TestExecPathPrefersEnvironment(t *testing.T) {
	t.Setenv("CHROMIUM", "/opt/chromium/chrome")
	if got, want := ExecPath(), "/opt/chromium/chrome"; got != want {
		t.Errorf("ExecPath() = %q, want %q", got, want)
	}
}

func TestNewBrowserRunsJavaScript(t *testing.T) {
	ctx := NewBrowser(t)
	got, err := chromedp.Run(ctx, chromedp.Evaluate[int](`6 * 7`))
	if err != nil {
		t.Fatal(err)
	}
	if got != 42 {
		t.Errorf("6 * 7 = %d in the browser, want 42", got)
	}
}
