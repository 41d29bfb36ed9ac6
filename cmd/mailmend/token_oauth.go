package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/mailmend/mailmend/core/account"
	"github.com/mailmend/mailmend/core/cause"
	"github.com/mailmend/mailmend/core/oauth"
	"github.com/mailmend/mailmend/core/probe"
	"github.com/mailmend/mailmend/core/sanitize"
	"github.com/mailmend/mailmend/core/store"
	"github.com/mailmend/mailmend/core/wizard"
)

// oauthConfig returns the OAuth client for an account's provider, with the
// redirect port from the config file.
func (ap *app) oauthConfig(a account.Account) (oauth.Config, error) {
	p, ok := ap.catalog.Get(a.Provider)
	if !ok || p.OAuth2 == nil {
		return oauth.Config{}, fmt.Errorf("provider %q has no OAuth settings", a.Provider)
	}
	cfg := oauth.ConfigFor(p.OAuth2)
	cfg.RedirectPort = ap.cfg.OAuth.RedirectPort
	if st, err := ap.store(); err == nil {
		// A client the user set up in a wizard is kept in the store.
		_, _ = wizard.ApplyStoredClient(st.Backend(), p.ID, &cfg)
	}
	if cfg.ClientID == "" {
		return cfg, withCode(exitReconnect, fmt.Errorf("no OAuth client id is configured for %s: set client_id under [provider.oauth2] for id %q in %s (see the README, \"Your own OAuth client\")", p.Name, p.ID, configPathHint(ap)))
	}
	return cfg, nil
}

func configPathHint(ap *app) string {
	if ap.cfg.Path != "" {
		return ap.cfg.Path
	}
	return "the config file"
}

// accessToken returns an access token valid for at least 60 s more,
// refreshing the grant safely (cross-process lock, re-read, save the
// rotated refresh token first). A dead grant is classified, recorded on
// the account and reported as exit 4 with the reconnect command; it is
// never retried.
func (ap *app) accessToken(ctx context.Context, st *store.Store, a account.Account) (string, error) {
	cfg, err := ap.oauthConfig(a)
	if err != nil {
		return "", err
	}
	tok, err := oauth.Refresh(ctx, st, a.ID, cfg, ap.env.Now)
	if err == nil {
		return tok.Token, nil
	}
	var pe *oauth.ProviderError
	switch {
	case errors.As(err, &pe):
		ev := pe.Evidence()
		ev.Check = probe.CheckOAuthRefresh
		cctx := cause.Context{Provider: a.Provider, Auth: string(a.Auth)}
		if !a.ConsentedAt.IsZero() {
			cctx.ConsentAge = ap.env.Now().Sub(a.ConsentedAt)
		}
		d := cause.Classify([]cause.Evidence{ev}, cctx)
		ap.markBroken(ctx, st, a, d)
		return "", withCode(exitReconnect, fmt.Errorf("%s: %s (%s: %s); run: mailmend reconnect %s",
			sanitize.Line(a.Email), d.Title, pe.Code, sanitize.Truncate(sanitize.Line(pe.Description), 160), sanitize.Line(a.Email)))
	case errors.Is(err, oauth.ErrNoToken), errors.Is(err, oauth.ErrNoRefreshToken):
		return "", withCode(exitReconnect, fmt.Errorf("%s has no saved sign-in; run: mailmend reconnect %s", sanitize.Line(a.Email), sanitize.Line(a.Email)))
	case oauth.IsTransient(err):
		return "", withCode(exitTransient, fmt.Errorf("%s: the provider could not be reached to refresh the token; try again later: %s", sanitize.Line(a.Email), sanitize.Line(err.Error())))
	case isStoreError(err):
		return "", storeErr(err)
	}
	return "", err
}

// markBroken records a diagnosed failure on the account.
func (ap *app) markBroken(ctx context.Context, st *store.Store, a account.Account, d cause.Diagnosis) {
	_, _ = st.Update(context.WithoutCancel(ctx), a.ID, func(acct *account.Account) error {
		acct.Cause = string(d.Cause)
		acct.Status = account.NeedsReconnect
		acct.CheckedAt = ap.env.Now().UTC()
		return nil
	})
}
