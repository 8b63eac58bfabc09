// Package tmpdir makes the temporary directories of ems120's throwaway servers (the embedded
// broker's log, the throwaway PostgreSQL) and removes the ones a killed process left behind:
// the broker's log of a load test killed at 5,000 calls a second is a gigabyte a minute.
package tmpdir

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ownerFile holds the process id of the directory's owner.
const ownerFile = "owner.pid"

// Make removes the stale directories named prefix* in os.TempDir, then creates a new one
// owned by this process. A directory is stale when it is older than a minute (one being set
// up right now is left alone) and its owner is not alive or not known.
func Make(prefix string) (string, error) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), prefix+"*"))
	for _, d := range dirs {
		if stale(d) {
			os.RemoveAll(d)
		}
	}
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

func stale(dir string) bool {
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() || time.Since(st.ModTime()) < time.Minute {
		return false
	}
	b, err := os.ReadFile(filepath.Join(dir, ownerFile))
	if err != nil {
		return true
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return true
	}
	// Signal 0 only asks whether the process exists; EPERM: it does, as another user.
	err = syscall.Kill(pid, 0)
	return err != nil && !errors.Is(err, syscall.EPERM)
}
