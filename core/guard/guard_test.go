package guard

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func mustAllow(t *testing.T, g *Guard, id string) {
	t.Helper()
	ok, wait, err := g.Allow(id)
	if err != nil || !ok || wait != 0 {
		t.Fatalf("Allow(%s) = %v, %v, %v; want true, 0, nil", id, ok, wait, err)
	}
}

func failOnce(t *testing.T, g *Guard, id string) {
	t.Helper()
	mustAllow(t, g, id)
	if err := g.Failed(id); err != nil {
		t.Fatal(err)
	}
}

func TestThreeFailuresThenBlocked(t *testing.T) {
	c := newClock()
	g := New(t.TempDir(), c.now)
	failOnce(t, g, "acct1")
	c.add(time.Minute)
	failOnce(t, g, "acct1")
	c.add(2 * time.Minute)
	failOnce(t, g, "acct1")
	c.add(30 * time.Second)
	ok, wait, err := g.Allow("acct1")
	if err != nil || ok {
		t.Fatalf("4th Allow = %v, %v, %v; want blocked", ok, wait, err)
	}
	// The first failure was 3m30s ago: it leaves the window in 11m30s.
	if want := 11*time.Minute + 30*time.Second; wait != want {
		t.Fatalf("wait = %v, want %v", wait, want)
	}
	// Another account is not affected.
	mustAllow(t, g, "acct2")
	if n, _ := g.Count("acct1"); n != Limit {
		t.Fatalf("Count = %d, want %d", n, Limit)
	}
}

func TestWindowSlides(t *testing.T) {
	c := newClock()
	g := New(t.TempDir(), c.now)
	failOnce(t, g, "a")
	c.add(5 * time.Minute)
	failOnce(t, g, "a")
	c.add(5 * time.Minute)
	failOnce(t, g, "a")
	// 10 minutes after the first: blocked for 5 more.
	if ok, wait, _ := g.Allow("a"); ok || wait != 5*time.Minute {
		t.Fatalf("Allow = %v, %v; want false, 5m", ok, wait)
	}
	c.add(5*time.Minute - time.Second)
	if ok, wait, _ := g.Allow("a"); ok || wait != time.Second {
		t.Fatalf("Allow 1s before = %v, %v; want false, 1s", ok, wait)
	}
	c.add(time.Second)
	// The first failure left the window: exactly one slot is free.
	failOnce(t, g, "a")
	if ok, wait, _ := g.Allow("a"); ok || wait != 5*time.Minute {
		t.Fatalf("Allow after refill = %v, %v; want false, 5m (second failure leaves next)", ok, wait)
	}
}

func TestSuccessClears(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	g := New(dir, c.now)
	failOnce(t, g, "a")
	failOnce(t, g, "a")
	mustAllow(t, g, "a")
	if err := g.Succeeded("a"); err != nil {
		t.Fatal(err)
	}
	if n, err := g.Count("a"); err != nil || n != 0 {
		t.Fatalf("Count after success = %d, %v", n, err)
	}
	for range Limit {
		failOnce(t, g, "a")
	}
	// Succeeded on an unknown account writes nothing.
	if err := g.Succeeded("never"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "never.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Succeeded on a fresh account wrote a file: %v", err)
	}
}

func TestReservationCountsUntilReleased(t *testing.T) {
	c := newClock()
	g := New(t.TempDir(), c.now)
	// Three reservations without outcome block a fourth: a process that
	// died mid-login may have failed.
	for range Limit {
		mustAllow(t, g, "a")
	}
	if ok, _, _ := g.Allow("a"); ok {
		t.Fatal("fourth Allow with three pending attempts was allowed")
	}
	// Release gives one back.
	if err := g.Release("a"); err != nil {
		t.Fatal(err)
	}
	mustAllow(t, g, "a")
	// Failed without a pending attempt still counts.
	g2 := New(t.TempDir(), c.now)
	for range Limit {
		if err := g2.Failed("b"); err != nil {
			t.Fatal(err)
		}
	}
	if ok, wait, _ := g2.Allow("b"); ok || wait != Window {
		t.Fatalf("Allow after 3 bare failures = %v, %v", ok, wait)
	}
	// Release without a pending attempt frees nothing.
	if err := g2.Release("b"); err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := g2.Allow("b"); ok {
		t.Fatal("Release freed a settled failure")
	}
}

func TestClockGoingBackDoesNotFreeSlots(t *testing.T) {
	c := newClock()
	g := New(t.TempDir(), c.now)
	for range Limit {
		failOnce(t, g, "a")
	}
	c.add(-time.Hour)
	if ok, wait, _ := g.Allow("a"); ok || wait <= 0 || wait > Window {
		t.Fatalf("Allow after clock went back = %v, %v", ok, wait)
	}
}

