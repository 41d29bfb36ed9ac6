package tui

import (
	"context"
	"errors"
	"fmt"
	"github.com/charmbracelet/x/ansi"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/mailmend/mailmend/core/account"
)

func TestListShowsLiveHealthAndTokenWarning(t *testing.T) {
	deps := demoDeps()
	h := newHarness(t, deps, 100, 24)
	h.waitFor("all diagnoses", allDone)
	v := h.view()
	for _, want := range []string{"alice@gmail.example", "✗ The refresh token expired", "bob@fastmail.example", "✓ healthy", "⚠ 21h left", "30d", "3 accounts · 1 broken"} {
		if !strings.Contains(v, want) {
			t.Errorf("list view lacks %q:\n%s", want, v)
		}
	}
	// A healthy verdict is the last good login: the list says so at once.
	if strings.Contains(v, "5m") || !strings.Contains(v, "now") {
		t.Errorf("LAST OK not updated by the healthy verdict:\n%s", v)
	}
	diag, _, _, _, _ := deps.calls()
	if len(diag) != 3 {
		t.Errorf("background diagnoses = %v, want one per account", diag)
	}
}

func TestListKeysMoveFilterAndOpen(t *testing.T) {
	h := newHarness(t, demoDeps(), 80, 24)
	h.waitFor("all diagnoses", allDone)
	h.press("j", "down")
	if got := h.m.list.cursor; got != 2 {
		t.Fatalf("cursor after j, down = %d, want 2", got)
	}
	h.press("down") // stays on the last row
	h.press("k")
	if got := h.m.list.cursor; got != 1 {
		t.Fatalf("cursor after down at end, k = %d, want 1", got)
	}
	h.press("/")
	h.typeText("fastq") // q is typed into the filter, not a quit
	if h.quit {
		t.Fatal("q in the filter quit the program")
	}
	h.press("backspace")
	if v := h.view(); strings.Contains(v, "alice@") || !strings.Contains(v, "› bob@fastmail") {
		t.Fatalf("filter 'fast' shows the wrong rows:\n%s", v)
	}
	h.press("enter") // keep the filter, leave typing mode
	if h.m.list.filtering || h.m.list.filter.Value() != "fast" {
		t.Fatalf("enter should keep filter 'fast', got filtering=%v value=%q", h.m.list.filtering, h.m.list.filter.Value())
	}
	h.press("enter")
	h.waitFor("account screen", func(m model) bool { return m.screen == screenAccount })
	if h.m.acct.id != "b2" {
		t.Fatalf("opened %q, want b2 (the only filtered row)", h.m.acct.id)
	}
	h.press("esc")
	if h.m.screen != screenList {
		t.Fatal("esc did not go back to the list")
	}
	h.press("esc") // clears the filter
	if strings.Contains(h.view(), "/fast") || !strings.Contains(h.view(), "alice@") {
		t.Fatalf("esc on the list should clear the filter:\n%s", h.view())
	}
}

func TestBackgroundChecksAreBounded(t *testing.T) {
	deps := &fakeDeps{script: map[string][]CheckEvent{}, gate: make(chan struct{}), cancelled: make(chan string, 16)}
	for i := range 7 {
		id := fmt.Sprintf("id%d", i)
		deps.accounts = append(deps.accounts, AccountView{Account: account.Account{ID: id, Email: id + "@example.com", Provider: "generic", Auth: account.Password}})
		deps.script[id] = healthyScript()
	}
	h := newHarness(t, deps, 80, 24)
	h.waitFor("4 running", func(m model) bool { return m.running() == maxParallel })
	h.settle()
	if n := h.m.running(); n != maxParallel {
		t.Fatalf("%d diagnoses running, want %d", n, maxParallel)
	}
	if n := len(h.m.queue); n != 3 {
		t.Fatalf("%d queued, want 3", n)
	}
	if !strings.Contains(h.view(), "checking") {
		t.Fatalf("list does not show running checks:\n%s", h.view())
	}
	close(deps.gate)
	h.waitFor("all diagnoses", allDone)
	if got := deps.maxActive.Load(); got > maxParallel {
		t.Fatalf("up to %d diagnoses ran at once, limit %d", got, maxParallel)
	}
	if strings.Count(h.view(), "✓ healthy") != 7 {
		t.Fatalf("not every account healthy:\n%s", h.view())
	}
}

func TestDiagnoseAllRestartsFinishedRuns(t *testing.T) {
	deps := demoDeps()
	h := newHarness(t, deps, 80, 24)
	h.waitFor("all diagnoses", allDone)
	h.press("d")
	h.waitFor("second round", func(m model) bool {
		d, _, _, _, _ := deps.calls()
		return len(d) == 6 && allDone(m)
	})
}

func TestRemoveAsksFirst(t *testing.T) {
	deps := demoDeps()
	h := newHarness(t, deps, 80, 24)
	h.waitFor("all diagnoses", allDone)
	h.press("j", "x")
	if v := h.view(); !strings.Contains(v, "Remove bob@fastmail.example") {
		t.Fatalf("no confirmation shown:\n%s", v)
	}
	h.press("q") // neither yes nor no, and not a quit while asking
	if h.quit {
		t.Fatal("q quit during the confirmation")
	}
	h.press("n")
	h.settle()
	if _, _, _, removed, _ := deps.calls(); len(removed) != 0 {
		t.Fatalf("n removed %v", removed)
	}
	h.press("x", "y")
	h.waitFor("reload without bob", func(m model) bool { return len(m.accounts) == 2 })
	if _, _, _, removed, _ := deps.calls(); len(removed) != 1 || removed[0] != "b2" {
		t.Fatalf("removed %v, want [b2]", removed)
	}
	if v := h.view(); strings.Contains(v, "  bob@") || strings.Contains(v, "› bob@") || !strings.Contains(v, "Removed bob@fastmail.example.") {
		t.Fatalf("view after remove:\n%s", v)
	}
}

