package tui

import (
	"context"
	"errors"

	tea "charm.land/bubbletea/v2"

	"github.com/mailmend/mailmend/core/cause"
)

// diagRun is one live diagnosis of one account: its ladder of checks as they
// arrive and, once done, the verdict.
type diagRun struct {
	gen    int
	cancel context.CancelFunc
	checks []checkRow
	done   bool
	final  CheckEvent
	ctx    context.Context
	ch     <-chan CheckEvent
}

// checkRow is one check of the ladder; running until its result arrives.
type checkRow struct {
	name    string
	running bool
	ev      CheckEvent
}

func (r *diagRun) apply(ev CheckEvent) {
	if ev.Done {
		r.done = true
		r.final = ev
		for i := range r.checks {
			if r.checks[i].running {
				r.checks[i].running = false
				r.checks[i].ev.Status = StatusSkip
			}
		}
		return
	}
	if ev.Check == "" {
		return
	}
	for i := range r.checks {
		if r.checks[i].name == ev.Check {
			r.checks[i].running = ev.Started
			if !ev.Started {
				r.checks[i].ev = ev
			}
			return
		}
	}
	row := checkRow{name: ev.Check, running: ev.Started}
	if !ev.Started {
		row.ev = ev
	}
	// Keep the ladder in the order of the protocol, not of arrival: checks
	// run side by side and finish in any order.
	at := len(r.checks)
	for i := range r.checks {
		if ladderRank(row.name) < ladderRank(r.checks[i].name) {
			at = i
			break
		}
	}
	r.checks = append(r.checks[:at], append([]checkRow{row}, r.checks[at:]...)...)
}

// ladder is the order checks are shown in; unknown names go last, in the
// order they arrive.
var ladder = []string{"dns", "tcp", "tls", "imap.greeting", "imap.capability", "imap.auth", "imap.select",
	"smtp.tcp", "smtp.tls", "smtp.greeting", "smtp.starttls", "smtp.auth", "oauth.refresh", "clock"}

func ladderRank(name string) int {
	for i, n := range ladder {
		if n == name {
			return i
		}
	}
	return len(ladder)
}

// startRun starts a diagnosis of one account unless one is running. The
// cancel func is on the model before Diagnose is even called, so Esc can
// stop it at once.
func (m *model) startRun(id string) tea.Cmd {
	if r, ok := m.runs[id]; ok && !r.done {
		return nil
	}
	m.queue = remove(m.queue, id)
	m.gen++
	ctx, cancel := context.WithCancel(m.ctx)
	m.runs[id] = &diagRun{gen: m.gen, cancel: cancel}
	deps, gen := m.deps, m.gen
	start := func() tea.Msg {
		return diagStartedMsg{id: id, gen: gen, ctx: ctx, ch: deps.Diagnose(ctx, id)}
	}
	return tea.Batch(start, m.startTick())
}

// readCheck waits for the next event of a run; it returns a closed message
// when the channel closes or the run is cancelled.
func readCheck(ctx context.Context, id string, gen int, ch <-chan CheckEvent) tea.Cmd {
	return func() tea.Msg {
		select {
		case ev, ok := <-ch:
			if !ok {
				return checkMsg{id: id, gen: gen, closed: true}
			}
			return checkMsg{id: id, gen: gen, ev: ev}
		case <-ctx.Done():
			return checkMsg{id: id, gen: gen, closed: true}
		}
	}
}

var errNoVerdict = errors.New("tui: the check ended without a verdict")

func (m model) onDiagnosis(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case diagStartedMsg:
		r, ok := m.runs[msg.id]
		if !ok || r.gen != msg.gen {
			return m, nil
		}
		if msg.ch == nil {
			r.apply(CheckEvent{Done: true, Err: errNoVerdict})
			r.cancel()
			return m, m.pump()
		}
		r.ctx, r.ch = msg.ctx, msg.ch
		return m, readCheck(r.ctx, msg.id, r.gen, r.ch)
	case checkMsg:
		r, ok := m.runs[msg.id]
		if !ok || r.gen != msg.gen || r.done {
			return m, nil
		}
		if msg.closed {
			r.apply(CheckEvent{Done: true, Err: errNoVerdict})
			r.cancel()
			return m, m.pump()
		}
		r.apply(cleanEvent(msg.ev))
		if r.done {
			r.cancel()
			m.noteVerdict(msg.id, r.final)
			return m, tea.Batch(m.pump(), m.fetchGuide(r.final.Cause))
		}
		return m, readCheck(r.ctx, msg.id, r.gen, r.ch)
	}
	return m, nil
}

// pump starts queued diagnoses while fewer than the limit run.
func (m *model) pump() tea.Cmd {
	var cmds []tea.Cmd
	for len(m.queue) > 0 && m.running() < m.limit {
		id := m.queue[0]
		m.queue = m.queue[1:]
		if _, ok := m.account(id); !ok {
			continue
		}
		cmds = append(cmds, m.startRun(id))
	}
	return tea.Batch(cmds...)
}

func (m model) running() int {
	n := 0
	for _, r := range m.runs {
		if !r.done {
			n++
		}
	}
	return n
}

// cancelRun stops the account's running diagnosis (if any) at once and
// forgets it, and drops it from the queue.
func (m *model) cancelRun(id string) {
	m.queue = remove(m.queue, id)
	if r, ok := m.runs[id]; ok && !r.done {
		r.cancel()
		delete(m.runs, id)
	}
}

// healthState is what the list shows in the health column.
type healthState int

const (
	healthUnknown healthState = iota
	healthChecking
	healthOK
	healthBroken
	healthError
)

type health struct {
	state healthState
	cause string
	title string
	err   string
}

// healthOf combines the live run (if any) with the stored status.
func healthOf(a AccountView, runs map[string]*diagRun) health {
	if r, ok := runs[a.ID]; ok {
		if !r.done {
			return health{state: healthChecking}
		}
		f := r.final
		switch {
		case f.Err != nil:
			return health{state: healthError, err: clean(f.Err.Error())}
		case f.Healthy:
			return health{state: healthOK}
		default:
			t := f.CauseTitle
			if t == "" {
				t = cause.ID(f.Cause).Title()
			}
			return health{state: healthBroken, cause: f.Cause, title: t}
		}
	}
	switch a.Status {
	case "healthy":
		return health{state: healthOK}
	case "needs_reconnect", "failing":
		return health{state: healthBroken, cause: a.Cause, title: cause.ID(a.Cause).Title()}
	}
	return health{state: healthUnknown}
}

// noteVerdict updates the listed account with a finished diagnosis, as the
// store now records it: a healthy account's last good login is now.
func (m *model) noteVerdict(id string, ev CheckEvent) {
	if ev.Err != nil {
		return
	}
	for i := range m.accounts {
		if m.accounts[i].ID != id {
			continue
		}
		if ev.Healthy {
			m.accounts[i].LastOK = m.now()
			m.accounts[i].Cause = ""
		} else {
			m.accounts[i].Cause = ev.Cause
		}
	}
}
