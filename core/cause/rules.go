package cause

import (
	"regexp"
	"strconv"
	"strings"
)

// Signal strengths. A stronger signal decides over a weaker one; among equal
// strengths the earlier rule (more specific) and then the earlier evidence
// wins.
const (
	weak     = 1 // a keyword or a generic class
	specific = 2 // a code or phrase that names a cause with some doubt
	explicit = 3 // a code or phrase that names the cause
	measured = 4 // a measurement (clock offset)
)

// signal is one rule's verdict on one piece of evidence.
type signal struct {
	cause    ID
	strength int
	alts     []ID // other causes this signal leaves open, most likely first
	ev       int  // index of the evidence; -1 for context
	// grant marks an ambiguous dead-grant verdict that consent age may
	// re-order.
	grant bool
	// credential marks a generic credential rejection.
	credential bool
	// network marks a plain reachability failure (no TLS, no auth involved).
	network bool
	// textual marks a verdict taken from the text naming the cause itself
	// (kept even when context would drop the cause).
	textual bool
}

func sig(c ID, strength int, alts ...ID) signal {
	return signal{cause: c, strength: strength, alts: alts}
}

// view is one piece of evidence prepared for the rules.
type view struct {
	kind     Kind
	code     string
	raw      string // code + text, unescaped
	low      string // lower-cased raw
	status   int
	provider string
	auth     string // "password", "oauth2" or ""
	// appPassword: the password that was refused has the provider's
	// app-password shape (Context.AppPassword).
	appPassword bool
	// check is the probe or step that saw the evidence ("oauth.exchange").
	check string
}

func (v *view) has(subs ...string) bool {
	for _, s := range subs {
		if strings.Contains(v.low, s) {
			return true
		}
	}
	return false
}

var (
	reAADSTS     = lazy(`(?i)AADSTS(\d{4,8})`)
	reErrorCodes = lazy(`(?i)"?error_?codes"?\s*[:=]\s*\[([\d,\s]+)\]`)
	reErrorNo    = lazy(`(?i)"?error_?no"?\s*[:=]\s*(\d{5,8})`)
	reErrorURI   = lazy(`(?i)/error\?code=(\d{4,8})`)

	reOAuthError = lazy(`(?i)(?:^|[^a-z_])(invalid_grant|invalid_client|unauthorized_client|invalid_scope|insufficient_scope|invalid_token|access_denied|interaction_required|login_required|consent_required|admin_policy_enforced|policy_enforced|org_internal|deleted_client|disabled_client|redirect_uri_mismatch|temporarily_unavailable|server_error|expired_token|slow_down|invalid_request|unsupported_grant_type)(?:[^a-z_]|$)`)

	reSMTPReply = lazy(`(?:^|[^\d.])([2-5]\d\d)[ -]([245]\.\d{1,3}\.\d{1,3})(?:[^\d.]|$)`)
	reEnhanced  = lazy(`(?:^|[^\d.])([245]\.\d{1,3}\.\d{1,3})(?:[^\d.]|$)`)
	reBareReply = lazy(`(?:^|[^\d.])(4[25]\d|5[035]\d)(?: |-|$)`)

	reIMAPCode = lazy(`\[([A-Z][A-Z-]{2,})(?:[ \]])`)

	reProtoOff    = lazy(`\b(imap|pop3?|smtp)\b(?: access| auth(?:entication)?| login)?(?: is| has been| was)? ?(?:disabled|not enabled|turned off|not allowed|not permitted)`)
	reProtoOff2   = lazy(`(?:not enabled|disabled|enable) (?:for|to use|the)? ?(?:imap|pop3?|smtp)\b`)
	reAccountOff  = lazy(`\b(?:user )?account (?:is |has been |was )?(?:temporarily )?(?:disabled|suspended|locked|blocked|deleted|restricted)`)
	reExplicitPw  = lazy(`incorrect (?:user ?name|user id|username or password|password)|username and password not accepted|wrong password|password (?:is )?(?:incorrect|wrong|invalid)|invalid (?:user ?name|user) or password|bad password|credentials were incorrect|invalid password`)
	reGenericPw   = lazy(`authenticationfailed|authentication failed|authentication unsuccessful|invalid credentials|login failed|authenticate failed|auth(?:entication)? fail|login incorrect|authentication credentials invalid|invalidcredentials|login denied|logon failure|credential/login error|bad credentials|badcredentials`)
	reTooManyAuth = lazy(`too many (?:bad|failed|invalid|unsuccessful|incorrect) (?:auth|login|logon|sign[- ]?in|password)`)
	reRate        = lazy(`too many (?:simultaneous |concurrent |open )?(?:connections|requests|login attempts|logins|attempts|sessions)|rate ?limit|ratelimit|throttl|quota exceeded|exceeded command or bandwidth|sending limit|limit exceeded|maximum number of connections|connection limit`)
	reHTTPStatus  = lazy(`(?i)(?:http(?:/\d(?:\.\d)?)?|status(?: code)?|code|http error)[ :=]*"?([1-5]\d\d)\b`)
	reAged        = lazy(`refresh token (?:has )?expired|expired due to inactivity|was inactive for|maximum allowed lifetime|token (?:has )?aged out`)
	// rePwChanged: the user or an admin changed or reset the password.
	rePwChanged = lazy(`\b(?:changed|reset|changing|resetting) (?:the |my |our |his |her |their |your )?(?:account |user'?s? |google |microsoft )?password|password (?:was |has been |got )?(?:changed|reset|updated)`)
	// reRevoked: an authorization or grant revoked or the app removed.
	reRevoked = lazy(`(?:authori[sz]ation|access|grant|consent|token)s?\b[^.\n]{0,40}\b(?:has been|have been|was|were|been) revoked|\bdeauthori[sz]ed\b|(?:removed|revoked) (?:the )?(?:app(?:lication)?'?s? )?(?:access|permissions?|grant)`)
	// reTransient: server-side transient failures in words.
	reTransient = lazy(`temporary (?:system )?(?:failure|problem|error) on server|temporary system problem|\bsystem error\b|internal (?:server )?error|server (?:is )?(?:temporarily )?unavailable|service (?:is )?(?:temporarily )?unavailable`)
	// reJWTTime: a JWT's time claims were refused (the local clock signs
	// them).
	reJWTTime = lazy(`\b(?:exp|iat|nbf)\b['"]? claim|token used before issued|used before (?:its )?issue|issued in the future|not yet valid \(nbf\)`)
	// reCodeBad: an authorization code refused as such.
	reCodeBad = lazy(`(?:malformed|invalid|expired|bad|unknown) (?:oauth2? )?(?:auth(?:orization)?|verification|device) code|(?:auth(?:orization)?|verification) code (?:is |has |was )?(?:invalid|malformed|expired|already (?:been )?(?:used|redeemed))|code (?:was |has been )?already (?:been )?(?:used|redeemed)`)
	// reCodeEntry: the text shows a pasted or entered authorization code.
	reCodeEntry = lazy(`(?:input|enter|paste)(?: the| your)? (?:auth(?:orization|entication)? |verification )?code|authorization code:|auth(?:entication)? code here`)
	// reRedirectBad: the redirect URI named as refused.
	reRedirectBad = lazy(`invalid (?:parameter:? )?redirect[_ ]ur[il]|redirect[_ ]ur[il]s?\b[^.\n]{0,40}(?:invalid|not allowed|not permitted|not registered|unregistered|is not valid)`)
	// reTLSMismatch: a TLS client met a plain-text server (or the reverse)
	// in the wording of GnuTLS, .NET, Java and Go.
	reTLSMismatch = lazy(`unexpected tls packet|handshake failed due to an unexpected packet|unrecognized ssl message|plaintext connection\?|unsupported record version|unexpected packet format|does not support tls via the starttls|server doesn'?t support starttls|starttls (?:is )?(?:required|not supported)|unencrypted connection|tls required`)
	reTesting     = lazy(`publishing status[": ]*testing|has not completed the google verification process|being tested,? and can only be accessed|developer-approved testers|app (?:is )?(?:still )?in testing|in "testing" mode|testing mode[^.]{0,60}7 days|(?:expire|expires|dies|revoked) after (?:7|seven) days`)
)

