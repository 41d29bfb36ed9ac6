package tui

import (
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/mailmend/mailmend/core/account"
)

// listScreen is the account list: cursor, scroll offset, filter and the
// pending remove confirmation.
type listScreen struct {
	cursor    int
	offset    int
	filter    textField
	filtering bool
	confirm   string // id of the account to remove, waiting for y/n
}

// capturing reports whether the list takes typed text or a yes/no answer.
func (s listScreen) capturing() bool { return s.filtering || s.confirm != "" }

// visible returns the accounts that pass the filter.
func (s listScreen) visible(e env) []AccountView {
	f := strings.ToLower(strings.TrimSpace(s.filter.Value()))
	if f == "" {
		return e.accounts
	}
	var out []AccountView
	for _, a := range e.accounts {
		if strings.Contains(strings.ToLower(a.Email), f) ||
			strings.Contains(strings.ToLower(a.Provider), f) ||
			strings.Contains(strings.ToLower(a.ProviderName), f) {
			out = append(out, a)
		}
	}
	return out
}

// selected returns the account under the cursor.
func (s listScreen) selected(e env) (AccountView, bool) {
	v := s.visible(e)
	if s.cursor < 0 || s.cursor >= len(v) {
		return AccountView{}, false
	}
	return v[s.cursor], true
}

// clamp keeps the cursor on a visible row and the row on screen.
func (s *listScreen) clamp(e env) {
	n := len(s.visible(e))
	s.cursor = max(0, min(s.cursor, n-1))
	rows := max(e.height-2, 1)
	if s.cursor < s.offset {
		s.offset = s.cursor
	}
	if s.cursor >= s.offset+rows {
		s.offset = s.cursor - rows + 1
	}
	s.offset = max(0, min(s.offset, n-1))
}

// Update handles list keys; actions leave as intent messages.
func (s listScreen) Update(msg tea.Msg, e env) (listScreen, tea.Cmd) {
	k := e.keys
	if s.confirm != "" {
		if kp, ok := msg.(tea.KeyPressMsg); ok {
			switch {
			case key.Matches(kp, k.Confirm):
				id := s.confirm
				s.confirm = ""
				return s, intent(removeMsg{id: id})
			case key.Matches(kp, k.Deny):
				s.confirm = ""
			}
		}
		return s, nil
	}
	if s.filtering {
		if kp, ok := msg.(tea.KeyPressMsg); ok {
			switch {
			case key.Matches(kp, k.Back):
				s.filter.reset()
				s.filtering = false
				s.clamp(e)
				return s, nil
			case key.Matches(kp, k.Submit):
				s.filtering = false
				return s, nil
			case kp.String() == "up":
				s.cursor--
				s.clamp(e)
				return s, nil
			case kp.String() == "down":
				s.cursor++
				s.clamp(e)
				return s, nil
			}
		}
		if s.filter.update(msg) {
			s.cursor = 0
			s.clamp(e)
		}
		return s, nil
	}
	kp, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return s, nil
	}
	switch {
	case key.Matches(kp, k.Up):
		s.cursor--
	case key.Matches(kp, k.Down):
		s.cursor++
	case key.Matches(kp, k.Filter):
		s.filtering = true
	case key.Matches(kp, k.Back):
		s.filter.reset()
	case key.Matches(kp, k.Diagnose):
		ids := make([]string, 0, len(e.accounts))
		for _, a := range s.visible(e) {
			ids = append(ids, a.ID)
		}
		return s, intent(diagnoseMsg{ids: ids})
	case key.Matches(kp, k.Add):
		return s, intent(addMsg{})
	case key.Matches(kp, k.Open), key.Matches(kp, k.Repair), key.Matches(kp, k.Remove):
		a, ok := s.selected(e)
		if !ok {
			return s, nil
		}
		switch {
		case key.Matches(kp, k.Open):
			return s, intent(openAccountMsg{id: a.ID})
		case key.Matches(kp, k.Repair):
			return s, intent(repairMsg{id: a.ID})
		default:
			s.confirm = a.ID
		}
	}
	s.clamp(e)
	return s, nil
}

// helpKeys is the help for the list's current mode.
func (s listScreen) helpKeys(k KeyMap) helpKeys {
	switch {
	case s.confirm != "":
		return k.confirmHelp()
	case s.filtering:
		h := k.inputHelp("keep filter")
		h.short[1].SetHelp("esc", "clear")
		return h
	}
	return helpKeys{short: k.ShortHelp(), full: k.FullHelp()}
}

