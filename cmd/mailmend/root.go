package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mailmend/mailmend/core/provider"
	"github.com/mailmend/mailmend/core/store"
)

// version is set at release time with -ldflags "-X main.version=...".
var version = "dev"

// sysEnv is what commands need from the outside world. Tests build one with
// buffers and fakes; newSystemEnv wires the real process.
type sysEnv struct {
	In        io.Reader
	Out       io.Writer
	Err       io.Writer
	StdinTTY  bool
	StdoutTTY bool
	Getenv    func(string) string
	Now       func() time.Time
	// ReadSecret prints prompt on the terminal and reads a line without
	// echoing it. It fails when there is no terminal.
	ReadSecret func(prompt string) (string, error)
	// ReadLine prints prompt and reads one visible line (confirmations).
	ReadLine func(prompt string) (string, error)
	// OpenStore, when set, replaces the configured credential store (tests).
	OpenStore func() (*store.Store, error)
	// Resolver, when set, replaces the system DNS for provider detection.
	Resolver provider.Resolver
}

func newSystemEnv() *sysEnv {
	e := &sysEnv{
		In:        os.Stdin,
		Out:       os.Stdout,
		Err:       os.Stderr,
		StdinTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		StdoutTTY: term.IsTerminal(int(os.Stdout.Fd())),
		Getenv:    os.Getenv,
		Now:       time.Now,
	}
	e.ReadSecret = func(prompt string) (string, error) { return readSecretTTY(e.Err, prompt) }
	e.ReadLine = func(prompt string) (string, error) { return readLine(e.In, e.Err, prompt) }
	return e
}

// readSecretTTY reads a masked line from the terminal on stdin. Ctrl-C
// while it waits restores the terminal (echo back on) and returns an error
// wrapping context.Canceled, so nothing half-typed is used.
func readSecretTTY(w io.Writer, prompt string) (string, error) {
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return "", errors.New("no terminal to ask on")
	}
	state, err := term.GetState(fd)
	if err != nil {
		return "", fmt.Errorf("reading the terminal state: %w", err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	fmt.Fprint(w, prompt)
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := term.ReadPassword(fd)
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		fmt.Fprintln(w)
		if r.err != nil {
			return "", fmt.Errorf("reading from the terminal: %w", r.err)
		}
		return string(r.b), nil
	case <-sig:
		_ = term.Restore(fd, state)
		fmt.Fprintln(w)
		return "", fmt.Errorf("password prompt: %w", context.Canceled)
	}
}

// readLine reads one line byte by byte so nothing after it is consumed.
func readLine(r io.Reader, w io.Writer, prompt string) (string, error) {
	fmt.Fprint(w, prompt)
	var sb strings.Builder
	buf := make([]byte, 1)
	for sb.Len() < 4096 {
		n, err := r.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				break
			}
			sb.WriteByte(buf[0])
		}
		if err != nil {
			if err == io.EOF && sb.Len() > 0 {
				break
			}
			return "", err
		}
	}
	return strings.TrimRight(sb.String(), "\r"), nil
}

// run executes the command line args and returns the process exit code.
// Ctrl-C cancels the command's context; commands stop at once and save
// nothing half-done.
func run(args []string, env *sysEnv) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runContext(ctx, args, env)
}

// runContext is run with a caller-supplied context (tests).
func runContext(ctx context.Context, args []string, env *sysEnv) int {
	a := &app{env: env, openStore: env.OpenStore, resolver: env.Resolver}
	root := newRootCmd(a)
	root.SetArgs(args)
	root.SetIn(env.In)
	root.SetOut(env.Out)
	root.SetErr(env.Err)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	var ee *exitError
	if errors.As(err, &ee) && ee.err == nil {
		return code
	}
	if code == exitUsage || isCobraUsage(err) {
		fmt.Fprintf(env.Err, "mailmend: %s\nRun 'mailmend --help' for usage.\n", err)
		return exitUsage
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(env.Err, "mailmend: interrupted; nothing was changed")
		return 130
	}
	fmt.Fprintf(env.Err, "mailmend: %s\n", err)
	return code
}

// isCobraUsage recognises cobra's own argument and flag errors.
func isCobraUsage(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument", "invalid argument", "accepts ", "requires at least", "requires at most", "received ", "required flag"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "mailmend",
		Short: "Find out why a mail account stopped working, and fix it",
		Long: `mailmend keeps your mail accounts in the OS keyring, finds out live why one
fails ("invalid_grant", "Invalid credentials", "Application-specific password
required", ...), names the cause with the evidence, and repairs it in place.

Run without a command to open the account list in the terminal.`,
		Example: `  mailmend demo                                    try every failure and its fix in a sandbox
  mailmend add --email you@gmail.com               add an account (sign in with the browser)
  mailmend add --email you@gmail.com --auth password   ... or with an app password
  mailmend doctor                                  check every account live, name what is wrong
  mailmend reconnect you@gmail.com                 fix it
  mailmend token you@gmail.com                     password or access token for another mail program`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return a.init()
		},
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTUI(cmd.Context(), a)
		},
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return withCode(exitUsage, err)
	})
	pf := root.PersistentFlags()
	pf.StringVar(&a.configPath, "config", "", "config file (default $MAILMEND_CONFIG or $XDG_CONFIG_HOME/mailmend/config.toml)")
	pf.StringVar(&a.storeKind, "store", "", `credential store: "keyring" (OS keyring, default) or "file" (age-encrypted file)`)
	root.AddCommand(
		newAddCmd(a),
		newListCmd(a),
		newRemoveCmd(a),
		newTokenCmd(a),
		newProvidersCmd(a),
		newExplainCmd(a),
		newDoctorCmd(a),
		newReportCmd(a),
		newDemoCmd(a),
		newReconnectCmd(a),
	)
	root.CompletionOptions.HiddenDefaultCmd = true
	return root
}
