package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/cause"
	"github.com/mailmend/mailmend/core/provider"
	"github.com/mailmend/mailmend/core/sanitize"
	"github.com/mailmend/mailmend/core/wizard"
)

type reconnectOptions struct {
	app           *app
	Ref           string
	PasswordStdin bool
	NoBrowser     bool
	Device        bool
	Timeout       time.Duration
}

func newReconnectCmd(a *app) *cobra.Command {
	o := &reconnectOptions{app: a}
	cmd := &cobra.Command{
		Use:   "reconnect ACCOUNT",
		Short: "Repair an account: diagnose it, then walk through the fix",
		Long: `Check the account live, name the cause, and walk through its fix right here:
a new password or app password (typed hidden, or piped with --password-stdin),
a new sign-in in the browser (PKCE, answered on a loopback address), new
OAuth client credentials, known-good server settings, or waiting out an
outage. Every fix ends with the same live test; a new credential replaces
the old one only after that test passed, and the account keeps its id.

Over SSH the sign-in address is printed with the 'ssh -L' command that
brings the browser's answer back, and you may paste the address the browser
ended on instead. --device uses the device-code sign-in where the provider
has one (Microsoft; never Google, which refuses mail access that way).

Exit 0 when the account works again, 4 when it still needs you, 5 when the
provider is still down.`,
		Example: `  mailmend reconnect you@gmail.com
  pass show mail/app-password | mailmend reconnect you@gmail.com --password-stdin
  mailmend reconnect you@outlook.com --device`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Ref = args[0]
			return runReconnect(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.PasswordStdin, "password-stdin", false, "read the new password from standard input")
	f.BoolVar(&o.NoBrowser, "no-browser", false, "do not open a browser; print the sign-in address to copy")
	f.BoolVar(&o.Device, "device", false, "sign in with a device code where the provider has one")
	f.DurationVar(&o.Timeout, "timeout", 10*time.Minute, "give up after this long")
	return cmd
}

func runReconnect(ctx context.Context, o *reconnectOptions) error {
	env := o.app.env
	fmt.Fprintf(env.Err, "Checking %s ...\n", sanitize.Line(o.Ref))
	c, err := o.app.checkAccount(ctx, o.Ref, 60*time.Second)
	if err != nil {
		return err
	}
	a, st, doc, rep := c.acct, c.st, c.doc, c.rep
	id := wizard.Reconnect
	if rep.Healthy {
		fmt.Fprintln(env.Err, "The account works; replacing its credential anyway.")
	} else {
		id = rep.Diagnosis.Cause
		fmt.Fprintf(env.Err, "Cause: %s (%s)\n", rep.Diagnosis.Title, id)
	}
	ws := o.app.wizardSetup(st, doc, o.NoBrowser, o.Device)
	wenv, err := ws.env(a, rep.Diagnosis)
	if err != nil {
		return err
	}
	wenv.ClockOffset, wenv.ClockMeasured = rep.ClockOffset, rep.ClockMeasured
	w, err := wizard.For(id, wenv)
	if err != nil {
		return err
	}
	return o.app.runWizard(ctx, w, o.PasswordStdin, o.Timeout)
}

// runWizard drives a wizard in line mode and maps its outcome to an exit
// code.
func (a *app) runWizard(ctx context.Context, w *wizard.Wizard, passwordStdin bool, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	env := a.env
	var readSecret func(string) (string, error)
	var in io.Reader = env.In
	switch {
	case passwordStdin:
		b, err := io.ReadAll(io.LimitReader(env.In, 64<<10))
		if err != nil {
			return fmt.Errorf("reading standard input: %w", err)
		}
		pw := strings.TrimRight(string(b), "\r\n")
		used := false
		readSecret = func(prompt string) (string, error) {
			if used {
				return "", errors.New("the password from standard input was not accepted")
			}
			used = true
			return pw, nil
		}
		in = strings.NewReader("")
	case env.StdinTTY:
		readSecret = env.ReadSecret
	}
	err := wizard.RunLines(ctx, w, in, env.Err, readSecret)
	switch {
	case err == nil:
		if saved, ok := w.Account(); ok {
			fmt.Fprintf(env.Err, "%s works again (id %s).\n", sanitize.Line(saved.Email), saved.ID)
		}
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		return withCode(exitReconnect, errors.New("gave up waiting; nothing was changed"))
	case errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, wizard.ErrInputClosed):
		return withCode(exitReconnect, errors.New("the input ended before the repair was done; nothing was changed"))
	case errors.Is(err, wizard.ErrNotRepaired):
		if done, ok := w.Outcome(); ok && done.Next != "" {
			if cause.Info(done.Next).Action == cause.ActionWait {
				return silentExit(exitTransient)
			}
		}
		return silentExit(exitReconnect)
	}
	return err
}

// addOAuth runs the consent for a new OAuth account and saves it once a
// live login with the new token passed.
func runAddOAuth(ctx context.Context, o *addOptions, p provider.Provider, a account.Account) error {
	st, err := o.app.store()
	if err != nil {
		return storeErr(err)
	}
	if _, err := st.List(ctx); err != nil {
		return storeErr(err)
	}
	if existing, err := st.Find(ctx, a.Email); err == nil {
		// Adding an address that is there updates it in place: a new
		// consent for the same account id.
		a.ID = existing.ID
	}
	doc, err := o.app.doctor()
	if err != nil {
		return err
	}
	ws := o.app.wizardSetup(st, doc, o.NoBrowser, false)
	env, err := ws.env(a, cause.Diagnosis{})
	if err != nil {
		return err
	}
	w, err := wizard.For(wizard.Reconnect, env)
	if err != nil {
		return err
	}
	return o.app.runWizard(ctx, w, false, 10*time.Minute)
}
