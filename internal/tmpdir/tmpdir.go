// Package tmpdir makes the temporary directories of ems120's throwaway servers (the embedded
// broker's log, the throwaway PostgreSQL) and removes the ones a killed process left behind:
// a load test's broker log grows by gigabytes.
//
// They go in memory (/dev/shm) when the machine has room, as Base says. Both servers already
// trade durability for speed (the database runs with fsync off, the broker never syncs) and
// their directories are removed at exit, so writing them to a disk buys nothing; and it
// costs: the kernel writes dirty pages back in bursts once they are 30 s old, and a load
// test's worst latencies come with those bursts (BENCHMARKS.md, "Steady state").
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

// shm is the memory file system Base prefers, and minShm the room it wants there and in
// memory: a 120 s load test at 5,000 calls/s leaves about 4 GB in the two directories.
var (
	shm    = "/dev/shm"
	minShm = uint64(8) << 30
)

// tmpfsMagic is the f_type of a tmpfs (linux/magic.h).
const tmpfsMagic = 0x01021994

// Base is where Make puts directories: $TMPDIR when it is set (the user's choice: set it to a
// disk directory for runs longer than memory allows); otherwise /dev/shm when it is a tmpfs
// with at least 8 GiB free and as much memory available; otherwise os.TempDir.
func Base() string {
	if os.Getenv("TMPDIR") != "" {
		return os.TempDir()
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(shm, &fs); err == nil && fs.Type == tmpfsMagic &&
		fs.Bavail*uint64(fs.Bsize) >= minShm && memAvailable() >= minShm {
		return shm
	}
	return os.TempDir()
}

// memAvailable is MemAvailable from /proc/meminfo, in bytes; 0 when unknown.
func memAvailable() uint64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemAvailable:"); ok { // "MemAvailable:  21 kB"
			if f := strings.Fields(rest); len(f) > 0 {
				if kb, err := strconv.ParseUint(f[0], 10, 64); err == nil {
					return kb << 10
				}
			}
		}
	}
	return 0
}

// Make removes the stale directories named prefix* in both places Base chooses from, then
// creates a new one in Base owned by this process. A directory is stale when it is older than
// a minute (one being set up right now is left alone) and its owner is not alive or not known.
// The stale go first: a killed load test's files in /dev/shm hold gigabytes of memory, and
// Base, asked before they are gone, would find no room and leave them there for good.
func Make(prefix string) (string, error) {
	for _, place := range []string{shm, os.TempDir()} {
		dirs, _ := filepath.Glob(filepath.Join(place, prefix+"*"))
		for _, d := range dirs {
			if stale(d) {
				os.RemoveAll(d)
			}
		}
	}
	base := Base()
	dir, err := os.MkdirTemp(base, prefix)
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
