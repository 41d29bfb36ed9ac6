package tui

import (
	"image/color"

	"charm.land/bubbles/v2/help"
	"charm.land/lipgloss/v2"
)

// palette is the handful of colours the TUI uses.
type palette struct {
	accent, dim, ok, warn, fail, selBG, selFG color.Color
}

func newPalette(isDark bool) palette {
	ld := lipgloss.LightDark(isDark)
	return palette{
		accent: ld(lipgloss.Color("#5A3FC0"), lipgloss.Color("#A48CF2")),
		dim:    ld(lipgloss.Color("#6B6B6B"), lipgloss.Color("#8A8A8A")),
		ok:     ld(lipgloss.Color("#1B7F3B"), lipgloss.Color("#5FD787")),
		warn:   ld(lipgloss.Color("#9A6700"), lipgloss.Color("#E5C07B")),
		fail:   ld(lipgloss.Color("#C4272B"), lipgloss.Color("#FF6B6B")),
		selBG:  ld(lipgloss.Color("#E4DEFA"), lipgloss.Color("#3B3358")),
		selFG:  ld(lipgloss.Color("#1A1A1A"), lipgloss.Color("#FFFFFF")),
	}
}

// Styles is every style the screens use, built once per background colour
// (and once for NO_COLOR) and passed down.
type Styles struct {
	Title    lipgloss.Style
	Header   lipgloss.Style
	Dim      lipgloss.Style
	OK       lipgloss.Style
	Warn     lipgloss.Style
	Fail     lipgloss.Style
	Selected lipgloss.Style
	Bold     lipgloss.Style
	Heading  lipgloss.Style
	Code     lipgloss.Style
	Input    lipgloss.Style
	Help     help.Styles
}

// NewStyles builds the styles for a dark or light background. With noColor
// the styles use no colour at all (bold and reverse only), honouring NO_COLOR.
func NewStyles(isDark, noColor bool) Styles {
	if noColor {
		plain := lipgloss.NewStyle()
		bold := plain.Bold(true)
		return Styles{
			Title: bold, Header: bold, Dim: plain, OK: plain, Warn: bold, Fail: bold,
			Selected: plain.Reverse(true), Bold: bold, Heading: bold, Code: plain,
			Input: plain.Underline(true),
			Help: help.Styles{
				Ellipsis: plain, ShortKey: bold, ShortDesc: plain, ShortSeparator: plain,
				FullKey: bold, FullDesc: plain, FullSeparator: plain,
			},
		}
	}
	p := newPalette(isDark)
	base := lipgloss.NewStyle()
	return Styles{
		Title:    base.Bold(true).Foreground(p.accent),
		Header:   base.Bold(true).Foreground(p.dim),
		Dim:      base.Foreground(p.dim),
		OK:       base.Foreground(p.ok),
		Warn:     base.Foreground(p.warn),
		Fail:     base.Foreground(p.fail).Bold(true),
		Selected: base.Background(p.selBG).Foreground(p.selFG),
		Bold:     base.Bold(true),
		Heading:  base.Bold(true).Foreground(p.accent),
		Code:     base.Foreground(p.accent),
		Input:    base.Underline(true),
		Help:     help.DefaultStyles(isDark),
	}
}
