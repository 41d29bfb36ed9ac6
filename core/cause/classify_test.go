package cause

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// docCases are failure texts as providers document or commonly print them,
// written for these tests (not taken from the corpus). Every catalog id is
// reached at least once; TestEveryIDReachable checks that.
var docCases = []struct {
	name     string
	provider string
	text     string
	want     ID
}{
	// wrong_password
	{"entra 50126", "microsoft", `{"error":"invalid_grant","error_description":"AADSTS50126: Error validating credentials due to invalid username or password.\r\nTrace ID: 1"}`, WrongPassword},
	{"gmail smtp bad credentials", "google", "535-5.7.8 Username and Password not accepted. Learn more at\r\n535 5.7.8  https://support.google.com/mail/?p=BadCredentials x1-20020a - gsmtp", WrongPassword},
	{"dovecot generic", "", "a1 NO [AUTHENTICATIONFAILED] Authentication failed.", WrongPassword},
	{"exchange 5.7.139 credentials", "microsoft", "535 5.7.139 Authentication unsuccessful, the user credentials were incorrect. [AM6P194CA0001.EURP194.PROD.OUTLOOK.COM]", WrongPassword},
	// app_password_required
	{"gmail imap alert", "google", "NO [ALERT] Application-specific password required: https://support.google.com/accounts/answer/185833 (Failure)", AppPasswordRequired},
	{"gmail smtp 534", "", "534-5.7.9 Application-specific password required. Learn more at\n534 5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor - gsmtp", AppPasswordRequired},
	{"yahoo generic", "yahoo", "A2 NO [AUTHENTICATIONFAILED] LOGIN Invalid credentials", AppPasswordRequired},
	{"icloud generic", "icloud", "NO [AUTHENTICATIONFAILED] Authentication failed.", AppPasswordRequired},
	// password_changed
	{"entra 50173", "microsoft", "AADSTS50173: The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.", PasswordChanged},
	{"entra 50133", "microsoft", "AADSTS50133: Session is invalid due to expiration or recent password change.", PasswordChanged},
	{"imap expired code", "", "A1 NO [EXPIRED] That password has expired, please change it", PasswordChanged},
	// access_revoked
	{"gmail xoauth2 401", "", "+ eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==", AccessRevoked},
	// token_expired
	{"entra 700082", "microsoft", `{"error":"invalid_grant","error_description":"AADSTS700082: The refresh token has expired due to inactivity. The token was issued on 2024-01-01 and was inactive for 90.00:00:00."}`, TokenExpired},
	{"entra 70043 sign-in frequency", "microsoft", "AADSTS70043: The refresh token has expired or is invalid due to sign-in frequency checks by conditional access.", TokenExpired},
	{"google expired or revoked", "google", `{"error": "invalid_grant", "error_description": "Token has been expired or revoked."}`, TokenExpired},
	// oauth_app_in_testing
	{"google unverified testing app", "google", "Access blocked: mailmend has not completed the Google verification process\nError 403: access_denied", OAuthAppInTesting},
	// interaction_required
	{"entra 50079", "microsoft", "AADSTS50079: Due to a configuration change made by your administrator, or because you moved to a new location, you must enroll in multi-factor authentication.", InteractionRequired},
	{"entra 50158", "microsoft", "AADSTS50158: External security challenge not satisfied.", InteractionRequired},
	{"oidc login_required", "", `{"error":"login_required","error_description":"The user is not logged in"}`, InteractionRequired},
	// consent_required
	{"entra 65001", "microsoft", "AADSTS65001: The user or administrator has not consented to use the application with ID 'x'. Send an interactive authorization request for this user and resource.", ConsentRequired},
	{"entra 90094", "microsoft", "AADSTS90094: The grant requires admin permission.", ConsentRequired},
	{"google admin policy", "google", "Error 400: admin_policy_enforced", ConsentRequired},
	// code_invalid
	{"entra 54005", "microsoft", "AADSTS54005: OAuth2 Authorization code was already redeemed, please retry with a new valid code.", CodeInvalid},
	{"google invalid code", "google", `{"error": "invalid_grant", "error_description": "Invalid code."}`, CodeInvalid},
	{"pkce verifier", "", "invalid_grant: PKCE verification failed: code_verifier does not match", CodeInvalid},
	// redirect_uri_mismatch
	{"google redirect", "google", "Error 400: redirect_uri_mismatch\nThe redirect URI in the request, http://127.0.0.1:8080/, does not match the ones authorized for the OAuth client.", RedirectURIMismatch},
	{"entra 500113", "microsoft", "AADSTS500113: No reply address is registered for the application.", RedirectURIMismatch},
	// invalid_client
	{"entra 7000215", "microsoft", "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.", InvalidClient},
	{"google deleted client", "google", "google.auth.exceptions.RefreshError: ('deleted_client: The OAuth client was deleted.', {'error': 'deleted_client', 'error_description': 'The OAuth client was deleted.'})", InvalidClient},
	{"google client not found", "google", `{"error": "invalid_client", "error_description": "The OAuth client was not found."}`, InvalidClient},
	// insufficient_scope
	{"google scopes", "google", "googleapi: Error 403: Request had insufficient authentication scopes., insufficientPermissions", InsufficientScope},
	{"entra 70011", "microsoft", "AADSTS70011: The provided value for the input parameter 'scope' isn't valid.", InsufficientScope},
	{"xoauth2 400", "google", "S: + eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==", InsufficientScope},
	// clock_skew
	{"google jwt", "google", `{"error":"invalid_grant","error_description":"Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values."}`, ClockSkew},
	{"entra 700024", "microsoft", "AADSTS700024: Client assertion is not within its valid time range.", ClockSkew},
	{"x509 expired", "", "tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time 2031-01-01T00:00:00Z is after 2030-01-01T00:00:00Z", ClockSkew},
	// account_blocked
	{"gmail web login", "google", "* NO [WEBALERT https://accounts.google.com/signin/continue?sarp=1&scc=1] Web login required.", AccountBlocked},
	{"gmail smtp 5.7.14", "google", "534-5.7.14 <https://accounts.google.com/signin/continue?sarp=1> Please log in via your web browser and\n534-5.7.14 then try again.\n534 5.7.14 https://support.google.com/mail/answer/78754 - gsmtp", AccountBlocked},
	{"entra 50053", "microsoft", "AADSTS50053: The account is locked because the user tried to sign in too many times with an incorrect user ID or password.", AccountBlocked},
	{"exchange security defaults lock", "microsoft", "535 5.7.139 Authentication unsuccessful, user is locked by your organization's security defaults policy. Contact your administrator.", AccountBlocked},
	{"google advanced protection", "google", "Error 400: policy_enforced", AccountBlocked},
	// basic_auth_disabled
	{"exchange basic off", "microsoft", "A1 NO Basic authentication is disabled.", BasicAuthDisabled},
	{"exchange imap login failed", "microsoft", "a001 NO LOGIN failed.", BasicAuthDisabled},
	{"exchange smtp basic off", "microsoft", "535 5.7.139 Authentication unsuccessful, basic authentication is disabled.", BasicAuthDisabled},
	// protocol_disabled
	{"gmail imap off", "google", "NO [ALERT] Your account is not enabled for IMAP use. Please visit your Gmail settings page and enable your account for IMAP access. (Failure)", ProtocolDisabled},
	{"exchange smtp auth off", "microsoft", "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox. Visit https://aka.ms/smtp_auth_disabled for more information.", ProtocolDisabled},
	{"yandex rights", "yandex", "535 5.7.8 Error: authentication failed: This user does not have access rights to this service", ProtocolDisabled},
	// wrong_settings
	{"go tls on plain port", "", "imap: tls: first record does not look like a TLS handshake", WrongSettings},
	{"go hostname", "", "x509: certificate is valid for *.mail.example.net, not imap.example.org", WrongSettings},
	{"no such host", "", "dial tcp: lookup imap.gmial.com on 127.0.0.53:53: no such host", WrongSettings},
	{"refused", "", "dial tcp 203.0.113.5:993: connect: connection refused", WrongSettings},
	{"starttls first", "", "530 5.7.0 Must issue a STARTTLS command first.", WrongSettings},
	{"privacy required", "", "A1 NO [PRIVACYREQUIRED] Connection is not secure, use STARTTLS", WrongSettings},
	// provider_unavailable
	{"imap unavailable", "", "* BYE [UNAVAILABLE] Server shutting down for maintenance", ProviderUnavailable},
	{"oauth 503", "", "oauth2: cannot fetch token: 503 Service Unavailable\nResponse: upstream connect error", ProviderUnavailable},
	{"smtp 421 4.3.2", "", "421 4.3.2 Service not available, closing transmission channel", ProviderUnavailable},
	{"entra 90033", "microsoft", "AADSTS90033: A transient error has occurred. Please try again.", ProviderUnavailable},
	// rate_limited
	{"gmail too many logins", "google", "454 4.7.0 Too many login attempts, please try again later. - gsmtp", RateLimited},
	{"gmail connections", "google", "* BYE [ALERT] Too many simultaneous connections. (Failure)", RateLimited},
	{"http 429", "", `oauth2: cannot fetch token: 429 Too Many Requests\nResponse: {"error":"rate_limit_exceeded"}`, RateLimited},
	{"gmail sending limit", "google", "550 5.4.5 Daily user sending limit exceeded. - gsmtp", RateLimited},
	// unknown
	{"noise", "", "the printer is on fire", Unknown},
}

