package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/mailmend/mailmend/core/cause"
)

// accountScreen shows one account: the live check ladder, the verdict with
// its guide, and the repair wizard in place.
type accountScreen struct {
	id       string
	sel      int
	expanded map[string]bool
	scroll   int
	wiz      wizardPanel
}

func newAccountScreen(id string) accountScreen {
	return accountScreen{id: id, expanded: map[string]bool{}}
}

// Update handles the account screen's keys. Esc is handled by the root
// model, which cancels the running work.
func (s accountScreen) Update(msg tea.Msg, e env) (accountScreen, tea.Cmd) {
	k := e.keys
	if s.wiz.active() {
		if _, ok := s.wiz.done(); ok {
			if kp, isKey := msg.(tea.KeyPressMsg); isKey && key.Matches(kp, k.Submit) {
				s.wiz = wizardPanel{}
			}
			return s, nil
		}
		var cmd tea.Cmd
		s.wiz, cmd = s.wiz.update(msg, k)
		return s, cmd
	}
	kp, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return s, nil
	}
	rows := 0
	if r, ok := e.runs[s.id]; ok {
		rows = len(r.checks)
	}
	switch {
	case key.Matches(kp, k.Up):
		s.sel = max(s.sel-1, 0)
	case key.Matches(kp, k.Down):
		s.sel = max(min(s.sel+1, rows-1), 0)
	case key.Matches(kp, k.Expand):
		if r, ok := e.runs[s.id]; ok && s.sel < len(r.checks) {
			name := r.checks[s.sel].name
			if s.expanded == nil {
				s.expanded = map[string]bool{}
			}
			s.expanded[name] = !s.expanded[name]
		}
	case key.Matches(kp, k.PageUp):
		s.scroll = max(s.scroll-max(e.height-2, 1), 0)
	case key.Matches(kp, k.PageDown):
		s.scroll = min(s.scroll+max(e.height-2, 1), max(len(s.lines(e))-e.height, 0))
	case key.Matches(kp, k.Diagnose):
		s.scroll = 0
		return s, intent(diagnoseMsg{ids: []string{s.id}})
	case key.Matches(kp, k.Repair):
		s.scroll = 0
		return s, intent(repairMsg{id: s.id})
	}
	return s, nil
}

// helpKeys is the help for the screen's current mode.
func (s accountScreen) helpKeys(k KeyMap) helpKeys {
	if s.wiz.active() {
		if _, ok := s.wiz.done(); ok {
			return k.inputHelp("close")
		}
		switch s.wiz.step.(type) {
		case Choose:
			h := k.inputHelp("choose")
			h.short = append([]key.Binding{k.Up, k.Down}, h.short...)
			return h
		case SecretInput:
			return k.inputHelp("test it")
		case Verify, DeviceCode, Wait:
			h := k.inputHelp("")
			h.short = h.short[1:]
			h.full = [][]key.Binding{h.short}
			return h
		}
		return k.inputHelp("continue")
	}
	return k.accountHelp()
}

// View draws the account's header, ladder, verdict and guide or wizard,
// scrolled to fit the body height.
func (s accountScreen) View(e env) string {
	return strings.Join(window(s.lines(e), s.scroll, e.height, s.wiz.active()), "\n")
}

