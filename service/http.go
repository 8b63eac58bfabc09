package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/segmentio/kafka-go"

	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/dispatch"
	"github.com/ems120/ems120/hospitals"
	"github.com/ems120/ems120/sql"
)

type apiError struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, field, msg string) {
	writeJSON(w, code, apiError{Error: msg, Field: field})
}

// health is the JSON of GET /healthz: the process is up, and what it is doing.
type health struct {
	Status string `json:"status"`
	Role   role   `json:"role"`
	Epoch  int64  `json:"epoch,omitempty"`  // the lease epoch this process writes under
	Holder string `json:"holder"`           // this process, as named in the lease
	Active string `json:"active,omitempty"` // on a standby: who is active
	Reason string `json:"reason,omitempty"` // why it is not ready, if it is not
}

func (s *Service) healthz(w http.ResponseWriter, r *http.Request) {
	st := s.roleState()
	h := health{Status: "ok", Role: st.role, Epoch: s.store.Epoch(), Holder: s.cfg.Holder, Reason: s.notReady(st)}
	if st.role == roleStandby {
		h.Active = st.activeName()
	}
	writeJSON(w, http.StatusOK, h)
}

// notReady says why the service is not deciding now, or "".
func (s *Service) notReady(st roleState) string {
	switch {
	case st.role == roleStandby:
		return "standby: " + st.activeName()
	case st.role != roleActive:
		return string(st.role)
	case st.problem() != "":
		return st.problem()
	case s.backlog.Load() >= int64(s.cfg.MaxPendingMessages):
		return fmt.Sprintf("back-pressure: %d messages recorded and not yet taken by Kafka (bound %d); taking no new work",
			s.backlog.Load(), s.cfg.MaxPendingMessages)
	}
	return ""
}

// readyz answers 200 only on the active service while it decides and its database answers;
// otherwise 503 with the reason.
func (s *Service) readyz(w http.ResponseWriter, r *http.Request) {
	if why := s.notReady(s.roleState()); why != "" {
		writeError(w, http.StatusServiceUnavailable, "", why)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		writeError(w, http.StatusServiceUnavailable, "", "database: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Service) metricsHandler() http.Handler {
	inner := promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls, units := s.lags()
		s.metrics.lag.WithLabelValues(contract.TopicCalls).Set(float64(calls))
		s.metrics.lag.WithLabelValues(contract.TopicUnits).Set(float64(units))
		inner.ServeHTTP(w, r)
	})
}

// callView is the JSON of GET /v1/calls/{id}.
type callView struct {
	contract.Call
	Status      string                `json:"status"`
	UnitID      string                `json:"unit_id,omitempty"`
	Assignment  *contract.Assignment  `json:"assignment,omitempty"` // the live one
	Assignments []contract.Assignment `json:"assignments"`
	Events      []eventView           `json:"events"`
}

type eventView struct {
	At     time.Time `json:"at"`
	Type   string    `json:"type"`
	State  string    `json:"state"`
	UnitID string    `json:"unit_id,omitempty"`
	Reason string    `json:"reason,omitempty"`
	Actor  string    `json:"actor,omitempty"` // the account whose command or call it was; absent for the engine's own
}

func (s *Service) getCall(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	d, err := s.store.CallDetail(r.Context(), id)
	if errors.Is(err, sql.ErrNotFound) {
		writeError(w, http.StatusNotFound, "call_id", fmt.Sprintf("no call %q (a call just posted may still be on its way)", id))
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "", err.Error())
		return
	}
	v := callView{Call: d.Call.Call, Status: d.Call.Status, UnitID: d.Call.UnitID,
		Assignments: []contract.Assignment{}, Events: []eventView{}}
	for _, a := range d.Assignments {
		v.Assignments = append(v.Assignments, a.Assignment)
	}
	if n := len(v.Assignments); n > 0 && d.Call.UnitID != "" {
		v.Assignment = &v.Assignments[n-1]
	}
	for _, e := range d.Events {
		v.Events = append(v.Events, eventView{At: e.At, Type: e.Type, State: e.State, UnitID: e.UnitID, Reason: e.Reason, Actor: e.Actor})
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Service) postCall(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, contract.MaxMessageBytes+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "", "reading the body: "+err.Error())
		return
	}
	c, err := contract.DecodeCall(body)
	if err == nil {
		err = s.checkArea(c)
	}
	if err != nil {
		var ve *contract.Error
		field := ""
		if errors.As(err, &ve) {
			field = ve.Field
		} else if errors.Is(err, ErrOutsideArea) {
			field = "lat"
		}
		writeError(w, http.StatusBadRequest, field, err.Error())
		return
	}
	if c.ReceivedAt.IsZero() {
		c.ReceivedAt = s.cfg.Now().UTC()
	}
	value, _ := json.Marshal(c)
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	noteAudit(r, c.CallID)
	if err := s.intake.WriteMessages(ctx, kafka.Message{Key: []byte(c.CallID), Value: value, Headers: actorHeaders(r)}); err != nil {
		writeError(w, http.StatusServiceUnavailable, "", "the call could not be put on "+contract.TopicCalls+": "+err.Error())
		return
	}
	w.Header().Set("Location", "/v1/calls/"+c.CallID)
	writeJSON(w, http.StatusAccepted, map[string]string{"call_id": c.CallID, "status": "accepted",
		"topic": contract.TopicCalls, "location": "/v1/calls/" + c.CallID})
}

