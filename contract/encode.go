package contract

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"time"
)

// The messages sent at the highest rates — the assignment and incident events the dispatcher
// publishes for every decision, and the calls and pings the load test writes — are encoded
// by hand: encoding/json walks each struct by reflection and then
// checks and compacts its own output, which cost more than the rest of turning a decision
// into its records. The bytes are exactly those of json.Marshal
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

// AppendJSON appends the call as json.Marshal encodes it.
func (c *Call) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"call_id":`...)
	b = appendString(b, c.CallID)
	b = append(b, `,"received_at":`...)
	b, err := appendTime(b, c.ReceivedAt)
	if err != nil {
		return b, err
	}
	b = append(b, `,"lat":`...)
	if b, err = appendFloat(b, c.Lat); err != nil {
		return b, err
	}
	b = append(b, `,"lng":`...)
	if b, err = appendFloat(b, c.Lng); err != nil {
		return b, err
	}
	b = append(b, `,"priority":`...)
	b = strconv.AppendInt(b, int64(c.Priority), 10)
	b = append(b, `,"category":`...)
	b = appendString(b, string(c.Category))
	b = append(b, `,"infectious":`...)
	b = strconv.AppendBool(b, c.Infectious)
	if c.Address != "" {
		b = append(b, `,"address":`...)
		b = appendString(b, c.Address)
	}
	return append(b, '}'), nil
}

// AppendJSON appends the ping as json.Marshal encodes it.
func (p *UnitPing) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"unit_id":`...)
	b = appendString(b, p.UnitID)
	b = append(b, `,"at":`...)
	b, err := appendTime(b, p.At)
	if err != nil {
		return b, err
	}
	b = append(b, `,"lat":`...)
	if b, err = appendFloat(b, p.Lat); err != nil {
		return b, err
	}
	b = append(b, `,"lng":`...)
	if b, err = appendFloat(b, p.Lng); err != nil {
		return b, err
	}
	b = append(b, `,"status":`...)
	b = appendString(b, string(p.Status))
	if p.Kind != "" {
		b = append(b, `,"kind":`...)
		b = appendString(b, string(p.Kind))
	}
	if p.StationID != "" {
		b = append(b, `,"station_id":`...)
		b = appendString(b, p.StationID)
	}
	return append(b, '}'), nil
}

// errFloat is appendFloat's error: JSON has no infinities and no NaN.
var errFloat = errors.New("json: unsupported value: an infinite or NaN float")

// appendFloat appends f as encoding/json writes a float64: the shortest decimal that reads
// back as f, in exponent form below 1e-6 and from 1e21 up, with a one-digit negative
// exponent written as e-7, not e-07.
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, errFloat
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
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
