package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-smtp"
)

// This file holds the providers' own words: the texts Gmail, accounts.google.com,
// Exchange Online and Entra ID send for each failure, as users report them.

// Google help pages and sign-in URLs that appear inside Gmail's texts.
const (
	googleAppPasswordHelp = "https://support.google.com/accounts/answer/185833"
	googleWebLoginHelp    = "https://support.google.com/mail/accounts/answer/78754"
	googleSMTPWebHelp     = "https://support.google.com/mail/answer/78754"
	googleBadCredsHelp    = "https://support.google.com/mail/?p=BadCredentials"
	googleSecondFactor    = "https://support.google.com/mail/?p=InvalidSecondFactor"
	googleLoginRateHelp   = "https://support.google.com/mail/answer/7126229"
	googleRAPTHelp        = "https://support.google.com/a/answer/9368756"
	googleContinueURL     = "https://accounts.google.com/signin/continue?sarp=1&scc=1&plt="
	msSMTPAuthDisabled    = "https://aka.ms/smtp_auth_disabled"
)

// The hostile payload: a colour change, a window title (OSC 0), a clipboard
// write (OSC 52) and a screen clear, mixed into ordinary words.
const hostilePayload = "\x1b[31mATTENTION\x1b[0m \x1b]0;pwned-title\x07\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J\x1b[H please re-enter your password"

// imapFail is a failed IMAP command as a provider sends it: an optional
// untagged line (without CRLF) first, then the tagged status.
type imapFail struct {
	untagged string
	typ      imap.StatusResponseType
	code     imap.ResponseCode
	text     string
}

func (f *imapFail) err() *imap.Error {
	return &imap.Error{Type: f.typ, Code: f.code, Text: f.text}
}

func gmailNo(code imap.ResponseCode, text string) *imapFail {
	return &imapFail{typ: imap.StatusResponseTypeNo, code: code, text: text}
}

func msNo(text string) *imapFail {
	return &imapFail{typ: imap.StatusResponseTypeNo, text: text}
}

// imapText returns what the IMAP server answers to a password login (LOGIN or
// AUTHENTICATE PLAIN, mech "LOGIN" or "AUTHENTICATE") that reached the
// scenario's decision point, or nil when the login passes.
func imapLoginFail(f Flavour, s Scenario, mech string, credsOK bool, appPasswordUsed bool) *imapFail {
	if f == Google {
		switch {
		case s == RateLimited:
			return gmailNo(imap.ResponseCodeAlert, "Too many simultaneous connections. (Failure)")
		case s == AccountBlocked:
			return &imapFail{
				untagged: "* NO [WEBALERT " + googleContinueURL + randToken(24) + "] Web login required.",
				typ:      imap.StatusResponseTypeNo, code: imap.ResponseCodeAlert,
				text: "Please log in via your web browser: " + googleWebLoginHelp + " (Failure)",
			}
		case s == BasicAuthDisabled && credsOK:
			return gmailNo(imap.ResponseCodeAlert, "Please log in via your web browser: "+googleWebLoginHelp+" (Failure)")
		case s == AppPasswordRequired && credsOK && !appPasswordUsed:
			return gmailNo(imap.ResponseCodeAlert, "Application-specific password required: "+googleAppPasswordHelp+" (Failure)")
		case !credsOK:
			return gmailNo(imap.ResponseCodeAuthenticationFailed, "Invalid credentials (Failure)")
		case s == ProtocolDisabled:
			return gmailNo(imap.ResponseCodeAlert, "IMAP access is disabled for your domain.")
		case s == Hostile:
			return gmailNo(imap.ResponseCodeAlert, hostilePayload+" (Failure)")
		}
		return nil
	}
	switch {
	case s == RateLimited:
		return msNo("Request is throttled. Suggested Backoff Time: 299961 milliseconds")
	case s == BasicAuthDisabled && mech == "LOGIN":
		return msNo("Basic authentication is disabled.")
	case s == Hostile:
		return msNo(hostilePayload)
	case !credsOK, s == AccountBlocked, s == BasicAuthDisabled,
		s == AppPasswordRequired && !appPasswordUsed:
		return msNo(mech + " failed.")
	}
	return nil
}

// xoauthChallenge is Gmail's XOAUTH2/OAUTHBEARER failure challenge.
func xoauthChallenge(status string) []byte {
	return []byte(`{"status":"` + status + `","schemes":"Bearer","scope":"https://mail.google.com/"}`)
}

// imapTokenFail is the final answer to a refused XOAUTH2/OAUTHBEARER login.
func imapTokenFail(f Flavour) *imapFail {
	if f == Google {
		return gmailNo(imap.ResponseCodeAuthenticationFailed, "Invalid credentials (Failure)")
	}
	return msNo("AUTHENTICATE failed.")
}

