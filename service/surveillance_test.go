package service_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ems120/ems120/contract"
	"github.com/ems120/ems120/service"
	"github.com/ems120/ems120/simulator"
	"github.com/ems120/ems120/sql"
)

// A burst of fever calls in one cell, with an empty record before it, is a cluster: the
// active service finds it in the record, stores it, publishes it on ems.alerts and serves
// it at GET /v1/alerts with the outline recorded with it. The service that starts next
// finds the same hour in the record and adds nothing, publishes nothing.
func TestFeverClusterAlert(t *testing.T) {
	e := newEnv(t)
	alerts := e.read(contract.TopicAlerts)
	assignments := e.read(contract.TopicAssignments)
	first := e.startWith(service.Config{AckTimeout: -1})
	// The hour before the last one that has ended: whatever minute the test runs in, it has
	// ended and its grace passed by the time the next service starts.
	hour := time.Now().UTC().Add(-3 * time.Minute).Truncate(time.Hour).Add(-time.Hour)
	calls := make([]contract.Call, 12)
	for i := range calls {
		calls[i] = contract.Call{CallID: fmt.Sprintf("FV-%02d", i), ReceivedAt: hour.Add(time.Duration(i) * time.Minute),
			Lat: 30.6196 + float64(i%3)*0.001, Lng: 114.2571 + float64(i/3)*0.001, Priority: 3, Category: contract.CategoryFever}
	}
	e.produce(contract.TopicCalls, encode(t, calls)...)
	assignments.waitFor(t, len(calls), 0)
	first.stop() // the calls are in the record; the next service reads the hour from it

	second := e.startWith(service.Config{AckTimeout: -1})
	msgs := alerts.waitFor(t, 2, 2*time.Second)
	levels := map[string]contract.Alert{}
	for _, m := range msgs {
		var a contract.Alert
		if err := json.Unmarshal(m.Value, &a); err != nil {
			t.Fatal(err)
		}
		if string(m.Key) != a.AlertID || a.Method != "ears_c2" || !a.Hour.Equal(hour) || a.Observed != 12 {
			t.Fatalf("alert %s: %+v", m.Key, a)
		}
		levels[a.Level] = a
	}
	if len(msgs) != 2 || len(levels["cell"].Cells) != 1 || levels["district"].District != "420103" {
		t.Fatalf("want one cell cluster and 江汉区 (420103), got %+v", levels)
	}
	var got struct {
		Alerts []struct {
			contract.Alert
			Geometry *struct {
				Type        string           `json:"type"`
				Coordinates [][][][2]float64 `json:"coordinates"`
			} `json:"geometry"`
		} `json:"alerts"`
	}
	getJSON(t, e.as("analyst"), "http://"+second.svc.HTTPAddr()+"/v1/alerts", &got)
	if len(got.Alerts) != 2 {
		t.Fatalf("GET /v1/alerts: %+v", got)
	}
	for _, a := range got.Alerts {
		g := a.Geometry
		switch {
		case a.Level == "cell" && (g == nil || g.Type != "MultiPolygon" || len(g.Coordinates) != 1 || len(g.Coordinates[0]) != 1 ||
			len(g.Coordinates[0][0]) != 7 || g.Coordinates[0][0][0] != g.Coordinates[0][0][6] || g.Coordinates[0][0][0][0] < 114):
			t.Fatalf("a cell cluster's geometry is its hexagon, a closed GeoJSON ring of [lng, lat]: %+v", a)
		case a.Level == "district" && (g == nil || g.Type != "MultiPolygon" || len(g.Coordinates) == 0 || len(g.Coordinates[0][0]) < 4):
			t.Fatalf("a district's alert is drawn as the district's boundary, a GeoJSON MultiPolygon: %+v", a)
		}
	}
	resp, err := e.as("reporter", "H-S01").Get("http://" + second.svc.HTTPAddr() + "/v1/alerts")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("a hospital reporter reads alerts: %d", resp.StatusCode)
	}
	second.stop()

	third := e.startWith(service.Config{AckTimeout: -1})
	time.Sleep(2 * time.Second)
	if n := len(alerts.snapshot()); n != 2 {
		t.Fatalf("the hour observed again published %d alerts in all, want the same 2", n)
	}
	st, err := sql.Open(t.Context(), e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var n int
	if err := st.Pool.QueryRow(t.Context(), `SELECT count(*) FROM alerts WHERE geom IS NOT NULL`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("alerts table: %d rows with outlines, want 2", n)
	}
	third.stop()
}

// The console draws the fever-call clusters on the map and lists them in the analyst view,
// with the guidance KPIs.
func TestConsoleShowsFeverClusters(t *testing.T) {
	e := newEnv(t)
	r := e.startWith(service.Config{AckTimeout: -1})
	st, err := sql.Open(t.Context(), e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	hour := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)
	cells := simulator.DefaultOutbreakCells()
	var names []string
	for _, c := range cells {
		names = append(names, c.String())
	}
	seeded := []contract.Alert{
		{AlertID: "cell-ears_c2-test-" + names[0], Method: "ears_c2", Level: "cell", Cells: names, Observed: 14, Expected: 1.2,
			Threshold: 11.2, Score: 14, FirstHour: hour.Add(-3 * time.Hour), Hour: hour, WindowHours: 24},
		{AlertID: "district-ears_c2-test-420103", Method: "ears_c2", Level: "district", District: "420103", Observed: 19,
			Expected: 4.1, Threshold: 15.0, Score: 19, FirstHour: hour.Add(-2 * time.Hour), Hour: hour, WindowHours: 24},
	}
	if _, err := st.InsertAlerts(t.Context(), seeded); err != nil {
		t.Fatal(err)
	}
	p := openConsole(t, "http://"+r.svc.HTTPAddr(), e.account("analyst", ""))
	p.wait(`document.getElementById('alert-count').offsetParent !== null && document.getElementById('alert-count').textContent.startsWith('2 fever clusters')`)
	p.wait(`emsConsole.state.alertShapes === 2`)
	p.shot("fever-clusters-map")
	p.key("3")
	p.wait(`document.querySelectorAll('#alert-table tbody tr').length === 2 && document.querySelectorAll('#analyst .guidance div').length === 5`)
	if got := eval[string](p, `document.querySelector('#analyst .guidance').textContent`); !strings.Contains(got, "negative-pressure units") || !strings.Contains(got, "20.2%") {
		t.Fatalf("guidance tiles: %q", got)
	}
	p.shot("analyst-clusters")
}
