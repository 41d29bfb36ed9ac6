package provider_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/provider"
)

// fakeResolver answers MX lookups from a table and counts calls.
type fakeResolver struct {
	mx    map[string][]string // domain -> MX hosts, most preferred first
	err   map[string]error    // domain -> error returned (with any records)
	calls atomic.Int32
}

func (f *fakeResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	f.calls.Add(1)
	var out []*net.MX
	for i, h := range f.mx[name] {
		out = append(out, &net.MX{Host: h, Pref: uint16(10 * (i + 1))})
	}
	return out, f.err[name]
}

// blockingResolver waits until the context ends.
type blockingResolver struct{}

func (blockingResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestDetectByDomain(t *testing.T) {
	c := builtin(t)
	r := &fakeResolver{}
	cases := map[string]string{
		"a@gmail.com":         "google",
		"a@googlemail.com":    "google",
		"A@GMail.COM":         "google",
		"a@outlook.com":       "microsoft",
		"a@hotmail.com":       "microsoft",
		"a@live.com":          "microsoft",
		"a@yahoo.com":         "yahoo",
		"a@aol.com":           "aol",
		"a@icloud.com":        "icloud",
		"a@me.com":            "icloud",
		"a@mac.com":           "icloud",
		"a@fastmail.com":      "fastmail",
		"a@zoho.com":          "zoho",
		"a@gmx.de":            "gmx",
		"a@gmx.net":           "gmx",
		"a@yandex.ru":         "yandex",
		"a@proton.me":         "proton",
		"a@protonmail.com":    "proton",
		" a@pm.me ":           "proton",
		"first.last@ya.ru":    "yandex",
		"x+tag@fastmail.fm":   "fastmail",
		"a@b@outlook.com":     "microsoft", // domain is after the last '@'
		"someone@yahoo.co.uk": "yahoo",
	}
	for email, want := range cases {
		p, how, err := c.Detect(context.Background(), email, r)
		if err != nil || p.ID != want || how != provider.HowDomain {
			t.Errorf("Detect(%q) = %s, %s, %v; want %s by domain", email, p.ID, how, err, want)
		}
	}
	if n := r.calls.Load(); n != 0 {
		t.Errorf("domain matches made %d MX lookups, want 0", n)
	}
}

func TestDetectByMX(t *testing.T) {
	c := builtin(t)
	cases := []struct {
		domain string
		mx     []string
		want   string
	}{
		{"ws1.example", []string{"ASPMX.L.GOOGLE.COM.", "alt1.aspmx.l.google.com."}, "google"},
		{"ws2.example", []string{"alt2.aspmx.l.google.com."}, "google"},
		{"ws3.example", []string{"aspmx2.googlemail.com."}, "google"},
		{"ws4.example", []string{"smtp.google.com."}, "google"},
		{"m365.example", []string{"m365-example.mail.protection.outlook.com."}, "microsoft"},
		{"m365dnssec.example", []string{"m365dnssec-example.s-v1.mx.microsoft."}, "microsoft"},
		{"fm.example", []string{"in1-smtp.messagingengine.com.", "in2-smtp.messagingengine.com."}, "fastmail"},
		{"zc.example", []string{"mx.zoho.com.", "mx2.zoho.com."}, "zoho"},
		{"ze.example", []string{"mx.zoho.eu."}, "zoho"},
		{"zi.example", []string{"mx.zoho.in."}, "zoho"},
		{"yh.example", []string{"mta7.am0.yahoodns.net."}, "yahoo"},
		{"ic.example", []string{"mx01.mail.icloud.com.", "mx02.mail.icloud.com."}, "icloud"},
		{"gx.example", []string{"mx00.gmx.net."}, "gmx"},
		{"yx.example", []string{"mx.yandex.net."}, "yandex"},
		{"yr.example", []string{"mx.yandex.ru."}, "yandex"},
		{"pm.example", []string{"mail.protonmail.ch.", "mailsec.protonmail.ch."}, "proton"},
		// A subdomain of a known domain is not a domain match; its MX decides.
		{"sub.gmail.com", []string{"alt1.gmail-smtp-in.l.google.com."}, "generic"},
		// Preference order: the first host that matches anything wins.
		{"mixed.example", []string{"filter.spamco.example.", "mx.yandex.net.", "aspmx.l.google.com."}, "yandex"},
		// Suffixes match only on a label boundary.
		{"evil1.example", []string{"aspmx.l.google.com.evil.example."}, "generic"},
		{"evil2.example", []string{"notgmx.net."}, "generic"},
		{"self.example", []string{"mail.self.example."}, "generic"},
	}
	mx := map[string][]string{}
	for _, tc := range cases {
		mx[tc.domain] = tc.mx
	}
	r := &fakeResolver{mx: mx}
	for _, tc := range cases {
		p, how, err := c.Detect(context.Background(), "user@"+tc.domain, r)
		if err != nil {
			t.Errorf("%s: unexpected error %v", tc.domain, err)
			continue
		}
		wantHow := provider.HowMX
		if tc.want == provider.GenericID {
			wantHow = provider.HowNone
		}
		if p.ID != tc.want || how != wantHow {
			t.Errorf("%s (MX %v) = %s by %s, want %s by %s", tc.domain, tc.mx, p.ID, how, tc.want, wantHow)
		}
	}
	if int(r.calls.Load()) != len(cases) {
		t.Errorf("made %d lookups for %d domains", r.calls.Load(), len(cases))
	}
}

func TestDetectFallbacks(t *testing.T) {
	c := builtin(t)
	boom := errors.New("server misbehaving")
	notFound := &net.DNSError{Err: "no such host", Name: "nx.example", IsNotFound: true}
	r := &fakeResolver{
		mx: map[string][]string{"partial.example": {"aspmx.l.google.com."}},
		err: map[string]error{
			"broken.example":  boom,
			"nx.example":      notFound,
			"partial.example": errors.New("some records were invalid"),
		},
	}
	t.Run("resolver error surfaces and falls back", func(t *testing.T) {
		p, how, err := c.Detect(context.Background(), "a@broken.example", r)
		if p.ID != provider.GenericID || how != provider.HowNone {
			t.Fatalf("got %s by %s, want generic by none", p.ID, how)
		}
		if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "provider: ") || !strings.Contains(err.Error(), "broken.example") {
			t.Fatalf("error %v must wrap the resolver error and name the domain", err)
		}
	})
	t.Run("not found surfaces as DNSError", func(t *testing.T) {
		p, _, err := c.Detect(context.Background(), "a@nx.example", r)
		var de *net.DNSError
		if p.ID != provider.GenericID || !errors.As(err, &de) || !de.IsNotFound {
			t.Fatalf("got %s, %v", p.ID, err)
		}
	})
	t.Run("records returned with an error are used", func(t *testing.T) {
		p, how, err := c.Detect(context.Background(), "a@partial.example", r)
		if p.ID != "google" || how != provider.HowMX || err != nil {
			t.Fatalf("got %s by %s, %v", p.ID, how, err)
		}
	})
	t.Run("no MX records", func(t *testing.T) {
		p, how, err := c.Detect(context.Background(), "a@nomx.example", r)
		if p.ID != provider.GenericID || how != provider.HowNone || err != nil {
			t.Fatalf("got %s by %s, %v", p.ID, how, err)
		}
		if _, err := p.IMAPEndpoint(); err == nil {
			t.Fatal("generic must carry no settings")
		}
	})
	t.Run("nil resolver skips DNS", func(t *testing.T) {
		p, how, err := c.Detect(context.Background(), "a@corp.example", nil)
		if p.ID != provider.GenericID || how != provider.HowNone || err != nil {
			t.Fatalf("got %s by %s, %v", p.ID, how, err)
		}
	})
	t.Run("malformed address", func(t *testing.T) {
		for _, in := range []string{"", "no-at-sign", "a@", "@gmail.com", "a@nodot"} {
			p, how, err := c.Detect(context.Background(), in, r)
			if err == nil || p.ID != provider.GenericID || how != provider.HowNone {
				t.Errorf("Detect(%q) = %s, %s, %v; want generic, none, error", in, p.ID, how, err)
			}
		}
	})
	t.Run("lookup bounded by ctx", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		p, _, err := c.Detect(ctx, "a@slow.example", blockingResolver{})
		if el := time.Since(start); el > 2*time.Second {
			t.Fatalf("Detect took %v despite a 50ms deadline", el)
		}
		if p.ID != provider.GenericID || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %s, %v", p.ID, err)
		}
	})
}

