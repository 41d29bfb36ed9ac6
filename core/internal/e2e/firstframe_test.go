package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/internal/keyringtest"
	"github.com/mailmend/mailmend/core/store"
)

// seedIndex writes an index of n accounts straight into the keyring, as
// n `mailmend add` runs would have left it.
func seedIndex(t testing.TB, n int) {
	t.Helper()
	accts := make([]account.Account, n)
	for i := range accts {
		accts[i] = account.Account{
			ID: fmt.Sprintf("acct%06d", i), Email: fmt.Sprintf("user%04d@corp.example", i), Provider: "generic",
			Auth: account.Password, Status: account.Healthy,
			IMAP:   account.Endpoint{Host: "mail.corp.example", Port: 993, Security: account.TLS},
			SMTP:   account.Endpoint{Host: "mail.corp.example", Port: 465, Security: account.TLS},
			LastOK: time.Now().Add(-time.Duration(i) * time.Minute).UTC(),
		}
	}
	raw, err := json.Marshal(map[string]any{"version": store.IndexVersion, "accounts": accts})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.NewKeyring(store.DefaultService).Set(store.IndexKey, raw); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.NewKeyring(store.DefaultService).Delete(store.IndexKey) })
}

// firstFrame starts `mailmend` (the TUI over the keyring) on a
// pseudo-terminal and returns how long it took until the account list was
// drawn with its first account.
func firstFrame(t testing.TB, bin string, env []string, want string) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = env
	start := time.Now()
	master, err := startInPTY(cmd, 120, 40)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait(); master.Close() }()
	var seen []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := master.Read(buf)
		seen = append(seen, buf[:n]...)
		if bytes.Contains(seen, []byte(want)) {
			return time.Since(start)
		}
		if err != nil {
			t.Fatalf("mailmend ended before drawing %q: %v\nout: %q", want, err, seen)
		}
	}
}

func runFloor(t testing.TB, floor string, env []string) time.Duration {
	t.Helper()
	cmd := exec.Command(floor, store.DefaultService, store.IndexKey)
	cmd.Env = env
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("floor: %v %s", err, out)
	}
	return time.Since(start)
}

// BenchmarkFirstFrame1000 measures the time from starting `mailmend` to
// its first frame listing accounts, with 1,000 accounts in the real
// gnome-keyring, against the floor of a minimal Go program reading one
// keyring item (the same index), both as whole processes. Reported:
// ms-first-frame, ms-floor and their ratio x-floor (goal: at most 1.5).
func BenchmarkFirstFrame1000(b *testing.B) {
	kr := keyringtest.Shared(b)
	seedIndex(b, 1000)
	bin := mailmendBin(b)
	floor := filepath.Join(b.TempDir(), "floor")
	if out, err := exec.Command("go", "build", "-o", floor, "./testdata/floor").CombinedOutput(); err != nil {
		b.Fatalf("building the floor: %v %s", err, out)
	}
	h := newHomeTB(b, append(kr.Env(), "TERM=xterm-256color", "NO_COLOR=1")...)
	floorEnv := append(os.Environ(), kr.Env()...)
	// Warm both once (page cache, keyring daemon).
	firstFrame(b, bin, h.env, "user0000@corp.example")
	runFloor(b, floor, floorEnv)
	var ff, fl time.Duration
	b.ResetTimer()
	for range b.N {
		ff += firstFrame(b, bin, h.env, "user0000@corp.example")
		fl += runFloor(b, floor, floorEnv)
	}
	b.ReportMetric(float64(ff.Microseconds())/float64(b.N)/1000, "ms-first-frame")
	b.ReportMetric(float64(fl.Microseconds())/float64(b.N)/1000, "ms-floor")
	b.ReportMetric(float64(ff)/float64(fl), "x-floor")
}

// TestFirstFrameLists1000: the TUI over a keyring of 1,000 accounts draws
// its list (the benchmark's premise, checked in every test run).
func TestFirstFrameLists1000(t *testing.T) {
	kr := keyringtest.Shared(t)
	seedIndex(t, 1000)
	h := newHome(t, append(kr.Env(), "TERM=xterm-256color", "NO_COLOR=1")...)
	d := firstFrame(t, mailmendBin(t), h.env, "user0000@corp.example")
	t.Logf("first frame with 1,000 accounts after %s", d.Round(time.Millisecond))
}
