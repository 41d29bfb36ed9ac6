// Package demo seeds the built-in sandbox with broken accounts and wires the
// doctor and the OAuth flows to it, for `mailmend demo` and for end-to-end
// tests. The user's own keyring and config are never touched: accounts live
// in a memory store, the providers point at the sandbox's servers on
// loopback, and TLS trusts only the sandbox's own certificate authority.
package demo

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/cause"
	"github.com/mailmend/mailmend/core/doctor"
	"github.com/mailmend/mailmend/core/oauth"
	"github.com/mailmend/mailmend/core/probe"
	"github.com/mailmend/mailmend/core/provider"
	"github.com/mailmend/mailmend/core/sandbox"
	"github.com/mailmend/mailmend/core/store"
)

// Seed is one demo account: the provider it imitates, how it signs in and
// what is broken.
type Seed struct {
	// Local is the part of the address before the '@'; the domain follows
	// the flavour (gmail.com or outlook.com).
	Local    string
	Flavour  sandbox.Flavour
	Auth     account.AuthMethod
	Scenario sandbox.Scenario
}

// Email returns the seed's address.
func (s Seed) Email() string {
	if s.Flavour == sandbox.Microsoft {
		return s.Local + "@outlook.com"
	}
	return s.Local + "@gmail.com"
}

// DefaultSeeds are the accounts `mailmend demo` starts with: one healthy and
// the others each broken by a different cause.
var DefaultSeeds = []Seed{
	{"ada", sandbox.Google, account.Password, sandbox.Healthy},
	{"grace", sandbox.Google, account.Password, sandbox.AppPasswordRequired},
	{"linus", sandbox.Google, account.Password, sandbox.WrongPassword},
	{"alan", sandbox.Google, account.OAuth2, sandbox.AccessRevoked},
	{"margaret", sandbox.Microsoft, account.OAuth2, sandbox.PasswordChanged},
	{"ken", sandbox.Google, account.OAuth2, sandbox.OAuthAppInTesting},
	{"barbara", sandbox.Microsoft, account.OAuth2, sandbox.ClockSkew},
	{"dennis", sandbox.Google, account.Password, sandbox.WrongSettings},
	{"frances", sandbox.Microsoft, account.OAuth2, sandbox.RedirectURIMismatch},
	{"john", sandbox.Microsoft, account.OAuth2, sandbox.ProviderUnavailable},
	{"radia", sandbox.Google, account.OAuth2, sandbox.InvalidClient},
	{"hedy", sandbox.Microsoft, account.OAuth2, sandbox.ProtocolDisabled},
	{"edsger", sandbox.Google, account.Password, sandbox.AccountBlocked},
}

// Demo is a running sandbox with a memory store of seeded accounts.
type Demo struct {
	Sandbox *sandbox.Sandbox
	Store   *store.Store
	// Catalog is the built-in catalog with google and microsoft pointed at
	// the sandbox's authorization server and registered clients.
	Catalog *provider.Catalog
	// Now is the demo's clock.
	Now func() time.Time
}

// Options configures Start.
type Options struct {
	// Seeds are the accounts to create; nil means DefaultSeeds.
	Seeds []Seed
	// LockDir holds the store's lock file; "" means a new temporary folder
	// is not made and the store is locked in memory only.
	LockDir string
	// Sandbox configures the fake providers; nil means defaults.
	Sandbox *sandbox.Options
}

// Start starts the sandbox and seeds the store. Close stops it.
func Start(ctx context.Context, opts Options) (*Demo, error) {
	sb, err := sandbox.Start(ctx, opts.Sandbox)
	if err != nil {
		return nil, err
	}
	d := &Demo{Sandbox: sb, Now: time.Now}
	lock := ""
	if opts.LockDir != "" {
		lock = opts.LockDir + "/demo.lock"
	}
	d.Store = store.New(store.NewMemory(), lock)
	if d.Catalog, err = d.catalog(); err != nil {
		sb.Close()
		return nil, err
	}
	seeds := opts.Seeds
	if seeds == nil {
		seeds = DefaultSeeds
	}
	for _, s := range seeds {
		if _, err := d.Add(ctx, s); err != nil {
			sb.Close()
			return nil, fmt.Errorf("demo: seeding %s: %w", s.Email(), err)
		}
	}
	return d, nil
}

