package oauth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"
)

// fakeAS is a small OAuth 2.0 authorization server over TLS on loopback:
// authorization codes with PKCE S256 (single use), refresh token rotation
// with reuse detection (a reused refresh token revokes its whole family),
// device authorization with a scripted sequence of poll answers, and RFC
// 7009 revocation.
type fakeAS struct {
	srv      *httptest.Server
	clientID string
	secret   string

	mu        sync.Mutex
	codes     map[string]*codeGrant
	refresh   map[string]*grantToken
	access    map[string]int
	revoked   map[int]bool
	families  int
	lastAuth  url.Values
	tokenReqs int // every request to the token endpoint
	exchanges int // authorization_code requests
	refreshes int // refresh_token requests that issued a token
	reuse     int // refresh tokens presented twice

	// Behaviour switches (set before use, under mu).
	deny          string // /authorize redirects with this error
	dead          bool   // every refresh is invalid_grant
	unavailable   bool   // the token endpoint answers 503
	refreshDelay  time.Duration
	exchangeDelay time.Duration
	msError       bool // invalid_grant answers in Microsoft's shape
	deviceScript  []string
	devicePolls   int
	deviceCode    string
	revokeCalls   []url.Values
}

type codeGrant struct {
	challenge, redirect string
	used                bool
}

type grantToken struct {
	family int
	used   bool
}

