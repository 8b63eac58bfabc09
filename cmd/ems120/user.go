package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/ems120/ems120/service"
	"github.com/ems120/ems120/sql"
)

// userStore applies the migrations to dsn (a new installation has no accounts table yet) and
// opens it.
func userStore(ctx context.Context, cmd, dsn string) (*sql.Store, error) {
	if dsn == "" {
		return nil, fmt.Errorf("%s needs -db (or DATABASE_URL)", cmd)
	}
	if _, err := sql.Migrate(ctx, dsn); err != nil {
		return nil, err
	}
	return sql.Open(ctx, dsn)
}

func userAddCmd(f *flags) func(context.Context) error {
	var dsn string
	f.db(&dsn, true, "PostgreSQL DSN (env DATABASE_URL)")
	name := f.String("name", "", "the account's name: 2 to 63 lower-case letters, digits, '.', '_' or '-'")
	role := f.String("role", "", "operator, supervisor, reporter or analyst")
	hospital := f.String("hospital", "", "for a reporter: the id of the hospital they report for")
	return func(ctx context.Context) error {
		if *name == "" || *role == "" {
			return errors.New("user add needs -name and -role")
		}
		st, err := userStore(ctx, "user add", dsn)
		if err != nil {
			return err
		}
		defer st.Close()
		c, err := service.AddAccount(ctx, st, *name, *role, *hospital, "cli", false)
		if err != nil {
			return fmt.Errorf("user add: %w", err)
		}
		fmt.Fprintf(f.stdout, "account %s (%s", c.Name, c.Role)
		if c.HospitalID != "" {
			fmt.Fprintf(f.stdout, " for hospital %s", c.HospitalID)
		}
		fmt.Fprintf(f.stdout, ") added. Its secrets are shown this once; only their hashes are stored.\n"+
			"password:  %s\ntoken:     %s\n", c.Password, c.Token)
		return nil
	}
}

func userDisableCmd(f *flags) func(context.Context) error {
	var dsn string
	f.db(&dsn, true, "PostgreSQL DSN (env DATABASE_URL)")
	name := f.String("name", "", "the account to disable")
	return func(ctx context.Context) error {
		if *name == "" {
			return errors.New("user disable needs -name")
		}
		st, err := userStore(ctx, "user disable", dsn)
		if err != nil {
			return err
		}
		defer st.Close()
		if err := st.DisableAccount(ctx, *name); errors.Is(err, sql.ErrNotFound) {
			return fmt.Errorf("user disable: no account %q", *name)
		} else if err != nil {
			return fmt.Errorf("user disable: %w", err)
		}
		fmt.Fprintf(f.stdout, "account %s disabled: its sessions are ended and its API tokens refused\n", *name)
		return nil
	}
}

func userListCmd(f *flags) func(context.Context) error {
	var dsn string
	f.db(&dsn, true, "PostgreSQL DSN (env DATABASE_URL)")
	return func(ctx context.Context) error {
		st, err := userStore(ctx, "user list", dsn)
		if err != nil {
			return err
		}
		defer st.Close()
		as, err := st.Accounts(ctx)
		if err != nil {
			return fmt.Errorf("user list: %w", err)
		}
		tw := tabwriter.NewWriter(f.stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tHOSPITAL\tSTATE\tCREATED\tBY")
		for _, a := range as {
			state := "enabled"
			if a.Disabled {
				state = "disabled"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.Name, a.Role, a.HospitalID, state, a.CreatedAt.UTC().Format("2006-01-02 15:04"), a.CreatedBy)
		}
		return tw.Flush()
	}
}