// actorHeaders carry the caller's account on a message put on a topic for a request.
func actorHeaders(r *http.Request) []kafka.Header {
	if name := identityOf(r).Name; name != "" {
		return []kafka.Header{{Key: actorHeader, Value: []byte(name)}}
	}
	return nil
}

// commandBody is the JSON body of an operator command; every field is optional.
type commandBody struct {
	UnitID     string `json:"unit_id"`
	Reason     string `json:"reason"`
	HospitalID string `json:"hospital_id"` // for a change of destination
}

// command serves an operator's command on a call: it runs under the engine lock, is recorded
// and published like any decision, and answers with the events it caused. A refusal is a
// 4xx with the reason: 404 for a call that is not live, 409 for an illegal transition or a
// busy unit, 400 for a bad body.
func (s *Service) command(run func(r *http.Request, b commandBody, now time.Time) ([]dispatch.Event, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var b commandBody
		body, err := io.ReadAll(io.LimitReader(r.Body, 4096))
		if err == nil && len(bytes.TrimSpace(body)) > 0 {
			if err = json.Unmarshal(body, &b); err != nil {
				writeError(w, http.StatusBadRequest, "", "invalid JSON: "+err.Error())
				return
			}
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, "", err.Error())
			return
		}
		var evs []dispatch.Event
		err = s.decide(r.Context(), nil, true, func(now time.Time, _ *record) ([]dispatch.Event, error) {
			var err error
			if evs, err = run(r, b, now); err != nil {
				return nil, refusal{err}
			}
			for i := range evs {
				if evs[i].CallID == r.PathValue("id") { // the command's own steps, not what the engine did next
					evs[i].Actor = identityOf(r).Name
				}
			}
			return evs, nil
		})
		var ve *contract.Error
		switch {
		case err == nil:
			out := make([]eventView, len(evs))
			for i, e := range evs {
				out[i] = eventView{At: e.At, Type: string(e.Type), State: string(e.State), UnitID: e.UnitID, Reason: e.Reason, Actor: e.Actor}
			}
			writeJSON(w, http.StatusOK, map[string]any{"call_id": r.PathValue("id"), "events": out})
		case errors.As(err, &ve):
			writeError(w, http.StatusBadRequest, ve.Field, err.Error())
		case errors.Is(err, dispatch.ErrUnknownCall):
			writeError(w, http.StatusNotFound, "call_id", err.Error())
		case errors.Is(err, dispatch.ErrUnknownUnit):
			writeError(w, http.StatusNotFound, "unit_id", err.Error())
		case errors.Is(err, dispatch.ErrIllegalTransition), errors.Is(err, dispatch.ErrUnitBusy):
			writeError(w, http.StatusConflict, "", err.Error())
		case errors.Is(err, errNotActive):
			s.notActive(w)
		case errors.Is(err, errStopping), s.roleState().stale != "":
			writeError(w, http.StatusServiceUnavailable, "", err.Error())
		default:
			writeError(w, http.StatusInternalServerError, "", err.Error())
		}
	}
}

