package probe

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/cause"
	"github.com/mailmend/mailmend/core/internal/dovecottest"
)

func TestIMAPLoginDovecot(t *testing.T) {
	t.Parallel()
	srv := dovecot(t)
	for _, tc := range []struct {
		name  string
		addr  string
		sec   account.Security
		user  string
		pass  string
		mech  string
		order string
	}{
		{"tls/plain", srv.IMAPS, account.TLS, userAlice, passAlice, "", "tcp=ok tls=ok imap.greeting=ok imap.capability=ok imap.auth=ok imap.select=ok"},
		{"starttls/plain", srv.IMAP, account.StartTLS, userAlice, passAlice, "", "tcp=ok imap.greeting=ok tls=ok imap.capability=ok imap.auth=ok imap.select=ok"},
		{"tls/login-quoted", srv.IMAPS, account.TLS, userAlice, passAlice, "LOGIN", ""},
		{"tls/login-literal", srv.IMAPS, account.TLS, userUTF8, passUTF8, "LOGIN", ""},
		{"starttls/plain-utf8", srv.IMAP, account.StartTLS, userUTF8, passUTF8, "PLAIN", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := liveOpts(srv)
			o.Mechanism = tc.mech
			rs, err := IMAPLogin(context.Background(), liveEP(t, tc.addr, tc.sec), tc.user, Credential{Password: tc.pass}, o)
			if err != nil {
				t.Fatalf("IMAPLogin: %v\nresults: %s\n%s", err, resultNames(rs), srv.LogTail(5))
			}
			if tc.order != "" && resultNames(rs) != tc.order {
				t.Errorf("results %q, want %q", resultNames(rs), tc.order)
			}
			for _, r := range rs {
				if r.Status != OK {
					t.Errorf("%s: %v %q %v", r.Name, r.Status, r.Detail, r.Evidence)
				}
			}
			auth := findResult(rs, CheckIMAPAuth)
			wantMech := tc.mech
			if wantMech == "" {
				wantMech = "PLAIN"
			}
			if !strings.Contains(auth.Detail, "("+wantMech+")") {
				t.Errorf("auth detail %q does not name %s", auth.Detail, wantMech)
			}
			if d := findResult(rs, CheckIMAPSelect).Detail; !strings.Contains(d, "INBOX opened: 0 messages") {
				t.Errorf("select detail %q", d)
			}
			if d := findResult(rs, CheckTLS).Detail; !strings.Contains(d, "TLS 1.3") || !strings.Contains(d, "verified for 127.0.0.2") {
				t.Errorf("tls detail %q", d)
			}
		})
	}
}

func TestIMAPWrongPasswordDovecot(t *testing.T) {
	t.Parallel()
	srv := dovecot(t)
	const wrong = "not-the-password-xyzzy"
	for _, sec := range []account.Security{account.TLS, account.StartTLS} {
		addr := srv.IMAPS
		if sec == account.StartTLS {
			addr = srv.IMAP
		}
		t.Run(string(sec), func(t *testing.T) {
			t.Parallel()
			rs, err := IMAPLogin(context.Background(), liveEP(t, addr, sec), userAlice, Credential{Password: wrong}, liveOpts(srv))
			var ae *AuthError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %T %v, want *AuthError", err, err)
			}
			want := "probe: imap: login refused: [AUTHENTICATIONFAILED] Authentication failed."
			if err.Error() != want {
				t.Errorf("Error() = %q, want %q", err.Error(), want)
			}
			ev, ok := findEvidence(EvidenceOf(err), "AUTHENTICATIONFAILED")
			if !ok || ev.Kind != cause.KindIMAP || ev.Text != "Authentication failed." || ev.Check != CheckIMAPAuth {
				t.Errorf("evidence %+v", EvidenceOf(err))
			}
			if a := findResult(rs, CheckIMAPAuth); a.Status != Fail || !strings.Contains(a.Detail, "AUTHENTICATIONFAILED") {
				t.Errorf("auth result %+v", a)
			}
			if s := findResult(rs, CheckIMAPSelect); s.Status != Skip {
				t.Errorf("select after failed auth: %+v", s)
			}
			all := err.Error() + resultNames(rs)
			for _, r := range rs {
				all += r.Detail + evidenceTexts(r.Evidence)
			}
			if strings.Contains(all, wrong) {
				t.Error("the password leaked into results or the error")
			}
		})
	}
}

