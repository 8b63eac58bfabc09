package service

import (
	"fmt"
	"net/http"
	"time"

	"github.com/ems120/ems120/access"
	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/dispatch"
	"github.com/ems120/ems120/web"
)

// route is one entry of the HTTP API: its pattern, who may use it, and what serves it.
type route struct {
	pattern string
	rule    rule
	handler http.Handler
}

// routes is the HTTP API, each route with its rule. Handler registers exactly these, so a
// route cannot be served without a rule; TestEveryRouteHasARule walks this list.
func (s *Service) routes() []route {
	hf := func(f http.HandlerFunc) http.Handler { return f }
	console := web.Handler()
	return []route{
		{"GET /healthz", open(), hf(s.healthz)},
		{"GET /readyz", open(), hf(s.readyz)},
		{"GET /metrics", open(), s.metricsHandler()},
		{"GET /{$}", open(), console},
		{"GET /assets/", open(), console},
		{"POST /v1/session", open(), hf(s.signIn)},
		{"GET /v1/session", needs(access.SignedIn), hf(s.getSession)},
		{"DELETE /v1/session", needs(access.SignedIn), hf(s.signOut)},
		{"GET /v1/city", needs(access.SignedIn), hf(s.getCity)},

		{"POST /v1/calls", needs(access.Dispatch), hf(s.postCall)},
		{"POST /v1/calls/{id}/ack", needs(access.Dispatch), s.command(func(r *http.Request, b commandBody, now time.Time) ([]dispatch.Event, error) {
			return s.engine.Acknowledge(r.PathValue("id"), b.UnitID, now)
		})},
		{"POST /v1/calls/{id}/cancel", needs(access.Dispatch), s.command(func(r *http.Request, b commandBody, now time.Time) ([]dispatch.Event, error) {
			return s.engine.Cancel(r.PathValue("id"), b.Reason, now)
		})},
		{"POST /v1/calls/{id}/close", needs(access.Dispatch), s.command(func(r *http.Request, b commandBody, now time.Time) ([]dispatch.Event, error) {
			return s.engine.Close(r.PathValue("id"), now)
		})},
		{"POST /v1/calls/{id}/assign", needs(access.Dispatch), s.command(func(r *http.Request, b commandBody, now time.Time) ([]dispatch.Event, error) {
			if b.UnitID == "" {
				return nil, &contract.Error{Field: "unit_id", Reason: "missing: which unit?"}
			}
			return s.engine.Assign(r.PathValue("id"), b.UnitID, now)
		})},
		{"POST /v1/calls/{id}/accept", needs(access.Dispatch), s.command(func(r *http.Request, b commandBody, now time.Time) ([]dispatch.Event, error) {
			return s.engine.Accept(r.PathValue("id"), b.UnitID, now)
		})},
		{"POST /v1/calls/{id}/destination", needs(access.Dispatch), s.command(func(r *http.Request, b commandBody, now time.Time) ([]dispatch.Event, error) {
			if b.HospitalID == "" {
				return nil, &contract.Error{Field: "hospital_id", Reason: "missing: which hospital?"}
			}
			return s.engine.Redirect(r.PathValue("id"), b.HospitalID, now)
		})},
		{"GET /v1/calls/{id}/candidates", needs(access.Dispatch), hf(s.getCandidates)},

		{"GET /v1/calls/{id}", needs(access.Read), hf(s.getCall)},
		{"GET /v1/calls", needs(access.Read), hf(s.getCalls)},
		{"GET /v1/stream", needs(access.Read), hf(s.getStream)},
		{"GET /v1/units", needs(access.Read), hf(s.getUnits)},
		{"GET /v1/queue", needs(access.Read), hf(s.getQueue)},
		{"GET /v1/coverage", needs(access.Read), hf(s.getCoverage)},
		{"GET /v1/coverage/moves", needs(access.Read), hf(s.getMoves)},
		{"GET /v1/kpis", needs(access.Read), hf(s.getKPIs)},
		{"GET /v1/alerts", needs(access.Read), hf(s.getAlerts)},
		{"GET /v1/surge", needs(access.Read), hf(s.getSurge)},
		{"GET /v1/calls/{id}/loop", needs(access.Read), hf(s.getLoop)},
		{"POST /v1/calls/{id}/screening", needs(access.Dispatch), hf(s.postScreening)},
		{"POST /v1/surge", needs(access.Surge), hf(s.postSurge)},
		{"GET /v1/export/calls.csv", needs(access.Read), hf(s.exportCallsCSV)},
		{"GET /v1/export/calls.geojson", needs(access.Read), hf(s.exportCallsGeoJSON)},

		{"GET /v1/hospitals", needs(access.Hospitals), hf(s.getHospitals)},
		{"POST /v1/hospitals/{id}/capacity", forHospital(access.Report), hf(s.postCapacity)},

		{"GET /v1/audit", needs(access.Accounts), hf(s.getAudit)},
		{"GET /v1/accounts", needs(access.Accounts), hf(s.getAccounts)},
		{"POST /v1/accounts", needs(access.Accounts), hf(s.postAccount)},
		{"POST /v1/accounts/{name}/disable", needs(access.Accounts), hf(s.disableAccount)},

		{"/", open(), hf(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusNotFound, "", fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
		})},
	}
}

// Handler is the HTTP API and the console. Every error is JSON: {"error": "...", "field": "..."}.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		mux.Handle(rt.pattern, s.guard(rt.pattern, rt.rule, rt.handler))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		mux.ServeHTTP(w, r)
	})
}