func TestDocCases(t *testing.T) {
	for _, c := range docCases {
		t.Run(c.name, func(t *testing.T) {
			d := Explain(c.text, c.provider)
			checkDiagnosis(t, d)
			if d.Cause != c.want {
				t.Fatalf("got %v, want %s\n  evidence: %+v", d, c.want, d.Evidence)
			}
			if c.want != Unknown && len(d.Evidence) == 0 {
				t.Fatalf("no deciding evidence for %s", c.want)
			}
		})
	}
}

func TestEveryIDReachable(t *testing.T) {
	reached := map[ID]bool{}
	for _, c := range docCases {
		if Explain(c.text, c.provider).Cause == c.want {
			reached[c.want] = true
		}
	}
	for _, id := range All {
		if !reached[id] {
			t.Errorf("no test text reaches %s", id)
		}
	}
}

// Evidence as a live probe reports it, not parsed from text.
func TestClassifyProbeEvidence(t *testing.T) {
	cases := []struct {
		name string
		ev   []Evidence
		ctx  Context
		want ID
	}{
		{"imap code only", []Evidence{{Kind: KindIMAP, Code: "AUTHENTICATIONFAILED", Text: "Invalid credentials (Failure)", Check: "imap.auth"}}, Context{Provider: "yahoo", Auth: "password"}, AppPasswordRequired},
		{"imap unavailable code", []Evidence{{Kind: KindIMAP, Code: "UNAVAILABLE", Text: "Try again later"}}, Context{}, ProviderUnavailable},
		{"smtp code field", []Evidence{{Kind: KindSMTP, Code: "535 5.7.139", Text: "Authentication unsuccessful, basic authentication is disabled."}}, Context{Provider: "microsoft"}, BasicAuthDisabled},
		{"oauth fields", []Evidence{{Kind: KindOAuth, Code: "invalid_grant", Text: "AADSTS700084: The refresh token was issued to a single page app (SPA)", HTTPStatus: 400}}, Context{Provider: "microsoft"}, TokenExpired},
		{"oauth misleading error field", []Evidence{{Kind: KindOAuth, Code: "interaction_required", Text: "AADSTS50126: Error validating credentials due to invalid username or password."}}, Context{}, WrongPassword},
		{"transport refused", []Evidence{{Kind: KindTransport, Code: CodeRefused, Text: "dial tcp 127.0.0.1:1: connect: connection refused"}}, Context{}, WrongSettings},
		{"transport timeout", []Evidence{{Kind: KindTransport, Code: CodeTimeout, Text: "read: i/o timeout"}}, Context{}, ProviderUnavailable},
		{"oauth token on imap", []Evidence{{Kind: KindIMAP, Code: "AUTHENTICATIONFAILED", Text: "Invalid credentials (Failure)"}}, Context{Provider: "google", Auth: "oauth2"}, InsufficientScope},
		{"http 5xx", []Evidence{{Kind: KindOAuth, HTTPStatus: 502, Text: "<html>Bad Gateway</html>"}}, Context{}, ProviderUnavailable},
		{"nothing", nil, Context{}, Unknown},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := Classify(c.ev, c.ctx)
			checkDiagnosis(t, d)
			if d.Cause != c.want {
				t.Fatalf("got %v, want %s", d, c.want)
			}
		})
	}
}

