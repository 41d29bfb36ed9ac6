package wizard

import (
	"bytes"
	"context"
	"errors"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/cause"
	"github.com/mailmend/mailmend/core/sandbox"
	"github.com/mailmend/mailmend/core/store"
)

// syncBuffer is a bytes.Buffer safe for one writer and polling readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func runLines(t *testing.T, w *Wizard, in io.Reader, out io.Writer, rs func(string) (string, error)) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	return RunLines(ctx, w, in, out, rs)
}

func TestRunLinesAppPassword(t *testing.T) {
	const email = "rob@gmail.test"
	sb := startSandbox(t, nil, sandbox.UserSpec{Email: email, Password: "pw", Flavour: sandbox.Google, Scenario: sandbox.AppPasswordRequired})
	f := newFixture(t, sb, email, account.Password, &store.Secret{Password: "pw"})
	f.browser.off = true
	app, _ := sb.AppPassword(email)
	w, err := For(cause.AppPasswordRequired, f.env())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	in := strings.NewReader("abcd efgh ijkl mnop\n" + spaced(app) + "\n")
	if err := runLines(t, w, in, &out, nil); err != nil {
		t.Fatalf("RunLines: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{"== The provider wants an app password ==", f.prov.AppPasswordURL, "App password for rob@gmail.test (16 letters; spaces are fine): ", "! The server refused it", "OK: "} {
		if !strings.Contains(got, want) {
			t.Fatalf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, app) || strings.Contains(got, spaced(app)) {
		t.Fatal("the app password was printed")
	}
	if f.secret().Password != app {
		t.Fatal("not saved")
	}
}

func TestRunLinesReadSecretAndEOF(t *testing.T) {
	const email = "sam@gmail.test"
	sb := startSandbox(t, nil, sandbox.UserSpec{Email: email, Password: "pw", Flavour: sandbox.Google, Scenario: sandbox.WrongPassword})
	good, _ := sb.Password(email)

	// Masked prompts go through readSecret; in is not read for them.
	f := newFixture(t, sb, email, account.Password, &store.Secret{Password: "pw"})
	f.prov.AppPasswordURL, f.prov.AppPasswordFormat = "", ""
	w, _ := For(cause.WrongPassword, f.env())
	var prompts []string
	rs := func(p string) (string, error) { prompts = append(prompts, p); return good, nil }
	var out bytes.Buffer
	if err := runLines(t, w, strings.NewReader(""), &out, rs); err != nil {
		t.Fatalf("RunLines: %v\n%s", err, out.String())
	}
	if len(prompts) != 1 || !strings.HasPrefix(prompts[0], "Password for sam@gmail.test") {
		t.Fatalf("prompts %q", prompts)
	}

	// Input ends at the secret prompt: cancelled, nothing saved.
	if err := sb.SetScenario(email, sandbox.WrongPassword); err != nil {
		t.Fatal(err)
	}
	f2 := newFixture(t, sb, email, account.Password, &store.Secret{Password: "pw"})
	w2, _ := For(cause.WrongPassword, f2.env())
	err := runLines(t, w2, strings.NewReader(""), io.Discard, nil)
	if !errors.Is(err, ErrInputClosed) {
		t.Fatalf("RunLines at EOF = %v", err)
	}
	if f2.secret().Password != "pw" {
		t.Fatal("the store changed")
	}
	if _, ok := w2.Outcome(); ok || w2.Err() == nil {
		t.Fatal("the wizard was not cancelled")
	}
}

func TestRunLinesNotRepaired(t *testing.T) {
	env := memEnv(t, nil)
	w, _ := For(cause.Unknown, env)
	var out bytes.Buffer
	if err := runLines(t, w, strings.NewReader(""), &out, nil); !errors.Is(err, ErrNotRepaired) {
		t.Fatalf("RunLines = %v", err)
	}
	if !strings.Contains(out.String(), "FAILED: ") {
		t.Fatalf("output:\n%s", out.String())
	}
}

// Consent in line mode over SSH: no browser here; the user signs in on
// another computer and pastes the address the browser ended on.
func TestRunLinesConsentPaste(t *testing.T) {
	f, old := oauthFixture(t, sandbox.Microsoft, "tom@outlook.test", sandbox.PasswordChanged, nil)
	env := f.env()
	env.Browser = nil
	env.Getenv = func(k string) string {
		return map[string]string{"SSH_CONNECTION": "192.0.2.7 50000 192.0.2.10 2222", "USER": "tom"}[k]
	}
	w, _ := For(cause.PasswordChanged, env)
	out := &syncBuffer{}
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() {
		re := regexp.MustCompile(`https://\S+/authorize\?\S+`)
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if m := re.FindString(out.String()); m != "" {
				// The "other computer": sign in, but do not follow the
				// redirect to a loopback address it cannot reach.
				resp, err := f.sb.HTTPClient().Get(m + "&sandbox_auto_approve=1")
				if err != nil {
					return
				}
				resp.Body.Close()
				_, _ = io.WriteString(pw, "garbage\n"+resp.Header.Get("Location")+"\n")
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	err := runLines(t, w, pr, out, nil)
	if err != nil {
		t.Fatalf("RunLines: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{"ssh -N -L", "-p 2222 tom@192.0.2.10", "paste that page's address", "! That address holds no sign-in answer", "OK: Signed in again"} {
		if !strings.Contains(got, want) {
			t.Fatalf("output lacks %q:\n%s", want, got)
		}
	}
	d, _ := w.Outcome()
	checkReconsented(t, f, old, d)
}
