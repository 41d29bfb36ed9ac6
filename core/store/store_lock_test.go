package store

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func TestLockAccount(t *testing.T) {
	s := New(NewMemory(), t.TempDir()+"/store.lock")
	ctx := context.Background()
	var inside, most atomic.Int32
	done := make(chan struct{})
	for range 4 {
		go func() {
			unlock, err := s.LockAccount(ctx, "acc1")
			if err != nil {
				t.Error(err)
				return
			}
			n := inside.Add(1)
			if n > most.Load() {
				most.Store(n)
			}
			time.Sleep(20 * time.Millisecond)
			inside.Add(-1)
			unlock()
			done <- struct{}{}
		}()
	}
	for range 4 {
		<-done
	}
	if most.Load() != 1 {
		t.Errorf("%d holders of one account's lock at once", most.Load())
	}
	// Another account's lock and the store-wide lock are free meanwhile.
	unlock, err := s.LockAccount(ctx, "acc1")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	u2, err := s.LockAccount(short, "acc2")
	if err != nil {
		t.Fatalf("acc2 blocked by acc1: %v", err)
	}
	u2()
	if err := s.Tx(short, func(*Tx) error { return nil }); err != nil {
		t.Fatalf("store lock blocked by an account lock: %v", err)
	}
	// The same account waits, and gives up with ctx.
	blocked, cancel2 := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel2()
	if _, err := s.LockAccount(blocked, "acc1"); err == nil {
		t.Fatal("a second holder got acc1's lock")
	}
}
