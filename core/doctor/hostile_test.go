package doctor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/mailmend/mailmend/core/internal/testserver"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/cause"
	"github.com/mailmend/mailmend/core/demo"
	"github.com/mailmend/mailmend/core/doctor"
	"github.com/mailmend/mailmend/core/oauth"
	"github.com/mailmend/mailmend/core/probe"
	"github.com/mailmend/mailmend/core/provider"
	"github.com/mailmend/mailmend/core/sandbox"
	"github.com/mailmend/mailmend/core/store"
)

// unsafeFor returns why s is unfit for a one-line terminal display: an
// ESC, BEL or other C0 control, DEL, a C1 control (U+0080..U+009F, 8-bit
// CSI and OSC among them) or invalid UTF-8; "" when it is clean.
func unsafeFor(s string) string {
	if !utf8.ValidString(s) {
		return "invalid UTF-8"
	}
	for _, r := range s {
		switch {
		case r == 0x1b:
			return "ESC"
		case r == 0x07:
			return "BEL"
		case r < 0x20 || r == 0x7f:
			return "C0 control"
		case r >= 0x80 && r <= 0x9f:
			return "C1 control"
		}
	}
	return ""
}

// collect drains events until Done and returns them.
func collect(events <-chan doctor.Event, out *[]doctor.Event, wg *sync.WaitGroup) {
	defer wg.Done()
	for ev := range events {
		*out = append(*out, ev)
	}
}

// TestHostileServers: against servers whose greetings and error texts are
// full of terminal escapes and that then send a line without end, the
// doctor ends quickly (the probe's line limit cuts the line), and nothing
// it shows (check details in the report and in the events) carries a
// control character; the servers' words still come through.
func TestHostileServers(t *testing.T) {
	seeds := []demo.Seed{
		{Local: "evil", Flavour: sandbox.Google, Auth: account.OAuth2, Scenario: sandbox.Hostile},
		{Local: "evil-pw", Flavour: sandbox.Google, Auth: account.Password, Scenario: sandbox.Hostile},
		{Local: "evil", Flavour: sandbox.Microsoft, Auth: account.OAuth2, Scenario: sandbox.Hostile},
	}
	d := startDemo(t, seeds)
	deps := d.DoctorDeps()
	deps.Probe.Timeouts = probe.Timeouts{Dial: 3 * time.Second, TLS: 3 * time.Second, Greeting: 3 * time.Second, Command: 3 * time.Second, Auth: 3 * time.Second}
	doc := doctor.New(deps)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	for _, s := range seeds {
		t.Run(string(s.Flavour)+"/"+s.Local, func(t *testing.T) {
			a, err := d.Store.Find(ctx, s.Email())
			if err != nil {
				t.Fatal(err)
			}
			events := make(chan doctor.Event, 256)
			var got []doctor.Event
			var wg sync.WaitGroup
			wg.Add(1)
			go collect(events, &got, &wg)
			start := time.Now()
			rep := doc.Check(ctx, a, events)
			el := time.Since(start)
			close(events)
			wg.Wait()

			if el > 5*time.Second {
				t.Errorf("check took %v against an endless line", el)
			}
			if rep.Healthy {
				t.Fatalf("hostile servers reported healthy: %+v", rep.Checks)
			}
			var shown []string
			for _, c := range rep.Checks {
				shown = append(shown, c.Detail)
				if why := unsafeFor(c.Detail); why != "" {
					t.Errorf("report %s detail has %s: %q", c.Name, why, c.Detail)
				}
			}
			done := 0
			for _, ev := range got {
				switch ev.Kind {
				case doctor.Finished:
					if why := unsafeFor(ev.Result.Detail); why != "" {
						t.Errorf("event %s detail has %s: %q", ev.Result.Name, why, ev.Result.Detail)
					}
					if why := unsafeFor(ev.Check); why != "" {
						t.Errorf("event check name has %s: %q", why, ev.Check)
					}
				case doctor.Done:
					done++
					for _, c := range ev.Report.Checks {
						if why := unsafeFor(c.Detail); why != "" {
							t.Errorf("Done event %s detail has %s: %q", c.Name, why, c.Detail)
						}
					}
				}
			}
			if done != 1 {
				t.Errorf("%d Done events", done)
			}
			if why := unsafeFor(rep.Diagnosis.Title); why != "" {
				t.Errorf("diagnosis title has %s", why)
			}
			// The servers' words reached the report, minus their escapes:
			// the test saw hostile text, not an early failure.
			all := strings.Join(shown, "\n")
			if !strings.Contains(all, "ATTENTION") || !strings.Contains(all, "please re-enter your password") {
				t.Errorf("no server text in the details:\n%s", all)
			}
			// The endless line was cut by the line limit, not by a timeout.
			cut := false
			for _, e := range rep.Diagnosis.Evidence {
				cut = cut || e.Code == probe.CodeLineTooLong || e.Code == probe.CodeTooMuchData
			}
			for _, c := range rep.Checks {
				for _, e := range c.Evidence {
					cut = cut || e.Code == probe.CodeLineTooLong || e.Code == probe.CodeTooMuchData
				}
			}
			if !cut {
				t.Errorf("no line_too_long evidence; checks %+v", rep.Checks)
			}
		})
	}
}

