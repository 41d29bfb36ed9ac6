package probe

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mailmend/mailmend/core/account"
)

func TestParseIMAPResponse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want imapResponse
		err  bool
	}{
		{"m1 NO [AUTHENTICATIONFAILED] Authentication failed.", imapResponse{Tag: "m1", Status: "NO", Code: "AUTHENTICATIONFAILED", Text: "Authentication failed."}, false},
		{"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] Dovecot ready.", imapResponse{Tag: "*", Status: "OK", Code: "CAPABILITY", CodeArgs: "IMAP4rev1 AUTH=PLAIN", Text: "Dovecot ready."}, false},
		{"* BYE [UNAVAILABLE] Down", imapResponse{Tag: "*", Status: "BYE", Code: "UNAVAILABLE", Text: "Down"}, false},
		{"a ok [alert] lower case", imapResponse{Tag: "a", Status: "OK", Code: "ALERT", Text: "lower case"}, false},
		{"* 3 EXISTS", imapResponse{Tag: "*", Data: "3 EXISTS"}, false},
		{"+ eyJzdGF0dXMiOiI0MDEifQ==", imapResponse{Tag: "+", Text: "eyJzdGF0dXMiOiI0MDEifQ=="}, false},
		{"+", imapResponse{Tag: "+"}, false},
		{"* OK [unterminated code", imapResponse{Tag: "*", Status: "OK", Text: "[unterminated code"}, false},
		{"m2 NO", imapResponse{Tag: "m2", Status: "NO"}, false},
		{"m1 FOO bar", imapResponse{}, true},
		{"m1 BYE tagged bye", imapResponse{}, true},
		{"", imapResponse{}, true},
		{"nospace", imapResponse{}, true},
	} {
		got, err := parseIMAPResponse(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("%q: err %v", tc.in, err)
			continue
		}
		if !tc.err && got != tc.want {
			t.Errorf("%q:\n got %+v\nwant %+v", tc.in, got, tc.want)
		}
	}
}

func TestAstring(t *testing.T) {
	for _, tc := range []struct {
		in, quoted string
		literal    bool
	}{
		{"simple", `"simple"`, false},
		{`a"b\c`, `"a\"b\\c"`, false},
		{"with space", `"with space"`, false},
		{"", `""`, false},
		{"pässwörd", "", true},
		{"cr\rlf", "", true},
		{"nul\x00", "", true},
	} {
		p := astring(tc.in)
		if p.isL != tc.literal || (!tc.literal && p.text != tc.quoted) || (tc.literal && string(p.lit) != tc.in) {
			t.Errorf("astring(%q) = %+v", tc.in, p)
		}
	}
}

func TestLiteralSuffix(t *testing.T) {
	for in, want := range map[string]int{"* 1 FETCH (BODY {12}": 12, "x {0}": 0, "x {5+}": 5, "x {}": -1, "x {a}": -1, "x {99999999999}": -1, "x": -1, "x {-1}": -1} {
		n, ok := literalSuffix(in)
		if want < 0 && ok || want >= 0 && (!ok || n != want) {
			t.Errorf("literalSuffix(%q) = %d %v, want %d", in, n, ok, want)
		}
	}
}

func TestReadSMTPReply(t *testing.T) {
	r := bufio.NewReader(strings.NewReader("535-5.7.8 Username and Password not accepted. Learn more at\r\n535 5.7.8  https://support.google.com/mail/?p=BadCredentials x\r\n"))
	reply, err := readSMTPReply(func() (string, error) { return readLimitedLine(r, 1000) })
	if err != nil {
		t.Fatal(err)
	}
	if reply.CodeString() != "535 5.7.8" || len(reply.Lines) != 2 || !strings.HasPrefix(reply.Text(), "Username and Password not accepted.") || strings.Contains(reply.Text(), "5.7.8") {
		t.Errorf("reply %+v %q", reply, reply.Text())
	}
	for _, bad := range []string{"abc hello\r\n", "250-a\r\n251 b\r\n", "250x\r\n", "650 no\r\n", "25\r\n"} {
		r := bufio.NewReader(strings.NewReader(bad))
		if _, err := readSMTPReply(func() (string, error) { return readLimitedLine(r, 1000) }); !errors.Is(err, errMalformed) {
			t.Errorf("%q: err %v, want malformed", bad, err)
		}
	}
	// Endless continuation lines stop at maxReplyLines.
	r = bufio.NewReader(strings.NewReader(strings.Repeat("250-x\r\n", maxReplyLines+5)))
	if _, err := readSMTPReply(func() (string, error) { return readLimitedLine(r, 1000) }); !errors.Is(err, errTooMuchData) {
		t.Errorf("endless reply: %v", err)
	}
}