// notActive answers a command sent to a process that is not deciding: 503, naming the
// active one (and its HTTP address in "active", for a client to resend it there).
func (s *Service) notActive(w http.ResponseWriter) {
	st := s.roleState()
	body := map[string]string{"error": "this ems120 is not the active one (" + string(st.role) + "): " + st.activeName()}
	if st.known && !st.active.Expired && st.active.HTTP != "" {
		scheme := "http://"
		if s.tls != nil {
			scheme = "https://" // a standby and its active peer are configured alike
		}
		body["active"] = scheme + st.active.HTTP
	}
	writeJSON(w, http.StatusServiceUnavailable, body)
}

type unitView struct {
	ID        string     `json:"unit_id"`
	Kind      string     `json:"kind"`
	StationID string     `json:"station_id,omitempty"`
	Status    string     `json:"status"`
	CallID    string     `json:"call_id,omitempty"`
	Lat       float64    `json:"lat"`
	Lng       float64    `json:"lng"`
	PingAt    *time.Time `json:"ping_at,omitempty"`
	StatusAt  *time.Time `json:"status_at,omitempty"`  // since when it has this status
	FlaggedAt *time.Time `json:"flagged_at,omitempty"` // silent after a dispatch: not dispatched until it reports
	// DeconUntil: being decontaminated after a fever or infectious patient, not dispatched
	// until then.
	DeconUntil *time.Time `json:"decon_until,omitempty"`
}

func (s *Service) getUnits(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	units := s.engine.Units()
	s.mu.Unlock()
	out := make([]unitView, len(units))
	for i, u := range units {
		out[i] = unitViewOf(u)
	}
	writeJSON(w, http.StatusOK, map[string]any{"units": out, "count": len(out)})
}

func unitViewOf(u dispatch.Unit) unitView {
	v := unitView{ID: u.ID, Kind: string(u.Kind), StationID: u.StationID, Status: string(u.Status), CallID: u.CallID,
		Lat: u.Pos.Lat, Lng: u.Pos.Lng}
	if !u.PingAt.IsZero() && u.PingAt.Unix() != 0 {
		t := u.PingAt
		v.PingAt = &t
	}
	if !u.StatusAt.IsZero() && u.StatusAt.Unix() != 0 {
		t := u.StatusAt
		v.StatusAt = &t
	}
	if !u.FlaggedAt.IsZero() {
		t := u.FlaggedAt
		v.FlaggedAt = &t
	}
	if !u.DeconUntil.IsZero() {
		t := u.DeconUntil
		v.DeconUntil = &t
	}
	return v
}

type queuedView struct {
	contract.Call
	WaitingS int `json:"waiting_s"`
}

func (s *Service) getQueue(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	q := s.engine.Queue()
	s.mu.Unlock()
	now := s.cfg.Now()
	out := make([]queuedView, len(q))
	for i, inc := range q {
		out[i] = queuedView{Call: inc.Call, WaitingS: int(now.Sub(inc.Call.ReceivedAt).Seconds())}
	}
	writeJSON(w, http.StatusOK, map[string]any{"queue": out, "count": len(out)})
}

type bedsView struct {
	Total        int     `json:"total"`
	Occupied     int     `json:"occupied"` // as last reported
	Admitted     int     `json:"admitted"` // handed over by ambulances since the report
	Reserved     int     `json:"reserved"` // patients on the way
	Free         int     `json:"free"`     // effective: total − occupied − admitted − reserved
	OccupancyPct float64 `json:"occupancy_pct"`
}

type hospitalView struct {
	ID         string              `json:"hospital_id"`
	Name       string              `json:"name"`
	Kind       string              `json:"kind"`
	District   string              `json:"district,omitempty"`
	Lat        float64             `json:"lat"`
	Lng        float64             `json:"lng"`
	Accepting  bool                `json:"accepting"`
	ReportedAt *time.Time          `json:"reported_at"`  // null: never reported (the numbers are the city's estimate)
	ReportAgeS *int                `json:"report_age_s"` // null: never reported
	Stale      bool                `json:"stale"`
	Beds       map[string]bedsView `json:"beds"`
	// A peace-and-war hospital's standby beds: how many, and whether (or when) they open.
	StandbyBeds    int        `json:"standby_beds,omitempty"`
	StandbyOpen    bool       `json:"standby_open,omitempty"`
	StandbyOpensAt *time.Time `json:"standby_opens_at,omitempty"`
}

