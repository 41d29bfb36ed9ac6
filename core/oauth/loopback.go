package oauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cli/browser"
	"golang.org/x/oauth2"

	"github.com/mailmend/mailmend/core/sanitize"
)

// DefaultTimeout is how long a loopback flow waits for the browser when
// Options.Timeout is zero.
const DefaultTimeout = 5 * time.Minute

// shutdownTimeout bounds how long closing a flow waits for the page that
// is being served to reach the browser.
const shutdownTimeout = 3 * time.Second

// Options tunes a loopback flow. A nil *Options is equivalent to a zero
// Options.
type Options struct {
	// Timeout is how long the flow waits for the redirect, counted from
	// Begin; 0 means DefaultTimeout.
	Timeout time.Duration
	// LoginHint is the account's address, sent as login_hint so the
	// provider preselects it; "" sends none.
	LoginHint string
	// Offline adds access_type=offline and prompt=consent, which Google
	// needs to return a refresh token on every consent.
	Offline bool
	// Browser opens a URL; nil means OpenBrowser.
	Browser func(url string) error
	// Now is the clock for token expiry; nil means time.Now.
	Now func() time.Time
}

// OpenBrowser opens url in the user's browser through github.com/cli/browser,
// which honours $BROWSER. The caller shows the URL as well: opening may
// fail silently (no display, an SSH session).
func OpenBrowser(url string) error {
	if err := browser.OpenURL(url); err != nil {
		return fmt.Errorf("oauth: open browser: %w", err)
	}
	return nil
}

// Flow is one authorization-code sign-in with PKCE whose redirect comes
// back to listeners on 127.0.0.1 and [::1]. It takes exactly one answer:
// the first redirect carrying a code, an error or a state (through the
// listeners, or pasted with ExchangePasted), after which the listeners are
// closed; later redirects are refused.
type Flow struct {
	cfg      Config
	oc       *oauth2.Config
	verifier string
	state    string
	redirect string
	authURL  string
	port     int
	browser  func(string) error
	now      func() time.Time

	lns   []net.Listener
	srv   *http.Server
	serve sync.WaitGroup
	timer *time.Timer
	// unwatch stops watching Begin's context.
	unwatch func() bool

	ctx    context.Context // ends when the flow is closed; bounds the exchange
	cancel context.CancelFunc

	claimed  atomic.Bool
	done     chan struct{}
	tok      *Token
	err      error
	stopOnce sync.Once
}

// Begin prepares a sign-in: it opens the redirect listeners (bound to
// loopback only: 127.0.0.1 and, when the system has IPv6, [::1] on the same
// port), makes a random 32-byte state and a PKCE verifier, and builds the
// authorization URL. It does not open the browser (see Flow.Open). The
// redirect URI is exactly "http://127.0.0.1:PORT/" (or
// "http://localhost:PORT/" when cfg.RedirectHost is "localhost"); PORT is
// cfg.RedirectPort or, when that is 0, a free port. The flow ends after one
// redirect, after opts.Timeout, or when Close is called; ctx ending also
// closes it.
func Begin(ctx context.Context, cfg Config, opts *Options) (*Flow, error) {
	if opts == nil {
		opts = &Options{}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.AuthURL == "" {
		return nil, errors.New("oauth: no authorization endpoint configured")
	}
	state, err := randomState()
	if err != nil {
		return nil, err
	}
	lns, err := listenLoopback(cfg.RedirectPort)
	if err != nil {
		return nil, err
	}
	port := lns[0].Addr().(*net.TCPAddr).Port
	host := cfg.RedirectHost
	if host == "" {
		host = "127.0.0.1"
	}
	f := &Flow{
		cfg:      cfg,
		verifier: oauth2.GenerateVerifier(),
		state:    state,
		redirect: "http://" + net.JoinHostPort(host, strconv.Itoa(port)) + "/",
		port:     port,
		browser:  opts.Browser,
		now:      opts.Now,
		lns:      lns,
		done:     make(chan struct{}),
	}
	if f.browser == nil {
		f.browser = OpenBrowser
	}
	if f.now == nil {
		f.now = time.Now
	}
	f.oc = cfg.oauthConfig(f.redirect)
	params := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(f.verifier)}
	if opts.Offline {
		params = append(params, oauth2.AccessTypeOffline, oauth2.SetAuthURLParam("prompt", "consent"))
	}
	if opts.LoginHint != "" {
		params = append(params, oauth2.SetAuthURLParam("login_hint", opts.LoginHint))
	}
	f.authURL = f.oc.AuthCodeURL(f.state, params...)

	f.ctx, f.cancel = context.WithCancel(context.WithoutCancel(ctx))
	f.srv = &http.Server{
		Handler:           http.HandlerFunc(f.serveHTTP),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return f.ctx },
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	f.timer = time.AfterFunc(timeout, func() { f.finishUnclaimed(nil, ErrTimeout) })
	f.unwatch = context.AfterFunc(ctx, func() {
		f.finishUnclaimed(nil, fmt.Errorf("oauth: sign-in stopped: %w", context.Cause(ctx)))
		f.cancel()
	})
	for _, ln := range lns {
		f.serve.Add(1)
		go func() {
			defer f.serve.Done()
			_ = f.srv.Serve(ln)
		}()
	}
	return f, nil
}