func TestSplitEnhanced(t *testing.T) {
	for _, tc := range []struct {
		code          int
		in, enh, rest string
	}{
		{535, "5.7.8 Bad", "5.7.8", "Bad"},
		{534, "5.7.9 Application-specific password required", "5.7.9", "Application-specific password required"},
		{550, "5.7.139 Basic auth blocked", "5.7.139", "Basic auth blocked"},
		{535, "4.7.8 wrong class", "", "4.7.8 wrong class"},
		{535, "5.7 short", "", "5.7 short"},
		{535, "5.7.1234 long", "", "5.7.1234 long"},
		{250, "mail.example.com", "", "mail.example.com"},
	} {
		enh, rest := splitEnhanced(tc.code, tc.in)
		if enh != tc.enh || rest != tc.rest {
			t.Errorf("splitEnhanced(%d, %q) = %q %q", tc.code, tc.in, enh, rest)
		}
	}
}

func TestParseEHLO(t *testing.T) {
	ext := parseEHLO(smtpReply{Code: 250, Lines: []string{"smtp.example.com at your service", "SIZE 35882577", "AUTH LOGIN PLAIN XOAUTH2", "AUTH=LOGIN", "STARTTLS", "8BITMIME"}})
	if ext["AUTH"] != "LOGIN PLAIN XOAUTH2 LOGIN" || ext["SIZE"] != "35882577" {
		t.Errorf("ext %v", ext)
	}
	if _, ok := ext["STARTTLS"]; !ok {
		t.Error("STARTTLS missing")
	}
	if _, ok := ext["SMTP.EXAMPLE.COM"]; ok {
		t.Error("server name taken as an extension")
	}
}

func TestChooseMech(t *testing.T) {
	all := map[string]bool{"PLAIN": true, "LOGIN": true, "XOAUTH2": true, "OAUTHBEARER": true}
	pw, tok := Credential{Password: "p"}, Credential{AccessToken: "t"}
	for _, tc := range []struct {
		offered map[string]bool
		cred    Credential
		forced  string
		login   bool
		want    string
	}{
		{all, pw, "", true, "PLAIN"},
		{all, tok, "", true, "XOAUTH2"},
		{map[string]bool{"OAUTHBEARER": true}, tok, "", false, "OAUTHBEARER"},
		{map[string]bool{}, pw, "", true, "LOGIN"},
		{map[string]bool{}, pw, "", false, ""},
		{map[string]bool{"PLAIN": true}, tok, "", true, ""},
		{all, pw, "login", false, "LOGIN"},
		{map[string]bool{"PLAIN": true}, pw, "LOGIN", false, ""},
		{map[string]bool{"PLAIN": true}, pw, "LOGIN", true, "LOGIN"},
		{all, tok, "oauthbearer", false, "OAUTHBEARER"},
	} {
		if got := chooseMech(tc.offered, tc.cred, tc.forced, tc.login); got != tc.want {
			t.Errorf("chooseMech(%v, %v, %q, %v) = %q, want %q", tc.offered, tc.cred, tc.forced, tc.login, got, tc.want)
		}
	}
}

func TestSASLInitial(t *testing.T) {
	ep := account.Endpoint{Host: "imap.example.com", Port: 993}
	if got := string(saslInitial(MechXOAuth2, "a@b", Credential{AccessToken: "T"}, ep)); got != "user=a@b\x01auth=Bearer T\x01\x01" {
		t.Errorf("xoauth2 %q", got)
	}
	if got := string(saslInitial(MechOAuthBearer, "a,=b", Credential{AccessToken: "T"}, ep)); got != "n,a=a=2C=3Db,\x01host=imap.example.com\x01port=993\x01auth=Bearer T\x01\x01" {
		t.Errorf("oauthbearer %q", got)
	}
	if got := string(saslInitial(MechPlain, "u", Credential{Password: "p"}, ep)); got != "\x00u\x00p" {
		t.Errorf("plain %q", got)
	}
}

