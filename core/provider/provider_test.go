package provider_test

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/provider"
)

func builtin(t *testing.T) *provider.Catalog {
	t.Helper()
	c, err := provider.Builtin()
	if err != nil {
		t.Fatalf("Builtin: %v", err)
	}
	return c
}

func mustGet(t *testing.T, c *provider.Catalog, id string) provider.Provider {
	t.Helper()
	p, ok := c.Get(id)
	if !ok {
		t.Fatalf("provider %q not in catalog", id)
	}
	return p
}

func TestBuiltinIDsInOrder(t *testing.T) {
	var ids []string
	for _, p := range builtin(t).All() {
		ids = append(ids, p.ID)
	}
	want := []string{"google", "microsoft", "yahoo", "aol", "icloud", "fastmail", "zoho", "gmx", "yandex", "proton", "generic"}
	if !slices.Equal(ids, want) {
		t.Fatalf("ids = %v, want %v", ids, want)
	}
}

func TestBuiltinProvidersValidAndComplete(t *testing.T) {
	for _, p := range builtin(t).All() {
		t.Run(p.ID, func(t *testing.T) {
			if err := p.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if p.Name == "" || len(p.Auth) == 0 {
				t.Fatalf("name %q auth %v: both must be set", p.Name, p.Auth)
			}
			if p.ID == provider.GenericID {
				if p.IMAP != "" || p.SMTP != "" || len(p.Domains) != 0 || len(p.MX) != 0 {
					t.Fatalf("generic must have no hosts, domains or mx: %+v", p)
				}
				if _, err := p.IMAPEndpoint(); err == nil {
					t.Fatal("generic IMAPEndpoint: want error for unset host")
				}
				return
			}
			if len(p.Domains) == 0 {
				t.Error("no domains")
			}
			im, err := p.IMAPEndpoint()
			if err != nil {
				t.Fatalf("IMAPEndpoint: %v", err)
			}
			sm, err := p.SMTPEndpoint()
			if err != nil {
				t.Fatalf("SMTPEndpoint: %v", err)
			}
			for _, e := range []account.Endpoint{im, sm} {
				if e.Host == "" || e.Port <= 0 || !e.Security.Valid() {
					t.Errorf("incomplete endpoint %v", e)
				}
				// Implicit TLS on the well-known starttls ports (or the
				// reverse) is a catalog typo.
				if (e.Port == 993 || e.Port == 465) && e.Security != account.TLS {
					t.Errorf("%v: port %d is implicit TLS", e, e.Port)
				}
				if (e.Port == 143 || e.Port == 587) && e.Security != account.StartTLS {
					t.Errorf("%v: port %d is STARTTLS", e, e.Port)
				}
			}
			if p.Supports(account.OAuth2) {
				o := p.OAuth2
				if o == nil || o.AuthURL == "" || o.TokenURL == "" || len(o.Scopes) == 0 {
					t.Fatalf("oauth2 provider incomplete: %+v", o)
				}
				for _, raw := range []string{o.AuthURL, o.TokenURL, o.DeviceAuthURL, o.RevokeURL} {
					if raw == "" {
						continue
					}
					u, err := url.Parse(raw)
					if err != nil || u.Scheme != "https" {
						t.Errorf("endpoint %q is not https", raw)
					}
				}
				if o.ClientSetupURL == "" {
					t.Error("oauth2 provider without client_setup_url: the user cannot register a client")
				}
			}
			switch p.AppPasswordFormat {
			case provider.FormatGoogle16, provider.FormatApple, provider.FormatStripSpaces:
				if p.AppPasswordURL == "" {
					t.Errorf("app-password provider (format %q) without app_password_url", p.AppPasswordFormat)
				}
			}
			if p.AppPasswordURL != "" && !p.Supports(account.Password) {
				t.Error("app_password_url set but password auth not offered")
			}
			if p.HelpURL == "" {
				t.Error("no help_url")
			}
		})
	}
}

