package service_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ems120/ems120/service"
)

// who may use each route: "open" for anyone, else the roles that may. A reporter's hospital
// route is tried with their own hospital (allowed) and another (403) separately.
var roleTable = map[string][]string{
	"GET /healthz":                     {"open"},
	"GET /readyz":                      {"open"},
	"GET /metrics":                     {"open"},
	"GET /{$}":                         {"open"},
	"GET /assets/":                     {"open"},
	"POST /v1/session":                 {"open"},
	"/":                                {"open"},
	"GET /v1/session":                  {"operator", "supervisor", "reporter", "analyst"},
	"DELETE /v1/session":               {"operator", "supervisor", "reporter", "analyst"},
	"GET /v1/city":                     {"operator", "supervisor", "reporter", "analyst"},
	"POST /v1/calls":                   {"operator", "supervisor"},
	"POST /v1/calls/{id}/ack":          {"operator", "supervisor"},
	"POST /v1/calls/{id}/cancel":       {"operator", "supervisor"},
	"POST /v1/calls/{id}/close":        {"operator", "supervisor"},
	"POST /v1/calls/{id}/assign":       {"operator", "supervisor"},
	"POST /v1/calls/{id}/accept":       {"operator", "supervisor"},
	"POST /v1/calls/{id}/destination":  {"operator", "supervisor"},
	"GET /v1/calls/{id}/candidates":    {"operator", "supervisor"},
	"GET /v1/calls/{id}":               {"operator", "supervisor", "analyst"},
	"GET /v1/calls":                    {"operator", "supervisor", "analyst"},
	"GET /v1/stream":                   {"operator", "supervisor", "analyst"},
	"GET /v1/units":                    {"operator", "supervisor", "analyst"},
	"GET /v1/queue":                    {"operator", "supervisor", "analyst"},
	"GET /v1/coverage":                 {"operator", "supervisor", "analyst"},
	"GET /v1/coverage/moves":           {"operator", "supervisor", "analyst"},
	"GET /v1/kpis":                     {"operator", "supervisor", "analyst"},
	"GET /v1/alerts":                   {"operator", "supervisor", "analyst"},
	"GET /v1/surge":                    {"operator", "supervisor", "analyst"},
	"POST /v1/surge":                   {"supervisor"},
	"GET /v1/calls/{id}/loop":          {"operator", "supervisor", "analyst"},
	"POST /v1/calls/{id}/screening":    {"operator", "supervisor"},
	"GET /v1/export/calls.csv":         {"operator", "supervisor", "analyst"},
	"GET /v1/export/calls.geojson":     {"operator", "supervisor", "analyst"},
	"GET /v1/hospitals":                {"operator", "supervisor", "reporter", "analyst"},
	"POST /v1/hospitals/{id}/capacity": {"reporter"},
	"GET /v1/audit":                    {"supervisor"},
	"GET /v1/accounts":                 {"supervisor"},
	"POST /v1/accounts":                {"supervisor"},
	"POST /v1/accounts/{name}/disable": {"supervisor"},
}

var roles = []string{"operator", "supervisor", "reporter", "analyst"}

// request makes a request that reaches the route of pattern: its method, and its path with
// the wildcards filled in (a call that does not exist, the given hospital, an unknown account).
func request(base, pattern, hospital string) (*http.Request, context.CancelFunc) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = http.MethodGet, "/no-such-route"
	}
	path = strings.NewReplacer("{$}", "", "{name}", "nobody-here").Replace(path)
	if strings.HasPrefix(path, "/v1/hospitals/") {
		path = strings.Replace(path, "{id}", hospital, 1)
	}
	path = strings.Replace(path, "{id}", "NO-SUCH-CALL", 1)
	if strings.HasSuffix(path, "/assets/") {
		path += "console.js"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	req, _ := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(nil))
	return req, cancel
}

