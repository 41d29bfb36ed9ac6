package sandbox

import (
	"context"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestCloseLeavesNothingBehind starts a sandbox, uses every server, closes it
// with connections still open and checks that its goroutines are gone and
// its ports refuse connections.
func TestCloseLeavesNothingBehind(t *testing.T) {
	before := runtime.NumGoroutine()
	sb, err := Start(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	addUser(t, sb, "a@gmail.test", Google, Healthy)
	addUser(t, sb, "b@ms.test", Microsoft, Hostile)
	addUser(t, sb, "c@gmail.test", Google, ProviderUnavailable)
	eps, _ := sb.Endpoints("a@gmail.test")
	imapC := imapDial(t, sb, "a@gmail.test")
	if err := imapC.Login("a@gmail.test", "correct horse").Wait(); err != nil {
		t.Fatal(err)
	}
	smtpDial(t, sb, "a@gmail.test")
	hostile, _ := sb.Endpoints("b@ms.test")
	hc, err := net.Dial("tcp", hostile.IMAP.Addr()) // never reads: the server's writes block
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()
	tok, _ := sb.IssueToken("a@gmail.test")
	refresh(t, sb, Google, tok.RefreshToken)

	start := time.Now()
	if err := sb.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close took %v", d)
	}
	if err := sb.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := sb.AddUser(UserSpec{Email: "late@gmail.test", Flavour: Google}); err == nil {
		t.Error("AddUser after Close succeeded")
	}
	if c, err := net.DialTimeout("tcp", eps.IMAP.Addr(), time.Second); err == nil {
		c.Close()
		t.Error("IMAP port still accepts after Close")
	}
	// Client-side goroutines (test clients) end when their conns see EOF.
	deadline := time.Now().Add(3 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= before+2 {
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			var ours []string
			for _, g := range strings.Split(string(buf), "\n\n") {
				if strings.Contains(g, "core/sandbox.(*") || strings.Contains(g, "imapserver") || strings.Contains(g, "go-smtp.(*Server)") {
					ours = append(ours, g)
				}
			}
			if len(ours) > 0 {
				t.Fatalf("%d goroutines before, %d after Close; server goroutines left:\n%s", before, n, strings.Join(ours, "\n\n"))
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAddUserValidation(t *testing.T) {
	sb := start(t, nil)
	for _, spec := range []UserSpec{
		{Email: "", Flavour: Google},
		{Email: "x@y.test", Flavour: "yahoo"},
		{Email: "x@y.test", Flavour: Microsoft, Scenario: OAuthAppInTesting},
		{Email: "x@y.test", Flavour: Google, Scenario: "broken"},
	} {
		if err := sb.AddUser(spec); err == nil || !strings.HasPrefix(err.Error(), "sandbox: ") {
			t.Errorf("AddUser(%+v) = %v, want a sandbox error", spec, err)
		}
	}
	addUser(t, sb, "Dup@G.test", Google, Healthy)
	if err := sb.AddUser(UserSpec{Email: "dup@g.test", Flavour: Google}); err == nil {
		t.Error("duplicate accepted")
	}
	if err := sb.SetScenario("dup@g.test", "nonsense"); err == nil {
		t.Error("unknown scenario accepted")
	}
	if got := len(Scenarios()); got != 21 {
		t.Errorf("Scenarios() has %d entries, want healthy + 19 causes + hostile", got)
	}
	for _, s := range Scenarios() {
		if s != Healthy && s != Hostile && string(s.Cause()) != string(s) {
			t.Errorf("%s.Cause() = %s", s, s.Cause())
		}
	}
	if pem := string(sb.CAPEM()); !strings.HasPrefix(pem, "-----BEGIN CERTIFICATE-----") {
		t.Errorf("CAPEM: %.40q", pem)
	}
	for _, addr := range []string{sb.OAuthAddr()} {
		if !strings.HasPrefix(addr, "127.0.0.1:") {
			t.Errorf("server bound to %s", addr)
		}
	}
}