// knownHosts are published mail and identity hosts of the built-in
// providers.
var knownHosts = []string{"gmail.com", "googlemail.com", "google.com", "googleapis.com", "outlook.com",
	"office365.com", "microsoftonline.com", "yahoo.com", "aol.com", "mail.me.com", "icloud.com",
	"fastmail.com", "zoho.com", "zoho.eu", "yandex.", "gmx.", "web.de"}

// aadstsRule maps an Entra (Azure AD) STS error number to a cause. The
// number is what counts: Microsoft's `error` field is not consistent.
type aadstsRule struct {
	cause ID
	alts  []ID
	weak  bool // a wrapper code that usually precedes the real one
}

func ar(c ID, alts ...ID) aadstsRule { return aadstsRule{cause: c, alts: alts} }

var aadstsRules = map[int]aadstsRule{
	// Credentials.
	50126: ar(WrongPassword), 50056: ar(WrongPassword), 50064: ar(WrongPassword),
	// Account state.
	50053:  ar(AccountBlocked),
	50057:  ar(AccountBlocked, WrongSettings),
	50135:  ar(AccountBlocked, PasswordChanged),
	53011:  ar(AccountBlocked),
	530034: ar(AccountBlocked),
	// Account or tenant does not exist where the request was sent.
	50034: ar(WrongSettings, WrongPassword, AccountBlocked),
	50020: ar(WrongSettings),
	51004: ar(WrongSettings),
	90072: ar(WrongSettings),
	50059: ar(WrongSettings), 90002: ar(WrongSettings), 900023: ar(WrongSettings),
	50128: ar(WrongSettings),
	// Password changed or expired.
	50055: ar(PasswordChanged), 50144: ar(PasswordChanged),
	50133: ar(PasswordChanged, TokenExpired),
	50173: ar(PasswordChanged, AccessRevoked),
	// Interaction: MFA, conditional access, session.
	50058: ar(InteractionRequired), 50072: ar(InteractionRequired),
	50074: ar(InteractionRequired), 50076: ar(InteractionRequired),
	50078: ar(InteractionRequired), 50079: ar(InteractionRequired),
	50097: ar(InteractionRequired), 50125: ar(InteractionRequired),
	50127: ar(InteractionRequired), 50129: ar(InteractionRequired),
	50131: ar(InteractionRequired), 50140: ar(InteractionRequired),
	50158: ar(InteractionRequired), 50199: ar(InteractionRequired),
	53000: ar(InteractionRequired), 53001: ar(InteractionRequired),
	53002: ar(InteractionRequired), 53003: ar(InteractionRequired),
	53004: ar(InteractionRequired), 530032: ar(InteractionRequired),
	50132: ar(InteractionRequired, PasswordChanged, TokenExpired),
	// Consent.
	65001: ar(ConsentRequired), 65004: ar(ConsentRequired),
	90094: ar(ConsentRequired), 90095: ar(ConsentRequired),
	50105:  ar(ConsentRequired, AccountBlocked),
	650052: ar(ConsentRequired), 650051: ar(ConsentRequired),
	500011: ar(ConsentRequired, InsufficientScope),
	// Scope / audience.
	70011: ar(InsufficientScope), 65005: ar(InsufficientScope, ConsentRequired),
	650057: ar(InsufficientScope), 50001: ar(InsufficientScope),
	28002: ar(InsufficientScope), 28003: ar(InsufficientScope),
	70000: ar(InsufficientScope, ConsentRequired, AccessRevoked, TokenExpired),
	// Grant lifetime.
	70008:  ar(TokenExpired, AccessRevoked, PasswordChanged),
	700082: ar(TokenExpired), 700084: ar(TokenExpired), 700081: ar(TokenExpired),
	70043: ar(TokenExpired, InteractionRequired),
	// Authorization code.
	54005: ar(CodeInvalid), 9002313: ar(CodeInvalid), 50148: ar(CodeInvalid),
	501481: ar(CodeInvalid), 50089: ar(CodeInvalid), 70019: ar(CodeInvalid),
	70018: ar(CodeInvalid), 700005: ar(CodeInvalid),
	// Redirect URI.
	50011: ar(RedirectURIMismatch), 50010: ar(RedirectURIMismatch),
	500112: ar(RedirectURIMismatch), 500113: ar(RedirectURIMismatch),
	// Client.
	7000215: ar(InvalidClient), 7000222: ar(InvalidClient), 7000218: ar(InvalidClient),
	700016: ar(InvalidClient), 70001: ar(InvalidClient), 700027: ar(InvalidClient),
	7000112: ar(InvalidClient), 700025: ar(InvalidClient), 50012: ar(InvalidClient),
	7000110: ar(InvalidClient), 700054: ar(InvalidClient), 700051: ar(InvalidClient),
	70002: {cause: InvalidClient, weak: true},
	50194: ar(WrongSettings, InvalidClient), 9002331: ar(WrongSettings, InvalidClient),
	50107: ar(WrongSettings), 900971: ar(RedirectURIMismatch),
	700003: ar(InteractionRequired), 50143: ar(InteractionRequired), 50187: ar(InteractionRequired),
	50203: ar(InteractionRequired), 135011: ar(AccountBlocked),
	// Clock.
	700024: ar(ClockSkew), 500133: ar(ClockSkew),
	// Transient and limits.
	50196: ar(RateLimited), 50197: ar(RateLimited),
	90033: ar(ProviderUnavailable), 50000: ar(ProviderUnavailable),
	90006: ar(ProviderUnavailable), 80012: ar(ProviderUnavailable),
	90025: ar(ProviderUnavailable),
}