func evidenceTexts(evs []cause.Evidence) string {
	var b strings.Builder
	for _, e := range evs {
		b.WriteString(e.Code + " " + e.Text + " ")
	}
	return b.String()
}

func TestSMTPLoginDovecot(t *testing.T) {
	t.Parallel()
	srv := dovecot(t)
	for _, tc := range []struct {
		name  string
		addr  string
		sec   account.Security
		mech  string
		order string
	}{
		{"tls", srv.Submissions, account.TLS, "", "tcp=ok tls=ok smtp.greeting=ok smtp.auth=ok"},
		{"starttls", srv.Submission, account.StartTLS, "", "tcp=ok smtp.greeting=ok smtp.starttls=ok tls=ok smtp.auth=ok"},
		{"tls/login", srv.Submissions, account.TLS, "LOGIN", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := liveOpts(srv)
			o.Mechanism = tc.mech
			rs, err := SMTPLogin(context.Background(), liveEP(t, tc.addr, tc.sec), userAlice, Credential{Password: passAlice}, o)
			if err != nil {
				t.Fatalf("SMTPLogin: %v\n%s\n%s", err, resultNames(rs), srv.LogTail(5))
			}
			if tc.order != "" && resultNames(rs) != tc.order {
				t.Errorf("results %q, want %q", resultNames(rs), tc.order)
			}
			if tc.mech != "" && !strings.Contains(findResult(rs, CheckSMTPAuth).Detail, tc.mech) {
				t.Errorf("auth detail %q", findResult(rs, CheckSMTPAuth).Detail)
			}
		})
	}
	t.Run("wrong", func(t *testing.T) {
		t.Parallel()
		rs, err := SMTPLogin(context.Background(), liveEP(t, srv.Submission, account.StartTLS), userAlice, Credential{Password: "nope"}, liveOpts(srv))
		var ae *AuthError
		if !errors.As(err, &ae) {
			t.Fatalf("err = %T %v, want *AuthError", err, err)
		}
		if _, ok := findEvidence(ae.Evidence, "535 5.7.8"); !ok {
			t.Errorf("evidence %+v, want 535 5.7.8", ae.Evidence)
		}
		if !strings.HasPrefix(err.Error(), "probe: smtp: login refused: 535 5.7.8 ") {
			t.Errorf("Error() = %q", err.Error())
		}
		if a := findResult(rs, CheckSMTPAuth); a.Status != Fail {
			t.Errorf("auth result %+v", a)
		}
	})
}

