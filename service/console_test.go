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

// openConsole opens the console and signs in as who, through the sign-in form; for a role
// with the live feed it returns once the boards are filled from it.
func openConsole(t testing.TB, base string, who service.Credentials) *page {
	t.Helper()
	ctx := testenv.Browser(t)
	p := &page{t: t, ctx: ctx, dir: testenv.ScreenshotDir(t), base: base}
	p.do(chromedp.Navigate(base + "/"))
	p.signIn(who.Name, who.Password)
	p.wait(fmt.Sprintf(`window.emsConsole && emsConsole.session && emsConsole.session.name === %q`, who.Name))
	p.wait(`getComputedStyle(document.getElementById('login')).display === 'none'`) // not over the console
	if who.Role != "reporter" {
		p.wait(`emsConsole.feed.snapshots >= 1 && document.querySelectorAll('#unit-board tbody tr').length > 0`)
	}
	return p
}

// signIn fills the sign-in form and sends it; a good sign-in reloads the page.
func (p *page) signIn(name, password string) {
	p.t.Helper()
	p.wait(`!document.getElementById('login').hidden && document.body.classList.contains('signed-out')`)
	p.fill(`#login [name=name]`, name)
	p.fill(`#login [name=password]`, password)
	p.do(chromedp.Click(`#login button[type=submit]`))
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

// wait polls a JavaScript predicate until it is true. The page may reload meanwhile (a
// sign-in does): a poll cut short by the navigation starts again on the new page.
func (p *page) wait(pred string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	for {
		_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](pred, chromedp.WithPollingInterval(50*time.Millisecond)))
		if err == nil {
			return
		}
		if ctx.Err() == nil && (strings.Contains(err.Error(), "navigated") || strings.Contains(err.Error(), "context was destroyed") ||
			strings.Contains(err.Error(), "Cannot find context")) {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		p.shot("failure")
		p.t.Fatalf("waiting for %s: %v", pred, err)
	}
}

func eval[T any](p *page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
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
	p := openConsole(t, "http://"+r.svc.HTTPAddr(), e.account("operator", ""))
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
	// The record agrees: the call went en route, accepted by the dispatcher, and it names who
	// took the call and who accepted it; the timeline shows it.
	var call struct {
		Status string `json:"status"`
		Events []struct{ Type, Reason, Actor string }
	}
	if code := getJSON(t, e.as("analyst"), p.base+"/v1/calls/"+callID, &call); code != http.StatusOK || call.Status != "en_route" {
		t.Fatalf("recorded call: %d %+v", code, call)
	}
	op := e.account("operator", "").Name
	if last := call.Events[len(call.Events)-1]; last.Type != "en_route" || !strings.Contains(last.Reason, "dispatcher") || last.Actor != op {
		t.Fatalf("last event %+v, want en_route by %s", last, op)
	}
	if first := call.Events[0]; first.Type != "received" || first.Actor != op {
		t.Fatalf("first event %+v, want received by %s", first, op)
	}
	p.wait(fmt.Sprintf(`[...document.querySelectorAll('#incident-detail .timeline .actor')].some((a) => a.textContent === 'by %s')`, op))
}

