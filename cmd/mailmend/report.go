package main

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/cause"
	"github.com/mailmend/mailmend/core/doctor"
	"github.com/mailmend/mailmend/core/sanitize"
	"github.com/mailmend/mailmend/core/store"
)

type reportOptions struct {
	app     *app
	Ref     string
	Timeout time.Duration
}

func newReportCmd(a *app) *cobra.Command {
	o := &reportOptions{app: a}
	cmd := &cobra.Command{
		Use:   "report ACCOUNT",
		Short: "Print a redacted diagnosis to paste into a support ticket",
		Long: `Check the account live and print the result as Markdown for a support ticket
or a forum post. No password, token or authorization code is in it, and the
address is masked (j***@example.com); the provider's own trace and
correlation ids, error codes and timestamps are kept, because support needs
them.`,
		Example: `  mailmend report you@outlook.com > ticket.md`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Ref = args[0]
			return runReport(cmd.Context(), o)
		},
	}
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 60*time.Second, "give up after this long")
	return cmd
}

func runReport(ctx context.Context, o *reportOptions) error {
	c, err := o.app.checkAccount(ctx, o.Ref, o.Timeout)
	if err != nil {
		return err
	}
	a, st, rep := c.acct, c.st, c.rep
	red := newRedactor(a)
	if sec, err := st.Secret(ctx, a.ID); err == nil {
		red.addSecret(sec)
	}
	writeReport(o.app.env.Out, rep, red, o.app.env.Now())
	return nil
}

// redactor removes secrets and personal data from report text.
type redactor struct {
	secrets []string
	email   string
	masked  string
	login   string
}

func newRedactor(a account.Account) *redactor {
	r := &redactor{email: a.Email, masked: maskEmail(a.Email)}
	if a.Username != "" && !account.SameEmail(a.Username, a.Email) {
		r.login = a.Username
	}
	return r
}

func (r *redactor) addSecret(s store.Secret) {
	for _, v := range []string{s.Password} {
		if len(v) >= 4 {
			r.secrets = append(r.secrets, v)
		}
	}
	if t := s.Token; t != nil {
		for _, v := range []string{t.AccessToken, t.RefreshToken} {
			if len(v) >= 4 {
				r.secrets = append(r.secrets, v)
			}
		}
	}
}

// Patterns of secrets that may appear in text even when mailmend did not
// store them: bearer tokens, authorization codes, refresh tokens in JSON,
// SASL initial responses, and other addresses.
var (
	reBearer   = regexp.MustCompile(`(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}`)
	reTokenKV  = regexp.MustCompile(`(?i)("?(?:access_token|refresh_token|id_token|code|code_verifier|client_secret|password)"?\s*[:=]\s*"?)[^"&\s,}]{4,}`)
	reSASL     = regexp.MustCompile(`(?i)(AUTHENTICATE\s+(?:XOAUTH2|OAUTHBEARER|PLAIN)\s+)\S{8,}`)
	reAnyEmail = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`)
)

// clean returns s sanitised for a terminal, with secrets and addresses
// replaced.
func (r *redactor) clean(s string) string {
	s = sanitize.Text(s)
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, "[redacted]")
	}
	s = reBearer.ReplaceAllString(s, "${1}[redacted]")
	s = reTokenKV.ReplaceAllString(s, "${1}[redacted]")
	s = reSASL.ReplaceAllString(s, "${1}[redacted]")
	s = reAnyEmail.ReplaceAllStringFunc(s, maskEmail)
	if r.login != "" {
		s = strings.ReplaceAll(s, r.login, "[user]")
	}
	return s
}

// maskEmail keeps the first letter of the local part and the domain.
func maskEmail(e string) string {
	i := strings.LastIndexByte(e, '@')
	if i <= 0 {
		return "***"
	}
	return e[:1] + "***" + e[i:]
}

// writeReport prints the Markdown report.
func writeReport(w io.Writer, rep doctor.Report, red *redactor, now time.Time) {
	a := rep.Account
	fmt.Fprintf(w, "# mailmend report: %s\n\n", red.masked)
	fmt.Fprintf(w, "- Generated: %s\n", now.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "- mailmend: %s\n", version)
	fmt.Fprintf(w, "- Provider: %s, sign-in: %s\n", a.Provider, a.Auth)
	fmt.Fprintf(w, "- IMAP: %s\n", a.IMAP)
	if !a.SMTP.IsZero() {
		fmt.Fprintf(w, "- SMTP: %s\n", a.SMTP)
	}
	if !a.ConsentedAt.IsZero() {
		fmt.Fprintf(w, "- Consent given: %s\n", a.ConsentedAt.UTC().Format(time.RFC3339))
	}
	if !a.LastOK.IsZero() {
		fmt.Fprintf(w, "- Last good login: %s\n", a.LastOK.UTC().Format(time.RFC3339))
	}
	if rep.ClockMeasured {
		fmt.Fprintf(w, "- Clock offset: %s\n", rep.ClockOffset.Round(time.Millisecond))
	}
	fmt.Fprintln(w)
	if rep.Healthy {
		fmt.Fprintln(w, "## Result: healthy")
	} else {
		d := rep.Diagnosis
		fmt.Fprintf(w, "## Result: %s (`%s`)\n\n", d.Title, d.Cause)
		fmt.Fprintf(w, "- Retry: %s\n", d.Retry)
		if len(d.Candidates) > 0 {
			ids := make([]string, len(d.Candidates))
			for i, c := range d.Candidates {
				ids[i] = "`" + string(c) + "`"
			}
			fmt.Fprintf(w, "- Also possible: %s\n", strings.Join(ids, ", "))
		}
		if len(d.Evidence) > 0 {
			fmt.Fprintln(w, "\n### Evidence")
			for _, e := range d.Evidence {
				fmt.Fprintf(w, "\n%s `%s` (check %s):\n\n```\n%s\n```\n", e.Kind, red.clean(e.Code), e.Check, red.clean(e.Text))
			}
		}
		if fix := cause.Info(d.Cause).Fix; len(fix) > 0 {
			fmt.Fprintln(w, "\n### Suggested fix")
			for i, f := range fix {
				fmt.Fprintf(w, "%d. %s\n", i+1, f)
			}
		}
	}
	fmt.Fprintln(w, "\n## Checks\n\n| check | result | time | detail |\n|---|---|---|---|")
	for _, c := range rep.Checks {
		detail := strings.ReplaceAll(red.clean(sanitize.Line(c.Detail)), "|", `\|`)
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", c.Name, c.Status, c.Duration.Round(time.Millisecond), detail)
	}
}

// checked is one account checked live, with what checking it needed.
type checked struct {
	acct account.Account
	st   *store.Store
	doc  *doctor.Doctor
	rep  doctor.Report
}

// checkAccount finds ACCOUNT, checks it live within timeout and records the
// verdict on it.
func (ap *app) checkAccount(ctx context.Context, ref string, timeout time.Duration) (checked, error) {
	a, st, err := ap.findAccount(ctx, ref)
	if err != nil {
		return checked{}, err
	}
	doc, err := ap.doctor()
	if err != nil {
		return checked{}, err
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rep := doc.Check(cctx, a, nil)
	if ctx.Err() != nil {
		return checked{}, ctx.Err()
	}
	ap.record(context.WithoutCancel(ctx), rep)
	return checked{acct: a, st: st, doc: doc, rep: rep}, nil
}
