package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/cause"
	"github.com/mailmend/mailmend/core/doctor"
	"github.com/mailmend/mailmend/core/probe"
	"github.com/mailmend/mailmend/core/store"
)

func TestReportRedacts(t *testing.T) {
	a := account.Account{ID: "abc", Email: "jane.doe@contoso.example", Username: "jdoe-login", Provider: "microsoft", Auth: account.OAuth2,
		IMAP: account.Endpoint{Host: "outlook.office365.com", Port: 993, Security: account.TLS}}
	sec := store.Secret{Token: &store.Token{AccessToken: "eyJ0eXAiOiJKV1QiLCJub25jZSI6Ik1ZU0VDUkVU", RefreshToken: "0.AREFRESHTOKENVALUE123"}}
	body := `{"error":"invalid_grant","error_description":"AADSTS50173: The provided grant has expired due to it being revoked.\r\nTrace ID: 0c5b6f2e-1111-4e5e-9d2c-3f6e7a8b9c00\r\nCorrelation ID: 2d7f9a1b-2222-4c3d-8e9f-0a1b2c3d4e5f\r\nTimestamp: 2026-11-20 08:15:02Z","refresh_token":"0.AREFRESHTOKENVALUE123"}` +
		"\x1b]0;pwned\x07 user jane.doe@contoso.example jdoe-login Bearer eyJ0eXAiOiJKV1QiLCJub25jZSI6Ik1ZU0VDUkVU"
	ev := []cause.Evidence{{Kind: cause.KindOAuth, Code: "AADSTS50173", Text: body, Check: probe.CheckOAuthRefresh}}
	rep := doctor.Report{Account: a, Checks: []probe.Result{{Name: probe.CheckOAuthRefresh, Status: probe.Fail, Detail: "invalid_grant for jane.doe@contoso.example"}},
		Diagnosis: cause.Classify(ev, cause.Context{Provider: "microsoft"})}
	red := newRedactor(a)
	red.addSecret(sec)
	var out bytes.Buffer
	writeReport(&out, rep, red, time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	s := out.String()
	for _, bad := range []string{"jane.doe@", "jdoe-login", "eyJ0eXAiOiJKV1Qi", "AREFRESHTOKENVALUE123", "\x1b", "pwned\a"} {
		if strings.Contains(s, bad) {
			t.Errorf("report contains %q:\n%s", bad, s)
		}
	}
	for _, keep := range []string{"j***@contoso.example", "Trace ID: 0c5b6f2e-1111-4e5e-9d2c-3f6e7a8b9c00", "Correlation ID: 2d7f9a1b-2222-4c3d-8e9f-0a1b2c3d4e5f", "Timestamp: 2026-11-20 08:15:02Z", "AADSTS50173", "password_changed"} {
		if !strings.Contains(s, keep) {
			t.Errorf("report lacks %q:\n%s", keep, s)
		}
	}
}
