package doctor_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/demo"
	"github.com/mailmend/mailmend/core/doctor"
	"github.com/mailmend/mailmend/core/internal/netdelay"
	"github.com/mailmend/mailmend/core/oauth"
	"github.com/mailmend/mailmend/core/probe"
	"github.com/mailmend/mailmend/core/sandbox"
	"github.com/mailmend/mailmend/core/store"
)

// benchDelay is the one-way latency every connection of the benchmarks
// goes through (a 50 ms round trip: a provider on another continent).
const benchDelay = 25 * time.Millisecond

// slowNet is a demo whose IMAP, SMTP, OAuth and clock traffic all cross a
// link with benchDelay of latency each way.
type slowNet struct {
	d      *demo.Demo
	dialer *netdelay.Dialer
	client *http.Client
	deps   doctor.Deps
}

func newSlowNet(tb testing.TB, seeds []demo.Seed, delay time.Duration) *slowNet {
	tb.Helper()
	d := startDemo(tb, seeds)
	dialer := netdelay.NewDialer(delay)
	tb.Cleanup(func() { dialer.Close() })
	client := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:     d.Sandbox.ClientTLS(""),
			ForceAttemptHTTP2:   true,
			DialContext:         dialer.DialContext,
			MaxIdleConnsPerHost: 100,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	tb.Cleanup(client.CloseIdleConnections)
	deps := d.DoctorDeps()
	deps.Probe.Dialer = dialer
	deps.HTTPClient = client
	deps.OAuthConfig = func(a account.Account) (oauth.Config, error) {
		cfg, err := d.OAuthConfig(a)
		cfg.HTTPClient = client
		return cfg, err
	}
	return &slowNet{d: d, dialer: dialer, client: client, deps: deps}
}

