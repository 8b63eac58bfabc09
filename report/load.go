package report

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ems120/ems120/loadtest"
)

// WriteLoad writes a load test's report to dir: report.md and its plots.
func WriteLoad(dir, mode string, rate float64, d time.Duration, r loadtest.LoadResult) error {
	return fmt.Errorf("report: not yet")
}

var _ = os.MkdirAll
var _ = filepath.Join
