package oauth

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/mailmend/mailmend/core/provider"
)

// startDevice begins a device flow whose polling does not really sleep but
// records the intervals it would have waited.
func startDevice(t *testing.T, as *fakeAS, script ...string) (*DeviceFlow, *[]time.Duration) {
	t.Helper()
	as.set(func(as *fakeAS) { as.deviceScript = script; as.devicePolls = 0 })
	d, err := Device(t.Context(), as.config())
	if err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	d.sleep = func(ctx context.Context, dur time.Duration) error {
		waits = append(waits, dur)
		return ctx.Err()
	}
	return d, &waits
}

func TestDeviceFlow(t *testing.T) {
	as := newFakeAS(t)
	d, waits := startDevice(t, as, "pending", "pending", "ok")
	if d.UserCode != "WDJB-MJHT" || d.VerificationURI != as.srv.URL+"/activate" || d.Interval != time.Second {
		t.Fatalf("device flow %+v", d)
	}
	if d.ExpiresIn < 890*time.Second || d.ExpiresIn > 900*time.Second {
		t.Fatalf("ExpiresIn = %v", d.ExpiresIn)
	}
	tok, err := d.Poll(t.Context())
	if err != nil || !as.valid(tok.AccessToken) || tok.RefreshToken == "" {
		t.Fatalf("Poll = %+v, %v", tok, err)
	}
	if time.Until(tok.Expiry) < 59*time.Minute {
		t.Fatalf("expiry %v: expires_in given as a string was not read", tok.Expiry)
	}
	if want := []time.Duration{time.Second, time.Second, time.Second}; !slices.Equal(*waits, want) {
		t.Fatalf("waited %v, want %v", *waits, want)
	}
}

func TestDeviceSlowDown(t *testing.T) {
	as := newFakeAS(t)
	d, waits := startDevice(t, as, "pending", "slow_down", "pending", "slow_down", "ok")
	if _, err := d.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{1 * time.Second, 1 * time.Second, 6 * time.Second, 6 * time.Second, 11 * time.Second}
	if !slices.Equal(*waits, want) {
		t.Fatalf("waited %v, want %v", *waits, want)
	}
	if d.Interval != 11*time.Second {
		t.Fatalf("Interval = %v", d.Interval)
	}
}

func TestDeviceEnds(t *testing.T) {
	as := newFakeAS(t)
	d, _ := startDevice(t, as, "pending", "expired")
	_, err := d.Poll(t.Context())
	var pe *ProviderError
	if !errors.Is(err, ErrDeviceExpired) || !errors.As(err, &pe) || pe.Code != "expired_token" {
		t.Fatalf("Poll = %v, want ErrDeviceExpired with the provider's answer", err)
	}

	d, _ = startDevice(t, as, "declined")
	if _, err := d.Poll(t.Context()); !errors.Is(err, ErrDeviceDeclined) {
		t.Fatalf("Poll = %v, want ErrDeviceDeclined", err)
	}

	// A 5xx ends Poll as transient; polling again goes on.
	d, _ = startDevice(t, as, "503", "ok")
	if _, err := d.Poll(t.Context()); !IsTransient(err) {
		t.Fatalf("Poll = %v, want transient", err)
	}
	if tok, err := d.Poll(t.Context()); err != nil || !as.valid(tok.AccessToken) {
		t.Fatalf("second Poll = %v, %v", tok, err)
	}

	// Past the code's lifetime nothing is sent.
	d, _ = startDevice(t, as, "pending")
	d.now = func() time.Time { return time.Now().Add(time.Hour) }
	as.set(func(as *fakeAS) { as.devicePolls = 0 })
	if _, err := d.Poll(t.Context()); !errors.Is(err, ErrDeviceExpired) {
		t.Fatalf("Poll after expiry = %v", err)
	}
	as.set(func(as *fakeAS) {
		if as.devicePolls != 0 {
			t.Errorf("%d polls after expiry", as.devicePolls)
		}
	})

	// Cancelled while waiting.
	d, _ = startDevice(t, as, "pending")
	d.sleep = sleepCtx
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := d.Poll(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Poll = %v, want deadline exceeded", err)
	}
}

func TestNoDeviceFlowWithoutEndpoint(t *testing.T) {
	as := newFakeAS(t)
	cfg := as.config()
	cfg.DeviceAuthURL = "" // as for Google
	if _, err := Device(t.Context(), cfg); !errors.Is(err, ErrNoDeviceFlow) {
		t.Fatalf("Device = %v, want ErrNoDeviceFlow", err)
	}
	as.set(func(as *fakeAS) {
		if as.deviceCode != "" {
			t.Error("a device request was sent")
		}
	})
}

func TestRevoke(t *testing.T) {
	as := newFakeAS(t)
	at, rt := as.seed()
	if err := Revoke(t.Context(), as.config(), rt, "refresh_token"); err != nil {
		t.Fatal(err)
	}
	if as.valid(at) {
		t.Fatal("grant still valid after revocation")
	}
	var pe *ProviderError
	if err := Revoke(t.Context(), as.config(), rt, "bogus"); !errors.As(err, &pe) || pe.Code != "unsupported_token_type" || pe.Op != "revoke" {
		t.Fatalf("Revoke(bogus hint) = %v", err)
	}
	cfg := as.config()
	cfg.RevokeURL = ""
	if err := Revoke(t.Context(), cfg, rt, ""); !errors.Is(err, ErrNoRevoke) {
		t.Fatalf("Revoke without endpoint = %v", err)
	}
	as.set(func(as *fakeAS) {
		if len(as.revokeCalls) != 2 || as.revokeCalls[0].Get("client_id") != as.clientID {
			t.Errorf("revocation requests %v", as.revokeCalls)
		}
	})
}

func TestBuiltinProvidersDeviceFlow(t *testing.T) {
	cat, err := provider.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	g, ok := cat.Get("google")
	if !ok || g.OAuth2 == nil {
		t.Fatal("no built-in google OAuth block")
	}
	cfg := ConfigFor(g.OAuth2)
	if cfg.DeviceAuthURL != "" || cfg.TokenURL != g.OAuth2.TokenURL || !slices.Equal(cfg.Scopes, g.OAuth2.Scopes) {
		t.Fatalf("ConfigFor(google) = %+v", cfg)
	}
	// Google is never offered the device flow: no request is even tried.
	cfg.HTTPClient = &http.Client{Transport: failTransport{t}}
	if _, err := Device(t.Context(), cfg); !errors.Is(err, ErrNoDeviceFlow) {
		t.Fatalf("Device(google) = %v", err)
	}
	m, _ := cat.Get("microsoft")
	if mc := ConfigFor(m.OAuth2); mc.DeviceAuthURL == "" {
		t.Fatalf("ConfigFor(microsoft) = %+v", mc)
	}
}

type failTransport struct{ t *testing.T }

func (f failTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.t.Errorf("unexpected request to %s", r.URL)
	return nil, errors.New("no requests expected")
}
