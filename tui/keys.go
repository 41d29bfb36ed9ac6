package tui

import "charm.land/bubbles/v2/key"

// KeyMap holds every key binding of the TUI. Build it with DefaultKeyMap;
// match with key.Matches. It implements help.KeyMap for the account list.
type KeyMap struct {
	Up, Down         key.Binding
	PageUp, PageDown key.Binding
	Open             key.Binding
	Expand           key.Binding
	Diagnose         key.Binding
	Repair           key.Binding
	Add              key.Binding
	Remove           key.Binding
	Filter           key.Binding
	Back             key.Binding
	Help             key.Binding
	Quit             key.Binding
	ForceQuit        key.Binding
	Confirm, Deny    key.Binding
	Submit           key.Binding
}

// DefaultKeyMap returns the standard bindings: arrows and j/k move, enter
// opens, d diagnoses, r repairs, a adds, x removes, / filters, esc goes back
// and cancels running work, ? toggles full help, q and ctrl+c quit.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Up:        key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:      key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:    key.NewBinding(key.WithKeys("pgup", "ctrl+b"), key.WithHelp("pgup", "scroll up")),
		PageDown:  key.NewBinding(key.WithKeys("pgdown", "ctrl+f"), key.WithHelp("pgdn", "scroll down")),
		Open:      key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open")),
		Expand:    key.NewBinding(key.WithKeys("enter", "space"), key.WithHelp("enter", "evidence")),
		Diagnose:  key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "diagnose")),
		Repair:    key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "repair")),
		Add:       key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "add")),
		Remove:    key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "remove")),
		Filter:    key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Back:      key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back/cancel")),
		Help:      key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:      key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit")),
		ForceQuit: key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit")),
		Confirm:   key.NewBinding(key.WithKeys("y", "enter"), key.WithHelp("y", "yes")),
		Deny:      key.NewBinding(key.WithKeys("n", "esc"), key.WithHelp("n", "no")),
		Submit:    key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "continue")),
	}
}

// ShortHelp is the one-line help of the account list.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Open, k.Diagnose, k.Repair, k.Add, k.Remove, k.Filter, k.Help, k.Quit}
}

// FullHelp is the full help of the account list, in columns.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown},
		{k.Open, k.Diagnose, k.Repair, k.Filter},
		{k.Add, k.Remove, k.Back},
		{k.Help, k.Quit, k.ForceQuit},
	}
}

// helpKeys is a help.KeyMap for one screen or mode.
type helpKeys struct {
	short []key.Binding
	full  [][]key.Binding
}

func (h helpKeys) ShortHelp() []key.Binding  { return h.short }
func (h helpKeys) FullHelp() [][]key.Binding { return h.full }

// accountHelp is the help of the account screen without a wizard.
func (k KeyMap) accountHelp() helpKeys {
	return helpKeys{
		short: []key.Binding{k.Up, k.Down, k.Expand, k.Diagnose, k.Repair, k.Back, k.Help},
		full: [][]key.Binding{
			{k.Up, k.Down, k.Expand},
			{k.PageUp, k.PageDown},
			{k.Diagnose, k.Repair},
			{k.Back, k.Quit, k.ForceQuit},
		},
	}
}

// inputHelp is the help while a text field or wizard has the keyboard.
func (k KeyMap) inputHelp(submit string) helpKeys {
	s := k.Submit
	s.SetHelp("enter", submit)
	b := k.Back
	b.SetHelp("esc", "cancel")
	return helpKeys{
		short: []key.Binding{s, b, k.ForceQuit},
		full:  [][]key.Binding{{s, b, k.ForceQuit}},
	}
}

// confirmHelp is the help of a yes/no question.
func (k KeyMap) confirmHelp() helpKeys {
	return helpKeys{
		short: []key.Binding{k.Confirm, k.Deny},
		full:  [][]key.Binding{{k.Confirm, k.Deny}},
	}
}
