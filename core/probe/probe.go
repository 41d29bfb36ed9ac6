// Package probe runs the live checks behind `mailmend doctor`: one small,
// bounded network conversation per check (TCP, TLS, IMAP greeting,
// capability, authentication, mailbox selection, SMTP greeting, STARTTLS,
// authentication, ...), each reported as a Result with the evidence a
// failure left behind.
//
// Every wait is bounded by a per-step timeout and by the caller's context;
// every byte read from a server is counted against a limit, so a hostile or
// broken server cannot hang or flood a check. Server text that reaches a
// Result's Detail or an error message is sanitized to one printable line;
// cause.Evidence keeps the server's text as sent (bounded in length) for
// classification. Secrets (passwords, access tokens) never appear in a
// Result, an error or evidence.
//
// There is no plaintext mode: a connection is implicit TLS or is upgraded
// with STARTTLS before any credential is sent.
package probe

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mailmend/mailmend/core/cause"
	"github.com/mailmend/mailmend/core/sanitize"
)

// Status is the outcome of one check.
type Status int

// The check outcomes, in the order `doctor --json` documents them.
const (
	// OK means the check passed.
	OK Status = iota
	// Warn means the check passed with a finding worth showing (a
	// certificate about to expire, LOGINDISABLED after TLS, ...).
	Warn
	// Fail means the check failed; the Result's Evidence says why.
	Fail
	// Skip means the check did not run, usually because an earlier one
	// failed.
	Skip
)

var statusNames = [...]string{OK: "ok", Warn: "warn", Fail: "fail", Skip: "skip"}

// String returns "ok", "warn", "fail" or "skip".
func (s Status) String() string {
	if s < 0 || int(s) >= len(statusNames) {
		return fmt.Sprintf("Status(%d)", int(s))
	}
	return statusNames[s]
}

// MarshalText encodes the status as its String.
func (s Status) MarshalText() ([]byte, error) {
	if s < 0 || int(s) >= len(statusNames) {
		return nil, fmt.Errorf("probe: invalid status %d", int(s))
	}
	return []byte(statusNames[s]), nil
}

// UnmarshalText decodes "ok", "warn", "fail" or "skip".
func (s *Status) UnmarshalText(b []byte) error {
	for i, n := range statusNames {
		if string(b) == n {
			*s = Status(i)
			return nil
		}
	}
	return fmt.Errorf("probe: unknown status %q", b)
}

// The check names, stable for JSON and docs.
const (
	CheckDNS            = "dns"
	CheckTCP            = "tcp"
	CheckTLS            = "tls"
	CheckIMAPGreeting   = "imap.greeting"
	CheckIMAPCapability = "imap.capability"
	CheckIMAPAuth       = "imap.auth"
	CheckIMAPSelect     = "imap.select"
	CheckSMTPGreeting   = "smtp.greeting"
	CheckSMTPStartTLS   = "smtp.starttls"
	CheckSMTPAuth       = "smtp.auth"
	CheckOAuthRefresh   = "oauth.refresh"
	CheckClock          = "clock"
)

// Result is the outcome of one check.
type Result struct {
	// Name is one of the Check* constants.
	Name   string
	Status Status
	// Duration is how long the check took.
	Duration time.Duration
	// Detail is a short, sanitized, single-line summary fit for a terminal.
	Detail string
	// Evidence is what a failed or warning check observed; empty on success.
	Evidence []cause.Evidence
}

// Failed reports whether the result is Fail.
func (r Result) Failed() bool { return r.Status == Fail }

// MaxDetail is the longest Detail (in runes) a Result carries.
const MaxDetail = 300

// maxEvidenceText bounds Evidence.Text (in bytes) kept from a server.
const maxEvidenceText = 2048

// detail makes s safe and short for Result.Detail and error messages.
func detail(s string) string {
	return sanitize.Truncate(strings.TrimSpace(sanitize.Line(s)), MaxDetail)
}

// evidenceText bounds raw server text kept as evidence.
func evidenceText(s string) string {
	if len(s) > maxEvidenceText {
		s = s[:maxEvidenceText]
	}
	return s
}

// Credential is what a login presents: a password (or app password) or an
// OAuth 2.0 access token. Exactly one should be set; when both are, the
// access token is used. Its String and GoString never reveal the secret.
type Credential struct {
	Password    string
	AccessToken string
}

