package main

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/cause"
	"github.com/mailmend/mailmend/core/doctor"
	"github.com/mailmend/mailmend/core/probe"
	"github.com/mailmend/mailmend/core/provider"
	"github.com/mailmend/mailmend/core/sanitize"
	"github.com/mailmend/mailmend/core/store"
	"github.com/mailmend/mailmend/tui"
)

// tuiDeps implements tui.Deps over the core: the store, the doctor, the
// cause guides and the repair wizards.
type tuiDeps struct {
	app *app
	st  *store.Store
	doc *doctor.Doctor
	cat *provider.Catalog
	// wizards builds the repair and add wizards.
	wizards wizardFactory

	// initial is the list read at start-up, handed to the first Accounts
	// call so the first frame costs one read of the index, not two; pending
	// delivers it when the read was still running as the TUI started.
	initialMu sync.Mutex
	initial   []account.Account
	pending   <-chan listResult
	// known is the last list by id: a diagnosis starts from it instead of
	// reading the whole index again (1,000 accounts, 1,000 checks).
	known map[string]account.Account
}

// lookup returns the account from the last list, or reads it.
func (d *tuiDeps) lookup(ctx context.Context, id string) (account.Account, error) {
	d.initialMu.Lock()
	a, ok := d.known[id]
	d.initialMu.Unlock()
	if ok {
		return a, nil
	}
	return d.st.Find(ctx, id)
}

// listResult is the outcome of reading the account list.
type listResult struct {
	accts []account.Account
	err   error
}

var _ tui.Deps = (*tuiDeps)(nil)

func (d *tuiDeps) Accounts(ctx context.Context) ([]tui.AccountView, error) {
	d.initialMu.Lock()
	accts, pending := d.initial, d.pending
	d.initial, d.pending = nil, nil
	d.initialMu.Unlock()
	if pending != nil {
		select {
		case r := <-pending:
			if r.err != nil {
				return nil, r.err
			}
			accts = r.accts
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if accts == nil {
		var err error
		if accts, err = d.st.List(ctx); err != nil {
			return nil, err
		}
	}
	known := make(map[string]account.Account, len(accts))
	for _, a := range accts {
		known[a.ID] = a
	}
	d.initialMu.Lock()
	d.known = known
	d.initialMu.Unlock()
	out := make([]tui.AccountView, 0, len(accts))
	for _, a := range accts {
		v := tui.AccountView{Account: a}
		if p, ok := d.cat.Get(a.Provider); ok {
			v.ProviderName = p.Name
		}
		if a.Auth == account.OAuth2 && a.Provider == "google" && (a.Cause == string(cause.OAuthAppInTesting) || d.app.inTesting(a)) {
			v.GrantLifetime = doctor.TestingLifetime
		}
		out = append(out, v)
	}
	return out, nil
}

func (d *tuiDeps) Diagnose(ctx context.Context, accountID string) <-chan tui.CheckEvent {
	out := make(chan tui.CheckEvent, 16)
	go func() {
		defer close(out)
		send := func(ev tui.CheckEvent) bool {
			select {
			case out <- ev:
				return true
			case <-ctx.Done():
				return false
			}
		}
		a, err := d.lookup(ctx, accountID)
		if err != nil {
			send(tui.CheckEvent{Done: true, Err: err})
			return
		}
		events := make(chan doctor.Event, 32)
		done := make(chan doctor.Report, 1)
		go func() {
			done <- d.doc.Check(ctx, a, events)
			close(events)
		}()
		for ev := range events {
			switch ev.Kind {
			case doctor.Started:
				send(tui.CheckEvent{Check: ev.Check, Started: true})
			case doctor.Finished:
				send(checkEvent(ev.Result))
			}
		}
		rep := <-done
		if ctx.Err() != nil {
			return
		}
		d.app.record(context.WithoutCancel(ctx), rep)
		final := tui.CheckEvent{Done: true, Healthy: rep.Healthy}
		if !rep.Healthy {
			final.Cause = string(rep.Diagnosis.Cause)
			final.CauseTitle = rep.Diagnosis.Title
			for _, c := range rep.Diagnosis.Candidates {
				final.Candidates = append(final.Candidates, string(c))
			}
			for _, e := range rep.Diagnosis.Evidence {
				final.Evidence = append(final.Evidence, sanitize.Line(string(e.Kind)+" "+e.Code+": "+e.Text))
			}
		}
		send(final)
	}()
	return out
}

// checkEvent turns a probe result into the TUI's event.
func checkEvent(r probe.Result) tui.CheckEvent {
	ev := tui.CheckEvent{Check: r.Name, Status: tui.CheckStatus(r.Status.String()), Duration: r.Duration, Detail: r.Detail}
	for _, e := range r.Evidence {
		ev.Evidence = append(ev.Evidence, sanitize.Line(string(e.Kind)+" "+e.Code+": "+e.Text))
	}
	return ev
}

func (d *tuiDeps) Guide(causeID string) string { return guide(cause.ID(causeID)) }

func (d *tuiDeps) Repair(ctx context.Context, accountID, causeID string) (tui.Wizard, error) {
	if d.wizards == nil {
		return nil, errors.New("repairs are not available here; use 'mailmend reconnect'")
	}
	return d.wizards.repair(ctx, accountID, cause.ID(causeID))
}

func (d *tuiDeps) Add(ctx context.Context, email string) (tui.Wizard, error) {
	if d.wizards == nil {
		return nil, errors.New("adding is not available here; use 'mailmend add'")
	}
	return d.wizards.add(ctx, email)
}

func (d *tuiDeps) Remove(ctx context.Context, accountID string) error {
	return d.st.Remove(ctx, accountID)
}

// wizardFactory starts wizards for the TUI.
type wizardFactory interface {
	repair(ctx context.Context, accountID string, id cause.ID) (tui.Wizard, error)
	add(ctx context.Context, email string) (tui.Wizard, error)
}

// needTerminal refuses to draw the TUI into a pipe or a file.
func needTerminal(a *app, what string) error {
	if a.env.StdoutTTY {
		return nil
	}
	return usageErrorf("%s needs a terminal; not on one, use 'mailmend list', 'mailmend doctor' or 'mailmend --help'", what)
}

// storeFailFast is how long the TUI waits for the account list before it
// starts drawing: an unreachable store answers within it.
const storeFailFast = 15 * time.Millisecond

// runTUI opens the account list over the configured store.
func runTUI(ctx context.Context, a *app) error {
	if err := needTerminal(a, "the account list"); err != nil {
		return err
	}
	st, err := a.store()
	if err != nil {
		return storeErr(err)
	}
	// Read the list while the terminal UI starts: both take tens of
	// milliseconds. A store that fails at once is reported before the UI
	// takes the screen; one that fails later shows in the list.
	listed := make(chan listResult, 1)
	go func() {
		accts, err := st.List(ctx)
		listed <- listResult{accts, err}
	}()
	doc, err := a.doctor()
	if err != nil {
		return err
	}
	deps := &tuiDeps{app: a, st: st, doc: doc, cat: a.catalog}
	deps.wizards = a.newWizardFactory(st)
	var views []tui.AccountView
	select {
	case r := <-listed:
		if r.err != nil {
			return storeErr(r.err)
		}
		deps.initial = r.accts
		if views, err = deps.Accounts(ctx); err != nil {
			return storeErr(err)
		}
	case <-time.After(storeFailFast):
		deps.pending = listed
	}
	err = tui.Run(ctx, deps, tui.Options{Title: "mailmend", Accounts: views})
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
