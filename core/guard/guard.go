// Package guard keeps mailmend from locking mail accounts: it allows at most
// Limit failing logins per account in any Window, counted across every
// mailmend process on the machine.
//
// Providers lock an account after a handful of bad logins in a short time,
// so a diagnosis that retries a wrong password (or several mailmend
// processes doing so at once) could turn a broken account into a locked one.
// Before every login attempt the caller asks Allow; Allow reserves one of
// the Limit slots at once, so two processes cannot both take the last one.
// After the attempt the caller reports Failed (the slot stays used until it
// leaves the window), Succeeded (the count is cleared), or Release (the
// attempt never reached the server's authentication, so the slot is given
// back).
//
// State lives in one small JSON file per account in the directory given to
// New (attempt times, no secrets), changed only while holding an exclusive
// flock on a lock file beside it and written atomically (temporary file and
// rename). A file that cannot be read is treated as if the account had just
// used all its attempts, and the problem is reported with ErrCorrupt.
package guard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/gofrs/flock"
)

// Limit is the most failing (or unfinished) logins allowed per account in
// any Window.
const Limit = 3

// Window is the sliding period over which failures are counted.
const Window = 15 * time.Minute

// LockTimeout bounds how long a Guard call waits for another process to
// release an account's lock file.
const LockTimeout = 10 * time.Second

// lockRetry is how often a waiting call retries the flock.
const lockRetry = 5 * time.Millisecond

// fileVersion is the state file format this package reads and writes.
const fileVersion = 1

// ErrCorrupt is wrapped by the error Allow, Failed and Release return when
// an account's state file could not be read. The file is then replaced by
// one recording Limit attempts at the current time, so the account stays
// blocked for one Window and then heals by itself.
var ErrCorrupt = errors.New("guard: state file is corrupt")

// Guard counts login attempts per account in a state directory. A Guard is
// safe for concurrent use; any number of Guards (in any number of
// processes) may share one directory.
type Guard struct {
	dir string
	now func() time.Time
	mu  sync.Mutex
}

// New returns a Guard keeping its files in dir (for example
// StateDir/guard), created with mode 0700 on first use. A nil now means
// time.Now.
func New(dir string, now func() time.Time) *Guard {
	if now == nil {
		now = time.Now
	}
	return &Guard{dir: dir, now: now}
}

// Dir returns the directory the guard keeps its files in.
func (g *Guard) Dir() string { return g.dir }

// attempt is one counted login attempt. Pending means Allow reserved it and
// neither Failed nor Release has been reported yet; pending attempts count
// like failures (a process that died mid-login may have failed).
type attempt struct {
	At      time.Time `json:"at"`
	Pending bool      `json:"pending,omitempty"`
}

// state is one account's file.
type state struct {
	Version  int       `json:"version"`
	Attempts []attempt `json:"attempts"`
}

// Allow reports whether a login for accountID may be tried now. When ok is
// true one attempt has been reserved: the caller must follow with Failed,
// Succeeded or Release. When ok is false, wait is how long until the oldest
// counted attempt leaves the window (at most Window). A corrupt state file
// gives ok false, wait Window and an error wrapping ErrCorrupt; any other
// error (the directory cannot be written, the lock is not released within
// LockTimeout) gives ok false and wait 0.
func (g *Guard) Allow(accountID string) (ok bool, wait time.Duration, err error) {
	err = g.update(accountID, func(st *state, now time.Time) bool {
		if len(st.Attempts) >= Limit {
			wait = st.Attempts[len(st.Attempts)-Limit].At.Add(Window).Sub(now)
			wait = min(max(wait, time.Nanosecond), Window)
			return false
		}
		st.Attempts = append(st.Attempts, attempt{At: now, Pending: true})
		ok = true
		return true
	})
	if err != nil {
		if errors.Is(err, ErrCorrupt) {
			return false, Window, err
		}
		return false, 0, err
	}
	return ok, wait, nil
}

// Failed records that a login for accountID failed. It settles the oldest
// attempt Allow reserved (timing it now), or records a new failure when
// none is pending, so failures seen without Allow count too.
func (g *Guard) Failed(accountID string) error {
	return g.update(accountID, func(st *state, now time.Time) bool {
		for i := range st.Attempts {
			if st.Attempts[i].Pending {
				st.Attempts = slices.Delete(st.Attempts, i, i+1)
				break
			}
		}
		st.Attempts = append(st.Attempts, attempt{At: now})
		return true
	})
}

// Release gives back the oldest attempt Allow reserved for accountID: the
// login never reached the server's authentication (a connection or TLS
// error), so it cannot count against the account. Without a pending
// attempt it does nothing.
func (g *Guard) Release(accountID string) error {
	return g.update(accountID, func(st *state, now time.Time) bool {
		for i := range st.Attempts {
			if st.Attempts[i].Pending {
				st.Attempts = slices.Delete(st.Attempts, i, i+1)
				return true
			}
		}
		return false
	})
}