func status(t *testing.T, c *http.Client, req *http.Request) (int, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	var e struct{ Error string }
	if req.URL.Path == "/v1/stream" && resp.StatusCode == http.StatusOK {
		return resp.StatusCode, "" // it does not end
	}
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &e)
	return resp.StatusCode, e.Error
}

// Every route of the router is in the role × endpoint table, and answers as it says: 401
// without credentials (unless open), 403 for a role it does not list, and neither for a role
// it lists. A new route without a row here fails this test.
func TestEveryRouteHasARule(t *testing.T) {
	e := newEnv(t)
	r := e.start(0)
	base := "http://" + r.svc.HTTPAddr()
	own, other := e.city.Hospitals[0].ID, e.city.Hospitals[1].ID
	patterns := r.svc.RoutePatterns()
	for p := range roleTable {
		if !slices.Contains(patterns, p) {
			t.Errorf("the table has %q, which the router does not serve", p)
		}
	}
	for _, p := range patterns {
		allowed, ok := roleTable[p]
		if !ok {
			t.Errorf("route %q has no row in the role × endpoint table: say who may use it", p)
			continue
		}
		isOpen := slices.Contains(allowed, "open")
		req, cancel := request(base, p, own)
		code, msg := status(t, http.DefaultClient, req)
		cancel()
		if isOpen != (code != http.StatusUnauthorized) {
			t.Errorf("%s with no credentials: %d %q (open: %v)", p, code, msg, isOpen)
		}
		if isOpen {
			continue
		}
		if !strings.Contains(msg, "sign in") {
			t.Errorf("%s with no credentials: reason %q does not say to sign in", p, msg)
		}
		for _, role := range roles {
			hosp := ""
			if role == "reporter" {
				hosp = own
			}
			req, cancel := request(base, p, own)
			code, msg := status(t, e.as(role, hosp), req)
			cancel()
			may := slices.Contains(allowed, role)
			if may && (code == http.StatusUnauthorized || code == http.StatusForbidden) {
				t.Errorf("%s as %s: %d %q, want it allowed", p, role, code, msg)
			}
			if !may && code != http.StatusForbidden {
				t.Errorf("%s as %s: %d %q, want 403", p, role, code, msg)
			}
			if !may && !strings.Contains(msg, "role may not") {
				t.Errorf("%s as %s: reason %q does not name the role", p, role, msg)
			}
		}
	}
	// A reporter for one hospital may not report for another.
	req, cancel := request(base, "POST /v1/hospitals/{id}/capacity", other)
	defer cancel()
	if code, msg := status(t, e.as("reporter", own), req); code != http.StatusForbidden || !strings.Contains(msg, other) {
		t.Errorf("a reporter for %s reporting for %s: %d %q, want 403 naming it", own, other, code, msg)
	}
}

// send makes a request with a JSON body and optional headers, and returns the status and the
// decoded JSON answer.
func send(t *testing.T, c *http.Client, method, url, body string, header ...string) (int, map[string]any, *http.Response) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&v)
	return resp.StatusCode, v, resp
}