// IsToken reports whether the credential is an access token.
func (c Credential) IsToken() bool { return c.AccessToken != "" }

// String describes the credential's kind without its value.
func (c Credential) String() string {
	switch {
	case c.AccessToken != "":
		return "access token (redacted)"
	case c.Password != "":
		return "password (redacted)"
	default:
		return "no credential"
	}
}

// GoString is String, so %#v does not print the secret either.
func (c Credential) GoString() string { return "probe.Credential{" + c.String() + "}" }

// Evidence codes this package produces for transport and protocol
// failures. IMAP response codes ("AUTHENTICATIONFAILED", "UNAVAILABLE",
// "ALERT", ...) and SMTP codes ("535 5.7.8") are passed through as the
// server sent them.
const (
	CodeTimeout              = "timeout"
	CodeCanceled             = "canceled" // the caller cancelled the check
	CodeRefused              = "refused"
	CodeDNS                  = "dns"
	CodeUnreachable          = "unreachable"
	CodeReset                = "reset" // connection reset or closed by the server
	CodeX509UnknownAuthority = "x509_unknown_authority"
	CodeX509Hostname         = "x509_hostname"
	CodeX509Expired          = "x509_expired"
	CodeX509Invalid          = "x509_invalid" // any other verification failure
	CodeCertExpiresSoon      = "cert_expires_soon"
	CodeTLSOnPlainPort       = "tls_on_plain_port"
	CodePlainOnTLSPort       = "plain_on_tls_port"
	CodeTLSHandshake         = "tls_handshake" // other handshake failures
	CodeLineTooLong          = "line_too_long" // server line over Options.MaxLine
	CodeTooMuchData          = "too_much_data" // server sent over Options.MaxBytes
	CodeMalformed            = "malformed"     // unparseable server response
	CodeNoSTARTTLS           = "starttls_unavailable"
	CodeNoMechanism          = "no_auth_mechanism" // no usable SASL mechanism offered
	CodeLoginDisabled        = "LOGINDISABLED"
	CodeSASLChallenge        = "sasl_challenge" // decoded SASL failure challenge (XOAUTH2 JSON)
	CodeBye                  = "BYE"            // IMAP BYE without a response code
	CodeNo                   = "NO"             // IMAP NO without a response code
	CodeBad                  = "BAD"            // IMAP BAD without a response code
)

// AuthError is a login the server refused: wrong password, dead token,
// account blocked, ... Its message includes the server's (sanitized) text.
type AuthError struct {
	// Protocol is "imap" or "smtp".
	Protocol string
	// Check is the check that failed (CheckIMAPAuth, CheckSMTPAuth).
	Check string
	// Msg is the sanitized one-line message.
	Msg      string
	Evidence []cause.Evidence
}

// Error is "probe: PROTO: login refused: " and the server's sanitized text.
func (e *AuthError) Error() string { return "probe: " + e.Protocol + ": login refused: " + e.Msg }

// ProtocolError is any other failure of a check: the network, TLS, a
// server that does not speak the protocol or refuses a step.
type ProtocolError struct {
	// Protocol is "imap" or "smtp".
	Protocol string
	// Check is the check that failed.
	Check string
	// Msg is the sanitized one-line message.
	Msg      string
	Evidence []cause.Evidence
	// Err is the underlying Go error, if any (net.Error, x509 errors, ...).
	Err error
}

// Error is "probe: PROTO: CHECK: " and a sanitized one-line message.
func (e *ProtocolError) Error() string {
	return "probe: " + e.Protocol + ": " + e.Check + ": " + e.Msg
}

// Unwrap returns the underlying Go error.
func (e *ProtocolError) Unwrap() error { return e.Err }

// EvidenceOf returns the evidence an *AuthError or *ProtocolError in err's
// chain carries, or nil.
func EvidenceOf(err error) []cause.Evidence {
	var ae *AuthError
	if errors.As(err, &ae) {
		return ae.Evidence
	}
	var pe *ProtocolError
	if errors.As(err, &pe) {
		return pe.Evidence
	}
	return nil
}

// skipped returns Skip results for names, explaining why.
func skipped(why string, names ...string) []Result {
	out := make([]Result, 0, len(names))
	for _, n := range names {
		out = append(out, Result{Name: n, Status: Skip, Detail: why})
	}
	return out
}
