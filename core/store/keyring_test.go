package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/zalando/go-keyring"

	"github.com/mailmend/mailmend/core/internal/keyringtest"
	"github.com/mailmend/mailmend/core/internal/leakcheck"
)

func randomService(t *testing.T) string {
	b := make([]byte, 4)
	rand.Read(b)
	return "mailmend-test-" + hex.EncodeToString(b)
}

func TestKeyringConformance(t *testing.T) {
	kt := keyringtest.Shared(t)
	// Runs after the parallel subtests: the keyring's own files hold no
	// plaintext secret the suite stored.
	t.Cleanup(func() {
		for _, s := range []string{"pw-ann-1", "pw-5", "rt-2"} {
			leakcheck.NoSecret(t, s, kt.Dir)
		}
	})
	runConformance(t, backendCase{
		name: "keyring",
		open: func(t *testing.T) func() Backend {
			svc := randomService(t)
			// Split at the macOS/Windows limit, so the real Secret Service
			// exercises the chunked format too.
			return func() Backend { k := NewKeyring(svc); k.Chunk = ChunkSize; return k }
		},
		items: func(t *testing.T, b Backend) []string {
			items, err := kt.Items(b.(*Keyring).Service())
			if err != nil {
				t.Fatal(err)
			}
			return items
		},
	})
}

