package sandbox

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-sasl"
)

func imapErrString(err error) string {
	var ie *imap.Error
	if !errors.As(err, &ie) {
		if err == nil {
			return ""
		}
		return "other: " + err.Error()
	}
	s := string(ie.Type)
	if ie.Code != "" {
		s += " [" + string(ie.Code) + "]"
	}
	return s + " " + ie.Text
}

func smtpErrString(err error) string {
	if err == nil {
		return ""
	}
	se := asSMTP(err)
	if se == nil {
		return "other: " + err.Error()
	}
	return fmt.Sprintf("%d %d.%d.%d %s", se.Code, se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2], se.Message)
}

// expect is what each protocol answers for one account; "" means success.
type expect struct {
	imapPass, imapTok, imapSelect string
	smtpPass, smtpTok             string
	refresh                       string
}

const (
	gInvalid   = "NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)"
	gBadCreds  = "535 5.7.8 Username and Password not accepted. For more information, go to\n https://support.google.com/mail/?p=BadCredentials"
	gDead      = "Token has been expired or revoked."
	gWebLogin  = "NO [ALERT] Please log in via your web browser: https://support.google.com/mail/accounts/answer/78754 (Failure)"
	msLogin    = "NO LOGIN failed."
	msAuth     = "NO AUTHENTICATE failed."
	msSMTPFail = "535 5.7.3 Authentication unsuccessful"
)

var scenarioTable = map[Flavour]map[Scenario]expect{
	Google: {
		Healthy:       {},
		WrongPassword: {imapPass: gInvalid, smtpPass: gBadCreds},
		AppPasswordRequired: {
			imapPass: "NO [ALERT] Application-specific password required: https://support.google.com/accounts/answer/185833 (Failure)",
			smtpPass: "534 5.7.9 Application-specific password required. For more information, go to\n https://support.google.com/mail/?p=InvalidSecondFactor",
		},
		PasswordChanged:     {imapTok: gInvalid, smtpTok: gBadCreds, refresh: gDead},
		AccessRevoked:       {imapTok: gInvalid, smtpTok: gBadCreds, refresh: gDead},
		TokenExpired:        {imapTok: gInvalid, smtpTok: gBadCreds, refresh: gDead},
		OAuthAppInTesting:   {imapTok: gInvalid, smtpTok: gBadCreds, refresh: gDead},
		InteractionRequired: {imapTok: gInvalid, smtpTok: gBadCreds, refresh: "reauth related error (invalid_rapt)"},
		ConsentRequired:     {imapTok: gInvalid, smtpTok: gBadCreds, refresh: "Unauthorized client or scope in request."},
		CodeInvalid:         {},
		RedirectURIMismatch: {},
		InvalidClient:       {refresh: "The OAuth client was not found."},
		InsufficientScope:   {imapTok: gInvalid, smtpTok: gBadCreds},
		ClockSkew:           {imapTok: gInvalid, smtpTok: gBadCreds, refresh: "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe."},
		AccountBlocked: {
			imapPass: gWebLogin, imapTok: gInvalid, smtpTok: gBadCreds, refresh: "Account has been deleted",
			smtpPass: "534 5.7.14 <https://accounts.google.com/signin/continue?sarp=1&scc=1&plt=",
		},
		BasicAuthDisabled: {imapPass: gWebLogin, smtpPass: gBadCreds},
		ProtocolDisabled:  {imapPass: "NO [ALERT] IMAP access is disabled for your domain.", imapTok: "NO [ALERT] IMAP access is disabled for your domain."},
		RateLimited: {
			imapPass: "NO [ALERT] Too many simultaneous connections. (Failure)", imapTok: "NO [ALERT] Too many simultaneous connections. (Failure)",
			smtpPass: "454 4.7.0 Too many login attempts, please try again later.", smtpTok: "454 4.7.0 Too many login attempts",
			refresh: "Rate Limit Exceeded",
		},
	},
	Microsoft: {
		Healthy:             {},
		WrongPassword:       {imapPass: msLogin, smtpPass: msSMTPFail},
		AppPasswordRequired: {imapPass: msLogin, smtpPass: msSMTPFail},
		PasswordChanged:     {imapTok: msAuth, smtpTok: msSMTPFail, refresh: "AADSTS50173: The provided grant has expired due to it being revoked"},
		AccessRevoked:       {imapTok: msAuth, smtpTok: msSMTPFail, refresh: "AADSTS50173: The provided grant has expired due to it being revoked"},
		TokenExpired:        {imapTok: msAuth, smtpTok: msSMTPFail, refresh: "AADSTS700082: The refresh token has expired due to inactivity."},
		InteractionRequired: {imapTok: msAuth, smtpTok: msSMTPFail, refresh: "AADSTS50076: Due to a configuration change made by your administrator"},
		ConsentRequired:     {imapTok: msAuth, smtpTok: msSMTPFail, refresh: "AADSTS65001: The user or administrator has not consented to use the application"},
		CodeInvalid:         {},
		RedirectURIMismatch: {},
		InvalidClient:       {refresh: "AADSTS700016: Application with identifier"},
		InsufficientScope:   {imapTok: msAuth, smtpTok: msSMTPFail},
		ClockSkew:           {imapTok: msAuth, smtpTok: msSMTPFail, refresh: "AADSTS700024: Client assertion is not within its valid time range."},
		AccountBlocked: {
			imapPass: msLogin, imapTok: msAuth, smtpTok: msSMTPFail, refresh: "AADSTS50057: The user account is disabled.",
			smtpPass: "535 5.7.139 Authentication unsuccessful, user is locked by your organization's security defaults policy.",
		},
		BasicAuthDisabled: {
			imapPass: "NO Basic authentication is disabled.",
			smtpPass: "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.",
		},
		ProtocolDisabled: {imapSelect: "BAD User is authenticated but not connected."},
		RateLimited: {
			imapPass: "NO Request is throttled. Suggested Backoff Time: 299961 milliseconds", imapTok: "NO Request is throttled.",
			smtpPass: "432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded", smtpTok: "432 4.3.2",
			refresh: "AADSTS50196: The server terminated an operation because it encountered a client request loop.",
		},
	},
}