// randomState returns 32 random bytes, base64url without padding.
func randomState() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("oauth: random state: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// listenLoopback opens 127.0.0.1:port and [::1] on the same port. With a
// random port it retries when ::1 has that port taken; when the system has
// no IPv6 loopback it serves on 127.0.0.1 alone.
func listenLoopback(port int) ([]net.Listener, error) {
	var lc net.ListenConfig
	for range 20 {
		l4, err := lc.Listen(context.Background(), "tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			return nil, fmt.Errorf("oauth: listen for the redirect on 127.0.0.1: %w", err)
		}
		p := l4.Addr().(*net.TCPAddr).Port
		l6, err := lc.Listen(context.Background(), "tcp6", net.JoinHostPort("::1", strconv.Itoa(p)))
		if err == nil {
			return []net.Listener{l4, l6}, nil
		}
		if errors.Is(err, syscall.EADDRINUSE) && port == 0 {
			_ = l4.Close()
			continue
		}
		if errors.Is(err, syscall.EADDRINUSE) {
			_ = l4.Close()
			return nil, fmt.Errorf("oauth: listen for the redirect on [::1]:%d: %w", p, err)
		}
		// No IPv6 loopback here: 127.0.0.1 alone.
		return []net.Listener{l4}, nil
	}
	return nil, errors.New("oauth: could not find a port free on both 127.0.0.1 and [::1]")
}

// AuthURL returns the authorization URL to open in the browser: it
// carries the client id, redirect URI, scopes, state, the PKCE S256
// challenge, and login_hint, access_type and prompt as Options asked.
// Always show it to the user too, so it can be copied.
func (f *Flow) AuthURL() string { return f.authURL }

// RedirectURI returns the exact redirect URI sent, "http://127.0.0.1:PORT/"
// (see Begin); the OAuth client must accept it.
func (f *Flow) RedirectURI() string { return f.redirect }

// Port returns the loopback port the flow listens on.
func (f *Flow) Port() int { return f.port }

// Addrs returns the addresses the flow listens on.
func (f *Flow) Addrs() []net.Addr {
	out := make([]net.Addr, len(f.lns))
	for i, ln := range f.lns {
		out[i] = ln.Addr()
	}
	return out
}

// Open opens AuthURL with the browser function from Options. Its error
// only means the browser could not be started; the flow goes on.
func (f *Flow) Open() error { return f.browser(f.authURL) }

// Wait blocks until the flow has its answer and returns the exchanged
// token, or: ErrStateMismatch for a redirect not answering this flow
// (nothing exchanged), a *ProviderError for an error redirect (such as
// access_denied) or a refused exchange, a *TransientError when the token
// endpoint could not be reached, ErrTimeout after the timeout, or ctx's
// error when ctx ends first (the exchange in progress, if any, is
// stopped). The listeners are closed when Wait returns. Calling Wait again
// returns the same result.
func (f *Flow) Wait(ctx context.Context) (*Token, error) {
	select {
	case <-f.done:
	case <-ctx.Done():
		f.finishUnclaimed(nil, fmt.Errorf("oauth: sign-in stopped: %w", ctx.Err()))
		f.cancel()
		<-f.done
	}
	f.stop()
	return f.tok, f.err
}

// Close ends the flow without a result (Wait then returns ErrFlowUsed
// unless it already had one) and closes the listeners.
func (f *Flow) Close() error {
	f.finishUnclaimed(nil, ErrFlowUsed)
	f.cancel()
	<-f.done
	f.stop()
	return nil
}

// finishUnclaimed ends the flow with (tok, err) unless a redirect already
// claimed it.
func (f *Flow) finishUnclaimed(tok *Token, err error) {
	if f.claimed.CompareAndSwap(false, true) {
		f.finish(tok, err)
	}
}

// finish records the result and closes the listeners so that no second
// redirect is accepted. Only the claimant calls it.
func (f *Flow) finish(tok *Token, err error) {
	f.tok, f.err = tok, err
	for _, ln := range f.lns {
		_ = ln.Close()
	}
	close(f.done)
}

// stop shuts the server down, letting the page being served reach the
// browser, and waits for the serving goroutines.
func (f *Flow) stop() {
	f.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := f.srv.Shutdown(ctx); err != nil {
			_ = f.srv.Close()
		}
		f.serve.Wait()
		f.timer.Stop()
		f.unwatch()
		f.cancel()
	})
}

