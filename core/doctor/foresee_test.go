package doctor

import (
	"strings"
	"testing"
	"time"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/cause"
)

func TestForesee(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	g := account.Account{Email: "a@gmail.com", Provider: "google", Auth: account.OAuth2}
	tests := []struct {
		name      string
		a         func(account.Account) account.Account
		inTesting bool
		want      []cause.ID
	}{
		{"fresh consent, not in testing", func(a account.Account) account.Account { a.ConsentedAt = now.Add(-6 * 24 * time.Hour); return a }, false, nil},
		{"testing, 6 days", func(a account.Account) account.Account { a.ConsentedAt = now.Add(-6 * 24 * time.Hour); return a }, true, []cause.ID{cause.OAuthAppInTesting}},
		{"testing, 2 days", func(a account.Account) account.Account { a.ConsentedAt = now.Add(-2 * 24 * time.Hour); return a }, true, nil},
		{"died of testing before", func(a account.Account) account.Account {
			a.ConsentedAt = now.Add(-6*24*time.Hour - 12*time.Hour)
			a.Cause = string(cause.OAuthAppInTesting)
			return a
		}, false, []cause.ID{cause.OAuthAppInTesting}},
		{"google idle 170 days", func(a account.Account) account.Account {
			a.ConsentedAt = now.Add(-300 * 24 * time.Hour)
			a.LastOK = now.Add(-170 * 24 * time.Hour)
			return a
		}, false, []cause.ID{cause.TokenExpired}},
		{"microsoft idle 80 days", func(a account.Account) account.Account {
			a.Provider = "microsoft"
			a.ConsentedAt = now.Add(-80 * 24 * time.Hour)
			return a
		}, false, []cause.ID{cause.TokenExpired}},
		{"microsoft used yesterday", func(a account.Account) account.Account {
			a.Provider = "microsoft"
			a.ConsentedAt = now.Add(-200 * 24 * time.Hour)
			a.LastOK = now.Add(-24 * time.Hour)
			return a
		}, false, nil},
		{"password account", func(a account.Account) account.Account { a.Auth = account.Password; return a }, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ws := Foresee(tc.a(g), tc.inTesting, now)
			var got []cause.ID
			for _, w := range ws {
				got = append(got, w.Cause)
				if !strings.Contains(w.Message, "mailmend ") || w.Ends.IsZero() {
					t.Errorf("warning lacks the command or the end: %+v", w)
				}
			}
			if len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) {
				t.Errorf("warnings %v, want %v", got, tc.want)
			}
		})
	}
}