func newFakeAS(t *testing.T) *fakeAS {
	t.Helper()
	as := &fakeAS{
		clientID: "client-" + randHex(4),
		secret:   "",
		codes:    map[string]*codeGrant{},
		refresh:  map[string]*grantToken{},
		access:   map[string]int{},
		revoked:  map[int]bool{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/authorize", as.authorize)
	mux.HandleFunc("/token", as.token)
	mux.HandleFunc("/device", as.device)
	mux.HandleFunc("/revoke", as.revoke)
	as.srv = httptest.NewTLSServer(mux)
	t.Cleanup(as.srv.Close)
	return as
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

// config returns a Config for this server trusting its certificate.
func (as *fakeAS) config() Config {
	return Config{
		AuthURL:       as.srv.URL + "/authorize",
		TokenURL:      as.srv.URL + "/token",
		DeviceAuthURL: as.srv.URL + "/device",
		RevokeURL:     as.srv.URL + "/revoke",
		ClientID:      as.clientID,
		Scopes:        []string{"mail", "offline_access"},
		HTTPClient:    as.client(),
	}
}

func (as *fakeAS) client() *http.Client {
	return &http.Client{Transport: as.srv.Client().Transport, Timeout: 10 * time.Second}
}

// newFamily issues a fresh grant: an access and a refresh token.
func (as *fakeAS) newFamilyLocked() (at, rt string) {
	as.families++
	return as.issueLocked(as.families)
}

func (as *fakeAS) issueLocked(family int) (at, rt string) {
	at, rt = "at-"+randHex(8), "rt-"+randHex(8)
	as.access[at] = family
	as.refresh[rt] = &grantToken{family: family}
	return at, rt
}

// valid reports whether an access token was issued and its grant lives.
func (as *fakeAS) valid(at string) bool {
	as.mu.Lock()
	defer as.mu.Unlock()
	f, ok := as.access[at]
	return ok && !as.revoked[f]
}

// seed makes a grant as a past consent would have and returns its tokens.
func (as *fakeAS) seed() (at, rt string) {
	as.mu.Lock()
	defer as.mu.Unlock()
	return as.newFamilyLocked()
}

func (as *fakeAS) counts() (tokenReqs, exchanges, refreshes, reuse int) {
	as.mu.Lock()
	defer as.mu.Unlock()
	return as.tokenReqs, as.exchanges, as.refreshes, as.reuse
}

func (as *fakeAS) set(fn func(as *fakeAS)) {
	as.mu.Lock()
	defer as.mu.Unlock()
	fn(as)
}

func (as *fakeAS) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	as.mu.Lock()
	as.lastAuth = q
	deny := as.deny
	as.mu.Unlock()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || q.Get("client_id") != as.clientID || q.Get("response_type") != "code" ||
		q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	v := url.Values{"state": {q.Get("state")}}
	if deny != "" {
		v.Set("error", deny)
		v.Set("error_description", "The user denied the request <script>")
	} else {
		code := "code-" + randHex(8)
		as.mu.Lock()
		as.codes[code] = &codeGrant{challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri")}
		as.mu.Unlock()
		v.Set("code", code)
	}
	redirect.RawQuery = v.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (as *fakeAS) oauthErr(w http.ResponseWriter, status int, code, desc string) {
	body := map[string]any{"error": code, "error_description": desc}
	if as.msError {
		body["error_description"] = "AADSTS70008: The provided authorization code or refresh token has expired due to inactivity."
		body["error_codes"] = []int{70008}
	}
	writeJSON(w, status, body)
}

func (as *fakeAS) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	as.mu.Lock()
	as.tokenReqs++
	unavailable, refreshDelay, exchangeDelay := as.unavailable, as.refreshDelay, as.exchangeDelay
	as.mu.Unlock()
	if unavailable {
		w.Header().Set("Retry-After", "30")
		http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
		return
	}
	if r.PostForm.Get("client_id") != as.clientID {
		as.oauthErr(w, http.StatusUnauthorized, "invalid_client", "unknown client")
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		sleepReq(r, exchangeDelay)
		as.mu.Lock()
		defer as.mu.Unlock()
		as.exchanges++
		g := as.codes[r.PostForm.Get("code")]
		if g == nil || g.used {
			as.oauthErr(w, http.StatusBadRequest, "invalid_grant", "Malformed auth code.")
			return
		}
		g.used = true
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
			as.oauthErr(w, http.StatusBadRequest, "invalid_grant", "PKCE verification failed")
			return
		}
		if r.PostForm.Get("redirect_uri") != g.redirect {
			as.oauthErr(w, http.StatusBadRequest, "redirect_uri_mismatch", "redirect_uri differs")
			return
		}
		at, rt := as.newFamilyLocked()
		writeJSON(w, http.StatusOK, map[string]any{"access_token": at, "refresh_token": rt, "token_type": "Bearer", "expires_in": 3600, "scope": "mail"})
	case "refresh_token":
		sleepReq(r, refreshDelay)
		as.mu.Lock()
		defer as.mu.Unlock()
		if as.dead {
			as.oauthErr(w, http.StatusBadRequest, "invalid_grant", "Token has been expired or revoked.")
			return
		}
		g := as.refresh[r.PostForm.Get("refresh_token")]
		switch {
		case g == nil:
			as.oauthErr(w, http.StatusBadRequest, "invalid_grant", "unknown refresh token")
			return
		case g.used:
			as.reuse++
			as.revoked[g.family] = true
			as.oauthErr(w, http.StatusBadRequest, "invalid_grant", "refresh token reused; grant revoked")
			return
		case as.revoked[g.family]:
			as.oauthErr(w, http.StatusBadRequest, "invalid_grant", "Token has been expired or revoked.")
			return
		}
		g.used = true
		as.refreshes++
		at, rt := as.issueLocked(g.family)
		writeJSON(w, http.StatusOK, map[string]any{"access_token": at, "refresh_token": rt, "token_type": "Bearer", "expires_in": 3600})
	case deviceGrant:
		as.mu.Lock()
		defer as.mu.Unlock()
		if r.PostForm.Get("device_code") != as.deviceCode {
			as.oauthErr(w, http.StatusBadRequest, "invalid_grant", "unknown device code")
			return
		}
		step := "ok"
		if as.devicePolls < len(as.deviceScript) {
			step = as.deviceScript[as.devicePolls]
		}
		as.devicePolls++
		switch step {
		case "ok":
			at, rt := as.newFamilyLocked()
			writeJSON(w, http.StatusOK, map[string]any{"access_token": at, "refresh_token": rt, "token_type": "Bearer", "expires_in": "3600"})
		case "pending":
			as.oauthErr(w, http.StatusBadRequest, "authorization_pending", "")
		case "slow_down":
			as.oauthErr(w, http.StatusBadRequest, "slow_down", "")
		case "expired":
			as.oauthErr(w, http.StatusBadRequest, "expired_token", "The device code has expired.")
		case "declined":
			as.oauthErr(w, http.StatusBadRequest, "authorization_declined", "The user declined.")
		case "503":
			http.Error(w, "down", http.StatusServiceUnavailable)
		}
	default:
		as.oauthErr(w, http.StatusBadRequest, "unsupported_grant_type", "")
	}
}

func (as *fakeAS) device(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("client_id") != as.clientID {
		as.oauthErr(w, http.StatusBadRequest, "invalid_client", "unknown client")
		return
	}
	as.mu.Lock()
	as.deviceCode = "dc-" + randHex(8)
	dc := as.deviceCode
	as.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"device_code": dc, "user_code": "WDJB-MJHT", "verification_uri": as.srv.URL + "/activate",
		"expires_in": 900, "interval": 1,
	})
}

func (as *fakeAS) revoke(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	as.mu.Lock()
	defer as.mu.Unlock()
	as.revokeCalls = append(as.revokeCalls, r.PostForm)
	if r.PostForm.Get("token_type_hint") == "bogus" {
		as.oauthErr(w, http.StatusBadRequest, "unsupported_token_type", "")
		return
	}
	if g := as.refresh[r.PostForm.Get("token")]; g != nil {
		as.revoked[g.family] = true
	}
	w.WriteHeader(http.StatusOK)
}

// sleepReq waits d or until the client goes away.
func sleepReq(r *http.Request, d time.Duration) {
	select {
	case <-time.After(d):
	case <-r.Context().Done():
	}
}