func TestRemoveErrorIsShown(t *testing.T) {
	deps := demoDeps()
	deps.removeErr = errors.New("store: keyring locked")
	h := newHarness(t, deps, 80, 24)
	h.waitFor("all diagnoses", allDone)
	h.press("x", "y")
	h.waitFor("error status", func(m model) bool { return strings.Contains(m.status, "keyring locked") })
	if len(h.m.accounts) != 3 {
		t.Fatal("account list changed after a failed remove")
	}
}

func TestAccountsErrorIsShown(t *testing.T) {
	deps := demoDeps()
	deps.accErr = errors.New("store: no secret service: start gnome-keyring-daemon")
	h := newHarness(t, deps, 80, 24)
	h.waitFor("loaded", func(m model) bool { return !m.loading })
	if v := h.view(); !strings.Contains(v, "Could not read the accounts: store: no secret service") {
		t.Fatalf("error not shown:\n%s", v)
	}
}

func TestQuitCancelsRunningWork(t *testing.T) {
	deps := demoDeps()
	deps.hang["a1"] = true
	deps.script["a1"] = brokenScript()[:5]
	h := newHarness(t, deps, 80, 24)
	h.waitFor("a1 running", func(m model) bool { r, ok := m.runs["a1"]; return ok && len(r.checks) > 0 })
	h.press("q")
	h.settle()
	if !h.quit {
		t.Fatal("q did not quit")
	}
	waitCancelled(t, deps, "a1")
}

// waitCancelled waits until the fake saw the diagnosis of id cancelled.
func waitCancelled(t *testing.T, deps *fakeDeps, id string) {
	t.Helper()
	timeout := time.After(2 * time.Second)
	for {
		select {
		case got := <-deps.cancelled:
			if got == id {
				return
			}
		case <-timeout:
			t.Fatalf("the diagnosis of %s was not cancelled", id)
		}
	}
}

func TestCtrlCQuitsEvenWhileTyping(t *testing.T) {
	h := newHarness(t, demoDeps(), 80, 24)
	h.waitFor("loaded", func(m model) bool { return !m.loading })
	h.press("a")
	h.waitFor("add screen", func(m model) bool { return m.screen == screenAdd })
	h.press("q")
	if h.quit || h.m.add.field.Value() != "q" {
		t.Fatalf("q should be typed on the add screen (quit=%v value=%q)", h.quit, h.m.add.field.Value())
	}
	h.press("ctrl+c")
	h.settle()
	if !h.quit {
		t.Fatal("ctrl+c did not quit")
	}
}

func TestResizeAndHelpToggle(t *testing.T) {
	h := newHarness(t, demoDeps(), 80, 24)
	h.waitFor("all diagnoses", allDone)
	for _, size := range [][2]int{{80, 24}, {120, 40}, {60, 15}} {
		h.send(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		lines := strings.Split(h.view(), "\n")
		if len(lines) != size[1] {
			t.Errorf("%dx%d: view has %d lines", size[0], size[1], len(lines))
		}
		for i, l := range lines {
			if w := tea.NewView(l).Content; len([]rune(w)) > size[0] {
				t.Errorf("%dx%d: line %d is %d cells: %q", size[0], size[1], i, len([]rune(w)), l)
			}
		}
	}
	h.send(tea.WindowSizeMsg{Width: 120, Height: 40})
	short := h.view()
	h.press("?")
	full := h.view()
	if short == full || !strings.Contains(full, "ctrl+c") || !strings.Contains(full, "scroll down") {
		t.Fatalf("? did not show the full help:\n%s", full)
	}
}

func TestTokenAge(t *testing.T) {
	now := fixedNow
	g := func(consented time.Duration, life time.Duration) AccountView {
		return AccountView{Account: account.Account{Auth: account.OAuth2, ConsentedAt: now.Add(-consented)}, GrantLifetime: life}
	}
	week := 7 * 24 * time.Hour
	cases := []struct {
		a    AccountView
		want string
		warn tokenWarn
	}{
		{AccountView{Account: account.Account{Auth: account.Password}}, "-", tokenFine},
		{AccountView{Account: account.Account{Auth: account.OAuth2}}, "?", tokenFine},
		{g(3*24*time.Hour, week), "3d", tokenFine},
		{g(6*24*time.Hour, week), "⚠ 24h left", tokenDying},
		{g(8*24*time.Hour, week), "8d expired", tokenDead},
		{g(40*24*time.Hour, 0), "40d", tokenFine},
	}
	for _, c := range cases {
		got, warn := tokenAge(c.a, now)
		if got != c.want || warn != c.warn {
			t.Errorf("tokenAge(%v, life %v) = %q,%v; want %q,%v", now.Sub(c.a.ConsentedAt), c.a.GrantLifetime, got, warn, c.want, c.warn)
		}
	}
}

// Accounts given in Options are on the first frame, before any load.
func TestPreloadedAccountsOnFirstFrame(t *testing.T) {
	deps := demoDeps()
	views, _ := deps.Accounts(context.Background())
	m := newModel(context.Background(), deps, Options{Accounts: views, Now: func() time.Time { return fixedNow }})
	v := ansi.Strip(m.View().Content)
	if !strings.Contains(v, "alice@gmail.exam") || !strings.Contains(v, "3 accounts") {
		t.Fatalf("first frame lacks the preloaded accounts:\n%s", v)
	}
}