// silentServer accepts TCP connections, reads whatever comes and never
// answers. Every accepted connection is announced on the returned channel.
func silentServer(t *testing.T) (string, <-chan struct{}) {
	t.Helper()
	accepted := make(chan struct{}, 64)
	addr := testserver.Serve(t, nil, accepted, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
	return addr, accepted
}

// silentAccount stores a password account whose IMAP (implicit TLS) and
// SMTP (STARTTLS) servers are the silent server at addr.
func silentAccount(t *testing.T, addr string) (*store.Store, account.Account) {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	ep, err := account.ParseHostPort(net.JoinHostPort(host, port), account.TLS)
	if err != nil {
		t.Fatal(err)
	}
	smtpEP := ep
	smtpEP.Security = account.StartTLS
	st := store.New(store.NewMemory(), "")
	a, err := st.Save(context.Background(), account.Account{
		Email: "silent@gmail.com", Provider: "google", Auth: account.Password,
		IMAP: ep, SMTP: smtpEP, Status: account.Unchecked,
	}, &store.Secret{Password: "abcdefghijklmnop"})
	if err != nil {
		t.Fatal(err)
	}
	return st, a
}

func silentDeps(t *testing.T, st *store.Store, timeouts probe.Timeouts) doctor.Deps {
	t.Helper()
	cat, err := provider.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	return doctor.Deps{
		Store:   st,
		Catalog: cat,
		Probe:   probe.Options{Timeouts: timeouts},
		// Nothing to measure the clock against: no request leaves loopback.
		ClockURL: func(account.Account) string { return "" },
	}
}

// TestSilentServerTimesOut: a server that accepts and never says a word is
// cut off by the step timeouts and diagnosed as unavailable (or as wrong
// settings: a silent port is also what a wrong port looks like).
func TestSilentServerTimesOut(t *testing.T) {
	addr, _ := silentServer(t)
	st, a := silentAccount(t, addr)
	const step = 300 * time.Millisecond
	doc := doctor.New(silentDeps(t, st, probe.Timeouts{Dial: time.Second, TLS: step, Greeting: step, Command: step, Auth: step}))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	rep := doc.Check(ctx, a, nil)
	el := time.Since(start)
	// IMAP: the TLS handshake times out. SMTP: the greeting times out,
	// then a TLS handshake on a second connection does too.
	if el < step || el > 3*time.Second {
		t.Errorf("check against a silent server took %v, want between %v and 3s", el, step)
	}
	if rep.Healthy {
		t.Fatal("silent server reported healthy")
	}
	if c := rep.Diagnosis.Cause; c != cause.ProviderUnavailable && c != cause.WrongSettings {
		t.Errorf("diagnosed %s (candidates %v), want provider_unavailable or wrong_settings; evidence %+v", c, rep.Diagnosis.Candidates, rep.Diagnosis.Evidence)
	}
	status := map[string]probe.Status{}
	for _, c := range rep.Checks {
		status[c.Name] = c.Status
	}
	for name, want := range map[string]probe.Status{
		probe.CheckTCP: probe.OK, probe.CheckTLS: probe.Fail, probe.CheckIMAPAuth: probe.Skip,
		doctor.CheckSMTPTCP: probe.OK, probe.CheckSMTPGreeting: probe.Fail, probe.CheckSMTPAuth: probe.Skip,
	} {
		if status[name] != want {
			t.Errorf("%s: %s, want %s", name, status[name], want)
		}
	}
}

// TestCancelDuringHang: cancelling the context while both chains wait on a
// silent server (with the default, long timeouts) returns from Check at
// once.
func TestCancelDuringHang(t *testing.T) {
	addr, accepted := silentServer(t)
	st, a := silentAccount(t, addr)
	doc := doctor.New(silentDeps(t, st, probe.Timeouts{}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan doctor.Event, 64)
	var got []doctor.Event
	var wg sync.WaitGroup
	wg.Add(1)
	go collect(events, &got, &wg)
	repc := make(chan doctor.Report, 1)
	go func() { repc <- doc.Check(ctx, a, events) }()
	// Both the IMAP and the SMTP connection are waiting for the server.
	for i := 0; i < 2; i++ {
		select {
		case <-accepted:
		case <-time.After(5 * time.Second):
			t.Fatal("the doctor did not connect")
		}
	}
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	cancel()
	var rep doctor.Report
	select {
	case rep = <-repc:
	case <-time.After(5 * time.Second):
		t.Fatal("Check did not return within 5s of cancel")
	}
	if el := time.Since(start); el > 100*time.Millisecond {
		t.Errorf("Check returned %v after cancel, want within 100ms", el)
	}
	close(events)
	wg.Wait()
	if rep.Healthy {
		t.Error("cancelled check reported healthy")
	}
	canceled := false
	for _, c := range rep.Checks {
		for _, e := range c.Evidence {
			canceled = canceled || e.Code == probe.CodeCanceled
		}
	}
	if !canceled {
		t.Errorf("no canceled evidence in %+v", rep.Checks)
	}
	if n := len(got); n == 0 || got[n-1].Kind != doctor.Done {
		t.Errorf("events do not end with Done after cancel: %d events", n)
	}
}

// TestLongErrorTextStaysValid: an authorization server's long error
// description in a multi-byte script is cut to the detail length on a
// character boundary: the detail stays valid UTF-8 (a byte cut leaves a
// stray lead byte on the terminal) and holds no control characters.
func TestLongErrorTextStaysValid(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		var pad int
		_, _ = fmt.Sscanf(r.PostForm.Get("refresh_token"), "rt-%d", &pad)
		desc := "\x1b[2J\x1b]0;title\x07" + strings.Repeat("x", pad) + strings.Repeat("€", 400)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": desc})
	}))
	defer srv.Close()
	// A closed port: IMAP is refused at once.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st := store.New(store.NewMemory(), "")
	var accts []account.Account
	// Three paddings: whatever the length of the prefix, one of them puts
	// a byte cut inside a three-byte character.
	for pad := 0; pad < 3; pad++ {
		a, err := st.Save(ctx, account.Account{
			Email: fmt.Sprintf("long%d@gmail.com", pad), Provider: "google", Auth: account.OAuth2,
			IMAP: account.Endpoint{Host: "127.0.0.1", Port: closed, Security: account.TLS}, Status: account.Unchecked,
		}, &store.Secret{Token: &store.Token{AccessToken: "old", RefreshToken: fmt.Sprintf("rt-%d", pad), Expiry: time.Now().Add(-time.Hour)}})
		if err != nil {
			t.Fatal(err)
		}
		accts = append(accts, a)
	}
	deps := silentDeps(t, st, probe.Timeouts{})
	deps.OAuthConfig = func(account.Account) (oauth.Config, error) {
		return oauth.Config{TokenURL: srv.URL + "/token", ClientID: "mailmend", HTTPClient: srv.Client()}, nil
	}
	doc := doctor.New(deps)
	for _, rep := range doc.CheckAll(ctx, accts, 0, nil) {
		var refresh *probe.Result
		for i, c := range rep.Checks {
			if c.Name == probe.CheckOAuthRefresh {
				refresh = &rep.Checks[i]
			}
			if why := unsafeFor(c.Detail); why != "" {
				t.Errorf("%s: %s detail has %s: %q", rep.Account.Email, c.Name, why, c.Detail)
			}
			if n := utf8.RuneCountInString(c.Detail); n > probe.MaxDetail {
				t.Errorf("%s: %s detail has %d runes, over %d", rep.Account.Email, c.Name, n, probe.MaxDetail)
			}
		}
		if refresh == nil || refresh.Status != probe.Fail || !strings.Contains(refresh.Detail, "invalid_grant: ") || !strings.Contains(refresh.Detail, "€€€") {
			t.Errorf("%s: refresh result %+v", rep.Account.Email, refresh)
		}
	}
}
