package cause

// Family groups causes that point the user the same way: a diagnosis whose
// cause is in the right family is at least sending the user in the right
// direction.
type Family string

// The cause families.
const (
	FamilyPassword   Family = "password"   // the password (or app password) itself
	FamilyGrant      Family = "grant"      // an OAuth grant that died or is too narrow
	FamilySignIn     Family = "sign_in"    // the identity provider wants a browser sign-in or consent
	FamilyClient     Family = "client"     // the OAuth client registration or flow
	FamilyAccount    Family = "account"    // the account itself is blocked
	FamilyPolicy     Family = "policy"     // the provider or admin switched a way of signing in off
	FamilyClock      Family = "clock"      // the local clock
	FamilyConnection Family = "connection" // reaching the server at all
	FamilyLimits     Family = "limits"     // too many attempts or connections
	FamilyUnknown    Family = "unknown"    // nothing recognised
)

// String returns the family name.
func (f Family) String() string { return string(f) }

// Action says what kind of step gets an account with this cause working
// again.
type Action string

// The actions.
const (
	// ActionReconnect: the credential must be replaced (new password, app
	// password or browser consent).
	ActionReconnect Action = "reconnect"
	// ActionSettings: something outside the credential must be changed (a
	// setting, the clock, the client registration, the provider's security
	// page) and the account re-tested.
	ActionSettings Action = "settings"
	// ActionWait: transient; wait and re-test.
	ActionWait Action = "wait"
	// ActionNone: nothing known to do; show the evidence.
	ActionNone Action = "none"
)

// String returns the action name.
func (a Action) String() string { return string(a) }

// ExitCode is the process exit code a command reports for a failing account
// with this action: 4 when the user must act (reconnect or settings), 5 when
// the failure is transient, 1 when nothing was recognised.
func (a Action) ExitCode() int {
	switch a {
	case ActionReconnect, ActionSettings:
		return 4
	case ActionWait:
		return 5
	default:
		return 1
	}
}

// Meta is the catalog entry of one cause.
type Meta struct {
	ID ID `json:"id"`
	// Title is one line in plain words; the cause's guide starts with it.
	Title string `json:"title"`
	// Retry says whether trying again can help.
	Retry Retry `json:"retry"`
	// Family groups related causes.
	Family Family `json:"family"`
	// Action is the kind of step that fixes it.
	Action Action `json:"action"`
	// Fix is a short, provider-neutral list of steps; the guide in
	// assets/causes/<id>.md has the details per provider.
	Fix []string `json:"fix"`
}

