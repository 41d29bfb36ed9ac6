package wizard

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/cause"
	"github.com/mailmend/mailmend/core/doctor"
	"github.com/mailmend/mailmend/core/guard"
	"github.com/mailmend/mailmend/core/oauth"
	"github.com/mailmend/mailmend/core/probe"
	"github.com/mailmend/mailmend/core/provider"
	"github.com/mailmend/mailmend/core/sandbox"
	"github.com/mailmend/mailmend/core/store"
)

// stepTimeout bounds every wait for a step in the tests.
const stepTimeout = 20 * time.Second

// startSandbox runs the fake providers with the given users.
func startSandbox(t *testing.T, opts *sandbox.Options, users ...sandbox.UserSpec) *sandbox.Sandbox {
	t.Helper()
	if opts == nil {
		opts = &sandbox.Options{}
	}
	sb, err := sandbox.Start(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	for _, u := range users {
		if err := sb.AddUser(u); err != nil {
			t.Fatal(err)
		}
	}
	// go-imap's imapserver (v2.0.0-beta.8) races when Close comes before
	// its Serve loop has started: read one greeting of each server first.
	if len(users) > 0 {
		ep, err := sb.Endpoints(users[0].Email)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range []account.Endpoint{ep.IMAP, ep.SMTP} {
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", e.Addr(), sb.ClientTLS(e.Host))
			if err != nil {
				t.Fatal(err)
			}
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
				t.Fatalf("greeting of %s: %v", e.Addr(), err)
			}
			c.Close()
		}
	}
	return sb
}

// fixture is one sandbox account under repair.
type fixture struct {
	t       *testing.T
	sb      *sandbox.Sandbox
	email   string
	st      *store.Store
	mem     *store.Memory
	acct    account.Account
	prov    provider.Provider
	cfg     oauth.Config
	guard   *guard.Guard
	browser *scriptedBrowser
}

// newFixture stores the sandbox account email (with its current, maybe
// broken, settings) with the given auth method and secret.
func newFixture(t *testing.T, sb *sandbox.Sandbox, email string, auth account.AuthMethod, sec *store.Secret) *fixture {
	t.Helper()
	cur, err := sb.Settings(email)
	if err != nil {
		t.Fatal(err)
	}
	good, err := sb.GoodSettings(email)
	if err != nil {
		t.Fatal(err)
	}
	id := "google"
	if good.Flavour == sandbox.Microsoft {
		id = "microsoft"
	}
	p := provider.Provider{
		ID: id, Name: "Sandbox " + id,
		IMAP: good.IMAP.Addr(), IMAPSecurity: good.IMAP.Security,
		SMTP: good.SMTP.Addr(), SMTPSecurity: good.SMTP.Security,
		Auth:           []account.AuthMethod{account.OAuth2, account.Password},
		SecurityURL:    sb.AccountURL(email, "security"),
		HelpURL:        sb.AccountURL(email, "imap"),
		AppPasswordURL: sb.AccountURL(email, "apppasswords"),
		OAuth2: &provider.OAuth2{
			AuthURL: good.OAuth.AuthURL, TokenURL: good.OAuth.TokenURL, DeviceAuthURL: good.OAuth.DeviceAuthURL,
			Scopes: good.Scopes, ClientID: good.ClientID, ClientSecret: good.ClientSecret,
			ClientSetupURL: "https://console.example.test/clients",
		},
	}
	if id == "google" {
		p.AppPasswordFormat = provider.FormatGoogle16
		p.AppPasswordPrereq = "2-Step Verification must be on for the Google account"
		p.OAuth2.DeviceAuthURL = ""
	}
	cfg := oauth.ConfigFor(p.OAuth2)
	cfg.HTTPClient = sb.HTTPClient()
	mem := store.NewMemory()
	st := store.New(mem, "")
	a, err := st.Save(t.Context(), account.Account{
		Email: email, Provider: id, Auth: auth, IMAP: cur.IMAP, SMTP: cur.SMTP,
		ConsentedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Status: account.NeedsReconnect,
	}, sec)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{
		t: t, sb: sb, email: email, st: st, mem: mem, acct: a, prov: p, cfg: cfg,
		guard:   guard.New(filepath.Join(t.TempDir(), "guard"), nil),
		browser: newBrowser(sb),
	}
}