// serveHTTP answers requests on the redirect listeners.
func (f *Flow) serveHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	if !q.Has("code") && !q.Has("error") && !q.Has("state") {
		page(w, http.StatusBadRequest, "Nothing to do here", "This address only receives the answer of a mailmend sign-in.")
		return
	}
	if !f.claimed.CompareAndSwap(false, true) {
		w.Header().Set("Connection", "close")
		page(w, http.StatusGone, "Already used", "This sign-in link was already used. Return to the terminal; start a new sign-in there if needed.")
		return
	}
	w.Header().Set("Connection", "close")
	tok, err := f.answer(f.ctx, q)
	switch {
	case err == nil:
		page(w, http.StatusOK, "Signed in", "mailmend received the sign-in. You can close this tab and return to the terminal.")
	case errors.Is(err, ErrStateMismatch):
		page(w, http.StatusBadRequest, "Sign-in not accepted", "This answer does not belong to the sign-in mailmend started, so it was ignored. Return to the terminal and start again.")
	default:
		var pe *ProviderError
		msg := "The sign-in did not complete. Return to the terminal for details."
		if errors.As(err, &pe) && pe.Op == "authorize" {
			msg = "The provider answered: " + sanitize.Truncate(sanitize.Line(pe.Code+": "+pe.Description), 300) + ". Return to the terminal for what to do next."
		}
		page(w, http.StatusOK, "Sign-in not completed", msg)
	}
	f.finish(tok, err)
}

// answer handles the one accepted redirect's parameters: it checks the
// state, surfaces an error redirect and exchanges the code.
func (f *Flow) answer(ctx context.Context, q url.Values) (*Token, error) {
	code, err := f.codeFrom(q)
	if err != nil {
		return nil, err
	}
	return f.exchange(ctx, code)
}

// codeFrom checks a redirect's parameters and returns its code.
func (f *Flow) codeFrom(q url.Values) (string, error) {
	if q.Get("state") != f.state {
		return "", ErrStateMismatch
	}
	if e := q.Get("error"); e != "" {
		return "", &ProviderError{Op: "authorize", Code: e, Description: q.Get("error_description"), URI: q.Get("error_uri")}
	}
	code := q.Get("code")
	if code == "" {
		return "", ErrNoCode
	}
	return code, nil
}

