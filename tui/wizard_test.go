package tui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
)

// stepIs reports whether the account wizard shows a step of type T.
func stepIs[T Step](m model) bool { _, ok := m.acct.wiz.step.(T); return ok && !m.acct.wiz.waiting }

func addStepIs[T Step](m model) bool { _, ok := m.add.wiz.step.(T); return ok && !m.add.wiz.waiting }

func TestRepairWithMaskedPastedSecret(t *testing.T) {
	deps := demoDeps()
	wz := newFakeWizard(
		Explain{Title: "Make an app password", Body: "Your provider wants an **app password**."},
		OpenURL{URL: "https://myaccount.google.example/apppasswords", Why: "Make a new app password there."},
		SecretInput{Label: "App password", Hint: "16 letters; spaces are ignored", Mask: true},
		Verify{What: "IMAP login with the new app password"},
		Done{Success: true, Message: "Saved. alice@gmail.example works again."},
	)
	wz.reject = func(in string) Step {
		if len(strings.ReplaceAll(in, " ", "")) != 16 && in != "" {
			return SecretInput{Label: "App password", Hint: "16 letters; spaces are ignored", Mask: true, Error: "That is not 16 letters."}
		}
		return nil
	}
	wz.hold = true
	deps.newWizard = func(kind, subject, cause string) *fakeWizard { return wz }
	h := newHarness(t, deps, 80, 24)
	h.waitFor("all diagnoses", allDone)
	h.press("r")
	h.waitFor("explain", stepIs[Explain])
	if _, repair, _, _, _ := deps.calls(); len(repair) != 1 || repair[0] != "a1:token_expired" {
		t.Fatalf("Repair calls = %v, want [a1:token_expired]", repair)
	}
	if v := h.view(); !strings.Contains(v, "Repair: The refresh token expired") || !strings.Contains(v, "Your provider wants an app password.") {
		t.Fatalf("explain step:\n%s", v)
	}
	h.press("q") // the wizard has the keyboard: no quit
	if h.quit {
		t.Fatal("q quit during a repair")
	}
	h.press("enter")
	h.waitFor("open url", stepIs[OpenURL])
	if v := h.view(); !strings.Contains(v, "https://myaccount.google.example/apppasswords") {
		t.Fatalf("URL not shown to copy:\n%s", v)
	}
	h.press("enter")
	h.waitFor("secret", stepIs[SecretInput])

	h.typeText("short")
	h.press("enter")
	h.waitFor("rejection", func(m model) bool {
		s, ok := m.acct.wiz.step.(SecretInput)
		return ok && s.Error != "" && !m.acct.wiz.waiting
	})
	if v := h.view(); !strings.Contains(v, "✗ That is not 16 letters.") {
		t.Fatalf("rejection not shown:\n%s", v)
	}

	secret := "abcd efgh ijkl mnop"
	h.typeText("abcd ")
	h.send(tea.PasteMsg{Content: "efgh ijkl mnop\n"})
	v := h.view()
	if strings.Contains(v, "abcd") || strings.Contains(v, "mnop") {
		t.Fatalf("the secret is visible:\n%s", v)
	}
	if !strings.Contains(v, strings.Repeat("•", len(secret))) || !strings.Contains(v, "19 characters") {
		t.Fatalf("mask does not show the pasted length:\n%s", v)
	}
	h.press("backspace")
	h.typeText("p")
	h.press("enter")
	h.waitFor("verify", stepIs[Verify])
	if v := h.view(); !strings.Contains(v, "Testing: IMAP login with the new app password") {
		t.Fatalf("verify step:\n%s", v)
	}
	if strings.Contains(h.view(), "abcd") {
		t.Fatal("secret visible after submit")
	}
	if h.m.acct.wiz.field.Value() != "" {
		t.Fatal("the secret stays in the field after submit")
	}
	answers, _, _ := wz.got()
	if want := []string{"", "", "short", secret}; strings.Join(answers, "|") != strings.Join(want, "|") {
		t.Fatalf("wizard answers = %q, want %q", answers, want)
	}
	// Verify holds (hold): let the live test finish.
	wz.ans <- ""
	h.waitFor("done", stepIs[Done])
	if v := h.view(); !strings.Contains(v, "✓ Fixed.") || !strings.Contains(v, "works again") {
		t.Fatalf("done step:\n%s", v)
	}
	// Success reloads the accounts and re-checks the account live.
	h.waitFor("fresh check", func(m model) bool {
		d, _, _, _, acc := deps.calls()
		return len(d) == 4 && acc >= 2 && m.runs["a1"] != nil && m.runs["a1"].done
	})
	h.press("enter")
	if h.m.acct.wiz.active() || h.m.screen != screenAccount {
		t.Fatal("enter on Done should close the wizard and stay on the account")
	}
}

