package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/internal/keyringtest"
	"github.com/mailmend/mailmend/core/internal/leakcheck"
	"github.com/mailmend/mailmend/core/sandbox"
	"github.com/mailmend/mailmend/core/store"
)

// oauthHome is a home whose config points google at the sandbox and whose
// keyring is the package's shared one, with one OAuth account seeded.
type oauthHome struct {
	*sandboxHome
	sb    *sandbox.Sandbox
	st    *store.Store
	acct  account.Account
	email string
}

func newOAuthHome(t testing.TB, sb *sandbox.Sandbox, email string) *oauthHome {
	t.Helper()
	kr := keyringtest.Shared(t)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "sandbox-ca.pem")
	if err := os.WriteFile(caFile, sb.CAPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	e := sb.OAuth(sandbox.Google)
	c := sb.Client(sandbox.Google)
	cfg := fmt.Sprintf(`[[provider]]
id = "google"
[provider.oauth2]
auth_url = %q
token_url = %q
revoke_url = %q
client_id = %q
client_secret = %q
`, e.AuthURL, e.TokenURL, e.RevokeURL, c.ID, c.Secret)
	cfgFile := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHomeTB(t, append(kr.Env(), "SSL_CERT_FILE="+caFile, "MAILMEND_CONFIG="+cfgFile)...)
	if err := sb.AddUser(sandbox.UserSpec{Email: email, Flavour: sandbox.Google}); err != nil {
		t.Fatal(err)
	}
	tok, err := sb.IssueToken(email)
	if err != nil {
		t.Fatal(err)
	}
	eps, _ := sb.Endpoints(email)
	// The same store the child processes open: the keyring plus the lock
	// file in their state directory.
	st := store.New(store.NewKeyring(store.DefaultService), filepath.Join(h.dir, "state", "mailmend", "store.lock"))
	os.MkdirAll(filepath.Join(h.dir, "state", "mailmend"), 0o700)
	a, err := st.Save(context.Background(), account.Account{
		Email: email, Provider: "google", Auth: account.OAuth2, IMAP: eps.IMAP, SMTP: eps.SMTP,
		ConsentedAt: time.Now().Add(-time.Hour).UTC(),
	}, &store.Secret{Token: &store.Token{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, TokenType: "Bearer", Expiry: time.Now().Add(-time.Minute)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Remove(context.Background(), a.ID) })
	return &oauthHome{sandboxHome: h, sb: sb, st: st, acct: a, email: email}
}

func startSandbox(t testing.TB) *sandbox.Sandbox {
	t.Helper()
	sb, err := sandbox.Start(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	return sb
}

// TestToken20Processes: twenty `mailmend token` processes at once, with an
// expired access token, a server that rotates refresh tokens and revokes the
// whole family when a rotated one is reused: all print the same valid token,
// and exactly one refresh happened.
func TestToken20Processes(t *testing.T) {
	sb := startSandbox(t)
	h := newOAuthHome(t, sb, "twenty@gmail.com")
	const n = 20
	out := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); out[i] = h.run(t, "", "token", h.email) }()
	}
	wg.Wait()
	tokens := map[string]bool{}
	for i, r := range out {
		if r.code != 0 {
			t.Errorf("process %d: exit %d: %s", i, r.code, r.stderr)
			continue
		}
		tok := strings.TrimSuffix(r.stdout, "\n")
		if tok == "" || strings.Contains(tok, "\n") {
			t.Errorf("process %d printed %q", i, r.stdout)
		}
		tokens[tok] = true
	}
	if got := sb.Refreshes(h.email); got != 1 {
		t.Errorf("%d refreshes for %d processes, want 1", got, n)
	}
	if c := sb.Counters(); c.ReuseDetected != 0 {
		t.Errorf("the server saw %d reuses of a rotated refresh token", c.ReuseDetected)
	}
	if len(tokens) != 1 {
		t.Errorf("%d different tokens printed, want 1", len(tokens))
	}
	// The printed token is valid: the sandbox's IMAP server accepts it.
	for tok := range tokens {
		sec, err := h.st.Secret(context.Background(), h.acct.ID)
		if err != nil || sec.Token.AccessToken != tok {
			t.Errorf("stored token differs from the printed one: %v", err)
		}
	}
	for tok := range tokens {
		leakcheck.NoSecret(t, tok, h.dir)
	}
}

// TestTokenDeadGrant: a revoked grant makes `token` exit 4 with one line
// naming the cause and the reconnect command, after exactly one refresh
// request: no retry loop.
func TestTokenDeadGrant(t *testing.T) {
	sb := startSandbox(t)
	h := newOAuthHome(t, sb, "dead@gmail.com")
	sec, _ := h.st.Secret(context.Background(), h.acct.ID)
	if err := sb.Revoke(h.email); err != nil {
		t.Fatal(err)
	}
	r := h.run(t, "", "token", h.email)
	if r.code != 4 {
		t.Fatalf("exit %d, want 4: %s", r.code, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout %q, want nothing", r.stdout)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "mailmend reconnect "+h.email) {
		t.Errorf("stderr is not one line naming the reconnect command: %q", r.stderr)
	}
	if got := sb.RefreshRequests(sec.Token.RefreshToken); got != 1 {
		t.Errorf("%d refresh requests for one `token`, want 1", got)
	}
	// Recorded on the account.
	if accts := h.list(t); len(accts) != 1 || accts[0].Status != "needs_reconnect" {
		t.Errorf("account after a dead grant: %+v", accts)
	}
	// A second call asks once more, never in a loop.
	h.run(t, "", "token", h.email)
	if got := sb.RefreshRequests(sec.Token.RefreshToken); got != 2 {
		t.Errorf("%d refresh requests after two calls, want 2", got)
	}
}

// BenchmarkTokenCached compares `mailmend token` with a cached access token
// against the floor of reading one keyring item with secret-tool, both as
// whole processes, and reports the ratio.
func BenchmarkTokenCached(b *testing.B) {
	if _, err := exec.LookPath("secret-tool"); err != nil {
		b.Skip("secret-tool not installed")
	}
	sb := startSandbox(b)
	h := newOAuthHome(b, sb, "bench@gmail.com")
	if r := h.run(b, "", "token", h.email); r.code != 0 { // refresh once: cached from now on
		b.Fatalf("token: %d %s", r.code, r.stderr)
	}
	bin := mailmendBin(b)
	kr := keyringtest.Shared(b)
	runOnce := func(name string, args ...string) time.Duration {
		cmd := exec.Command(name, args...)
		cmd.Env = h.env
		if name == "secret-tool" {
			cmd.Env = append(os.Environ(), kr.Env()...)
		}
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%s: %v %s", name, err, out)
		}
		return time.Since(start)
	}
	var tokenTime, floorTime time.Duration
	b.ResetTimer()
	for range b.N {
		tokenTime += runOnce(bin, "token", h.email)
		floorTime += runOnce("secret-tool", "lookup", "service", store.DefaultService, "username", store.SecretKey(h.acct.ID))
	}
	b.ReportMetric(float64(tokenTime.Microseconds())/float64(b.N)/1000, "ms-token")
	b.ReportMetric(float64(floorTime.Microseconds())/float64(b.N)/1000, "ms-secret-tool")
	b.ReportMetric(float64(tokenTime)/float64(floorTime), "x-floor")
}