// TestEveryScenarioSpeaksTheProvidersWords logs in to every scenario of both
// flavours with a password and a token over IMAP and SMTP, refreshes its
// grant, and checks each answer against the provider's real text.
func TestEveryScenarioSpeaksTheProvidersWords(t *testing.T) {
	sb := start(t, nil)
	covered := 0
	for _, f := range []Flavour{Google, Microsoft} {
		for _, s := range Scenarios() {
			if s == ProviderUnavailable || s == WrongSettings || s == Hostile || !f.Supports(s) {
				continue // answered before login: see their own tests
			}
			want, ok := scenarioTable[f][s]
			if !ok {
				t.Errorf("%s/%s: no expectation in the table", f, s)
				continue
			}
			covered++
			t.Run(string(f)+"/"+string(s), func(t *testing.T) {
				email := strings.ReplaceAll(string(s), "_", "-") + "@" + string(f) + ".test"
				addUser(t, sb, email, f, s)
				tok, err := sb.IssueToken(email)
				if err != nil {
					t.Fatal(err)
				}
				check := func(what, got, want string) {
					t.Helper()
					if want == "" && got != "" {
						t.Errorf("%s: got %q, want success", what, got)
					} else if want != "" && !strings.Contains(got, want) {
						t.Errorf("%s: got %q, want %q", what, got, want)
					}
				}
				// IMAP with the password, then with the token.
				c := imapDial(t, sb, email)
				err = c.Login(email, "correct horse").Wait()
				check("imap LOGIN", imapErrString(err), want.imapPass)
				if err == nil {
					_, serr := c.Select("INBOX", nil).Wait()
					check("imap SELECT", imapErrString(serr), want.imapSelect)
				}
				c2 := imapDial(t, sb, email)
				err = c2.Authenticate(xoauth2{email, tok.AccessToken})
				check("imap XOAUTH2", imapErrString(err), want.imapTok)
				if err == nil {
					_, serr := c2.Select("INBOX", nil).Wait()
					check("imap SELECT after XOAUTH2", imapErrString(serr), want.imapSelect)
				}
				// SMTP with the password, then with the token.
				sc := smtpDial(t, sb, email)
				check("smtp AUTH PLAIN", smtpErrString(sc.Auth(sasl.NewPlainClient("", email, "correct horse"))), want.smtpPass)
				sc2 := smtpDial(t, sb, email)
				check("smtp XOAUTH2", smtpErrString(sc2.Auth(xoauth2{email, tok.AccessToken})), want.smtpTok)
				// The grant.
				r := refresh(t, sb, f, tok.RefreshToken)
				got := ""
				if r.Status != 200 {
					got = fmt.Sprintf("%d %s: %s", r.Status, r.str("error"), r.str("error_description"))
				}
				check("refresh", got, want.refresh)
				if s == InsufficientScope && r.Status == 200 && scopeAllows(f, r.str("scope"), protoIMAP) {
					t.Errorf("insufficient_scope refresh granted %q", r.str("scope"))
				}
				if f == Microsoft && r.Status != 200 {
					if !regexp.MustCompile(`^AADSTS\d+: .+\r\nTrace ID: [0-9a-f-]{36}\r\nCorrelation ID: [0-9a-f-]{36}\r\nTimestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$`).MatchString(r.str("error_description")) {
						t.Errorf("Microsoft error_description shape: %q", r.str("error_description"))
					}
				}
			})
		}
	}
	if covered != 2*18-1 {
		t.Errorf("covered %d scenario/flavour pairs", covered)
	}
}

