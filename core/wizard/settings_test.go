package wizard

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/cause"
	"github.com/mailmend/mailmend/core/provider"
	"github.com/mailmend/mailmend/core/sandbox"
	"github.com/mailmend/mailmend/core/store"
)

// memEnv is an environment over a memory store holding one password
// account, with a scripted Verify.
func memEnv(t *testing.T, verify VerifyFunc) Env {
	t.Helper()
	st := store.New(store.NewMemory(), "")
	a, err := st.Save(t.Context(), account.Account{
		Email: "zoe@example.test", Provider: "generic", Auth: account.Password,
		IMAP: account.Endpoint{Host: "imap.example.test", Port: 993, Security: account.TLS},
		SMTP: account.Endpoint{Host: "smtp.example.test", Port: 465, Security: account.TLS},
	}, &store.Secret{Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	return Env{Account: a, Store: st, Verify: verify}
}

// verifySeq returns a Verify that answers with the given causes in turn
// ("" = healthy) and counts its calls.
func verifySeq(causes ...cause.ID) (VerifyFunc, *atomic.Int32) {
	var n atomic.Int32
	return func(ctx context.Context, a account.Account) (bool, cause.Diagnosis, error) {
		i := int(n.Add(1)) - 1
		c := causes[min(i, len(causes)-1)]
		if c == "" {
			return true, cause.Diagnosis{}, nil
		}
		return false, cause.Diagnosis{Cause: c, Title: cause.Info(c).Title, Evidence: []cause.Evidence{{Kind: cause.KindIMAP, Text: "server says \x1b[31mno"}}}, nil
	}, &n
}

func TestClockRemeasure(t *testing.T) {
	var skew atomic.Int64
	skew.Store(int64(20 * time.Minute))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}))
	defer srv.Close()
	verify, calls := verifySeq("")
	env := memEnv(t, verify)
	env.ClockURL = srv.URL + "/"
	env.HTTPClient = srv.Client()
	env.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	env.ClockOffset, env.ClockMeasured = 20*time.Minute, true
	env.GOOS = "darwin"
	w := startWizard(t, cause.ClockSkew, env)
	ex := expect[Explain](t, w)
	if !strings.Contains(ex.Body, "20m0s ahead") || !strings.Contains(ex.Body, "timedatectl set-ntp true") || !strings.Contains(ex.Body, "w32tm /resync") {
		t.Fatalf("explain body:\n%s", ex.Body)
	}
	if i, j := strings.Index(ex.Body, "sntp -sS"), strings.Index(ex.Body, "timedatectl set-ntp"); i < 0 || i > j {
		t.Fatal("the macOS command is not first for GOOS darwin")
	}
	submit(t, w, "")
	expect[Choose](t, w)
	submit(t, w, "measure")
	ch := expectPast[Choose](t, w)
	if !strings.Contains(ch.Error, "still") || !strings.Contains(ch.Error, "ahead") {
		t.Fatalf("after first measure: %q", ch.Error)
	}
	if calls.Load() != 0 {
		t.Fatal("re-tested while the clock was still off")
	}
	skew.Store(int64(2 * time.Second)) // the user turned on time sync
	submit(t, w, "1")
	d := expectPast[Done](t, w)
	if !d.OK || calls.Load() != 1 {
		t.Fatalf("done %+v after %d re-tests", d, calls.Load())
	}
	if a, _ := env.Store.Find(t.Context(), env.Account.ID); a.Status != account.Healthy {
		t.Fatalf("status %s", a.Status)
	}
}

