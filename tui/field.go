package tui

import (
	"strings"
	"unicode"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// textField is a one-line input that takes typed keys and bracketed paste.
// With mask set it shows one bullet per character and never the text.
type textField struct {
	value       []rune
	mask        bool
	placeholder string
}

// update applies a key press or paste to the field and reports whether it
// consumed the message.
func (f *textField) update(msg tea.Msg) bool {
	switch msg := msg.(type) {
	case tea.PasteMsg:
		f.insert(msg.Content)
		return true
	case tea.KeyPressMsg:
		switch msg.String() {
		case "backspace", "ctrl+h":
			if len(f.value) > 0 {
				f.value = f.value[:len(f.value)-1]
			}
			return true
		case "ctrl+u":
			f.value = nil
			return true
		case "ctrl+w":
			v := strings.TrimRightFunc(string(f.value), unicode.IsSpace)
			if i := strings.LastIndexFunc(v, unicode.IsSpace); i >= 0 {
				f.value = []rune(v[:i+1])
			} else {
				f.value = nil
			}
			return true
		}
		if msg.Text != "" && msg.Mod&(tea.ModCtrl|tea.ModAlt) == 0 {
			f.insert(msg.Text)
			return true
		}
	}
	return false
}

// insert appends s without control characters (a pasted secret often ends
// with a newline).
func (f *textField) insert(s string) {
	for _, r := range s {
		if unicode.IsControl(r) {
			continue
		}
		f.value = append(f.value, r)
	}
}

// Value returns the text.
func (f textField) Value() string { return string(f.value) }

// reset clears the text.
func (f *textField) reset() { f.value = nil }

// view renders the field in width cells, showing the end of long text and a
// block cursor.
func (f textField) view(width int, st Styles) string {
	if width < 4 {
		width = 4
	}
	var s string
	switch {
	case len(f.value) == 0:
		s = st.Dim.Render(clip(f.placeholder, width-3))
	case f.mask:
		s = strings.Repeat("•", len(f.value))
	default:
		s = string(f.value)
	}
	if inner := width - 3; len(f.value) > 0 && ansi.StringWidth(s) > inner {
		s = "…" + ansi.TruncateLeft(s, ansi.StringWidth(s)-(inner-1), "")
	}
	if len(f.value) > 0 {
		// Styled here, not around the whole field: an underline style
		// wrapped around the already styled placeholder would cut its
		// escape sequences apart.
		s = st.Input.Render(s)
	}
	return "> " + s + "█"
}
