package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/cause"
)

// startTLS runs the client handshake on the connection (implicit TLS, or
// after a STARTTLS reply) and reports the "tls" check. Bytes the server
// sent before the handshake and that are still buffered mean a
// man-in-the-middle injected plaintext: that fails the check.
func (c *conn) startTLS(ctx context.Context, proto string, ep account.Endpoint) (Result, error) {
	start := time.Now()
	res := Result{Name: CheckTLS}
	if n := c.r.Buffered(); n > 0 {
		res.Status, res.Duration = Fail, time.Since(start)
		res.Detail = fmt.Sprintf("server sent %d bytes before the TLS handshake", n)
		res.Evidence = []cause.Evidence{{Kind: cause.KindTransport, Code: CodeMalformed, Text: res.Detail, Check: CheckTLS}}
		return res, &ProtocolError{Protocol: proto, Check: CheckTLS, Msg: res.Detail, Evidence: res.Evidence}
	}
	cfg := c.opts.tlsConfig(ep)
	tc := tls.Client(c.tcp, cfg)
	c.deadline(ctx, c.opts.Timeouts.TLS)
	err := tc.HandshakeContext(ctx)
	res.Duration = time.Since(start)
	if err != nil {
		ev := transportEvidence(ctx, CheckTLS, err)
		res.Status = Fail
		res.Detail = detail("TLS handshake with " + ep.Addr() + ": " + describeCode(ev.Code, err))
		res.Evidence = []cause.Evidence{ev}
		return res, &ProtocolError{Protocol: proto, Check: CheckTLS, Msg: res.Detail, Evidence: res.Evidence, Err: err}
	}
	st := tc.ConnectionState()
	c.tls = &st
	c.rw = tc
	c.counter = &countingReader{r: tc, limit: c.opts.MaxBytes - c.counter.n}
	c.r = bufio.NewReaderSize(c.counter, 4096)
	res.Status, res.Detail = tlsSummary(st, cfg.ServerName, time.Now())
	if res.Status == Warn {
		res.Evidence = []cause.Evidence{{Kind: cause.KindTransport, Code: CodeCertExpiresSoon, Text: res.Detail, Check: CheckTLS}}
	}
	return res, nil
}

// certWarnBefore is how close to expiry a certificate turns the tls check
// into a warning.
const certWarnBefore = 14 * 24 * time.Hour

// tlsSummary describes a verified connection: version, the leaf's subject
// and issuer, its expiry and the name it was verified for.
func tlsSummary(st tls.ConnectionState, name string, now time.Time) (Status, string) {
	status := OK
	var b strings.Builder
	b.WriteString(tls.VersionName(st.Version))
	if len(st.PeerCertificates) > 0 {
		leaf := st.PeerCertificates[0]
		fmt.Fprintf(&b, ", certificate %q issued by %q, verified for %s, expires %s",
			leaf.Subject.CommonName, leaf.Issuer.CommonName, name, leaf.NotAfter.UTC().Format("2006-01-02"))
		if left := leaf.NotAfter.Sub(now); left < certWarnBefore {
			status = Warn
			fmt.Fprintf(&b, " (in %d days)", int(left.Hours()/24))
		}
		fmt.Fprintf(&b, ", chain of %d", len(st.PeerCertificates))
	}
	return status, detail(b.String())
}

// probeSpeaksTLS opens a second connection and tries a TLS handshake, to
// tell a TLS port that waits for a ClientHello from a server that is merely
// silent. Any certificate verdict counts as TLS.
func probeSpeaksTLS(ctx context.Context, ep account.Endpoint, opts Options) bool {
	timeout := opts.Timeouts.TLS
	if timeout > 5*time.Second {
		timeout = 5 * time.Second
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	raw, err := opts.Dialer.DialContext(pctx, "tcp", ep.Addr())
	if err != nil {
		return false
	}
	defer raw.Close()
	if dl, ok := pctx.Deadline(); ok {
		_ = raw.SetDeadline(dl)
	}
	tc := tls.Client(raw, opts.tlsConfig(ep))
	err = tc.HandshakeContext(pctx)
	if err == nil {
		return true
	}
	var cv *tls.CertificateVerificationError
	return errors.As(err, &cv)
}

// TransportCode classifies a Go network, TLS or limit error into one of the
// Code* constants ("timeout", "refused", "x509_hostname", ...), or "" when
// it is none of them.
func TransportCode(err error) string {
	if err == nil {
		return ""
	}
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var cv *tls.CertificateVerificationError
	var rh tls.RecordHeaderError
	var dnsErr *net.DNSError
	var ne net.Error
	switch {
	case errors.Is(err, errLineTooLong):
		return CodeLineTooLong
	case errors.Is(err, errTooMuchData):
		return CodeTooMuchData
	case errors.As(err, &unknown):
		return CodeX509UnknownAuthority
	case errors.As(err, &host):
		return CodeX509Hostname
	case errors.As(err, &invalid):
		if invalid.Reason == x509.Expired {
			return CodeX509Expired
		}
		return CodeX509Invalid
	case errors.As(err, &cv):
		return CodeX509Invalid
	case errors.As(err, &rh):
		if looksLikePlaintextGreeting(rh.RecordHeader[:]) {
			return CodeTLSOnPlainPort
		}
		return CodeTLSHandshake
	case errors.As(err, &dnsErr):
		if dnsErr.IsTimeout {
			return CodeTimeout
		}
		return CodeDNS
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, errTimeout):
		return CodeTimeout
	case errors.As(err, &ne) && ne.Timeout():
		return CodeTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return CodeRefused
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return CodeUnreachable
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return CodeReset
	}
	var alert tls.AlertError
	if errors.As(err, &alert) {
		return CodeTLSHandshake
	}
	if strings.HasPrefix(err.Error(), "tls:") {
		return CodeTLSHandshake
	}
	return ""
}

var errTimeout = errors.New("timed out")

// looksLikePlaintextGreeting reports whether the first bytes of a "TLS
// record" are an IMAP ("* OK", "* BYE", "* PREAUTH") or SMTP ("220 ",
// "421-", "554 ") greeting.
func looksLikePlaintextGreeting(b []byte) bool {
	if len(b) >= 2 && b[0] == '*' && b[1] == ' ' {
		return true
	}
	if len(b) >= 4 && b[0] >= '2' && b[0] <= '5' && isDigit(b[1]) && isDigit(b[2]) && (b[3] == ' ' || b[3] == '-') {
		return true
	}
	return false
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }
