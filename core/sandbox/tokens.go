package sandbox

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Client is an OAuth client registered at the sandbox's authorization
// server.
type Client struct {
	// ID is the client_id.
	ID string
	// Secret is the client_secret; empty for a public client.
	Secret string
	// Flavour is the dialect of the server the client is registered at.
	Flavour Flavour
	// Name is shown on the consent page.
	Name string
	// RedirectURIs are the exact redirect URIs registered.
	RedirectURIs []string
	// Loopback allows any http://127.0.0.1, http://[::1] or
	// http://localhost redirect URI with any port and path, as Google and
	// Microsoft do for installed applications.
	Loopback bool
}

// The sandbox's built-in clients, one per flavour.
const (
	GoogleClientID     = "mailmend-sandbox.apps.googleusercontent.com"
	GoogleClientSecret = "GOCSPX-sandbox-installed-app"
	MicrosoftClientID  = "5f0c6b3e-2d41-4a8e-9b7c-1e3d5a7f9c20"
)

func defaultClients() []Client {
	return []Client{
		{ID: GoogleClientID, Secret: GoogleClientSecret, Flavour: Google, Name: "mailmend", Loopback: true},
		{ID: MicrosoftClientID, Flavour: Microsoft, Name: "mailmend", Loopback: true},
	}
}

func (c *Client) allows(redirect string) bool {
	for _, r := range c.RedirectURIs {
		if r == redirect {
			return true
		}
	}
	return c.Loopback && isLoopbackRedirect(redirect)
}

func isLoopbackRedirect(s string) bool {
	rest, ok := strings.CutPrefix(s, "http://")
	if !ok {
		return false
	}
	host := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		host = rest[:i]
	}
	if strings.HasPrefix(host, "[::1]") {
		return host == "[::1]" || strings.HasPrefix(host, "[::1]:")
	}
	name, _, _ := strings.Cut(host, ":")
	return name == "127.0.0.1" || name == "localhost"
}

// mailScopes are the scopes that grant IMAP and SMTP access.
func mailScopes(f Flavour) []string {
	if f == Google {
		return []string{"https://mail.google.com/"}
	}
	return []string{"https://outlook.office.com/IMAP.AccessAsUser.All", "https://outlook.office.com/SMTP.Send", "offline_access"}
}

// narrowScope is what a grant without mail access holds.
func narrowScope(f Flavour) string {
	if f == Google {
		return "openid https://www.googleapis.com/auth/userinfo.email"
	}
	return "openid profile offline_access User.Read"
}

func scopeAllows(f Flavour, scope string, p proto) bool {
	has := func(want string) bool {
		for _, s := range strings.Fields(scope) {
			if s == want {
				return true
			}
		}
		return false
	}
	if f == Google {
		return has("https://mail.google.com/")
	}
	if p == protoIMAP {
		return has("https://outlook.office.com/IMAP.AccessAsUser.All")
	}
	return has("https://outlook.office.com/SMTP.Send")
}

// Counters counts requests per OAuth endpoint since Start.
type Counters struct {
	Authorize     int // GET /authorize
	Consents      int // consents approved (button or automatic)
	Token         int // every token endpoint request
	CodeExchanges int // grant_type=authorization_code
	Refreshes     int // grant_type=refresh_token
	RefreshesOK   int // refreshes that returned tokens
	ReuseDetected int // rotated refresh tokens presented again
	DeviceCodes   int // device authorization requests
	DevicePolls   int // device_code grant polls
	Revocations   int // /revoke requests
	Introspection int // /introspect requests
}

type family struct {
	id      string
	user    string
	client  string
	issued  time.Time
	revoked bool
}

type authCode struct {
	user, client, redirect, challenge, scope string
	exp                                      time.Time
	used                                     bool
	family                                   *family
}

type refreshToken struct {
	user, scope string
	family      *family
	rotated     bool
	requests    int
}

type accessToken struct {
	user, scope string
	family      *family
	issued, exp time.Time
}

type deviceGrant struct {
	client, scope, userCode string
	flavour                 Flavour
	exp                     time.Time
	lastPoll                time.Time
	user                    string // set once approved
	denied, redeemed        bool
}

type pendingConsent struct {
	flavour                                   Flavour
	client, redirect, state, challenge, scope string
	user                                      string
	exp                                       time.Time
}

// oauthState is the authorization server's memory; guarded by Sandbox.mu.
type oauthState struct {
	codes     map[string]*authCode
	refresh   map[string]*refreshToken
	access    map[string]*accessToken
	families  map[string]*family
	devices   map[string]*deviceGrant // by device_code
	userCodes map[string]*deviceGrant // by user_code
	consents  map[string]*pendingConsent
	perUser   map[string]int // refresh requests per account
}

func (o *oauthState) init() {
	o.codes = map[string]*authCode{}
	o.refresh = map[string]*refreshToken{}
	o.access = map[string]*accessToken{}
	o.families = map[string]*family{}
	o.devices = map[string]*deviceGrant{}
	o.userCodes = map[string]*deviceGrant{}
	o.consents = map[string]*pendingConsent{}
	o.perUser = map[string]int{}
}

func (o *oauthState) newFamily(user, client string, now time.Time) *family {
	f := &family{id: randToken(16), user: user, client: client, issued: now}
	o.families[f.id] = f
	return f
}

