// Package doctor runs the live checks of an account along their critical
// path and turns what they saw into a Report with a diagnosis.
//
// The checks of one account run concurrently where they can: SMTP beside
// IMAP, the OAuth token refresh and the clock measurement beside IMAP's
// connect and TLS handshake; a login waits only for its own connection and
// for the credential. Events stream to the caller as checks start and
// finish, so a UI can draw a live ladder. Cancelling the context stops
// every check at once.
package doctor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"time"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/cause"
	"github.com/mailmend/mailmend/core/guard"
	"github.com/mailmend/mailmend/core/oauth"
	"github.com/mailmend/mailmend/core/probe"
	"github.com/mailmend/mailmend/core/provider"
	"github.com/mailmend/mailmend/core/sanitize"
	"github.com/mailmend/mailmend/core/store"
)

// Store is what the doctor needs of the credential store: the account's
// secret, and the locked read-refresh-save of an OAuth grant.
type Store interface {
	oauth.Store
	Secret(ctx context.Context, id string) (store.Secret, error)
}

// Deps are the doctor's collaborators. Store and Catalog are required.
type Deps struct {
	Store   Store
	Catalog *provider.Catalog
	// Probe configures the IMAP/SMTP checks (timeouts, TLS roots, dialer).
	Probe probe.Options
	// HTTPClient makes the OAuth and clock requests; nil means a default
	// client using the system roots.
	HTTPClient *http.Client
	// Resolver answers the dns check; nil means the system resolver.
	Resolver probe.Resolver
	// Guard, when set, holds back logins once an account had 3 failed
	// logins in 15 minutes (across processes).
	Guard *guard.Guard
	// OAuthConfig returns the OAuth client for an account; nil means the
	// provider's catalog entry.
	OAuthConfig func(a account.Account) (oauth.Config, error)
	// ClockURL returns the HTTPS URL whose Date header the clock check
	// reads; nil means the provider's token endpoint.
	ClockURL func(a account.Account) string
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// EventKind says what an Event reports.
type EventKind int

// The event kinds.
const (
	// Started: a check began (Event.Check names it).
	Started EventKind = iota
	// Finished: a check ended (Event.Result holds it).
	Finished
	// Done: the account's checks are all over (Event.Report holds them).
	Done
)

// Event is one step of a running diagnosis, for live displays.
type Event struct {
	AccountID string
	Kind      EventKind
	Check     string
	Result    probe.Result
	Report    *Report
}

// Report is the outcome of one account's diagnosis.
type Report struct {
	Account  account.Account
	Started  time.Time
	Duration time.Duration
	// Checks are the results in ladder order (see Order).
	Checks []probe.Result
	// Healthy is true when no check failed.
	Healthy bool
	// Diagnosis names the cause when not Healthy; for a healthy account it
	// is the zero value.
	Diagnosis cause.Diagnosis
	// ClockOffset is the measured local clock error when ClockMeasured.
	ClockOffset   time.Duration
	ClockMeasured bool
	// Refreshed says whether the OAuth grant was refreshed (and the rotated
	// token saved) during the check.
	Refreshed bool

	// appPassword: the stored password has the provider's app-password shape.
	appPassword bool
}

// Check names used for the SMTP connection's transport checks, beside
// probe's IMAP ones.
const (
	CheckSMTPTCP = "smtp.tcp"
	CheckSMTPTLS = "smtp.tls"
)

// Order is the ladder order of check names.
var Order = []string{
	probe.CheckDNS, probe.CheckTCP, probe.CheckTLS,
	probe.CheckIMAPGreeting, probe.CheckIMAPCapability, probe.CheckIMAPAuth, probe.CheckIMAPSelect,
	CheckSMTPTCP, CheckSMTPTLS, probe.CheckSMTPGreeting, probe.CheckSMTPStartTLS, probe.CheckSMTPAuth,
	probe.CheckOAuthRefresh, probe.CheckClock,
}

func orderOf(name string) int {
	for i, n := range Order {
		if n == name {
			return i
		}
	}
	return len(Order)
}

// Doctor diagnoses accounts. It is safe for concurrent use.
type Doctor struct {
	d Deps
}

// New returns a Doctor over deps.
func New(deps Deps) *Doctor {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	return &Doctor{d: deps}
}

// DefaultConcurrency bounds how many accounts CheckAll diagnoses at once.
const DefaultConcurrency = 16

// CheckAll diagnoses accts with at most limit at once (<= 0: the default)
// and returns the reports in the order of accts. Events of all accounts go
// to events (which may be nil); it is not closed.
func (doc *Doctor) CheckAll(ctx context.Context, accts []account.Account, limit int, events chan<- Event) []Report {
	if limit <= 0 {
		limit = DefaultConcurrency
	}
	reports := make([]Report, len(accts))
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i, a := range accts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				reports[i] = doc.cancelled(a)
				return
			}
			defer func() { <-sem }()
			reports[i] = doc.Check(ctx, a, events)
		}()
	}
	wg.Wait()
	return reports
}

