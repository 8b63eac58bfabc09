package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ems120/ems120/access"
	"github.com/ems120/ems120/city"
	"github.com/ems120/ems120/internal/tmpdir"
	"github.com/ems120/ems120/service"
)

// seedAccounts gives the demo one account per role, named after it, with fresh secrets (a
// name already in a kept database gets them too): the reporter reports for the city's first
// hospital. The credentials go to path as a JSON list, readable by its owner only; with no
// path, to a file in a temporary directory that is removed when the demo stops. It returns
// the file and a function that removes what it made.
func seedAccounts(ctx context.Context, svc *service.Service, path string, c *city.City) (string, func(), error) {
	creds := make([]service.Credentials, 0, len(access.Roles))
	for _, r := range access.Roles {
		hospital := ""
		if r == access.Reporter && len(c.Hospitals) > 0 {
			hospital = c.Hospitals[0].ID
		}
		cr, err := svc.AddAccount(ctx, string(r), string(r), hospital, "demo", true)
		if err != nil {
			return "", nil, fmt.Errorf("demo account %s: %w", r, err)
		}
		creds = append(creds, cr)
	}
	cleanup := func() {}
	if path == "" {
		dir, err := tmpdir.Make("ems120-demo-")
		if err != nil {
			return "", nil, err
		}
		path, cleanup = filepath.Join(dir, "credentials.json"), func() { os.RemoveAll(dir) }
	}
	b, _ := json.MarshalIndent(creds, "", "  ")
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("-credentials %s: %w", path, err)
	}
	return path, cleanup, nil
}
