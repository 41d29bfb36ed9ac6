package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"golang.org/x/oauth2"

	"github.com/mailmend/mailmend/core/store"
)

// MinValidity is how long a cached access token must stay valid to be
// handed out without a refresh.
const MinValidity = 60 * time.Second

// Store is what Refresh needs of a credential store; *store.Store has it.
// Backend is read without the lock for the fast path; Tx holds the
// cross-process lock around the re-read, refresh and save.
type Store interface {
	Backend() store.Backend
	Tx(ctx context.Context, fn func(tx *store.Tx) error) error
	LockAccount(ctx context.Context, id string) (func(), error)
}

var _ Store = (*store.Store)(nil)

// AccessToken is a usable access token.
type AccessToken struct {
	Token string
	// Type is the token type the server named ("Bearer"), may be "".
	Type   string
	Expiry time.Time
	// Refreshed says whether this call refreshed the grant (false: it came
	// from the store).
	Refreshed bool
}

// Refresh returns an access token for the account that stays valid for at
// least MinValidity, refreshing the grant when needed, safely across
// goroutines and processes sharing st:
//
//  1. If the stored access token is valid for more than MinValidity it is
//     returned after one unlocked read of the account's secret.
//  2. Otherwise Refresh takes the store's cross-process lock (st.Tx) and
//     reads the secret again: when another process refreshed meanwhile, its
//     token is returned.
//  3. Otherwise it makes exactly one refresh request, and saves the new
//     access token, expiry and (rotated) refresh token to the store before
//     returning; if that save fails the token is not returned.
//
// A refusal (invalid_grant or any other OAuth error answer) is a
// *ProviderError: the caller classifies it and records the cause; nothing
// is retried. Network trouble and 5xx/429 answers are a *TransientError.
// An account without a stored token is ErrNoToken (wrapping
// store.ErrNotFound when there is no secret at all), one without a refresh
// token ErrNoRefreshToken. A nil now means time.Now.
func Refresh(ctx context.Context, st Store, accountID string, cfg Config, now func() time.Time) (AccessToken, error) {
	return refresh(ctx, st, accountID, cfg, now, "")
}

// RefreshRefused is Refresh for an access token a mail server just refused
// although it had not expired (revoked grants, password changes): unless
// the stored access token is no longer refused (another process refreshed
// meanwhile), it refreshes the grant at once, with the same lock, re-read
// and save rules as Refresh. The refresh answer tells whether the grant is
// dead. It makes at most one request.
func RefreshRefused(ctx context.Context, st Store, accountID string, cfg Config, now func() time.Time, refused string) (AccessToken, error) {
	if refused == "" {
		return AccessToken{}, errors.New("oauth: no refused token given")
	}
	return refresh(ctx, st, accountID, cfg, now, refused)
}

func refresh(ctx context.Context, st Store, accountID string, cfg Config, now func() time.Time, refused string) (AccessToken, error) {
	if now == nil {
		now = time.Now
	}
	if err := cfg.Validate(); err != nil {
		return AccessToken{}, err
	}
	if refused == "" {
		if t, ok := peek(st, accountID, now()); ok {
			return t, nil
		}
	}
	// The account's own lock is held across the network request; the
	// store-wide lock only for the short read and the save, so refreshes
	// of different accounts run side by side.
	unlock, err := st.LockAccount(ctx, accountID)
	if err != nil {
		return AccessToken{}, err
	}
	defer unlock()
	var sec store.Secret
	err = st.Tx(ctx, func(tx *store.Tx) error {
		var err error
		sec, err = tx.Secret(ctx, accountID)
		if errors.Is(err, store.ErrNotFound) {
			return &sentinelError{sentinel: ErrNoToken, err: err}
		}
		return err
	})
	if err != nil {
		return AccessToken{}, err
	}
	if sec.Token == nil {
		return AccessToken{}, ErrNoToken
	}
	if fresh(sec.Token, now()) && sec.Token.AccessToken != refused {
		return access(sec.Token, false), nil
	}
	if sec.Token.RefreshToken == "" {
		return AccessToken{}, ErrNoRefreshToken
	}
	used := sec.Token.RefreshToken
	tok, err := refreshOnce(ctx, cfg, used, now)
	if err != nil {
		return AccessToken{}, err
	}
	if tok.Scope == "" {
		tok.Scope = sec.Token.Scope
	}
	var out AccessToken
	err = st.Tx(ctx, func(tx *store.Tx) error {
		cur, err := tx.Secret(ctx, accountID)
		if err != nil {
			return err
		}
		if cur.Token == nil || cur.Token.RefreshToken != used {
			// A new consent replaced the grant meanwhile: keep it.
			return ErrGrantReplaced
		}
		cur.Token = tok
		if err := tx.SetSecret(ctx, accountID, cur); err != nil {
			return fmt.Errorf("oauth: the refreshed token could not be saved, so it is not used: %w", err)
		}
		out = access(tok, true)
		return nil
	})
	if err != nil {
		return AccessToken{}, err
	}
	return out, nil
}

// peek is the fast path: one unlocked read of the secret. Anything short
// of a fresh token (missing, unreadable, a write in progress) sends the
// caller to the locked path, which reports errors properly.
func peek(st Store, accountID string, now time.Time) (AccessToken, bool) {
	raw, err := st.Backend().Get(store.SecretKey(accountID))
	if err != nil {
		return AccessToken{}, false
	}
	defer clear(raw)
	var sec store.Secret
	if json.Unmarshal(raw, &sec) != nil || sec.Token == nil || !fresh(sec.Token, now) {
		return AccessToken{}, false
	}
	return access(sec.Token, false), true
}

// fresh reports whether t has an access token valid beyond MinValidity.
func fresh(t *Token, now time.Time) bool {
	return t.AccessToken != "" && !t.Expiry.IsZero() && t.Expiry.Sub(now) > MinValidity
}

func access(t *Token, refreshed bool) AccessToken {
	return AccessToken{Token: t.AccessToken, Type: t.TokenType, Expiry: t.Expiry, Refreshed: refreshed}
}

// refreshOnce makes exactly one refresh_token request. A response without
// a new refresh token keeps the old one.
func refreshOnce(ctx context.Context, cfg Config, refreshToken string, now func() time.Time) (*Token, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, cfg.client())
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	// An expired token makes the source refresh at once; the source's own
	// clock is not consulted again.
	src := cfg.oauthConfig("").TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken, Expiry: time.Unix(1, 0)})
	t, err := src.Token()
	if err != nil {
		return nil, mapRetrieve("token", err)
	}
	if t.AccessToken == "" {
		return nil, &ProviderError{Op: "token", HTTPStatus: 200, Code: "no_access_token", Description: "the token response held no access token"}
	}
	out := fromOAuth2(t, now())
	if out.RefreshToken == "" {
		out.RefreshToken = refreshToken
	}
	return out, nil
}
