package wizard

import (
	"context"
	"errors"
	"fmt"
	"github.com/mailmend/mailmend/core/provider"
	"strings"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/cause"
	"github.com/mailmend/mailmend/core/oauth"
	"github.com/mailmend/mailmend/core/probe"
	"github.com/mailmend/mailmend/core/store"
)

// consentRun is one reconsent in progress: the OAuth client in use and the
// client item to save with the grant when the user entered one.
type consentRun struct {
	cfg    oauth.Config
	client *clientItem
	// flow is a loopback flow begun before the Consent step (the redirect
	// URI wizard shows its URI first); nil begins a new one.
	flow *oauth.Flow
	// note is added to the final message.
	note string
}

// errSwitchToBrowser ends a device sign-in in favour of the browser flow.
var errSwitchToBrowser = errors.New("wizard: use the browser sign-in")

// reconsent explains the cause (when intro), asks for an OAuth client when
// none is configured, runs the consent and saves the new grant once it
// logged in.
func (w *Wizard) reconsent(ctx context.Context, intro bool, note string) (Done, error) {
	if intro {
		if _, err := w.ask(ctx, w.explainCause(w.id)); err != nil {
			return Done{}, err
		}
	}
	run := &consentRun{cfg: w.env.OAuth, note: note}
	if d, ok := w.noOAuth(); ok {
		return d, nil
	}
	if run.cfg.ClientID == "" {
		if err := w.askClient(ctx, run, ""); err != nil {
			return Done{}, err
		}
	}
	return w.consent(ctx, run, "")
}

// noOAuth reports a Done when the provider has no OAuth sign-in at all.
func (w *Wizard) noOAuth() (Done, bool) {
	if w.env.OAuth.TokenURL == "" || w.env.OAuth.AuthURL == "" && w.env.OAuth.DeviceAuthURL == "" {
		return Done{Message: providerName(w.env.Provider) + " has no OAuth sign-in configured for mailmend; nothing was changed."}, true
	}
	return Done{}, false
}

// askClient asks for the OAuth client id and secret and puts them in run.
func (w *Wizard) askClient(ctx context.Context, run *consentRun, problem string) error {
	p := w.env.Provider
	if problem == "" {
		if _, err := w.ask(ctx, Explain{Title: "Set up your own OAuth client for " + providerName(p), Body: clientSetupGuide(p, w.redirectHint())}); err != nil {
			return err
		}
	}
	if problem == "" && p.OAuth2 != nil && p.OAuth2.ClientSetupURL != "" {
		if err := w.visit(ctx, p.OAuth2.ClientSetupURL, providerName(p)+" OAuth clients",
			"Open (or create) the OAuth client mailmend should use, then copy its client ID and secret."); err != nil {
			return err
		}
	}
	in := TextInput{Label: "OAuth client ID", Hint: "from the client's page in the developer console", Default: run.cfg.ClientID, Error: problem}
	var id string
	for {
		v, err := w.ask(ctx, in)
		if err != nil {
			return err
		}
		id = strings.TrimSpace(v)
		if id == "" {
			id = in.Default
		}
		if id != "" && !strings.ContainsAny(id, " \t\r\n") {
			break
		}
		in.Error = "Enter the client ID (one word, no spaces)."
	}
	sec := SecretInput{Label: "OAuth client secret", Hint: "leave empty when the client has none (desktop and mobile clients often do not)", Mask: true, Optional: true}
	v, err := w.ask(ctx, sec)
	if err != nil {
		return err
	}
	run.cfg.ClientID = id
	run.cfg.ClientSecret = strings.TrimSpace(v)
	run.client = &clientItem{ClientID: id, ClientSecret: run.cfg.ClientSecret}
	return nil
}

// useDevice reports whether the device flow is to be used.
func (w *Wizard) useDevice(cfg oauth.Config) bool {
	return w.env.Device && cfg.DeviceAuthURL != "" && w.env.Provider.ID != "google"
}

