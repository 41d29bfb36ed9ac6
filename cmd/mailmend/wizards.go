package main

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strings"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/cause"
	"github.com/mailmend/mailmend/core/demo"
	"github.com/mailmend/mailmend/core/doctor"
	"github.com/mailmend/mailmend/core/oauth"
	"github.com/mailmend/mailmend/core/provider"
	"github.com/mailmend/mailmend/core/sandbox"
	"github.com/mailmend/mailmend/core/store"
	"github.com/mailmend/mailmend/core/wizard"
	"github.com/mailmend/mailmend/tui"
)

// wizardSetup is what building a wizard needs beyond the account: the
// store, the doctor for re-tests, and how to open a browser.
type wizardSetup struct {
	app       *app
	st        *store.Store
	doc       *doctor.Doctor
	deps      doctor.Deps
	browser   func(string) error
	noBrowser bool
	device    bool
	// decorate adjusts steps before they are shown (the demo adds the
	// sandbox's secrets); nil shows them as they are.
	decorate func(a account.Account, s tui.Step) tui.Step
	// adjust changes a wizard environment before use (the demo points the
	// provider's pages at the sandbox's pages for the account).
	adjust func(env *wizard.Env)
}

// env builds the wizard environment for a (possibly new) account.
func (ws *wizardSetup) env(a account.Account, d cause.Diagnosis) (wizard.Env, error) {
	p, ok := ws.app.catalog.Get(a.Provider)
	if !ok {
		return wizard.Env{}, fmt.Errorf("unknown provider %q", a.Provider)
	}
	env := wizard.Env{
		Account: a, Store: ws.st, Provider: p, Probe: ws.deps.Probe, Guard: ws.deps.Guard,
		Verify: wizard.DoctorVerify(ws.doc), Diagnosis: d, Now: ws.app.env.Now,
		Getenv: ws.app.env.Getenv, Browser: ws.browser, NoBrowser: ws.noBrowser, Device: ws.device,
		HTTPClient: ws.deps.HTTPClient,
	}
	if p.OAuth2 != nil {
		if ws.deps.OAuthConfig != nil {
			cfg, err := ws.deps.OAuthConfig(a)
			if err != nil {
				return wizard.Env{}, err
			}
			env.OAuth = cfg
		} else {
			env.OAuth = oauth.ConfigFor(p.OAuth2)
			env.OAuth.RedirectPort = ws.app.cfg.OAuth.RedirectPort
			if _, err := wizard.ApplyStoredClient(ws.st.Backend(), p.ID, &env.OAuth); err != nil {
				return wizard.Env{}, storeErr(err)
			}
		}
	}
	if ws.deps.ClockURL != nil {
		env.ClockURL = ws.deps.ClockURL(a)
	}
	if ws.adjust != nil {
		ws.adjust(&env)
	}
	return env, nil
}

// setup returns the wizard setup over the configured store.
func (a *app) wizardSetup(st *store.Store, doc *doctor.Doctor, noBrowser, device bool) *wizardSetup {
	deps := doctor.Deps{Guard: a.loginGuard(), Probe: a.probeOptions()}
	return &wizardSetup{app: a, st: st, doc: doc, deps: deps, browser: oauth.OpenBrowser, noBrowser: noBrowser, device: device}
}

// newWizardFactory returns the wizards the TUI drives over st.
func (a *app) newWizardFactory(st *store.Store) wizardFactory {
	doc, err := a.doctor()
	if err != nil {
		return nil
	}
	return a.wizardSetup(st, doc, false, false)
}