func TestOAuthDovecot(t *testing.T) {
	t.Parallel()
	srv := dovecot(t)
	for _, mech := range []string{"", MechOAuthBearer} {
		name := mech
		if name == "" {
			name = "auto"
		}
		t.Run(name+"/imap-good", func(t *testing.T) {
			t.Parallel()
			o := liveOpts(srv)
			o.Mechanism = mech
			rs, err := IMAPLogin(context.Background(), liveEP(t, srv.IMAPS, account.TLS), userCarol, Credential{AccessToken: goodToken}, o)
			if err != nil {
				t.Fatalf("%v\n%s\n%s", err, resultNames(rs), srv.LogTail(8))
			}
			want := MechXOAuth2
			if mech != "" {
				want = mech
			}
			if d := findResult(rs, CheckIMAPAuth).Detail; !strings.Contains(d, want) {
				t.Errorf("auth detail %q, want %s", d, want)
			}
		})
		t.Run(name+"/imap-bad", func(t *testing.T) {
			t.Parallel()
			o := liveOpts(srv)
			o.Mechanism = mech
			start := time.Now()
			_, err := IMAPLogin(context.Background(), liveEP(t, srv.IMAPS, account.TLS), userCarol, Credential{AccessToken: "ya29.revoked"}, o)
			var ae *AuthError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %T %v, want *AuthError\n%s", err, err, srv.LogTail(8))
			}
			if time.Since(start) > 8*time.Second {
				t.Errorf("failure took %v: the challenge was not answered", time.Since(start))
			}
			ch, ok := findEvidence(ae.Evidence, CodeSASLChallenge)
			if !ok || !strings.Contains(ch.Text, `"status"`) {
				t.Errorf("no decoded challenge JSON in %+v", ae.Evidence)
			}
			if _, ok := findEvidence(ae.Evidence, "AUTHENTICATIONFAILED"); !ok {
				t.Errorf("no AUTHENTICATIONFAILED in %+v", ae.Evidence)
			}
			if strings.Contains(err.Error(), "revoked") {
				t.Error("token leaked into the error")
			}
		})
	}
	t.Run("smtp-good", func(t *testing.T) {
		t.Parallel()
		if _, err := SMTPLogin(context.Background(), liveEP(t, srv.Submissions, account.TLS), userCarol, Credential{AccessToken: goodToken}, liveOpts(srv)); err != nil {
			t.Fatalf("%v\n%s", err, srv.LogTail(8))
		}
	})
	t.Run("smtp-bad", func(t *testing.T) {
		t.Parallel()
		_, err := SMTPLogin(context.Background(), liveEP(t, srv.Submission, account.StartTLS), userCarol, Credential{AccessToken: "ya29.revoked"}, liveOpts(srv))
		var ae *AuthError
		if !errors.As(err, &ae) {
			t.Fatalf("err = %T %v, want *AuthError", err, err)
		}
		if ch, ok := findEvidence(ae.Evidence, CodeSASLChallenge); !ok || !strings.Contains(ch.Text, `"status"`) {
			t.Errorf("no decoded challenge in %+v", ae.Evidence)
		}
		if _, ok := findEvidence(ae.Evidence, "535 5.7.8"); !ok {
			t.Errorf("no 535 5.7.8 in %+v", ae.Evidence)
		}
	})
	t.Run("password-user-has-no-token", func(t *testing.T) {
		t.Parallel()
		// A password account's name with a token the endpoint calls inactive.
		_, err := IMAPLogin(context.Background(), liveEP(t, srv.IMAP, account.StartTLS), userAlice, Credential{AccessToken: "x"}, liveOpts(srv))
		var ae *AuthError
		if !errors.As(err, &ae) {
			t.Fatalf("err = %T %v", err, err)
		}
	})
}

func TestTransportErrorsDovecot(t *testing.T) {
	t.Parallel()
	srv := dovecot(t)
	o := liveOpts(srv)
	o.Timeouts.Greeting = 400 * time.Millisecond
	o.Timeouts.TLS = 2 * time.Second
	cases := []struct {
		name  string
		run   func() ([]Result, error)
		code  string
		check string
		max   time.Duration
	}{
		{"imap tls on plain port", func() ([]Result, error) {
			return IMAPLogin(context.Background(), liveEP(t, srv.IMAP, account.TLS), userAlice, Credential{Password: passAlice}, o)
		}, CodeTLSOnPlainPort, CheckTLS, 5 * time.Second},
		{"smtp tls on plain port", func() ([]Result, error) {
			return SMTPLogin(context.Background(), liveEP(t, srv.Submission, account.TLS), userAlice, Credential{Password: passAlice}, o)
		}, CodeTLSOnPlainPort, CheckTLS, 5 * time.Second},
		{"imap starttls on tls port", func() ([]Result, error) {
			return IMAPLogin(context.Background(), liveEP(t, srv.IMAPS, account.StartTLS), userAlice, Credential{Password: passAlice}, o)
		}, CodePlainOnTLSPort, CheckIMAPGreeting, 5 * time.Second},
		{"smtp starttls on tls port", func() ([]Result, error) {
			return SMTPLogin(context.Background(), liveEP(t, srv.Submissions, account.StartTLS), userAlice, Credential{Password: passAlice}, o)
		}, CodePlainOnTLSPort, CheckSMTPGreeting, 5 * time.Second},
		{"unknown authority", func() ([]Result, error) {
			o2 := o
			o2.RootCAs = x509.NewCertPool()
			return IMAPLogin(context.Background(), liveEP(t, srv.IMAPS, account.TLS), userAlice, Credential{Password: passAlice}, o2)
		}, CodeX509UnknownAuthority, CheckTLS, 5 * time.Second},
		{"name not in certificate", func() ([]Result, error) {
			// Dial Dovecot under a name its certificate does not cover.
			o2 := o
			o2.Dialer = redirectDialer(srv.IMAPS)
			return IMAPLogin(context.Background(), account.Endpoint{Host: "imap.other.example", Port: 993, Security: account.TLS}, userAlice, Credential{Password: passAlice}, o2)
		}, CodeX509Hostname, CheckTLS, 5 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			rs, err := tc.run()
			elapsed := time.Since(start)
			var pe *ProtocolError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %T %v, want *ProtocolError", err, err)
			}
			if pe.Check != tc.check {
				t.Errorf("check %q, want %q (%v)", pe.Check, tc.check, err)
			}
			ev, ok := findEvidence(pe.Evidence, tc.code)
			if !ok || ev.Kind != cause.KindTransport {
				t.Errorf("evidence %+v, want %s", pe.Evidence, tc.code)
			}
			if r := findResult(rs, tc.check); r.Status != Fail || len(r.Evidence) == 0 {
				t.Errorf("result %+v", r)
			}
			if elapsed > tc.max {
				t.Errorf("took %v, want under %v", elapsed, tc.max)
			}
			if strings.ContainsRune(err.Error(), '\n') {
				t.Errorf("multi-line error %q", err.Error())
			}
		})
	}
}

