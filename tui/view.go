package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/help"
	tea "charm.land/bubbletea/v2"
)

// helpView renders the help of the screen in front, short or full.
func (m model) helpView() string {
	var k help.KeyMap = m.keys
	switch m.screen {
	case screenList:
		k = m.list.helpKeys(m.keys)
	case screenAccount:
		k = m.acct.helpKeys(m.keys)
	case screenAdd:
		k = m.add.helpKeys(m.keys)
	}
	h := m.help
	h.ShowAll = m.fullHelp
	return h.View(k)
}

func (m model) bodyHeight() int {
	return max(m.height-3-strings.Count(m.helpView(), "\n")-1, 3)
}

// View draws the title bar, the screen, the status line and the help, in
// exactly the window's size.
func (m model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = m.title
	return v
}

func (m model) render() string {
	e := m.env()
	var body string
	crumb := ""
	switch m.screen {
	case screenList:
		body = m.list.View(e)
	case screenAccount:
		body = m.acct.View(e)
		if a, ok := m.account(m.acct.id); ok {
			crumb = " › " + a.Email
		}
	case screenAdd:
		body = m.add.View(e)
		crumb = " › add account"
	}
	right := m.summary()
	left := m.styles.Title.Render(m.title) + m.styles.Bold.Render(crumb)
	gap := m.width - 1 - len([]rune(m.title+crumb)) - len([]rune(right))
	head := " " + left
	if gap > 1 {
		head += strings.Repeat(" ", gap) + m.styles.Dim.Render(right)
	}
	lines := []string{clip(head, m.width), m.styles.Dim.Render(strings.Repeat("─", m.width))}
	bl := strings.Split(body, "\n")
	h := e.height
	for i := 0; i < h; i++ {
		if i < len(bl) {
			lines = append(lines, clip(bl[i], m.width))
		} else {
			lines = append(lines, "")
		}
	}
	status := m.status
	if m.loading {
		status = e.spinner() + " Reading accounts…"
	}
	lines = append(lines, clip(" "+status, m.width))
	for _, l := range strings.Split(m.helpView(), "\n") {
		lines = append(lines, clip(" "+l, m.width))
	}
	return strings.Join(lines, "\n")
}

// summary is the right side of the title bar.
func (m model) summary() string {
	if m.loading {
		return ""
	}
	broken, checking := 0, 0
	for _, a := range m.accounts {
		switch h := healthOf(a, m.runs); h.state {
		case healthBroken, healthError:
			broken++
		case healthChecking:
			checking++
		}
	}
	s := fmt.Sprintf("%d accounts", len(m.accounts))
	if len(m.accounts) == 1 {
		s = "1 account"
	}
	if broken > 0 {
		s += fmt.Sprintf(" · %d broken", broken)
	}
	if checking > 0 {
		s += fmt.Sprintf(" · %d checking", checking)
	}
	return s
}