func TestBackoff(t *testing.T) {
	got := []time.Duration{Backoff(0), Backoff(1), Backoff(2), Backoff(3), Backoff(4), Backoff(50)}
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, MaxBackoff, MaxBackoff}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Backoff(%d) = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestRateLimitedBackoffWithFakeClock(t *testing.T) {
	verify, calls := verifySeq(cause.RateLimited, cause.ProviderUnavailable, "")
	env := memEnv(t, verify)
	clk := &fakeClock{t: time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)}
	env.Now, env.Sleep = clk.now, clk.sleep
	w := startWizard(t, cause.RateLimited, env)
	expect[Explain](t, w)
	submit(t, w, "")
	for i, d := range []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute} {
		before := clk.now()
		wt := expect[Wait](t, w)
		if !wt.Until.Equal(before.Add(d)) {
			t.Fatalf("wait %d until %v, want %v", i, wt.Until, before.Add(d))
		}
		expect[Working](t, w)
	}
	d := expect[Done](t, w)
	if !d.OK || calls.Load() != 3 {
		t.Fatalf("done %+v after %d re-tests", d, calls.Load())
	}
	if s := clk.sleeps(); len(s) != 3 || s[2] != 2*time.Minute {
		t.Fatalf("slept %v", s)
	}
}

func TestBackoffStopsOnOtherCauseAndCancel(t *testing.T) {
	verify, _ := verifySeq(cause.WrongPassword)
	env := memEnv(t, verify)
	clk := &fakeClock{t: time.Unix(0, 0)}
	env.Now, env.Sleep = clk.now, clk.sleep
	w := startWizard(t, cause.ProviderUnavailable, env)
	expect[Explain](t, w)
	submit(t, w, "")
	expect[Wait](t, w)
	d := expectPast[Done](t, w)
	if d.OK || d.Next != cause.WrongPassword {
		t.Fatalf("done %+v", d)
	}

	// A real wait is stopped by Cancel at once.
	env.Now, env.Sleep = nil, nil
	w2 := startWizard(t, cause.ProviderUnavailable, env)
	expect[Explain](t, w2)
	submit(t, w2, "")
	wt := expect[Wait](t, w2)
	if time.Until(wt.Until) < 25*time.Second {
		t.Fatalf("wait until %v", wt.Until)
	}
	start := time.Now()
	w2.Cancel()
	if err := w2.Wait(t.Context()); err != nil || time.Since(start) > 2*time.Second {
		t.Fatalf("cancel took %v (%v)", time.Since(start), err)
	}
	if !errors.Is(w2.Err(), context.Canceled) {
		t.Fatalf("Err = %v", w2.Err())
	}
}

func TestWrongSettingsApply(t *testing.T) {
	const email = "pat@gmail.test"
	sb := startSandbox(t, nil, sandbox.UserSpec{Email: email, Password: "pw", Flavour: sandbox.Google, Scenario: sandbox.WrongSettings})
	f := newFixture(t, sb, email, account.Password, &store.Secret{Password: "pw"})
	good, _ := sb.GoodSettings(email)
	if f.acct.IMAP == good.IMAP {
		t.Fatal("the sandbox gave good settings for wrong_settings")
	}
	w := startWizard(t, cause.WrongSettings, f.env())
	ex := expect[Explain](t, w)
	for _, s := range []string{f.acct.IMAP.String(), good.IMAP.String(), f.acct.SMTP.String(), good.SMTP.String()} {
		if !strings.Contains(ex.Body, s) {
			t.Fatalf("settings table lacks %s:\n%s", s, ex.Body)
		}
	}
	submit(t, w, "")
	ch := expect[Choose](t, w)
	if ch.Options[0].Key != "apply" {
		t.Fatalf("options %+v", ch.Options)
	}
	if err := w.Choose(5); !errors.Is(err, ErrNoOption) {
		t.Fatalf("Choose(5) = %v", err)
	}
	if err := w.Choose(0); err != nil {
		t.Fatal(err)
	}
	d := expectPast[Done](t, w)
	if !d.OK {
		t.Fatalf("done %+v", d)
	}
	a := f.stored()
	if a.IMAP != good.IMAP || a.SMTP != good.SMTP || a.Status != account.Healthy || a.ID != f.acct.ID {
		t.Fatalf("stored %+v, want endpoints %v %v", a, good.IMAP, good.SMTP)
	}
}