func TestBuiltinProviderFacts(t *testing.T) {
	c := builtin(t)
	g := mustGet(t, c, "google")
	if !slices.Equal(g.OAuth2.Scopes, []string{"https://mail.google.com/"}) {
		t.Errorf("google scopes = %v", g.OAuth2.Scopes)
	}
	if g.OAuth2.DeviceAuthURL != "" {
		t.Errorf("google has no device flow for mail scopes, got %q", g.OAuth2.DeviceAuthURL)
	}
	if g.AppPasswordFormat != provider.FormatGoogle16 || g.AppPasswordPrereq == "" {
		t.Errorf("google app password format %q prereq %q", g.AppPasswordFormat, g.AppPasswordPrereq)
	}
	m := mustGet(t, c, "microsoft")
	wantScopes := []string{"https://outlook.office.com/IMAP.AccessAsUser.All", "https://outlook.office.com/SMTP.Send", "offline_access"}
	if !slices.Equal(m.OAuth2.Scopes, wantScopes) {
		t.Errorf("microsoft scopes = %v", m.OAuth2.Scopes)
	}
	if m.OAuth2.DeviceAuthURL != "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode" {
		t.Errorf("microsoft device url = %q", m.OAuth2.DeviceAuthURL)
	}
	if m.DefaultAuth() != account.OAuth2 || m.Supports(account.Password) {
		t.Errorf("microsoft auth = %v: Outlook.com and Exchange Online take OAuth only", m.Auth)
	}
	pr := mustGet(t, c, "proton")
	im, _ := pr.IMAPEndpoint()
	sm, _ := pr.SMTPEndpoint()
	if im.Addr() != "127.0.0.1:1143" || im.Security != account.StartTLS || sm.Addr() != "127.0.0.1:1025" || sm.Security != account.StartTLS {
		t.Errorf("proton bridge endpoints = %v / %v", im, sm)
	}
	if !slices.Equal(pr.Auth, []account.AuthMethod{account.Password}) {
		t.Errorf("proton auth = %v, want password only", pr.Auth)
	}
	for _, id := range []string{"yahoo", "aol"} {
		if p := mustGet(t, c, id); p.DefaultAuth() != account.Password {
			t.Errorf("%s default auth = %v, want password (OAuth needs an approved app)", id, p.DefaultAuth())
		}
	}
	if mustGet(t, c, "icloud").AppPasswordFormat != provider.FormatApple {
		t.Error("icloud app password format must be apple")
	}
}

func TestGetAndAllReturnCopies(t *testing.T) {
	c := builtin(t)
	g := mustGet(t, c, "google")
	g.Domains[0] = "changed.example"
	g.OAuth2.Scopes[0] = "changed"
	all := c.All()
	all[0].Auth[0] = "changed"
	g2 := mustGet(t, c, "google")
	if g2.Domains[0] != "gmail.com" || g2.OAuth2.Scopes[0] != "https://mail.google.com/" || g2.Auth[0] != account.OAuth2 {
		t.Fatalf("catalog was mutated through a returned copy: %+v", g2)
	}
	if _, ok := c.Get("nope"); ok {
		t.Fatal("Get of unknown id reported ok")
	}
}

// valid is a complete provider that tests mutate one field at a time.
func valid() provider.Provider {
	return provider.Provider{
		ID: "corp", Name: "Corp", Domains: []string{"corp.example"}, MX: []string{"mx.corp.example"},
		IMAP: "mail.corp.example:993", IMAPSecurity: account.TLS,
		SMTP: "mail.corp.example:587", SMTPSecurity: account.StartTLS,
		Auth:           []account.AuthMethod{account.OAuth2, account.Password},
		AppPasswordURL: "https://corp.example/apppw",
		OAuth2: &provider.OAuth2{
			AuthURL: "https://id.corp.example/authorize", TokenURL: "https://id.corp.example/token",
			Scopes: []string{"mail", "offline_access"}, ClientID: "mailmend",
		},
	}
}

