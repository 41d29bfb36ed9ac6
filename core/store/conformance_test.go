package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailmend/mailmend/core/account"
)

// backendCase describes one backend under the shared conformance suite.
type backendCase struct {
	name string
	// open returns a fresh, empty backend; calling it twice in one test
	// returns two handles on the same storage.
	open func(t *testing.T) func() Backend
	// items lists the item keys that really exist in the storage, where
	// the backend can tell (nil otherwise).
	items func(t *testing.T, b Backend) []string
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func sampleAccount(email string) account.Account {
	return account.Account{
		Email:    email,
		Provider: "generic",
		Auth:     account.Password,
		IMAP:     account.Endpoint{Host: "imap.example.org", Port: 993, Security: account.TLS},
		SMTP:     account.Endpoint{Host: "smtp.example.org", Port: 587, Security: account.StartTLS},
	}
}

// bigToken returns a token whose JSON is about n bytes, unique per call.
func bigToken(tag string, n int) *Token {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%s-%06d.", tag, i)
	}
	return &Token{AccessToken: "at-" + tag, RefreshToken: b.String(), TokenType: "Bearer", Expiry: time.Now().Add(time.Hour).UTC().Truncate(time.Second)}
}

var idPattern = regexp.MustCompile(`^[a-z2-7]{10}$`)

