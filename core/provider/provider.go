// Package provider is mailmend's catalog of mail providers: where their
// servers are, how accounts there authenticate, where the user makes an app
// password or registers an OAuth client, and how to recognise an address as
// theirs (by domain, or by the MX records of a custom domain).
//
// The built-in catalog comes from assets/providers.toml; the config file may
// override built-in entries field by field or add new ones, using the same
// schema. The package does no I/O except the MX lookups Detect makes through
// the Resolver it is given.
package provider

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/mailmend/mailmend/core/account"
)

// GenericID is the id of the catch-all provider for servers the catalog does
// not know; its settings must be given by the user.
const GenericID = "generic"

// App password format rule ids (Provider.AppPasswordFormat).
const (
	// FormatNone keeps the password as typed, trimming surrounding whitespace.
	// The empty string means the same.
	FormatNone = "none"
	// FormatStripSpaces removes every whitespace character and checks nothing else.
	FormatStripSpaces = "strip_spaces"
	// FormatGoogle16 is Google's shape: 16 letters shown as four groups of
	// four; all whitespace is removed.
	FormatGoogle16 = "google16"
	// FormatApple is Apple's shape: xxxx-xxxx-xxxx-xxxx in lowercase letters;
	// hyphens are kept, whitespace is removed.
	FormatApple = "apple"
)

// Provider is one catalog entry. Field names and TOML keys mirror
// assets/providers.toml; the header of that file documents every key.
// A Provider is plain data: copy it freely, but use Clone to get slices that
// do not alias another value's.
type Provider struct {
	// ID is stable ([a-z0-9_-]+); accounts refer to their provider by it.
	ID   string `toml:"id" json:"id"`
	Name string `toml:"name" json:"name"`
	// Domains are address domains served, matched exactly and case-insensitively.
	Domains []string `toml:"domains" json:"domains,omitempty"`
	// MX holds host suffixes: a custom domain whose MX host equals one of them,
	// or ends in "." plus one of them, is hosted by this provider.
	MX []string `toml:"mx" json:"mx,omitempty"`
	// IMAP and SMTP are "host:port"; empty only for the generic provider.
	IMAP         string           `toml:"imap" json:"imap,omitempty"`
	IMAPSecurity account.Security `toml:"imap_security" json:"imap_security,omitempty"`
	SMTP         string           `toml:"smtp" json:"smtp,omitempty"`
	SMTPSecurity account.Security `toml:"smtp_security" json:"smtp_security,omitempty"`
	// Auth lists the methods accounts here may use; the first is the default.
	Auth []account.AuthMethod `toml:"auth" json:"auth"`
	// AppPasswordURL is the page where the user makes an app password.
	AppPasswordURL string `toml:"app_password_url" json:"app_password_url,omitempty"`
	// AppPasswordFormat is a rule id (FormatNone, FormatStripSpaces,
	// FormatGoogle16, FormatApple or "") used by NormalizeAppPassword.
	AppPasswordFormat string `toml:"app_password_format" json:"app_password_format,omitempty"`
	// AppPasswordPrereq says in plain words what must be true before an app
	// password can be made ("2-Step Verification must be on ...").
	AppPasswordPrereq string `toml:"app_password_prereq" json:"app_password_prereq,omitempty"`
	// HelpURL is the provider's own page about IMAP/SMTP access.
	HelpURL string `toml:"help_url" json:"help_url,omitempty"`
	// SecurityURL is the account's security / recent-activity page.
	SecurityURL string `toml:"security_url" json:"security_url,omitempty"`
	// OAuth2 holds the OAuth endpoints; nil when the provider has none.
	OAuth2 *OAuth2 `toml:"oauth2,omitempty" json:"oauth2,omitempty"`
}

// OAuth2 describes a provider's OAuth 2.0 authorization server and the client
// mailmend uses with it.
type OAuth2 struct {
	AuthURL  string `toml:"auth_url" json:"auth_url"`
	TokenURL string `toml:"token_url" json:"token_url"`
	// DeviceAuthURL is the device authorization endpoint; "" means no device flow.
	DeviceAuthURL string `toml:"device_auth_url" json:"device_auth_url,omitempty"`
	// RevokeURL is the token revocation endpoint; "" means none.
	RevokeURL string   `toml:"revoke_url" json:"revoke_url,omitempty"`
	Scopes    []string `toml:"scopes" json:"scopes"`
	// ClientID may be empty: the user then registers a client of their own.
	ClientID string `toml:"client_id" json:"client_id,omitempty"`
	// ClientSecret is optional (installed-app clients may have none). It is
	// never written to JSON output.
	ClientSecret string `toml:"client_secret" json:"-"`
	// ClientSetupURL is the console where the user registers an OAuth client.
	ClientSetupURL string `toml:"client_setup_url" json:"client_setup_url,omitempty"`
	// RedirectHost is the host the client registers for its loopback redirect
	// URI ("127.0.0.1" or "localhost"); "" means 127.0.0.1.
	RedirectHost string `toml:"redirect_host" json:"redirect_host,omitempty"`
	// InTesting says the client's publishing status is "Testing" (Google):
	// its sign-ins end 7 days after consent, and mailmend warns before.
	InTesting bool `toml:"in_testing" json:"in_testing,omitempty"`
}