// aadstsNumbers returns every Entra error number mentioned in s, in order,
// without duplicates.
func aadstsNumbers(s string) []int {
	var out []int
	seen := map[int]bool{}
	add := func(n string) {
		v, err := strconv.Atoi(strings.TrimSpace(n))
		if err != nil || v <= 0 || seen[v] {
			return
		}
		seen[v] = true
		out = append(out, v)
	}
	for _, m := range reAADSTS.get().FindAllStringSubmatch(s, -1) {
		add(m[1])
	}
	for _, m := range reErrorCodes.get().FindAllStringSubmatch(s, -1) {
		for _, n := range strings.Split(m[1], ",") {
			add(n)
		}
	}
	for _, re := range []*regexp.Regexp{reErrorNo.get(), reErrorURI.get()} {
		for _, m := range re.FindAllStringSubmatch(s, -1) {
			add(m[1])
		}
	}
	return out
}

// analyze runs every rule on one piece of evidence.
func analyze(v *view) []signal {
	var out []signal
	add := func(s signal) { out = append(out, s) }

	// Entra numbers.
	nums := aadstsNumbers(v.raw)
	strong := false
	for _, n := range nums {
		if r, ok := aadstsRules[n]; ok && !r.weak {
			strong = true
		}
	}
	for _, n := range nums {
		r, ok := aadstsRules[n]
		if !ok {
			continue
		}
		if r.weak {
			if !strong {
				add(sig(r.cause, weak, r.alts...))
			}
			continue
		}
		if n == 70000 && v.has("abuse", "locked", "blocked", "suspended") {
			// 70000 is a catch-all; the account state in the text
			// decides.
			add(sig(AccountBlocked, explicit))
			continue
		}
		if n == 70000 && v.has("grant the client application access", "consent") {
			add(sig(ConsentRequired, explicit, InsufficientScope, InteractionRequired))
			continue
		}
		add(sig(r.cause, explicit, r.alts...))
	}

	textRules(v, add)
	oauthRules(v, add)
	imapRules(v, add)
	smtpRules(v, add)
	transportRules(v, add)
	credentialRules(v, add)
	httpRules(v, add)
	return out
}

