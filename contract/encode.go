package contract

import (
	"encoding/json"
	"strconv"
	"time"
)

// The two messages the dispatcher publishes for every decision — an assignment and its
// incident events — are encoded by hand: encoding/json walks each struct by reflection and
// then checks and compacts its own output, which cost more than the rest of turning a
// decision into its records. The bytes are exactly those of json.Marshal
// (TestAppendJSONMatchesEncodingJSON and FuzzAppendJSON compare them), so consumers see no
// difference.

// AppendJSON appends the assignment as json.Marshal encodes it.
func (a *Assignment) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"call_id":`...)
	b = appendString(b, a.CallID)
	b = append(b, `,"unit_id":`...)
	b = appendString(b, a.UnitID)
	b = append(b, `,"decided_at":`...)
	b, err := appendTime(b, a.DecidedAt)
	if err != nil {
		return b, err
	}
	b = append(b, `,"eta_s":`...)
	b = strconv.AppendInt(b, int64(a.ETAS), 10)
	b = append(b, `,"distance_m":`...)
	b = strconv.AppendInt(b, int64(a.DistanceM), 10)
	b = append(b, `,"within_standard":`...)
	b = strconv.AppendBool(b, a.WithinStandard)
	if a.HospitalID != "" {
		b = append(b, `,"hospital_id":`...)
		b = appendString(b, a.HospitalID)
	}
	b = append(b, `,"reason":`...)
	b = appendString(b, a.Reason)
	return append(b, '}'), nil
}

// AppendJSON appends the event as json.Marshal encodes it.
func (e *IncidentEvent) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"call_id":`...)
	b = appendString(b, e.CallID)
	b = append(b, `,"at":`...)
	b, err := appendTime(b, e.At)
	if err != nil {
		return b, err
	}
	b = append(b, `,"type":`...)
	b = appendString(b, e.Type)
	b = append(b, `,"state":`...)
	b = appendString(b, e.State)
	if e.UnitID != "" {
		b = append(b, `,"unit_id":`...)
		b = appendString(b, e.UnitID)
	}
	if e.Seq != 0 {
		b = append(b, `,"seq":`...)
		b = strconv.AppendInt(b, int64(e.Seq), 10)
	}
	if e.Reason != "" {
		b = append(b, `,"reason":`...)
		b = appendString(b, e.Reason)
	}
	return append(b, '}'), nil
}

// appendString appends s as a JSON string. Ids, states and reasons are printable ASCII with
// nothing to escape and are copied as they are; anything else (quotes, backslashes, control
// characters, the HTML characters encoding/json escapes, non-ASCII) goes through
// encoding/json.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendTime appends t as time.Time's MarshalJSON does: RFC 3339 with nanoseconds, quoted,
// and the same error for a time it cannot encode (a year outside 0–9999).
func appendTime(b []byte, t time.Time) ([]byte, error) {
	b = append(b, '"')
	b, err := t.AppendText(b)
	if err != nil {
		return b, err
	}
	return append(b, '"'), nil
}
