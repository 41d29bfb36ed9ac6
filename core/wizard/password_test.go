package wizard

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/cause"
	"github.com/mailmend/mailmend/core/guard"
	"github.com/mailmend/mailmend/core/sandbox"
	"github.com/mailmend/mailmend/core/store"
)

func spaced(s string) string {
	return s[0:4] + " " + s[4:8] + " " + s[8:12] + " " + s[12:16]
}

func TestAppPasswordRequired(t *testing.T) {
	const email = "ann@gmail.test"
	sb := startSandbox(t, nil, sandbox.UserSpec{Email: email, Password: "account-pass", Flavour: sandbox.Google, Scenario: sandbox.AppPasswordRequired})
	f := newFixture(t, sb, email, account.Password, &store.Secret{Password: "account-pass"})
	f.browser.off = true
	app, err := sb.AppPassword(email)
	if err != nil {
		t.Fatal(err)
	}
	w := startWizard(t, cause.AppPasswordRequired, f.env())

	ex := expect[Explain](t, w)
	if ex.Title != cause.Info(cause.AppPasswordRequired).Title || !strings.Contains(ex.Body, "2-Step Verification must be on") || !strings.Contains(ex.Body, "## Fix it") {
		t.Fatalf("explain = %+v", ex)
	}
	submit(t, w, "")
	ou := expect[OpenURL](t, w)
	if ou.URL != f.prov.AppPasswordURL || !ou.Opened {
		t.Fatalf("open url = %+v", ou)
	}
	submit(t, w, "")
	in := expect[SecretInput](t, w)
	if !in.Mask || in.Hint != "16 letters; spaces are fine" || in.Error != "" || in.Validate == nil {
		t.Fatalf("secret input = %+v", in)
	}
	if _, err := in.Validate("short"); err == nil {
		t.Fatal("Validate accepted a 5-letter Google app password")
	}

	// Malformed: rejected before any login.
	submit(t, w, "abc")
	in = expect[SecretInput](t, w)
	if !strings.Contains(in.Error, "16 letters") {
		t.Fatalf("format error = %q", in.Error)
	}
	if n, _ := f.guard.Count(f.acct.ID); n != 0 {
		t.Fatalf("guard counted %d attempts for a malformed password", n)
	}

	// Well-formed but wrong: the server's answer is shown, the guard counts.
	submit(t, w, "abcd efgh ijkl mnop")
	if _, ok := next(t, w).(Working); !ok {
		t.Fatal("no Working step during the live login")
	}
	in = expect[SecretInput](t, w)
	if !strings.Contains(in.Error, "The server refused it") || !strings.Contains(in.Error, "2 of 3 attempts left") {
		t.Fatalf("refusal error = %q", in.Error)
	}
	if strings.ContainsAny(in.Error, "\x1b\r\n") {
		t.Fatalf("unsanitized error %q", in.Error)
	}
	if n, _ := f.guard.Count(f.acct.ID); n != 1 {
		t.Fatalf("guard count = %d, want 1", n)
	}
	if got := f.secret().Password; got != "account-pass" {
		t.Fatalf("a refused password replaced the stored one")
	}

	// The real app password, pasted with spaces.
	submit(t, w, spaced(app))
	d := expectPast[Done](t, w)
	if !d.OK {
		t.Fatalf("done = %+v", d)
	}
	if got := f.secret().Password; got != app {
		t.Fatalf("stored password is not the normalised app password")
	}
	a := f.stored()
	if a.ID != f.acct.ID || a.Status != account.Healthy || a.Cause != "" || a.LastOK.IsZero() || a.Auth != account.Password {
		t.Fatalf("stored account = %+v", a)
	}
	if n, _ := f.guard.Count(f.acct.ID); n != 0 {
		t.Fatalf("guard count after success = %d", n)
	}
	logins, _ := sb.Logins(email)
	if logins.IMAPFailed != 1 || logins.IMAPOK != 1 {
		t.Fatalf("sandbox saw %+v, want one failed and one good IMAP login", logins)
	}
	if _, ok := <-w.Steps(); ok {
		t.Fatal("Steps not closed after Done")
	}
	if got, ok := w.Outcome(); !ok || !got.OK {
		t.Fatalf("outcome = %+v %v", got, ok)
	}
}

// fakeClock is a clock that only Sleep advances.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	slept []time.Duration
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.slept = append(c.slept, d)
	return nil
}

func (c *fakeClock) sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}

func TestGuardBlockedWaits(t *testing.T) {
	const email = "bob@gmail.test"
	sb := startSandbox(t, nil, sandbox.UserSpec{Email: email, Password: "old-pass", Flavour: sandbox.Google, Scenario: sandbox.WrongPassword})
	f := newFixture(t, sb, email, account.Password, &store.Secret{Password: "old-pass"})
	f.browser.off = true
	f.prov.AppPasswordURL, f.prov.AppPasswordFormat = "", ""
	clk := &fakeClock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	f.guard = guard.New(f.guard.Dir(), clk.now)
	for range guard.Limit { // three failures one minute apart
		if ok, _, err := f.guard.Allow(f.acct.ID); !ok || err != nil {
			t.Fatal("guard refused a setup attempt", err)
		}
		_ = f.guard.Failed(f.acct.ID)
		clk.t = clk.t.Add(time.Minute)
	}
	_, wantWait, _ := f.guard.Allow(f.acct.ID)
	env := f.env()
	env.Now, env.Sleep = clk.now, clk.sleep
	w := startWizard(t, cause.WrongPassword, env)
	expect[Explain](t, w)
	submit(t, w, "")
	expect[SecretInput](t, w)
	good, _ := sb.Password(email)
	start := clk.now()
	submit(t, w, good)
	wt := expect[Wait](t, w)
	if !wt.Until.Equal(start.Add(wantWait)) || !strings.Contains(wt.Reason, "3 logins failed") {
		t.Fatalf("wait = %+v, want until %v", wt, start.Add(wantWait))
	}
	d := expectPast[Done](t, w)
	if !d.OK {
		t.Fatalf("done = %+v", d)
	}
	if s := clk.sleeps(); len(s) != 1 || s[0] != wantWait {
		t.Fatalf("slept %v, want [%v]", s, wantWait)
	}
	if f.secret().Password != good {
		t.Fatal("the verified password was not saved")
	}
}

func TestCancelLeavesStoreUntouched(t *testing.T) {
	const email = "cat@gmail.test"
	sb := startSandbox(t, nil, sandbox.UserSpec{Email: email, Password: "pw", Flavour: sandbox.Google, Scenario: sandbox.WrongPassword})
	f := newFixture(t, sb, email, account.Password, &store.Secret{Password: "pw"})
	f.browser.off = true
	w := startWizard(t, cause.WrongPassword, f.env())
	expect[Explain](t, w)
	submit(t, w, "")
	expect[OpenURL](t, w)
	w.Cancel()
	if err := w.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-w.Steps(); ok {
		t.Fatal("Steps still open after Cancel")
	}
	if w.Err() == nil {
		t.Fatal("Err is nil after Cancel")
	}
	if err := w.Submit("x"); err != ErrClosed {
		t.Fatalf("Submit after cancel = %v", err)
	}
	if f.secret().Password != "pw" || f.stored().Status != account.NeedsReconnect {
		t.Fatal("cancel changed the store")
	}
}