func TestValidate(t *testing.T) {
	if err := valid().Validate(); err != nil {
		t.Fatalf("valid provider: %v", err)
	}
	cases := []struct {
		name   string
		mutate func(p *provider.Provider)
		field  string // "" = valid
	}{
		{"id uppercase", func(p *provider.Provider) { p.ID = "Corp" }, "id"},
		{"id space", func(p *provider.Provider) { p.ID = "my corp" }, "id"},
		{"id empty", func(p *provider.Provider) { p.ID = "" }, "id"},
		{"name empty", func(p *provider.Provider) { p.Name = " " }, "name"},
		{"imap missing", func(p *provider.Provider) { p.IMAP = "" }, "imap"},
		{"imap no port", func(p *provider.Provider) { p.IMAP = "mail.corp.example" }, "imap"},
		{"imap port 0", func(p *provider.Provider) { p.IMAP = "mail.corp.example:0" }, "imap"},
		{"smtp port too big", func(p *provider.Provider) { p.SMTP = "mail.corp.example:70000" }, "smtp"},
		{"imap security ssl", func(p *provider.Provider) { p.IMAPSecurity = "ssl" }, "imap_security"},
		{"smtp security missing", func(p *provider.Provider) { p.SMTPSecurity = "" }, "smtp_security"},
		{"auth empty", func(p *provider.Provider) { p.Auth = nil }, "auth"},
		{"auth unknown", func(p *provider.Provider) { p.Auth = []account.AuthMethod{"basic"} }, "auth"},
		{"auth twice", func(p *provider.Provider) { p.Auth = []account.AuthMethod{"password", "password"} }, "auth"},
		{"oauth2 block missing", func(p *provider.Provider) { p.OAuth2 = nil }, "oauth2"},
		{"oauth2 block unused is fine", func(p *provider.Provider) { p.Auth = []account.AuthMethod{account.Password} }, ""},
		{"scopes empty", func(p *provider.Provider) { p.OAuth2.Scopes = nil }, "oauth2.scopes"},
		{"scope with space", func(p *provider.Provider) { p.OAuth2.Scopes = []string{"a b"} }, "oauth2.scopes"},
		{"token url missing", func(p *provider.Provider) { p.OAuth2.TokenURL = "" }, "oauth2.token_url"},
		{"auth url http remote", func(p *provider.Provider) { p.OAuth2.AuthURL = "http://id.corp.example/authorize" }, "oauth2.auth_url"},
		{"token url ftp", func(p *provider.Provider) { p.OAuth2.TokenURL = "ftp://id.corp.example/token" }, "oauth2.token_url"},
		{"token url relative", func(p *provider.Provider) { p.OAuth2.TokenURL = "/token" }, "oauth2.token_url"},
		{"http 127.0.0.1", func(p *provider.Provider) { p.OAuth2.TokenURL = "http://127.0.0.1:8080/token" }, ""},
		{"http 127.1.2.3", func(p *provider.Provider) { p.OAuth2.TokenURL = "http://127.1.2.3/token" }, ""},
		{"http ::1", func(p *provider.Provider) { p.OAuth2.AuthURL = "http://[::1]:9000/auth" }, ""},
		{"http localhost", func(p *provider.Provider) { p.OAuth2.DeviceAuthURL = "http://localhost:9/device" }, ""},
		{"http 128.0.0.1", func(p *provider.Provider) { p.OAuth2.TokenURL = "http://128.0.0.1/token" }, "oauth2.token_url"},
		{"http localhost.evil", func(p *provider.Provider) { p.OAuth2.TokenURL = "http://localhost.evil.example/token" }, "oauth2.token_url"},
		{"device url http remote", func(p *provider.Provider) { p.OAuth2.DeviceAuthURL = "http://id.corp.example/device" }, "oauth2.device_auth_url"},
		{"revoke url http remote", func(p *provider.Provider) { p.OAuth2.RevokeURL = "http://id.corp.example/revoke" }, "oauth2.revoke_url"},
		{"redirect host remote", func(p *provider.Provider) { p.OAuth2.RedirectHost = "example.com" }, "oauth2.redirect_host"},
		{"app password url http", func(p *provider.Provider) { p.AppPasswordURL = "http://corp.example/apppw" }, "app_password_url"},
		{"help url not a url", func(p *provider.Provider) { p.HelpURL = "see the wiki" }, "help_url"},
		{"format unknown", func(p *provider.Provider) { p.AppPasswordFormat = "google17" }, "app_password_format"},
		{"domain with space", func(p *provider.Provider) { p.Domains = []string{"corp example"} }, "domains"},
		{"domain without dot", func(p *provider.Provider) { p.Domains = []string{"localhost"} }, "domains"},
		{"mx bad", func(p *provider.Provider) { p.MX = []string{"*.corp.example"} }, "mx"},
		{"generic may lack hosts", func(p *provider.Provider) {
			p.ID, p.IMAP, p.SMTP, p.IMAPSecurity, p.SMTPSecurity = "generic", "", "", "", ""
		}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := valid()
			tc.mutate(&p)
			err := p.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			var fe *provider.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("want *FieldError for %s, got %v", tc.field, err)
			}
			if fe.Field != tc.field {
				t.Fatalf("field = %q, want %q (%v)", fe.Field, tc.field, err)
			}
			if !strings.HasPrefix(err.Error(), "provider: ") || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("error %q must start with provider: and name the field", err)
			}
		})
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST": true, "127.0.0.1": true, "127.255.0.9": true, "::1": true, "[::1]": true,
		"128.0.0.1": false, "10.0.0.1": false, "example.com": false, "": false, "localhost.example": false, "::2": false,
	} {
		if got := provider.IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestMerge(t *testing.T) {
	t.Run("override field by field", func(t *testing.T) {
		c := builtin(t)
		before := mustGet(t, c, "google")
		err := c.Merge([]provider.Provider{{ID: "google", OAuth2: &provider.OAuth2{ClientID: "my-id.apps.example", ClientSecret: "s3"}}})
		if err != nil {
			t.Fatalf("Merge: %v", err)
		}
		g := mustGet(t, c, "google")
		if g.OAuth2.ClientID != "my-id.apps.example" || g.OAuth2.ClientSecret != "s3" {
			t.Fatalf("override not applied: %+v", g.OAuth2)
		}
		if g.OAuth2.TokenURL != before.OAuth2.TokenURL || !slices.Equal(g.OAuth2.Scopes, before.OAuth2.Scopes) ||
			g.IMAP != before.IMAP || g.Name != before.Name || !slices.Equal(g.Domains, before.Domains) {
			t.Fatalf("unset fields must keep the built-in values: %+v", g)
		}
		if fresh := mustGet(t, builtin(t), "google"); fresh.OAuth2.ClientID != "" {
			t.Fatal("Merge leaked into a fresh built-in catalog")
		}
	})
	t.Run("override lists and hosts", func(t *testing.T) {
		c := builtin(t)
		err := c.Merge([]provider.Provider{{ID: "yahoo", Auth: []account.AuthMethod{account.OAuth2, account.Password},
			OAuth2: &provider.OAuth2{ClientID: "approved"}, SMTP: "smtp.mail.yahoo.com:587", SMTPSecurity: account.StartTLS}})
		if err != nil {
			t.Fatalf("Merge: %v", err)
		}
		y := mustGet(t, c, "yahoo")
		if y.DefaultAuth() != account.OAuth2 || y.OAuth2.ClientID != "approved" || y.OAuth2.AuthURL == "" {
			t.Fatalf("yahoo override: %+v %+v", y, y.OAuth2)
		}
		if e, _ := y.SMTPEndpoint(); e.Port != 587 || e.Security != account.StartTLS {
			t.Fatalf("smtp override: %v", e)
		}
	})
	t.Run("extend", func(t *testing.T) {
		c := builtin(t)
		n := len(c.All())
		if err := c.Merge([]provider.Provider{valid()}); err != nil {
			t.Fatalf("Merge: %v", err)
		}
		all := c.All()
		if len(all) != n+1 || all[n].ID != "corp" {
			t.Fatalf("corp not appended: %d providers, last %q", len(all), all[len(all)-1].ID)
		}
	})
	t.Run("invalid result leaves catalog unchanged", func(t *testing.T) {
		c := builtin(t)
		incomplete := provider.Provider{ID: "corp", Name: "Corp", Auth: []account.AuthMethod{account.Password}, IMAP: "mail.corp.example:993", IMAPSecurity: account.TLS}
		err := c.Merge([]provider.Provider{
			{ID: "google", OAuth2: &provider.OAuth2{ClientID: "x"}},
			incomplete,
		})
		var fe *provider.FieldError
		if !errors.As(err, &fe) || fe.ID != "corp" || fe.Field != "smtp" {
			t.Fatalf("want FieldError corp/smtp, got %v", err)
		}
		if _, ok := c.Get("corp"); ok {
			t.Fatal("failed Merge added corp")
		}
		if g := mustGet(t, c, "google"); g.OAuth2.ClientID != "" {
			t.Fatal("failed Merge applied part of the overrides")
		}
		err = c.Merge([]provider.Provider{{ID: "icloud", IMAPSecurity: "ssl"}})
		if !errors.As(err, &fe) || fe.ID != "icloud" || fe.Field != "imap_security" {
			t.Fatalf("want FieldError icloud/imap_security, got %v", err)
		}
	})
}

func TestNew(t *testing.T) {
	if _, err := provider.New(valid(), valid()); err == nil {
		t.Fatal("duplicate ids accepted")
	}
	bad := valid()
	bad.IMAP = ""
	if _, err := provider.New(bad); err == nil {
		t.Fatal("incomplete provider accepted")
	}
	c, err := provider.New(valid())
	if err != nil {
		t.Fatal(err)
	}
	if g := c.Generic(); g.ID != provider.GenericID || g.DefaultAuth() != account.Password {
		t.Fatalf("fallback generic = %+v", g)
	}
}

func TestParseErrorsNameFileAndLine(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		want []string
	}{
		{"malformed", "[[provider]]\nid = \"a\"\nname = \"A\nimap = \"x:1\"\n", []string{"provider: cat.toml:3:"}},
		{"unknown key", "[[provider]]\nid = \"a\"\nname = \"A\"\nimpa = \"x:1\"\n", []string{"cat.toml:4:1:", "unknown key provider.impa"}},
		{"unknown oauth key", "[[provider]]\nid = \"a\"\n[provider.oauth2]\nclientid = \"x\"\n", []string{"cat.toml:4:", "unknown key provider.oauth2.clientid"}},
		{"wrong type", "[[provider]]\nid = \"a\"\nimap = 993\n", []string{"cat.toml:3:", "provider.imap: expected a string, found a TOML integer"}},
		{"wrong list type", "[[provider]]\nid = \"a\"\nauth = \"password\"\n", []string{"cat.toml:3:", "provider.auth: expected an array"}},
		{"invalid field names entry line", "[[provider]]\nid = \"a\"\nname = \"A\"\n\n[[provider]]\nid = \"b\"\nimap_security = \"ssl\"\n",
			[]string{"provider: cat.toml:5: b: imap_security:"}},
		{"missing id", "[[provider]]\nname = \"A\"\n", []string{"cat.toml:1:", "id: missing"}},
		{"duplicate id", "[[provider]]\nid = \"a\"\n[[provider]]\nid = \"a\"\n", []string{"cat.toml:3: a: id:", "cat.toml:1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := provider.Parse([]byte(tc.doc), "cat.toml")
			if err == nil {
				t.Fatal("want error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestParsePartialOverride(t *testing.T) {
	ps, err := provider.Parse([]byte("[[provider]]\nid = \"google\"\n[provider.oauth2]\nclient_id = \"mine\"\n"), "c.toml")
	if err != nil {
		t.Fatalf("a partial override must parse: %v", err)
	}
	if len(ps) != 1 || ps[0].OAuth2 == nil || ps[0].OAuth2.ClientID != "mine" || ps[0].IMAP != "" {
		t.Fatalf("parsed %+v", ps)
	}
}

func TestTableLines(t *testing.T) {
	doc := "# x\n[[provider]]\nid='a'\n  [[ provider ]]  # second\n[provider.oauth2]\n[[providers]]\n"
	if got := provider.TableLines([]byte(doc), "provider"); !slices.Equal(got, []int{2, 4}) {
		t.Fatalf("TableLines = %v, want [2 4]", got)
	}
}

func TestNormalizeAppPassword(t *testing.T) {
	c := builtin(t)
	google, apple, yahoo, proton := mustGet(t, c, "google"), mustGet(t, c, "icloud"), mustGet(t, c, "yahoo"), mustGet(t, c, "proton")
	ok := []struct {
		p        provider.Provider
		in, want string
	}{
		{google, "abcd efgh ijkl mnop", "abcdefghijklmnop"},
		{google, "  abcd\tefgh\nijkl mnop \n", "abcdefghijklmnop"},
		{google, "ABCDefghIJKLmnop", "ABCDefghIJKLmnop"},
		{apple, "abcd-efgh-ijkl-mnop", "abcd-efgh-ijkl-mnop"},
		{apple, "  abcd - efgh - ijkl - mnop \n", "abcd-efgh-ijkl-mnop"},
		{apple, "abcdefghijklmnop", "abcd-efgh-ijkl-mnop"},
		{yahoo, "abcd efgh ijkl mnop", "abcdefghijklmnop"},
		{proton, "  bridge pass with spaces  ", "bridge pass with spaces"},
	}
	for _, tc := range ok {
		got, err := provider.NormalizeAppPassword(tc.p, tc.in)
		if err != nil || got != tc.want {
			t.Errorf("%s %q: got %q, %v; want %q", tc.p.ID, tc.in, got, err, tc.want)
		}
	}
	bad := []struct {
		p    provider.Provider
		in   string
		hint string
	}{
		{google, "abcd efgh ijkl mno", "16 letters"},
		{google, "abcd efgh ijkl mnopq", "16 letters"},
		{google, "abcd efgh ijkl mn0p", "digit"},
		{google, "   ", "empty"},
		{apple, "Abcd-efgh-ijkl-mnop", "xxxx-xxxx-xxxx-xxxx"},
		{apple, "abcd-efgh-ijkl", "xxxx-xxxx-xxxx-xxxx"},
		{apple, "abcd_efgh_ijkl_mnop", "xxxx-xxxx-xxxx-xxxx"},
		{yahoo, " \t ", "empty"},
	}
	for _, tc := range bad {
		got, err := provider.NormalizeAppPassword(tc.p, tc.in)
		if err == nil {
			t.Errorf("%s %q: want error, got %q", tc.p.ID, tc.in, got)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "provider: ") || !strings.Contains(msg, tc.hint) {
			t.Errorf("%s %q: error %q lacks prefix or hint %q", tc.p.ID, tc.in, msg, tc.hint)
		}
		// The secret must not leak, not even one of its groups.
		for _, part := range strings.FieldsFunc(tc.in, func(r rune) bool { return r == ' ' || r == '-' || r == '_' || r == '\t' }) {
			if len(part) >= 3 && strings.Contains(msg, part) {
				t.Errorf("error %q echoes part %q of the input", msg, part)
			}
		}
	}
	unknown := google
	unknown.AppPasswordFormat = "rot13"
	if _, err := provider.NormalizeAppPassword(unknown, "abc"); err == nil {
		t.Error("unknown format accepted")
	}
}
