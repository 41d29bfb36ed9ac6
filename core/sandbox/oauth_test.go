package sandbox

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestPKCEAuthorizationCodeFlow(t *testing.T) {
	sb := start(t, nil)
	for _, tc := range []struct {
		f                            Flavour
		badVerifier, missing, reused string
	}{
		{Google, "Invalid code verifier.", "Missing code verifier.", "Bad Request"},
		{Microsoft, "AADSTS501481: The Code_Verifier does not match the code_challenge", "AADSTS501481", "AADSTS54005: OAuth2 Authorization code was already redeemed"},
	} {
		t.Run(string(tc.f), func(t *testing.T) {
			email := "pkce@" + string(tc.f) + ".test"
			addUser(t, sb, email, tc.f, Healthy)
			verifier, challenge := pkcePair()
			redirect := "http://127.0.0.1:49152/callback"
			q := authorize(t, sb, tc.f, email, redirect, challenge)
			if q.Get("state") != "st-123" || q.Get("code") == "" {
				t.Fatalf("redirect query %v: want code and state echoed", q)
			}
			code := q.Get("code")

			bad := exchange(t, sb, tc.f, code, redirect, verifier+"x")
			if bad.Status != 400 || bad.str("error") != "invalid_grant" {
				t.Fatalf("wrong verifier: %d %v", bad.Status, bad.Body)
			}
			wantContains(t, "wrong verifier", bad.str("error_description"), tc.badVerifier)
			miss := exchange(t, sb, tc.f, code, redirect, "")
			wantContains(t, "missing verifier", miss.str("error_description"), tc.missing)

			ok := exchange(t, sb, tc.f, code, redirect, verifier)
			if ok.Status != 200 || ok.str("access_token") == "" || ok.str("refresh_token") == "" {
				t.Fatalf("exchange: %d %v", ok.Status, ok.Body)
			}
			again := exchange(t, sb, tc.f, code, redirect, verifier)
			if again.str("error") != "invalid_grant" {
				t.Fatalf("code reuse: %v", again.Body)
			}
			wantContains(t, "code reuse", again.str("error_description"), tc.reused)
			if tc.f == Microsoft {
				codes, _ := again.Body["error_codes"].([]any)
				if len(codes) != 1 || codes[0].(float64) != 54005 {
					t.Errorf("error_codes = %v, want [54005]", again.Body["error_codes"])
				}
				for _, k := range []string{"trace_id", "correlation_id", "timestamp"} {
					if again.str(k) == "" {
						t.Errorf("Microsoft error lacks %s", k)
					}
				}
				wantContains(t, "description", again.str("error_description"), "\r\nTrace ID: ")
			}
			// The replay revoked what the code had granted.
			if r := refresh(t, sb, tc.f, ok.str("refresh_token")); r.Status != 400 {
				t.Errorf("refresh after code replay: %d %v, want refused", r.Status, r.Body)
			}
		})
	}
}

func TestCodeExpiresAndRedirectMustMatch(t *testing.T) {
	sb := start(t, &Options{CodeTTL: 50 * time.Millisecond})
	addUser(t, sb, "a@g.test", Google, Healthy)
	verifier, challenge := pkcePair()
	redirect := "http://localhost:8080/cb"
	code := authorize(t, sb, Google, "a@g.test", redirect, challenge).Get("code")
	mm := exchange(t, sb, Google, code, "http://localhost:8081/cb", verifier)
	if mm.str("error") != "redirect_uri_mismatch" {
		t.Errorf("other redirect_uri at token: %v", mm.Body)
	}
	time.Sleep(80 * time.Millisecond)
	exp := exchange(t, sb, Google, code, redirect, verifier)
	if exp.str("error") != "invalid_grant" || exp.str("error_description") != "Bad Request" {
		t.Errorf("expired code: %v", exp.Body)
	}
}

