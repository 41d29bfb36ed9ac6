package account

import "testing"

func TestParseHostPort(t *testing.T) {
	ok := []struct {
		in   string
		want Endpoint
	}{
		{"imap.gmail.com:993", Endpoint{Host: "imap.gmail.com", Port: 993, Security: TLS}},
		{" [::1]:143 ", Endpoint{Host: "::1", Port: 143, Security: TLS}},
	}
	for _, tc := range ok {
		got, err := ParseHostPort(tc.in, TLS)
		if err != nil || got != tc.want {
			t.Errorf("ParseHostPort(%q) = %+v, %v", tc.in, got, err)
		}
	}
	for _, bad := range []string{"imap.gmail.com", ":993", "h:0", "h:65536", "h:x", ""} {
		if _, err := ParseHostPort(bad, TLS); err == nil {
			t.Errorf("ParseHostPort(%q) accepted", bad)
		}
	}
	if got := (Endpoint{Host: "::1", Port: 993, Security: StartTLS}).String(); got != "[::1]:993 (starttls)" {
		t.Errorf("String = %q", got)
	}
}

func TestValidEmail(t *testing.T) {
	for _, good := range []string{"a@b.co", "first.last+tag@sub.example.org"} {
		if !ValidEmail(good) {
			t.Errorf("%q rejected", good)
		}
	}
	for _, bad := range []string{"", "a", "a@b", "@b.co", "a@.co", "a@b.", "a b@c.co", "a@b.co\n", "a\x1b@b.co", "<a@b.co>"} {
		if ValidEmail(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestLoginAndDomain(t *testing.T) {
	a := Account{Email: "Ann@Example.ORG"}
	if a.Login() != "Ann@Example.ORG" || a.Domain() != "example.org" {
		t.Errorf("login %q domain %q", a.Login(), a.Domain())
	}
	a.Username = "ann"
	if a.Login() != "ann" {
		t.Errorf("login %q", a.Login())
	}
	if !SameEmail(" ann@example.org", "ANN@example.org") || SameEmail("a@x.org", "b@x.org") {
		t.Error("SameEmail")
	}
	if !TLS.Valid() || Security("none").Valid() || !OAuth2.Valid() || AuthMethod("x").Valid() {
		t.Error("Valid")
	}
}
