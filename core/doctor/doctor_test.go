package doctor_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/cause"
	"github.com/mailmend/mailmend/core/demo"
	"github.com/mailmend/mailmend/core/doctor"
	"github.com/mailmend/mailmend/core/guard"
	"github.com/mailmend/mailmend/core/oauth"
	"github.com/mailmend/mailmend/core/probe"
	"github.com/mailmend/mailmend/core/sandbox"
)

func startDemo(t testing.TB, seeds []demo.Seed) *demo.Demo {
	t.Helper()
	d, err := demo.Start(context.Background(), demo.Options{Seeds: seeds, LockDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// authFor picks how a scenario's account signs in, as real accounts of
// that provider do: password scenarios with a password, the rest with
// OAuth; Microsoft takes passwords only to refuse them.
func authFor(f sandbox.Flavour, s sandbox.Scenario) (account.AuthMethod, bool) {
	switch s {
	case sandbox.WrongPassword, sandbox.AppPasswordRequired:
		return account.Password, f == sandbox.Google
	case sandbox.BasicAuthDisabled, sandbox.WrongSettings, sandbox.RateLimited:
		return account.Password, true
	case sandbox.AccountBlocked:
		if f == sandbox.Google {
			return account.Password, true
		}
	}
	return account.OAuth2, true
}

// sameAnswer lists the scenarios whose real provider answer is word for
// word the one of another cause: there the doctor's best guess may be the
// other cause, but the scenario's must be among the first candidates.
var sameAnswer = map[string]bool{
	// Google: "Token has been expired or revoked." for both.
	"google/password_changed": true,
	// Entra: AADSTS50173 "...revoked... might have changed or reset their
	// password" for both.
	"microsoft/access_revoked": true,
}

// TestEveryScenario runs the doctor against every scenario of both
// flavours and expects the scenario's cause (checked live, over TLS).
// Causes that only show while signing in (code_invalid,
// redirect_uri_mismatch) are covered by TestConsentCauses.
func TestEveryScenario(t *testing.T) {
	var seeds []demo.Seed
	for _, f := range []sandbox.Flavour{sandbox.Google, sandbox.Microsoft} {
		for _, s := range sandbox.Scenarios() {
			auth, real := authFor(f, s)
			if !real || !f.Supports(s) || s == sandbox.Hostile || s == sandbox.CodeInvalid || s == sandbox.RedirectURIMismatch {
				continue
			}
			seeds = append(seeds, demo.Seed{Local: strings.ReplaceAll(string(s), "_", "-"), Flavour: f, Auth: auth, Scenario: s})
		}
	}
	d := startDemo(t, seeds)
	doc := doctor.New(d.DoctorDeps())
	accts, err := d.Store.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	reports := doc.CheckAll(ctx, accts, 0, nil)
	for i, rep := range reports {
		s := seeds[i]
		name := fmt.Sprintf("%s/%s/%s", s.Flavour, s.Scenario, s.Auth)
		if rep.Account.Email != s.Email() {
			t.Fatalf("report order: %s for %s", rep.Account.Email, s.Email())
		}
		if s.Scenario == sandbox.Healthy {
			if !rep.Healthy {
				t.Errorf("%s: not healthy: %s %v", name, rep.Diagnosis.Cause, rep.Diagnosis.Evidence)
			}
			continue
		}
		if rep.Healthy {
			t.Errorf("%s: healthy", name)
			continue
		}
		if sameAnswer[string(s.Flavour)+"/"+string(s.Scenario)] {
			top := append([]cause.ID{rep.Diagnosis.Cause}, rep.Diagnosis.Candidates...)
			if len(top) > 3 {
				top = top[:3]
			}
			if !slices.Contains(top, s.Scenario.Cause()) {
				t.Errorf("%s: %s not among the first guesses %v", name, s.Scenario.Cause(), top)
			}
			continue
		}
		if got := rep.Diagnosis.Cause; got != s.Scenario.Cause() {
			t.Errorf("%s: cause %s (candidates %v), want %s; evidence %+v", name, got, rep.Diagnosis.Candidates, s.Scenario.Cause(), rep.Diagnosis.Evidence)
		}
	}
}

// TestConsentCauses signs in through the loopback flow against the
// sandbox (consent approved without a browser) and classifies what fails.
func TestConsentCauses(t *testing.T) {
	seeds := []demo.Seed{
		{Local: "reuse", Flavour: sandbox.Google, Auth: account.OAuth2, Scenario: sandbox.Healthy},
		{Local: "redirect", Flavour: sandbox.Microsoft, Auth: account.OAuth2, Scenario: sandbox.Healthy},
		{Local: "redirect-g", Flavour: sandbox.Google, Auth: account.OAuth2, Scenario: sandbox.Healthy},
	}
	d := startDemo(t, seeds)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	consent := func(a account.Account) (err error, page string) {
		cfg, _ := d.OAuthConfig(a)
		var pageErr error
		f, err := oauth.Begin(ctx, cfg, &oauth.Options{LoginHint: a.Email, Timeout: 5 * time.Second,
			Browser: func(u string) error { pageErr = d.AutoApprove(ctx, u); return pageErr }})
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := f.Open(); err != nil {
			return err, err.Error()
		}
		_, err = f.Wait(ctx)
		return err, ""
	}
	classify := func(err error) cause.Diagnosis {
		var pe *oauth.ProviderError
		if errors.As(err, &pe) {
			return cause.Classify([]cause.Evidence{pe.Evidence()}, cause.Context{})
		}
		return cause.Explain(err.Error(), "")
	}

	for _, email := range []string{"reuse@gmail.com"} {
		a, _ := d.Store.Find(ctx, email)
		if err := d.Sandbox.SetScenario(email, sandbox.CodeInvalid); err != nil {
			t.Fatal(err)
		}
		err, _ := consent(a)
		if err == nil {
			t.Fatalf("%s: consent with a redeemed code passed", email)
		}
		if got := classify(err).Cause; got != cause.CodeInvalid {
			t.Errorf("%s: %v classified as %s, want code_invalid", email, err, got)
		}
		// The next sign-in works, as on the real provider.
		if err, _ := consent(a); err != nil {
			t.Errorf("%s: second consent: %v", email, err)
		}
	}
	for _, email := range []string{"redirect@outlook.com", "redirect-g@gmail.com"} {
		a, _ := d.Store.Find(ctx, email)
		if err := d.Sandbox.SetScenario(email, sandbox.RedirectURIMismatch); err != nil {
			t.Fatal(err)
		}
		err, page := consent(a)
		if err == nil {
			t.Fatalf("%s: consent with an unregistered redirect URI passed", email)
		}
		if got := cause.Explain(page, a.Provider).Cause; got != cause.RedirectURIMismatch {
			t.Errorf("%s: page %q classified as %s, want redirect_uri_mismatch", email, page, got)
		}
	}
}

// TestDefaultSeeds: the demo's accounts show the causes they were seeded with.
func TestDefaultSeeds(t *testing.T) {
	d := startDemo(t, nil)
	doc := doctor.New(d.DoctorDeps())
	accts, _ := d.Store.List(context.Background())
	if len(accts) < 10 {
		t.Fatalf("demo has %d accounts, want at least 10", len(accts))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i, rep := range doc.CheckAll(ctx, accts, 0, nil) {
		s := demo.DefaultSeeds[i]
		want := s.Scenario.Cause()
		if s.Scenario == sandbox.Healthy {
			if !rep.Healthy {
				t.Errorf("%s: not healthy: %s", s.Email(), rep.Diagnosis.Cause)
			}
			continue
		}
		if rep.Diagnosis.Cause != want {
			t.Errorf("%s: %s, want %s (evidence %+v)", s.Email(), rep.Diagnosis.Cause, want, rep.Diagnosis.Evidence)
		}
	}
}

// TestEventsAndCancel: events stream in order and cancel stops at once.
func TestEventsAndCancel(t *testing.T) {
	d := startDemo(t, []demo.Seed{{Local: "ev", Flavour: sandbox.Google, Auth: account.OAuth2, Scenario: sandbox.Healthy}})
	doc := doctor.New(d.DoctorDeps())
	a, _ := d.Store.Find(context.Background(), "ev@gmail.com")
	events := make(chan doctor.Event, 100)
	rep := doc.Check(context.Background(), a, events)
	close(events)
	started, finished := map[string]bool{}, map[string]bool{}
	var done int
	for ev := range events {
		switch ev.Kind {
		case doctor.Started:
			started[ev.Check] = true
		case doctor.Finished:
			finished[ev.Result.Name] = true
		case doctor.Done:
			done++
		}
	}
	if !rep.Healthy || done != 1 || !finished[probe.CheckIMAPAuth] || !finished[probe.CheckOAuthRefresh] || !started[probe.CheckIMAPAuth] {
		t.Fatalf("healthy %v done %d started %v finished %v", rep.Healthy, done, started, finished)
	}
	if !rep.Refreshed {
		t.Error("the expired access token was not refreshed")
	}
	// The rotated refresh token was saved: a second check uses the cached access token.
	rep2 := doc.Check(context.Background(), a, nil)
	if !rep2.Healthy || rep2.Refreshed {
		t.Errorf("second check: healthy %v refreshed %v", rep2.Healthy, rep2.Refreshed)
	}
}

// TestGuardHoldsLoginBack: after 3 refused logins in 15 minutes the doctor
// does not try a 4th; it names the cause recorded before.
func TestGuardHoldsLoginBack(t *testing.T) {
	d := startDemo(t, []demo.Seed{{Local: "held", Flavour: sandbox.Google, Auth: account.Password, Scenario: sandbox.WrongPassword}})
	deps := d.DoctorDeps()
	deps.Guard = guard.New(t.TempDir(), nil)
	doc := doctor.New(deps)
	ctx := context.Background()
	a, _ := d.Store.Find(ctx, "held@gmail.com")
	for i := range 3 {
		rep := doc.Check(ctx, a, nil)
		if rep.Diagnosis.Cause != cause.WrongPassword {
			t.Fatalf("check %d: %s", i, rep.Diagnosis.Cause)
		}
		doctor.Apply(&a, rep)
	}
	before, _ := d.Sandbox.Logins("held@gmail.com")
	rep := doc.Check(ctx, a, nil)
	after, _ := d.Sandbox.Logins("held@gmail.com")
	if after.IMAPFailed+after.SMTPFailed != before.IMAPFailed+before.SMTPFailed {
		t.Errorf("a 4th failing login reached the server: %+v -> %+v", before, after)
	}
	if rep.Healthy || rep.Diagnosis.Cause != cause.WrongPassword {
		t.Errorf("held back: healthy %v cause %s, want the recorded wrong_password", rep.Healthy, rep.Diagnosis.Cause)
	}
}
