package fleetindex

import (
	"testing"

	"github.com/ems120/ems120/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
