package wizard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"time"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/cause"
	"github.com/mailmend/mailmend/core/doctor"
	"github.com/mailmend/mailmend/core/oauth"
	"github.com/mailmend/mailmend/core/probe"
	"github.com/mailmend/mailmend/core/store"
)

// Backoff is the wait before each re-test of the waiting wizards
// (provider_unavailable, rate_limited): 30 s, 1 min, 2 min, 4 min, then
// MaxBackoff.
func Backoff(attempt int) time.Duration {
	d := 30 * time.Second
	for range attempt {
		d *= 2
		if d >= MaxBackoff {
			return MaxBackoff
		}
	}
	return d
}

// MaxBackoff caps the wait between re-tests.
const MaxBackoff = 5 * time.Minute

// retest runs Env.Verify on a (showing a Working step) and records a
// healthy result on the stored account.
func (w *Wizard) retest(ctx context.Context, a account.Account, what string) (bool, cause.Diagnosis, error) {
	if w.env.Verify == nil {
		return false, cause.Diagnosis{}, errors.New("wizard: no live test is available here; run mailmend doctor to re-test")
	}
	if err := w.show(ctx, Working{What: what}); err != nil {
		return false, cause.Diagnosis{}, err
	}
	ok, d, err := w.env.Verify(ctx, a)
	if err != nil {
		if ctx.Err() != nil {
			return false, d, ctx.Err()
		}
		return false, d, fmt.Errorf("wizard: the re-test could not run: %w", err)
	}
	if ok {
		now := w.now()
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
		saved, err := w.env.Store.Update(cctx, a.ID, func(s *account.Account) error {
			if a.IMAP != s.IMAP || a.SMTP != s.SMTP {
				s.IMAP, s.SMTP = a.IMAP, a.SMTP
			}
			w.markHealthy(now)(s)
			return nil
		})
		cancel()
		if err != nil {
			return true, d, fmt.Errorf("wizard: the account works again, but its status could not be saved: %w", err)
		}
		w.mu.Lock()
		w.saved = &saved
		w.env.Account = saved
		w.mu.Unlock()
	}
	return ok, d, nil
}

// notFixed is the Done for a re-test that found a problem: the same cause
// (still broken) or another (the next wizard).
func (w *Wizard) notFixed(d cause.Diagnosis) Done {
	if d.Cause == w.id || d.Cause == "" {
		return Done{Message: "Still failing: " + d.Title + "."}
	}
	return Done{Message: "The re-test found another problem: " + d.Title + " (" + string(d.Cause) + ").", Next: d.Cause}
}

// confirmLoop asks the user to confirm the fix was made, re-tests, and asks
// again while the same cause persists.
func (w *Wizard) confirmLoop(ctx context.Context, question, okLabel string) (Done, error) {
	c := Choose{Question: question, Options: []Option{
		{Key: "retest", Label: okLabel},
		{Key: "stop", Label: "Stop for now"},
	}}
	for {
		k, err := w.choose(ctx, c)
		if err != nil {
			return Done{}, err
		}
		if k == "stop" {
			return Done{Message: "Stopped; nothing was changed. Re-test later with mailmend doctor."}, nil
		}
		ok, d, err := w.retest(ctx, w.env.Account, "Re-testing "+w.env.Account.Email)
		if err != nil {
			return Done{}, err
		}
		if ok {
			return Done{OK: true, Message: "The re-test passed: the account works again."}, nil
		}
		if d.Cause != w.id {
			return w.notFixed(d), nil
		}
		c.Error = "Still failing: " + d.Title + ". " + firstEvidence(d)
	}
}

// firstEvidence is the first piece of evidence as one line.
func firstEvidence(d cause.Diagnosis) string {
	for _, e := range d.Evidence {
		if t := oneLine(e.Text); t != "" {
			return "The server said: " + t
		}
	}
	return ""
}

