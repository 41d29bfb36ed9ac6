package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/cause"
	"github.com/mailmend/mailmend/core/internal/testpki"
	"github.com/mailmend/mailmend/core/internal/testserver"
)

// scriptServer is a tiny TCP server on loopback that runs handle for every
// connection, optionally behind TLS.
func scriptServer(t *testing.T, cfg *tls.Config, handle func(c net.Conn)) account.Endpoint {
	t.Helper()
	sec := account.StartTLS
	if cfg != nil {
		sec = account.TLS
	}
	return liveEP(t, testserver.Serve(t, cfg, nil, handle), sec)
}

var (
	pkiOnce sync.Once
	pkiSet  *testpki.Set
	pkiErr  error
)

// testPKI is one CA for the package's fake TLS servers.
func testPKI(t *testing.T) *testpki.Set {
	t.Helper()
	pkiOnce.Do(func() {
		// Removed by the OS's temp cleaning; only public test keys inside.
		var dir string
		dir, pkiErr = os.MkdirTemp("", "mmprobe-pki-")
		if pkiErr == nil {
			pkiSet, pkiErr = testpki.New(dir)
		}
	})
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return pkiSet
}

func serverTLS(t *testing.T, leaf *testpki.Leaf) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{leaf.TLS}}
}

func fakeOpts(t *testing.T) Options {
	return Options{
		RootCAs:  testPKI(t).Pool,
		Timeouts: Timeouts{Dial: 2 * time.Second, TLS: 2 * time.Second, Greeting: 2 * time.Second, Command: 2 * time.Second, Auth: 2 * time.Second},
	}
}

// imapScript answers commands by verb: replies maps "LOGIN" etc. to the
// lines sent back (TAG is replaced by the command's tag).
func imapScript(greeting string, replies map[string][]string) func(net.Conn) {
	return func(c net.Conn) {
		fmt.Fprint(c, greeting+"\r\n")
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			tag, rest, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
			verb, _, _ := strings.Cut(rest, " ")
			out, ok := replies[strings.ToUpper(verb)]
			if !ok {
				out = []string{"TAG BAD unknown"}
			}
			for _, l := range out {
				fmt.Fprint(c, strings.ReplaceAll(l, "TAG", tag)+"\r\n")
			}
			if strings.EqualFold(verb, "LOGOUT") {
				return
			}
		}
	}
}

func hasNoEscapes(t *testing.T, what, s string) {
	t.Helper()
	if strings.ContainsAny(s, "\x1b\x07\u009b\r\n") {
		t.Errorf("%s contains control characters: %q", what, s)
	}
}

func TestHostileEscapesSanitized(t *testing.T) {
	t.Parallel()
	pki := testPKI(t)
	evil := "\x1b[2J\x1b]0;owned\x07\x1b]52;c;Y2xpcA==\x07\u009b31m"
	ep := scriptServer(t, serverTLS(t, pki.Server), imapScript(
		"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] Hello "+evil+"world",
		map[string][]string{
			"CAPABILITY":   {"* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR", "TAG OK done"},
			"AUTHENTICATE": {"* OK [ALERT] Please log in " + evil + "via the web", "TAG NO [AUTHENTICATIONFAILED] Nope " + evil + "really"},
		}))
	rs, err := IMAPLogin(context.Background(), ep, "u", Credential{Password: "p"}, fakeOpts(t))
	var ae *AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %T %v", err, err)
	}
	hasNoEscapes(t, "error", err.Error())
	if !strings.Contains(err.Error(), "[AUTHENTICATIONFAILED] Nope") || !strings.Contains(err.Error(), "[ALERT] Please log in") {
		t.Errorf("error lost the server text: %q", err.Error())
	}
	for _, r := range rs {
		hasNoEscapes(t, r.Name+" detail", r.Detail)
	}
	if g := findResult(rs, CheckIMAPGreeting).Detail; !strings.Contains(g, "Hello") || !strings.Contains(g, "world") {
		t.Errorf("greeting detail %q", g)
	}
	// Evidence keeps the raw text for classification, callers sanitize.
	if ev, ok := findEvidence(ae.Evidence, "ALERT"); !ok || !strings.Contains(ev.Text, "via the web") {
		t.Errorf("alert evidence %+v", ae.Evidence)
	}

	smtp := scriptServer(t, serverTLS(t, pki.Server), func(c net.Conn) {
		fmt.Fprint(c, "554-"+evil+"\r\n554 5.7.1 go away "+evil+"\r\n")
	})
	_, err = SMTPLogin(context.Background(), smtp, "u", Credential{Password: "p"}, fakeOpts(t))
	if err == nil {
		t.Fatal("554 greeting accepted")
	}
	hasNoEscapes(t, "smtp error", err.Error())
	if ev, ok := findEvidence(EvidenceOf(err), "554 5.7.1"); !ok || !strings.Contains(ev.Text, "go away") {
		t.Errorf("smtp evidence %+v", EvidenceOf(err))
	}
}