// msNotConnected is Exchange's answer to every command after a login when
// IMAP is switched off for the mailbox.
var msNotConnected = &imap.Error{Type: imap.StatusResponseTypeBad, Text: "User is authenticated but not connected."}

// imapUnavailableGreeting is the BYE a provider sends instead of a greeting
// during an outage.
func imapUnavailableGreeting(f Flavour) string {
	if f == Google {
		return "* BYE [UNAVAILABLE] Temporary System Error"
	}
	return "* BYE [UNAVAILABLE] Server Unavailable. 15"
}

// gsmtpID imitates the per-reply session id Gmail appends ("... - gsmtp").
func gsmtpID() string {
	return randToken(12) + "sm" + randDigits(8) + "." + randDigits(2) + " - gsmtp"
}

const msSMTPHost = "[SB1PR01CA0001.namprd01.prod.outlook.com]"

// smtpErr builds a reply whose lines carry their own enhanced codes, as
// Gmail writes them ("535-5.7.8 ...\r\n535 5.7.8  ...").
func smtpErr(code int, lines ...string) *smtp.SMTPError {
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.NoEnhancedCode, Message: strings.Join(lines, "\n")}
}

func gmailBadCredentials() *smtp.SMTPError {
	return smtpErr(535, "5.7.8 Username and Password not accepted. For more information, go to",
		"5.7.8  "+googleBadCredsHelp+" "+gsmtpID())
}

// smtpLoginFail returns the SMTP reply to AUTH PLAIN/LOGIN, or nil when the
// login passes.
func smtpLoginFail(f Flavour, s Scenario, credsOK, appPasswordUsed bool) *smtp.SMTPError {
	if f == Google {
		switch {
		case s == RateLimited:
			return smtpErr(454, "4.7.0 Too many login attempts, please try again later. Learn more at",
				"4.7.0  "+googleLoginRateHelp+" "+gsmtpID())
		case s == AccountBlocked:
			return smtpErr(534, "5.7.14 <"+googleContinueURL+randToken(24)+"> Please log in via your web browser and",
				"5.7.14 then try again.", "5.7.14  Learn more at", "5.7.14  "+googleSMTPWebHelp+" "+gsmtpID())
		case s == AppPasswordRequired && credsOK && !appPasswordUsed:
			return smtpErr(534, "5.7.9 Application-specific password required. For more information, go to",
				"5.7.9  "+googleSecondFactor+" "+gsmtpID())
		case !credsOK, s == BasicAuthDisabled:
			return gmailBadCredentials()
		case s == Hostile:
			return smtpErr(535, "5.7.8 "+hostilePayload)
		}
		return nil
	}
	switch {
	case s == RateLimited:
		return smtpErr(432, "4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded "+msSMTPHost)
	case s == BasicAuthDisabled:
		return smtpErr(535, "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit "+msSMTPAuthDisabled+" for more information. "+msSMTPHost)
	case s == AccountBlocked:
		return smtpErr(535, "5.7.139 Authentication unsuccessful, user is locked by your organization's security defaults policy. Contact your administrator. "+msSMTPHost)
	case s == Hostile:
		return smtpErr(535, "5.7.3 "+hostilePayload)
	case !credsOK, s == AppPasswordRequired && !appPasswordUsed:
		return smtpErr(535, "5.7.3 Authentication unsuccessful "+msSMTPHost)
	}
	return nil
}

// smtpTokenFail is the final reply to a refused XOAUTH2 login.
func smtpTokenFail(f Flavour) *smtp.SMTPError {
	if f == Google {
		return gmailBadCredentials()
	}
	return smtpErr(535, "5.7.3 Authentication unsuccessful "+msSMTPHost)
}

// smtpConnectFail is the line a server sends instead of its 220 greeting.
func smtpConnectFail(f Flavour, s Scenario) string {
	switch {
	case f == Google && s == ProviderUnavailable:
		return "421 4.3.0 Temporary System Problem.  Try again later (10). " + gsmtpID()
	case f == Google:
		return "421 4.7.0 Try again later, closing connection. " + gsmtpID()
	default:
		return "421 4.3.2 Service not available, closing transmission channel"
	}
}

// oauthErr is an error answer of a token, device or revocation endpoint.
type oauthErr struct {
	status int
	body   map[string]any
	header map[string]string
}

func googleErr(status int, code, desc string) *oauthErr {
	return &oauthErr{status: status, body: map[string]any{"error": code, "error_description": desc}}
}

