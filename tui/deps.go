package tui

import (
	"context"
	"time"

	"github.com/mailmend/mailmend/core/account"
)

// Deps is everything the TUI needs from the outside world. The TUI never does
// I/O itself: it calls these methods from commands (never from Update), and
// every method must be safe for concurrent use.
//
// One implementation sits over the real core packages (store, doctor, cause
// guides, wizard), another over the sandbox for `mailmend demo`.
type Deps interface {
	// Accounts returns the stored accounts in display order.
	Accounts(ctx context.Context) ([]AccountView, error)

	// Diagnose starts a live check of one account and returns at once. Events
	// arrive on the channel in order: for each check a Started event, then a
	// result event (Status set); the last event has Done set. The channel is
	// closed after the Done event. When ctx is cancelled the implementation
	// stops its checks, must not block on a send (select on ctx.Done()) and
	// closes the channel soon; the TUI stops reading at once.
	Diagnose(ctx context.Context, accountID string) <-chan CheckEvent

	// Guide returns the markdown guide of a cause id (assets/causes/<id>.md),
	// or "" when there is none.
	Guide(causeID string) string

	// Repair starts the wizard that fixes cause for the account. An empty
	// cause means a plain reconnect (replace the credential). It should return
	// quickly; slow work belongs in the wizard's steps. Cancelling ctx stops
	// the wizard just like Wizard.Cancel.
	Repair(ctx context.Context, accountID, cause string) (Wizard, error)

	// Add starts the add-account flow for an address the user typed (already
	// checked with account.ValidEmail). The wizard's steps show the detected
	// provider, ask for the auth method (Choose), take the secret or run the
	// consent, verify live (Verify) and save; its Done step says whether the
	// account was saved. Cancelling ctx stops it.
	Add(ctx context.Context, email string) (Wizard, error)

	// Remove deletes the account and its secrets from the store.
	Remove(ctx context.Context, accountID string) error
}

// AccountView is one row of the account list: the stored account plus what
// the list needs to warn about an OAuth grant that is about to die.
type AccountView struct {
	account.Account
	// ProviderName is the provider's display name; "" shows Provider.
	ProviderName string
	// GrantLifetime is how long an OAuth grant lives after ConsentedAt when
	// the provider limits it (7 days for a Google OAuth client in "Testing");
	// zero means no known limit.
	GrantLifetime time.Duration
}

// CheckStatus is the result of one finished check.
type CheckStatus string

// The check results, as `doctor --json` reports them.
const (
	StatusOK   CheckStatus = "ok"
	StatusWarn CheckStatus = "warn"
	StatusFail CheckStatus = "fail"
	StatusSkip CheckStatus = "skip"
)

// CheckEvent is one step of a live diagnosis. A Started event announces a
// running check (only Check is set); a result event carries Status,
// Duration, Detail and Evidence. The final event has Done set and carries the
// verdict (Healthy, or Cause with CauseTitle and other Candidates), or Err
// when the diagnosis could not run at all (store locked, account gone).
// All text may come from servers: the TUI sanitizes it before display.
type CheckEvent struct {
	Check    string
	Started  bool
	Status   CheckStatus
	Duration time.Duration
	Detail   string
	Evidence []string

	Done       bool
	Healthy    bool
	Cause      string
	CauseTitle string
	Candidates []string
	Err        error
}

// Wizard is a running step machine that repairs or adds an account. It is
// UI-agnostic: the TUI shows each Step and answers it.
//
// Steps advance asynchronously (a step may run a live test or wait for the
// browser), so they arrive on a channel. Submit and Choose answer the current
// step and may block briefly; the TUI calls them from commands, never from
// Update, and sends at most one answer per step. Cancel is called from Update
// and must return at once.
type Wizard interface {
	// Steps delivers the steps in order, starting with the first. Each step
	// replaces the one before it. The channel is closed after a Done step or
	// after Cancel.
	Steps() <-chan Step

	// Submit answers the current step: the secret of a SecretInput, a pasted
	// redirect URL of a WaitBrowser, or "" to continue past Explain and
	// OpenURL. A rejected answer comes back as the same kind of step with
	// Error set.
	Submit(input string)

	// Choose answers a Choose step with the index of an option.
	Choose(index int)

	// Cancel stops the wizard and everything it runs (consent listener, live
	// test), and closes Steps. It is safe to call more than once.
	Cancel()
}

// Step is one screen of a wizard. Its concrete type is one of Explain,
// OpenURL, SecretInput, WaitBrowser, DeviceCode, Choose, Wait, Verify, Done.
type Step interface{ isStep() }

// Explain shows text; the user continues with Submit("").
type Explain struct {
	Title string
	// Body is markdown (headings, lists, **bold**, `code`, <links>).
	Body string
}

// OpenURL asks the user to do something on a web page (make an app
// password, publish an OAuth client). The wizard opens the browser itself
// when it can; the TUI always shows the URL to copy. Submit("") continues.
type OpenURL struct {
	URL string
	Why string
}

// SecretInput asks for a secret (password, app password, client secret). The
// TUI shows a masked field that accepts paste and sends the value with Submit.
type SecretInput struct {
	Label string
	// Hint is the format rule in words ("16 letters, spaces are ignored").
	Hint string
	// Mask hides what is typed; false shows it (user names, client ids).
	Mask bool
	// Error says why the previous answer was rejected; "" the first time.
	Error string
}

// WaitBrowser waits for the OAuth consent in the browser to come back to the
// loopback listener. The wizard advances by itself when it does; with
// PasteAllowed the user may instead paste the URL the browser ended on
// (Submit(url)), which is how consent works over SSH.
type WaitBrowser struct {
	URL          string
	PasteAllowed bool
	// SSHHint says how to finish when the browser runs on another machine.
	SSHHint string
	// Error says why a pasted URL was rejected; "" the first time.
	Error string
}

// DeviceCode shows a code to enter at URL (OAuth device flow). The wizard
// advances by itself when the user has approved.
type DeviceCode struct {
	Code string
	URL  string
}

// Choose offers options; the user answers with Choose(index).
type Choose struct {
	Title   string
	Options []string
}

// Wait shows a countdown until Until (rate limit, provider down); the wizard
// advances by itself.
type Wait struct {
	Until  time.Time
	Reason string
}

// Verify says a live test is running; the wizard advances by itself.
type Verify struct {
	// What is being tested ("IMAP login with the new app password").
	What string
}

// Done ends the wizard. Success means the account works and was saved.
type Done struct {
	Success bool
	Message string
}

func (Explain) isStep()     {}
func (OpenURL) isStep()     {}
func (SecretInput) isStep() {}
func (WaitBrowser) isStep() {}
func (DeviceCode) isStep()  {}
func (Choose) isStep()      {}
func (Wait) isStep()        {}
func (Verify) isStep()      {}
func (Done) isStep()        {}
