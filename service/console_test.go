package service_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ems120/ems120/internal/testenv"
	"github.com/ems120/ems120/service"
)

// The operator console in a real headless Chromium against a real service (broker,
// PostgreSQL): what a dispatcher does at the start of a shift.

// page wraps a chromedp tab with the steps the console tests repeat.
type page struct {
	t    testing.TB
	ctx  context.Context
	dir  string // screenshots
	base string
}

func openConsole(t testing.TB, base string) *page {
	t.Helper()
	ctx := testenv.Browser(t)
	p := &page{t: t, ctx: ctx, dir: testenv.ScreenshotDir(t), base: base}
	p.do(chromedp.Navigate(base + "/"))
	p.wait(`window.emsConsole && emsConsole.feed.snapshots >= 1 && document.querySelectorAll('#unit-board tbody tr').length > 0`)
	return p
}

func (p *page) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.shot("failure")
		p.t.Fatal(err)
	}
}

// wait polls a JavaScript predicate until it is true.
func (p *page) wait(pred string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](pred, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		p.shot("failure")
		p.t.Fatalf("waiting for %s: %v", pred, err)
	}
}

func eval[T any](p *page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func (p *page) key(k string) { p.t.Helper(); p.do(chromedp.KeyEvent(k)) }

// fill sets an input's value as typing would.
func (p *page) fill(sel, v string) {
	p.t.Helper()
	p.do(chromedp.SetValue(sel, v), chromedp.SendKeys(sel, ""))
}

func (p *page) shot(name string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Logf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(p.dir, "console-"+name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot: %s", path)
}

// A dispatcher places a call through the form (a bad one first: the API's reason shows
// inline), sees it on the call board, accepts the recommendation, and sees the unit turn en
// route on the unit board and on the map.
func TestConsoleDispatcherPlacesAndAcceptsACall(t *testing.T) {
	e := newEnv(t)
	r := e.startWith(service.Config{})
	p := openConsole(t, "http://"+r.svc.HTTPAddr())
	p.shot("dispatch-empty")

	p.key("n")
	p.wait(`document.getElementById('new-call').open`)
	p.fill(`#new-call [name=lat]`, "95")
	p.fill(`#new-call [name=lng]`, "114.3")
	p.do(chromedp.Click(`#new-call button[type=submit]`))
	p.wait(`document.querySelector('#new-call .err[data-for=lat]').textContent.includes('lat')`)
	if open := eval[bool](p, `document.getElementById('new-call').open`); !open {
		t.Fatal("the form closed on a refused call")
	}
	p.shot("new-call-error")

	p.fill(`#new-call [name=lat]`, "30.5928")
	p.fill(`#new-call [name=lng]`, "114.3055")
	p.do(chromedp.SetValue(`#new-call [name=priority]`, "1"), chromedp.SetValue(`#new-call [name=category]`, "cardiac"),
		chromedp.Click(`#new-call button[type=submit]`))
	p.wait(`!document.getElementById('new-call').open`)
	// The call is on the board, selected, with its recommended unit.
	p.wait(`emsConsole.state.selected && document.querySelector('#call-board tr[data-call-id="' + emsConsole.state.selected + '"]')
		&& (emsConsole.state.incidents.get(emsConsole.state.selected) || {}).unit_id && document.getElementById('rec-unit')`)
	callID := eval[string](p, `emsConsole.state.selected`)
	unitID := eval[string](p, `emsConsole.state.incidents.get(emsConsole.state.selected).unit_id`)
	if got := eval[string](p, `document.getElementById('rec-unit').textContent`); got != unitID {
		t.Fatalf("recommendation shows %q, the call holds %q", got, unitID)
	}
	p.wait(fmt.Sprintf(`document.querySelectorAll('#incident-detail table.alts tbody tr[data-unit-id]').length > 0`))
	p.shot("recommendation")

	p.key("a")
	unitRow := fmt.Sprintf(`#unit-board tr[data-unit-id="%s"] .status`, unitID)
	p.wait(fmt.Sprintf(`(document.querySelector('%s') || {}).textContent === 'en route'`, unitRow))
	p.wait(fmt.Sprintf(`emsConsole.unitStatusOnMap(%q) === 'en_route'`, unitID))
	p.wait(fmt.Sprintf(`document.querySelector('#call-board tr[data-call-id="%s"] .state').textContent.startsWith('en route')`, callID))
	p.shot("dispatch")

	// The record agrees: the call went en route, accepted by the dispatcher.
	var call struct {
		Status string `json:"status"`
		Events []struct{ Type, Reason string }
	}
	if code := getJSON(t, p.base+"/v1/calls/"+callID, &call); code != http.StatusOK || call.Status != "en_route" {
		t.Fatalf("recorded call: %d %+v", code, call)
	}
	if last := call.Events[len(call.Events)-1]; last.Type != "en_route" || !strings.Contains(last.Reason, "dispatcher") {
		t.Fatalf("last event %+v", last)
	}
}

// The feed drops; calls are decided while the page is away; when it reconnects it resumes
// from the last event it saw (no snapshot, no gap) and shows them all.
func TestConsoleStreamResumesWithoutLosingAnEvent(t *testing.T) {
	e := newEnv(t)
	r := e.startWith(service.Config{AckTimeout: -1})
	base := "http://" + r.svc.HTTPAddr()
	p := openConsole(t, base)
	eval[any](p, `emsConsole.dropConnection(4000)`)
	calls := e.calls(5, "AWAY")
	e.produce("ems.calls", encode(t, calls)...)
	for _, c := range calls { // recorded, so its events were sent while the page was away
		deadline := time.Now().Add(20 * time.Second)
		for getJSON(t, base+"/v1/calls/"+c.CallID, &struct{}{}) != http.StatusOK {
			if time.Now().After(deadline) {
				t.Fatalf("%s not recorded", c.CallID)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if st := eval[string](p, `emsConsole.feed.status`); st != "reconnecting" {
		t.Fatalf("the feed was %q while the calls were decided; the test needs it away", st)
	}
	for _, c := range calls {
		p.wait(fmt.Sprintf(`!!document.querySelector('#call-board tr[data-call-id="%s"]')`, c.CallID))
	}
	feed := eval[map[string]any](p, `emsConsole.feed`)
	if feed["snapshots"] != 1.0 || feed["gaps"] != 0.0 || feed["reconnects"].(float64) < 1 || feed["status"] != "live" {
		t.Fatalf("feed after reconnecting: %v (want 1 snapshot, 0 gaps, ≥1 reconnect, live)", feed)
	}
}

// A hospital reporter's form shows the API's refusal next to the ward; the analyst view
// loads its figures.
func TestConsoleHospitalAndAnalystViews(t *testing.T) {
	e := newEnv(t)
	r := e.startWith(service.Config{AckTimeout: -1})
	e.produce("ems.calls", encode(t, e.calls(8, "AN"))...)
	p := openConsole(t, "http://"+r.svc.HTTPAddr())
	p.key("2")
	p.wait(`document.querySelectorAll('#hospital-board tbody tr[data-hospital-id]').length > 30`)
	p.wait(`document.querySelector('#capacity-form [name="icu.total"]')`)
	p.fill(`#capacity-form [name="icu.total"]`, "10")
	p.fill(`#capacity-form [name="icu.occupied"]`, "12")
	p.do(chromedp.Click(`#capacity-form button[type=submit]`))
	p.wait(`document.querySelector('#capacity-form .err[data-for="beds.icu"]').textContent.includes('more than total')`)
	p.shot("hospitals")

	p.key("3")
	p.wait(`document.querySelectorAll('#analyst .tiles div').length >= 6 && document.querySelectorAll('#analyst table').length >= 3`)
	p.shot("analyst")
	if n := eval[int](p, `document.querySelectorAll('#analyst a[href*="/v1/export/calls.csv"]').length`); n != 1 {
		t.Fatalf("CSV download link: %d", n)
	}
	resp, err := http.Get(p.base + "/v1/export/calls.csv?hours=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Disposition"), "ems120-calls.csv") ||
		!strings.HasPrefix(lines[0], "call_id,received_at,lat,lng") || len(lines) != 1+8 {
		t.Fatalf("CSV export: %d %q, %d lines: %q", resp.StatusCode, resp.Header.Get("Content-Disposition"), len(lines), lines[0])
	}
	if code := getJSON(t, p.base+"/v1/export/calls.geojson?hours=0", &struct{}{}); code != http.StatusBadRequest {
		t.Fatalf("hours=0: %d, want 400", code)
	}
}