// msErr builds an Entra ID error: the AADSTS number in the description and
// in error_codes, with trace and correlation ids and a timestamp.
func msErr(now time.Time, status int, code string, aadsts int, msg string, extra map[string]any) *oauthErr {
	ts := now.UTC().Format("2006-01-02 15:04:05Z")
	trace, corr := uuid(), uuid()
	desc := fmt.Sprintf("AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s", aadsts, msg, trace, corr, ts)
	body := map[string]any{
		"error":             code,
		"error_description": desc,
		"error_codes":       []int{aadsts},
		"timestamp":         ts,
		"trace_id":          trace,
		"correlation_id":    corr,
		"error_uri":         fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", aadsts),
	}
	for k, v := range extra {
		body[k] = v
	}
	return &oauthErr{status: status, body: body}
}

// Shared OAuth answers, by flavour.

func errDeadGrant(f Flavour, now, issued time.Time) *oauthErr {
	if f == Google {
		return googleErr(400, "invalid_grant", "Token has been expired or revoked.")
	}
	return msErr(now, 400, "invalid_grant", 50173, fmt.Sprintf(
		"The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '%s' and the TokensValidFrom date (before which tokens are not valid) for this user is '%s'.",
		issued.UTC().Format("2006-01-02T15:04:05.0000000Z"), now.UTC().Format("2006-01-02T15:04:05.0000000Z")),
		map[string]any{"suberror": "bad_token"})
}

