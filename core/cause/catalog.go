// Package cause holds the catalog of reasons a mail account stops working and
// Classify, which names the cause from the evidence a live check or a pasted
// error text provides.
package cause

// ID is a stable cause identifier from the catalog. JSON output, tests and
// docs use these strings; they never change.
type ID string

// The cause catalog.
const (
	WrongPassword       ID = "wrong_password"
	AppPasswordRequired ID = "app_password_required"
	PasswordChanged     ID = "password_changed"
	AccessRevoked       ID = "access_revoked"
	TokenExpired        ID = "token_expired"
	OAuthAppInTesting   ID = "oauth_app_in_testing"
	InteractionRequired ID = "interaction_required"
	ConsentRequired     ID = "consent_required"
	CodeInvalid         ID = "code_invalid"
	RedirectURIMismatch ID = "redirect_uri_mismatch"
	InvalidClient       ID = "invalid_client"
	InsufficientScope   ID = "insufficient_scope"
	ClockSkew           ID = "clock_skew"
	AccountBlocked      ID = "account_blocked"
	BasicAuthDisabled   ID = "basic_auth_disabled"
	ProtocolDisabled    ID = "protocol_disabled"
	WrongSettings       ID = "wrong_settings"
	ProviderUnavailable ID = "provider_unavailable"
	RateLimited         ID = "rate_limited"
	Unknown             ID = "unknown"
)

// String returns the id.
func (id ID) String() string { return string(id) }

// Retry says whether trying again can help.
type Retry string

// Retry policies, as `explain --json` reports them.
const (
	RetryNever    Retry = "never"     // the user must act; retrying only risks a lockout
	RetryAfterFix Retry = "after_fix" // retry once the user fixed a setting
	RetryLater    Retry = "later"     // transient: wait and retry with backoff
)

// All lists every catalog id in catalog order.
var All = []ID{
	WrongPassword, AppPasswordRequired, PasswordChanged, AccessRevoked,
	TokenExpired, OAuthAppInTesting, InteractionRequired, ConsentRequired,
	CodeInvalid, RedirectURIMismatch, InvalidClient, InsufficientScope,
	ClockSkew, AccountBlocked, BasicAuthDisabled, ProtocolDisabled,
	WrongSettings, ProviderUnavailable, RateLimited, Unknown,
}
