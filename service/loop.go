package service

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/dispatch"
	"github.com/ems120/ems120/sql"
	"github.com/segmentio/kafka-go"
)

// loopFacts reads a call's loop from the record and what it means for the loop's state
// machine (the destination's kind from the hospitals registry).
func (s *Service) loopFacts(ctx context.Context, callID string) (sql.LoopRecord, dispatch.LoopFacts, error) {
	rec, err := s.store.Loop(ctx, callID)
	if err != nil {
		return rec, dispatch.LoopFacts{}, err
	}
	s.mu.Lock()
	h, ok := s.hospitals.Hospital(rec.HospitalID)
	clinic := ok && h.Kind == city.HospitalFeverClinic
	s.mu.Unlock()
	return rec, dispatch.LoopFacts{CallID: callID, Isolation: rec.Isolation, AtClinic: clinic && rec.AtClinicAt != nil,
		Outcome: rec.Outcome, TransferPlaced: rec.TransferReceivedAt != nil, TransferHandled: rec.AdmittedAt != nil}, nil
}

// getLoop serves a fever patient's whole path: call, fever clinic, screening, transfer,
// destination, with the loop's state.
func (s *Service) getLoop(w http.ResponseWriter, r *http.Request) {
	rec, facts, err := s.loopFacts(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, sql.ErrNoCall):
		writeError(w, http.StatusNotFound, "call_id", err.Error())
	case err != nil:
		writeError(w, http.StatusServiceUnavailable, "", err.Error())
	default:
		writeJSON(w, http.StatusOK, map[string]any{"loop": rec, "state": dispatch.LoopOf(facts)})
	}
}

// postScreening records the fever clinic's screening of a call's patient — body
// {"outcome": "confirmed"|"mild"|"cleared"} — and for a confirmed or mild case places the
// linked transfer on ems.calls: a call of its own, from the clinic, priority 2 (confirmed)
// or 3 (mild), which the engine dispatches and sends to a designated hospital or a Fangcang
// shelter. The loop's state machine refuses illegal steps (409). Sent again after the
// transfer could not be placed, it places it again (the same call id: once).
func (s *Service) postScreening(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Outcome string `json:"outcome"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&b); err != nil {
		writeError(w, http.StatusBadRequest, "", "invalid JSON: "+err.Error())
		return
	}
	id := r.PathValue("id")
	noteAudit(r, id)
	rec, facts, err := s.loopFacts(r.Context(), id)
	if errors.Is(err, sql.ErrNoCall) {
		writeError(w, http.StatusNotFound, "call_id", err.Error())
		return
	} else if err != nil {
		writeError(w, http.StatusServiceUnavailable, "", err.Error())
		return
	}
	retry := rec.Outcome == b.Outcome && rec.TransferID != "" && !facts.TransferPlaced
	state := dispatch.LoopState(b.Outcome)
	if !retry {
		if state, err = dispatch.Screen(facts, b.Outcome); err != nil {
			status, field := http.StatusBadRequest, "outcome"
			if errors.Is(err, dispatch.ErrIllegalTransition) {
				status, field = http.StatusConflict, ""
			}
			writeError(w, status, field, err.Error())
			return
		}
		rec.TransferID = ""
		if state != dispatch.LoopCleared {
			rec.TransferID = id + "-T"
		}
		now := s.cfg.Now().UTC()
		if err := s.store.InsertScreening(r.Context(), id, b.Outcome, identityOf(r).Name, rec.HospitalID, rec.TransferID, now); err != nil {
			if errors.Is(err, sql.ErrScreened) {
				writeError(w, http.StatusConflict, "", err.Error())
				return
			}
			writeError(w, http.StatusServiceUnavailable, "", err.Error())
			return
		}
	}
	if rec.TransferID != "" {
		if err := s.placeTransfer(r, rec, state); err != nil {
			writeError(w, http.StatusServiceUnavailable, "", "the screening is recorded; the transfer could not be placed (send the screening again): "+err.Error())
			return
		}
		state = dispatch.LoopTransferring
	}
	writeJSON(w, http.StatusCreated, map[string]any{"call_id": id, "outcome": b.Outcome, "state": state, "transfer_call_id": rec.TransferID})
}

// placeTransfer puts the linked transfer on ems.calls, from the clinic.
func (s *Service) placeTransfer(r *http.Request, rec sql.LoopRecord, outcome dispatch.LoopState) error {
	s.mu.Lock()
	h, _ := s.hospitals.Hospital(rec.HospitalID)
	s.mu.Unlock()
	c := contract.Call{CallID: rec.TransferID, ReceivedAt: s.cfg.Now().UTC(), Lat: h.Lat, Lng: h.Lng,
		Priority: dispatch.TransferPriority(outcome), Category: contract.CategoryFever, Infectious: true,
		Address: "转运 " + h.Name, LinkedTo: rec.CallID}
	value, _ := json.Marshal(c)
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	return s.intake.WriteMessages(ctx, kafka.Message{Key: []byte(c.CallID), Value: value, Headers: actorHeaders(r)})
}
