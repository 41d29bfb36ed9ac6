package oauth

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/cause"
	"github.com/mailmend/mailmend/core/sandbox"
	"github.com/mailmend/mailmend/core/store"
)

// startSandbox runs the built-in fake providers with one account per
// flavour.
func startSandbox(t *testing.T, opts *sandbox.Options) *sandbox.Sandbox {
	t.Helper()
	sb, err := sandbox.Start(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	for _, u := range []sandbox.UserSpec{
		{Email: "ann@outlook.test", Flavour: sandbox.Microsoft},
		{Email: "gus@gmail.test", Flavour: sandbox.Google},
	} {
		if err := sb.AddUser(u); err != nil {
			t.Fatal(err)
		}
	}
	// go-imap's imapserver (v2.0.0-beta.8) races when Close comes before
	// its Serve loop has started (WaitGroup Add after Wait); reading each
	// server's greeting once makes sure both loops run before Close.
	ep, err := sb.Endpoints("ann@outlook.test")
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
	return sb
}

func sandboxConfig(sb *sandbox.Sandbox, f sandbox.Flavour) Config {
	oc := sb.OAuth2Config(f, "")
	e := sb.OAuth(f)
	cfg := Config{
		AuthURL: e.AuthURL, TokenURL: e.TokenURL, DeviceAuthURL: e.DeviceAuthURL, RevokeURL: e.RevokeURL,
		ClientID: oc.ClientID, ClientSecret: oc.ClientSecret, Scopes: oc.Scopes, HTTPClient: sb.HTTPClient(),
	}
	if f == sandbox.Google {
		cfg.DeviceAuthURL = "" // never offered for Google
	}
	return cfg
}

// sandboxBrowser follows the sandbox's redirects (its HTTPClient does
// not) to the flow's loopback listener.
func sandboxBrowser(sb *sandbox.Sandbox) func(string) error {
	tr := sb.HTTPClient().Transport
	return func(u string) error {
		c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		resp, err := c.Get(u)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
}

func TestSandboxConsentRefreshRevoke(t *testing.T) {
	sb := startSandbox(t, &sandbox.Options{AutoApprove: true})
	for _, tc := range []struct {
		f     sandbox.Flavour
		email string
		dead  string // text the dead-grant answer carries
	}{
		{sandbox.Microsoft, "ann@outlook.test", "AADSTS"},
		{sandbox.Google, "gus@gmail.test", "expired or revoked"},
	} {
		t.Run(string(tc.f), func(t *testing.T) {
			cfg := sandboxConfig(sb, tc.f)
			before := sb.Counters()
			f, err := Begin(t.Context(), cfg, &Options{Browser: sandboxBrowser(sb), LoginHint: tc.email, Offline: tc.f == sandbox.Google, Timeout: 20 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Open(); err != nil {
				t.Fatal(err)
			}
			tok, err := f.Wait(t.Context())
			if err != nil {
				t.Fatalf("consent: %v", err)
			}
			if tok.RefreshToken == "" || time.Until(tok.Expiry) < 30*time.Minute {
				t.Fatalf("token %+v", tok)
			}
			if c := sb.Counters(); c.CodeExchanges-before.CodeExchanges != 1 {
				t.Fatalf("%d code exchanges", c.CodeExchanges-before.CodeExchanges)
			}

			// 20 goroutines refresh an expired grant: one refresh, no reuse.
			st := store.New(store.NewMemory(), "")
			tok.Expiry = time.Now().Add(-time.Minute)
			a, err := st.Save(t.Context(), account.Account{Email: tc.email, Provider: string(tc.f), Auth: account.OAuth2}, &store.Secret{Token: tok})
			if err != nil {
				t.Fatal(err)
			}
			before = sb.Counters()
			var wg sync.WaitGroup
			results := make([]AccessToken, 20)
			errs := make([]error, 20)
			for i := range results {
				wg.Go(func() { results[i], errs[i] = Refresh(t.Context(), st, a.ID, cfg, nil) })
			}
			wg.Wait()
			for i := range results {
				if errs[i] != nil || results[i].Token != results[0].Token || results[i].Token == tok.AccessToken {
					t.Fatalf("goroutine %d: %+v, %v", i, results[i], errs[i])
				}
			}
			c := sb.Counters()
			if c.Refreshes-before.Refreshes != 1 || c.RefreshesOK-before.RefreshesOK != 1 || c.ReuseDetected != before.ReuseDetected {
				t.Fatalf("sandbox saw %d refreshes (%d ok, %d reuse), want exactly one", c.Refreshes-before.Refreshes, c.RefreshesOK-before.RefreshesOK, c.ReuseDetected-before.ReuseDetected)
			}

			// The user removes the app's access: the next refresh is one
			// request and a ProviderError the classifier recognises.
			if err := sb.Revoke(tc.email); err != nil {
				t.Fatal(err)
			}
			later := func() time.Time { return time.Now().Add(2 * time.Hour) }
			before = sb.Counters()
			_, err = Refresh(t.Context(), st, a.ID, cfg, later)
			var pe *ProviderError
			if !errors.As(err, &pe) || pe.Code != "invalid_grant" || !strings.Contains(pe.Description, tc.dead) {
				t.Fatalf("refresh of a revoked grant = %v", err)
			}
			if c := sb.Counters(); c.Token-before.Token != 1 {
				t.Fatalf("%d token requests for a dead grant, want 1", c.Token-before.Token)
			}
			d := cause.Classify([]cause.Evidence{pe.Evidence()}, cause.Context{Provider: providerOf(tc.f), Auth: "oauth2"})
			if d.Cause == cause.Unknown || d.Cause == cause.ProviderUnavailable {
				t.Fatalf("classified as %s", d.Cause)
			}
			t.Logf("%s dead grant: %s -> %s %v", tc.f, pe.Error(), d.Cause, d.Candidates)
		})
	}
}

func providerOf(f sandbox.Flavour) string {
	if f == sandbox.Google {
		return "google"
	}
	return "microsoft"
}

func TestSandboxDeviceFlow(t *testing.T) {
	sb := startSandbox(t, &sandbox.Options{DeviceInterval: -1})
	if _, err := Device(t.Context(), sandboxConfig(sb, sandbox.Google)); !errors.Is(err, ErrNoDeviceFlow) {
		t.Fatalf("Google device flow: %v", err)
	}
	d, err := Device(t.Context(), sandboxConfig(sb, sandbox.Microsoft))
	if err != nil {
		t.Fatal(err)
	}
	if d.UserCode == "" || !strings.HasPrefix(d.VerificationURI, "https://127.0.0.1:") {
		t.Fatalf("device flow %+v", d)
	}
	polls := 0
	d.sleep = func(ctx context.Context, _ time.Duration) error {
		polls++
		if polls == 3 {
			if err := sb.ApproveDevice(d.UserCode, "ann@outlook.test"); err != nil {
				return err
			}
		}
		return sleepCtx(ctx, 5*time.Millisecond)
	}
	tok, err := d.Poll(t.Context())
	if err != nil || tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("Poll = %+v, %v", tok, err)
	}
	if c := sb.Counters(); c.DevicePolls != 3 {
		t.Fatalf("%d polls, want 3 (two pending, then the token)", c.DevicePolls)
	}

	d, err = Device(t.Context(), sandboxConfig(sb, sandbox.Microsoft))
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.DenyDevice(d.UserCode); err != nil {
		t.Fatal(err)
	}
	d.sleep = func(context.Context, time.Duration) error { return nil }
	if _, err := d.Poll(t.Context()); !errors.Is(err, ErrDeviceDeclined) {
		t.Fatalf("denied device flow: %v", err)
	}
}
