package wizard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/cause"
	"github.com/mailmend/mailmend/core/guard"
	"github.com/mailmend/mailmend/core/oauth"
	"github.com/mailmend/mailmend/core/probe"
	"github.com/mailmend/mailmend/core/provider"
	"github.com/mailmend/mailmend/core/store"
)

// Errors the Wizard's methods return (test with errors.Is).
var (
	// ErrClosed means the wizard ended: it showed Done or was cancelled.
	ErrClosed = errors.New("wizard: ended")
	// ErrNoInput means the current step takes no answer (Working, Wait,
	// DeviceCode, Done) or the wizard has not shown a step yet.
	ErrNoInput = errors.New("wizard: the current step takes no answer")
	// ErrBusy means an answer to the current step is already being handled.
	ErrBusy = errors.New("wizard: an answer to this step is already pending")
	// ErrNoOption means Choose got an index outside the options.
	ErrNoOption = errors.New("wizard: no such option")
)

// VerifyFunc re-tests an account live (the doctor's check). It reports
// whether the account is healthy, and the diagnosis when it is not. err is
// for failures to test at all (store unavailable), not for a failing
// account. The account given may differ from the stored one (new settings
// under test); the credential is read from the store by its id.
type VerifyFunc func(ctx context.Context, a account.Account) (healthy bool, diag cause.Diagnosis, err error)

// Env is everything a wizard works with. Account, Store and Provider are
// required; every other field has a default or may be left empty.
type Env struct {
	// Account is the account to repair. An empty ID means a new account
	// (`mailmend add`): it is saved with Store.Save once its credential
	// verified. Only the password and consent wizards take a new account.
	Account account.Account
	// Store receives the verified credential and account changes.
	Store *store.Store
	// Provider is the account's catalog entry.
	Provider provider.Provider
	// OAuth is the resolved OAuth client (endpoints, client id, redirect
	// port, HTTP client with TLS roots). An empty ClientID makes the consent
	// wizards ask for a client id and secret first.
	OAuth oauth.Config
	// Probe configures the live IMAP logins (TLS roots, timeouts).
	Probe probe.Options
	// Guard, when set, limits failing logins (3 per account per 15 min).
	Guard *guard.Guard
	// Verify re-tests the account; nil means the wizards that need it (the
	// re-test after a settings change, clock fix or wait) report that no
	// test is available.
	Verify VerifyFunc
	// Diagnosis is what the doctor found: its evidence is shown.
	Diagnosis cause.Diagnosis
	// ClockOffset is the measured local clock error when ClockMeasured.
	ClockOffset   time.Duration
	ClockMeasured bool
	// ClockURL is the HTTPS address whose Date header the clock wizard
	// measures against; "" means the scheme and host of OAuth.TokenURL.
	ClockURL string
	// HTTPClient makes the clock measurement; nil means OAuth.HTTPClient,
	// then a default client.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Sleep waits d or until ctx ends (Wait steps); nil means a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Getenv looks up environment variables (SSH_CONNECTION for the SSH
	// hint); nil means none are set.
	Getenv func(string) string
	// Browser opens a URL; nil means the wizard never opens one itself
	// (the URL is always shown).
	Browser func(url string) error
	// NoBrowser forbids opening a browser even when Browser is set.
	NoBrowser bool
	// Device prefers the device-code sign-in where the provider has one
	// (never for Google).
	Device bool
	// GOOS picks the clock-sync instructions shown first; "" means the
	// running system's.
	GOOS string
}

// Wizard is one running step machine. Its methods are safe for concurrent
// use. A Wizard runs once: Start (or the first Next) runs it until it
// shows Done or its context ends.
type Wizard struct {
	id    cause.ID
	env   Env
	steps chan Step
	// answers carries at most one pending answer for the step numbered seq.
	answers chan answer
	ended   chan struct{}

	mu        sync.Mutex
	cur       Step
	seq       uint64
	started   bool
	cancelled bool
	cancel    context.CancelFunc
	err       error
	done      *Done
	saved     *account.Account
}

type answer struct {
	seq  uint64
	text string
}

// Reconnect is the pseudo cause For takes for a plain reconnect: replace
// the credential (a password prompt for password accounts, a new consent
// for OAuth accounts). The empty string means the same.
const Reconnect cause.ID = "reconnect"