func TestGmailXOAUTH2FailureOnTheWire(t *testing.T) {
	sb := start(t, nil)
	addUser(t, sb, "wire@gmail.test", Google, Healthy)
	tok, _ := sb.IssueToken("wire@gmail.test")
	_ = sb.Revoke("wire@gmail.test")
	eps, _ := sb.Endpoints("wire@gmail.test")
	ir := base64.StdEncoding.EncodeToString([]byte("user=wire@gmail.test\x01auth=Bearer " + tok.AccessToken + "\x01\x01"))
	for _, empty := range []string{"", "="} {
		c, r := rawTLS(t, sb, eps.IMAP.Addr())
		if g := readLine(t, r); !strings.HasPrefix(g, "* OK ") || !strings.Contains(g, "AUTH=XOAUTH2") {
			t.Fatalf("greeting %q", g)
		}
		fmt.Fprintf(c, "a1 AUTHENTICATE XOAUTH2 %s\r\n", ir)
		ch := readLine(t, r)
		js, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(ch, "+ "))
		if !strings.HasPrefix(ch, "+ ") || err != nil || string(js) != `{"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}` {
			t.Fatalf("challenge %q -> %q", ch, js)
		}
		fmt.Fprintf(c, "%s\r\n", empty)
		if l := readLine(t, r); l != "a1 NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)" {
			t.Errorf("after empty response %q: %q", empty, l)
		}
	}
	// SMTP: 334 challenge, then Gmail's multi-line 535.
	c, r := rawTLS(t, sb, eps.SMTP.Addr())
	readLine(t, r)
	fmt.Fprintf(c, "EHLO x\r\n")
	for l := readLine(t, r); strings.HasPrefix(l, "250-"); l = readLine(t, r) {
	}
	fmt.Fprintf(c, "AUTH XOAUTH2 %s\r\n", ir)
	if l := readLine(t, r); !strings.HasPrefix(l, "334 eyJzdGF0dXMiOiI0MDEi") {
		t.Fatalf("smtp challenge %q", l)
	}
	fmt.Fprintf(c, "\r\n")
	l1, l2 := readLine(t, r), readLine(t, r)
	if l1 != "535-5.7.8 Username and Password not accepted. For more information, go to" ||
		!regexp.MustCompile(`^535 5\.7\.8  https://support\.google\.com/mail/\?p=BadCredentials \S+ - gsmtp$`).MatchString(l2) {
		t.Errorf("smtp final reply %q / %q", l1, l2)
	}
}