// exchange trades the code for a token, once.
func (f *Flow) exchange(ctx context.Context, code string) (*Token, error) {
	hc := f.cfg.client()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, hc)
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	t, err := f.oc.Exchange(ctx, code, oauth2.VerifierOption(f.verifier))
	if err != nil {
		return nil, mapRetrieve("exchange", err)
	}
	if t.AccessToken == "" {
		return nil, &ProviderError{Op: "exchange", HTTPStatus: http.StatusOK, Code: "no_access_token", Description: "the token response held no access token"}
	}
	return fromOAuth2(t, f.now()), nil
}

// ParseRedirect reads the address the browser ended on after signing in
// (http://127.0.0.1:PORT/?code=...&state=..., or just its query) and
// returns the authorization code. The state must be f's: otherwise
// ErrStateMismatch. An error redirect is returned as a *ProviderError; an
// address without code or error is ErrNoCode. It changes nothing in f.
func ParseRedirect(pasted string, f *Flow) (code string, err error) {
	s := strings.Trim(strings.TrimSpace(pasted), `"'<>`)
	if s == "" {
		return "", ErrNoCode
	}
	var raw string
	if i := strings.IndexByte(s, '?'); i >= 0 {
		raw = s[i+1:]
	} else if strings.Contains(s, "=") && !strings.Contains(s, "://") {
		raw = s
	} else {
		return "", ErrNoCode
	}
	if i := strings.IndexByte(raw, '#'); i >= 0 {
		raw = raw[:i]
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return "", fmt.Errorf("oauth: the pasted address cannot be read: %w", err)
	}
	if !q.Has("code") && !q.Has("error") {
		return "", ErrNoCode
	}
	return f.codeFrom(q)
}

// ExchangePasted finishes the flow with an address the user pasted (see
// ParseRedirect), for when the browser runs where the listeners cannot be
// reached. A paste that cannot be read or has the wrong state leaves the
// flow open, so the user can paste again; otherwise the flow takes it as
// its one answer (a concurrent Wait returns the same result) and the
// listeners close.
func (f *Flow) ExchangePasted(ctx context.Context, pasted string) (*Token, error) {
	code, err := ParseRedirect(pasted, f)
	var pe *ProviderError
	if err != nil && !errors.As(err, &pe) {
		return nil, err
	}
	if !f.claimed.CompareAndSwap(false, true) {
		return nil, ErrFlowUsed
	}
	var tok *Token
	if err == nil {
		tok, err = f.exchange(ctx, code)
	}
	f.finish(tok, err)
	f.stop()
	return tok, err
}

// SSHHint returns the command that forwards the redirect port from the
// user's own computer to this one, when this process runs in an SSH
// session (SSH_CONNECTION is set in env): for example
// "ssh -N -L 53682:127.0.0.1:53682 alice@192.0.2.10". Run in a second
// terminal on the computer with the browser, it lets the loopback flow work
// unchanged. It returns "" outside SSH. env looks up variables (os.Getenv).
func SSHHint(port int, env func(string) string) string {
	if env == nil {
		return ""
	}
	conn := strings.Fields(env("SSH_CONNECTION"))
	if len(conn) < 4 {
		return ""
	}
	host, sshPort := conn[2], conn[3]
	user := env("USER")
	if user == "" {
		user = env("LOGNAME")
	}
	target := host
	if user != "" && !strings.ContainsAny(user, " \t'\"") {
		target = user + "@" + host
	}
	p := strconv.Itoa(port)
	cmd := "ssh -N -L " + p + ":127.0.0.1:" + p
	if sshPort != "22" && sshPort != "" {
		cmd += " -p " + sshPort
	}
	return cmd + " " + target
}

// page writes a small HTML page.
func page(w http.ResponseWriter, status int, title, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<!doctype html><html><head><meta charset="utf-8"><title>mailmend: %s</title>`+
		`<style>body{font-family:sans-serif;max-width:36em;margin:4em auto;padding:0 1em}</style></head>`+
		`<body><h1>%s</h1><p>%s</p></body></html>`+"\n",
		html.EscapeString(title), html.EscapeString(title), html.EscapeString(body))
}
