package service_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ems120/ems120/service"
	"github.com/ems120/ems120/sql"
)

// accounts are the test accounts of one env's database, made on first use.
type accounts struct {
	mu    sync.Mutex
	creds map[string]service.Credentials
}

// account returns the env's account for role (and, for a reporter, hospital), adding it to
// the database the first time. A service must have started (it applies the migrations).
func (e *env) account(role, hospital string) service.Credentials {
	e.t.Helper()
	name := "t-" + role
	if hospital != "" {
		name += "-" + strings.ToLower(hospital)
	}
	e.accts.mu.Lock()
	defer e.accts.mu.Unlock()
	if c, ok := e.accts.creds[name]; ok {
		return c
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := sql.Open(ctx, e.dsn)
	if err != nil {
		e.t.Fatal(err)
	}
	defer st.Close()
	c, err := service.AddAccount(ctx, st, name, role, hospital, "test", false)
	if err != nil {
		e.t.Fatalf("account %s: %v", name, err)
	}
	if e.accts.creds == nil {
		e.accts.creds = map[string]service.Credentials{}
	}
	e.accts.creds[name] = c
	return c
}

// as is an HTTP client that sends the API token of the env's account for role (and hospital).
func (e *env) as(role string, hospital ...string) *http.Client {
	e.t.Helper()
	h := ""
	if len(hospital) > 0 {
		h = hospital[0]
	}
	return bearer(e.account(role, h).Token)
}

func bearer(token string) *http.Client {
	return &http.Client{Transport: tokenTransport{token: token}}
}

type tokenTransport struct{ token string }

func (tt tokenTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+tt.token)
	return http.DefaultTransport.RoundTrip(r)
}