func TestWrongSettingsKeep(t *testing.T) {
	verify, calls := verifySeq("")
	env := memEnv(t, verify)
	env.Provider.IMAP, env.Provider.IMAPSecurity = "imap.good.test:993", account.TLS
	env.Provider.SMTP, env.Provider.SMTPSecurity = "smtp.good.test:587", account.StartTLS
	env.Provider.ID = "x"
	w := startWizard(t, cause.WrongSettings, env)
	expect[Explain](t, w)
	submit(t, w, "")
	expect[Choose](t, w)
	submit(t, w, "keep")
	d := expect[Done](t, w)
	a, _ := env.Store.Find(t.Context(), env.Account.ID)
	if d.OK || calls.Load() != 0 || a.IMAP != env.Account.IMAP {
		t.Fatalf("keep changed something: %+v %+v", d, a)
	}
}

// account_blocked against the sandbox: the security page is opened, the
// first re-test still fails, the user confirms on the page, the second
// passes.
func TestAccountBlocked(t *testing.T) {
	const email = "quinn@gmail.test"
	sb := startSandbox(t, nil, sandbox.UserSpec{Email: email, Password: "pw", Flavour: sandbox.Google, Scenario: sandbox.AccountBlocked})
	f := newFixture(t, sb, email, account.Password, &store.Secret{Password: "pw"})
	f.browser.off = true
	w := startWizard(t, cause.AccountBlocked, f.env())
	expect[Explain](t, w)
	submit(t, w, "")
	ou := expect[OpenURL](t, w)
	if ou.URL != f.prov.SecurityURL || !ou.Opened {
		t.Fatalf("open url %+v", ou)
	}
	submit(t, w, "")
	expect[Choose](t, w)
	submit(t, w, "retest")
	ch := expectPast[Choose](t, w)
	if !strings.Contains(ch.Error, "Still failing") {
		t.Fatalf("after first re-test: %+v", ch)
	}
	// The user confirms "it was me" on the provider's page.
	resp, err := f.browser.client.PostForm(strings.SplitN(f.prov.SecurityURL, "?", 2)[0], map[string][]string{"email": {email}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	submit(t, w, "retest")
	d := expectPast[Done](t, w)
	if !d.OK || f.stored().Status != account.Healthy {
		t.Fatalf("done %+v", d)
	}
}

func TestProtocolDisabledOtherCause(t *testing.T) {
	verify, _ := verifySeq(cause.WrongPassword)
	env := memEnv(t, verify)
	env.Provider.HelpURL = "https://help.example.test/imap"
	var opened []string
	var mu sync.Mutex
	env.Browser = func(u string) error { mu.Lock(); opened = append(opened, u); mu.Unlock(); return nil }
	env.NoBrowser = true
	w := startWizard(t, cause.ProtocolDisabled, env)
	ex := expect[Explain](t, w)
	if !strings.Contains(ex.Body, "Forwarding and POP/IMAP") {
		t.Fatalf("body:\n%s", ex.Body)
	}
	submit(t, w, "")
	ou := expect[OpenURL](t, w)
	if ou.Opened || len(opened) != 0 {
		t.Fatal("opened a browser with NoBrowser set")
	}
	submit(t, w, "")
	expect[Choose](t, w)
	submit(t, w, "retest")
	d := expectPast[Done](t, w)
	if d.OK || d.Next != cause.WrongPassword {
		t.Fatalf("done %+v", d)
	}
}

func TestEveryCauseStartsWithExplain(t *testing.T) {
	for _, id := range cause.All {
		t.Run(string(id), func(t *testing.T) {
			env := memEnv(t, nil)
			env.Diagnosis = cause.Diagnosis{Cause: id, Evidence: []cause.Evidence{{Kind: cause.KindIMAP, Code: "AUTHENTICATIONFAILED", Text: "Invalid credentials \x1b]0;x\x07(Failure)"}}}
			env.OAuth.AuthURL, env.OAuth.TokenURL, env.OAuth.ClientID = "https://id.example.test/auth", "https://id.example.test/token", "cid"
			w := startWizard(t, id, env)
			ex := expect[Explain](t, w)
			if ex.Title != cause.Info(id).Title {
				t.Fatalf("title %q", ex.Title)
			}
			if !strings.Contains(ex.Body, "AUTHENTICATIONFAILED") || strings.ContainsAny(ex.Body, "\x1b\x07") {
				t.Fatalf("evidence missing or unsanitized:\n%q", ex.Body)
			}
			if g := Guide(id); g == "" || !strings.Contains(ex.Body, g[:40]) {
				t.Fatal("guide missing")
			}
			w.Cancel()
		})
	}
}

func TestUnknownPointsAtReport(t *testing.T) {
	env := memEnv(t, nil)
	w := startWizard(t, cause.Unknown, env)
	expect[Explain](t, w)
	submit(t, w, "")
	d := expect[Done](t, w)
	if d.OK || !strings.Contains(d.Message, "mailmend report zoe@example.test") {
		t.Fatalf("done %+v", d)
	}
}

func TestForRejects(t *testing.T) {
	env := memEnv(t, nil)
	if _, err := For("no_such_cause", env); err == nil {
		t.Fatal("unknown cause accepted")
	}
	bad := env
	bad.Store = nil
	if _, err := For(cause.WrongPassword, bad); err == nil {
		t.Fatal("nil store accepted")
	}
	bad = env
	bad.Account.ID = ""
	if _, err := For(cause.WrongSettings, bad); err == nil {
		t.Fatal("wrong_settings accepted a new account")
	}
	if _, err := For(cause.WrongPassword, bad); err != nil {
		t.Fatalf("wrong_password refused a new account: %v", err)
	}
	w, err := For("", env)
	if err != nil || w.Cause() != Reconnect {
		t.Fatalf("For(\"\") = %v, %v", w, err)
	}
}

func TestSubmitRules(t *testing.T) {
	verify, _ := verifySeq("")
	env := memEnv(t, verify)
	w, err := For(cause.AccountBlocked, env)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Submit(""); !errors.Is(err, ErrNoInput) {
		t.Fatalf("Submit before start = %v", err)
	}
	t.Cleanup(w.Cancel)
	expect[Explain](t, w) // Next starts it, and a short wait does not stop it
	if err := w.Choose(0); !errors.Is(err, ErrNoInput) {
		t.Fatalf("Choose on Explain = %v", err)
	}
	submit(t, w, "")
	if err := w.Submit(""); err != nil && !errors.Is(err, ErrBusy) {
		t.Fatalf("second Submit = %v", err)
	}
	ch := expect[Choose](t, w)
	submit(t, w, "nonsense")
	ch = expect[Choose](t, w)
	if ch.Error == "" {
		t.Fatal("a nonsense choice was taken")
	}
	submit(t, w, "2")
	d := expect[Done](t, w)
	if d.OK {
		t.Fatalf("stop gave %+v", d)
	}
}

// New settings that reach the server are kept even when another problem
// remains; the Done names it.
func TestWrongSettingsAppliedOtherCause(t *testing.T) {
	var tested account.Account
	env := memEnv(t, func(ctx context.Context, a account.Account) (bool, cause.Diagnosis, error) {
		tested = a
		return false, cause.Diagnosis{Cause: cause.WrongPassword, Title: cause.Info(cause.WrongPassword).Title}, nil
	})
	env.Provider = provider.Provider{ID: "x", Name: "X", IMAP: "imap.good.test:993", IMAPSecurity: account.TLS, SMTP: "smtp.good.test:587", SMTPSecurity: account.StartTLS}
	w := startWizard(t, cause.WrongSettings, env)
	expect[Explain](t, w)
	submit(t, w, "")
	expect[Choose](t, w)
	submit(t, w, "apply")
	d := expectPast[Done](t, w)
	if d.OK || d.Next != cause.WrongPassword {
		t.Fatalf("done %+v", d)
	}
	if tested.IMAP.Host != "imap.good.test" || tested.ID != env.Account.ID {
		t.Fatalf("tested %+v", tested)
	}
	a, _ := env.Store.Find(t.Context(), env.Account.ID)
	if a.IMAP.Host != "imap.good.test" || a.SMTP.Port != 587 || a.SMTP.Security != account.StartTLS {
		t.Fatalf("stored %+v", a)
	}
}
