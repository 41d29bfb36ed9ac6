package wizard

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/cause"
	"github.com/mailmend/mailmend/core/oauth"
	"github.com/mailmend/mailmend/core/probe"
	"github.com/mailmend/mailmend/core/sandbox"
	"github.com/mailmend/mailmend/core/store"
)

// oauthFixture stores the account with a grant seeded while it was healthy,
// then breaks it with scenario s.
func oauthFixture(t *testing.T, flavour sandbox.Flavour, email string, s sandbox.Scenario, opts *sandbox.Options) (*fixture, *store.Token) {
	t.Helper()
	sb := startSandbox(t, opts, sandbox.UserSpec{Email: email, Flavour: flavour})
	tok, err := sb.IssueToken(email)
	if err != nil {
		t.Fatal(err)
	}
	old := &store.Token{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, TokenType: "Bearer", Expiry: tok.Expiry}
	if err := sb.SetScenario(email, s); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, sb, email, account.OAuth2, &store.Secret{Token: old})
	return f, old
}

func checkReconsented(t *testing.T, f *fixture, old *store.Token, d Done) {
	t.Helper()
	if !d.OK {
		t.Fatalf("done = %+v", d)
	}
	sec := f.secret()
	if sec.Token == nil || sec.Token.RefreshToken == "" || sec.Token.RefreshToken == old.RefreshToken || sec.Token.AccessToken == old.AccessToken {
		t.Fatalf("the grant was not replaced")
	}
	a := f.stored()
	if a.ID != f.acct.ID || a.Auth != account.OAuth2 || a.Status != account.Healthy || a.Cause != "" || !a.ConsentedAt.After(f.acct.ConsentedAt) {
		t.Fatalf("stored account = %+v (was %+v)", a, f.acct)
	}
	if list, _ := f.st.List(t.Context()); len(list) != 1 {
		t.Fatalf("%d accounts stored, want 1", len(list))
	}
	// The new grant really works.
	if _, err := probe.IMAPLogin(t.Context(), a.IMAP, a.Login(), probe.Credential{AccessToken: sec.Token.AccessToken}, probe.Options{RootCAs: f.sb.CAPool()}); err != nil {
		t.Fatalf("login with the saved token: %v", err)
	}
}

func TestReconsentLoopback(t *testing.T) {
	f, old := oauthFixture(t, sandbox.Microsoft, "dan@outlook.test", sandbox.TokenExpired, nil)
	env := f.env()
	env.Getenv = func(k string) string {
		return map[string]string{"SSH_CONNECTION": "192.0.2.7 50000 192.0.2.10 22", "USER": "dan"}[k]
	}
	w := startWizard(t, cause.TokenExpired, env)
	ex := expect[Explain](t, w)
	if ex.Title != cause.Info(cause.TokenExpired).Title {
		t.Fatalf("title %q", ex.Title)
	}
	submit(t, w, "")
	c := expect[Consent](t, w)
	if !c.Opened || !c.PasteAllowed || !strings.HasPrefix(c.RedirectURI, "http://localhost:") && !strings.HasPrefix(c.RedirectURI, "http://127.0.0.1:") {
		t.Fatalf("consent = %+v", c)
	}
	if !strings.Contains(c.SSHHint, "ssh -N -L") || !strings.Contains(c.SSHHint, "dan@192.0.2.10") {
		t.Fatalf("ssh hint = %q", c.SSHHint)
	}
	u, _ := url.Parse(c.AuthURL)
	if u.Query().Get("login_hint") != f.email || u.Query().Get("code_challenge") == "" {
		t.Fatalf("auth url %s", c.AuthURL)
	}
	d := expectPast[Done](t, w)
	checkReconsented(t, f, old, d)
}

