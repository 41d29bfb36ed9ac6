package dovecottest

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailmend/mailmend/core/internal/testpki"
)

// session is a minimal IMAP line client, enough to check the harness
// without depending on the probe package it serves.
type session struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
	n    int
}

func dialIMAP(t *testing.T, addr string, cfg *tls.Config) *session {
	t.Helper()
	var conn net.Conn
	var err error
	d := &net.Dialer{Timeout: 5 * time.Second}
	if cfg != nil {
		conn, err = tls.DialWithDialer(d, "tcp", addr, cfg)
	} else {
		conn, err = d.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	s := &session{t: t, conn: conn, r: bufio.NewReader(conn)}
	if g := s.line(); !strings.HasPrefix(g, "* OK") {
		t.Fatalf("greeting: %q", g)
	}
	return s
}

func (s *session) line() string {
	s.t.Helper()
	l, err := s.r.ReadString('\n')
	if err != nil {
		s.t.Fatalf("read: %v (got %q)", err, l)
	}
	return strings.TrimRight(l, "\r\n")
}

// cmd sends a command and returns the untagged lines and the tagged line.
func (s *session) cmd(format string, args ...any) ([]string, string) {
	s.t.Helper()
	s.n++
	tag := fmt.Sprintf("t%d", s.n)
	fmt.Fprintf(s.conn, tag+" "+format+"\r\n", args...)
	var untagged []string
	for {
		l := s.line()
		if strings.HasPrefix(l, tag+" ") {
			return untagged, strings.TrimPrefix(l, tag+" ")
		}
		untagged = append(untagged, l)
	}
}

func clientTLS(s *Server) *tls.Config {
	return &tls.Config{RootCAs: s.CAPool(), ServerName: "127.0.0.2"}
}

func TestServerPasswordLogins(t *testing.T) {
	t.Parallel()
	srv := Start(t, Options{Users: map[string]string{"alice@mailmend.test": `pa ss"\w`}})
	t.Logf("dovecot started in %v", srv.StartDuration)

	// Implicit TLS: LOGIN works with the right password only.
	s := dialIMAP(t, srv.IMAPS, clientTLS(srv))
	if _, tagged := s.cmd(`LOGIN alice@mailmend.test "wrong"`); !strings.HasPrefix(tagged, "NO [AUTHENTICATIONFAILED]") {
		t.Errorf("wrong password: %q", tagged)
	}
	if _, tagged := s.cmd(`LOGIN alice@mailmend.test "pa ss\"\\w"`); !strings.HasPrefix(tagged, "OK") {
		t.Fatalf("right password: %q\n%s", tagged, srv.LogTail(10))
	}
	if _, tagged := s.cmd("SELECT INBOX"); !strings.HasPrefix(tagged, "OK") {
		t.Errorf("select: %q\n%s", tagged, srv.LogTail(10))
	}

	// The STARTTLS listener behaves like a remote server: no plaintext login.
	p := dialIMAP(t, srv.IMAP, nil)
	untagged, _ := p.cmd("CAPABILITY")
	caps := strings.Join(untagged, " ")
	if !strings.Contains(caps, "LOGINDISABLED") || !strings.Contains(caps, "STARTTLS") {
		t.Errorf("plaintext capabilities lack LOGINDISABLED/STARTTLS: %q", caps)
	}

	// Password change: the new password works at once, the old one fails.
	if err := srv.SetPassword("alice@mailmend.test", "second"); err != nil {
		t.Fatal(err)
	}
	s2 := dialIMAP(t, srv.IMAPS, clientTLS(srv))
	if _, tagged := s2.cmd(`LOGIN alice@mailmend.test "pa ss\"\\w"`); !strings.HasPrefix(tagged, "NO") {
		t.Errorf("old password after SetPassword: %q", tagged)
	}
	if _, tagged := s2.cmd(`LOGIN alice@mailmend.test second`); !strings.HasPrefix(tagged, "OK") {
		t.Errorf("new password after SetPassword: %q\n%s", tagged, srv.LogTail(10))
	}

	// The clear-text password is never written to the server's directory.
	data, err := os.ReadFile(srv.passwd)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "second") || !strings.Contains(string(data), "{SSHA256}") {
		t.Errorf("passwd-file holds %q", data)
	}
}