func (doc *Doctor) cancelled(a account.Account) Report {
	now := doc.d.Now()
	return Report{Account: a, Started: now, Diagnosis: cause.Classify([]cause.Evidence{{Kind: cause.KindTransport, Code: "cancelled", Text: "the check was cancelled"}}, cause.Context{})}
}

// run collects results and emits events for one account's diagnosis.
type run struct {
	a      account.Account
	events chan<- Event
	ctx    context.Context

	mu      sync.Mutex
	results []probe.Result
	cred    credential // the latest credential (a refused token may be replaced)
}

func (r *run) setCred(c credential) {
	r.mu.Lock()
	r.cred = c
	r.mu.Unlock()
}

func (r *run) currentCred() credential {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cred
}

// replace records res in place of an earlier result of the same check.
func (r *run) replace(res probe.Result) {
	r.mu.Lock()
	found := false
	for i := range r.results {
		if r.results[i].Name == res.Name {
			r.results[i] = res
			found = true
		}
	}
	if !found {
		r.results = append(r.results, res)
	}
	r.mu.Unlock()
	r.emit(Event{Kind: Finished, Check: res.Name, Result: res})
}

func (r *run) emit(ev Event) {
	if r.events == nil {
		return
	}
	ev.AccountID = r.a.ID
	// A channel with room takes the event even after a cancel (so the Done
	// event is not lost at random); a full one is given up on then.
	select {
	case r.events <- ev:
		return
	default:
	}
	select {
	case r.events <- ev:
	case <-r.ctx.Done():
	}
}

// imapRefused reports whether the IMAP login ran and failed.
func (r *run) imapRefused() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range r.results {
		if x.Name == probe.CheckIMAPAuth {
			return x.Status == probe.Fail
		}
	}
	return false
}

func (r *run) started(name string) { r.emit(Event{Kind: Started, Check: name}) }

func (r *run) finished(res ...probe.Result) {
	r.mu.Lock()
	r.results = append(r.results, res...)
	r.mu.Unlock()
	for _, x := range res {
		r.emit(Event{Kind: Finished, Check: x.Name, Result: x})
	}
}

// credential is the secret a login presents, delivered once.
type credential struct {
	cred probe.Credential
	err  error // why there is none (the login is skipped)
	// refreshed: the access token was just refreshed, not read from the
	// store, so a refusal is not about a stale token.
	refreshed bool
}

