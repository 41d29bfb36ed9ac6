// Package account holds the plain data that describes a connected mail
// account: who it is, how it authenticates and where its servers are. It does
// no I/O; the store persists it and the doctor checks it.
package account

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// AuthMethod is how an account proves who it is.
type AuthMethod string

// The authentication methods mailmend knows.
const (
	// Password is a login with a password or an app password.
	Password AuthMethod = "password"
	// OAuth2 is XOAUTH2/OAUTHBEARER with an access token from a refresh token.
	OAuth2 AuthMethod = "oauth2"
)

// Valid reports whether m is a known method.
func (m AuthMethod) Valid() bool { return m == Password || m == OAuth2 }

// String returns the method's stable name.
func (m AuthMethod) String() string { return string(m) }

// Security is how a connection to a server is protected. There is no
// plaintext mode: mailmend never talks to a mail server without TLS.
type Security string

// The connection security modes.
const (
	// TLS is implicit TLS from the first byte (IMAP 993, SMTP 465).
	TLS Security = "tls"
	// StartTLS is a plaintext greeting upgraded with STARTTLS before anything
	// else is sent (IMAP 143, SMTP 587). A server that does not offer it fails.
	StartTLS Security = "starttls"
)

// Valid reports whether s is a known mode.
func (s Security) Valid() bool { return s == TLS || s == StartTLS }

// String returns the mode's stable name.
func (s Security) String() string { return string(s) }

// Status is an account's health as last seen.
type Status string

// The account health states, as `list --json` reports them.
const (
	// Unchecked means no live check has run yet.
	Unchecked Status = "unchecked"
	// Healthy means the last live check passed.
	Healthy Status = "healthy"
	// NeedsReconnect means the user must act (new password, new consent).
	NeedsReconnect Status = "needs_reconnect"
	// Failing means the last check failed for a reason that may pass by itself
	// or after a settings fix.
	Failing Status = "failing"
)

// String returns the status's stable name.
func (s Status) String() string { return string(s) }

// Endpoint is one server: host, port and connection security.
type Endpoint struct {
	Host     string   `json:"host"`
	Port     int      `json:"port"`
	Security Security `json:"security"`
}

// Addr returns host:port, bracketing IPv6 literals.
func (e Endpoint) Addr() string { return net.JoinHostPort(e.Host, strconv.Itoa(e.Port)) }

// IsZero reports whether the endpoint is unset.
func (e Endpoint) IsZero() bool { return e.Host == "" && e.Port == 0 }

// String formats the endpoint as "host:port (security)".
func (e Endpoint) String() string {
	if e.IsZero() {
		return "(not set)"
	}
	return fmt.Sprintf("%s (%s)", e.Addr(), e.Security)
}

// ParseHostPort parses "host:port" into an endpoint with the given security.
// The port must be 1..65535 and the host non-empty.
func ParseHostPort(s string, sec Security) (Endpoint, error) {
	host, portStr, err := net.SplitHostPort(strings.TrimSpace(s))
	if err != nil {
		return Endpoint{}, fmt.Errorf("account: %q is not HOST:PORT", s)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return Endpoint{}, fmt.Errorf("account: port %q in %q is not 1-65535", portStr, s)
	}
	if host == "" {
		return Endpoint{}, fmt.Errorf("account: %q has no host", s)
	}
	return Endpoint{Host: host, Port: port, Security: sec}, nil
}

// Account is one mail account as kept in the store's index. It carries no
// secret: passwords and tokens live in their own credential-store items.
type Account struct {
	// ID is stable for the account's life, also across reconnects.
	ID string `json:"id"`
	// Email is the address; one account per address (compared case-insensitively).
	Email string `json:"email"`
	// Username is the login name; empty means the email address.
	Username string `json:"username,omitempty"`
	// Provider is a provider id from the catalog ("google", "generic", ...).
	Provider string     `json:"provider"`
	Auth     AuthMethod `json:"auth"`
	IMAP     Endpoint   `json:"imap"`
	SMTP     Endpoint   `json:"smtp"`
	// ConsentedAt is when the current OAuth grant was made (zero for passwords).
	ConsentedAt time.Time `json:"consented_at,omitzero"`
	// LastOK is the last time a live login succeeded.
	LastOK time.Time `json:"last_ok,omitzero"`
	Status Status    `json:"status"`
	// Cause is the catalog id of the last diagnosed failure, empty when healthy.
	Cause string `json:"cause,omitempty"`
	// CheckedAt is when the status was last set by a live check.
	CheckedAt time.Time `json:"checked_at,omitzero"`
}

// Login returns the name used to log in: Username, or Email when unset.
func (a Account) Login() string {
	if a.Username != "" {
		return a.Username
	}
	return a.Email
}

// Domain returns the part of the address after the last '@', lower-cased.
func (a Account) Domain() string { return Domain(a.Email) }

// Domain returns the lower-cased domain of an address, or "" if it has none.
func Domain(email string) string {
	i := strings.LastIndexByte(email, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(email[i+1:])
}

// ValidEmail reports whether s looks like local@domain.tld, without spaces or
// control characters. It is a sanity check, not RFC 5322.
func ValidEmail(s string) bool {
	if s == "" || len(s) > 254 || strings.ContainsAny(s, " \t\r\n<>\"") {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	i := strings.LastIndexByte(s, '@')
	if i <= 0 || i == len(s)-1 {
		return false
	}
	d := s[i+1:]
	return strings.Contains(d, ".") && !strings.HasPrefix(d, ".") && !strings.HasSuffix(d, ".")
}

// SameEmail compares two addresses case-insensitively.
func SameEmail(a, b string) bool {
	return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
}