func TestConsentAge(t *testing.T) {
	dead := []Evidence{{Kind: KindOAuth, Code: "invalid_grant", Text: "Token has been expired or revoked.", HTTPStatus: 400}}
	day := 24 * time.Hour
	cases := []struct {
		provider string
		age      time.Duration
		want     ID
		wantCand ID // must be among the candidates, "" for none
	}{
		{"google", 7 * day, OAuthAppInTesting, TokenExpired},
		{"google", 7*day + 3*time.Hour, OAuthAppInTesting, AccessRevoked},
		{"google", 2 * day, AccessRevoked, PasswordChanged},
		{"google", 30 * day, AccessRevoked, TokenExpired},
		{"google", 200 * day, TokenExpired, AccessRevoked},
		{"google", 0, TokenExpired, OAuthAppInTesting},
		{"microsoft", 7 * day, AccessRevoked, PasswordChanged},
	}
	for _, c := range cases {
		d := Classify(dead, Context{Provider: c.provider, Auth: "oauth2", ConsentAge: c.age})
		checkDiagnosis(t, d)
		if d.Cause != c.want {
			t.Errorf("%s age %v: got %v, want %s", c.provider, c.age, d, c.want)
		}
		if c.wantCand != "" && !slices.Contains(d.Candidates, c.wantCand) {
			t.Errorf("%s age %v: candidates %v lack %s", c.provider, c.age, d.Candidates, c.wantCand)
		}
		if c.provider != "google" && (d.Cause == OAuthAppInTesting || slices.Contains(d.Candidates, OAuthAppInTesting)) {
			t.Errorf("%s: Google-only cause offered: %v", c.provider, d)
		}
		if d.Certain {
			t.Errorf("%s age %v: an ambiguous text must not be certain: %v", c.provider, c.age, d)
		}
	}
}