// expire sets the stored access token's expiry in the past, so the next
// check refreshes the grant.
func (s *slowNet) expire(tb testing.TB, ctx context.Context, id string) {
	tb.Helper()
	err := s.d.Store.Tx(ctx, func(tx *store.Tx) error {
		sec, err := tx.Secret(ctx, id)
		if err != nil {
			return err
		}
		if sec.Token == nil {
			return fmt.Errorf("no token for %s", id)
		}
		sec.Token.Expiry = time.Now().Add(-time.Minute)
		return tx.SetSecret(ctx, id, sec)
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// token returns the stored (valid) access token of the account.
func (s *slowNet) token(tb testing.TB, ctx context.Context, id string) string {
	tb.Helper()
	sec, err := s.d.Store.Secret(ctx, id)
	if err != nil || sec.Token == nil || !sec.Token.Expiry.After(time.Now().Add(time.Minute)) {
		tb.Fatalf("no valid access token for %s: %v", id, err)
	}
	return sec.Token.AccessToken
}

// fresh drops the HTTP connections kept alive, so every run pays for its
// HTTPS connection as a new mailmend process would.
func (s *slowNet) fresh() { s.client.CloseIdleConnections() }

func medianOf(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// timeline records when each check started and finished, relative to t0.
type timeline struct {
	mu    sync.Mutex
	t0    time.Time
	lines []string
}

func (tl *timeline) watch(events <-chan doctor.Event, done chan<- struct{}) {
	for ev := range events {
		at := time.Since(tl.t0).Round(time.Millisecond)
		tl.mu.Lock()
		switch ev.Kind {
		case doctor.Started:
			tl.lines = append(tl.lines, fmt.Sprintf("%6v start  %s", at, ev.Check))
		case doctor.Finished:
			tl.lines = append(tl.lines, fmt.Sprintf("%6v finish %s (%s, %v)", at, ev.Result.Name, ev.Result.Status, ev.Result.Duration.Round(time.Millisecond)))
		}
		tl.mu.Unlock()
	}
	close(done)
}

// BenchmarkDoctorOneAccount diagnoses one healthy OAuth account whose
// access token expired (so every run refreshes the grant) over a link with
// benchDelay of one-way latency, and compares the doctor's wall time with
// the slowest single exchange run alone over the same link: a full IMAP
// login (connect, TLS, greeting, CAPABILITY, AUTHENTICATE, SELECT,
// LOGOUT), a full SMTP login, one token refresh and one clock request.
// x-slowest = median doctor time / the slowest median exchange; the
// critical path design aims at <= 1.2.
func BenchmarkDoctorOneAccount(b *testing.B) {
	for _, f := range []sandbox.Flavour{sandbox.Google, sandbox.Microsoft} {
		b.Run(string(f), func(b *testing.B) { benchOne(b, f) })
	}
}

func benchOne(b *testing.B, f sandbox.Flavour) {
	s := newSlowNet(b, []demo.Seed{{Local: "bench", Flavour: f, Auth: account.OAuth2, Scenario: sandbox.Healthy}}, benchDelay)
	ctx := context.Background()
	accts, err := s.d.Store.List(ctx)
	if err != nil || len(accts) != 1 {
		b.Fatalf("accounts %v: %v", accts, err)
	}
	a := accts[0]
	doc := doctor.New(s.deps)
	cfg, err := s.deps.OAuthConfig(a)
	if err != nil {
		b.Fatal(err)
	}
	// One run outside the measurement: TLS session state, code paths.
	s.expire(b, ctx, a.ID)
	if rep := doc.Check(ctx, a, nil); !rep.Healthy {
		b.Fatalf("warm-up: not healthy: %s %+v", rep.Diagnosis.Cause, rep.Checks)
	}

	var docT, imapT, smtpT, refreshT, clockT []time.Duration
	var last *timeline
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s.expire(b, ctx, a.ID)
		s.fresh()
		tl := &timeline{}
		events := make(chan doctor.Event, 64)
		done := make(chan struct{})
		go tl.watch(events, done)
		b.StartTimer()

		tl.t0 = time.Now()
		t0 := tl.t0
		rep := doc.Check(ctx, a, events)
		el := time.Since(t0)

		b.StopTimer()
		close(events)
		<-done
		last = tl
		if !rep.Healthy || !rep.Refreshed {
			b.Fatalf("run %d: healthy %v refreshed %v: %s %+v", i, rep.Healthy, rep.Refreshed, rep.Diagnosis.Cause, rep.Checks)
		}
		docT = append(docT, el)

		// The exchanges alone, over the same link.
		tok := probe.Credential{AccessToken: s.token(b, ctx, a.ID)}
		t0 = time.Now()
		if _, err := probe.IMAPLogin(ctx, a.IMAP, a.Login(), tok, s.deps.Probe); err != nil {
			b.Fatal(err)
		}
		imapT = append(imapT, time.Since(t0))
		t0 = time.Now()
		if _, err := probe.SMTPLogin(ctx, a.SMTP, a.Login(), tok, s.deps.Probe); err != nil {
			b.Fatal(err)
		}
		smtpT = append(smtpT, time.Since(t0))
		s.expire(b, ctx, a.ID)
		s.fresh()
		t0 = time.Now()
		if tok, err := oauth.Refresh(ctx, s.d.Store, a.ID, cfg, nil); err != nil || !tok.Refreshed {
			b.Fatalf("refresh alone: refreshed %v: %v", tok.Refreshed, err)
		}
		refreshT = append(refreshT, time.Since(t0))
		s.fresh()
		t0 = time.Now()
		if c := probe.Clock(ctx, s.client, s.d.ClockURL(a), nil); !c.Measured {
			b.Fatalf("clock alone: %s", c.Detail)
		}
		clockT = append(clockT, time.Since(t0))
		b.StartTimer()
	}
	b.StopTimer()

	slowest, which := time.Duration(0), ""
	for _, x := range []struct {
		name string
		d    []time.Duration
	}{{"imap", imapT}, {"smtp", smtpT}, {"refresh", refreshT}, {"clock", clockT}} {
		m := medianOf(x.d)
		b.ReportMetric(ms(m), "ms-"+x.name)
		if m > slowest {
			slowest, which = m, x.name
		}
	}
	doctorMedian := medianOf(docT)
	b.ReportMetric(ms(doctorMedian), "ms-doctor")
	b.ReportMetric(float64(doctorMedian)/float64(slowest), "x-slowest")
	b.Logf("%s, one-way delay %v: doctor median %v, slowest exchange %s %v; last run:\n%s",
		f, benchDelay, doctorMedian.Round(time.Millisecond), which, slowest.Round(time.Millisecond), strings.Join(last.lines, "\n"))
}

// BenchmarkDoctor50Accounts diagnoses 50 healthy OAuth accounts at once
// (CheckAll with a limit of 50, so none waits for a slot), each with an
// expired access token, over the same slow link, and compares the wall
// time with one account's diagnosis: x-one = median(50 at once) / median(one).
// The aim is <= 1.5.
func BenchmarkDoctor50Accounts(b *testing.B) {
	const n = 50
	var seeds []demo.Seed
	for i := 0; i < n; i++ {
		f := sandbox.Google
		if i%2 == 1 {
			f = sandbox.Microsoft
		}
		seeds = append(seeds, demo.Seed{Local: fmt.Sprintf("bulk%02d", i), Flavour: f, Auth: account.OAuth2, Scenario: sandbox.Healthy})
	}
	s := newSlowNet(b, seeds, benchDelay)
	ctx := context.Background()
	accts, err := s.d.Store.List(ctx)
	if err != nil || len(accts) != n {
		b.Fatalf("%d accounts: %v", len(accts), err)
	}
	doc := doctor.New(s.deps)
	expireAll := func() {
		for _, a := range accts {
			s.expire(b, ctx, a.ID)
		}
	}
	expireAll()
	for _, rep := range doc.CheckAll(ctx, accts, n, nil) {
		if !rep.Healthy {
			b.Fatalf("warm-up: %s not healthy: %s", rep.Account.Email, rep.Diagnosis.Cause)
		}
	}

	var allT, oneT []time.Duration
	var slowestChecks []string
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		expireAll()
		s.fresh()
		b.StartTimer()
		t0 := time.Now()
		reps := doc.CheckAll(ctx, accts, n, nil)
		el := time.Since(t0)
		b.StopTimer()
		for _, rep := range reps {
			if !rep.Healthy || !rep.Refreshed {
				b.Fatalf("%s: healthy %v refreshed %v: %s", rep.Account.Email, rep.Healthy, rep.Refreshed, rep.Diagnosis.Cause)
			}
		}
		allT = append(allT, el)
		slowestChecks = slowestOf(reps)

		s.expire(b, ctx, accts[0].ID)
		s.fresh()
		t0 = time.Now()
		if rep := doc.Check(ctx, accts[0], nil); !rep.Healthy || !rep.Refreshed {
			b.Fatalf("one account: healthy %v refreshed %v", rep.Healthy, rep.Refreshed)
		}
		oneT = append(oneT, time.Since(t0))
		b.StartTimer()
	}
	b.StopTimer()
	all, one := medianOf(allT), medianOf(oneT)
	b.ReportMetric(ms(all), "ms-50")
	b.ReportMetric(ms(one), "ms-one")
	b.ReportMetric(float64(all)/float64(one), "x-one")
	b.Logf("one-way delay %v, limit %d: 50 accounts %v, one %v; longest checks of the last run: %s",
		benchDelay, n, all.Round(time.Millisecond), one.Round(time.Millisecond), strings.Join(slowestChecks, ", "))
}

// slowestOf names, per check, the longest duration among reps.
func slowestOf(reps []doctor.Report) []string {
	longest := map[string]time.Duration{}
	for _, rep := range reps {
		for _, c := range rep.Checks {
			if c.Duration > longest[c.Name] {
				longest[c.Name] = c.Duration
			}
		}
	}
	var out []string
	for name, d := range longest {
		out = append(out, fmt.Sprintf("%s %v", name, d.Round(time.Millisecond)))
	}
	sort.Strings(out)
	return out
}
