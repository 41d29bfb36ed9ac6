package tui

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"
)

// TestProgramListDiagnoseRepairDone drives the real Bubble Tea program:
// list -> account (live diagnosis) -> repair wizard -> done.
func TestProgramListDiagnoseRepairDone(t *testing.T) {
	deps := demoDeps()
	wz := newFakeWizard(
		Explain{Title: "Make an app password", Body: "Google wants an app password."},
		SecretInput{Label: "App password", Hint: "16 letters", Mask: true},
		Verify{What: "IMAP login"},
		Done{Success: true, Message: "Saved; the account works again."},
	)
	deps.newWizard = func(kind, subject, cause string) *fakeWizard { return wz }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := newModel(ctx, deps, Options{Title: "mailmend demo", NoColor: true, Now: clock})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24))

	var seen bytes.Buffer // everything the program wrote
	waitOut := func(what string) {
		t.Helper()
		teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
			seen.Write(b)
			return bytes.Contains(seen.Bytes(), []byte(what))
		}, teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
	}
	waitOut("1 broken")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitOut("token_expired")
	tm.Type("r")
	waitOut("Google wants an app password.")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitOut("16 letters")
	const secret = "zyxwvutsrqponmlk"
	tm.Send(tea.PasteMsg{Content: secret})
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitOut("Fixed.")
	tm.Send(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(model)

	if final.screen != screenAccount {
		t.Fatalf("final screen %d, want the account screen", final.screen)
	}
	if d, ok := final.acct.wiz.done(); !ok || !d.Success {
		t.Fatalf("final wizard step %#v, want a successful Done", final.acct.wiz.step)
	}
	answers, _, _ := wz.got()
	if len(answers) != 2 || answers[1] != secret {
		t.Fatalf("wizard answers %q, want the pasted secret", answers)
	}
	if bytes.Contains(seen.Bytes(), []byte(secret)) || bytes.Contains(seen.Bytes(), []byte("zyxw")) {
		t.Fatal("the secret reached the terminal")
	}
	v := ansiStripped(final)
	if !strings.Contains(v, "Saved; the account works again.") {
		t.Fatalf("final view:\n%s", v)
	}
}

func ansiStripped(m model) string {
	h := harness{m: m}
	return h.view()
}

// syncBuffer is a bytes.Buffer safe for the program's writer goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunRestoresTerminalOnCancel(t *testing.T) {
	deps := demoDeps()
	deps.hang["a1"] = true
	deps.script["a1"] = brokenScript()[:5]
	in, inW := io.Pipe()
	defer inW.Close()
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, deps, Options{Title: "mailmend demo", Input: in, Output: out, NoColor: true, Now: clock})
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "alice@gmail") {
		if time.Now().After(deadline) {
			t.Fatalf("the list never showed:\n%q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v, want an error wrapping context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after ctx was cancelled")
	}
	o := out.String()
	if !strings.Contains(o, "\x1b[?1049h") || !strings.Contains(o, "\x1b[?1049l") {
		t.Fatalf("alternate screen not entered and left: %q", o)
	}
	if strings.LastIndex(o, "\x1b[?1049l") < strings.LastIndex(o, "\x1b[?1049h") {
		t.Fatal("the alternate screen was left before it was entered")
	}
	waitCancelled(t, deps, "a1")
}

func TestRunQuitsOnQ(t *testing.T) {
	in, inW := io.Pipe()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- Run(context.Background(), demoDeps(), Options{Input: in, Output: out, Now: clock}) }()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "bob@fastmail") {
		if time.Now().After(deadline) {
			t.Fatalf("the list never showed:\n%q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := inW.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v after q, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("q did not end Run")
	}
	inW.Close()
	if !strings.Contains(out.String(), "mailmend") {
		t.Fatal("default title missing")
	}
}

func TestRunNeedsDeps(t *testing.T) {
	if err := Run(context.Background(), nil, Options{}); err == nil || !strings.HasPrefix(err.Error(), "tui: ") {
		t.Fatalf("Run(nil deps) = %v", err)
	}
}