func TestGmailWebAlertBeforeTaggedNo(t *testing.T) {
	sb := start(t, nil)
	addUser(t, sb, "blocked@gmail.test", Google, AccountBlocked)
	eps, _ := sb.Endpoints("blocked@gmail.test")
	c, r := rawTLS(t, sb, eps.IMAP.Addr())
	readLine(t, r)
	fmt.Fprintf(c, "a1 LOGIN blocked@gmail.test \"correct horse\"\r\n")
	if l := readLine(t, r); !regexp.MustCompile(`^\* NO \[WEBALERT https://accounts\.google\.com/signin/continue\?sarp=1&scc=1&plt=\w+\] Web login required\.$`).MatchString(l) {
		t.Errorf("untagged %q", l)
	}
	if l := readLine(t, r); l != "a1 "+gWebLogin {
		t.Errorf("tagged %q", l)
	}
	// The account's security page heals it.
	resp, err := sb.HTTPClient().PostForm(strings.Split(sb.AccountURL("blocked@gmail.test", "security"), "?")[0],
		map[string][]string{"email": {"blocked@gmail.test"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if s, _ := sb.Scenario("blocked@gmail.test"); s != Healthy {
		t.Errorf("scenario after security confirmation: %s", s)
	}
}

func TestOutagesAndSettingsBeforeLogin(t *testing.T) {
	sb := start(t, &Options{TransientFor: 300 * time.Millisecond})
	addUser(t, sb, "down@gmail.test", Google, ProviderUnavailable)
	addUser(t, sb, "down@ms.test", Microsoft, ProviderUnavailable)
	addUser(t, sb, "conf@gmail.test", Google, WrongSettings)
	for _, tc := range []struct{ email, imapLine, smtpLine, oauth string }{
		{"down@gmail.test", "* BYE [UNAVAILABLE] Temporary System Error", "421 4.3.0 Temporary System Problem.  Try again later (10).", "Service Unavailable"},
		{"down@ms.test", "* BYE [UNAVAILABLE] Server Unavailable. 15", "421 4.3.2 Service not available, closing transmission channel", "AADSTS90033"},
	} {
		eps, _ := sb.Endpoints(tc.email)
		_, r := rawTLS(t, sb, eps.IMAP.Addr())
		if l := readLine(t, r); l != tc.imapLine {
			t.Errorf("%s imap greeting %q", tc.email, l)
		}
		_, r = rawTLS(t, sb, eps.SMTP.Addr())
		wantContains(t, tc.email+" smtp greeting", readLine(t, r), tc.smtpLine)
		s, _ := sb.Settings(tc.email)
		tok, _ := sb.IssueToken(tc.email)
		rr := refresh(t, sb, s.Flavour, tok.RefreshToken)
		if rr.Status != 503 {
			t.Errorf("%s token endpoint %d", tc.email, rr.Status)
		}
		wantContains(t, tc.email+" token endpoint", rr.str("error_description"), tc.oauth)
	}
	// Outages pass by themselves after TransientFor.
	time.Sleep(350 * time.Millisecond)
	c := imapDial(t, sb, "down@gmail.test")
	if err := c.Login("down@gmail.test", "correct horse").Wait(); err != nil {
		t.Errorf("login after the outage: %v", err)
	}

	// wrong_settings: TLS to a plaintext port, and a certificate for another name.
	bad, _ := sb.Settings("conf@gmail.test")
	good, _ := sb.GoodSettings("conf@gmail.test")
	if bad.IMAP == good.IMAP || bad.SMTP == good.SMTP {
		t.Fatalf("wrong settings equal good ones: %+v", bad)
	}
	_, err := tls.Dial("tcp", bad.IMAP.Addr(), sb.ClientTLS(""))
	if err == nil || !strings.Contains(err.Error(), "first record does not look like a TLS handshake") {
		t.Errorf("TLS to the plaintext port: %v", err)
	}
	_, err = tls.Dial("tcp", bad.SMTP.Addr(), sb.ClientTLS(""))
	if err == nil || !strings.Contains(err.Error(), "certificate is valid for 127.0.0.2, not 127.0.0.1") {
		t.Errorf("TLS to the wrong-name server: %v", err)
	}
	if _, err := tls.Dial("tcp", good.IMAP.Addr(), sb.ClientTLS("")); err != nil {
		t.Errorf("good settings: %v", err)
	}
	_ = sb.Fix("conf@gmail.test")
	if fixed, _ := sb.Settings("conf@gmail.test"); fixed.IMAP != good.IMAP {
		t.Errorf("settings after Fix %+v", fixed.IMAP)
	}
}

func TestHostileGreeting(t *testing.T) {
	sb := start(t, nil)
	addUser(t, sb, "evil@gmail.test", Google, Hostile)
	eps, _ := sb.Endpoints("evil@gmail.test")
	for _, addr := range []string{eps.IMAP.Addr(), eps.SMTP.Addr()} {
		c, err := tls.Dial("tcp", addr, sb.ClientTLS(""))
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		r := bufio.NewReaderSize(c, 64<<10)
		first := readLine(t, r)
		if !strings.Contains(first, "\x1b]0;") || !strings.Contains(first, "\x1b[2J") {
			t.Errorf("greeting lacks escapes: %q", first)
		}
		if _, err := r.ReadSlice('\n'); !errors.Is(err, bufio.ErrBufferFull) {
			t.Errorf("second line ended within 64 KiB: %v", err)
		}
		c.Close()
	}
}

func TestRepairsHealAsTheProviderWould(t *testing.T) {
	sb := start(t, nil)
	addUser(t, sb, "app@gmail.test", Google, AppPasswordRequired)
	addUser(t, sb, "pw@ms.test", Microsoft, WrongPassword)
	addUser(t, sb, "revoked@gmail.test", Google, AccessRevoked)
	addUser(t, sb, "code@ms.test", Microsoft, CodeInvalid)

	app, _ := sb.AppPassword("app@gmail.test")
	if !regexp.MustCompile(`^[a-z]{16}$`).MatchString(app) {
		t.Errorf("app password %q is not 16 lowercase letters", app)
	}
	resp, err := sb.HTTPClient().Get(sb.AccountURL("app@gmail.test", "apppasswords"))
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4096)
	n, _ := resp.Body.Read(b)
	resp.Body.Close()
	wantContains(t, "app password page", string(b[:n]), app[:4]+" "+app[4:8]+" "+app[8:12]+" "+app[12:])
	c := imapDial(t, sb, "app@gmail.test")
	if err := c.Login("app@gmail.test", app).Wait(); err != nil {
		t.Errorf("login with the app password: %v", err)
	}
	if s, _ := sb.Scenario("app@gmail.test"); s != Healthy {
		t.Errorf("after app password: %s", s)
	}

	pw, _ := sb.Password("pw@ms.test")
	if pw == "correct horse" {
		t.Fatal("WrongPassword kept the client's password")
	}
	sc := smtpDial(t, sb, "pw@ms.test")
	if err := sc.Auth(sasl.NewPlainClient("", "pw@ms.test", pw)); err != nil {
		t.Errorf("login with the new password: %v", err)
	}
	if s, _ := sb.Scenario("pw@ms.test"); s != Healthy {
		t.Errorf("after new password: %s", s)
	}

	// A new consent heals a revoked grant; the new token works at IMAP.
	verifier, challenge := pkcePair()
	redirect := "http://127.0.0.1:40000/"
	code := authorize(t, sb, Google, "revoked@gmail.test", redirect, challenge).Get("code")
	tr := exchange(t, sb, Google, code, redirect, verifier)
	if tr.Status != 200 {
		t.Fatalf("reconsent: %v", tr.Body)
	}
	c = imapDial(t, sb, "revoked@gmail.test")
	if err := c.Authenticate(xoauth2{"revoked@gmail.test", tr.str("access_token")}); err != nil {
		t.Errorf("XOAUTH2 after reconsent: %v", err)
	}

	// code_invalid: the first exchange fails as a redeemed code, the next flow works.
	verifier, challenge = pkcePair()
	code = authorize(t, sb, Microsoft, "code@ms.test", redirect, challenge).Get("code")
	wantContains(t, "first exchange", exchange(t, sb, Microsoft, code, redirect, verifier).str("error_description"), "AADSTS54005")
	verifier, challenge = pkcePair()
	code = authorize(t, sb, Microsoft, "code@ms.test", redirect, challenge).Get("code")
	if r := exchange(t, sb, Microsoft, code, redirect, verifier); r.Status != 200 {
		t.Errorf("second flow: %v", r.Body)
	}

	lc, _ := sb.Logins("app@gmail.test")
	if lc.IMAPOK != 1 || lc.IMAPFailed != 0 {
		t.Errorf("logins %+v", lc)
	}
}

func TestOAuthBearerAndMicrosoftMechanisms(t *testing.T) {
	sb := start(t, nil)
	addUser(t, sb, "ob@gmail.test", Google, Healthy)
	addUser(t, sb, "ob@ms.test", Microsoft, Healthy)
	tok, _ := sb.IssueToken("ob@gmail.test")
	c := imapDial(t, sb, "ob@gmail.test")
	err := c.Authenticate(sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: "ob@gmail.test", Token: tok.AccessToken}))
	if err != nil {
		t.Errorf("OAUTHBEARER: %v", err)
	}
	c = imapDial(t, sb, "ob@ms.test")
	caps := c.Caps()
	if !caps.Has("AUTH=XOAUTH2") || caps.Has("AUTH=OAUTHBEARER") {
		t.Errorf("Microsoft caps %v", caps)
	}
	// A token of another account is refused.
	if err := c.Authenticate(xoauth2{"ob@ms.test", tok.AccessToken}); imapErrString(err) != msAuth {
		t.Errorf("foreign token: %v", err)
	}
}
