package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/store"
)

// testEnv is a sysEnv with buffers, no terminal and a fixed clock.
type testEnv struct {
	*sysEnv
	out, err *bytes.Buffer
}

func newTestEnv(t *testing.T, st *store.Store) *testEnv {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", dir+"/config")
	t.Setenv("XDG_STATE_HOME", dir+"/state")
	t.Setenv("XDG_DATA_HOME", dir+"/data")
	t.Setenv("MAILMEND_CONFIG", "")
	out, errb := &bytes.Buffer{}, &bytes.Buffer{}
	e := &sysEnv{
		In: strings.NewReader(""), Out: out, Err: errb,
		Getenv: func(k string) string { return "" },
		Now:    func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) },
		ReadSecret: func(string) (string, error) {
			return "", errors.New("no terminal")
		},
		ReadLine:  func(string) (string, error) { return "", errors.New("no terminal") },
		Resolver:  noMX{},
		OpenStore: func() (*store.Store, error) { return st, nil },
	}
	return &testEnv{sysEnv: e, out: out, err: errb}
}

// noMX answers every MX lookup with "no such host".
type noMX struct{}

func (noMX) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func memStore(t *testing.T) *store.Store {
	return store.New(store.NewMemory(), t.TempDir()+"/lock")
}

// exec runs one command line with stdin and returns the exit code.
func (e *testEnv) exec(t *testing.T, stdin string, args ...string) int {
	t.Helper()
	e.out.Reset()
	e.err.Reset()
	e.In = strings.NewReader(stdin)
	return runContext(context.Background(), args, e.sysEnv)
}

func TestAddListTokenRemove(t *testing.T) {
	st := memStore(t)
	e := newTestEnv(t, st)

	if code := e.exec(t, "abcd efgh ijkl mnop\n", "add", "--email", "Ann@Gmail.com", "--auth", "password", "--password-stdin", "--no-verify"); code != 0 {
		t.Fatalf("add exit %d: %s", code, e.err)
	}
	if !strings.Contains(e.err.String(), "Google") {
		t.Errorf("add did not name the detected provider: %q", e.err)
	}
	if code := e.exec(t, "", "list", "--json"); code != 0 {
		t.Fatalf("list exit %d: %s", code, e.err)
	}
	var l listJSON
	if err := json.Unmarshal(e.out.Bytes(), &l); err != nil {
		t.Fatalf("list --json: %v\n%s", err, e.out)
	}
	if len(l.Accounts) != 1 {
		t.Fatalf("want 1 account, got %+v", l.Accounts)
	}
	got := l.Accounts[0]
	if got.Email != "Ann@Gmail.com" || got.Provider != "google" || got.Auth != "password" || got.Status != "unchecked" || got.IMAP != "imap.gmail.com:993" {
		t.Errorf("unexpected account %+v", got)
	}
	if strings.Contains(e.out.String(), "abcdefghijklmnop") {
		t.Fatal("list printed the secret")
	}

	// The app password was normalised (spaces stripped) and token prints it alone.
	if code := e.exec(t, "", "token", "ann@gmail.com"); code != 0 {
		t.Fatalf("token exit %d: %s", code, e.err)
	}
	if e.out.String() != "abcdefghijklmnop\n" {
		t.Errorf("token printed %q", e.out.String())
	}

	// Adding the same address again updates in place and keeps the id.
	if code := e.exec(t, "qrst uvwx yzab cdef", "add", "--email", "ann@gmail.com", "--auth", "password", "--password-stdin", "--no-verify"); code != 0 {
		t.Fatalf("re-add exit %d: %s", code, e.err)
	}
	e.exec(t, "", "list", "--json")
	var l2 listJSON
	_ = json.Unmarshal(e.out.Bytes(), &l2)
	if len(l2.Accounts) != 1 || l2.Accounts[0].ID != got.ID {
		t.Fatalf("re-add changed the list: before %s, after %+v", got.ID, l2.Accounts)
	}
	e.exec(t, "", "token", got.ID)
	if e.out.String() != "qrstuvwxyzabcdef\n" {
		t.Errorf("token after update printed %q", e.out.String())
	}

	if code := e.exec(t, "", "remove", "ann@gmail.com"); code != 0 {
		t.Fatalf("remove exit %d: %s", code, e.err)
	}
	if code := e.exec(t, "", "token", "ann@gmail.com"); code != exitUsage || !strings.Contains(e.err.String(), "no account") {
		t.Errorf("token after remove: exit %d, %q", code, e.err)
	}
	if _, err := st.Backend().Get(store.SecretKey(got.ID)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("secret item still there after remove: %v", err)
	}
}