// newDemoWizards returns the wizards the demo's TUI drives: consent is
// approved by the sandbox itself when no browser can open, and the steps
// that ask for a secret say what the sandbox expects.
func (a *app) newDemoWizards(d *demo.Demo, deps doctor.Deps) wizardFactory {
	ws := &wizardSetup{app: a, st: d.Store, doc: doctor.New(deps), deps: deps}
	ws.browser = func(u string) error {
		if canOpenBrowser(a.env.Getenv) {
			if err := oauth.OpenBrowser(u); err == nil {
				return nil
			}
		}
		go func() { _ = d.AutoApprove(context.Background(), u) }()
		return nil
	}
	ws.decorate = func(acct account.Account, s tui.Step) tui.Step {
		pw, err := d.Sandbox.AppPassword(acct.Email)
		if err != nil {
			return s
		}
		shown := pw[0:4] + " " + pw[4:8] + " " + pw[8:12] + " " + pw[12:]
		c := d.Sandbox.Client(sandbox.Google)
		if acct.Provider == string(sandbox.Microsoft) {
			c = d.Sandbox.Client(sandbox.Microsoft)
		}
		switch st := s.(type) {
		case tui.SecretInput:
			label := strings.ToLower(st.Label)
			switch {
			case strings.Contains(label, "client id"):
				st.Hint = "demo client ID: " + c.ID + " · " + st.Hint
			case strings.Contains(label, "client secret"):
				st.Hint = "demo client secret: " + c.Secret + " · " + st.Hint
			case st.Mask:
				st.Hint = "demo app password: " + shown + " · " + st.Hint
			}
			return st
		case tui.OpenURL:
			if strings.Contains(st.URL, "/apppasswords") {
				st.Why = strings.TrimSpace(st.Why + " In this demo the page shows " + shown + ".")
			}
			return st
		}
		return s
	}
	ws.adjust = func(env *wizard.Env) {
		email := env.Account.Email
		if env.Account.ID == "" {
			// A new address in the demo becomes a healthy sandbox account of
			// the provider it names, served by the sandbox's servers.
			f := sandbox.Google
			if env.Account.Provider == string(sandbox.Microsoft) {
				f = sandbox.Microsoft
			}
			_ = d.Sandbox.AddUser(sandbox.UserSpec{Email: email, Flavour: f})
			if set, err := d.Sandbox.Settings(email); err == nil {
				env.Account.IMAP, env.Account.SMTP = set.IMAP, set.SMTP
			}
		}
		env.Provider.AppPasswordURL = d.Sandbox.AccountURL(email, "apppasswords")
		env.Provider.SecurityURL = d.Sandbox.AccountURL(email, "security")
		demoRepairs(d, env)
	}
	return ws
}

// canOpenBrowser reports whether a browser can plausibly open here.
func canOpenBrowser(getenv func(string) string) bool {
	if getenv("BROWSER") != "" {
		return true
	}
	switch runtime.GOOS {
	case "darwin", "windows":
		return true
	}
	return getenv("DISPLAY") != "" || getenv("WAYLAND_DISPLAY") != ""
}

func (ws *wizardSetup) repair(ctx context.Context, accountID string, id cause.ID) (tui.Wizard, error) {
	a, err := ws.st.Find(ctx, accountID)
	if err != nil {
		return nil, err
	}
	d := cause.Diagnosis{}
	if id != "" {
		d = cause.Recorded(id, nil)
	}
	env, err := ws.env(a, d)
	if err != nil {
		return nil, err
	}
	w, err := wizard.For(id, env)
	if err != nil {
		return nil, err
	}
	w.Start(ctx)
	return newTUIWizard(w, a, ws.decorate), nil
}

func (ws *wizardSetup) add(ctx context.Context, email string) (tui.Wizard, error) {
	p, how, _ := ws.app.pickProvider(ctx, "", email)
	return newAddWizard(ctx, ws, p, how, email), nil
}

// newAccount returns a new account for email at provider p with auth.
func newAccount(p provider.Provider, email string, auth account.AuthMethod) account.Account {
	imapEP, _ := p.IMAPEndpoint()
	smtpEP, _ := p.SMTPEndpoint()
	return account.Account{Email: email, Provider: p.ID, Auth: auth, IMAP: imapEP, SMTP: smtpEP, Status: account.Unchecked}
}