// Close stops the sandbox.
func (d *Demo) Close() error { return d.Sandbox.Close() }

// catalog points google and microsoft at the sandbox.
func (d *Demo) catalog() (*provider.Catalog, error) {
	cat, err := provider.Builtin()
	if err != nil {
		return nil, err
	}
	var over []provider.Provider
	for _, f := range []sandbox.Flavour{sandbox.Google, sandbox.Microsoft} {
		p, _ := cat.Get(string(f))
		e := d.Sandbox.OAuth(f)
		c := d.Sandbox.Client(f)
		o := *p.OAuth2
		o.AuthURL, o.TokenURL, o.RevokeURL = e.AuthURL, e.TokenURL, e.RevokeURL
		if f == sandbox.Microsoft {
			o.DeviceAuthURL = e.DeviceAuthURL
		}
		o.ClientID, o.ClientSecret = c.ID, c.Secret
		o.RedirectHost = "127.0.0.1"
		p.OAuth2 = &o
		// The sandbox's providers take passwords too, so every scenario can
		// be tried with either sign-in.
		p.Auth = []account.AuthMethod{account.OAuth2, account.Password}
		p.AppPasswordURL = d.Sandbox.AccountURL("", "apppasswords")
		over = append(over, p)
	}
	if err := cat.Merge(over); err != nil {
		return nil, err
	}
	return cat, nil
}

// Add creates the sandbox user and its account in the store, with the
// credential a mail program would have kept.
func (d *Demo) Add(ctx context.Context, s Seed) (account.Account, error) {
	email := s.Email()
	if err := d.Sandbox.AddUser(sandbox.UserSpec{Email: email, Flavour: s.Flavour}); err != nil {
		return account.Account{}, err
	}
	settings, err := d.Sandbox.Settings(email)
	if err != nil {
		return account.Account{}, err
	}
	now := d.Now()
	a := account.Account{
		Email: email, Provider: string(s.Flavour), Auth: s.Auth,
		IMAP: settings.IMAP, SMTP: settings.SMTP, Status: account.Unchecked,
	}
	var sec store.Secret
	switch s.Auth {
	case account.OAuth2:
		a.ConsentedAt = now.Add(-3 * 24 * time.Hour).UTC()
		switch s.Scenario {
		case sandbox.OAuthAppInTesting:
			a.ConsentedAt = now.Add(-7*24*time.Hour - time.Hour).UTC()
		case sandbox.TokenExpired:
			// Unused since a consent half a year ago.
			a.ConsentedAt = now.Add(-200 * 24 * time.Hour).UTC()
		}
		if s.Scenario == sandbox.RedirectURIMismatch {
			// The last sign-in never finished: the provider refused the
			// redirect URI, so there is no grant.
			a.Cause = string(cause.RedirectURIMismatch)
			a.Status = account.NeedsReconnect
			break
		}
		tok, err := d.Sandbox.IssueToken(email)
		if err != nil {
			return account.Account{}, err
		}
		// An expired access token: the first check refreshes the grant.
		sec.Token = &store.Token{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, TokenType: tok.TokenType, Expiry: now.Add(-time.Minute)}
	default:
		pw, err := d.Sandbox.AppPassword(email)
		if err != nil {
			return account.Account{}, err
		}
		switch s.Scenario {
		case sandbox.AppPasswordRequired, sandbox.BasicAuthDisabled:
			pw, err = d.Sandbox.Password(email)
		case sandbox.WrongPassword:
			// An app password the provider no longer accepts (revoked, or
			// mistyped when it was set up).
			pw = "qwertyuiopasdfgh"
		}
		if err != nil {
			return account.Account{}, err
		}
		sec.Password = pw
	}
	if s.Scenario != sandbox.Healthy {
		if err := d.Sandbox.SetScenario(email, s.Scenario); err != nil {
			return account.Account{}, err
		}
		if s.Scenario == sandbox.WrongSettings {
			if settings, err = d.Sandbox.Settings(email); err != nil {
				return account.Account{}, err
			}
			a.IMAP, a.SMTP = settings.IMAP, settings.SMTP
		}
	}
	var secp *store.Secret
	if !sec.IsZero() {
		secp = &sec
	}
	return d.Store.Save(ctx, a, secp)
}

