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
	"time"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/cause"
)

// ContextDialer opens network connections; *net.Dialer is one. Tests and
// benchmarks use it to route or delay connections.
type ContextDialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// DialerFunc adapts a function to ContextDialer.
type DialerFunc func(ctx context.Context, network, address string) (net.Conn, error)

// DialContext calls f.
func (f DialerFunc) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return f(ctx, network, address)
}

// Timeouts bounds each step of a check. A zero field takes its default.
type Timeouts struct {
	// Dial bounds DNS resolution plus the TCP connect (default 10 s).
	Dial time.Duration
	// TLS bounds a TLS handshake (default 10 s).
	TLS time.Duration
	// Greeting bounds the wait for the server's first line (default 10 s).
	Greeting time.Duration
	// Command bounds the reply to one ordinary command (default 15 s).
	Command time.Duration
	// Auth bounds a whole authentication exchange (default 30 s: the
	// server may itself ask an OAuth provider).
	Auth time.Duration
}

// The default timeouts.
const (
	DefaultDialTimeout     = 10 * time.Second
	DefaultTLSTimeout      = 10 * time.Second
	DefaultGreetingTimeout = 10 * time.Second
	DefaultCommandTimeout  = 15 * time.Second
	DefaultAuthTimeout     = 30 * time.Second
)

// Default server text limits.
const (
	DefaultMaxLine  = 64 << 10
	DefaultMaxBytes = 4 << 20
)

// Options configures a check. The zero value is usable: default timeouts,
// the system's trusted roots (which honour SSL_CERT_FILE) and default
// limits.
type Options struct {
	Timeouts Timeouts
	// RootCAs are the trusted roots; nil means the system roots.
	RootCAs *x509.CertPool
	// ServerName is the name the certificate is verified for; empty means
	// the endpoint's host.
	ServerName string
	// MaxLine is the longest server line (including IMAP literals) read
	// before the check fails with CodeLineTooLong (default DefaultMaxLine).
	MaxLine int
	// MaxBytes is the most a check reads from one connection before it
	// fails with CodeTooMuchData (default DefaultMaxBytes).
	MaxBytes int64
	// Dialer opens the TCP connection; nil means a net.Dialer.
	Dialer ContextDialer
	// Mechanism forces an authentication method: "LOGIN" (the IMAP LOGIN
	// command, or SASL LOGIN on SMTP), "PLAIN", "XOAUTH2" or "OAUTHBEARER".
	// Empty means the best one the server offers for the credential.
	Mechanism string
}

func (o Options) withDefaults() Options {
	r := o
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&r.Timeouts.Dial, DefaultDialTimeout)
	def(&r.Timeouts.TLS, DefaultTLSTimeout)
	def(&r.Timeouts.Greeting, DefaultGreetingTimeout)
	def(&r.Timeouts.Command, DefaultCommandTimeout)
	def(&r.Timeouts.Auth, DefaultAuthTimeout)
	if r.MaxLine <= 0 {
		r.MaxLine = DefaultMaxLine
	}
	if r.MaxBytes <= 0 {
		r.MaxBytes = DefaultMaxBytes
	}
	if r.Dialer == nil {
		r.Dialer = &net.Dialer{}
	}
	return r
}

func (o Options) tlsConfig(ep account.Endpoint) *tls.Config {
	name := o.ServerName
	if name == "" {
		name = ep.Host
	}
	return &tls.Config{RootCAs: o.RootCAs, ServerName: name, MinVersion: tls.VersionTLS12}
}

var (
	errLineTooLong = errors.New("server line too long")
	errTooMuchData = errors.New("server sent too much data")
)