// tuiWizard adapts a core wizard to the TUI's Wizard.
type tuiWizard struct {
	w     *wizard.Wizard
	steps chan tui.Step
}

func newTUIWizard(w *wizard.Wizard, a account.Account, decorate func(account.Account, tui.Step) tui.Step) *tuiWizard {
	t := &tuiWizard{w: w, steps: make(chan tui.Step)}
	go func() {
		defer close(t.steps)
		for s := range w.Steps() {
			ts := tuiStep(s)
			if decorate != nil {
				ts = decorate(a, ts)
			}
			t.steps <- ts
		}
	}()
	return t
}

func (t *tuiWizard) Steps() <-chan tui.Step { return t.steps }
func (t *tuiWizard) Submit(input string)    { _ = t.w.Submit(input) }
func (t *tuiWizard) Choose(index int)       { _ = t.w.Choose(index) }
func (t *tuiWizard) Cancel()                { t.w.Cancel() }

// tuiStep maps a wizard step to the TUI's.
func tuiStep(s wizard.Step) tui.Step {
	switch st := s.(type) {
	case wizard.Explain:
		return tui.Explain{Title: st.Title, Body: st.Body}
	case wizard.OpenURL:
		why := st.Why
		if st.Label != "" {
			why = st.Label + ": " + why
		}
		return tui.OpenURL{URL: st.URL, Why: why}
	case wizard.SecretInput:
		return tui.SecretInput{Label: st.Label, Hint: st.Hint, Mask: true, Error: st.Error}
	case wizard.TextInput:
		return tui.SecretInput{Label: st.Label, Hint: st.Hint, Mask: false, Error: st.Error}
	case wizard.Consent:
		return tui.WaitBrowser{URL: st.AuthURL, PasteAllowed: st.PasteAllowed, SSHHint: st.SSHHint, Error: st.Error}
	case wizard.DeviceCode:
		return tui.DeviceCode{Code: st.UserCode, URL: st.VerificationURI}
	case wizard.Choose:
		title := st.Question
		if st.Error != "" {
			title = st.Error + "\n" + title
		}
		opts := make([]string, len(st.Options))
		for i, o := range st.Options {
			opts[i] = o.Label
		}
		return tui.Choose{Title: title, Options: opts}
	case wizard.Wait:
		return tui.Wait{Until: st.Until, Reason: st.Reason}
	case wizard.Working:
		return tui.Verify{What: st.What}
	case wizard.Done:
		return tui.Done{Success: st.OK, Message: st.Message}
	}
	return tui.Explain{Title: "…", Body: fmt.Sprintf("%T", s)}
}

// addWizard asks how to sign in, then runs the reconnect wizard on a new
// account.
type addWizard struct {
	ws     *wizardSetup
	p      provider.Provider
	email  string
	steps  chan tui.Step
	choice chan int
	ctx    context.Context
	cancel context.CancelFunc

	inner chan *wizard.Wizard
}

func newAddWizard(ctx context.Context, ws *wizardSetup, p provider.Provider, how, email string) *addWizard {
	ctx, cancel := context.WithCancel(ctx)
	aw := &addWizard{ws: ws, p: p, email: email, steps: make(chan tui.Step), choice: make(chan int, 1), ctx: ctx, cancel: cancel, inner: make(chan *wizard.Wizard, 1)}
	go aw.run(how)
	return aw
}