// appInTesting explains publishing the Google client, then reconsents.
func (w *Wizard) appInTesting(ctx context.Context) (Done, error) {
	if _, err := w.ask(ctx, w.explainCause(w.id)); err != nil {
		return Done{}, err
	}
	if err := w.visit(ctx, "https://console.cloud.google.com/auth/audience", "Google Cloud console → Audience",
		"Sign in with the account that owns the OAuth client's project and press Publish app, so the status reads In production."); err != nil {
		return Done{}, err
	}
	k, err := w.choose(ctx, Choose{Question: "Is the app published?", Options: []Option{
		{Key: "published", Label: "I published it: sign in again"},
		{Key: "later", Label: "Later: sign in again now (the sign-in ends again after 7 days)"},
	}})
	if err != nil {
		return Done{}, err
	}
	note := ""
	if k == "later" {
		note = "The OAuth client is still in testing, so this sign-in ends after 7 days: publish the app before then."
	}
	return w.reconsent(ctx, false, note)
}

// redirectMismatch shows the exact redirect URI and how to register it,
// then runs the consent with that very flow.
func (w *Wizard) redirectMismatch(ctx context.Context) (Done, error) {
	if d, ok := w.noOAuth(); ok {
		return d, nil
	}
	run := &consentRun{cfg: w.env.OAuth}
	if run.cfg.ClientID == "" {
		if err := w.askClient(ctx, run, ""); err != nil {
			return Done{}, err
		}
	}
	flow, err := oauth.Begin(ctx, run.cfg, &oauth.Options{
		LoginHint: w.env.Account.Email,
		Offline:   w.env.Provider.ID == "google",
		Browser:   func(string) error { return nil },
		Now:       w.env.Now,
	})
	if err != nil {
		return Done{}, err
	}
	run.flow = flow
	help := redirectHelp(w.env.Provider, flow.RedirectURI(), run.cfg.RedirectPort != 0)
	if _, err := w.ask(ctx, w.explainCause(w.id, help, "When the client accepts it, continue: the sign-in starts with this redirect URI.")); err != nil {
		flow.Close()
		return Done{}, err
	}
	return w.consent(ctx, run, "")
}

// invalidClient takes a new client id and secret, tests them with a token
// request (a refresh of the stored grant, or a new consent), and saves them.
func (w *Wizard) invalidClient(ctx context.Context) (Done, error) {
	if _, err := w.ask(ctx, w.explainCause(w.id)); err != nil {
		return Done{}, err
	}
	if d, ok := w.noOAuth(); ok {
		return d, nil
	}
	run := &consentRun{cfg: w.env.OAuth}
	if err := w.askClient(ctx, run, ""); err != nil {
		return Done{}, err
	}
	var old *store.Token
	if w.env.Account.ID != "" {
		if sec, err := w.env.Store.Secret(ctx, w.env.Account.ID); err == nil && sec.Token != nil && sec.Token.RefreshToken != "" {
			old = sec.Token
		}
	}
	for old != nil {
		if err := w.show(ctx, Working{What: "Testing the client with a token request to " + hostOf(run.cfg.TokenURL)}); err != nil {
			return Done{}, err
		}
		tok, err := refreshWith(ctx, w.env.Account, run.cfg, old, w.env.Now)
		if err == nil {
			return w.saveRefreshed(ctx, run, tok)
		}
		if ctx.Err() != nil {
			return Done{}, ctx.Err()
		}
		d := w.classifyOAuth(err)
		var pe *oauth.ProviderError
		switch {
		case d.Cause == cause.InvalidClient:
			if err := w.askClient(ctx, run, "The provider refused this client: "+errText(err)); err != nil {
				return Done{}, err
			}
			continue
		case errors.As(err, &pe):
			// The client was accepted; the stored grant was not (it
			// belongs to the old client or died): a new consent decides.
			return w.consent(ctx, run, "")
		default:
			k, err2 := w.choose(ctx, Choose{
				Question: "The token request did not get through. Try again?",
				Options:  []Option{{Key: "retry", Label: "Try again"}, {Key: "stop", Label: "Stop; nothing is changed"}},
				Error:    errText(err),
			})
			if err2 != nil {
				return Done{}, err2
			}
			if k == "stop" {
				return Done{}, errStopped
			}
		}
	}
	return w.consent(ctx, run, "")
}

