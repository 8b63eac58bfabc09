package service

import (
	"fmt"
	"testing"
	"time"

	"github.com/ems120/ems120/sql"
)

// The credential cache does not keep what is no longer of use: past 1,024 entries, the expired
// sessions and the long-unchecked tokens go, the live ones stay.
func TestCredentialCacheDropsWhatIsOfNoUse(t *testing.T) {
	a := newAuth()
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	for i := range 1000 { // sessions that ended an hour ago
		a.remember([]byte(fmt.Sprint("old", i)), cached{holder: sql.Holder{ExpiresAt: now.Add(-time.Hour)}, via: "session", checked: now.Add(-2 * time.Hour)})
	}
	for i := range 30 { // live sessions and a token checked a minute ago
		a.remember([]byte(fmt.Sprint("live", i)), cached{holder: sql.Holder{ExpiresAt: now.Add(time.Hour)}, via: "session", checked: now.Add(-time.Minute)})
	}
	a.remember([]byte("token"), cached{via: "token", checked: now.Add(-time.Minute)})
	if len(a.cache) != 31 {
		t.Fatalf("%d entries cached, want the 30 live sessions and the token", len(a.cache))
	}
}