func TestCredentialNeverPrints(t *testing.T) {
	c := Credential{Password: "hunter2", AccessToken: "ya29.secret"}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c)} {
		if strings.Contains(s, "hunter2") || strings.Contains(s, "ya29") {
			t.Errorf("credential printed: %q", s)
		}
	}
}

func TestStatusText(t *testing.T) {
	for _, s := range []Status{OK, Warn, Fail, Skip} {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back Status
		if err := json.Unmarshal(b, &back); err != nil || back != s {
			t.Errorf("%v -> %s -> %v %v", s, b, back, err)
		}
	}
	if string(mustJSON(t, Result{Name: CheckTLS, Status: Warn})) == "" {
		t.Error("empty")
	}
	if Status(9).String() != "Status(9)" {
		t.Error(Status(9).String())
	}
	if _, err := json.Marshal(Status(9)); err == nil {
		t.Error("invalid status marshalled")
	}
	var s Status
	if err := s.UnmarshalText([]byte("bogus")); err == nil {
		t.Error("bogus status accepted")
	}
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTransportCode(t *testing.T) {
	leafHost := x509.HostnameError{Certificate: &x509.Certificate{}, Host: "x"}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, CodeRefused},
		{&net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}, CodeDNS},
		{&net.DNSError{Err: "timeout", Name: "x", IsTimeout: true}, CodeTimeout},
		{&tls.CertificateVerificationError{Err: leafHost}, CodeX509Hostname},
		{&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, CodeX509UnknownAuthority},
		{x509.CertificateInvalidError{Reason: x509.Expired}, CodeX509Expired},
		{x509.CertificateInvalidError{Reason: x509.NotAuthorizedToSign}, CodeX509Invalid},
		{tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake", RecordHeader: [5]byte{'*', ' ', 'O', 'K', ' '}}, CodeTLSOnPlainPort},
		{tls.RecordHeaderError{RecordHeader: [5]byte{'2', '2', '0', ' ', 'm'}}, CodeTLSOnPlainPort},
		{tls.RecordHeaderError{RecordHeader: [5]byte{'H', 'T', 'T', 'P', '/'}}, CodeTLSHandshake},
		{fmt.Errorf("read: %w", io.EOF), CodeReset},
		{syscall.ECONNRESET, CodeReset},
		{errLineTooLong, CodeLineTooLong},
		{fmt.Errorf("x: %w", errTooMuchData), CodeTooMuchData},
		{&net.OpError{Op: "read", Err: timeoutErr{}}, CodeTimeout},
		{errors.New("something else"), ""},
		{nil, ""},
	} {
		if got := TransportCode(tc.err); got != tc.want {
			t.Errorf("TransportCode(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestTLSSummaryWarnsBeforeExpiry(t *testing.T) {
	now := time.Now()
	leaf := &x509.Certificate{NotAfter: now.Add(3 * 24 * time.Hour)}
	leaf.Subject.CommonName = "mail.example.com"
	st, d := tlsSummary(tls.ConnectionState{Version: tls.VersionTLS12, PeerCertificates: []*x509.Certificate{leaf}}, "mail.example.com", now)
	if st != Warn || !strings.Contains(d, "TLS 1.2") || !strings.Contains(d, "(in 2 days)") && !strings.Contains(d, "(in 3 days)") {
		t.Errorf("%v %q", st, d)
	}
	leaf.NotAfter = now.Add(60 * 24 * time.Hour)
	if st, _ := tlsSummary(tls.ConnectionState{Version: tls.VersionTLS13, PeerCertificates: []*x509.Certificate{leaf}}, "x", now); st != OK {
		t.Errorf("60 days left: %v", st)
	}
}

func TestDetailIsOneSafeLine(t *testing.T) {
	d := detail("a\r\nb\x1b[31mc\x07" + strings.Repeat("x", 1000))
	if strings.ContainsAny(d, "\r\n\x1b\x07") || utf8.RuneCountInString(d) > MaxDetail {
		t.Errorf("detail %q", d)
	}
}

// FuzzParseIMAPResponse: any line parses or fails cleanly, and what it
// yields stays consistent with the input.
func FuzzParseIMAPResponse(f *testing.F) {
	for _, s := range []string{
		"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] Dovecot ready.",
		"m1 NO [AUTHENTICATIONFAILED] Authentication failed.",
		"* BYE [UNAVAILABLE] x", "+ eyJzdGF0dXMiOiI0MDEifQ==", "* 3 EXISTS", "a OK [", "* OK []", "+",
		"m3 NO [ALERT] \x1b]0;t\x07 web login required",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r, err := parseIMAPResponse(line)
		if err != nil {
			return
		}
		if r.Tag == "" || strings.ContainsRune(r.Code, ' ') || strings.ContainsRune(r.Tag, ' ') {
			t.Fatalf("%q -> %+v", line, r)
		}
		if !strings.Contains(line, r.Text) || !strings.Contains(line, r.Data) {
			t.Fatalf("%q -> text not from the line: %+v", line, r)
		}
		ev := r.evidence(CheckIMAPAuth)
		if len(ev.Text) > maxEvidenceText {
			t.Fatal("evidence text unbounded")
		}
		if d := detail(r.summary()); strings.ContainsAny(d, "\x1b\x07\r\n") {
			t.Fatalf("detail %q", d)
		}
	})
}

// FuzzReadIMAPResponse feeds arbitrary server bytes through the line and
// literal reader: it must never read past its limits or hang.
func FuzzReadIMAPResponse(f *testing.F) {
	for _, s := range []string{
		"* OK hi\r\n", "* 1 FETCH (BODY {5}\r\nhello)\r\n", "* x {3}\r\nab", "* x {999999999}\r\n",
		"* x {2}\r\nab {2}\r\ncd\r\n", "\n", strings.Repeat("a", 300) + "\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const maxLine = 256
		ic := &IMAPConn{c: &conn{opts: Options{MaxLine: maxLine, MaxBytes: 1 << 20}}}
		ic.c.counter = &countingReader{r: strings.NewReader(string(data)), limit: 1 << 20}
		ic.c.r = bufio.NewReaderSize(ic.c.counter, 4096)
		for i := 0; i < 100; i++ {
			line, err := ic.readResponse()
			if err != nil {
				return
			}
			if len(line) > maxLine+2*4 {
				t.Fatalf("line of %d bytes passed a %d limit", len(line), maxLine)
			}
			_, _ = parseIMAPResponse(line)
		}
	})
}