func TestCorruptFile(t *testing.T) {
	for name, content := range map[string]string{
		"garbage":  "{not json",
		"version":  `{"version":7,"attempts":[]}`,
		"zerotime": `{"version":1,"attempts":[{"at":"0001-01-01T00:00:00Z"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			c := newClock()
			dir := t.TempDir()
			g := New(dir, c.now)
			if err := os.WriteFile(filepath.Join(dir, "a.json"), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			ok, wait, err := g.Allow("a")
			if ok || wait != Window || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Allow on corrupt file = %v, %v, %v; want false, %v, ErrCorrupt", ok, wait, err, Window)
			}
			if !strings.HasPrefix(err.Error(), "guard: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			// Reported once; afterwards it is an ordinary full window.
			ok, wait, err = g.Allow("a")
			if ok || wait != Window || err != nil {
				t.Fatalf("second Allow = %v, %v, %v", ok, wait, err)
			}
			c.add(Window)
			mustAllow(t, g, "a")
		})
	}
	// A success heals a corrupt file at once.
	c := newClock()
	dir := t.TempDir()
	g := New(dir, c.now)
	if err := os.WriteFile(filepath.Join(dir, "a.json"), []byte("\x00\x01"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := g.Succeeded("a"); err != nil {
		t.Fatal(err)
	}
	mustAllow(t, g, "a")
}

func TestOddAccountIDsStayInDir(t *testing.T) {
	dir := t.TempDir()
	g := New(dir, newClock().now)
	for _, id := range []string{"../escape", "User@Example.com", "a/b", strings.Repeat("x", 200)} {
		failOnce(t, g, id)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() || strings.ContainsAny(e.Name(), "/@") {
			t.Fatalf("unexpected entry %q", e.Name())
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "escape.json")); err == nil {
		t.Fatal("an id escaped the state directory")
	}
	if _, _, err := g.Allow(""); err == nil {
		t.Fatal("empty account id accepted")
	}
}

func TestConcurrentGoroutines(t *testing.T) {
	g := New(t.TempDir(), nil)
	var mu sync.Mutex
	allowed := 0
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			// A separate Guard per goroutine: only the file lock serialises.
			g := New(g.Dir(), nil)
			ok, _, err := g.Allow("shared")
			if err != nil {
				t.Error(err)
				return
			}
			if ok {
				mu.Lock()
				allowed++
				mu.Unlock()
				if err := g.Failed("shared"); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if allowed != Limit {
		t.Fatalf("%d goroutines were allowed, want %d", allowed, Limit)
	}
}

const childEnv = "MAILMEND_GUARD_CHILD_DIR"

// TestChildProcess is the body of the processes TestAcrossProcesses starts;
// run directly it does nothing.
func TestChildProcess(t *testing.T) {
	dir := os.Getenv(childEnv)
	if dir == "" {
		t.Skip("only runs as a child of TestAcrossProcesses")
	}
	// Start together: wait for the go file the parent creates.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			fmt.Println("RESULT timeout")
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	g := New(filepath.Join(dir, "guard"), nil)
	ok, _, err := g.Allow("acct")
	if err != nil {
		fmt.Println("RESULT error", err)
		return
	}
	if ok {
		time.Sleep(20 * time.Millisecond) // the "login"
		if err := g.Failed("acct"); err != nil {
			fmt.Println("RESULT error", err)
			return
		}
		fmt.Println("RESULT allowed")
		return
	}
	fmt.Println("RESULT blocked")
}

func TestAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	const n = 5
	outs := make([]strings.Builder, n)
	cmds := make([]*exec.Cmd, n)
	for i := range n {
		cmd := exec.Command(os.Args[0], "-test.run=^TestChildProcess$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), childEnv+"="+dir)
		cmd.Stdout = &outs[i]
		cmd.Stderr = &outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v\n%s", i, err, outs[i].String())
		}
		res := ""
		for line := range strings.Lines(outs[i].String()) {
			if r, ok := strings.CutPrefix(strings.TrimSpace(line), "RESULT "); ok {
				res = r
			}
		}
		counts[res]++
	}
	if counts["allowed"] != Limit || counts["blocked"] != n-Limit {
		t.Fatalf("results %v; want %d allowed and %d blocked", counts, Limit, n-Limit)
	}
	if c, err := New(filepath.Join(dir, "guard"), nil).Count("acct"); err != nil || c != Limit {
		t.Fatalf("Count = %d, %v; want %d", c, err, Limit)
	}
}