// The feed drops; calls are decided while the page is away; when it reconnects it resumes
// from the last event it saw (no snapshot, no gap) and shows them all.
func TestConsoleStreamResumesWithoutLosingAnEvent(t *testing.T) {
	e := newEnv(t)
	r := e.startWith(service.Config{AckTimeout: -1})
	base := "http://" + r.svc.HTTPAddr()
	p := openConsole(t, base, e.account("operator", ""))
	eval[any](p, `emsConsole.dropConnection(4000)`)
	calls := e.calls(5, "AWAY")
	e.produce("ems.calls", encode(t, calls)...)
	for _, c := range calls { // recorded, so its events were sent while the page was away
		deadline := time.Now().Add(20 * time.Second)
		for getJSON(t, e.as("operator"), base+"/v1/calls/"+c.CallID, &struct{}{}) != http.StatusOK {
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

// A hospital reporter sees their own hospital only, and the form shows the API's refusal next
// to the ward; signed out, the analyst's view loads its figures.
func TestConsoleHospitalAndAnalystViews(t *testing.T) {
	e := newEnv(t)
	r := e.startWith(service.Config{AckTimeout: -1})
	e.produce("ems.calls", encode(t, e.calls(8, "AN"))...)
	own := e.city.Hospitals[0].ID
	p := openConsole(t, "http://"+r.svc.HTTPAddr(), e.account("reporter", own))
	p.wait(`document.getElementById('view-hospitals').classList.contains('on')`)
	p.wait(`document.querySelectorAll('#hospital-board tbody tr[data-hospital-id]').length === 1`)
	if got := eval[string](p, `document.querySelector('#hospital-board tbody tr[data-hospital-id]').dataset.hospitalId`); got != own {
		t.Fatalf("the reporter for %s sees %s", own, got)
	}
	if n := eval[int](p, `[...document.querySelectorAll('#views button')].filter((b) => b.offsetParent !== null).length`); n != 1 {
		t.Fatalf("the reporter sees %d views, want only Hospitals", n)
	}
	p.do(chromedp.Click(`#capacity-form [name="icu.total"]`))
	p.wait(`document.querySelector('#capacity-form [name=hospital_id]').value === ` + fmt.Sprintf("%q", own))
	p.fill(`#capacity-form [name="icu.total"]`, "10")
	p.fill(`#capacity-form [name="icu.occupied"]`, "12")
	p.do(chromedp.Click(`#capacity-form button[type=submit]`))
	p.wait(`document.querySelector('#capacity-form .err[data-for="beds.icu"]').textContent.includes('more than total')`)
	p.shot("hospitals")

	p.do(chromedp.Click(`#sign-out`))
	an := e.account("analyst", "")
	p.signIn(an.Name, an.Password)
	p.wait(`window.emsConsole && emsConsole.session && emsConsole.session.role === 'analyst' && emsConsole.feed.snapshots >= 1`)
	if shown := eval[bool](p, `document.getElementById('new-call-btn').offsetParent !== null`); shown {
		t.Fatal("an analyst sees the New call button")
	}
	p.key("3")
	p.wait(`document.querySelectorAll('#analyst .tiles div').length >= 6 && document.querySelectorAll('#analyst table').length >= 3`)
	p.shot("analyst")
	if n := eval[int](p, `document.querySelectorAll('#analyst a[href*="/v1/export/calls.csv"]').length`); n != 1 {
		t.Fatalf("CSV download link: %d", n)
	}
	resp, err := e.as("analyst").Get(p.base + "/v1/export/calls.csv?hours=1")
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
	if code := getJSON(t, e.as("analyst"), p.base+"/v1/export/calls.geojson?hours=0", &struct{}{}); code != http.StatusBadRequest {
		t.Fatalf("hours=0: %d, want 400", code)
	}
}

// Sign-in and sign-out in the browser: a wrong password is refused on the form, a good one
// opens the console as that account, and signing out ends the session — a reload shows the
// sign-in form, and the old cookie no longer opens the feed.
func TestConsoleSignInAndOut(t *testing.T) {
	e := newEnv(t)
	r := e.startWith(service.Config{AckTimeout: -1})
	op := e.account("operator", "")
	ctx := testenv.Browser(t)
	p := &page{t: t, ctx: ctx, dir: testenv.ScreenshotDir(t), base: "http://" + r.svc.HTTPAddr()}
	p.do(chromedp.Navigate(p.base + "/"))
	p.signIn(op.Name, "not the password")
	p.wait(`document.querySelector('#login .err').textContent === 'wrong name or password'`)
	p.shot("sign-in-refused")
	p.signIn(op.Name, op.Password)
	p.wait(`window.emsConsole && emsConsole.session && emsConsole.session.name === ` + fmt.Sprintf("%q", op.Name) + ` && emsConsole.feed.status === 'live'`)
	if who := eval[string](p, `document.getElementById('who').textContent`); !strings.Contains(who, op.Name) || !strings.Contains(who, "operator") {
		t.Fatalf("header says %q", who)
	}
	if n := eval[int](p, `document.querySelectorAll('#views button.needs-accounts')[0].offsetParent === null ? 0 : 1`); n != 0 {
		t.Fatal("an operator sees the supervisor's audit view")
	}
	p.do(chromedp.Click(`#sign-out`))
	p.wait(`!document.getElementById('login').hidden && document.body.classList.contains('signed-out')`)
	p.do(chromedp.Navigate(p.base + "/"))
	p.wait(`!document.getElementById('login').hidden`)
	if code := eval[int](p, `fetch('/v1/stream').then((r) => r.status)`); code != http.StatusUnauthorized {
		t.Fatalf("the feed after signing out: %d, want 401", code)
	}
	p.shot("sign-in")
}

// A session expires while the console is open: the feed ends with it, and the page comes back
// to the sign-in form, saying why.
func TestConsoleSessionExpires(t *testing.T) {
	e := newEnv(t)
	r := e.startWith(service.Config{AckTimeout: -1, SessionTTL: 12 * time.Second})
	sup := e.account("supervisor", "")
	send(t, e.as("analyst"), "POST", "http://"+r.svc.HTTPAddr()+"/v1/calls", `{"call_id":"REFUSED-1","lat":30.59,"lng":114.3,"priority":2,"category":"trauma"}`)
	p := openConsole(t, "http://"+r.svc.HTTPAddr(), sup)
	p.wait(`emsConsole.feed.status === 'live'`)
	// The supervisor's audit view lists the analyst's refused command and this sign-in.
	p.key("4")
	p.wait(`[...document.querySelectorAll('#audit-board tbody tr.refused')].some((r) => r.textContent.includes('t-analyst') && r.textContent.includes('403'))
		&& document.querySelector('#audit-board tbody').textContent.includes('POST /v1/session')`)
	p.shot("audit")
	p.wait(`!document.getElementById('login').hidden && document.querySelector('#login .err').textContent.includes('expired')`)
	p.shot("session-expired")
	if code := eval[int](p, `fetch('/v1/calls').then((r) => r.status)`); code != http.StatusUnauthorized {
		t.Fatalf("GET /v1/calls after the session expired: %d, want 401", code)
	}
	p.signIn(sup.Name, sup.Password)
	p.wait(`window.emsConsole && emsConsole.session && emsConsole.session.name === ` + fmt.Sprintf("%q", sup.Name) + ` && emsConsole.feed.snapshots >= 1`)
}