func TestEscCancelsWizardAtOnce(t *testing.T) {
	deps := demoDeps()
	wz := newFakeWizard(WaitBrowser{URL: "https://accounts.google.example/o/oauth2/auth?client_id=x", PasteAllowed: true, SSHHint: "Over SSH: paste the URL the browser ends on."}, Done{Success: true})
	deps.newWizard = func(kind, subject, cause string) *fakeWizard { return wz }
	h := newHarness(t, deps, 80, 24)
	h.waitFor("all diagnoses", allDone)
	h.press("r")
	h.waitFor("browser", stepIs[WaitBrowser])
	v := h.view()
	for _, want := range []string{"Waiting for your browser", "https://accounts.google.example/o/oauth2/auth?client_id=x", "Over SSH", "paste the URL"} {
		if !strings.Contains(v, want) {
			t.Errorf("browser step lacks %q:\n%s", want, v)
		}
	}
	h.press("esc")
	if h.m.screen != screenList {
		t.Fatal("esc did not return to the list")
	}
	if _, _, cancelled := wz.got(); !cancelled {
		t.Fatal("esc did not cancel the wizard at once")
	}
}

func TestBrowserPasteIsSubmitted(t *testing.T) {
	deps := demoDeps()
	wz := newFakeWizard(
		WaitBrowser{URL: "https://id.example/authorize", PasteAllowed: true},
		Done{Success: false, Message: "The provider said: consent_required"},
	)
	deps.newWizard = func(kind, subject, cause string) *fakeWizard { return wz }
	h := newHarness(t, deps, 80, 24)
	h.waitFor("all diagnoses", allDone)
	h.press("r")
	h.waitFor("browser", stepIs[WaitBrowser])
	h.send(tea.PasteMsg{Content: "http://127.0.0.1:8085/callback?code=abc&state=xyz\n"})
	if v := h.view(); !strings.Contains(v, "127.0.0.1:8085/callback?code=abc") {
		t.Fatalf("pasted URL not shown:\n%s", v)
	}
	h.press("enter")
	h.waitFor("done", stepIs[Done])
	answers, _, _ := wz.got()
	if len(answers) != 1 || answers[0] != "http://127.0.0.1:8085/callback?code=abc&state=xyz" {
		t.Fatalf("answers = %q", answers)
	}
	if v := h.view(); !strings.Contains(v, "✗ Not fixed.") || !strings.Contains(v, "consent_required") {
		t.Fatalf("failure not shown:\n%s", v)
	}
}

func TestDeviceCodeWaitAndChooseSteps(t *testing.T) {
	deps := demoDeps()
	until := fixedNow.Add(90 * time.Second)
	wz := newFakeWizard(
		Choose{Title: "How should mailmend sign in?", Options: []string{"Browser on this machine", "Device code (another device)"}},
		DeviceCode{Code: "WDJB-MJHT", URL: "https://microsoft.example/devicelogin"},
		Wait{Until: until, Reason: "Too many attempts; the provider asks to wait."},
		Done{Success: true},
	)
	wz.hold = true
	deps.newWizard = func(kind, subject, cause string) *fakeWizard { return wz }
	h := newHarness(t, deps, 80, 24)
	h.waitFor("all diagnoses", allDone)
	h.press("j", "j", "r") // carol
	h.waitFor("choose", stepIs[Choose])
	if _, repair, _, _, _ := deps.calls(); repair[0] != "c3:" {
		t.Fatalf("healthy account should get a plain reconnect, got %v", repair)
	}
	if v := h.view(); !strings.Contains(v, "Reconnect") || !strings.Contains(v, "› Browser on this machine") {
		t.Fatalf("choose step:\n%s", v)
	}
	h.press("down", "down", "up", "j", "enter")
	h.waitFor("device code", stepIs[DeviceCode])
	if _, chosen, _ := wz.got(); len(chosen) != 1 || chosen[0] != 1 {
		t.Fatalf("chosen = %v, want [1]", chosen)
	}
	if v := h.view(); !strings.Contains(v, "WDJB-MJHT") || !strings.Contains(v, "https://microsoft.example/devicelogin") {
		t.Fatalf("device step:\n%s", v)
	}
	wz.ans <- ""
	h.waitFor("wait", stepIs[Wait])
	if v := h.view(); !strings.Contains(v, "Trying again in 1m30s.") || !strings.Contains(v, "Too many attempts") {
		t.Fatalf("wait step:\n%s", v)
	}
}