// Succeeded records that a login for accountID worked: every counted
// attempt is cleared, including a corrupt file's.
func (g *Guard) Succeeded(accountID string) error {
	return g.withLock(accountID, func(path string) error {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return g.write(path, &state{Version: fileVersion})
	})
}

// Count returns how many attempts (failed or reserved) for accountID are in
// the current window. It changes nothing.
func (g *Guard) Count(accountID string) (int, error) {
	var n int
	err := g.withLock(accountID, func(path string) error {
		st, err := g.read(path)
		if err != nil {
			return err
		}
		st.prune(g.now(), Window)
		n = len(st.Attempts)
		return nil
	})
	return n, err
}

// update loads the account's state under the lock, drops attempts outside
// the window and calls fn; the state is written back when fn returns true.
// A corrupt file is replaced by a full one before fn runs and the returned
// error wraps ErrCorrupt.
func (g *Guard) update(accountID string, fn func(st *state, now time.Time) bool) error {
	return g.withLock(accountID, func(path string) error {
		now := g.now()
		st, err := g.read(path)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				return err
			}
			st = full(now)
			if werr := g.write(path, st); werr != nil {
				return errors.Join(err, werr)
			}
			fn(st, now)
			return err
		}
		st.prune(now, Window)
		if fn(st, now) {
			return g.write(path, st)
		}
		return nil
	})
}

// full returns a state with Limit failures at now.
func full(now time.Time) *state {
	st := &state{Version: fileVersion}
	for range Limit {
		st.Attempts = append(st.Attempts, attempt{At: now})
	}
	return st
}

// prune drops attempts older than the window. An attempt dated in the
// future (the clock went back) is kept and treated as made now, so a clock
// change never frees slots early.
func (st *state) prune(now time.Time, window time.Duration) {
	kept := st.Attempts[:0]
	for _, a := range st.Attempts {
		if a.At.After(now) {
			a.At = now
		}
		if now.Sub(a.At) < window {
			kept = append(kept, a)
		}
	}
	st.Attempts = kept
	slices.SortStableFunc(st.Attempts, func(a, b attempt) int { return a.At.Compare(b.At) })
}

// read loads a state file; a missing file is an empty state.
func (g *Guard) read(path string) (*state, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &state{Version: fileVersion}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("guard: read %s: %w", path, err)
	}
	var st state
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("%w: %s is not valid JSON (%v); counting the account as having used all %d attempts", ErrCorrupt, path, err, Limit)
	}
	if st.Version != fileVersion {
		return nil, fmt.Errorf("%w: %s has version %d, want %d; counting the account as having used all %d attempts", ErrCorrupt, path, st.Version, fileVersion, Limit)
	}
	for _, a := range st.Attempts {
		if a.At.IsZero() {
			return nil, fmt.Errorf("%w: %s has an attempt without a time; counting the account as having used all %d attempts", ErrCorrupt, path, Limit)
		}
	}
	return &st, nil
}

// write replaces the state file atomically.
func (g *Guard) write(path string, st *state) error {
	st.Version = fileVersion
	if st.Attempts == nil {
		st.Attempts = []attempt{}
	}
	raw, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("guard: encode state: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".guard-*.tmp")
	if err != nil {
		return fmt.Errorf("guard: write state: %w", err)
	}
	_, werr := tmp.Write(raw)
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("guard: write state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("guard: write state: %w", err)
	}
	return nil
}

// withLock runs fn with the account's state file path while holding the
// in-process mutex and the account's cross-process flock.
func (g *Guard) withLock(accountID string, fn func(path string) error) error {
	if accountID == "" {
		return errors.New("guard: empty account id")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := os.MkdirAll(g.dir, 0o700); err != nil {
		return fmt.Errorf("guard: state directory: %w", err)
	}
	name := fileName(accountID)
	fl := flock.New(filepath.Join(g.dir, name+".lock"), flock.SetFlag(os.O_CREATE|os.O_RDWR), flock.SetPermissions(0o600))
	ctx, cancel := context.WithTimeout(context.Background(), LockTimeout)
	defer cancel()
	ok, err := fl.TryLockContext(ctx, lockRetry)
	if err != nil || !ok {
		_ = fl.Close()
		if err == nil {
			err = errors.New("not acquired")
		}
		return fmt.Errorf("guard: lock %s (held by another mailmend process?): %w", fl.Path(), err)
	}
	defer func() { _ = fl.Close() }()
	return fn(filepath.Join(g.dir, name+".json"))
}

// plainID matches account ids that are safe as file names as they are
// (store ids are lower-case base32).
func plainID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// fileName returns the base file name for accountID: the id itself when it
// is plain, else a hash of it (addresses and odd ids never form paths).
func fileName(accountID string) string {
	if plainID(accountID) {
		return accountID
	}
	sum := sha256.Sum256([]byte(accountID))
	return "h-" + hex.EncodeToString(sum[:12])
}
