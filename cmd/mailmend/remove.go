package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/sanitize"
	"github.com/mailmend/mailmend/core/store"
)

type removeOptions struct {
	app *app
	Ref string
	Yes bool
}

func newRemoveCmd(a *app) *cobra.Command {
	o := &removeOptions{app: a}
	cmd := &cobra.Command{
		Use:   "remove ACCOUNT",
		Short: "Remove an account and its secret from the credential store",
		Long: `Remove an account (by id or address) and its password or token from the
credential store. In a terminal mailmend asks first; --yes skips the question.
Nothing is changed at the provider: to withdraw an OAuth grant, also remove
the app's access in your account's security settings.`,
		Example: `  mailmend remove you@gmail.com
  mailmend remove k3j9x2m4qa --yes`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Ref = args[0]
			return runRemove(cmd.Context(), o)
		},
	}
	cmd.Flags().BoolVarP(&o.Yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func runRemove(ctx context.Context, o *removeOptions) error {
	a, st, err := o.app.findAccount(ctx, o.Ref)
	if err != nil {
		return err
	}
	if !o.Yes && o.app.env.StdinTTY {
		ans, err := o.app.env.ReadLine(fmt.Sprintf("Remove %s and its secret? [y/N] ", sanitize.Line(a.Email)))
		if err != nil {
			return err
		}
		if s := strings.ToLower(strings.TrimSpace(ans)); s != "y" && s != "yes" {
			fmt.Fprintln(o.app.env.Err, "Nothing removed.")
			return silentExit(exitProblem)
		}
	}
	if err := st.Remove(ctx, a.ID); err != nil {
		return storeErr(err)
	}
	fmt.Fprintf(o.app.env.Err, "Removed %s (id %s).\n", sanitize.Line(a.Email), a.ID)
	return nil
}

// findAccount opens the store and looks ACCOUNT up by id or address.
func (ap *app) findAccount(ctx context.Context, ref string) (account.Account, *store.Store, error) {
	st, err := ap.store()
	if err != nil {
		return account.Account{}, nil, storeErr(err)
	}
	a, err := st.Find(ctx, ref)
	if errors.Is(err, store.ErrNotFound) {
		return account.Account{}, nil, withCode(exitUsage, fmt.Errorf("no account %q (see 'mailmend list')", sanitize.Line(ref)))
	}
	if err != nil {
		return account.Account{}, nil, storeErr(err)
	}
	return a, st, nil
}
