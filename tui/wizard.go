package tui

import (
	"context"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// wizardPanel shows a running Wizard in place and answers its steps. It is
// embedded in the account screen (repair) and the add screen.
type wizardPanel struct {
	owner   screenID
	gen     int
	title   string
	w       Wizard
	cancel  context.CancelFunc
	ctx     context.Context
	step    Step // nil until the first step arrives
	waiting bool // an answer was sent; the next step is pending
	field   textField
	choice  int
	closed  bool
}

// active reports whether a wizard was started and not dismissed.
func (p wizardPanel) active() bool { return p.cancel != nil }

// done reports whether the wizard reached its Done step.
func (p wizardPanel) done() (Done, bool) {
	d, ok := p.step.(Done)
	return d, ok
}

// animating reports whether the panel shows a spinner or countdown.
func (p wizardPanel) animating() bool {
	if !p.active() || p.closed {
		return false
	}
	if p.step == nil || p.waiting {
		return true
	}
	switch p.step.(type) {
	case Verify, WaitBrowser, DeviceCode, Wait:
		return true
	}
	return false
}

// stop cancels the wizard and its context at once.
func (p *wizardPanel) stop() {
	if p.cancel != nil {
		p.cancel()
	}
	if p.w != nil && !p.closed {
		p.w.Cancel()
	}
	p.closed = true
}

// setStep shows a new step and prepares its input.
func (p *wizardPanel) setStep(s Step) {
	p.step = s
	p.waiting = false
	p.choice = 0
	p.field = textField{}
	switch st := s.(type) {
	case SecretInput:
		p.field.mask = st.Mask
		p.field.placeholder = st.Hint
	case WaitBrowser:
		p.field.placeholder = "paste the URL your browser shows"
	}
}

// readStep waits for the wizard's next step.
func readStep(ctx context.Context, owner screenID, gen int, ch <-chan Step) tea.Cmd {
	return func() tea.Msg {
		select {
		case s, ok := <-ch:
			if !ok {
				return stepMsg{owner: owner, gen: gen, closed: true}
			}
			return stepMsg{owner: owner, gen: gen, step: s}
		case <-ctx.Done():
			return stepMsg{owner: owner, gen: gen, closed: true}
		}
	}
}

// startWizard starts a repair (owner screenAccount, subject an account id)
// or an add flow (owner screenAdd, subject an address).
func (m *model) startWizard(owner screenID, subject, causeID, causeName string) tea.Cmd {
	m.gen++
	ctx, cancel := context.WithCancel(m.ctx)
	p := wizardPanel{owner: owner, gen: m.gen, cancel: cancel}
	deps, gen := m.deps, m.gen
	var start tea.Cmd
	if owner == screenAdd {
		p.title = "Add " + subject
		start = func() tea.Msg {
			w, err := deps.Add(ctx, subject)
			return wizardStartedMsg{owner: owner, gen: gen, ctx: ctx, w: w, err: err}
		}
	} else {
		p.title = "Reconnect"
		if causeID != "" {
			p.title = "Repair: " + causeName
		}
		start = func() tea.Msg {
			w, err := deps.Repair(ctx, subject, causeID)
			return wizardStartedMsg{owner: owner, gen: gen, ctx: ctx, w: w, err: err}
		}
	}
	if owner == screenAdd {
		m.add.wiz.stop()
		m.add.wiz = p
	} else {
		m.acct.wiz.stop()
		m.acct.wiz = p
	}
	return tea.Batch(start, m.startTick())
}

// panel returns the wizard panel of a screen.
func (m *model) panel(owner screenID) *wizardPanel {
	if owner == screenAdd {
		return &m.add.wiz
	}
	return &m.acct.wiz
}

func (m model) onWizardStarted(msg wizardStartedMsg) (tea.Model, tea.Cmd) {
	p := m.panel(msg.owner)
	if p.gen != msg.gen || p.closed {
		if msg.w != nil {
			w := msg.w
			return m, func() tea.Msg { w.Cancel(); return nil }
		}
		return m, nil
	}
	if msg.err != nil {
		p.closed = true
		p.setStep(Done{Success: false, Message: clean(msg.err.Error())})
		return m, nil
	}
	p.w = msg.w
	p.ctx = msg.ctx
	return m, readStep(msg.ctx, msg.owner, msg.gen, msg.w.Steps())
}

func (m model) onStep(msg stepMsg) (tea.Model, tea.Cmd) {
	p := m.panel(msg.owner)
	if p.gen != msg.gen || p.closed {
		return m, nil
	}
	if msg.closed {
		p.closed = true
		if _, ok := p.done(); !ok {
			p.setStep(Done{Success: false, Message: "The repair stopped before it finished."})
		}
		return m, nil
	}
	p.setStep(cleanStep(msg.step))
	var cmds []tea.Cmd
	if d, ok := msg.step.(Done); ok {
		p.closed = true
		p.cancel()
		if d.Success {
			cmds = append(cmds, m.loadAccounts())
			if msg.owner == screenAccount && m.screen == screenAccount {
				// Show the repaired account's ladder from a fresh check.
				delete(m.runs, m.acct.id)
				cmds = append(cmds, m.startRun(m.acct.id))
			}
		}
		return m, tea.Batch(cmds...)
	}
	return m, tea.Batch(readStep(p.ctx, msg.owner, msg.gen, p.w.Steps()), m.startTick())
}

// update answers the current step from a key press or paste. Done steps are
// left to the owning screen.
func (p wizardPanel) update(msg tea.Msg, k KeyMap) (wizardPanel, tea.Cmd) {
	if p.step == nil || p.waiting || p.closed {
		return p, nil
	}
	kp, isKey := msg.(tea.KeyPressMsg)
	submit := isKey && key.Matches(kp, k.Submit)
	w := p.w
	switch st := p.step.(type) {
	case Explain, OpenURL:
		if submit {
			p.waiting = true
			return p, func() tea.Msg { w.Submit(""); return nil }
		}
	case SecretInput:
		if submit {
			v := p.field.Value()
			if v == "" {
				return p, nil
			}
			p.field.reset()
			p.waiting = true
			return p, func() tea.Msg { w.Submit(v); return nil }
		}
		p.field.update(msg)
	case WaitBrowser:
		if !st.PasteAllowed {
			return p, nil
		}
		if submit {
			v := strings.TrimSpace(p.field.Value())
			if v == "" {
				return p, nil
			}
			p.field.reset()
			p.waiting = true
			return p, func() tea.Msg { w.Submit(v); return nil }
		}
		p.field.update(msg)
	case Choose:
		switch {
		case isKey && key.Matches(kp, k.Up):
			p.choice = max(p.choice-1, 0)
		case isKey && key.Matches(kp, k.Down):
			p.choice = min(p.choice+1, len(st.Options)-1)
		case submit && len(st.Options) > 0:
			i := p.choice
			p.waiting = true
			return p, func() tea.Msg { w.Choose(i); return nil }
		}
	}
	return p, nil
}

// takesText reports whether the current step has a text field.
func (p wizardPanel) takesText() bool {
	switch st := p.step.(type) {
	case SecretInput:
		return true
	case WaitBrowser:
		return st.PasteAllowed
	}
	return false
}

// view draws the panel in width cells.
func (p wizardPanel) view(e env, width int) []string {
	st := e.st
	out := []string{st.Heading.Render(clip(p.title, width))}
	add := func(s string) { out = append(out, wrap(s, width)...) }
	fieldW := min(width, 60)
	switch {
	case p.step == nil:
		out = append(out, e.spinner()+" Starting…")
		return out
	case p.waiting:
		out = append(out, e.spinner()+" Working…")
		return out
	}
	switch s := p.step.(type) {
	case Explain:
		if s.Title != "" {
			out = append(out, st.Bold.Render(clip(s.Title, width)))
		}
		out = append(out, renderMarkdown(s.Body, width, st)...)
		out = append(out, "", st.Dim.Render("enter: continue"))
	case OpenURL:
		if s.Why != "" {
			add(s.Why)
		}
		out = append(out, "", "Open this page (copy it if no browser opened):")
		out = append(out, wrapURL(s.URL, width, st)...)
		out = append(out, "", st.Dim.Render("enter: done, continue"))
	case SecretInput:
		out = append(out, st.Bold.Render(clip(s.Label, width)))
		if s.Hint != "" {
			out = append(out, st.Dim.Render(clip(s.Hint, width)))
		}
		if s.Error != "" {
			out = append(out, st.Fail.Render(clip("✗ "+s.Error, width)))
		}
		out = append(out, p.field.view(fieldW, st))
		if s.Mask {
			out = append(out, st.Dim.Render(fmt.Sprintf("%d characters · paste works · enter: test it", len(p.field.value))))
		}
	case WaitBrowser:
		out = append(out, e.spinner()+" Waiting for your browser…")
		out = append(out, "If no browser opened, open this URL:")
		out = append(out, wrapURL(s.URL, width, st)...)
		if s.SSHHint != "" {
			add(s.SSHHint)
		}
		if s.PasteAllowed {
			out = append(out, "", "Or paste the URL the browser ended on:")
			if s.Error != "" {
				out = append(out, st.Fail.Render(clip("✗ "+s.Error, width)))
			}
			out = append(out, p.field.view(fieldW, st))
		}
	case DeviceCode:
		out = append(out, "On any device, open", "")
		out = append(out, wrapURL(s.URL, width, st)...)
		out = append(out, "", "and enter the code", "", "    "+st.Bold.Render(s.Code), "")
		out = append(out, e.spinner()+" Waiting for you to approve…")
	case Choose:
		if s.Title != "" {
			out = append(out, st.Bold.Render(clip(s.Title, width)))
		}
		for i, o := range s.Options {
			line := "  " + clip(o, width-2)
			if i == p.choice {
				line = "› " + st.Selected.Render(clip(o, width-2))
			}
			out = append(out, line)
		}
	case Wait:
		left := s.Until.Sub(e.now)
		out = append(out, e.spinner()+" "+clip(s.Reason, width-2))
		out = append(out, fmt.Sprintf("Trying again in %s.", countdown(left)))
	case Verify:
		out = append(out, e.spinner()+" "+clip("Testing: "+s.What, width-2))
	case Done:
		if s.Success {
			out = append(out, st.OK.Render("✓ Fixed."))
		} else {
			out = append(out, st.Fail.Render("✗ Not fixed."))
		}
		if s.Message != "" {
			add(s.Message)
		}
		out = append(out, "", st.Dim.Render("enter: close · esc: back to the list"))
	}
	return out
}

// wrapURL shows a URL in full, broken at the width, so it can be copied.
func wrapURL(u string, width int, st Styles) []string {
	var out []string
	r := []rune(u)
	w := max(width-2, 10)
	for len(r) > 0 {
		n := min(w, len(r))
		out = append(out, "  "+st.Code.Render(string(r[:n])))
		r = r[n:]
	}
	return out
}