// runConformance runs the behaviour every backend and the Store over it
// must show.
func runConformance(t *testing.T, bc backendCase) {
	t.Parallel()
	t.Run("BackendRoundTrip", func(t *testing.T) {
		t.Parallel()
		b := bc.open(t)()
		if _, err := b.Get("nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get(missing) = %v, want ErrNotFound", err)
		}
		bin := []byte{0, 1, 2, 0xff, 0xfe, '\n', '#', 0}
		for _, v := range [][]byte{[]byte("v1"), bin, {}, []byte("v2 longer value")} {
			if err := b.Set("k", v); err != nil {
				t.Fatal(err)
			}
			got, err := b.Get("k")
			if err != nil || !bytes.Equal(got, v) {
				t.Fatalf("Get = %q, %v; want %q", got, err, v)
			}
		}
		if err := b.Delete("k"); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Get("k"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get after Delete = %v, want ErrNotFound", err)
		}
		if err := b.Delete("k"); err != nil {
			t.Fatalf("Delete(missing) = %v, want nil", err)
		}
	})

	t.Run("LargeItemSplitShrinkDelete", func(t *testing.T) {
		t.Parallel()
		b := bc.open(t)()
		big := bytes.Repeat([]byte("0123456789abcdef"), 640) // 10 KiB
		big[5000] = 0
		if err := b.Set("tok", big); err != nil {
			t.Fatal(err)
		}
		got, err := b.Get("tok")
		if err != nil || !bytes.Equal(got, big) {
			t.Fatalf("large round trip failed: len %d, %v", len(got), err)
		}
		if kr, ok := b.(*Keyring); ok {
			items := bc.items(t, b)
			// 10 KiB base64 is 13,656 characters: 7 chunks of 2048.
			want := []string{"tok", "tok#1", "tok#2", "tok#3", "tok#4", "tok#5", "tok#6", "tok#7"}
			if fmt.Sprint(items) != fmt.Sprint(want) {
				t.Fatalf("keyring items = %v, want %v", items, want)
			}
			raw, err := kr.api.Get(kr.service, "tok#1")
			if err != nil || len(raw) != ChunkSize {
				t.Fatalf("chunk 1 = %d chars, %v; want %d", len(raw), err, ChunkSize)
			}
		}
		// Shrink to 3 chunks, then to a single item.
		mid := big[:5000]
		if err := b.Set("tok", mid); err != nil {
			t.Fatal(err)
		}
		if got, err := b.Get("tok"); err != nil || !bytes.Equal(got, mid) {
			t.Fatalf("after shrink: len %d, %v", len(got), err)
		}
		if _, ok := b.(*Keyring); ok {
			if items := bc.items(t, b); fmt.Sprint(items) != "[tok tok#1 tok#2 tok#3 tok#4]" {
				t.Fatalf("after shrink, items = %v, want tok + 4 chunks", items)
			}
		}
		if err := b.Set("tok", []byte("small")); err != nil {
			t.Fatal(err)
		}
		if got, err := b.Get("tok"); err != nil || string(got) != "small" {
			t.Fatalf("after shrink to small: %q, %v", got, err)
		}
		if bc.items != nil {
			if items := bc.items(t, b); fmt.Sprint(items) != "[tok]" {
				t.Fatalf("stale chunks left: %v", items)
			}
		}
		if err := b.Set("tok", big); err != nil {
			t.Fatal(err)
		}
		if err := b.Delete("tok"); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Get("tok"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get after Delete = %v", err)
		}
		if bc.items != nil {
			if items := bc.items(t, b); len(items) != 0 {
				t.Fatalf("Delete left items: %v", items)
			}
		}
	})

	t.Run("SaveListFindSecret", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		s := New(bc.open(t)(), filepath.Join(t.TempDir(), "lock"))
		if got, err := s.List(ctx); err != nil || len(got) != 0 {
			t.Fatalf("List on empty store = %v, %v", got, err)
		}
		a, err := s.Save(ctx, sampleAccount("Ann@Example.org"), &Secret{Password: "pw-ann-1"})
		if err != nil {
			t.Fatal(err)
		}
		if !idPattern.MatchString(a.ID) || a.Status != account.Unchecked {
			t.Fatalf("saved account id %q status %q", a.ID, a.Status)
		}
		tok := bigToken("bob", 10<<10)
		b, err := s.Save(ctx, func() account.Account {
			x := sampleAccount("bob@example.org")
			x.Auth = account.OAuth2
			x.Provider = "google"
			return x
		}(), &Secret{Token: tok})
		if err != nil {
			t.Fatal(err)
		}
		if a.ID == b.ID {
			t.Fatal("two accounts share an id")
		}
		list, err := s.List(ctx)
		if err != nil || len(list) != 2 || list[0].ID != a.ID || list[1].ID != b.ID {
			t.Fatalf("List = %+v, %v", list, err)
		}
		for _, ref := range []string{a.ID, "ann@example.org", " ANN@EXAMPLE.ORG "} {
			got, err := s.Find(ctx, ref)
			if err != nil || got.ID != a.ID {
				t.Fatalf("Find(%q) = %v, %v", ref, got.ID, err)
			}
		}
		if _, err := s.Find(ctx, "nobody@example.org"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Find(unknown) = %v", err)
		}
		sec, err := s.Secret(ctx, a.ID)
		if err != nil || sec.Password != "pw-ann-1" || sec.Token != nil {
			t.Fatalf("Secret(ann) = %+v, %v", sec, err)
		}
		sec, err = s.Secret(ctx, b.ID)
		if err != nil || sec.Token == nil || sec.Token.RefreshToken != tok.RefreshToken || !sec.Token.Expiry.Equal(tok.Expiry) {
			t.Fatalf("Secret(bob) token round trip failed: %v", err)
		}
		// The index holds no secret.
		raw, err := s.Backend().Get(IndexKey)
		if err != nil || bytes.Contains(raw, []byte("pw-ann-1")) || bytes.Contains(raw, []byte(tok.RefreshToken[:40])) {
			t.Fatalf("index item holds a secret (or is unreadable: %v)", err)
		}
		if !bytes.Contains(raw, []byte(`"version":1`)) {
			t.Fatalf("index lacks version: %s", raw)
		}
	})

	t.Run("UpsertKeepsIDAndSecret", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		s := New(bc.open(t)(), filepath.Join(t.TempDir(), "lock"))
		a, err := s.Save(ctx, sampleAccount("carl@example.org"), &Secret{Password: "old"})
		if err != nil {
			t.Fatal(err)
		}
		changed := sampleAccount("CARL@example.org")
		changed.ID = "ignored"
		changed.IMAP.Port = 143
		changed.IMAP.Security = account.StartTLS
		b, err := s.Save(ctx, changed, nil)
		if err != nil {
			t.Fatal(err)
		}
		if b.ID != a.ID || b.IMAP.Port != 143 {
			t.Fatalf("upsert gave %+v, want id %s and port 143", b, a.ID)
		}
		if sec, err := s.Secret(ctx, a.ID); err != nil || sec.Password != "old" {
			t.Fatalf("secret after Save(nil) = %+v, %v; want kept", sec, err)
		}
		if _, err := s.Save(ctx, changed, &Secret{Password: "new"}); err != nil {
			t.Fatal(err)
		}
		if sec, err := s.Secret(ctx, a.ID); err != nil || sec.Password != "new" {
			t.Fatalf("secret after Save(new) = %+v, %v", sec, err)
		}
		if list, _ := s.List(ctx); len(list) != 1 {
			t.Fatalf("upsert made %d accounts", len(list))
		}
	})

	t.Run("ValidationWritesNothing", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		b := bc.open(t)()
		s := New(b, filepath.Join(t.TempDir(), "lock"))
		bad := []func(*account.Account){
			func(a *account.Account) { a.Email = "not-an-address" },
			func(a *account.Account) { a.Auth = "kerberos" },
			func(a *account.Account) { a.IMAP.Security = "none" },
			func(a *account.Account) { a.SMTP.Port = 70000 },
			func(a *account.Account) { a.IMAP.Host = "" },
		}
		for i, mut := range bad {
			a := sampleAccount("dora@example.org")
			mut(&a)
			if _, err := s.Save(ctx, a, &Secret{Password: "x"}); err == nil || !strings.HasPrefix(err.Error(), "store: ") {
				t.Fatalf("case %d: Save accepted an invalid account (err %v)", i, err)
			}
		}
		if _, err := s.Save(ctx, sampleAccount("dora@example.org"), &Secret{}); err == nil {
			t.Fatal("Save accepted an empty secret")
		}
		if _, err := b.Get(IndexKey); !errors.Is(err, ErrNotFound) {
			t.Fatalf("refused saves wrote the index: %v", err)
		}
	})

	t.Run("UpdateSetSecretRemove", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		b := bc.open(t)()
		s := New(b, filepath.Join(t.TempDir(), "lock"))
		a, err := s.Save(ctx, sampleAccount("eve@example.org"), &Secret{Password: "p1"})
		if err != nil {
			t.Fatal(err)
		}
		other, err := s.Save(ctx, sampleAccount("fay@example.org"), &Secret{Password: "p2"})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC().Truncate(time.Second)
		u, err := s.Update(ctx, a.ID, func(x *account.Account) error {
			x.Status, x.LastOK = account.Healthy, now
			return nil
		})
		if err != nil || u.ID != a.ID || u.Status != account.Healthy {
			t.Fatalf("Update = %+v, %v", u, err)
		}
		if got, _ := s.Find(ctx, a.ID); !got.LastOK.Equal(now) {
			t.Fatalf("Update not stored: %+v", got)
		}
		if _, err := s.Update(ctx, a.ID, func(x *account.Account) error { x.ID = "other"; return nil }); err == nil {
			t.Fatal("Update allowed an id change")
		}
		if _, err := s.Update(ctx, a.ID, func(x *account.Account) error { x.Email = "FAY@example.org"; return nil }); err == nil {
			t.Fatal("Update allowed taking another account's address")
		}
		boom := errors.New("boom")
		if _, err := s.Update(ctx, a.ID, func(x *account.Account) error { x.Status = account.Failing; return boom }); !errors.Is(err, boom) {
			t.Fatalf("Update did not return fn's error: %v", err)
		}
		if got, _ := s.Find(ctx, a.ID); got.Status != account.Healthy {
			t.Fatal("Update wrote despite fn's error")
		}
		if _, err := s.Update(ctx, "missing", func(*account.Account) error { return nil }); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Update(missing) = %v", err)
		}
		if err := s.SetSecret(ctx, a.ID, Secret{Token: &Token{RefreshToken: "rt-2"}}); err != nil {
			t.Fatal(err)
		}
		if sec, _ := s.Secret(ctx, a.ID); sec.Token == nil || sec.Token.RefreshToken != "rt-2" || sec.Password != "" {
			t.Fatalf("SetSecret not stored: %+v", sec)
		}
		if err := s.SetSecret(ctx, "missing", Secret{Password: "x"}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("SetSecret(missing) = %v", err)
		}
		if err := s.Remove(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Find(ctx, a.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Find after Remove = %v", err)
		}
		if _, err := b.Get(SecretKey(a.ID)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("secret item after Remove: %v", err)
		}
		if err := s.Remove(ctx, a.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("second Remove = %v", err)
		}
		if list, _ := s.List(ctx); len(list) != 1 || list[0].ID != other.ID {
			t.Fatalf("List after Remove = %+v", list)
		}
		if err := s.Remove(ctx, other.ID); err != nil {
			t.Fatal(err)
		}
		if bc.items != nil {
			if items := bc.items(t, b); fmt.Sprint(items) != "[index]" {
				t.Fatalf("after removing every account, items = %v, want [index]", items)
			}
		}
	})

	t.Run("CorruptIndexIsNeverTouched", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		b := bc.open(t)()
		s := New(b, filepath.Join(t.TempDir(), "lock"))
		a, err := s.Save(ctx, sampleAccount("gus@example.org"), &Secret{Password: "p"})
		if err != nil {
			t.Fatal(err)
		}
		for _, raw := range []string{
			`{"version":1,"accounts":[`,
			`{"version":2,"accounts":[]}`,
			`{"accounts":[]}`,
			`{"version":1,"accounts":[{"email":"x@example.org"}]}`,
		} {
			if err := b.Set(IndexKey, []byte(raw)); err != nil {
				t.Fatal(err)
			}
			if _, err := s.List(ctx); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("List with index %s = %v, want ErrCorrupt", raw, err)
			}
			_, errSave := s.Save(ctx, sampleAccount("hal@example.org"), &Secret{Password: "q"})
			_, errUpd := s.Update(ctx, a.ID, func(*account.Account) error { return nil })
			errRm := s.Remove(ctx, a.ID)
			errSec := s.SetSecret(ctx, a.ID, Secret{Password: "z"})
			for i, err := range []error{errSave, errUpd, errRm, errSec} {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("write %d over index %s = %v, want ErrCorrupt", i, raw, err)
				}
			}
			if got, err := b.Get(IndexKey); err != nil || string(got) != raw {
				t.Fatalf("index changed to %q (%v)", got, err)
			}
			if sec, err := s.Secret(ctx, a.ID); err != nil || sec.Password != "p" {
				t.Fatalf("secret changed: %+v, %v", sec, err)
			}
		}
	})

	t.Run("ConcurrentSaves", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		s := New(bc.open(t)(), filepath.Join(t.TempDir(), "lock"))
		var wg sync.WaitGroup
		errs := make(chan error, 10)
		for i := range 10 {
			wg.Go(func() {
				_, err := s.Save(ctx, sampleAccount(fmt.Sprintf("user%d@example.org", i)), &Secret{Password: fmt.Sprintf("pw-%d", i)})
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		list, err := s.List(ctx)
		if err != nil || len(list) != 10 {
			t.Fatalf("List after 10 concurrent saves: %d accounts, %v", len(list), err)
		}
		for _, a := range list {
			sec, err := s.Secret(ctx, a.ID)
			if err != nil || sec.Password != "pw-"+strings.TrimSuffix(strings.TrimPrefix(a.Email, "user"), "@example.org") {
				t.Fatalf("secret of %s = %+v, %v", a.Email, sec, err)
			}
		}
	})

	t.Run("TxSerialisesTwoStores", func(t *testing.T) {
		t.Parallel()
		ctx := testCtx(t)
		open := bc.open(t)
		lock := filepath.Join(t.TempDir(), "sub", "store.lock")
		s1, s2 := New(open(), lock), New(open(), lock)
		a, err := s1.Save(ctx, sampleAccount("ivy@example.org"), &Secret{Token: &Token{RefreshToken: "0"}})
		if err != nil {
			t.Fatal(err)
		}
		// Each Tx reads a counter, waits, and writes counter+1: without
		// mutual exclusion increments get lost.
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := range 8 {
			s := []*Store{s1, s2}[i%2]
			wg.Go(func() {
				errs <- s.Tx(ctx, func(tx *Tx) error {
					sec, err := tx.Secret(ctx, a.ID)
					if err != nil {
						return err
					}
					var n int
					fmt.Sscan(sec.Token.RefreshToken, &n)
					time.Sleep(5 * time.Millisecond)
					return tx.SetSecret(ctx, a.ID, Secret{Token: &Token{RefreshToken: fmt.Sprint(n + 1)}})
				})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		sec, err := s2.Secret(ctx, a.ID)
		if err != nil || sec.Token.RefreshToken != "8" {
			t.Fatalf("counter = %+v, %v; want 8 (lost updates)", sec.Token, err)
		}
	})
}
