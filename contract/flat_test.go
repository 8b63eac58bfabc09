package contract

import (
	"encoding/json"
	"reflect"
	"testing"
)

// flatAgrees fails when the fast path takes b but reads it differently from encoding/json.
// It reports whether the fast path took b.
func flatAgrees(t *testing.T, b []byte) bool {
	t.Helper()
	var fc, sc wireCall
	took := false
	if checkSize(b) == nil && fc.fill(b) {
		took = true
		if err := json.Unmarshal(b, &sc); err != nil || !reflect.DeepEqual(fc, sc) {
			t.Fatalf("call %q: fast path %s, encoding/json %s (err %v)", b, show(fc), show(sc), err)
		}
	}
	var fp, sp wirePing
	if checkSize(b) == nil && fp.fill(b) {
		took = true
		if err := json.Unmarshal(b, &sp); err != nil || !reflect.DeepEqual(fp, sp) {
			t.Fatalf("ping %q: fast path %s, encoding/json %s (err %v)", b, show(fp), show(sp), err)
		}
	}
	return took
}

func show(v any) string { b, _ := json.Marshal(v); return string(b) }

var flatSeeds = []string{
	goodCall,
	`{"call_id":"C1","lat":30.5,"lng":114.3,"priority":2}`,
	`{"unit_id":"U-1","at":"2026-11-28T10:00:00.123456789Z","lat":30.5928,"lng":114.3055,"status":"available"}`,
	`{"unit_id":"U-1","at":"2026-11-28T18:00:00+08:00","lat":-0,"lng":1E2,"status":"on_scene","kind":"als","station_id":"S-1"}`,
	` { "unit_id" : "U-2" , "lat" : 3.0e-1 , "lng" : 0.5 , "status" : "available" } ` + "\n",
	`{"call_id":"C2","lat":30,"lng":114,"priority":1,"infectious":true,"address":"江汉区","category":"fever"}`,
	`{}`,
}

// Messages the fast path must leave to encoding/json, which reads them differently or refuses
// them: a name in other case, a duplicate, a null, an escape, an unknown field, an integer
// field given a fraction, a number out of range, a string for a number, trailing data.
var slowSeeds = []string{
	`{"Unit_ID":"U-1","lat":1,"lng":2,"status":"available"}`,
	`{"unit_id":"U-1","unit_id":"U-2","lat":1,"lng":2,"status":"available"}`,
	`{"unit_id":null,"lat":1,"lng":2,"status":"available"}`,
	`{"unit_id":"U-\u0031","lat":1,"lng":2,"status":"available"}`,
	`{"unit_id":"U-1","lat":1,"lng":2,"status":"available","speed":3}`,
	`{"call_id":"C1","lat":30.5,"lng":114.3,"priority":1.0}`,
	`{"unit_id":"U-1","lat":1e400,"lng":2,"status":"available"}`,
	`{"unit_id":"U-1","lat":"1","lng":2,"status":"available"}`,
	`{"unit_id":"U-1","lat":1,"lng":2,"status":"available"} x`,
	`{"unit_id":"U-1","at":"yesterday","lat":1,"lng":2,"status":"available"}`,
	"{\"unit_id\":\"U-\xff\",\"lat\":1,\"lng\":2,\"status\":\"available\"}",
	`{"unit_id":"U-1","lat":01,"lng":2,"status":"available"}`,
}

func TestFlatPath(t *testing.T) {
	for _, s := range flatSeeds {
		if !flatAgrees(t, []byte(s)) {
			t.Errorf("the fast path should read %s", s)
		}
	}
	for _, s := range slowSeeds {
		if flatAgrees(t, []byte(s)) {
			t.Errorf("the fast path should leave %s to encoding/json", s)
		}
	}
}

func FuzzFlatAgreesWithEncodingJSON(f *testing.F) {
	for _, s := range append(flatSeeds, slowSeeds...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		flatAgrees(t, b)
	})
}
