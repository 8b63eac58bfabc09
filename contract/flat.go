package contract

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// A fast path for the two messages that arrive by the thousand each second: calls and unit
// pings. Nearly all are one flat JSON object — plain strings, numbers and booleans under
// the field names exactly as the contract spells them — and encoding/json's reflection was a
// quarter of the ping path's CPU. scanFlat reads that shape; fill takes it only when each
// member is a known name, given once, with the right JSON type and a value that parses.
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

// eachFlat scans b (scanFlat) and hands each member to set, which stores it and reports
// whether it could; false, from the scan or from any member, leaves b to encoding/json.
func eachFlat(b []byte, set func(key, val []byte) bool) bool {
	var fs [maxFlatFields]flatField
	n, ok := scanFlat(b, &fs)
	if !ok {
		return false
	}
	for _, f := range fs[:n] {
		if !set(f.key, f.val) {
			return false
		}
	}
	return true
}

// The setters of a wire field from a flat value. Each stores only into a field not set yet
// (a second member of the same name is left to encoding/json, which keeps the last) and only
// a value that encoding/json would read the same, without error.

func setString[S ~string](dst **S, v []byte) bool {
	if *dst != nil || len(v) < 2 || v[0] != '"' {
		return false
	}
	s := S(v[1 : len(v)-1])
	*dst = &s
	return true
}

// isNumber reports whether a scanned value is a number (scanFlat checked its grammar).
func isNumber(v []byte) bool { return len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9') }

func setFloat(dst **float64, v []byte) bool {
	if *dst != nil || !isNumber(v) {
		return false
	}
	f, err := strconv.ParseFloat(string(v), 64)
	*dst = &f
	return err == nil
}

func setInt(dst **int, v []byte) bool {
	if *dst != nil || !isNumber(v) {
		return false
	}
	n, err := strconv.ParseInt(string(v), 10, strconv.IntSize)
	i := int(n)
	*dst = &i
	return err == nil
}

func setBool(dst **bool, v []byte) bool {
	if *dst != nil || len(v) == 0 || (v[0] != 't' && v[0] != 'f') {
		return false
	}
	t := v[0] == 't'
	*dst = &t
	return true
}

func setTime(dst **time.Time, v []byte) bool {
	if *dst != nil || len(v) == 0 || v[0] != '"' {
		return false
	}
	var t time.Time
	*dst = &t
	return t.UnmarshalJSON(v) == nil
}

// fill sets w from a flat call; false leaves the call to encoding/json.
func (w *wireCall) fill(b []byte) bool {
	return eachFlat(b, func(key, v []byte) bool {
		switch string(key) {
		case "call_id":
			return setString(&w.CallID, v)
		case "received_at":
			return setTime(&w.ReceivedAt, v)
		case "lat":
			return setFloat(&w.Lat, v)
		case "lng":
			return setFloat(&w.Lng, v)
		case "priority":
			return setInt(&w.Priority, v)
		case "category":
			return setString(&w.Category, v)
		case "infectious":
			return setBool(&w.Infectious, v)
		case "address":
			return setString(&w.Address, v)
		case "linked_to":
			return setString(&w.LinkedTo, v)
		}
		return false
	})
}

// fill sets w from a flat ping; false leaves the ping to encoding/json.
func (w *wirePing) fill(b []byte) bool {
	return eachFlat(b, func(key, v []byte) bool {
		switch string(key) {
		case "unit_id":
			return setString(&w.UnitID, v)
		case "at":
			return setTime(&w.At, v)
		case "lat":
			return setFloat(&w.Lat, v)
		case "lng":
			return setFloat(&w.Lng, v)
		case "status":
			return setString(&w.Status, v)
		case "kind":
			return setString(&w.Kind, v)
		case "station_id":
			return setString(&w.StationID, v)
		}
		return false
	})
}
