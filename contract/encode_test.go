package contract

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"
)

// sameAsMarshal fails unless AppendJSON gives json.Marshal's bytes, or both fail.
func sameAsMarshal(t *testing.T, v interface{ AppendJSON([]byte) ([]byte, error) }) {
	t.Helper()
	want, werr := json.Marshal(v)
	prefix := []byte("prefix")
	got, gerr := v.AppendJSON(bytes.Clone(prefix))
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("%+v: AppendJSON error %v, json.Marshal error %v", v, gerr, werr)
	}
	if werr != nil {
		return
	}
	if !bytes.HasPrefix(got, prefix) || !bytes.Equal(got[len(prefix):], want) {
		t.Fatalf("%+v:\nAppendJSON   %s\njson.Marshal %s", v, got, want)
	}
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 11, 28, 10, 0, 0, 123456789, time.UTC)
	cst := time.FixedZone("CST", 8*3600)
	for _, a := range []Assignment{
		{CallID: "C-1", UnitID: "U-7", DecidedAt: at, ETAS: 412, DistanceM: 3120, WithinStandard: true, HospitalID: "H-03", Reason: "nearest"},
		{CallID: "C-2", UnitID: "U-8", DecidedAt: at.In(cst), ETAS: -1, DistanceM: 0, Reason: "nearest_no_als_in_time"},
		{CallID: `quote " back \ slash`, UnitID: "<unit>&", DecidedAt: time.Time{}, Reason: "江汉区\u2028\x01"},
		{CallID: "bad utf-8 \xff\xfe", DecidedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, // both fail: the year
	} {
		sameAsMarshal(t, &a)
	}
	for _, e := range []IncidentEvent{
		{CallID: "C-1", At: at, Type: "assigned", State: "assigned", UnitID: "U-7", Seq: 1, Reason: "nearest"},
		{CallID: "C-1", At: at, Type: "received", State: "received"},
		{CallID: "C-1", At: at.In(cst), Type: "queued", State: "queued", Seq: -2, Reason: "no unit within 40 km"},
		{CallID: "\t\n", At: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), Type: "x"}, // both fail
	} {
		sameAsMarshal(t, &e)
	}
}

func TestCallAppendJSONMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	for _, c := range []Call{
		{CallID: "LT-1", ReceivedAt: at, Lat: 30.5928, Lng: 114.3055, Priority: 1, Category: CategoryCardiac, Address: "江汉区解放大道1277号"},
		{CallID: "LT-2", ReceivedAt: at, Lat: 30, Lng: 114, Priority: 4, Category: CategoryFever, Infectious: true},
		{CallID: "LT-3", Lat: math.Inf(1), Priority: 2}, // both fail
	} {
		sameAsMarshal(t, &c)
	}
}

func TestPingAppendJSONMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 11, 28, 10, 0, 0, 5, time.UTC)
	for _, p := range []UnitPing{
		{UnitID: "U-1", At: at, Lat: 30.5928, Lng: 114.3055, Status: StatusAvailable},
		{UnitID: "U-2", At: at, Lat: -0.0000001, Lng: 1e21, Status: StatusOnScene, Kind: KindALS, StationID: "S-07"},
		{UnitID: "U-3", At: at, Lat: 1e-7, Lng: -123456789.125, Status: "weird<>"},
		{UnitID: "U-4", At: at, Lat: math.NaN(), Status: StatusAvailable},   // both fail
		{UnitID: "U-5", At: at, Lng: math.Inf(-1), Status: StatusAvailable}, // both fail
		{UnitID: "U-6", At: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},   // both fail
	} {
		sameAsMarshal(t, &p)
	}
}

func FuzzAppendJSON(f *testing.F) {
	f.Add("C-1", "U-7", "H-03", "nearest", int64(1795860000123456789), 412, 3120, true, 8*3600)
	f.Add(`"\<>&`, "江汉", "", "\u2028\xff", int64(-1), -5, 0, false, -3600)
	f.Fuzz(func(t *testing.T, call, unit, hosp, reason string, ns int64, eta, dist int, within bool, offset int) {
		at := time.Unix(0, ns).In(time.FixedZone("z", offset%(24*3600)))
		a := Assignment{CallID: call, UnitID: unit, DecidedAt: at, ETAS: eta, DistanceM: dist, WithinStandard: within,
			HospitalID: hosp, Reason: reason}
		sameAsMarshal(t, &a)
		e := IncidentEvent{CallID: call, At: at, Type: reason, State: hosp, UnitID: unit, Seq: eta, Reason: reason}
		sameAsMarshal(t, &e)
		lat, lng := float64(ns)/float64(int64(1)<<uint(offset&63)), float64(eta)*math.Pow(10, float64(dist%40))
		p := UnitPing{UnitID: unit, At: at, Lat: lat, Lng: lng, Status: UnitStatus(reason), Kind: UnitKind(hosp), StationID: call}
		sameAsMarshal(t, &p)
		c := Call{CallID: call, ReceivedAt: at, Lat: lng, Lng: lat, Priority: dist, Category: Category(hosp), Infectious: within, Address: reason}
		sameAsMarshal(t, &c)
	})
}

// BenchmarkEncodeDecision encodes one decision's messages (an assignment and two events)
// with encoding/json and with AppendJSON.
func BenchmarkEncodeDecision(b *testing.B) {
	at := time.Date(2026, 11, 28, 10, 0, 0, 123456789, time.UTC)
	a := Assignment{CallID: "LT1795860000-000123", UnitID: "LT-U-004711", DecidedAt: at, ETAS: 412, DistanceM: 3120,
		WithinStandard: true, HospitalID: "WH-H-017", Reason: "nearest"}
	evs := []IncidentEvent{{CallID: a.CallID, At: at, Type: "received", State: "received"},
		{CallID: a.CallID, At: at, Type: "assigned", State: "assigned", UnitID: a.UnitID, Seq: 1, Reason: "nearest"}}
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			_, _ = json.Marshal(&a)
			for i := range evs {
				_, _ = json.Marshal(&evs[i])
			}
		}
	})
	b.Run("AppendJSON", func(b *testing.B) {
		buf := make([]byte, 0, 1024)
		for b.Loop() {
			buf, _ = a.AppendJSON(buf[:0])
			for i := range evs {
				buf, _ = evs[i].AppendJSON(buf)
			}
		}
	})
}
