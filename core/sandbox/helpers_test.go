package sandbox

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

func start(t *testing.T, opts *Options) *Sandbox {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sb, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := sb.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return sb
}

func addUser(t *testing.T, sb *Sandbox, email string, f Flavour, s Scenario) {
	t.Helper()
	if err := sb.AddUser(UserSpec{Email: email, Password: "correct horse", Flavour: f, Scenario: s, Messages: 1}); err != nil {
		t.Fatalf("AddUser(%s): %v", email, err)
	}
}

// xoauth2 is a client-side XOAUTH2 mechanism that answers a failure
// challenge with an empty response, as Gmail documents.
type xoauth2 struct{ user, token string }

func (x xoauth2) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + x.user + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}
func (x xoauth2) Next([]byte) ([]byte, error) { return []byte{}, nil }

var _ sasl.Client = xoauth2{}

func imapDial(t *testing.T, sb *Sandbox, email string) *imapclient.Client {
	t.Helper()
	eps, err := sb.Endpoints(email)
	if err != nil {
		t.Fatal(err)
	}
	c, err := imapclient.DialTLS(eps.IMAP.Addr(), &imapclient.Options{TLSConfig: sb.ClientTLS("")})
	if err != nil {
		t.Fatalf("imap dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func smtpDial(t *testing.T, sb *Sandbox, email string) *smtp.Client {
	t.Helper()
	eps, err := sb.Endpoints(email)
	if err != nil {
		t.Fatal(err)
	}
	c, err := smtp.DialTLS(eps.SMTP.Addr(), sb.ClientTLS(""))
	if err != nil {
		t.Fatalf("smtp dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Hello("client.test"); err != nil {
		t.Fatalf("EHLO: %v", err)
	}
	return c
}

// rawTLS dials an endpoint and returns a line reader, for wire-level checks.
func rawTLS(t *testing.T, sb *Sandbox, addr string) (*tls.Conn, *bufio.Reader) {
	t.Helper()
	c, err := tls.Dial("tcp", addr, sb.ClientTLS(""))
	if err != nil {
		t.Fatalf("tls dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}

func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	l, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read line: %v (got %q)", err, l)
	}
	return strings.TrimRight(l, "\r\n")
}

type tokenReply struct {
	Status int
	Header http.Header
	Body   map[string]any
}

func (r tokenReply) str(k string) string { s, _ := r.Body[k].(string); return s }

func postForm(t *testing.T, sb *Sandbox, u string, form url.Values) tokenReply {
	t.Helper()
	resp, err := sb.HTTPClient().PostForm(u, form)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("POST %s: not JSON (%d): %s", u, resp.StatusCode, b)
	}
	return tokenReply{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

func clientForm(sb *Sandbox, f Flavour, kv ...string) url.Values {
	c := sb.Client(f)
	v := url.Values{"client_id": {c.ID}}
	if c.Secret != "" {
		v.Set("client_secret", c.Secret)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func refresh(t *testing.T, sb *Sandbox, f Flavour, rt string) tokenReply {
	t.Helper()
	return postForm(t, sb, sb.OAuth(f).TokenURL, clientForm(sb, f, "grant_type", "refresh_token", "refresh_token", rt))
}

func pkcePair() (verifier, challenge string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	verifier = base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorize runs /authorize with automatic approval and returns the
// redirect's query.
func authorize(t *testing.T, sb *Sandbox, f Flavour, email, redirect, challenge string) url.Values {
	t.Helper()
	q := url.Values{
		"client_id": {sb.Client(f).ID}, "redirect_uri": {redirect}, "response_type": {"code"},
		"scope": {strings.Join(mailScopes(f), " ")}, "state": {"st-123"}, "login_hint": {email},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}, autoApproveParam: {"1"},
	}
	resp, err := sb.HTTPClient().Get(sb.OAuth(f).AuthURL + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("authorize: status %d: %s", resp.StatusCode, b)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(loc.String(), redirect) {
		t.Fatalf("redirected to %s, want %s", loc, redirect)
	}
	return loc.Query()
}

func exchange(t *testing.T, sb *Sandbox, f Flavour, code, redirect, verifier string) tokenReply {
	t.Helper()
	return postForm(t, sb, sb.OAuth(f).TokenURL, clientForm(sb, f,
		"grant_type", "authorization_code", "code", code, "redirect_uri", redirect, "code_verifier", verifier))
}

func wantContains(t *testing.T, what, got, want string) {
	t.Helper()
	if !strings.Contains(got, want) {
		t.Errorf("%s = %q, want it to contain %q", what, got, want)
	}
}

func asSMTP(err error) *smtp.SMTPError {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se
	}
	return nil
}
