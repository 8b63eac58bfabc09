package contract

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

const goodCall = `{"call_id":"C-20261128-0001","received_at":"2026-11-28T10:00:00Z","lat":30.5928,"lng":114.3055,
 "priority":1,"category":"cardiac","infectious":false,"address":"江汉区解放大道1277号"}`

func TestDecodeCall(t *testing.T) {
	got, err := DecodeCall([]byte(goodCall))
	if err != nil {
		t.Fatalf("DecodeCall(contract example) = %v", err)
	}
	want := Call{
		CallID: "C-20261128-0001", ReceivedAt: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC),
		Lat: 30.5928, Lng: 114.3055, Priority: 1, Category: CategoryCardiac, Address: "江汉区解放大道1277号",
	}
	if got != want {
		t.Fatalf("DecodeCall = %+v, want %+v", got, want)
	}
}

func TestDecodeCallDefaults(t *testing.T) {
	got, err := DecodeCall([]byte(`{"call_id":"x","lat":1,"lng":2,"priority":4}`))
	if err != nil {
		t.Fatal(err)
	}
	if got.Category != CategoryOther || !got.ReceivedAt.IsZero() || got.Infectious {
		t.Fatalf("defaults = %+v, want category other, zero received_at, not infectious", got)
	}
}

func TestDecodeCallRejects(t *testing.T) {
	tests := []struct {
		name      string
		give      string
		wantField string
		wantIn    string
	}{
		{"invalid JSON", `{"call_id":`, "", "invalid JSON"},
		{"not an object", `[1,2]`, "", "invalid JSON"},
		{"empty", ``, "", "empty message"},
		{"lat 91", `{"call_id":"a","lat":91,"lng":114,"priority":1}`, "lat", "out of range"},
		{"lng -181", `{"call_id":"a","lat":30,"lng":-181,"priority":1}`, "lng", "out of range"},
		{"NaN literal", `{"call_id":"a","lat":NaN,"lng":114,"priority":1}`, "", "invalid JSON"},
		{"NaN string", `{"call_id":"a","lat":"NaN","lng":114,"priority":1}`, "", "invalid JSON"},
		{"huge number", `{"call_id":"a","lat":1e999,"lng":114,"priority":1}`, "", "invalid JSON"},
		{"missing lat", `{"call_id":"a","lng":114,"priority":1}`, "lat", "missing"},
		{"missing lng", `{"call_id":"a","lat":30,"priority":1}`, "lng", "missing"},
		{"empty call id", `{"call_id":"","lat":30,"lng":114,"priority":1}`, "call_id", "empty"},
		{"blank call id", `{"call_id":"  ","lat":30,"lng":114,"priority":1}`, "call_id", "empty"},
		{"missing call id", `{"lat":30,"lng":114,"priority":1}`, "call_id", "missing"},
		{"call id with newline", `{"call_id":"a\nb","lat":30,"lng":114,"priority":1}`, "call_id", "control"},
		{"long call id", `{"call_id":"` + strings.Repeat("x", 65) + `","lat":30,"lng":114,"priority":1}`, "call_id", "limit"},
		{"priority 0", `{"call_id":"a","lat":30,"lng":114,"priority":0}`, "priority", "not 1, 2, 3 or 4"},
		{"priority 5", `{"call_id":"a","lat":30,"lng":114,"priority":5}`, "priority", "not 1, 2, 3 or 4"},
		{"priority missing", `{"call_id":"a","lat":30,"lng":114}`, "priority", "missing"},
		{"priority fractional", `{"call_id":"a","lat":30,"lng":114,"priority":1.5}`, "", "invalid JSON"},
		{"unknown category", `{"call_id":"a","lat":30,"lng":114,"priority":1,"category":"zombie"}`, "category", "unknown category"},
		{"bad time", `{"call_id":"a","lat":30,"lng":114,"priority":1,"received_at":"yesterday"}`, "", "invalid JSON"},
		{"long address", `{"call_id":"a","lat":30,"lng":114,"priority":1,"address":"` + strings.Repeat("x", 513) + `"}`, "address", "limit"},
		{"trailing garbage", `{"call_id":"a","lat":30,"lng":114,"priority":1} x`, "", "invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeCall([]byte(tt.give))
			assertInvalid(t, err, tt.wantField, tt.wantIn)
		})
	}
}