// countingReader fails once more than limit bytes were read through it.
type countingReader struct {
	r     io.Reader
	n     int64
	limit int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.n >= c.limit {
		return 0, errTooMuchData
	}
	if int64(len(p)) > c.limit-c.n {
		p = p[:c.limit-c.n]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// conn is a connection with bounded line reads and per-step deadlines.
type conn struct {
	tcp     net.Conn // deadlines are set here
	rw      net.Conn // tcp, or the TLS conn on top of it
	r       *bufio.Reader
	counter *countingReader
	opts    Options
	stop    func() bool // unregisters the context watcher
	tls     *tls.ConnectionState
}

// dialTCP opens the TCP connection and reports the "tcp" check.
func dialTCP(ctx context.Context, proto string, ep account.Endpoint, opts Options) (*conn, Result, error) {
	start := time.Now()
	dctx, cancel := context.WithTimeout(ctx, opts.Timeouts.Dial)
	defer cancel()
	raw, err := opts.Dialer.DialContext(dctx, "tcp", ep.Addr())
	res := Result{Name: CheckTCP, Duration: time.Since(start)}
	if err != nil {
		if ctx.Err() == nil && dctx.Err() != nil {
			err = fmt.Errorf("connect timed out after %v: %w", opts.Timeouts.Dial, err)
		}
		ev := transportEvidence(ctx, CheckTCP, err)
		res.Status = Fail
		res.Detail = detail(fmt.Sprintf("connect to %s: %s", ep.Addr(), describeCode(ev.Code, err)))
		res.Evidence = []cause.Evidence{ev}
		return nil, res, &ProtocolError{Protocol: proto, Check: CheckTCP, Msg: res.Detail, Evidence: res.Evidence, Err: err}
	}
	res.Status = OK
	res.Detail = detail("connected to " + raw.RemoteAddr().String())
	c := &conn{tcp: raw, rw: raw, opts: opts}
	c.counter = &countingReader{r: raw, limit: opts.MaxBytes}
	c.r = bufio.NewReaderSize(c.counter, 4096)
	// Cancelling the context unblocks any read or write at once.
	c.stop = context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	return c, res, nil
}

// Close closes the connection.
func (c *conn) Close() error {
	if c.stop != nil {
		c.stop()
	}
	return c.rw.Close()
}

// deadline sets the connection deadline d from now, or the context's, which
// ever is earlier.
func (c *conn) deadline(ctx context.Context, d time.Duration) {
	t := time.Now().Add(d)
	if dl, ok := ctx.Deadline(); ok && dl.Before(t) {
		t = dl
	}
	if ctx.Err() != nil {
		t = time.Unix(1, 0)
	}
	_ = c.tcp.SetDeadline(t)
}

// readLine reads one line without its CR LF, failing when it exceeds
// MaxLine bytes.
func (c *conn) readLine() (string, error) {
	return readLimitedLine(c.r, c.opts.MaxLine)
}

func readLimitedLine(r *bufio.Reader, max int) (string, error) {
	var buf []byte
	for {
		frag, err := r.ReadSlice('\n')
		if len(buf)+len(frag) > max {
			return "", errLineTooLong
		}
		buf = append(buf, frag...)
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) && len(buf) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return "", err
	}
	s := string(buf)
	s = strings.TrimSuffix(s, "\n")
	s = strings.TrimSuffix(s, "\r")
	return s, nil
}

// readFull reads exactly n bytes (an IMAP literal).
func (c *conn) readFull(n int) ([]byte, error) {
	b := make([]byte, n)
	_, err := io.ReadFull(c.r, b)
	return b, err
}

func (c *conn) write(s string) error {
	_, err := io.WriteString(c.rw, s)
	return err
}

// transportEvidence turns err into evidence for check. A wait cut short by
// the caller cancelling ctx is CodeCanceled, not a timeout.
func transportEvidence(ctx context.Context, check string, err error) cause.Evidence {
	code := TransportCode(err)
	if errors.Is(ctx.Err(), context.Canceled) {
		code = CodeCanceled
	}
	if code == "" {
		code = "error"
	}
	return cause.Evidence{Kind: cause.KindTransport, Code: code, Text: evidenceText(err.Error()), Check: check}
}

// describeCode is a short human phrase for a transport code.
func describeCode(code string, err error) string {
	switch code {
	case CodeTimeout:
		return "timed out"
	case CodeCanceled:
		return "canceled"
	case CodeRefused:
		return "connection refused"
	case CodeDNS:
		return "host not found: " + err.Error()
	case CodeUnreachable:
		return "network unreachable"
	case CodeReset:
		return "connection closed by the server"
	case CodeX509UnknownAuthority:
		return "certificate signed by an unknown authority"
	case CodeX509Hostname:
		return "certificate is not valid for this host name: " + err.Error()
	case CodeX509Expired:
		return "certificate expired or not yet valid: " + err.Error()
	case CodeTLSOnPlainPort:
		return "the port speaks plaintext, not TLS (use STARTTLS, or the implicit-TLS port)"
	case CodePlainOnTLSPort:
		return "no greeting; the port expects TLS from the first byte (use implicit TLS)"
	case CodeLineTooLong:
		return "server sent an over-long line"
	case CodeTooMuchData:
		return "server sent too much data"
	}
	if err != nil {
		return err.Error()
	}
	return code
}

// runSteps runs the connection's opening steps in order, appending each
// result; the first failure closes the connection and ends the run.
func runSteps(ctx context.Context, c *conn, results []Result, steps []func(context.Context) (Result, error)) ([]Result, error) {
	for _, step := range steps {
		res, err := step(ctx)
		results = append(results, res)
		if err != nil {
			c.Close()
			return results, err
		}
	}
	return results, nil
}

// failed is a failed check's Result and its *ProtocolError, with the
// message made safe for a terminal.
func failed(proto, check string, start time.Time, msg string, err error, ev ...cause.Evidence) (Result, error) {
	msg = detail(msg)
	res := Result{Name: check, Status: Fail, Duration: time.Since(start), Detail: msg, Evidence: ev}
	return res, &ProtocolError{Protocol: proto, Check: check, Msg: msg, Evidence: ev, Err: err}
}
