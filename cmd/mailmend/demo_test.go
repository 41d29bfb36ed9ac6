package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mailmend/mailmend/core/cause"
	"github.com/mailmend/mailmend/core/demo"
	"github.com/mailmend/mailmend/core/guard"
	"github.com/mailmend/mailmend/tui"
)

// demoRepair drives a demo repair wizard through the TUI adapter the way a
// user does, answering each step with answer, and returns the final step.
func demoRepair(t *testing.T, email string, id cause.ID, answer func(tui.Step) (string, int)) tui.Done {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := demo.Start(ctx, demo.Options{LockDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	e := newTestEnv(t, d.Store)
	e.Now = time.Now // the clock repair measures against the sandbox's real clock
	a := &app{env: e.sysEnv, catalog: d.Catalog, openStore: e.OpenStore}
	deps := d.DoctorDeps()
	deps.Guard = guard.New(t.TempDir(), nil)
	ws := a.newDemoWizards(d, deps)
	acct, err := d.Store.Find(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	w, err := ws.repair(ctx, acct.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	for s := range w.Steps() {
		if done, ok := s.(tui.Done); ok {
			return done
		}
		if _, ok := s.(tui.WaitBrowser); ok {
			continue // the demo's browser (or its stand-in) answers by itself
		}
		if _, ok := s.(tui.Verify); ok {
			continue
		}
		text, choice := answer(s)
		if choice >= 0 {
			w.Choose(choice)
		} else {
			w.Submit(text)
		}
	}
	t.Fatal("the wizard ended without a Done step")
	return tui.Done{}
}

func TestDemoRepairsComplete(t *testing.T) {
	tests := []struct {
		email string
		id    cause.ID
	}{
		{"radia@gmail.com", cause.InvalidClient},
		{"barbara@outlook.com", cause.ClockSkew},
		{"dennis@gmail.com", cause.WrongSettings},
		{"edsger@gmail.com", cause.AccountBlocked},
		{"hedy@outlook.com", cause.ProtocolDisabled},
		{"grace@gmail.com", cause.AppPasswordRequired},
		{"linus@gmail.com", cause.WrongPassword},
		{"alan@gmail.com", cause.AccessRevoked},
		{"margaret@outlook.com", cause.PasswordChanged},
		{"ken@gmail.com", cause.OAuthAppInTesting},
		{"frances@outlook.com", cause.RedirectURIMismatch},
	}
	for _, tc := range tests {
		t.Run(string(tc.id), func(t *testing.T) {
			done := demoRepair(t, tc.email, tc.id, func(s tui.Step) (string, int) {
				switch st := s.(type) {
				case tui.SecretInput:
					// The demo says what to type, after "demo ...: ".
					_, rest, ok := strings.Cut(st.Hint, ": ")
					if !ok {
						t.Fatalf("the demo does not say what to type: %+v", st)
					}
					v, _, _ := strings.Cut(rest, " · ")
					return v, -1
				case tui.Choose:
					return "", 0
				}
				return "", -1
			})
			if !done.Success {
				t.Fatalf("%s: not repaired: %s", tc.email, done.Message)
			}
		})
	}
}