func TestDecodeUnitPing(t *testing.T) {
	give := `{"unit_id":"A-017","at":"2026-11-28T10:00:03Z","lat":30.60,"lng":114.28,"status":"available",
 "kind":"negative_pressure","station_id":"S-03"}`
	got, err := DecodeUnitPing([]byte(give))
	if err != nil {
		t.Fatal(err)
	}
	want := UnitPing{UnitID: "A-017", At: time.Date(2026, 11, 28, 10, 0, 3, 0, time.UTC), Lat: 30.60, Lng: 114.28,
		Status: StatusAvailable, Kind: KindNegativePressure, StationID: "S-03"}
	if got != want {
		t.Fatalf("DecodeUnitPing = %+v, want %+v", got, want)
	}
}

func TestDecodeUnitPingRejects(t *testing.T) {
	tests := []struct {
		name      string
		give      string
		wantField string
		wantIn    string
	}{
		{"unknown status", `{"unit_id":"A-1","lat":30,"lng":114,"status":"napping"}`, "status", "unknown unit status"},
		{"missing status", `{"unit_id":"A-1","lat":30,"lng":114}`, "status", "missing"},
		{"unknown kind", `{"unit_id":"A-1","lat":30,"lng":114,"status":"available","kind":"helicopter"}`, "kind", "unknown unit kind"},
		{"empty unit id", `{"unit_id":"","lat":30,"lng":114,"status":"available"}`, "unit_id", "empty"},
		{"lat 91", `{"unit_id":"A-1","lat":91,"lng":114,"status":"available"}`, "lat", "out of range"},
		{"invalid JSON", `not json`, "", "invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeUnitPing([]byte(tt.give))
			assertInvalid(t, err, tt.wantField, tt.wantIn)
		})
	}
}

func TestDecodeCapacityReport(t *testing.T) {
	give := `{"hospital_id":"H-jinyintan","reported_at":"2026-11-28T09:55:00Z","accepting":true,
 "beds":{"fever_observation":{"total":40,"occupied":31},"isolation":{"total":120,"occupied":97},
         "icu":{"total":20,"occupied":18}}}`
	got, err := DecodeCapacityReport([]byte(give))
	if err != nil {
		t.Fatal(err)
	}
	if got.HospitalID != "H-jinyintan" || !got.Accepting || got.Beds[BedIsolation] != (Beds{120, 97}) || len(got.Beds) != 3 {
		t.Fatalf("DecodeCapacityReport = %+v", got)
	}
	if free := got.Beds[BedICU].Free(); free != 2 {
		t.Fatalf("icu free = %d, want 2", free)
	}
}

func TestDecodeCapacityReportRejects(t *testing.T) {
	tests := []struct {
		name      string
		give      string
		wantField string
		wantIn    string
	}{
		{"occupied > total", `{"hospital_id":"H","reported_at":"2026-11-28T09:55:00Z","beds":{"icu":{"total":2,"occupied":3}}}`, "beds.icu", "more than total"},
		{"negative", `{"hospital_id":"H","reported_at":"2026-11-28T09:55:00Z","beds":{"icu":{"total":-1,"occupied":0}}}`, "beds.icu", "negative"},
		{"missing occupied", `{"hospital_id":"H","reported_at":"2026-11-28T09:55:00Z","beds":{"icu":{"total":1}}}`, "beds.icu", "both"},
		{"unknown bed kind", `{"hospital_id":"H","reported_at":"2026-11-28T09:55:00Z","beds":{"sofa":{"total":1,"occupied":0}}}`, "beds", "unknown bed kind"},
		{"no beds", `{"hospital_id":"H","reported_at":"2026-11-28T09:55:00Z"}`, "beds", "missing"},
		{"no time", `{"hospital_id":"H","beds":{"icu":{"total":1,"occupied":0}}}`, "reported_at", "missing"},
		{"no hospital", `{"reported_at":"2026-11-28T09:55:00Z","beds":{"icu":{"total":1,"occupied":0}}}`, "hospital_id", "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeCapacityReport([]byte(tt.give))
			assertInvalid(t, err, tt.wantField, tt.wantIn)
		})
	}
}

