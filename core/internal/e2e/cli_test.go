package e2e

// Tests of the built binary against the real parts: a private gnome-keyring
// on its own D-Bus session, and Dovecot on loopback.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailmend/mailmend/core/internal/dovecottest"
	"github.com/mailmend/mailmend/core/internal/keyringtest"
	"github.com/mailmend/mailmend/core/internal/leakcheck"
)

var binary struct {
	once sync.Once
	path string
	err  error
}

// mailmendBin builds the binary once per test run.
func mailmendBin(t testing.TB) string {
	t.Helper()
	binary.once.Do(func() {
		dir, err := os.MkdirTemp("", "mailmend-bin-")
		if err != nil {
			binary.err = err
			return
		}
		binary.path = filepath.Join(dir, "mailmend")
		out, err := exec.Command("go", "build", "-o", binary.path, "github.com/mailmend/mailmend/cmd/mailmend").CombinedOutput()
		if err != nil {
			binary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

func TestMain(m *testing.M) {
	code := keyringtest.Main(m)
	if binary.path != "" {
		os.RemoveAll(filepath.Dir(binary.path))
	}
	os.Exit(code)
}

// sandboxHome is a private HOME and XDG tree for child processes.
type sandboxHome struct {
	dir string
	env []string
}

func newHome(t *testing.T, extra ...string) *sandboxHome { return newHomeTB(t, extra...) }

func newHomeTB(t testing.TB, extra ...string) *sandboxHome {
	t.Helper()
	dir := t.TempDir()
	h := &sandboxHome{dir: dir}
	h.env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"XDG_STATE_HOME=" + filepath.Join(dir, "state"),
		"XDG_DATA_HOME=" + filepath.Join(dir, "data"),
		"XDG_CACHE_HOME=" + filepath.Join(dir, "cache"),
		"TMPDIR=" + filepath.Join(dir, "tmp"),
	}
	os.MkdirAll(filepath.Join(dir, "tmp"), 0o700)
	h.env = append(h.env, extra...)
	return h
}

type result struct {
	code           int
	stdout, stderr string
}

// run executes the binary with the home's environment.
func (h *sandboxHome) run(t testing.TB, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, mailmendBin(t), args...)
	cmd.Env = h.env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running mailmend %v: %v", args, err)
	}
	return result{code, out.String(), errb.String()}
}

// Exit codes of the command-line contract.
const (
	exitUsage     = 2
	exitStore     = 3
	exitReconnect = 4
)

type listAccountJSON struct {
	ID     string     `json:"id"`
	Email  string     `json:"email"`
	Status string     `json:"status"`
	LastOK *time.Time `json:"last_ok"`
}

type listJSON struct {
	Accounts []listAccountJSON `json:"accounts"`
}

// randomSecret makes a password that appears in no file before the test,
// so a leak check finds only what the test run wrote.
func randomSecret(t *testing.T) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "pw-" + hex.EncodeToString(b)
}

func (h *sandboxHome) list(t testing.TB) []listAccountJSON {
	t.Helper()
	r := h.run(t, "", "list", "--json")
	if r.code != 0 {
		t.Fatalf("list: exit %d: %s", r.code, r.stderr)
	}
	var l listJSON
	if err := json.Unmarshal([]byte(r.stdout), &l); err != nil {
		t.Fatalf("list --json: %v\n%s", err, r.stdout)
	}
	return l.Accounts
}

func TestKeyringConcurrentAdds(t *testing.T) {
	kr := keyringtest.Start(t)
	h := newHome(t, kr.Env()...)
	const n = 10
	var wg sync.WaitGroup
	results := make([]result, n)
	secrets := make([]string, n)
	for i := range secrets {
		secrets[i] = randomSecret(t)
	}
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = h.run(t, secrets[i], "add",
				"--email", fmt.Sprintf("user%02d@corp.example", i),
				"--imap", "mail.corp.example:993", "--smtp", "mail.corp.example:465",
				"--password-stdin", "--no-verify")
		}()
	}
	wg.Wait()
	t.Logf("%d concurrent adds took %s", n, time.Since(start).Round(time.Millisecond))
	for i, r := range results {
		if r.code != 0 {
			t.Errorf("add %d: exit %d: %s", i, r.code, r.stderr)
		}
	}
	accts := h.list(t)
	if len(accts) != n {
		t.Fatalf("after %d concurrent adds, list has %d accounts", n, len(accts))
	}
	ids := map[string]bool{}
	for _, a := range accts {
		ids[a.ID] = true
	}
	if len(ids) != n {
		t.Errorf("ids not unique: %v", ids)
	}
	// Each secret is in the keyring, and token gives it back.
	r := h.run(t, "", "token", "user07@corp.example")
	if r.code != 0 || r.stdout != secrets[7]+"\n" {
		t.Errorf("token: exit %d, %q, %s", r.code, r.stdout, r.stderr)
	}
	// The secrets are in no file of the home or the keyring's own files.
	for _, s := range secrets {
		leakcheck.NoSecret(t, s, h.dir, kr.Dir)
	}
	// Remove one: gone from the list and from the keyring.
	if r := h.run(t, "", "remove", "user03@corp.example"); r.code != 0 {
		t.Fatalf("remove: %d %s", r.code, r.stderr)
	}
	if got := len(h.list(t)); got != n-1 {
		t.Errorf("after remove: %d accounts", got)
	}
}

