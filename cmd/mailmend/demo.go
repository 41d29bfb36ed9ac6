package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailmend/mailmend/core/demo"
	"github.com/mailmend/mailmend/core/doctor"
	"github.com/mailmend/mailmend/core/guard"
	"github.com/mailmend/mailmend/core/sandbox"
	"github.com/mailmend/mailmend/core/store"
	"github.com/mailmend/mailmend/tui"
)

func newDemoCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Try mailmend on a built-in sandbox of broken accounts",
		Long: `Open the account list over a built-in sandbox: fake Google- and
Microsoft-like mail and sign-in servers on this machine (loopback only), and
accounts each broken in a different way (app password required, wrong
password, revoked access, password changed, app in testing, clock skew, wrong
settings, redirect URI mismatch, provider down, ...). Every repair can be
completed for real: app passwords are checked by the sandbox's IMAP server,
and the sandbox's consent page opens in your browser, or approves by itself
when no browser can open.

Your own keyring, accounts and config are not touched.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDemo(cmd.Context(), a)
		},
	}
}

func runDemo(ctx context.Context, a *app) error {
	if err := needTerminal(a, "mailmend demo"); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "mailmend-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// Outages and rate limits in the demo end by themselves, as real ones do.
	d, err := demo.Start(ctx, demo.Options{LockDir: tmp, Sandbox: &sandbox.Options{TransientFor: 45 * time.Second}})
	if err != nil {
		return fmt.Errorf("starting the sandbox: %w", err)
	}
	defer d.Close()
	deps := d.DoctorDeps()
	deps.Guard = guard.New(tmp, nil)
	doc := doctor.New(deps)
	a.catalog = d.Catalog
	a.openStore = func() (*store.Store, error) { return d.Store, nil }
	t := &tuiDeps{app: a, st: d.Store, doc: doc, cat: d.Catalog}
	t.wizards = a.newDemoWizards(d, deps)
	err = tui.Run(ctx, t, tui.Options{Title: "mailmend demo"})
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
