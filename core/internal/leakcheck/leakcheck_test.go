package leakcheck

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const secret = "s3cr3t-Refresh-Token/xyz+42"

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestScanFindsEveryForm(t *testing.T) {
	for prefix := range 3 {
		wrapped := []byte(strings.Repeat("p", prefix) + `{"refresh_token":"` + secret + `"}`)
		cases := map[string][]byte{
			"raw":       wrapped,
			"base64":    []byte(base64.StdEncoding.EncodeToString(wrapped)),
			"base64url": []byte(base64.RawURLEncoding.EncodeToString(wrapped)),
			"hex":       []byte(hex.EncodeToString(wrapped)),
			"HEX":       []byte(strings.ToUpper(hex.EncodeToString(wrapped))),
		}
		for name, data := range cases {
			t.Run(fmt.Sprintf("%s/prefix%d", name, prefix), func(t *testing.T) {
				dir := t.TempDir()
				write(t, filepath.Join(dir, "a", "b", "leaky"), data)
				write(t, filepath.Join(dir, "clean"), []byte("nothing to see"))
				leaks, err := Scan(secret, dir)
				if err != nil {
					t.Fatal(err)
				}
				if len(leaks) == 0 {
					t.Fatalf("secret in %s form not found", name)
				}
				for _, l := range leaks {
					if filepath.Base(l.Path) != "leaky" || !strings.HasPrefix(l.Form, strings.TrimSuffix(name, "url")) && !strings.HasPrefix(l.Form, name) {
						t.Fatalf("unexpected leak %+v", l)
					}
				}
			})
		}
	}
}

func TestScanAcrossBlockBoundaryAndLargeFile(t *testing.T) {
	dir := t.TempDir()
	data := bytes.Repeat([]byte{'.'}, 3<<20)
	// Straddle the 1 MiB block boundary.
	copy(data[1<<20-5:], secret)
	write(t, filepath.Join(dir, "big"), data)
	leaks, err := Scan(secret, dir)
	if err != nil || len(leaks) != 1 || leaks[0].Form != "raw" {
		t.Fatalf("Scan = %v, %v; want one raw leak", leaks, err)
	}
}

func TestScanIgnoresSymlinksAndCleanTrees(t *testing.T) {
	outside := t.TempDir()
	write(t, filepath.Join(outside, "leaky"), []byte(secret))
	dir := t.TempDir()
	write(t, filepath.Join(dir, "clean"), []byte("hello"))
	if err := os.Symlink(filepath.Join(outside, "leaky"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "dirlink")); err != nil {
		t.Fatal(err)
	}
	leaks, err := Scan(secret, dir, filepath.Join(dir, "missing"))
	if err != nil || len(leaks) != 0 {
		t.Fatalf("Scan = %v, %v; want nothing", leaks, err)
	}
}

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	msgs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}

func TestNoSecretReportsPathNotSecret(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "log.txt"), []byte("token="+secret))
	r := &recorder{TB: t}
	NoSecret(r, secret, dir)
	if len(r.msgs) != 1 || !strings.Contains(r.msgs[0], "log.txt") {
		t.Fatalf("messages = %q; want one naming log.txt", r.msgs)
	}
	if strings.Contains(r.msgs[0], secret) {
		t.Fatal("failure message contains the secret")
	}
	r = &recorder{TB: t}
	NoSecret(r, "another-secret-value", dir)
	if len(r.msgs) != 0 {
		t.Fatalf("false positive: %q", r.msgs)
	}
}

func TestFormsSkipShortEncodings(t *testing.T) {
	for _, f := range Forms("abc") {
		if f.Name != "raw" {
			t.Fatalf("short secret got encoded form %s", f.Name)
		}
	}
	if _, err := Scan("", t.TempDir()); err == nil {
		t.Fatal("empty secret accepted")
	}
}