// The bad inputs of sign-in and authorization: each gets its 401 or 403 with a reason,
// changes nothing, and is in the audit trail; what is done names its actor in the record.
func TestSignInCSRFAndAudit(t *testing.T) {
	e := newEnv(t)
	r := e.start(0)
	base := "http://" + r.svc.HTTPAddr()
	op := e.account("operator", "")
	anon := http.DefaultClient

	// A wrong password and an unknown account get the same answer.
	code1, v1, _ := send(t, anon, "POST", base+"/v1/session", `{"name":"`+op.Name+`","password":"wrong password!"}`)
	code2, v2, _ := send(t, anon, "POST", base+"/v1/session", `{"name":"nobody","password":"wrong password!"}`)
	if code1 != 401 || code2 != 401 || v1["error"] != v2["error"] || v1["error"] != "wrong name or password" {
		t.Fatalf("wrong password %d %v, unknown account %d %v: want the same 401", code1, v1, code2, v2)
	}
	// Signed in: a cookie that is HttpOnly and SameSite=Strict, and a CSRF token.
	code, v, resp := send(t, anon, "POST", base+"/v1/session", `{"name":"`+op.Name+`","password":"`+op.Password+`"}`)
	if code != 200 || v["csrf_token"] == "" || len(resp.Cookies()) != 1 {
		t.Fatalf("sign-in: %d %v", code, v)
	}
	ck := resp.Cookies()[0]
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Expires.IsZero() {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, an expiry", ck)
	}
	csrf := v["csrf_token"].(string)
	cookie := "ems_session=" + ck.Value
	call := `{"call_id":"CSRF-1","lat":30.5928,"lng":114.3055,"priority":2,"category":"trauma"}`
	// No CSRF token, a forged one: 403, and the call is not placed.
	for _, h := range [][]string{{"Cookie", cookie}, {"Cookie", cookie, "X-CSRF-Token", "forged"}} {
		if code, v, _ := send(t, anon, "POST", base+"/v1/calls", call, h...); code != 403 || !strings.Contains(fmt.Sprint(v["error"]), "CSRF") {
			t.Errorf("POST /v1/calls with %v: %d %v, want 403 about CSRF", h[2:], code, v)
		}
	}
	// An analyst's command: 403, nothing placed.
	if code, v, _ := send(t, e.as("analyst"), "POST", base+"/v1/calls", `{"call_id":"AN-1","lat":30.5928,"lng":114.3055,"priority":2,"category":"trauma"}`); code != 403 {
		t.Errorf("an analyst placing a call: %d %v, want 403", code, v)
	}
	// With the token: placed, then cancelled, by the operator.
	if code, v, _ := send(t, anon, "POST", base+"/v1/calls", call, "Cookie", cookie, "X-CSRF-Token", csrf); code != 202 {
		t.Fatalf("POST /v1/calls with the session and its CSRF token: %d %v", code, v)
	}
	waitStatus(t, e.as("analyst"), base+"/v1/calls/CSRF-1", "assigned")
	if code, v, _ := send(t, e.as("operator"), "POST", base+"/v1/calls/CSRF-1/cancel", `{"reason":"caller cancelled"}`); code != 200 {
		t.Fatalf("cancel: %d %v", code, v)
	}
	var detail struct {
		Events []struct{ Type, Actor string }
	}
	getJSON(t, e.as("analyst"), base+"/v1/calls/CSRF-1", &detail)
	actors := map[string]string{}
	for _, ev := range detail.Events {
		actors[ev.Type] = ev.Actor
	}
	if actors["received"] != op.Name || actors["cancelled"] != op.Name || actors["assigned"] != "" {
		t.Errorf("actors by event %v: want received and cancelled by %s, assigned by the engine", actors, op.Name)
	}
	for _, id := range []string{"AN-1"} {
		if code := getJSON(t, e.as("analyst"), base+"/v1/calls/"+id, &struct{}{}); code != 404 {
			t.Errorf("refused call %s: GET %d, want 404 (never placed)", id, code)
		}
	}
	// A disabled account's token and session stop working.
	if code, v, _ := send(t, e.as("supervisor"), "POST", base+"/v1/accounts/"+op.Name+"/disable", ""); code != 200 {
		t.Fatalf("disable: %d %v", code, v)
	}
	if code, _, _ := send(t, e.as("operator"), "GET", base+"/v1/units", ""); code != 401 {
		t.Errorf("a disabled account's token: %d, want 401", code)
	}
	if code, _, _ := send(t, anon, "GET", base+"/v1/units", "", "Cookie", cookie); code != 401 {
		t.Errorf("a disabled account's session: %d, want 401", code)
	}
	// The audit trail has the refusals and the commands, with who and why.
	var audit struct {
		Entries []struct {
			Actor, Action, Reason string
			Status                int
		}
	}
	if code := getJSON(t, e.as("supervisor"), base+"/v1/audit?limit=1000", &audit); code != 200 {
		t.Fatalf("GET /v1/audit: %d", code)
	}
	want := map[string]bool{"403 POST /v1/calls t-analyst": false, "403 POST /v1/calls t-operator": false,
		"202 POST /v1/calls t-operator": false, "200 POST /v1/calls/{id}/cancel t-operator": false,
		"401 POST /v1/session nobody": false, "200 POST /v1/accounts/{name}/disable t-supervisor": false}
	for _, a := range audit.Entries {
		want[fmt.Sprintf("%d %s %s", a.Status, a.Action, a.Actor)] = true
	}
	for k, ok := range want {
		if !ok {
			t.Errorf("audit trail lacks %q", k)
		}
	}
	if code, _ := getJSON2(t, e.as("supervisor"), base+"/v1/audit?since=yesterday"); code != 400 {
		t.Errorf("audit with a bad time: %d, want 400", code)
	}
}