// listColumns are the cell widths of the list's columns.
type listColumns struct{ addr, prov, auth, health, last, token int }

func columnsFor(width int) listColumns {
	c := listColumns{prov: 9, auth: 8, last: 7, token: 12}
	if width >= 110 {
		// Room to spare: the provider's name first, then the address.
		c.prov = 14
	}
	rest := width - 2 - c.prov - c.auth - c.last - c.token - 5
	c.addr = min(max(rest/2, 16), 30)
	c.health = max(rest-c.addr, 8)
	return c
}

// View draws the header, the rows and, when asked, the filter line or the
// remove question.
func (s listScreen) View(e env) string {
	st := e.st
	c := columnsFor(e.width)
	var lines []string
	switch {
	case s.confirm != "":
		a, _ := e.account(s.confirm)
		lines = append(lines, st.Warn.Render(" Remove "+a.Email+" and its saved secret? (y/n)"))
	case s.filtering || s.filter.Value() != "":
		lines = append(lines, " /"+s.filter.view(max(e.width-4, 10), st)[2:])
	default:
		lines = append(lines, "")
	}
	head := "  " + fit("ADDRESS", c.addr) + " " + fit("PROVIDER", c.prov) + " " + fit("AUTH", c.auth) + " " +
		fit("HEALTH", c.health) + " " + fit("LAST OK", c.last) + " " + fit("TOKEN", c.token)
	lines = append(lines, st.Header.Render(head))
	v := s.visible(e)
	if len(v) == 0 {
		switch {
		case e.loading:
		case len(e.accounts) == 0:
			lines = append(lines, "", "  No accounts yet. Press a to add one.")
		default:
			lines = append(lines, "", "  No account matches the filter.")
		}
		return strings.Join(lines, "\n")
	}
	rows := max(e.height-len(lines), 1)
	for i := s.offset; i < len(v) && i < s.offset+rows; i++ {
		lines = append(lines, s.row(v[i], i == s.cursor, c, e))
	}
	return strings.Join(lines, "\n")
}

// row draws one account.
func (s listScreen) row(a AccountView, sel bool, c listColumns, e env) string {
	st := e.st
	prov := a.ProviderName
	if prov == "" {
		prov = a.Provider
	}
	h := healthOf(a, e.runs)
	var hs string
	switch h.state {
	case healthChecking:
		hs = st.Dim.Render(fit(e.spinner()+" checking", c.health))
	case healthOK:
		hs = st.OK.Render(fit("✓ healthy", c.health))
	case healthBroken:
		hs = st.Fail.Render(fit("✗ "+h.title, c.health))
	case healthError:
		hs = st.Warn.Render(fit("! "+h.err, c.health))
	default:
		hs = st.Dim.Render(fit("· unchecked", c.health))
	}
	tok, warn := tokenAge(a, e.now)
	ts := fit(tok, c.token)
	switch warn {
	case tokenDying:
		ts = st.Warn.Render(ts)
	case tokenDead:
		ts = st.Fail.Render(ts)
	}
	mark := "  "
	addr := fit(a.Email, c.addr)
	if sel {
		mark = "› "
		addr = st.Selected.Render(addr)
	}
	return mark + addr + " " + fit(prov, c.prov) + " " + fit(string(a.Auth), c.auth) + " " +
		hs + " " + fit(ago(e.now, a.LastOK), c.last) + " " + ts
}

// tokenWarn grades how close an OAuth grant is to its known end.
type tokenWarn int

const (
	tokenFine tokenWarn = iota
	tokenDying
	tokenDead
)

// dyingWindow is how long before a grant's known end the list warns.
const dyingWindow = 48 * time.Hour

// tokenAge describes the age of the account's OAuth grant and how close it
// is to its known end (GrantLifetime).
func tokenAge(a AccountView, now time.Time) (string, tokenWarn) {
	if a.Auth != account.OAuth2 {
		return "-", tokenFine
	}
	if a.ConsentedAt.IsZero() {
		return "?", tokenFine
	}
	age := compact(now.Sub(a.ConsentedAt))
	if a.GrantLifetime <= 0 {
		return age, tokenFine
	}
	left := a.ConsentedAt.Add(a.GrantLifetime).Sub(now)
	switch {
	case left <= 0:
		return age + " expired", tokenDead
	case left < dyingWindow:
		return "⚠ " + compact(left) + " left", tokenDying
	}
	return age, tokenFine
}