// Check diagnoses one account and returns its report. Events go to events
// (nil: none) as checks start and finish, then a Done event; the channel is
// not closed. Check returns when every check has ended, at once when ctx
// is cancelled.
func (doc *Doctor) Check(ctx context.Context, a account.Account, events chan<- Event) Report {
	start := doc.d.Now()
	t0 := time.Now()
	r := &run{a: a, events: events, ctx: ctx}
	p, _ := doc.d.Catalog.Get(a.Provider)

	var wg sync.WaitGroup
	credCh := make(chan credential, 2) // one for IMAP, one for SMTP
	var refreshed, appPw bool
	var clock probe.ClockResult

	// Credential: the stored password, or a refreshed access token.
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, ok := doc.credential(ctx, r, a, p)
		refreshed = ok
		c.refreshed = ok
		appPw = c.cred.Password != "" && isAppPassword(p, c.cred.Password)
		r.setCred(c)
		credCh <- c
		credCh <- c
	}()

	// DNS, beside everything else.
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.started(probe.CheckDNS)
		hosts := []string{a.IMAP.Host}
		if !a.SMTP.IsZero() {
			hosts = append(hosts, a.SMTP.Host)
		}
		domain := ""
		if p.ID == provider.GenericID || len(p.Domains) == 0 || !p.HasDomain(a.Domain()) {
			domain = a.Domain()
		}
		r.finished(probe.DNS(ctx, doc.d.Resolver, hosts, domain))
	}()

	// Clock, beside everything else.
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.started(probe.CheckClock)
		clock = probe.Clock(ctx, doc.httpClient(), doc.clockURL(a, p), nil)
		r.finished(clock.Result)
	}()

	// IMAP, then SMTP's login once IMAP's login answered: the same
	// credential refused twice would count twice toward a lockout.
	imapAuth := make(chan bool, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		doc.imap(ctx, r, a, credCh, imapAuth)
	}()
	if !a.SMTP.IsZero() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			doc.smtp(ctx, r, a, credCh, imapAuth)
		}()
	}
	wg.Wait()

	rep := Report{Account: a, Started: start, Duration: time.Since(t0), Refreshed: refreshed, appPassword: appPw}
	rep.Checks = r.results
	sort.SliceStable(rep.Checks, func(i, j int) bool { return orderOf(rep.Checks[i].Name) < orderOf(rep.Checks[j].Name) })
	rep.ClockOffset, rep.ClockMeasured = clock.Offset, clock.Measured
	doc.diagnose(&rep, p)
	r.emit(Event{Kind: Done, Report: &rep})
	return rep
}

// diagnose sets Healthy and Diagnosis from the results.
func (doc *Doctor) diagnose(rep *Report, p provider.Provider) {
	var ev []cause.Evidence
	failed := false
	for _, c := range rep.Checks {
		if c.Status == probe.Fail {
			failed = true
		}
		if c.Status == probe.Fail || c.Status == probe.Warn {
			ev = append(ev, c.Evidence...)
		}
	}
	rep.Healthy = !failed
	if rep.Healthy {
		return
	}
	cctx := cause.Context{
		Provider:      rep.Account.Provider,
		Auth:          string(rep.Account.Auth),
		ClockOffset:   rep.ClockOffset,
		ClockMeasured: rep.ClockMeasured,
		// LastOK is only set by a login that passed with the settings the
		// account has now (changing them clears it).
		SettingsWorked: !rep.Account.LastOK.IsZero(),
	}
	if !rep.Account.ConsentedAt.IsZero() {
		cctx.ConsentAge = doc.d.Now().Sub(rep.Account.ConsentedAt)
	}
	cctx.AppPassword = rep.appPassword
	rep.Diagnosis = cause.Classify(ev, cctx)
	if hasCode(ev, CodeLockoutGuard) && !hasFailureOtherThan(ev, CodeLockoutGuard) {
		// mailmend held the login back itself: the cause is what made the
		// earlier logins fail, when it is known.
		id := cause.ID(rep.Account.Cause)
		if !cause.Known(id) || id == cause.Unknown {
			id = cause.RateLimited
		}
		rep.Diagnosis = cause.Recorded(id, ev)
		return
	}
	if noGrant(ev) && consentCause(cause.ID(rep.Account.Cause)) {
		// No grant to test: the cause is what stopped the last sign-in.
		rep.Diagnosis = cause.Recorded(cause.ID(rep.Account.Cause), append(ev, cause.Evidence{
			Kind: cause.KindOAuth, Code: rep.Account.Cause, Check: probe.CheckOAuthRefresh,
			Text: "the last sign-in in the browser failed with " + rep.Account.Cause,
		}))
	}
}

// CodeNoGrant is the evidence code of an OAuth account with no saved grant.
const CodeNoGrant = "no_grant"

func hasCode(ev []cause.Evidence, code string) bool {
	for _, e := range ev {
		if e.Code == code {
			return true
		}
	}
	return false
}