// checkAccess validates an access token for a login by u over p: "" when it
// is good, else the status Gmail puts in its challenge.
func (o *oauthState) checkAccess(token string, u *user, p proto, now time.Time) string {
	at := o.access[token]
	switch {
	case at == nil, at.family.revoked:
		return "401"
	case at.user != u.email, now.After(at.exp), !scopeAllows(u.spec.Flavour, at.scope, p):
		return "400"
	}
	return ""
}

type issued struct {
	access, refresh, scope string
	exp                    time.Time
}

func (i *issued) oauth2() *oauth2.Token {
	t := &oauth2.Token{AccessToken: i.access, TokenType: "Bearer", RefreshToken: i.refresh, Expiry: i.exp}
	return t.WithExtra(map[string]any{"scope": i.scope})
}

// issueLocked mints an access token and a refresh token in fam.
func (sb *Sandbox) issueLocked(u *user, fam *family, scope string) *issued {
	now := sb.now()
	at, rt := "ya29.a0"+randToken(48), "1//0"+randToken(40)
	if u.spec.Flavour == Microsoft {
		at, rt = "EwB"+randToken(60), "M.C5"+randToken(4)+"_BL2.0.U."+randToken(48)
	}
	exp := now.Add(sb.opts.AccessTokenTTL)
	sb.oauth.access[at] = &accessToken{user: u.email, scope: scope, family: fam, issued: now, exp: exp}
	sb.oauth.refresh[rt] = &refreshToken{user: u.email, scope: scope, family: fam}
	return &issued{access: at, refresh: rt, scope: scope, exp: exp}
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Counters returns a snapshot of the OAuth endpoint counters.
func (sb *Sandbox) Counters() Counters {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.stats
}

// Refreshes returns how many refresh_token grant requests named a refresh
// token of the account, successful or not.
func (sb *Sandbox) Refreshes(email string) int {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.oauth.perUser[strings.ToLower(strings.TrimSpace(email))]
}

// RefreshRequests returns how many token requests presented this refresh
// token; 0 for a token the server never issued.
func (sb *Sandbox) RefreshRequests(refreshToken string) int {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if rt := sb.oauth.refresh[refreshToken]; rt != nil {
		return rt.requests
	}
	return 0
}

// Client returns the built-in client of a flavour.
func (sb *Sandbox) Client(f Flavour) Client {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	c := *sb.clients[builtinClientID(f)]
	c.RedirectURIs = append([]string(nil), c.RedirectURIs...)
	return c
}

// RegisterClient adds or replaces an OAuth client.
func (sb *Sandbox) RegisterClient(c Client) error {
	if c.ID == "" || !c.Flavour.Valid() {
		return errorf("register client: need an id and a flavour")
	}
	c.RedirectURIs = append([]string(nil), c.RedirectURIs...)
	sb.mu.Lock()
	defer sb.mu.Unlock()
	sb.clients[c.ID] = &c
	return nil
}

// OAuthEndpoints are the URLs of the sandbox's authorization server for one
// flavour (all https on 127.0.0.1).
type OAuthEndpoints struct {
	AuthURL       string
	TokenURL      string
	DeviceAuthURL string
	RevokeURL     string
	IntrospectURL string
	// DeviceURL is the page where the user enters a device flow's user code.
	DeviceURL string
}

// OAuth returns the authorization server's URLs for a flavour.
func (sb *Sandbox) OAuth(f Flavour) OAuthEndpoints {
	base := "https://" + sb.oauthAddr + "/" + string(f)
	return OAuthEndpoints{
		AuthURL:       base + "/authorize",
		TokenURL:      base + "/token",
		DeviceAuthURL: base + "/devicecode",
		RevokeURL:     base + "/revoke",
		IntrospectURL: "https://" + sb.oauthAddr + "/introspect",
		DeviceURL:     base + "/device",
	}
}

// OAuthAddr returns the authorization server's host:port.
func (sb *Sandbox) OAuthAddr() string { return sb.oauthAddr }

// OAuth2Config returns an x/oauth2 configuration for the flavour's built-in
// client with the mail scopes and the given redirect URL.
func (sb *Sandbox) OAuth2Config(f Flavour, redirectURL string) *oauth2.Config {
	c := sb.Client(f)
	e := sb.OAuth(f)
	return &oauth2.Config{
		ClientID:     c.ID,
		ClientSecret: c.Secret,
		RedirectURL:  redirectURL,
		Scopes:       mailScopes(f),
		Endpoint: oauth2.Endpoint{
			AuthURL: e.AuthURL, TokenURL: e.TokenURL, DeviceAuthURL: e.DeviceAuthURL,
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
}

// AccountURL returns a page of the fake provider's account settings for an
// account: "apppasswords" shows the app password, "security" lets the user
// confirm a blocked sign-in (heals AccountBlocked), "imap" switches IMAP on
// (heals ProtocolDisabled).
func (sb *Sandbox) AccountURL(email, page string) string {
	sb.mu.Lock()
	u := sb.userLocked(email)
	f := Google
	if u != nil {
		f = u.spec.Flavour
	}
	sb.mu.Unlock()
	return "https://" + sb.oauthAddr + "/" + string(f) + "/account/" + page + "?email=" + queryEscape(email)
}

func builtinClientID(f Flavour) string {
	if f == Microsoft {
		return MicrosoftClientID
	}
	return GoogleClientID
}
