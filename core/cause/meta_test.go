package cause

import (
	"strings"
	"testing"
)

func TestCatalogMeta(t *testing.T) {
	if len(All) != len(catalog) {
		t.Fatalf("All has %d ids, catalog %d", len(All), len(catalog))
	}
	titles := map[string]ID{}
	for _, id := range All {
		m := Info(id)
		if m.ID != id || !Known(id) {
			t.Errorf("%s: Info returned id %q", id, m.ID)
		}
		if m.Title == "" || strings.ContainsAny(m.Title, "\n\r") || len(m.Title) > 80 {
			t.Errorf("%s: title must be one short line: %q", id, m.Title)
		}
		if prev, dup := titles[m.Title]; dup {
			t.Errorf("%s and %s share a title", id, prev)
		}
		titles[m.Title] = id
		switch m.Retry {
		case RetryNever, RetryAfterFix, RetryLater:
		default:
			t.Errorf("%s: retry %q", id, m.Retry)
		}
		if m.Family == "" || len(m.Fix) == 0 {
			t.Errorf("%s: family or fix missing", id)
		}
		// Transient causes, and only they, are retried later and exit 5.
		transient := id == ProviderUnavailable || id == RateLimited
		if (m.Retry == RetryLater) != transient || (m.Action.ExitCode() == 5) != transient {
			t.Errorf("%s: retry %s / exit %d disagree with DESIGN", id, m.Retry, m.Action.ExitCode())
		}
		if id != Unknown && !transient && m.Action.ExitCode() != 4 {
			t.Errorf("%s: the user must act, exit should be 4, got %d", id, m.Action.ExitCode())
		}
	}
	for _, id := range []ID{ClockSkew, WrongSettings} {
		if Info(id).Retry != RetryAfterFix {
			t.Errorf("%s should retry after fix", id)
		}
	}
	if Info(Unknown).Action.ExitCode() != 1 {
		t.Errorf("unknown should exit 1")
	}
	if m := Info("no_such_cause"); m.ID != "no_such_cause" || m.Title != Info(Unknown).Title || Known("no_such_cause") {
		t.Errorf("unknown id: %+v", m)
	}
	// Info hands out copies.
	m := Info(WrongPassword)
	m.Fix[0] = "changed"
	if Info(WrongPassword).Fix[0] == "changed" {
		t.Error("Info shares its Fix slice")
	}
	if WrongPassword.Title() != Info(WrongPassword).Title {
		t.Error("ID.Title disagrees with Info")
	}
}
