package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/ems120/ems120/access"
	"github.com/ems120/ems120/internal/testenv"
	"github.com/ems120/ems120/sql"
)

// The first supervisor of a new installation: user add on an empty database prints a password
// and a token that work (their hashes are what is stored), list shows the account, disable
// turns it off; bad input names what is wrong.
func TestUserCommands(t *testing.T) {
	dsn := testenv.Postgres(t)
	ctx := context.Background()
	env := func(string) string { return "" }
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"user", "add", "-db", dsn, "-name", "chief", "-role", "supervisor"}, env, &out, &errOut); err != nil {
		t.Fatalf("user add: %v", err)
	}
	pw := regexp.MustCompile(`password:\s+(\S+)`).FindStringSubmatch(out.String())
	tok := regexp.MustCompile(`token:\s+(ems_\S+)`).FindStringSubmatch(out.String())
	if pw == nil || tok == nil {
		t.Fatalf("user add printed %q, want a password and a token", out.String())
	}
	st, err := sql.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a, err := st.AccountByName(ctx, "chief")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := access.VerifyPassword(a.PasswordHash, pw[1]); !ok || strings.Contains(a.PasswordHash, pw[1]) {
		t.Fatalf("the stored hash %q does not verify the printed password", a.PasswordHash)
	}
	if h, err := st.AccountByToken(ctx, access.SecretHash(tok[1])); err != nil || h.Name != "chief" || h.Role != "supervisor" {
		t.Fatalf("the printed token: %+v %v", h, err)
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"-name", "chief", "-role", "operator"}, "exists"},
		{[]string{"-name", "x", "-role", "operator"}, "name"},
		{[]string{"-name", "rep", "-role", "reporter"}, "needs the hospital"},
		{[]string{"-name", "rep", "-role", "reporter", "-hospital", "H-nowhere"}, "no hospital"},
		{[]string{"-name", "boss", "-role", "admin"}, "unknown role"},
	} {
		err := run(ctx, append([]string{"user", "add", "-db", dsn}, bad.args...), env, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("user add %v: %v, want an error saying %q", bad.args, err, bad.want)
		}
	}
	out.Reset()
	if err := run(ctx, []string{"user", "disable", "-db", dsn, "-name", "chief"}, env, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AccountByToken(ctx, access.SecretHash(tok[1])); err == nil {
		t.Fatal("a disabled account's token still finds it")
	}
	out.Reset()
	if err := run(ctx, []string{"user", "list", "-db", dsn}, env, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`chief\s+supervisor\s+disabled`).MatchString(out.String()) {
		t.Fatalf("user list:\n%s", out.String())
	}
	if err := run(ctx, []string{"user", "disable", "-db", dsn, "-name", "ghost"}, env, &out, &errOut); err == nil {
		t.Fatal("disabling an unknown account gave no error")
	}
}