func getJSON2(t *testing.T, c *http.Client, url string) (int, map[string]any) {
	t.Helper()
	var v map[string]any
	return getJSON(t, c, url, &v), v
}

// waitStatus waits until the call's recorded status is want.
func waitStatus(t *testing.T, c *http.Client, url, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var v struct{ Status string }
		if getJSON(t, c, url, &v) == 200 && v.Status == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never %s (last %q)", url, want, v.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Five failed sign-ins lock the name, right password or not, and say until when.
func TestSignInLockout(t *testing.T) {
	e := newEnv(t)
	r := e.start(0)
	base := "http://" + r.svc.HTTPAddr()
	op := e.account("operator", "")
	for i := range 5 {
		if code, v, _ := send(t, http.DefaultClient, "POST", base+"/v1/session", `{"name":"`+op.Name+`","password":"wrong password!"}`); code != 401 {
			t.Fatalf("failure %d: %d %v", i+1, code, v)
		}
	}
	code, v, resp := send(t, http.DefaultClient, "POST", base+"/v1/session", `{"name":"`+op.Name+`","password":"`+op.Password+`"}`)
	if code != 429 || resp.Header.Get("Retry-After") == "" || !strings.Contains(fmt.Sprint(v["error"]), "too many failed sign-ins") {
		t.Fatalf("sign-in after 5 failures: %d %v, want 429 with Retry-After", code, v)
	}
	// The same answer for a name no account has: a lockout says nothing about who exists.
	for range 5 {
		send(t, http.DefaultClient, "POST", base+"/v1/session", `{"name":"ghost","password":"wrong password!"}`)
	}
	if code, _, _ := send(t, http.DefaultClient, "POST", base+"/v1/session", `{"name":"ghost","password":"wrong password!"}`); code != 429 {
		t.Fatalf("an unknown name after 5 failures: %d, want 429 as for an account", code)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns their paths and a
// pool that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ems120 test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// Under TLS (-tls-cert, -tls-key) the API answers HTTPS only, and the session cookie is Secure.
func TestTLSSessionCookieIsSecure(t *testing.T) {
	e := newEnv(t)
	certFile, keyFile, pool := selfSigned(t)
	r := e.startWith(service.Config{AckTimeout: -1, TLSCert: certFile, TLSKey: keyFile})
	op := e.account("operator", "")
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	code, v, resp := send(t, c, "POST", "https://"+r.svc.HTTPAddr()+"/v1/session", `{"name":"`+op.Name+`","password":"`+op.Password+`"}`)
	if code != 200 || len(resp.Cookies()) != 1 || !resp.Cookies()[0].Secure {
		t.Fatalf("sign-in over HTTPS: %d %v, cookies %v: want a Secure session cookie", code, v, resp.Cookies())
	}
	if resp, err := http.Get("http://" + r.svc.HTTPAddr() + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain HTTP to the TLS port: %d, want it refused", resp.StatusCode)
		}
	}
}
