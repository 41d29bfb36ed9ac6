package tui

import (
	"context"
	"errors"
	"github.com/charmbracelet/x/ansi"
	"image/color"
	"io"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

func TestBackgroundReplyRebuildsStyles(t *testing.T) {
	m := newModel(context.Background(), demoDeps(), Options{Now: clock})
	if !m.isDark {
		t.Fatal("the default should be a dark background until the terminal answers")
	}
	dark := m.styles.OK.GetForeground()
	nm, _ := m.Update(tea.BackgroundColorMsg{Color: color.RGBA{R: 250, G: 250, B: 250, A: 255}})
	m = nm.(model)
	if m.isDark {
		t.Fatal("a white background was taken for dark")
	}
	if light := m.styles.OK.GetForeground(); light == dark {
		t.Fatalf("light and dark OK colours are the same: %v", light)
	}
	nm, _ = m.Update(tea.BackgroundColorMsg{Color: color.RGBA{A: 255}})
	if !nm.(model).isDark {
		t.Fatal("a black background was taken for light")
	}
}

func TestInitAsksForBackground(t *testing.T) {
	m := newModel(context.Background(), demoDeps(), Options{Now: clock})
	batch, ok := m.Init()().(tea.BatchMsg)
	if !ok {
		t.Fatal("Init does not batch its commands")
	}
	found := false
	for _, c := range batch {
		if c == nil {
			continue
		}
		done := make(chan tea.Msg, 1)
		go func() { done <- c() }()
		select {
		case msg := <-done:
			if msg == tea.RequestBackgroundColor() {
				found = true
			}
		case <-time.After(200 * time.Millisecond): // the tick
		}
	}
	if !found {
		t.Fatal("Init does not ask the terminal for its background")
	}
}

func TestNoColorStylesHaveNoColour(t *testing.T) {
	st := NewStyles(true, true)
	for name, s := range map[string]lipgloss.Style{"OK": st.OK, "Fail": st.Fail, "Title": st.Title, "Selected": st.Selected, "Code": st.Code} {
		if _, none := s.GetForeground().(lipgloss.NoColor); !none {
			t.Errorf("%s has a foreground colour with NO_COLOR", name)
		}
		if _, none := s.GetBackground().(lipgloss.NoColor); !none {
			t.Errorf("%s has a background colour with NO_COLOR", name)
		}
	}
	if _, none := NewStyles(true, false).OK.GetForeground().(lipgloss.NoColor); none {
		t.Fatal("colour styles have no colour")
	}
}

func TestRunHonoursNoColorEnv(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	in, inW := io.Pipe()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- Run(context.Background(), demoDeps(), Options{Input: in, Output: out, Now: clock}) }()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "healthy") {
		if time.Now().After(deadline) {
			t.Fatalf("no list: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	inW.Write([]byte("q"))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	inW.Close()
	if o := out.String(); strings.Contains(o, "38;2;") || strings.Contains(o, "\x1b[38;5;") || strings.Contains(o, "\x1b[3") && strings.Contains(o, ";2;") {
		t.Fatalf("colour escapes with NO_COLOR: %q", o)
	}
}

// panicDeps panics when the first guide is fetched, after the list is up.
type panicDeps struct{ *fakeDeps }

func (p panicDeps) Guide(string) string { panic("boom") }

func TestRunRestoresTerminalAfterPanic(t *testing.T) {
	in, inW := io.Pipe()
	defer inW.Close()
	out := &syncBuffer{}
	deps := demoDeps()
	deps.gate = make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), panicDeps{deps}, Options{Input: in, Output: out, Now: clock})
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "alice@gmail") {
		if time.Now().After(deadline) {
			t.Fatalf("no list: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(deps.gate) // the verdicts arrive; fetching the guide panics
	var err error
	select {
	case err = <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after a panic")
	}
	if !errors.Is(err, tea.ErrProgramPanic) {
		t.Fatalf("Run = %v, want ErrProgramPanic", err)
	}
	if o := out.String(); !strings.Contains(o, "\x1b[?1049h") || strings.LastIndex(o, "\x1b[?1049l") < strings.LastIndex(o, "\x1b[?1049h") {
		t.Fatalf("terminal not restored after a panic: %q", out.String())
	}
}

func TestRenderMarkdown(t *testing.T) {
	st := NewStyles(true, true)
	md := "# Title here\n\nSome **bold** and `code` text with a <https://example.com/x> link and [docs](https://d.example).\n\n" +
		"1. First step that is long enough to wrap around the narrow width we give it here.\n   continued line\n" +
		"- bullet\n\n```\nverbatim  text\n```\n"
	lines := renderMarkdown(md, 30, st)
	text := strings.Join(lines, "\n")
	plain := stripSGR(text)
	for _, want := range []string{"Title here", "Some bold and code text", "https://example.com/x", "docs (https://d.example)", "1. First step", "• bullet", "  verbatim  text"} {
		if !strings.Contains(strings.ReplaceAll(plain, "\n", " "), want) && !strings.Contains(plain, want) {
			t.Errorf("rendered markdown lacks %q:\n%s", want, plain)
		}
	}
	for _, l := range strings.Split(plain, "\n") {
		if n := len([]rune(l)); n > 30 {
			t.Errorf("line wider than 30: %q", l)
		}
	}
	if strings.Contains(plain, "**") || strings.Contains(plain, "`") || strings.Contains(plain, "#") {
		t.Errorf("markup left:\n%s", plain)
	}
	// List continuation lines hang under the text, not under the marker.
	for i, l := range strings.Split(plain, "\n") {
		if strings.HasPrefix(l, "1. ") {
			next := strings.Split(plain, "\n")[i+1]
			if !strings.HasPrefix(next, "   ") || strings.HasPrefix(next, "    ") {
				t.Errorf("continuation %q is not indented by 3", next)
			}
		}
	}
	if !strings.Contains(text, "\x1b[1m") {
		t.Error("headings and bold are not bold")
	}
}

func stripSGR(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b {
			for i < len(s) && s[i] != 'm' {
				i++
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func TestTextFieldMasksAndCleansPaste(t *testing.T) {
	f := textField{mask: true}
	f.update(tea.PasteMsg{Content: "ab\x1b[31mc\r\n"})
	f.update(tea.KeyPressMsg{Code: 'd', Text: "d"})
	f.update(tea.KeyPressMsg{Code: 'x', Text: "x", Mod: tea.ModCtrl})
	if f.Value() != "ab[31mcd" {
		t.Fatalf("value %q", f.Value())
	}
	v := ansi.Strip(f.view(40, NewStyles(true, true)))
	if strings.ContainsAny(v, "abcd") || !strings.Contains(v, strings.Repeat("•", 8)) {
		t.Fatalf("masked view %q", v)
	}
	long := textField{}
	long.insert(strings.Repeat("x", 100) + "END")
	if v := ansi.Strip(long.view(20, NewStyles(true, true))); !strings.Contains(v, "END") || len([]rune(v)) > 20 {
		t.Fatalf("long field view %q (%d runes) should end with the text's end in 20 cells", v, len([]rune(v)))
	}
	long.update(tea.KeyPressMsg{Code: 'w', Mod: tea.ModCtrl})
	if long.Value() != "" {
		t.Fatalf("ctrl+w left %q", long.Value())
	}
}

// A long placeholder in a styled field keeps its escape sequences whole:
// nothing of them shows as text.
func TestFieldPlaceholderKeepsEscapesWhole(t *testing.T) {
	f := textField{placeholder: strings.Repeat("16 letters; spaces are fine (demo hint) ", 4)}
	for _, dark := range []bool{true, false} {
		v := ansi.Strip(f.view(60, NewStyles(dark, false)))
		if strings.Contains(v, "[38;") || strings.Contains(v, "[4") || strings.ContainsRune(v, 0x1b) {
			t.Fatalf("escape sequence text leaked: %q", v)
		}
	}
}
