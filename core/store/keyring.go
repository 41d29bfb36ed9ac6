package store

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/zalando/go-keyring"
)

// DefaultService is the keyring service name mailmend's items live under.
const DefaultService = "mailmend"

// DefaultKeyringTimeout bounds every Keyring call. A locked keyring may wait
// for a password prompt that never comes (no desktop session); after this
// long the call fails with ErrUnavailable.
const DefaultKeyringTimeout = 15 * time.Second

// ChunkSize is the largest value, in stored characters, that one keyring
// item holds. macOS and Windows limit an item to about 2.5-3 KB, so larger
// values are split into chunk items "<key>#1", "<key>#2", ... and the item
// under key itself becomes a head that records the chunk count.
const ChunkSize = 2048

// Stored formats. Values are bytes but keyrings store strings, so a value is
// kept base64-encoded behind a format tag.
const (
	singlePrefix = "mailmend:v1:"        // + base64(value)
	headPrefix   = "mailmend:v1:chunks:" // + count + ":" + hex(sha256(value))
)

// hintStart is what a user without a Secret Service is told to do.
const hintStart = "start gnome-keyring-daemon or KeePassXC's Secret Service, or use --store file"

// keyringAPI is the part of go-keyring the backend uses.
type keyringAPI interface {
	Get(service, user string) (string, error)
	Set(service, user, password string) error
	Delete(service, user string) error
}

// goKeyring calls the process-wide go-keyring provider (the Secret Service
// on Linux, Keychain on macOS, Credential Manager on Windows).
type goKeyring struct{}

func (goKeyring) Set(service, user, pw string) error { return keyring.Set(service, user, pw) }
func (goKeyring) Delete(service, user string) error  { return keyring.Delete(service, user) }

// Keyring is a Backend over the OS keyring (github.com/zalando/go-keyring):
// each item is one keyring entry of the service, with the item key as the
// entry's user name. Values over ChunkSize are split (see ChunkSize); reads
// reassemble and verify them, Delete and shrinking Set remove stale chunks.
//
// Every call is bounded by Timeout. A call that times out is abandoned, not
// stopped (go-keyring cannot be cancelled), and reports ErrUnavailable
// "keyring is locked". On Linux the D-Bus session bus connection is cached
// per process by godbus, so DBUS_SESSION_BUS_ADDRESS must be set before the
// first call.
//
// Like every Backend, a Keyring expects one caller at a time; Store ensures
// that.
type Keyring struct {
	service string
	// Timeout bounds each call; zero means DefaultKeyringTimeout.
	Timeout time.Duration
	// Chunk is the largest value, in stored characters, kept in one item;
	// zero means the platform's limit (ItemLimit): ChunkSize on macOS and
	// Windows, whose keychains limit item sizes, and a much larger size on
	// the Secret Service, where one read is far cheaper than many.
	Chunk int
	api   keyringAPI
}

func (k *Keyring) chunk() int {
	if k.Chunk > 0 {
		return k.Chunk
	}
	return ItemLimit
}

var _ Backend = (*Keyring)(nil)

// NewKeyring returns a backend storing items under service in the OS
// keyring; an empty service means DefaultService.
func NewKeyring(service string) *Keyring {
	if service == "" {
		service = DefaultService
	}
	return &Keyring{service: service, api: goKeyring{}}
}

// Name returns "keyring".
func (k *Keyring) Name() string { return "keyring" }

// Service returns the keyring service name the items live under.
func (k *Keyring) Service() string { return k.service }

// ChunkKey returns the name of chunk n (1-based) of the item key.
func ChunkKey(key string, n int) string { return key + "#" + strconv.Itoa(n) }

// Get returns the item's bytes, reassembled from its chunks if it was
// split, or an error wrapping ErrNotFound, ErrUnavailable or ErrCorrupt.
func (k *Keyring) Get(key string) ([]byte, error) {
	var out []byte
	err := k.bounded(func() error {
		v, err := k.get(key)
		out = v
		return err
	})
	return out, err
}

// Set creates or replaces the item, splitting it when it is large and
// deleting chunks a previous, larger value left behind.
func (k *Keyring) Set(key string, value []byte) error {
	return k.bounded(func() error { return k.set(key, value) })
}

// Delete removes the item and its chunks; a missing item is not an error.
func (k *Keyring) Delete(key string) error {
	return k.bounded(func() error { return k.del(key) })
}

func (k *Keyring) timeout() time.Duration {
	if k.Timeout > 0 {
		return k.Timeout
	}
	return DefaultKeyringTimeout
}

// bounded runs fn in its own goroutine and gives up after the timeout.
func (k *Keyring) bounded(fn func() error) error {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	t := time.NewTimer(k.timeout())
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return unavailable(nil, "store: keyring is locked or not answering (no reply within %s): unlock it and try again, or use --store file", k.timeout())
	}
}

// raw calls go-keyring and maps its errors.
func (k *Keyring) rawGet(user string) (string, error) {
	v, err := k.api.Get(k.service, user)
	return v, k.mapErr(user, err)
}

func (k *Keyring) rawSet(user, v string) error {
	return k.mapErr(user, k.api.Set(k.service, user, v))
}

