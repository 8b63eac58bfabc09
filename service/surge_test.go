package service_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/ems120/ems120/service"
)

// A supervisor switches surge mode on with a reason; it is recorded and shown, an operator
// may not switch it, the same switch twice is refused, and a restarted service is still in
// surge mode, with the peace-and-war hospitals' standby beds on their way, open a day later.
func TestSurgeModeSwitchedAndKept(t *testing.T) {
	e := newEnv(t)
	first := e.startWith(service.Config{AckTimeout: -1})
	base := "http://" + first.svc.HTTPAddr()
	post := func(role, body string) int {
		t.Helper()
		resp, err := e.as(role).Post(base+"/v1/surge", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("operator", `{"on":true,"reason":"x"}`); code != http.StatusForbidden {
		t.Fatalf("an operator switched surge mode: %d", code)
	}
	if code := post("supervisor", `{"on":true}`); code != http.StatusBadRequest {
		t.Fatalf("a switch without a reason: %d", code)
	}
	if code := post("supervisor", `{"on":true,"reason":"fever calls tripled in 江岸区"}`); code != http.StatusOK {
		t.Fatalf("the supervisor's switch: %d", code)
	}
	if code := post("supervisor", `{"on":true,"reason":"again"}`); code != http.StatusConflict {
		t.Fatalf("switching on what is on: %d", code)
	}
	first.stop()

	second := e.startWith(service.Config{AckTimeout: -1})
	base = "http://" + second.svc.HTTPAddr()
	var got struct {
		Surge struct {
			On     bool   `json:"on"`
			Reason string `json:"reason"`
			Actor  string `json:"actor"`
		} `json:"surge"`
		Switches []struct {
			On    bool   `json:"on"`
			Actor string `json:"actor"`
		} `json:"switches"`
	}
	getJSON(t, e.as("analyst"), base+"/v1/surge", &got)
	if !got.Surge.On || got.Surge.Reason != "fever calls tripled in 江岸区" || got.Surge.Actor != "t-supervisor" || len(got.Switches) != 1 {
		t.Fatalf("after a restart: %+v", got)
	}
	var hs struct {
		Hospitals []struct {
			ID             string     `json:"hospital_id"`
			StandbyBeds    int        `json:"standby_beds"`
			StandbyOpensAt *time.Time `json:"standby_opens_at"`
		} `json:"hospitals"`
	}
	getJSON(t, e.as("supervisor"), base+"/v1/hospitals", &hs)
	opening := 0
	for _, h := range hs.Hospitals {
		if h.StandbyBeds == 1000 && h.StandbyOpensAt != nil && time.Until(*h.StandbyOpensAt) > 23*time.Hour {
			opening++
		}
	}
	if opening != 4 {
		t.Fatalf("four peace-and-war hospitals open their standby beds a day after the switch: %d do", opening)
	}
	// A day on, the service's own tick opens them: no call needs to choose a hospital first.
	second.stop()
	third := e.startWith(service.Config{AckTimeout: -1, Now: func() time.Time { return time.Now().Add(25 * time.Hour) }})
	base = "http://" + third.svc.HTTPAddr()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var open struct {
			Hospitals []struct {
				StandbyOpen bool `json:"standby_open"`
			} `json:"hospitals"`
		}
		getJSON(t, e.as("supervisor"), base+"/v1/hospitals", &open)
		n := 0
		for _, h := range open.Hospitals {
			if h.StandbyOpen {
				n++
			}
		}
		if n == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a day after the switch %d hospitals have opened their standby beds, want 4", n)
		}
	}
	if code := post("supervisor", `{"on":false,"reason":"over"}`); code != http.StatusOK {
		t.Fatalf("switch off: %d", code)
	}
	getJSON(t, e.as("analyst"), base+"/v1/surge", &got)
	if got.Surge.On || len(got.Switches) != 2 || got.Switches[0].On {
		t.Fatalf("switched off: %+v", got)
	}
}

// In Chromium: the supervisor switches surge mode on from the header, a reason required,
// and the header says SURGE MODE; an analyst sees it and cannot switch it.
func TestConsoleSurgeSwitch(t *testing.T) {
	e := newEnv(t)
	r := e.startWith(service.Config{AckTimeout: -1})
	base := "http://" + r.svc.HTTPAddr()
	p := openConsole(t, base, e.account("supervisor", ""))
	p.wait(`emsConsole.feed.snapshots >= 1 && document.getElementById('surge-btn').textContent === 'Surge off'`)
	p.do(chromedp.Click(`#surge-btn`))
	p.wait(`document.getElementById('surge-dialog').open`)
	p.do(chromedp.Click(`#surge-dialog button[type=submit]`))
	p.wait(`document.querySelector('#surge-dialog .err[data-for=reason]').textContent.includes('say why')`)
	p.do(chromedp.SendKeys(`#surge-dialog [name=reason]`, "fever calls tripled in 江岸区"))
	p.wait(`document.querySelector('#surge-dialog .err[data-for=reason]').textContent === '' && !document.querySelector('#surge-dialog [name=reason]').hasAttribute('aria-invalid')`)
	p.shot("surge-switch")
	p.do(chromedp.Click(`#surge-dialog button[type=submit]`))
	p.wait(`!document.getElementById('surge-dialog').open && document.getElementById('surge-btn').textContent === 'SURGE MODE'`)
	p.shot("surge-on")
	var got struct {
		Surge struct {
			On    bool   `json:"on"`
			Actor string `json:"actor"`
		} `json:"surge"`
	}
	getJSON(t, e.as("analyst"), base+"/v1/surge", &got)
	if !got.Surge.On || got.Surge.Actor != "t-supervisor" {
		t.Fatalf("the console's switch: %+v", got)
	}
	p.do(chromedp.Click(`#sign-out`))
	an := e.account("analyst", "")
	p.signIn(an.Name, an.Password)
	p.wait(`window.emsConsole && emsConsole.session && emsConsole.session.role === 'analyst' && emsConsole.feed.snapshots >= 1 && document.getElementById('surge-btn').textContent === 'SURGE MODE'`)
	if !eval[bool](p, `document.getElementById('surge-btn').disabled`) {
		t.Fatal("an analyst may switch surge mode")
	}
}
