package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/mailmend/mailmend/core/account"
)

// addScreen adds an account: the address first, then the add wizard
// (provider, auth method, secret or consent, live test, save) in place.
type addScreen struct {
	field textField
	err   string
	wiz   wizardPanel
}

func newAddScreen() addScreen {
	return addScreen{field: textField{placeholder: "you@example.com"}}
}

// Update takes the address, then passes keys to the wizard. Esc is handled
// by the root model.
func (s addScreen) Update(msg tea.Msg, e env) (addScreen, tea.Cmd) {
	k := e.keys
	kp, isKey := msg.(tea.KeyPressMsg)
	if s.wiz.active() {
		if d, ok := s.wiz.done(); ok {
			if isKey && key.Matches(kp, k.Submit) {
				if d.Success {
					return s, intent(backMsg{})
				}
				// Not saved: let the user correct the address and retry.
				s.wiz = wizardPanel{}
			}
			return s, nil
		}
		var cmd tea.Cmd
		s.wiz, cmd = s.wiz.update(msg, k)
		return s, cmd
	}
	if isKey && key.Matches(kp, k.Submit) {
		addr := strings.TrimSpace(s.field.Value())
		if !account.ValidEmail(addr) {
			s.err = "That does not look like an email address."
			return s, nil
		}
		for _, a := range e.accounts {
			if account.SameEmail(a.Email, addr) {
				s.err = addr + " is already in the list."
				return s, nil
			}
		}
		s.err = ""
		return s, intent(startAddMsg{email: addr})
	}
	if s.field.update(msg) {
		s.err = ""
	}
	return s, nil
}

// helpKeys is the help for the screen's current mode.
func (s addScreen) helpKeys(k KeyMap) helpKeys {
	if s.wiz.active() {
		return accountScreen{wiz: s.wiz}.helpKeys(k)
	}
	return k.inputHelp("next")
}

// View draws the address field or the running wizard.
func (s addScreen) View(e env) string {
	st := e.st
	w := e.width - 2
	lines := []string{""}
	if !s.wiz.active() {
		lines = append(lines, " "+st.Bold.Render("Email address"))
		lines = append(lines, " "+st.Dim.Render(clip("mailmend finds the provider and its settings from the address.", w)))
		lines = append(lines, " "+s.field.view(min(w, 60), st))
		if s.err != "" {
			lines = append(lines, " "+st.Fail.Render(clip("✗ "+s.err, w)))
		}
		return strings.Join(lines, "\n")
	}
	for _, l := range s.wiz.view(e, w-1) {
		lines = append(lines, indent(l))
	}
	return strings.Join(window(lines, 0, e.height, true), "\n")
}