// saveRefreshed saves the client and the grant a refresh with it returned
// (the refresh may have rotated the refresh token, which must not be lost),
// then logs in with the new access token.
func (w *Wizard) saveRefreshed(ctx context.Context, run *consentRun, tok *store.Token) (Done, error) {
	if _, err := w.commit(ctx, store.Secret{Token: tok}, run.client, func(*account.Account) {}); err != nil {
		return Done{}, fmt.Errorf("wizard: the client works but could not be saved: %w", err)
	}
	res, err := w.login(ctx, probe.Credential{AccessToken: tok.AccessToken}, "Testing the refreshed sign-in")
	if err != nil {
		return Done{}, err
	}
	if !res.ok {
		return Done{Message: "The provider accepted the client (it was saved), but the mail login failed: " + res.msg, Next: nextOf(res.diag, w.id)}, nil
	}
	now := w.now()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	if _, err := w.env.Store.Update(cctx, w.env.Account.ID, func(a *account.Account) error { w.markHealthy(now)(a); return nil }); err != nil {
		return Done{}, err
	}
	return Done{OK: true, Message: "The new OAuth client works: a token request and the live login passed; the client and the refreshed sign-in were saved."}, nil
}

func nextOf(d cause.Diagnosis, self cause.ID) cause.ID {
	if d.Cause == self || d.Cause == cause.Unknown {
		return ""
	}
	return d.Cause
}

// refreshWith makes one refresh request for the grant with cfg through a
// scratch store, and returns the new token (with the rotated refresh token).
func refreshWith(ctx context.Context, a account.Account, cfg oauth.Config, old *store.Token, now func() time.Time) (*store.Token, error) {
	scratch := store.New(store.NewMemory(), "")
	t := *old
	t.AccessToken, t.Expiry = "", time.Time{} // force the request
	a.ID = ""
	saved, err := scratch.Save(ctx, a, &store.Secret{Token: &t})
	if err != nil {
		return nil, err
	}
	if _, err := oauth.Refresh(ctx, scratch, saved.ID, cfg, now); err != nil {
		return nil, err
	}
	sec, err := scratch.Secret(ctx, saved.ID)
	if err != nil || sec.Token == nil {
		return nil, errors.New("wizard: the refreshed token was lost")
	}
	return sec.Token, nil
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return raw
	}
	return u.Host
}

// clock shows the measured offset and how to turn on time sync, then
// measures again until the clock is within tolerance, and re-tests.
func (w *Wizard) clock(ctx context.Context) (Done, error) {
	measured := "mailmend could not measure the offset."
	if w.env.ClockMeasured {
		measured = "This computer's clock is **" + fmtOffset(w.env.ClockOffset) + "** compared with the provider's servers."
	}
	goos := w.env.GOOS
	if goos == "" {
		goos = runtime.GOOS
	}
	if _, err := w.ask(ctx, w.explainCause(w.id, measured, clockSync(goos))); err != nil {
		return Done{}, err
	}
	u := w.clockURL()
	c := Choose{Question: "Turn on time sync, then measure the clock again.", Options: []Option{
		{Key: "measure", Label: "Measure again"},
		{Key: "stop", Label: "Stop for now"},
	}}
	for {
		k, err := w.choose(ctx, c)
		if err != nil {
			return Done{}, err
		}
		if k == "stop" {
			return Done{Message: "Stopped; nothing was changed. Fix the clock, then run mailmend doctor."}, nil
		}
		if u != "" {
			if err := w.show(ctx, Working{What: "Measuring the clock against " + hostOf(u)}); err != nil {
				return Done{}, err
			}
			res := probe.Clock(ctx, w.httpClient(), u, w.env.Now)
			if ctx.Err() != nil {
				return Done{}, ctx.Err()
			}
			if !res.Measured {
				c.Error = "The clock could not be measured: " + oneLine(res.Detail)
				continue
			}
			if res.Status == probe.Fail {
				c.Error = "The clock is still " + fmtOffset(res.Offset) + " (more than " + cause.ClockTolerance.String() + " off)."
				continue
			}
		}
		if w.env.Verify == nil {
			return Done{OK: true, Message: "The clock is within " + cause.ClockTolerance.String() + " now. Run mailmend doctor to re-test the account."}, nil
		}
		ok, d, err := w.retest(ctx, w.env.Account, "Re-testing "+w.env.Account.Email)
		if err != nil {
			return Done{}, err
		}
		if ok {
			return Done{OK: true, Message: "The clock is right and the re-test passed."}, nil
		}
		if d.Cause == cause.ClockSkew {
			c.Error = "The re-test still sees a clock problem: " + firstEvidence(d)
			continue
		}
		return w.notFixed(d), nil
	}
}

