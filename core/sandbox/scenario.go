package sandbox

import (
	"fmt"

	"github.com/mailmend/mailmend/core/cause"
)

// Flavour is the provider a fake account imitates: which error texts its
// servers send and which OAuth dialect its token endpoint speaks.
type Flavour string

// The provider flavours.
const (
	// Google answers like Gmail and accounts.google.com.
	Google Flavour = "google"
	// Microsoft answers like Outlook.com / Exchange Online and Entra ID.
	Microsoft Flavour = "microsoft"
)

// String returns the flavour's stable name.
func (f Flavour) String() string { return string(f) }

// Valid reports whether f is a known flavour.
func (f Flavour) Valid() bool { return f == Google || f == Microsoft }

// Scenario is how a fake account is broken. Every cause of the catalog has
// a scenario of the same id (see core/cause), plus Healthy and Hostile.
type Scenario string

// The scenarios. The comment says what the fake servers do for an account in
// that state and what repairs it.
const (
	// Healthy: passwords, app passwords and live tokens are accepted.
	Healthy Scenario = "healthy"
	// WrongPassword: the server's password differs from UserSpec.Password;
	// Password(email) tells the accepted one. A login with it heals.
	WrongPassword = Scenario(cause.WrongPassword)
	// AppPasswordRequired: 2-step verification is on; the account password is
	// refused, AppPassword(email) is accepted and heals.
	AppPasswordRequired = Scenario(cause.AppPasswordRequired)
	// PasswordChanged: the OAuth grant died with a password change.
	PasswordChanged = Scenario(cause.PasswordChanged)
	// AccessRevoked: the user removed the app's access.
	AccessRevoked = Scenario(cause.AccessRevoked)
	// TokenExpired: the refresh token aged out.
	TokenExpired = Scenario(cause.TokenExpired)
	// OAuthAppInTesting: Google client in "Testing": grants die after 7 days.
	OAuthAppInTesting = Scenario(cause.OAuthAppInTesting)
	// InteractionRequired: MFA / conditional access wants a browser sign-in.
	InteractionRequired = Scenario(cause.InteractionRequired)
	// ConsentRequired: the scopes are not (or no longer) consented.
	ConsentRequired = Scenario(cause.ConsentRequired)
	// CodeInvalid: the next authorization code exchange fails as a redeemed
	// code; the flow after it works.
	CodeInvalid = Scenario(cause.CodeInvalid)
	// RedirectURIMismatch: /authorize refuses the redirect URI until Fix.
	RedirectURIMismatch = Scenario(cause.RedirectURIMismatch)
	// InvalidClient: the token endpoint refuses the client until Fix.
	InvalidClient = Scenario(cause.InvalidClient)
	// InsufficientScope: tokens lack the mail scope; IMAP/SMTP refuse them.
	InsufficientScope = Scenario(cause.InsufficientScope)
	// ClockSkew: the server's Date header for this account is shifted by
	// Options.ClockOffset and its tokens are refused, until Fix.
	ClockSkew = Scenario(cause.ClockSkew)
	// AccountBlocked: suspicious sign-in / disabled account until Fix or a
	// visit of SecurityURL(email).
	AccountBlocked = Scenario(cause.AccountBlocked)
	// BasicAuthDisabled: password logins are refused; OAuth works.
	BasicAuthDisabled = Scenario(cause.BasicAuthDisabled)
	// ProtocolDisabled: IMAP access is off for the mailbox (SMTP works).
	ProtocolDisabled = Scenario(cause.ProtocolDisabled)
	// WrongSettings: Settings(email) points at a plaintext port marked as
	// TLS (IMAP) and a server whose certificate has the wrong name (SMTP).
	WrongSettings = Scenario(cause.WrongSettings)
	// ProviderUnavailable: IMAP says BYE [UNAVAILABLE], SMTP 421, the token
	// endpoint 503, until Fix or Options.TransientFor passed.
	ProviderUnavailable = Scenario(cause.ProviderUnavailable)
	// RateLimited: logins and token requests are throttled until Fix or
	// Options.TransientFor passed.
	RateLimited = Scenario(cause.RateLimited)
	// Hostile: greetings carry terminal escape sequences and an endless
	// line, error texts carry escapes; for tests of a client's defences.
	Hostile Scenario = "hostile"
)

// Scenarios lists every scenario: Healthy, one per catalog cause (catalog
// order, without unknown), then Hostile.
func Scenarios() []Scenario {
	out := []Scenario{Healthy}
	for _, id := range cause.All {
		if id != cause.Unknown {
			out = append(out, Scenario(id))
		}
	}
	return append(out, Hostile)
}

// String returns the scenario id.
func (s Scenario) String() string { return string(s) }

// Cause returns the catalog cause the scenario reproduces, or "" for
// Healthy and Hostile.
func (s Scenario) Cause() cause.ID {
	if s == Healthy || s == Hostile {
		return ""
	}
	return cause.ID(s)
}

// Valid reports whether s is a known scenario.
func (s Scenario) Valid() bool {
	for _, k := range Scenarios() {
		if k == s {
			return true
		}
	}
	return false
}

// Supports reports whether the flavour has the scenario: every scenario
// exists for both flavours except OAuthAppInTesting, which is Google's.
func (f Flavour) Supports(s Scenario) bool {
	if !s.Valid() || !f.Valid() {
		return false
	}
	return !(s == OAuthAppInTesting && f == Microsoft)
}

func checkScenario(f Flavour, s Scenario) error {
	if !f.Valid() {
		return fmt.Errorf("sandbox: unknown flavour %q", f)
	}
	if !s.Valid() {
		return fmt.Errorf("sandbox: unknown scenario %q", s)
	}
	if !f.Supports(s) {
		return fmt.Errorf("sandbox: scenario %s does not exist for %s", s, f)
	}
	return nil
}

// oauthDead reports whether the scenario kills the account's OAuth grants:
// refresh fails with the scenario's text and access tokens are refused.
func (s Scenario) oauthDead() bool {
	switch s {
	case PasswordChanged, AccessRevoked, TokenExpired, OAuthAppInTesting,
		InteractionRequired, ConsentRequired, ClockSkew, AccountBlocked:
		return true
	}
	return false
}

// healsOnConsent reports whether a successful authorization code exchange
// (a new consent) repairs the scenario.
func (s Scenario) healsOnConsent() bool {
	switch s {
	case PasswordChanged, AccessRevoked, TokenExpired, OAuthAppInTesting,
		InteractionRequired, ConsentRequired, InsufficientScope:
		return true
	}
	return false
}

// transient reports whether the scenario passes by itself after
// Options.TransientFor.
func (s Scenario) transient() bool { return s == ProviderUnavailable || s == RateLimited }
