// Package tui is mailmend's terminal interface (Bubble Tea v2): the account
// list with live health, the account screen with its check ladder, cause
// guide and repair wizard, and the add and remove flows.
//
// The package does no I/O of its own: everything comes through Deps, called
// from commands, never from Update. Long work (diagnoses, wizards) streams
// through channels read by self re-arming commands, and every piece of work
// has a cancel func on the model so Esc stops it at once. All text that can
// come from a server is sanitized before it is drawn.
package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
)

// Options configures Run. A zero Options is valid.
type Options struct {
	// Title is shown in the title bar and the window title ("mailmend demo");
	// empty means "mailmend".
	Title string
	// Input and Output replace the terminal (tests); nil means the terminal.
	Input  io.Reader
	Output io.Writer
	// NoColor draws without colour. NO_COLOR in the environment does too.
	NoColor bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Accounts, when not nil, is the account list already read: the first
	// frame shows it without waiting for Deps.Accounts (later reloads still
	// call it).
	Accounts []AccountView
}

// Run shows the TUI until the user quits or ctx is cancelled. It uses the
// alternate screen and restores the terminal on every exit, panics
// included; running work is cancelled before it returns. It returns nil
// after a normal quit, and an error wrapping ctx.Err() when ctx ended it.
func Run(ctx context.Context, deps Deps, opts Options) error {
	if deps == nil {
		return errors.New("tui: no deps")
	}
	if os.Getenv("NO_COLOR") != "" {
		opts.NoColor = true
	}
	m := newModel(ctx, deps, opts)
	// 120 frames a second: a change shows within 8 ms, the first frame too.
	popts := []tea.ProgramOption{tea.WithContext(ctx), tea.WithFPS(120)}
	if opts.Input != nil {
		popts = append(popts, tea.WithInput(opts.Input))
	}
	if opts.Output != nil {
		// A terminal reports its own size; anything else gets 80x24.
		popts = append(popts, tea.WithOutput(opts.Output), tea.WithWindowSize(80, 24))
	}
	if opts.NoColor {
		popts = append(popts, tea.WithColorProfile(colorprofile.Ascii))
	}
	p := tea.NewProgram(m, popts...)
	final, err := p.Run()
	if fm, ok := final.(model); ok {
		fm.cancelAll()
	} else {
		m.cancelAll()
	}
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, tea.ErrProgramKilled) {
			return fmt.Errorf("tui: %w", ctx.Err())
		}
		return fmt.Errorf("tui: %w", err)
	}
	return nil
}