// Clone returns a deep copy of p: its slices and OAuth2 block are not shared.
func (p Provider) Clone() Provider {
	p.Domains = slices.Clone(p.Domains)
	p.MX = slices.Clone(p.MX)
	p.Auth = slices.Clone(p.Auth)
	if p.OAuth2 != nil {
		o := *p.OAuth2
		o.Scopes = slices.Clone(o.Scopes)
		p.OAuth2 = &o
	}
	return p
}

// IMAPEndpoint parses IMAP and IMAPSecurity into an endpoint. It fails when
// either is unset or invalid.
func (p Provider) IMAPEndpoint() (account.Endpoint, error) {
	return endpoint(p.ID, "imap", p.IMAP, p.IMAPSecurity)
}

// SMTPEndpoint parses SMTP and SMTPSecurity into an endpoint. It fails when
// either is unset or invalid.
func (p Provider) SMTPEndpoint() (account.Endpoint, error) {
	return endpoint(p.ID, "smtp", p.SMTP, p.SMTPSecurity)
}

func endpoint(id, field, hostport string, sec account.Security) (account.Endpoint, error) {
	if hostport == "" {
		return account.Endpoint{}, fmt.Errorf("provider: %s: %s: not set", id, field)
	}
	if !sec.Valid() {
		return account.Endpoint{}, fmt.Errorf("provider: %s: %s_security: %q is not tls or starttls", id, field, sec)
	}
	e, err := account.ParseHostPort(hostport, sec)
	if err != nil {
		return account.Endpoint{}, fmt.Errorf("provider: %s: %s: %q is not HOST:PORT with a port 1-65535", id, field, hostport)
	}
	return e, nil
}

// DefaultAuth returns the first auth method, or Password when none is listed.
func (p Provider) DefaultAuth() account.AuthMethod {
	if len(p.Auth) == 0 {
		return account.Password
	}
	return p.Auth[0]
}

// Supports reports whether m is one of the provider's auth methods.
func (p Provider) Supports(m account.AuthMethod) bool { return slices.Contains(p.Auth, m) }

// HasDomain reports whether domain (any case) is one of p.Domains.
func (p Provider) HasDomain(domain string) bool {
	domain = normHost(domain)
	for _, d := range p.Domains {
		if normHost(d) == domain {
			return true
		}
	}
	return false
}

// MatchesMX reports whether the MX host name (any case, with or without the
// trailing dot) equals one of p.MX or is a subdomain of one.
func (p Provider) MatchesMX(host string) bool {
	host = normHost(host)
	if host == "" {
		return false
	}
	for _, s := range p.MX {
		s = normHost(s)
		if s != "" && (host == s || strings.HasSuffix(host, "."+s)) {
			return true
		}
	}
	return false
}

func normHost(s string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
}

var idPattern = regexp.MustCompile(`^[a-z0-9_-]+$`)

// hostLabel matches a domain name or MX suffix: dot-separated labels of
// letters, digits and hyphens.
var hostPattern = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)

// FieldError is a validation failure of one provider field.
type FieldError struct {
	// Where is "FILE:LINE" of the provider's [[provider]] header when known.
	Where string
	// ID is the provider's id ("" when the id itself is missing).
	ID string
	// Field is the TOML key, e.g. "imap_security" or "oauth2.token_url".
	Field string
	// Problem says what is wrong, without secrets.
	Problem string
}

// Error formats the failure as "provider: [WHERE: ]ID: FIELD: PROBLEM".
func (e *FieldError) Error() string {
	id := e.ID
	if id == "" {
		id = "(no id)"
	}
	if e.Where != "" {
		return fmt.Sprintf("provider: %s: %s: %s: %s", e.Where, id, e.Field, e.Problem)
	}
	return fmt.Sprintf("provider: %s: %s: %s", id, e.Field, e.Problem)
}