// textRules: phrases that name the cause whatever the protocol.
func textRules(v *view, add func(signal)) {
	t := func(s signal) { s.textual = true; add(s) }
	switch {
	case v.has("application-specific password required", "app password required",
		"application specific password required", "invalidsecondfactor",
		"answer/185833", "app-specific password required"):
		t(sig(AppPasswordRequired, explicit))
	}
	if reTesting.get().MatchString(v.low) {
		t(sig(OAuthAppInTesting, explicit))
	}
	if v.has("[webalert", "web login required", "accounts.google.com/signin/continue", "weblogininterrupted", "p=weblogin") {
		t(sig(AccountBlocked, explicit, BasicAuthDisabled))
	} else if v.has("log in via your web browser", "login via your web browser", "sign in via your web browser", "log in via the web") {
		if v.provider == "google" {
			t(sig(BasicAuthDisabled, specific, AccountBlocked, AppPasswordRequired))
		} else {
			t(sig(AccountBlocked, specific, BasicAuthDisabled))
		}
	}
	if v.has("smtpclientauthentication is disabled", "smtp client authentication is disabled", "smtp_auth_disabled") {
		t(sig(ProtocolDisabled, explicit, BasicAuthDisabled))
	} else if reProtoOff.get().MatchString(v.low) || reProtoOff2.get().MatchString(v.low) ||
		v.has("does not have access rights to this service", "not enabled for imap", "not enabled for pop",
			"imap access for this account is disabled") {
		alts := []ID{}
		if v.has("invalid credentials or", "or imap is disabled", "access rights") {
			alts = []ID{AppPasswordRequired, WrongPassword}
		}
		t(sig(ProtocolDisabled, explicit, alts...))
	}
	if v.has("basic authentication is disabled", "basic auth is disabled", "basic authentication is not supported",
		"basic auth is not supported", "basic authentication has been disabled", "legacy authentication",
		"security defaults policy blocks", "basicauthblocked", "basic authentication is blocked") {
		t(sig(BasicAuthDisabled, explicit))
	} else if v.has("less secure app", "lesssecureapps", "oauth2 is required", "oauth is required", "please use oauth", "use oauth2") {
		t(sig(BasicAuthDisabled, specific, AppPasswordRequired))
	}
	switch {
	case v.has("policy_enforced") && !v.has("admin_policy_enforced"), v.has("advanced protection"):
		t(sig(AccountBlocked, explicit))
	case v.has("suspicious", "unusual activity", "unusual sign-in", "verify it's you", "verify it’s you",
		"sign-in attempt was blocked", "temporarily restricted", "suspects it may have been hacked", "has been hacked",
		"locked by your organization", "account is locked", "account has been locked",
		"not a robot", "captcha", "use web for sending", "unlock your account", "account unlock",
		"service abuse", "abuse mode"):
		t(sig(AccountBlocked, explicit, BasicAuthDisabled))
	case reAccountOff.get().MatchString(v.low), v.has("account has been deleted", "account deleted", "user not found or disabled"):
		t(sig(AccountBlocked, specific))
	}
	switch {
	case v.has("password has expired", "password is expired", "password expired", "user_password_expired", "password must be changed", "must change your password"):
		t(sig(PasswordChanged, explicit, AccountBlocked))
	case v.has("password was changed", "changed or reset their password", "password has been changed", "password change", "password was reset"),
		rePwChanged.get().MatchString(v.low):
		t(sig(PasswordChanged, specific, AccessRevoked))
	}
	if v.has("invalid jwt") {
		if v.has("timeframe", "iat", "exp ", "exp values", "clock", "short-lived") {
			t(sig(ClockSkew, explicit))
		} else if v.has("signature") {
			t(sig(InvalidClient, explicit))
		}
	}
	if v.has("clock skew", "check your system clock", "time is out of sync", "issued in the future", "clock difference", "system time") &&
		!v.has("x509") {
		t(sig(ClockSkew, specific))
	}
	if v.has("redirect_uri_mismatch") ||
		((v.has("redirect uri", "redirect_uri", "reply address", "reply url")) &&
			v.has("does not match", "mismatch", "not registered", "no reply address", "not valid", "doesn't match")) {
		t(sig(RedirectURIMismatch, explicit))
	} else if reRedirectBad.get().MatchString(v.low) {
		t(sig(RedirectURIMismatch, explicit, InvalidClient))
	} else if v.has("oauth 2.0") && v.has("redirect_uri=") {
		// Google's localised error page: the policy it cites is about the
		// redirect URI the request details list.
		t(sig(RedirectURIMismatch, specific, InvalidClient))
	}
	if reJWTTime.get().MatchString(v.low) {
		t(sig(ClockSkew, specific, InvalidClient))
	}
	if reCodeBad.get().MatchString(v.low) {
		t(sig(CodeInvalid, explicit))
	}
	switch {
	case v.has("malformed code", "invalid code", "code was already redeemed", "already redeemed", "code has expired", "code expired", "code is expired", "invalid authorization code", "authorization code is invalid", "code_verifier", "code verifier", "bad verification code"):
		t(sig(CodeInvalid, explicit))
	}
	if v.has("insufficient authentication scopes", "access_token_scope_insufficient", "insufficient_scope", "insufficient scope", "scope is not valid", "invalid_scope", "invalid scope", "wrong audience", "invalid audience") {
		t(sig(InsufficientScope, explicit, ConsentRequired))
	}
	if v.has("the oauth client was not found", "oauth client was deleted", "deleted_client", "disabled_client", "client secret", "client_secret", "client_assertion", "invalid client") {
		t(sig(InvalidClient, specific))
	}
	if v.has("needs admin approval", "admin approval", "administrator must grant", "admin consent", "need admin", "needs permission to access resources in your organization",
		"cannot consent", "can't consent", "has not consented", "have not consented", "not been consented") {
		t(sig(ConsentRequired, explicit))
	}
	if reAged.get().MatchString(v.low) {
		t(sig(TokenExpired, specific, AccessRevoked))
	}
	if (v.has("token has been revoked", "access was revoked", "has been revoked by the user", "token revoked", "grant was revoked") ||
		reRevoked.get().MatchString(v.low)) && !v.has("expired or revoked") {
		t(sig(AccessRevoked, specific, PasswordChanged))
	}
}