func TestRepairStartErrorIsShown(t *testing.T) {
	deps := demoDeps() // no wizard: Repair fails
	h := newHarness(t, deps, 80, 24)
	h.waitFor("all diagnoses", allDone)
	h.press("r")
	h.waitFor("done", stepIs[Done])
	if v := h.view(); !strings.Contains(v, "✗ Not fixed.") || !strings.Contains(v, "fake: no wizard") {
		t.Fatalf("start error not shown:\n%s", v)
	}
}

func TestAddAccountFlow(t *testing.T) {
	deps := demoDeps()
	wz := newFakeWizard(
		Choose{Title: "Provider: Fastmail. Sign in with", Options: []string{"App password", "OAuth"}},
		SecretInput{Label: "App password for dan@fastmail.example", Mask: true},
		Verify{What: "IMAP and SMTP login"},
		Done{Success: true, Message: "dan@fastmail.example saved."},
	)
	deps.newWizard = func(kind, subject, cause string) *fakeWizard {
		if kind != "add" || subject != "dan@fastmail.example" {
			t.Errorf("wizard for %s %s", kind, subject)
		}
		return wz
	}
	h := newHarness(t, deps, 80, 24)
	h.waitFor("all diagnoses", allDone)
	h.press("a")
	h.waitFor("add screen", func(m model) bool { return m.screen == screenAdd })
	h.typeText("dan")
	h.press("enter")
	if v := h.view(); !strings.Contains(v, "does not look like an email address") {
		t.Fatalf("invalid address accepted:\n%s", v)
	}
	h.press("ctrl+u")
	h.typeText("BOB@fastmail.example")
	h.press("enter")
	if v := h.view(); !strings.Contains(v, "already in the list") {
		t.Fatalf("duplicate address accepted:\n%s", v)
	}
	h.press("ctrl+u")
	h.send(tea.PasteMsg{Content: "dan@fastmail.example"})
	h.press("enter")
	h.waitFor("choose", addStepIs[Choose])
	h.press("enter")
	h.waitFor("secret", addStepIs[SecretInput])
	h.typeText("s3cret")
	if strings.Contains(h.view(), "s3cret") {
		t.Fatal("secret visible on the add screen")
	}
	deps.mu.Lock()
	deps.accounts = append(deps.accounts, AccountView{Account: deps.accounts[1].Account})
	deps.accounts[3].ID, deps.accounts[3].Email = "d4", "dan@fastmail.example"
	deps.mu.Unlock()
	h.press("enter")
	h.waitFor("done", addStepIs[Done])
	if v := h.view(); !strings.Contains(v, "✓ Fixed.") && !strings.Contains(v, "saved") {
		t.Fatalf("done:\n%s", v)
	}
	h.waitFor("reloaded", func(m model) bool { return len(m.accounts) == 4 })
	h.press("enter")
	h.waitFor("list", func(m model) bool { return m.screen == screenList })
	if !strings.Contains(h.view(), "dan@fastmail.exam") {
		t.Fatalf("new account not listed:\n%s", h.view())
	}
	_, _, add, _, _ := deps.calls()
	answers, chosen, _ := wz.got()
	if len(add) != 1 || add[0] != "dan@fastmail.example" || len(chosen) != 1 || chosen[0] != 0 || answers[0] != "s3cret" {
		t.Fatalf("add=%v chosen=%v answers=%v", add, chosen, answers)
	}
}

func TestWizardClosedWithoutDone(t *testing.T) {
	deps := demoDeps()
	wz := newFakeWizard(Explain{Title: "One", Body: "x"})
	deps.newWizard = func(kind, subject, cause string) *fakeWizard { return wz }
	h := newHarness(t, deps, 80, 24)
	h.waitFor("all diagnoses", allDone)
	h.press("r")
	h.waitFor("explain", stepIs[Explain])
	h.press("enter") // the script ends: the channel closes without Done
	h.waitFor("stopped", stepIs[Done])
	if v := h.view(); !strings.Contains(v, "stopped before it finished") {
		t.Fatalf("view:\n%s", v)
	}
}
