package e2e

// The README's snippets for other mail programs, tried for real: mbsync
// (isync) and msmtp ask `mailmend token` for the secret and log in to
// Dovecot with it, with a password and with an OAuth access token (XOAUTH2,
// checked by Dovecot's oauth2 passdb against the sandbox's introspection).

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailmend/mailmend/core/internal/dovecottest"
	"github.com/mailmend/mailmend/core/internal/keyringtest"
	"github.com/mailmend/mailmend/core/internal/leakcheck"
	"github.com/mailmend/mailmend/core/internal/realparts"
	"github.com/mailmend/mailmend/core/internal/testpki"
	"github.com/mailmend/mailmend/core/sandbox"
)

func needProgram(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		realparts.Missing(t, "%s not installed", name)
	}
	return p
}

// runProgram runs a mail program with the home's environment.
func (h *sandboxHome) runProgram(t *testing.T, stdin string, name string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = h.env
	cmd.Dir = h.dir
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return string(out), code
}

func portOf(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }

func TestMbsyncPassCmd(t *testing.T) {
	mbsync := needProgram(t, "mbsync")
	pw := randomSecret(t)
	// mbsync 1.4 matches the host name against the certificate's DNS names
	// only, so the certificate also names the address as a DNS name.
	pkiDir, err := os.MkdirTemp("", "mbsync-pki-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(pkiDir) })
	os.Chmod(pkiDir, 0o755)
	pki, err := testpki.New(pkiDir)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := pki.Issue(testpki.LeafOptions{DNSNames: []string{"127.0.0.2", "localhost"}, IPs: []net.IP{net.ParseIP("127.0.0.2")}, Name: "mbsync"})
	if err != nil {
		t.Fatal(err)
	}
	srv := dovecottest.Start(t, dovecottest.Options{Users: map[string]string{"mbox@corp.example": pw}, PKI: pki, Cert: leaf})
	kr := keyringtest.Start(t)
	h := newHome(t, append(kr.Env(), "SSL_CERT_FILE="+srv.CAFile())...)
	if r := h.run(t, pw, "add", "--email", "mbox@corp.example", "--imap", srv.IMAPS, "--smtp", srv.Submissions, "--password-stdin"); r.code != 0 {
		t.Fatalf("add: %d %s", r.code, r.stderr)
	}
	mail := filepath.Join(h.dir, "Mail")
	if err := os.MkdirAll(mail, 0o700); err != nil {
		t.Fatal(err)
	}
	rc := fmt.Sprintf(`IMAPAccount corp
Host 127.0.0.2
Port %s
User mbox@corp.example
PassCmd "%s token mbox@corp.example"
SSLType IMAPS
CertificateFile %s

IMAPStore corp-remote
Account corp

MaildirStore corp-local
Path %s/
Inbox %s/INBOX

Channel corp
Far :corp-remote:
Near :corp-local:
Patterns INBOX
Create Near
SyncState *
`, portOf(srv.IMAPS), mailmendBin(t), srv.CAFile(), mail, mail)
	rcFile := filepath.Join(h.dir, ".mbsyncrc")
	if err := os.WriteFile(rcFile, []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := h.runProgram(t, "", mbsync, "-c", rcFile, "corp")
	if code != 0 {
		t.Fatalf("mbsync: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(mail, "INBOX", "cur")); err != nil {
		t.Errorf("mbsync made no INBOX: %v\n%s", err, out)
	}
	// A wrong password in the store makes mbsync fail: the test can fail.
	if err := srv.SetPassword("mbox@corp.example", randomSecret(t)); err != nil {
		t.Fatal(err)
	}
	if out, code := h.runProgram(t, "", mbsync, "-c", rcFile, "corp"); code == 0 {
		t.Errorf("mbsync passed with a changed password:\n%s", out)
	}
	leakcheck.NoSecret(t, pw, h.dir)
}

// msmtpAuth runs msmtp against the submission server and returns its
// debug transcript.
func msmtpAuth(t *testing.T, h *sandboxHome, rcFile, account string) string {
	t.Helper()
	msg := "From: a@example.com\r\nTo: b@example.com\r\nSubject: test\r\n\r\nhello\r\n"
	out, _ := h.runProgram(t, msg, "msmtp", "-C", rcFile, "-a", account, "--debug", "b@example.com")
	return out
}

func TestMsmtpXOAUTH2(t *testing.T) {
	needProgram(t, "msmtp")
	sb := startSandbox(t)
	email := "oauthmsmtp@gmail.com"
	h := newOAuthHome(t, sb, email)
	caFile := filepath.Join(h.dir, "sandbox-introspect-ca.pem")
	if err := os.WriteFile(caFile, sb.CAPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := dovecottest.Start(t, dovecottest.Options{
		OAuth2IntrospectionURL:  sb.OAuth(sandbox.Google).IntrospectURL,
		OAuth2IntrospectionMode: "post",
		OAuth2CAFile:            caFile,
	})
	rc := fmt.Sprintf(`account gm
host 127.0.0.2
port %s
tls on
tls_starttls off
tls_trust_file %s
auth xoauth2
user %s
passwordeval "%s token %s"
from %s
`, portOf(srv.Submissions), srv.CAFile(), email, mailmendBin(t), email, email)
	rcFile := filepath.Join(h.dir, ".msmtprc")
	if err := os.WriteFile(rcFile, []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	out := msmtpAuth(t, h.sandboxHome, rcFile, "gm")
	if !strings.Contains(out, "<-- 235") {
		t.Fatalf("msmtp XOAUTH2 login with the token did not pass:\n%s", out)
	}
	// Revoked at the provider: the token command fails (exit 4) and msmtp
	// does not log in.
	if err := sb.Revoke(email); err != nil {
		t.Fatal(err)
	}
	out = msmtpAuth(t, h.sandboxHome, rcFile, "gm")
	if strings.Contains(out, "<-- 235") {
		t.Errorf("msmtp logged in with a revoked grant:\n%s", out)
	}
}