// oauthRules: the OAuth `error` field and Google's descriptions.
func oauthRules(v *view, add func(signal)) {
	errs := map[string]bool{}
	for _, m := range reOAuthError.get().FindAllStringSubmatch(v.low, -1) {
		errs[m[1]] = true
	}
	if c := strings.ToLower(strings.TrimSpace(v.code)); c != "" {
		errs[c] = true
	}
	grantAlts := []ID{AccessRevoked, PasswordChanged, OAuthAppInTesting}
	if v.has("token has been expired or revoked", "expired or revoked", "token is expired or revoked") {
		s := sig(TokenExpired, explicit, grantAlts...)
		s.grant = true
		add(s)
	}
	if v.has("invalid_rapt", "reauth related error") {
		// Google Workspace session control: the admin wants a fresh sign-in.
		add(sig(InteractionRequired, explicit))
	}
	if errs["invalid_grant"] && v.check == "oauth.exchange" && !v.has("aadsts") {
		// invalid_grant while exchanging an authorization code is about the
		// code: reused, expired, or sent with the wrong verifier.
		add(sig(CodeInvalid, explicit))
	}
	if errs["invalid_grant"] && reCodeEntry.get().MatchString(v.low) && !v.has("aadsts") {
		// The user had just pasted an authorization code: the grant
		// refused is that code (or its timestamp check).
		add(sig(CodeInvalid, specific, ClockSkew))
	}
	if errs["invalid_grant"] {
		switch {
		case v.has("bad request", "malformed", "invalid refresh token", "unknown refresh token", "not found"):
			s := sig(AccessRevoked, specific, CodeInvalid, TokenExpired)
			add(s)
		case v.has("token is not active", "session not active", "session expired", "refresh token expired", "token expired", "has expired", "stale token", "maximum lifetime", "maxage"):
			s := sig(TokenExpired, specific, AccessRevoked, PasswordChanged)
			add(s)
		default:
			s := sig(TokenExpired, weak, AccessRevoked, PasswordChanged, OAuthAppInTesting)
			s.grant = true
			add(s)
		}
	}
	if errs["invalid_client"] || errs["deleted_client"] || errs["disabled_client"] {
		add(sig(InvalidClient, specific))
	}
	if errs["unauthorized_client"] {
		if v.has("scope") {
			add(sig(ConsentRequired, specific, InvalidClient))
		} else {
			add(sig(InvalidClient, specific, ConsentRequired))
		}
	}
	if errs["admin_policy_enforced"] {
		add(sig(ConsentRequired, explicit, AccountBlocked))
	}
	if errs["org_internal"] {
		add(sig(InvalidClient, explicit, WrongSettings))
	}
	if errs["invalid_scope"] || errs["insufficient_scope"] {
		add(sig(InsufficientScope, specific))
	}
	if errs["invalid_token"] {
		s := sig(AccessRevoked, weak, TokenExpired, InsufficientScope)
		s.grant = true
		add(s)
	}
	if errs["access_denied"] {
		add(sig(ConsentRequired, specific, InteractionRequired, AccountBlocked))
	}
	if errs["interaction_required"] || errs["login_required"] {
		add(sig(InteractionRequired, specific))
	}
	if errs["consent_required"] {
		add(sig(ConsentRequired, specific))
	}
	if errs["redirect_uri_mismatch"] {
		add(sig(RedirectURIMismatch, explicit))
	}
	if errs["temporarily_unavailable"] || errs["server_error"] {
		add(sig(ProviderUnavailable, specific))
	}
	if errs["slow_down"] {
		add(sig(RateLimited, specific))
	}
	if errs["invalid_request"] && v.has("redirect", "oauth 2.0 policy", "loopback", "out-of-band", "oob") {
		add(sig(RedirectURIMismatch, specific, InvalidClient))
	}
	if errs["expired_token"] {
		add(sig(CodeInvalid, specific))
	}
}