func TestAuthorizeValidation(t *testing.T) {
	sb := start(t, nil)
	addUser(t, sb, "v@g.test", Google, Healthy)
	addUser(t, sb, "mismatch@g.test", Google, RedirectURIMismatch)
	addUser(t, sb, "v@m.test", Microsoft, Healthy)
	_, challenge := pkcePair()
	get := func(f Flavour, mod func(url.Values)) (*http.Response, string) {
		q := url.Values{
			"client_id": {sb.Client(f).ID}, "redirect_uri": {"http://127.0.0.1:5555/"}, "response_type": {"code"},
			"state": {"s"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
		}
		mod(q)
		resp, err := sb.HTTPClient().Get(sb.OAuth(f).AuthURL + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := get(Google, func(q url.Values) { q.Set("client_id", "nope.apps.googleusercontent.com") })
	if resp.StatusCode != 401 || !strings.Contains(body, "The OAuth client was not found.") || !strings.Contains(body, "invalid_client") {
		t.Errorf("unknown client: %d %s", resp.StatusCode, body)
	}
	resp, body = get(Google, func(q url.Values) { q.Set("redirect_uri", "https://evil.example/cb") })
	if resp.StatusCode != 400 || !strings.Contains(body, "Error 400: redirect_uri_mismatch") || !strings.Contains(body, "redirect_uri=https://evil.example/cb") {
		t.Errorf("unregistered redirect: %d %s", resp.StatusCode, body)
	}
	resp, body = get(Microsoft, func(q url.Values) { q.Set("redirect_uri", "https://evil.example/cb") })
	if resp.StatusCode != 400 || !strings.Contains(body, "AADSTS50011: The redirect URI &#39;https://evil.example/cb&#39; specified in the request does not match") {
		t.Errorf("MS unregistered redirect: %d %s", resp.StatusCode, body)
	}
	resp, body = get(Google, func(q url.Values) { q.Set("login_hint", "mismatch@g.test") })
	if resp.StatusCode != 400 || !strings.Contains(body, "redirect_uri_mismatch") {
		t.Errorf("scenario redirect_uri_mismatch: %d %s", resp.StatusCode, body)
	}
	resp, _ = get(Google, func(q url.Values) { q.Del("code_challenge") })
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != 302 || loc.Query().Get("error") != "invalid_request" || loc.Query().Get("state") != "s" {
		t.Errorf("missing PKCE: %d %s", resp.StatusCode, loc)
	}
	resp, _ = get(Google, func(q url.Values) { q.Set("code_challenge_method", "plain") })
	loc, _ = url.Parse(resp.Header.Get("Location"))
	if loc == nil || loc.Query().Get("error") != "invalid_request" {
		t.Errorf("plain PKCE accepted: %d %s", resp.StatusCode, loc)
	}

	// Without automatic approval the consent page is shown; its form
	// approves with a POST and redirects with a code.
	resp, body = get(Google, func(q url.Values) { q.Set("login_hint", "v@g.test"); q.Set("redirect_uri", "http://[::1]:7000/x") })
	if resp.StatusCode != 200 || !strings.Contains(body, `value="Approve"`) || !strings.Contains(body, "v@g.test") {
		t.Fatalf("consent page: %d %s", resp.StatusCode, body)
	}
	i := strings.Index(body, `name="consent" value="`)
	if i < 0 {
		t.Fatalf("no consent id in %s", body)
	}
	id := body[i+len(`name="consent" value="`):]
	id = id[:strings.Index(id, `"`)]
	post, err := sb.HTTPClient().PostForm(strings.Replace(sb.OAuth(Google).AuthURL, "/authorize", "/consent", 1),
		url.Values{"consent": {id}, "action": {"Approve"}})
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	loc, _ = url.Parse(post.Header.Get("Location"))
	if post.StatusCode != 302 || loc.Query().Get("code") == "" || loc.Host != "[::1]:7000" {
		t.Errorf("approve: %d %s", post.StatusCode, loc)
	}
	if n := sb.Counters().Consents; n != 1 {
		t.Errorf("Consents = %d, want 1", n)
	}
}

func TestRefreshRotationAndReuseDetection(t *testing.T) {
	sb := start(t, nil)
	for _, tc := range []struct {
		f    Flavour
		dead string
	}{
		{Google, "Token has been expired or revoked."},
		{Microsoft, "AADSTS50173: The provided grant has expired due to it being revoked"},
	} {
		t.Run(string(tc.f), func(t *testing.T) {
			email := "rot@" + string(tc.f) + ".test"
			addUser(t, sb, email, tc.f, Healthy)
			tok, err := sb.IssueToken(email)
			if err != nil {
				t.Fatal(err)
			}
			r1 := refresh(t, sb, tc.f, tok.RefreshToken)
			if r1.Status != 200 {
				t.Fatalf("first refresh: %d %v", r1.Status, r1.Body)
			}
			rt2 := r1.str("refresh_token")
			if rt2 == "" || rt2 == tok.RefreshToken {
				t.Fatalf("refresh did not rotate: %q", rt2)
			}
			if got := sb.Refreshes(email); got != 1 {
				t.Errorf("Refreshes = %d after one refresh", got)
			}
			// The old token again: reuse, the family dies.
			reuse := refresh(t, sb, tc.f, tok.RefreshToken)
			if reuse.Status != 400 || reuse.str("error") != "invalid_grant" {
				t.Fatalf("reuse: %d %v", reuse.Status, reuse.Body)
			}
			wantContains(t, "reuse", reuse.str("error_description"), tc.dead)
			newest := refresh(t, sb, tc.f, rt2)
			if newest.Status != 400 {
				t.Fatalf("newest token after reuse: %d %v, want refused", newest.Status, newest.Body)
			}
			wantContains(t, "newest after reuse", newest.str("error_description"), tc.dead)
			if n := sb.RefreshRequests(tok.RefreshToken); n != 2 {
				t.Errorf("RefreshRequests(first) = %d, want 2", n)
			}
			if n := sb.RefreshRequests(rt2); n != 1 {
				t.Errorf("RefreshRequests(second) = %d, want 1", n)
			}
			// Access tokens of the family are dead too.
			ir := postForm(t, sb, sb.OAuth(tc.f).IntrospectURL, url.Values{"token": {r1.str("access_token")}})
			if ir.Body["active"] != false {
				t.Errorf("introspect after family revocation: %v", ir.Body)
			}
		})
	}
	c := sb.Counters()
	if c.ReuseDetected != 2 || c.Refreshes != 6 || c.RefreshesOK != 2 {
		t.Errorf("counters %+v", c)
	}
	if r := refresh(t, sb, Google, "1//0garbage"); r.str("error_description") != "Bad Request" {
		t.Errorf("unknown refresh token: %v", r.Body)
	}
}

func TestRevokeIntrospectAndClientAuth(t *testing.T) {
	sb := start(t, nil)
	addUser(t, sb, "i@g.test", Google, Healthy)
	addUser(t, sb, "i@m.test", Microsoft, Healthy)
	tok, _ := sb.IssueToken("i@g.test")
	ir := postForm(t, sb, sb.OAuth(Google).IntrospectURL, url.Values{"token": {tok.AccessToken}})
	if ir.Body["active"] != true || ir.str("email") != "i@g.test" || ir.str("username") != "i@g.test" ||
		ir.str("scope") != "https://mail.google.com/" || ir.Body["exp"] == nil {
		t.Errorf("introspect: %v", ir.Body)
	}
	// Dovecot's "auth" mode: GET with the token as bearer.
	req, _ := http.NewRequest("GET", sb.OAuth(Google).IntrospectURL, nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := sb.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"active":true`) {
		t.Errorf("introspect with bearer: %s", b)
	}
	rv := postForm(t, sb, sb.OAuth(Google).RevokeURL, url.Values{"token": {tok.RefreshToken}})
	if rv.Status != 200 {
		t.Errorf("revoke: %d", rv.Status)
	}
	if ir := postForm(t, sb, sb.OAuth(Google).IntrospectURL, url.Values{"token": {tok.AccessToken}}); ir.Body["active"] != false {
		t.Errorf("introspect after revoke: %v", ir.Body)
	}
	if r := refresh(t, sb, Google, tok.RefreshToken); r.str("error_description") != "Token has been expired or revoked." {
		t.Errorf("refresh after revoke: %v", r.Body)
	}
	if rv := postForm(t, sb, sb.OAuth(Google).RevokeURL, url.Values{"token": {"unknown"}}); rv.Status != 200 {
		t.Errorf("revoke of unknown token: %d, RFC 7009 wants 200", rv.Status)
	}

	mt, _ := sb.IssueToken("i@m.test")
	if err := sb.Revoke("i@m.test"); err != nil {
		t.Fatal(err)
	}
	r := refresh(t, sb, Microsoft, mt.RefreshToken)
	wantContains(t, "MS refresh after Revoke", r.str("error_description"), "AADSTS50173")

	// Client authentication.
	f := url.Values{"client_id": {"nobody.apps.googleusercontent.com"}, "grant_type": {"refresh_token"}, "refresh_token": {"x"}}
	if r := postForm(t, sb, sb.OAuth(Google).TokenURL, f); r.Status != 401 || r.str("error") != "invalid_client" || r.str("error_description") != "The OAuth client was not found." {
		t.Errorf("unknown client: %d %v", r.Status, r.Body)
	}
	f = clientForm(sb, Google, "grant_type", "refresh_token", "refresh_token", "x", "client_secret", "wrong")
	if r := postForm(t, sb, sb.OAuth(Google).TokenURL, f); r.Status != 401 || r.str("error_description") != "Unauthorized" {
		t.Errorf("wrong secret: %d %v", r.Status, r.Body)
	}
	f = url.Values{"client_id": {"00000000-0000-0000-0000-000000000000"}, "grant_type": {"refresh_token"}, "refresh_token": {"x"}}
	wantContains(t, "MS unknown client", postForm(t, sb, sb.OAuth(Microsoft).TokenURL, f).str("error_description"), "AADSTS700016: Application with identifier '00000000-0000-0000-0000-000000000000' was not found")
}

func TestFixDoesNotResurrectDeadGrants(t *testing.T) {
	sb := start(t, nil)
	addUser(t, sb, "old@g.test", Google, Healthy)
	tok, _ := sb.IssueToken("old@g.test")
	_ = sb.SetScenario("old@g.test", TokenExpired)
	_ = sb.Fix("old@g.test")
	if r := refresh(t, sb, Google, tok.RefreshToken); r.str("error_description") != "Token has been expired or revoked." {
		t.Errorf("expired grant after Fix: %d %v", r.Status, r.Body)
	}
	fresh, _ := sb.IssueToken("old@g.test")
	if r := refresh(t, sb, Google, fresh.RefreshToken); r.Status != 200 {
		t.Errorf("new grant after Fix: %v", r.Body)
	}
}

func TestDeviceFlow(t *testing.T) {
	sb := start(t, &Options{DeviceInterval: 100 * time.Millisecond})
	for _, tc := range []struct {
		f                Flavour
		pendingStatus    int
		pending, slow    string
		verificationName string
	}{
		{Google, 428, "Precondition Required", "Forbidden", "verification_url"},
		{Microsoft, 400, "AADSTS70016", "AADSTS70016", "verification_uri"},
	} {
		t.Run(string(tc.f), func(t *testing.T) {
			email := "dev@" + string(tc.f) + ".test"
			addUser(t, sb, email, tc.f, Healthy)
			dc := postForm(t, sb, sb.OAuth(tc.f).DeviceAuthURL, clientForm(sb, tc.f, "scope", strings.Join(mailScopes(tc.f), " ")))
			if dc.Status != 200 || dc.str("device_code") == "" || dc.str("user_code") == "" || dc.str(tc.verificationName) == "" {
				t.Fatalf("devicecode: %d %v", dc.Status, dc.Body)
			}
			poll := func() tokenReply {
				return postForm(t, sb, sb.OAuth(tc.f).TokenURL, clientForm(sb, tc.f,
					"grant_type", "urn:ietf:params:oauth:grant-type:device_code", "device_code", dc.str("device_code")))
			}
			p1 := poll()
			if p1.Status != tc.pendingStatus || p1.str("error") != "authorization_pending" {
				t.Fatalf("first poll: %d %v", p1.Status, p1.Body)
			}
			wantContains(t, "pending", p1.str("error_description"), tc.pending)
			p2 := poll()
			if p2.str("error") != "slow_down" {
				t.Fatalf("immediate second poll: %v", p2.Body)
			}
			wantContains(t, "slow_down", p2.str("error_description"), tc.slow)
			if err := sb.ApproveDevice(dc.str("user_code"), email); err != nil {
				t.Fatal(err)
			}
			time.Sleep(120 * time.Millisecond)
			p3 := poll()
			if p3.Status != 200 || p3.str("access_token") == "" {
				t.Fatalf("after approval: %d %v", p3.Status, p3.Body)
			}
			if p4 := poll(); p4.Status == 200 {
				t.Errorf("device code redeemed twice")
			}
		})
	}
	short := start(t, &Options{DeviceCodeTTL: 50 * time.Millisecond})
	addUser(t, short, "x@m.test", Microsoft, Healthy)
	dc := postForm(t, short, short.OAuth(Microsoft).DeviceAuthURL, clientForm(short, Microsoft))
	time.Sleep(80 * time.Millisecond)
	exp := postForm(t, short, short.OAuth(Microsoft).TokenURL, clientForm(short, Microsoft,
		"grant_type", "urn:ietf:params:oauth:grant-type:device_code", "device_code", dc.str("device_code")))
	if exp.str("error") != "expired_token" {
		t.Errorf("expired device code: %v", exp.Body)
	}
	wantContains(t, "expired", exp.str("error_description"), "AADSTS70020: The provided value for the input parameter 'device_code' is not valid. This device code has expired.")
}

func TestClockSkewDateHeader(t *testing.T) {
	sb := start(t, &Options{ClockOffset: 20 * time.Minute})
	addUser(t, sb, "clock@g.test", Google, Healthy)
	tok, _ := sb.IssueToken("clock@g.test")
	if err := sb.SetScenario("clock@g.test", ClockSkew); err != nil {
		t.Fatal(err)
	}
	r := refresh(t, sb, Google, tok.RefreshToken)
	date, err := http.ParseTime(r.Header.Get("Date"))
	if err != nil {
		t.Fatal(err)
	}
	if off := time.Until(date); off < 19*time.Minute || off > 21*time.Minute {
		t.Errorf("Date offset %v, want about +20m", off)
	}
	wantContains(t, "clock skew refresh", r.str("error_description"), "Invalid JWT: Token must be a short-lived token")
	if err := sb.Fix("clock@g.test"); err != nil {
		t.Fatal(err)
	}
	r = refresh(t, sb, Google, tok.RefreshToken)
	if r.Status != 200 {
		t.Errorf("refresh after the clock was fixed: %v", r.Body)
	}
	date, _ = http.ParseTime(r.Header.Get("Date"))
	if off := time.Until(date); off > time.Minute || off < -time.Minute {
		t.Errorf("Date offset after Fix %v", off)
	}
}
