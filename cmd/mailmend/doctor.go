package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/cause"
	"github.com/mailmend/mailmend/core/doctor"
	"github.com/mailmend/mailmend/core/probe"
	"github.com/mailmend/mailmend/core/sanitize"
)

type doctorOptions struct {
	app     *app
	Refs    []string
	JSON    bool
	Timeout time.Duration
}

func newDoctorCmd(a *app) *cobra.Command {
	o := &doctorOptions{app: a}
	cmd := &cobra.Command{
		Use:   "doctor [ACCOUNT...]",
		Short: "Check accounts live and name the cause of any failure",
		Long: `Check accounts live: DNS, the TCP connection, TLS, the IMAP greeting,
capabilities, login and mailbox, the SMTP submission server and its login,
the OAuth token refresh, and your clock. Checks run side by side where they
can. A failure is named from the evidence (see 'mailmend explain').

Without ACCOUNT every account is checked. In a terminal the result is a
readable ladder; otherwise (or with --json) it is JSON. The result is also
recorded on the account, as 'mailmend list' shows.

A password the server refused is not sent again more than 3 times in 15
minutes, across all mailmend processes: providers lock accounts for less.

Exit 0 when every account is healthy, 1 when a problem was found.`,
		Example: `  mailmend doctor
  mailmend doctor you@gmail.com --timeout 20s
  mailmend doctor --json | jq '.accounts[] | {email, cause}'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Refs = args
			return runDoctor(cmd.Context(), o)
		},
	}
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print JSON (the default when standard output is not a terminal)")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 60*time.Second, "give up on an account after this long")
	return cmd
}

// doctorJSON is the stable `doctor --json` schema.
type doctorJSON struct {
	Accounts []doctorAccountJSON `json:"accounts"`
}

type doctorAccountJSON struct {
	ID         string         `json:"id"`
	Email      string         `json:"email"`
	Healthy    bool           `json:"healthy"`
	Cause      *cause.ID      `json:"cause"`
	Title      string         `json:"title,omitempty"`
	Candidates []cause.ID     `json:"candidates"`
	Retry      cause.Retry    `json:"retry,omitempty"`
	DurationMS int64          `json:"duration_ms"`
	Checks     []checkJSON    `json:"checks"`
	Evidence   []evidenceJSON `json:"evidence"`
	Warnings   []string       `json:"warnings"`
}

type checkJSON struct {
	Name       string `json:"name"`
	Status     string `json:"status"`
	DurationMS int64  `json:"duration_ms"`
	Detail     string `json:"detail"`
}

func reportJSON(r doctor.Report, warnings []doctor.Warning) doctorAccountJSON {
	j := doctorAccountJSON{
		ID: r.Account.ID, Email: r.Account.Email, Healthy: r.Healthy,
		Candidates: []cause.ID{}, DurationMS: r.Duration.Milliseconds(),
		Checks: []checkJSON{}, Evidence: []evidenceJSON{}, Warnings: []string{},
	}
	for _, w := range warnings {
		j.Warnings = append(j.Warnings, w.Message)
	}
	if !r.Healthy {
		c := r.Diagnosis.Cause
		j.Cause, j.Title, j.Retry = &c, r.Diagnosis.Title, r.Diagnosis.Retry
		j.Candidates = append(j.Candidates, r.Diagnosis.Candidates...)
		j.Evidence = evidenceOut(r.Diagnosis.Evidence)
	}
	for _, c := range r.Checks {
		j.Checks = append(j.Checks, checkJSON{Name: c.Name, Status: c.Status.String(), DurationMS: c.Duration.Milliseconds(), Detail: sanitize.Line(c.Detail)})
	}
	return j
}

func runDoctor(ctx context.Context, o *doctorOptions) error {
	if o.Timeout <= 0 {
		return usageErrorf("--timeout must be positive")
	}
	st, err := o.app.store()
	if err != nil {
		return storeErr(err)
	}
	var accts []account.Account
	if len(o.Refs) == 0 {
		if accts, err = st.List(ctx); err != nil {
			return storeErr(err)
		}
		if len(accts) == 0 {
			fmt.Fprintln(o.app.env.Err, "No accounts to check. Add one with: mailmend add --email you@example.com")
			return nil
		}
	}
	for _, ref := range o.Refs {
		a, _, err := o.app.findAccount(ctx, ref)
		if err != nil {
			return err
		}
		accts = append(accts, a)
	}
	doc, err := o.app.doctor()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	if o.app.env.StdoutTTY && !o.JSON {
		if len(accts) == 1 {
			fmt.Fprintf(o.app.env.Err, "Checking %s (up to %s) ...\n", sanitize.Line(accts[0].Email), o.Timeout)
		} else {
			fmt.Fprintf(o.app.env.Err, "Checking %d accounts (up to %s) ...\n", len(accts), o.Timeout)
		}
	}
	reports := doc.CheckAll(ctx, accts, 0, nil)
	if err := context.Cause(ctx); err != nil && ctx.Err() == context.Canceled {
		return err
	}
	for _, r := range reports {
		o.app.record(context.WithoutCancel(ctx), r)
	}
	if o.JSON || !o.app.env.StdoutTTY {
		out := doctorJSON{Accounts: make([]doctorAccountJSON, 0, len(reports))}
		for _, r := range reports {
			out.Accounts = append(out.Accounts, reportJSON(r, o.app.foresee(r.Account)))
		}
		if err := writeJSON(o.app.env.Out, out); err != nil {
			return err
		}
	} else {
		for i, r := range reports {
			if i > 0 {
				fmt.Fprintln(o.app.env.Out)
			}
			printLadder(o.app.env.Out, r, o.app.foresee(r.Account))
		}
	}
	for _, r := range reports {
		if !r.Healthy {
			return silentExit(exitProblem)
		}
	}
	return nil
}

// printLadder writes one account's checks and verdict for a terminal.
func printLadder(w io.Writer, r doctor.Report, warnings []doctor.Warning) {
	a := r.Account
	fmt.Fprintf(w, "%s  (%s, %s)  %s\n", sanitize.Line(a.Email), a.Provider, a.Auth, r.Duration.Round(time.Millisecond))
	for _, c := range r.Checks {
		dur := ""
		if c.Status != probe.Skip {
			dur = c.Duration.Round(time.Millisecond).String()
		}
		fmt.Fprintf(w, "  %-4s  %-16s %8s  %s\n", statusWord(c.Status), c.Name, dur, sanitize.Truncate(sanitize.Line(c.Detail), 100))
	}
	for _, wn := range warnings {
		fmt.Fprintf(w, "  Warning: %s\n", wn.Message)
	}
	if r.Healthy {
		fmt.Fprintln(w, "  Healthy.")
		return
	}
	d := r.Diagnosis
	fmt.Fprintf(w, "  Cause: %s (%s)\n", d.Title, d.Cause)
	if len(d.Candidates) > 0 {
		ids := make([]string, len(d.Candidates))
		for i, c := range d.Candidates {
			ids[i] = string(c)
		}
		fmt.Fprintf(w, "  Also possible: %s\n", strings.Join(ids, ", "))
	}
	for _, e := range evidenceOut(d.Evidence) {
		fmt.Fprintf(w, "  Evidence: %s %s %s\n", e.Kind, e.Code, sanitize.Truncate(sanitize.Line(e.Text), 160))
	}
	switch cause.Info(d.Cause).Action {
	case cause.ActionReconnect, cause.ActionSettings:
		fmt.Fprintf(w, "  Fix: mailmend reconnect %s\n", sanitize.Line(a.Email))
	case cause.ActionWait:
		fmt.Fprintln(w, "  This usually passes by itself; check again in a few minutes.")
	default:
		fmt.Fprintf(w, "  Not recognised. For a support ticket: mailmend report %s\n", a.Email)
	}
}

func statusWord(s probe.Status) string {
	switch s {
	case probe.OK:
		return "ok"
	case probe.Warn:
		return "warn"
	case probe.Fail:
		return "FAIL"
	default:
		return "skip"
	}
}

// doctor builds the doctor over the configured store and catalog.
func (a *app) doctor() (*doctor.Doctor, error) {
	st, err := a.store()
	if err != nil {
		return nil, storeErr(err)
	}
	deps := doctor.Deps{Store: st, Catalog: a.catalog, Now: a.env.Now, Guard: a.loginGuard()}
	if a.doctorDeps != nil {
		a.doctorDeps(&deps)
	}
	return doctor.New(deps), nil
}

// record saves a report's verdict on the account (status, cause, last good
// login). A failure to record is reported but does not change the verdict.
func (a *app) record(ctx context.Context, r doctor.Report) {
	st, err := a.store()
	if err != nil {
		return
	}
	_, err = st.Update(ctx, r.Account.ID, func(acct *account.Account) error {
		doctor.Apply(acct, r)
		return nil
	})
	if err != nil {
		fmt.Fprintf(a.env.Err, "mailmend: could not record the result for %s: %v\n", sanitize.Line(r.Account.Email), err)
	}
}
