package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/doctor"
	"github.com/mailmend/mailmend/core/sanitize"
)

type listOptions struct {
	app  *app
	JSON bool
}

func newListCmd(a *app) *cobra.Command {
	o := &listOptions{app: a}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the accounts and their health",
		Long: `List the accounts in the credential store with their provider, sign-in
method and health as last checked. The list is read from the store's index:
no secret is read and no server is contacted (use 'mailmend doctor' for a live
check).`,
		Example: `  mailmend list
  mailmend list --json | jq -r '.accounts[] | select(.status != "healthy") | .email'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runList(cmd.Context(), o)
		},
	}
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print JSON (schema in the README)")
	return cmd
}

// listJSON is the stable `list --json` schema.
type listJSON struct {
	Accounts []listAccountJSON `json:"accounts"`
}

type listAccountJSON struct {
	ID          string     `json:"id"`
	Email       string     `json:"email"`
	Provider    string     `json:"provider"`
	Auth        string     `json:"auth"`
	Status      string     `json:"status"`
	Cause       *string    `json:"cause"`
	ConsentedAt *time.Time `json:"consented_at"`
	LastOK      *time.Time `json:"last_ok"`
	IMAP        string     `json:"imap"`
	SMTP        string     `json:"smtp"`
	// Warnings say when a grant is about to end (Google client in Testing,
	// disuse), before it does.
	Warnings []string `json:"warnings"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func runList(ctx context.Context, o *listOptions) error {
	st, err := o.app.store()
	if err != nil {
		return storeErr(err)
	}
	accts, err := st.List(ctx)
	if err != nil {
		return storeErr(err)
	}
	if o.JSON {
		out := listJSON{Accounts: make([]listAccountJSON, 0, len(accts))}
		for _, a := range accts {
			j := listAccountJSON{
				ID: a.ID, Email: a.Email, Provider: a.Provider, Auth: string(a.Auth),
				Status: string(statusOf(a)), ConsentedAt: timePtr(a.ConsentedAt), LastOK: timePtr(a.LastOK),
				IMAP: a.IMAP.Addr(), SMTP: a.SMTP.Addr(), Warnings: []string{},
			}
			for _, w := range o.app.foresee(a) {
				j.Warnings = append(j.Warnings, w.Message)
			}
			if a.Cause != "" {
				c := a.Cause
				j.Cause = &c
			}
			out.Accounts = append(out.Accounts, j)
		}
		return writeJSON(o.app.env.Out, out)
	}
	if len(accts) == 0 {
		fmt.Fprintln(o.app.env.Err, "No accounts yet. Add one with: mailmend add --email you@example.com")
		return nil
	}
	now := o.app.env.Now()
	tw := tabwriter.NewWriter(o.app.env.Out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EMAIL\tPROVIDER\tAUTH\tSTATUS\tLAST OK\tID")
	for _, a := range accts {
		status := string(statusOf(a))
		if a.Cause != "" && statusOf(a) != account.Healthy {
			status += " (" + a.Cause + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n",
			sanitize.Line(a.Email), a.Provider, a.Auth, status, ago(now, a.LastOK), a.ID)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, a := range accts {
		for _, w := range o.app.foresee(a) {
			fmt.Fprintf(o.app.env.Out, "warning: %s: %s\n", sanitize.Line(a.Email), w.Message)
		}
	}
	return nil
}

// foresee returns the coming-end warnings of an account.
func (a *app) foresee(acct account.Account) []doctor.Warning {
	return doctor.Foresee(acct, a.inTesting(acct), a.env.Now())
}

// inTesting reports whether the account's OAuth client is marked as in
// "Testing" in the provider catalog (in_testing = true).
func (a *app) inTesting(acct account.Account) bool {
	p, ok := a.catalog.Get(acct.Provider)
	return ok && p.OAuth2 != nil && p.OAuth2.InTesting
}

// statusOf normalises a missing status to unchecked.
func statusOf(a account.Account) account.Status {
	if a.Status == "" {
		return account.Unchecked
	}
	return a.Status
}

// ago formats how long ago t was, coarsely ("3 days ago"); "never" for zero.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	default:
		return plural(int(d/(24*time.Hour)), "day") + " ago"
	}
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// writeJSON prints v as indented JSON with a trailing newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
