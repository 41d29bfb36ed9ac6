package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Kinds lists the store kinds Open accepts, default first.
var Kinds = []string{"keyring", "file", "memory"}

// OpenOptions configures Open. A zero value opens the keyring with its
// defaults; the file kind needs Passphrase.
type OpenOptions struct {
	// Service is the keyring service name; "" means DefaultService.
	Service string
	// FilePath is the encrypted file of the file kind; "" means
	// DefaultFilePath().
	FilePath string
	// Passphrase is asked once, when a file store is opened. It is not
	// called for other kinds.
	Passphrase func() (string, error)
	// LockPath is the cross-process lock file; "" means FilePath+".lock"
	// for the file kind, DefaultLockPath() for the keyring and no
	// cross-process lock for memory.
	LockPath string
	// KeyringTimeout bounds each keyring call; 0 means DefaultKeyringTimeout.
	KeyringTimeout time.Duration
	// ScryptWorkFactor is the file kind's scrypt work factor; 0 means
	// DefaultScryptWorkFactor.
	ScryptWorkFactor int
}

// Open returns a Store of the given kind ("keyring", "file" or "memory").
// It does not touch the backend yet: an unreachable keyring or a wrong
// passphrase shows on the first read, as ErrUnavailable. An unknown kind is
// an error listing the valid ones; a missing or failing passphrase for the
// file kind wraps ErrUnavailable.
func Open(kind string, opts OpenOptions) (*Store, error) {
	switch kind {
	case "keyring":
		k := NewKeyring(opts.Service)
		k.Timeout = opts.KeyringTimeout
		lock := opts.LockPath
		if lock == "" {
			var err error
			if lock, err = DefaultLockPath(); err != nil {
				return nil, err
			}
		}
		return New(k, lock), nil
	case "file":
		path := opts.FilePath
		if path == "" {
			var err error
			if path, err = DefaultFilePath(); err != nil {
				return nil, err
			}
		}
		if opts.Passphrase == nil {
			return nil, unavailable(nil, "store: the file store %s needs a passphrase and none can be asked for", path)
		}
		pass, err := opts.Passphrase()
		if err != nil {
			return nil, unavailable(err, "store: passphrase for %s: %v", path, err)
		}
		f, err := NewFile(path, pass)
		if err != nil {
			return nil, err
		}
		f.WorkFactor = opts.ScryptWorkFactor
		lock := opts.LockPath
		if lock == "" {
			lock = path + ".lock"
		}
		return New(f, lock), nil
	case "memory":
		return New(NewMemory(), opts.LockPath), nil
	default:
		return nil, fmt.Errorf("store: unknown store kind %q (valid: %s)", kind, strings.Join(Kinds, ", "))
	}
}

// DefaultFilePath returns where the file store lives by default:
// $XDG_DATA_HOME/mailmend/accounts.age, else ~/.local/share/mailmend/
// accounts.age (on macOS and Windows, under the user config directory).
func DefaultFilePath() (string, error) {
	dir, err := dataDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "mailmend", "accounts.age"), nil
}

// DefaultLockPath returns the default cross-process lock file for the
// keyring store: mailmend/store.lock under the user cache directory.
func DefaultLockPath() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("store: no place for the lock file: %w", err)
	}
	return filepath.Join(dir, "mailmend", "store.lock"), nil
}

func dataDir() (string, error) {
	if d := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(d) {
		return d, nil
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		d, err := os.UserConfigDir()
		if err != nil {
			return "", fmt.Errorf("store: no place for the file store: %w", err)
		}
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return "", errors.New("store: no place for the file store: $HOME is not set; pass a path")
	}
	return filepath.Join(home, ".local", "share"), nil
}
