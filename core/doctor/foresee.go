package doctor

import (
	"fmt"
	"time"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/cause"
)

// Grant lifetimes the providers publish.
const (
	// TestingLifetime is how long grants of a Google OAuth client whose
	// publishing status is "Testing" live.
	TestingLifetime = 7 * 24 * time.Hour
	// MicrosoftIdle is how long an unused Microsoft refresh token lives.
	MicrosoftIdle = 90 * 24 * time.Hour
	// GoogleIdle is how long an unused Google refresh token lives.
	GoogleIdle = 180 * 24 * time.Hour
	// WarnAhead is how early a coming end is reported.
	WarnAhead = 48 * time.Hour
	// IdleWarnAhead is how early an end from disuse is reported.
	IdleWarnAhead = 15 * 24 * time.Hour
)

// Warning is a problem that has not happened yet: a grant that is about to
// end. Cause is what it will turn into.
type Warning struct {
	Cause   cause.ID
	Message string
	// Ends is when the grant is expected to end.
	Ends time.Time
}

// Foresee returns the warnings for an account at now, from what is known
// without a network: a Google client in Testing (the account died of
// oauth_app_in_testing before, or inTesting says so) ends grants 7 days
// after consent; Microsoft and Google end refresh tokens that were not used
// for 90 days and 6 months.
func Foresee(a account.Account, inTesting bool, now time.Time) []Warning {
	if a.Auth != account.OAuth2 || a.ConsentedAt.IsZero() {
		return nil
	}
	var out []Warning
	if a.Provider == "google" && (inTesting || a.Cause == string(cause.OAuthAppInTesting)) {
		ends := a.ConsentedAt.Add(TestingLifetime)
		if left := ends.Sub(now); left <= WarnAhead {
			msg := fmt.Sprintf("the sign-in ends %s: the Google OAuth client is in \"Testing\", whose sign-ins last 7 days; publish the client, then run mailmend reconnect %s", until(left), a.Email)
			out = append(out, Warning{Cause: cause.OAuthAppInTesting, Message: msg, Ends: ends})
		}
	}
	idle := time.Duration(0)
	switch a.Provider {
	case "microsoft":
		idle = MicrosoftIdle
	case "google":
		idle = GoogleIdle
	}
	if idle > 0 {
		used := a.LastOK
		if used.Before(a.ConsentedAt) {
			used = a.ConsentedAt
		}
		ends := used.Add(idle)
		if left := ends.Sub(now); left <= IdleWarnAhead {
			msg := fmt.Sprintf("the sign-in ends %s because it was not used since %s; run mailmend doctor %s (it uses it) to keep it alive", until(left), used.Format("2006-01-02"), a.Email)
			out = append(out, Warning{Cause: cause.TokenExpired, Message: msg, Ends: ends})
		}
	}
	return out
}

// until describes a duration from now in words.
func until(d time.Duration) string {
	switch {
	case d <= 0:
		return "now (it has probably ended)"
	case d < time.Hour:
		return fmt.Sprintf("in %d minutes", int(d/time.Minute)+1)
	case d < 48*time.Hour:
		return fmt.Sprintf("in %d hours", int(d/time.Hour))
	default:
		return fmt.Sprintf("in %d days", int(d/(24*time.Hour)))
	}
}
