package oauth

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// browserFor returns a scripted browser: it GETs the URL with a client
// trusting the server and follows redirects to the loopback listener,
// recording the final status and page.
type fakeBrowser struct {
	c      *http.Client
	mu     sync.Mutex
	status int
	body   string
	err    error
	calls  int
}

func newBrowser(as *fakeAS) *fakeBrowser { return &fakeBrowser{c: as.client()} }

func (b *fakeBrowser) open(u string) error {
	resp, err := b.c.Get(u)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls++
	if err != nil {
		b.err = err
		return nil // a browser shows its error page; opening "worked"
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	b.status, b.body = resp.StatusCode, string(body)
	return nil
}

func (b *fakeBrowser) result() (int, string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.status, b.body, b.err
}

// location asks the authorization endpoint and returns where it sends the
// browser, without following.
func location(t *testing.T, as *fakeAS, authURL string) string {
	t.Helper()
	c := as.client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: status %d", resp.StatusCode)
	}
	return resp.Header.Get("Location")
}

// get requests u on a loopback listener without keep-alive.
func get(u string) (int, string, error) {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(u)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func ipv6Loopback() bool {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// assertClosed checks that nothing accepts connections on the flow's
// addresses any more.
func assertClosed(t *testing.T, f *Flow) {
	t.Helper()
	for _, a := range f.Addrs() {
		c, err := net.DialTimeout("tcp", a.String(), time.Second)
		if err == nil {
			c.Close()
			t.Fatalf("%s still accepts connections", a)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial %s: %v, want connection refused", a, err)
		}
	}
}

func TestLoopbackFlow(t *testing.T) {
	as := newFakeAS(t)
	b := newBrowser(as)
	f, err := Begin(t.Context(), as.config(), &Options{Browser: b.open, LoginHint: "alice@example.com", Offline: true, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	want := "http://127.0.0.1:" + strconv.Itoa(f.Port()) + "/"
	if f.RedirectURI() != want {
		t.Fatalf("RedirectURI = %q, want %q", f.RedirectURI(), want)
	}
	u, err := url.Parse(f.AuthURL())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	for k, v := range map[string]string{
		"redirect_uri": want, "code_challenge_method": "S256", "login_hint": "alice@example.com",
		"access_type": "offline", "prompt": "consent", "client_id": as.clientID, "scope": "mail offline_access",
	} {
		if q.Get(k) != v {
			t.Errorf("auth URL %s = %q, want %q", k, q.Get(k), v)
		}
	}
	if st := q.Get("state"); len(st) != 43 {
		t.Errorf("state %q is not 32 bytes base64url", st)
	}
	if len(q.Get("code_challenge")) != 43 {
		t.Errorf("code_challenge %q is not a S256 challenge", q.Get("code_challenge"))
	}
	// Every flow has its own state.
	f2, err := Begin(t.Context(), as.config(), &Options{Browser: b.open})
	if err != nil {
		t.Fatal(err)
	}
	u2, _ := url.Parse(f2.AuthURL())
	if u2.Query().Get("state") == q.Get("state") || f2.Port() == f.Port() {
		t.Error("two flows share state or port")
	}
	f2.Close()

	if err := f.Open(); err != nil {
		t.Fatal(err)
	}
	tok, err := f.Wait(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !as.valid(tok.AccessToken) || tok.RefreshToken == "" || time.Until(tok.Expiry) < 59*time.Minute {
		t.Fatalf("token %+v not as issued", tok)
	}
	status, body, berr := b.result()
	if berr != nil || status != http.StatusOK || !strings.Contains(body, "return to the terminal") {
		t.Fatalf("browser got %d %q %v", status, body, berr)
	}
	if _, ex, _, _ := as.counts(); ex != 1 {
		t.Fatalf("%d code exchanges, want 1", ex)
	}
	assertClosed(t, f)
	// Wait again: the same answer, nothing new exchanged.
	tok2, err := f.Wait(t.Context())
	if err != nil || tok2 != tok {
		t.Fatalf("second Wait = %v, %v", tok2, err)
	}
}

func TestListenersLoopbackOnly(t *testing.T) {
	as := newFakeAS(t)
	f, err := Begin(t.Context(), as.config(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	addrs := f.Addrs()
	want := 1
	if ipv6Loopback() {
		want = 2
	}
	if len(addrs) != want {
		t.Fatalf("listening on %v, want %d addresses", addrs, want)
	}
	seen6 := false
	for _, a := range addrs {
		ta := a.(*net.TCPAddr)
		if !ta.IP.IsLoopback() || ta.IP.IsUnspecified() {
			t.Fatalf("listener %s is not loopback-only", a)
		}
		if ta.Port != f.Port() {
			t.Fatalf("listener %s not on port %d", a, f.Port())
		}
		seen6 = seen6 || ta.IP.To4() == nil
	}
	if want == 2 && !seen6 {
		t.Fatal("no [::1] listener")
	}
	// Both answer (a page that consumes nothing).
	for _, a := range addrs {
		status, _, err := get("http://" + a.String() + "/")
		if err != nil || status != http.StatusBadRequest {
			t.Fatalf("GET %s = %d, %v", a, status, err)
		}
	}
	// A fixed port is honoured and the redirect can name localhost.
	cfg := as.config()
	cfg.RedirectPort = freePort(t)
	cfg.RedirectHost = "localhost"
	f2, err := Begin(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f2.Close()
	if f2.RedirectURI() != "http://localhost:"+strconv.Itoa(cfg.RedirectPort)+"/" {
		t.Fatalf("RedirectURI = %s", f2.RedirectURI())
	}
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestWrongStateRejected(t *testing.T) {
	as := newFakeAS(t)
	f, err := Begin(t.Context(), as.config(), nil)
	if err != nil {
		t.Fatal(err)
	}
	loc := location(t, as, f.AuthURL())
	lu, _ := url.Parse(loc)
	q := lu.Query()
	q.Set("state", "forged")
	lu.RawQuery = q.Encode()
	status, body, err := get(lu.String())
	if err != nil || status != http.StatusBadRequest || !strings.Contains(body, "does not belong") {
		t.Fatalf("forged callback: %d %q %v", status, body, err)
	}
	if _, err := f.Wait(t.Context()); !errors.Is(err, ErrStateMismatch) {
		t.Fatalf("Wait = %v, want ErrStateMismatch", err)
	}
	if treqs, _, _, _ := as.counts(); treqs != 0 {
		t.Fatalf("%d token requests after a forged state, want 0", treqs)
	}
	// The genuine callback now finds nobody listening.
	if _, _, err := get(loc); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("genuine callback after the flow ended: %v, want connection refused", err)
	}
}

func TestSecondCallbackRejected(t *testing.T) {
	as := newFakeAS(t)
	as.set(func(as *fakeAS) { as.exchangeDelay = 300 * time.Millisecond })
	f, err := Begin(t.Context(), as.config(), nil)
	if err != nil {
		t.Fatal(err)
	}
	loc := location(t, as, f.AuthURL())
	first := make(chan int, 1)
	go func() {
		s, _, _ := get(loc)
		first <- s
	}()
	// While the first is being exchanged, a second arrives.
	time.Sleep(100 * time.Millisecond)
	status, body, err := get(loc)
	if err != nil || status != http.StatusGone || !strings.Contains(body, "already used") {
		t.Fatalf("second callback while the first is exchanged: %d %q %v", status, body, err)
	}
	tok, err := f.Wait(t.Context())
	if err != nil || !as.valid(tok.AccessToken) {
		t.Fatalf("Wait = %v, %v", tok, err)
	}
	if s := <-first; s != http.StatusOK {
		t.Fatalf("first callback status %d", s)
	}
	// And once done: connection refused.
	if _, _, err := get(loc); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("third callback: %v, want connection refused", err)
	}
	if _, ex, _, _ := as.counts(); ex != 1 {
		t.Fatalf("%d exchanges, want 1", ex)
	}
}

func TestTimeout(t *testing.T) {
	as := newFakeAS(t)
	f, err := Begin(t.Context(), as.config(), &Options{Timeout: 150 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	loc := location(t, as, f.AuthURL())
	start := time.Now()
	if _, err := f.Wait(t.Context()); !errors.Is(err, ErrTimeout) {
		t.Fatalf("Wait = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("timeout took %v", d)
	}
	if _, _, err := get(loc); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("callback after timeout: %v, want connection refused", err)
	}
	assertClosed(t, f)
	if treqs, _, _, _ := as.counts(); treqs != 0 {
		t.Fatalf("%d token requests", treqs)
	}
}

func TestTimeoutClosesWithoutWait(t *testing.T) {
	as := newFakeAS(t)
	f, err := Begin(t.Context(), as.config(), &Options{Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	assertClosed(t, f)
	f.Close()
}

func TestCancelStopsAtOnce(t *testing.T) {
	as := newFakeAS(t)
	// Cancelling Wait's context.
	f, err := Begin(t.Context(), as.config(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	if _, err := f.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("cancel took %v", d)
	}
	assertClosed(t, f)

	// Cancelling Begin's context, also during a slow exchange.
	as.set(func(as *fakeAS) { as.exchangeDelay = 5 * time.Second })
	bctx, bcancel := context.WithCancel(t.Context())
	f, err = Begin(bctx, as.config(), nil)
	if err != nil {
		t.Fatal(err)
	}
	loc := location(t, as, f.AuthURL())
	go get(loc)
	time.Sleep(100 * time.Millisecond)
	bcancel()
	start = time.Now()
	if _, err := f.Wait(t.Context()); err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait after Begin's ctx ended = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("stopping took %v", d)
	}
}

func TestAccessDenied(t *testing.T) {
	as := newFakeAS(t)
	as.set(func(as *fakeAS) { as.deny = "access_denied" })
	b := newBrowser(as)
	f, err := Begin(t.Context(), as.config(), &Options{Browser: b.open})
	if err != nil {
		t.Fatal(err)
	}
	_ = f.Open()
	_, err = f.Wait(t.Context())
	var pe *ProviderError
	if !errors.As(err, &pe) || pe.Code != "access_denied" || pe.Op != "authorize" || !strings.Contains(pe.Description, "denied") {
		t.Fatalf("Wait = %v, want ProviderError access_denied", err)
	}
	ev := pe.Evidence()
	if ev.Kind != "oauth" || ev.Code != "access_denied" {
		t.Fatalf("evidence %+v", ev)
	}
	_, body, _ := b.result()
	if strings.Contains(body, "<script>") || !strings.Contains(body, "access_denied") {
		t.Fatalf("page %q: provider text not shown escaped", body)
	}
	if treqs, _, _, _ := as.counts(); treqs != 0 {
		t.Fatalf("%d token requests after a denial", treqs)
	}
}

func TestPasteFlow(t *testing.T) {
	as := newFakeAS(t)
	f, err := Begin(t.Context(), as.config(), nil)
	if err != nil {
		t.Fatal(err)
	}
	loc := location(t, as, f.AuthURL())
	lu, _ := url.Parse(loc)

	// Wrong state: refused, the flow stays open.
	bad := *lu
	q := bad.Query()
	q.Set("state", "other")
	bad.RawQuery = q.Encode()
	if _, err := f.ExchangePasted(t.Context(), bad.String()); !errors.Is(err, ErrStateMismatch) {
		t.Fatalf("paste with wrong state = %v", err)
	}
	if _, err := ParseRedirect("hello there", f); !errors.Is(err, ErrNoCode) {
		t.Fatalf("ParseRedirect(garbage) = %v", err)
	}
	code, err := ParseRedirect("  \""+loc+"\"\n", f)
	if err != nil || code != lu.Query().Get("code") {
		t.Fatalf("ParseRedirect = %q, %v", code, err)
	}
	if c2, err := ParseRedirect(lu.RawQuery, f); err != nil || c2 != code {
		t.Fatalf("ParseRedirect(query only) = %q, %v", c2, err)
	}
	if treqs, _, _, _ := as.counts(); treqs != 0 {
		t.Fatalf("parsing made %d token requests", treqs)
	}

	tok, err := f.ExchangePasted(t.Context(), loc)
	if err != nil || !as.valid(tok.AccessToken) {
		t.Fatalf("ExchangePasted = %v, %v", tok, err)
	}
	// The loopback route is closed now; Wait gives the same token.
	if _, _, err := get(loc); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("callback after paste: %v", err)
	}
	if w, err := f.Wait(t.Context()); err != nil || w != tok {
		t.Fatalf("Wait after paste = %v, %v", w, err)
	}
	if _, err := f.ExchangePasted(t.Context(), loc); !errors.Is(err, ErrFlowUsed) {
		t.Fatalf("second paste = %v, want ErrFlowUsed", err)
	}
	if _, ex, _, _ := as.counts(); ex != 1 {
		t.Fatalf("%d exchanges, want 1", ex)
	}

	// A pasted error redirect is the provider's error.
	as.set(func(as *fakeAS) { as.deny = "access_denied" })
	f2, err := Begin(t.Context(), as.config(), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f2.ExchangePasted(t.Context(), location(t, as, f2.AuthURL()))
	var pe *ProviderError
	if !errors.As(err, &pe) || pe.Code != "access_denied" {
		t.Fatalf("pasted denial = %v", err)
	}
}

func TestExchangeRefused(t *testing.T) {
	as := newFakeAS(t)
	as.set(func(as *fakeAS) { as.msError = true })
	f, err := Begin(t.Context(), as.config(), nil)
	if err != nil {
		t.Fatal(err)
	}
	loc := location(t, as, f.AuthURL())
	// Use the code once behind the flow's back: the flow's exchange fails.
	lu, _ := url.Parse(loc)
	as.set(func(as *fakeAS) { as.codes[lu.Query().Get("code")].used = true })
	_, err = f.ExchangePasted(t.Context(), loc)
	var pe *ProviderError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want *ProviderError", err)
	}
	if pe.HTTPStatus != 400 || pe.Code != "invalid_grant" || len(pe.ErrorCodes) != 1 || pe.ErrorCodes[0] != 70008 || !strings.Contains(pe.Body, "error_codes") {
		t.Fatalf("ProviderError %+v", pe)
	}
	if !strings.HasPrefix(pe.Error(), "oauth: token endpoint (code exchange) refused: invalid_grant: AADSTS70008") {
		t.Fatalf("Error() = %q", pe.Error())
	}
	if ev := pe.Evidence(); ev.HTTPStatus != 400 || !strings.Contains(ev.Text, "AADSTS70008") {
		t.Fatalf("evidence %+v", ev)
	}
	if treqs, _, _, _ := as.counts(); treqs != 1 {
		t.Fatalf("%d token requests, want 1 (no auth-style probing)", treqs)
	}
}

func TestSSHHint(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if h := SSHHint(5000, env(nil)); h != "" {
		t.Fatalf("hint outside SSH: %q", h)
	}
	h := SSHHint(53682, env(map[string]string{"SSH_CONNECTION": "192.0.2.7 50122 192.0.2.10 22", "USER": "alice"}))
	if h != "ssh -N -L 53682:127.0.0.1:53682 alice@192.0.2.10" {
		t.Fatalf("hint = %q", h)
	}
	h = SSHHint(8080, env(map[string]string{"SSH_CONNECTION": "::1 1 2001:db8::5 2222"}))
	if h != "ssh -N -L 8080:127.0.0.1:8080 -p 2222 2001:db8::5" {
		t.Fatalf("hint = %q", h)
	}
}

func TestConfigValidate(t *testing.T) {
	base := Config{ClientID: "c", TokenURL: "https://id.example/token"}
	for _, tc := range []struct {
		mod func(*Config)
		ok  bool
	}{
		{func(*Config) {}, true},
		{func(c *Config) { c.TokenURL = "http://id.example/token" }, false},
		{func(c *Config) { c.TokenURL = "http://127.0.0.1:9/token" }, true},
		{func(c *Config) { c.TokenURL = "http://[::1]:9/token" }, true},
		{func(c *Config) { c.TokenURL = "http://localhost:9/token" }, true},
		{func(c *Config) { c.TokenURL = "http://127.0.0.1.evil.example/token" }, false},
		{func(c *Config) { c.AuthURL = "ftp://id.example/auth" }, false},
		{func(c *Config) { c.DeviceAuthURL = "http://10.0.0.1/device" }, false},
		{func(c *Config) { c.RevokeURL = "https://u:p@id.example/revoke" }, false},
		{func(c *Config) { c.ClientID = "" }, false},
		{func(c *Config) { c.TokenURL = "" }, false},
		{func(c *Config) { c.RedirectHost = "0.0.0.0" }, false},
	} {
		c := base
		tc.mod(&c)
		if err := c.Validate(); (err == nil) != tc.ok {
			t.Errorf("Validate(%+v) = %v, want ok=%v", c, err, tc.ok)
		} else if err != nil && !strings.HasPrefix(err.Error(), "oauth: ") {
			t.Errorf("error %q lacks prefix", err)
		}
	}
	if _, err := Begin(t.Context(), Config{ClientID: "c", TokenURL: "http://id.example/t", AuthURL: "https://id.example/a"}, nil); err == nil {
		t.Fatal("Begin accepted a plain-http token endpoint")
	}
}