func TestClockContext(t *testing.T) {
	oauth := []Evidence{{Kind: KindOAuth, Code: "invalid_grant", Text: "Token has been expired or revoked."}}
	d := Classify(oauth, Context{Provider: "google", ClockMeasured: true, ClockOffset: -12 * time.Minute})
	if d.Cause != ClockSkew || d.Retry != RetryAfterFix {
		t.Fatalf("12 min offset: got %v retry %s", d, d.Retry)
	}
	if !slices.Contains(d.Candidates, TokenExpired) {
		t.Fatalf("the text's own reading should stay a candidate: %v", d.Candidates)
	}
	if len(d.Evidence) == 0 || d.Evidence[len(d.Evidence)-1].Kind != KindClock || !strings.Contains(d.Evidence[len(d.Evidence)-1].Text, "12m") {
		t.Fatalf("clock evidence missing: %+v", d.Evidence)
	}
	// Within tolerance: the clock is not blamed.
	d = Classify(oauth, Context{Provider: "google", ClockMeasured: true, ClockOffset: 2 * time.Minute})
	if d.Cause == ClockSkew || slices.Contains(d.Candidates, ClockSkew) {
		t.Fatalf("2 min offset blamed: %v", d)
	}
	// A refused connection has nothing to do with the clock.
	refused := []Evidence{{Kind: KindTransport, Code: CodeRefused}}
	d = Classify(refused, Context{ClockMeasured: true, ClockOffset: time.Hour})
	if d.Cause != WrongSettings || !slices.Contains(d.Candidates, ClockSkew) {
		t.Fatalf("refused with skew: got %v", d)
	}
	// An expired-looking certificate with a good clock is the server's.
	exp := []Evidence{{Kind: KindTransport, Code: CodeX509Expired}}
	if d = Classify(exp, Context{ClockMeasured: true}); d.Cause != ProviderUnavailable {
		t.Fatalf("expired cert, good clock: got %v", d)
	}
	if d = Classify(exp, Context{}); d.Cause != ClockSkew {
		t.Fatalf("expired cert, clock unknown: got %v", d)
	}
	// Only a clock measurement.
	if d = Classify(nil, Context{ClockMeasured: true, ClockOffset: 6 * time.Minute}); d.Cause != ClockSkew || !d.Certain {
		t.Fatalf("clock only: got %v", d)
	}
}

func TestEntraNumberNotErrorField(t *testing.T) {
	// The same number decides whatever Microsoft put in `error`.
	for _, field := range []string{"invalid_grant", "interaction_required", "invalid_request", "unauthorized_client"} {
		d := Explain(`{"error":"`+field+`","error_description":"AADSTS50076: you must use multi-factor authentication.","error_codes":[50076]}`, "microsoft")
		if d.Cause != InteractionRequired {
			t.Errorf("error=%s: got %v", field, d)
		}
	}
	// The wrapper 70002 yields to the real code after it.
	d := Explain("AADSTS70002: Error validating credentials. AADSTS50126: Invalid username or password", "")
	if d.Cause != WrongPassword {
		t.Fatalf("wrapper: got %v", d)
	}
	// Only in error_codes.
	d = Explain(`{"error":"invalid_grant","error_codes":[700082]}`, "")
	if d.Cause != TokenExpired {
		t.Fatalf("error_codes only: got %v", d)
	}
}

