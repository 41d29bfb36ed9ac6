package tui

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/mailmend/mailmend/core/account"
)

// fixedNow is the clock of every test, so views are deterministic.
var fixedNow = time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)

func clock() time.Time { return fixedNow }

// fakeDeps is a scripted Deps.
type fakeDeps struct {
	mu        sync.Mutex
	accounts  []AccountView
	script    map[string][]CheckEvent
	hang      map[string]bool // after the script, block until ctx ends
	gate      chan struct{}   // when set, every diagnosis waits for it to close
	guides    map[string]string
	newWizard func(kind, subject, cause string) *fakeWizard
	accErr    error
	removeErr error

	diagCalls   []string
	repairCalls []string
	addCalls    []string
	removed     []string
	accCalls    int
	cancelled   chan string // ids whose diagnosis saw ctx cancelled
	active      atomic.Int32
	maxActive   atomic.Int32
}

var _ Deps = (*fakeDeps)(nil)

func (f *fakeDeps) Accounts(ctx context.Context) ([]AccountView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.accCalls++
	if f.accErr != nil {
		return nil, f.accErr
	}
	return append([]AccountView(nil), f.accounts...), nil
}

func (f *fakeDeps) Diagnose(ctx context.Context, id string) <-chan CheckEvent {
	f.mu.Lock()
	f.diagCalls = append(f.diagCalls, id)
	script := f.script[id]
	hang := f.hang[id]
	gate := f.gate
	f.mu.Unlock()
	ch := make(chan CheckEvent)
	go func() {
		defer close(ch)
		n := f.active.Add(1)
		defer f.active.Add(-1)
		for {
			m := f.maxActive.Load()
			if n <= m || f.maxActive.CompareAndSwap(m, n) {
				break
			}
		}
		cancelled := func() {
			if f.cancelled != nil {
				f.cancelled <- id
			}
		}
		if gate != nil {
			select {
			case <-gate:
			case <-ctx.Done():
				cancelled()
				return
			}
		}
		for _, ev := range script {
			select {
			case ch <- ev:
			case <-ctx.Done():
				cancelled()
				return
			}
		}
		if hang {
			<-ctx.Done()
			cancelled()
		}
	}()
	return ch
}

func (f *fakeDeps) Guide(id string) string { return f.guides[id] }

func (f *fakeDeps) Repair(ctx context.Context, id, cause string) (Wizard, error) {
	f.mu.Lock()
	f.repairCalls = append(f.repairCalls, id+":"+cause)
	f.mu.Unlock()
	if f.newWizard == nil {
		return nil, errors.New("fake: no wizard")
	}
	w := f.newWizard("repair", id, cause)
	w.start(ctx)
	return w, nil
}

func (f *fakeDeps) Add(ctx context.Context, email string) (Wizard, error) {
	f.mu.Lock()
	f.addCalls = append(f.addCalls, email)
	f.mu.Unlock()
	if f.newWizard == nil {
		return nil, errors.New("fake: no wizard")
	}
	w := f.newWizard("add", email, "")
	w.start(ctx)
	return w, nil
}

func (f *fakeDeps) Remove(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.removeErr != nil {
		return f.removeErr
	}
	f.removed = append(f.removed, id)
	var keep []AccountView
	for _, a := range f.accounts {
		if a.ID != id {
			keep = append(keep, a)
		}
	}
	f.accounts = keep
	return nil
}

func (f *fakeDeps) calls() (diag, repair, add, removed []string, acc int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.diagCalls...), append([]string(nil), f.repairCalls...),
		append([]string(nil), f.addCalls...), append([]string(nil), f.removed...), f.accCalls
}

// fakeWizard plays a script of steps: an answer advances to the next step;
// Verify, Wait and DeviceCode advance by themselves unless hold is set. A
// reject func may answer a submitted input with another step (an Error).
type fakeWizard struct {
	script []Step
	hold   bool
	reject func(input string) Step

	steps chan Step
	ans   chan string

	mu        sync.Mutex
	answers   []string
	chosen    []int
	cancelled bool
	stop      chan struct{}
	once      sync.Once
}

func newFakeWizard(script ...Step) *fakeWizard {
	return &fakeWizard{script: script, steps: make(chan Step), ans: make(chan string, 1), stop: make(chan struct{})}
}

