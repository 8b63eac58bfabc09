// Package access is who may do what: the roles, what each may do, the hashing of passwords
// (argon2id) and of the random secrets behind API tokens and sessions, and the throttling of
// sign-ins. It does no I/O; the accounts live in the sql package and the rules are applied by
// the HTTP layer.
package access

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Role is an account's role.
type Role string

const (
	Operator   Role = "operator"   // calls and units: place, accept, override, acknowledge, cancel, close
	Supervisor Role = "supervisor" // what an operator may, plus accounts and the audit log
	Reporter   Role = "reporter"   // capacity reports for their own hospital, and reading it
	Analyst    Role = "analyst"    // read-only: KPIs, coverage, records
)

// Roles lists every role.
var Roles = []Role{Operator, Supervisor, Reporter, Analyst}

// ParseRole returns the role named s, or an error naming the roles there are.
func ParseRole(s string) (Role, error) {
	if r := Role(strings.ToLower(strings.TrimSpace(s))); slices.Contains(Roles, r) {
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q: want one of operator, supervisor, reporter, analyst", s)
}

// Permission is what a route needs.
type Permission string

const (
	// Dispatch is placing calls and commanding them: accept, override, acknowledge, destination,
	// cancel, close; and the recommendations behind those commands.
	Dispatch Permission = "dispatch"
	// Read is the live picture and the record: calls, units, the queue, coverage, KPIs, exports,
	// the live feed.
	Read Permission = "read"
	// Hospitals is reading hospitals' capacity; a reporter reads only their own hospital.
	Hospitals Permission = "hospitals"
	// Report is sending a capacity report; a reporter only for their own hospital.
	Report Permission = "report"
	// Accounts is managing accounts and reading the audit log.
	Accounts Permission = "accounts"
	// SignedIn is anything every account may do: who am I, sign out, the city's map.
	SignedIn Permission = "signed-in"
	// Surge is switching surge mode on and off.
	Surge Permission = "surge"
)

// grants is what each role may do.
var grants = map[Role][]Permission{
	Operator:   {Dispatch, Read, Hospitals, SignedIn},
	Supervisor: {Dispatch, Read, Hospitals, Accounts, Surge, SignedIn},
	Reporter:   {Report, Hospitals, SignedIn},
	Analyst:    {Read, Hospitals, SignedIn},
}

// Allows says whether role r may do what p covers.
func (r Role) Allows(p Permission) bool { return slices.Contains(grants[r], p) }

// Permissions lists what r may do.
func (r Role) Permissions() []Permission { return slices.Clone(grants[r]) }

// HospitalScoped says whether r acts for one hospital only.
func (r Role) HospitalScoped() bool { return r == Reporter }

// Identity is who made a request, once their credentials are checked.
type Identity struct {
	AccountID  int64
	Name       string
	Role       Role
	HospitalID string    // for a reporter: the one hospital they speak for
	Via        string    // "session" or "token"
	CSRF       string    // for a session: the token its state-changing requests must echo
	Expires    time.Time // for a session: when it ends; zero for a token
}

// MayActFor says whether the identity may act for hospital id: any hospital for a role that
// is not scoped to one, only its own for a reporter.
func (id Identity) MayActFor(hospitalID string) bool {
	return !id.Role.HospitalScoped() || id.HospitalID == hospitalID
}
