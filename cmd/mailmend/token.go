package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/store"
)

type tokenOptions struct {
	app *app
	Ref string
}

func newTokenCmd(a *app) *cobra.Command {
	o := &tokenOptions{app: a}
	cmd := &cobra.Command{
		Use:   "token ACCOUNT",
		Short: "Print the account's password or a valid access token, for other mail programs",
		Long: `Print one line on standard output: the password of a password account, or a
valid OAuth access token of an OAuth account (refreshed when it is within 60
seconds of expiry, safely across processes). Meant for other mail programs:
mbsync's PassCmd, msmtp's passwordeval, aerc's and neomutt's password commands.

When the account's access is dead (revoked, expired, password changed), it
prints one line on standard error naming the cause and the 'mailmend reconnect'
command to run, and exits 4.`,
		Example: `  # ~/.mbsyncrc
  PassCmd "mailmend token you@gmail.com"
  # ~/.msmtprc
  passwordeval mailmend token you@gmail.com`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Ref = args[0]
			return runToken(cmd.Context(), o)
		},
	}
	return cmd
}

func runToken(ctx context.Context, o *tokenOptions) error {
	a, st, err := o.app.findAccount(ctx, o.Ref)
	if err != nil {
		return err
	}
	switch a.Auth {
	case account.OAuth2:
		tok, err := o.app.accessToken(ctx, st, a)
		if err != nil {
			return err
		}
		fmt.Fprintln(o.app.env.Out, tok)
		return nil
	default:
		sec, err := st.Secret(ctx, a.ID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && sec.Password == "") {
			return withCode(exitReconnect, fmt.Errorf("%s has no password stored; run: mailmend reconnect %s", a.Email, a.Email))
		}
		if err != nil {
			return storeErr(err)
		}
		fmt.Fprintln(o.app.env.Out, sec.Password)
		return nil
	}
}
