// Package tmuxtest runs a program in a real terminal for end-to-end tests:
// a tmux server on a private socket (tmux -S in a temporary folder, so the
// user's own tmux sessions are never seen or touched), one window of a fixed
// size, and the program as its only pane. Tests type into it with SendKeys
// and Type, read the screen with Capture (plain text) or CaptureANSI (with
// colours), wait for what they expect with WaitFor and WaitUntil, resize the
// window, and learn how the program ended (ExitStatus): the pane is kept
// after the program exits (remain-on-exit), so its exit status and the
// terminal's state (AlternateOn) can still be read.
//
// Start skips the test (or fails it when MAILMEND_REQUIRE_REAL=1, see
// core/internal/realparts) when tmux is not installed.
package tmuxtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailmend/mailmend/core/internal/realparts"
)

// PollInterval is how often WaitFor and WaitUntil read the screen.
const PollInterval = 50 * time.Millisecond

// cmdTimeout bounds every tmux command this package runs.
const cmdTimeout = 10 * time.Second

// Options configures Start. The zero value is an 80x24 terminal with an
// empty environment (apart from what tmux itself sets: TERM, TMUX,
// TMUX_PANE).
type Options struct {
	// Width and Height are the terminal's size in cells; 0 means 80 and 24.
	Width, Height int
	// Env is the whole environment of the program (and of the tmux server
	// that starts it). PATH is taken from the test process when Env has
	// none, so that tmux and the program can be found.
	Env []string
	// Dir is the program's working directory; "" means the test's.
	Dir string
	// Term is the TERM the program sees; "" means tmux-256color when its
	// terminfo entry is installed, else screen-256color.
	Term string
}

// Term is a program running in a private tmux server. Its methods may be
// called from one goroutine at a time. The server is killed when the test
// ends (Kill).
type Term struct {
	tb     testing.TB
	dir    string
	sock   string
	env    []string
	target string
	width  int
	height int
}

// Start runs argv in a new tmux server of its own and returns the terminal.
// It skips the test (realparts.Missing) when tmux is not installed and
// fails it when the server does not start. The server is killed in the
// test's cleanup.
func Start(tb testing.TB, opts Options, argv ...string) *Term {
	tb.Helper()
	if len(argv) == 0 {
		tb.Fatal("tmuxtest: no command to run")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		realparts.Missing(tb, "tmux is not installed: %v", err)
	}
	if opts.Width <= 0 {
		opts.Width = 80
	}
	if opts.Height <= 0 {
		opts.Height = 24
	}
	if opts.Term == "" {
		opts.Term = defaultTerm()
	}
	// A short folder: a Unix socket path must fit in about 100 bytes.
	dir, err := os.MkdirTemp("", "tmuxtest-")
	if err != nil {
		tb.Fatalf("tmuxtest: %v", err)
	}
	env := append([]string(nil), opts.Env...)
	if !hasVar(env, "PATH") {
		env = append(env, "PATH="+os.Getenv("PATH"))
	}
	t := &Term{tb: tb, dir: dir, sock: filepath.Join(dir, "s"), env: env, width: opts.Width, height: opts.Height}
	tb.Cleanup(func() {
		t.Kill()
		os.RemoveAll(dir)
	})
	// remain-on-exit must hold before the program can exit, so it comes
	// from a configuration file read when the server starts. The status
	// line is switched off after the session exists: tmux 3.3a crashes
	// when a configuration file does it for a detached session of a given
	// size.
	conf := strings.Join([]string{
		"set -g remain-on-exit on",
		"set -g escape-time 0",
		"set -g history-limit 2000",
		"set -g default-terminal " + strconv.Quote(opts.Term),
	}, "\n") + "\n"
	confPath := filepath.Join(dir, "tmux.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		tb.Fatalf("tmuxtest: %v", err)
	}
	args := []string{"-f", confPath, "new-session", "-d", "-x", strconv.Itoa(opts.Width), "-y", strconv.Itoa(opts.Height)}
	if opts.Dir != "" {
		args = append(args, "-c", opts.Dir)
	}
	args = append(args, "-P", "-F", "#{pane_id}")
	args = append(args, argv...)
	args = append(args, ";", "set", "-g", "status", "off", ";", "set", "-g", "window-size", "manual")
	out, err := t.tmux(args...)
	if err != nil {
		tb.Fatalf("tmuxtest: starting %q: %v", argv, err)
	}
	t.target = strings.TrimSpace(out)
	if t.target == "" {
		tb.Fatalf("tmuxtest: tmux named no pane")
	}
	return t
}

// defaultTerm is tmux-256color when this machine knows it.
func defaultTerm() string {
	for _, d := range []string{"/usr/share/terminfo", "/lib/terminfo", "/etc/terminfo"} {
		if _, err := os.Stat(filepath.Join(d, "t", "tmux-256color")); err == nil {
			return "tmux-256color"
		}
	}
	return "screen-256color"
}

func hasVar(env []string, name string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, name+"=") {
			return true
		}
	}
	return false
}