// consent runs sign-ins until one yields a grant that logs in, or ctx ends.
// problem is shown on the first Consent step.
func (w *Wizard) consent(ctx context.Context, run *consentRun, problem string) (Done, error) {
	device := w.useDevice(run.cfg)
	first := true
	for {
		var tok *oauth.Token
		var err error
		if device {
			tok, err = w.deviceOnce(ctx, run, problem)
			if errors.Is(err, errSwitchToBrowser) {
				device, problem = false, ""
				continue
			}
		} else {
			tok, err = w.browserOnce(ctx, run, problem, first)
		}
		first = false
		if ctx.Err() != nil {
			return Done{}, ctx.Err()
		}
		if err != nil {
			var pe *oauth.ProviderError
			if !errors.As(err, &pe) && !oauth.IsTransient(err) && !isFlowError(err) {
				return Done{}, err // the flow could not even start
			}
			d := w.classifyOAuth(err)
			if d.Cause == cause.InvalidClient {
				msg := "The provider refused the OAuth client: " + errText(err) + " Check the client ID and secret."
				if err := w.askClient(ctx, run, msg); err != nil {
					return Done{}, err
				}
				problem = ""
				continue
			}
			problem = "The sign-in did not complete: " + errText(err)
			if d.Cause != cause.Unknown && d.Cause != "" {
				problem += " — " + d.Title + " (" + string(d.Cause) + ")."
			}
			continue
		}
		res, err := w.login(ctx, probe.Credential{AccessToken: tok.AccessToken}, "Testing the new sign-in")
		if err != nil {
			return Done{}, err
		}
		if !res.ok {
			problem = "You signed in, but the mail server refused the new sign-in. " + res.msg +
				" Sign in again and allow every permission asked for (full mail access)."
			continue
		}
		now := w.now()
		if _, err := w.commit(ctx, store.Secret{Token: tok}, run.client, func(a *account.Account) {
			a.Auth = account.OAuth2
			a.ConsentedAt = now.UTC()
			w.markHealthy(now)(a)
		}); err != nil {
			return Done{}, fmt.Errorf("wizard: the new sign-in works but could not be saved: %w", err)
		}
		msg := "Signed in again: the live login with the new sign-in passed and it replaced the old one."
		if w.env.Account.ID == "" {
			msg = "Signed in: the live login with the new sign-in passed and the account was saved."
		}
		if tok.RefreshToken == "" {
			msg += " The provider sent no refresh token, so the sign-in will have to be renewed when the access token expires."
		}
		if run.note != "" {
			msg += " " + run.note
		}
		return Done{OK: true, Message: msg}, nil
	}
}