func TestSubmissionListeners(t *testing.T) {
	t.Parallel()
	srv := Start(t, Options{Users: map[string]string{"bob": "pw"}})
	for _, tc := range []struct {
		addr string
		tls  bool
		want string // in EHLO
		not  string
	}{
		{srv.Submissions, true, "AUTH PLAIN", ""},
		{srv.Submission, false, "STARTTLS", "AUTH PLAIN"},
	} {
		var conn net.Conn
		var err error
		if tc.tls {
			conn, err = tls.Dial("tcp", tc.addr, clientTLS(srv))
		} else {
			conn, err = net.Dial("tcp", tc.addr)
		}
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		r := bufio.NewReader(conn)
		g, _ := r.ReadString('\n')
		if !strings.HasPrefix(g, "220 ") {
			t.Fatalf("%s greeting %q", tc.addr, g)
		}
		fmt.Fprintf(conn, "EHLO probe.test\r\n")
		var ehlo strings.Builder
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			ehlo.WriteString(l)
			if len(l) >= 4 && l[3] == ' ' {
				break
			}
		}
		if !strings.Contains(ehlo.String(), tc.want) || (tc.not != "" && strings.Contains(ehlo.String(), tc.not)) {
			t.Errorf("%s EHLO: %q", tc.addr, ehlo.String())
		}
		if tc.tls {
			ir := base64.StdEncoding.EncodeToString([]byte("\x00bob\x00pw"))
			fmt.Fprintf(conn, "AUTH PLAIN %s\r\n", ir)
			if l, _ := r.ReadString('\n'); !strings.HasPrefix(l, "235") {
				t.Errorf("AUTH PLAIN: %q\n%s", l, srv.LogTail(10))
			}
		}
		conn.Close()
	}
}

func TestStopRefuses(t *testing.T) {
	t.Parallel()
	srv := Start(t, Options{})
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	for _, addr := range []string{srv.IMAPS, srv.IMAP, srv.Submissions, srv.Submission} {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts after Stop", addr)
		}
	}
}

func TestOAuth2Introspection(t *testing.T) {
	t.Parallel()
	for _, variant := range []string{"post", "get", "https"} {
		t.Run(variant, func(t *testing.T) {
			t.Parallel()
			mode := variant
			var pki *testpki.Set
			if variant == "https" {
				// Dovecot must verify the endpoint against the harness CA.
				mode = "post"
				var err error
				if pki, err = testpki.New(t.TempDir()); err != nil {
					t.Fatal(err)
				}
			}
			var mu sync.Mutex
			var methods []string
			intro := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_ = r.ParseForm()
				tok := r.PostForm.Get("token")
				if mode == "get" {
					tok = r.URL.Query().Get("access_token")
				}
				mu.Lock()
				methods = append(methods, r.Method)
				mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				if tok == "good-token" {
					_ = json.NewEncoder(w).Encode(map[string]any{"active": true, "username": "carol@mailmend.test"})
					return
				}
				_ = json.NewEncoder(w).Encode(map[string]any{"active": false})
			}))
			if pki != nil {
				intro.TLS = &tls.Config{Certificates: []tls.Certificate{pki.Server.TLS}}
				intro.StartTLS()
			} else {
				intro.Start()
			}
			defer intro.Close()
			url := intro.URL + "/introspect"
			if mode == "get" {
				url += "?access_token="
			}
			srv := Start(t, Options{OAuth2IntrospectionURL: url, OAuth2IntrospectionMode: mode, PKI: pki})

			xoauth := func(tok string) string {
				return base64.StdEncoding.EncodeToString([]byte("user=carol@mailmend.test\x01auth=Bearer " + tok + "\x01\x01"))
			}
			s := dialIMAP(t, srv.IMAPS, clientTLS(srv))
			// Bad token: Dovecot answers with a base64 JSON challenge that must
			// be acknowledged with an empty line before the tagged NO.
			fmt.Fprintf(s.conn, "x1 AUTHENTICATE XOAUTH2 %s\r\n", xoauth("bad-token"))
			ch := s.line()
			if !strings.HasPrefix(ch, "+ ") {
				t.Fatalf("bad token: want a challenge, got %q\n%s", ch, srv.LogTail(10))
			}
			js, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(ch, "+ "))
			if err != nil || !strings.Contains(string(js), `"status"`) {
				t.Errorf("challenge %q does not decode to JSON: %v", js, err)
			}
			fmt.Fprintf(s.conn, "\r\n")
			if l := s.line(); !strings.HasPrefix(l, "x1 NO") {
				t.Errorf("bad token: %q", l)
			}
			fmt.Fprintf(s.conn, "x2 AUTHENTICATE XOAUTH2 %s\r\n", xoauth("good-token"))
			for {
				l := s.line()
				if strings.HasPrefix(l, "x2 ") {
					if !strings.HasPrefix(l, "x2 OK") {
						t.Errorf("good token: %q\n%s", l, srv.LogTail(10))
					}
					break
				}
			}
			want := http.MethodPost
			if mode == "get" {
				want = http.MethodGet
			}
			mu.Lock()
			defer mu.Unlock()
			if len(methods) != 2 || methods[0] != want || methods[1] != want {
				t.Errorf("introspection requests: %v, want 2x %s", methods, want)
			}
		})
	}
}

func TestSharedStartsOnce(t *testing.T) {
	t.Parallel()
	var sh Shared
	a := sh.Get(t)
	b := sh.Get(t)
	if a != b {
		t.Error("Shared.Get started two servers")
	}
	if err := sh.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(a.Dir); !os.IsNotExist(err) {
		t.Errorf("Close left %s: %v", a.Dir, err)
	}
}
