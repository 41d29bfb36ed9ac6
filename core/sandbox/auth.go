package sandbox

import (
	"bytes"
	"strings"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// verdict is the outcome of one login: success, or the provider's failure
// for the protocol, with the challenge Gmail sends before a token failure.
type verdict struct {
	u         *user
	flavour   Flavour
	ok        bool
	challenge []byte
	imap      *imapFail
	smtp      *smtp.SMTPError
}

// loginUserLocked resolves the account a login names. On an account's own
// port only that account can log in. sb.mu is held.
func (sb *Sandbox) loginUserLocked(port *user, username string) (*user, Flavour) {
	f := Google
	if port != nil {
		f = port.spec.Flavour
	}
	u := sb.userLocked(username)
	if u == nil || (port != nil && u != port) {
		return nil, f
	}
	return u, u.spec.Flavour
}

// checkPassword decides a password login (LOGIN, AUTHENTICATE PLAIN, AUTH
// PLAIN/LOGIN). mech is "LOGIN" or "AUTHENTICATE" for Exchange's wording.
func (sb *Sandbox) checkPassword(p proto, port *user, mech, username, password string) verdict {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	u, f := sb.loginUserLocked(port, username)
	v := verdict{u: u, flavour: f}
	s := Healthy
	credsOK, appUsed := false, false
	if u != nil {
		s = u.scenario
		appUsed = password != "" && password == u.appPassword
		credsOK = appUsed || (password != "" && password == u.password)
	}
	if p == protoIMAP {
		v.imap = imapLoginFail(f, s, mech, credsOK, appUsed)
		v.ok = v.imap == nil
	} else {
		v.smtp = smtpLoginFail(f, s, credsOK, appUsed)
		v.ok = v.smtp == nil
	}
	if u != nil {
		sb.countLogin(u, p, v.ok)
		if v.ok && (s == WrongPassword || (s == AppPasswordRequired && appUsed)) {
			// The user typed what the provider wanted: repaired.
			sb.setScenarioLocked(u, Healthy)
		}
	}
	return v
}

// checkToken decides an XOAUTH2/OAUTHBEARER login against the OAuth
// server's live token state.
func (sb *Sandbox) checkToken(p proto, port *user, username, token string) verdict {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	u, f := sb.loginUserLocked(port, username)
	v := verdict{u: u, flavour: f}
	fail := func(status string) verdict {
		if f == Google {
			v.challenge = xoauthChallenge(status)
		}
		if p == protoIMAP {
			v.imap = imapTokenFail(f)
		} else {
			v.smtp = smtpTokenFail(f)
		}
		if u != nil {
			sb.countLogin(u, p, false)
		}
		return v
	}
	if u == nil {
		return fail("400")
	}
	s := u.scenario
	switch s {
	case RateLimited, Hostile:
		if p == protoIMAP {
			v.imap = imapLoginFail(f, s, "AUTHENTICATE", true, false)
		} else {
			v.smtp = smtpLoginFail(f, s, true, false)
		}
		sb.countLogin(u, p, false)
		return v
	}
	status := sb.oauth.checkAccess(token, u, p, sb.now())
	if status == "" && s.oauthDead() {
		status = "401"
	}
	if status == "" && s == InsufficientScope {
		status = "400"
	}
	if status != "" {
		return fail(status)
	}
	if p == protoIMAP && s == ProtocolDisabled && f == Google {
		v.imap = imapLoginFail(f, s, "AUTHENTICATE", true, false)
		sb.countLogin(u, p, false)
		return v
	}
	v.ok = true
	sb.countLogin(u, p, true)
	return v
}

func (sb *Sandbox) countLogin(u *user, p proto, ok bool) {
	switch {
	case p == protoIMAP && ok:
		u.logins.IMAPOK++
	case p == protoIMAP:
		u.logins.IMAPFailed++
	case ok:
		u.logins.SMTPOK++
	default:
		u.logins.SMTPFailed++
	}
}

// tokenServer is the server side of XOAUTH2 and OAUTHBEARER. On failure it
// sends Gmail's JSON challenge (when the verdict has one), waits for the
// client's answer, then fails with the protocol's final error.
type tokenServer struct {
	bearer  bool // OAUTHBEARER (RFC 7628) instead of XOAUTH2
	check   func(username, token string) verdict
	final   func(v verdict) error
	onOK    func(v verdict)
	pending *verdict
}

func (t *tokenServer) Next(resp []byte) ([]byte, bool, error) {
	if t.pending != nil {
		return nil, false, t.final(*t.pending)
	}
	if resp == nil {
		return []byte{}, false, nil
	}
	var user, token string
	var ok bool
	if t.bearer {
		user, token, ok = parseOAuthBearer(resp)
	} else {
		user, token, ok = parseXOAuth2(resp)
	}
	if !ok {
		v := t.check("", "")
		if v.challenge == nil {
			return nil, false, t.final(v)
		}
		t.pending = &v
		return v.challenge, false, nil
	}
	v := t.check(user, token)
	if v.ok {
		t.onOK(v)
		return nil, true, nil
	}
	if v.challenge != nil {
		t.pending = &v
		return v.challenge, false, nil
	}
	return nil, false, t.final(v)
}

// parseXOAuth2 reads "user=U\x01auth=Bearer T\x01\x01".
func parseXOAuth2(b []byte) (user, token string, ok bool) {
	for _, f := range bytes.Split(b, []byte{1}) {
		k, v, found := strings.Cut(string(f), "=")
		if !found {
			continue
		}
		switch k {
		case "user":
			user = v
		case "auth":
			token, ok = strings.CutPrefix(v, "Bearer ")
		}
	}
	return user, token, ok && user != "" && token != ""
}

// parseOAuthBearer reads "n,a=U,\x01host=H\x01port=P\x01auth=Bearer T\x01\x01".
func parseOAuthBearer(b []byte) (user, token string, ok bool) {
	parts := bytes.Split(b, []byte{1})
	if len(parts) < 2 {
		return "", "", false
	}
	for _, g := range strings.Split(string(parts[0]), ",") {
		if a, found := strings.CutPrefix(g, "a="); found {
			user = strings.NewReplacer("=2C", ",", "=3D", "=").Replace(a)
		}
	}
	for _, f := range parts[1:] {
		if v, found := strings.CutPrefix(string(f), "auth="); found {
			token, ok = strings.CutPrefix(v, "Bearer ")
		}
	}
	return user, token, ok && user != "" && token != ""
}

// loginServer is the server side of SMTP AUTH LOGIN.
type loginServer struct {
	step     int
	username string
	check    func(username, password string) error
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step = 1
		if len(resp) == 0 {
			return []byte("Username:"), false, nil
		}
		l.username = string(resp)
		l.step = 2
		return []byte("Password:"), false, nil
	case 1:
		l.username = string(resp)
		l.step = 2
		return []byte("Password:"), false, nil
	default:
		if err := l.check(l.username, string(resp)); err != nil {
			return nil, false, err
		}
		return nil, true, nil
	}
}

var _ sasl.Server = (*tokenServer)(nil)
var _ sasl.Server = (*loginServer)(nil)