// A consent whose new token the mail server refuses goes back to Consent
// with the error; the old grant stays until one verifies.
func TestReconsentKeepsOldUntilVerified(t *testing.T) {
	f, old := oauthFixture(t, sandbox.Google, "eve@gmail.test", sandbox.AccessRevoked, nil)
	env := f.env()
	wrongIMAP, _ := f.sb.WrongNameEndpoints()
	env.Account.IMAP = wrongIMAP // the login cannot verify there
	w := startWizard(t, cause.AccessRevoked, env)
	expect[Explain](t, w)
	submit(t, w, "")
	expect[Consent](t, w)
	c := expectPast[Consent](t, w)
	if !strings.Contains(c.Error, "refused the new sign-in") && !strings.Contains(c.Error, "Could not test it") {
		t.Fatalf("consent error = %q", c.Error)
	}
	if c.Opened {
		t.Fatal("the browser was opened again by itself")
	}
	sec := f.secret()
	if sec.Token.RefreshToken != old.RefreshToken {
		t.Fatal("the old grant was replaced before the new one verified")
	}
	if a := f.stored(); !a.ConsentedAt.Equal(f.acct.ConsentedAt) || a.Status != account.NeedsReconnect {
		t.Fatalf("account changed: %+v", a)
	}
}

func TestConsentWrongStateAndDenied(t *testing.T) {
	f, old := oauthFixture(t, sandbox.Google, "fay@gmail.test", sandbox.PasswordChanged, nil)
	env := f.env()
	env.Browser = nil // nothing opens by itself
	w := startWizard(t, cause.PasswordChanged, env)
	expect[Explain](t, w)
	submit(t, w, "")
	c := expect[Consent](t, w)
	if c.Opened {
		t.Fatal("Opened without a browser")
	}
	state := mustQuery(t, c.AuthURL, "state")

	// A paste from another sign-in: same flow, error shown.
	submit(t, w, c.RedirectURI+"?code=abc&state=not-"+state)
	c2 := expect[Consent](t, w)
	if c2.AuthURL != c.AuthURL || !strings.Contains(c2.Error, "state does not match") {
		t.Fatalf("after wrong state: %+v", c2)
	}
	// A paste of an address without an answer.
	submit(t, w, "http://127.0.0.1/")
	c2 = expect[Consent](t, w)
	if !strings.Contains(c2.Error, "no sign-in answer") {
		t.Fatalf("after empty paste: %q", c2.Error)
	}
	// The user denied: a new sign-in with the provider's answer shown.
	submit(t, w, c.RedirectURI+"?error=access_denied&state="+url.QueryEscape(state))
	c3 := expect[Consent](t, w)
	if c3.AuthURL == c.AuthURL || !strings.Contains(c3.Error, "access_denied") {
		t.Fatalf("after denial: %+v", c3)
	}
	// Submit("") asks to open the browser; there is none.
	submit(t, w, "")
	c4 := expect[Consent](t, w)
	if !strings.Contains(c4.Error, "No browser") {
		t.Fatalf("reopen without browser: %q", c4.Error)
	}
	// Now the user signs in in a browser elsewhere; the listener takes it.
	if err := f.browser.open(c3.AuthURL); err != nil {
		t.Fatal(err)
	}
	d := expectPast[Done](t, w)
	checkReconsented(t, f, old, d)
}

func mustQuery(t *testing.T, raw, key string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	v := u.Query().Get(key)
	if v == "" {
		t.Fatalf("%s has no %s", raw, key)
	}
	return v
}

// The sandbox's code_invalid scenario refuses the first code as already
// redeemed; the wizard goes back to Consent and the next sign-in works.
func TestCodeInvalidRestartsConsent(t *testing.T) {
	f, old := oauthFixture(t, sandbox.Microsoft, "gil@outlook.test", sandbox.CodeInvalid, nil)
	w := startWizard(t, cause.CodeInvalid, f.env())
	expect[Explain](t, w)
	submit(t, w, "")
	expect[Consent](t, w) // the browser already ran and the exchange failed
	c := expect[Consent](t, w)
	if c.Error == "" || !strings.Contains(c.Error, string(cause.CodeInvalid)) {
		t.Fatalf("consent error = %q", c.Error)
	}
	submit(t, w, "") // open the browser again
	if c := expect[Consent](t, w); !c.Opened || c.Error != "" {
		t.Fatalf("re-opened consent %+v", c)
	}
	d := expectPast[Done](t, w)
	checkReconsented(t, f, old, d)
}