func errUnknownGrant(f Flavour, now time.Time) *oauthErr {
	if f == Google {
		return googleErr(400, "invalid_grant", "Bad Request")
	}
	return msErr(now, 400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.", nil)
}

// errScenarioRefresh is the refresh answer for an account whose grant the
// scenario killed.
func errScenarioRefresh(f Flavour, s Scenario, now, issued time.Time, clientID string) *oauthErr {
	if f == Google {
		switch s {
		case InteractionRequired:
			e := googleErr(400, "invalid_grant", "reauth related error (invalid_rapt)")
			e.body["error_uri"] = googleRAPTHelp
			e.body["error_subtype"] = "invalid_rapt"
			return e
		case ConsentRequired:
			return googleErr(400, "unauthorized_client", "Unauthorized client or scope in request.")
		case AccountBlocked:
			return googleErr(400, "invalid_grant", "Account has been deleted")
		case ClockSkew:
			return googleErr(400, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
		case Hostile:
			return googleErr(400, "invalid_grant", hostilePayload)
		}
		return errDeadGrant(f, now, issued)
	}
	switch s {
	case AccessRevoked:
		// Revoked sessions (the user's "sign out everywhere", an admin's
		// revocation) answer as a password change does.
		return errDeadGrant(f, now, issued)
	case TokenExpired:
		return msErr(now, 400, "invalid_grant", 700082, fmt.Sprintf(
			"The refresh token has expired due to inactivity. The token was issued on %s and was inactive for 90.00:00:00.",
			issued.UTC().Format("2006-01-02T15:04:05.0000000Z")), map[string]any{"suberror": "bad_token"})
	case InteractionRequired:
		return msErr(now, 400, "invalid_grant", 50076, "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '00000002-0000-0ff1-ce00-000000000000'.", map[string]any{"suberror": "basic_action"})
	case ConsentRequired:
		return msErr(now, 400, "invalid_grant", 65001, fmt.Sprintf("The user or administrator has not consented to use the application with ID '%s' named 'mailmend'. Send an interactive authorization request for this user and resource.", clientID), map[string]any{"suberror": "consent_required"})
	case AccountBlocked:
		return msErr(now, 400, "invalid_grant", 50057, "The user account is disabled.", nil)
	case ClockSkew:
		return msErr(now, 401, "invalid_client", 700024, fmt.Sprintf("Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, expiry time of assertion %s. Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials .",
			now.UTC().Format("2006-01-02T15:04:05.0000000Z"), now.Add(-time.Hour).UTC().Format("2006-01-02T15:04:05.0000000Z"), now.Add(-50*time.Minute).UTC().Format("2006-01-02T15:04:05.0000000Z")), nil)
	case Hostile:
		return msErr(now, 400, "invalid_grant", 50173, hostilePayload, nil)
	}
	return errDeadGrant(f, now, issued)
}

func errUnknownClient(f Flavour, now time.Time, clientID string) *oauthErr {
	if f == Google {
		return googleErr(401, "invalid_client", "The OAuth client was not found.")
	}
	return msErr(now, 400, "unauthorized_client", 700016, fmt.Sprintf("Application with identifier '%s' was not found in the directory 'mailmend sandbox'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID), nil)
}

func errBadClientSecret(f Flavour, now time.Time, clientID string) *oauthErr {
	if f == Google {
		return googleErr(401, "invalid_client", "Unauthorized")
	}
	return msErr(now, 401, "invalid_client", 7000215, fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID), nil)
}

func errCodeRedeemed(f Flavour, now time.Time) *oauthErr {
	if f == Google {
		return googleErr(400, "invalid_grant", "Bad Request")
	}
	return msErr(now, 400, "invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.", nil)
}

func errCodeExpired(f Flavour, now time.Time) *oauthErr {
	if f == Google {
		return googleErr(400, "invalid_grant", "Bad Request")
	}
	return msErr(now, 400, "invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.", nil)
}

func errCodeMalformed(f Flavour, now time.Time) *oauthErr {
	if f == Google {
		return googleErr(400, "invalid_grant", "Malformed code.")
	}
	return msErr(now, 400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.", nil)
}

func errVerifier(f Flavour, now time.Time, missing bool) *oauthErr {
	if f == Google {
		if missing {
			return googleErr(400, "invalid_grant", "Missing code verifier.")
		}
		return googleErr(400, "invalid_grant", "Invalid code verifier.")
	}
	return msErr(now, 400, "invalid_grant", 501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request.", nil)
}

func errTokenRedirect(f Flavour, now time.Time, uri, clientID string) *oauthErr {
	if f == Google {
		return googleErr(400, "redirect_uri_mismatch", "Bad Request")
	}
	return msErr(now, 400, "invalid_grant", 50011, msRedirectText(uri, clientID), nil)
}

func msRedirectText(uri, clientID string) string {
	return fmt.Sprintf("The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application '%s'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this.", uri, clientID)
}

func errUnavailable(f Flavour, now time.Time) *oauthErr {
	if f == Google {
		return googleErr(503, "temporarily_unavailable", "Service Unavailable")
	}
	return msErr(now, 503, "temporarily_unavailable", 90033, "A transient error has occurred. Please try again.", nil)
}

func errRateLimited(f Flavour, now time.Time, retryAfter time.Duration) *oauthErr {
	var e *oauthErr
	if f == Google {
		e = googleErr(429, "rate_limit_exceeded", "Rate Limit Exceeded")
	} else {
		e = msErr(now, 429, "temporarily_unavailable", 50196, "The server terminated an operation because it encountered a client request loop. Please contact your app vendor.", nil)
	}
	secs := int(retryAfter / time.Second)
	if secs < 1 {
		secs = 1
	}
	e.header = map[string]string{"Retry-After": fmt.Sprint(secs)}
	return e
}

func errDevicePending(f Flavour, now time.Time) *oauthErr {
	if f == Google {
		return googleErr(428, "authorization_pending", "Precondition Required")
	}
	return msErr(now, 400, "authorization_pending", 70016, "OAuth 2.0 device flow error. Authorization is pending. Continue polling.", nil)
}

func errDeviceSlowDown(f Flavour, now time.Time) *oauthErr {
	if f == Google {
		return googleErr(403, "slow_down", "Forbidden")
	}
	return msErr(now, 400, "slow_down", 70016, "OAuth 2.0 device flow error. Authorization is pending. Continue polling.", nil)
}

func errDeviceExpired(f Flavour, now time.Time) *oauthErr {
	if f == Google {
		return googleErr(400, "expired_token", "Bad Request")
	}
	return msErr(now, 400, "expired_token", 70020, "The provided value for the input parameter 'device_code' is not valid. This device code has expired.", nil)
}

func errDeviceDenied(f Flavour, now time.Time) *oauthErr {
	if f == Google {
		return googleErr(403, "access_denied", "Forbidden")
	}
	return msErr(now, 400, "access_denied", 70000, "The user denied the authorization request.", nil)
}

func errInvalidRequest(f Flavour, now time.Time, what string) *oauthErr {
	if f == Google {
		return googleErr(400, "invalid_request", what)
	}
	return msErr(now, 400, "invalid_request", 900144, what, nil)
}

func errUnsupportedGrant(f Flavour, now time.Time, grant string) *oauthErr {
	if f == Google {
		return googleErr(400, "unsupported_grant_type", "Invalid grant_type: "+grant)
	}
	return msErr(now, 400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '"+grant+"'.", nil)
}

// Randomness helpers for ids that appear in texts and tokens.

func randToken(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

func randDigits(n int) string {
	var sb strings.Builder
	for i := 0; i < n; i++ {
		d, _ := rand.Int(rand.Reader, big.NewInt(10))
		sb.WriteByte(byte('0' + d.Int64()))
	}
	return sb.String()
}

func uuid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// googleAppPassword returns 16 lowercase letters, the form Google shows an
// app password in (it displays them in four groups of four).
func googleAppPassword() string {
	const letters = "abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 16)
	for i := range b {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(letters))))
		b[i] = letters[n.Int64()]
	}
	return string(b)
}