// env is the wizard environment over the fixture, with the real doctor as
// the re-test.
func (f *fixture) env() Env {
	popts := probe.Options{RootCAs: f.sb.CAPool(), Timeouts: probe.Timeouts{Dial: 5 * time.Second, TLS: 5 * time.Second, Greeting: 5 * time.Second, Command: 5 * time.Second, Auth: 5 * time.Second}}
	cat, err := provider.New(f.prov)
	if err != nil {
		f.t.Fatal(err)
	}
	doc := doctor.New(doctor.Deps{
		Store: f.st, Catalog: cat, Probe: popts, HTTPClient: f.sb.HTTPClient(), Guard: f.guard,
		OAuthConfig: func(account.Account) (oauth.Config, error) { return f.cfg, nil },
	})
	return Env{
		Account:  f.acct,
		Store:    f.st,
		Provider: f.prov,
		OAuth:    f.cfg,
		Probe:    popts,
		Guard:    f.guard,
		Verify:   DoctorVerify(doc),
		Browser:  f.browser.open,
	}
}

// secret returns the stored secret of the fixture's account.
func (f *fixture) secret() store.Secret {
	f.t.Helper()
	s, err := f.st.Secret(context.Background(), f.acct.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// stored returns the fixture's account as stored.
func (f *fixture) stored() account.Account {
	f.t.Helper()
	a, err := f.st.Find(context.Background(), f.acct.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return a
}

// scriptedBrowser "opens" a URL by fetching it with a client that trusts
// the sandbox and follows every redirect, the loopback one included.
type scriptedBrowser struct {
	client *http.Client
	mu     sync.Mutex
	urls   []string
	// query is appended to sign-in addresses (sandbox_auto_approve=1).
	query string
	off   bool
}

func newBrowser(sb *sandbox.Sandbox) *scriptedBrowser {
	return &scriptedBrowser{
		client: &http.Client{Transport: sb.HTTPClient().Transport, Timeout: 10 * time.Second},
		query:  "sandbox_auto_approve=1",
	}
}

func (b *scriptedBrowser) open(u string) error {
	b.mu.Lock()
	b.urls = append(b.urls, u)
	off, q := b.off, b.query
	b.mu.Unlock()
	if off {
		return nil
	}
	if strings.Contains(u, "/authorize?") && q != "" {
		u += "&" + q
	}
	resp, err := b.client.Get(u)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

func (b *scriptedBrowser) opened() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.urls...)
}

// next returns the wizard's next step, failing the test after stepTimeout.
func next(t *testing.T, w *Wizard) Step {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	s, err := w.Next(ctx)
	if err != nil {
		t.Fatalf("next step: %v (current %#v)", err, w.Current())
	}
	return s
}

// expect returns the next step, which must be a T.
func expect[T Step](t *testing.T, w *Wizard) T {
	t.Helper()
	s := next(t, w)
	v, ok := s.(T)
	if !ok {
		var zero T
		t.Fatalf("step is %T %+v, want %T", s, s, zero)
	}
	return v
}

// submit answers the current step.
func submit(t *testing.T, w *Wizard, in string) {
	t.Helper()
	if err := w.Submit(in); err != nil {
		t.Fatalf("submit: %v", err)
	}
}

// skipWorking returns the first step that is not Working.
func skipWorking(t *testing.T, w *Wizard) Step {
	t.Helper()
	for {
		s := next(t, w)
		if _, ok := s.(Working); !ok {
			return s
		}
	}
}

// startWizard builds and starts the wizard, cancelling it at the end.
func startWizard(t *testing.T, id cause.ID, env Env) *Wizard {
	t.Helper()
	w, err := For(id, env)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		_ = w.Wait(context.Background())
	})
	w.Start(ctx)
	return w
}

// expectPast returns the first step after any Working steps, which must be
// a T.
func expectPast[T Step](t *testing.T, w *Wizard) T {
	t.Helper()
	s := skipWorking(t, w)
	v, ok := s.(T)
	if !ok {
		var zero T
		t.Fatalf("step is %T %+v, want %T", s, s, zero)
	}
	return v
}
