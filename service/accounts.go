package service

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ems120/ems120/access"
	"github.com/ems120/ems120/sql"
)

// Credentials are a new account's secrets, shown once: the password for the console and an API
// token for machine clients. Only their hashes are stored.
type Credentials struct {
	Name       string `json:"name"`
	Role       string `json:"role"`
	HospitalID string `json:"hospital_id"`
	Password   string `json:"password"`
	Token      string `json:"token"`
}

// API tokens start with this, so that a leaked one is recognisable (secret scanners).
const tokenPrefix = "ems_"

// AddAccount creates an account with a generated password and API token, and returns them.
// createdBy names who made it (an account, or "cli"). With reseed, an account of that name
// is given the new role, password and token instead (the demo's accounts).
func AddAccount(ctx context.Context, store *sql.Store, name, role, hospitalID, createdBy string, reseed bool) (Credentials, error) {
	r, err := access.ParseRole(role)
	if err != nil {
		return Credentials{}, err
	}
	if r == access.Reporter && hospitalID == "" {
		return Credentials{}, errors.New("a reporter needs the hospital they report for (-hospital ID)")
	}
	if r != access.Reporter && hospitalID != "" {
		return Credentials{}, errors.New("only a reporter has a hospital")
	}
	c := Credentials{Name: strings.ToLower(strings.TrimSpace(name)), Role: string(r), HospitalID: hospitalID,
		Password: access.NewPassword(), Token: access.NewSecret(tokenPrefix)}
	hash, err := access.HashPassword(c.Password)
	if err != nil {
		return Credentials{}, err
	}
	a := sql.Account{Name: c.Name, Role: c.Role, HospitalID: c.HospitalID, PasswordHash: hash, CreatedBy: createdBy}
	if _, err := store.AddAccount(ctx, a, access.SecretHash(c.Token), reseed); err != nil {
		return Credentials{}, err
	}
	return c, nil
}

// AddAccount creates (with reseed, renews) an account in the service's database, as the
// package-level AddAccount does.
func (s *Service) AddAccount(ctx context.Context, name, role, hospitalID, createdBy string, reseed bool) (Credentials, error) {
	return AddAccount(ctx, s.store, name, role, hospitalID, createdBy, reseed)
}

// accountView is an account in GET /v1/accounts.
type accountView struct {
	Name       string    `json:"name"`
	Role       string    `json:"role"`
	HospitalID string    `json:"hospital_id,omitempty"`
	Disabled   bool      `json:"disabled"`
	CreatedAt  time.Time `json:"created_at"`
	CreatedBy  string    `json:"created_by"`
}

func (s *Service) getAccounts(w http.ResponseWriter, r *http.Request) {
	as, err := s.store.Accounts(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, "", err.Error())
		return
	}
	out := make([]accountView, len(as))
	for i, a := range as {
		out[i] = accountView{Name: a.Name, Role: a.Role, HospitalID: a.HospitalID, Disabled: a.Disabled, CreatedAt: a.CreatedAt, CreatedBy: a.CreatedBy}
	}
	writeJSON(w, http.StatusOK, map[string]any{"accounts": out, "count": len(out)})
}

// postAccount is POST /v1/accounts {"name", "role", "hospital_id"}: 201 with the account's
// password and API token, shown this once.
func (s *Service) postAccount(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name       string `json:"name"`
		Role       string `json:"role"`
		HospitalID string `json:"hospital_id"`
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 4096))
	if err == nil {
		err = json.Unmarshal(raw, &body)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "", `want a JSON body {"name": "...", "role": "...", "hospital_id": "..."}`)
		return
	}
	c, err := AddAccount(r.Context(), s.store, body.Name, body.Role, body.HospitalID, identityOf(r).Name, false)
	switch {
	case errors.Is(err, sql.ErrAccountExists):
		writeError(w, http.StatusConflict, "name", err.Error())
	case err != nil:
		writeError(w, http.StatusBadRequest, "", err.Error())
	default:
		writeJSON(w, http.StatusCreated, c)
	}
}

// disableAccount is POST /v1/accounts/{name}/disable: the account's sessions end and its
// tokens stop working (on other processes within identityCacheFor).
func (s *Service) disableAccount(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	err := s.store.DisableAccount(r.Context(), name)
	switch {
	case errors.Is(err, sql.ErrNotFound):
		writeError(w, http.StatusNotFound, "name", "no account "+name)
	case err != nil:
		writeError(w, http.StatusInternalServerError, "", err.Error())
	default:
		s.auth.forgetAccount(name)
		writeJSON(w, http.StatusOK, map[string]any{"name": name, "disabled": true})
	}
}
