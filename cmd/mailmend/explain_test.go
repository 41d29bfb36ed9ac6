package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestExplain(t *testing.T) {
	tests := []struct {
		name, provider, text string
		want                 string
		code                 int
	}{
		{"gmail app password", "", "534-5.7.9 Application-specific password required. Learn more at https://support.google.com/mail/?p=InvalidSecondFactor", "app_password_required", 0},
		{"entra inactivity in a traceback", "", "Traceback (most recent call last):\n  File \"sync.py\", line 3\nmsal.Error: {\"error\":\"invalid_grant\",\"error_description\":\"AADSTS700082: The refresh token has expired due to inactivity.\"}", "token_expired", 0},
		{"tls to a plain port", "", "x509: tls: first record does not look like a TLS handshake", "wrong_settings", 0},
		{"nothing known", "", "the weather is nice", "unknown", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t, memStore(t))
			code := e.exec(t, tc.text, "explain", "--json")
			if code != tc.code {
				t.Fatalf("exit %d, want %d: %s", code, tc.code, e.err)
			}
			var out explainJSON
			if err := json.Unmarshal(e.out.Bytes(), &out); err != nil {
				t.Fatalf("%v\n%s", err, e.out)
			}
			if string(out.Cause) != tc.want || out.Title == "" || out.Candidates == nil || out.Evidence == nil || out.Fix == nil {
				t.Errorf("got %+v, want cause %s with every field set", out, tc.want)
			}
			// The same text as arguments, human output with the guide.
			code = e.exec(t, "", append([]string{"explain"}, strings.Fields(tc.text)...)...)
			if code != tc.code || !strings.Contains(e.out.String(), "("+tc.want+")") {
				t.Errorf("human output (exit %d):\n%s", code, e.out)
			}
		})
	}
}

func TestExplainSanitizesAndRejects(t *testing.T) {
	e := newTestEnv(t, memStore(t))
	e.exec(t, "* NO [AUTHENTICATIONFAILED] \x1b]0;owned\x07Invalid \x1b[31mcredentials\x1b[0m (Failure)", "explain", "--provider", "google")
	if strings.ContainsAny(e.out.String(), "\x1b\x07") {
		t.Errorf("escape sequences reached the output: %q", e.out)
	}
	if code := e.exec(t, "", "explain"); code != exitUsage {
		t.Errorf("empty input: exit %d", code)
	}
	if code := e.exec(t, "x", "explain", "--provider", "nope"); code != exitUsage {
		t.Errorf("unknown provider: exit %d", code)
	}
}
