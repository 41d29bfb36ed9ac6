package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailmend/mailmend/core/internal/dovecottest"
	"github.com/mailmend/mailmend/core/internal/keyringtest"
	"github.com/mailmend/mailmend/core/internal/leakcheck"
	"github.com/mailmend/mailmend/core/sandbox"
)

// TestConsentFlowEndToEnd: add an OAuth account through the browser
// consent (a scripted browser: $BROWSER follows the authorization URL with
// curl), its IMAP and SMTP on real Dovecot checking tokens against the
// sandbox's introspection; revoke at the server; doctor says so; reconnect
// repairs it with a new consent; the account id is unchanged.
func TestConsentFlowEndToEnd(t *testing.T) {
	needProgram(t, "curl")
	sb := startSandbox(t)
	email := "consent@gmail.com"
	if err := sb.AddUser(sandbox.UserSpec{Email: email, Flavour: sandbox.Google}); err != nil {
		t.Fatal(err)
	}
	kr := keyringtest.Start(t)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "sandbox-ca.pem")
	introspectCA := filepath.Join(dir, "introspect-ca.pem")
	for _, f := range []string{caFile, introspectCA} {
		if err := os.WriteFile(f, sb.CAPEM(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	srv := dovecottest.Start(t, dovecottest.Options{
		OAuth2IntrospectionURL: sb.OAuth(sandbox.Google).IntrospectURL,
		OAuth2CAFile:           introspectCA,
	})
	// One CA bundle for mailmend: the sandbox's (OAuth) and Dovecot's (IMAP).
	bundle := filepath.Join(dir, "bundle.pem")
	dcCA, err := os.ReadFile(srv.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(bundle, append(sb.CAPEM(), dcCA...), 0o644)

	e, c := sb.OAuth(sandbox.Google), sb.Client(sandbox.Google)
	cfgFile := filepath.Join(dir, "config.toml")
	os.WriteFile(cfgFile, []byte(fmt.Sprintf(`[[provider]]
id = "google"
[provider.oauth2]
auth_url = %q
token_url = %q
revoke_url = %q
client_id = %q
client_secret = %q
`, e.AuthURL, e.TokenURL, e.RevokeURL, c.ID, c.Secret)), 0o600)

	// The scripted browser: approve the consent and follow the redirect to
	// mailmend's loopback listener, as a user clicking "Allow" would.
	browser := filepath.Join(dir, "browser.sh")
	script := fmt.Sprintf(`#!/bin/sh
loc=$(curl -s --cacert %q -o /dev/null -w '%%{redirect_url}' "$1&sandbox_auto_approve=1")
[ -n "$loc" ] || exit 1
curl -s -o /dev/null "$loc"
`, caFile)
	if err := os.WriteFile(browser, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	h := newHome(t, append(kr.Env(), "SSL_CERT_FILE="+bundle, "MAILMEND_CONFIG="+cfgFile, "BROWSER="+browser)...)

	r := h.run(t, "", "add", "--email", email, "--provider", "google", "--auth", "oauth2",
		"--imap", srv.IMAPS, "--smtp", srv.Submissions)
	if r.code != 0 {
		t.Fatalf("add --auth oauth2: exit %d\n%s", r.code, r.stderr)
	}
	accts := h.list(t)
	if len(accts) != 1 || accts[0].Status != "healthy" {
		t.Fatalf("after add: %+v\n%s", accts, r.stderr)
	}
	id := accts[0].ID

	out, r := h.doctor(t, email)
	if r.code != 0 || !out.Accounts[0].Healthy {
		t.Fatalf("doctor after add: %d\n%s", r.code, r.stdout)
	}

	// Revoked at the provider.
	if err := sb.Revoke(email); err != nil {
		t.Fatal(err)
	}
	out, r = h.doctor(t, email)
	grantDead := map[string]bool{"access_revoked": true, "token_expired": true, "password_changed": true}
	if r.code != 1 || out.Accounts[0].Cause == nil || !grantDead[*out.Accounts[0].Cause] {
		t.Fatalf("doctor after revocation: exit %d cause %v\n%s", r.code, out.Accounts[0].Cause, r.stdout)
	}

	// reconnect repairs it through a new consent; the id stays.
	r = h.run(t, "", "reconnect", email)
	if r.code != 0 {
		t.Fatalf("reconnect: exit %d\n%s", r.code, r.stderr)
	}
	accts = h.list(t)
	if len(accts) != 1 || accts[0].ID != id || accts[0].Status != "healthy" {
		t.Fatalf("after reconnect: %+v (id was %s)", accts, id)
	}
	out, r = h.doctor(t, email)
	if r.code != 0 || !out.Accounts[0].Healthy {
		t.Fatalf("doctor after reconnect: %d\n%s", r.code, r.stdout)
	}
	if !strings.Contains(r.stderr+r.stdout, "") {
		t.Fatal("unreachable")
	}
	// The new refresh token is in the keyring only.
	tok := h.run(t, "", "token", email).stdout
	leakcheck.NoSecret(t, strings.TrimSpace(tok), h.dir, srv.Dir)
}