// For returns the wizard that fixes cause id for env.Account, not yet
// running. id is a catalog cause, or Reconnect / "" for a plain reconnect.
// It fails for an unknown id, a missing store, an invalid account, or a new
// account (empty ID) given to a wizard that repairs settings.
func For(id cause.ID, env Env) (*Wizard, error) {
	if id == "" {
		id = Reconnect
	}
	if id != Reconnect && !cause.Known(id) {
		return nil, fmt.Errorf("wizard: unknown cause %q", id)
	}
	if env.Store == nil {
		return nil, errors.New("wizard: no credential store")
	}
	if !account.ValidEmail(env.Account.Email) {
		return nil, fmt.Errorf("wizard: %q is not a valid email address", env.Account.Email)
	}
	if env.Account.ID == "" && !takesNewAccount(id) {
		return nil, fmt.Errorf("wizard: %s repairs a stored account; this one has no id", id)
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.Sleep == nil {
		env.Sleep = sleep
	}
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	return &Wizard{
		id:      id,
		env:     env,
		steps:   make(chan Step),
		answers: make(chan answer, 1),
		ended:   make(chan struct{}),
	}, nil
}

// takesNewAccount reports whether the wizard for id can add an account.
func takesNewAccount(id cause.ID) bool {
	switch id {
	case Reconnect, cause.WrongPassword, cause.AppPasswordRequired:
		return true
	}
	return usesConsent(id)
}

// Cause returns the cause the wizard fixes (Reconnect for a plain one).
func (w *Wizard) Cause() cause.ID { return w.id }

// Start runs the wizard in its own goroutine until it shows Done, ctx ends
// or Cancel is called. Calling it again does nothing. Steps arrive on
// Steps (or through Next); the wizard waits for each to be received, so
// the caller must keep reading until the channel is closed, or cancel.
func (w *Wizard) Start(ctx context.Context) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started {
		return
	}
	w.started = true
	ctx, cancel := context.WithCancel(ctx)
	w.cancel = cancel
	if w.cancelled {
		cancel()
	}
	go w.run(ctx)
}

// Steps delivers the steps in order; each replaces the one before. It is
// closed after Done, or when the wizard was cancelled (then Err says why).
func (w *Wizard) Steps() <-chan Step { return w.steps }