func TestDeviceFlow(t *testing.T) {
	f, old := oauthFixture(t, sandbox.Microsoft, "hal@outlook.test", sandbox.InteractionRequired, &sandbox.Options{DeviceInterval: time.Second})
	env := f.env()
	env.Device = true
	w := startWizard(t, cause.InteractionRequired, env)
	expect[Explain](t, w)
	submit(t, w, "")
	dc := expect[DeviceCode](t, w)
	if dc.UserCode == "" || dc.VerificationURI == "" || !dc.ExpiresAt.After(time.Now()) {
		t.Fatalf("device code = %+v", dc)
	}
	if err := w.Submit("x"); err != ErrNoInput {
		t.Fatalf("Submit on DeviceCode = %v", err)
	}
	if err := f.sb.DenyDevice(dc.UserCode); err != nil {
		t.Fatal(err)
	}
	ch := expect[Choose](t, w)
	if !strings.Contains(ch.Error, "declined") || len(ch.Options) != 3 {
		t.Fatalf("after deny: %+v", ch)
	}
	if err := w.Choose(0); err != nil { // a new code
		t.Fatal(err)
	}
	dc2 := expect[DeviceCode](t, w)
	if dc2.UserCode == dc.UserCode {
		t.Fatal("the same code again")
	}
	if err := f.sb.ApproveDevice(dc2.UserCode, f.email); err != nil {
		t.Fatal(err)
	}
	d := expectPast[Done](t, w)
	checkReconsented(t, f, old, d)
}

func TestNoDeviceFlowForGoogle(t *testing.T) {
	f, _ := oauthFixture(t, sandbox.Google, "ida@gmail.test", sandbox.TokenExpired, nil)
	env := f.env()
	env.Device = true
	env.OAuth.DeviceAuthURL = f.sb.OAuth(sandbox.Google).DeviceAuthURL // even if configured
	env.Browser = nil
	w := startWizard(t, cause.TokenExpired, env)
	expect[Explain](t, w)
	submit(t, w, "")
	expect[Consent](t, w)
}

func TestRedirectURIMismatch(t *testing.T) {
	f, old := oauthFixture(t, sandbox.Google, "jon@gmail.test", sandbox.RedirectURIMismatch, nil)
	w := startWizard(t, cause.RedirectURIMismatch, f.env())
	ex := expect[Explain](t, w)
	if !strings.Contains(ex.Body, "Desktop app") || !strings.Contains(ex.Body, "http://127.0.0.1:") {
		t.Fatalf("explain body:\n%s", ex.Body)
	}
	// The user registers the URI; the provider accepts it from now on.
	if err := f.sb.Fix(f.email); err != nil {
		t.Fatal(err)
	}
	submit(t, w, "")
	c := expect[Consent](t, w)
	if !strings.Contains(ex.Body, "    "+c.RedirectURI+"\n") {
		t.Fatalf("consent redirect %q is not the one shown:\n%s", c.RedirectURI, ex.Body)
	}
	d := expectPast[Done](t, w)
	checkReconsented(t, f, old, d)
}