// lines is the whole body before scrolling.
func (s accountScreen) lines(e env) []string {
	st := e.st
	w := e.width - 2
	a, ok := e.account(s.id)
	if !ok {
		return []string{"", "  This account is gone."}
	}
	var lines []string
	prov := a.ProviderName
	if prov == "" {
		prov = a.Provider
	}
	meta := prov + " · " + string(a.Auth) + " · last ok " + ago(e.now, a.LastOK)
	if tok, _ := tokenAge(a, e.now); tok != "-" {
		meta += " · token " + tok
	}
	lines = append(lines, " "+st.Dim.Render(clip(meta, w)), "")

	r, hasRun := e.runs[s.id]
	lines = append(lines, " "+st.Header.Render("CHECKS"))
	switch {
	case !hasRun:
		lines = append(lines, "  "+st.Dim.Render("Not checked in this session. d: check now"))
	case len(r.checks) == 0 && !r.done:
		lines = append(lines, "  "+e.spinner()+" starting…")
	default:
		for i, c := range r.checks {
			lines = append(lines, s.checkLine(c, i == s.sel && !s.wiz.active(), e)...)
		}
	}
	lines = append(lines, "")

	causeID := ""
	switch {
	case hasRun && !r.done:
		lines = append(lines, " "+e.spinner()+" Checking…")
	case hasRun && r.final.Err != nil:
		lines = append(lines, " "+st.Warn.Render(clip("! Could not check: "+clean(r.final.Err.Error()), w)))
	case hasRun && r.final.Healthy:
		lines = append(lines, " "+st.OK.Render("✓ Healthy: every check passed."))
	case hasRun:
		causeID = r.final.Cause
		title := r.final.CauseTitle
		if title == "" {
			title = causeTitle(causeID)
		}
		lines = append(lines, " "+st.Fail.Render(clip("✗ "+title, w)))
		lines = append(lines, " "+st.Dim.Render(clip("cause: "+causeID, w)))
		if len(r.final.Candidates) > 0 {
			lines = append(lines, " "+st.Dim.Render(clip("also possible: "+strings.Join(r.final.Candidates, ", "), w)))
		}
	case a.Cause != "":
		causeID = a.Cause
		lines = append(lines, " "+st.Fail.Render(clip("✗ "+causeTitle(causeID)+" (last check)", w)))
	}

	if s.wiz.active() {
		lines = append(lines, "")
		for _, l := range s.wiz.view(e, w-1) {
			lines = append(lines, indent(l))
		}
	} else if causeID != "" {
		lines = append(lines, " "+st.Dim.Render("r: repair · pgup/pgdn: scroll"), "")
		for _, l := range renderMarkdown(e.guide(causeID), w-2, st) {
			lines = append(lines, indent(l))
		}
	}
	return lines
}

// checkLine draws one rung of the ladder and, when expanded, its evidence.
func (s accountScreen) checkLine(c checkRow, sel bool, e env) []string {
	st := e.st
	nameW := 16
	mark := " "
	if sel {
		mark = "›"
	}
	var icon, dur string
	switch {
	case c.running:
		icon = e.spinner()
	case c.ev.Status == StatusOK:
		icon = st.OK.Render("✓")
	case c.ev.Status == StatusWarn:
		icon = st.Warn.Render("!")
	case c.ev.Status == StatusFail:
		icon = st.Fail.Render("✗")
	default:
		icon = st.Dim.Render("-")
	}
	if !c.running && c.ev.Status != StatusSkip {
		dur = millis(c.ev.Duration)
	}
	name := fit(c.name, nameW)
	if sel {
		name = st.Selected.Render(name)
	}
	detail := c.ev.Detail
	if c.running {
		detail = "running"
	}
	avail := max(e.width-30, 10)
	if n := len(c.ev.Evidence); n > 0 && !s.expanded[c.name] {
		detail = clip(detail, avail-11) + st.Dim.Render(" [+more]")
	}
	line := " " + mark + icon + " " + name + " " + fit(dur, 7) + " " + clip(detail, avail)
	out := []string{line}
	if s.expanded[c.name] {
		for _, ev := range c.ev.Evidence {
			for _, l := range wrap(ev, max(e.width-10, 10)) {
				out = append(out, "       "+st.Dim.Render("│ "+l))
			}
		}
	}
	return out
}

// window cuts the lines to the body height from the scroll offset. With
// follow set (a wizard is running) it keeps the last lines in view.
func window(lines []string, scroll, height int, follow bool) []string {
	if height <= 0 || len(lines) <= height {
		return lines
	}
	maxScroll := len(lines) - height
	if follow {
		scroll = maxScroll
	}
	scroll = max(0, min(scroll, maxScroll))
	return lines[scroll : scroll+height]
}

// indent shifts a body line right by two cells, leaving empty lines empty.
func indent(l string) string {
	if l == "" {
		return ""
	}
	return "  " + l
}

// causeTitle is the catalog title of a cause id.
func causeTitle(id string) string { return cause.ID(id).Title() }