func TestKeyringDefaultServiceAndNoLeak(t *testing.T) {
	kt := keyringtest.Shared(t)
	ctx := testCtx(t)
	lockDir := t.TempDir()
	kr := NewKeyring("")
	kr.Chunk = ChunkSize
	s := New(kr, filepath.Join(lockDir, "store.lock"))
	const pw = "Keyring-Pa55word-not-in-files"
	tok := bigToken("keyring-rt-not-in-files", 10<<10)
	a, err := s.Save(ctx, sampleAccount("lee@example.org"), &Secret{Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Save(ctx, sampleAccount("max@example.org"), &Secret{Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	// go-keyring, used directly, sees the items under the "mailmend" service.
	for _, key := range []string{IndexKey, SecretKey(a.ID), SecretKey(b.ID), ChunkKey(SecretKey(b.ID), 1)} {
		if _, err := keyring.Get("mailmend", key); err != nil {
			t.Fatalf("keyring item %q under service mailmend: %v", key, err)
		}
	}
	leakcheck.NoSecret(t, pw, kt.Dir, lockDir)
	leakcheck.NoSecret(t, tok.RefreshToken[:64], kt.Dir, lockDir)
	if home, err := os.UserHomeDir(); err == nil && home != "/" {
		leakcheck.NoSecret(t, pw, filepath.Join(home, ".local", "share", "keyrings"), filepath.Join(home, ".cache", "mailmend"))
	}
	for _, id := range []string{a.ID, b.ID} {
		if err := s.Remove(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if items, err := kt.Items("mailmend"); err != nil || fmt.Sprint(items) != "[index]" {
		t.Fatalf("items after removal = %v, %v", items, err)
	}
}

// childEnv marks a re-executed test binary and says what it should do.
const childEnv = "MAILMEND_STORE_TEST_CHILD"

// runChild re-executes this test binary running only test name, with env
// added, and returns its combined output.
func runChild(t *testing.T, name string, timeout time.Duration, env ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+name+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// childReport runs in the child: it reads the index through a fresh
// Keyring and prints the outcome on one line.
func childReport(timeout time.Duration) {
	k := NewKeyring("mailmend")
	k.Timeout = timeout
	start := time.Now()
	_, err := New(k, "").List(context.Background())
	fmt.Printf("CHILD-RESULT unavailable=%v elapsed=%s err=%v\n", errors.Is(err, ErrUnavailable), time.Since(start).Round(time.Millisecond), err)
}

func TestKeyringUnavailableWithoutBus(t *testing.T) {
	if os.Getenv(childEnv) == "nobus" {
		childReport(10 * time.Second)
		return
	}
	out, err := runChild(t, "TestKeyringUnavailableWithoutBus", 20*time.Second,
		childEnv+"=nobus", "DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent/mailmend-bus")
	if err != nil {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
	if elapsed := childElapsed(t, out); elapsed > 3*time.Second {
		t.Fatalf("the failing call took %s, want a fast failure", elapsed)
	}
	if !strings.Contains(out, "CHILD-RESULT unavailable=true") ||
		!strings.Contains(out, "start gnome-keyring-daemon or KeePassXC's Secret Service, or use --store file") ||
		!strings.Contains(out, "/nonexistent/mailmend-bus") {
		t.Fatalf("child output lacks the helpful ErrUnavailable:\n%s", out)
	}
	t.Logf("%s", lineWith(out, "CHILD-RESULT"))
}

func TestKeyringUnavailableWithoutSecretService(t *testing.T) {
	if os.Getenv(childEnv) == "noservice" {
		childReport(10 * time.Second)
		return
	}
	addr := keyringtest.StartEmptyBus(t)
	out, err := runChild(t, "TestKeyringUnavailableWithoutSecretService", 20*time.Second,
		childEnv+"=noservice", "DBUS_SESSION_BUS_ADDRESS="+addr)
	if err != nil {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
	if elapsed := childElapsed(t, out); elapsed > 3*time.Second {
		t.Fatalf("the failing call took %s, want a fast failure", elapsed)
	}
	if !strings.Contains(out, "CHILD-RESULT unavailable=true") ||
		!strings.Contains(out, "no Secret Service on the D-Bus session bus") ||
		!strings.Contains(out, "org.freedesktop.secrets") ||
		!strings.Contains(out, "start gnome-keyring-daemon or KeePassXC's Secret Service, or use --store file") {
		t.Fatalf("child output lacks the helpful ErrUnavailable:\n%s", out)
	}
	t.Logf("%s", lineWith(out, "CHILD-RESULT"))
}

func TestKeyringLockedIsUnavailable(t *testing.T) {
	if os.Getenv(childEnv) == "locked" {
		childReport(3 * time.Second)
		return
	}
	kt := keyringtest.Start(t) // own instance: locking must not disturb other tests
	if err := kt.Lock(); err != nil {
		t.Fatal(err)
	}
	out, err := runChild(t, "TestKeyringLockedIsUnavailable", 20*time.Second, append(kt.Env(), childEnv+"=locked")...)
	if err != nil {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
	if !strings.Contains(out, "CHILD-RESULT unavailable=true") || !strings.Contains(out, "keyring is locked") {
		t.Fatalf("child output lacks ErrUnavailable \"keyring is locked\":\n%s", out)
	}
	if elapsed := childElapsed(t, out); elapsed > 3500*time.Millisecond {
		t.Fatalf("locked keyring took %s to report (timeout 3s)", elapsed)
	}
	t.Logf("%s", lineWith(out, "CHILD-RESULT"))
}

// childElapsed returns the duration the child measured around its call.
func childElapsed(t *testing.T, out string) time.Duration {
	t.Helper()
	_, rest, _ := strings.Cut(lineWith(out, "CHILD-RESULT"), "elapsed=")
	field, _, _ := strings.Cut(rest, " ")
	d, err := time.ParseDuration(field)
	if err != nil {
		t.Fatalf("no elapsed time in child output: %v\n%s", err, out)
	}
	return d
}

func lineWith(out, s string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

// hangingAPI never answers, like a keyring waiting for a password prompt.
type hangingAPI struct{ release chan struct{} }

func (h hangingAPI) Get(string, string) (string, error) { <-h.release; return "", nil }
func (h hangingAPI) Set(string, string, string) error   { <-h.release; return nil }
func (h hangingAPI) Delete(string, string) error        { <-h.release; return nil }

func TestKeyringCallsAreBounded(t *testing.T) {
	h := hangingAPI{release: make(chan struct{})}
	defer close(h.release)
	k := &Keyring{service: "mailmend", api: h, Timeout: 150 * time.Millisecond}
	for name, call := range map[string]func() error{
		"Get":    func() error { _, err := k.Get("index"); return err },
		"Set":    func() error { return k.Set("index", []byte("x")) },
		"Delete": func() error { return k.Delete("index") },
	} {
		start := time.Now()
		err := call()
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "keyring is locked") {
			t.Fatalf("%s on a hanging keyring = %v", name, err)
		}
		if d := time.Since(start); d < 150*time.Millisecond || d > 2*time.Second {
			t.Fatalf("%s returned after %s, want about the timeout", name, d)
		}
	}
}

func TestKeyringErrorMapping(t *testing.T) {
	k := NewKeyring("")
	cases := []struct {
		in      error
		is      error
		mention string
	}{
		{keyring.ErrNotFound, ErrNotFound, "index"},
		{dbus.Error{Name: "org.freedesktop.DBus.Error.ServiceUnknown", Body: []any{"The name org.freedesktop.secrets was not provided by any .service files"}}, ErrUnavailable, "start gnome-keyring-daemon"},
		{&dbus.Error{Name: "org.freedesktop.DBus.Error.NameHasNoOwner"}, ErrUnavailable, "--store file"},
		{errors.New("failed to unlock correct collection '/org/freedesktop/secrets/aliases/default'"), ErrUnavailable, "keyring is locked"},
		{dbus.Error{Name: "org.freedesktop.Secret.Error.IsLocked"}, ErrUnavailable, "keyring is locked"},
		{errors.New("dbus: couldn't determine address of session bus"), ErrUnavailable, "start gnome-keyring-daemon"},
		{fmt.Errorf("x: %w", dbus.ErrClosed), ErrUnavailable, "start gnome-keyring-daemon"},
	}
	for _, c := range cases {
		err := k.mapErr("index", c.in)
		if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.mention) || !strings.HasPrefix(err.Error(), "store: ") {
			t.Errorf("mapErr(%v) = %v; want %v mentioning %q", c.in, err, c.is, c.mention)
		}
	}
	if k.mapErr("x", nil) != nil {
		t.Error("mapErr(nil) != nil")
	}
}

func TestKeyringDefaultChunkOnLinux(t *testing.T) {
	keyringtest.Shared(t)
	k := NewKeyring(randomService(t))
	if k.chunk() != ItemLimit {
		t.Fatalf("default chunk %d, want ItemLimit %d", k.chunk(), ItemLimit)
	}
	big := []byte(strings.Repeat("B", 100<<10))
	if err := k.Set("idx", big); err != nil {
		t.Fatal(err)
	}
	if ItemLimit > ChunkSize {
		if _, err := k.api.Get(k.service, ChunkKey("idx", 1)); err == nil {
			t.Error("a 100 KiB item was split although the platform has no small item limit")
		}
	}
	got, err := k.Get("idx")
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("round trip: %d bytes, %v", len(got), err)
	}
}

func TestKeyringChecksumCatchesMixedChunks(t *testing.T) {
	keyringtest.Shared(t)
	k := NewKeyring(randomService(t))
	k.Chunk = ChunkSize
	big := []byte(strings.Repeat("A", 5000))
	if err := k.Set("x", big); err != nil {
		t.Fatal(err)
	}
	// An interrupted rewrite: chunk 2 from another value.
	if err := keyring.Set(k.Service(), ChunkKey("x", 2), strings.Repeat("QkJC", 512)); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Get("x"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Get of mixed chunks = %v, want ErrCorrupt", err)
	}
	if err := keyring.Delete(k.Service(), ChunkKey("x", 3)); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Get("x"); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "chunk 3 of 4 is missing") {
		t.Fatalf("Get with a missing chunk = %v", err)
	}
	if err := keyring.Set(k.Service(), "y", "plain text from another program"); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Get("y"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Get of a foreign item = %v, want ErrCorrupt", err)
	}
}
