package sandbox

import (
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"
)

func errorf(format string, args ...any) error { return fmt.Errorf("sandbox: "+format, args...) }

func queryEscape(s string) string { return url.QueryEscape(s) }

const autoApproveParam = "sandbox_auto_approve"

func (sb *Sandbox) oauthHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{flavour}/authorize", sb.handleAuthorize)
	mux.HandleFunc("POST /{flavour}/consent", sb.handleConsent)
	mux.HandleFunc("POST /{flavour}/token", sb.handleToken)
	mux.HandleFunc("POST /{flavour}/devicecode", sb.handleDeviceCode)
	mux.HandleFunc("GET /{flavour}/device", sb.handleDevicePage)
	mux.HandleFunc("POST /{flavour}/device", sb.handleDeviceApprove)
	mux.HandleFunc("POST /{flavour}/revoke", sb.handleRevoke)
	mux.HandleFunc("/introspect", sb.handleIntrospect)
	mux.HandleFunc("GET /{flavour}/account/{page}", sb.handleAccountPage)
	mux.HandleFunc("POST /{flavour}/account/{page}", sb.handleAccountAction)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", sb.now().UTC().Format(http.TimeFormat))
		w.Header().Set("Cache-Control", "no-store")
		mux.ServeHTTP(w, r)
	})
}

func pathFlavour(r *http.Request) (Flavour, bool) {
	f := Flavour(r.PathValue("flavour"))
	return f, f.Valid()
}

