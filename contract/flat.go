package contract

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// A fast path for the two messages that arrive by the thousand each second: calls and unit
// pings. Nearly all are one flat JSON object — plain strings, numbers and booleans under
// the field names exactly as the contract spells them — and encoding/json's reflection was a
// quarter of the ping path's CPU. scanFlat reads that shape; wire.fill takes the fields only
// when each is a known name, given once, with the right JSON type and a value that parses.
// Anything else (escapes, nulls, nesting, unknown or differently cased names, duplicates,
// malformed JSON, a value encoding/json would refuse) goes to encoding/json as before, so
// the result, and every error, is the same: FuzzFlatAgreesWithEncodingJSON compares them.

// flatField is one member of a flat object: its name, and its value's bytes (a string's
// with its quotes).
type flatField struct {
	key, val []byte
}

// maxFlatFields bounds the members scanFlat reads; a message with more takes the slow path.
const maxFlatFields = 12

// scanFlat reads b as one JSON object of at most len(out) members whose names and string
// values hold valid UTF-8 with no escapes and no control characters, and whose other values
// are numbers (in JSON's grammar), true or false; only whitespace may follow it. ok is false
// for anything else.
func scanFlat(b []byte, out *[maxFlatFields]flatField) (n int, ok bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return 0, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return 0, skipSpace(b, i+1) == len(b)
	}
	for {
		if n == len(out) {
			return 0, false
		}
		k, j, ok := scanString(b, i)
		if !ok {
			return 0, false
		}
		i = skipSpace(b, j)
		if i >= len(b) || b[i] != ':' {
			return 0, false
		}
		i = skipSpace(b, i+1)
		if i >= len(b) {
			return 0, false
		}
		start := i
		switch c := b[i]; {
		case c == '"':
			_, i, ok = scanString(b, i)
		case c == '-' || c >= '0' && c <= '9':
			i, ok = scanNumber(b, i)
		case c == 't':
			i, ok = scanWord(b, i, "true")
		case c == 'f':
			i, ok = scanWord(b, i, "false")
		default: // null, objects, arrays, garbage
			ok = false
		}
		if !ok {
			return 0, false
		}
		out[n] = flatField{key: k, val: b[start:i]}
		n++
		i = skipSpace(b, i)
		if i >= len(b) {
			return 0, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return n, skipSpace(b, i+1) == len(b)
		default:
			return 0, false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanString reads a string at b[i] (which must be '"') with no escapes and no control
// characters, in valid UTF-8; it returns the bytes between the quotes and the index after
// the closing quote.
func scanString(b []byte, i int) (s []byte, end int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	ascii := true
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			s = b[i+1 : j]
			return s, j + 1, ascii || utf8.Valid(s)
		case c == '\\' || c < 0x20:
			return nil, 0, false
		case c >= 0x80:
			ascii = false
		}
	}
	return nil, 0, false
}

// scanNumber reads a number in JSON's grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(b []byte, i int) (int, bool) {
	digits := func(i int) int {
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i
	}
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(i)
	default:
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}

func scanWord(b []byte, i int, w string) (int, bool) {
	if len(b)-i < len(w) || string(b[i:i+len(w)]) != w {
		return 0, false
	}
	return i + len(w), true
}

// The typed readers of a flat value; each fails where encoding/json would not give the
// same value without error, and the caller then takes the slow path.

func flatString(v []byte) (*string, bool) {
	if len(v) < 2 || v[0] != '"' {
		return nil, false
	}
	s := string(v[1 : len(v)-1])
	return &s, true
}

// flatNumber reports whether a scanned value is a number (scanFlat checked its grammar).
func flatNumber(v []byte) bool { return len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9') }

func flatFloat(v []byte) (*float64, bool) {
	if !flatNumber(v) {
		return nil, false
	}
	f, err := strconv.ParseFloat(string(v), 64)
	return &f, err == nil
}

func flatInt(v []byte) (*int, bool) {
	if !flatNumber(v) {
		return nil, false
	}
	n, err := strconv.ParseInt(string(v), 10, strconv.IntSize)
	i := int(n)
	return &i, err == nil
}

func flatBool(v []byte) (*bool, bool) {
	if len(v) == 0 || (v[0] != 't' && v[0] != 'f') {
		return nil, false
	}
	t := v[0] == 't'
	return &t, true
}

func flatTime(v []byte) (*time.Time, bool) {
	if len(v) == 0 || v[0] != '"' {
		return nil, false
	}
	var t time.Time
	return &t, t.UnmarshalJSON(v) == nil
}

// fill sets w from a flat call; false leaves w to encoding/json.
func (w *wireCall) fill(b []byte) bool {
	var fs [maxFlatFields]flatField
	n, ok := scanFlat(b, &fs)
	if !ok {
		return false
	}
	var seen uint16
	for _, f := range fs[:n] {
		var bit uint16
		switch string(f.key) {
		case "call_id":
			bit = 1 << 0
			w.CallID, ok = flatString(f.val)
		case "received_at":
			bit = 1 << 1
			w.ReceivedAt, ok = flatTime(f.val)
		case "lat":
			bit = 1 << 2
			w.Lat, ok = flatFloat(f.val)
		case "lng":
			bit = 1 << 3
			w.Lng, ok = flatFloat(f.val)
		case "priority":
			bit = 1 << 4
			w.Priority, ok = flatInt(f.val)
		case "category":
			bit = 1 << 5
			var s *string
			s, ok = flatString(f.val)
			if ok {
				c := Category(*s)
				w.Category = &c
			}
		case "infectious":
			bit = 1 << 6
			w.Infectious, ok = flatBool(f.val)
		case "address":
			bit = 1 << 7
			w.Address, ok = flatString(f.val)
		default:
			return false
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
	}
	return true
}

// fill sets w from a flat ping; false leaves w to encoding/json.
func (w *wirePing) fill(b []byte) bool {
	var fs [maxFlatFields]flatField
	n, ok := scanFlat(b, &fs)
	if !ok {
		return false
	}
	var seen uint16
	for _, f := range fs[:n] {
		var bit uint16
		var s *string
		switch string(f.key) {
		case "unit_id":
			bit = 1 << 0
			w.UnitID, ok = flatString(f.val)
		case "at":
			bit = 1 << 1
			w.At, ok = flatTime(f.val)
		case "lat":
			bit = 1 << 2
			w.Lat, ok = flatFloat(f.val)
		case "lng":
			bit = 1 << 3
			w.Lng, ok = flatFloat(f.val)
		case "status":
			bit = 1 << 4
			if s, ok = flatString(f.val); ok {
				st := UnitStatus(*s)
				w.Status = &st
			}
		case "kind":
			bit = 1 << 5
			if s, ok = flatString(f.val); ok {
				k := UnitKind(*s)
				w.Kind = &k
			}
		case "station_id":
			bit = 1 << 6
			w.StationID, ok = flatString(f.val)
		default:
			return false
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
	}
	return true
}
