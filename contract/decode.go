package contract

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ErrInvalid matches (with errors.Is) every validation error returned by this package.
var ErrInvalid = errors.New("invalid message")

// Error says which field of a message is wrong and why.
type Error struct {
	Field  string // JSON name of the field; empty when the message as a whole is wrong
	Reason string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// Is makes errors.Is(err, ErrInvalid) true for every *Error.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &Error{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Limits on untrusted input.
const (
	MaxMessageBytes = 64 << 10
	MaxIDBytes      = 64
	MaxAddressBytes = 512
)

// Wire forms: pointers tell a missing field from a zero one.
type wireCall struct {
	CallID     *string    `json:"call_id"`
	ReceivedAt *time.Time `json:"received_at"`
	Lat        *float64   `json:"lat"`
	Lng        *float64   `json:"lng"`
	Priority   *int       `json:"priority"`
	Category   *Category  `json:"category"`
	Infectious *bool      `json:"infectious"`
	Address    *string    `json:"address"`
	LinkedTo   *string    `json:"linked_to"`
}

type wirePing struct {
	UnitID    *string     `json:"unit_id"`
	At        *time.Time  `json:"at"`
	Lat       *float64    `json:"lat"`
	Lng       *float64    `json:"lng"`
	Status    *UnitStatus `json:"status"`
	Kind      *UnitKind   `json:"kind"`
	StationID *string     `json:"station_id"`
}

func unmarshal(b []byte, v any) error {
	if err := checkSize(b); err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return invalid("", "invalid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

func checkSize(b []byte) error {
	if len(b) == 0 {
		return invalid("", "empty message")
	}
	if len(b) > MaxMessageBytes {
		return invalid("", "message of %d bytes is over the %d-byte limit", len(b), MaxMessageBytes)
	}
	return nil
}

// DecodeCall decodes and validates one ems.calls value. A missing received_at is left zero
// for the caller to fill from the record's timestamp; a missing category is "other"; a
// missing infectious flag is false. Everything else that is missing or wrong is an error.
func DecodeCall(b []byte) (Call, error) {
	w, err := decodeWire[wireCall](b)
	if err != nil {
		return Call{}, err
	}
	return w.call()
}

// decodeWire reads a message into its wire form: by the fast path (flat.go) when it takes
// the message, else by encoding/json. Both give the same wire form and the same errors.
func decodeWire[W any, P interface {
	*W
	fill([]byte) bool
}](b []byte) (W, error) {
	var w W
	if checkSize(b) == nil && P(&w).fill(b) {
		return w, nil
	}
	var slow W // not w, which fill may have half set
	return slow, unmarshal(b, &slow)
}

// call validates a decoded call.
func (w *wireCall) call() (Call, error) {
	var c Call
	if w.CallID == nil {
		return Call{}, invalid("call_id", "missing")
	}
	c.CallID = *w.CallID
	if err := checkID("call_id", c.CallID); err != nil {
		return Call{}, err
	}
	if w.ReceivedAt != nil {
		c.ReceivedAt = *w.ReceivedAt
	}
	if err := checkLatLng(w.Lat, w.Lng); err != nil {
		return Call{}, err
	}
	c.Lat, c.Lng = *w.Lat, *w.Lng
	if w.Priority == nil {
		return Call{}, invalid("priority", "missing (1 life-threatening … 4)")
	}
	c.Priority = *w.Priority
	if c.Priority < 1 || c.Priority > 4 {
		return Call{}, invalid("priority", "%d is not 1, 2, 3 or 4", c.Priority)
	}
	c.Category = CategoryOther
	if w.Category != nil {
		var ok bool
		if c.Category, ok = Canonical(*w.Category, Categories); !ok {
			return Call{}, invalid("category", "unknown category %q (want one of %s)", truncate(string(c.Category)), joinCategories())
		}
	}
	if w.Infectious != nil {
		c.Infectious = *w.Infectious
	}
	if w.Address != nil {
		c.Address = *w.Address
		if len(c.Address) > MaxAddressBytes {
			return Call{}, invalid("address", "%d bytes is over the %d-byte limit", len(c.Address), MaxAddressBytes)
		}
	}
	if w.LinkedTo != nil && *w.LinkedTo != "" {
		c.LinkedTo = *w.LinkedTo
		if err := checkID("linked_to", c.LinkedTo); err != nil {
			return Call{}, err
		}
		if c.LinkedTo == c.CallID {
			return Call{}, invalid("linked_to", "a call cannot carry on itself")
		}
	}
	return c, nil
}

// DecodeUnitPing decodes and validates one ems.units value. A missing "at" is left zero for the
// caller to fill from the record's timestamp; kind and station_id are optional (a unit the
// service does not know yet must carry its kind).
func DecodeUnitPing(b []byte) (UnitPing, error) {
	w, err := decodeWire[wirePing](b)
	if err != nil {
		return UnitPing{}, err
	}
	return w.ping()
}

// ping validates a decoded ping.
func (w *wirePing) ping() (UnitPing, error) {
	var p UnitPing
	if w.UnitID == nil {
		return UnitPing{}, invalid("unit_id", "missing")
	}
	p.UnitID = *w.UnitID
	if err := checkID("unit_id", p.UnitID); err != nil {
		return UnitPing{}, err
	}
	if w.At != nil {
		p.At = *w.At
	}
	if err := checkLatLng(w.Lat, w.Lng); err != nil {
		return UnitPing{}, err
	}
	p.Lat, p.Lng = *w.Lat, *w.Lng
	if w.Status == nil {
		return UnitPing{}, invalid("status", "missing")
	}
	var ok bool
	if p.Status, ok = Canonical(*w.Status, UnitStatuses); !ok {
		return UnitPing{}, invalid("status", "unknown unit status %q (want one of %s)", truncate(string(p.Status)), joinStatuses())
	}
	if w.Kind != nil {
		if p.Kind, ok = Canonical(*w.Kind, UnitKinds); !ok {
			return UnitPing{}, invalid("kind", "unknown unit kind %q (want als, bls or negative_pressure)", truncate(string(p.Kind)))
		}
	}
	if w.StationID != nil {
		p.StationID = *w.StationID
		if err := checkID("station_id", p.StationID); err != nil {
			return UnitPing{}, err
		}
	}
	return p, nil
}

// DecodeCapacityReport decodes and checks the form of one ems.capacity value: a hospital id,
// a report time, and bed counts that are non-negative with occupied ≤ total. Whether the
// hospital exists and whether the report is newer than the last one are for the registry.
func DecodeCapacityReport(b []byte) (CapacityReport, error) {
	var r struct {
		HospitalID *string                    `json:"hospital_id"`
		ReportedAt *time.Time                 `json:"reported_at"`
		Accepting  *bool                      `json:"accepting"`
		Beds       map[string]json.RawMessage `json:"beds"`
	}
	if err := unmarshal(b, &r); err != nil {
		return CapacityReport{}, err
	}
	var c CapacityReport
	if r.HospitalID == nil {
		return CapacityReport{}, invalid("hospital_id", "missing")
	}
	c.HospitalID = *r.HospitalID
	if err := checkID("hospital_id", c.HospitalID); err != nil {
		return CapacityReport{}, err
	}
	if r.ReportedAt == nil {
		return CapacityReport{}, invalid("reported_at", "missing")
	}
	c.ReportedAt = *r.ReportedAt
	c.Accepting = true
	if r.Accepting != nil {
		c.Accepting = *r.Accepting
	}
	if len(r.Beds) == 0 {
		return CapacityReport{}, invalid("beds", "missing or empty")
	}
	c.Beds = make(map[string]Beds, len(r.Beds))
	for kind, raw := range r.Beds {
		if !validBedKind(kind) {
			return CapacityReport{}, invalid("beds", "unknown bed kind %q (want one of %s)", truncate(kind), strings.Join(BedKinds, ", "))
		}
		var wb struct {
			Total    *int `json:"total"`
			Occupied *int `json:"occupied"`
		}
		if err := json.Unmarshal(raw, &wb); err != nil {
			return CapacityReport{}, invalid("beds."+kind, "invalid: %s", strings.TrimPrefix(err.Error(), "json: "))
		}
		if wb.Total == nil || wb.Occupied == nil {
			return CapacityReport{}, invalid("beds."+kind, "needs both total and occupied")
		}
		bb := Beds{Total: *wb.Total, Occupied: *wb.Occupied}
		switch {
		case bb.Total < 0 || bb.Occupied < 0:
			return CapacityReport{}, invalid("beds."+kind, "counts must not be negative (total %d, occupied %d)", bb.Total, bb.Occupied)
		case bb.Occupied > bb.Total:
			return CapacityReport{}, invalid("beds."+kind, "occupied %d is more than total %d", bb.Occupied, bb.Total)
		}
		c.Beds[kind] = bb
	}
	return c, nil
}

func validBedKind(k string) bool {
	for _, b := range BedKinds {
		if k == b {
			return true
		}
	}
	return false
}

// ValidateLatLng checks a WGS84 position.
func ValidateLatLng(lat, lng float64) error {
	return checkLatLng(&lat, &lng)
}

func checkLatLng(lat, lng *float64) error {
	if lat == nil {
		return invalid("lat", "missing")
	}
	if lng == nil {
		return invalid("lng", "missing")
	}
	// JSON cannot carry NaN or ±Inf, but values built in code can.
	if math.IsNaN(*lat) || math.IsInf(*lat, 0) {
		return invalid("lat", "not a finite number")
	}
	if math.IsNaN(*lng) || math.IsInf(*lng, 0) {
		return invalid("lng", "not a finite number")
	}
	if *lat < -90 || *lat > 90 {
		return invalid("lat", "%g is out of range [-90, 90]", *lat)
	}
	if *lng < -180 || *lng > 180 {
		return invalid("lng", "%g is out of range [-180, 180]", *lng)
	}
	return nil
}

func checkID(field, id string) error {
	if strings.TrimSpace(id) == "" {
		return invalid(field, "empty")
	}
	if len(id) > MaxIDBytes {
		return invalid(field, "%d bytes is over the %d-byte limit", len(id), MaxIDBytes)
	}
	if !utf8.ValidString(id) {
		return invalid(field, "not valid UTF-8")
	}
	for _, r := range id {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return invalid(field, "contains a space or control character")
		}
	}
	return nil
}

// truncate keeps echoed input short in error messages.
func truncate(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func joinCategories() string {
	parts := make([]string, len(Categories))
	for i, c := range Categories {
		parts[i] = string(c)
	}
	return strings.Join(parts, ", ")
}

func joinStatuses() string {
	parts := make([]string, len(UnitStatuses))
	for i, s := range UnitStatuses {
		parts[i] = string(s)
	}
	return strings.Join(parts, ", ")
}