func (aw *addWizard) run(how string) {
	defer close(aw.steps)
	send := func(s tui.Step) bool {
		select {
		case aw.steps <- s:
			return true
		case <-aw.ctx.Done():
			return false
		}
	}
	methods := aw.p.Auth
	auth := aw.p.DefaultAuth()
	if len(methods) > 1 {
		opts := make([]string, len(methods))
		for i, m := range methods {
			opts[i] = authLabel(m)
		}
		if !send(tui.Choose{Title: fmt.Sprintf("%s: %s (%s). How do you sign in?", aw.email, aw.p.Name, how), Options: opts}) {
			return
		}
		select {
		case i := <-aw.choice:
			if i >= 0 && i < len(methods) {
				auth = methods[i]
			}
		case <-aw.ctx.Done():
			return
		}
	}
	a := newAccount(aw.p, aw.email, auth)
	if a.IMAP.IsZero() {
		send(tui.Done{Success: false, Message: "No server settings are known for " + account.Domain(aw.email) + ": add it with `mailmend add --imap HOST:PORT --smtp HOST:PORT`."})
		return
	}
	env, err := aw.ws.env(a, cause.Diagnosis{})
	if err == nil {
		var w *wizard.Wizard
		if w, err = wizard.For(wizard.Reconnect, env); err == nil {
			w.Start(aw.ctx)
			aw.inner <- w
			for s := range newTUIWizard(w, a, aw.ws.decorate).Steps() {
				if !send(s) {
					w.Cancel()
					return
				}
			}
			return
		}
	}
	send(tui.Done{Success: false, Message: err.Error()})
}

func authLabel(m account.AuthMethod) string {
	if m == account.OAuth2 {
		return "Sign in with the provider in the browser (OAuth)"
	}
	return "Password or app password"
}

func (aw *addWizard) Steps() <-chan tui.Step { return aw.steps }

func (aw *addWizard) current() *wizard.Wizard {
	select {
	case w := <-aw.inner:
		aw.inner <- w
		return w
	default:
		return nil
	}
}

func (aw *addWizard) Submit(input string) {
	if w := aw.current(); w != nil {
		_ = w.Submit(input)
	}
}

func (aw *addWizard) Choose(index int) {
	if w := aw.current(); w != nil {
		_ = w.Choose(index)
		return
	}
	select {
	case aw.choice <- index:
	default:
	}
}

func (aw *addWizard) Cancel() {
	if w := aw.current(); w != nil {
		w.Cancel()
	}
	aw.cancel()
}

// demoRepairs lets every repair be completed in the demo, where the steps
// the user takes outside mailmend (syncing the clock, confirming a sign-in
// on the provider's security page, registering a redirect URI, switching
// IMAP on) cannot happen: the sandbox takes them as done when the wizard
// goes on after asking for them. The known-good settings are the sandbox's.
func demoRepairs(d *demo.Demo, env *wizard.Env) {
	email := env.Account.Email
	sc, err := d.Sandbox.Scenario(email)
	if err != nil {
		return
	}
	fix := func() { _ = d.Sandbox.Fix(email) }
	switch sc {
	case sandbox.WrongSettings:
		if good, err := d.Sandbox.GoodSettings(email); err == nil {
			env.Provider.IMAP, env.Provider.IMAPSecurity = good.IMAP.Addr(), good.IMAP.Security
			env.Provider.SMTP, env.Provider.SMTPSecurity = good.SMTP.Addr(), good.SMTP.Security
		}
	case sandbox.ClockSkew:
		// "Measure again" after turning on time sync.
		base := env.HTTPClient
		if base == nil {
			base = d.Sandbox.HTTPClient()
		}
		c := *base
		next := c.Transport
		if next == nil {
			next = http.DefaultTransport
		}
		c.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
			fix()
			return next.RoundTrip(r)
		})
		env.HTTPClient = &c
	case sandbox.AccountBlocked, sandbox.ProtocolDisabled, sandbox.RedirectURIMismatch, sandbox.InvalidClient:
		// Confirmed on the provider's page / registered / set up anew.
		verify := env.Verify
		env.Verify = func(ctx context.Context, a account.Account) (bool, cause.Diagnosis, error) {
			fix()
			return verify(ctx, a)
		}
		if sc == sandbox.RedirectURIMismatch || sc == sandbox.InvalidClient {
			fix()
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