// imapRules: IMAP response codes (RFC 5530) and well-known server texts.
func imapRules(v *view, add func(signal)) {
	codes := map[string]bool{}
	for _, m := range reIMAPCode.get().FindAllStringSubmatch(v.raw, -1) {
		codes[m[1]] = true
	}
	if v.kind == KindIMAP && v.code != "" {
		codes[strings.Trim(strings.ToUpper(v.code), "[] ")] = true
	}
	if codes["UNAVAILABLE"] {
		if reRate.get().MatchString(v.low) || v.has("connections", "exceeded") {
			add(sig(RateLimited, explicit))
		} else {
			add(sig(ProviderUnavailable, specific, RateLimited))
		}
	}
	if codes["LIMIT"] || codes["OVERQUOTA"] && v.has("bandwidth", "command") {
		add(sig(RateLimited, specific))
	}
	if codes["AUTHORIZATIONFAILED"] {
		add(sig(WrongSettings, specific, ProtocolDisabled, ConsentRequired))
	}
	if codes["EXPIRED"] {
		add(sig(PasswordChanged, specific, TokenExpired))
	}
	if codes["PRIVACYREQUIRED"] || v.has("logindisabled", "login disabled", "plaintext authentication disallowed", "plaintext auth disallowed") {
		add(sig(WrongSettings, explicit))
	}
	if codes["CONTACTADMIN"] {
		add(sig(AccountBlocked, specific, ProtocolDisabled))
	}
	if codes["SERVERBUG"] || codes["INUSE"] || codes["TEMPFAIL"] {
		add(sig(ProviderUnavailable, specific))
	}
	if v.has("user is authenticated but not connected") {
		if v.auth == "oauth2" || v.auth == "" && v.provider == "microsoft" {
			// Exchange Online takes IMAP logins only over OAuth now, so an
			// unknown method there reads as a token login too.
			// The token was accepted but the mailbox cannot be opened over
			// IMAP: IMAP is off for it, the token is for another mailbox
			// (user= differs from the signed-in user), or it lacks rights.
			alts := []ID{WrongSettings, InsufficientScope}
			if v.auth == "" {
				alts = append(alts, WrongPassword)
			}
			add(sig(ProtocolDisabled, specific, alts...))
		} else {
			add(sig(WrongPassword, specific, BasicAuthDisabled, RateLimited))
		}
	}
	if v.has("greeting never received", "timed out waiting for greeting", "timeout waiting for greeting", "no greeting") {
		s := sig(ProviderUnavailable, specific, WrongSettings)
		s.network = true
		add(s)
	}
	// A decoded XOAUTH2 / OAUTHBEARER failure challenge (RFC 7628).
	if st := challengeStatus(v.low); st != "" {
		switch st {
		case "400":
			s := sig(InsufficientScope, specific, AccessRevoked, TokenExpired)
			add(s)
		case "403":
			add(sig(ProtocolDisabled, specific, InsufficientScope, ConsentRequired))
		default: // 401 and token-related statuses
			s := sig(AccessRevoked, specific, TokenExpired, PasswordChanged, OAuthAppInTesting, InsufficientScope)
			s.grant = true
			add(s)
		}
	}
}

// reChallenge matches an RFC 7628 failure challenge in JSON or in a
// client's object dump ({ status: '400', scope: '...' }).
var reChallenge = lazy(`['"]?status['"]?\s*:\s*['"]([^'"]{1,40})['"]\s*,\s*['"]?(?:schemes|scope)\b`)

func challengeStatus(low string) string {
	m := reChallenge.get().FindStringSubmatch(low)
	if m == nil {
		return ""
	}
	switch s := m[1]; {
	case s == "400", s == "invalid_request":
		return "400"
	case s == "403", s == "insufficient_scope":
		return "403"
	default:
		return "401"
	}
}