func (w *fakeWizard) start(ctx context.Context) {
	go func() {
		defer close(w.steps)
		i := 0
		if len(w.script) == 0 {
			return
		}
		pending := w.script[0]
		for {
			select {
			case w.steps <- pending:
			case <-w.stop:
				return
			case <-ctx.Done():
				return
			}
			if _, ok := pending.(Done); ok {
				return
			}
			auto := false
			switch pending.(type) {
			case Verify, Wait, DeviceCode:
				auto = !w.hold
			}
			if !auto {
				var a string
				select {
				case a = <-w.ans:
				case <-w.stop:
					return
				case <-ctx.Done():
					return
				}
				if w.reject != nil {
					if s := w.reject(a); s != nil {
						pending = s
						continue
					}
				}
			}
			i++
			if i >= len(w.script) {
				return
			}
			pending = w.script[i]
		}
	}()
}

func (w *fakeWizard) Steps() <-chan Step { return w.steps }

func (w *fakeWizard) Submit(input string) {
	w.mu.Lock()
	w.answers = append(w.answers, input)
	w.mu.Unlock()
	select {
	case w.ans <- input:
	case <-w.stop:
	}
}

func (w *fakeWizard) Choose(i int) {
	w.mu.Lock()
	w.chosen = append(w.chosen, i)
	w.mu.Unlock()
	select {
	case w.ans <- "":
	case <-w.stop:
	}
}

func (w *fakeWizard) Cancel() {
	w.once.Do(func() {
		w.mu.Lock()
		w.cancelled = true
		w.mu.Unlock()
		close(w.stop)
	})
}

func (w *fakeWizard) got() (answers []string, chosen []int, cancelled bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.answers...), append([]int(nil), w.chosen...), w.cancelled
}

// demoDeps is the standard fixture: a broken Google account whose grant is
// about to die, a healthy password account and a healthy Microsoft account.
func demoDeps() *fakeDeps {
	return &fakeDeps{
		accounts: []AccountView{
			{Account: account.Account{ID: "a1", Email: "alice@gmail.example", Provider: "google", Auth: account.OAuth2,
				ConsentedAt: fixedNow.Add(-6*24*time.Hour - 3*time.Hour), LastOK: fixedNow.Add(-50 * time.Hour),
				Status: account.NeedsReconnect, Cause: "token_expired"},
				ProviderName: "Gmail", GrantLifetime: 7 * 24 * time.Hour},
			{Account: account.Account{ID: "b2", Email: "bob@fastmail.example", Provider: "fastmail", Auth: account.Password,
				LastOK: fixedNow.Add(-5 * time.Minute), Status: account.Healthy},
				ProviderName: "Fastmail"},
			{Account: account.Account{ID: "c3", Email: "carol@outlook.example", Provider: "microsoft", Auth: account.OAuth2,
				ConsentedAt: fixedNow.Add(-30 * 24 * time.Hour), LastOK: fixedNow.Add(-3 * time.Hour), Status: account.Unchecked},
				ProviderName: "Microsoft"},
		},
		script: map[string][]CheckEvent{
			"a1": brokenScript(),
			"b2": healthyScript(),
			"c3": healthyScript(),
		},
		hang: map[string]bool{},
		guides: map[string]string{
			"token_expired": "# The sign-in grant expired\n\n## What happened\n\nGoogle let the **refresh token** age out. See <https://support.google.example/tokens> or run `mailmend reconnect`.\n\n## Fix it\n\n1. Press r to sign in again.\n2. Allow mail access.\n\n- **Google:** a client in Testing loses its tokens after 7 days.\n",
		},
		cancelled: make(chan string, 16),
	}
}

func healthyScript() []CheckEvent {
	return []CheckEvent{
		{Check: "dns", Started: true},
		{Check: "dns", Status: StatusOK, Duration: 4 * time.Millisecond, Detail: "resolved"},
		{Check: "imap.login", Started: true},
		{Check: "imap.login", Status: StatusOK, Duration: 210 * time.Millisecond, Detail: "logged in"},
		{Done: true, Healthy: true},
	}
}