// setDate sets the Date header as the server's clock says for requests about
// u: shifted by Options.ClockOffset when u is in ClockSkew. sb.mu is held.
func (sb *Sandbox) setDateLocked(w http.ResponseWriter, u *user) {
	now := sb.now()
	if u != nil && u.scenario == ClockSkew {
		now = now.Add(sb.opts.ClockOffset)
	}
	w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func writeOAuthErr(w http.ResponseWriter, e *oauthErr) {
	for k, v := range e.header {
		w.Header().Set(k, v)
	}
	writeJSON(w, e.status, e.body)
}

var pageTmpl = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body>
<h1>{{.Title}}</h1>
{{range .Lines}}<p>{{.}}</p>
{{end}}{{if .Form}}<form method="post" action="{{.Action}}">
{{range $k, $v := .Hidden}}<input type="hidden" name="{{$k}}" value="{{$v}}">
{{end}}{{if .Users}}<label>Account <select name="email">{{range .Users}}<option value="{{.}}">{{.}}</option>{{end}}</select></label>
{{end}}{{if .UserCode}}<label>Code <input name="user_code" autocomplete="off"></label>
{{end}}{{range .Buttons}}<button type="submit" name="action" value="{{.}}">{{.}}</button>
{{end}}</form>{{end}}
</body></html>
`))

type page struct {
	Title    string
	Lines    []string
	Form     bool
	Action   string
	Hidden   map[string]string
	Users    []string
	UserCode bool
	Buttons  []string
}

func writePage(w http.ResponseWriter, status int, p page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = pageTmpl.Execute(w, p)
}

// errorPage renders an authorization error the way the provider's sign-in
// page shows it (no redirect: the redirect URI cannot be trusted).
func errorPage(w http.ResponseWriter, f Flavour, status int, code, text string, details ...string) {
	if f == Google {
		lines := append([]string{"Error " + fmt.Sprint(status) + ": " + code, text}, details...)
		writePage(w, status, page{Title: "Access blocked: Authorization Error", Lines: lines})
		return
	}
	writePage(w, status, page{Title: "Sign in", Lines: append([]string{"Sorry, but we're having trouble signing you in.", text}, details...)})
}

func redirectWith(w http.ResponseWriter, r *http.Request, redirect string, params url.Values) {
	u, err := url.Parse(redirect)
	if err != nil {
		http.Error(w, "bad redirect", http.StatusBadRequest)
		return
	}
	q := u.Query()
	for k, vs := range params {
		for _, v := range vs {
			q.Add(k, v)
		}
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func (sb *Sandbox) usersOfLocked(f Flavour) []string {
	var out []string
	for e, u := range sb.users {
		if u.spec.Flavour == f {
			out = append(out, e)
		}
	}
	sortStrings(out)
	return out
}

func (sb *Sandbox) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	f, ok := pathFlavour(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	sb.mu.Lock()
	defer sb.mu.Unlock()
	sb.stats.Authorize++
	now := sb.now()
	clientID, redirect := q.Get("client_id"), q.Get("redirect_uri")
	c := sb.clients[clientID]
	if c == nil || c.Flavour != f {
		if f == Google {
			errorPage(w, f, 401, "invalid_client", "The OAuth client was not found.")
		} else {
			errorPage(w, f, 400, "unauthorized_client", errUnknownClient(f, now, clientID).body["error_description"].(string))
		}
		return
	}
	var u *user
	if hint := q.Get("login_hint"); hint != "" {
		u = sb.userLocked(hint)
		if u != nil && u.spec.Flavour != f {
			u = nil
		}
	}
	if u != nil {
		sb.setDateLocked(w, u)
	}
	if !c.allows(redirect) || (u != nil && u.scenario == RedirectURIMismatch) {
		if f == Google {
			errorPage(w, f, 400, "redirect_uri_mismatch",
				"You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy.",
				"If you're the app developer, register the redirect URI in the Google Cloud Console.",
				"Request details: redirect_uri="+redirect)
		} else {
			errorPage(w, f, 400, "invalid_request", "AADSTS50011: "+msRedirectText(redirect, clientID))
		}
		return
	}
	state := q.Get("state")
	fail := func(code, desc string) {
		v := url.Values{"error": {code}, "error_description": {desc}}
		if state != "" {
			v.Set("state", state)
		}
		redirectWith(w, r, redirect, v)
	}
	if rt := q.Get("response_type"); rt != "code" {
		fail("unsupported_response_type", "Only response_type=code is supported.")
		return
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	if challenge == "" {
		if f == Google {
			fail("invalid_request", "Missing required parameter: code_challenge")
		} else {
			fail("invalid_request", "AADSTS9002325: Proof Key for Code Exchange is required for cross-origin authorization code redemption.")
		}
		return
	}
	if method != "S256" {
		if f == Google {
			fail("invalid_request", "Invalid code_challenge_method: "+method)
		} else {
			fail("invalid_request", "AADSTS50149: Invalid Code_Challenge_method parameter.")
		}
		return
	}
	if u != nil {
		switch u.scenario {
		case ProviderUnavailable:
			errorPage(w, f, 503, "temporarily_unavailable", "The service is unavailable. Try again later.")
			return
		case RateLimited:
			errorPage(w, f, 429, "rate_limit_exceeded", "Too many requests. Try again later.")
			return
		}
	}
	users := sb.usersOfLocked(f)
	if u == nil && len(users) == 1 {
		u = sb.users[users[0]]
	}
	pc := &pendingConsent{
		flavour: f, client: c.ID, redirect: redirect, state: state, challenge: challenge,
		scope: q.Get("scope"), exp: now.Add(sb.opts.CodeTTL),
	}
	if u != nil {
		pc.user = u.email
	}
	auto := sb.opts.AutoApprove || q.Get(autoApproveParam) == "1"
	if auto {
		if u == nil {
			errorPage(w, f, 400, "invalid_request", "login_hint names no account of this provider.")
			return
		}
		sb.approveLocked(w, r, pc, u)
		return
	}
	id := randToken(24)
	sb.oauth.consents[id] = pc
	p := page{
		Title:   "Sign in - " + map[Flavour]string{Google: "Google Accounts", Microsoft: "Microsoft account"}[f],
		Lines:   []string{c.Name + " wants to access your mail: read, compose, send and permanently delete all your email."},
		Form:    true,
		Action:  "/" + string(f) + "/consent",
		Hidden:  map[string]string{"consent": id},
		Buttons: []string{"Approve", "Deny"},
	}
	if u != nil {
		p.Hidden["email"] = u.email
		p.Lines = append([]string{"Signed in as " + u.email}, p.Lines...)
	} else {
		p.Users = users
	}
	writePage(w, http.StatusOK, p)
}

// approveLocked records the consent and redirects with a fresh code.
func (sb *Sandbox) approveLocked(w http.ResponseWriter, r *http.Request, pc *pendingConsent, u *user) {
	sb.stats.Consents++
	code := "4/0" + randToken(40)
	if pc.flavour == Microsoft {
		code = "M.C5" + randToken(4) + "_BAY." + randToken(40)
	}
	sb.oauth.codes[code] = &authCode{
		user: u.email, client: pc.client, redirect: pc.redirect, challenge: pc.challenge,
		scope: pc.scope, exp: sb.now().Add(sb.opts.CodeTTL),
	}
	v := url.Values{"code": {code}}
	if pc.state != "" {
		v.Set("state", pc.state)
	}
	if pc.flavour == Google && pc.scope != "" {
		v.Set("scope", pc.scope)
	}
	redirectWith(w, r, pc.redirect, v)
}

func (sb *Sandbox) handleConsent(w http.ResponseWriter, r *http.Request) {
	f, ok := pathFlavour(r)
	if !ok || r.ParseForm() != nil {
		http.NotFound(w, r)
		return
	}
	sb.mu.Lock()
	defer sb.mu.Unlock()
	id := r.PostForm.Get("consent")
	pc := sb.oauth.consents[id]
	delete(sb.oauth.consents, id)
	if pc == nil || pc.flavour != f || sb.now().After(pc.exp) {
		errorPage(w, f, 400, "invalid_request", "This sign-in request has expired. Start again from the app.")
		return
	}
	if r.PostForm.Get("action") != "Approve" {
		v := url.Values{"error": {"access_denied"}}
		if f == Microsoft {
			v.Set("error_description", "AADSTS65004: User declined to consent to access the app.")
		}
		if pc.state != "" {
			v.Set("state", pc.state)
		}
		redirectWith(w, r, pc.redirect, v)
		return
	}
	email := pc.user
	if email == "" {
		email = r.PostForm.Get("email")
	}
	u := sb.userLocked(email)
	if u == nil || u.spec.Flavour != f {
		errorPage(w, f, 400, "invalid_request", "Choose an account of this provider.")
		return
	}
	sb.setDateLocked(w, u)
	sb.approveLocked(w, r, pc, u)
}

// clientAuthLocked authenticates the client of a token request.
func (sb *Sandbox) clientAuthLocked(r *http.Request, f Flavour) (*Client, *oauthErr) {
	now := sb.now()
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	c := sb.clients[id]
	if c == nil || c.Flavour != f {
		return nil, errUnknownClient(f, now, id)
	}
	if c.Secret != "" {
		if secret == "" {
			if f == Google {
				return nil, googleErr(400, "invalid_request", "client_secret is missing.")
			}
			return nil, msErr(now, 401, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.", nil)
		}
		if secret != c.Secret {
			return nil, errBadClientSecret(f, now, id)
		}
	}
	return c, nil
}

// scenarioTokenErrLocked is the answer any token request about u gets from
// the account's state before the grant is looked at, or nil.
func (sb *Sandbox) scenarioTokenErrLocked(u *user, clientID string) *oauthErr {
	now := sb.now()
	switch u.scenario {
	case ProviderUnavailable:
		return errUnavailable(u.spec.Flavour, now)
	case RateLimited:
		wait := 30 * time.Second
		if sb.opts.TransientFor > 0 {
			wait = sb.opts.TransientFor - now.Sub(u.scenarioAt)
		}
		return errRateLimited(u.spec.Flavour, now, wait)
	case InvalidClient:
		return errUnknownClient(u.spec.Flavour, now, clientID)
	}
	return nil
}

func (sb *Sandbox) tokenResponse(f Flavour, is *issued) map[string]any {
	expiresIn := int(math.Round(time.Until(is.exp).Seconds()))
	body := map[string]any{
		"access_token":  is.access,
		"refresh_token": is.refresh,
		"expires_in":    expiresIn,
		"scope":         is.scope,
		"token_type":    "Bearer",
	}
	if f == Microsoft {
		body["ext_expires_in"] = expiresIn
	}
	return body
}

// formRequest takes the flavour from the path and parses the form of a
// token-endpoint style request, answering the error itself when either
// fails.
func (sb *Sandbox) formRequest(w http.ResponseWriter, r *http.Request) (Flavour, bool) {
	f, ok := pathFlavour(r)
	if !ok {
		http.NotFound(w, r)
		return f, false
	}
	if err := r.ParseForm(); err != nil {
		writeOAuthErr(w, errInvalidRequest(f, sb.now(), "Malformed request body."))
		return f, false
	}
	return f, true
}

func (sb *Sandbox) handleToken(w http.ResponseWriter, r *http.Request) {
	f, ok := sb.formRequest(w, r)
	if !ok {
		return
	}
	sb.mu.Lock()
	defer sb.mu.Unlock()
	sb.stats.Token++
	grant := r.PostForm.Get("grant_type")
	switch grant {
	case "authorization_code":
		sb.stats.CodeExchanges++
	case "refresh_token":
		sb.stats.Refreshes++
	case "urn:ietf:params:oauth:grant-type:device_code", "http://oauth.net/grant_type/device/1.0":
		sb.stats.DevicePolls++
	}
	c, cerr := sb.clientAuthLocked(r, f)
	if cerr != nil {
		writeOAuthErr(w, cerr)
		return
	}
	var e *oauthErr
	var body map[string]any
	switch grant {
	case "authorization_code":
		body, e = sb.codeGrantLocked(w, r, f, c)
	case "refresh_token":
		body, e = sb.refreshGrantLocked(w, r, f, c)
	case "urn:ietf:params:oauth:grant-type:device_code", "http://oauth.net/grant_type/device/1.0":
		body, e = sb.deviceGrantLocked(w, r, f, c)
	case "":
		e = errInvalidRequest(f, sb.now(), "Missing required parameter: grant_type")
	default:
		e = errUnsupportedGrant(f, sb.now(), grant)
	}
	if e != nil {
		writeOAuthErr(w, e)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func (sb *Sandbox) codeGrantLocked(w http.ResponseWriter, r *http.Request, f Flavour, c *Client) (map[string]any, *oauthErr) {
	now := sb.now()
	ac := sb.oauth.codes[r.PostForm.Get("code")]
	if ac == nil || ac.client != c.ID {
		return nil, errCodeMalformed(f, now)
	}
	u := sb.userLocked(ac.user)
	if u == nil {
		return nil, errCodeMalformed(f, now)
	}
	sb.setDateLocked(w, u)
	if e := sb.scenarioTokenErrLocked(u, c.ID); e != nil {
		return nil, e
	}
	if ac.used {
		// A replayed code: refuse it and revoke what it granted (RFC 6749 4.1.2).
		if ac.family != nil {
			ac.family.revoked = true
		}
		return nil, errCodeRedeemed(f, now)
	}
	if now.After(ac.exp) {
		return nil, errCodeExpired(f, now)
	}
	if r.PostForm.Get("redirect_uri") != ac.redirect {
		return nil, errTokenRedirect(f, now, r.PostForm.Get("redirect_uri"), c.ID)
	}
	verifier := r.PostForm.Get("code_verifier")
	if verifier == "" {
		return nil, errVerifier(f, now, true)
	}
	if s256(verifier) != ac.challenge {
		return nil, errVerifier(f, now, false)
	}
	switch u.scenario {
	case CodeInvalid:
		ac.used = true
		sb.setScenarioLocked(u, Healthy)
		return nil, errCodeRedeemed(f, now)
	case ClockSkew, AccountBlocked, Hostile:
		return nil, errScenarioRefresh(f, u.scenario, now, now, c.ID)
	}
	ac.used = true
	scope := ac.scope
	if scope == "" {
		scope = strings.Join(mailScopes(f), " ")
	}
	fam := sb.oauth.newFamily(u.email, c.ID, now)
	ac.family = fam
	if u.scenario.healsOnConsent() && (scopeAllows(f, scope, protoIMAP) || scopeAllows(f, scope, protoSMTP)) {
		sb.setScenarioLocked(u, Healthy)
	}
	if u.scenario == InsufficientScope {
		scope = narrowScope(f)
	}
	return sb.tokenResponse(f, sb.issueLocked(u, fam, scope)), nil
}

func (sb *Sandbox) refreshGrantLocked(w http.ResponseWriter, r *http.Request, f Flavour, c *Client) (map[string]any, *oauthErr) {
	now := sb.now()
	rt := sb.oauth.refresh[r.PostForm.Get("refresh_token")]
	if rt == nil {
		return nil, errUnknownGrant(f, now)
	}
	rt.requests++
	sb.oauth.perUser[rt.user]++
	u := sb.userLocked(rt.user)
	if u == nil || rt.family.client != c.ID {
		return nil, errUnknownGrant(f, now)
	}
	sb.setDateLocked(w, u)
	if e := sb.scenarioTokenErrLocked(u, c.ID); e != nil {
		return nil, e
	}
	if u.scenario.oauthDead() || u.scenario == Hostile {
		// While the event that killed the grant is the account's state,
		// the provider names it.
		return nil, errScenarioRefresh(f, u.scenario, now, rt.family.issued, c.ID)
	}
	if rt.rotated {
		// Reuse of a rotated refresh token: someone holds a stale copy.
		// Revoke the whole family, the newest token included.
		sb.stats.ReuseDetected++
		rt.family.revoked = true
		return nil, errDeadGrant(f, now, rt.family.issued)
	}
	if rt.family.revoked {
		return nil, errDeadGrant(f, now, rt.family.issued)
	}
	rt.rotated = true
	scope := rt.scope
	if u.scenario == InsufficientScope {
		scope = narrowScope(f)
	}
	sb.stats.RefreshesOK++
	return sb.tokenResponse(f, sb.issueLocked(u, rt.family, scope)), nil
}

func (sb *Sandbox) deviceGrantLocked(w http.ResponseWriter, r *http.Request, f Flavour, c *Client) (map[string]any, *oauthErr) {
	now := sb.now()
	dg := sb.oauth.devices[r.PostForm.Get("device_code")]
	if dg == nil || dg.client != c.ID || dg.redeemed {
		return nil, errUnknownGrant(f, now)
	}
	if now.After(dg.exp) {
		return nil, errDeviceExpired(f, now)
	}
	if dg.denied {
		return nil, errDeviceDenied(f, now)
	}
	if dg.user == "" {
		tooFast := sb.opts.DeviceInterval > 0 && !dg.lastPoll.IsZero() && now.Sub(dg.lastPoll) < sb.opts.DeviceInterval
		dg.lastPoll = now
		if tooFast {
			return nil, errDeviceSlowDown(f, now)
		}
		return nil, errDevicePending(f, now)
	}
	u := sb.userLocked(dg.user)
	if u == nil {
		return nil, errUnknownGrant(f, now)
	}
	sb.setDateLocked(w, u)
	if e := sb.scenarioTokenErrLocked(u, c.ID); e != nil {
		return nil, e
	}
	dg.redeemed = true
	scope := dg.scope
	if scope == "" {
		scope = strings.Join(mailScopes(f), " ")
	}
	if u.scenario.healsOnConsent() {
		sb.setScenarioLocked(u, Healthy)
	}
	if u.scenario == InsufficientScope {
		scope = narrowScope(f)
	}
	fam := sb.oauth.newFamily(u.email, c.ID, now)
	return sb.tokenResponse(f, sb.issueLocked(u, fam, scope)), nil
}

func (sb *Sandbox) handleDeviceCode(w http.ResponseWriter, r *http.Request) {
	f, ok := sb.formRequest(w, r)
	if !ok {
		return
	}
	sb.mu.Lock()
	defer sb.mu.Unlock()
	sb.stats.DeviceCodes++
	now := sb.now()
	id := r.PostForm.Get("client_id")
	c := sb.clients[id]
	if c == nil || c.Flavour != f {
		writeOAuthErr(w, errUnknownClient(f, now, id))
		return
	}
	dg := &deviceGrant{client: c.ID, scope: r.PostForm.Get("scope"), flavour: f, exp: now.Add(sb.opts.DeviceCodeTTL)}
	deviceCode := "AH-1" + randToken(40)
	if f == Microsoft {
		deviceCode = "DAQABAAEAAA" + randToken(60)
	}
	dg.userCode = newUserCode(f)
	for sb.oauth.userCodes[dg.userCode] != nil {
		dg.userCode = newUserCode(f)
	}
	sb.oauth.devices[deviceCode] = dg
	sb.oauth.userCodes[dg.userCode] = dg
	verify := sb.OAuth(f).DeviceURL
	interval := int(math.Ceil(sb.opts.DeviceInterval.Seconds()))
	if interval < 1 {
		interval = 1
	}
	expires := int(math.Ceil(sb.opts.DeviceCodeTTL.Seconds()))
	body := map[string]any{
		"device_code": deviceCode, "user_code": dg.userCode,
		"expires_in": expires, "interval": interval,
	}
	if f == Google {
		body["verification_url"] = verify
	} else {
		body["verification_uri"] = verify
		body["message"] = fmt.Sprintf("To sign in, use a web browser to open the page %s and enter the code %s to authenticate.", verify, dg.userCode)
	}
	writeJSON(w, http.StatusOK, body)
}

func newUserCode(f Flavour) string {
	const letters = "BCDFGHJKLMNPQRSTVWXZ"
	const alnum = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	pick := func(set string, n int) string {
		b := []byte(randToken(n * 2))
		out := make([]byte, n)
		for i := range out {
			out[i] = set[int(b[2*i])%len(set)]
		}
		return string(out)
	}
	if f == Google {
		return pick(letters, 4) + "-" + pick(letters, 4)
	}
	return pick(alnum, 9)
}

// ApproveDevice approves a pending device flow as the named account, as the
// user entering userCode on the device page would.
func (sb *Sandbox) ApproveDevice(userCode, email string) error {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.approveDeviceLocked(userCode, email)
}

func (sb *Sandbox) approveDeviceLocked(userCode, email string) error {
	dg := sb.oauth.userCodes[strings.ToUpper(strings.TrimSpace(userCode))]
	if dg == nil || sb.now().After(dg.exp) {
		return errorf("device: no pending code %q", userCode)
	}
	u := sb.userLocked(email)
	if u == nil || u.spec.Flavour != dg.flavour {
		return errorf("device: no %s account %s", dg.flavour, email)
	}
	dg.user = u.email
	sb.stats.Consents++
	return nil
}

// DenyDevice declines a pending device flow: the next poll gets access_denied.
func (sb *Sandbox) DenyDevice(userCode string) error {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	dg := sb.oauth.userCodes[strings.ToUpper(strings.TrimSpace(userCode))]
	if dg == nil {
		return errorf("device: no pending code %q", userCode)
	}
	dg.denied = true
	return nil
}

func (sb *Sandbox) handleDevicePage(w http.ResponseWriter, r *http.Request) {
	f, ok := pathFlavour(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	sb.mu.Lock()
	users := sb.usersOfLocked(f)
	sb.mu.Unlock()
	writePage(w, http.StatusOK, page{
		Title: "Enter code", Lines: []string{"Enter the code displayed on your device."},
		Form: true, Action: "/" + string(f) + "/device", Users: users, UserCode: true,
		Buttons: []string{"Approve", "Deny"},
	})
}

func (sb *Sandbox) handleDeviceApprove(w http.ResponseWriter, r *http.Request) {
	f, ok := pathFlavour(r)
	if !ok || r.ParseForm() != nil {
		http.NotFound(w, r)
		return
	}
	code := r.PostForm.Get("user_code")
	var err error
	if r.PostForm.Get("action") == "Deny" {
		err = sb.DenyDevice(code)
	} else {
		err = sb.ApproveDevice(code, r.PostForm.Get("email"))
	}
	if err != nil {
		errorPage(w, f, 400, "invalid_request", "That code didn't work. Check the code and try again.")
		return
	}
	writePage(w, http.StatusOK, page{Title: "Done", Lines: []string{"You may now close this window and return to your device."}})
}

func (sb *Sandbox) handleRevoke(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	sb.mu.Lock()
	defer sb.mu.Unlock()
	sb.stats.Revocations++
	tok := r.Form.Get("token")
	if rt := sb.oauth.refresh[tok]; rt != nil {
		rt.family.revoked = true
	} else if at := sb.oauth.access[tok]; at != nil {
		at.family.revoked = true
	}
	// RFC 7009 2.2: unknown and already-revoked tokens are not an error.
	writeJSON(w, http.StatusOK, map[string]any{})
}

func (sb *Sandbox) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	tok := r.Form.Get("token")
	if tok == "" {
		if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			tok = strings.TrimSpace(b)
		}
	}
	sb.mu.Lock()
	defer sb.mu.Unlock()
	sb.stats.Introspection++
	now := sb.now()
	inactive := map[string]any{"active": false}
	var email, scope, client string
	var exp, iat time.Time
	if at := sb.oauth.access[tok]; at != nil && !at.family.revoked && now.Before(at.exp) {
		email, scope, client, exp, iat = at.user, at.scope, at.family.client, at.exp, at.issued
	} else if rt := sb.oauth.refresh[tok]; rt != nil && !rt.family.revoked && !rt.rotated {
		email, scope, client, iat = rt.user, rt.scope, rt.family.client, rt.family.issued
	}
	u := sb.userLocked(email)
	if u == nil || u.scenario.oauthDead() {
		writeJSON(w, http.StatusOK, inactive)
		return
	}
	sb.setDateLocked(w, u)
	if u.scenario == InsufficientScope {
		scope = narrowScope(u.spec.Flavour)
	}
	body := map[string]any{
		"active": true, "sub": u.email, "username": u.email, "email": u.email,
		"scope": scope, "client_id": client, "token_type": "Bearer", "iat": iat.Unix(),
	}
	if !exp.IsZero() {
		body["exp"] = exp.Unix()
	}
	writeJSON(w, http.StatusOK, body)
}

func (sb *Sandbox) handleAccountPage(w http.ResponseWriter, r *http.Request) {
	f, ok := pathFlavour(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	email := r.URL.Query().Get("email")
	sb.mu.Lock()
	u := sb.userLocked(email)
	var app string
	if u != nil {
		app = u.appPassword
	}
	sb.mu.Unlock()
	if u == nil || u.spec.Flavour != f {
		http.NotFound(w, r)
		return
	}
	action := "/" + string(f) + "/account/" + r.PathValue("page")
	switch r.PathValue("page") {
	case "apppasswords":
		shown := app
		if f == Google && len(app) == 16 {
			shown = app[0:4] + " " + app[4:8] + " " + app[8:12] + " " + app[12:16]
		}
		writePage(w, http.StatusOK, page{Title: "App passwords", Lines: []string{
			"Your app password for your device", shown,
			"To use it, go to the settings for your account in the application or device you are trying to set up. Replace your password with the 16-character password shown above.",
		}})
	case "security":
		writePage(w, http.StatusOK, page{Title: "Review recent security activity", Lines: []string{
			"Suspicious sign-in prevented for " + u.email + ". Was it you?"},
			Form: true, Action: action, Hidden: map[string]string{"email": u.email}, Buttons: []string{"Yes, it was me"}})
	case "imap":
		writePage(w, http.StatusOK, page{Title: "Forwarding and POP/IMAP", Lines: []string{
			"IMAP access: Disable IMAP"},
			Form: true, Action: action, Hidden: map[string]string{"email": u.email}, Buttons: []string{"Enable IMAP"}})
	default:
		http.NotFound(w, r)
	}
}

func (sb *Sandbox) handleAccountAction(w http.ResponseWriter, r *http.Request) {
	f, ok := pathFlavour(r)
	if !ok || r.ParseForm() != nil {
		http.NotFound(w, r)
		return
	}
	sb.mu.Lock()
	defer sb.mu.Unlock()
	u := sb.userLocked(r.PostForm.Get("email"))
	if u == nil || u.spec.Flavour != f {
		http.NotFound(w, r)
		return
	}
	switch r.PathValue("page") {
	case "security":
		if u.scenario == AccountBlocked {
			sb.setScenarioLocked(u, Healthy)
		}
	case "imap":
		if u.scenario == ProtocolDisabled {
			sb.setScenarioLocked(u, Healthy)
		}
	default:
		http.NotFound(w, r)
		return
	}
	writePage(w, http.StatusOK, page{Title: "Saved", Lines: []string{"Your changes were saved."}})
}
