package testenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ems120/ems120/web"
)

// Browser starts a real headless Chromium (Debian's chromium) for the test and returns a
// chromedp context on a new tab; it is closed when the test ends. It skips, saying why, when
// Chromium is not installed or the console was not bundled into this build (`make web`);
// under `make test` (EMS_REQUIRE_BROWSER=1) either is a failure.
func Browser(t testing.TB) context.Context {
	t.Helper()
	need := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("EMS_REQUIRE_BROWSER") == "" {
			t.Skipf("skipping: "+format, args...)
		}
		t.Fatalf(format, args...)
	}
	bin, err := exec.LookPath("chromium")
	if err != nil {
		need("no chromium on PATH (apt-get install chromium, or make setup)")
	}
	if !web.Built() {
		need("the console is not bundled into this build: run make web first")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.WindowSize(1600, 950), chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() { cancel(); cancelAlloc() })
	return ctx
}

// ScreenshotDir is where browser tests save their screenshots: EMS_SCREENSHOTS when set
// (make screenshots sets docs/screenshots), else a directory removed after the test.
func ScreenshotDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("EMS_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		abs, _ := filepath.Abs(d)
		return abs
	}
	return t.TempDir()
}
