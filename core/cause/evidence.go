package cause

import "time"

// Kind says which protocol layer a piece of evidence came from.
type Kind string

// The evidence kinds, as `explain --json` reports them.
const (
	KindOAuth     Kind = "oauth"     // token endpoint / authorization redirect error
	KindIMAP      Kind = "imap"      // IMAP tagged/untagged response or SASL challenge
	KindSMTP      Kind = "smtp"      // SMTP reply (code + enhanced code + text)
	KindTransport Kind = "transport" // DNS, TCP, TLS, x509, timeouts
	KindClock     Kind = "clock"     // measured clock offset
)

// Evidence is one observation that points at a cause: what a server said or
// what the network did. Text is raw server text; callers sanitise before
// display.
type Evidence struct {
	Kind Kind `json:"kind"`
	// Code is the most specific machine-readable code: an OAuth error
	// ("invalid_grant"), an AADSTS number ("AADSTS700082"), an IMAP response
	// code ("AUTHENTICATIONFAILED"), an SMTP code ("535 5.7.8"), a transport
	// class ("timeout", "refused", "x509_hostname", "tls_on_plain_port").
	Code string `json:"code,omitempty"`
	// Text is the human-readable part as the server sent it.
	Text string `json:"text,omitempty"`
	// Check is the probe that saw it ("imap.auth", "oauth.refresh"), if any.
	Check string `json:"check,omitempty"`
	// HTTPStatus is the HTTP status for OAuth evidence, 0 otherwise.
	HTTPStatus int `json:"http_status,omitempty"`
}

// Context is what is known about the account beside the evidence.
type Context struct {
	// Provider is a provider id ("google", "microsoft", ...) or "".
	Provider string
	// Auth is "password", "oauth2" or "".
	Auth string
	// ConsentAge is how long ago the current OAuth grant was made (0: unknown).
	ConsentAge time.Duration
	// ClockOffset is the measured local clock error (local minus server);
	// ClockMeasured says whether it was measured at all.
	ClockOffset   time.Duration
	ClockMeasured bool
	// SettingsWorked says the same server settings logged in successfully
	// before. A connection refused or unanswered then points at the server
	// being down rather than at wrong settings.
	SettingsWorked bool
	// AppPassword says the password that was refused has the shape of the
	// provider's app passwords (Google's 16 letters, Apple's
	// xxxx-xxxx-xxxx-xxxx): a refusal then means a revoked or mistyped app
	// password, not that an app password is needed.
	AppPassword bool
}
