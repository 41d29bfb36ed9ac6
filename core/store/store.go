// Package store keeps mail accounts and their secrets in a credential store:
// the OS keyring (default), an age-encrypted file (chosen explicitly), or
// memory (demo and tests).
//
// Every backend is a flat map of named items (Backend). Store layers the
// account index, one item per secret, upsert-by-address and a cross-process
// lock on top, so the rules hold the same for every backend: listing costs one
// read of the index item; an index that cannot be parsed is reported as
// ErrCorrupt and never overwritten; every read-modify-write runs under the lock.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/mailmend/mailmend/core/account"
)

// Errors every backend and the Store return (wrapped; test with errors.Is).
var (
	// ErrNotFound means the item or account does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrUnavailable means the credential store cannot be reached or is
	// locked (no Secret Service, keyring locked, no passphrase). Exit code 3.
	ErrUnavailable = errors.New("store: credential store unavailable")
	// ErrCorrupt means the index exists but cannot be read. It is never
	// overwritten; the user must look at it. Exit code 3.
	ErrCorrupt = errors.New("store: index is corrupt")
)

// Backend is a flat store of named secret items. Implementations must be safe
// for use by one goroutine at a time per process; Store serialises access and
// takes the cross-process lock.
type Backend interface {
	// Name is a short label for messages: "keyring", "file", "memory".
	Name() string
	// Get returns the item's bytes or an error wrapping ErrNotFound.
	Get(key string) ([]byte, error)
	// Set creates or replaces the item.
	Set(key string, value []byte) error
	// Delete removes the item; deleting a missing item is not an error.
	Delete(key string) error
}

// Token is an OAuth 2.0 grant as kept in the credential store.
type Token struct {
	AccessToken  string    `json:"access_token,omitempty"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	TokenType    string    `json:"token_type,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
	Scope        string    `json:"scope,omitempty"`
}

// Secret is what one account's secret item holds: a password for password
// accounts, a token for OAuth accounts. It never appears in the index.
type Secret struct {
	Password string `json:"password,omitempty"`
	Token    *Token `json:"token,omitempty"`
}

// IsZero reports whether the secret holds nothing.
func (s Secret) IsZero() bool { return s.Password == "" && s.Token == nil }

// Accounts is the read side of a store; the TUI and doctor need no more.
type Accounts interface {
	// List returns every account in index order.
	List(ctx context.Context) ([]account.Account, error)
	// Find returns the account whose id or email address (case-insensitive)
	// is ref, or an error wrapping ErrNotFound.
	Find(ctx context.Context, ref string) (account.Account, error)
	// Secret returns the account's secret or an error wrapping ErrNotFound.
	Secret(ctx context.Context, id string) (Secret, error)
}

// Lock is a held cross-process lock; Unlock releases it.
type Lock interface{ Unlock() error }
