package tmpdir

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Make removes the directories of its prefix whose owner is gone or unknown and that are
// older than a minute, and leaves the others: a live owner's, one being set up right now,
// another prefix's. It looks in memory too, where Base does not put this one.
func TestMakeRemovesOnlyStaleDirectories(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	oldShm := shm
	t.Cleanup(func() { shm = oldShm })
	shm = t.TempDir()
	done := exec.Command("true")
	if err := done.Run(); err != nil {
		t.Skipf("no process to outlive (true: %v)", err)
	}
	deadPID := done.Process.Pid
	old := time.Now().Add(-2 * time.Minute)
	mk := func(place, name string, owner int, age time.Time) string {
		d := filepath.Join(place, name)
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if owner != 0 {
			if err := os.WriteFile(filepath.Join(d, ownerFile), []byte(strconv.Itoa(owner)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chtimes(d, age, age); err != nil {
			t.Fatal(err)
		}
		return d
	}
	deadOld := mk(os.TempDir(), "x-dead-old", deadPID, old)
	unownedOld := mk(os.TempDir(), "x-unowned-old", 0, old)
	liveOld := mk(os.TempDir(), "x-live-old", os.Getpid(), old)
	deadNew := mk(os.TempDir(), "x-dead-new", deadPID, time.Now())
	other := mk(os.TempDir(), "y-dead-old", deadPID, old)
	deadInShm := mk(shm, "x-dead-old", deadPID, old)

	dir, err := Make("x-")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, ownerFile))
	if err != nil || string(b) != strconv.Itoa(os.Getpid()) {
		t.Fatalf("new directory's owner file: %q, %v; want this process", b, err)
	}
	if filepath.Dir(dir) != os.TempDir() {
		t.Errorf("new directory %s, want it in TMPDIR %s", dir, os.TempDir())
	}
	for d, want := range map[string]bool{deadOld: false, unownedOld: false, liveOld: true, deadNew: true, other: true, dir: true,
		deadInShm: false} {
		_, err := os.Stat(d)
		if got := err == nil; got != want {
			t.Errorf("%s: present %v, want %v", filepath.Base(d), got, want)
		}
	}
}

// Base takes $TMPDIR when set, /dev/shm when it is a tmpfs with room, and the system's
// temporary directory otherwise.
func TestBasePrefersMemoryWithRoom(t *testing.T) {
	set := t.TempDir()
	t.Setenv("TMPDIR", set)
	if got := Base(); got != set {
		t.Fatalf("with TMPDIR set, Base = %q, want %q", got, set)
	}
	t.Setenv("TMPDIR", "")
	oldShm, oldMin := shm, minShm
	t.Cleanup(func() { shm, minShm = oldShm, oldMin })

	shm, minShm = t.TempDir(), 1 // a directory on whatever holds the test's files
	var fs syscall.Statfs_t
	if err := syscall.Statfs(shm, &fs); err == nil && fs.Type != tmpfsMagic {
		if got := Base(); got != os.TempDir() {
			t.Errorf("shm not a tmpfs: Base = %q, want %q", got, os.TempDir())
		}
	}
	shm = "/dev/shm"
	if err := syscall.Statfs(shm, &fs); err != nil || fs.Type != tmpfsMagic {
		t.Skipf("/dev/shm is not a tmpfs here (%v): the rest needs one", err)
	}
	if got := Base(); got != shm {
		t.Errorf("tmpfs with room: Base = %q, want %q", got, shm)
	}
	minShm = fs.Blocks*uint64(fs.Bsize) + 1 // more than it can ever have free
	if got := Base(); got != os.TempDir() {
		t.Errorf("tmpfs without room: Base = %q, want %q", got, os.TempDir())
	}
}