func (w *Wizard) clockURL() string {
	if w.env.ClockURL != "" {
		return w.env.ClockURL
	}
	if u, err := url.Parse(w.env.OAuth.TokenURL); err == nil && u.Host != "" {
		return u.Scheme + "://" + u.Host + "/"
	}
	return ""
}

func (w *Wizard) httpClient() *http.Client {
	if w.env.HTTPClient != nil {
		return w.env.HTTPClient
	}
	return w.env.OAuth.HTTPClient
}

// settings shows the account's servers beside the provider's known-good
// ones and applies those after they passed a live test.
func (w *Wizard) settings(ctx context.Context) (Done, error) {
	a := w.env.Account
	p := w.env.Provider
	imap, errI := p.IMAPEndpoint()
	smtp, errS := p.SMTPEndpoint()
	if errI != nil && errS != nil {
		if _, err := w.ask(ctx, w.explainCause(w.id, "mailmend knows no settings for "+providerName(p)+": ask the provider or administrator for the IMAP and SMTP server, port and security, then change the account with mailmend add.")); err != nil {
			return Done{}, err
		}
		return Done{Message: "No known-good settings to apply; nothing was changed."}, nil
	}
	good := a
	if errI == nil {
		good.IMAP = imap
	}
	if errS == nil {
		good.SMTP = smtp
	}
	table := settingsTable(a, good.IMAP, good.SMTP)
	same := good.IMAP == a.IMAP && good.SMTP == a.SMTP
	if same {
		table += "\nThe account already uses the known-good settings, so the problem is elsewhere (a firewall, a proxy, or the server)."
	}
	if _, err := w.ask(ctx, w.explainCause(w.id, table)); err != nil {
		return Done{}, err
	}
	applyLabel := "Apply the known-good settings and re-test"
	if same {
		applyLabel = "Re-test"
	}
	c := Choose{Question: "Use " + providerName(p) + "'s known-good settings?", Options: []Option{
		{Key: "apply", Label: applyLabel},
		{Key: "keep", Label: "Keep the current settings"},
	}}
	for {
		k, err := w.choose(ctx, c)
		if err != nil {
			return Done{}, err
		}
		if k == "keep" {
			return Done{Message: "Kept the current settings; nothing was changed."}, nil
		}
		test := good
		test.LastOK = time.Time{} // a login with new settings has not passed yet
		ok, d, err := w.retest(ctx, test, "Testing "+good.IMAP.String())
		if err != nil {
			return Done{}, err
		}
		if ok {
			return Done{OK: true, Message: "The known-good settings work; they were saved and the re-test passed."}, nil
		}
		if info := cause.Info(d.Cause); info.Family != cause.FamilyConnection || d.Cause == cause.Unknown {
			// The server was reached with the new settings: keep them,
			// the remaining problem is another one.
			if !same {
				if err := w.applySettings(ctx, good); err != nil {
					return Done{}, err
				}
			}
			return Done{Message: "The known-good settings reach the server and were saved, but another problem remains: " + d.Title + " (" + string(d.Cause) + ").", Next: nextOf(d, w.id)}, nil
		}
		c.Error = "The known-good settings failed too: " + d.Title + ". " + firstEvidence(d)
	}
}

// applySettings saves the endpoints of good on the stored account.
func (w *Wizard) applySettings(ctx context.Context, good account.Account) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	saved, err := w.env.Store.Update(cctx, good.ID, func(a *account.Account) error {
		a.IMAP, a.SMTP = good.IMAP, good.SMTP
		return nil
	})
	if err != nil {
		return fmt.Errorf("wizard: save the settings: %w", err)
	}
	w.mu.Lock()
	w.saved = &saved
	w.env.Account = saved
	w.mu.Unlock()
	return nil
}