func TestValidateLatLngNonFinite(t *testing.T) {
	nan := func() float64 { var z float64; return z / z }()
	if err := ValidateLatLng(nan, 114); err == nil || !strings.Contains(err.Error(), "finite") {
		t.Fatalf("ValidateLatLng(NaN) = %v, want a not-finite error", err)
	}
}

func assertInvalid(t *testing.T, err error, field, in string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one about %q", in)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("error %v does not match ErrInvalid", err)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T is not *Error", err)
	}
	if e.Field != field {
		t.Errorf("field = %q, want %q (error %v)", e.Field, field, err)
	}
	if !strings.Contains(err.Error(), in) {
		t.Errorf("error %q does not say %q", err, in)
	}
}

// The decoders must never panic, and whatever they accept must survive a round trip through
// the encoder unchanged: accepting is a promise that the value is well-formed.
func FuzzDecodeCall(f *testing.F) {
	f.Add([]byte(goodCall))
	f.Add([]byte(`{"call_id":"a","lat":90,"lng":-180,"priority":4,"category":"fever","infectious":true}`))
	f.Add([]byte(`{"call_id":"a","lat":1e308,"lng":0,"priority":1}`))
	f.Add([]byte(`{"call_id":"\u0000"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeCall(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("accepted call does not encode: %v", err)
		}
		c2, err := DecodeCall(out)
		if err != nil {
			t.Fatalf("re-decoding an accepted call: %v (%s)", err, out)
		}
		if !c2.ReceivedAt.Equal(c.ReceivedAt) {
			t.Fatalf("received_at changed in a round trip")
		}
		c2.ReceivedAt = c.ReceivedAt
		if c2 != c {
			t.Fatalf("round trip changed the call: %+v → %+v", c, c2)
		}
	})
}

func FuzzDecodeUnitPing(f *testing.F) {
	f.Add([]byte(`{"unit_id":"A-017","at":"2026-11-28T10:00:03Z","lat":30.60,"lng":114.28,"status":"available","kind":"als"}`))
	f.Add([]byte(`{"unit_id":"A","lat":-90,"lng":180,"status":"out_of_service"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeUnitPing(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if !p.Status.Valid() || (p.Kind != "" && !p.Kind.Valid()) || p.UnitID == "" {
			t.Fatalf("accepted an invalid ping %+v", p)
		}
		if err := ValidateLatLng(p.Lat, p.Lng); err != nil {
			t.Fatalf("accepted a ping with %v", err)
		}
	})
}

func FuzzDecodeCapacityReport(f *testing.F) {
	f.Add([]byte(`{"hospital_id":"H-jinyintan","reported_at":"2026-11-28T09:55:00Z","accepting":true,"beds":{"icu":{"total":20,"occupied":18}}}`))
	f.Add([]byte(`{"hospital_id":"H","reported_at":"2026-11-28T09:55:00Z","beds":{"icu":{"total":1,"occupied":2}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeCapacityReport(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		for k, v := range r.Beds {
			if v.Total < 0 || v.Occupied < 0 || v.Occupied > v.Total || !validBedKind(k) {
				t.Fatalf("accepted bad beds %s=%+v", k, v)
			}
		}
	})
}

// BenchmarkDecode decodes and validates a call and a ping as DecodeCall and DecodeUnitPing
// do (the fast path, flat.go) and, its peer, with encoding/json alone before the same
// validation.
func BenchmarkDecode(b *testing.B) {
	ping := []byte(`{"unit_id":"LT-U-004711","at":"2026-11-28T10:00:00.123456789Z","lat":30.59281234,"lng":114.30551234,"status":"available"}`)
	call := []byte(goodCall)
	run := func(name string, msg []byte, decode func([]byte) error) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				if err := decode(msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	run("call/flat", call, func(m []byte) error { _, err := DecodeCall(m); return err })
	run("ping/flat", ping, func(m []byte) error { _, err := DecodeUnitPing(m); return err })
	run("call/encoding-json", call, func(m []byte) error {
		var w wireCall
		if err := unmarshal(m, &w); err != nil {
			return err
		}
		_, err := w.call()
		return err
	})
	run("ping/encoding-json", ping, func(m []byte) error {
		var w wirePing
		if err := unmarshal(m, &w); err != nil {
			return err
		}
		_, err := w.ping()
		return err
	})
}