func TestHostileEndlessLine(t *testing.T) {
	t.Parallel()
	pki := testPKI(t)
	endless := func(c net.Conn) {
		chunk := []byte(strings.Repeat("A", 32<<10))
		_, _ = c.Write([]byte("* OK "))
		for {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	}
	for _, tc := range []struct {
		name string
		cfg  *tls.Config
		run  func(account.Endpoint, Options) ([]Result, error)
	}{
		{"imap/tls", serverTLS(t, pki.Server), func(e account.Endpoint, o Options) ([]Result, error) {
			return IMAPLogin(context.Background(), e, "u", Credential{Password: "p"}, o)
		}},
		{"imap/plain", nil, func(e account.Endpoint, o Options) ([]Result, error) {
			return IMAPLogin(context.Background(), e, "u", Credential{Password: "p"}, o)
		}},
		{"smtp/tls", serverTLS(t, pki.Server), func(e account.Endpoint, o Options) ([]Result, error) {
			return SMTPLogin(context.Background(), e, "u", Credential{Password: "p"}, o)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ep := scriptServer(t, tc.cfg, endless)
			o := fakeOpts(t)
			o.MaxLine = 100 << 10
			start := time.Now()
			_, err := tc.run(ep, o)
			if _, ok := findEvidence(EvidenceOf(err), CodeLineTooLong); !ok {
				t.Fatalf("err %v, evidence %+v", err, EvidenceOf(err))
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("cut off after %v", d)
			}
		})
	}

	// Many short lines instead of one long one: the byte budget stops it.
	flood := scriptServer(t, serverTLS(t, pki.Server), func(c net.Conn) {
		_, _ = c.Write([]byte("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n"))
		line := []byte("* OK still here\r\n")
		buf := []byte(strings.Repeat(string(line), 1000))
		for {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	})
	o := fakeOpts(t)
	o.MaxBytes = 256 << 10
	o.Timeouts.Auth = 10 * time.Second
	start := time.Now()
	_, err := IMAPLogin(context.Background(), flood, "u", Credential{Password: "p"}, o)
	if _, ok := findEvidence(EvidenceOf(err), CodeTooMuchData); !ok {
		t.Fatalf("flood: err %v, evidence %+v", err, EvidenceOf(err))
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("flood cut off after %v", d)
	}
}

func TestHostileSilentServer(t *testing.T) {
	t.Parallel()
	silent := func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }
	for _, sec := range []account.Security{account.TLS, account.StartTLS} {
		t.Run(string(sec), func(t *testing.T) {
			t.Parallel()
			ep := scriptServer(t, nil, silent)
			ep.Security = sec
			o := fakeOpts(t)
			o.Timeouts.TLS = 300 * time.Millisecond
			o.Timeouts.Greeting = 300 * time.Millisecond
			start := time.Now()
			_, err := IMAPLogin(context.Background(), ep, "u", Credential{Password: "p"}, o)
			d := time.Since(start)
			ev, ok := findEvidence(EvidenceOf(err), CodeTimeout)
			if !ok || ev.Kind != cause.KindTransport {
				t.Fatalf("err %v, evidence %+v", err, EvidenceOf(err))
			}
			// Greeting timeout, plus the TLS check on a second connection.
			if d < 250*time.Millisecond || d > 4*time.Second {
				t.Errorf("gave up after %v", d)
			}
		})
	}
	t.Run("cancel", func(t *testing.T) {
		t.Parallel()
		ep := scriptServer(t, nil, silent)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(150*time.Millisecond, cancel)
		start := time.Now()
		_, err := IMAPLogin(ctx, ep, "u", Credential{Password: "p"}, Options{})
		if _, ok := findEvidence(EvidenceOf(err), CodeCanceled); !ok {
			t.Errorf("err %v evidence %+v", err, EvidenceOf(err))
		}
		if d := time.Since(start); d > 4*time.Second {
			t.Errorf("cancel ignored: %v", d)
		}
	})
	t.Run("context", func(t *testing.T) {
		t.Parallel()
		ep := scriptServer(t, nil, silent)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := SMTPLogin(ctx, ep, "u", Credential{Password: "p"}, Options{}) // default 10 s timeouts
		if err == nil {
			t.Fatal("silent server passed")
		}
		if d := time.Since(start); d > 4*time.Second {
			t.Errorf("context deadline ignored: %v", d)
		}
	})
}

func TestNoSTARTTLSNoPlaintextLogin(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []string
	ep := scriptServer(t, nil, func(c net.Conn) {
		fmt.Fprint(c, "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] plaintext only\r\n")
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			mu.Lock()
			got = append(got, line)
			mu.Unlock()
			tag, _, _ := strings.Cut(line, " ")
			fmt.Fprint(c, tag+" OK fine\r\n")
		}
	})
	rs, err := IMAPLogin(context.Background(), ep, "u", Credential{Password: "secret-pw"}, fakeOpts(t))
	if _, ok := findEvidence(EvidenceOf(err), CodeNoSTARTTLS); !ok {
		t.Fatalf("err %v evidence %+v", err, EvidenceOf(err))
	}
	if r := findResult(rs, CheckTLS); r.Status != Fail {
		t.Errorf("tls result %+v", r)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 0 {
		t.Errorf("client sent %q to a server without STARTTLS", got)
	}
}

func TestLoginDisabledAfterTLS(t *testing.T) {
	t.Parallel()
	pki := testPKI(t)
	ep := scriptServer(t, serverTLS(t, pki.Server), imapScript("* OK ready", map[string][]string{
		"CAPABILITY": {"* CAPABILITY IMAP4rev1 LOGINDISABLED AUTH=XOAUTH2", "TAG OK done"},
	}))
	rs, err := IMAPLogin(context.Background(), ep, "u", Credential{Password: "p"}, fakeOpts(t))
	if r := findResult(rs, CheckIMAPCapability); r.Status != Warn {
		t.Errorf("capability %+v", r)
	}
	var pe *ProtocolError
	if !errors.As(err, &pe) || pe.Check != CheckIMAPAuth {
		t.Fatalf("err %T %v", err, err)
	}
	if _, ok := findEvidence(pe.Evidence, CodeLoginDisabled); !ok {
		t.Errorf("evidence %+v", pe.Evidence)
	}
}

// TestSynchronizingLiteral drives LOGIN against a server without LITERAL+:
// the client must wait for "+" before sending a literal.
func TestSynchronizingLiteral(t *testing.T) {
	t.Parallel()
	pki := testPKI(t)
	var mu sync.Mutex
	var user, pass string
	ep := scriptServer(t, serverTLS(t, pki.Server), func(c net.Conn) {
		fmt.Fprint(c, "* OK [CAPABILITY IMAP4rev1] hi\r\n")
		r := bufio.NewReader(c)
		line, _ := r.ReadString('\n')
		tag, rest, _ := strings.Cut(line, " ")
		// LOGIN "u" {N}
		var n int
		if _, err := fmt.Sscanf(rest[strings.LastIndexByte(rest, '{'):], "{%d}", &n); err != nil {
			fmt.Fprint(c, tag+" BAD no literal\r\n")
			return
		}
		if r.Buffered() > 0 {
			fmt.Fprint(c, tag+" BAD literal sent before continuation\r\n")
			return
		}
		fmt.Fprint(c, "+ go ahead\r\n")
		buf := make([]byte, n)
		_, _ = io.ReadFull(r, buf)
		tail, _ := r.ReadString('\n')
		mu.Lock()
		user, pass = strings.TrimSpace(rest[len("LOGIN "):strings.LastIndexByte(rest, '{')]), string(buf)
		mu.Unlock()
		if tail != "\r\n" {
			fmt.Fprint(c, tag+" BAD trailing "+tail)
			return
		}
		fmt.Fprint(c, tag+" OK logged in\r\n")
	})
	o := fakeOpts(t)
	o.Mechanism = MechLogin
	_, ic := dialForTest(t, ep, o)
	if _, err := ic.Login(context.Background(), `we"ird\user`, Credential{Password: "pä\"ss"}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if user != `"we\"ird\\user"` || pass != "pä\"ss" {
		t.Errorf("server got user %q pass %q", user, pass)
	}
}

func dialForTest(t *testing.T, ep account.Endpoint, o Options) ([]Result, *IMAPConn) {
	t.Helper()
	ic, rs, err := DialIMAP(context.Background(), ep, o)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { ic.Close() })
	return rs, ic
}

func TestExpiredCertificate(t *testing.T) {
	t.Parallel()
	pki := testPKI(t)
	ep := scriptServer(t, serverTLS(t, pki.Expired), imapScript("* OK hi", nil))
	_, err := IMAPLogin(context.Background(), ep, "u", Credential{Password: "p"}, fakeOpts(t))
	if _, ok := findEvidence(EvidenceOf(err), CodeX509Expired); !ok {
		t.Fatalf("err %v evidence %+v", err, EvidenceOf(err))
	}
	// The system roots do not know the test CA.
	o := fakeOpts(t)
	o.RootCAs = nil
	ep2 := scriptServer(t, serverTLS(t, pki.Server), imapScript("* OK hi", nil))
	_, err = IMAPLogin(context.Background(), ep2, "u", Credential{Password: "p"}, o)
	if _, ok := findEvidence(EvidenceOf(err), CodeX509UnknownAuthority); !ok {
		t.Fatalf("system roots: err %v evidence %+v", err, EvidenceOf(err))
	}
}

func TestGreetingBye(t *testing.T) {
	t.Parallel()
	ep := scriptServer(t, nil, func(c net.Conn) {
		fmt.Fprint(c, "* BYE [UNAVAILABLE] Too many connections\r\n")
	})
	rs, err := IMAPLogin(context.Background(), ep, "u", Credential{Password: "p"}, fakeOpts(t))
	var pe *ProtocolError
	if !errors.As(err, &pe) || pe.Check != CheckIMAPGreeting {
		t.Fatalf("err %T %v", err, err)
	}
	if ev, ok := findEvidence(pe.Evidence, "UNAVAILABLE"); !ok || ev.Text != "Too many connections" {
		t.Errorf("evidence %+v", pe.Evidence)
	}
	if resultNames(rs) != "tcp=ok imap.greeting=fail tls=skip imap.capability=skip imap.auth=skip imap.select=skip" {
		t.Errorf("results %s", resultNames(rs))
	}
}

// TestXOAUTH2WithoutSASLIR follows the Gmail-style exchange on a server
// without SASL-IR: empty continuation, initial response, error challenge,
// empty answer, tagged NO.
func TestXOAUTH2WithoutSASLIR(t *testing.T) {
	t.Parallel()
	pki := testPKI(t)
	var mu sync.Mutex
	var lines []string
	ep := scriptServer(t, serverTLS(t, pki.Server), func(c net.Conn) {
		fmt.Fprint(c, "* OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2] Gimap ready\r\n")
		r := bufio.NewReader(c)
		read := func() string {
			l, _ := r.ReadString('\n')
			mu.Lock()
			lines = append(lines, l)
			mu.Unlock()
			return l
		}
		tag, _, _ := strings.Cut(read(), " ")
		fmt.Fprint(c, "+ \r\n")
		read() // initial response
		fmt.Fprint(c, "+ eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==\r\n")
		if l := read(); l != "\r\n" {
			fmt.Fprint(c, tag+" BAD expected an empty line\r\n")
			return
		}
		fmt.Fprint(c, tag+" NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)\r\n")
	})
	_, ic := dialForTest(t, ep, fakeOpts(t))
	_, err := ic.Login(context.Background(), "me@gmail.com", Credential{AccessToken: "ya29.expired"})
	var ae *AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("err %T %v", err, err)
	}
	if ev, ok := findEvidence(ae.Evidence, CodeSASLChallenge); !ok || !strings.Contains(ev.Text, `"status":"400"`) {
		t.Errorf("evidence %+v", ae.Evidence)
	}
	if !strings.Contains(err.Error(), "[AUTHENTICATIONFAILED] Invalid credentials (Failure)") {
		t.Errorf("error %q", err.Error())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(lines) != 3 || !strings.HasSuffix(lines[0], "AUTHENTICATE XOAUTH2\r\n") {
		t.Errorf("client sent %q", lines)
	}
	if len(lines) >= 2 && decodeChallenge(strings.TrimSpace(lines[1])) != "user=me@gmail.com\x01auth=Bearer ya29.expired\x01\x01" {
		t.Errorf("initial response %q", lines[1])
	}
}
