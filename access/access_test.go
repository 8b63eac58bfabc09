package access

import (
	"strings"
	"testing"
	"time"
)

func TestPasswordHashVerifies(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not an argon2id PHC string with the set parameters", h)
	}
	if ok, err := VerifyPassword(h, "correct horse battery"); !ok || err != nil {
		t.Fatalf("the right password: ok=%v err=%v", ok, err)
	}
	if ok, _ := VerifyPassword(h, "correct horse batterY"); ok {
		t.Fatal("a wrong password verified")
	}
	h2, _ := HashPassword("correct horse battery")
	if h2 == h {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	if _, err := HashPassword("short"); err == nil {
		t.Fatal("a 5-character password was accepted")
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=x$AA$AA"} {
		if _, err := VerifyPassword(bad, "x"); err == nil {
			t.Errorf("VerifyPassword(%q) gave no error", bad)
		}
	}
}

func TestSecretsAreRandomAndHashed(t *testing.T) {
	a, b := NewSecret("ems_"), NewSecret("ems_")
	if a == b || !strings.HasPrefix(a, "ems_") || len(a) < 40 {
		t.Fatalf("secrets %q, %q", a, b)
	}
	if string(SecretHash(a)) == string(SecretHash(b)) || len(SecretHash(a)) != 32 {
		t.Fatal("secret hashes collide or are not SHA-256")
	}
	if p := NewPassword(); len(p) < MinPasswordLen {
		t.Fatalf("generated password %q is shorter than the minimum", p)
	}
}

func TestRoleGrants(t *testing.T) {
	want := map[Role][]Permission{
		Operator:   {Dispatch, Read, Hospitals, SignedIn},
		Supervisor: {Dispatch, Read, Hospitals, Accounts, Surge, SignedIn},
		Reporter:   {Report, Hospitals, SignedIn},
		Analyst:    {Read, Hospitals, SignedIn},
	}
	all := []Permission{Dispatch, Read, Hospitals, Report, Accounts, Surge, SignedIn}
	for _, r := range Roles {
		for _, p := range all {
			expect := false
			for _, q := range want[r] {
				expect = expect || q == p
			}
			if r.Allows(p) != expect {
				t.Errorf("%s allows %s = %v, want %v", r, p, r.Allows(p), expect)
			}
		}
	}
	rep := Identity{Role: Reporter, HospitalID: "H1"}
	if !rep.MayActFor("H1") || rep.MayActFor("H2") {
		t.Error("a reporter may act for their hospital only")
	}
	if !(Identity{Role: Supervisor}).MayActFor("H2") {
		t.Error("a supervisor is not scoped to a hospital")
	}
	if _, err := ParseRole("admin"); err == nil {
		t.Error("ParseRole(admin) gave no error")
	}
}

func TestThrottleLocksANameAndAnAddress(t *testing.T) {
	th := &Throttle{MaxPerName: 3, MaxPerAddress: 5, Window: time.Minute, Lockout: 10 * time.Minute}
	t0 := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	for i := range 2 {
		if l := th.Fail("Alice", "10.0.0.1", t0.Add(time.Duration(i)*time.Second)); l != nil {
			t.Fatalf("failure %d locked: %v", i+1, l)
		}
	}
	if l := th.Fail("alice ", "10.0.0.1", t0.Add(3*time.Second)); l == nil || l.What != "name" {
		t.Fatalf("the third failure for a name (case and spaces aside) did not lock it: %v", l)
	}
	if l := th.Check("ALICE", "10.0.0.9", t0.Add(9*time.Minute)); l == nil {
		t.Fatal("the name is not locked from another address")
	}
	if l := th.Check("alice", "10.0.0.9", t0.Add(11*time.Minute)); l != nil {
		t.Fatalf("the lock outlived its 10 minutes: %v", l)
	}
	// Different names from one address: the address locks at 5.
	for i := range 2 {
		th.Fail("bob"+string(rune('a'+i)), "10.0.0.1", t0.Add(20*time.Second))
	}
	if l := th.Check("carol", "10.0.0.1", t0.Add(21*time.Second)); l == nil || l.What != "address" {
		t.Fatalf("5 failures from one address did not lock it: %v", l)
	}
	// Failures spread beyond the window do not add up; a success clears the name.
	th2 := &Throttle{MaxPerName: 2, MaxPerAddress: 100, Window: time.Minute, Lockout: time.Minute}
	th2.Fail("dan", "a", t0)
	if l := th2.Fail("dan", "a", t0.Add(2*time.Minute)); l != nil {
		t.Fatalf("failures two minutes apart locked a 1-minute window: %v", l)
	}
	th2.Succeed("dan")
	if l := th2.Fail("dan", "a", t0.Add(2*time.Minute+time.Second)); l != nil {
		t.Fatalf("a success did not clear the name's failures: %v", l)
	}
}