// FuzzReadSMTPReply: arbitrary bytes give a reply with a valid code or an
// error, never a panic, and the enhanced code has the reply's class.
func FuzzReadSMTPReply(f *testing.F) {
	for _, s := range []string{
		"220 mx.example.com ESMTP\r\n", "535-5.7.8 a\r\n535 5.7.8 b\r\n", "250-x\r\n250 y\r\n", "334 eyJzdGF0dXMiOiI0MDAifQ==\r\n",
		"250-x\r\n251 y\r\n", "5", "554 5.7.1\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(strings.NewReader(string(data)))
		reply, err := readSMTPReply(func() (string, error) { return readLimitedLine(r, 512) })
		if err != nil {
			return
		}
		if reply.Code < 200 || reply.Code > 599 {
			t.Fatalf("code %d", reply.Code)
		}
		if reply.Enhanced != "" && int(reply.Enhanced[0]-'0') != reply.Code/100 {
			t.Fatalf("enhanced %q for %d", reply.Enhanced, reply.Code)
		}
		_ = parseEHLO(reply)
		if d := detail(reply.summary()); strings.ContainsAny(d, "\x1b\r\n") {
			t.Fatalf("detail %q", d)
		}
	})
}

// FuzzDecodeChallenge: any challenge decodes or yields "", never panics.
func FuzzDecodeChallenge(f *testing.F) {
	f.Add("eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIn0=")
	f.Add("=")
	f.Add("not base64!")
	f.Fuzz(func(t *testing.T, s string) {
		_ = decodeChallenge(s)
	})
}

// FuzzCapabilities: capability lists and literal suffixes never panic and
// names come back upper case.
func FuzzCapabilities(f *testing.F) {
	f.Add("IMAP4rev1 auth=plain SASL-IR {12}")
	f.Fuzz(func(t *testing.T, s string) {
		for c := range parseCaps(s) {
			if c != strings.ToUpper(c) || c == "" {
				t.Fatalf("cap %q", c)
			}
		}
		_, _ = literalSuffix(s)
	})
}