// Flavour returns the sandbox flavour of an account.
func flavourOf(a account.Account) sandbox.Flavour {
	if a.Provider == string(sandbox.Microsoft) {
		return sandbox.Microsoft
	}
	return sandbox.Google
}

// OAuthConfig returns the OAuth client for a demo account.
func (d *Demo) OAuthConfig(a account.Account) (oauth.Config, error) {
	p, ok := d.Catalog.Get(a.Provider)
	if !ok || p.OAuth2 == nil {
		return oauth.Config{}, errors.New("demo: no OAuth settings for " + a.Provider)
	}
	cfg := oauth.ConfigFor(p.OAuth2)
	cfg.HTTPClient = d.Sandbox.HTTPClient()
	return cfg, nil
}

// ClockURL returns the URL whose Date header the clock check reads: the
// sandbox's authorization endpoint asked about the account, as the real
// providers' endpoints answer for everyone.
func (d *Demo) ClockURL(a account.Account) string {
	f := flavourOf(a)
	q := url.Values{"client_id": {d.Sandbox.Client(f).ID}, "login_hint": {a.Email}}
	return d.Sandbox.OAuth(f).AuthURL + "?" + q.Encode()
}

// DoctorDeps returns the doctor's dependencies over the demo.
func (d *Demo) DoctorDeps() doctor.Deps {
	return doctor.Deps{
		Store:       d.Store,
		Catalog:     d.Catalog,
		Probe:       probe.Options{RootCAs: d.Sandbox.CAPool(), Timeouts: probe.Timeouts{Greeting: 5 * time.Second}},
		HTTPClient:  d.Sandbox.HTTPClient(),
		OAuthConfig: d.OAuthConfig,
		ClockURL:    d.ClockURL,
		Now:         d.Now,
	}
}

// AutoApprove completes a consent without a browser, as a user clicking
// "Allow" would: it asks the sandbox's authorization page to approve at
// once and delivers the redirect to the loopback listener.
func (d *Demo) AutoApprove(ctx context.Context, authURL string) error {
	u, err := url.Parse(authURL)
	if err != nil {
		return err
	}
	q := u.Query()
	q.Set("sandbox_auto_approve", "1")
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	resp, err := d.Sandbox.HTTPClient().Do(req)
	if err != nil {
		return err
	}
	page, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode/100 != 3 || loc == "" {
		// What the browser would show: the provider's error page.
		return fmt.Errorf("demo: the sign-in page answered %s: %s", resp.Status, pageText(page))
	}
	if !strings.HasPrefix(loc, "http://127.0.0.1:") && !strings.HasPrefix(loc, "http://localhost:") && !strings.HasPrefix(loc, "http://[::1]:") {
		return fmt.Errorf("demo: consent redirected away from loopback")
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
	if err != nil {
		return err
	}
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

var reTags = regexp.MustCompile(`(?s)<[^>]*>`)

// pageText reduces an HTML page to its visible text on one line.
func pageText(b []byte) string {
	t := html.UnescapeString(reTags.ReplaceAllString(string(b), " "))
	return strings.Join(strings.Fields(t), " ")
}