func TestInvalidClient(t *testing.T) {
	f, old := oauthFixture(t, sandbox.Google, "kim@gmail.test", sandbox.InvalidClient, nil)
	env := f.env()
	f.browser.off = true
	w := startWizard(t, cause.InvalidClient, env)
	expect[Explain](t, w)
	submit(t, w, "")
	guide := expect[Explain](t, w)
	if !strings.Contains(guide.Body, "Desktop app") || !strings.Contains(guide.Body, "Publish app") {
		t.Fatalf("client setup guide lacks the Desktop app and publishing steps: %q", guide.Body)
	}
	submit(t, w, "")
	expect[OpenURL](t, w)
	submit(t, w, "")
	ti := expect[TextInput](t, w)
	if ti.Default != sandbox.GoogleClientID {
		t.Fatalf("default client id %q", ti.Default)
	}
	submit(t, w, "no spaces allowed")
	ti = expect[TextInput](t, w)
	if ti.Error == "" {
		t.Fatal("a client id with spaces was taken")
	}
	submit(t, w, "wrong-client.apps.googleusercontent.com")
	si := expect[SecretInput](t, w)
	if !si.Mask || !si.Optional {
		t.Fatalf("client secret input %+v", si)
	}
	submit(t, w, "nope")
	ti = expectPast[TextInput](t, w)
	if !strings.Contains(ti.Error, "refused this client") {
		t.Fatalf("error %q", ti.Error)
	}
	if _, _, ok, _ := LoadClient(f.mem, "google"); ok {
		t.Fatal("a refused client was saved")
	}
	// The provider side is repaired (a new secret was made); enter it.
	if err := f.sb.Fix(f.email); err != nil {
		t.Fatal(err)
	}
	if ti.Default != "wrong-client.apps.googleusercontent.com" {
		t.Fatalf("default after a refusal %q", ti.Default)
	}
	submit(t, w, sandbox.GoogleClientID)
	expect[SecretInput](t, w)
	submit(t, w, sandbox.GoogleClientSecret)
	d := expectPast[Done](t, w)
	if !d.OK {
		t.Fatalf("done %+v", d)
	}
	id, secret, ok, err := LoadClient(f.mem, "google")
	if !ok || err != nil || id != sandbox.GoogleClientID || secret != sandbox.GoogleClientSecret {
		t.Fatalf("stored client %q %v %v", id, ok, err)
	}
	sec := f.secret()
	if sec.Token.RefreshToken == old.RefreshToken {
		t.Fatal("the rotated refresh token was not saved")
	}
	if a := f.stored(); a.Status != account.Healthy || a.ID != f.acct.ID {
		t.Fatalf("account %+v", a)
	}
}

func TestMissingClientAsksFirst(t *testing.T) {
	f, old := oauthFixture(t, sandbox.Google, "lea@gmail.test", sandbox.ConsentRequired, nil)
	env := f.env()
	env.OAuth.ClientID, env.OAuth.ClientSecret = "", ""
	w := startWizard(t, cause.ConsentRequired, env)
	expect[Explain](t, w)
	submit(t, w, "")
	expect[Explain](t, w) // how to set up a client
	submit(t, w, "")
	ou := expect[OpenURL](t, w)
	if ou.URL != "https://console.example.test/clients" {
		t.Fatalf("setup url %q", ou.URL)
	}
	f.browser.mu.Lock()
	f.browser.urls = nil
	f.browser.mu.Unlock()
	submit(t, w, "")
	expect[TextInput](t, w)
	submit(t, w, "") // no default: an empty id is refused
	ti := expect[TextInput](t, w)
	if ti.Error == "" {
		t.Fatal("an empty client id was taken")
	}
	submit(t, w, sandbox.GoogleClientID)
	expect[SecretInput](t, w)
	submit(t, w, sandbox.GoogleClientSecret)
	c := expect[Consent](t, w)
	if mustQuery(t, c.AuthURL, "client_id") != sandbox.GoogleClientID {
		t.Fatalf("auth url %s", c.AuthURL)
	}
	d := expectPast[Done](t, w)
	checkReconsented(t, f, old, d)
	if id, _, ok, _ := LoadClient(f.mem, "google"); !ok || id != sandbox.GoogleClientID {
		t.Fatal("the entered client was not saved with the grant")
	}
}

func TestBasicAuthDisabledSwitchesToOAuth(t *testing.T) {
	const email = "max@outlook.test"
	sb := startSandbox(t, nil, sandbox.UserSpec{Email: email, Password: "pw", Flavour: sandbox.Microsoft, Scenario: sandbox.BasicAuthDisabled})
	f := newFixture(t, sb, email, account.Password, &store.Secret{Password: "pw"})
	f.prov.AppPasswordURL = ""
	w := startWizard(t, cause.BasicAuthDisabled, f.env())
	expect[Explain](t, w)
	submit(t, w, "")
	ch := expect[Choose](t, w)
	if len(ch.Options) != 2 || ch.Options[0].Key != "oauth" {
		t.Fatalf("options %+v", ch.Options)
	}
	submit(t, w, "1")
	expect[Consent](t, w)
	d := expectPast[Done](t, w)
	if !d.OK {
		t.Fatalf("done %+v", d)
	}
	a := f.stored()
	if a.Auth != account.OAuth2 || a.ID != f.acct.ID || a.ConsentedAt.IsZero() {
		t.Fatalf("account %+v", a)
	}
	if sec := f.secret(); sec.Token == nil || sec.Password != "" {
		t.Fatal("the secret was not switched to a token")
	}
}