func TestParseTextLayers(t *testing.T) {
	// Python traceback with an escaped JSON body inside a string.
	text := "Traceback (most recent call last):\n  File \"x.py\", line 3, in <module>\n" +
		`requests.exceptions.HTTPError: 400 Client Error: {\"error\": \"invalid_grant\", \"error_description\": \"AADSTS50055: The password is expired.\\r\\nTrace ID: abc\"}`
	ev := ParseText(text, "microsoft")
	if len(ev) == 0 || ev[0].Kind != KindOAuth || ev[0].Code != "AADSTS50055" {
		t.Fatalf("evidence: %+v", ev)
	}
	if strings.Contains(ev[0].Text, "Trace ID") {
		t.Fatalf("trace trailer kept: %q", ev[0].Text)
	}
	if d := Explain(text, "microsoft"); d.Cause != PasswordChanged {
		t.Fatalf("got %v", d)
	}

	// A base64 challenge is decoded into readable evidence.
	ev = ParseText("S: + eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==", "")
	found := false
	for _, e := range ev {
		if e.Code == "xoauth2" && strings.Contains(e.Text, `"status":"401"`) {
			found = true
		}
	}
	if !found {
		t.Fatalf("challenge not decoded: %+v", ev)
	}

	// SMTP multi-line replies become one piece of evidence.
	ev = ParseText("535-5.7.8 Username and Password not accepted. Learn more at\n535 5.7.8  https://support.google.com/mail/?p=BadCredentials - gsmtp", "google")
	if len(ev) != 1 || ev[0].Kind != KindSMTP || ev[0].Code != "535 5.7.8" || !strings.Contains(ev[0].Text, "BadCredentials") {
		t.Fatalf("multi-line reply: %+v", ev)
	}

	// Nothing recognised: the text is kept whole.
	ev = ParseText("  something else entirely  ", "")
	if len(ev) != 1 || ev[0].Text != "something else entirely" {
		t.Fatalf("fallback: %+v", ev)
	}
	if ev := ParseText("", ""); len(ev) != 0 {
		t.Fatalf("empty input gave %+v", ev)
	}
}

func TestProviderInferred(t *testing.T) {
	// Without a provider the markers in the text choose the reading.
	d := Explain("NO [AUTHENTICATIONFAILED] Invalid credentials (imap.mail.yahoo.com)", "")
	if d.Cause != AppPasswordRequired {
		t.Fatalf("yahoo marker: got %v", d)
	}
	d = Explain("535 5.7.3 Authentication unsuccessful [DB7PR04CA0001.eurprd04.prod.outlook.com]", "")
	if d.Cause != WrongPassword || !slices.Contains(d.Candidates, BasicAuthDisabled) {
		t.Fatalf("outlook smtp: got %v", d)
	}
}

func TestOAuthSASLContext(t *testing.T) {
	// The same bare failure means a token problem after XOAUTH2 and a
	// retired password login after LOGIN.
	x := Explain("C: A1 AUTHENTICATE XOAUTH2 dXNlcj1hQGIuYwFhdXRoPUJlYXJlciB4AQE=\nS: A1 NO AUTHENTICATE failed.", "microsoft")
	if x.Cause != InsufficientScope || x.Certain {
		t.Fatalf("xoauth2: got %v", x)
	}
	p := Explain("C: A1 LOGIN user@contoso.com ****\nS: A1 NO LOGIN failed.", "microsoft")
	if p.Cause != BasicAuthDisabled {
		t.Fatalf("login: got %v", p)
	}
}

func ExampleExplain() {
	d := Explain(`{"error":"invalid_grant","error_description":"AADSTS700082: The refresh token has expired due to inactivity."}`, "microsoft")
	fmt.Println(d.Cause, d.Retry, d.Certain)
	// Output: token_expired never true
}

func TestWellKnownHostDNS(t *testing.T) {
	// A provider's own host always exists: failing to resolve it is this
	// network's problem; an unknown host is more likely a typo.
	if d := Explain("Error: getaddrinfo ENOTFOUND smtp.gmail.com", ""); d.Cause != ProviderUnavailable {
		t.Fatalf("gmail host: got %v", d)
	}
	if d := Explain("Error: getaddrinfo ENOTFOUND smtp.gmial.com", ""); d.Cause != WrongSettings {
		t.Fatalf("typo host: got %v", d)
	}
	d := Classify([]Evidence{{Kind: KindTransport, Code: CodeDNS, Text: "lookup imap.gmail.com: no such host"}}, Context{})
	if d.Cause != ProviderUnavailable {
		t.Fatalf("probe evidence: got %v", d)
	}
}

func TestGoogleErrorPage(t *testing.T) {
	d := Explain("Error 400: invalid_request\nYou can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy for keeping apps secure.", "google")
	if d.Cause != RedirectURIMismatch {
		t.Fatalf("got %v", d)
	}
}
