package cause

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
)

// Transport evidence codes: Evidence.Code when Kind is KindTransport.
const (
	CodeDNS                  = "dns"                    // the host name does not resolve
	CodeDNSTimeout           = "dns_timeout"            // the resolver did not answer
	CodeRefused              = "refused"                // nothing listens on that port
	CodeConnectTimeout       = "connect_timeout"        // no answer to the TCP connect (blocked port, wrong host)
	CodeTimeout              = "timeout"                // connected, then no answer in time
	CodeReset                = "reset"                  // connection reset or closed early (EOF)
	CodeUnreachable          = "unreachable"            // no route: this network is down
	CodeGreetingTimeout      = "greeting_timeout"       // connected, the server never greeted
	CodeTLSOnPlainPort       = "tls_on_plain_port"      // TLS spoken to a plain/STARTTLS port or the reverse
	CodeX509Hostname         = "x509_hostname"          // certificate is for another name
	CodeX509UnknownAuthority = "x509_unknown_authority" // certificate not signed by a trusted root
	CodeX509Expired          = "x509_expired"           // certificate expired or not yet valid
)

// transportCodes maps a transport code to its verdict.
var transportCodes = map[string]signal{
	CodeDNS:                  {cause: WrongSettings, strength: specific, alts: []ID{ProviderUnavailable}, network: true},
	CodeDNSTimeout:           {cause: ProviderUnavailable, strength: specific, alts: []ID{WrongSettings}, network: true},
	CodeRefused:              {cause: WrongSettings, strength: specific, alts: []ID{ProviderUnavailable}, network: true},
	CodeConnectTimeout:       {cause: WrongSettings, strength: specific, alts: []ID{ProviderUnavailable}, network: true},
	CodeTimeout:              {cause: ProviderUnavailable, strength: weak, alts: []ID{WrongSettings}, network: true},
	CodeReset:                {cause: ProviderUnavailable, strength: weak, alts: []ID{WrongSettings, RateLimited}, network: true},
	CodeUnreachable:          {cause: ProviderUnavailable, strength: specific, alts: []ID{WrongSettings}, network: true},
	CodeGreetingTimeout:      {cause: ProviderUnavailable, strength: specific, alts: []ID{WrongSettings}, network: true},
	CodeTLSOnPlainPort:       {cause: WrongSettings, strength: explicit},
	CodeX509Hostname:         {cause: WrongSettings, strength: explicit},
	CodeX509UnknownAuthority: {cause: WrongSettings, strength: specific, alts: []ID{ProviderUnavailable}},
	CodeX509Expired:          {cause: ClockSkew, strength: specific, alts: []ID{ProviderUnavailable, WrongSettings}},
}

// TransportEvidence turns a Go network or TLS error into transport evidence
// with one of the Code* constants (or "" when the class is unknown) and the
// error text. It inspects the error chain (net.DNSError, x509 errors,
// tls.RecordHeaderError, syscall errnos, timeouts), not the message. check
// names the probe ("imap.tls"). A nil error gives the zero Evidence.
func TransportEvidence(err error, check string) Evidence {
	if err == nil {
		return Evidence{}
	}
	return Evidence{Kind: KindTransport, Code: transportCode(err), Text: err.Error(), Check: check}
}

func transportCode(err error) string {
	var (
		dnsErr  *net.DNSError
		hostErr x509.HostnameError
		uaErr   x509.UnknownAuthorityError
		certErr x509.CertificateInvalidError
		recErr  tls.RecordHeaderError
		opErr   *net.OpError
		verErr  *tls.CertificateVerificationError
	)
	switch {
	case errors.As(err, &dnsErr):
		if dnsErr.IsTimeout || dnsErr.IsTemporary && !dnsErr.IsNotFound {
			return CodeDNSTimeout
		}
		return CodeDNS
	case errors.As(err, &hostErr):
		return CodeX509Hostname
	case errors.As(err, &uaErr):
		return CodeX509UnknownAuthority
	case errors.As(err, &certErr):
		if certErr.Reason == x509.Expired {
			return CodeX509Expired
		}
		return CodeX509UnknownAuthority
	case errors.As(err, &recErr):
		return CodeTLSOnPlainPort
	case errors.As(err, &verErr):
		return CodeX509UnknownAuthority
	case errors.Is(err, syscall.ECONNREFUSED):
		return CodeRefused
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return CodeUnreachable
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return CodeReset
	}
	timeout := errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		timeout = true
	}
	if timeout {
		if errors.As(err, &opErr) && opErr.Op == "dial" {
			return CodeConnectTimeout
		}
		return CodeTimeout
	}
	if tc := transportClass(strings.ToLower(err.Error())); tc != "" {
		return tc
	}
	if strings.HasSuffix(err.Error(), "EOF") {
		return CodeReset
	}
	return ""
}
