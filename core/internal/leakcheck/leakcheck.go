// Package leakcheck fails a test when a secret shows up in files: it walks
// directories (following no symlinks, skipping /proc, /sys and /dev) and
// looks in every regular file for the secret's bytes and for its base64
// (standard and URL alphabets, at any alignment) and hex forms.
package leakcheck

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// MaxFileSize is how much of each file is searched; bytes past it are not.
const MaxFileSize = 64 << 20

// minEncoded is the shortest encoded form worth searching for; shorter
// ones would match by chance.
const minEncoded = 8

// skipRoots are never walked.
var skipRoots = []string{"/proc", "/sys", "/dev"}

// Form is one searched representation of the secret.
type Form struct {
	// Name says which form it is ("raw", "base64", "hex", ...).
	Name    string
	pattern []byte
}

// Forms returns the representations of secret that NoSecret searches for:
// the raw bytes, lower- and upper-case hex, and the base64 text that the
// secret produces inside any base64 stream (standard and URL alphabets, all
// three alignments). Encoded forms shorter than 8 characters are left out.
func Forms(secret string) []Form {
	s := []byte(secret)
	forms := []Form{{Name: "raw", pattern: s}}
	add := func(name, p string) {
		if len(p) < minEncoded {
			return
		}
		for _, f := range forms {
			if string(f.pattern) == p {
				return
			}
		}
		forms = append(forms, Form{Name: name, pattern: []byte(p)})
	}
	add("hex", hex.EncodeToString(s))
	add("HEX", strings.ToUpper(hex.EncodeToString(s)))
	for shift := range 3 {
		padded := append(make([]byte, shift), s...)
		for _, enc := range []struct {
			name string
			e    *base64.Encoding
		}{{"base64", base64.StdEncoding}, {"base64url", base64.URLEncoding}} {
			full := enc.e.EncodeToString(padded)
			// Characters fully determined by the secret's bits.
			from := (8*shift + 5) / 6
			to := 8 * (shift + len(s)) / 6
			if to > from {
				add(fmt.Sprintf("%s(+%d)", enc.name, shift), full[from:to])
			}
		}
	}
	return forms
}

// Leak is one place a secret was found.
type Leak struct {
	Path string
	Form string
}

// Scan searches the files under dirs for secret's forms and returns where
// it found them. Missing directories are ignored; unreadable files are
// reported as errors.
func Scan(secret string, dirs ...string) ([]Leak, error) {
	if secret == "" {
		return nil, errors.New("leakcheck: empty secret")
	}
	forms := Forms(secret)
	maxLen := 0
	for _, f := range forms {
		maxLen = max(maxLen, len(f.pattern))
	}
	var leaks []Leak
	var errs []error
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				errs = append(errs, err)
				return nil
			}
			if d.IsDir() {
				for _, root := range skipRoots {
					if path == root {
						return filepath.SkipDir
					}
				}
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			found, err := scanFile(path, forms, maxLen)
			if err != nil {
				errs = append(errs, err)
			}
			for _, f := range found {
				leaks = append(leaks, Leak{Path: path, Form: f})
			}
			return nil
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	return leaks, errors.Join(errs...)
}

// scanFile streams the file in blocks that overlap by the longest
// pattern, so a match across a block boundary is found.
func scanFile(path string, forms []Form, maxLen int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	defer f.Close()
	r := io.LimitReader(f, MaxFileSize)
	const block = 1 << 20
	buf := make([]byte, 0, block+maxLen)
	hit := map[string]bool{}
	var out []string
	for {
		n, rerr := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		for _, fm := range forms {
			if !hit[fm.Name] && bytes.Contains(buf, fm.pattern) {
				hit[fm.Name] = true
				out = append(out, fm.Name)
			}
		}
		if rerr != nil {
			if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
				return out, nil
			}
			return out, rerr
		}
		keep := min(maxLen-1, len(buf))
		copy(buf, buf[len(buf)-keep:])
		buf = buf[:keep]
	}
}

// NoSecret fails t when secret, in any of its Forms, is found in a regular
// file under dirs. The failure names the file and the form, never the
// secret. Unreadable files fail the test too.
func NoSecret(t testing.TB, secret string, dirs ...string) {
	t.Helper()
	leaks, err := Scan(secret, dirs...)
	for _, l := range leaks {
		t.Errorf("leakcheck: secret found (%s form) in %s", l.Form, l.Path)
	}
	if err != nil {
		t.Errorf("leakcheck: %v", err)
	}
}
