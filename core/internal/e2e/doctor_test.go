package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mailmend/mailmend/core/internal/dovecottest"
	"github.com/mailmend/mailmend/core/internal/keyringtest"
)

type doctorOut struct {
	Accounts []struct {
		ID         string   `json:"id"`
		Email      string   `json:"email"`
		Healthy    bool     `json:"healthy"`
		Cause      *string  `json:"cause"`
		Candidates []string `json:"candidates"`
		DurationMS int64    `json:"duration_ms"`
		Checks     []struct {
			Name   string `json:"name"`
			Status string `json:"status"`
			Detail string `json:"detail"`
		} `json:"checks"`
	} `json:"accounts"`
}

func (h *sandboxHome) doctor(t *testing.T, args ...string) (doctorOut, result) {
	t.Helper()
	r := h.run(t, "", append([]string{"doctor", "--json", "--timeout", "20s"}, args...)...)
	var out doctorOut
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("doctor --json: %v\nstdout %s\nstderr %s", err, r.stdout, r.stderr)
	}
	return out, r
}

func checkStatus(out doctorOut, name string) string {
	for _, c := range out.Accounts[0].Checks {
		if c.Name == name {
			return c.Status
		}
	}
	return "missing"
}

// TestDoctorAgainstDovecot: right password healthy; password changed on
// the server -> wrong_password; TLS to the plaintext port -> wrong_settings;
// server stopped -> provider_unavailable.
func TestDoctorAgainstDovecot(t *testing.T) {
	pw := randomSecret(t)
	srv := dovecottest.Start(t, dovecottest.Options{Users: map[string]string{"bob": pw}})
	kr := keyringtest.Start(t)
	h := newHome(t, append(kr.Env(), "SSL_CERT_FILE="+srv.CAFile())...)

	add := func(email, imap, imapSec, smtp, smtpSec string) {
		t.Helper()
		r := h.run(t, pw, "add", "--email", email, "--username", "bob", "--imap", imap, "--imap-security", imapSec,
			"--smtp", smtp, "--smtp-security", smtpSec, "--password-stdin", "--no-verify")
		if r.code != 0 {
			t.Fatalf("add %s: %d %s", email, r.code, r.stderr)
		}
	}
	add("bob@corp.example", srv.IMAPS, "tls", srv.Submissions, "tls")
	add("bob-starttls@corp.example", srv.IMAP, "starttls", srv.Submission, "starttls")
	add("bob-wrongtls@corp.example", srv.IMAP, "tls", srv.Submissions, "tls")

	for _, email := range []string{"bob@corp.example", "bob-starttls@corp.example"} {
		out, r := h.doctor(t, email)
		if r.code != 0 || !out.Accounts[0].Healthy {
			t.Fatalf("%s: doctor exit %d healthy=%v\n%s\n%s", email, r.code, out.Accounts[0].Healthy, r.stdout, r.stderr)
		}
		for _, c := range []string{"tcp", "tls", "imap.greeting", "imap.capability", "imap.auth", "imap.select", "smtp.greeting", "smtp.auth"} {
			if s := checkStatus(out, c); s != "ok" {
				t.Errorf("%s: check %s is %s", email, c, s)
			}
		}
	}
	if accts := h.list(t); accts[0].Status != "healthy" || accts[0].LastOK == nil {
		t.Errorf("doctor did not record health: %+v", accts[0])
	}

	// Implicit TLS configured against the STARTTLS (plaintext) port.
	out, r := h.doctor(t, "bob-wrongtls@corp.example")
	if r.code != 1 || out.Accounts[0].Cause == nil || *out.Accounts[0].Cause != "wrong_settings" {
		t.Errorf("TLS on the plaintext port: exit %d cause %v\n%s", r.code, out.Accounts[0].Cause, r.stdout)
	}

	// The password changes on the server.
	if err := srv.SetPassword("bob", randomSecret(t)); err != nil {
		t.Fatal(err)
	}
	out, r = h.doctor(t, "bob@corp.example")
	if r.code != 1 || out.Accounts[0].Cause == nil || *out.Accounts[0].Cause != "wrong_password" {
		t.Fatalf("changed password: exit %d cause %v\n%s", r.code, out.Accounts[0].Cause, r.stdout)
	}
	if s := checkStatus(out, "smtp.auth"); s != "skip" {
		t.Errorf("smtp.auth after IMAP refused the password: %s (want skip: no second failing login)", s)
	}
	if accts := h.list(t); accts[0].Status != "needs_reconnect" {
		t.Errorf("status after wrong password: %+v", accts[0])
	}
	// The support report: cause and server text kept, address masked, no secret.
	rep := h.run(t, "", "report", "bob@corp.example")
	if rep.code != 0 || !strings.Contains(rep.stdout, "b***@corp.example") || !strings.Contains(rep.stdout, "AUTHENTICATIONFAILED") ||
		!strings.Contains(rep.stdout, "wrong_password") || strings.Contains(rep.stdout, "bob@corp.example") || strings.Contains(rep.stdout, pw) {
		t.Errorf("report: exit %d\n%s", rep.code, rep.stdout)
	}
	// The human ladder names the cause.
	if r := h.run(t, "", "doctor", "bob@corp.example"); !strings.Contains(r.stdout+r.stderr, "wrong_password") {
		t.Errorf("ladder lacks the cause:\n%s", r.stdout)
	}

	// The server stops.
	srv.Stop()
	out, r = h.doctor(t, "bob-starttls@corp.example")
	if r.code != 1 || out.Accounts[0].Cause == nil || *out.Accounts[0].Cause != "provider_unavailable" {
		t.Errorf("server stopped: exit %d cause %v\n%s", r.code, out.Accounts[0].Cause, r.stdout)
	}
}