func TestAppInTestingLater(t *testing.T) {
	f, old := oauthFixture(t, sandbox.Google, "ned@gmail.test", sandbox.OAuthAppInTesting, nil)
	w := startWizard(t, cause.OAuthAppInTesting, f.env())
	ex := expect[Explain](t, w)
	if !strings.Contains(ex.Body, "console.cloud.google.com/auth/audience") {
		t.Fatal("the guide on publishing is missing")
	}
	submit(t, w, "")
	ou := expect[OpenURL](t, w)
	if !strings.Contains(ou.Why, "Publish app") {
		t.Fatalf("open url %+v", ou)
	}
	submit(t, w, "")
	expect[Choose](t, w)
	submit(t, w, "later")
	expect[Consent](t, w)
	d := expectPast[Done](t, w)
	checkReconsented(t, f, old, d)
	if !strings.Contains(d.Message, "7 days") {
		t.Fatalf("message %q", d.Message)
	}
}

// `mailmend add --auth oauth2`: a new account (no id) is added once its
// first grant logged in.
func TestConsentAddsNewAccount(t *testing.T) {
	f, _ := oauthFixture(t, sandbox.Microsoft, "uma@outlook.test", sandbox.Healthy, nil)
	if err := f.st.Remove(t.Context(), f.acct.ID); err != nil {
		t.Fatal(err)
	}
	env := f.env()
	env.Account.ID, env.Account.ConsentedAt, env.Account.Status = "", time.Time{}, ""
	w := startWizard(t, Reconnect, env)
	expect[Consent](t, w)
	d := expectPast[Done](t, w)
	if !d.OK {
		t.Fatalf("done %+v", d)
	}
	a, ok := w.Account()
	if !ok || a.ID == "" || a.Auth != account.OAuth2 || a.ConsentedAt.IsZero() || a.Status != account.Healthy {
		t.Fatalf("saved account %+v %v", a, ok)
	}
	sec, err := f.st.Secret(t.Context(), a.ID)
	if err != nil || sec.Token == nil || sec.Token.RefreshToken == "" {
		t.Fatalf("secret of the new account: %v", err)
	}
}

// A redirect to the listener with another sign-in's state ends that flow;
// a new sign-in is offered with the error.
func TestListenerWrongState(t *testing.T) {
	f, old := oauthFixture(t, sandbox.Google, "val@gmail.test", sandbox.TokenExpired, nil)
	env := f.env()
	env.Browser = nil
	w := startWizard(t, cause.TokenExpired, env)
	expect[Explain](t, w)
	submit(t, w, "")
	c := expect[Consent](t, w)
	resp, err := f.browser.client.Get(c.RedirectURI + "?code=x&state=forged")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	c2 := expect[Consent](t, w)
	if c2.AuthURL == c.AuthURL || !strings.Contains(c2.Error, "state") {
		t.Fatalf("after a forged redirect: %+v", c2)
	}
	if f.secret().Token.RefreshToken != old.RefreshToken {
		t.Fatal("the grant changed")
	}
	if err := f.browser.open(c2.AuthURL); err != nil {
		t.Fatal(err)
	}
	checkReconsented(t, f, old, expectPast[Done](t, w))
}

func TestApplyStoredClient(t *testing.T) {
	mem := store.NewMemory()
	cfg := oauth.Config{ClientID: "catalog"}
	if ok, err := ApplyStoredClient(mem, "google", &cfg); ok || err != nil || cfg.ClientID != "catalog" {
		t.Fatalf("no item: %v %v %+v", ok, err, cfg)
	}
	_ = mem.Set(ClientKey("google"), []byte(`{"client_id":"mine","client_secret":"s"}`))
	if ok, err := ApplyStoredClient(mem, "google", &cfg); !ok || err != nil || cfg.ClientID != "mine" || cfg.ClientSecret != "s" {
		t.Fatalf("item: %v %v", ok, err)
	}
	_ = mem.Set(ClientKey("bad"), []byte(`{`))
	if _, err := ApplyStoredClient(mem, "bad", &cfg); err == nil || strings.Contains(err.Error(), "{") {
		t.Fatalf("corrupt item: %v", err)
	}
}
