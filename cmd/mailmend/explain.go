package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mailmend/mailmend/assets"
	"github.com/mailmend/mailmend/core/cause"
	"github.com/mailmend/mailmend/core/sanitize"
)

type explainOptions struct {
	app      *app
	Provider string
	JSON     bool
	Text     []string
}

func newExplainCmd(a *app) *cobra.Command {
	o := &explainOptions{app: a}
	cmd := &cobra.Command{
		Use:   "explain [TEXT...]",
		Short: "Name the cause of an error message pasted from any mail program",
		Long: `Read an error message as a mail program showed it (Thunderbird, mbsync, msmtp,
Outlook, a Python traceback, a log line: wrappers and all), name the cause from
the codes in it (OAuth errors, AADSTS numbers, IMAP response codes, SMTP
enhanced status codes, TLS and network errors), and say what to do.

Without TEXT the message is read from standard input. Nothing is sent
anywhere. Exit 0 when a cause was recognised, 1 when not.`,
		Example: `  mailmend explain '534-5.7.9 Application-specific password required'
  mbsync -a 2>&1 | mailmend explain
  mailmend explain --provider microsoft --json < error.txt`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Text = args
			return runExplain(o)
		},
	}
	cmd.Flags().StringVar(&o.Provider, "provider", "", "provider id the message came from, when the text does not say (see 'mailmend providers')")
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print JSON (schema in the README)")
	return cmd
}

// explainJSON is the stable `explain --json` schema.
type explainJSON struct {
	Cause      cause.ID       `json:"cause"`
	Title      string         `json:"title"`
	Candidates []cause.ID     `json:"candidates"`
	Retry      cause.Retry    `json:"retry"`
	Confidence string         `json:"confidence"`
	Evidence   []evidenceJSON `json:"evidence"`
	Fix        []string       `json:"fix"`
}

type evidenceJSON struct {
	Kind  cause.Kind `json:"kind"`
	Code  string     `json:"code"`
	Text  string     `json:"text"`
	Check string     `json:"check,omitempty"`
}

// evidenceOut sanitises evidence for output: server text may carry escape
// sequences meant for a terminal.
func evidenceOut(ev []cause.Evidence) []evidenceJSON {
	out := make([]evidenceJSON, 0, len(ev))
	for _, e := range ev {
		out = append(out, evidenceJSON{Kind: e.Kind, Code: sanitize.Line(e.Code), Text: sanitize.Text(e.Text), Check: e.Check})
	}
	return out
}

func runExplain(o *explainOptions) error {
	env := o.app.env
	text := strings.Join(o.Text, " ")
	if len(o.Text) == 0 {
		if env.StdinTTY {
			fmt.Fprintln(env.Err, "Paste the error message, then press Ctrl-D:")
		}
		b, err := io.ReadAll(io.LimitReader(env.In, 1<<20))
		if err != nil {
			return fmt.Errorf("reading standard input: %w", err)
		}
		text = string(b)
	}
	if strings.TrimSpace(text) == "" {
		return usageErrorf("no error text: give it as an argument or on standard input")
	}
	if o.Provider != "" {
		if _, ok := o.app.catalog.Get(o.Provider); !ok {
			return usageErrorf("unknown provider %q (see 'mailmend providers')", o.Provider)
		}
	}
	d := cause.Explain(text, o.Provider)
	meta := cause.Info(d.Cause)
	if o.JSON {
		if err := writeJSON(env.Out, explainJSON{
			Cause: d.Cause, Title: d.Title, Candidates: d.Candidates, Retry: d.Retry,
			Confidence: string(d.Confidence), Evidence: evidenceOut(d.Evidence), Fix: nonNil(meta.Fix),
		}); err != nil {
			return err
		}
	} else {
		printDiagnosis(env.Out, d)
		if g := guide(d.Cause); g != "" {
			fmt.Fprintf(env.Out, "\n%s", g)
		}
	}
	if d.Cause == cause.Unknown {
		return silentExit(exitProblem)
	}
	return nil
}

// printDiagnosis writes the verdict, its evidence and the short fix.
func printDiagnosis(w io.Writer, d cause.Diagnosis) {
	fmt.Fprintf(w, "Cause: %s (%s)\n", d.Title, d.Cause)
	switch d.Retry {
	case cause.RetryNever:
		fmt.Fprintln(w, "Retry: will not help; you need to act (each failed try counts toward a lockout)")
	case cause.RetryAfterFix:
		fmt.Fprintln(w, "Retry: helps once the fix is in place")
	case cause.RetryLater:
		fmt.Fprintln(w, "Retry: later; this usually passes by itself")
	}
	if len(d.Candidates) > 0 {
		ids := make([]string, len(d.Candidates))
		for i, c := range d.Candidates {
			ids[i] = string(c)
		}
		fmt.Fprintf(w, "Also possible: %s\n", strings.Join(ids, ", "))
	}
	if len(d.Evidence) > 0 {
		fmt.Fprintln(w, "Evidence:")
		for _, e := range evidenceOut(d.Evidence) {
			line := string(e.Kind)
			if e.Code != "" {
				line += " " + e.Code
			}
			if e.Text != "" {
				line += ": " + sanitize.Truncate(sanitize.Line(e.Text), 200)
			}
			fmt.Fprintf(w, "  %s\n", line)
		}
	}
	if fix := cause.Info(d.Cause).Fix; len(fix) > 0 {
		fmt.Fprintln(w, "What to do:")
		for i, f := range fix {
			fmt.Fprintf(w, "  %d. %s\n", i+1, f)
		}
	}
}

// guide returns the cause's guide from assets/causes, or "".
func guide(id cause.ID) string {
	b, err := assets.Causes.ReadFile("causes/" + string(id) + ".md")
	if err != nil {
		return ""
	}
	return string(b)
}