func brokenScript() []CheckEvent {
	return []CheckEvent{
		{Check: "dns", Started: true},
		{Check: "dns", Status: StatusOK, Duration: 12 * time.Millisecond, Detail: "imap.gmail.example -> 192.0.2.10"},
		{Check: "tls", Started: true},
		{Check: "tls", Status: StatusOK, Duration: 48 * time.Millisecond, Detail: "TLS 1.3, certificate valid"},
		{Check: "oauth.refresh", Started: true},
		{Check: "oauth.refresh", Status: StatusFail, Duration: 130 * time.Millisecond,
			Detail:   "invalid_grant: Token has been expired or revoked.",
			Evidence: []string{`oauth: {"error":"invalid_grant","error_description":"Token has been expired or revoked."}`, "consent age: 6d 3h"}},
		{Check: "imap.login", Status: StatusSkip, Detail: "needs a token"},
		{Done: true, Cause: "token_expired", CauseTitle: "The refresh token expired",
			Candidates: []string{"access_revoked", "password_changed"}},
	}
}

// harness drives the root model's Update directly, running commands on
// goroutines and feeding their messages back, like the real program.
type harness struct {
	t    *testing.T
	m    model
	msgs chan tea.Msg
	quit bool
}

func newHarness(t *testing.T, deps Deps, w, h int) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	m := newModel(ctx, deps, Options{Title: "mailmend test", NoColor: true, Now: clock})
	m.tickEvery = time.Hour // ticks are sent by the tests
	hs := &harness{t: t, m: m, msgs: make(chan tea.Msg, 64)}
	hs.send(tea.WindowSizeMsg{Width: w, Height: h})
	hs.run(hs.m.Init())
	return hs
}

func (h *harness) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	go func() {
		if msg := cmd(); msg != nil {
			h.msgs <- msg
		}
	}()
}

func (h *harness) send(msg tea.Msg) {
	switch msg := msg.(type) {
	case tea.BatchMsg:
		for _, c := range msg {
			h.run(c)
		}
		return
	case tea.QuitMsg:
		h.quit = true
		return
	}
	nm, cmd := h.m.Update(msg)
	h.m = nm.(model)
	h.run(cmd)
}

// waitFor processes messages until cond holds.
func (h *harness) waitFor(what string, cond func(m model) bool) {
	h.t.Helper()
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	for !cond(h.m) {
		select {
		case msg := <-h.msgs:
			h.send(msg)
		case <-deadline.C:
			h.t.Fatalf("timed out waiting for %s; view:\n%s", what, h.view())
		}
	}
}

// settle processes messages until none arrives for a moment.
func (h *harness) settle() {
	for {
		select {
		case msg := <-h.msgs:
			h.send(msg)
		case <-time.After(40 * time.Millisecond):
			return
		}
	}
}

func (h *harness) view() string { return ansi.Strip(h.m.View().Content) }

// press sends key presses named like key.Binding keys ("enter", "j", "ctrl+c").
func (h *harness) press(keys ...string) {
	for _, k := range keys {
		h.send(keyPress(k))
	}
}

// typeText sends each rune as a key press.
func (h *harness) typeText(s string) {
	for _, r := range s {
		h.send(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

func keyPress(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "pgdown":
		return tea.KeyPressMsg{Code: tea.KeyPgDown}
	case "pgup":
		return tea.KeyPressMsg{Code: tea.KeyPgUp}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	}
	if rest, ok := strings.CutPrefix(k, "ctrl+"); ok {
		return tea.KeyPressMsg{Code: []rune(rest)[0], Mod: tea.ModCtrl}
	}
	r := []rune(k)[0]
	return tea.KeyPressMsg{Code: r, Text: k}
}

// open presses enter on the list and waits for the account screen.
func (h *harness) open() {
	h.t.Helper()
	h.press("enter")
	h.waitFor("account screen", func(m model) bool { return m.screen == screenAccount })
}

// allDone reports whether every account has a finished diagnosis.
func allDone(m model) bool {
	if m.loading || len(m.accounts) == 0 {
		return false
	}
	for _, a := range m.accounts {
		r, ok := m.runs[a.ID]
		if !ok || !r.done {
			return false
		}
	}
	return true
}
