// Package oauth gets and keeps OAuth 2.0 grants for mail accounts: the
// authorization-code flow with PKCE over a loopback redirect (with a
// paste-the-address fallback for SSH sessions and browsers on another
// machine), the device-code flow where the provider offers one, a refresh
// that is safe across processes, and token revocation.
//
// Every endpoint must be https, except on loopback hosts (127.0.0.0/8, ::1,
// localhost), which local test and sandbox servers use. Token requests
// send the client credentials in the form body unless Config.ClientAuthHeader
// is set, and never probe the other style: one call is one request, so a
// dead grant is never sent twice.
//
// Errors from the authorization server arrive as *ProviderError (the OAuth
// error, its description, Entra error numbers, the HTTP status and a
// truncated body for evidence), network trouble and 5xx/429 answers as
// *TransientError. Neither is ever retried in a loop here; callers classify
// them with core/cause and decide.
package oauth

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/mailmend/mailmend/core/provider"
	"github.com/mailmend/mailmend/core/store"
)

// RequestTimeout bounds each request to the authorization server when the
// Config has no HTTPClient with a timeout of its own.
const RequestTimeout = 30 * time.Second

// Config is one OAuth client at one authorization server. It is plain
// data; a zero RedirectPort picks a random free port.
type Config struct {
	// AuthURL is the authorization endpoint (the browser flows need it).
	AuthURL string
	// TokenURL is the token endpoint; required.
	TokenURL string
	// DeviceAuthURL is the device authorization endpoint; "" means the
	// provider has no device flow (Google's installed-app clients must
	// never be offered one).
	DeviceAuthURL string
	// RevokeURL is the RFC 7009 revocation endpoint; "" means none.
	RevokeURL string
	// ClientID is the OAuth client; required.
	ClientID string
	// ClientSecret is optional: installed-app clients may have none.
	ClientSecret string
	// Scopes are requested at consent (and at device authorization).
	Scopes []string
	// RedirectPort is the loopback port of the redirect URI; 0 picks a
	// random free port.
	RedirectPort int
	// RedirectHost is the host written into the redirect URI: "" or
	// "127.0.0.1" (the default), or "localhost" for clients registered
	// that way. The listeners are on 127.0.0.1 and ::1 either way.
	RedirectHost string
	// ClientAuthHeader sends the client id and secret as HTTP Basic
	// authentication instead of form fields.
	ClientAuthHeader bool
	// HTTPClient makes every request (its Transport carries the TLS
	// roots); nil means a client with RequestTimeout and the system roots.
	HTTPClient *http.Client
}

// ConfigFor returns the Config for a provider's OAuth block; nil gives a
// zero Config (which Validate rejects).
func ConfigFor(p *provider.OAuth2) Config {
	if p == nil {
		return Config{}
	}
	return Config{
		AuthURL:       p.AuthURL,
		TokenURL:      p.TokenURL,
		DeviceAuthURL: p.DeviceAuthURL,
		RevokeURL:     p.RevokeURL,
		ClientID:      p.ClientID,
		ClientSecret:  p.ClientSecret,
		Scopes:        slices.Clone(p.Scopes),
		RedirectHost:  p.RedirectHost,
	}
}

// Validate checks that the client id and token endpoint are set, that
// every endpoint set is an absolute https URL (http only on loopback
// hosts), and that RedirectHost and RedirectPort are usable.
func (c Config) Validate() error {
	if c.ClientID == "" {
		return errors.New("oauth: no client id configured")
	}
	if c.TokenURL == "" {
		return errors.New("oauth: no token endpoint configured")
	}
	for _, e := range []struct{ name, u string }{
		{"authorization", c.AuthURL}, {"token", c.TokenURL},
		{"device authorization", c.DeviceAuthURL}, {"revocation", c.RevokeURL},
	} {
		if e.u == "" {
			continue
		}
		if err := checkEndpoint(e.u); err != nil {
			return fmt.Errorf("oauth: %s endpoint: %w", e.name, err)
		}
	}
	switch c.RedirectHost {
	case "", "127.0.0.1", "localhost":
	default:
		return fmt.Errorf("oauth: redirect host %q is not 127.0.0.1 or localhost", c.RedirectHost)
	}
	if c.RedirectPort < 0 || c.RedirectPort > 65535 {
		return fmt.Errorf("oauth: redirect port %d is out of range", c.RedirectPort)
	}
	return nil
}

// checkEndpoint accepts https URLs, and http URLs whose host is loopback.
func checkEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL", raw)
	}
	if u.Host == "" || u.User != nil {
		return fmt.Errorf("%q is not an absolute URL without user info", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if IsLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q is plain http; only https is allowed (http only on loopback)", raw)
	default:
		return fmt.Errorf("%q: scheme %q is not https", raw, u.Scheme)
	}
}

// IsLoopback reports whether host (a name or an address, without port) is
// "localhost" or a loopback IP address; it is provider.IsLoopback, the one
// rule for where plain http is allowed.
func IsLoopback(host string) bool { return provider.IsLoopback(strings.TrimSuffix(host, ".")) }

// Token is a grant as the flows return it and the store keeps it.
type Token = store.Token

// defaultLifetime is assumed for an access token whose response carried
// no expires_in, so it is reused for a while instead of refreshed on every
// call and yet never trusted for long.
const defaultLifetime = 5 * time.Minute

// oauthConfig builds the x/oauth2 config; redirectURI may be "".
func (c Config) oauthConfig(redirectURI string) *oauth2.Config {
	style := oauth2.AuthStyleInParams
	if c.ClientAuthHeader {
		style = oauth2.AuthStyleInHeader
	}
	return &oauth2.Config{
		ClientID:     c.ClientID,
		ClientSecret: c.ClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:       c.AuthURL,
			TokenURL:      c.TokenURL,
			DeviceAuthURL: c.DeviceAuthURL,
			AuthStyle:     style,
		},
		RedirectURL: redirectURI,
		Scopes:      slices.Clone(c.Scopes),
	}
}

// client returns the HTTP client requests go through.
func (c Config) client() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	return &http.Client{Timeout: RequestTimeout}
}

// fromOAuth2 converts an x/oauth2 token, giving it an expiry when the
// server sent none.
func fromOAuth2(t *oauth2.Token, now time.Time) *Token {
	out := &Token{
		AccessToken:  t.AccessToken,
		RefreshToken: t.RefreshToken,
		TokenType:    t.TokenType,
		Expiry:       t.Expiry,
	}
	if out.Expiry.IsZero() {
		out.Expiry = now.Add(defaultLifetime)
	}
	if s, ok := t.Extra("scope").(string); ok {
		out.Scope = s
	}
	return out
}
