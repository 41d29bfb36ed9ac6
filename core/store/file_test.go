package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailmend/mailmend/core/internal/leakcheck"
)

// testWorkFactor keeps scrypt cheap in tests.
const testWorkFactor = 10

func newTestFile(t *testing.T, path, pass string) *File {
	t.Helper()
	f, err := NewFile(path, pass)
	if err != nil {
		t.Fatal(err)
	}
	f.WorkFactor = testWorkFactor
	return f
}

func TestFileConformance(t *testing.T) {
	runConformance(t, backendCase{
		name: "file",
		open: func(t *testing.T) func() Backend {
			path := filepath.Join(t.TempDir(), "store", "accounts.age")
			// A new handle each time: two handles must see each other's writes.
			return func() Backend { return newTestFile(t, path, "correct horse") }
		},
	})
}

func TestFileWrongPassphraseModesAndNoPlaintext(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	path := filepath.Join(root, "data", "mailmend", "accounts.age")
	s := New(newTestFile(t, path, "correct horse"), path+".lock")
	const pw = "Pa55word-that-must-not-leak"
	tok := bigToken("rt-must-not-leak", 4096)
	if _, err := s.Save(ctx, sampleAccount("jo@example.org"), &Secret{Password: pw}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Save(ctx, sampleAccount("kim@example.org"), &Secret{Token: tok}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v, want 0600", fi.Mode().Perm())
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil || di.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v (%v), want 0700", di.Mode().Perm(), err)
	}
	if li, err := os.Stat(path + ".lock"); err != nil || li.Mode().Perm() != 0o600 {
		t.Fatalf("lock file mode %v (%v), want 0600", li.Mode().Perm(), err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Fatalf("temporary file left behind: %s", e.Name())
		}
	}
	leakcheck.NoSecret(t, pw, root)
	leakcheck.NoSecret(t, tok.RefreshToken[:64], root)
	leakcheck.NoSecret(t, "jo@example.org", root) // the index is encrypted too

	before, _ := os.ReadFile(path)
	wrong := New(newTestFile(t, path, "wrong horse"), path+".lock")
	_, err = wrong.List(ctx)
	if !errors.Is(err, ErrUnavailable) || err.Error() != "store: wrong passphrase for "+path {
		t.Fatalf("List with wrong passphrase = %v", err)
	}
	if _, err := wrong.Save(ctx, sampleAccount("x@example.org"), &Secret{Password: "x"}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Save with wrong passphrase = %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("a wrong passphrase changed the file")
	}
	// The right passphrase still reads everything.
	if list, err := s.List(ctx); err != nil || len(list) != 2 {
		t.Fatalf("List = %d, %v", len(list), err)
	}
}

func TestFileCorruptIsNeverOverwritten(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.age")
	f := newTestFile(t, good, "pw")
	if err := f.Set("a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	valid, _ := os.ReadFile(good)
	cases := map[string][]byte{
		"garbage":   []byte("this is not an age file\n"),
		"truncated": valid[:len(valid)-10],
		"flipped": func() []byte {
			b := bytes.Clone(valid)
			b[len(b)-5] ^= 0xff
			return b
		}(),
		"empty": {},
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name+".age")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			f := newTestFile(t, path, "pw")
			if _, err := f.Get("a"); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Get = %v, want ErrCorrupt", err)
			}
			if err := f.Set("b", []byte("2")); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Set = %v, want ErrCorrupt", err)
			}
			if err := f.Delete("a"); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Delete = %v, want ErrCorrupt", err)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, data) {
				t.Fatal("corrupt file was overwritten")
			}
		})
	}
}

func TestFileRefusesEmptyPassphrase(t *testing.T) {
	if _, err := NewFile(filepath.Join(t.TempDir(), "x.age"), ""); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("NewFile with empty passphrase = %v", err)
	}
}

func TestFileSeesOtherHandlesWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.age")
	f1, f2 := newTestFile(t, path, "pw"), newTestFile(t, path, "pw")
	if err := f1.Set("k", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if v, err := f2.Get("k"); err != nil || string(v) != "one" {
		t.Fatalf("f2.Get = %q, %v", v, err)
	}
	if err := f2.Set("k", []byte("two")); err != nil {
		t.Fatal(err)
	}
	if v, err := f1.Get("k"); err != nil || string(v) != "two" {
		t.Fatalf("f1.Get after f2's write = %q, %v (stale cache)", v, err)
	}
}
