package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestTxEndsAndNestingIsBounded(t *testing.T) {
	s := New(NewMemory(), filepath.Join(t.TempDir(), "lock"))
	var kept *Tx
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Tx(ctx, func(tx *Tx) error {
		kept = tx
		// Calling the Store from inside its own Tx waits for the Tx: it
		// must give up when the context ends instead of hanging.
		_, err := s.List(ctx)
		return err
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("nested call = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("nested call took %s", d)
	}
	if _, err := kept.List(context.Background()); err == nil {
		t.Fatal("Tx usable after it ended")
	}
	if _, err := s.List(context.Background()); err != nil {
		t.Fatalf("store unusable after the nested call: %v", err)
	}
}

func TestTxWaitsForLockUntilContextEnds(t *testing.T) {
	lock := filepath.Join(t.TempDir(), "lock")
	m := NewMemory()
	s1, s2 := New(m, lock), New(m, lock)
	held := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s1.Tx(context.Background(), func(*Tx) error { close(held); <-release; return nil })
	}()
	<-held
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := s2.List(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), lock) {
		t.Fatalf("List while another Store holds the lock = %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := s2.List(context.Background()); err != nil {
		t.Fatalf("List after release = %v", err)
	}
}

// TestTxAcrossProcesses runs read-modify-write increments from this
// process and a child process on one file store at once; none may be lost.
func TestTxAcrossProcesses(t *testing.T) {
	const rounds = 6
	if dir := os.Getenv(childEnv + "_DIR"); os.Getenv(childEnv) == "increment" {
		path := filepath.Join(dir, "accounts.age")
		incrementLoop(t, New(newTestFile(t, path, "pw"), path+".lock"), os.Getenv(childEnv+"_ID"), rounds)
		return
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "accounts.age")
	s := New(newTestFile(t, path, "pw"), path+".lock")
	ctx := testCtx(t)
	a, err := s.Save(ctx, sampleAccount("nia@example.org"), &Secret{Token: &Token{RefreshToken: "0"}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var out string
	var childErr error
	wg.Go(func() {
		out, childErr = runChild(t, "TestTxAcrossProcesses", 60*time.Second,
			childEnv+"=increment", childEnv+"_DIR="+dir, childEnv+"_ID="+a.ID)
	})
	incrementLoop(t, s, a.ID, rounds)
	wg.Wait()
	if childErr != nil || !strings.Contains(out, "PASS") {
		t.Fatalf("child: %v\n%s", childErr, out)
	}
	sec, err := s.Secret(ctx, a.ID)
	if err != nil || sec.Token.RefreshToken != fmt.Sprint(2*rounds) {
		t.Fatalf("counter = %v, %v; want %d", sec.Token, err, 2*rounds)
	}
}

func incrementLoop(t *testing.T, s *Store, id string, rounds int) {
	ctx := testCtx(t)
	for range rounds {
		err := s.Tx(ctx, func(tx *Tx) error {
			sec, err := tx.Secret(ctx, id)
			if err != nil {
				return err
			}
			var n int
			fmt.Sscan(sec.Token.RefreshToken, &n)
			time.Sleep(10 * time.Millisecond)
			return tx.SetSecret(ctx, id, Secret{Token: &Token{RefreshToken: fmt.Sprint(n + 1)}})
		})
		if err != nil {
			t.Error(err)
			return
		}
	}
}

func TestOpen(t *testing.T) {
	_, err := Open("vault", OpenOptions{})
	if err == nil || !strings.Contains(err.Error(), "keyring, file, memory") {
		t.Fatalf("Open(unknown) = %v, want the valid kinds listed", err)
	}
	s, err := Open("memory", OpenOptions{})
	if err != nil || s.Backend().Name() != "memory" || s.LockPath() != "" {
		t.Fatalf("Open(memory) = %v, %v", s, err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "x", "accounts.age")
	asked := 0
	s, err = Open("file", OpenOptions{FilePath: path, ScryptWorkFactor: testWorkFactor, Passphrase: func() (string, error) { asked++; return "pw", nil }})
	if err != nil || s.Backend().Name() != "file" || s.LockPath() != path+".lock" || asked != 1 {
		t.Fatalf("Open(file) = %v, %v (asked %d)", s, err, asked)
	}
	if _, err := s.Save(testCtx(t), sampleAccount("oz@example.org"), &Secret{Password: "p"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("file store not written: %v", err)
	}
	if _, err := Open("file", OpenOptions{FilePath: path}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Open(file) without passphrase = %v", err)
	}
	if _, err := Open("file", OpenOptions{FilePath: path, Passphrase: func() (string, error) { return "", errors.New("no tty") }}); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "no tty") {
		t.Fatalf("Open(file) with failing passphrase = %v", err)
	}
	if _, err := Open("file", OpenOptions{FilePath: path, Passphrase: func() (string, error) { return "", nil }}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Open(file) with empty passphrase = %v", err)
	}
	t.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "cache"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	s, err = Open("keyring", OpenOptions{KeyringTimeout: time.Second})
	if err != nil || s.Backend().Name() != "keyring" || s.LockPath() != filepath.Join(dir, "cache", "mailmend", "store.lock") {
		t.Fatalf("Open(keyring) = %+v, %v", s, err)
	}
	if k := s.Backend().(*Keyring); k.Service() != DefaultService || k.Timeout != time.Second {
		t.Fatalf("keyring service %q timeout %s", k.Service(), k.Timeout)
	}
	if p, err := DefaultFilePath(); err != nil || p != filepath.Join(dir, "data", "mailmend", "accounts.age") {
		t.Fatalf("DefaultFilePath = %q, %v", p, err)
	}
}
