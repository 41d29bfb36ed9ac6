package store

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"

	"github.com/mailmend/mailmend/core/account"
)

// Item keys used by Store.
const (
	// IndexKey is the item holding the account index (no secrets).
	IndexKey = "index"
	// secretPrefix + account id is the item holding that account's secret.
	secretPrefix = "secret:"
)

// IndexVersion is the index format this package reads and writes.
const IndexVersion = 1

// lockRetry is how often a waiting Tx retries the cross-process lock.
const lockRetry = 10 * time.Millisecond

// SecretKey returns the item key of the secret of the account with id.
func SecretKey(id string) string { return secretPrefix + id }

// Store keeps accounts (in one index item) and their secrets (one item per
// account) in a Backend. Every operation runs as a transaction (see Tx):
// under an in-process mutex and, when the Store has a lock path, an
// exclusive flock on that file, so processes sharing the lock file never
// interleave their read-modify-write cycles.
//
// A Store is safe for concurrent use. Its methods must not be called from
// inside a Tx function (use the *Tx given to it): that waits for the Tx to
// end and so blocks until the context is done.
type Store struct {
	b        Backend
	lockPath string
	sem      chan struct{}

	accMu    sync.Mutex
	accLocks map[string]chan struct{} // per-account in-process locks
}

var _ Accounts = (*Store)(nil)
var _ Accounts = (*Tx)(nil)

// New returns a Store over b. lockPath is the cross-process lock file
// (created with mode 0600, its directory with 0700); an empty lockPath
// means only the in-process mutex serialises access, which suits a memory
// backend.
func New(b Backend, lockPath string) *Store {
	return &Store{b: b, lockPath: lockPath, sem: make(chan struct{}, 1)}
}

// Backend returns the backend the store writes to.
func (s *Store) Backend() Backend { return s.b }

// LockPath returns the cross-process lock file, or "" when there is none.
func (s *Store) LockPath() string { return s.lockPath }

// Tx runs fn while holding the store's in-process mutex and cross-process
// lock, so that fn can read, change and write accounts and secrets with no
// other writer in between (token refresh: re-read the secret, refresh, save
// the rotated token). Waiting for the lock ends when ctx is done. The *Tx
// is valid only until fn returns; fn must not call the Store's own methods.
// Tx returns fn's error, or the error that kept it from running fn.
func (s *Store) Tx(ctx context.Context, fn func(tx *Tx) error) error {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("store: waiting for the store: %w", ctx.Err())
	}
	defer func() { <-s.sem }()
	if s.lockPath != "" {
		unlock, err := lockFile(ctx, s.lockPath)
		if err != nil {
			return err
		}
		defer unlock()
	}
	tx := &Tx{b: s.b}
	defer func() { tx.over = true }()
	return fn(tx)
}

// LockAccount takes the account's own lock, in process and across
// processes (a lock file beside the store's, named after the id), and
// returns the function that releases it. It serialises the slow work on
// one account's secret, such as a token refresh over the network, without
// holding the store-wide lock meanwhile: take LockAccount first, then use
// short Tx calls inside it. Waiting ends when ctx is done.
func (s *Store) LockAccount(ctx context.Context, id string) (func(), error) {
	s.accMu.Lock()
	if s.accLocks == nil {
		s.accLocks = map[string]chan struct{}{}
	}
	ch := s.accLocks[id]
	if ch == nil {
		ch = make(chan struct{}, 1)
		s.accLocks[id] = ch
	}
	s.accMu.Unlock()
	select {
	case ch <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("store: waiting for account %s: %w", id, ctx.Err())
	}
	if s.lockPath == "" {
		return func() { <-ch }, nil
	}
	unlock, err := lockFile(ctx, s.lockPath+"."+safeLockName(id))
	if err != nil {
		<-ch
		return nil, err
	}
	return func() { unlock(); <-ch }, nil
}

// safeLockName keeps ids usable as file name parts.
func safeLockName(id string) string {
	b := []byte(id)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// lockFile takes an exclusive flock on path, waiting until ctx is done.
func lockFile(ctx context.Context, path string) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: lock directory: %w", err)
	}
	fl := flock.New(path, flock.SetFlag(os.O_CREATE|os.O_RDWR), flock.SetPermissions(0o600))
	ok, err := fl.TryLockContext(ctx, lockRetry)
	if err != nil {
		_ = fl.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("store: waiting for lock %s (held by another mailmend process?): %w", path, ctx.Err())
		}
		return nil, fmt.Errorf("store: lock %s: %w", path, err)
	}
	if !ok {
		_ = fl.Close()
		return nil, fmt.Errorf("store: could not take lock %s", path)
	}
	return func() { _ = fl.Unlock() }, nil
}