func TestNoSecretService(t *testing.T) {
	h := newHome(t, "DBUS_SESSION_BUS_ADDRESS=unix:path="+filepath.Join(t.TempDir(), "no-bus"))
	start := time.Now()
	r := h.run(t, "", "list")
	if r.code != exitStore {
		t.Fatalf("list without a Secret Service: exit %d, want 3: %s", r.code, r.stderr)
	}
	for _, want := range []string{"gnome-keyring", "--store file"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("message lacks %q: %s", want, r.stderr)
		}
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %s to report a missing Secret Service", d)
	}
	r = h.run(t, "pw", "add", "--email", "a@corp.example", "--imap", "h.example:993", "--password-stdin", "--no-verify")
	if r.code != exitStore {
		t.Errorf("add without a Secret Service: exit %d: %s", r.code, r.stderr)
	}
}

func TestCorruptIndexLeftAlone(t *testing.T) {
	if _, err := exec.LookPath("secret-tool"); err != nil {
		t.Skip("secret-tool (libsecret-tools) not installed")
	}
	kr := keyringtest.Start(t)
	h := newHome(t, kr.Env()...)
	garbage := "mailmend:v1:" + "e25vdCBqc29u" // base64 of "{not json"
	st := exec.Command("secret-tool", "store", "--label=mailmend index", "service", "mailmend", "username", "index")
	st.Env = append(os.Environ(), kr.Env()...)
	st.Stdin = strings.NewReader(garbage)
	if out, err := st.CombinedOutput(); err != nil {
		t.Fatalf("secret-tool store: %v %s", err, out)
	}
	for _, args := range [][]string{{"list"}, {"add", "--email", "a@corp.example", "--imap", "h.example:993", "--password-stdin", "--no-verify"}} {
		r := h.run(t, "pw", args...)
		if r.code != exitStore {
			t.Errorf("%v with a corrupt index: exit %d: %s", args, r.code, r.stderr)
		}
		if !strings.Contains(r.stderr, "corrupt") {
			t.Errorf("%v: message does not say the index is corrupt: %s", args, r.stderr)
		}
	}
	lk := exec.Command("secret-tool", "lookup", "service", "mailmend", "username", "index")
	lk.Env = append(os.Environ(), kr.Env()...)
	out, err := lk.Output()
	if err != nil || strings.TrimSpace(string(out)) != garbage {
		t.Errorf("index was changed: %q %v", out, err)
	}
}

func TestAddVerifiesAgainstDovecot(t *testing.T) {
	right, wrong := randomSecret(t)+" 9!", randomSecret(t)
	srv := dovecottest.Start(t, dovecottest.Options{Users: map[string]string{"alice": right}})
	kr := keyringtest.Start(t)
	h := newHome(t, append(kr.Env(), "SSL_CERT_FILE="+srv.CAFile())...)

	// Wrong password: nothing saved, the server's answer shown, exit 4.
	r := h.run(t, wrong, "add", "--email", "alice@corp.example", "--username", "alice",
		"--imap", srv.IMAPS, "--imap-security", "tls", "--smtp", srv.Submissions, "--smtp-security", "tls", "--password-stdin")
	if r.code != exitReconnect {
		t.Errorf("wrong password: exit %d, want 4: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "[AUTHENTICATIONFAILED]") {
		t.Errorf("wrong password: server's answer not shown: %s", r.stderr)
	}
	if got := h.list(t); len(got) != 0 {
		t.Fatalf("wrong password saved an account: %+v", got)
	}

	// Right password over implicit TLS and over STARTTLS.
	for _, tc := range []struct{ email, imap, sec string }{
		{"alice@corp.example", srv.IMAPS, "tls"},
		{"alice2@corp.example", srv.IMAP, "starttls"},
	} {
		r := h.run(t, right, "add", "--email", tc.email, "--username", "alice",
			"--imap", tc.imap, "--imap-security", tc.sec, "--smtp", srv.Submission, "--smtp-security", "starttls", "--password-stdin")
		if r.code != 0 {
			t.Fatalf("right password over %s: exit %d: %s", tc.sec, r.code, r.stderr)
		}
	}
	accts := h.list(t)
	if len(accts) != 2 || accts[0].Status != "healthy" || accts[0].LastOK == nil {
		t.Fatalf("after verified adds: %+v", accts)
	}
	if r := h.run(t, "", "token", "alice2@corp.example"); r.stdout != right+"\n" {
		t.Errorf("token: %q %s", r.stdout, r.stderr)
	}
	leakcheck.NoSecret(t, right, h.dir, kr.Dir, srv.Dir)
	leakcheck.NoSecret(t, wrong, h.dir, kr.Dir, srv.Dir)
}

func TestFileStore(t *testing.T) {
	h := newHome(t, "MAILMEND_PASSPHRASE=test passphrase 1", "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent")
	secret := randomSecret(t)
	r := h.run(t, secret, "--store", "file", "add", "--email", "f@corp.example", "--imap", "h.example:993", "--password-stdin", "--no-verify")
	if r.code != 0 {
		t.Fatalf("add to file store: %d %s", r.code, r.stderr)
	}
	if r := h.run(t, "", "--store", "file", "token", "f@corp.example"); r.stdout != secret+"\n" {
		t.Fatalf("token from file store: %q %s", r.stdout, r.stderr)
	}
	leakcheck.NoSecret(t, secret, h.dir)
	// A wrong passphrase is a store error, and the file is kept.
	h.env = append(h.env, "MAILMEND_PASSPHRASE=wrong")
	if r := h.run(t, "", "--store", "file", "list"); r.code != exitStore || !strings.Contains(r.stderr, "passphrase") {
		t.Errorf("wrong passphrase: exit %d: %s", r.code, r.stderr)
	}
}
