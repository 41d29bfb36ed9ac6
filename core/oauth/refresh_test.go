package oauth

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/internal/leakcheck"
	"github.com/mailmend/mailmend/core/store"
)

// saveGrant stores an OAuth account with tok and returns its id.
func saveGrant(t *testing.T, st *store.Store, tok *Token) string {
	t.Helper()
	a, err := st.Save(t.Context(), account.Account{Email: "alice@example.com", Provider: "generic", Auth: account.OAuth2}, &store.Secret{Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	return a.ID
}

func storedToken(t *testing.T, st *store.Store, id string) *Token {
	t.Helper()
	sec, err := st.Secret(t.Context(), id)
	if err != nil || sec.Token == nil {
		t.Fatalf("stored secret: %+v, %v", sec, err)
	}
	return sec.Token
}

func TestRefreshFastPathNoHTTPNoLock(t *testing.T) {
	as := newFakeAS(t)
	at, rt := as.seed()
	st := store.New(store.NewMemory(), filepath.Join(t.TempDir(), "store.lock"))
	id := saveGrant(t, st, &Token{AccessToken: at, RefreshToken: rt, Expiry: time.Now().Add(time.Hour)})

	// Another holder keeps the lock: the fast path must not need it.
	held := make(chan struct{})
	release := make(chan struct{})
	go st.Tx(t.Context(), func(*store.Tx) error { close(held); <-release; return nil })
	<-held
	defer close(release)
	done := make(chan error, 1)
	var got AccessToken
	go func() {
		var err error
		got, err = Refresh(t.Context(), st, id, as.config(), nil)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil || got.Token != at || got.Refreshed {
			t.Fatalf("Refresh = %+v, %v", got, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("fast path waited for the lock")
	}
	if treqs, _, _, _ := as.counts(); treqs != 0 {
		t.Fatalf("%d token requests for a cached token", treqs)
	}
}

func TestRefreshRotatesAndSaves(t *testing.T) {
	as := newFakeAS(t)
	at, rt := as.seed()
	st := store.New(store.NewMemory(), "")
	// Valid for 30 s more: under MinValidity, so it is refreshed.
	id := saveGrant(t, st, &Token{AccessToken: at, RefreshToken: rt, Expiry: time.Now().Add(30 * time.Second), Scope: "mail"})
	got, err := Refresh(t.Context(), st, id, as.config(), nil)
	if err != nil || got.Token == at || !got.Refreshed || !as.valid(got.Token) {
		t.Fatalf("Refresh = %+v, %v", got, err)
	}
	saved := storedToken(t, st, id)
	if saved.AccessToken != got.Token || saved.RefreshToken == rt || saved.RefreshToken == "" || !saved.Expiry.Equal(got.Expiry) || saved.Scope != "mail" {
		t.Fatalf("stored %+v after refresh to %+v", saved, got)
	}
	// The next call is served from the store.
	got2, err := Refresh(t.Context(), st, id, as.config(), nil)
	if err != nil || got2.Token != got.Token || got2.Refreshed {
		t.Fatalf("second Refresh = %+v, %v", got2, err)
	}
	// Later, after expiry, the saved rotated token refreshes again fine.
	later := func() time.Time { return time.Now().Add(2 * time.Hour) }
	got3, err := Refresh(t.Context(), st, id, as.config(), later)
	if err != nil || !got3.Refreshed || !as.valid(got3.Token) {
		t.Fatalf("Refresh with the rotated token = %+v, %v", got3, err)
	}
	if _, _, refreshes, reuse := as.counts(); refreshes != 2 || reuse != 0 {
		t.Fatalf("refreshes %d reuse %d, want 2 and 0", refreshes, reuse)
	}
}

func TestRefreshConcurrentGoroutines(t *testing.T) {
	as := newFakeAS(t)
	as.set(func(as *fakeAS) { as.refreshDelay = 50 * time.Millisecond })
	at, rt := as.seed()
	st := store.New(store.NewMemory(), filepath.Join(t.TempDir(), "store.lock"))
	id := saveGrant(t, st, &Token{AccessToken: at, RefreshToken: rt, Expiry: time.Now().Add(-time.Minute)})
	const n = 20
	toks := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			t, err := Refresh(t.Context(), st, id, as.config(), nil)
			toks[i], errs[i] = t.Token, err
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || !as.valid(toks[i]) || toks[i] != toks[0] {
			t.Fatalf("goroutine %d: %q, %v", i, toks[i], errs[i])
		}
	}
	if treqs, _, refreshes, reuse := as.counts(); treqs != 1 || refreshes != 1 || reuse != 0 {
		t.Fatalf("server saw %d token requests, %d refreshes, %d reuses; want 1, 1, 0", treqs, refreshes, reuse)
	}
}

func TestRefreshDeadGrant(t *testing.T) {
	as := newFakeAS(t)
	at, rt := as.seed()
	as.set(func(as *fakeAS) { as.dead = true })
	st := store.New(store.NewMemory(), "")
	id := saveGrant(t, st, &Token{AccessToken: at, RefreshToken: rt, Expiry: time.Now().Add(-time.Hour)})
	_, err := Refresh(t.Context(), st, id, as.config(), nil)
	var pe *ProviderError
	if !errors.As(err, &pe) || pe.Code != "invalid_grant" || pe.HTTPStatus != http.StatusBadRequest || pe.Description != "Token has been expired or revoked." {
		t.Fatalf("Refresh = %v, want ProviderError invalid_grant", err)
	}
	if IsTransient(err) {
		t.Fatal("a dead grant reported as transient")
	}
	if treqs, _, _, _ := as.counts(); treqs != 1 {
		t.Fatalf("%d token requests for a dead grant, want exactly 1", treqs)
	}
	// Nothing was overwritten: the grant is kept for the evidence/reconsent.
	if s := storedToken(t, st, id); s.RefreshToken != rt {
		t.Fatalf("stored token changed: %+v", s)
	}
	// Each call is one attempt, never a loop.
	_, _ = Refresh(t.Context(), st, id, as.config(), nil)
	if treqs, _, _, _ := as.counts(); treqs != 2 {
		t.Fatalf("%d token requests after two calls, want 2", treqs)
	}
	if strings.Contains(err.Error(), rt) {
		t.Fatal("the error message holds the refresh token")
	}
}

func TestRefreshTransient(t *testing.T) {
	as := newFakeAS(t)
	at, rt := as.seed()
	as.set(func(as *fakeAS) { as.unavailable = true })
	st := store.New(store.NewMemory(), "")
	id := saveGrant(t, st, &Token{AccessToken: at, RefreshToken: rt, Expiry: time.Now().Add(-time.Hour)})
	_, err := Refresh(t.Context(), st, id, as.config(), nil)
	var te *TransientError
	if !errors.As(err, &te) || te.HTTPStatus != 503 || te.RetryAfter != "30" {
		t.Fatalf("Refresh = %v, want TransientError 503", err)
	}
	if treqs, _, _, _ := as.counts(); treqs != 1 {
		t.Fatalf("%d token requests, want 1", treqs)
	}
	// Unreachable server: transient too.
	cfg := as.config()
	as.srv.Close()
	if _, err := Refresh(t.Context(), st, id, cfg, nil); !IsTransient(err) {
		t.Fatalf("Refresh against a closed server = %v", err)
	}
}

func TestRefreshNoGrant(t *testing.T) {
	as := newFakeAS(t)
	st := store.New(store.NewMemory(), "")
	a, err := st.Save(t.Context(), account.Account{Email: "bob@example.com", Provider: "generic", Auth: account.Password}, &store.Secret{Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Refresh(t.Context(), st, a.ID, as.config(), nil); !errors.Is(err, ErrNoToken) {
		t.Fatalf("password account: %v", err)
	}
	if _, err := Refresh(t.Context(), st, "nosuchid", as.config(), nil); !errors.Is(err, ErrNoToken) || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown account: %v", err)
	}
	id := saveGrant(t, st, &Token{AccessToken: "x", Expiry: time.Now().Add(-time.Hour)})
	if _, err := Refresh(t.Context(), st, id, as.config(), nil); !errors.Is(err, ErrNoRefreshToken) {
		t.Fatalf("no refresh token: %v", err)
	}
	if treqs, _, _, _ := as.counts(); treqs != 0 {
		t.Fatalf("%d token requests", treqs)
	}
}

// failSet is a backend whose writes fail.
type failSet struct{ *store.Memory }

func (failSet) Set(string, []byte) error { return errors.New("store: disk full") }

func TestRefreshNotUsedWhenNotSaved(t *testing.T) {
	as := newFakeAS(t)
	at, rt := as.seed()
	mem := store.NewMemory()
	id := saveGrant(t, store.New(mem, ""), &Token{AccessToken: at, RefreshToken: rt, Expiry: time.Now().Add(-time.Hour)})
	got, err := Refresh(t.Context(), store.New(failSet{mem}, ""), id, as.config(), nil)
	if err == nil || got.Token != "" || !strings.Contains(err.Error(), "not used") {
		t.Fatalf("Refresh with a failing store = %+v, %v", got, err)
	}
}

// Cross-process refresh: TestRefreshAcrossProcesses re-runs the test
// binary as children that each call Refresh on one file store.

const childEnv = "MAILMEND_OAUTH_REFRESH_CHILD"

// childSetup is what a child needs, written by the parent to a file.
type childSetup struct {
	StorePath  string `json:"store_path"`
	Passphrase string `json:"passphrase"`
	CAFile     string `json:"ca_file"`
	AuthURL    string `json:"auth_url"`
	TokenURL   string `json:"token_url"`
	ClientID   string `json:"client_id"`
	AccountID  string `json:"account_id"`
}

const testWorkFactor = 10

func openFileStore(t testing.TB, path, pass string) *store.Store {
	f, err := store.NewFile(path, pass)
	if err != nil {
		t.Fatal(err)
	}
	f.WorkFactor = testWorkFactor
	return store.New(f, path+".lock")
}

// TestRefreshChild is one child of TestRefreshAcrossProcesses; run
// directly it does nothing.
func TestRefreshChild(t *testing.T) {
	dir := os.Getenv(childEnv)
	if dir == "" {
		t.Skip("only runs as a child of TestRefreshAcrossProcesses")
	}
	raw, err := os.ReadFile(filepath.Join(dir, "setup.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s childSetup
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig.RootCAs = pool
	cfg := Config{AuthURL: s.AuthURL, TokenURL: s.TokenURL, ClientID: s.ClientID, HTTPClient: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
	st := openFileStore(t, s.StorePath, s.Passphrase)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no start signal")
		}
		time.Sleep(2 * time.Millisecond)
	}
	got, err := Refresh(t.Context(), st, s.AccountID, cfg, nil)
	if err != nil {
		fmt.Printf("RESULT error %v\n", err)
		return
	}
	fmt.Printf("RESULT token %s %v\n", got.Token, got.Refreshed)
}

func TestRefreshAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 20 processes")
	}
	as := newFakeAS(t)
	as.set(func(as *fakeAS) { as.refreshDelay = 100 * time.Millisecond })
	at, rt := as.seed()
	dir := t.TempDir()
	s := childSetup{
		StorePath: filepath.Join(dir, "accounts.age"), Passphrase: "test passphrase " + randHex(4),
		CAFile: filepath.Join(dir, "ca.pem"), AuthURL: as.srv.URL + "/authorize", TokenURL: as.srv.URL + "/token", ClientID: as.clientID,
	}
	st := openFileStore(t, s.StorePath, s.Passphrase)
	s.AccountID = saveGrant(t, st, &Token{AccessToken: at, RefreshToken: rt, Expiry: time.Now().Add(-time.Minute)})
	if err := os.WriteFile(s.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: as.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(s)
	if err := os.WriteFile(filepath.Join(dir, "setup.json"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	const n = 20
	outs := make([]strings.Builder, n)
	cmds := make([]*exec.Cmd, n)
	for i := range n {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRefreshChild$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), childEnv+"="+dir)
		cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	start := time.Now()
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tokens := map[string]int{}
	refreshedBy := 0
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v\n%s", i, err, outs[i].String())
		}
		var tok string
		var refreshed bool
		for line := range strings.Lines(outs[i].String()) {
			if r, ok := strings.CutPrefix(strings.TrimSpace(line), "RESULT "); ok {
				if _, err := fmt.Sscanf(r, "token %s %t", &tok, &refreshed); err != nil {
					t.Fatalf("child %d: %s", i, r)
				}
			}
		}
		if !as.valid(tok) {
			t.Fatalf("child %d got an invalid token %q\n%s", i, tok, outs[i].String())
		}
		tokens[tok]++
		if refreshed {
			refreshedBy++
		}
	}
	treqs, _, refreshes, reuse := as.counts()
	t.Logf("%d processes: %d distinct tokens, %d token requests, %d refreshes, %d reuses, %v", n, len(tokens), treqs, refreshes, reuse, time.Since(start).Round(time.Millisecond))
	if len(tokens) != 1 || treqs != 1 || refreshes != 1 || reuse != 0 || refreshedBy != 1 {
		t.Fatalf("tokens %v, %d token requests, %d refreshes, %d reuses, %d processes refreshed; want one token and exactly one refresh", tokens, treqs, refreshes, reuse, refreshedBy)
	}
	saved := storedToken(t, openFileStore(t, s.StorePath, s.Passphrase), s.AccountID)
	if saved.RefreshToken == rt {
		t.Fatal("the rotated refresh token was not saved")
	}
	// No token is readable in any file the processes left behind.
	for _, secret := range []string{rt, saved.RefreshToken, saved.AccessToken} {
		leakcheck.NoSecret(t, secret, dir)
	}
}
