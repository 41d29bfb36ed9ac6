package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Device-flow polling, RFC 8628.
const (
	// defaultInterval is the polling interval when the server names none.
	defaultInterval = 5 * time.Second
	// slowDownStep is added to the interval on every slow_down answer.
	slowDownStep = 5 * time.Second
	// deviceGrant is the device code grant type.
	deviceGrant = "urn:ietf:params:oauth:grant-type:device_code"
)

// DeviceFlow is a device-code sign-in in progress: show UserCode and
// VerificationURI, then call Poll. A DeviceFlow is for one goroutine.
type DeviceFlow struct {
	// UserCode is what the user types at VerificationURI.
	UserCode        string
	VerificationURI string
	// VerificationURIComplete, when the server sends it, has the code in it.
	VerificationURIComplete string
	// ExpiresIn is how long the codes were valid when issued.
	ExpiresIn time.Duration
	// Interval is the current polling interval; slow_down answers grow it.
	Interval time.Duration

	cfg        Config
	deviceCode string
	expires    time.Time
	now        func() time.Time
	sleep      func(ctx context.Context, d time.Duration) error
}

// Device starts a device-code sign-in (RFC 8628) at cfg.DeviceAuthURL. A
// provider without one gives ErrNoDeviceFlow and no request is made. A
// refusal is a *ProviderError, a network failure a *TransientError.
func Device(ctx context.Context, cfg Config) (*DeviceFlow, error) {
	if cfg.DeviceAuthURL == "" {
		return nil, ErrNoDeviceFlow
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	now := time.Now
	ctx = context.WithValue(ctx, oauth2.HTTPClient, cfg.client())
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	da, err := cfg.oauthConfig("").DeviceAuth(ctx)
	if err != nil {
		return nil, mapRetrieve("device", err)
	}
	if da.DeviceCode == "" || da.UserCode == "" || da.VerificationURI == "" {
		return nil, &ProviderError{Op: "device", HTTPStatus: http.StatusOK, Code: "invalid_response", Description: "the device authorization answer lacks device_code, user_code or verification_uri"}
	}
	d := &DeviceFlow{
		UserCode:                da.UserCode,
		VerificationURI:         da.VerificationURI,
		VerificationURIComplete: da.VerificationURIComplete,
		Interval:                time.Duration(da.Interval) * time.Second,
		cfg:                     cfg,
		deviceCode:              da.DeviceCode,
		expires:                 da.Expiry,
		now:                     now,
		sleep:                   sleepCtx,
	}
	if d.Interval <= 0 {
		d.Interval = defaultInterval
	}
	if !da.Expiry.IsZero() {
		d.ExpiresIn = da.Expiry.Sub(now()).Round(time.Second)
	}
	return d, nil
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Poll asks the token endpoint every Interval until the user has approved
// (the token is returned), declined (an error wrapping ErrDeviceDeclined
// and the *ProviderError), or the code expired (ErrDeviceExpired). A
// slow_down answer adds 5 s to Interval for this and later polls. Another
// refusal is a *ProviderError; a network failure or 5xx ends Poll with a
// *TransientError, and Poll may be called again while the code is valid.
func (d *DeviceFlow) Poll(ctx context.Context) (*Token, error) {
	for {
		if !d.expires.IsZero() && !d.now().Before(d.expires) {
			return nil, ErrDeviceExpired
		}
		if err := d.sleep(ctx, d.Interval); err != nil {
			return nil, fmt.Errorf("oauth: device sign-in stopped: %w", err)
		}
		tok, err := d.poll(ctx)
		if err == nil {
			return tok, nil
		}
		var pe *ProviderError
		if !errors.As(err, &pe) || IsTransient(err) {
			return nil, err
		}
		switch pe.Code {
		case "authorization_pending":
		case "slow_down":
			d.Interval += slowDownStep
		case "expired_token":
			return nil, &sentinelError{sentinel: ErrDeviceExpired, err: pe}
		case "access_denied", "authorization_declined":
			return nil, &sentinelError{sentinel: ErrDeviceDeclined, err: pe}
		default:
			return nil, pe
		}
	}
}

// poll makes one device token request.
func (d *DeviceFlow) poll(ctx context.Context) (*Token, error) {
	v := url.Values{"grant_type": {deviceGrant}, "device_code": {d.deviceCode}}
	return tokenRequest(ctx, d.cfg, v, d.now)
}

// tokenRequest makes one request to the token endpoint and decodes the
// answer.
func tokenRequest(ctx context.Context, cfg Config, v url.Values, now func() time.Time) (*Token, error) {
	status, hdr, body, err := postForm(ctx, cfg, "token", cfg.TokenURL, v)
	if err != nil {
		return nil, err
	}
	if status < 200 || status > 299 {
		pe := providerError("token", status, hdr.Get("Content-Type"), body)
		if transientStatus(status) {
			return nil, &TransientError{Op: "token", HTTPStatus: status, RetryAfter: hdr.Get("Retry-After"), Err: pe}
		}
		return nil, pe
	}
	var tr struct {
		AccessToken  string          `json:"access_token"`
		TokenType    string          `json:"token_type"`
		RefreshToken string          `json:"refresh_token"`
		ExpiresIn    json.RawMessage `json:"expires_in"`
		Scope        string          `json:"scope"`
		Error        string          `json:"error"`
	}
	if err := json.Unmarshal(body, &tr); err != nil {
		return nil, &ProviderError{Op: "token", HTTPStatus: status, Code: "invalid_response", Description: "the token response is not JSON", Body: truncBody(body)}
	}
	if tr.Error != "" {
		return nil, providerError("token", status, hdr.Get("Content-Type"), body)
	}
	if tr.AccessToken == "" {
		return nil, &ProviderError{Op: "token", HTTPStatus: status, Code: "no_access_token", Description: "the token response held no access token"}
	}
	t := &Token{AccessToken: tr.AccessToken, TokenType: tr.TokenType, RefreshToken: tr.RefreshToken, Scope: tr.Scope}
	secs, _ := strconv.ParseInt(strings.Trim(string(tr.ExpiresIn), `"`), 10, 64)
	if secs > 0 {
		t.Expiry = now().Add(time.Duration(secs) * time.Second)
	} else {
		t.Expiry = now().Add(defaultLifetime)
	}
	return t, nil
}

// postForm posts form values with the client's credentials and returns
// the status, headers and (at most 1 MiB of) body. A failure to get an
// answer is a *TransientError, or ctx's error when ctx was cancelled.
func postForm(ctx context.Context, cfg Config, op, endpoint string, v url.Values) (int, http.Header, []byte, error) {
	v = cloneValues(v)
	if !cfg.ClientAuthHeader {
		v.Set("client_id", cfg.ClientID)
		if cfg.ClientSecret != "" {
			v.Set("client_secret", cfg.ClientSecret)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(v.Encode()))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("oauth: %s request: %w", opName(op), err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if cfg.ClientAuthHeader {
		req.SetBasicAuth(url.QueryEscape(cfg.ClientID), url.QueryEscape(cfg.ClientSecret))
	}
	resp, err := cfg.client().Do(req)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return 0, nil, nil, fmt.Errorf("oauth: %s: %w", opName(op), context.Canceled)
		}
		return 0, nil, nil, &TransientError{Op: op, Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, nil, &TransientError{Op: op, HTTPStatus: resp.StatusCode, Err: err}
	}
	return resp.StatusCode, resp.Header, body, nil
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v)+2)
	for k, vv := range v {
		out[k] = append([]string(nil), vv...)
	}
	return out
}

// Revoke asks the provider to revoke token (RFC 7009) at cfg.RevokeURL;
// hint is "refresh_token", "access_token" or "". Revoking a refresh token
// ends the whole grant at most providers. A provider without a revocation
// endpoint gives ErrNoRevoke and nothing is sent.
func Revoke(ctx context.Context, cfg Config, token, hint string) error {
	if cfg.RevokeURL == "" {
		return ErrNoRevoke
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if token == "" {
		return errors.New("oauth: no token to revoke")
	}
	v := url.Values{"token": {token}}
	if hint != "" {
		v.Set("token_type_hint", hint)
	}
	status, hdr, body, err := postForm(ctx, cfg, "revoke", cfg.RevokeURL, v)
	if err != nil {
		return err
	}
	if status >= 200 && status <= 299 {
		return nil
	}
	pe := providerError("revoke", status, hdr.Get("Content-Type"), body)
	if transientStatus(status) {
		return &TransientError{Op: "revoke", HTTPStatus: status, RetryAfter: hdr.Get("Retry-After"), Err: pe}
	}
	return pe
}