func TestListHuman(t *testing.T) {
	e := newTestEnv(t, memStore(t))
	if code := e.exec(t, "", "list"); code != 0 || !strings.Contains(e.err.String(), "No accounts yet") {
		t.Fatalf("empty list: exit %d, %q", code, e.err)
	}
	e.exec(t, "secret-pw", "add", "--email", "me@corp.example", "--imap", "mail.corp.example:143", "--smtp", "mail.corp.example:587", "--password-stdin", "--no-verify")
	if code := e.exec(t, "", "list"); code != 0 {
		t.Fatalf("list exit %d", code)
	}
	for _, want := range []string{"EMAIL", "me@corp.example", "generic", "password", "unchecked", "never"} {
		if !strings.Contains(e.out.String(), want) {
			t.Errorf("list output lacks %q:\n%s", want, e.out)
		}
	}
	e.exec(t, "", "list", "--json")
	var l listJSON
	_ = json.Unmarshal(e.out.Bytes(), &l)
	if len(l.Accounts) != 1 || l.Accounts[0].IMAP != "mail.corp.example:143" {
		t.Fatalf("account %+v", l.Accounts)
	}
	// Port 143 means STARTTLS; check through the store.
	a, err := e.OpenStore()
	if err != nil {
		t.Fatal(err)
	}
	acct, _ := a.Find(context.Background(), "me@corp.example")
	if acct.IMAP.Security != "starttls" || acct.SMTP.Security != "starttls" {
		t.Errorf("security by port: %+v %+v", acct.IMAP, acct.SMTP)
	}
}

func TestAddUsageErrors(t *testing.T) {
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"bad email", "", []string{"add", "--email", "not-an-address", "--password-stdin"}, "not a mail address"},
		{"missing email", "", []string{"add"}, "email"},
		{"generic needs imap", "pw", []string{"add", "--email", "a@unknown.example", "--password-stdin"}, "--imap"},
		{"bad security", "pw", []string{"add", "--email", "a@x.example", "--imap", "h:993", "--imap-security", "none", "--password-stdin"}, "tls or starttls"},
		{"bad port", "pw", []string{"add", "--email", "a@x.example", "--imap", "h:99999", "--password-stdin"}, "1-65535"},
		{"no terminal", "", []string{"add", "--email", "a@x.example", "--imap", "h:993"}, "--password-stdin"},
		{"unknown provider", "pw", []string{"add", "--email", "a@x.example", "--provider", "nope", "--password-stdin"}, "unknown provider"},
		{"auth not supported", "pw", []string{"add", "--email", "a@outlook.com", "--auth", "password", "--password-stdin"}, "does not support"},
		{"google app password shape", "short", []string{"add", "--email", "a@gmail.com", "--auth", "password", "--password-stdin", "--no-verify"}, "16"},
		{"unknown flag", "", []string{"list", "--nope"}, "unknown flag"},
		{"unknown command", "", []string{"frobnicate"}, "unknown command"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := memStore(t)
			e := newTestEnv(t, st)
			code := e.exec(t, tc.stdin, tc.args...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr %q", code, exitUsage, e.err)
			}
			if !strings.Contains(e.err.String(), tc.want) {
				t.Errorf("stderr %q lacks %q", e.err, tc.want)
			}
			if tc.stdin != "" && len(tc.stdin) > 3 && strings.Contains(e.err.String(), tc.stdin) {
				t.Errorf("stderr echoes the secret: %q", e.err)
			}
			if l, _ := st.List(context.Background()); len(l) != 0 {
				t.Errorf("a failed add saved %+v", l)
			}
		})
	}
}

