package tui

import (
	"regexp"
	"strings"
	"testing"
)

func TestAccountLadderVerdictGuideAndEvidence(t *testing.T) {
	deps := demoDeps()
	h := newHarness(t, deps, 80, 30)
	h.waitFor("all diagnoses", allDone)
	h.open()
	h.waitFor("guide fetched", func(m model) bool { return m.guides["token_expired"] != "" })
	v := h.view()
	for _, want := range []string{
		"mailmend test › alice@gmail.example",
		"✓ dns", "12ms", "✗ oauth.refresh", "130ms", "invalid_grant", "[+more]",
		"✗ The refresh token expired", "cause: token_expired", "also possible: access_revoked, password_changed",
		"The sign-in grant expired", "https://support.google.example/tokens", "1. Press r to sign in again.",
	} {
		if !strings.Contains(v, want) {
			t.Errorf("account view lacks %q", want)
		}
	}
	if strings.Contains(v, "**") || strings.Contains(v, "## ") {
		t.Errorf("markdown markup left in the guide:\n%s", v)
	}
	if strings.Contains(v, "error_description") {
		t.Fatal("evidence shown before it was expanded")
	}
	// The open reused the finished background run: no second login.
	if d, _, _, _, _ := deps.calls(); len(d) != 3 {
		t.Fatalf("opening a checked account ran another diagnosis: %v", d)
	}
	h.press("down", "down", "enter")
	if v := h.view(); !strings.Contains(v, `"error_description"`) || !strings.Contains(v, "consent age: 6d 3h") {
		t.Fatalf("evidence not expanded:\n%s", v)
	}
	h.press("space")
	if strings.Contains(h.view(), "consent age") {
		t.Fatal("space did not fold the evidence")
	}
	h.press("d")
	h.waitFor("re-diagnosis", func(m model) bool {
		d, _, _, _, _ := deps.calls()
		return len(d) == 4 && m.runs["a1"].done
	})
}

func TestEscCancelsHangingDiagnosisAtOnce(t *testing.T) {
	deps := demoDeps()
	deps.hang["a1"] = true
	deps.script["a1"] = brokenScript()[:5] // oauth.refresh starts and never ends
	h := newHarness(t, deps, 80, 24)
	h.waitFor("others done", func(m model) bool {
		return m.runs["b2"] != nil && m.runs["b2"].done && m.runs["c3"] != nil && m.runs["c3"].done
	})
	h.open()
	h.waitFor("a1 stuck on its last check", func(m model) bool {
		r := m.runs["a1"]
		return r != nil && len(r.checks) == 3 && r.checks[2].running
	})
	if h.m.screen != screenAccount {
		t.Fatal("not on the account screen")
	}
	// The view keeps moving while checks run.
	before := h.view()
	if !strings.Contains(before, "Checking…") {
		t.Fatalf("no running state shown:\n%s", before)
	}
	h.send(tickMsg{})
	after := h.view()
	if before == after {
		t.Fatal("a tick did not change the view while a check runs")
	}
	h.send(tickMsg{})
	if h.view() == after {
		t.Fatal("the second tick did not change the view")
	}
	if !h.m.ticking {
		t.Fatal("the animation clock stopped while work runs")
	}

	h.press("esc")
	if h.m.screen != screenList {
		t.Fatalf("esc left the model on screen %d, want the list", h.m.screen)
	}
	if _, ok := h.m.runs["a1"]; ok {
		t.Fatal("the cancelled run is still on the model")
	}
	waitCancelled(t, deps, "a1")
	h.settle()
	if h.m.screen != screenList || h.m.runs["a1"] != nil {
		t.Fatal("a late message from the cancelled run changed the model")
	}
	// Nothing animates any more: the clock stops on its next tick.
	h.send(tickMsg{})
	if h.m.ticking {
		t.Fatal("the animation clock keeps running with nothing to show")
	}
}

func TestDiagnosisErrorAndMissingVerdict(t *testing.T) {
	deps := demoDeps()
	deps.script["a1"] = []CheckEvent{{Check: "dns", Started: true}} // closes without Done
	deps.script["b2"] = []CheckEvent{{Done: true, Err: errString("store: account gone")}}
	h := newHarness(t, deps, 100, 24)
	h.waitFor("all diagnoses", allDone)
	v := h.view()
	if !strings.Contains(v, "! tui: the check ended") || !strings.Contains(v, "! store: account gone") {
		t.Fatalf("errors not shown in the list:\n%s", v)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestServerTextIsSanitized(t *testing.T) {
	deps := demoDeps()
	evil := "\x1b]0;pwned\x07\x1b[2J\x1b[31mred\x1b[0m \u009b1mX"
	deps.script["a1"] = []CheckEvent{
		{Check: "imap.login", Status: StatusFail, Detail: "NO " + evil, Evidence: []string{"A1 NO " + evil}},
		{Done: true, Cause: "unknown", CauseTitle: "Title " + evil},
	}
	deps.accounts[0].Email = "alice@gmail.example\x1b[8m"
	h := newHarness(t, deps, 120, 30)
	h.waitFor("all diagnoses", allDone)
	h.open()
	h.press("enter")
	raw := h.m.View().Content
	// Only the TUI's own SGR styling may remain.
	rest := regexp.MustCompile(`\x1b\[[0-9;]*m`).ReplaceAllString(raw, "")
	if strings.ContainsAny(rest, "\x1b\x07\u009b") || strings.Contains(raw, "pwned") {
		t.Fatalf("escape or control bytes reached the screen: %q", rest)
	}
	if !strings.Contains(raw, "NO red X") || !strings.Contains(raw, "A1 NO red X") {
		t.Fatalf("sanitized text missing:\n%s", raw)
	}
}

func TestAccountScreenScrolls(t *testing.T) {
	deps := demoDeps()
	deps.guides["token_expired"] = "# Long\n\n" + strings.Repeat("A line of the guide that goes on.\n\n", 40) + "The end of the guide."
	h := newHarness(t, deps, 80, 24)
	h.waitFor("all diagnoses", allDone)
	h.open()
	h.waitFor("guide", func(m model) bool { return m.guides["token_expired"] != "" })
	if strings.Contains(h.view(), "The end of the guide.") {
		t.Fatal("the long guide fits without scrolling?")
	}
	for range 10 {
		h.press("pgdown")
	}
	if !strings.Contains(h.view(), "The end of the guide.") {
		t.Fatalf("pgdown did not reach the end:\n%s", h.view())
	}
	h.press("pgup")
	if strings.Contains(h.view(), "The end of the guide.") {
		t.Fatal("pgup did not scroll back")
	}
}

func TestTickStopsWhenIdle(t *testing.T) {
	h := newHarness(t, demoDeps(), 80, 24)
	h.waitFor("all diagnoses", allDone)
	h.send(tickMsg{})
	if h.m.ticking {
		t.Fatal("ticking with nothing running")
	}
	h.press("d")
	h.waitFor("clock restarted", func(m model) bool { return m.ticking && m.running() > 0 })
}
