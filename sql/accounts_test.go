package sql_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ems120/ems120/sql"
)

// A name is taken once; reseeding it gives the account the new role and password, enables it
// again and adds the token, under the same id.
func TestAddAccountAndReseed(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	a := sql.Account{Name: "demo-op", Role: "operator", PasswordHash: "h1", CreatedBy: "test"}
	id, err := st.AddAccount(ctx, a, []byte("token-1"), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddAccount(ctx, a, []byte("token-2"), false); !errors.Is(err, sql.ErrAccountExists) {
		t.Fatalf("the same name again: %v, want ErrAccountExists", err)
	}
	if err := st.DisableAccount(ctx, "demo-op"); err != nil {
		t.Fatal(err)
	}
	a.Role, a.PasswordHash = "analyst", "h2"
	id2, err := st.AddAccount(ctx, a, []byte("token-3"), true)
	if err != nil || id2 != id {
		t.Fatalf("reseed: id %d (was %d), %v", id2, id, err)
	}
	got, err := st.AccountByName(ctx, "demo-op")
	if err != nil || got.Role != "analyst" || got.PasswordHash != "h2" || got.Disabled {
		t.Fatalf("after reseed: %+v %v", got, err)
	}
	for _, tok := range []string{"token-1", "token-3"} {
		if h, err := st.AccountByToken(ctx, []byte(tok)); err != nil || h.ID != id {
			t.Errorf("%s: %+v %v", tok, h, err)
		}
	}
	if _, err := st.AddAccount(ctx, sql.Account{Name: "x", Role: "operator", PasswordHash: "h"}, []byte("t"), false); err == nil {
		t.Error("a one-letter name was stored")
	}
}