var catalog = map[ID]Meta{
	WrongPassword: {
		Title: "The password was not accepted", Retry: RetryNever,
		Family: FamilyPassword, Action: ActionReconnect,
		Fix: []string{
			"Check the user name: most providers want the full email address.",
			"Type the password (or app password) again; mailmend tests it before saving.",
			"If the provider uses 2-step verification, make an app password instead of using the account password.",
		},
	},
	AppPasswordRequired: {
		Title: "The provider wants an app password", Retry: RetryNever,
		Family: FamilyPassword, Action: ActionReconnect,
		Fix: []string{
			"Open the provider's app-password page and make a new app password for mail.",
			"Enter it instead of the account password; mailmend tests it before saving.",
		},
	},
	PasswordChanged: {
		Title: "The account password changed, so the saved sign-in stopped working", Retry: RetryNever,
		Family: FamilyGrant, Action: ActionReconnect,
		Fix: []string{
			"Sign in again in the browser (mailmend reconnect) to give mail access anew.",
		},
	},
	AccessRevoked: {
		Title: "Mail access for this app was removed", Retry: RetryNever,
		Family: FamilyGrant, Action: ActionReconnect,
		Fix: []string{
			"Sign in again in the browser (mailmend reconnect) and allow mail access.",
			"If an administrator removed the access, ask them to allow the app again.",
		},
	},
	TokenExpired: {
		Title: "The saved sign-in expired", Retry: RetryNever,
		Family: FamilyGrant, Action: ActionReconnect,
		Fix: []string{
			"Sign in again in the browser (mailmend reconnect).",
		},
	},
	OAuthAppInTesting: {
		Title: "The Google sign-in app is in testing, so sign-ins end after 7 days", Retry: RetryNever,
		Family: FamilyGrant, Action: ActionReconnect,
		Fix: []string{
			"In Google Cloud console, open the OAuth consent screen (Audience) and publish the app (Publishing status: In production).",
			"Then sign in again in the browser (mailmend reconnect).",
		},
	},
	InteractionRequired: {
		Title: "The provider wants you to sign in again in the browser", Retry: RetryNever,
		Family: FamilySignIn, Action: ActionReconnect,
		Fix: []string{
			"Sign in again in the browser (mailmend reconnect) and complete the extra check (code, app prompt, device rule).",
			"If a company policy blocks the sign-in, ask the administrator.",
		},
	},
	ConsentRequired: {
		Title: "Permission for mail access has not been granted", Retry: RetryNever,
		Family: FamilySignIn, Action: ActionReconnect,
		Fix: []string{
			"Sign in again in the browser and allow every permission asked for.",
			"If the page says an administrator must approve, forward the admin-consent link to them.",
		},
	},
	CodeInvalid: {
		Title: "The sign-in code was already used, expired or damaged", Retry: RetryNever,
		Family: FamilyClient, Action: ActionReconnect,
		Fix: []string{
			"Start the browser sign-in again and finish it within a few minutes.",
			"When pasting the redirect address, paste the whole address once.",
		},
	},
	RedirectURIMismatch: {
		Title: "The sign-in return address is not registered for this app", Retry: RetryNever,
		Family: FamilyClient, Action: ActionSettings,
		Fix: []string{
			"Register the exact redirect URI mailmend shows in the OAuth client's settings, or use the provider's built-in client.",
		},
	},
	InvalidClient: {
		Title: "The app's client ID or secret is wrong, deleted or expired", Retry: RetryNever,
		Family: FamilyClient, Action: ActionSettings,
		Fix: []string{
			"Check the client ID and secret in the provider's developer console; make a new secret if it expired.",
			"Enter them again; mailmend tests them before saving.",
		},
	},
	InsufficientScope: {
		Title: "The sign-in does not include access to mail", Retry: RetryNever,
		Family: FamilyGrant, Action: ActionReconnect,
		Fix: []string{
			"Sign in again in the browser and allow full mail access (IMAP/SMTP).",
		},
	},
	ClockSkew: {
		Title: "This computer's clock is wrong", Retry: RetryAfterFix,
		Family: FamilyClock, Action: ActionSettings,
		Fix: []string{
			"Turn on automatic date and time (network time) and check the time zone.",
			"Re-test; mailmend measures the offset again.",
		},
	},
	AccountBlocked: {
		Title: "The provider blocked or locked the account", Retry: RetryNever,
		Family: FamilyAccount, Action: ActionSettings,
		Fix: []string{
			"Sign in to the provider's website and follow its security prompts.",
			"Check the provider's recent-activity page and confirm the blocked sign-in was you.",
			"Then re-test; do not retry in a loop, that extends the lock.",
		},
	},
	BasicAuthDisabled: {
		Title: "The provider no longer accepts a password here", Retry: RetryNever,
		Family: FamilyPolicy, Action: ActionReconnect,
		Fix: []string{
			"Switch the account to OAuth (browser sign-in): mailmend reconnect.",
			"Where the provider still offers them, an app password also works.",
		},
	},
	ProtocolDisabled: {
		Title: "IMAP or SMTP access is turned off for this mailbox", Retry: RetryNever,
		Family: FamilyPolicy, Action: ActionSettings,
		Fix: []string{
			"Turn IMAP (or authenticated SMTP) on in the mail settings on the provider's website.",
			"For company accounts, ask the administrator to allow it for your mailbox.",
		},
	},
	WrongSettings: {
		Title: "The server name, port or security setting is wrong", Retry: RetryAfterFix,
		Family: FamilyConnection, Action: ActionSettings,
		Fix: []string{
			"Compare the server, port and TLS mode with the provider's known-good settings and apply them.",
			"Port 993 and 465 use TLS from the start; 143 and 587 use STARTTLS.",
		},
	},
	ProviderUnavailable: {
		Title: "The mail server is not answering right now", Retry: RetryLater,
		Family: FamilyConnection, Action: ActionWait,
		Fix: []string{
			"Wait a few minutes and re-test; check the provider's status page.",
			"Check that this network reaches the internet.",
		},
	},
	RateLimited: {
		Title: "Too many attempts: the provider asks you to wait", Retry: RetryLater,
		Family: FamilyLimits, Action: ActionWait,
		Fix: []string{
			"Wait before re-testing; close other mail programs that use the same account.",
		},
	},
	Unknown: {
		Title: "The cause could not be recognised", Retry: RetryNever,
		Family: FamilyUnknown, Action: ActionNone,
		Fix: []string{
			"Read the server's own words below; they often name the problem.",
			"Run mailmend report ACCOUNT and attach it to a support request.",
		},
	},
}

// Info returns the catalog entry for id. An id outside the catalog gets the
// entry of Unknown with ID set to id.
func Info(id ID) Meta {
	m, ok := catalog[id]
	if !ok {
		m = catalog[Unknown]
		m.ID = id
		m.Fix = append([]string(nil), m.Fix...)
		return m
	}
	m.ID = id
	m.Fix = append([]string(nil), m.Fix...)
	return m
}

// Known reports whether id is in the catalog.
func Known(id ID) bool {
	_, ok := catalog[id]
	return ok
}

// Title is Info(id).Title.
func (id ID) Title() string { return Info(id).Title }