// List returns every account in index order.
func (s *Store) List(ctx context.Context) (out []account.Account, err error) {
	err = s.Tx(ctx, func(tx *Tx) error { out, err = tx.List(ctx); return err })
	return out, err
}

// Find returns the account whose id or email (case-insensitive) is ref.
func (s *Store) Find(ctx context.Context, ref string) (out account.Account, err error) {
	err = s.Tx(ctx, func(tx *Tx) error { out, err = tx.Find(ctx, ref); return err })
	return out, err
}

// Secret returns the secret of the account with id.
func (s *Store) Secret(ctx context.Context, id string) (out Secret, err error) {
	err = s.Tx(ctx, func(tx *Tx) error { out, err = tx.Secret(ctx, id); return err })
	return out, err
}

// Save adds or replaces an account; see Tx.Save.
func (s *Store) Save(ctx context.Context, a account.Account, sec *Secret) (out account.Account, err error) {
	err = s.Tx(ctx, func(tx *Tx) error { out, err = tx.Save(ctx, a, sec); return err })
	return out, err
}

// Update changes the account with id in place; see Tx.Update.
func (s *Store) Update(ctx context.Context, id string, fn func(*account.Account) error) (out account.Account, err error) {
	err = s.Tx(ctx, func(tx *Tx) error { out, err = tx.Update(ctx, id, fn); return err })
	return out, err
}

// SetSecret replaces the secret of the account with id; see Tx.SetSecret.
func (s *Store) SetSecret(ctx context.Context, id string, sec Secret) error {
	return s.Tx(ctx, func(tx *Tx) error { return tx.SetSecret(ctx, id, sec) })
}

// Remove deletes the account with id and its secret; see Tx.Remove.
func (s *Store) Remove(ctx context.Context, id string) error {
	return s.Tx(ctx, func(tx *Tx) error { return tx.Remove(ctx, id) })
}

// Tx is the view of a Store inside Store.Tx: the same reads and writes,
// run without taking the lock again. It is valid only until the function
// given to Store.Tx returns; afterwards every method fails.
type Tx struct {
	b    Backend
	over bool
}

var errTxOver = errors.New("store: transaction used after it ended")

func (tx *Tx) check(ctx context.Context) error {
	if tx.over {
		return errTxOver
	}
	return ctx.Err()
}

// index is the decoded index item.
type index struct {
	Version  int               `json:"version"`
	Accounts []account.Account `json:"accounts"`
}

// readIndex reads and checks the index; a missing index is empty.
func (tx *Tx) readIndex() (*index, error) {
	raw, err := tx.b.Get(IndexKey)
	if errors.Is(err, ErrNotFound) {
		return &index{Version: IndexVersion}, nil
	}
	if err != nil {
		return nil, err
	}
	return parseIndex(raw, tx.b.Name())
}