// isFlowError reports a sign-in that ended without a provider answer but
// may be tried again (timeout, wrong state, no code, device code expired).
func isFlowError(err error) bool {
	for _, e := range []error{oauth.ErrTimeout, oauth.ErrStateMismatch, oauth.ErrNoCode, oauth.ErrFlowUsed, oauth.ErrDeviceExpired, oauth.ErrDeviceDeclined} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// classifyOAuth names the cause of a failed sign-in.
func (w *Wizard) classifyOAuth(err error) cause.Diagnosis {
	var ev []cause.Evidence
	var pe *oauth.ProviderError
	var te *oauth.TransientError
	switch {
	case errors.As(err, &pe):
		ev = append(ev, pe.Evidence())
	case errors.As(err, &te):
		ev = append(ev, te.Evidence())
	default:
		return cause.Diagnosis{Cause: cause.Unknown}
	}
	return cause.Classify(ev, cause.Context{Provider: w.env.Account.Provider, Auth: string(account.OAuth2)})
}

type flowResult struct {
	tok *oauth.Token
	err error
}

// browserOnce runs one loopback sign-in: it shows the Consent step, takes
// the redirect on the listener or a pasted address, and returns the
// exchanged token. The browser is opened by itself only for the first
// sign-in; later ones open on Submit(""), so a failing provider never
// loops.
func (w *Wizard) browserOnce(ctx context.Context, run *consentRun, problem string, first bool) (*oauth.Token, error) {
	flow := run.flow
	run.flow = nil
	if flow == nil {
		var err error
		flow, err = oauth.Begin(ctx, run.cfg, &oauth.Options{
			LoginHint: w.env.Account.Email,
			Offline:   w.env.Provider.ID == "google",
			Browser:   func(string) error { return nil },
			Now:       w.env.Now,
		})
		if err != nil {
			return nil, err
		}
	}
	defer flow.Close()
	step := Consent{
		AuthURL:      flow.AuthURL(),
		RedirectURI:  flow.RedirectURI(),
		SSHHint:      oauth.SSHHint(flow.Port(), w.env.Getenv),
		PasteAllowed: true,
		Error:        problem,
	}
	if first {
		step.Opened = w.open(step.AuthURL)
	}
	if err := w.show(ctx, step); err != nil {
		return nil, err
	}
	waited := make(chan flowResult, 1)
	go func() {
		tok, err := flow.Wait(ctx)
		waited <- flowResult{tok, err}
	}()
	for {
		select {
		case r := <-waited:
			return r.tok, r.err
		case a := <-w.answers:
			if !w.isCurrent(a) {
				continue
			}
			pasted := strings.TrimSpace(a.text)
			if pasted == "" {
				step.Opened = w.open(step.AuthURL)
				step.Error = ""
				if !step.Opened {
					step.Error = "No browser could be opened here: copy the address into a browser."
				}
				if err := w.show(ctx, step); err != nil {
					return nil, err
				}
				continue
			}
			_, err := oauth.ParseRedirect(pasted, flow)
			var pe *oauth.ProviderError
			if err != nil && !errors.As(err, &pe) {
				step.Error = pasteProblem(err)
				if err := w.show(ctx, step); err != nil {
					return nil, err
				}
				continue
			}
			tok, err := flow.ExchangePasted(ctx, pasted)
			if errors.Is(err, oauth.ErrFlowUsed) {
				r := <-waited // the listener got the answer first
				return r.tok, r.err
			}
			<-waited
			return tok, err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// pasteProblem explains why a pasted address was not taken.
func pasteProblem(err error) string {
	switch {
	case errors.Is(err, oauth.ErrStateMismatch):
		return "That address belongs to another sign-in (its state does not match). Paste the address from the sign-in started here, or open the address above again."
	case errors.Is(err, oauth.ErrNoCode):
		return "That address holds no sign-in answer. Paste the whole address the browser shows after you approved (it starts with http://127.0.0.1 or http://localhost)."
	}
	return "That address could not be read: " + errText(err)
}

// deviceOnce runs one device-code sign-in. A failure asks whether to try
// again, switch to the browser, or stop.
func (w *Wizard) deviceOnce(ctx context.Context, run *consentRun, problem string) (*oauth.Token, error) {
	for {
		df, err := oauth.Device(ctx, run.cfg)
		if err == nil {
			step := DeviceCode{UserCode: df.UserCode, VerificationURI: df.VerificationURI, VerificationURIComplete: df.VerificationURIComplete}
			if df.ExpiresIn > 0 {
				step.ExpiresAt = w.now().Add(df.ExpiresIn)
			}
			if err := w.show(ctx, step); err != nil {
				return nil, err
			}
			// Shown first, then opened: the user needs the code on the page.
			u := df.VerificationURIComplete
			if u == "" {
				u = df.VerificationURI
			}
			w.open(u)
			var tok *oauth.Token
			tok, err = df.Poll(ctx)
			if err == nil {
				return tok, nil
			}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var pe *oauth.ProviderError
		if errors.As(err, &pe) && w.classifyOAuth(err).Cause == cause.InvalidClient {
			return nil, err
		}
		c := Choose{
			Question: "The device sign-in did not complete. What now?",
			Options: []Option{
				{Key: "retry", Label: "Get a new code and try again"},
				{Key: "browser", Label: "Sign in with the browser instead"},
				{Key: "stop", Label: "Stop; nothing is changed"},
			},
			Error: errText(err),
		}
		if problem != "" {
			c.Error = problem + " " + c.Error
			problem = ""
		}
		k, err := w.choose(ctx, c)
		if err != nil {
			return nil, err
		}
		switch k {
		case "browser":
			return nil, errSwitchToBrowser
		case "stop":
			return nil, errStopped
		}
	}
}

// errStopped ends a wizard the user stopped; nothing was changed.
var errStopped = errors.New("wizard: stopped; nothing was changed")

// redirectHint is the redirect URI to register, as far as it is known
// before a flow starts (the port is random unless configured).
func (w *Wizard) redirectHint() string {
	host := w.env.OAuth.RedirectHost
	if host == "" {
		host = "127.0.0.1"
	}
	if w.env.OAuth.RedirectPort > 0 {
		return fmt.Sprintf("http://%s:%d/", host, w.env.OAuth.RedirectPort)
	}
	return "http://" + host + " (any port)"
}

// clientSetupGuide explains, per provider, how to register the OAuth
// client mailmend signs in with.
func clientSetupGuide(p provider.Provider, redirect string) string {
	switch p.ID {
	case "google":
		return `mailmend signs in with an OAuth client that you own, so that no shared app
can lose access for you. Making one takes a few minutes:

1. In the Google Cloud console (https://console.cloud.google.com/), create a
   project or pick one, and enable the **Gmail API** (APIs & Services → Library).
2. APIs & Services → **OAuth consent screen** (Google Auth Platform): fill in
   the app name and your address; under **Data access** add the scope
   ` + "`https://mail.google.com/`" + `.
3. Under **Audience**, press **Publish app** so its status is **In production**.
   A client left in *Testing* gets sign-ins that end after 7 days.
4. **Clients → Create client → Desktop app**. Desktop clients accept the
   loopback redirect ` + redirect + ` without registering it.
5. Copy the **client ID** and **client secret** into the next steps. The secret
   of a desktop client is not confidential; mailmend keeps it in your keyring.`
	case "microsoft":
		return `mailmend signs in with an app registration that you own. Making one takes a
few minutes:

1. Microsoft Entra admin center (https://entra.microsoft.com/) → **App
   registrations → New registration**. Supported account types: the ones you
   need ("personal Microsoft accounts" for Outlook.com).
2. **Authentication → Add a platform → Mobile and desktop applications**, with
   the redirect URI ` + "`http://localhost`" + ` (Entra accepts any port for it). Turn
   **Allow public client flows** on for the device-code sign-in.
3. **API permissions → Add a permission**: Office 365 Exchange Online (or
   Microsoft Graph) delegated ` + "`IMAP.AccessAsUser.All`" + `, ` + "`SMTP.Send`" + ` and
   ` + "`offline_access`" + `. In an organisation, an administrator may have to grant
   consent.
4. Copy the **Application (client) ID** into the next step. A public client
   has no secret: leave the secret empty.`
	}
	return `mailmend signs in with an OAuth client registered at your provider. Register
a native (desktop) client with the redirect URI ` + redirect + `, allow the
mail scopes (` + strings.Join(oauthScopes(p), ", ") + `), then enter its client ID and, if it has one,
its secret.`
}

func oauthScopes(p provider.Provider) []string {
	if p.OAuth2 == nil {
		return nil
	}
	return p.OAuth2.Scopes
}