// hospitalsView is the JSON of GET /v1/hospitals and the feed's "hospitals" event.
type hospitalsView struct {
	Hospitals   []hospitalView `json:"hospitals"`
	Count       int            `json:"count"`
	Overdue     []string       `json:"overdue"`
	StaleAfterS int            `json:"stale_after_s"`
}

// getHospitals is GET /v1/hospitals: every hospital, or for a reporter their own.
func (s *Service) getHospitals(w http.ResponseWriter, r *http.Request) {
	v := s.hospitalsView(s.cfg.Now())
	if id := identityOf(r); id.Role.HospitalScoped() {
		v.Hospitals = slices.DeleteFunc(v.Hospitals, func(h hospitalView) bool { return h.ID != id.HospitalID })
		v.Overdue = slices.DeleteFunc(v.Overdue, func(h string) bool { return h != id.HospitalID })
		v.Count = len(v.Hospitals)
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Service) hospitalsView(now time.Time) hospitalsView {
	s.mu.Lock()
	defer s.mu.Unlock()
	reg := s.hospitals
	out := make([]hospitalView, 0, len(reg.All()))
	for _, h := range reg.All() {
		v := hospitalView{ID: h.ID, Name: h.Name, Kind: string(h.Kind), District: h.District, Lat: h.Lat, Lng: h.Lng,
			Accepting: h.Accepting, Stale: reg.Stale(h, now), Beds: map[string]bedsView{},
			StandbyBeds: h.StandbyBeds, StandbyOpen: h.StandbyOpen}
		if !h.StandbyOpensAt.IsZero() && !h.StandbyOpen {
			t := h.StandbyOpensAt
			v.StandbyOpensAt = &t
		}
		if !h.ReportedAt.IsZero() {
			t, age := h.ReportedAt, int(now.Sub(h.ReportedAt).Seconds())
			v.ReportedAt, v.ReportAgeS = &t, &age
		}
		for bed := range h.Reported {
			e := h.Effective(bed)
			v.Beds[bed] = bedsView{Total: e.Total, Occupied: e.Occupied, Admitted: e.Admitted, Reserved: e.Reserved,
				Free: e.Free(), OccupancyPct: math.Round(e.OccupancyPct()*10) / 10}
		}
		out = append(out, v)
	}
	overdue := reg.Overdue(now)
	if overdue == nil {
		overdue = []string{}
	}
	return hospitalsView{Hospitals: out, Count: len(out), Overdue: overdue, StaleAfterS: int(reg.Config().StaleAfter.Seconds())}
}

// postCapacity takes a report over HTTP. It is validated against the registry now (4xx with
// the reason), then put on ems.capacity like any report, where it is applied.
func (s *Service) postCapacity(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	body, err := io.ReadAll(io.LimitReader(r.Body, contract.MaxMessageBytes+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "", "reading the body: "+err.Error())
		return
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		writeError(w, http.StatusBadRequest, "", "invalid JSON: "+err.Error())
		return
	}
	if raw, ok := obj["hospital_id"]; ok {
		var inBody string
		if json.Unmarshal(raw, &inBody) != nil || inBody != id {
			writeError(w, http.StatusBadRequest, "hospital_id", fmt.Sprintf("the body names %s, the path %s", raw, id))
			return
		}
	} else {
		obj["hospital_id"], _ = json.Marshal(id)
		body, _ = json.Marshal(obj)
	}
	rep, err := contract.DecodeCapacityReport(body)
	if err == nil {
		s.mu.Lock()
		_, err = s.hospitals.Check(rep, s.cfg.Now())
		s.mu.Unlock()
	}
	if err != nil {
		var ve *contract.Error
		field := ""
		if errors.As(err, &ve) {
			field = ve.Field
		}
		code := http.StatusBadRequest
		if errors.Is(err, hospitals.ErrUnknownHospital) {
			code = http.StatusNotFound
		} else if errors.Is(err, hospitals.ErrOlderReport) {
			code = http.StatusConflict
		}
		writeError(w, code, field, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	if err := s.capacityIn.WriteMessages(ctx, kafka.Message{Key: []byte(id), Value: body, Headers: actorHeaders(r)}); err != nil {
		writeError(w, http.StatusServiceUnavailable, "", "the report could not be put on "+contract.TopicCapacity+": "+err.Error())
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"hospital_id": id, "status": "accepted", "topic": contract.TopicCapacity})
}