func parseIndex(raw []byte, where string) (*index, error) {
	// One pass: the version is checked before the accounts are decoded.
	var doc struct {
		Version  *int            `json:"version"`
		Accounts json.RawMessage `json:"accounts"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, corrupt(err, "store: the account index in the %s store is not valid JSON (%v); it was left untouched", where, err)
	}
	if doc.Version == nil {
		return nil, corrupt(nil, "store: the account index in the %s store has no version; it was left untouched", where)
	}
	if *doc.Version != IndexVersion {
		return nil, corrupt(nil, "store: the account index in the %s store has version %d; this mailmend reads version %d (a newer mailmend wrote it?); it was left untouched", where, *doc.Version, IndexVersion)
	}
	idx := index{Version: *doc.Version}
	if len(doc.Accounts) > 0 && string(doc.Accounts) != "null" {
		if err := json.Unmarshal(doc.Accounts, &idx.Accounts); err != nil {
			return nil, corrupt(err, "store: the account index in the %s store cannot be read (%v); it was left untouched", where, err)
		}
	}
	seen := make(map[string]bool, len(idx.Accounts))
	for i, a := range idx.Accounts {
		if a.ID == "" || seen[a.ID] {
			return nil, corrupt(nil, "store: the account index in the %s store has a missing or repeated id at entry %d; it was left untouched", where, i)
		}
		seen[a.ID] = true
	}
	return &idx, nil
}

func (tx *Tx) writeIndex(idx *index) error {
	idx.Version = IndexVersion
	if idx.Accounts == nil {
		idx.Accounts = []account.Account{}
	}
	raw, err := json.Marshal(idx)
	if err != nil {
		return fmt.Errorf("store: encode index: %w", err)
	}
	return tx.b.Set(IndexKey, raw)
}

func (idx *index) byID(id string) int {
	for i, a := range idx.Accounts {
		if a.ID == id {
			return i
		}
	}
	return -1
}

func (idx *index) byEmail(email string) int {
	for i, a := range idx.Accounts {
		if account.SameEmail(a.Email, email) {
			return i
		}
	}
	return -1
}

// List returns every account in index order; a missing index is an empty
// list, an unreadable one an error wrapping ErrCorrupt.
func (tx *Tx) List(ctx context.Context) ([]account.Account, error) {
	if err := tx.check(ctx); err != nil {
		return nil, err
	}
	idx, err := tx.readIndex()
	if err != nil {
		return nil, err
	}
	return append([]account.Account{}, idx.Accounts...), nil
}

// Find returns the account whose id is ref, or else whose email address
// is ref (case-insensitive), or an error wrapping ErrNotFound.
func (tx *Tx) Find(ctx context.Context, ref string) (account.Account, error) {
	if err := tx.check(ctx); err != nil {
		return account.Account{}, err
	}
	idx, err := tx.readIndex()
	if err != nil {
		return account.Account{}, err
	}
	ref = strings.TrimSpace(ref)
	i := idx.byID(ref)
	if i < 0 {
		i = idx.byEmail(ref)
	}
	if i < 0 || ref == "" {
		return account.Account{}, notFound("store: no account %q: %v", ref, ErrNotFound)
	}
	return idx.Accounts[i], nil
}

// Secret returns the secret of the account with id, or an error wrapping
// ErrNotFound when none is stored.
func (tx *Tx) Secret(ctx context.Context, id string) (Secret, error) {
	if err := tx.check(ctx); err != nil {
		return Secret{}, err
	}
	raw, err := tx.b.Get(SecretKey(id))
	if errors.Is(err, ErrNotFound) {
		return Secret{}, notFound("store: no secret stored for account %q: %v", id, ErrNotFound)
	}
	if err != nil {
		return Secret{}, err
	}
	defer clear(raw)
	var sec Secret
	if err := json.Unmarshal(raw, &sec); err != nil {
		// The JSON error could quote the secret; leave it out.
		return Secret{}, corrupt(nil, "store: the secret of account %q cannot be read", id)
	}
	return sec, nil
}

// Save adds an account or replaces the one with the same email address
// (case-insensitive), and returns it as stored. An existing account keeps
// its id, and its secret when sec is nil; a new account gets a new random
// id (a.ID is ignored). The status defaults to unchecked. The secret is
// written before the index, so the index never names an account whose new
// secret was not stored. An invalid account, an empty *sec, or an index
// that cannot be read (ErrCorrupt) is refused without writing anything.
func (tx *Tx) Save(ctx context.Context, a account.Account, sec *Secret) (account.Account, error) {
	if err := tx.check(ctx); err != nil {
		return account.Account{}, err
	}
	a.Email = strings.TrimSpace(a.Email)
	if err := Validate(a); err != nil {
		return account.Account{}, err
	}
	if sec != nil && sec.IsZero() {
		return account.Account{}, errors.New("store: refusing to save an empty secret")
	}
	idx, err := tx.readIndex()
	if err != nil {
		return account.Account{}, err
	}
	i := idx.byEmail(a.Email)
	if i >= 0 {
		a.ID = idx.Accounts[i].ID
	} else {
		if a.ID, err = newID(idx); err != nil {
			return account.Account{}, err
		}
	}
	if a.Status == "" {
		a.Status = account.Unchecked
	}
	if sec != nil {
		if err := tx.writeSecret(a.ID, *sec); err != nil {
			return account.Account{}, err
		}
	}
	if i >= 0 {
		idx.Accounts[i] = a
	} else {
		idx.Accounts = append(idx.Accounts, a)
	}
	if err := tx.writeIndex(idx); err != nil {
		if i < 0 && sec != nil {
			// Best effort: do not leave the new account's secret behind.
			_ = tx.b.Delete(SecretKey(a.ID))
		}
		return account.Account{}, err
	}
	return a, nil
}

// Update loads the account with id, lets fn change it and writes it back.
// fn must not change the id; a new email address must not belong to
// another account. When fn returns an error nothing is written.
func (tx *Tx) Update(ctx context.Context, id string, fn func(*account.Account) error) (account.Account, error) {
	if err := tx.check(ctx); err != nil {
		return account.Account{}, err
	}
	idx, err := tx.readIndex()
	if err != nil {
		return account.Account{}, err
	}
	i := idx.byID(id)
	if i < 0 {
		return account.Account{}, notFound("store: no account %q: %v", id, ErrNotFound)
	}
	a := idx.Accounts[i]
	if err := fn(&a); err != nil {
		return account.Account{}, err
	}
	if a.ID != id {
		return account.Account{}, fmt.Errorf("store: update of account %q may not change its id", id)
	}
	a.Email = strings.TrimSpace(a.Email)
	if err := Validate(a); err != nil {
		return account.Account{}, err
	}
	if j := idx.byEmail(a.Email); j >= 0 && j != i {
		return account.Account{}, fmt.Errorf("store: %s already belongs to account %q", a.Email, idx.Accounts[j].ID)
	}
	idx.Accounts[i] = a
	if err := tx.writeIndex(idx); err != nil {
		return account.Account{}, err
	}
	return a, nil
}

// SetSecret replaces the secret of the existing account with id. An empty
// secret is refused; an unknown id is ErrNotFound.
func (tx *Tx) SetSecret(ctx context.Context, id string, sec Secret) error {
	if err := tx.check(ctx); err != nil {
		return err
	}
	if sec.IsZero() {
		return errors.New("store: refusing to save an empty secret")
	}
	idx, err := tx.readIndex()
	if err != nil {
		return err
	}
	if idx.byID(id) < 0 {
		return notFound("store: no account %q: %v", id, ErrNotFound)
	}
	return tx.writeSecret(id, sec)
}

// Remove deletes the account with id: the index entry first, then the
// secret item, so a crash in between leaves an unreferenced secret rather
// than an account without one.
func (tx *Tx) Remove(ctx context.Context, id string) error {
	if err := tx.check(ctx); err != nil {
		return err
	}
	idx, err := tx.readIndex()
	if err != nil {
		return err
	}
	i := idx.byID(id)
	if i < 0 {
		return notFound("store: no account %q: %v", id, ErrNotFound)
	}
	idx.Accounts = append(idx.Accounts[:i:i], idx.Accounts[i+1:]...)
	if err := tx.writeIndex(idx); err != nil {
		return err
	}
	return tx.b.Delete(SecretKey(id))
}

func (tx *Tx) writeSecret(id string, sec Secret) error {
	raw, err := json.Marshal(sec)
	if err != nil {
		return errors.New("store: encode secret failed")
	}
	defer clear(raw)
	return tx.b.Set(SecretKey(id), raw)
}

// idEncoding is lower-case base32 without padding: URL- and file-safe.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// IDLength is the length of account ids made by Save.
const IDLength = 10

// newID returns a random id not used in idx.
func newID(idx *index) (string, error) {
	for range 16 {
		var b [7]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("store: random id: %w", err)
		}
		id := idEncoding.EncodeToString(b[:])[:IDLength]
		if idx.byID(id) < 0 {
			return id, nil
		}
	}
	return "", errors.New("store: could not pick an unused account id")
}

// Validate checks what Store requires of an account before saving it: a
// valid email address, a known auth method, and endpoints that are either
// unset or have a host, a port 1-65535 and a known security mode.
func Validate(a account.Account) error {
	if !account.ValidEmail(a.Email) {
		return fmt.Errorf("store: %q is not a valid email address", a.Email)
	}
	if !a.Auth.Valid() {
		return fmt.Errorf("store: account %s: unknown auth method %q (want password or oauth2)", a.Email, a.Auth)
	}
	for _, ep := range []struct {
		name string
		e    account.Endpoint
	}{{"IMAP", a.IMAP}, {"SMTP", a.SMTP}} {
		if ep.e.IsZero() {
			continue
		}
		if ep.e.Host == "" || ep.e.Port < 1 || ep.e.Port > 65535 {
			return fmt.Errorf("store: account %s: %s server %q is not a valid HOST:PORT", a.Email, ep.name, ep.e.Addr())
		}
		if !ep.e.Security.Valid() {
			return fmt.Errorf("store: account %s: %s security %q is not tls or starttls", a.Email, ep.name, ep.e.Security)
		}
	}
	return nil
}