// hasFailureOtherThan reports whether any evidence has a code other than
// code (another check failed for its own reason).
func hasFailureOtherThan(ev []cause.Evidence, code string) bool {
	for _, e := range ev {
		if e.Code != code && e.Kind != cause.KindClock {
			return true
		}
	}
	return false
}

func noGrant(ev []cause.Evidence) bool {
	for _, e := range ev {
		if e.Code == CodeNoGrant {
			return true
		}
	}
	return false
}

// consentCause reports whether id is found while signing in, before any
// grant exists, so a later check without a grant cannot see it again.
func consentCause(id cause.ID) bool {
	switch id {
	case cause.CodeInvalid, cause.RedirectURIMismatch, cause.InvalidClient, cause.ConsentRequired, cause.InteractionRequired, cause.AccountBlocked:
		return true
	}
	return false
}

func (doc *Doctor) httpClient() *http.Client {
	if doc.d.HTTPClient != nil {
		return doc.d.HTTPClient
	}
	return &http.Client{Timeout: probe.DefaultClockTimeout}
}

func (doc *Doctor) clockURL(a account.Account, p provider.Provider) string {
	if doc.d.ClockURL != nil {
		return doc.d.ClockURL(a)
	}
	if p.OAuth2 != nil && p.OAuth2.TokenURL != "" {
		if u, err := url.Parse(p.OAuth2.TokenURL); err == nil {
			return u.Scheme + "://" + u.Host + "/"
		}
	}
	return ""
}

func (doc *Doctor) oauthConfig(a account.Account, p provider.Provider) (oauth.Config, error) {
	if doc.d.OAuthConfig != nil {
		return doc.d.OAuthConfig(a)
	}
	cfg := oauth.ConfigFor(p.OAuth2)
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = doc.d.HTTPClient
	}
	return cfg, nil
}

// credential reads the password or refreshes the OAuth grant. For OAuth it
// reports the oauth.refresh check.
func (doc *Doctor) credential(ctx context.Context, r *run, a account.Account, p provider.Provider) (credential, bool) {
	if a.Auth != account.OAuth2 {
		sec, err := doc.d.Store.Secret(ctx, a.ID)
		if err != nil {
			return credential{err: fmt.Errorf("no password stored: %w", err)}, false
		}
		if sec.Password == "" {
			return credential{err: errors.New("no password stored")}, false
		}
		return credential{cred: probe.Credential{Password: sec.Password}}, false
	}
	r.started(probe.CheckOAuthRefresh)
	t0 := time.Now()
	res := probe.Result{Name: probe.CheckOAuthRefresh}
	cfg, err := doc.oauthConfig(a, p)
	var tok oauth.AccessToken
	if err == nil {
		tok, err = oauth.Refresh(ctx, doc.d.Store, a.ID, cfg, doc.d.Now)
	}
	if err != nil {
		res.Duration = time.Since(t0)
		res.Status = probe.Fail
		res.Detail = oneLine(err.Error())
		res.Evidence = oauthEvidence(err)
		r.finished(res)
		return credential{err: err}, false
	}
	r.finished(refreshResult(tok, time.Since(t0)))
	return credential{cred: probe.Credential{AccessToken: tok.Token}}, tok.Refreshed
}

// refreshResult is the oauth.refresh result of a successful refresh.
func refreshResult(tok oauth.AccessToken, d time.Duration) probe.Result {
	res := probe.Result{Name: probe.CheckOAuthRefresh, Status: probe.OK, Duration: d}
	if tok.Refreshed {
		res.Detail = fmt.Sprintf("refreshed; new token valid until %s (rotated refresh token saved)", tok.Expiry.Local().Format("15:04"))
	} else {
		res.Detail = fmt.Sprintf("cached token valid until %s", tok.Expiry.Local().Format("15:04"))
	}
	return res
}

// isAppPassword reports whether pw has the provider's app-password shape.
func isAppPassword(p provider.Provider, pw string) bool {
	switch p.AppPasswordFormat {
	case provider.FormatGoogle16, provider.FormatApple:
		_, err := provider.NormalizeAppPassword(p, pw)
		return err == nil
	}
	return false
}