// redirect is a dialer that connects every address to addr.
func redirectDialer(addr string) ContextDialer {
	return DialerFunc(func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	})
}

// TestStoppedAndWrongCertDovecot uses a private server: it presents a
// certificate for another name, then is stopped.
func TestStoppedAndWrongCertDovecot(t *testing.T) {
	t.Parallel()
	srv := dovecottest.Start(t, dovecottest.Options{Users: map[string]string{userAlice: passAlice}})
	// A second server from the same CA, presenting the wrong-name leaf.
	wrong := dovecottest.Start(t, dovecottest.Options{PKI: srv.PKI, Cert: srv.PKI.WrongName})
	o := liveOpts(srv)

	_, err := IMAPLogin(context.Background(), liveEP(t, wrong.IMAPS, account.TLS), userAlice, Credential{Password: passAlice}, o)
	if _, ok := findEvidence(EvidenceOf(err), CodeX509Hostname); !ok {
		t.Errorf("wrong-name certificate: %v %+v", err, EvidenceOf(err))
	}
	_, err = SMTPLogin(context.Background(), liveEP(t, wrong.Submission, account.StartTLS), userAlice, Credential{Password: passAlice}, o)
	if _, ok := findEvidence(EvidenceOf(err), CodeX509Hostname); !ok {
		t.Errorf("wrong-name certificate over STARTTLS: %v %+v", err, EvidenceOf(err))
	}

	if _, err := IMAPLogin(context.Background(), liveEP(t, srv.IMAPS, account.TLS), userAlice, Credential{Password: passAlice}, o); err != nil {
		t.Fatalf("before stop: %v", err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, run := range []func() ([]Result, error){
		func() ([]Result, error) {
			return IMAPLogin(context.Background(), liveEP(t, srv.IMAPS, account.TLS), userAlice, Credential{Password: passAlice}, o)
		},
		func() ([]Result, error) {
			return SMTPLogin(context.Background(), liveEP(t, srv.Submission, account.StartTLS), userAlice, Credential{Password: passAlice}, o)
		},
	} {
		rs, err := run()
		if _, ok := findEvidence(EvidenceOf(err), CodeRefused); !ok {
			t.Errorf("stopped server: %v %+v", err, EvidenceOf(err))
		}
		if resultNames(rs)[:len("tcp=fail")] != "tcp=fail" {
			t.Errorf("results %s", resultNames(rs))
		}
		for _, r := range rs[1:] {
			if r.Status != Skip {
				t.Errorf("%s after refused connect: %v", r.Name, r.Status)
			}
		}
	}
}
