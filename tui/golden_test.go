package tui

import (
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"
)

// TestGolden compares ansi.Strip(view) of each screen at 80x24 and 120x40
// with testdata/TestGolden/*.golden. Refresh with: go test ./tui -run TestGolden -update
func TestGolden(t *testing.T) {
	screens := []struct {
		name  string
		setup func(t *testing.T, h *harness, deps *fakeDeps)
	}{
		{"list", func(t *testing.T, h *harness, deps *fakeDeps) {}},
		{"list_help", func(t *testing.T, h *harness, deps *fakeDeps) { h.press("?") }},
		{"list_filter", func(t *testing.T, h *harness, deps *fakeDeps) {
			h.press("/")
			h.typeText("example")
		}},
		{"account", func(t *testing.T, h *harness, deps *fakeDeps) {
			h.open()
			h.waitFor("guide", func(m model) bool { return m.guides["token_expired"] != "" })
			h.press("down", "down", "enter")
		}},
		{"wizard_secret", func(t *testing.T, h *harness, deps *fakeDeps) {
			h.press("r")
			h.waitFor("secret", stepIs[SecretInput])
			h.typeText("hunter2")
		}},
		{"add", func(t *testing.T, h *harness, deps *fakeDeps) {
			h.press("a")
			h.waitFor("add", func(m model) bool { return m.screen == screenAdd })
			h.typeText("dan@fastmail.example")
		}},
	}
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		for _, sc := range screens {
			name := sc.name + "_" + itoa(size[0]) + "x" + itoa(size[1])
			t.Run(name, func(t *testing.T) {
				deps := demoDeps()
				deps.newWizard = func(kind, subject, cause string) *fakeWizard {
					return newFakeWizard(SecretInput{Label: "App password for alice@gmail.example", Hint: "16 letters; spaces are ignored", Mask: true}, Done{Success: true})
				}
				h := newHarness(t, deps, size[0], size[1])
				h.waitFor("all diagnoses", allDone)
				sc.setup(t, h, deps)
				h.send(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
				golden.RequireEqual(t, h.view())
			})
		}
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}
