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
	o := object(b)
	o.str("call_id", a.CallID)
	o.str("unit_id", a.UnitID)
	o.time("decided_at", a.DecidedAt)
	o.int("eta_s", a.ETAS)
	o.int("distance_m", a.DistanceM)
	o.bool("within_standard", a.WithinStandard)
	o.strOmit("hospital_id", a.HospitalID)
	o.str("reason", a.Reason)
	return o.end()
}

// AppendJSON appends the event as json.Marshal encodes it.
func (e *IncidentEvent) AppendJSON(b []byte) ([]byte, error) {
	o := object(b)
	o.str("call_id", e.CallID)
	o.time("at", e.At)
	o.str("type", e.Type)
	o.str("state", e.State)
	o.strOmit("unit_id", e.UnitID)
	if e.Seq != 0 {
		o.int("seq", e.Seq)
	}
	o.strOmit("reason", e.Reason)
	o.strOmit("actor", e.Actor)
	return o.end()
}

// AppendJSON appends the call as json.Marshal encodes it.
func (c *Call) AppendJSON(b []byte) ([]byte, error) {
	o := object(b)
	o.str("call_id", c.CallID)
	o.time("received_at", c.ReceivedAt)
	o.float("lat", c.Lat)
	o.float("lng", c.Lng)
	o.int("priority", c.Priority)
	o.str("category", string(c.Category))
	o.bool("infectious", c.Infectious)
	o.strOmit("address", c.Address)
	o.strOmit("linked_to", c.LinkedTo)
	return o.end()
}

// AppendJSON appends the ping as json.Marshal encodes it.
func (p *UnitPing) AppendJSON(b []byte) ([]byte, error) {
	o := object(b)
	o.str("unit_id", p.UnitID)
	o.time("at", p.At)
	o.float("lat", p.Lat)
	o.float("lng", p.Lng)
	o.str("status", string(p.Status))
	o.strOmit("kind", string(p.Kind))
	o.strOmit("station_id", p.StationID)
	return o.end()
}

// objectWriter appends one JSON object, member by member in the order written (as
// encoding/json writes a struct's fields); the first error stops the writing and end
// returns it.
type objectWriter struct {
	b     []byte
	first bool
	err   error
}

func object(b []byte) objectWriter { return objectWriter{b: append(b, '{'), first: true} }

// key appends a member's name (the contract's names need no escaping) and says whether to
// go on.
func (o *objectWriter) key(k string) bool {
	if o.err != nil {
		return false
	}
	if !o.first {
		o.b = append(o.b, ',')
	}
	o.first = false
	o.b = append(o.b, '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, '"', ':')
	return true
}

func (o *objectWriter) str(k, v string) {
	if o.key(k) {
		o.b = appendString(o.b, v)
	}
}

// strOmit is str for a field tagged omitempty.
func (o *objectWriter) strOmit(k, v string) {
	if v != "" {
		o.str(k, v)
	}
}

func (o *objectWriter) int(k string, v int) {
	if o.key(k) {
		o.b = strconv.AppendInt(o.b, int64(v), 10)
	}
}

func (o *objectWriter) bool(k string, v bool) {
	if o.key(k) {
		o.b = strconv.AppendBool(o.b, v)
	}
}

func (o *objectWriter) float(k string, v float64) {
	if o.key(k) {
		o.b, o.err = appendFloat(o.b, v)
	}
}

func (o *objectWriter) time(k string, t time.Time) {
	if o.key(k) {
		o.b, o.err = appendTime(o.b, t)
	}
}

func (o *objectWriter) end() ([]byte, error) {
	if o.err != nil {
		return o.b, o.err
	}
	return append(o.b, '}'), nil
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