// Validate checks one provider and returns the first problem as a
// *FieldError naming the provider and the field:
//   - id matches [a-z0-9_-]+ and name is set;
//   - imap/smtp are HOST:PORT (port 1-65535) with security tls or starttls;
//     they may be empty only for the generic provider;
//   - auth is non-empty, each value "password" or "oauth2", no repeats;
//   - with oauth2 in auth: an oauth2 block with auth_url, token_url and scopes;
//   - every URL is https, or http on a loopback host (127.0.0.0/8, ::1, localhost);
//   - domains and mx are host names; app_password_format is a known rule.
func (p Provider) Validate() error {
	fail := func(field, format string, args ...any) error {
		return &FieldError{ID: p.ID, Field: field, Problem: fmt.Sprintf(format, args...)}
	}
	if p.ID == "" {
		return fail("id", "missing")
	}
	if !idPattern.MatchString(p.ID) {
		return fail("id", "%q may only hold a-z, 0-9, _ and -", p.ID)
	}
	if strings.TrimSpace(p.Name) == "" {
		return fail("name", "missing")
	}
	for _, d := range p.Domains {
		if !hostPattern.MatchString(d) || !strings.Contains(d, ".") {
			return fail("domains", "%q is not a domain name", d)
		}
	}
	for _, m := range p.MX {
		if !hostPattern.MatchString(strings.TrimSuffix(m, ".")) {
			return fail("mx", "%q is not a host name suffix", m)
		}
	}
	for _, s := range []struct {
		field string
		hp    string
		sec   account.Security
	}{{"imap", p.IMAP, p.IMAPSecurity}, {"smtp", p.SMTP, p.SMTPSecurity}} {
		if s.hp == "" {
			if p.ID != GenericID {
				return fail(s.field, "missing (HOST:PORT)")
			}
			if s.sec != "" && !s.sec.Valid() {
				return fail(s.field+"_security", "%q is not tls or starttls", s.sec)
			}
			continue
		}
		if _, err := account.ParseHostPort(s.hp, account.TLS); err != nil {
			return fail(s.field, "%q is not HOST:PORT with a port 1-65535", s.hp)
		}
		if s.sec == "" {
			return fail(s.field+"_security", "missing (tls or starttls)")
		}
		if !s.sec.Valid() {
			return fail(s.field+"_security", "%q is not tls or starttls", s.sec)
		}
	}
	if len(p.Auth) == 0 {
		return fail("auth", "empty: list \"password\" and/or \"oauth2\"")
	}
	for i, m := range p.Auth {
		if !m.Valid() {
			return fail("auth", "%q is not password or oauth2", m)
		}
		if slices.Contains(p.Auth[:i], m) {
			return fail("auth", "%q is listed twice", m)
		}
	}
	switch p.AppPasswordFormat {
	case "", FormatNone, FormatStripSpaces, FormatGoogle16, FormatApple:
	default:
		return fail("app_password_format", "%q is not one of none, strip_spaces, google16, apple", p.AppPasswordFormat)
	}
	for _, u := range []struct{ field, v string }{
		{"app_password_url", p.AppPasswordURL},
		{"help_url", p.HelpURL},
		{"security_url", p.SecurityURL},
	} {
		if u.v == "" {
			continue
		}
		if err := checkURL(u.v); err != nil {
			return fail(u.field, "%v", err)
		}
	}
	if p.Supports(account.OAuth2) && p.OAuth2 == nil {
		return fail("oauth2", "missing: auth lists oauth2 but there is no [provider.oauth2] table")
	}
	if o := p.OAuth2; o != nil {
		needed := p.Supports(account.OAuth2)
		for _, u := range []struct {
			field, v string
			req      bool
		}{
			{"oauth2.auth_url", o.AuthURL, needed},
			{"oauth2.token_url", o.TokenURL, needed},
			{"oauth2.device_auth_url", o.DeviceAuthURL, false},
			{"oauth2.revoke_url", o.RevokeURL, false},
			{"oauth2.client_setup_url", o.ClientSetupURL, false},
		} {
			if u.v == "" {
				if u.req {
					return fail(u.field, "missing")
				}
				continue
			}
			if err := checkURL(u.v); err != nil {
				return fail(u.field, "%v", err)
			}
		}
		if needed && len(o.Scopes) == 0 {
			return fail("oauth2.scopes", "empty: oauth2 needs at least one scope")
		}
		for _, s := range o.Scopes {
			if strings.TrimSpace(s) == "" || strings.ContainsAny(s, " \t\r\n") {
				return fail("oauth2.scopes", "%q is not a scope (no spaces allowed)", s)
			}
		}
		switch o.RedirectHost {
		case "", "127.0.0.1", "localhost", "::1", "[::1]":
		default:
			return fail("oauth2.redirect_host", "%q is not a loopback host (127.0.0.1, localhost or ::1)", o.RedirectHost)
		}
	}
	return nil
}

// checkURL accepts absolute https URLs, and http URLs whose host is loopback.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if IsLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q must use https (http is allowed only on loopback hosts)", raw)
	default:
		return fmt.Errorf("%q must use https", raw)
	}
}

// IsLoopback reports whether host is "localhost" or an IP address in
// 127.0.0.0/8 or ::1. It does not resolve names.
func IsLoopback(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
