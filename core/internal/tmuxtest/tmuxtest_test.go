package tmuxtest

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// A shell reads a line, prints what it read in colour, reports the terminal
// size and exits with a status the test chose.
func TestTermRoundTrip(t *testing.T) {
	script := `printf '\033[?1049h'; printf 'ready\n'; read -r line; ` +
		`printf '\033[31mgot:%s\033[0m\n' "$line"; printf 'env:%s\n' "$MARK"; ` +
		`trap 'printf "size:%s\n" "$(stty size)"' WINCH; printf 'size:%s\n' "$(stty size)"; ` +
		`until read -r again; do :; done; printf '\033[?1049l'; exit 7`
	term := Start(t, Options{Width: 60, Height: 20, Env: []string{"MARK=private-env"}}, "sh", "-c", script)
	if _, err := term.WaitFor("ready", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if on, err := term.AlternateOn(); err != nil || !on {
		t.Errorf("alternate screen after ?1049h: %v %v", on, err)
	}
	if err := term.Type("a b;Enter"); err != nil {
		t.Fatal(err)
	}
	if err := term.SendKeys("Enter"); err != nil {
		t.Fatal(err)
	}
	s, err := term.WaitFor("got:", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// Type is literal: "Enter" inside the text is not a key name.
	for _, want := range []string{"got:a b;Enter", "env:private-env", "size:20 60"} {
		if _, err := term.WaitFor(want, 2*time.Second); err != nil {
			t.Errorf("%v (screen so far:\n%s)", err, s)
		}
	}
	ansi, err := term.CaptureANSI()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ansi, "\x1b[31mgot:") {
		t.Errorf("CaptureANSI lacks the red SGR: %q", ansi)
	}
	if plain, _ := term.Capture(); strings.Contains(plain, "\x1b") {
		t.Errorf("Capture has escapes: %q", plain)
	}
	if err := term.Resize(40, 10); err != nil {
		t.Fatal(err)
	}
	if w, h := term.Size(); w != 40 || h != 10 {
		t.Errorf("Size after Resize: %dx%d", w, h)
	}
	if _, err := term.WaitFor("size:10 40", 5*time.Second); err != nil {
		t.Error(err)
	}
	if dead, _, err := term.ExitStatus(); err != nil || dead {
		t.Fatalf("exited too early: %v %v", dead, err)
	}
	if err := term.SendKeys("Enter"); err != nil {
		t.Fatal(err)
	}
	status, err := term.WaitExit(5 * time.Second)
	if err != nil || status != 7 {
		t.Fatalf("exit status %d, %v; want 7", status, err)
	}
	if on, err := term.AlternateOn(); err != nil || on {
		t.Errorf("alternate screen after exit: %v %v", on, err)
	}
	// Waiting on a dead program ends at once with an error, not a timeout.
	start := time.Now()
	_, err = term.WaitFor("never shown", 10*time.Second)
	if err == nil || errors.Is(err, ErrTimeout) || time.Since(start) > 2*time.Second {
		t.Errorf("WaitFor on an exited program: %v after %s", err, time.Since(start))
	}
}

func TestWaitForTimesOutWithScreen(t *testing.T) {
	term := Start(t, Options{}, "sh", "-c", "echo visible-text; exec sleep 30")
	if _, err := term.WaitFor("visible-text", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if w, h := term.Size(); w != 80 || h != 24 {
		t.Errorf("default size %dx%d", w, h)
	}
	start := time.Now()
	_, err := term.WaitFor("absent", 300*time.Millisecond)
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "visible-text") {
		t.Errorf("timeout error: %v", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 3*time.Second {
		t.Errorf("timeout took %s", d)
	}
	sock := term.sock
	if err := term.Kill(); err != nil {
		t.Errorf("Kill: %v", err)
	}
	if err := term.Kill(); err != nil {
		t.Errorf("second Kill: %v", err)
	}
	if _, err := (&Term{sock: sock, env: term.env, target: term.target}).tmux("list-sessions"); err == nil {
		t.Errorf("server still answers after Kill")
	}
}

func TestExitBySignal(t *testing.T) {
	term := Start(t, Options{}, "sh", "-c", "kill -9 $$")
	status, err := term.WaitExit(5 * time.Second)
	if err != nil || status != -1 {
		t.Fatalf("killed program: status %d, %v; want -1", status, err)
	}
}