// backoff waits and re-tests with growing pauses until the account works,
// another cause shows up, or ctx ends.
func (w *Wizard) backoff(ctx context.Context) (Done, error) {
	if _, err := w.ask(ctx, w.explainCause(w.id)); err != nil {
		return Done{}, err
	}
	if w.env.Verify == nil {
		return Done{Message: "Wait a few minutes, then run mailmend doctor to re-test."}, nil
	}
	title := cause.Info(w.id).Title
	for i := 0; ; i++ {
		d := Backoff(i)
		if err := w.waitFor(ctx, d, fmt.Sprintf("%s. Re-test %d in %s.", title, i+1, d)); err != nil {
			return Done{}, err
		}
		ok, diag, err := w.retest(ctx, w.env.Account, fmt.Sprintf("Re-test %d of %s", i+1, w.env.Account.Email))
		if err != nil {
			return Done{}, err
		}
		if ok {
			return Done{OK: true, Message: fmt.Sprintf("The account works again (re-test %d passed).", i+1)}, nil
		}
		if diag.Cause != cause.ProviderUnavailable && diag.Cause != cause.RateLimited {
			return w.notFixed(diag), nil
		}
		title = diag.Title
	}
}

// blocked sends the user to the provider's security page, then re-tests.
func (w *Wizard) blocked(ctx context.Context) (Done, error) {
	if _, err := w.ask(ctx, w.explainCause(w.id)); err != nil {
		return Done{}, err
	}
	p := w.env.Provider
	u := p.SecurityURL
	if u == "" {
		u = p.HelpURL
	}
	if u != "" {
		if err := w.visit(ctx, u, providerName(p)+" security", "Sign in there, follow the security prompts and confirm the blocked sign-in was you."); err != nil {
			return Done{}, err
		}
	}
	return w.confirmLoop(ctx, "Done on the provider's page?", "Done: re-test")
}

// protocol says where to switch IMAP/SMTP on, then re-tests.
func (w *Wizard) protocol(ctx context.Context) (Done, error) {
	if _, err := w.ask(ctx, w.explainCause(w.id)); err != nil {
		return Done{}, err
	}
	p := w.env.Provider
	if p.HelpURL != "" {
		if err := w.visit(ctx, p.HelpURL, providerName(p)+" help on IMAP and SMTP access", "Switch IMAP (and authenticated SMTP) on as described there."); err != nil {
			return Done{}, err
		}
	}
	return w.confirmLoop(ctx, "Switched IMAP/SMTP access on?", "Switched on: re-test")
}

// basicAuth offers the ways on when password logins are off: OAuth where
// the provider has it, an app password where it offers one.
func (w *Wizard) basicAuth(ctx context.Context) (Done, error) {
	if _, err := w.ask(ctx, w.explainCause(w.id)); err != nil {
		return Done{}, err
	}
	p := w.env.Provider
	var opts []Option
	if p.Supports(account.OAuth2) && w.env.OAuth.TokenURL != "" {
		opts = append(opts, Option{Key: "oauth", Label: "Switch this account to OAuth (sign in with the browser)"})
	}
	if p.AppPasswordURL != "" {
		opts = append(opts, Option{Key: "app", Label: "Use an app password"})
	}
	if len(opts) == 0 {
		return Done{Message: providerName(p) + " offers neither OAuth nor app passwords to mailmend here; ask the administrator to allow password logins (SMTP AUTH / IMAP basic authentication) for the mailbox."}, nil
	}
	opts = append(opts, Option{Key: "stop", Label: "Stop for now"})
	k, err := w.choose(ctx, Choose{Question: "How should this account sign in?", Options: opts})
	if err != nil {
		return Done{}, err
	}
	switch k {
	case "oauth":
		return w.reconsent(ctx, false, "The account now signs in with OAuth.")
	case "app":
		return w.password(ctx, false)
	}
	return Done{Message: "Stopped; nothing was changed."}, nil
}

// unknown shows the evidence and points at mailmend report.
func (w *Wizard) unknown(ctx context.Context) (Done, error) {
	if _, err := w.ask(ctx, w.explainCause(cause.Unknown)); err != nil {
		return Done{}, err
	}
	return Done{Message: "The cause was not recognised. Run mailmend report " + w.env.Account.Email + " and attach its output to a support request; it shows what the server said without your password."}, nil
}

// DoctorVerify adapts a doctor to Env.Verify: one full live check of the
// account as given (its settings, the credential stored under its id).
func DoctorVerify(doc *doctor.Doctor) VerifyFunc {
	return func(ctx context.Context, a account.Account) (bool, cause.Diagnosis, error) {
		r := doc.Check(ctx, a, nil)
		if err := ctx.Err(); err != nil {
			return false, cause.Diagnosis{}, err
		}
		return r.Healthy, r.Diagnosis, nil
	}
}
