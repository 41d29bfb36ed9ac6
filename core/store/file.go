package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"filippo.io/age"
)

// DefaultScryptWorkFactor is the scrypt work factor (log2 N) a File uses
// when it encrypts; age's own default.
const DefaultScryptWorkFactor = 18

// File is a Backend that keeps all items in one age-encrypted file, locked
// with a passphrase (age scrypt recipient). The plaintext is a JSON object
// of base64 values; it exists only in memory.
//
// Writes are atomic: a temporary file in the same directory (mode 0600) is
// written, synced and renamed over the old one; the directory is created
// with mode 0700. A wrong passphrase is ErrUnavailable; a file that cannot
// be decrypted or parsed is ErrCorrupt and is never overwritten.
//
// File is safe for concurrent use within a process. The decrypted items are
// cached and re-read when the file changes on disk, so other processes'
// writes (made under Store's lock) are seen.
type File struct {
	path string
	pass string
	// WorkFactor is the scrypt work factor used when writing; zero means
	// DefaultScryptWorkFactor. Lower values make tests fast and the file
	// cheaper to attack.
	WorkFactor int

	mu     sync.Mutex
	cache  map[string][]byte
	cached fileStamp
}

var _ Backend = (*File)(nil)

// fileStamp identifies one version of the file on disk.
type fileStamp struct {
	ok    bool
	ino   uint64
	size  int64
	mtime time.Time
}

// NewFile returns a backend over the encrypted file at path. The file need
// not exist yet; the first Set creates it. An empty passphrase is refused
// with an error wrapping ErrUnavailable.
func NewFile(path, passphrase string) (*File, error) {
	if path == "" {
		return nil, errors.New("store: file store needs a path")
	}
	if passphrase == "" {
		return nil, unavailable(nil, "store: the file store %s needs a passphrase; an empty one is refused", path)
	}
	return &File{path: path, pass: passphrase}, nil
}

// Name returns "file".
func (f *File) Name() string { return "file" }

// Path returns the encrypted file's path.
func (f *File) Path() string { return f.path }

// Get returns the item's bytes or an error wrapping ErrNotFound,
// ErrUnavailable (wrong passphrase) or ErrCorrupt.
func (f *File) Get(key string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	items, err := f.load()
	if err != nil {
		return nil, err
	}
	v, ok := items[key]
	if !ok {
		return nil, notFound("store: file item %q: %v", key, ErrNotFound)
	}
	return append([]byte(nil), v...), nil
}

// Set creates or replaces the item and rewrites the file atomically.
func (f *File) Set(key string, value []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	items, err := f.load()
	if err != nil {
		return err
	}
	next := make(map[string][]byte, len(items)+1)
	for k, v := range items {
		next[k] = v
	}
	next[key] = append([]byte{}, value...)
	return f.write(next)
}

// Delete removes the item and rewrites the file; a missing item is not an
// error (and writes nothing).
func (f *File) Delete(key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	items, err := f.load()
	if err != nil {
		return err
	}
	if _, ok := items[key]; !ok {
		return nil
	}
	next := make(map[string][]byte, len(items))
	for k, v := range items {
		if k != key {
			next[k] = v
		}
	}
	return f.write(next)
}

func stampOf(fi fs.FileInfo) fileStamp {
	s := fileStamp{ok: true, size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ino = st.Ino
	}
	return s
}

// load returns the current items, from the cache when the file is unchanged.
// A missing file is an empty store.
func (f *File) load() (map[string][]byte, error) {
	fh, err := os.Open(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		f.cache, f.cached = map[string][]byte{}, fileStamp{}
		return f.cache, nil
	}
	if err != nil {
		return nil, unavailable(err, "store: cannot open %s: %v", f.path, err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, unavailable(err, "store: cannot stat %s: %v", f.path, err)
	}
	stamp := stampOf(fi)
	if f.cache != nil && f.cached == stamp {
		return f.cache, nil
	}
	id, err := age.NewScryptIdentity(f.pass)
	if err != nil {
		return nil, unavailable(err, "store: passphrase for %s: %v", f.path, err)
	}
	r, err := age.Decrypt(fh, id)
	if err != nil {
		var noMatch *age.NoIdentityMatchError
		if errors.As(err, &noMatch) && slices.Contains(noMatch.StanzaTypes, "scrypt") {
			return nil, unavailable(err, "store: wrong passphrase for %s", f.path)
		}
		return nil, corrupt(err, "store: %s cannot be decrypted (%v); it was left untouched", f.path, err)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		return nil, corrupt(err, "store: %s is damaged (%v); it was left untouched", f.path, err)
	}
	var doc fileDoc
	if err := json.Unmarshal(plain, &doc); err != nil || doc.Version != 1 || doc.Items == nil {
		// The JSON error could quote decrypted bytes; leave it out.
		return nil, corrupt(nil, "store: %s holds no readable item list (version %d); it was left untouched", f.path, doc.Version)
	}
	f.cache, f.cached = doc.Items, stamp
	return f.cache, nil
}

// fileDoc is the plaintext inside the encrypted file. []byte values encode
// as base64 in JSON.
type fileDoc struct {
	Version int               `json:"version"`
	Items   map[string][]byte `json:"items"`
}

// write encrypts items to a temporary file and renames it over the file.
func (f *File) write(items map[string][]byte) error {
	dir := filepath.Dir(f.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return unavailable(err, "store: cannot create %s: %v", dir, err)
	}
	plain, err := json.Marshal(fileDoc{Version: 1, Items: items})
	if err != nil {
		return fmt.Errorf("store: encode items: %w", err)
	}
	rcpt, err := age.NewScryptRecipient(f.pass)
	if err != nil {
		return unavailable(err, "store: passphrase for %s: %v", f.path, err)
	}
	wf := f.WorkFactor
	if wf == 0 {
		wf = DefaultScryptWorkFactor
	}
	rcpt.SetWorkFactor(wf)
	var enc bytes.Buffer
	w, err := age.Encrypt(&enc, rcpt)
	if err != nil {
		return fmt.Errorf("store: encrypt %s: %w", f.path, err)
	}
	if _, err := w.Write(plain); err != nil {
		return fmt.Errorf("store: encrypt %s: %w", f.path, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("store: encrypt %s: %w", f.path, err)
	}
	clear(plain)

	tmp, err := os.CreateTemp(dir, "."+filepath.Base(f.path)+".tmp-*")
	if err != nil {
		return unavailable(err, "store: cannot write in %s: %v", dir, err)
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("store: chmod %s: %w", tmpName, err)
	}
	if _, err := tmp.Write(enc.Bytes()); err != nil {
		return fmt.Errorf("store: write %s: %w", tmpName, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("store: sync %s: %w", tmpName, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("store: close %s: %w", tmpName, err)
	}
	if err := os.Rename(tmpName, f.path); err != nil {
		return fmt.Errorf("store: replace %s: %w", f.path, err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	f.cache = items
	if fi, err := os.Stat(f.path); err == nil {
		f.cached = stampOf(fi)
	} else {
		f.cache = nil
	}
	return nil
}