func TestDetectCustomProviders(t *testing.T) {
	c := builtin(t)
	corp := valid()
	hijack := provider.Provider{
		ID: "gmail-proxy", Name: "Local proxy", Domains: []string{"gmail.com"},
		IMAP: "127.0.0.1:1993", IMAPSecurity: account.TLS, SMTP: "127.0.0.1:1465", SMTPSecurity: account.TLS,
		Auth: []account.AuthMethod{account.Password},
	}
	if err := c.Merge([]provider.Provider{corp, hijack}); err != nil {
		t.Fatal(err)
	}
	r := &fakeResolver{mx: map[string][]string{"branch.example": {"mx.corp.example."}}}
	for email, want := range map[string]string{
		"a@corp.example":   "corp",
		"a@CORP.example":   "corp",
		"a@gmail.com":      "gmail-proxy", // user entries win over built-in ones
		"a@branch.example": "corp",        // via the custom mx suffix
		"a@outlook.com":    "microsoft",
	} {
		p, _, err := c.Detect(context.Background(), email, r)
		if err != nil || p.ID != want {
			t.Errorf("Detect(%q) = %s, %v; want %s", email, p.ID, err, want)
		}
	}
}

func ExampleCatalog_Detect() {
	cat, err := provider.Builtin()
	if err != nil {
		panic(err)
	}
	// Any Resolver works; net.DefaultResolver asks the system's DNS. This
	// one answers from a table, as a custom domain on Microsoft 365 would.
	r := &fakeResolver{mx: map[string][]string{
		"contoso.example": {"contoso-example.mail.protection.outlook.com."},
	}}
	for _, email := range []string{"ana@gmail.com", "bo@contoso.example", "cy@self-hosted.example"} {
		p, how, err := cat.Detect(context.Background(), email, r)
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		imap, _ := p.IMAPEndpoint()
		fmt.Printf("%s: %s (by %s) %s\n", email, p.ID, how, imap)
	}
	// Output:
	// ana@gmail.com: google (by domain) imap.gmail.com:993 (tls)
	// bo@contoso.example: microsoft (by mx) outlook.office365.com:993 (tls)
	// cy@self-hosted.example: generic (by none) (not set)
}