func TestStoreUnavailableExit3(t *testing.T) {
	e := newTestEnv(t, nil)
	e.OpenStore = func() (*store.Store, error) {
		return nil, errors.Join(store.ErrUnavailable, errors.New("keyring: the name org.freedesktop.secrets was not provided"))
	}
	for _, args := range [][]string{{"list"}, {"token", "x@y.example"}, {"remove", "x@y.example"}} {
		if code := e.exec(t, "", args...); code != exitStore {
			t.Errorf("%v: exit %d, want 3; %q", args, code, e.err)
		}
		if !strings.Contains(e.err.String(), "--store file") {
			t.Errorf("%v: message does not mention --store file: %q", args, e.err)
		}
	}
}

func TestProvidersJSON(t *testing.T) {
	e := newTestEnv(t, memStore(t))
	if code := e.exec(t, "", "providers", "--json"); code != 0 {
		t.Fatalf("exit %d", code)
	}
	var out struct {
		Providers []struct {
			ID     string `json:"id"`
			IMAP   string `json:"imap"`
			OAuth2 *struct {
				Scopes []string `json:"scopes"`
			} `json:"oauth2"`
		} `json:"providers"`
	}
	if err := json.Unmarshal(e.out.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, p := range out.Providers {
		ids[p.ID] = true
		if p.ID == "google" && (p.OAuth2 == nil || p.OAuth2.Scopes[0] != "https://mail.google.com/") {
			t.Errorf("google oauth2 %+v", p.OAuth2)
		}
	}
	for _, id := range []string{"google", "microsoft", "yahoo", "aol", "icloud", "fastmail", "zoho", "gmx", "yandex", "proton", "generic"} {
		if !ids[id] {
			t.Errorf("providers --json lacks %s", id)
		}
	}
}

func TestRemoveAsksOnTerminal(t *testing.T) {
	st := memStore(t)
	e := newTestEnv(t, st)
	e.exec(t, "pw", "add", "--email", "me@corp.example", "--imap", "h.example:993", "--password-stdin", "--no-verify")
	e.StdinTTY = true
	e.ReadLine = func(string) (string, error) { return "n", nil }
	if code := e.exec(t, "", "remove", "me@corp.example"); code != exitProblem {
		t.Fatalf("declined remove: exit %d", code)
	}
	if l, _ := st.List(context.Background()); len(l) != 1 {
		t.Fatal("declined remove removed the account")
	}
	e.ReadLine = func(string) (string, error) { return "y", nil }
	if code := e.exec(t, "", "remove", "me@corp.example"); code != 0 {
		t.Fatalf("confirmed remove: exit %d: %s", code, e.err)
	}
	if l, _ := st.List(context.Background()); len(l) != 0 {
		t.Fatal("confirmed remove kept the account")
	}
}

func TestListWarnsBeforeAGrantEnds(t *testing.T) {
	st := memStore(t)
	e := newTestEnv(t, st)
	now := e.Now()
	ctx := context.Background()
	a, err := st.Save(ctx, account.Account{Email: "ken@gmail.com", Provider: "google", Auth: account.OAuth2,
		IMAP:        account.Endpoint{Host: "imap.gmail.com", Port: 993, Security: account.TLS},
		ConsentedAt: now.Add(-6*24*time.Hour - 6*time.Hour), Cause: "oauth_app_in_testing", Status: account.Healthy}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if code := e.exec(t, "", "list"); code != 0 {
		t.Fatalf("list: %d %s", code, e.err)
	}
	if !strings.Contains(e.out.String(), "warning: ken@gmail.com: the sign-in ends in 18 hours") {
		t.Errorf("no warning before the Testing client's 7 days end:\n%s", e.out)
	}
	e.exec(t, "", "list", "--json")
	var l listJSON
	_ = json.Unmarshal(e.out.Bytes(), &l)
	if len(l.Accounts) != 1 || len(l.Accounts[0].Warnings) != 1 || l.Accounts[0].ID != a.ID {
		t.Errorf("list --json warnings: %+v", l.Accounts)
	}
}

func TestTUINeedsATerminal(t *testing.T) {
	e := newTestEnv(t, memStore(t))
	for _, args := range [][]string{nil, {"demo"}} {
		if code := e.exec(t, "", args...); code != exitUsage || !strings.Contains(e.err.String(), "needs a terminal") {
			t.Errorf("%v without a terminal: exit %d, %q", args, code, e.err)
		}
	}
}