func (k *Keyring) rawDelete(user string) error {
	err := k.mapErr(user, k.api.Delete(k.service, user))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// head describes what is stored under a key.
type head struct {
	single bool
	data   string // base64 of the value when single
	chunks int    // chunk count when split
	sum    string // hex sha256 of the value when split
}

func parseHead(key, v string) (head, error) {
	switch {
	case strings.HasPrefix(v, headPrefix):
		rest := strings.TrimPrefix(v, headPrefix)
		nStr, sum, ok := strings.Cut(rest, ":")
		n, err := strconv.Atoi(nStr)
		if !ok || err != nil || n < 1 || len(sum) != 64 {
			return head{}, corrupt(nil, "store: keyring item %q has a malformed chunk header", key)
		}
		return head{chunks: n, sum: sum}, nil
	case strings.HasPrefix(v, singlePrefix):
		return head{single: true, data: strings.TrimPrefix(v, singlePrefix)}, nil
	default:
		return head{}, corrupt(nil, "store: keyring item %q is not in mailmend's format", key)
	}
}

func (k *Keyring) get(key string) ([]byte, error) {
	v, err := k.rawGet(key)
	if err != nil {
		return nil, err
	}
	h, err := parseHead(key, v)
	if err != nil {
		return nil, err
	}
	enc := h.data
	if !h.single {
		var b strings.Builder
		for i := 1; i <= h.chunks; i++ {
			c, err := k.rawGet(ChunkKey(key, i))
			if errors.Is(err, ErrNotFound) {
				return nil, corrupt(err, "store: keyring item %q: chunk %d of %d is missing", key, i, h.chunks)
			}
			if err != nil {
				return nil, err
			}
			b.WriteString(c)
		}
		enc = b.String()
	}
	value, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, corrupt(nil, "store: keyring item %q is not valid base64", key)
	}
	if !h.single {
		sum := sha256.Sum256(value)
		if hex.EncodeToString(sum[:]) != h.sum {
			return nil, corrupt(nil, "store: keyring item %q: chunks do not match their header (interrupted write?)", key)
		}
	}
	return value, nil
}

// oldChunks returns how many chunks the value now stored under key has.
func (k *Keyring) oldChunks(key string) (int, error) {
	v, err := k.rawGet(key)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	h, err := parseHead(key, v)
	if err != nil || h.single {
		// Whatever is there is replaced; it left no chunks we know of.
		return 0, nil
	}
	return h.chunks, nil
}

func (k *Keyring) set(key string, value []byte) error {
	old, err := k.oldChunks(key)
	if err != nil {
		return err
	}
	enc := base64.StdEncoding.EncodeToString(value)
	n := 0
	size := k.chunk()
	if len(singlePrefix)+len(enc) <= size {
		if err := k.rawSet(key, singlePrefix+enc); err != nil {
			return err
		}
	} else {
		// Chunks first, head last: a reader never sees a head whose chunks
		// were not written, and the checksum catches a half-done rewrite.
		for off := 0; off < len(enc); off += size {
			n++
			if err := k.rawSet(ChunkKey(key, n), enc[off:min(off+size, len(enc))]); err != nil {
				return err
			}
		}
		sum := sha256.Sum256(value)
		if err := k.rawSet(key, headPrefix+strconv.Itoa(n)+":"+hex.EncodeToString(sum[:])); err != nil {
			return err
		}
	}
	for i := n + 1; i <= old; i++ {
		if err := k.rawDelete(ChunkKey(key, i)); err != nil {
			return err
		}
	}
	return nil
}

func (k *Keyring) del(key string) error {
	old, err := k.oldChunks(key)
	if err != nil {
		return err
	}
	// Head first: a crash leaves unreferenced chunks, never a head whose
	// chunks are gone.
	if err := k.rawDelete(key); err != nil {
		return err
	}
	for i := 1; i <= old; i++ {
		if err := k.rawDelete(ChunkKey(key, i)); err != nil {
			return err
		}
	}
	return nil
}

// D-Bus error names that mean there is no Secret Service on the bus.
var noServiceNames = map[string]bool{
	"org.freedesktop.DBus.Error.ServiceUnknown": true,
	"org.freedesktop.DBus.Error.NameHasNoOwner": true,
	"org.freedesktop.DBus.Error.NoServer":       true,
	"org.freedesktop.DBus.Error.NoReply":        true,
	"org.freedesktop.DBus.Error.Disconnected":   true,
	"org.freedesktop.DBus.Error.UnknownObject":  true,
	"org.freedesktop.DBus.Error.UnknownMethod":  true,
}

// mapErr turns a go-keyring error into one of the package's errors. The
// original message is kept: it names the bus or D-Bus error, never a secret.
func (k *Keyring) mapErr(user string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, keyring.ErrNotFound) {
		return notFound("store: keyring item %q: %v", user, ErrNotFound)
	}
	name := dbusErrorName(err)
	msg := err.Error()
	switch {
	case name == "org.freedesktop.Secret.Error.IsLocked",
		strings.Contains(msg, "failed to unlock"),
		name == "org.freedesktop.DBus.Error.Spawn.ChildExited" && strings.Contains(msg, "Prompter"):
		return unavailable(err, "store: keyring is locked: unlock it (for example by logging in to the desktop) and try again, or use --store file (%s)", msg)
	case noServiceNames[name], strings.HasPrefix(name, "org.freedesktop.DBus.Error.Spawn."):
		return unavailable(err, "store: no Secret Service on the D-Bus session bus (%s): %s", msg, hintStart)
	case name != "":
		return unavailable(err, "store: keyring error (%s): %s", msg, hintStart)
	case errors.Is(err, dbus.ErrClosed):
		return unavailable(err, "store: D-Bus session bus connection closed: %s", hintStart)
	case errors.Is(err, keyring.ErrSetDataTooBig):
		return fmt.Errorf("store: keyring item %q is too big for this keyring: %w", user, err)
	default:
		// Dial errors, no session bus address, failed authentication.
		return unavailable(err, "store: cannot reach the keyring over D-Bus (%s): %s", msg, hintStart)
	}
}

func dbusErrorName(err error) string {
	var v dbus.Error
	if errors.As(err, &v) {
		return v.Name
	}
	var p *dbus.Error
	if errors.As(err, &p) && p != nil {
		return p.Name
	}
	return ""
}