// tmux runs one tmux command against the private server and returns its
// standard output.
func (t *Term) tmux(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "tmux", append([]string{"-S", t.sock}, args...)...)
	cmd.Env = t.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("tmuxtest: tmux %s: %v: %s", args[0], err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// Size returns the terminal's current size in cells.
func (t *Term) Size() (width, height int) { return t.width, t.height }

// SendKeys presses keys by their tmux names, one after the other: "Enter",
// "Escape", "Up", "Down", "BSpace", "Tab", "C-c", or a single character
// such as "q" or "/".
func (t *Term) SendKeys(keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	_, err := t.tmux(append([]string{"send-keys", "-t", t.target}, keys...)...)
	return err
}

// Type sends text literally, as if typed (or pasted without bracketed
// paste): no key names are interpreted. The text is not logged.
func (t *Term) Type(text string) error {
	_, err := t.tmux("send-keys", "-t", t.target, "-l", "--", text)
	return err
}

// Capture returns the visible screen as plain text: one line per row,
// trailing blanks removed.
func (t *Term) Capture() (string, error) {
	return t.tmux("capture-pane", "-p", "-t", t.target)
}

// CaptureJoined returns the visible screen as plain text with lines that
// the terminal wrapped joined back into one, so a line longer than the
// width shows up as such.
func (t *Term) CaptureJoined() (string, error) {
	return t.tmux("capture-pane", "-p", "-J", "-t", t.target)
}

// CaptureANSI returns the visible screen with its colours and attributes
// as SGR escape sequences (capture-pane -e).
func (t *Term) CaptureANSI() (string, error) {
	return t.tmux("capture-pane", "-p", "-e", "-t", t.target)
}

// ErrTimeout is wrapped by WaitFor and WaitUntil when the screen did not
// show what was expected in time.
var ErrTimeout = errors.New("tmuxtest: timed out")

// WaitFor waits until the screen contains substr and returns that screen.
// On timeout the error holds the last screen.
func (t *Term) WaitFor(substr string, timeout time.Duration) (string, error) {
	return t.WaitUntil(func(s string) bool { return strings.Contains(s, substr) }, timeout, fmt.Sprintf("%q", substr))
}

// WaitUntil reads the screen every PollInterval until ok returns true for
// it, and returns that screen. what names the condition in the error. It
// also stops, with an error, when the program exited without the screen
// satisfying ok.
func (t *Term) WaitUntil(ok func(screen string) bool, timeout time.Duration, what string) (string, error) {
	return t.poll(ok, timeout, PollInterval, what)
}

// WaitFast is WaitUntil reading the screen as often as tmux answers, for
// measuring how fast the program reacts.
func (t *Term) WaitFast(ok func(screen string) bool, timeout time.Duration, what string) (string, error) {
	return t.poll(ok, timeout, 0, what)
}

func (t *Term) poll(ok func(string) bool, timeout, every time.Duration, what string) (string, error) {
	deadline := time.Now().Add(timeout)
	var last string
	for {
		s, err := t.Capture()
		if err != nil {
			return last, err
		}
		last = s
		if ok(s) {
			return s, nil
		}
		if time.Now().After(deadline) {
			return last, fmt.Errorf("%w after %s waiting for %s; screen:\n%s", ErrTimeout, timeout, what, last)
		}
		if every > 0 {
			if dead, status, err := t.ExitStatus(); err == nil && dead {
				return last, fmt.Errorf("tmuxtest: the program exited (status %d) while waiting for %s; screen:\n%s", status, what, last)
			}
			time.Sleep(every)
		}
	}
}

// AlternateOn reports whether the terminal shows the alternate screen.
func (t *Term) AlternateOn() (bool, error) {
	v, err := t.format("#{alternate_on}")
	return v == "1", err
}

// format expands a tmux format for the pane.
func (t *Term) format(f string) (string, error) {
	out, err := t.tmux("display-message", "-p", "-t", t.target, f)
	return strings.TrimSpace(out), err
}

// Resize changes the terminal's size; the program gets SIGWINCH.
func (t *Term) Resize(width, height int) error {
	if _, err := t.tmux("resize-window", "-t", t.target, "-x", strconv.Itoa(width), "-y", strconv.Itoa(height)); err != nil {
		return err
	}
	t.width, t.height = width, height
	return nil
}

// ExitStatus reports whether the program has exited and, when it has, its
// exit status; a program killed by a signal has status -1. tmux may see the
// terminal close before it learns the exit status, and tmux 3.3a at times
// leaves the exited program unreaped: until tmux has a status (or a
// signal) the program does not count as exited, and ExitStatus makes the
// server reap its children by running a short job (run-shell true).
func (t *Term) ExitStatus() (exited bool, status int, err error) {
	for try := 0; ; try++ {
		v, err := t.format("#{pane_dead}|#{pane_dead_status}|#{pane_dead_signal}")
		if err != nil {
			return false, 0, err
		}
		f := strings.Split(v, "|")
		if len(f) != 3 || f[0] != "1" {
			return false, 0, nil
		}
		switch {
		case f[1] != "":
			status, err = strconv.Atoi(f[1])
			if err != nil {
				return true, 0, fmt.Errorf("tmuxtest: exit status %q: %v", f[1], err)
			}
			return true, status, nil
		case f[2] != "":
			return true, -1, nil
		case try > 0:
			return false, 0, nil
		}
		// The job's exit makes the server collect every exited child.
		if _, err := t.tmux("run-shell", "true"); err != nil {
			return false, 0, err
		}
	}
}

// WaitExit waits until the program has exited and returns its exit status.
func (t *Term) WaitExit(timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	for {
		dead, status, err := t.ExitStatus()
		if err != nil {
			return 0, err
		}
		if dead {
			return status, nil
		}
		if time.Now().After(deadline) {
			s, _ := t.Capture()
			return 0, fmt.Errorf("%w after %s waiting for the program to exit; screen:\n%s", ErrTimeout, timeout, s)
		}
		time.Sleep(PollInterval)
	}
}

// Kill stops the tmux server and the program in it. It is safe to call
// more than once.
func (t *Term) Kill() error {
	if _, err := os.Stat(t.sock); err != nil {
		return nil
	}
	_, err := t.tmux("kill-server")
	os.Remove(t.sock)
	return err
}