// oauthEvidence extracts classifiable evidence from a refresh error.
func oauthEvidence(err error) []cause.Evidence {
	var pe *oauth.ProviderError
	if errors.As(err, &pe) {
		e := pe.Evidence()
		e.Check = probe.CheckOAuthRefresh
		return []cause.Evidence{e}
	}
	var te *oauth.TransientError
	if errors.As(err, &te) {
		e := te.Evidence()
		e.Check = probe.CheckOAuthRefresh
		return []cause.Evidence{e}
	}
	if errors.Is(err, oauth.ErrNoToken) || errors.Is(err, oauth.ErrNoRefreshToken) {
		return []cause.Evidence{{Kind: cause.KindOAuth, Code: CodeNoGrant, Text: "no saved sign-in (OAuth grant) for this account", Check: probe.CheckOAuthRefresh}}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return []cause.Evidence{{Kind: cause.KindTransport, Code: cause.CodeTimeout, Text: err.Error(), Check: probe.CheckOAuthRefresh}}
	}
	return []cause.Evidence{{Kind: cause.KindOAuth, Text: err.Error(), Check: probe.CheckOAuthRefresh}}
}

// allowLogin asks the lockout guard for one login attempt; a held-back
// login is a failed result that names the wait.
func (doc *Doctor) allowLogin(a account.Account, name string) (probe.Result, bool) {
	if doc.d.Guard == nil {
		return probe.Result{}, true
	}
	ok, wait, err := doc.d.Guard.Allow(a.ID)
	if ok {
		return probe.Result{}, true
	}
	text := fmt.Sprintf("not tried: %d failed logins in the last %s; next try in %s, so the provider does not lock the account", guard.Limit, guard.Window, wait.Round(time.Second))
	if err != nil {
		text = "not tried: the lockout guard could not be read: " + err.Error()
	}
	return probe.Result{
		Name: name, Status: probe.Fail, Detail: oneLine(text),
		Evidence: []cause.Evidence{{Kind: cause.KindTransport, Code: CodeLockoutGuard, Check: name, Text: text}},
	}, false
}

// CodeLockoutGuard is the evidence code of a login mailmend held back
// itself (guard.Limit failures in guard.Window).
const CodeLockoutGuard = "lockout_guard"

// loginDone settles the guard's reserved attempt: a refusal counts, a
// success clears the count, anything that never reached authentication is
// given back.
func (doc *Doctor) loginDone(a account.Account, err error) {
	if doc.d.Guard == nil {
		return
	}
	var ae *probe.AuthError
	switch {
	case err == nil:
		_ = doc.d.Guard.Succeeded(a.ID)
	case errors.As(err, &ae):
		_ = doc.d.Guard.Failed(a.ID)
	default:
		_ = doc.d.Guard.Release(a.ID)
	}
}

// oneLine makes s a Result.Detail: one printable line of at most
// probe.MaxDetail runes, cut on a character boundary.
func oneLine(s string) string {
	return sanitize.Truncate(sanitize.Line(s), probe.MaxDetail)
}

// refreshRefused asks the provider about an access token the mail server
// refused before it expired: one refresh, which names a dead grant. It
// replaces the oauth.refresh result and returns the new credential.
func (doc *Doctor) refreshRefused(ctx context.Context, r *run, a account.Account, refused string) (credential, bool) {
	p, _ := doc.d.Catalog.Get(a.Provider)
	r.started(probe.CheckOAuthRefresh)
	t0 := time.Now()
	cfg, err := doc.oauthConfig(a, p)
	var tok oauth.AccessToken
	if err == nil {
		tok, err = oauth.RefreshRefused(ctx, doc.d.Store, a.ID, cfg, doc.d.Now, refused)
	}
	if err != nil {
		r.replace(probe.Result{Name: probe.CheckOAuthRefresh, Status: probe.Fail, Duration: time.Since(t0),
			Detail: oneLine("after the server refused the token: " + err.Error()), Evidence: oauthEvidence(err)})
		return credential{err: err}, false
	}
	res := refreshResult(tok, time.Since(t0))
	res.Detail = "after the server refused the token: " + res.Detail
	r.replace(res)
	return credential{cred: probe.Credential{AccessToken: tok.Token}, refreshed: tok.Refreshed}, true
}