// Next waits for the wizard's next step; ctx bounds only this wait. A
// wizard not started yet is started first, detached from ctx's
// cancellation (stop it with Cancel). It returns ErrClosed once the wizard
// ended, and ctx's error when ctx ends first. A Bubble Tea model calls it
// inside a tea.Cmd.
func (w *Wizard) Next(ctx context.Context) (Step, error) {
	w.Start(context.WithoutCancel(ctx))
	select {
	case s, ok := <-w.steps:
		if !ok {
			return nil, ErrClosed
		}
		return s, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Current returns the step shown last, or nil before the first.
func (w *Wizard) Current() Step {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cur
}

// Submit answers the current step and returns at once: "" continues past
// Explain and OpenURL, a value answers SecretInput and TextInput, a pasted
// address answers Consent ("" opens the browser again), an option key or
// 1-based number answers Choose. The wizard checks the answer; a rejected
// one comes back as the same kind of step with Error set. It fails with
// ErrNoInput when the current step takes no answer, ErrBusy when one is
// already pending, ErrClosed after the end.
func (w *Wizard) Submit(input string) error {
	w.mu.Lock()
	cur, seq, ended := w.cur, w.seq, w.done != nil || w.err != nil
	w.mu.Unlock()
	if ended {
		return ErrClosed
	}
	if cur == nil || !acceptsInput(cur) {
		return ErrNoInput
	}
	select {
	case w.answers <- answer{seq: seq, text: input}:
		return nil
	default:
		return ErrBusy
	}
}

// Choose answers the current Choose step with the option at index.
func (w *Wizard) Choose(index int) error {
	c, ok := w.Current().(Choose)
	if !ok {
		return ErrNoInput
	}
	if index < 0 || index >= len(c.Options) {
		return ErrNoOption
	}
	return w.Submit(c.Options[index].Key)
}

// Cancel stops the wizard and whatever it runs (sign-in listener, live
// test, wait) and closes Steps. Nothing is written to the store unless a
// verified credential was already being saved. It returns at once and is
// safe to call more than once, also before Start.
func (w *Wizard) Cancel() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cancelled = true
	if w.cancel != nil {
		w.cancel()
	}
}

// Wait blocks until the wizard ended (after Done or cancellation) or ctx
// ends.
func (w *Wizard) Wait(ctx context.Context) error {
	select {
	case <-w.ended:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Err returns why the wizard stopped without Done (its context's error),
// or nil.
func (w *Wizard) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Outcome returns the Done step once the wizard showed it.
func (w *Wizard) Outcome() (Done, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done == nil {
		return Done{}, false
	}
	return *w.done, true
}

// Account returns the account as saved by the wizard (with its id for a
// new account), and false when nothing was saved.
func (w *Wizard) Account() (account.Account, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.saved == nil {
		return account.Account{}, false
	}
	return *w.saved, true
}

// run drives the machine and ends with Done.
func (w *Wizard) run(ctx context.Context) {
	defer close(w.ended)
	defer close(w.steps)
	defer w.cancel()
	d, err := w.machine(ctx)
	if err != nil {
		if ctx.Err() != nil {
			w.mu.Lock()
			w.err = ctx.Err()
			w.mu.Unlock()
			return
		}
		d = Done{Message: errText(err)}
	}
	w.mu.Lock()
	w.done = &d
	w.mu.Unlock()
	_ = w.show(ctx, d)
}

// show makes s the current step and hands it to the reader.
func (w *Wizard) show(ctx context.Context, s Step) error {
	w.mu.Lock()
	w.seq++
	w.cur = s
	w.mu.Unlock()
	select { // drop an answer meant for an earlier step
	case <-w.answers:
	default:
	}
	select {
	case w.steps <- s:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// await returns the answer to the current step.
func (w *Wizard) await(ctx context.Context) (string, error) {
	for {
		select {
		case a := <-w.answers:
			if w.isCurrent(a) {
				return a.text, nil
			}
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

func (w *Wizard) isCurrent(a answer) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return a.seq == w.seq
}

// ask shows s and returns its answer.
func (w *Wizard) ask(ctx context.Context, s Step) (string, error) {
	if err := w.show(ctx, s); err != nil {
		return "", err
	}
	return w.await(ctx)
}

// choose shows c and returns the key of the option picked (by key or by
// 1-based number); anything else asks again.
func (w *Wizard) choose(ctx context.Context, c Choose) (string, error) {
	for {
		in, err := w.ask(ctx, c)
		if err != nil {
			return "", err
		}
		in = strings.TrimSpace(in)
		for i, o := range c.Options {
			if strings.EqualFold(in, o.Key) || in == strconv.Itoa(i+1) {
				return o.Key, nil
			}
		}
		c.Error = "Pick one of the options."
	}
}

// now is the environment's clock.
func (w *Wizard) now() time.Time { return w.env.Now() }

// waitFor shows a Wait step and sleeps until it is over.
func (w *Wizard) waitFor(ctx context.Context, d time.Duration, reason string) error {
	if err := w.show(ctx, Wait{Until: w.now().Add(d), Reason: reason}); err != nil {
		return err
	}
	return w.env.Sleep(ctx, d)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// open opens url in the browser when the environment allows it and
// reports whether it did.
func (w *Wizard) open(url string) bool {
	if url == "" || w.env.NoBrowser || w.env.Browser == nil {
		return false
	}
	return w.env.Browser(url) == nil
}

// guardKey names the account in the lockout guard: its id, or for a new
// account a digest of the address (as `mailmend add` does).
func guardKey(a account.Account) string {
	if a.ID != "" {
		return a.ID
	}
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(a.Email))))
	return "addr-" + hex.EncodeToString(sum[:8])
}

// machine runs the wizard for w.id and returns its Done step.
func (w *Wizard) machine(ctx context.Context) (Done, error) {
	switch id := w.id; {
	case id == Reconnect:
		if w.env.Account.Auth == account.OAuth2 {
			return w.reconsent(ctx, false, "")
		}
		return w.password(ctx, false)
	case id == cause.WrongPassword || id == cause.AppPasswordRequired:
		return w.password(ctx, true)
	case id == cause.OAuthAppInTesting:
		return w.appInTesting(ctx)
	case id == cause.RedirectURIMismatch:
		return w.redirectMismatch(ctx)
	case id == cause.InvalidClient:
		return w.invalidClient(ctx)
	case plainConsent(id):
		return w.reconsent(ctx, true, "")
	case id == cause.ClockSkew:
		return w.clock(ctx)
	case id == cause.WrongSettings:
		return w.settings(ctx)
	case id == cause.ProviderUnavailable || id == cause.RateLimited:
		return w.backoff(ctx)
	case id == cause.AccountBlocked:
		return w.blocked(ctx)
	case id == cause.BasicAuthDisabled:
		return w.basicAuth(ctx)
	case id == cause.ProtocolDisabled:
		return w.protocol(ctx)
	default:
		return w.unknown(ctx)
	}
}

// plainConsent reports whether id is fixed by a new consent alone.
func plainConsent(id cause.ID) bool {
	switch id {
	case cause.PasswordChanged, cause.AccessRevoked, cause.TokenExpired,
		cause.InteractionRequired, cause.ConsentRequired, cause.CodeInvalid,
		cause.InsufficientScope:
		return true
	}
	return false
}

// usesConsent reports whether the wizard for id ends in a browser consent.
func usesConsent(id cause.ID) bool {
	switch id {
	case cause.PasswordChanged, cause.AccessRevoked, cause.TokenExpired,
		cause.InteractionRequired, cause.ConsentRequired, cause.CodeInvalid,
		cause.InsufficientScope, cause.OAuthAppInTesting, cause.RedirectURIMismatch,
		cause.InvalidClient, cause.BasicAuthDisabled:
		return true
	}
	return false
}

// visit shows an OpenURL step for url, opening the browser on it first
// when one may be opened, and waits until the user goes on.
func (w *Wizard) visit(ctx context.Context, url, label, why string) error {
	step := OpenURL{URL: url, Label: label, Why: why}
	step.Opened = w.open(url)
	_, err := w.ask(ctx, step)
	return err
}