// smtpRules: SMTP basic and enhanced status codes (RFC 3463, RFC 4954).
func smtpRules(v *view, add func(signal)) {
	enh := map[string]bool{}
	basic := map[string]bool{}
	for _, m := range reSMTPReply.get().FindAllStringSubmatch(v.raw, -1) {
		basic[m[1]] = true
		enh[m[2]] = true
	}
	for _, m := range reEnhanced.get().FindAllStringSubmatch(v.raw, -1) {
		enh[m[1]] = true
	}
	if v.kind == KindSMTP {
		for _, f := range strings.Fields(v.code) {
			if strings.Count(f, ".") == 2 {
				enh[f] = true
			} else if len(f) == 3 {
				basic[f] = true
			}
		}
	}
	if enh["5.7.139"] {
		// Exchange Online: the text after the code says which policy.
		switch {
		case v.has("credentials were incorrect"):
			add(sig(WrongPassword, explicit, AppPasswordRequired))
		case v.has("locked"):
			add(sig(AccountBlocked, explicit))
		case v.has("smtpclientauthentication", "basic authentication", "security defaults", "legacy"):
			// textRules decided.
		default:
			add(sig(BasicAuthDisabled, specific, ProtocolDisabled, InteractionRequired, WrongPassword))
		}
	}
	if enh["5.7.9"] {
		if v.provider == "google" || v.has("gsmtp", "google") {
			add(sig(AppPasswordRequired, specific, WrongPassword))
		} else {
			add(sig(WrongSettings, specific, BasicAuthDisabled, AppPasswordRequired))
		}
	}
	if enh["5.7.14"] {
		add(sig(AccountBlocked, explicit, BasicAuthDisabled))
	}
	if (basic["530"] || basic["538"]) && v.has("starttls", "secure connection", "encryption required", "must issue") {
		add(sig(WrongSettings, explicit))
	} else if basic["530"] || enh["5.7.57"] || enh["5.5.1"] && v.has("authentication required") {
		add(sig(WrongSettings, weak, WrongPassword))
	}
	if enh["5.7.60"] || enh["5.7.1"] && v.has("send as", "send-as", "sender address rejected", "not owned by") {
		add(sig(WrongSettings, specific))
	}
	if enh["5.7.708"] || enh["5.7.705"] || enh["5.7.750"] || enh["5.7.511"] {
		add(sig(AccountBlocked, specific))
	}
	if enh["5.4.5"] || enh["4.7.28"] || enh["5.7.28"] || enh["4.7.32"] {
		add(sig(RateLimited, specific))
	}
	transient := basic["421"] || basic["450"] || basic["451"] || basic["452"] || basic["454"]
	for e := range enh {
		if strings.HasPrefix(e, "4.") {
			transient = true
		}
	}
	if transient {
		switch {
		case reRate.get().MatchString(v.low) || reTooManyAuth.get().MatchString(v.low) || v.has("try again later, closing connection"):
			// credentialRules and httpRules handle rate texts.
		case v.has("temporary", "temporarily", "service not available", "unavailable", "try again later", "system problem", "resources"):
			add(sig(ProviderUnavailable, specific, RateLimited))
		default:
			add(sig(ProviderUnavailable, weak, RateLimited))
		}
	}
}

// credentialRules: a rejected credential, explicit or generic, and failed-
// login throttling.
func credentialRules(v *view, add func(signal)) {
	if reTooManyAuth.get().MatchString(v.low) || v.has("too many login failures", "too many authentication failures") {
		if appPasswordOnly[v.provider] {
			c, alts := passwordDefault(v)
			s := sig(c, specific, append(alts, RateLimited)...)
			s.credential = true
			add(s)
		} else {
			add(sig(RateLimited, specific, WrongPassword, AccountBlocked))
		}
		return
	}
	if reExplicitPw.get().MatchString(v.low) {
		add(sig(WrongPassword, explicit, AppPasswordRequired))
		return
	}
	smtpAuth := false
	for _, m := range reSMTPReply.get().FindAllStringSubmatch(v.raw, -1) {
		if m[1] == "535" || m[2] == "5.7.8" || m[2] == "5.7.3" || m[2] == "5.7.0" && m[1] == "535" {
			smtpAuth = true
		}
	}
	if !smtpAuth && reBareReply.get().MatchString(v.raw) && strings.Contains(v.raw, "535") {
		smtpAuth = true
	}
	if v.has("5.7.8", "5.7.3") && v.has("auth") {
		smtpAuth = true
	}
	if smtpAuth || reGenericPw.get().MatchString(v.low) {
		c, alts := passwordDefault(v)
		strength := specific
		if !smtpAuth && reRate.get().MatchString(v.low) {
			// "Login failed: too many simultaneous connections": the
			// limit explains the failure, not the credential.
			strength = weak
		}
		s := sig(c, strength, alts...)
		s.credential = true
		add(s)
	}
}

// appPasswordOnly lists providers that accept only an app password (or
// OAuth) from mail programs, so any credential rejection most likely means
// the account password was used.
var appPasswordOnly = map[string]bool{"yahoo": true, "aol": true, "icloud": true, "fastmail": true}

// passwordDefault is the best reading of a generic credential rejection
// ("Invalid credentials", "535 5.7.8", "LOGIN failed") for the provider and
// protocol at hand.
func passwordDefault(v *view) (ID, []ID) {
	if v.auth == "oauth2" {
		return InsufficientScope, []ID{TokenExpired, AccessRevoked, ProtocolDisabled}
	}
	if v.appPassword && v.provider != "microsoft" {
		// An app password was refused: it was revoked (a password change
		// revokes them all) or mistyped.
		return WrongPassword, []ID{AppPasswordRequired, BasicAuthDisabled}
	}
	switch v.provider {
	case "google":
		// Google retired password sign-in for mail programs; an app
		// password or OAuth is needed.
		return BasicAuthDisabled, []ID{WrongPassword, AppPasswordRequired}
	case "microsoft":
		// Exchange Online retired basic auth for IMAP and POP; SMTP AUTH
		// still takes a password where the tenant allows it.
		if v.kind == KindSMTP {
			return WrongPassword, []ID{BasicAuthDisabled, AppPasswordRequired, InteractionRequired}
		}
		return BasicAuthDisabled, []ID{WrongPassword, ProtocolDisabled}
	case "yahoo", "aol", "icloud", "fastmail":
		return AppPasswordRequired, []ID{WrongPassword}
	case "yandex":
		return AppPasswordRequired, []ID{ProtocolDisabled, WrongPassword}
	case "zoho", "gmx":
		return WrongPassword, []ID{ProtocolDisabled, AppPasswordRequired}
	case "proton":
		return WrongPassword, []ID{WrongSettings}
	}
	return WrongPassword, []ID{AppPasswordRequired, BasicAuthDisabled}
}

// transportRules: Go, OpenSSL, Python and Node renderings of network and
// TLS failures.
func transportRules(v *view, add func(signal)) {
	if v.kind == KindTransport {
		code := strings.ToLower(strings.TrimSpace(v.code))
		if s, ok := transportCodes[code]; ok {
			if code == CodeDNS && v.has(knownHosts...) {
				s = transportCodes[CodeDNSTimeout] // this network's DNS fails
			}
			add(s)
			return
		}
	}
	net := func(c ID, strength int, alts ...ID) {
		s := sig(c, strength, alts...)
		s.network = true
		add(s)
	}
	if v.has("tls 1.0 and 1.1 are not supported", "protocol version not supported", "unsupported protocol",
		"tlsv1 alert protocol version", "no protocols available", "sendasdenied", "sendasdeniedexception") {
		add(sig(WrongSettings, explicit))
	}
	switch {
	case v.has("first record does not look like a tls handshake", "wrong version number", "wrong_version_number",
		"unknown protocol", "oversized record received", "record overflow", "packet length too long",
		"http request to an https server", "tls_on_plain_port", "ssl routines:ssl3_get_record", "unexpected message", "ssl handshake failed: ssl_error_ssl"),
		reTLSMismatch.get().MatchString(v.low):
		add(sig(WrongSettings, explicit))
	case v.has("x509: certificate is valid for", "certificate name does not match", "hostname mismatch",
		"err_tls_cert_altname_invalid", "does not match any of the subject alternative names",
		"doesn't match any of the subject alternative names", "x509_hostname", "not valid for any names",
		"certificate is not valid for"):
		add(sig(WrongSettings, explicit))
	case v.has("certificate has expired", "certificate is expired", "cert_has_expired", "x509_expired", "is not yet valid", "certificate expired"):
		add(sig(ClockSkew, specific, ProviderUnavailable, WrongSettings))
	case v.has("signed by unknown authority", "self signed certificate", "self-signed certificate",
		"unable to get local issuer certificate", "certificate verify failed", "unknown ca", "sec_error_unknown_issuer",
		"unable to verify the first certificate", "x509_unknown_authority", "certificate is not trusted", "certificate_verify_failed"):
		add(sig(WrongSettings, specific, ProviderUnavailable))
	}
	switch {
	case v.has("no such host", "name or service not known", "nodename nor servname", "enotfound",
		"could not resolve host", "no address associated", "host not found", "unknown host", "getaddrinfo failed",
		"name does not resolve"):
		if v.has(knownHosts...) {
			// A provider's published host always resolves: this network's
			// DNS is failing, not the setting.
			net(ProviderUnavailable, specific, WrongSettings)
		} else {
			net(WrongSettings, specific, ProviderUnavailable)
		}
	case v.has("temporary failure in name resolution", "server misbehaving", "eai_again") ||
		v.has("lookup ") && v.has("i/o timeout", "timed out"):
		net(ProviderUnavailable, specific, WrongSettings)
	case v.has("connection refused", "econnrefused", "errno=111", "errno 111", "actively refused", "[errno 61]", "connect: refused"):
		net(WrongSettings, specific, ProviderUnavailable)
	case v.has("dial tcp") && v.has("i/o timeout", "timed out"), v.has("connect etimedout", "connect timed out", "connection timed out") && !v.has("read"):
		net(WrongSettings, specific, ProviderUnavailable)
	case v.has("network is unreachable", "no route to host", "enetunreach", "ehostunreach", "host is down", "network unreachable"):
		net(ProviderUnavailable, specific, WrongSettings)
	case v.has("connection reset", "econnreset", "broken pipe", "socket hang up", "unexpected eof", "connection closed unexpectedly",
		"connection was closed", "connection aborted", "remote end closed"):
		net(ProviderUnavailable, weak, WrongSettings, RateLimited)
	case v.has("i/o timeout", "timed out", "timeout", "deadline exceeded", "etimedout"):
		net(ProviderUnavailable, weak, WrongSettings)
	case strings.HasSuffix(strings.TrimSpace(v.low), ": eof") || strings.TrimSpace(v.low) == "eof":
		net(ProviderUnavailable, weak, WrongSettings, RateLimited)
	}
}

// httpRules: HTTP statuses and rate/outage wording.
func httpRules(v *view, add func(signal)) {
	status := v.status
	if status == 0 {
		if m := reHTTPStatus.get().FindStringSubmatch(v.raw); m != nil {
			status, _ = strconv.Atoi(m[1])
		}
	}
	switch {
	case status == 429:
		add(sig(RateLimited, specific))
	case status >= 500 && status <= 504:
		add(sig(ProviderUnavailable, specific, RateLimited))
	}
	if reRate.get().MatchString(v.low) || v.has("try again later, closing connection") {
		add(sig(RateLimited, specific, ProviderUnavailable))
	}
	if v.has("service unavailable", "temporarily unavailable", "internal server error", "bad gateway", "gateway timeout",
		"backend error", "backenderror", "server is busy", "try again later") && !reRate.get().MatchString(v.low) {
		add(sig(ProviderUnavailable, weak, RateLimited))
	}
	if reTransient.get().MatchString(v.low) && !reRate.get().MatchString(v.low) {
		add(sig(ProviderUnavailable, specific, RateLimited))
	}
}
